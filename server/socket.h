#ifndef CAFE_SOCKET_H
#define CAFE_SOCKET_H

/* A non-blocking stream socket on the event loop: it moves bytes and knows
 * nothing of what they mean (h2o's lib/common/socket.c under lib/http1.c).
 *
 * One edge-triggered event per socket, added once (no epoll_ctl per
 * request): reading and writing are flags of ours, the edges say when to
 * look again. Every socket reads into one buffer shared by the loop (one
 * recv per edge, no FIONREAD); the owner sees it as sock_input() and only
 * what it leaves there is copied into memory of the socket's own, so a
 * connection that waits holds no read buffer (nginx, h2o). The owner
 * appends to the output buffer and calls sock_flush(), which writes at once;
 * only when the kernel pushes back (EAGAIN) does the socket wait for the
 * write edge, with the write timeout. A keep-alive request therefore costs
 * one recv and one writev.
 *
 * Callbacks never run inside a call the owner makes: a write error found by
 * sock_flush() is reported by on_error on a later loop turn, so a caller in
 * the middle of a loop over many sockets (a fan-out) is never pulled out from
 * under. Loop-thread only. tests/unit/fake_socket.c implements this header
 * without a network, for the connection's unit tests. */

#include <event2/util.h>
#include <stdbool.h>
#include <stddef.h>

struct evbuffer;
struct event_base;
struct sockaddr;
struct timeval;
struct sock;

struct sock_handlers {
    /* Bytes were appended to sock_input() (reading must be on). */
    void (*on_read)(struct sock *s, void *arg);
    /* The peer sends no more (it may still read); reading is off for good. */
    void (*on_eof)(struct sock *s, void *arg);
    /* Output that waited for the kernel was written, some or all of it:
     * sock_pending() says how much still waits. */
    void (*on_drain)(struct sock *s, void *arg);
    /* The socket is unusable: reset by the peer (err is the errno), a failed
     * write, or no output byte accepted for the write timeout (ETIMEDOUT).
     * The owner closes it; nothing else is reported after this. */
    void (*on_error)(struct sock *s, void *arg, int err);
    /* The deadline set with sock_set_deadline() has passed. */
    void (*on_deadline)(struct sock *s, void *arg);
};

/* Takes fd (connected and non-blocking, as evconnlistener hands it over) and
 * disables Nagle: small answers and events must not wait for a delayed ACK.
 * Reading starts off. write_timeout (from sock_timeout(), or NULL for none)
 * cuts a peer that accepts no byte of waiting output for that long. */
struct sock *sock_new(struct event_base *base, evutil_socket_t fd, const struct sock_handlers *h,
                      void *arg, const struct timeval *write_timeout);
/* The input: the owner reads and drains it, never adds to it. Valid until
 * the owner returns to the loop (look it up again each time). */
struct evbuffer *sock_input(struct sock *s);
struct evbuffer *sock_output(struct sock *s);
/* Turns reading on or off (cheap when unchanged; off for good after EOF). */
void sock_set_reading(struct sock *s, bool on);
/* Writes what the output holds, unless the kernel is known to be full (then
 * the write event will). Returns the bytes still waiting. */
size_t sock_flush(struct sock *s);
/* Bytes of output not yet accepted by the kernel. */
size_t sock_pending(const struct sock *s);
/* Sends FIN: the peer sees the end of our data; reading goes on. */
void sock_shutdown(struct sock *s);
/* Arms the one deadline: on_deadline runs when tv (from sock_timeout()) has
 * passed, whatever happens meanwhile; a new call replaces the old one. */
void sock_set_deadline(struct sock *s, const struct timeval *tv);
/* A duration for sock_new() and sock_set_deadline(): the same ms always gives the same
 * pointer, and all deadlines of one duration share one O(1) queue
 * (libevent's common timeouts). Valid as long as base. */
const struct timeval *sock_timeout(struct event_base *base, unsigned ms);
/* Stops every event and closes the descriptor; idempotent. The buffers stay
 * readable until sock_free(), so a caller up the stack is never left with a
 * freed buffer. */
void sock_close(struct sock *s);
/* Frees the socket (closing it first if needed). Queued output is dropped:
 * referenced memory gets its cleanup callback. */
void sock_free(struct sock *s);
/* "1.2.3.4:5678" or "[::1]:5678" into buf (for the access log). */
void sock_peer_name(const struct sockaddr *sa, char *buf, size_t size);

#endif
