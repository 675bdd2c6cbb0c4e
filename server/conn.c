#include "server/conn.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "base/xmalloc.h"
#include "server/access_log.h"
#include "server/response.h"
#include "server/server_internal.h"

static void conn_set_timer(struct conn *c, enum conn_timer kind)
{
    if (c->timer_kind == kind) /* deadlines are totals: never re-armed */
        return;
    c->timer_kind = kind;
    struct server *s = c->server;
    switch (kind) {
    case TIMER_NONE:
        /* Left pending: a stale deadline firing is ignored (on_timer), and
         * the next arm reschedules it. One timer operation per keep-alive
         * request instead of three. */
        break;
    case TIMER_IDLE:
        event_add(c->timer, s->idle_tv);
        break;
    case TIMER_HEADERS:
    case TIMER_BODY:
        event_add(c->timer, s->header_tv);
        break;
    }
}

bool conn_should_keep_alive(const struct conn *c)
{
    return c->req.keep_alive && !c->closing && !c->peer_eof && !c->server->draining;
}

/* Answers a request we refuse at the protocol level, then closes: after a
 * framing error nothing that follows on this connection can be trusted. */
static void conn_reject(struct conn *c, int status, const char *title, const char *detail)
{
    struct request *req = &c->req;
    c->server->stats.parse_errors++;
    c->closing = true;
    c->req_active = true;
    if (!req->method_name || !*req->method_name)
        req->method_name = "-";
    if (!req->target || !*req->target)
        req->target = "-";
    req->start_ns = clock_ns();
    response_problem(req, status, title, "%s", detail);
}

static void conn_begin_linger(struct conn *c);

/* The response is on its way: log it, then make room for the next one. */
static void conn_finish_request(struct conn *c)
{
    struct request *req = &c->req;
    struct server *s = c->server;
    uint64_t duration = clock_ns() - req->start_ns;
    access_log_write(req, c->peer, c->bytes_out, duration);
    if (s->hooks.on_request_done)
        s->hooks.on_request_done(req, duration, s->hooks.app);
    request_reset(req);
    http_parser_next(&c->parser, req);
    c->req_active = false;
    c->bytes_out = 0;
    if (s->draining && !c->closing)
        c->closing = true;
    if (c->closing) {
        conn_begin_linger(c);
        return;
    }
    conn_set_timer(c, TIMER_IDLE);
}

void conn_response_done(struct conn *c)
{
    /* Never reset the request under a running handler: finish it when the
     * handler returns, or on the next loop turn for late answers. */
    if (!c->in_dispatch)
        event_active(c->resume, EV_TIMEOUT, 0);
}

static void conn_dispatch(struct conn *c)
{
    struct server *s = c->server;
    struct request *req = &c->req;
    s->stats.requests++;
    req->start_ns = clock_ns();
    c->req_active = true;
    c->in_dispatch = true;
    conn_set_timer(c, TIMER_NONE);

    struct route_match m;
    router_match(s->hooks.routes, s->hooks.nroutes, req->method, req->path, &m);
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
        uint64_t elapsed = clock_ns() - req->start_ns;
        if (elapsed > 1000000 && !c->dead) { /* cheap pre-check before formatting */
            char what[160];
            snprintf(what, sizeof(what), "%s %s", req->method_name, m.route->label);
            log_slow_callback(what, elapsed);
        }
    }
    c->in_dispatch = false;
    if (c->dead)
        return;
    if (hs == HANDLER_DONE && !req->finished && !req->streaming) {
        log_error("handler for %s %s returned without answering", req->method_name, req->path);
        response_problem(req, 500, "Internal Server Error", "the handler did not answer");
    }
    if (req->finished)
        conn_finish_request(c);
}

static void conn_throttle(struct conn *c)
{
    /* The client sends requests faster than it reads answers: stop reading
     * until half the backlog is gone (conn_flush lifts it). */
    c->throttled = true;
    conn_update_reading(c);
}

/* Parses and dispatches what has arrived, one request at a time. */
void conn_on_input(struct conn *c)
{
    struct evbuffer *in = c->in;
    struct evbuffer *out = c->out;
    while (!c->dead && !c->req_active && !c->closing) {
        if (evbuffer_get_length(out) > c->server->limits.max_output_bytes) {
            conn_throttle(c);
            return;
        }
        if (evbuffer_get_length(in) == 0)
            break;
        struct evbuffer_iovec v;
        evbuffer_peek(in, -1, NULL, &v, 1);
        size_t used = 0;
        enum http_parse_status st = http_parser_feed(&c->parser, v.iov_base, v.iov_len, &used);
        evbuffer_drain(in, used);
        switch (st) {
        case HTTP_PARSE_MORE: /* a request has begun: its deadline runs */
            conn_set_timer(c, c->parser.headers_done ? TIMER_BODY : TIMER_HEADERS);
            break;
        case HTTP_PARSE_CONTINUE:
            /* Skip the interim answer when the body is already here. */
            if (evbuffer_get_length(in) == 0)
                evbuffer_add(out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            http_parser_resume(&c->parser);
            conn_set_timer(c, TIMER_BODY);
            break;
        case HTTP_PARSE_REQUEST:
            conn_dispatch(c);
            break;
        case HTTP_PARSE_ERROR:
            conn_reject(c, c->parser.error_status, c->parser.error_title, c->parser.error_detail);
            return;
        }
    }
    if (c->dead || c->req_active || c->closing || !c->peer_eof)
        return;
    /* The client is done sending and everything it sent is answered. */
    if (http_parser_mid_message(&c->parser))
        conn_close(c); /* a truncated request: nobody to answer */
    else
        conn_begin_linger(c);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (c->dead)
        return;
    if (c->write_failed) {
        conn_close(c);
        return;
    }
    c->batching = true;
    if (c->req_active && c->req.finished)
        conn_finish_request(c);
    if (!c->dead && !c->closing)
        conn_on_input(c);
    c->batching = false;
    if (!c->dead) {
        conn_flush(c);
        conn_update_reading(c);
    }
}

/* Close after the output is flushed. Before closing, stop sending and keep
 * reading for a moment: closing with unread input makes the kernel send RST,
 * which can destroy the response (an error reply to an unread body) before
 * the client reads it. nginx calls this lingering close. */
static void conn_begin_linger(struct conn *c)
{
    c->closing = true;
    if (c->lingering || evbuffer_get_length(c->out) > 0)
        return; /* conn_on_drained comes back here when flushed */
    if (c->peer_eof) {
        conn_close(c);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    evbuffer_drain(c->in, evbuffer_get_length(c->in));
    c->lingering = true;
    conn_update_reading(c);
    c->timer_kind = TIMER_NONE;
    event_add(c->timer, c->server->linger_tv);
}

void conn_on_drained(struct conn *c)
{
    if (c->closing && !c->req_active)
        conn_begin_linger(c);
}

void conn_on_eof(struct conn *c)
{
    /* The client stopped sending. A pending response still goes out:
     * half-closed clients read answers. */
    c->peer_eof = true;
    if (c->closing && !c->req_active) {
        conn_close(c);
        return;
    }
    if (!c->req_active)
        conn_on_input(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    enum conn_timer kind = c->timer_kind;
    c->timer_kind = TIMER_NONE;
    if (c->dead || (kind == TIMER_NONE && !c->closing)) /* a deadline that no longer applies */
        return;
    if (c->closing || kind == TIMER_IDLE) { /* idle keep-alive, or lingering over */
        conn_close(c);
        return;
    }
    conn_reject(c, 408, "Request Timeout",
                kind == TIMER_HEADERS ? "the request headers took too long"
                                      : "the request body took too long");
}

struct conn *conn_new(struct server *s, evutil_socket_t fd, const struct sockaddr *sa)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->server = s;
    int one = 1;
    /* Small SSE events and answers must not wait for Nagle + delayed ACK. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(c->peer, sizeof(c->peer), "[%s]:%d", host, port);
    }
    arena_init(&c->req.arena);
    c->req.conn = c;
    c->req.app = s->hooks.app;
    request_reset(&c->req);
    http_parser_init(&c->parser, &s->limits, &c->req);
    c->timer = evtimer_new(s->base, on_timer, c);
    c->resume = event_new(s->base, -1, 0, on_resume, c);

    conn_io_init(c, fd);

    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->stats.open_connections++;
    s->stats.connections_accepted++;
    conn_set_timer(c, TIMER_IDLE);
    return c;
}

void conn_close(struct conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    struct server *s = c->server;
    struct request *req = &c->req;
    if (c->req_active && !req->finished) {
        /* Tell the pending handler first: it detaches from its work. */
        if (req->on_abort)
            req->on_abort(req, req->abort_arg);
        if (!req->status)
            req->status = 499; /* nginx's "client closed request" */
        uint64_t duration = clock_ns() - req->start_ns;
        access_log_write(req, c->peer, c->bytes_out, duration);
        if (s->hooks.on_request_done)
            s->hooks.on_request_done(req, duration, s->hooks.app);
    }
    event_del(c->timer);
    event_del(c->resume);
    conn_io_close(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    /* Freed on a later loop turn: callers up the stack may still look at c
     * (redis's freeClientAsync). */
    c->next = s->graveyard;
    s->graveyard = c;
    event_active(s->reaper, EV_TIMEOUT, 0);
    s->stats.open_connections--;
    if (s->draining)
        server_maybe_finish_drain(s);
}

void conn_free(struct conn *c)
{
    request_reset(&c->req);
    event_free(c->timer);
    event_free(c->resume);
    conn_io_free(c);
    free(c);
}

void conn_drain(struct conn *c)
{
    if (c->dead)
        return;
    /* An idle keep-alive connection may have a request on its way: closing it
     * now would reset that request unanswered. Give it a short grace; what
     * arrives is answered with "Connection: close". A busy connection closes
     * after the response in progress, which says so. */
    if (!c->req_active && !http_parser_mid_message(&c->parser) && evbuffer_get_length(c->in) == 0) {
        c->timer_kind = TIMER_IDLE;
        event_add(c->timer, c->server->grace_tv);
    }
}
