#ifndef CAFE_CAFE_INTERNAL_H
#define CAFE_CAFE_INTERNAL_H

/* Private parts shared by cafe/order.c (the order book) and cafe/brew.c (the
 * scheduler). Nothing outside cafe/ includes this. */

#include <sys/time.h>

#include "cafe/baristas.h"
#include "cafe/cafe.h"

#define CAFE_MAX_COMMON_TIMEOUTS 64 /* of libevent's 256 per base; the engine uses a few */

struct brew_queue {
    struct brew *head, *tail;
};

struct cafe {
    struct event_base *base;
    const struct menu *menu;
    struct cafe_config cfg;

    /* The order book: a ring indexed by id % cap. Ids are consecutive, so the
     * slot of id either holds that order or a newer one: O(1) lookup, and the
     * oldest order is evicted by the newest (memory stays bounded however
     * many millions of orders pass). */
    struct order **ring;
    unsigned cap;
    uint64_t last_id;

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

    bool draining;
    cafe_observer_fn observer;
    void *observer_arg;
    struct cafe_stats st; /* counters; barista fields are filled in on read */
};

/* order.c */
void book_init(struct cafe *c);
void book_free(struct cafe *c);
struct order *order_create(struct cafe *c, const struct order_spec *spec);
/* Moves the order to status (counting it) and tells the observer. */
void order_set_status(struct cafe *c, struct order *o, enum order_status status);
void cafe_notify(struct cafe *c, const struct order *o, enum cafe_event ev, int step);
int64_t order_offset_ms(const struct order *o, uint64_t now_ns);

#endif
