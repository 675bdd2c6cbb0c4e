/* The HTTP/1.1 connection: one state, one transition function, one batch.
 *
 *   IDLE -first byte-> HEAD -headers-> BODY -request-> DISPATCHED -stream-> STREAMING
 *    ^   \______ a whole request in one read ___________^    |                  |
 *    +------------------ response complete, keep-alive ------+------------------+
 *                                                            |  the last response,
 *                                                            v  or EOF when IDLE
 *   CLOSED <-EOF or deadline- LINGERING <-output written- CLOSING
 *   (and CLOSED from any state: a reset, the write timeout, the drain's end)
 *
 * conn_enter() is the only place the state changes; it sets the deadline and
 * the read interest the new state calls for. Every event (bytes, EOF, output
 * written, a late answer, a stream that may proceed) runs conn_serve(): one
 * batch that does all it can, then writes once. What the socket does is in
 * server/socket.h; what a response is, in server/response.c. */
#include "server/http1.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/loop_timeline.h"
#include "base/xmalloc.h"
#include "server/access_log.h"
#include "server/http_parser.h"
#include "server/response.h"
#include "server/socket.h"

#define LINGER_MS      2000  /* lingering close: how long input is read and dropped */
#define DRAIN_GRACE_MS 500   /* idle keep-alive connections at shutdown */
#define READ_SLACK     16384 /* one read's worth of input above the request limits */

enum conn_state {
    CONN_IDLE,       /* between requests (idle deadline, or the drain's grace) */
    CONN_HEAD,       /* a request has begun: its header block is due (a total) */
    CONN_BODY,       /* its headers are in: the body is due */
    CONN_DISPATCHED, /* the handler has it; the response is not complete */
    CONN_STREAMING,  /* a streamed response goes out: no deadline, proceed/stop */
    CONN_CLOSING,    /* the last response goes out; input is dropped */
    CONN_LINGERING,  /* written and shut down: input dropped until EOF or deadline */
    CONN_CLOSED,     /* closed; freed on a later loop turn */
};

struct conn {
    struct http1_ctx *ctx;
    struct sock *sock;
    enum conn_state state;
    bool serving;      /* conn_serve() runs: writes wait for its one flush */
    bool peer_eof;     /* the client sends no more (it may still read) */
    bool throttled;    /* answers are unread: no new request until half are */
    bool proceed_owed; /* a stream write returned false: proceed when written */
    struct http_parser parser;
    struct request req;   /* the request being read or answered */
    struct event *resume; /* conn_serve() on the next loop turn */
    struct list node;     /* in ctx->conns, then ctx->graveyard */
    char peer[64];
};

static void conn_serve(struct conn *c);
static void conn_closed(struct conn *c, enum conn_state prev);

static size_t input_limit(const struct conn *c)
{
    /* One header block and body: pipelined requests beyond wait in the kernel. */
    const struct server_limits *l = c->ctx->limits;
    return l->max_header_bytes + l->max_body_bytes + READ_SLACK;
}

/* Reading is on while the input has room, unless the answers to earlier
 * requests are unread (throttled). A closing connection reads to drop. */
static void conn_update_reading(struct conn *c)
{
    bool dropping = c->state == CONN_CLOSING || c->state == CONN_LINGERING;
    bool room = evbuffer_get_length(sock_input(c->sock)) < input_limit(c) && !c->throttled;
    sock_set_reading(c->sock, c->state != CONN_CLOSED && (dropping || room));
}

/* The only place the state changes: sets the deadline and the read interest
 * of the new state. */
static void conn_enter(struct conn *c, enum conn_state next)
{
    struct http1_ctx *x = c->ctx;
    enum conn_state prev = c->state;
    c->state = next;
    switch (next) {
    case CONN_IDLE:
        sock_set_deadline(c->sock, x->draining ? x->grace_tv : x->idle_tv);
        break;
    case CONN_HEAD: /* entered once per request: bytes never push it back */
    case CONN_BODY:
        sock_set_deadline(c->sock, x->header_tv);
        break;
    case CONN_DISPATCHED:
    case CONN_STREAMING:
    case CONN_CLOSING:
        /* No deadline: the handler, the stream or the write timeout sets the
         * pace. The old one is left to fire and be ignored (on_deadline):
         * one timer operation per keep-alive request instead of two. */
        break;
    case CONN_LINGERING:
        /* Closing with unread input makes the kernel send RST, which can
         * destroy the response before the client reads it: send FIN, then
         * read and drop for a moment (nginx's lingering close). */
        sock_shutdown(c->sock);
        evbuffer_drain(sock_input(c->sock), evbuffer_get_length(sock_input(c->sock)));
        sock_set_deadline(c->sock, x->linger_tv);
        break;
    case CONN_CLOSED:
        conn_closed(c, prev);
        return;
    }
    conn_update_reading(c);
}

static void conn_close(struct conn *c)
{
    if (c->state != CONN_CLOSED)
        conn_enter(c, CONN_CLOSED);
}

/* The access log line and the application's metrics, once per request. */
static void conn_log_request(struct conn *c)
{
    struct request *req = &c->req;
    const struct server_hooks *h = c->ctx->hooks;
    uint64_t duration = clock_ns() - req->start_ns;
    access_log_write(req, c->peer, req->bytes_out, duration);
    if (h->on_request_done)
        h->on_request_done(req, duration, h->app);
}

/* The connection went away with req unanswered: tell its handler or stream
 * first, so it detaches from its work; the request is freed afterwards. */
static void conn_abort_request(struct conn *c)
{
    struct request *req = &c->req;
    if (req->generator && req->generator->stop)
        req->generator->stop(req->generator, req);
    if (req->on_abort)
        req->on_abort(req, req->abort_arg);
    if (!req->status)
        req->status = 499; /* nginx's "client closed request" */
}

static void conn_closed(struct conn *c, enum conn_state prev)
{
    struct http1_ctx *x = c->ctx;
    if (prev == CONN_DISPATCHED || prev == CONN_STREAMING) {
        if (!c->req.finished)
            conn_abort_request(c);
        conn_log_request(c);
    }
    sock_close(c->sock);
    event_del(c->resume);
    /* Freed on a later loop turn: callers up the stack may still look at c
     * (redis's freeClientAsync). */
    list_remove(&c->node);
    list_push_back(&x->graveyard, &c->node);
    event_active(x->reaper, EV_TIMEOUT, 0);
    x->stats->open_connections--;
    if (x->on_conn_closed)
        x->on_conn_closed(x->closed_arg);
}

/* The response is complete: log it, then make room for the next request. */
static void conn_finish(struct conn *c)
{
    bool keep = c->req.keep_alive && !c->ctx->draining; /* response.c said so in the head */
    conn_log_request(c);
    request_reset(&c->req);
    http_parser_next(&c->parser, &c->req);
    c->proceed_owed = false;
    conn_enter(c, keep ? CONN_IDLE : CONN_CLOSING);
}

/* Refuses a request at the protocol level, then closes: after a framing
 * error nothing that follows on this connection can be trusted. */
static void conn_reject(struct conn *c, int status, const char *title, const char *detail)
{
    struct request *req = &c->req;
    c->ctx->stats->parse_errors++;
    req->keep_alive = false;
    if (!req->method_name || !*req->method_name)
        req->method_name = "-";
    if (!req->target || !*req->target)
        req->target = "-";
    req->start_ns = clock_ns();
    conn_enter(c, CONN_DISPATCHED);
    response_problem(req, status, title, "%s", detail);
}

static void conn_dispatch(struct conn *c)
{
    const struct server_hooks *h = c->ctx->hooks;
    struct request *req = &c->req;
    c->ctx->stats->requests++;
    req->start_ns = clock_ns();
    conn_enter(c, CONN_DISPATCHED);

    struct route_match m;
    router_match(h->routes, h->nroutes, req->method, req->path, &m);
    enum handler_status hs = HANDLER_DONE;
    if (m.status == 404) {
        response_problem(req, 404, "Not Found", "nothing is served at %s", req->path);
    } else if (m.status == 405) {
        response_header(req, "Allow", "%s", m.allow);
        response_problem(req, 405, "Method Not Allowed", "%s is not allowed here; use %s",
                         req->method_name, m.allow);
    } else {
        req->route = m.route;
        req->route_param = m.param ? arena_strndup(&req->arena, m.param, m.param_len) : NULL;
        hs = m.route->handler(req);
        if (h->on_request_handled)
            h->on_request_handled(req, h->app);
        uint64_t elapsed = clock_ns() - req->start_ns;
        /* The batch's block on the loop timeline is named after its handler
         * (the longest, when a batch answers several). */
        struct timeline_label label = {req->method_name, m.route->label, 0};
        loop_timeline_note(h->timeline, elapsed, (uint8_t)req->tag, &label);
        if (elapsed > 1000000) { /* cheap pre-check before formatting */
            char what[160];
            snprintf(what, sizeof(what), "%s %s", req->method_name, m.route->label);
            log_slow_callback(what, elapsed);
        }
    }
    if (hs == HANDLER_DONE && !req->status && c->state != CONN_CLOSED) {
        log_error("handler for %s %s returned without answering", req->method_name, req->path);
        response_problem(req, 500, "Internal Server Error", "the handler did not answer");
    }
}

/* Feeds the parser what has arrived; false when it must wait for more. */
static bool conn_parse(struct conn *c)
{
    struct evbuffer *in = sock_input(c->sock);
    if (c->state == CONN_IDLE &&
        (c->throttled || sock_pending(c->sock) > c->ctx->limits->max_output_bytes)) {
        c->throttled = true; /* the client sends requests faster than it reads answers */
        return false;
    }
    if (evbuffer_get_length(in) == 0) {
        if (c->peer_eof) /* done sending: answered, or a truncated request nobody reads */
            conn_enter(c, c->state == CONN_IDLE ? CONN_CLOSING : CONN_CLOSED);
        return false;
    }
    struct evbuffer_iovec v;
    evbuffer_peek(in, -1, NULL, &v, 1);
    size_t used = 0;
    enum http_parse_status st = http_parser_feed(&c->parser, v.iov_base, v.iov_len, &used);
    evbuffer_drain(in, used);
    switch (st) {
    case HTTP_PARSE_MORE:
        if (http_parser_mid_message(&c->parser)) {
            enum conn_state part = c->parser.headers_done ? CONN_BODY : CONN_HEAD;
            if (c->state != part)
                conn_enter(c, part);
        }
        return used > 0;
    case HTTP_PARSE_CONTINUE:
        if (evbuffer_get_length(in) == 0) /* skipped when the body is already here */
            evbuffer_add(sock_output(c->sock), "HTTP/1.1 100 Continue\r\n\r\n", 25);
        http_parser_resume(&c->parser);
        conn_enter(c, CONN_BODY);
        return true;
    case HTTP_PARSE_REQUEST:
        conn_dispatch(c);
        return true;
    case HTTP_PARSE_ERROR:
        conn_reject(c, c->parser.error_status, c->parser.error_title, c->parser.error_detail);
        return true;
    }
    return false;
}

/* One step forward; false when nothing more can happen before an event. */
static bool conn_step(struct conn *c)
{
    struct request *req = &c->req;
    switch (c->state) {
    case CONN_IDLE:
    case CONN_HEAD:
    case CONN_BODY:
        return conn_parse(c);
    case CONN_DISPATCHED:
    case CONN_STREAMING:
        if (req->finished) {
            conn_finish(c);
            return true;
        }
        if (!c->proceed_owed || sock_pending(c->sock))
            return false;
        c->proceed_owed = false;
        req->generator->proceed(req->generator, req);
        return true;
    case CONN_CLOSING:
    case CONN_LINGERING:
        evbuffer_drain(sock_input(c->sock), evbuffer_get_length(sock_input(c->sock)));
        return false;
    case CONN_CLOSED:
        break;
    }
    return false;
}

/* What the output left by a write allows. */
static void conn_written(struct conn *c, size_t left)
{
    if (c->throttled && left <= c->ctx->limits->max_output_bytes / 2) {
        c->throttled = false; /* half is read: take requests again (le-proxy's scheme) */
        event_active(c->resume, EV_TIMEOUT, 0);
    }
    if (!left && c->proceed_owed) /* the next proceed on the next turn: others run between */
        event_active(c->resume, EV_TIMEOUT, 0);
    if (!left && c->state == CONN_CLOSING)
        conn_enter(c, c->peer_eof ? CONN_CLOSED : CONN_LINGERING);
    else
        conn_update_reading(c);
}

/* Everything the connection can do now, as one batch: finish a complete
 * response, parse and dispatch what has arrived (pipelined requests answered
 * in order), let a stream proceed. What that queues goes out in one write. */
static void conn_serve(struct conn *c)
{
    static const struct timeline_label io = {"HTTP I/O", NULL, 0};
    struct loop_timeline *tl = c->ctx->hooks->timeline;
    uint64_t t0 = loop_timeline_enter(tl); /* one section of the loop's work */
    c->serving = true;
    while (conn_step(c))
        ;
    c->serving = false;
    if (c->state != CONN_CLOSED)
        conn_written(c, sock_flush(c->sock));
    loop_timeline_leave(tl, t0, 0, &io);
}

/* --- the socket's and the loop's events -------------------------------------- */

static void on_read(struct sock *s, void *arg)
{
    conn_serve(arg);
}

static void on_eof(struct sock *s, void *arg)
{
    /* A pending response still goes out: half-closed clients read answers. */
    struct conn *c = arg;
    c->peer_eof = true;
    if (c->state == CONN_LINGERING)
        conn_close(c);
    else
        conn_serve(c);
}

static void on_drain(struct sock *s, void *arg)
{
    conn_serve(arg);
}

static void on_error(struct sock *s, void *arg, int err)
{
    conn_close(arg); /* reset, or a client that read nothing for the write timeout */
}

static void on_deadline(struct sock *s, void *arg)
{
    struct conn *c = arg;
    switch (c->state) {
    case CONN_IDLE: /* keep-alive idle, or the drain's grace */
        /* A client still reading our answers is not idle: the write timeout
         * judges it (sock_new). Look again one idle period later. */
        if (sock_pending(c->sock))
            conn_enter(c, CONN_IDLE);
        else
            conn_close(c);
        break;
    case CONN_LINGERING: /* lingering is over */
        conn_close(c);
        break;
    case CONN_HEAD:
        conn_reject(c, 408, "Request Timeout", "the request headers took too long");
        break;
    case CONN_BODY:
        conn_reject(c, 408, "Request Timeout", "the request body took too long");
        break;
    default: /* a deadline of an earlier state, left to expire */
        break;
    }
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    conn_serve(arg);
}

static const struct sock_handlers conn_sock_handlers = {
    .on_read = on_read,
    .on_eof = on_eof,
    .on_drain = on_drain,
    .on_error = on_error,
    .on_deadline = on_deadline,
};

/* --- the context -------------------------------------------------------------- */

static void conn_free(struct conn *c)
{
    request_reset(&c->req);
    sock_free(c->sock); /* queued output too: referenced memory gets its cleanup */
    event_free(c->resume);
    free(c);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    struct http1_ctx *x = arg;
    struct list *n;
    while ((n = list_first(&x->graveyard))) {
        list_remove(n);
        conn_free(container_of(n, struct conn, node));
    }
}

void http1_ctx_init(struct http1_ctx *x, struct event_base *base,
                    const struct server_limits *limits, const struct server_hooks *hooks,
                    struct server_stats *stats)
{
    *x = (struct http1_ctx){.base = base, .limits = limits, .hooks = hooks, .stats = stats};
    x->idle_tv = sock_timeout(base, limits->idle_timeout_ms);
    x->header_tv = sock_timeout(base, limits->header_timeout_ms);
    x->linger_tv = sock_timeout(base, LINGER_MS);
    x->grace_tv = sock_timeout(base, DRAIN_GRACE_MS);
    x->write_tv = limits->write_timeout_ms ? sock_timeout(base, limits->write_timeout_ms) : NULL;
    list_init(&x->conns);
    list_init(&x->graveyard);
    x->reaper = event_new(base, -1, 0, on_reap, x);
}

void http1_accept(struct http1_ctx *x, evutil_socket_t fd, const struct sockaddr *sa)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->ctx = x;
    c->sock = sock_new(x->base, fd, &conn_sock_handlers, c, x->write_tv);
    sock_peer_name(sa, c->peer, sizeof(c->peer));
    arena_init(&c->req.arena);
    c->req.conn = c;
    c->req.app = x->hooks->app;
    request_reset(&c->req);
    http_parser_init(&c->parser, x->limits, &c->req);
    c->resume = event_new(x->base, -1, 0, on_resume, c);
    list_push_back(&x->conns, &c->node);
    x->stats->open_connections++;
    conn_enter(c, CONN_IDLE);
}

void http1_drain(struct http1_ctx *x)
{
    /* An idle keep-alive connection may have a request on its way: closing it
     * now would reset that request unanswered. Give it a short grace; what
     * arrives is answered with "Connection: close". A busy connection closes
     * after the response in progress, which says so. */
    x->draining = true;
    struct list *n, *next;
    list_for_each_safe(n, next, &x->conns)
    {
        struct conn *c = container_of(n, struct conn, node);
        if (c->state == CONN_IDLE && evbuffer_get_length(sock_input(c->sock)) == 0)
            conn_enter(c, CONN_IDLE);
    }
}

void http1_close_all(struct http1_ctx *x)
{
    struct list *n;
    while ((n = list_first(&x->conns)))
        conn_close(container_of(n, struct conn, node));
}

void http1_ctx_free(struct http1_ctx *x)
{
    http1_close_all(x);
    on_reap(-1, 0, x);
    event_free(x->reaper);
}

/* --- for response.c ------------------------------------------------------------ */

struct evbuffer *http1_output(struct request *req)
{
    struct conn *c = req->conn;
    bool answering = c->state == CONN_DISPATCHED || c->state == CONN_STREAMING;
    return answering ? sock_output(c->sock) : NULL;
}

const char *http1_server_name(const struct request *req)
{
    return req->conn->ctx->hooks->name;
}

bool http1_persistent(const struct request *req)
{
    const struct conn *c = req->conn;
    return req->keep_alive && !c->peer_eof && !c->ctx->draining;
}

void http1_stream_started(struct request *req)
{
    if (req->conn->state == CONN_DISPATCHED)
        conn_enter(req->conn, CONN_STREAMING);
}

bool http1_sent(struct request *req)
{
    struct conn *c = req->conn;
    if (c->state == CONN_CLOSED)
        return false;
    size_t left = c->serving ? sock_pending(c->sock) : sock_flush(c->sock);
    bool ready = !c->serving && !left;
    if (!ready && req->generator && c->state == CONN_STREAMING)
        c->proceed_owed = true;
    if (!c->serving)
        conn_written(c, left);
    return ready;
}

void http1_response_done(struct request *req)
{
    /* Never reset the request under its caller: conn_serve() finishes it
     * when it regains control, or on the next loop turn for a late answer. */
    struct conn *c = req->conn;
    if (c->state != CONN_CLOSED && !c->serving)
        event_active(c->resume, EV_TIMEOUT, 0);
}
