#ifndef TESTS_LIB_STORE_WORLD_H
#define TESTS_LIB_STORE_WORLD_H

/* A café on a real event loop over either store, for tests that run the same
 * code against both (tests/unit/test_order_store*.c). Every call goes
 * through the asynchronous API and waits for its completion by running the
 * loop, so it holds whether the store completes before the call returns
 * (memory) or later (Redis). Include after <cmocka.h>. */

#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/xmalloc.h"
#include "cafe/cafe.h"
#include "tests/lib/redis_server.h"

enum store_kind { KIND_MEMORY, KIND_REDIS };

struct world_opts {
    unsigned max_orders, max_brews, buffer_max;
    double scale;        /* time scale: one recipe second lasts this many seconds */
    const char *replica; /* default "a" */
    const char *prefix;  /* default "test:" */
    unsigned timeout_ms; /* Redis command timeout (default 500) */
    unsigned lease_ms;   /* default 600 */
    unsigned cancel_wait_ms;
    const char *password; /* redis://:password@... (default none) */
    int db;               /* .../db (default 0) */
};

struct world {
    enum store_kind kind;
    struct event_base *base;
    struct menu *menu;
    struct cafe *cafe;
    struct event *tick; /* bounds every loop pass, so waits can time out */
    uint64_t ticks, max_gap_ns, last_tick_ns;
};

static void world_on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct world *w = arg;
    uint64_t now = clock_ns();
    if (w->last_tick_ns && now - w->last_tick_ns > w->max_gap_ns)
        w->max_gap_ns = now - w->last_tick_ns;
    w->last_tick_ns = now;
    w->ticks++;
}

static inline struct store_stats world_store_stats(struct world *w)
{
    struct store_stats st;
    order_store_stats(cafe_store(w->cafe), &st);
    return st;
}

/* Runs the loop until *flag or ms pass; whether *flag came. */
static inline bool world_run_until(struct world *w, const bool *flag, unsigned ms)
{
    uint64_t end = clock_ns() + (uint64_t)ms * 1000000u;
    while (!*flag && clock_ns() < end)
        event_base_loop(w->base, EVLOOP_ONCE);
    return *flag;
}

static inline void world_run_for(struct world *w, unsigned ms)
{
    bool never = false;
    world_run_until(w, &never, ms);
}

static inline bool world_store_up(struct world *w, unsigned ms)
{
    uint64_t end = clock_ns() + (uint64_t)ms * 1000000u;
    while (!world_store_stats(w).up && clock_ns() < end)
        event_base_loop(w->base, EVLOOP_ONCE);
    return world_store_stats(w).up;
}

static inline struct world *world_new(enum store_kind kind, const struct redis_server *server,
                                      const struct world_opts *opts)
{
    struct world_opts o = opts ? *opts : (struct world_opts){0};
    struct world *w = xcalloc(1, sizeof(*w));
    w->kind = kind;
    w->base = event_base_new();
    w->menu = menu_builtin();
    struct cafe_config cfg = {.time_scale = o.scale ? o.scale : 0.002,
                              .baristas = 2,
                              .max_orders = o.max_orders ? o.max_orders : 100,
                              .max_brews = o.max_brews ? o.max_brews : 100,
                              .max_queue = 100,
                              .replica_id = o.replica ? o.replica : "a"};
    if (kind == KIND_REDIS) {
        char url[160], err[256];
        snprintf(url, sizeof(url), "redis://%s%s%s127.0.0.1:%d/%d", o.password ? ":" : "",
                 o.password ? o.password : "", o.password ? "@" : "", server->port, o.db);
        struct store_redis_config rc = {.url = url,
                                        .prefix = o.prefix ? o.prefix : "test:",
                                        .replica = cfg.replica_id,
                                        .max_orders = cfg.max_orders,
                                        .stream_max = 1000,
                                        .timeout_ms = o.timeout_ms ? o.timeout_ms : 500,
                                        .lease_ms = o.lease_ms ? o.lease_ms : 600,
                                        .cancel_wait_ms = o.cancel_wait_ms,
                                        .buffer_max = o.buffer_max,
                                        .backoff_max_ms = 200};
        cfg.store = store_redis_new(w->base, w->menu, &rc, err, sizeof(err));
        if (!cfg.store)
            fprintf(stderr, "store_redis_new: %s\n", err);
    }
    w->cafe = cafe_new(w->base, w->menu, &cfg);
    w->tick = event_new(w->base, -1, EV_PERSIST, world_on_tick, w);
    struct timeval tv = timeval_from_ms(5);
    event_add(w->tick, &tv);
    return w;
}

/* Lets what the store still writes land (bounded), then frees everything. */
static inline void world_free(struct world *w)
{
    if (!w)
        return;
    event_free(w->tick);
    cafe_free(w->cafe);
    menu_free(w->menu);
    event_base_free(w->base);
    free(w);
}

/* --- completions, captured ----------------------------------------------------- */

struct outcome {
    bool done;
    enum store_result r;
    enum cafe_admit admit;
    enum cafe_cancel verdict;
    unsigned n;
    struct order *orders[128]; /* references taken */
    struct store_event events[256];
    unsigned nevents;
};

static inline void outcome_clear(struct outcome *out)
{
    for (unsigned i = 0; i < out->n; i++)
        order_unref(out->orders[i]);
    for (unsigned i = 0; i < out->nevents; i++)
        order_unref(out->events[i].order);
    memset(out, 0, sizeof(*out));
}

static void world_on_orders(struct order *const *orders, unsigned n, enum store_result r, void *arg)
{
    struct outcome *out = arg;
    out->done = true;
    out->r = r;
    for (unsigned i = 0; i < n && out->n < 128; i++) {
        order_ref(orders[i]);
        out->orders[out->n++] = orders[i];
    }
}

static void world_on_order(struct order *o, enum store_result r, void *arg)
{
    world_on_orders(o ? &o : NULL, o ? 1 : 0, r, arg);
}

static void world_on_placed(struct order *const *orders, unsigned n, enum cafe_admit admit,
                            enum store_result r, void *arg)
{
    struct outcome *out = arg;
    out->admit = admit;
    world_on_orders(orders, n, r, arg);
}

static void world_on_cancelled(struct order *o, enum cafe_cancel verdict, enum store_result r,
                               void *arg)
{
    struct outcome *out = arg;
    out->verdict = verdict;
    world_on_order(o, r, arg);
}

static void world_on_events(const struct store_event *ev, unsigned n, enum store_result r,
                            void *arg)
{
    struct outcome *out = arg;
    out->done = true;
    if (r != STORE_OK)
        out->r = r;
    for (unsigned i = 0; i < n && out->nevents < 256; i++) {
        out->events[out->nevents] = ev[i];
        order_ref(ev[i].order);
        out->nevents++;
    }
}

static void world_on_answer(struct order *o, void *arg)
{
    (*(unsigned *)arg)++;
}

/* Runs the loop until *count reaches n (5 s at most); whether it did. */
static inline bool world_wait_count(struct world *w, const unsigned *count, unsigned n)
{
    uint64_t end = clock_ns() + 5000000000ull;
    while (*count < n && clock_ns() < end)
        event_base_loop(w->base, EVLOOP_ONCE);
    return *count >= n;
}

/* Submits n orders of item and waits for the verdict (into out). */
static inline void world_submit(struct world *w, const char *item, enum brew_mode mode, unsigned n,
                                int64_t timeout_ms, struct outcome *out)
{
    struct order_spec specs[64];
    for (unsigned i = 0; i < n; i++)
        specs[i] = (struct order_spec){.item = menu_find_item(w->menu, item),
                                       .mode = mode,
                                       .timeout_ms = timeout_ms,
                                       .customer = "Zoë \"the\" tester\n"};
    memset(out, 0, sizeof(*out));
    cafe_orders_submit(w->cafe, specs, n, world_on_placed, out);
    world_run_until(w, &out->done, 5000);
}

static inline void world_get(struct world *w, uint64_t id, struct outcome *out)
{
    memset(out, 0, sizeof(*out));
    cafe_order_get(w->cafe, id, world_on_order, out);
    world_run_until(w, &out->done, 5000);
}

static inline void world_list(struct world *w, int status, unsigned limit, struct outcome *out)
{
    memset(out, 0, sizeof(*out));
    cafe_orders_list(w->cafe, status, limit, world_on_orders, out);
    world_run_until(w, &out->done, 5000);
}

static inline void world_cancel(struct world *w, uint64_t id, struct outcome *out)
{
    memset(out, 0, sizeof(*out));
    cafe_order_cancel_async(w->cafe, id, world_on_cancelled, out);
    world_run_until(w, &out->done, 10000);
}

#endif
