#ifndef CAFE_ORDER_REPLY_H
#define CAFE_ORDER_REPLY_H

#include "base/json_writer.h"
#include "cafe/cafe.h"
#include "handlers/handlers.h"
#include "handlers/order_input.h"

/* What the order handlers share: the decoder's view of a request and the
 * answers to its two kinds of "no" (the input, the café's admission). */

/* The decoder input for req: its body, Content-Type, Accept and query, with
 * decoded values in req's arena. */
void order_input_of(struct request *req, struct order_input *in);

/* Answers an input problem (problem+json, e's status); takes e->extra. */
void reply_input_error(struct request *req, struct input_error *e);

/* Answers an admission refusal: 503 with Retry-After, naming the limit hit. */
void reply_refused(struct request *req, const struct handler_ctx *ctx, enum cafe_admit why);

/* The order as the body (application/json): written straight into the
 * answer, no jansson tree (cafe/order.h has the shape). */
void reply_order(struct request *req, int status, const struct order *o);
/* "Location: /orders/ID", for the answers that created o. */
void reply_location(struct request *req, const struct order *o);

/* {"orders":[...]}, one order at a time, then sent. Lives where it is
 * initialised (the writer starts in its storage). */
struct order_list {
    struct json_writer w;
    unsigned n;
    bool ok;
    char storage[8192];
};
void order_list_init(struct order_list *l);
void order_list_add(struct order_list *l, const struct order *o);
/* Sends the list (500 if an order could not be written) and frees it. */
void reply_order_list(struct request *req, int status, struct order_list *l);

#endif
