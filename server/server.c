#include "server/server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/loop_timeline.h"
#include "base/xmalloc.h"
#include "server/http1.h"

#define ACCEPT_RETRY_MS 100
#define DRAIN_POLL_MS   20  /* draining: how often to ask whether the work is done */
#define DRAIN_FLUSH_MS  200 /* after the drain timeout: time for the cancelled answers */

/* The listener and the drain; the connections live in server/http1.c. */
struct server {
    struct event_base *base;
    struct server_limits limits;
    struct server_hooks hooks;
    struct server_stats stats;
    struct http1_ctx h1;
    struct evconnlistener *listener;
    struct event *accept_retry; /* re-enables accepting after EMFILE */
    struct event *drain_timer, *drain_poll;
    bool drain_expired;
};

void server_limits_default(struct server_limits *l)
{
    *l = (struct server_limits){
        .max_header_bytes = 16 * 1024,
        .max_header_fields = 100,
        .max_uri_bytes = 8 * 1024,
        .max_body_bytes = 64 * 1024,
        .header_timeout_ms = 10000,
        .idle_timeout_ms = 5000,
        .write_timeout_ms = 10000,
        .max_connections = 0, /* app/main.c derives it from the descriptor limit */
        .drain_timeout_ms = 10000,
        .max_output_bytes = 1024 * 1024,
    };
}

/* Over the connection cap: a canned answer straight to the socket, then
 * close. Costs no allocation, so a flood cannot turn it into memory. */
static void reject_connection(evutil_socket_t fd)
{
    static const char body[] = "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\","
                               "\"status\":503,\"detail\":\"too many open connections\"}\n";
    static char answer[512];
    static int len;
    if (!len)
        len = snprintf(answer, sizeof(answer),
                       "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json"
                       "\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                       sizeof(body) - 1, body);
    ssize_t w = send(fd, answer, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w; /* best effort: the socket is new, its send buffer empty */
    shutdown(fd, SHUT_WR);
    /* Closing with unread input makes the kernel answer RST, which can
     * destroy the 503 before the client reads it: read what has arrived. */
    char sink[4096];
    for (int i = 0; i < 4 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
        ;
    evutil_closesocket(fd);
}

static void accept_one(struct server *s, evutil_socket_t fd, struct sockaddr *sa)
{
    if (s->h1.draining) {
        evutil_closesocket(fd);
        return;
    }
    if (s->stats.open_connections >= s->limits.max_connections) {
        s->stats.connections_rejected++;
        reject_connection(fd);
        return;
    }
    s->stats.connections_accepted++;
    http1_accept(&s->h1, fd, sa);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    static const struct timeline_label label = {"accept", NULL, 0};
    struct server *s = arg;
    uint64_t t0 = loop_timeline_enter(s->hooks.timeline);
    accept_one(s, fd, sa);
    loop_timeline_leave(s->hooks.timeline, t0, 0, &label);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    if (s->listener && !s->h1.draining)
        evconnlistener_enable(s->listener);
}

/* accept() failed: out of descriptors (EMFILE/ENFILE) keeps the listening
 * socket readable, so the loop would spin. Pause accepting for a moment. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct server *s = arg;
    int err = EVUTIL_SOCKET_ERROR();
    static uint64_t last_warn;
    uint64_t now = clock_ns();
    if (now - last_warn > 1000000000u) {
        log_warn("accept failed: %s; pausing accepts for %d ms (%u connections open)",
                 evutil_socket_error_to_string(err), ACCEPT_RETRY_MS, s->stats.open_connections);
        last_warn = now;
    }
    evconnlistener_disable(l);
    struct timeval tv = timeval_from_ms(ACCEPT_RETRY_MS);
    event_add(s->accept_retry, &tv);
}

static void server_maybe_finish_drain(void *arg);

struct server *server_new(struct event_base *base, const struct server_limits *limits,
                          const struct server_hooks *hooks)
{
    if (!limits->max_connections) { /* app/main.c derives it from the descriptor limit */
        log_error("server: max_connections must be set");
        return NULL;
    }
    struct server *s = xcalloc(1, sizeof(*s));
    s->base = base;
    s->limits = *limits;
    s->hooks = *hooks;
    http1_ctx_init(&s->h1, base, &s->limits, &s->hooks, &s->stats);
    s->h1.on_conn_closed = server_maybe_finish_drain;
    s->h1.closed_arg = s;
    s->accept_retry = evtimer_new(base, on_accept_retry, s);
    return s;
}

int server_listen(struct server *s, const char *host, int port, bool reuseport)
{
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE |
                     (reuseport ? LEV_OPT_REUSEABLE_PORT : 0);
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc) {
        log_error("cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai && !s->listener; ai = ai->ai_next)
        s->listener =
            evconnlistener_new_bind(s->base, on_accept, s, flags,
                                    SOMAXCONN /* -1 would mean 128: too small for wrk bursts */,
                                    ai->ai_addr, (int)ai->ai_addrlen);
    freeaddrinfo(res);
    if (!s->listener) {
        log_error("cannot listen on %s:%d: %s", host, port, strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(s->listener, on_accept_error);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&ss, &len);
    return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void finish_drain(struct server *s)
{
    if (s->drain_timer)
        event_del(s->drain_timer);
    if (s->drain_poll)
        event_del(s->drain_poll);
    event_base_loopexit(s->base, NULL);
}

/* After each close, and on a poll: a draining server exits once nothing is
 * open and the application is not busy. */
static void server_maybe_finish_drain(void *arg)
{
    struct server *s = arg;
    if (!s->h1.draining || s->stats.open_connections > 0)
        return;
    if (!s->drain_expired && s->hooks.busy && s->hooks.busy(s->hooks.app)) {
        struct timeval tv = timeval_from_ms(DRAIN_POLL_MS); /* the work ends on its own timers */
        event_add(s->drain_poll, &tv);
        return;
    }
    finish_drain(s);
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    s->drain_expired = true;
    log_warn("drain timeout: cancelling what is still in flight (%u connections open)",
             s->stats.open_connections);
    if (s->hooks.on_drain_timeout)
        s->hooks.on_drain_timeout(s->hooks.app);
    /* Answers produced by the cancellation are queued; give them a moment on
     * the wire, then close whatever is left. */
    struct timeval tv = timeval_from_ms(DRAIN_FLUSH_MS);
    event_add(s->drain_poll, &tv);
}

static void on_drain_poll(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    if (s->drain_expired) {
        http1_close_all(&s->h1);
        finish_drain(s);
        return;
    }
    server_maybe_finish_drain(s);
}

void server_shutdown(struct server *s)
{
    if (s->h1.draining)
        return;
    s->drain_timer = evtimer_new(s->base, on_drain_timeout, s);
    s->drain_poll = evtimer_new(s->base, on_drain_poll, s);
    log_info("shutting down: draining %u connections (timeout %u ms)", s->stats.open_connections,
             s->limits.drain_timeout_ms);
    if (s->listener) {
        evconnlistener_free(s->listener);
        s->listener = NULL;
    }
    event_del(s->accept_retry);
    http1_drain(&s->h1);
    if (s->hooks.on_drain_begin)
        s->hooks.on_drain_begin(s->hooks.app);
    struct timeval tv = timeval_from_ms(s->limits.drain_timeout_ms);
    event_add(s->drain_timer, &tv);
    server_maybe_finish_drain(s);
}

bool server_draining(const struct server *s)
{
    return s->h1.draining;
}

const struct server_stats *server_stats(const struct server *s)
{
    return &s->stats;
}

const struct server_limits *server_limits(const struct server *s)
{
    return &s->limits;
}

void server_free(struct server *s)
{
    if (!s)
        return;
    s->h1.on_conn_closed = NULL; /* no drain to finish any more */
    http1_ctx_free(&s->h1);
    if (s->listener)
        evconnlistener_free(s->listener);
    event_free(s->accept_retry);
    if (s->drain_timer)
        event_free(s->drain_timer);
    if (s->drain_poll)
        event_free(s->drain_poll);
    free(s);
}
