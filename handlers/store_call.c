#include "handlers/store_call.h"

#include <stdlib.h>

#include "base/log.h"
#include "base/xmalloc.h"
#include "handlers/order_reply.h"
#include "server/response.h"

static void on_client_gone(struct request *req, void *arg)
{
    struct store_call *call = arg;
    call->req = NULL; /* the store's answer finds nobody; the callback frees */
}

void *store_call_new(struct request *req, size_t size)
{
    struct store_call *call = xcalloc(1, size);
    call->req = req;
    request_on_abort(req, on_client_gone, call);
    return call;
}

struct request *store_call_take(struct store_call *call)
{
    struct request *req = call->req;
    if (req)
        request_on_abort(req, NULL, NULL);
    call->req = NULL;
    return req;
}

struct request *store_call_placed(struct store_call *call, enum cafe_admit verdict,
                                  enum store_result r)
{
    struct request *req = store_call_take(call);
    if (req && verdict != CAFE_OK)
        reply_refused(req, req->app, verdict);
    else if (req && r != STORE_OK)
        reply_store_error(req, r, 0);
    else
        return req;
    return NULL;
}

void reply_store_error(struct request *req, enum store_result r, uint64_t id)
{
    const struct handler_ctx *ctx = req->app;
    unsigned long long n = (unsigned long long)id;
    switch (r) {
    case STORE_UNAVAILABLE: /* 503: Retry-After comes with it */
        response_problem(req, 503, NULL, "the order store is unavailable; try again");
        break;
    case STORE_NOT_FOUND:
        response_problem(req, 404, NULL,
                         "no order %llu here (the book keeps the most recent %u orders)", n,
                         ctx->max_orders);
        break;
    case STORE_BAD_RECORD:
        log_warn("%s %s: order %llu: %s", req->method_name, req->path, n, store_result_text(r));
        response_problem(req, 500, NULL,
                         "order %llu is unreadable in the order store (a bad record); it was "
                         "logged",
                         n);
        break;
    case STORE_OWNER_GONE:
        response_problem(req, 503, NULL,
                         "the replica brewing order %llu is not listening (gone or restarting); "
                         "if it is gone the order will be failed (replica lost)",
                         n);
        break;
    case STORE_OWNER_TIMEOUT:
        response_problem(req, 504, NULL,
                         "the replica brewing order %llu did not answer the cancel in time; it "
                         "may still cancel it",
                         n);
        break;
    case STORE_CONFLICT:
        response_problem(req, 409, NULL, "the order store holds another final state for order %llu",
                         n);
        break;
    default:
        log_error("%s %s: unexpected store result: %s", req->method_name, req->path,
                  store_result_text(r));
        response_problem(req, 500, NULL, "the order store answered: %s", store_result_text(r));
        break;
    }
}
