#include "handlers/order_reply.h"

#include "server/response.h"

void order_input_of(struct request *req, struct order_input *in)
{
    *in = (struct order_input){
        .body = req->body ? req->body : "",
        .body_len = req->body_len,
        .content_type = request_header(req, "Content-Type"),
        .accept = request_header(req, "Accept"),
        .query = req->query ? req->query : "",
        .arena = &req->arena,
    };
}

void reply_input_error(struct request *req, struct input_error *e)
{
    response_problem_ext(req, e->status, NULL, e->extra, "%s", e->detail);
    e->extra = NULL;
}

void reply_refused(struct request *req, const struct handler_ctx *ctx, enum cafe_admit why)
{
    switch (why) {
    case CAFE_CLOSED:
        response_problem(req, 503, NULL, "the café is closing; no new orders");
        break;
    case CAFE_BUSY:
        response_problem(req, 503, NULL, "too many brews in flight (at most %u); try again",
                         ctx->max_brews);
        break;
    case CAFE_QUEUE_FULL:
        response_problem(req, 503, NULL,
                         "every barista is busy and %u hands-on steps are queued; try again",
                         ctx->max_queue);
        break;
    case CAFE_OK:
        break;
    }
}
