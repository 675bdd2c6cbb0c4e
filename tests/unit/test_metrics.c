/* The metrics registry: Prometheus text format 0.0.4 as promtool expects it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/metrics.h"

/* Renders m into a NUL-terminated string the caller frees. */
static char *render(const struct metrics *m)
{
    struct evbuffer *b = evbuffer_new();
    metrics_render(m, b);
    size_t n = evbuffer_get_length(b);
    char *s = malloc(n + 1);
    evbuffer_remove(b, s, n);
    s[n] = '\0';
    evbuffer_free(b);
    return s;
}

static void test_counter_and_gauge(void **state)
{
    struct metrics *m = metrics_new();
    static const char *const labels[] = {"route", "status"};
    struct metric_family *req =
        metrics_family(m, METRIC_COUNTER, "x_requests_total", "Requests.", 2, labels, NULL, 0);
    struct metric_family *g =
        metrics_family(m, METRIC_GAUGE, "x_open", "Open now.", 0, NULL, NULL, 0);
    struct metric_series *a = metrics_series(req, (const char *const[]){"/a", "200"});
    metrics_counter_add(a, 1);
    metrics_counter_add(metrics_series(req, (const char *const[]){"/a", "200"}), 2);
    metrics_counter_add(a, -5); /* counters never go down */
    metrics_counter_add(metrics_series(req, (const char *const[]){"/b", "404"}), 1);
    metrics_gauge_set(metrics_series(g, NULL), 7);
    metrics_gauge_set(metrics_series(g, NULL), 5); /* the last value wins */
    assert_true(metrics_value(a) == 3);

    char *s = render(m);
    assert_string_equal(s, "# HELP x_requests_total Requests.\n"
                           "# TYPE x_requests_total counter\n"
                           "x_requests_total{route=\"/a\",status=\"200\"} 3\n"
                           "x_requests_total{route=\"/b\",status=\"404\"} 1\n"
                           "# HELP x_open Open now.\n"
                           "# TYPE x_open gauge\n"
                           "x_open 5\n");
    free(s);
    metrics_free(m);
}

static void test_histogram_cumulative(void **state)
{
    struct metrics *m = metrics_new();
    static const double b[] = {0.1, 0.5, 1};
    static const char *const labels[] = {"mode"};
    struct metric_family *h =
        metrics_family(m, METRIC_HISTOGRAM, "x_seconds", "Latency.", 1, labels, b, 3);
    struct metric_series *s = metrics_series(h, (const char *const[]){"sync"});
    metrics_histogram_observe(s, 0.05);
    metrics_histogram_observe(s, 0.1); /* le is inclusive */
    metrics_histogram_observe(s, 0.7);
    metrics_histogram_observe(s, 3);
    metrics_histogram_observe(s, NAN); /* ignored */
    assert_int_equal(metrics_histogram_count(s), 4);
    assert_true(fabs(metrics_histogram_sum(s) - 3.85) < 1e-9);

    char *t = render(m);
    assert_string_equal(t, "# HELP x_seconds Latency.\n"
                           "# TYPE x_seconds histogram\n"
                           "x_seconds_bucket{mode=\"sync\",le=\"0.1\"} 2\n"
                           "x_seconds_bucket{mode=\"sync\",le=\"0.5\"} 2\n"
                           "x_seconds_bucket{mode=\"sync\",le=\"1\"} 3\n"
                           "x_seconds_bucket{mode=\"sync\",le=\"+Inf\"} 4\n"
                           "x_seconds_sum{mode=\"sync\"} 3.85\n"
                           "x_seconds_count{mode=\"sync\"} 4\n");
    free(t);
    metrics_free(m);
}

static void test_histogram_without_labels(void **state)
{
    struct metrics *m = metrics_new();
    static const double b[] = {1, 2, 4, 8};
    struct metric_family *h = metrics_family(m, METRIC_HISTOGRAM, "lag_seconds", "", 0, NULL, b, 4);
    struct metric_series *s = metrics_series(h, NULL);
    for (int i = 0; i < 10; i++)
        metrics_histogram_observe(s, 3); /* all in (2,4] */
    metrics_histogram_observe(s, 100);   /* only in +Inf */

    char *t = render(m);
    assert_string_equal(t, "# HELP lag_seconds \n"
                           "# TYPE lag_seconds histogram\n"
                           "lag_seconds_bucket{le=\"1\"} 0\n"
                           "lag_seconds_bucket{le=\"2\"} 0\n"
                           "lag_seconds_bucket{le=\"4\"} 10\n"
                           "lag_seconds_bucket{le=\"8\"} 10\n"
                           "lag_seconds_bucket{le=\"+Inf\"} 11\n"
                           "lag_seconds_sum 130\n"
                           "lag_seconds_count 11\n");
    free(t);
    metrics_free(m);
}

static void test_escaping(void **state)
{
    struct metrics *m = metrics_new();
    static const char *const labels[] = {"path"};
    struct metric_family *f = metrics_family(m, METRIC_COUNTER, "x_total",
                                             "Help with \\ and\nnewline.", 1, labels, NULL, 0);
    metrics_counter_add(metrics_series(f, (const char *const[]){"a\"b\\c\nd"}), 1);
    metrics_counter_add(metrics_series(f, (const char *const[]){NULL}), 1); /* NULL is "" */
    char *t = render(m);
    assert_string_equal(t, "# HELP x_total Help with \\\\ and\\nnewline.\n"
                           "# TYPE x_total counter\n"
                           "x_total{path=\"a\\\"b\\\\c\\nd\"} 1\n"
                           "x_total{path=\"\"} 1\n");
    free(t);
    metrics_free(m);
}

static void test_value_format(void **state)
{
    char buf[64];
    assert_string_equal(metrics_format_value(buf, sizeof(buf), 0), "0");
    assert_string_equal(metrics_format_value(buf, sizeof(buf), 12345678), "12345678");
    assert_string_equal(metrics_format_value(buf, sizeof(buf), 0.25), "0.25");
    assert_string_equal(metrics_format_value(buf, sizeof(buf), 0.0005), "0.0005");
    assert_string_equal(metrics_format_value(buf, sizeof(buf), INFINITY), "+Inf");
    assert_string_equal(metrics_format_value(buf, sizeof(buf), -INFINITY), "-Inf");
    assert_string_equal(metrics_format_value(buf, sizeof(buf), NAN), "NaN");
    assert_string_equal(metrics_format_value(buf, sizeof(buf), 1e20), "1e+20");
}

static void test_series_cap(void **state)
{
    struct metrics *m = metrics_new();
    static const char *const labels[] = {"id"};
    struct metric_family *f = metrics_family(m, METRIC_COUNTER, "x_total", "", 1, labels, NULL, 0);
    char id[16];
    for (int i = 0; i < METRICS_MAX_SERIES; i++) {
        snprintf(id, sizeof(id), "%d", i);
        assert_non_null(metrics_series(f, (const char *const[]){id}));
    }
    assert_null(metrics_series(f, (const char *const[]){"one more"}));
    metrics_counter_add(NULL, 1); /* tolerated */
    metrics_histogram_observe(NULL, 1);
    /* existing series are still found */
    assert_non_null(metrics_series(f, (const char *const[]){"7"}));
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_histogram_cumulative),
        cmocka_unit_test(test_histogram_without_labels),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_value_format),
        cmocka_unit_test(test_series_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
