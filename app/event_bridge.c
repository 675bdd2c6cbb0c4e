/* The café -> SSE bridge: the hub behind GET /events, every order transition
 * published on it, and the "stats" event once a period (docs/contract.md,
 * "Events"). With the memory store the transitions are the café's own (its
 * observer) and the hub numbers the events; with a shared store they are
 * every replica's, from the store's stream, and an event's id is its entry
 * id, so a client resumes on any replica (docs/store.md). Loop thread only. */
#include <string.h>
#include <event2/event.h>
#include <time.h>

#include "app/app.h"
#include "base/clock.h"
#include "base/loop_timeline.h"
#include "cafe/cafe.h"
#include "server/server.h"
#include "server/sse_hub.h"

#define STATS_PERIOD_MS 1000 /* the "stats" event */
#define SSE_FLUSH_MS    0    /* batching window: one write per subscriber per loop turn */
#define UNHEARD_AHEAD   8    /* unheard orders fetched ahead of their pop */

/* One order's snapshot on the stream, keyed by the order so that the hub
 * replaces an unsent older one of it (its window may hold the order's
 * previous turn). */
static void publish_order(struct app *app, const struct order *o, enum cafe_event ev, int step,
                          const char *xid)
{
    const char *step_name =
        step >= 0 && (unsigned)step < o->item->nsteps ? o->item->steps[step].name : NULL;
    json_t *data = json_pack("{s:s, s:s?, s:o}", "event", cafe_event_name(ev), "step", step_name,
                             "order", order_to_json(o));
    /* A stream entry is an event of its own (its id must be the same on
     * every replica): never coalesced. */
    if (xid[0])
        sse_hub_publish_id(app->ctx.events, "order", data, 0, xid);
    else
        sse_hub_publish(app->ctx.events, "order", data, o->id);
}

/* Holds a reference to o in *slot (which may hold an older copy of it). */
static void hold(struct order **slot, struct order *o)
{
    order_ref(o);
    if (*slot)
        order_unref(*slot);
    *slot = o;
}

static void publish_held(struct app *app)
{
    struct event_bridge *br = &app->bridge;
    struct order *o = br->held;
    if (!o)
        return;
    br->held = NULL;
    publish_order(app, o, br->held_event, br->held_step, br->held_xid);
    order_unref(o);
}

/* At the start of the next turn's timers, before whatever else runs in it
 * (an async hands-on step that blocks the loop): the held transition, and
 * the hub's window with it, go out now. */
static void on_release(evutil_socket_t fd, short what, void *arg)
{
    struct app *app = arg;
    publish_held(app);
    sse_hub_flush(app->ctx.events);
}

static uint16_t *unheard_slot_of(struct event_bridge *br, uint64_t id)
{
    return &br->unheard_at[id % (2 * EVENT_RING)];
}

/* Takes the oldest unheard order off the queue (its reference goes to the
 * caller through *out, or is dropped when out is NULL). */
static void unheard_pop(struct event_bridge *br, struct unheard *out)
{
    /* Unreferenced next, and cold by then: the one a few pops on is
     * fetched ahead. */
    if (br->unheard_count > UNHEARD_AHEAD)
        __builtin_prefetch(br->unheard[(br->unheard_head + UNHEARD_AHEAD) % EVENT_RING].order, 1);
    struct unheard *u = &br->unheard[br->unheard_head];
    uint16_t *at = unheard_slot_of(br, u->id);
    if (*at == br->unheard_head + 1)
        *at = 0;
    if (out)
        *out = *u;
    else
        order_unref(u->order);
    br->unheard_head = (br->unheard_head + 1) % EVENT_RING;
    br->unheard_count--;
}

/* xid, cut to len; no printf for the usual "" (once per transition). */
static void xid_copy(char *dst, size_t len, const char *xid)
{
    if (xid[0])
        snprintf(dst, len, "%s", xid);
    else
        dst[0] = '\0';
}

/* Nobody listens: remember that o moved, at the cost of a few stores (the
 * orders queued before it are not read: their ids are kept here). */
static void unheard_note(struct event_bridge *br, struct order *o, enum cafe_event ev, int step,
                         const char *xid)
{
    uint16_t *at = unheard_slot_of(br, o->id);
    struct unheard *u = *at ? &br->unheard[*at - 1] : NULL;
    if (xid[0]) /* a stream entry: kept as it is, never coalesced */
        u = NULL, at = NULL;
    if (!u || u->id != o->id) { /* new (or its index entry was taken by a later id) */
        if (br->unheard_count == EVENT_RING) {
            unheard_pop(br, NULL);
            br->dropped = true;
        }
        unsigned slot = (br->unheard_head + br->unheard_count++) % EVENT_RING;
        u = &br->unheard[slot];
        u->order = NULL;
        u->id = o->id;
        if (at)
            *at = (uint16_t)(slot + 1);
    }
    if (u->order != o) /* a stream entry brings a new copy each time */
        hold(&u->order, o);
    u->event = ev;
    u->step = step;
    xid_copy(u->xid, sizeof(u->xid), xid);
}

void event_bridge_catch_up(struct app *app)
{
    struct event_bridge *br = &app->bridge;
    if (!br->unheard_count)
        return;
    if (br->dropped && br->shared) {
        sse_hub_set_origin(app->ctx.events, NULL); /* the ring no longer covers it all */
        br->dropped = false;
    }
    if (br->dropped) {
        /* Orders were forgotten: take one id for them, so that a client that
         * heard the event before them is not replayed a stream with a hole
         * (the EVENT_RING events below push this one out of the ring, and
         * such a client resyncs). */
        sse_hub_publish(app->ctx.events, "resync",
                        json_pack("{s:s}", "reason", "events were dropped while nobody listened"),
                        0);
        br->dropped = false;
    }
    while (br->unheard_count) {
        struct unheard u;
        unheard_pop(br, &u);
        publish_order(app, u.order, u.event, u.step, u.xid);
        order_unref(u.order);
    }
    sse_hub_flush(app->ctx.events); /* framed into the ring before the lookup */
}

static void on_events_catch_up(void *arg)
{
    event_bridge_catch_up(arg);
}

/* Every transition carries the whole order, so the newest one replaces older
 * unsent ones without losing state: under a flood the stream frames at most
 * one snapshot per order per window, and builds one per order per turn. xid:
 * the stream entry's id, or "". */
static void note_transition(struct app *app, struct order *o, enum cafe_event ev, int step,
                            const char *xid)
{
    struct event_bridge *br = &app->bridge;
    if (br->closed)
        return;
    if (sse_hub_subscriber_count(app->ctx.events) == 0) {
        unheard_note(br, o, ev, step, xid);
        return;
    }
    if (xid[0]) { /* a stream entry: published as it is */
        publish_order(app, o, ev, step, xid);
        return;
    }
    if (!br->held || br->held->id != o->id) {
        publish_held(app);
        hold(&br->held, o);
        static const struct timeval now = {0, 0};
        event_add(br->release, &now);
    } else if (br->held != o) {
        hold(&br->held, o);
    }
    br->held_event = ev;
    br->held_step = step;
    xid_copy(br->held_xid, sizeof(br->held_xid), xid);
}

static void on_cafe_event(const struct order *co, enum cafe_event ev, int step, void *arg)
{
    struct app *app = arg;
    struct order *o = (struct order *)co; /* kept by reference: the café lends it */
    if (ev == CAFE_ORDER_READY)
        stats_window_finished(&app->stats, (int)o->mode,
                              (double)(o->finished_ns - o->accepted_ns) / 1e6);
    if (!app->bridge.shared) /* else the store's stream brings it, with everyone's */
        note_transition(app, o, ev, step, "");
}

/* Two entries written together: the record of one write, so the later
 * says all the earlier does. */
static bool same_record(const struct order *a, const struct order *b)
{
    return a->id == b->id && a->status == b->status && a->item == b->item &&
           !memcmp(a->steps, b->steps, a->item->nsteps * sizeof(a->steps[0]));
}

/* A batch of the shared store's stream: every replica's transitions. */
static void on_stream(const struct store_event *ev, unsigned n, enum store_result r, void *arg)
{
    struct app *app = arg;
    struct event_bridge *br = &app->bridge;
    if (n && !br->origin_set) {
        /* The first batch, from the stream's oldest entry: the ring covers
         * all that is after it (unless entries were trimmed meanwhile). */
        br->origin_set = true;
        if (r != STORE_GAP)
            sse_hub_set_origin(app->ctx.events, ev[0].id);
    }
    for (unsigned i = 0; i < n; i++) {
        /* The transitions of one write carry the record as written: one the
         * order's next status change of that write sums up is left out
         * (the order shows "ready" once, on order_ready). Ids still
         * increase, so a resume on another replica (which may cut its
         * batches elsewhere) gets every order's newest state after its id. */
        if (i + 1 < n && ev[i + 1].step < 0 && same_record(ev[i].order, ev[i + 1].order))
            continue;
        /* this replica's own orders as it knows them */
        note_transition(app, cafe_order_own(app->ctx.cafe, ev[i].order), ev[i].event, ev[i].step,
                        ev[i].id);
    }
}

static json_t *mode_json(const struct stats_mode_summary *s, unsigned in_flight)
{
    return json_pack("{s:f, s:f, s:i, s:i, s:{s:f, s:f, s:f, s:f}}", "orders_per_s",
                     s->orders_per_s, "requests_per_s", s->requests_per_s, "finished",
                     (json_int_t)s->finished, "in_flight", (json_int_t)in_flight, "latency_ms",
                     "avg", s->latency_avg_ms, "p50", s->latency_p50_ms, "p95", s->latency_p95_ms,
                     "max", s->latency_max_ms);
}

static double now_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void publish_stats(struct app *app, double secs)
{
    struct stats_window *w = &app->stats;
    struct cafe_stats cs;
    cafe_stats(app->ctx.cafe, &cs);
    json_t *modes = json_object();
    for (int m = 0; m < BREW_NMODES; m++) {
        struct stats_mode_summary s;
        stats_window_summarise(w, m, secs, &s);
        json_object_set_new(modes, brew_mode_name((enum brew_mode)m),
                            mode_json(&s, cs.in_flight[m]));
    }
    const struct server_stats *ss = server_stats(app->ctx.server);
    json_t *data =
        json_pack("{s:s, s:I, s:f, s:o, s:{s:f, s:f}, s:{s:f}, s:i, s:i, s:i, s:i, s:i, s:I}",
                  "replica", cafe_store(app->ctx.cafe)->replica, "t", (json_int_t)now_unix_ms(),
                  "interval_s", secs, "modes", modes, "lag_ms", "max", w->lag_max_ms, "avg",
                  w->lag_n ? w->lag_sum_ms / w->lag_n : 0.0, "iteration_ms", "max",
                  w->iteration_max_ms, "in_flight", (json_int_t)cafe_in_flight(app->ctx.cafe),
                  "queue_depth", (json_int_t)cs.barista_queue, "baristas_busy",
                  (json_int_t)cs.baristas_busy, "baristas", (json_int_t)cs.baristas, "connections",
                  (json_int_t)ss->open_connections, "requests", (json_int_t)ss->requests);
    sse_hub_publish(app->ctx.events, "stats", data, 0);
}

/* Each period: the summary and the loop timeline's batch to whoever listens
 * (a period nobody saw is not worth keeping for a resume; the timeline's
 * next batch then covers it, up to a minute, docs/timeline.md), then a
 * fresh window. */
static void on_stats_timer(evutil_socket_t fd, short what, void *arg)
{
    static const struct timeline_label label = {"stats events", NULL, 0};
    struct app *app = arg;
    struct loop_timeline *tl = app->ctx.timeline;
    uint64_t now = loop_timeline_enter(tl);
    if (!now)
        now = clock_ns();
    if (sse_hub_subscriber_count(app->ctx.events) > 0) {
        publish_stats(app, stats_window_seconds(&app->stats, now));
        if (tl)
            sse_hub_publish(app->ctx.events, "timeline", loop_timeline_take_batch(tl, now), 0);
    }
    stats_window_restart(&app->stats, now);
    loop_timeline_leave(tl, now, 0, &label);
}

void event_bridge_init(struct app *app)
{
    struct sse_hub_config cfg;
    sse_hub_config_default(&cfg);
    cfg.max_backlog = app->options->sse_max_backlog;
    cfg.heartbeat_ms = app->options->sse_heartbeat_ms;
    cfg.ring_size = EVENT_RING;
    cfg.flush_ms = SSE_FLUSH_MS;
    cfg.real_precision = 6; /* rates and milliseconds: 6 digits say it all */
    cfg.timeline = app->ctx.timeline;
    struct order_store *store = cafe_store(app->ctx.cafe);
    app->bridge.shared = strcmp(store->kind, "memory") != 0;
    cfg.external_ids = app->bridge.shared;
    app->ctx.events = sse_hub_new(app->base, &cfg);
    app->ctx.events_catch_up = on_events_catch_up;
    app->ctx.events_arg = app;
    cafe_set_observer(app->ctx.cafe, on_cafe_event, app);

    struct event_bridge *br = &app->bridge;
    br->release = evtimer_new(app->base, on_release, app);
    event_priority_set(br->release, 0); /* the hub's own window has this priority */
    const struct timeval period = timeval_from_ms(STATS_PERIOD_MS);
    br->stats_timer = event_new(app->base, -1, EV_PERSIST, on_stats_timer, app);
    event_priority_set(br->stats_timer, 0); /* before a blocking callback of its turn */
    event_add(br->stats_timer, &period);
    /* From the oldest entry kept: the ring holds the newest at once, so a
     * client resumes here from an id another replica (or an earlier life of
     * this one) sent. */
    if (br->shared)
        br->follow = order_store_follow(store, "0", on_stream, app);
}

static void unfollow(struct app *app)
{
    if (app->bridge.follow)
        order_store_unfollow(cafe_store(app->ctx.cafe), app->bridge.follow);
    app->bridge.follow = NULL;
}

void event_bridge_drain(struct app *app)
{
    /* Streams never finish by themselves: end them now, with a last event
     * the dashboard shows, so the drain does not wait for them. The timers
     * stop too, so nothing of ours keeps the loop alive. */
    publish_held(app);
    sse_hub_close(app->ctx.events, "shutdown",
                  json_pack("{s:s}", "reason", "server shutting down"));
    app->bridge.closed = true;
    event_del(app->bridge.stats_timer);
    unfollow(app);
}

void event_bridge_free(struct app *app)
{
    struct event_bridge *br = &app->bridge;
    cafe_set_observer(app->ctx.cafe, NULL, NULL);
    unfollow(app);
    /* Before the café goes: these references are the café's to drop. */
    if (br->held)
        order_unref(br->held);
    while (br->unheard_count)
        unheard_pop(br, NULL);
    if (br->release)
        event_free(br->release);
    if (br->stats_timer)
        event_free(br->stats_timer);
    *br = (struct event_bridge){0};
    sse_hub_free(app->ctx.events);
    app->ctx.events = NULL;
}
