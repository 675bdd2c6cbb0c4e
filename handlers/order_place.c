/* POST /order, /{sync,async,thread}/order: one order, in the mode its route
 * names (the route table's arg). The order is acknowledged once the store
 * has it (cafe_orders_submit); the handler then waits on it through
 * order_wait() and registers an abort hook that only detaches: a client that
 * disconnects does not cancel its order (docs/contract.md). */
#include <stdlib.h>

#include "cafe/cafe.h"
#include "handlers/handlers.h"
#include "handlers/order_reply.h"
#include "handlers/store_call.h"
#include "server/response.h"

struct order_waiter {
    struct request *req;
    struct order *order;
};

static void reply_location(struct request *req, const struct order *o)
{
    response_header(req, "Location", "/orders/%llu", (unsigned long long)o->id);
}

/* The answer for a finished order: 201 ready, 504 timed out (the brew was
 * cancelled), 200 cancelled by DELETE (the body says so), 503 failed
 * (shutdown). */
static void reply_finished(struct request *req, struct order *o)
{
    reply_location(req, o);
    switch (o->status) {
    case ORDER_READY:
        response_send_json(req, 201, order_to_json(o));
        break;
    case ORDER_CANCELLED:
        if (o->timed_out)
            response_problem_ext(req, 504, NULL, json_pack("{s:o}", "order", order_to_json(o)),
                                 "not ready within timeout_ms; the brew was cancelled");
        else
            response_send_json(req, 200, order_to_json(o));
        break;
    default:
        response_problem_ext(req, 503, NULL, json_pack("{s:o}", "order", order_to_json(o)),
                             "the order could not be finished: %s", o->reason ? o->reason : "");
        break;
    }
}

static void on_order_done(struct order *o, void *arg)
{
    struct order_waiter *w = arg; /* lives in the request's arena */
    request_on_abort(w->req, NULL, NULL);
    reply_finished(w->req, o);
}

static void on_order_abort(struct request *req, void *arg)
{
    struct order_waiter *w = arg;
    order_wait(w->order, NULL, NULL); /* the brew goes on without us */
}

/* Between the request and the store's acknowledgement. */
struct placing {
    struct store_call call;
    bool wait; /* false: 202 at once (?wait=0) */
};

static void on_placed(struct order *const *orders, unsigned n, enum cafe_admit verdict,
                      enum store_result r, void *arg)
{
    struct placing *p = arg;
    struct request *req = store_call_placed(&p->call, verdict, r);
    bool wait = p->wait;
    free(p);
    if (!req)
        return; /* answered, or the client left (a placed order brews on) */
    struct order *o = orders[0];
    if (!wait) {
        reply_location(req, o);
        response_send_json(req, 202, order_to_json(o));
        return;
    }
    /* Nothing finishes inside the placed callback, so the waiter is in place
     * before the order can end. */
    struct order_waiter *w = arena_alloc(&req->arena, sizeof(*w));
    w->req = req;
    w->order = o;
    order_wait(o, on_order_done, w);
    request_on_abort(req, on_order_abort, w);
}

enum handler_status handle_order_place(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    enum brew_mode mode = (enum brew_mode)req->route->arg; /* ROUTE_ORDER's */
    struct order_input in;
    struct order_spec spec;
    struct input_error e = {0};
    req->log_label = brew_mode_name(mode);
    req->tag = ORDER_TAG(mode);
    order_input_of(req, &in);
    if (order_input_one(&in, ctx->menu, mode, &spec, &e) < 0) {
        reply_input_error(req, &e);
        return HANDLER_DONE;
    }

    struct placing *p = store_call_new(req, sizeof(*p));
    p->wait = order_input_wait(&in);
    cafe_orders_submit(ctx->cafe, &spec, 1, on_placed, p); /* the memory store answers in here */
    return HANDLER_PENDING;
}
