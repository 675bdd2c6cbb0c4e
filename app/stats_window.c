#include "app/stats_window.h"

#include <stdlib.h>
#include <string.h>

void stats_window_init(struct stats_window *w, uint64_t now_ns, uint64_t seed)
{
    memset(w, 0, sizeof(*w));
    w->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
    w->start_ns = now_ns;
}

void stats_window_restart(struct stats_window *w, uint64_t now_ns)
{
    uint64_t rng = w->rng;
    stats_window_init(w, now_ns, rng);
}

static uint64_t rng_next(struct stats_window *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

static struct stats_mode_window *mode_of(struct stats_window *w, int mode)
{
    return mode >= 0 && mode < BREW_NMODES ? &w->mode[mode] : NULL;
}

void stats_window_request(struct stats_window *w, int mode)
{
    struct stats_mode_window *m = mode_of(w, mode);
    if (m)
        m->requests++;
}

void stats_window_finished(struct stats_window *w, int mode, double latency_ms)
{
    struct stats_mode_window *m = mode_of(w, mode);
    if (!m)
        return;
    m->finished++;
    m->latency_sum_ms += latency_ms;
    if (latency_ms > m->latency_max_ms)
        m->latency_max_ms = latency_ms;
    if (m->nsamples < STATS_RESERVOIR) {
        m->samples[m->nsamples++] = latency_ms;
        return;
    }
    /* Algorithm R: the n-th value replaces a random slot with probability k/n,
     * which keeps every value seen equally likely to be in the sample. */
    uint64_t j = rng_next(w) % m->finished;
    if (j < STATS_RESERVOIR)
        m->samples[j] = latency_ms;
}

void stats_window_lag(struct stats_window *w, double ms)
{
    w->lag_sum_ms += ms;
    w->lag_n++;
    if (ms > w->lag_max_ms)
        w->lag_max_ms = ms;
}

void stats_window_iteration(struct stats_window *w, double ms)
{
    if (ms > w->iteration_max_ms)
        w->iteration_max_ms = ms;
}

double stats_window_seconds(const struct stats_window *w, uint64_t now_ns)
{
    double secs = now_ns > w->start_ns ? (double)(now_ns - w->start_ns) / 1e9 : 0;
    return secs > 0 ? secs : 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double stats_percentile(const double *sorted, unsigned n, double q)
{
    if (!n)
        return 0;
    unsigned i = (unsigned)(q * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

void stats_window_summarise(struct stats_window *w, int mode, double secs,
                            struct stats_mode_summary *out)
{
    memset(out, 0, sizeof(*out));
    struct stats_mode_window *m = mode_of(w, mode);
    if (!m)
        return;
    qsort(m->samples, m->nsamples, sizeof(m->samples[0]), cmp_double);
    out->orders_per_s = m->finished / secs;
    out->requests_per_s = m->requests / secs;
    out->finished = m->finished;
    out->latency_avg_ms = m->finished ? m->latency_sum_ms / m->finished : 0.0;
    out->latency_p50_ms = stats_percentile(m->samples, m->nsamples, 0.5);
    out->latency_p95_ms = stats_percentile(m->samples, m->nsamples, 0.95);
    out->latency_max_ms = m->latency_max_ms;
}
