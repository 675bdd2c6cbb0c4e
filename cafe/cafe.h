#ifndef CAFE_CAFE_H
#define CAFE_CAFE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cafe/menu.h"
#include "cafe/order.h"
#include "cafe/store.h"

/* The café: brew scheduler and barista pool over an order store
 * (cafe/store.h: the in-memory book, or Redis shared by replicas). Knows
 * nothing about HTTP; the handlers turn its values into responses. Everything
 * here is loop-thread only except where a comment says otherwise. Brews hold
 * an order, never a connection: a client that leaves just detaches its waiter
 * and the brew goes on (the order is business state). */

struct event_base;
struct cafe;

/* Domain settings (filled from app/options.h by app/wire_cafe.c). */
struct cafe_config {
    double time_scale;   /* real seconds per recipe second */
    unsigned baristas;   /* worker threads for thread mode's hands-on steps */
    unsigned max_orders; /* the order book keeps the most recent N (memory store) */
    unsigned max_brews;  /* unfinished orders (queued + brewing); above -> CAFE_BUSY */
    unsigned max_queue;  /* barista queue depth; above -> CAFE_QUEUE_FULL (thread mode) */
    /* Where orders live: NULL makes the in-memory book of max_orders; else
     * the café takes this store over (cafe_free() frees it). */
    struct order_store *store;
    const char *replica_id; /* for the memory book (NULL: "local"); a store brings its own */
    /* Where the work that holds the loop (sync steps, async hands-on steps,
     * step timers) and each barista's hands-on steps are recorded: lane 0 and
     * lane 1 + i of base/loop_timeline.h. NULL: nowhere. Must outlive the
     * café; also what lateness asks "what held the loop" (docs/timeline.md). */
    struct loop_timeline *timeline;
};

/* Creates the café on base (the loop that runs brews) with its barista
 * threads and its store. The menu must outlive it. NULL (after a message on
 * stderr; cfg->store is freed) if the threads cannot start. */
struct cafe *cafe_new(struct event_base *base, const struct menu *menu,
                      const struct cafe_config *cfg);
/* Fails every unfinished order (answering its waiter), joins the baristas and
 * frees everything, the store included (what it had not written yet is lost:
 * call cafe_flush() and run the loop first). */
void cafe_free(struct cafe *c);
const struct menu *cafe_menu(const struct cafe *c);
struct order_store *cafe_store(const struct cafe *c);

/* What an order asks for, validated by the caller against the menu. */
struct order_spec {
    const struct item *item;
    const char *flavour;  /* menu spelling or NULL */
    const char *customer; /* copied; NULL for none */
    enum brew_mode mode;
    int64_t timeout_ms; /* < 0: none. Past it the brew is cancelled (timed_out) */
    double time_scale;  /* real seconds per recipe second; <= 0: the café's time_scale */
};

enum cafe_admit {
    CAFE_OK,
    CAFE_BUSY,       /* max_brews unfinished orders already */
    CAFE_QUEUE_FULL, /* thread mode: max_queue hands-on steps already wait for baristas */
    CAFE_CLOSED,     /* draining: no new orders */
};

/* Whether n more orders of this mode would be admitted now; placing does not
 * need it asked first. */
enum cafe_admit cafe_admit(const struct cafe *c, enum brew_mode mode, unsigned n);

/* Registers the one waiter of an unfinished order: fn(o, arg) runs once, on
 * the loop thread, when the order reaches ready/cancelled/failed. fn NULL
 * detaches (a client that went away). */
void order_wait(struct order *o, void (*fn)(struct order *o, void *arg), void *arg);

/* Cooperative cancellation of a live order (any store): drops the order's
 * timers and queued barista work; a hands-on step already in a barista's
 * hands finishes, its result ignored. */
enum cafe_cancel cafe_order_cancel(struct cafe *c, struct order *o);

/* --- the asynchronous API (any store; see cafe/store.h for when callbacks
 * run: the memory store before the call returns, Redis later) -------------- */

/* Places n orders of one mode under one admission, acknowledged once the
 * store has them: placed(orders, n, CAFE_OK, STORE_OK, arg) with the brews
 * started (register waiters with order_wait() there: nothing finishes inside
 * the callback), or placed(NULL, 0, verdict, r, arg) when refused (verdict
 * != CAFE_OK) or not stored (r: STORE_UNAVAILABLE -- answer 503 +
 * Retry-After; nothing was placed). specs are read before the call returns. */
typedef void (*cafe_placed_fn)(struct order *const *orders, unsigned n, enum cafe_admit verdict,
                               enum store_result r, void *arg);
void cafe_orders_submit(struct cafe *c, const struct order_spec *specs, unsigned n,
                        cafe_placed_fn placed, void *arg);
/* The order with this id as the store has it (read-your-writes: at least the
 * state of every answer given). */
void cafe_order_get(struct cafe *c, uint64_t id, store_order_fn done, void *arg);
/* This replica's own copy of order snap -- brewing, still being written, or
 * among its newest finished -- when it is in snap's status, else snap: a
 * store's record leaves out what only the brewing replica knows (time_scale,
 * where the time went). No round trip. */
struct order *cafe_order_own(struct cafe *c, struct order *snap);
/* Newest first: up to limit orders in status (< 0: any). */
void cafe_orders_list(struct cafe *c, int status, unsigned limit, store_orders_fn done, void *arg);
/* Cancels order id wherever it brews: here, or through its owner replica
 * (bounded wait). done(o, verdict, STORE_OK, arg) once the cancellation is
 * stored; o is the order after it (borrowed). r != STORE_OK: o may be NULL
 * (not found, unavailable, owner gone or silent) or the local order whose
 * cancellation the store has not confirmed yet (unavailable). */
typedef void (*cafe_cancelled_fn)(struct order *o, enum cafe_cancel verdict, enum store_result r,
                                  void *arg);
void cafe_order_cancel_async(struct cafe *c, uint64_t id, cafe_cancelled_fn done, void *arg);
/* done(NULL, r, arg) once everything recorded so far is stored (or could not
 * be: r says why) -- the drain waits for it before cafe_free(). */
void cafe_flush(struct cafe *c, store_order_fn done, void *arg);

/* Shutdown. Draining refuses new orders (CAFE_CLOSED); in-flight ones go on.
 * cafe_fail_all() ends every unfinished order as failed with reason,
 * answering waiters (the drain timeout). */
void cafe_drain(struct cafe *c);
bool cafe_draining(const struct cafe *c);
void cafe_fail_all(struct cafe *c, const char *reason);

/* Observer: the event stream publishes every transition. step is the step
 * index for CAFE_STEP_*, else -1. Called on the loop thread, synchronously,
 * after the order changed; it must not cancel or place orders. One observer
 * per café (NULL removes it). */
typedef void (*cafe_observer_fn)(const struct order *o, enum cafe_event ev, int step, void *arg);
void cafe_set_observer(struct cafe *c, cafe_observer_fn fn, void *arg);

/* A snapshot for /metrics and the stats stream. */
struct cafe_stats {
    unsigned in_flight[BREW_NMODES]; /* unfinished orders (queued + brewing) by mode */
    unsigned live[ORDER_NSTATUSES];  /* orders in memory by status */
    uint64_t finished[BREW_NMODES][ORDER_NSTATUSES]; /* since start: orders that ended so */
    uint64_t placed[BREW_NMODES];                    /* since start */
    uint64_t refused;         /* admission refusals (busy, queue full, closed) */
    uint64_t unstored;        /* orders refused because the store could not take them */
    unsigned barista_queue;   /* hands-on steps waiting for a barista */
    unsigned baristas_busy;   /* baristas with a step in hand */
    unsigned baristas;        /* pool size */
    uint64_t loop_blocked_ns; /* time sync/async hands-on work held the loop */
};
void cafe_stats(const struct cafe *c, struct cafe_stats *st);
/* Unfinished orders (queued + brewing) of every mode: what max_brews bounds. */
unsigned cafe_in_flight(const struct cafe *c);

#endif
