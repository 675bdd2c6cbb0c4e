/* Observability wiring: the metrics registry, the event stream (order
 * transitions and a "stats" event every second) and the event-loop monitor.
 * Everything here runs on the loop thread. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app.h"
#include "base/log.h"
#include "base/xmalloc.h"
#include "cafe/cafe.h"
#include "handlers/handlers.h"
#include "server/loop_monitor.h"
#include "server/metrics.h"
#include "server/request.h"
#include "server/server.h"
#include "server/sse_hub.h"

#define LOOP_PROBE_MS   100  /* lag/iteration sampling period */
#define STATS_PERIOD_MS 1000 /* the "stats" event */
#define SSE_FLUSH_MS    0    /* batching window: one write per subscriber per loop turn */
#define SSE_RING        512  /* events kept for Last-Event-ID */
#define RESERVOIR       512  /* latency samples per mode per stats period */
#define NMODE_LABELS    (BREW_NMODES + 1) /* the modes, then "none" */

/* Per mode, over one stats period: orders finished and their latency
 * (acceptance to ready, what a customer waits), a uniform reservoir sample
 * for the percentiles. */
struct period_mode {
    unsigned requests, finished;
    double latency_sum_ms, latency_max_ms;
    unsigned nsamples;
    double samples[RESERVOIR];
};

struct observe {
    struct loop_monitor *monitor;
    struct event *stats_timer;
    uint64_t period_start_ns;
    uint64_t rng;

    /* Loop samples over the current stats period. */
    double lag_max_ms, lag_sum_ms, iter_max_ms;
    unsigned lag_n;
    struct period_mode mode[BREW_NMODES];

    /* The request that completed last, named in the lag warning: a handler
     * that blocks the loop completes right before the late timer fires.
     * Static strings only, so a request costs three stores, not a snprintf. */
    const char *last_method, *last_route, *last_mode;

    struct metric_family *requests, *latency, *in_flight, *placed, *finished, *refused, *live,
        *queue_depth, *baristas_busy, *baristas, *loop_blocked, *conn_open, *conn_accepted,
        *conn_rejected, *parse_errors, *lag, *lag_last, *iteration, *loop_events, *sse_subs,
        *sse_cut, *sse_events, *sse_coalesced, *sse_bytes, *build_info, *start_time, *config_limit;
    struct metric_series *lag_s, *lag_last_s, *iteration_s;
    struct metric_series *latency_s[NMODE_LABELS];
};

/* One application per process: the observer state is a file-local singleton
 * because struct app (the engine's) has no slot for it. */
static struct observe obs;

static const char *mode_label(int m)
{
    return m >= 0 && m < BREW_NMODES ? brew_mode_name((enum brew_mode)m) : "none";
}

/* req->log_label is set by the order handlers to the mode name. */
static int mode_index(const char *label)
{
    int m = label ? brew_mode_parse(label) : -1;
    return m < 0 ? BREW_NMODES : m;
}

static double now_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t rng_next(void)
{
    obs.rng ^= obs.rng << 13;
    obs.rng ^= obs.rng >> 7;
    obs.rng ^= obs.rng << 17;
    return obs.rng;
}

/* ---- the order stream ---------------------------------------------------- */

static void on_cafe_event(const struct order *o, enum cafe_event ev, int step, void *arg)
{
    struct app *app = arg;
    if (ev == CAFE_ORDER_READY && o->mode < BREW_NMODES) {
        struct period_mode *pm = &obs.mode[o->mode];
        double ms = (double)(o->finished_ns - o->accepted_ns) / 1e6;
        pm->finished++;
        pm->latency_sum_ms += ms;
        if (ms > pm->latency_max_ms)
            pm->latency_max_ms = ms;
        if (pm->nsamples < RESERVOIR) {
            pm->samples[pm->nsamples++] = ms;
        } else { /* Algorithm R: the n-th sample stays with probability k/n */
            uint64_t j = rng_next() % pm->finished;
            if (j < RESERVOIR)
                pm->samples[j] = ms;
        }
    }
    if (sse_hub_subscriber_count(app->ctx.events) == 0) {
        /* Nobody listens: skip building the JSON (it costs the loop under a
         * flood) and let a later resume resync instead. */
        sse_hub_skip(app->ctx.events);
        return;
    }
    /* Every transition carries the whole order, so the newest one per order
     * replaces older unsent ones (key = id) without losing state: under a
     * flood the stream sends at most one snapshot per order per window. */
    const char *step_name =
        step >= 0 && (unsigned)step < o->item->nsteps ? o->item->steps[step].name : NULL;
    json_t *data = json_pack("{s:s, s:s?, s:o}", "event", cafe_event_name(ev), "step", step_name,
                             "order", order_to_json(o));
    sse_hub_publish(app->ctx.events, "order", data, o->id);
}

/* ---- the stats event ------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, unsigned n, double q)
{
    if (!n)
        return 0;
    unsigned i = (unsigned)(q * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static json_t *stats_mode_json(struct period_mode *pm, double secs, unsigned in_flight)
{
    qsort(pm->samples, pm->nsamples, sizeof(pm->samples[0]), cmp_double);
    return json_pack("{s:f, s:f, s:i, s:i, s:{s:f, s:f, s:f, s:f}}", "orders_per_s",
                     pm->finished / secs, "requests_per_s", pm->requests / secs, "finished",
                     (json_int_t)pm->finished, "in_flight", (json_int_t)in_flight, "latency_ms",
                     "avg", pm->finished ? pm->latency_sum_ms / pm->finished : 0.0, "p50",
                     percentile(pm->samples, pm->nsamples, 0.5), "p95",
                     percentile(pm->samples, pm->nsamples, 0.95), "max", pm->latency_max_ms);
}

static void on_stats_timer(evutil_socket_t fd, short what, void *arg)
{
    struct app *app = arg;
    uint64_t now = clock_ns();
    double secs = (double)(now - obs.period_start_ns) / 1e9;
    if (secs <= 0)
        secs = 1;
    if (sse_hub_subscriber_count(app->ctx.events) > 0) {
        struct cafe_stats cs;
        cafe_stats(app->ctx.cafe, &cs);
        json_t *modes = json_object();
        for (int m = 0; m < BREW_NMODES; m++)
            json_object_set_new(modes, mode_label(m),
                                stats_mode_json(&obs.mode[m], secs, cs.in_flight[m]));
        const struct server_stats *ss = server_stats(app->ctx.server);
        json_t *data = json_pack(
            "{s:I, s:f, s:o, s:{s:f, s:f}, s:{s:f}, s:i, s:i, s:i, s:i, s:i, s:I}", "t",
            (json_int_t)now_unix_ms(), "interval_s", secs, "modes", modes, "lag_ms", "max",
            obs.lag_max_ms, "avg", obs.lag_n ? obs.lag_sum_ms / obs.lag_n : 0.0, "iteration_ms",
            "max", obs.iter_max_ms, "in_flight", (json_int_t)cafe_in_flight(app->ctx.cafe),
            "queue_depth", (json_int_t)cs.barista_queue, "baristas_busy",
            (json_int_t)cs.baristas_busy, "baristas", (json_int_t)cs.baristas, "connections",
            (json_int_t)ss->open_connections, "requests", (json_int_t)ss->requests);
        sse_hub_publish(app->ctx.events, "stats", data, 0);
    }
    memset(obs.mode, 0, sizeof(obs.mode));
    obs.lag_max_ms = obs.lag_sum_ms = obs.iter_max_ms = 0;
    obs.lag_n = 0;
    obs.period_start_ns = now;
}

/* ---- the loop monitor ----------------------------------------------------- */

static void on_loop_sample(enum loop_sample kind, uint64_t ns, void *arg)
{
    struct app *app = arg;
    double ms = (double)ns / 1e6;
    if (kind == LOOP_SAMPLE_ITERATION) {
        metrics_histogram_observe(obs.iteration_s, ms / 1e3);
        if (ms > obs.iter_max_ms)
            obs.iter_max_ms = ms;
        return;
    }
    metrics_histogram_observe(obs.lag_s, ms / 1e3);
    metrics_gauge_set(obs.lag_last_s, ms / 1e3);
    obs.lag_sum_ms += ms;
    obs.lag_n++;
    if (ms > obs.lag_max_ms)
        obs.lag_max_ms = ms;
    /* The loop-lag side of the slow-callback warning: the engine names the
     * callback it timed; this catches whatever held the loop, timed or not. */
    unsigned threshold = app->options->slow_callback_ms;
    if (threshold && ms > threshold)
        log_warn("event loop lag: a %u ms timer fired %.0f ms late (last request: %s%s%s%s%s)",
                 LOOP_PROBE_MS, ms, obs.last_method ? obs.last_method : "none",
                 obs.last_route ? " " : "", obs.last_route ? obs.last_route : "",
                 obs.last_mode ? " mode=" : "", obs.last_mode ? obs.last_mode : "");
}

/* ---- metrics -------------------------------------------------------------- */

static const char *const route_mode_status[] = {"route", "mode", "status"};
static const char *const by_mode[] = {"mode"};
static const char *const by_mode_status[] = {"mode", "status"};
static const char *const by_status[] = {"status"};
static const char *const by_kind[] = {"kind"};
static const char *const by_version[] = {"version"};
static const char *const by_name[] = {"name"};
static const double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,    1,     2.5,    5,     10,   15,    30,   60};
static const double lag_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,  0.5,    1,     2.5,  5,     10};
#define LABELS(a)  .nlabels = sizeof(a) / sizeof(a[0]), .labels = a
#define BUCKETS(a) .buckets = a, .nbuckets = sizeof(a) / sizeof(a[0])
#define NO_LABELS  .nlabels = 0

/* Every family the café exports, in the order /metrics shows them. */
static const struct family_def {
    struct metric_family **slot;
    enum metric_type type;
    const char *name, *help;
    unsigned nlabels;
    const char *const *labels;
    const double *buckets;
    unsigned nbuckets;
} family_defs[] = {
    {&obs.requests, METRIC_COUNTER, "cafe_http_requests_total",
     "HTTP requests answered, by route, order mode and status", LABELS(route_mode_status)},
    {&obs.latency, METRIC_HISTOGRAM, "cafe_http_request_duration_seconds",
     "From a request's first byte to its response's end, by order mode (none: not an order)",
     LABELS(by_mode), BUCKETS(latency_buckets)},
    {&obs.in_flight, METRIC_GAUGE, "cafe_brews_in_flight",
     "Unfinished orders (queued or brewing), by mode", LABELS(by_mode)},
    {&obs.placed, METRIC_COUNTER, "cafe_orders_placed_total", "Orders accepted, by mode",
     LABELS(by_mode)},
    {&obs.finished, METRIC_COUNTER, "cafe_orders_finished_total",
     "Orders that ended, by mode and final status", LABELS(by_mode_status)},
    {&obs.refused, METRIC_COUNTER, "cafe_orders_refused_total",
     "Orders refused at admission (busy, queue full, draining)", NO_LABELS},
    {&obs.live, METRIC_GAUGE, "cafe_orders_live", "Orders held in the order book, by status",
     LABELS(by_status)},
    {&obs.queue_depth, METRIC_GAUGE, "cafe_worker_queue_depth",
     "Hands-on steps waiting for a free barista thread", NO_LABELS},
    {&obs.baristas_busy, METRIC_GAUGE, "cafe_workers_busy", "Barista threads with a step in hand",
     NO_LABELS},
    {&obs.baristas, METRIC_GAUGE, "cafe_workers", "Barista threads in the pool", NO_LABELS},
    {&obs.loop_blocked, METRIC_COUNTER, "cafe_loop_blocked_seconds_total",
     "Time sync and async hands-on steps held the event loop", NO_LABELS},
    {&obs.conn_open, METRIC_GAUGE, "cafe_http_connections_open", "Client connections open now",
     NO_LABELS},
    {&obs.conn_accepted, METRIC_COUNTER, "cafe_http_connections_accepted_total",
     "Client connections accepted", NO_LABELS},
    {&obs.conn_rejected, METRIC_COUNTER, "cafe_http_connections_rejected_total",
     "Connections refused over the connection limit", NO_LABELS},
    {&obs.parse_errors, METRIC_COUNTER, "cafe_http_parse_errors_total",
     "Requests rejected as malformed HTTP", NO_LABELS},
    {&obs.lag, METRIC_HISTOGRAM, "cafe_eventloop_lag_seconds",
     "How late a periodic 100 ms timer fires: how long the loop was held", NO_LABELS,
     BUCKETS(lag_buckets)},
    {&obs.lag_last, METRIC_GAUGE, "cafe_eventloop_lag_last_seconds",
     "The most recent event-loop lag sample", NO_LABELS},
    {&obs.iteration, METRIC_HISTOGRAM, "cafe_eventloop_iteration_seconds",
     "Duration of one event-loop turn, sampled every 100 ms", NO_LABELS, BUCKETS(lag_buckets)},
    {&obs.loop_events, METRIC_GAUGE, "cafe_eventloop_events",
     "Events registered with the loop (added) and ready to run (active)", LABELS(by_kind)},
    {&obs.sse_subs, METRIC_GAUGE, "cafe_sse_subscribers", "Open /events streams", NO_LABELS},
    {&obs.sse_cut, METRIC_COUNTER, "cafe_sse_subscribers_cut_total",
     "Event streams cut because the client fell too far behind", NO_LABELS},
    {&obs.sse_events, METRIC_COUNTER, "cafe_sse_events_total",
     "Events sent on the stream (after coalescing)", NO_LABELS},
    {&obs.sse_coalesced, METRIC_COUNTER, "cafe_sse_events_coalesced_total",
     "Events replaced by a newer one for the same order before sending", NO_LABELS},
    {&obs.sse_bytes, METRIC_COUNTER, "cafe_sse_bytes_total",
     "Bytes of framed events, counted once however many subscribers", NO_LABELS},
    {&obs.build_info, METRIC_GAUGE, "cafe_build_info", "Always 1; the version in a label",
     LABELS(by_version)},
    {&obs.start_time, METRIC_GAUGE, "process_start_time_seconds",
     "Start time of the process since the Unix epoch in seconds", NO_LABELS},
    /* Limits are configuration, exported as metrics (redis). */
    {&obs.config_limit, METRIC_GAUGE, "cafe_config_limit",
     "A configured limit, by name (bytes, ms or count)", LABELS(by_name)},
};

static void register_metrics(struct app *app)
{
    struct metrics *m = app->metrics;
    for (size_t i = 0; i < sizeof(family_defs) / sizeof(family_defs[0]); i++) {
        const struct family_def *d = &family_defs[i];
        *d->slot = metrics_family(m, d->type, d->name, d->help, d->nlabels, d->labels, d->buckets,
                                  d->nbuckets);
    }
    for (int i = 0; i < NMODE_LABELS; i++)
        obs.latency_s[i] = metrics_series(obs.latency, (const char *const[]){mode_label(i)});
    obs.lag_s = metrics_series(obs.lag, NULL);
    obs.lag_last_s = metrics_series(obs.lag_last, NULL);
    obs.iteration_s = metrics_series(obs.iteration, NULL);

    metrics_gauge_set(metrics_series(obs.build_info, (const char *const[]){CAFE_VERSION}), 1);
    metrics_gauge_set(metrics_series(obs.start_time, NULL), now_unix_ms() / 1e3);

    const struct options *o = app->options;
    const struct server_limits *l = &o->limits;
    const struct {
        const char *name;
        double value;
    } limits[] = {
        {"max_header_bytes", (double)l->max_header_bytes},
        {"max_header_fields", l->max_header_fields},
        {"max_uri_bytes", (double)l->max_uri_bytes},
        {"max_body_bytes", (double)l->max_body_bytes},
        {"header_timeout_ms", l->header_timeout_ms},
        {"idle_timeout_ms", l->idle_timeout_ms},
        {"write_timeout_ms", l->write_timeout_ms},
        {"max_connections", l->max_connections},
        {"drain_timeout_ms", l->drain_timeout_ms},
        {"max_output_bytes", (double)l->max_output_bytes},
        {"max_brews", o->max_brews},
        {"max_queue", o->max_queue},
        {"max_batch", o->max_batch},
        {"max_orders", o->max_orders},
        {"baristas", o->baristas},
        {"slow_callback_ms", o->slow_callback_ms},
        {"sse_max_backlog", o->sse_max_backlog},
    };
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
        metrics_gauge_set(metrics_series(obs.config_limit, (const char *const[]){limits[i].name}),
                          limits[i].value);
}

/* A family without labels has one series. */
static void set_scalar(struct metric_family *f, double v)
{
    metrics_gauge_set(metrics_series(f, NULL), v);
}

/* Mirrors the other modules' counters into the registry just before a scrape
 * (cheaper than updating them on every event). */
static void refresh_metrics(struct app *app)
{
    struct cafe_stats cs;
    cafe_stats(app->ctx.cafe, &cs);
    for (int m = 0; m < BREW_NMODES; m++) {
        const char *mv[] = {mode_label(m)};
        metrics_gauge_set(metrics_series(obs.in_flight, mv), cs.in_flight[m]);
        metrics_gauge_set(metrics_series(obs.placed, mv), (double)cs.placed[m]);
        for (int s = 0; s < ORDER_NSTATUSES; s++) {
            if (s == ORDER_QUEUED || s == ORDER_BREWING)
                continue; /* never a final status */
            const char *ms[] = {mode_label(m), order_status_name((enum order_status)s)};
            metrics_gauge_set(metrics_series(obs.finished, ms), (double)cs.finished[m][s]);
        }
    }
    for (int s = 0; s < ORDER_NSTATUSES; s++) {
        const char *sv[] = {order_status_name((enum order_status)s)};
        metrics_gauge_set(metrics_series(obs.live, sv), cs.live[s]);
    }
    set_scalar(obs.refused, (double)cs.refused);
    set_scalar(obs.queue_depth, cs.barista_queue);
    set_scalar(obs.baristas_busy, cs.baristas_busy);
    set_scalar(obs.baristas, cs.baristas);
    set_scalar(obs.loop_blocked, (double)cs.loop_blocked_ns / 1e9);

    const struct server_stats *ss = server_stats(app->ctx.server);
    set_scalar(obs.conn_open, ss->open_connections);
    set_scalar(obs.conn_accepted, (double)ss->connections_accepted);
    set_scalar(obs.conn_rejected, (double)ss->connections_rejected);
    set_scalar(obs.parse_errors, (double)ss->parse_errors);

    metrics_gauge_set(metrics_series(obs.loop_events, (const char *const[]){"active"}),
                      event_base_get_num_events(app->base, EVENT_BASE_COUNT_ACTIVE));
    metrics_gauge_set(metrics_series(obs.loop_events, (const char *const[]){"added"}),
                      event_base_get_num_events(app->base, EVENT_BASE_COUNT_ADDED));

    struct sse_hub_stats st;
    sse_hub_get_stats(app->ctx.events, &st);
    set_scalar(obs.sse_subs, st.subscribers);
    set_scalar(obs.sse_cut, (double)st.cut);
    set_scalar(obs.sse_events, (double)st.events);
    set_scalar(obs.sse_coalesced, (double)st.coalesced);
    set_scalar(obs.sse_bytes, (double)st.bytes);
}

static void render_metrics(void *arg, struct evbuffer *out)
{
    struct app *app = arg;
    refresh_metrics(app);
    metrics_render(app->metrics, out);
}

/* ---- the app hooks -------------------------------------------------------- */

void observe_on_request_done(struct request *req, uint64_t duration_ns, void *arg)
{
    (void)arg;
    const char *route = req->route ? req->route->label : "unmatched";
    int mi = mode_index(req->log_label);
    /* Status codes as label text, formatted once each. */
    static char codes[600][4];
    int code = req->status > 0 && req->status < 600 ? req->status : 499;
    if (!codes[code][0])
        snprintf(codes[code], sizeof(codes[code]), "%d", code);
    const char *status = codes[code];
    metrics_counter_add(
        metrics_series(obs.requests, (const char *const[]){route, mode_label(mi), status}), 1);
    /* Event streams last as long as the client stays: not a latency. */
    if (!(req->route && req->route->kind == ROUTE_EVENTS))
        metrics_histogram_observe(obs.latency_s[mi], (double)duration_ns / 1e9);
    if (mi < BREW_NMODES)
        obs.mode[mi].requests++;
    obs.last_method = req->method_name;
    obs.last_route = route;
    obs.last_mode = mi < BREW_NMODES ? mode_label(mi) : NULL;
}

int observe_app_init(struct app *app)
{
    memset(&obs, 0, sizeof(obs));
    obs.rng = 0x9e3779b97f4a7c15ULL ^ clock_ns();
    obs.period_start_ns = clock_ns();
    app->metrics = metrics_new();
    register_metrics(app);
    app->ctx.render_metrics = render_metrics;
    app->ctx.metrics_arg = app;

    struct sse_hub_config cfg;
    sse_hub_config_default(&cfg);
    if (app->options->sse_max_backlog)
        cfg.max_backlog = app->options->sse_max_backlog;
    cfg.ring_size = SSE_RING;
    cfg.flush_ms = SSE_FLUSH_MS;
    cfg.real_precision = 6; /* rates and milliseconds: 6 digits say it all */
    cfg.heartbeat_ms = app->options->sse_heartbeat_ms;
    app->ctx.events = sse_hub_new(app->base, &cfg);
    cafe_set_observer(app->ctx.cafe, on_cafe_event, app);

    obs.monitor = loop_monitor_new(app->base, LOOP_PROBE_MS, on_loop_sample, app);
    static const struct timeval period = {STATS_PERIOD_MS / 1000, (STATS_PERIOD_MS % 1000) * 1000};
    obs.stats_timer = event_new(app->base, -1, EV_PERSIST, on_stats_timer, app);
    event_priority_set(obs.stats_timer, 0); /* before a blocking callback of its turn */
    event_add(obs.stats_timer, &period);
    return 0;
}

void observe_app_drain_begin(struct app *app)
{
    /* Streams never finish by themselves: end them now, with a last event
     * the dashboard shows, so the drain does not wait for them. Stop the
     * periodic timers too, so nothing of ours keeps the loop alive. */
    sse_hub_close(app->ctx.events, "shutdown",
                  json_pack("{s:s}", "reason", "server shutting down"));
    loop_monitor_stop(obs.monitor);
    event_del(obs.stats_timer);
}

void observe_app_free(struct app *app)
{
    cafe_set_observer(app->ctx.cafe, NULL, NULL);
    loop_monitor_free(obs.monitor);
    obs.monitor = NULL;
    event_free(obs.stats_timer);
    obs.stats_timer = NULL;
    sse_hub_free(app->ctx.events);
    app->ctx.events = NULL;
    metrics_free(app->metrics);
    app->metrics = NULL;
}
