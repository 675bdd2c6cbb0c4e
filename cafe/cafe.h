#ifndef CAFE_CAFE_H
#define CAFE_CAFE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cafe/menu.h"

/* The café: order book, brew scheduler and barista pool. Knows nothing about
 * HTTP; the handlers turn its values into responses. Everything here is
 * loop-thread only except where a comment says otherwise. Brews hold an order,
 * never a connection: a client that leaves just detaches its waiter and the
 * brew goes on (the order is business state). */

struct event_base;
struct cafe;
struct brew; /* private to cafe/brew.c */

enum brew_mode {
    MODE_SYNC,   /* every step blocks the loop thread, one after another */
    MODE_ASYNC,  /* waiting steps are timers; hands-on steps block the loop */
    MODE_THREAD, /* waiting steps are timers; hands-on steps go to baristas */
};
#define BREW_NMODES 3

enum order_status {
    ORDER_QUEUED,    /* accepted, no step started yet (waiting for the loop / a barista) */
    ORDER_BREWING,   /* at least one step started */
    ORDER_READY,     /* every step done */
    ORDER_CANCELLED, /* DELETE or timeout_ms; see order.reason */
    ORDER_FAILED,    /* could not be finished (shutdown); see order.reason */
};
#define ORDER_NSTATUSES 5

/* pending: waits for its `after` steps; queued: waits for a free barista
 * (thread mode); dropped: cancelled before it finished. */
enum step_status { STEP_PENDING, STEP_QUEUED, STEP_RUNNING, STEP_DONE, STEP_DROPPED };

struct order_step {
    enum step_status status;
    int64_t start_ms; /* offsets from the order's acceptance; -1 until known */
    int64_t end_ms;
};

/* One order. Owned by the café (reference-counted between the order book and
 * its brew, so an order evicted from the book while brewing stays valid until
 * the brew ends). Handlers read it; only cafe/ writes it. */
struct order {
    uint64_t id; /* 1, 2, 3, ... */
    const struct item *item;
    const char *flavour; /* the menu's spelling, or NULL */
    char *customer;      /* NULL when not given */
    enum brew_mode mode;
    double time_scale; /* real seconds per recipe second, for this order's steps */
    enum order_status status;
    bool timed_out;                                /* cancelled because timeout_ms passed */
    const char *reason;                            /* static text for cancelled/failed, else NULL */
    uint64_t accepted_ns, started_ns, finished_ns; /* CLOCK_MONOTONIC; 0 = not yet */
    int64_t accepted_unix_ms;                      /* wall clock, for display */

    /* Private to cafe/. */
    struct cafe *cafe;
    unsigned refs;
    struct brew *brew; /* NULL once finished */
    void (*waiter)(struct order *o, void *arg);
    void *waiter_arg;
    struct order_step steps[]; /* item->nsteps */
};

/* Domain settings (filled from app/options.h by app/wire_cafe.c). */
struct cafe_config {
    double time_scale;   /* real seconds per recipe second */
    unsigned baristas;   /* worker threads for thread mode's hands-on steps */
    unsigned max_orders; /* the order book keeps the most recent N */
    unsigned max_brews;  /* unfinished orders (queued + brewing); above -> CAFE_BUSY */
    unsigned max_queue;  /* barista queue depth; above -> CAFE_QUEUE_FULL (thread mode) */
};

/* Creates the café on base (the loop that runs brews) with its barista
 * threads. The menu must outlive it. NULL (after a message on stderr) if the
 * threads cannot start. */
struct cafe *cafe_new(struct event_base *base, const struct menu *menu,
                      const struct cafe_config *cfg);
/* Fails every unfinished order (answering its waiter), joins the baristas and
 * frees everything. */
void cafe_free(struct cafe *c);
const struct menu *cafe_menu(const struct cafe *c);

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
/* Accepts an order: it enters the book as queued (observer: CAFE_ORDER_QUEUED).
 * Async and thread brews start their timers and barista work at once (then
 * they are brewing); whatever blocks the loop -- every sync step, async
 * hands-on steps -- waits for the next loop turn. Nothing finishes inside this
 * call, so the caller can order_wait() right after. Returns the admission
 * verdict; *out is the order (borrowed from the book) only on CAFE_OK. */
enum cafe_admit cafe_order_place(struct cafe *c, const struct order_spec *spec, struct order **out);
/* The same for a batch of n orders of one mode, under one admission: all are
 * placed, in order (out[0..n)), or none (a batch is never half-placed). */
enum cafe_admit cafe_orders_place(struct cafe *c, const struct order_spec *specs, unsigned n,
                                  struct order **out);

/* Registers the one waiter of an unfinished order: fn(o, arg) runs once, on
 * the loop thread, when the order reaches ready/cancelled/failed. fn NULL
 * detaches (a client that went away). */
void order_wait(struct order *o, void (*fn)(struct order *o, void *arg), void *arg);

/* Keeps an order alive past its brew and its eviction from the book (a batch
 * holds its orders until it answers). */
void order_ref(struct order *o);
void order_unref(struct order *o);

/* The order with this id, or NULL if unknown or evicted from the book. */
struct order *cafe_order_find(struct cafe *c, uint64_t id);

enum cafe_cancel {
    CANCEL_DONE,     /* was queued/brewing, now cancelled; its waiter was answered */
    CANCEL_ALREADY,  /* was cancelled before */
    CANCEL_FINISHED, /* ready or failed: nothing to cancel */
};
/* Cooperative cancellation: drops the order's timers and queued barista work;
 * a hands-on step already in a barista's hands finishes, its result ignored. */
enum cafe_cancel cafe_order_cancel(struct cafe *c, struct order *o);

/* Newest first: up to limit orders, only those in status (< 0: any). Calls
 * fn for each; returns how many. */
unsigned cafe_orders_each(struct cafe *c, int status, unsigned limit,
                          void (*fn)(struct order *o, void *arg), void *arg);

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
enum cafe_event {
    CAFE_ORDER_QUEUED,
    CAFE_ORDER_BREWING,
    CAFE_STEP_STARTED,
    CAFE_STEP_DONE,
    CAFE_ORDER_READY,
    CAFE_ORDER_CANCELLED,
    CAFE_ORDER_FAILED,
};
typedef void (*cafe_observer_fn)(const struct order *o, enum cafe_event ev, int step, void *arg);
void cafe_set_observer(struct cafe *c, cafe_observer_fn fn, void *arg);
const char *cafe_event_name(enum cafe_event ev); /* "order_queued", "step_started", ... */

/* A snapshot for /metrics and the stats stream. */
struct cafe_stats {
    unsigned in_flight[BREW_NMODES]; /* unfinished orders (queued + brewing) by mode */
    unsigned live[ORDER_NSTATUSES];  /* orders in memory by status */
    uint64_t finished[BREW_NMODES][ORDER_NSTATUSES]; /* since start: orders that ended so */
    uint64_t placed[BREW_NMODES];                    /* since start */
    uint64_t refused;         /* admission refusals (busy, queue full, closed) */
    unsigned barista_queue;   /* hands-on steps waiting for a barista */
    unsigned baristas_busy;   /* baristas with a step in hand */
    unsigned baristas;        /* pool size */
    uint64_t loop_blocked_ns; /* time sync/async hands-on work held the loop */
};
void cafe_stats(const struct cafe *c, struct cafe_stats *st);

/* Names used on the wire: "sync"/"async"/"thread", "queued"/"brewing"/... */
const char *brew_mode_name(enum brew_mode m);
int brew_mode_parse(const char *s); /* case-insensitive; -1 if unknown */
const char *order_status_name(enum order_status s);
int order_status_parse(const char *s); /* -1 if unknown */

/* The order as the API shows it -- a new reference:
 * {"id","item","flavour"(or null),"customer"(or null),"mode","status",
 *  "reason"(cancelled/failed only), "time_scale" (real s per recipe s),
 *  "times":{"accepted","started","ready"} (unix ms, null until then),
 *  "elapsed_ms" (acceptance to finish, or to now),
 *  "steps":[{"name","kind","seconds","after":[names],"status","start_ms","end_ms"}],
 *  "message":"Your vanilla latte is ready, enjoy!"} */
json_t *order_to_json(const struct order *o);
/* The friendly sentence alone, into buf. */
const char *order_message(const struct order *o, char *buf, size_t len);

#endif
