#include "handlers/order_reply.h"

#include "base/textbuf.h"
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

/* A body that could not be written: the engine's own 500 (what a jansson
 * tree that failed to serialise gave). */
static void reply_unwritable(struct request *req, int status)
{
    response_send_json(req, status, NULL);
}

void reply_order(struct request *req, int status, const struct order *o)
{
    char storage[4096];
    struct json_writer w = JSON_WRITER_ON(storage);
    if (order_json_write(&w, o)) {
        JSON_PUT_LIT(&w, "\n"); /* as response_send_json(): curl users get a tidy prompt */
        response_send(req, status, "application/json", w.buf, w.len);
    } else {
        reply_unwritable(req, status);
    }
    json_writer_free(&w);
}

void reply_location(struct request *req, const struct order *o)
{
    char value[32];
    struct textbuf t = TEXTBUF(value);
    TEXTBUF_PUT_LIT(&t, "/orders/");
    textbuf_put_uint(&t, o->id, 0);
    *t.p = '\0'; /* 28 bytes at most: room for it */
    response_header_str(req, "Location", value);
}

void order_list_init(struct order_list *l)
{
    l->w = JSON_WRITER_ON(l->storage);
    l->n = 0;
    l->ok = true;
    JSON_PUT_LIT(&l->w, "{\"orders\":[");
}

void order_list_add(struct order_list *l, const struct order *o)
{
    if (l->n++)
        JSON_PUT_LIT(&l->w, ",");
    l->ok &= order_json_write(&l->w, o);
}

void reply_order_list(struct request *req, int status, struct order_list *l)
{
    JSON_PUT_LIT(&l->w, "]}\n");
    if (l->ok)
        response_send(req, status, "application/json", l->w.buf, l->w.len);
    else
        reply_unwritable(req, status);
    json_writer_free(&l->w);
}
