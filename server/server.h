#ifndef CAFE_SERVER_H
#define CAFE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "server/limits.h"
#include "server/router.h"

struct event_base;
struct loop_timeline;

/* What the application plugs into the engine. All optional except routes. */
struct server_hooks {
    const char *name; /* the Server header's value, or NULL for none */
    const struct route *routes;
    size_t nroutes;
    void *app; /* copied to req->app */
    /* Where the loop's sections are recorded (base/loop_timeline.h): every
     * connection's batch, named after the handler that ran in it (method
     * and route label, tagged with req->tag), and each accept. NULL: none. */
    struct loop_timeline *timeline;
    /* After each response completes or its connection dies: metrics. */
    void (*on_request_done)(struct request *req, uint64_t duration_ns, void *app);
    /* Its handler returned (answered, or pending on work that runs later on
     * the loop, such as a store's reply): the lag warning's last request. */
    void (*on_request_handled)(struct request *req, void *app);
    /* Shutdown began: listeners are closed; finish what is in flight. */
    void (*on_drain_begin)(void *app);
    /* The drain timeout expired: cancel whatever still runs, answering its
     * clients; the engine closes the remaining connections after this. */
    void (*on_drain_timeout)(void *app);
    /* Draining: is work without a connection still running (orders placed
     * with ?wait=0)? The loop exits only when nothing is open and not busy. */
    bool (*busy)(void *app);
};

/* Engine counters, read by /metrics and the stats stream. */
struct server_stats {
    uint64_t connections_accepted;
    uint64_t connections_rejected; /* over max_connections */
    uint64_t requests;
    uint64_t parse_errors;
    unsigned open_connections;
};

struct server;

/* The engine for one listener: limits and hooks are copied. NULL (logged)
 * when limits->max_connections is 0: the one default is the application's. */
struct server *server_new(struct event_base *base, const struct server_limits *limits,
                          const struct server_hooks *hooks);
/* Binds host:port (port 0 picks a free one) with a SOMAXCONN backlog and starts
 * accepting; reuseport sets SO_REUSEPORT, so that several processes bind the
 * same port and the kernel spreads connections over them. Returns the bound
 * port, or -1 with a message on stderr. */
int server_listen(struct server *s, const char *host, int port, bool reuseport);
/* Stops accepting and drains: idle connections get a short grace, in-flight
 * requests drain_timeout_ms, then event_base_loopexit(). Idempotent. */
void server_shutdown(struct server *s);
bool server_draining(const struct server *s);
const struct server_stats *server_stats(const struct server *s);
const struct server_limits *server_limits(const struct server *s);
/* Closes every connection (pending handlers get their abort hook) and frees. */
void server_free(struct server *s);

#endif
