#ifndef CAFE_HTTP1_H
#define CAFE_HTTP1_H

/* HTTP/1.1 connections (h2o's lib/http1.c over lib/common/socket.c): the one
 * owner of struct conn, over server/socket.h. server.c accepts and hands each
 * descriptor here; response.c writes answers through the small API at the
 * end of this header and never sees a connection's fields. Loop-thread only. */

#include <event2/util.h>
#include <stdbool.h>

#include "base/list.h"
#include "server/server.h"

struct evbuffer;
struct event;
struct event_base;
struct sockaddr;
struct timeval;

/* What the connections of one server share (h2o's h2o_context_t). Its owner
 * calls http1_ctx_init(), then may set the hook. */
struct http1_ctx {
    struct event_base *base;
    const struct server_limits *limits;
    const struct server_hooks *hooks;
    struct server_stats *stats;                /* requests, parse_errors, open_connections */
    const struct timeval *idle_tv, *header_tv; /* header_tv also times the body */
    const struct timeval *linger_tv, *grace_tv, *write_tv;
    struct list conns;     /* open connections */
    struct list graveyard; /* closed, freed by the reaper on a later loop turn */
    struct event *reaper;
    bool draining; /* set by http1_drain(): every answer says "Connection: close" */
    /* After each close (optional): a draining server may be done. */
    void (*on_conn_closed)(void *arg);
    void *closed_arg;
};

void http1_ctx_init(struct http1_ctx *x, struct event_base *base,
                    const struct server_limits *limits, const struct server_hooks *hooks,
                    struct server_stats *stats);
/* Closes every connection (aborting what is pending) and frees them all. */
void http1_ctx_free(struct http1_ctx *x);
/* Serves a connected, non-blocking descriptor (it is ours to close). */
void http1_accept(struct http1_ctx *x, evutil_socket_t fd, const struct sockaddr *sa);
/* Shutdown: answers from now on close their connection; an idle connection
 * gets a short grace for a request already on its way, then closes. */
void http1_drain(struct http1_ctx *x);
/* Closes every connection now; pending handlers get their abort hook. */
void http1_close_all(struct http1_ctx *x);

/* --- for response.c only: how a response reaches its connection ---------- */

/* Where req's response is written, or NULL once its connection is closed. */
struct evbuffer *http1_output(struct request *req);
/* The Server header's value, or NULL for none. */
const char *http1_server_name(const struct request *req);
/* May the connection serve another request after req's response? (The client
 * asked to keep it, still sends, and the server is not draining.) */
bool http1_persistent(const struct request *req);
/* The head of a streamed response is written: the connection is streaming
 * (no deadline; req->generator, if any, is pulled with proceed). */
void http1_stream_started(struct request *req);
/* Bytes were appended to http1_output(req): write them now, or at the end of
 * the batch that is running. True when nothing waits (the connection can take
 * more); false when some wait, and then a generator's proceed is owed. */
bool http1_sent(struct request *req);
/* req's response is complete: the connection finishes it when control
 * returns to it (this loop turn or the next), never under the caller. */
void http1_response_done(struct request *req);

#endif
