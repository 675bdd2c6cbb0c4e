/* The metrics export: every family GET /metrics shows, in one table. Request
 * counts and latencies and the loop samples are updated as they happen; the
 * other modules' counters (café, engine, event hub, loop) are mirrored into
 * the registry just before a scrape, which is cheaper than updating them on
 * every event. The configured limits come from the options table. */
#include <event2/event.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "app/app.h"
#include "base/log.h"
#include "cafe/cafe.h"
#include "server/metrics.h"
#include "server/server.h"
#include "server/sse_hub.h"

static const char *const route_mode_status[] = {"route", "mode", "status"};
static const char *const by_mode[] = {"mode"};
static const char *const by_mode_status[] = {"mode", "status"};
static const char *const by_status[] = {"status"};
static const char *const by_kind[] = {"kind"};
static const char *const by_version[] = {"version"};
static const char *const by_name[] = {"name"};
static const char *const by_replica_store[] = {"replica", "store"};
static const double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,    1,     2.5,    5,     10,   15,    30,   60};
static const double lag_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,  0.5,    1,     2.5,  5,     10};
#define LABELS(a)  .nlabels = sizeof(a) / sizeof(a[0]), .labels = a
#define BUCKETS(a) .buckets = a, .nbuckets = sizeof(a) / sizeof(a[0])
#define NO_LABELS  .nlabels = 0
#define SLOT(f)    offsetof(struct app_metrics, f)

/* Every family the café exports, in the order /metrics shows them. */
static const struct family_def {
    size_t slot; /* where in struct app_metrics */
    enum metric_type type;
    const char *name, *help;
    unsigned nlabels;
    const char *const *labels;
    const double *buckets;
    unsigned nbuckets;
} family_defs[] = {
    {SLOT(requests), METRIC_COUNTER, "cafe_http_requests_total",
     "HTTP requests answered, by route, order mode and status", LABELS(route_mode_status)},
    {SLOT(latency), METRIC_HISTOGRAM, "cafe_http_request_duration_seconds",
     "From a request's first byte to its response's end, by order mode (none: not an order)",
     LABELS(by_mode), BUCKETS(latency_buckets)},
    {SLOT(in_flight), METRIC_GAUGE, "cafe_brews_in_flight",
     "Unfinished orders (queued or brewing), by mode", LABELS(by_mode)},
    {SLOT(placed), METRIC_COUNTER, "cafe_orders_placed_total", "Orders accepted, by mode",
     LABELS(by_mode)},
    {SLOT(finished), METRIC_COUNTER, "cafe_orders_finished_total",
     "Orders that ended, by mode and final status", LABELS(by_mode_status)},
    {SLOT(refused), METRIC_COUNTER, "cafe_orders_refused_total",
     "Orders refused at admission (busy, queue full, draining)", NO_LABELS},
    {SLOT(live), METRIC_GAUGE, "cafe_orders_live", "Orders held in the order book, by status",
     LABELS(by_status)},
    {SLOT(queue_depth), METRIC_GAUGE, "cafe_worker_queue_depth",
     "Hands-on steps waiting for a free barista thread", NO_LABELS},
    {SLOT(baristas_busy), METRIC_GAUGE, "cafe_workers_busy", "Barista threads with a step in hand",
     NO_LABELS},
    {SLOT(baristas), METRIC_GAUGE, "cafe_workers", "Barista threads in the pool", NO_LABELS},
    {SLOT(loop_blocked), METRIC_COUNTER, "cafe_loop_blocked_seconds_total",
     "Time sync and async hands-on steps held the event loop", NO_LABELS},
    {SLOT(conn_open), METRIC_GAUGE, "cafe_http_connections_open", "Client connections open now",
     NO_LABELS},
    {SLOT(conn_accepted), METRIC_COUNTER, "cafe_http_connections_accepted_total",
     "Client connections accepted", NO_LABELS},
    {SLOT(conn_rejected), METRIC_COUNTER, "cafe_http_connections_rejected_total",
     "Connections refused over the connection limit", NO_LABELS},
    {SLOT(parse_errors), METRIC_COUNTER, "cafe_http_parse_errors_total",
     "Requests rejected as malformed HTTP", NO_LABELS},
    {SLOT(lag), METRIC_HISTOGRAM, "cafe_eventloop_lag_seconds",
     "How late a periodic 100 ms timer fires: how long the loop was held", NO_LABELS,
     BUCKETS(lag_buckets)},
    {SLOT(lag_last), METRIC_GAUGE, "cafe_eventloop_lag_last_seconds",
     "The most recent event-loop lag sample", NO_LABELS},
    {SLOT(iteration), METRIC_HISTOGRAM, "cafe_eventloop_iteration_seconds",
     "Duration of one event-loop turn, sampled every 100 ms", NO_LABELS, BUCKETS(lag_buckets)},
    {SLOT(loop_events), METRIC_GAUGE, "cafe_eventloop_events",
     "Events registered with the loop (added) and ready to run (active)", LABELS(by_kind)},
    {SLOT(sse_subs), METRIC_GAUGE, "cafe_sse_subscribers", "Open /events streams", NO_LABELS},
    {SLOT(sse_cut), METRIC_COUNTER, "cafe_sse_subscribers_cut_total",
     "Event streams cut because the client fell too far behind", NO_LABELS},
    {SLOT(sse_events), METRIC_COUNTER, "cafe_sse_events_total",
     "Events sent on the stream (after coalescing)", NO_LABELS},
    {SLOT(sse_coalesced), METRIC_COUNTER, "cafe_sse_events_coalesced_total",
     "Events replaced by a newer one for the same order before sending", NO_LABELS},
    {SLOT(sse_bytes), METRIC_COUNTER, "cafe_sse_bytes_total",
     "Bytes of framed events, counted once however many subscribers", NO_LABELS},
    {SLOT(log_dropped), METRIC_COUNTER, "cafe_log_lines_dropped_total",
     "Log lines dropped because stderr was not read fast enough (or failed)", NO_LABELS},
    {SLOT(build_info), METRIC_GAUGE, "cafe_build_info", "Always 1; the version in a label",
     LABELS(by_version)},
    {SLOT(start_time), METRIC_GAUGE, "process_start_time_seconds",
     "Start time of the process since the Unix epoch in seconds", NO_LABELS},
    {SLOT(replica_info), METRIC_GAUGE, "cafe_replica_info",
     "Always 1; this replica's id and its order store's kind in labels", LABELS(by_replica_store)},
    {SLOT(unstored), METRIC_COUNTER, "cafe_orders_unstored_total",
     "Orders refused (503) because the order store could not take them", NO_LABELS},
    {SLOT(store_up), METRIC_GAUGE, "cafe_store_up",
     "1 while the order store takes orders, 0 while it is down or connecting", NO_LABELS},
    {SLOT(store_tracked), METRIC_GAUGE, "cafe_store_orders_tracked",
     "Orders whose transitions the store still holds for writing", NO_LABELS},
    {SLOT(store_buffered), METRIC_GAUGE, "cafe_store_orders_buffered",
     "Of them, orders waiting for the store to come back", NO_LABELS},
    {SLOT(store_dropped), METRIC_COUNTER, "cafe_store_transitions_dropped_total",
     "Transitions dropped because the store's buffer was full", NO_LABELS},
    {SLOT(store_reconnects), METRIC_COUNTER, "cafe_store_reconnects_total",
     "Connections to the store made again after a loss", NO_LABELS},
    {SLOT(store_timeouts), METRIC_COUNTER, "cafe_store_timeouts_total",
     "Store connections reset because a reply came too late", NO_LABELS},
    {SLOT(store_bad_records), METRIC_COUNTER, "cafe_store_bad_records_total",
     "Unreadable records met in the store (wrong type, truncated)", NO_LABELS},
    {SLOT(store_claimed), METRIC_COUNTER, "cafe_store_orphans_claimed_total",
     "Unfinished orders of lost replicas this replica failed", NO_LABELS},
    {SLOT(store_writes), METRIC_COUNTER, "cafe_store_writes_total",
     "Writes (scripts) sent to the store", NO_LABELS},
    {SLOT(store_errors), METRIC_COUNTER, "cafe_store_errors_total",
     "Store replies that were errors", NO_LABELS},
    /* Limits are configuration, exported as metrics (redis). */
    {SLOT(config_limit), METRIC_GAUGE, "cafe_config_limit",
     "A configured limit, by name (bytes, ms or count)", LABELS(by_name)},
};

static void render(void *arg, struct evbuffer *out);

const char *app_mode_label(int mode)
{
    return mode >= 0 && mode < BREW_NMODES ? brew_mode_name((enum brew_mode)mode) : "none";
}

static struct metric_family **family_slot(struct app_metrics *am, const struct family_def *d)
{
    return (struct metric_family **)((char *)am + d->slot);
}

/* A family without labels has one series. */
static void set_scalar(struct metric_family *f, double v)
{
    metrics_gauge_set(metrics_series(f, NULL), v);
}

static void set_limit(const char *name, double value, void *arg)
{
    struct app_metrics *am = arg;
    metrics_gauge_set(metrics_series(am->config_limit, (const char *const[]){name}), value);
}

void metrics_export_init(struct app *app)
{
    struct app_metrics *am = &app->metrics;
    am->registry = metrics_new();
    for (size_t i = 0; i < sizeof(family_defs) / sizeof(family_defs[0]); i++) {
        const struct family_def *d = &family_defs[i];
        *family_slot(am, d) = metrics_family(am->registry, d->type, d->name, d->help, d->nlabels,
                                             d->labels, d->buckets, d->nbuckets);
    }
    for (int i = 0; i < APP_NMODE_LABELS; i++)
        am->latency_s[i] = metrics_series(am->latency, (const char *const[]){app_mode_label(i)});
    am->lag_s = metrics_series(am->lag, NULL);
    am->lag_last_s = metrics_series(am->lag_last, NULL);
    am->iteration_s = metrics_series(am->iteration, NULL);

    metrics_gauge_set(metrics_series(am->build_info, (const char *const[]){CAFE_VERSION}), 1);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    set_scalar(am->start_time, (double)now.tv_sec + (double)now.tv_nsec / 1e9);
    options_each_limit(app->options, set_limit, am);
    const char *replica[] = {app->options->replica_id, cafe_store(app->ctx.cafe)->kind};
    metrics_gauge_set(metrics_series(am->replica_info, replica), 1);
    app->ctx.render_metrics = render;
    app->ctx.metrics_arg = app;
}

void metrics_export_request(struct app *app, const char *route, int mode, int status,
                            uint64_t duration_ns, bool stream)
{
    struct app_metrics *am = &app->metrics;
    int mi = mode >= 0 && mode < BREW_NMODES ? mode : BREW_NMODES;
    /* Status codes as label text, formatted once each. */
    static char codes[600][4];
    int code = status > 0 && status < 600 ? status : 499;
    if (!codes[code][0])
        snprintf(codes[code], sizeof(codes[code]), "%d", code);
    if (!am->last_request.s || am->last_request.route != route || am->last_request.mode != mi ||
        am->last_request.code != code) {
        am->last_request.s = metrics_series(
            am->requests, (const char *const[]){route, app_mode_label(mi), codes[code]});
        am->last_request.route = route;
        am->last_request.mode = mi;
        am->last_request.code = code;
    }
    metrics_counter_add(am->last_request.s, 1);
    /* Event streams last as long as the client stays: not a latency. */
    if (!stream)
        metrics_histogram_observe(am->latency_s[mi], (double)duration_ns / 1e9);
}

void metrics_export_loop_lag(struct app *app, double ms)
{
    metrics_histogram_observe(app->metrics.lag_s, ms / 1e3);
    metrics_gauge_set(app->metrics.lag_last_s, ms / 1e3);
}

void metrics_export_loop_iteration(struct app *app, double ms)
{
    metrics_histogram_observe(app->metrics.iteration_s, ms / 1e3);
}

/* Mirrors the café's, the engine's, the loop's and the hub's counters. */
static void refresh(struct app *app)
{
    struct app_metrics *am = &app->metrics;
    struct cafe_stats cs;
    cafe_stats(app->ctx.cafe, &cs);
    for (int m = 0; m < BREW_NMODES; m++) {
        const char *mv[] = {app_mode_label(m)};
        metrics_gauge_set(metrics_series(am->in_flight, mv), cs.in_flight[m]);
        metrics_gauge_set(metrics_series(am->placed, mv), (double)cs.placed[m]);
        for (int s = 0; s < ORDER_NSTATUSES; s++) {
            if (s == ORDER_QUEUED || s == ORDER_BREWING)
                continue; /* never a final status */
            const char *ms[] = {app_mode_label(m), order_status_name((enum order_status)s)};
            metrics_gauge_set(metrics_series(am->finished, ms), (double)cs.finished[m][s]);
        }
    }
    for (int s = 0; s < ORDER_NSTATUSES; s++) {
        const char *sv[] = {order_status_name((enum order_status)s)};
        metrics_gauge_set(metrics_series(am->live, sv), cs.live[s]);
    }
    set_scalar(am->refused, (double)cs.refused);
    set_scalar(am->queue_depth, cs.barista_queue);
    set_scalar(am->baristas_busy, cs.baristas_busy);
    set_scalar(am->baristas, cs.baristas);
    set_scalar(am->loop_blocked, (double)cs.loop_blocked_ns / 1e9);

    const struct server_stats *ss = server_stats(app->ctx.server);
    set_scalar(am->conn_open, ss->open_connections);
    set_scalar(am->conn_accepted, (double)ss->connections_accepted);
    set_scalar(am->conn_rejected, (double)ss->connections_rejected);
    set_scalar(am->parse_errors, (double)ss->parse_errors);

    metrics_gauge_set(metrics_series(am->loop_events, (const char *const[]){"active"}),
                      event_base_get_num_events(app->base, EVENT_BASE_COUNT_ACTIVE));
    metrics_gauge_set(metrics_series(am->loop_events, (const char *const[]){"added"}),
                      event_base_get_num_events(app->base, EVENT_BASE_COUNT_ADDED));

    struct sse_hub_stats st;
    sse_hub_get_stats(app->ctx.events, &st);
    set_scalar(am->sse_subs, st.subscribers);
    set_scalar(am->sse_cut, (double)st.cut);
    set_scalar(am->sse_events, (double)st.events);
    set_scalar(am->sse_coalesced, (double)st.coalesced);
    set_scalar(am->sse_bytes, (double)st.bytes);

    set_scalar(am->log_dropped, (double)log_lines_dropped());

    struct store_stats so;
    order_store_stats(cafe_store(app->ctx.cafe), &so);
    set_scalar(am->unstored, (double)cs.unstored);
    set_scalar(am->store_up, so.up);
    set_scalar(am->store_tracked, so.tracked);
    set_scalar(am->store_buffered, so.buffered);
    set_scalar(am->store_dropped, (double)so.dropped);
    set_scalar(am->store_reconnects, (double)so.reconnects);
    set_scalar(am->store_timeouts, (double)so.timeouts);
    set_scalar(am->store_bad_records, (double)so.bad_records);
    set_scalar(am->store_claimed, (double)so.claimed);
    set_scalar(am->store_writes, (double)so.writes);
    set_scalar(am->store_errors, (double)so.errors);
}

/* GET /metrics (handlers/metrics.c, through handler_ctx.render_metrics). */
static void render(void *arg, struct evbuffer *out)
{
    struct app *app = arg;
    refresh(app);
    metrics_render(app->metrics.registry, out);
}

void metrics_export_free(struct app *app)
{
    metrics_free(app->metrics.registry);
    app->metrics = (struct app_metrics){0};
}
