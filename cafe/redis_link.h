#ifndef CAFE_REDIS_LINK_H
#define CAFE_REDIS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One connection to Redis for one role (commands, Pub/Sub, blocking stream
 * reads), on the café's libevent loop through hiredis 0.14's async API.
 * What hiredis 0.14 leaves to its user, done once here:
 *
 * - timeouts: hiredis has none. A watchdog timer resets the connection when
 *   commands wait longer than timeout_ms for a reply (or the connection and
 *   its handshake take longer), and every waiting callback then runs with a
 *   NULL reply -- so every callback handles NULL;
 * - reconnection: a context is freed by hiredis once disconnected; a new one
 *   is made after a backoff (doubling up to backoff_max_ms), never inside a
 *   callback of the old one;
 * - readiness: a connection counts as up only when its handshake (AUTH,
 *   SELECT, and what the user queues in on_handshake) has been answered, so a
 *   Redis that accepts TCP but does not answer (stopped, busy) stays down.
 *
 * Replies are hiredis's, freed when the callback returns: copy what you keep.
 * Loop-thread only. */

struct event_base;
struct redisReply;
struct redis_link;
struct redis_req;

/* reply is NULL when the connection was lost (or reset, or freed) before
 * the reply came. */
typedef void (*redis_reply_fn)(struct redis_link *l, struct redisReply *reply,
                               struct redis_req *rq);
/* Embed first in the record a command carries; fn runs once per command
 * (for a subscription: once per message, then once with NULL). */
struct redis_req {
    redis_reply_fn fn;
};

struct redis_link_config {
    const char *role; /* "commands", "pubsub", "stream": names it in logs */
    const char *host; /* numeric: hiredis resolves names with a blocking call */
    int port;
    int db;
    const char *password; /* "" or NULL: no AUTH */
    unsigned timeout_ms;
    unsigned backoff_min_ms, backoff_max_ms;
};

struct redis_link_hooks {
    /* A new connection is being made: queue the handshake with
     * redis_link_send() and call redis_link_ready() from the reply that
     * completes it (or redis_link_reset() when it fails). */
    void (*on_handshake)(struct redis_link *l, void *arg);
    void (*on_up)(struct redis_link *l, void *arg);
    /* The connection is gone (why: "connection refused", "no reply in 1000 ms",
     * ...); pending callbacks run with NULL around this call. */
    void (*on_down)(struct redis_link *l, const char *why, void *arg);
    void *arg;
};

enum redis_link_state { LINK_DOWN, LINK_CONNECTING, LINK_UP };

struct redis_link_stats {
    uint64_t commands;   /* sent */
    uint64_t reconnects; /* times it came up again after being up */
    uint64_t timeouts;   /* resets by the watchdog */
};

/* Starts connecting at once. The strings in cfg are copied. */
struct redis_link *redis_link_new(struct event_base *base, const struct redis_link_config *cfg,
                                  const struct redis_link_hooks *hooks);
/* Closes the connection (pending callbacks run with NULL) and frees the link.
 * Never from inside one of its callbacks. */
void redis_link_free(struct redis_link *l);

/* Queues a command (handshake commands while connecting, any once up): 0, or
 * -1 when there is no connection to queue it on (rq->fn is not called). */
int redis_link_send(struct redis_link *l, struct redis_req *rq, int argc, const char **argv,
                    const size_t *len);
/* The same for a command already in RESP (cmd[0..len)). */
int redis_link_send_formatted(struct redis_link *l, struct redis_req *rq, const char *cmd,
                              size_t len);
/* Writes what is queued now, not on the loop's next turn (the connection
 * may be lost in here: pending callbacks then run with NULL). */
void redis_link_write(struct redis_link *l);
/* SUBSCRIBE channel: rq->fn gets the confirmation, every message, then NULL. */
int redis_link_subscribe(struct redis_link *l, struct redis_req *rq, const char *channel);
void redis_link_ready(struct redis_link *l);
/* Drops the connection now (pending callbacks run with NULL) and reconnects
 * after the backoff. */
void redis_link_reset(struct redis_link *l, const char *why);

enum redis_link_state redis_link_state(const struct redis_link *l);
static inline bool redis_link_up(const struct redis_link *l)
{
    return redis_link_state(l) == LINK_UP;
}
/* "up", "connecting", or "down: <why>" (the link's own buffer). */
const char *redis_link_describe(const struct redis_link *l);
/* CLOCK_MONOTONIC ns since which the link is up; 0 when it is not. */
uint64_t redis_link_up_since(const struct redis_link *l);
void redis_link_get_stats(const struct redis_link *l, struct redis_link_stats *st);

/* Reply helpers: whether reply is an error (and then its text), an integer,
 * a string (copied into buf, truncated). */
bool redis_reply_is_error(const struct redisReply *reply, const char **text);
bool redis_reply_integer(const struct redisReply *reply, long long *out);
bool redis_reply_string(const struct redisReply *reply, char *buf, size_t size);

#endif
