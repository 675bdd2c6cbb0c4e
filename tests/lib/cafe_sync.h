#ifndef CAFE_TESTS_CAFE_SYNC_H
#define CAFE_TESTS_CAFE_SYNC_H

/* The café's synchronous face, for unit tests on the memory store (which
 * completes every operation before the call returns: cafe/store.h): place,
 * find and list through the asynchronous API and the memory book, answered
 * in the call. The server itself only has the asynchronous API. */

#include <stdbool.h>

#include "cafe/cafe.h"

struct cafe_sync_placed {
    bool done;
    enum cafe_admit verdict;
    struct order **out;
};

static inline void cafe_sync_on_placed(struct order *const *orders, unsigned n,
                                       enum cafe_admit verdict, enum store_result r, void *arg)
{
    struct cafe_sync_placed *p = arg;
    p->done = true;
    p->verdict = r == STORE_OK ? verdict : CAFE_CLOSED;
    for (unsigned i = 0; i < n; i++)
        p->out[i] = orders[i]; /* the book holds them */
}

/* All n placed (out[0..n), borrowed from the book), or none, with the verdict. */
static inline enum cafe_admit cafe_orders_place(struct cafe *c, const struct order_spec *specs,
                                                unsigned n, struct order **out)
{
    struct cafe_sync_placed p = {.out = out};
    cafe_orders_submit(c, specs, n, cafe_sync_on_placed, &p);
    return p.done ? p.verdict : CAFE_CLOSED;
}

static inline enum cafe_admit cafe_order_place(struct cafe *c, const struct order_spec *spec,
                                               struct order **out)
{
    return cafe_orders_place(c, spec, 1, out);
}

/* The order with this id in the book, or NULL. */
static inline struct order *cafe_order_find(struct cafe *c, uint64_t id)
{
    return store_memory_find(cafe_store(c), id);
}

/* Newest first: fn for up to limit orders in status (< 0: any); how many. */
static inline unsigned cafe_orders_each(struct cafe *c, int status, unsigned limit,
                                        void (*fn)(struct order *o, void *arg), void *arg)
{
    return store_memory_each(cafe_store(c), status, limit, fn, arg);
}

#endif
