#ifndef CAFE_STORE_REDIS_INTERNAL_H
#define CAFE_STORE_REDIS_INTERNAL_H

/* Private parts of the Redis store, shared by cafe/store_redis.c (orders:
 * create, record, read), cafe/store_redis_replicas.c (lease, orphans,
 * cancels addressed to an owner), cafe/store_redis_stream.c (the transition
 * stream) and cafe/store_redis_scripts.c (the Lua). docs/store.md has the
 * key layout and the guarantees. */

#include "base/list.h"
#include "cafe/redis_link.h"
#include "cafe/store.h"

struct redisReply;

enum script_id {
    SCRIPT_CREATE,
    SCRIPT_RECORD,
    SCRIPT_LIST,
    SCRIPT_CLAIM,
    SCRIPT_RECONCILE,
    SCRIPT_COUNT
};
struct redis_script {
    const char *name;
    const char *body;
};
extern const struct redis_script redis_scripts[SCRIPT_COUNT];

/* Transitions one order may hold while its write waits: two per step and
 * three more cover any recipe of MENU_MAX_STEPS; past it the oldest go. */
#define STORE_PENDING_EVENTS (2 * MENU_MAX_STEPS + 3)
#define STORE_PREFIX_MAX     48
#define STORE_KEY_MAX        (STORE_PREFIX_MAX + ORDER_REPLICA_MAX + 16)
#define STORE_FIELDS_MAX     64   /* field/value pairs read back from one record or entry */
#define TRACKED_BUCKETS      4096 /* rs->by_id: a power of two */
#define STORE_BATCH_MAX      256  /* orders per script call (a loop turn's may take several) */

struct pending_event {
    uint8_t event;
    int8_t step;
};

/* An order the store writes for, from its creation until its final record
 * is stored: one write in flight at most, so its writes land in order. */
struct tracked {
    struct list node;          /* rs->tracked */
    struct tracked *same_hash; /* the next in its rs->by_id bucket */
    struct list dirty;         /* on rs->dirty: events not sent, no write in flight */
    struct order *order;       /* a reference */
    bool writing;              /* a write of it is in flight */
    unsigned nev;
    struct pending_event ev[STORE_PENDING_EVENTS];
    struct list syncs; /* struct sync_waiter: wait for what is pending to be stored */
};

struct sync_waiter {
    struct list node;
    struct order *order; /* NULL: waits for every order */
    store_order_fn done;
    void *arg;
};

/* A request record with the store it belongs to (every reply callback gets
 * one back). */
struct store_req {
    struct redis_req hdr; /* first */
    struct redis_store *rs;
};

/* The next command, written in RESP as it is built (reused): its arguments
 * after CMD_HEAD bytes kept free for the "*<argc>\r\n" that goes before
 * them once they are counted. No printf-style formatting per argument. */
#define CMD_HEAD 16
struct cmd_buf {
    char *buf;
    size_t len, cap; /* len counts from buf, CMD_HEAD included */
    unsigned argc;
};

struct redis_store {
    struct order_store base; /* first */
    struct event_base *ev;
    struct store_redis_config cfg; /* defaults filled; strings point below */
    struct redis_url url;
    char host[64]; /* numeric, resolved once */
    char prefix[STORE_PREFIX_MAX + 1];
    char k_events[STORE_KEY_MAX], k_lease[STORE_KEY_MAX], k_replicas[STORE_KEY_MAX];
    char ch_cancel[STORE_KEY_MAX], ch_answer[STORE_KEY_MAX];
    char token[48]; /* this process's lease value */

    struct redis_link *cmd, *sub, *tail; /* one connection per role */
    char sha[SCRIPT_COUNT][41];
    struct store_req script_rq[SCRIPT_COUNT], lease_rq, member_rq, reconcile_rq;
    bool lease_held;      /* a heartbeat succeeded in this process */
    bool reconciled_once; /* the first connection's reconcile (a restart) ran */
    bool claiming;
    struct cmd_buf cmdbuf;

    struct list tracked; /* struct tracked */
    /* The same, by order id: local() runs for every stream entry the event
     * bridge reads, and a scan of a thousand brews there was a third of the
     * server's CPU under load. */
    struct tracked *by_id[TRACKED_BUCKETS];
    struct list dirty;
    struct list creating; /* struct create_req: placed in this loop turn, not sent yet */
    unsigned ntracked, ndirty, nwriting;
    struct list flush_waiters; /* struct sync_waiter with order NULL */
    struct event *flush_ev;    /* made active: a flush at the end of the loop turn */
    struct event *lease_ev;    /* every lease_ms / 4 */
    uint64_t top_id;           /* the highest id this process was given */

    struct list asking; /* struct cancel_ask: cancels sent to an owner */
    uint64_t last_ask;  /* their ids */
    struct store_req sub_cancel_rq, sub_answer_rq;
    unsigned subscribed;

    struct list followers; /* struct store_follow */
    struct store_req tail_rq;
    char tail_last[STORE_EVENT_ID_MAX]; /* the newest entry the tail delivered; "" unknown */
    bool tail_reading;

    bool freeing;
    uint64_t claimed, bad_records, dropped, writes, errors;
    bool overflow_logged;
};

static inline struct redis_store *redis_store_of(struct order_store *s)
{
    return (struct redis_store *)s;
}

/* store_redis.c */
bool cmd_up(const struct redis_store *rs);
void cmd_begin(struct redis_store *rs, const char *name);
void cmd_script(struct redis_store *rs, enum script_id script,
                bool eval); /* EVAL(SHA) .. 0 prefix */
void cmd_arg(struct redis_store *rs, const char *s, size_t n);
/* Room for an argument of n bytes, to be written there before the next cmd_ call. */
char *cmd_arg_space(struct redis_store *rs, size_t n);
void cmd_str(struct redis_store *rs, const char *s);
void cmd_u64(struct redis_store *rs, uint64_t v);
/* Queues the command built on link l: 0, or -1 (not queued; rq not called). */
int cmd_send(struct redis_store *rs, struct redis_link *l, struct redis_req *rq);
bool reply_is_noscript(const struct redisReply *reply);
/* Decodes the field/value array elements[from..] of reply into a snapshot.
 * Returns 0, or -1 with the reason in err. */
int decode_pairs(struct redis_store *rs, const struct redisReply *reply, size_t from,
                 struct order **out, char *err, size_t errlen);

/* store_redis_replicas.c */
void replicas_start(struct redis_store *rs);
void replicas_stop(struct redis_store *rs);
void send_heartbeat(struct redis_store *rs);
void send_reconcile(struct redis_store *rs, const char *reason);
void rs_cancel_send(struct order_store *s, const char *owner, uint64_t id, store_cancel_fn done,
                    void *arg);
void rs_cancel_reply(struct order_store *s, struct store_cancel_request *rq,
                     enum cafe_cancel verdict, enum store_result r);
void rs_claim_orphans(struct order_store *s, store_count_fn done, void *arg);

/* store_redis_stream.c */
void stream_stop(struct redis_store *rs);
void stream_on_cmd_up(struct redis_store *rs);
void rs_events_read(struct order_store *s, const char *after, unsigned max, store_events_fn done,
                    void *arg);
struct store_follow *rs_follow(struct order_store *s, const char *after, store_events_fn fn,
                               void *arg);
void rs_unfollow(struct order_store *s, struct store_follow *f);

#endif
