/* A non-blocking stream socket: raw events and evbuffers, no bufferevent
 * (which re-adds its write event around every write). See socket.h. */
#include "server/socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "base/xmalloc.h"

#define READ_CHUNK 16384 /* libevent's own single-read size */

/* The socket is non-blocking: these mean "not now", not "gone". */
#define RETRIABLE(e) ((e) == EAGAIN || (e) == EWOULDBLOCK || (e) == EINTR)

struct sock {
    evutil_socket_t fd;
    struct evbuffer *in, *out;
    struct event *rev, *wev, *deadline;
    const struct timeval *write_timeout;
    const struct sock_handlers *h;
    void *arg;
    int error;    /* a write failed: on_error reports it from the write event */
    bool reading; /* rev is armed */
    bool writing; /* wev is armed: the kernel is full, output waits for it */
    bool eof, closed;
};

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct sock *s = arg;
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(s->in, READ_CHUNK, &v, 1) < 1) {
        sock_set_reading(s, false);
        s->h->on_error(s, s->arg, ENOMEM);
        return;
    }
    ssize_t n = recv(fd, v.iov_base, v.iov_len, 0);
    if (n <= 0) {
        evbuffer_commit_space(s->in, NULL, 0);
        if (n < 0 && RETRIABLE(errno))
            return;
        int err = n < 0 ? errno : 0;
        sock_set_reading(s, false); /* at EOF the descriptor stays readable */
        if (err) {
            s->h->on_error(s, s->arg, err);
        } else {
            s->eof = true;
            s->h->on_eof(s, s->arg);
        }
        return;
    }
    v.iov_len = (size_t)n;
    evbuffer_commit_space(s->in, &v, 1);
    s->h->on_read(s, s->arg);
}

/* Writes until the output is empty or the kernel pushes back; false when the
 * peer is gone (errno in s->error). */
static bool write_out(struct sock *s)
{
    while (evbuffer_get_length(s->out) > 0) {
        int n = evbuffer_write(s->out, s->fd);
        if (n > 0)
            continue;
        if (n < 0 && !RETRIABLE(errno)) {
            s->error = errno;
            return false;
        }
        break;
    }
    return true;
}

/* Arms the write event exactly while output waits for the kernel. */
static void watch_writable(struct sock *s)
{
    bool want = evbuffer_get_length(s->out) > 0;
    if (want == s->writing)
        return;
    s->writing = want;
    if (want) /* persistent: the timeout restarts whenever a write progresses */
        event_add(s->wev, s->write_timeout);
    else
        event_del(s->wev);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct sock *s = arg;
    if (!s->error && (what & EV_TIMEOUT))
        s->error = ETIMEDOUT;
    if (!s->error && write_out(s)) {
        watch_writable(s);
        s->h->on_drain(s, s->arg);
        return;
    }
    event_del(s->wev);
    s->writing = false;
    sock_set_reading(s, false);
    s->h->on_error(s, s->arg, s->error);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct sock *s = arg;
    s->h->on_deadline(s, s->arg);
}

struct sock *sock_new(struct event_base *base, evutil_socket_t fd, const struct sock_handlers *h,
                      void *arg, const struct timeval *write_timeout)
{
    struct sock *s = xcalloc(1, sizeof(*s));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    s->fd = fd;
    s->h = h;
    s->arg = arg;
    s->write_timeout = write_timeout;
    s->in = evbuffer_new();
    s->out = evbuffer_new();
    s->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, s);
    s->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_writable, s);
    s->deadline = evtimer_new(base, on_deadline, s);
    return s;
}

struct evbuffer *sock_input(struct sock *s)
{
    return s->in;
}

struct evbuffer *sock_output(struct sock *s)
{
    return s->out;
}

void sock_set_reading(struct sock *s, bool on)
{
    on = on && !s->eof && !s->closed;
    if (on == s->reading)
        return;
    s->reading = on;
    if (on)
        event_add(s->rev, NULL);
    else
        event_del(s->rev);
}

size_t sock_flush(struct sock *s)
{
    if (!s->closed && !s->error && !s->writing) {
        if (write_out(s))
            watch_writable(s);
        else /* reported from the write event, never under the caller */
            event_active(s->wev, EV_WRITE, 0);
    }
    return evbuffer_get_length(s->out);
}

size_t sock_pending(const struct sock *s)
{
    return evbuffer_get_length(s->out);
}

void sock_shutdown(struct sock *s)
{
    if (!s->closed)
        shutdown(s->fd, SHUT_WR);
}

void sock_set_deadline(struct sock *s, const struct timeval *tv)
{
    if (!s->closed)
        event_add(s->deadline, tv);
}

const struct timeval *sock_timeout(struct event_base *base, unsigned ms)
{
    struct timeval tv = timeval_from_ms(ms);
    /* libevent returns the queue it already has for a known duration. */
    return event_base_init_common_timeout(base, &tv);
}

void sock_close(struct sock *s)
{
    if (s->closed)
        return;
    s->closed = true;
    event_del(s->rev);
    event_del(s->wev);
    event_del(s->deadline);
    s->reading = s->writing = false;
    evutil_closesocket(s->fd);
    s->fd = -1;
}

void sock_free(struct sock *s)
{
    sock_close(s);
    event_free(s->rev);
    event_free(s->wev);
    event_free(s->deadline);
    evbuffer_free(s->in);
    evbuffer_free(s->out);
    free(s);
}

void sock_peer_name(const struct sockaddr *sa, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(buf, size, "%s:%d", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(buf, size, "[%s]:%d", host, ntohs(in6->sin6_port));
    } else {
        snprintf(buf, size, "?");
    }
}
