/* POST /order, /{sync,async,thread}/order, POST /orders (batches), GET /orders,
 * GET and DELETE /orders/ID: the glue between HTTP and the café. A pending
 * handler waits on its order through order_wait() and registers an abort hook
 * that only detaches: a client that disconnects does not cancel its order. */
#include <errno.h>
#include <event2/buffer.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/list.h"
#include "base/xmalloc.h"
#include "cafe/cafe.h"
#include "handlers/handlers.h"
#include "server/response.h"

#define CUSTOMER_MAX 100        /* bytes */
#define TIMEOUT_MAX  86400000LL /* ms: a day */
#define LIST_DEFAULT 50
#define LIST_MAX     1000

/* ?time_scale: a client may make its order's recipe seconds as short as a
 * millisecond, never longer than a real second (docs/experiments.md). */
#define TIME_SCALE_MIN 0.001
#define TIME_SCALE_MAX 1.0

/* An input problem: status (400 or 422), a sentence, optional extra members. */
struct input_error {
    int status;
    char detail[512];
    json_t *extra;
};

static int input_fail(struct input_error *e, int status, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int input_fail(struct input_error *e, int status, json_t *extra, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
    e->status = status;
    e->extra = extra;
    return -1;
}

static void answer_error(struct request *req, struct input_error *e)
{
    response_problem_ext(req, e->status, NULL, e->extra, "%s", e->detail);
}

static json_t *names_array(const char *first, size_t stride, unsigned n)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < n; i++)
        json_array_append_new(a, json_string(first + i * stride));
    return a;
}

/* --- reading what the client asked for --------------------------------------- */

/* A JSON body is read whatever its Content-Type (curl -d sends a form type):
 * JSON if the type says so or the body starts like a JSON text. */
static bool body_looks_json(const struct request *req)
{
    const char *ct = request_header(req, "Content-Type");
    if (ct && strstr(ct, "json"))
        return true;
    size_t i = 0;
    while (i < req->body_len && strchr(" \t\r\n", req->body[i]))
        i++;
    return i < req->body_len && strchr("{[\"", req->body[i]);
}

/* Parses the body as JSON. Malformed -> 400; JSON_DECODE_ANY so that a
 * well-formed non-object ("latte", 42) is a shape problem (422), not a syntax
 * one, as docs/contract.md distinguishes them. */
static json_t *body_json(struct request *req, struct input_error *e)
{
    json_error_t jerr;
    json_t *root =
        json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        input_fail(e, 400, json_pack("{s:i, s:i}", "line", jerr.line, "column", jerr.column),
                   "malformed JSON: %s", jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        input_fail(e, 422, NULL, "the body must be a JSON object");
        return NULL;
    }
    return root;
}

/* The three fields of one order, borrowed from the JSON value or the arena. */
struct order_fields {
    const char *item, *flavour, *customer;
};

static int fields_from_json(const json_t *obj, const char *where, struct order_fields *f,
                            struct input_error *e)
{
    static const char *const keys[] = {"item", "flavour", "customer"};
    const char **dst[] = {&f->item, &f->flavour, &f->customer};
    if (!json_is_object(obj))
        return input_fail(e, 422, NULL, "%san order must be a JSON object", where);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        unsigned k = 0;
        while (k < 3 && strcmp(keys[k], key) != 0)
            k++;
        if (k == 3)
            return input_fail(e, 422, NULL,
                              "%sunknown member \"%s\"; an order has item, flavour, customer",
                              where, key);
        if (json_is_null(v))
            continue;
        if (!json_is_string(v))
            return input_fail(e, 422, NULL, "%s%s must be a string", where, key);
        *dst[k] = json_string_value(v);
    }
    return 0;
}

/* Form-encoded body, then the query string, field by field. */
static void fields_from_form(struct request *req, bool form_body, struct order_fields *f)
{
    static const char *const keys[] = {"item", "flavour", "customer"};
    const char **dst[] = {&f->item, &f->flavour, &f->customer};
    for (unsigned k = 0; k < 3; k++) {
        const char *v =
            form_body ? form_param(&req->arena, req->body, req->body_len, keys[k]) : NULL;
        if (!v)
            v = request_query_param(req, keys[k]);
        if (!*dst[k])
            *dst[k] = v;
    }
}

/* Validates fields against the menu into spec. 422 names the valid choices. */
static int fields_check(const struct menu *m, const struct order_fields *f, const char *where,
                        struct order_spec *spec, struct input_error *e)
{
    char names[512];
    spec->item = f->item ? menu_find_item(m, f->item) : NULL;
    if (!spec->item) {
        json_t *extra = json_pack("{s:o}", "items",
                                  names_array(m->items[0].name, sizeof(m->items[0]), m->nitems));
        menu_item_names(m, names, sizeof(names));
        if (!f->item || !*f->item)
            return input_fail(e, 422, extra, "%san order needs an item: one of %s", where, names);
        return input_fail(e, 422, extra, "%sunknown item \"%.64s\"; the menu has %s", where,
                          f->item, names);
    }
    spec->flavour = NULL;
    if (f->flavour && *f->flavour) {
        spec->flavour = menu_find_flavour(m, f->flavour);
        if (!spec->flavour)
            return input_fail(
                e, 422,
                json_pack("{s:o}", "flavours",
                          names_array(m->flavours[0], sizeof(m->flavours[0]), m->nflavours)),
                "%sunknown flavour \"%.64s\"; choose %s (or none)", where, f->flavour,
                menu_flavour_names(m, names, sizeof(names)));
    }
    spec->customer = f->customer && *f->customer ? f->customer : NULL;
    if (spec->customer) {
        json_t *probe = json_string(spec->customer); /* NULL unless valid UTF-8 */
        bool ok = probe && strlen(spec->customer) <= CUSTOMER_MAX;
        json_decref(probe);
        if (!ok)
            return input_fail(e, 422, NULL, "%scustomer must be UTF-8 text of at most %d bytes",
                              where, CUSTOMER_MAX);
    }
    return 0;
}

/* An unsigned decimal query parameter in [0, max]; def when absent. */
static int query_uint(struct request *req, const char *name, long long def, long long max,
                      long long *out, struct input_error *e)
{
    const char *v = request_query_param(req, name);
    *out = def;
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < 0 || n > max || *v == '-' || *v == '+')
        return input_fail(e, 422, NULL, "%s must be a whole number from 0 to %lld", name, max);
    *out = n;
    return 0;
}

/* ?time_scale=S: real seconds per recipe second for these orders only; 0
 * (the café's own) when absent. */
static int query_time_scale(struct request *req, double *out, struct input_error *e)
{
    const char *v = request_query_param(req, "time_scale");
    *out = 0;
    if (!v)
        return 0;
    char *end;
    double s = strtod(v, &end);
    if (!*v || !strchr("0123456789.", *v) || *end || !isfinite(s) || s < TIME_SCALE_MIN ||
        s > TIME_SCALE_MAX)
        return input_fail(e, 422, NULL, "time_scale must be a number from %g to %g", TIME_SCALE_MIN,
                          TIME_SCALE_MAX);
    *out = s;
    return 0;
}

/* ?wait=0 (or false/no) answers at once with 202. */
static bool query_wait(struct request *req)
{
    const char *v = request_query_param(req, "wait");
    return !v || !(strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0);
}

static enum brew_mode route_mode(const struct request *req)
{
    return (enum brew_mode)req->route->arg; /* ROUTE_ORDER's */
}

/* 503 + Retry-After (added by response_problem) for an admission refusal. */
static void answer_refused(struct request *req, const struct handler_ctx *ctx, enum cafe_admit why)
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

/* --- one order ------------------------------------------------------------------- */

static void order_location(struct request *req, const struct order *o)
{
    response_header(req, "Location", "/orders/%llu", (unsigned long long)o->id);
}

/* The answer for a finished order: 201 ready, 504 timed out (the brew was
 * cancelled), 200 cancelled by DELETE (the body says so), 503 failed
 * (shutdown). */
static void answer_finished(struct request *req, struct order *o)
{
    order_location(req, o);
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

struct order_waiter {
    struct request *req;
    struct order *order;
};

static void on_order_done(struct order *o, void *arg)
{
    struct order_waiter *w = arg; /* lives in the request's arena */
    request_on_abort(w->req, NULL, NULL);
    answer_finished(w->req, o);
}

static void on_order_abort(struct request *req, void *arg)
{
    struct order_waiter *w = arg;
    order_wait(w->order, NULL, NULL); /* the brew goes on without us */
}

/* Reads one order from the body (JSON or form) and the query string. */
static int order_read(struct request *req, const struct menu *m, struct order_spec *spec,
                      struct input_error *e)
{
    struct order_fields f = {0};
    json_t *root = NULL;
    int rc = 0;
    bool json = req->body_len && body_looks_json(req);
    if (json) {
        root = body_json(req, e);
        if (!root)
            return -1;
        rc = fields_from_json(root, "", &f, e);
    }
    if (rc == 0) {
        fields_from_form(req, req->body_len && !json, &f);
        rc = fields_check(m, &f, "", spec, e);
    }
    if (rc == 0 && spec->customer) /* borrowed from root: copy before it goes */
        spec->customer = arena_strndup(&req->arena, spec->customer, strlen(spec->customer));
    json_decref(root);
    return rc;
}

enum handler_status handle_order_place(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    struct order_spec spec = {.mode = route_mode(req)};
    struct input_error e = {0};
    long long timeout;
    req->log_label = brew_mode_name(spec.mode);
    if (order_read(req, ctx->menu, &spec, &e) < 0 ||
        query_uint(req, "timeout_ms", -1, TIMEOUT_MAX, &timeout, &e) < 0 ||
        query_time_scale(req, &spec.time_scale, &e) < 0) {
        answer_error(req, &e);
        return HANDLER_DONE;
    }
    spec.timeout_ms = timeout;

    struct order *o;
    enum cafe_admit verdict = cafe_order_place(ctx->cafe, &spec, &o);
    if (verdict != CAFE_OK) {
        answer_refused(req, ctx, verdict);
        return HANDLER_DONE;
    }
    if (!query_wait(req)) {
        order_location(req, o);
        response_send_json(req, 202, order_to_json(o));
        return HANDLER_DONE;
    }
    /* The brew starts on the next loop turn at the earliest, so the waiter
     * is in place before anything can finish. */
    struct order_waiter *w = arena_alloc(&req->arena, sizeof(*w));
    w->req = req;
    w->order = o;
    order_wait(o, on_order_done, w);
    request_on_abort(req, on_order_abort, w);
    return HANDLER_PENDING;
}

/* --- batches --------------------------------------------------------------------- */

/* One POST /orders: holds a reference on each of its orders until it has
 * answered (gather) or streamed every line (as_completed). A stream is
 * pulled by the engine: finished orders' lines queue here and go out while
 * the connection takes them. */
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
    batch_release(b); /* req may already serve the next request: not touched */
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

/* as_completed queues each order's line the moment it finishes; gather
 * answers once, when the last one has. */
static void on_batch_order_done(struct order *o, void *arg)
{
    struct batch *b = arg;
    struct request *req = b->req;
    b->pending--;
    if (b->stream) {
        json_t *j = order_to_json(o);
        char *line = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        size_t len = strlen(line);
        line[len] = '\n'; /* replaces the NUL: one line per order */
        evbuffer_add(b->lines, line, len + 1);
        free(line);
        batch_pump(b);
        return;
    }
    if (b->pending)
        return;
    request_on_abort(req, NULL, NULL);
    if (batch_timed_out(b))
        response_problem_ext(req, 504, NULL, batch_json(b),
                             "not every order was ready within timeout_ms; those brews were "
                             "cancelled");
    else
        response_send_json(req, 200, batch_json(b));
    batch_release(b); /* req may already serve the next request: not touched */
}

static void on_batch_abort(struct request *req, void *arg)
{
    batch_release(arg); /* the brews go on */
}

/* Reads {"orders":[...], "mode":"async"}: n specs in the arena (customers
 * borrowed from root), or NULL. An invalid order rejects the whole batch,
 * naming its index. */
static struct order_spec *batch_read(struct request *req, const struct handler_ctx *ctx,
                                     json_t *root, int64_t timeout_ms, unsigned *n,
                                     struct input_error *e)
{
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "orders") != 0 && strcmp(key, "mode") != 0) {
            input_fail(e, 422, NULL, "unknown member \"%s\"; a batch has orders, mode", key);
            return NULL;
        }
    }
    json_t *jmode = json_object_get(root, "mode");
    const char *mname = jmode ? json_string_value(jmode) : request_query_param(req, "mode");
    int mode = mname ? brew_mode_parse(mname) : MODE_ASYNC;
    if (mode < 0 || (jmode && !json_is_string(jmode))) {
        input_fail(e, 422, NULL, "mode must be sync, async or thread");
        return NULL;
    }

    json_t *orders = json_object_get(root, "orders");
    unsigned max = ctx->max_batch;
    if (!json_is_array(orders) || json_array_size(orders) == 0 || json_array_size(orders) > max) {
        input_fail(e, 422, NULL, "orders must be an array of 1 to %u orders", max);
        return NULL;
    }
    *n = (unsigned)json_array_size(orders);
    struct order_spec *specs = arena_alloc(&req->arena, *n * sizeof(*specs));
    size_t i;
    json_array_foreach(orders, i, v)
    {
        struct order_fields f = {0};
        char where[32];
        snprintf(where, sizeof(where), "order %zu: ", i);
        specs[i].mode = (enum brew_mode)mode;
        specs[i].timeout_ms = timeout_ms;
        if (fields_from_json(v, where, &f, e) < 0 ||
            fields_check(ctx->menu, &f, where, &specs[i], e) < 0) {
            if (!e->extra)
                e->extra = json_object();
            json_object_set_new(e->extra, "index", json_integer((json_int_t)i));
            return NULL;
        }
    }
    return specs;
}

static bool wants_ndjson(struct request *req)
{
    const char *accept = request_header(req, "Accept");
    const char *stream = request_query_param(req, "stream");
    return (accept && strstr(accept, "application/x-ndjson")) ||
           (stream && (strcmp(stream, "1") == 0 || strcasecmp(stream, "true") == 0));
}

enum handler_status handle_orders_batch(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    struct input_error e = {0};
    struct order_spec *specs = NULL;
    unsigned n = 0;
    long long timeout;
    double scale;
    json_t *root = NULL;
    if (!req->body_len) {
        input_fail(&e, 422, NULL, "a batch is a JSON body {\"orders\":[...], \"mode\":\"async\"}");
        goto fail;
    }
    if (query_uint(req, "timeout_ms", -1, TIMEOUT_MAX, &timeout, &e) < 0 ||
        query_time_scale(req, &scale, &e) < 0 || !(root = body_json(req, &e)) ||
        !(specs = batch_read(req, ctx, root, timeout, &n, &e)))
        goto fail;
    for (unsigned i = 0; i < n; i++)
        specs[i].time_scale = scale;
    req->log_label = brew_mode_name(specs[0].mode);

    struct batch *b = xcalloc(1, sizeof(*b) + n * sizeof(b->orders[0]));
    /* Placed in request order, so they start in request order. */
    enum cafe_admit verdict = cafe_orders_place(ctx->cafe, specs, n, b->orders);
    json_decref(root); /* the café copied the customers */
    if (verdict != CAFE_OK) {
        free(b);
        answer_refused(req, ctx, verdict);
        return HANDLER_DONE;
    }
    b->req = req;
    b->stream = wants_ndjson(req);
    for (; b->n < n; b->n++)
        order_ref(b->orders[b->n]);
    if (!query_wait(req)) {
        response_send_json(req, 202, batch_json(b));
        batch_release(b);
        return HANDLER_DONE;
    }
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
    return HANDLER_PENDING;
fail:
    json_decref(root);
    answer_error(req, &e);
    return HANDLER_DONE;
}

/* --- the book -------------------------------------------------------------------- */

static void list_append(struct order *o, void *arg)
{
    json_array_append_new(arg, order_to_json(o));
}

enum handler_status handle_orders_list(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    struct input_error e = {0};
    long long limit;
    const char *sname = request_query_param(req, "status");
    int status = sname && *sname ? order_status_parse(sname) : -1;
    if (sname && *sname && status < 0) {
        response_problem_ext(
            req, 422, NULL,
            json_pack("{s:[s,s,s,s,s]}", "statuses", "queued", "brewing", "ready", "cancelled",
                      "failed"),
            "unknown status \"%.32s\"; use queued, brewing, ready, cancelled or failed", sname);
        return HANDLER_DONE;
    }
    if (query_uint(req, "limit", LIST_DEFAULT, 1000000000LL, &limit, &e) < 0) {
        answer_error(req, &e);
        return HANDLER_DONE;
    }
    json_t *a = json_array();
    cafe_orders_each(ctx->cafe, status, limit > LIST_MAX ? LIST_MAX : (unsigned)limit, list_append,
                     a);
    response_send_json(req, 200, json_pack("{s:o}", "orders", a));
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
        response_send_json(req, 200, order_to_json(o));
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
        response_send_json(req, 200, order_to_json(o));
    order_unref(o);
    return HANDLER_DONE;
}
