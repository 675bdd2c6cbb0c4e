#ifndef CAFE_CONN_H
#define CAFE_CONN_H

/* Engine-private: one client connection. Only the loop thread touches it;
 * handlers see only their struct request. */

#include <event2/event.h>
#include <stdbool.h>

#include "server/http_parser.h"
#include "server/request.h"

struct server;
struct evbuffer;

enum conn_timer {
    TIMER_NONE,
    TIMER_IDLE,    /* keep-alive: waiting for the next request */
    TIMER_HEADERS, /* a request has begun: the whole header block is due */
    TIMER_BODY,    /* headers are in: the body is due */
};

struct conn {
    struct server *server;
    evutil_socket_t fd;
    struct evbuffer *in, *out;
    struct event *rev, *wev; /* readable; writable (armed only while output waits) */
    struct http_parser parser;
    struct request req; /* the request being parsed or answered */
    struct event *timer;
    struct event *resume; /* deferred: finish a late response, go on with input */
    enum conn_timer timer_kind;
    bool req_active;    /* dispatched, response not yet complete */
    bool in_dispatch;   /* the handler is running right now */
    bool batching;      /* inside a callback that flushes once at its end */
    bool reading;       /* rev is armed */
    bool writing;       /* wev is armed */
    bool write_failed;  /* the peer is gone: close on the next turn */
    bool closing;       /* close once the output is flushed */
    bool lingering;     /* output flushed and shut down: discarding input */
    bool peer_eof;      /* the client stopped sending */
    bool throttled;     /* reading paused: too much unread output */
    bool dead;          /* closed; freed on a later loop turn */
    uint64_t bytes_out; /* response bytes of the current request */
    size_t out_mark;    /* output length when the response began */
    char peer[64];
    struct conn *prev, *next;
};

/* conn.c: the request flow. */
void conn_response_done(struct conn *c); /* response.c: the response is complete */
void conn_close(struct conn *c);         /* now, no flush; idempotent; freed later */
bool conn_should_keep_alive(const struct conn *c);
void conn_on_input(struct conn *c);   /* bytes arrived, or room to answer more */
void conn_on_eof(struct conn *c);     /* conn_io.c: the client stopped sending */
void conn_on_drained(struct conn *c); /* conn_io.c: every output byte is written */

/* conn_io.c: the socket. Reads go straight into evbuffer space (no FIONREAD),
 * answers are written as soon as they exist, and the write event is armed
 * only when the socket pushes back: two system calls per keep-alive request. */
void conn_io_init(struct conn *c, evutil_socket_t fd);
void conn_io_close(struct conn *c); /* stop watching, close the socket */
void conn_io_free(struct conn *c);  /* the events and buffers, on the reaper's turn */
/* Something was appended to c->out: write it now, unless the read callback
 * is running (it writes once when done). Never closes synchronously. */
void conn_output_added(struct conn *c);
void conn_flush(struct conn *c);
/* Arms or disarms reading from the connection's state (input bounded by the
 * header + body limits, output backlog, EOF, closing). */
void conn_update_reading(struct conn *c);

#endif
