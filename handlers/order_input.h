#ifndef CAFE_ORDER_INPUT_H
#define CAFE_ORDER_INPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
#include "cafe/cafe.h"

/* Order input decoding: what a client asked for -- a JSON or form body and
 * the query string -- into struct order_spec values checked against the menu
 * (docs/contract.md, "Placing an order"). Pure: no I/O, no responses, no
 * event loop; an input problem comes back as a value (struct input_error)
 * that the caller answers with. Everything it returns lives in in->arena. */

#define ORDER_INPUT_CUSTOMER_MAX   100        /* bytes of UTF-8 */
#define ORDER_TIMEOUT_MAX_MS       86400000LL /* a day */
#define ORDER_INPUT_TIME_SCALE_MIN 0.001      /* ?time_scale= bounds (docs/experiments.md) */
#define ORDER_INPUT_TIME_SCALE_MAX 1.0

/* What the decoder reads: borrowed, and left untouched. */
struct order_input {
    const char *body; /* may hold NULs; body_len counts them */
    size_t body_len;
    const char *content_type; /* the Content-Type header, or NULL */
    const char *accept;       /* the Accept header, or NULL */
    const char *query;        /* the raw query string after '?', "" for none */
    struct arena *arena;      /* decoded values and specs are allocated here */
};

/* An input problem: status 400 (malformed) or 422 (well-formed, wrong), a
 * sentence for the problem's "detail", and members to merge into it. */
struct input_error {
    int status;
    char detail[512];
    json_t *extra; /* owned by the error; NULL for none */
};

/* Drops e->extra (when the caller does not hand it on) and empties e. */
void input_error_clear(struct input_error *e);

/* One order (POST /order): fields from a JSON body (read as JSON whatever its
 * Content-Type when it starts like a JSON text), else a form body, then the
 * query string; ?timeout_ms= and ?time_scale= too. Returns 0 with *spec filled (its mode is
 * mode), or -1 with *e filled. */
int order_input_one(const struct order_input *in, const struct menu *m, enum brew_mode mode,
                    struct order_spec *spec, struct input_error *e);

/* A batch (POST /orders): {"orders":[...], "mode":"async"} (the mode may also
 * be ?mode=), 1 to max_batch orders, and ?timeout_ms= and ?time_scale= for each. Returns *n
 * specs of one mode, or NULL with *e filled; an invalid order rejects the
 * whole batch and e->extra names its "index". */
struct order_spec *order_input_batch(const struct order_input *in, const struct menu *m,
                                     unsigned max_batch, unsigned *n, struct input_error *e);

/* Query parameter name as a whole decimal number in [0, max]; *out = def when
 * absent. Returns 0, or -1 with a 422 in *e. */
int order_input_query_uint(const struct order_input *in, const char *name, long long def,
                           long long max, long long *out, struct input_error *e);

/* ?status= as an order status: 0 with *status (-1 when absent or empty), or -1
 * with a 422 in *e listing the statuses. */
int order_input_query_status(const struct order_input *in, int *status, struct input_error *e);

/* false for ?wait=0 (or false/no): answer 202 at once instead of waiting. */
bool order_input_wait(const struct order_input *in);

/* A batch streamed as NDJSON (Accept: application/x-ndjson, or ?stream=1). */
bool order_input_wants_ndjson(const struct order_input *in);

#endif
