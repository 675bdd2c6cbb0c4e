/* A non-blocking stream socket: raw events and evbuffers, no bufferevent
 * (which re-adds its write event around every write). See socket.h. */
#include "server/socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
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
    bool reading;  /* the owner takes input */
    bool readable; /* the kernel may hold unread input: an edge came, no short read since */
    bool fin;      /* the peer's FIN has arrived (EPOLLRDHUP): a short read is not the end */
    bool writing;  /* output waits for the kernel (it said EAGAIN): the next EV_WRITE edge */
    bool eof, closed;
    int error;              /* a write failed: on_error reports it from the loop */
    struct evbuffer *in;    /* input the owner left, kept between reads; NULL: none */
    struct evbuffer *out;   /* output the kernel has not taken */
    struct event *wtimeout; /* the write timeout, made at the first EAGAIN */
    const struct timeval *write_timeout;
    const struct sock_handlers *h;
    void *arg;
    struct event io;       /* EV_READ | EV_WRITE | EV_CLOSED, edge-triggered: added once */
    struct event deadline; /* the owner's one deadline */
};

/* One read at a time on the loop thread: every socket reads into the same
 * buffer, and only bytes its owner leaves are copied to its own input (as
 * nginx and h2o keep no read buffer for a connection that waits). While a
 * read is being delivered the socket's input is `delivering`, which holds a
 * reference to the scratch bytes; `none` is the empty input of a socket that
 * keeps nothing. Both are made at the first read and live as long as the
 * process. */
static char scratch[READ_CHUNK];
static struct evbuffer *delivering, *none;

static struct evbuffer *shared_buffers(void)
{
    if (!none && (!(none = evbuffer_new()) || !(delivering = evbuffer_new())))
        abort(); /* out of memory, as xmalloc */
    return none;
}

static void read_later(struct sock *s)
{
    /* From the loop, never under the owner's call: a callback of its own. */
    event_active(&s->io, EV_READ, 0);
}

/* What the owner left of a delivered read is copied out of the scratch
 * buffer: the next socket's read reuses it. */
static void keep_leftover(struct sock *s)
{
    size_t left = evbuffer_get_length(delivering);
    s->in = NULL;
    if (left) {
        struct evbuffer_iovec v;
        evbuffer_peek(delivering, -1, NULL, &v, 1); /* one chain: the reference */
        s->in = evbuffer_new();
        if (!s->in || evbuffer_add(s->in, v.iov_base, v.iov_len) < 0)
            abort(); /* out of memory, as xmalloc */
    }
    evbuffer_drain(delivering, left);
}

static void do_read(struct sock *s)
{
    shared_buffers();
    if (s->in && evbuffer_get_length(s->in) == 0) { /* all used up since: let it go */
        evbuffer_free(s->in);
        s->in = NULL;
    }
    ssize_t n = recv(s->fd, scratch, sizeof(scratch), 0);
    if (n <= 0) {
        int err = n < 0 ? errno : 0;
        if (n < 0 && RETRIABLE(err)) {
            s->readable = err == EINTR;
            if (s->readable)
                read_later(s);
            return;
        }
        s->readable = false;
        sock_set_reading(s, false); /* at EOF the descriptor stays readable */
        if (err) {
            s->h->on_error(s, s->arg, err);
        } else {
            s->eof = true;
            s->h->on_eof(s, s->arg);
        }
        return;
    }
    /* A short read took all there was: more raises another edge. Not so
     * for a FIN that came with the bytes: the next read returns 0. */
    s->readable = (size_t)n == sizeof(scratch) || s->fin;
    if (s->in) { /* after bytes the owner left: appended, in order */
        if (evbuffer_add(s->in, scratch, (size_t)n) < 0)
            abort();
        s->h->on_read(s, s->arg);
    } else {
        evbuffer_add_reference(delivering, scratch, (size_t)n, NULL, NULL);
        s->in = delivering;
        s->h->on_read(s, s->arg);
        keep_leftover(s);
    }
    if (s->readable && s->reading) /* as level-triggered polling would: on a later callback */
        read_later(s);
}

static void on_write_timeout(evutil_socket_t fd, short what, void *arg);

/* Writes until the output is empty or the kernel pushes back; false when the
 * peer is gone (errno in s->error). While output waits, the write timeout
 * runs from the last byte the kernel took. */
static bool write_out(struct sock *s)
{
    bool moved = false;
    while (evbuffer_get_length(s->out) > 0) {
        int n = evbuffer_write(s->out, s->fd);
        if (n > 0) {
            moved = true;
            continue;
        }
        if (n < 0 && !RETRIABLE(errno)) {
            s->error = errno;
            return false;
        }
        break;
    }
    bool want = evbuffer_get_length(s->out) > 0;
    if (want && s->write_timeout && (moved || !s->writing)) {
        if (!s->wtimeout)
            s->wtimeout = evtimer_new(event_get_base(&s->io), on_write_timeout, s);
        event_add(s->wtimeout, s->write_timeout);
    } else if (!want && s->writing && s->wtimeout) {
        event_del(s->wtimeout);
    }
    s->writing = want;
    return true;
}

static void fail_write(struct sock *s)
{
    s->writing = false;
    if (s->wtimeout)
        event_del(s->wtimeout);
    sock_set_reading(s, false);
    s->h->on_error(s, s->arg, s->error);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    struct sock *s = arg;
    if (s->closed)
        return;
    if ((what & EV_WRITE) && (s->writing || s->error)) {
        if (s->error || !write_out(s)) {
            fail_write(s);
            return;
        }
        s->h->on_drain(s, s->arg);
        if (s->closed)
            return;
    }
    if (what & EV_CLOSED)
        s->fin = true;
    if (what & (EV_READ | EV_CLOSED)) {
        s->readable = true;
        if (s->reading)
            do_read(s);
    }
}

static void on_write_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct sock *s = arg;
    s->error = ETIMEDOUT;
    fail_write(s);
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
    s->out = evbuffer_new();
    /* Registered once (one epoll_ctl for the connection's life): reading
     * and writing are our own flags, the edges say when to look again. */
    event_assign(&s->io, base, fd, EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST, on_io, s);
    evtimer_assign(&s->deadline, base, on_deadline, s);
    event_add(&s->io, NULL);
    return s;
}

struct evbuffer *sock_input(struct sock *s)
{
    return s->in ? s->in : shared_buffers();
}

struct evbuffer *sock_output(struct sock *s)
{
    return s->out;
}

void sock_set_reading(struct sock *s, bool on)
{
    on = on && !s->eof && !s->closed;
    if (on && !s->reading && s->readable) /* an edge came while reading was off */
        read_later(s);
    s->reading = on;
}

size_t sock_flush(struct sock *s)
{
    if (!s->closed && !s->error && !s->writing && !write_out(s))
        event_active(&s->io, EV_WRITE, 0); /* reported from the loop, never under the caller */
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
        event_add(&s->deadline, tv);
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
    event_del(&s->io);
    event_del(&s->deadline);
    if (s->wtimeout)
        event_del(s->wtimeout);
    s->reading = s->writing = false;
    evutil_closesocket(s->fd);
    s->fd = -1;
}

void sock_free(struct sock *s)
{
    sock_close(s);
    if (s->wtimeout)
        event_free(s->wtimeout);
    if (s->in && s->in != delivering)
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
