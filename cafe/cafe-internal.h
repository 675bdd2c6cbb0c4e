#ifndef CAFE_CAFE_INTERNAL_H
#define CAFE_CAFE_INTERNAL_H

/* Private parts shared by cafe/cafe.c (the café's face), cafe/brew.c (the
 * scheduler) and cafe/order.c (the order value). Nothing outside cafe/
 * includes this. */

#include <sys/time.h>

#include "cafe/baristas.h"
#include "cafe/cafe.h"

#define CAFE_MAX_COMMON_TIMEOUTS 64   /* of libevent's 256 per base; the engine uses a few */
#define CAFE_MEMORY_STREAM       1024 /* transitions the memory store keeps for /events */
#define CAFE_RECENT              1024 /* finished orders of this replica kept whole (shared store) */

struct brew_queue {
    struct brew *head, *tail;
};

struct cafe {
    struct event_base *base;
    const struct menu *menu;
    struct cafe_config cfg;
    struct order_store *store;
    unsigned creating; /* admitted orders the store has not confirmed yet */
    bool submitting;   /* inside order_store_create(): a store answering in there (memory) */

    /* Scheduling. kick is a zero-timeout timer: it fires on the next loop
     * turn, after pending I/O, and starts what the queues hold. */
    struct event *kick;
    struct brew_queue starting; /* async/thread brews, in acceptance order */
    struct brew_queue sync;     /* sync brews waiting for the loop */
    struct brew *brews;         /* every unfinished brew (for cafe_fail_all) */
    struct baristas *baristas;

    /* libevent's O(1) common-timeout queues, one per distinct step duration. */
    struct {
        uint64_t us;
        const struct timeval *tv;
    } common[CAFE_MAX_COMMON_TIMEOUTS];
    unsigned ncommon;

    /* This replica's newest finished orders, by id modulo CAFE_RECENT (a
     * reference each; a shared store only): read here they show what a
     * store's snapshot leaves out (time_scale, due_ms, lateness). */
    struct order *recent[CAFE_RECENT];

    bool draining;
    bool answer_now; /* failing every order: waiters answered before the store confirms */
    cafe_observer_fn observer;
    void *observer_arg;
    struct cafe_stats st; /* counters; barista fields are filled in on read */
};

/* cafe.c */
/* Moves the order to status (counting it), tells the observer and the store. */
void order_set_status(struct cafe *c, struct order *o, enum order_status status);
/* A transition: the observer hears of it, the store records it. */
void cafe_transition(struct cafe *c, struct order *o, enum cafe_event ev, int step);
/* The order reached its final status: its waiter is answered once the store
 * has that status (read-your-writes), or could not take it. */
void cafe_order_finished(struct cafe *c, struct order *o);

/* brew.c */
void brews_init(struct cafe *c);
void brews_free(struct cafe *c);
/* Starts the brew of a stored order (timeout_ms < 0: none). */
void brew_start(struct cafe *c, struct order *o, int64_t timeout_ms);
/* Ends an unfinished order's brew as cancelled or failed. */
void brew_stop(struct order *o, enum order_status status, const char *reason);
void brews_fail_all(struct cafe *c, const char *reason);

/* order.c */
int64_t order_offset_ms(const struct order *o, uint64_t now_ns);
int64_t unix_ms_now(void);
/* What an order's JSON shows, shared by its two writers (the tree and the
 * text, cafe/order_json.c): acceptance to finish, or to now; the name of
 * what a step waited for (NULL: nothing); the sentence of its latest step
 * late by more than a few ms into text, returning that step (-1: none). */
int64_t order_elapsed_ms(const struct order *o);
const char *late_cause_name(enum late_cause c);
int order_late_sentence(const struct order *o, char *text, size_t size);

#endif
