#ifndef CAFE_STORE_CALL_H
#define CAFE_STORE_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "cafe/cafe.h"
#include "cafe/store.h"
#include "handlers/handlers.h"

/* A request waiting for the café's store (cafe/store.h: the memory store
 * answers before the call returns, Redis on a later turn). The store's
 * callback holds this small record, never the request: a client that leaves
 * first only clears req (the abort hook), and the callback then drops the
 * answer. */
struct store_call {
    struct request *req; /* NULL once the client left */
};

/* A zeroed record of size bytes (a struct starting with a struct store_call)
 * for req, with the abort hook that detaches it registered. */
void *store_call_new(struct request *req, size_t size);
/* In the callback: the request to answer, its abort hook removed, or NULL if
 * the client left. Either way the record is the callback's to free. */
struct request *store_call_take(struct store_call *call);

/* In a cafe_placed_fn: the request to answer with the placed orders, or
 * NULL when the client left or the refusal (verdict, r) was answered. */
struct request *store_call_placed(struct store_call *call, enum cafe_admit verdict,
                                  enum store_result r);

/* Answers a store result other than STORE_OK for order id (0: none named):
 * unavailable 503 + Retry-After, not found 404, a bad record 500, the owner
 * replica gone 503 or silent 504, a conflicting final state 409. */
void reply_store_error(struct request *req, enum store_result r, uint64_t id);

#endif
