#ifndef CAFE_METRICS_H
#define CAFE_METRICS_H

#include <stddef.h>

struct evbuffer;

/* A small metrics registry that renders the Prometheus text exposition format
 * 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats). Loop-thread
 * only: nothing here locks. Families are registered once at start-up; a
 * series (one combination of label values) is created on first use and lives
 * as long as the registry. Knows nothing of the application. */

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics;
struct metric_family;
struct metric_series;

/* Content-Type of metrics_render()'s output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Series one family may hold; past it metrics_series() returns NULL (and the
 * update functions ignore NULL), so a label fed from input cannot grow memory
 * without bound. */
#define METRICS_MAX_SERIES 1024
#define METRICS_MAX_LABELS 4

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Registers a family; names and help are copied. Counter names should end in
 * _total. label_names has nlabels (<= METRICS_MAX_LABELS) entries. A histogram
 * takes nbuckets strictly increasing finite upper bounds; +Inf is implied.
 * Families render in registration order. */
struct metric_family *metrics_family(struct metrics *m, enum metric_type type, const char *name,
                                     const char *help, unsigned nlabels,
                                     const char *const *label_names, const double *buckets,
                                     unsigned nbuckets);

/* Finds or creates the series for label_values (nlabels strings, copied; NULL
 * counts as ""). NULL when the family is full. Keep the pointer: it is stable. */
struct metric_series *metrics_series(struct metric_family *f, const char *const *label_values);

/* Updates; each accepts NULL and does nothing then. Counters only grow
 * (a negative delta is ignored). metrics_gauge_set() also sets a counter that
 * mirrors another module's running total, refreshed before each scrape. */
void metrics_counter_add(struct metric_series *s, double delta);
void metrics_gauge_set(struct metric_series *s, double value);
void metrics_histogram_observe(struct metric_series *s, double value);

/* Read back (tests): a counter's or gauge's value, a histogram's sum and
 * count. */
double metrics_value(const struct metric_series *s);
double metrics_histogram_sum(const struct metric_series *s);
unsigned long long metrics_histogram_count(const struct metric_series *s);

/* Appends the whole registry in text format 0.0.4; the output ends in '\n'. */
void metrics_render(const struct metrics *m, struct evbuffer *out);

/* Formats a sample value the way Prometheus parses it ("+Inf", "NaN", integers
 * without exponent when exact) into buf; returns buf. */
const char *metrics_format_value(char *buf, size_t size, double v);

#endif
