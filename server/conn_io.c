#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/conn.h"
#include "server/server_internal.h"

#define READ_CHUNK 16384

/* The socket is non-blocking: these mean "not now", not "gone". */
#define RETRIABLE(e) ((e) == EAGAIN || (e) == EWOULDBLOCK || (e) == EINTR)

static size_t input_limit(const struct conn *c)
{
    /* One header block and body, plus a read's worth of slack: pipelined
     * requests beyond it wait in the kernel. */
    const struct server_limits *l = &c->server->limits;
    return l->max_header_bytes + l->max_body_bytes + READ_CHUNK;
}

void conn_update_reading(struct conn *c)
{
    if (c->dead)
        return;
    bool want = !c->peer_eof && !c->throttled &&
                (c->lingering || evbuffer_get_length(c->in) < input_limit(c));
    if (want == c->reading)
        return;
    c->reading = want;
    if (want)
        event_add(c->rev, NULL);
    else
        event_del(c->rev);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(c->in, READ_CHUNK, &v, 1) < 1) {
        conn_close(c);
        return;
    }
    ssize_t n = recv(fd, v.iov_base, v.iov_len, 0);
    if (n < 0) {
        evbuffer_commit_space(c->in, NULL, 0);
        if (!RETRIABLE(errno))
            conn_close(c); /* reset by peer */
        return;
    }
    v.iov_len = (size_t)n;
    evbuffer_commit_space(c->in, &v, n > 0 ? 1 : 0);
    if (c->lingering) { /* closing: what the client still sends is dropped */
        evbuffer_drain(c->in, evbuffer_get_length(c->in));
        if (n == 0)
            conn_close(c);
        return;
    }
    c->batching = true;
    if (n == 0)
        conn_on_eof(c);
    else
        conn_on_input(c);
    c->batching = false;
    if (!c->dead) {
        conn_flush(c);
        conn_update_reading(c);
    }
}

void conn_flush(struct conn *c)
{
    if (c->dead || c->write_failed)
        return;
    while (evbuffer_get_length(c->out) > 0) {
        int n = evbuffer_write(c->out, c->fd);
        if (n > 0)
            continue;
        if (n < 0 && !RETRIABLE(errno)) {
            /* The peer is gone. Callers may be iterating (SSE fan-out), so
             * the close happens on the next loop turn, not under them. */
            c->write_failed = true;
            event_active(c->resume, EV_TIMEOUT, 0);
            return;
        }
        break; /* EAGAIN: the kernel's buffer is full */
    }
    size_t left = evbuffer_get_length(c->out);
    if ((left > 0) != c->writing) {
        c->writing = left > 0;
        if (c->writing) { /* the timeout cuts clients that read nothing */
            struct timeval tv = {c->server->limits.write_timeout_ms / 1000,
                                 (c->server->limits.write_timeout_ms % 1000) * 1000};
            event_add(c->wev, &tv);
        } else {
            event_del(c->wev);
        }
    }
    /* Half the backlog is written: take requests again (le-proxy's scheme). */
    if (c->throttled && left <= c->server->limits.max_output_bytes / 2) {
        c->throttled = false;
        event_active(c->resume, EV_TIMEOUT, 0);
    }
    if (!left)
        conn_on_drained(c);
}

void conn_output_added(struct conn *c)
{
    if (!c->batching)
        conn_flush(c);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (what & EV_TIMEOUT) /* no byte accepted for write_timeout_ms */
        conn_close(c);
    else
        conn_flush(c);
}

void conn_io_init(struct conn *c, evutil_socket_t fd)
{
    struct server *s = c->server;
    c->fd = fd;
    c->in = evbuffer_new();
    c->out = evbuffer_new();
    c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_readable, c);
    c->wev = event_new(s->base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
    c->reading = true;
    event_add(c->rev, NULL);
}

void conn_io_close(struct conn *c)
{
    event_del(c->rev);
    event_del(c->wev);
    c->reading = c->writing = false;
    evutil_closesocket(c->fd);
    c->fd = -1;
}

void conn_io_free(struct conn *c)
{
    /* Frees queued output too: SSE blobs referenced in it drop their refs. */
    event_free(c->rev);
    event_free(c->wev);
    evbuffer_free(c->in);
    evbuffer_free(c->out);
}
