#ifndef CAFE_SERVER_INTERNAL_H
#define CAFE_SERVER_INTERNAL_H

/* Engine-private state shared by server.c, conn.c and response.c. */

#include <event2/event.h>
#include <event2/listener.h>

#include "server/conn.h"
#include "server/server.h"

struct server {
    struct event_base *base;
    struct server_limits limits;
    struct server_hooks hooks;
    struct server_stats stats;
    struct evconnlistener *listener;
    struct event *accept_retry; /* re-enables accepting after EMFILE */
    struct event *reaper;       /* frees closed connections on a later turn */
    struct event *drain_timer, *drain_poll;
    struct conn *conns;     /* live connections */
    struct conn *graveyard; /* closed, waiting for the reaper */
    const struct timeval *idle_tv, *header_tv, *linger_tv, *grace_tv; /* common timeouts */
    bool draining, drain_expired;
};

struct conn *conn_new(struct server *s, evutil_socket_t fd, const struct sockaddr *sa);
void conn_free(struct conn *c);
/* Draining: close now if nothing is in progress, else after this response. */
void conn_drain(struct conn *c);
/* Checks whether a draining server may exit now. */
void server_maybe_finish_drain(struct server *s);

#endif
