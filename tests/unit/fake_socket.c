/* server/socket.h without a network, for the connection's unit tests.
 *
 * A test #includes this file and links the engine library as usual: every
 * symbol server/socket.c defines is defined here, so the linker never pulls
 * socket.o out of the archive (a missing one fails the link loudly with a
 * duplicate definition). The rest of the engine is the real code, on a real
 * event_base that only ever runs deferred callbacks (the connection's resume,
 * the reaper, the SSE hub's flush).
 *
 * Each socket has a peer the test drives: what the peer sends waits in an
 * inbox (the kernel's receive buffer) until the server reads, 16 KiB at a
 * time, while its reading is on; what the server writes goes to the wire
 * (what the peer has read) as far as the peer's room allows, the rest waits
 * in the output as after EAGAIN. Time is a test clock: deadlines and the
 * write timeout fire only in fake_advance(). fake_run() delivers whatever
 * can be delivered and runs the loop until nothing moves. */
#include <assert.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "server/socket.h"

#define FAKE_READ_CHUNK 16384
#define FAKE_MAX_SOCKS  16
#define FAKE_API        static __attribute__((unused)) /* a test uses what it needs */

struct sock {
    evutil_socket_t fd;
    struct evbuffer *in, *out;
    struct evbuffer *inbox; /* sent by the peer, not read by the server yet */
    struct evbuffer *wire;  /* written by the server and read by the peer */
    const struct sock_handlers *h;
    void *arg;
    const struct timeval *write_timeout;
    size_t room;          /* bytes the peer still takes before EAGAIN */
    uint64_t deadline_at; /* test clock, ms; 0: none */
    uint64_t write_due;   /* the write event's timeout; 0: not armed */
    unsigned deadlines;   /* sock_set_deadline() calls: timer operations */
    unsigned reads;       /* recv calls that returned bytes */
    unsigned writes;      /* writev calls that moved bytes */
    bool reading, peer_fin, eof_told, reset, shut, closed, freed;
};

/* Live sockets by descriptor; every socket ever made, so a test may look at
 * one after the server freed it (fake_forget() frees them). */
static struct sock *fake_socks[FAKE_MAX_SOCKS];
static struct sock *fake_made[FAKE_MAX_SOCKS];
static uint64_t fake_now; /* ms */

static uint64_t ms_of(const struct timeval *tv)
{
    return (uint64_t)tv->tv_sec * 1000 + (uint64_t)tv->tv_usec / 1000;
}

/* --- server/socket.h ---------------------------------------------------------- */

struct sock *sock_new(struct event_base *base, evutil_socket_t fd, const struct sock_handlers *h,
                      void *arg, const struct timeval *write_timeout)
{
    assert(fd >= 0 && fd < FAKE_MAX_SOCKS && !fake_socks[fd]);
    struct sock *s = calloc(1, sizeof(*s));
    s->fd = fd;
    s->h = h;
    s->arg = arg;
    s->write_timeout = write_timeout;
    s->in = evbuffer_new();
    s->out = evbuffer_new();
    s->inbox = evbuffer_new();
    s->wire = evbuffer_new();
    s->room = SIZE_MAX;
    fake_socks[fd] = s;
    fake_made[fd] = s;
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
    s->reading = on && !s->eof_told && !s->closed;
}

/* The kernel takes what the peer has room for. */
static void fake_write(struct sock *s)
{
    size_t n = evbuffer_get_length(s->out);
    if (n > s->room)
        n = s->room;
    if (n) { /* copied, as the kernel does: referenced memory is released */
        char *copy = malloc(n);
        evbuffer_remove(s->out, copy, n);
        evbuffer_add(s->wire, copy, n);
        free(copy);
        s->room -= n;
        s->writes++;
    }
    if (evbuffer_get_length(s->out) == 0)
        s->write_due = 0;
    else if (s->write_timeout) /* armed, or restarted by progress */
        s->write_due = fake_now + ms_of(s->write_timeout);
    else
        s->write_due = UINT64_MAX;
}

size_t sock_flush(struct sock *s)
{
    if (!s->closed && !s->write_due)
        fake_write(s);
    return evbuffer_get_length(s->out);
}

size_t sock_pending(const struct sock *s)
{
    return evbuffer_get_length(s->out);
}

void sock_shutdown(struct sock *s)
{
    s->shut = true;
}

void sock_set_deadline(struct sock *s, const struct timeval *tv)
{
    if (s->closed)
        return;
    s->deadline_at = fake_now + ms_of(tv);
    s->deadlines++;
}

const struct timeval *sock_timeout(struct event_base *base, unsigned ms)
{
    static struct timeval tvs[16];
    static unsigned n;
    for (unsigned i = 0; i < n; i++)
        if (ms_of(&tvs[i]) == ms)
            return &tvs[i];
    assert(n < 16);
    tvs[n] = (struct timeval){.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000};
    return &tvs[n++];
}

void sock_close(struct sock *s)
{
    s->closed = true;
    s->reading = false;
    s->write_due = s->deadline_at = 0;
}

void sock_free(struct sock *s)
{
    sock_close(s);
    assert(!s->freed);
    s->freed = true;
    fake_socks[s->fd] = NULL;
    evbuffer_free(s->out); /* drops queued output: references get their cleanup */
    s->out = evbuffer_new();
}

void sock_peer_name(const struct sockaddr *sa, char *buf, size_t size)
{
    snprintf(buf, size, "fake");
}

/* --- the test's side ---------------------------------------------------------- */

/* The socket the server made for fd (NULL once freed). */
FAKE_API struct sock *fake_sock(int fd)
{
    return fake_socks[fd];
}

/* Frees every socket the server has freed; true if it freed all it made. */
FAKE_API bool fake_forget(void)
{
    bool all = true;
    for (int fd = 0; fd < FAKE_MAX_SOCKS; fd++) {
        struct sock *s = fake_made[fd];
        if (!s)
            continue;
        all = all && s->freed;
        evbuffer_free(s->in);
        evbuffer_free(s->out);
        evbuffer_free(s->inbox);
        evbuffer_free(s->wire);
        free(s);
        fake_made[fd] = fake_socks[fd] = NULL;
    }
    return all;
}

/* The peer sends bytes (they wait until the server reads). */
FAKE_API void fake_send(struct sock *s, const char *data)
{
    evbuffer_add(s->inbox, data, strlen(data));
}

FAKE_API void fake_send_fin(struct sock *s)
{
    s->peer_fin = true;
}

/* The peer resets the connection: the next read fails. */
FAKE_API void fake_reset(struct sock *s)
{
    s->reset = true;
}

/* The peer reads n more bytes (SIZE_MAX: everything from now on). */
FAKE_API void fake_make_room(struct sock *s, size_t n)
{
    s->room = n == SIZE_MAX || s->room > SIZE_MAX - n ? SIZE_MAX : s->room + n;
}

/* Delivers one event to s if one is due; true if it did. */
FAKE_API bool fake_deliver(struct sock *s)
{
    if (s->closed)
        return false;
    if (s->reset) {
        s->reset = false;
        s->h->on_error(s, s->arg, 104 /* ECONNRESET */);
        return true;
    }
    if (s->write_due && s->room && evbuffer_get_length(s->out)) { /* writable again */
        fake_write(s);
        s->h->on_drain(s, s->arg);
        return true;
    }
    if (!s->reading)
        return false;
    if (evbuffer_get_length(s->inbox)) {
        evbuffer_remove_buffer(s->inbox, s->in, FAKE_READ_CHUNK);
        s->reads++;
        s->h->on_read(s, s->arg);
        return true;
    }
    if (s->peer_fin && !s->eof_told) {
        s->eof_told = true;
        s->reading = false;
        s->h->on_eof(s, s->arg);
        return true;
    }
    return false;
}

/* Runs the sockets' events and the loop's deferred ones until nothing moves. */
FAKE_API void fake_run(struct event_base *base)
{
    for (;;) {
        /* One pass runs what is active and any timer already due (the SSE
         * hub's zero-length batching window). */
        event_base_loop(base, EVLOOP_NONBLOCK);
        bool moved = false;
        for (int fd = 0; fd < FAKE_MAX_SOCKS; fd++)
            if (fake_socks[fd] && fake_deliver(fake_socks[fd]))
                moved = true;
        if (!moved && event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE) == 0)
            return;
    }
}

/* Advances the test clock by ms, firing what falls due, then fake_run(). */
FAKE_API void fake_advance(struct event_base *base, uint64_t ms)
{
    fake_now += ms;
    for (int fd = 0; fd < FAKE_MAX_SOCKS; fd++) {
        struct sock *s = fake_socks[fd];
        if (s && !s->closed && s->write_due && fake_now >= s->write_due) {
            s->write_due = 0;
            s->h->on_error(s, s->arg, 110 /* ETIMEDOUT */);
        }
        s = fake_socks[fd];
        if (s && !s->closed && s->deadline_at && fake_now >= s->deadline_at) {
            s->deadline_at = 0;
            s->h->on_deadline(s, s->arg);
        }
    }
    fake_run(base);
}

/* What the peer has read so far, taken off the wire (the caller frees it). */
FAKE_API char *fake_take(struct sock *s)
{
    size_t n = evbuffer_get_length(s->wire);
    char *text = malloc(n + 1);
    evbuffer_remove(s->wire, text, n);
    text[n] = '\0';
    return text;
}
