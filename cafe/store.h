#ifndef CAFE_STORE_H
#define CAFE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "cafe/order.h"

/* The order store: where orders live, behind one small interface so the café
 * (and, through it, the handlers) never knows which store it has
 * (docs/store.md). Two implementations: the bounded in-memory book
 * (store_memory_new, the default) and Redis (store_redis_new, shared by every
 * replica). Neither knows HTTP.
 *
 * Every operation is asynchronous: it completes by calling its callback once,
 * on the loop thread, with a result. The memory store completes before the
 * call returns (it has nothing to wait for, and it is the default path); the
 * Redis store completes on a later loop turn, except for a fast refusal
 * (store unavailable) which may also come before the call returns. So every
 * caller prepares everything its callback needs *before* the call and touches
 * nothing the callback may have freed after it. Callbacks hold an order id or
 * a small request record, never a connection. Loop-thread only. */

struct event_base;
struct order_store;
struct store_cancel_request; /* a cancel addressed to this replica; answer it once */
struct store_follow;         /* one follower of the transition stream */

enum store_result {
    STORE_OK,
    STORE_NOT_FOUND,     /* no such order (never, or evicted from the bounded book) */
    STORE_UNAVAILABLE,   /* the store cannot be reached now, or did not answer in time */
    STORE_BAD_RECORD,    /* what the store holds is unreadable (wrong type, truncated) */
    STORE_CONFLICT,      /* the store already holds another final state for the order */
    STORE_OWNER_GONE,    /* the replica that owns the order is gone (its lease lapsed) */
    STORE_OWNER_TIMEOUT, /* the owner did not answer a cancel in time */
    STORE_GAP,           /* (follow) entries were trimmed between the id asked and the first */
};
/* "store unavailable", ...: a phrase for logs and problem details. */
const char *store_result_text(enum store_result r);

#define STORE_EVENT_ID_MAX 48 /* "1700000000000-12" and room to spare */

/* One entry of the transition stream: every replica's transitions, in order.
 * id is the entry's stream id ("<ms>-<seq>", increasing), usable as an SSE id
 * to resume from. */
struct store_event {
    char id[STORE_EVENT_ID_MAX];
    enum cafe_event event;
    int step;                   /* step index for CAFE_STEP_*, else -1 */
    char by[ORDER_REPLICA_MAX]; /* the replica that made the transition */
    struct order *order;        /* borrowed for the callback; order_ref() to keep */
};

/* Completions. Orders passed to them are borrowed for the call (order_ref()
 * to keep one); an order is NULL unless r is STORE_OK. */
typedef void (*store_orders_fn)(struct order *const *orders, unsigned n, enum store_result r,
                                void *arg);
typedef void (*store_order_fn)(struct order *o, enum store_result r, void *arg);
typedef void (*store_events_fn)(const struct store_event *ev, unsigned n, enum store_result r,
                                void *arg);
typedef void (*store_cancel_fn)(enum cafe_cancel verdict, enum store_result r, void *arg);
typedef void (*store_count_fn)(unsigned n, enum store_result r, void *arg);
/* A cancel for an order this replica owns, sent by another replica: the
 * owner cancels it and answers with order_store_cancel_reply(), once. */
typedef void (*store_cancel_request_fn)(uint64_t id, struct store_cancel_request *rq, void *arg);

struct store_stats {
    bool up;           /* orders can be placed (the memory store always can) */
    const char *state; /* "up", "connecting", "down: <why>" -- static or store-owned */
    unsigned tracked;  /* orders whose transitions the store still holds for writing */
    unsigned buffered; /* of them, waiting for the store to come back */
    uint64_t dropped;  /* transitions dropped because the buffer was full */
    uint64_t reconnects, timeouts, bad_records, claimed, writes, errors;
};

struct order_store_ops {
    /* Assigns n consecutive fresh ids to orders (queued, id 0) and stores each
     * one's first record, listing entry and stream entry (order_queued)
     * together; done(orders, n, STORE_OK) once they are stored -- an order is
     * never acknowledged before -- else nothing was stored and n orders come
     * back with r (ids still 0). The store keeps what it needs of them. */
    void (*create)(struct order_store *s, struct order *const *orders, unsigned n,
                   store_orders_fn done, void *arg);
    /* The order changed (ev, step): its record, its place in the listing and
     * a stream entry change together, written in the background (coalesced
     * per loop turn, kept in a bounded buffer while the store is down). */
    void (*record)(struct order_store *s, struct order *o, enum cafe_event ev, int step);
    /* done(o, r) once everything recorded for o (NULL: for every order) so
     * far is stored: STORE_OK, or why not (unavailable: kept for later while
     * the store is down; conflict; bad record). */
    void (*sync)(struct order_store *s, struct order *o, store_order_fn done, void *arg);
    void (*get)(struct order_store *s, uint64_t id, store_order_fn done, void *arg);
    /* The live order with this id if this replica brews it or still writes
     * it, else NULL (no round trip). */
    struct order *(*local)(struct order_store *s, uint64_t id);
    /* Newest first: up to limit orders in status (< 0: any). Unreadable
     * records are skipped (logged, counted in bad_records). */
    void (*list)(struct order_store *s, int status, unsigned limit, store_orders_fn done,
                 void *arg);
    /* Asks owner (another replica) to cancel order id; done(verdict, r) once
     * it has (STORE_OK), or with why not, within a bounded wait. */
    void (*cancel_send)(struct order_store *s, const char *owner, uint64_t id, store_cancel_fn done,
                        void *arg);
    void (*cancel_reply)(struct order_store *s, struct store_cancel_request *rq,
                         enum cafe_cancel verdict, enum store_result r);
    /* Fails every unfinished order of replicas whose lease lapsed (reason
     * "replica lost"), once across all survivors; done(count, r). The Redis
     * store also runs this on its own every lease period. */
    void (*claim_orphans)(struct order_store *s, store_count_fn done, void *arg);
    /* Up to max stream entries after id (NULL or "0": from the oldest kept). */
    void (*events_read)(struct order_store *s, const char *after, unsigned max,
                        store_events_fn done, void *arg);
    /* Delivers every entry after `after` (NULL: from now on), in order, in
     * batches, until unfollow; the first batch has STORE_GAP if entries
     * between after and it were trimmed. */
    struct store_follow *(*follow)(struct order_store *s, const char *after, store_events_fn fn,
                                   void *arg);
    void (*unfollow)(struct order_store *s, struct store_follow *f);
    void (*stats)(struct order_store *s, struct store_stats *st);
    /* Everything pending completes (unavailable) first, then all is freed. */
    void (*free)(struct order_store *s);
};

/* What every implementation embeds first. */
struct order_store {
    const struct order_store_ops *ops;
    const char *kind; /* "memory", "redis" */
    char replica[ORDER_REPLICA_MAX];
    const struct menu *menu; /* decodes records; outlives the store */
    store_cancel_request_fn on_cancel;
    void *on_cancel_arg;
};

/* The in-memory book (cafe/store_memory.c): the most recent max_orders
 * orders, ids from 1, the last stream_max transitions. Completes every
 * operation before the call returns. */
struct order_store *store_memory_new(const struct menu *menu, unsigned max_orders,
                                     unsigned stream_max, const char *replica);
/* The memory book's synchronous face (its own get and list, and the unit
 * tests' tests/lib/cafe_sync.h); NULL / 0 for any other store. */
struct order *store_memory_find(struct order_store *s, uint64_t id);
unsigned store_memory_each(struct order_store *s, int status, unsigned limit,
                           void (*fn)(struct order *o, void *arg), void *arg);

/* Redis (cafe/store_redis.c), shared by every replica; see docs/store.md. */
struct store_redis_config {
    const char *url;         /* redis://[:password@]HOST[:PORT][/DB] */
    const char *prefix;      /* key namespace, e.g. "cafe:" */
    const char *replica;     /* this replica's id, carried in every order */
    unsigned max_orders;     /* the shared book keeps the newest N (0: 10000) */
    unsigned stream_max;     /* transition stream bound, MAXLEN ~ (0: 10000) */
    unsigned timeout_ms;     /* no reply this long resets the connection (0: 1000) */
    unsigned lease_ms;       /* lease TTL, refreshed every lease_ms/4 (0: 2000) */
    unsigned cancel_wait_ms; /* bounded wait for a remote owner's cancel (0: 2000) */
    unsigned buffer_max;     /* orders whose transitions wait for the store (0: 10000) */
    unsigned backoff_max_ms; /* reconnect backoff ceiling (0: 1000) */
};
/* Resolves the host (blocking getaddrinfo: call before the loop serves) and
 * starts connecting; placing fails (unavailable) until connected. NULL with a
 * reason in err for a bad URL or an unknown host. */
struct order_store *store_redis_new(struct event_base *base, const struct menu *menu,
                                    const struct store_redis_config *cfg, char *err, size_t errlen);

/* redis://[:password@]host[:port][/db] -> its parts (pure; unit-tested). 0 or
 * -1 with a reason in err. */
struct redis_url {
    char host[256];
    int port;
    int db;
    char password[128];
};
int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen);
/* url as logs may show it: a password becomes "***" (anything else as is). */
void redis_url_redact(const char *url, char *buf, size_t size);

/* The calls, through the table. */
static inline void order_store_create(struct order_store *s, struct order *const *orders,
                                      unsigned n, store_orders_fn done, void *arg)
{
    s->ops->create(s, orders, n, done, arg);
}
static inline void order_store_record(struct order_store *s, struct order *o, enum cafe_event ev,
                                      int step)
{
    s->ops->record(s, o, ev, step);
}
static inline void order_store_sync(struct order_store *s, struct order *o, store_order_fn done,
                                    void *arg)
{
    s->ops->sync(s, o, done, arg);
}
static inline void order_store_get(struct order_store *s, uint64_t id, store_order_fn done,
                                   void *arg)
{
    s->ops->get(s, id, done, arg);
}
static inline struct order *order_store_local(struct order_store *s, uint64_t id)
{
    return s->ops->local(s, id);
}
static inline void order_store_list(struct order_store *s, int status, unsigned limit,
                                    store_orders_fn done, void *arg)
{
    s->ops->list(s, status, limit, done, arg);
}
static inline void order_store_cancel_send(struct order_store *s, const char *owner, uint64_t id,
                                           store_cancel_fn done, void *arg)
{
    s->ops->cancel_send(s, owner, id, done, arg);
}
static inline void order_store_cancel_reply(struct order_store *s, struct store_cancel_request *rq,
                                            enum cafe_cancel verdict, enum store_result r)
{
    s->ops->cancel_reply(s, rq, verdict, r);
}
static inline void order_store_claim_orphans(struct order_store *s, store_count_fn done, void *arg)
{
    s->ops->claim_orphans(s, done, arg);
}
static inline void order_store_events_read(struct order_store *s, const char *after, unsigned max,
                                           store_events_fn done, void *arg)
{
    s->ops->events_read(s, after, max, done, arg);
}
static inline struct store_follow *order_store_follow(struct order_store *s, const char *after,
                                                      store_events_fn fn, void *arg)
{
    return s->ops->follow(s, after, fn, arg);
}
static inline void order_store_unfollow(struct order_store *s, struct store_follow *f)
{
    s->ops->unfollow(s, f);
}
static inline void order_store_stats(struct order_store *s, struct store_stats *st)
{
    s->ops->stats(s, st);
}
static inline void order_store_on_cancel(struct order_store *s, store_cancel_request_fn fn,
                                         void *arg)
{
    s->on_cancel = fn;
    s->on_cancel_arg = arg;
}
void order_store_free(struct order_store *s);

#endif
