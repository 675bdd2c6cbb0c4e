#ifndef CAFE_APP_H
#define CAFE_APP_H

#include <stdint.h>

#include "app/options.h"
#include "app/stats_window.h"
#include "base/list.h"
#include "cafe/store.h"
#include "handlers/handlers.h"

struct event;
struct event_base;
struct loop_monitor;
struct menu;
struct metric_family;
struct metric_series;
struct metrics;
struct request;

#define APP_NMODE_LABELS (BREW_NMODES + 1) /* the modes, then "none" (not an order) */

/* The metrics export's registry and the families it updates by hand (the
 * rest are mirrored from the other modules' counters before each scrape). */
struct app_metrics {
    struct metrics *registry;
    struct metric_family *requests, *latency, *in_flight, *placed, *finished, *refused, *live,
        *queue_depth, *baristas_busy, *baristas, *loop_blocked, *conn_open, *conn_accepted,
        *conn_rejected, *parse_errors, *lag, *lag_last, *iteration, *loop_events, *sse_subs,
        *sse_cut, *sse_events, *sse_coalesced, *sse_bytes, *build_info, *start_time, *config_limit,
        *log_dropped;
    /* The order store's and this replica's (docs/store.md). */
    struct metric_family *replica_info, *unstored, *store_up, *store_tracked, *store_buffered,
        *store_dropped, *store_reconnects, *store_timeouts, *store_bad_records, *store_claimed,
        *store_writes, *store_errors;
    struct metric_series *lag_s, *lag_last_s, *iteration_s;
    struct metric_series *latency_s[APP_NMODE_LABELS];
    /* The requests series the last answer counted in, by its labels' route
     * (a route table's static label: the pointer names it), mode and
     * status: a run of alike answers skips the hash and the strcmp's. */
    struct {
        const char *route;
        int mode, code;
        struct metric_series *s;
    } last_request;
};

/* The request that completed last, named in the lag warning: a handler that
 * blocks the loop completes right before the late timer fires. Static
 * strings only, so noting a request costs three stores. */
struct app_last_request {
    const char *method, *route, *mode;
};

/* Events the stream keeps for Last-Event-ID (app/event_bridge.c). */
#define EVENT_RING 512

/* An order that moved while nobody listened: its latest transition. */
struct unheard {
    struct order *order; /* a reference */
    uint64_t id;         /* order->id, without reading the (cold) order */
    enum cafe_event event;
    int step;
    char xid[STORE_EVENT_ID_MAX]; /* its stream entry (a shared store), else "" */
};

/* The café -> SSE bridge's state.
 *
 * While someone listens, the latest transition of one order waits in `held`
 * until another order moves or the loop turn ends, so that an order's several
 * transitions in one turn (queued, brewing, step started) cost one snapshot.
 *
 * While nobody listens, nothing is built: the orders that moved queue in
 * `unheard` (oldest first, one entry each, at most EVENT_RING), and their
 * snapshots are published -- given ids, kept in the ring -- only when the
 * next subscriber arrives, before its Last-Event-ID is looked up. Past
 * EVENT_RING the oldest is dropped: a resume from before it could not be
 * replayed whole anyway, and `dropped` makes sure it resyncs. */
struct event_bridge {
    struct event *stats_timer; /* the "stats" event, once a period */
    struct event *release;     /* end of the turn: publish what is held */
    struct order *held;        /* a reference, or NULL */
    enum cafe_event held_event;
    int held_step;
    char held_xid[STORE_EVENT_ID_MAX];
    struct unheard unheard[EVENT_RING]; /* a ring: unheard_head is the oldest */
    unsigned unheard_head, unheard_count;
    uint16_t unheard_at[2 * EVENT_RING]; /* order id -> its slot + 1 (0: none), by id modulo */
    bool dropped;                        /* an unheard order was dropped since the last catch-up */
    bool closed;                         /* the stream was closed (shutdown) */
    /* A shared store (Redis): the transitions of every replica come from its
     * stream, each with its entry id as the SSE id, instead of from the
     * café's observer. */
    struct store_follow *follow;
    bool shared, origin_set;
};

/* The whole application, owned by main(). Handlers see only ctx (req->app
 * points at it). */
struct app {
    struct handler_ctx ctx; /* server, cafe, menu, event hub, static files */
    struct event_base *base;
    const struct options *options;
    struct menu *menu; /* the menu ctx.menu shows, owned here */

    /* Observability (app/wire_observe.c and the files it wires). */
    struct app_metrics metrics;   /* app/metrics_export.c */
    struct stats_window stats;    /* app/stats_window.c, published by app/event_bridge.c */
    struct event_bridge bridge;   /* app/event_bridge.c */
    struct loop_monitor *monitor; /* app/lag_warning.c */
    struct app_last_request last; /* app/lag_warning.c */
};

/* The engine's hooks get hooks.app: the handlers' context inside struct app. */
static inline struct app *app_of(void *ctx)
{
    return container_of(ctx, struct app, ctx);
}

/* Café wiring (app/wire_cafe.c): menu, order book, brew scheduler, baristas. */
int cafe_app_init(struct app *app);           /* 0, or -1 after printing why */
void cafe_app_drain_begin(struct app *app);   /* SIGTERM: refuse new orders (503) */
bool cafe_app_busy(struct app *app);          /* brews, or writes the store still owes */
void cafe_app_drain_timeout(struct app *app); /* cancel what still brews, answering its clients */
void cafe_app_free(struct app *app);

/* Observability wiring (app/wire_observe.c): metrics, event stream, loop lag. */
/* The loop timeline (ctx.timeline), before the engine and the café that
 * record into it: lane 0 the loop, one lane per barista; NULL with
 * --timeline=off. Freed by observe_timeline_free() after the café. */
void observe_timeline_new(struct app *app);
void observe_timeline_free(struct app *app);
int observe_app_init(struct app *app);
void observe_app_drain_begin(struct app *app); /* end event streams, stop the timers */
void observe_on_request_done(struct request *req, uint64_t duration_ns, void *app);
void observe_on_request_handled(struct request *req, void *app);
void observe_app_free(struct app *app);

/* The café -> SSE bridge (app/event_bridge.c): the hub behind GET /events,
 * every order transition published on it (coalesced per order), and the
 * "stats" event each period from app->stats. */
void event_bridge_init(struct app *app);
/* Before a client subscribes (handler_ctx.events_catch_up): what nobody heard
 * is published now, so the ring holds it for the client's Last-Event-ID. */
void event_bridge_catch_up(struct app *app);
void event_bridge_drain(struct app *app); /* a last "shutdown" event, streams ended */
void event_bridge_free(struct app *app);

/* The metrics export (app/metrics_export.c): every family GET /metrics shows,
 * the limits from the options table, refreshed from the modules before each
 * scrape. */
void metrics_export_init(struct app *app);
/* A request answered: by route label, mode (-1: not an order) and status. */
void metrics_export_request(struct app *app, const char *route, int mode, int status,
                            uint64_t duration_ns, bool stream);
void metrics_export_loop_lag(struct app *app, double ms);
void metrics_export_loop_iteration(struct app *app, double ms);
void metrics_export_free(struct app *app);
/* "sync", "async", "thread", or "none" for any other value. */
const char *app_mode_label(int mode);

/* The loop monitor and its warning (app/lag_warning.c): lag and iteration
 * samples go to the metrics and the stats window; a lag past
 * --slow-callback-ms is logged naming the last request. */
void lag_warning_init(struct app *app);
void lag_warning_note_request(struct app *app, const char *method, const char *route, int mode);
void lag_warning_stop(struct app *app);
void lag_warning_free(struct app *app);

#endif
