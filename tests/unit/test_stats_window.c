/* The stats window behind the "stats" event (app/stats_window.h): per-mode
 * counts and rates over a period, exact average and maximum latency, a
 * reservoir that stays a uniform sample however many orders finish (a
 * reservoir that stops replacing, or keeps only the newest, fails the
 * percentile checks), nearest-rank percentiles, the loop samples, and a
 * restart that empties the period. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/stats_window.h"

#define SEC 1000000000ULL

static void counts_and_rates_per_mode(void **state)
{
    struct stats_window w;
    stats_window_init(&w, 5 * SEC, 42);
    for (int i = 0; i < 6; i++)
        stats_window_request(&w, MODE_ASYNC);
    stats_window_request(&w, MODE_SYNC);
    stats_window_request(&w, -1); /* not an order: ignored */
    stats_window_request(&w, BREW_NMODES);
    stats_window_finished(&w, MODE_ASYNC, 10);
    stats_window_finished(&w, MODE_ASYNC, 30);
    stats_window_finished(&w, 7, 1000); /* ignored */

    double secs = stats_window_seconds(&w, 7 * SEC);
    assert_true(secs == 2.0);
    struct stats_mode_summary s;
    stats_window_summarise(&w, MODE_ASYNC, secs, &s);
    assert_true(s.requests_per_s == 3.0);
    assert_true(s.orders_per_s == 1.0);
    assert_int_equal(s.finished, 2);
    assert_true(s.latency_avg_ms == 20.0);
    assert_true(s.latency_max_ms == 30.0);
    stats_window_summarise(&w, MODE_SYNC, secs, &s);
    assert_true(s.requests_per_s == 0.5);
    assert_int_equal(s.finished, 0);
    assert_true(s.latency_avg_ms == 0 && s.latency_p50_ms == 0 && s.latency_max_ms == 0);
    stats_window_summarise(&w, MODE_THREAD, secs, &s);
    assert_true(s.requests_per_s == 0 && s.orders_per_s == 0);
    stats_window_summarise(&w, -1, secs, &s); /* out of range: all zero */
    assert_true(s.requests_per_s == 0 && s.finished == 0);
}

static void a_period_of_no_length_counts_as_one_second(void **state)
{
    struct stats_window w;
    stats_window_init(&w, 9 * SEC, 1);
    assert_true(stats_window_seconds(&w, 9 * SEC) == 1.0);
    assert_true(stats_window_seconds(&w, 8 * SEC) == 1.0); /* a clock that went back */
    assert_true(stats_window_seconds(&w, 9 * SEC + SEC / 4) == 0.25);
}

static void percentiles_by_nearest_rank(void **state)
{
    const double v[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    assert_true(stats_percentile(v, 0, 0.5) == 0);
    assert_true(stats_percentile(v, 1, 0.95) == 1);
    assert_true(stats_percentile(v, 10, 0) == 1);
    assert_true(stats_percentile(v, 10, 1) == 10);
    assert_true(stats_percentile(v, 10, 0.5) == 6);   /* rank round(4.5) = 5 */
    assert_true(stats_percentile(v, 10, 0.95) == 10); /* rank round(8.55) = 9 */
}

static void a_small_period_keeps_every_sample(void **state)
{
    struct stats_window w;
    stats_window_init(&w, 0, 7);
    for (int i = 100; i >= 1; i--) /* out of order: summarise sorts */
        stats_window_finished(&w, MODE_THREAD, i);
    struct stats_mode_summary s;
    stats_window_summarise(&w, MODE_THREAD, 1, &s);
    assert_int_equal(w.mode[MODE_THREAD].nsamples, 100);
    assert_true(s.latency_p50_ms == 51); /* rank round(49.5) = 50 (0.5 * 99) */
    assert_true(s.latency_p95_ms == 95); /* rank round(94.05) = 94 (0.95 * 99) */
    assert_true(s.latency_avg_ms == 50.5);
    assert_true(s.latency_max_ms == 100);
}

/* 20,000 finishes in increasing latency, the worst order for a biased
 * sample: a reservoir that stopped at the first 512 would say p50 ~ 256, one
 * that kept the newest ~ 19,700. A uniform one is near 10,000 (its standard
 * error here is ~450, so the bound is over four of them). */
static void a_large_period_keeps_a_uniform_sample(void **state)
{
    struct stats_window w;
    stats_window_init(&w, 0, 12345);
    const int n = 20000;
    for (int i = 0; i < n; i++)
        stats_window_finished(&w, MODE_ASYNC, i);
    assert_int_equal(w.mode[MODE_ASYNC].nsamples, STATS_RESERVOIR);
    unsigned second_half = 0;
    for (unsigned i = 0; i < STATS_RESERVOIR; i++)
        second_half += w.mode[MODE_ASYNC].samples[i] >= n / 2;
    assert_in_range(second_half, STATS_RESERVOIR * 4 / 10, STATS_RESERVOIR * 6 / 10);
    struct stats_mode_summary s;
    stats_window_summarise(&w, MODE_ASYNC, 1, &s);
    assert_int_equal(s.finished, n);
    assert_true(s.latency_p50_ms > 8000 && s.latency_p50_ms < 12000);
    assert_true(s.latency_p95_ms > 18000 && s.latency_p95_ms < 20000);
    assert_true(s.latency_avg_ms == (n - 1) / 2.0); /* exact: not from the sample */
    assert_true(s.latency_max_ms == n - 1);
}

static void loop_samples(void **state)
{
    struct stats_window w;
    stats_window_init(&w, 0, 3);
    stats_window_lag(&w, 2);
    stats_window_lag(&w, 10);
    stats_window_lag(&w, 0);
    stats_window_iteration(&w, 4);
    stats_window_iteration(&w, 1);
    assert_true(w.lag_max_ms == 10);
    assert_int_equal(w.lag_n, 3);
    assert_true(w.lag_sum_ms == 12);
    assert_true(w.iteration_max_ms == 4);
}

static void restart_empties_the_period_and_moves_its_start(void **state)
{
    struct stats_window w;
    stats_window_init(&w, 0, 99);
    for (int i = 0; i < 1000; i++)
        stats_window_finished(&w, MODE_SYNC, 1);
    stats_window_request(&w, MODE_SYNC);
    stats_window_lag(&w, 50);
    uint64_t rng = w.rng;
    assert_true(rng != 99); /* the reservoir drew from it */
    stats_window_restart(&w, 3 * SEC);
    assert_true(w.start_ns == 3 * SEC);
    assert_true(w.rng == rng); /* the random sequence goes on */
    assert_int_equal(w.mode[MODE_SYNC].finished, 0);
    assert_int_equal(w.mode[MODE_SYNC].requests, 0);
    assert_int_equal(w.mode[MODE_SYNC].nsamples, 0);
    assert_true(w.lag_max_ms == 0 && w.lag_n == 0);
    assert_true(stats_window_seconds(&w, 4 * SEC) == 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_and_rates_per_mode),
        cmocka_unit_test(a_period_of_no_length_counts_as_one_second),
        cmocka_unit_test(percentiles_by_nearest_rank),
        cmocka_unit_test(a_small_period_keeps_every_sample),
        cmocka_unit_test(a_large_period_keeps_a_uniform_sample),
        cmocka_unit_test(loop_samples),
        cmocka_unit_test(restart_empties_the_period_and_moves_its_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
