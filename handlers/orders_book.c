/* The order book: GET /orders (newest first, bounded), GET /orders/ID and
 * DELETE /orders/ID (cooperative cancellation; docs/contract.md). */
#include <stdlib.h>
#include <string.h>

#include "cafe/cafe.h"
#include "handlers/handlers.h"
#include "handlers/order_reply.h"
#include "server/response.h"

#define LIST_DEFAULT 50
#define LIST_MAX     1000

static void list_append(struct order *o, void *arg)
{
    order_list_add(arg, o);
}

enum handler_status handle_orders_list(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    struct order_input in;
    struct input_error e = {0};
    int status;
    long long limit;
    order_input_of(req, &in);
    if (order_input_query_status(&in, &status, &e) < 0 ||
        order_input_query_uint(&in, "limit", LIST_DEFAULT, 1000000000LL, &limit, &e) < 0) {
        reply_input_error(req, &e);
        return HANDLER_DONE;
    }
    struct order_list l;
    order_list_init(&l);
    cafe_orders_each(ctx->cafe, status, limit > LIST_MAX ? LIST_MAX : (unsigned)limit, list_append,
                     &l);
    reply_order_list(req, 200, &l);
    return HANDLER_DONE;
}

/* The order named by the path's last segment, or NULL after a 404. */
static struct order *order_lookup(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    const char *p = req->route_param ? req->route_param : "";
    size_t n = strspn(p, "0123456789");
    struct order *o = NULL;
    if (n && n == strlen(p) && n <= 19)
        o = cafe_order_find(ctx->cafe, strtoull(p, NULL, 10));
    if (!o)
        response_problem(req, 404, NULL,
                         "no order %.32s here (the book keeps the most recent %u orders)", p,
                         ctx->max_orders);
    return o;
}

enum handler_status handle_order_get(struct request *req)
{
    struct order *o = order_lookup(req);
    if (o)
        reply_order(req, 200, o);
    return HANDLER_DONE;
}

enum handler_status handle_order_cancel(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    struct order *o = order_lookup(req);
    if (!o)
        return HANDLER_DONE;
    /* Keep the order alive: cancelling answers (and may drop) its waiter. */
    order_ref(o);
    if (cafe_order_cancel(ctx->cafe, o) == CANCEL_FINISHED)
        response_problem_ext(req, 409, NULL, json_pack("{s:o}", "order", order_to_json(o)),
                             "order %llu is already %s; nothing to cancel",
                             (unsigned long long)o->id, order_status_name(o->status));
    else
        reply_order(req, 200, o);
    order_unref(o);
    return HANDLER_DONE;
}
