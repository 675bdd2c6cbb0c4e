#ifndef CAFE_STATS_WINDOW_H
#define CAFE_STATS_WINDOW_H

#include <stdint.h>

#include "cafe/cafe.h"

/* The stats window: what happened over one period of the "stats" event
 * (docs/contract.md, "Events"), per mode -- requests, orders finished and
 * their latency (acceptance to ready: what a customer waits) -- and the
 * loop's lag and iteration samples. The percentiles come from a uniform
 * reservoir sample (Vitter's Algorithm R), so a period's memory is fixed
 * however many orders finish in it. Pure: no clock, no I/O; the caller says
 * when a period starts and ends. */

#define STATS_RESERVOIR 512 /* latency samples per mode per period */

struct stats_mode_window {
    unsigned requests, finished;
    double latency_sum_ms, latency_max_ms;
    unsigned nsamples;
    double samples[STATS_RESERVOIR];
};

struct stats_window {
    uint64_t start_ns;
    uint64_t rng; /* xorshift64 state, never 0 */
    double lag_max_ms, lag_sum_ms, iteration_max_ms;
    unsigned lag_n;
    struct stats_mode_window mode[BREW_NMODES];
};

/* One mode's period, summarised. */
struct stats_mode_summary {
    double orders_per_s, requests_per_s;
    unsigned finished;
    double latency_avg_ms, latency_p50_ms, latency_p95_ms, latency_max_ms;
};

/* Empties w and starts a period at now_ns; seed picks the reservoir's random
 * sequence (any value). */
void stats_window_init(struct stats_window *w, uint64_t now_ns, uint64_t seed);
/* Starts the next period at now_ns (the random state goes on). */
void stats_window_restart(struct stats_window *w, uint64_t now_ns);

/* Records a request answered in mode, and an order of mode finished after
 * latency_ms. Out-of-range modes are ignored. */
void stats_window_request(struct stats_window *w, int mode);
void stats_window_finished(struct stats_window *w, int mode, double latency_ms);
/* Records a loop-lag sample and a loop-iteration sample. */
void stats_window_lag(struct stats_window *w, double ms);
void stats_window_iteration(struct stats_window *w, double ms);

/* The period's length in seconds at now_ns (1 when it is not positive, so
 * rates stay finite). */
double stats_window_seconds(const struct stats_window *w, uint64_t now_ns);
/* Summarises mode over secs seconds. Sorts that mode's samples. */
void stats_window_summarise(struct stats_window *w, int mode, double secs,
                            struct stats_mode_summary *out);
/* The q-quantile (0..1) of n sorted values by nearest rank; 0 when n is 0. */
double stats_percentile(const double *sorted, unsigned n, double q);

#endif
