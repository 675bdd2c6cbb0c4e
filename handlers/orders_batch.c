/* POST /orders: a batch of orders of one mode, placed under one admission.
 * gather (the default) answers once, when the last order has finished;
 * as_completed (NDJSON) gives each order its line the moment it finishes
 * (batch_write_line). Nothing is answered before the store has every order
 * of the batch (cafe_orders_submit: all stored, or none placed). That stream is pulled by the
 * engine (a response generator): finished orders' lines queue in the batch and go out while the
 * connection takes them. The batch holds a reference on each order until it
 * has answered; a client that leaves detaches, and the brews go on. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "base/xmalloc.h"
#include "cafe/cafe.h"
#include "handlers/handlers.h"
#include "handlers/order_reply.h"
#include "handlers/store_call.h"
#include "server/response.h"

struct batch {
    struct response_generator gen; /* as_completed */
    struct request *req;
    struct evbuffer *lines; /* as_completed: finished, not yet written */
    bool stream, ready;     /* ready: the connection takes a write now */
    unsigned n, pending;
    struct order *orders[];
};

static void batch_release(struct batch *b)
{
    for (unsigned i = 0; i < b->n; i++) {
        order_wait(b->orders[i], NULL, NULL); /* the brews go on without us */
        order_unref(b->orders[i]);
    }
    if (b->lines)
        evbuffer_free(b->lines);
    free(b);
}

static json_t *batch_json(const struct batch *b)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < b->n; i++)
        json_array_append_new(a, order_to_json(b->orders[i]));
    return json_pack("{s:o}", "orders", a);
}

static bool batch_timed_out(const struct batch *b)
{
    for (unsigned i = 0; i < b->n; i++)
        if (b->orders[i]->timed_out)
            return true;
    return false;
}

/* as_completed: the queued lines go out while the connection takes them
 * (one chunk), and the stream ends after the last order's. */
static void batch_pump(struct batch *b)
{
    size_t len = evbuffer_get_length(b->lines);
    if (b->ready && len) {
        b->ready = response_stream_write(b->req, evbuffer_pullup(b->lines, -1), len);
        evbuffer_drain(b->lines, len);
    }
    if (b->pending || evbuffer_get_length(b->lines))
        return;
    response_stream_end(b->req);
    batch_release(b); /* the request may already serve the next one: not touched */
}

/* as_completed: one finished order, one NDJSON line, queued and pumped. */
static void batch_write_line(struct batch *b, const struct order *o)
{
    json_t *j = order_to_json(o);
    char *line = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    size_t len = strlen(line);
    line[len] = '\n'; /* replaces the NUL: one line per order */
    evbuffer_add(b->lines, line, len + 1);
    free(line);
    batch_pump(b);
}

/* The engine: the last write has gone out. */
static void on_batch_proceed(struct response_generator *gen, struct request *req)
{
    struct batch *b = container_of(gen, struct batch, gen);
    b->ready = true;
    batch_pump(b);
}

/* The engine: the client left mid-stream. */
static void on_batch_stop(struct response_generator *gen, struct request *req)
{
    batch_release(container_of(gen, struct batch, gen)); /* the brews go on */
}

/* gather: every order has finished; 504 when one ran out of time. */
static void batch_reply(struct batch *b)
{
    if (batch_timed_out(b))
        response_problem_ext(b->req, 504, NULL, batch_json(b),
                             "not every order was ready within timeout_ms; those brews were "
                             "cancelled");
    else
        response_send_json(b->req, 200, batch_json(b));
}

static void on_batch_order_done(struct order *o, void *arg)
{
    struct batch *b = arg;
    b->pending--;
    if (b->stream) {
        batch_write_line(b, o);
        return;
    }
    if (b->pending)
        return;
    request_on_abort(b->req, NULL, NULL);
    batch_reply(b);
    batch_release(b); /* the request may already serve the next one: not touched */
}

/* gather: the client left before the answer. */
static void on_batch_abort(struct request *req, void *arg)
{
    batch_release(arg); /* the brews go on */
}

/* Between the request and the store's acknowledgement. */
struct batch_placing {
    struct store_call call;
    bool stream, wait;
};

static void on_batch_placed(struct order *const *orders, unsigned n, enum cafe_admit verdict,
                            enum store_result r, void *arg)
{
    struct batch_placing *p = arg;
    struct request *req = store_call_placed(&p->call, verdict, r);
    bool stream = p->stream, wait = p->wait;
    free(p);
    if (!req)
        return; /* answered, or the client left (the placed brews go on) */
    struct batch *b = xcalloc(1, sizeof(*b) + n * sizeof(b->orders[0]));
    b->req = req;
    b->stream = stream;
    for (; b->n < n; b->n++) {
        b->orders[b->n] = orders[b->n];
        order_ref(b->orders[b->n]);
    }
    if (!wait) {
        response_send_json(req, 202, batch_json(b));
        batch_release(b);
        return;
    }
    /* Nothing finishes inside the placed callback: every waiter is in place
     * before the first order can end. */
    b->pending = n;
    for (unsigned i = 0; i < n; i++)
        order_wait(b->orders[i], on_batch_order_done, b);
    if (b->stream) {
        b->gen = (struct response_generator){on_batch_proceed, on_batch_stop};
        b->lines = evbuffer_new();
        b->ready = true;
        response_stream_start(req, 200, "application/x-ndjson", true, &b->gen);
    } else {
        request_on_abort(req, on_batch_abort, b);
    }
}

enum handler_status handle_orders_batch(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    struct order_input in;
    struct input_error e = {0};
    unsigned n = 0;
    order_input_of(req, &in);
    struct order_spec *specs = order_input_batch(&in, ctx->menu, ctx->max_batch, &n, &e);
    if (!specs) {
        reply_input_error(req, &e);
        return HANDLER_DONE;
    }
    req->log_label = brew_mode_name(specs[0].mode);
    req->tag = ORDER_TAG(specs[0].mode);

    struct batch_placing *p = store_call_new(req, sizeof(*p));
    p->stream = order_input_wants_ndjson(&in);
    p->wait = order_input_wait(&in);
    /* Placed in request order, so they start in request order; the memory
     * store answers in here. */
    cafe_orders_submit(ctx->cafe, specs, n, on_batch_placed, p);
    return HANDLER_PENDING;
}
