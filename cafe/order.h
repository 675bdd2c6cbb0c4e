#ifndef CAFE_ORDER_H
#define CAFE_ORDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cafe/lateness.h"
#include "cafe/menu.h"

/* The order as a value: what the café brews and what a store keeps. Knows
 * nothing about HTTP, brews or stores (cafe/cafe.h is the café, cafe/store.h
 * the store boundary). */

struct cafe;
struct brew; /* private to cafe/brew.c */
struct json_writer;

enum brew_mode {
    MODE_SYNC,   /* every step blocks the loop thread, one after another */
    MODE_ASYNC,  /* waiting steps are timers; hands-on steps block the loop */
    MODE_THREAD, /* waiting steps are timers; hands-on steps go to baristas */
};
#define BREW_NMODES 3
/* The loop timeline's tag of a mode's work (base/loop_timeline.h): its
 * colour on the dashboard. 0 is "none". */
#define BREW_TAG(mode) ((uint8_t)((mode) + 1))

enum order_status {
    ORDER_QUEUED,    /* accepted, no step started yet (waiting for the loop / a barista) */
    ORDER_BREWING,   /* at least one step started */
    ORDER_READY,     /* every step done */
    ORDER_CANCELLED, /* DELETE or timeout_ms; see order.reason */
    ORDER_FAILED,    /* could not be finished (shutdown, replica lost); see order.reason */
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

/* Every transition an order goes through, in the order it can happen. */
enum cafe_event {
    CAFE_ORDER_QUEUED,
    CAFE_ORDER_BREWING,
    CAFE_STEP_STARTED,
    CAFE_STEP_DONE,
    CAFE_ORDER_READY,
    CAFE_ORDER_CANCELLED,
    CAFE_ORDER_FAILED,
};
#define CAFE_NEVENTS 7

/* What asking to cancel an order came to. */
enum cafe_cancel {
    CANCEL_DONE,     /* was queued/brewing, now cancelled; its waiter was answered */
    CANCEL_ALREADY,  /* was cancelled before */
    CANCEL_FINISHED, /* ready or failed: nothing to cancel */
};

#define ORDER_REPLICA_MAX  64  /* bytes of a replica id, NUL included */
#define ORDER_CUSTOMER_MAX 255 /* bytes a store accepts back (handlers allow fewer) */
#define ORDER_REASON_MAX   127

/* One order. Reference-counted: the café's book or store, its brew and any
 * reader hold references, so an order evicted while brewing stays valid until
 * the brew ends. Two kinds exist: a live order, brewed on this replica
 * (accepted_ns != 0, cafe set), and a snapshot read back from a store
 * (accepted_ns == 0, cafe NULL), which nobody brews. Handlers read both; only
 * cafe/ writes them. */
struct order {
    uint64_t id; /* 1, 2, 3, ... (global with a shared store); 0 until stored */
    const struct item *item;
    char *customer; /* NULL when not given */
    enum order_status status;
    /* Private to cafe/, and with the fields above all that order_unref()
     * reads: one cache line, for the book evicts a cold order per new one
     * (cafe/store_memory.c). */
    unsigned refs;
    struct cafe *cafe; /* NULL for a snapshot */
    char *reason_buf;  /* a snapshot's reason, owned (reason points here) */

    const char *flavour; /* the menu's spelling, or NULL */
    enum brew_mode mode;
    double time_scale;  /* real seconds per recipe second of its steps; 0 in a snapshot */
    bool timed_out;     /* cancelled because timeout_ms passed */
    const char *reason; /* text for cancelled/failed, else NULL */
    uint64_t accepted_ns, started_ns, finished_ns; /* CLOCK_MONOTONIC; 0 = not yet / snapshot */
    int64_t accepted_unix_ms;                      /* wall clock, for display */
    int64_t started_ms, finished_ms;               /* offsets from acceptance; -1 until then */
    char replica[ORDER_REPLICA_MAX];               /* who took it and brews it */

    /* Private to cafe/. */
    struct brew *brew; /* NULL once finished */
    void (*waiter)(struct order *o, void *arg);
    void *waiter_arg;
    void *store_state; /* the store's bookkeeping while it tracks the order */
    /* Where each step's time went (cafe/lateness.h), item->nsteps of them
     * allocated with the order (after steps[]); zero, unknown, in a store's
     * snapshot. */
    struct step_lateness *late;
    struct order_step steps[]; /* item->nsteps */
};

/* A new order of item, queued, not stored yet (id 0), with one reference.
 * Fields the caller knows (flavour, customer, mode, times) are set after. */
struct order *order_alloc(const struct item *item);
/* Keeps an order alive past its brew and its eviction from the book (a batch
 * holds its orders until it answers). */
void order_ref(struct order *o);
void order_unref(struct order *o);

/* Whether the order reached ready, cancelled or failed. */
static inline bool order_status_final(enum order_status s)
{
    return s >= ORDER_READY;
}
static inline bool order_is_snapshot(const struct order *o)
{
    return o->accepted_ns == 0;
}

/* Names used on the wire: "sync"/"async"/"thread", "queued"/"brewing"/... */
const char *brew_mode_name(enum brew_mode m);
int brew_mode_parse(const char *s); /* case-insensitive; -1 if unknown */
const char *order_status_name(enum order_status s);
int order_status_parse(const char *s);           /* -1 if unknown */
const char *cafe_event_name(enum cafe_event ev); /* "order_queued", "step_started", ... */
int cafe_event_parse(const char *s);             /* exact; -1 if unknown */
const char *step_status_name(enum step_status s);

/* The order as the API shows it:
 * {"id","item","flavour"(or null),"customer"(or null),"mode","status",
 *  "replica","reason"(cancelled/failed only), "time_scale" (real s per recipe s;
 *  not in a store snapshot),
 *  "times":{"accepted","started","ready"} (unix ms, null until then),
 *  "elapsed_ms" (acceptance to finish, or to now),
 *  "steps":[{"name","kind","seconds","after":[names],"status","start_ms","end_ms",
 *            "due_ms","late_ms","waited_for","held_by"}],
 *  "queued_ms":{"loop","barista"}, "late" (the latest step's sentence, or null),
 *  "message":"Your vanilla latte is ready, enjoy!"}
 * (docs/timeline.md: where each order's time went), written as compact
 * JSON text into w (cafe/order_json.c). False when the item, replica or
 * message is not valid UTF-8 (jansson would refuse the object: answer 500);
 * a customer that is not is null, a reason or lateness text left out. */
bool order_json_write(struct json_writer *w, const struct order *o);
/* The same object as a jansson tree, for the event stream (a new reference;
 * NULL where the above is false). */
json_t *order_to_json(const struct order *o);
/* The friendly sentence alone, into buf. */
const char *order_message(const struct order *o, char *buf, size_t len);

#endif
