#ifndef CAFE_CONN_H
#define CAFE_CONN_H

/* Engine-private: one client connection. Only the loop thread touches it;
 * handlers see only their struct request. */

#include <event2/bufferevent.h>
#include <stdbool.h>

#include "server/http_parser.h"
#include "server/request.h"

struct server;

enum conn_timer {
    TIMER_NONE,
    TIMER_IDLE,    /* keep-alive: waiting for the next request */
    TIMER_HEADERS, /* a request has begun: the whole header block is due */
    TIMER_BODY,    /* headers are in: the body is due */
};

struct conn {
    struct server *server;
    struct bufferevent *bev;
    struct http_parser parser;
    struct request req; /* the request being parsed or answered */
    struct event *timer;
    struct event *resume; /* deferred: go on with pipelined input */
    enum conn_timer timer_kind;
    bool req_active;    /* dispatched, response not yet complete */
    bool in_dispatch;   /* the handler is running right now */
    bool closing;       /* close once the output is flushed */
    bool peer_eof;      /* the client stopped sending */
    bool throttled;     /* reading paused: too much unread output */
    bool dead;          /* closed; freed on a later loop turn */
    uint64_t bytes_out; /* response bytes of the current request */
    size_t out_mark;    /* output length when the response began */
    char peer[64];
    struct conn *prev, *next;
};

/* Called by response.c once the current response is complete. */
void conn_response_done(struct conn *c);
/* Closes now (no flush); idempotent; memory freed on a later loop turn. */
void conn_close(struct conn *c);
bool conn_should_keep_alive(const struct conn *c);

#endif
