/* The order book: GET /orders (newest first, bounded), GET /orders/ID and
 * DELETE /orders/ID (cooperative cancellation, wherever the order brews;
 * docs/contract.md), all read from the café's store. */
#include <stdlib.h>
#include <string.h>

#include "cafe/cafe.h"
#include "handlers/handlers.h"
#include "handlers/order_reply.h"
#include "handlers/store_call.h"
#include "server/response.h"

#define LIST_DEFAULT 50
#define LIST_MAX     1000

static void on_listed(struct order *const *orders, unsigned n, enum store_result r, void *arg)
{
    struct request *req = store_call_take(arg);
    free(arg);
    if (!req)
        return;
    if (r != STORE_OK) {
        reply_store_error(req, r, 0);
        return;
    }
    json_t *a = json_array();
    for (unsigned i = 0; i < n; i++)
        json_array_append_new(a, order_to_json(orders[i]));
    response_send_json(req, 200, json_pack("{s:o}", "orders", a));
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
    struct store_call *call = store_call_new(req, sizeof(*call));
    cafe_orders_list(ctx->cafe, status, limit > LIST_MAX ? LIST_MAX : (unsigned)limit, on_listed,
                     call);
    return HANDLER_PENDING;
}

/* A read or a cancel of one order on its way. */
struct order_call {
    struct store_call call;
    uint64_t id;
};

/* The order id of the path's last segment, or 0 after a 404. */
static uint64_t order_id(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    const char *p = req->route_param ? req->route_param : "";
    size_t n = strspn(p, "0123456789");
    uint64_t id = n && n == strlen(p) && n <= 19 ? strtoull(p, NULL, 10) : 0;
    if (!id)
        response_problem(req, 404, NULL,
                         "no order %.32s here (the book keeps the most recent %u orders)", p,
                         ctx->max_orders);
    return id;
}

static struct order_call *order_call_new(struct request *req, uint64_t id)
{
    struct order_call *t = store_call_new(req, sizeof(*t));
    t->id = id;
    return t;
}

/* The store answered t: the request to answer with the order (t freed), or
 * NULL when the client left or r was answered as an error. */
static struct request *order_call_end(struct order_call *t, enum store_result r)
{
    struct request *req = store_call_take(&t->call);
    if (req && r != STORE_OK) {
        reply_store_error(req, r, t->id);
        req = NULL;
    }
    free(t);
    return req;
}

static void on_got(struct order *o, enum store_result r, void *arg)
{
    struct request *req = order_call_end(arg, r);
    if (req)
        response_send_json(req, 200, order_to_json(o));
}

enum handler_status handle_order_get(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    uint64_t id = order_id(req);
    if (!id)
        return HANDLER_DONE;
    cafe_order_get(ctx->cafe, id, on_got, order_call_new(req, id));
    return HANDLER_PENDING;
}

static void on_cancelled(struct order *o, enum cafe_cancel verdict, enum store_result r, void *arg)
{
    struct request *req = order_call_end(arg, r);
    if (!req)
        return;
    if (verdict == CANCEL_FINISHED)
        response_problem_ext(req, 409, NULL, json_pack("{s:o}", "order", order_to_json(o)),
                             "order %llu is already %s; nothing to cancel",
                             (unsigned long long)o->id, order_status_name(o->status));
    else
        response_send_json(req, 200, order_to_json(o));
}

enum handler_status handle_order_cancel(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    uint64_t id = order_id(req);
    if (!id)
        return HANDLER_DONE;
    cafe_order_cancel_async(ctx->cafe, id, on_cancelled, order_call_new(req, id));
    return HANDLER_PENDING;
}
