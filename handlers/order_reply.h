#ifndef CAFE_ORDER_REPLY_H
#define CAFE_ORDER_REPLY_H

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

#endif
