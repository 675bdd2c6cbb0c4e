/* What replicas need of the Redis store (docs/store.md, "Replicas"):
 *
 * - a lease: SET <prefix>lease:<replica> <token> PX lease_ms, refreshed every
 *   lease_ms / 4. It lapses on Redis's own clock, so replicas' clocks never
 *   meet. A survivor fails the unfinished orders of every replica whose lease
 *   is gone (claim script), but only once its own connection has been up for
 *   a whole lease period: after a Redis outage every lease is stale, and the
 *   live replicas must get the time to renew theirs first;
 * - the restart rule: the first command on every new connection (reconcile
 *   script) fails this replica's unfinished orders that it no longer brews;
 * - cancels addressed to an owner, over Pub/Sub: the asker publishes
 *   "<ask> <order> <asker>" on <prefix>cancel:<owner>; the owner cancels,
 *   stores, and publishes "<ask> <verdict> <result>" on
 *   <prefix>cancelled:<asker>. The asker waits cancel_wait_ms at most; no
 *   subscriber on the owner's channel and no lease means the owner is gone. */
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/xmalloc.h"
#include "cafe/store_redis-internal.h"

#define REPLICA_LOST "replica lost"

/* The owner's side of one cancel: answered once with rs_cancel_reply(). */
struct store_cancel_request {
    uint64_t ask;
    char from[ORDER_REPLICA_MAX];
};

/* The asker's side: one cancel sent to an owner. */
struct cancel_ask {
    struct store_req base; /* first: the command in flight, if any */
    struct list node;      /* rs->asking until answered */
    uint64_t ask, id;
    char owner[ORDER_REPLICA_MAX];
    store_cancel_fn done; /* NULL once answered */
    void *arg;
    struct event *timer;
    bool in_command; /* a reply is still due: free on it, not before */
};

struct claim_req {
    struct store_req base;
    store_count_fn done; /* NULL: the periodic claim */
    void *arg;
    bool retried;
};

/* --- the lease ---------------------------------------------------------------- */

static void on_heartbeat(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    struct redis_store *rs = ((struct store_req *)req)->rs;
    const char *err;
    char held[sizeof(rs->token)];
    if (!reply)
        return;
    if (redis_reply_is_error(reply, &err)) {
        log_warn("redis store: lease %s refused: %s", rs->k_lease, err);
        return;
    }
    if (!redis_reply_string(reply, held, sizeof(held))) {
        if (rs->lease_held)
            log_warn("redis store: the lease of replica %s had lapsed; other replicas may have "
                     "failed its brews (replica lost)",
                     rs->base.replica);
    } else if (strcmp(held, rs->token) != 0) {
        if (rs->lease_held)
            log_warn("redis store: another process uses replica id %s", rs->base.replica);
        else
            log_info("redis store: replica id %s taken over from an earlier process",
                     rs->base.replica);
    }
    rs->lease_held = true;
}

static void on_member(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    const char *err;
    if (redis_reply_is_error(reply, &err))
        log_warn("redis store: registering the replica refused: %s", err);
}

void send_heartbeat(struct redis_store *rs)
{
    cmd_begin(rs, "SET");
    cmd_str(rs, rs->k_lease);
    cmd_str(rs, rs->token);
    cmd_str(rs, "PX");
    cmd_u64(rs, rs->cfg.lease_ms);
    cmd_str(rs, "GET");
    cmd_send(rs, rs->cmd, &rs->lease_rq.hdr);
    cmd_begin(rs, "SADD");
    cmd_str(rs, rs->k_replicas);
    cmd_str(rs, rs->base.replica);
    cmd_send(rs, rs->cmd, &rs->member_rq.hdr);
}

/* --- the restart rule ------------------------------------------------------------ */

static void on_reconciled(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    struct redis_store *rs = ((struct store_req *)req)->rs;
    long long n;
    const char *err = "not a count";
    char why[200];
    if (!reply)
        return;
    if (!redis_reply_integer(reply, &n)) {
        redis_reply_is_error(reply, &err);
        snprintf(why, sizeof(why), "reconcile: %.150s", err);
        redis_link_reset(l, why);
        return;
    }
    if (n)
        log_warn("redis store: failed %lld unfinished orders of replica %s that it no longer "
                 "brews",
                 n, rs->base.replica);
    rs->claimed += (uint64_t)n;
    rs->reconciled_once = true;
    redis_link_ready(l);
}

void send_reconcile(struct redis_store *rs, const char *reason)
{
    struct list *pos, *tmp;
    cmd_script(rs, SCRIPT_RECONCILE, false);
    cmd_str(rs, rs->base.replica);
    cmd_str(rs, reason);
    cmd_u64(rs, rs->cfg.stream_max);
    cmd_u64(rs, rs->top_id);
    /* What this replica still brews or writes is live; the rest is not. */
    list_for_each_safe(pos, tmp, &rs->tracked)
    {
        cmd_u64(rs, container_of(pos, struct tracked, node)->order->id);
    }
    cmd_send(rs, rs->cmd, &rs->reconcile_rq.hdr);
}

/* --- orphans of lapsed replicas ------------------------------------------------------ */

static int send_claim(struct redis_store *rs, struct claim_req *rq, bool eval)
{
    cmd_script(rs, SCRIPT_CLAIM, eval);
    cmd_str(rs, rs->base.replica);
    cmd_str(rs, REPLICA_LOST);
    cmd_u64(rs, rs->cfg.stream_max);
    return cmd_send(rs, rs->cmd, &rq->base.hdr);
}

static void claim_end(struct claim_req *rq, unsigned n, enum store_result r)
{
    if (rq->done)
        rq->done(n, r, rq->arg);
    else
        rq->base.rs->claiming = false;
    free(rq);
}

static void on_claimed(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    struct claim_req *rq = (struct claim_req *)req;
    struct redis_store *rs = rq->base.rs;
    long long n;
    const char *err;
    if (reply_is_noscript(reply) && !rq->retried) {
        rq->retried = true;
        if (send_claim(rs, rq, true) == 0)
            return;
    }
    if (!redis_reply_integer(reply, &n)) {
        if (redis_reply_is_error(reply, &err))
            log_warn("redis store: claiming orphans failed: %s", err);
        claim_end(rq, 0, STORE_UNAVAILABLE);
        return;
    }
    if (n)
        log_warn("redis store: failed %lld unfinished orders of replicas whose lease lapsed (%s)",
                 n, REPLICA_LOST);
    rs->claimed += (uint64_t)n;
    claim_end(rq, (unsigned)n, STORE_OK);
}

static void claim(struct redis_store *rs, store_count_fn done, void *arg)
{
    struct claim_req *rq = xmalloc(sizeof(*rq));
    *rq = (struct claim_req){{{on_claimed}, rs}, done, arg, false};
    if (!cmd_up(rs) || send_claim(rs, rq, false) < 0)
        claim_end(rq, 0, STORE_UNAVAILABLE);
}

void rs_claim_orphans(struct order_store *s, store_count_fn done, void *arg)
{
    claim(redis_store_of(s), done, arg);
}

static void on_lease_tick(evutil_socket_t fd, short what, void *arg)
{
    struct redis_store *rs = arg;
    if (!cmd_up(rs))
        return;
    send_heartbeat(rs);
    uint64_t up_ns = clock_ns() - redis_link_up_since(rs->cmd);
    if (!rs->claiming && up_ns >= (uint64_t)rs->cfg.lease_ms * 1000000u) {
        rs->claiming = true;
        claim(rs, NULL, NULL);
    }
}

/* --- cancels: the asker ------------------------------------------------------------------ */

static void ask_end(struct cancel_ask *a, enum cafe_cancel verdict, enum store_result r)
{
    store_cancel_fn done = a->done;
    if (done) {
        a->done = NULL;
        list_remove(&a->node);
        event_free(a->timer);
        done(verdict, r, a->arg);
    }
    if (!a->in_command)
        free(a);
}

static void on_ask_timeout(evutil_socket_t fd, short what, void *arg)
{
    ask_end(arg, CANCEL_FINISHED, STORE_OWNER_TIMEOUT);
}

static void on_published(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    struct cancel_ask *a = (struct cancel_ask *)req;
    long long listeners;
    a->in_command = false;
    if (!a->done) { /* timed out meanwhile */
        free(a);
    } else if (!redis_reply_integer(reply, &listeners)) {
        ask_end(a, CANCEL_FINISHED, STORE_UNAVAILABLE);
    } else if (listeners == 0) {
        /* Nobody on its channel: the owner died (its lease may not have
         * lapsed yet) or is reconnecting. The store is fine: say so. */
        ask_end(a, CANCEL_FINISHED, STORE_OWNER_GONE);
    } /* else the owner has it: its answer, or the timer, ends the wait */
}

void rs_cancel_send(struct order_store *s, const char *owner, uint64_t id, store_cancel_fn done,
                    void *arg)
{
    struct redis_store *rs = redis_store_of(s);
    if (!cmd_up(rs) || !redis_link_up(rs->sub)) { /* no way to hear the answer */
        done(CANCEL_FINISHED, STORE_UNAVAILABLE, arg);
        return;
    }
    struct cancel_ask *a = xcalloc(1, sizeof(*a));
    *a = (struct cancel_ask){
        .base = {{on_published}, rs}, .ask = ++rs->last_ask, .id = id, .done = done, .arg = arg};
    snprintf(a->owner, sizeof(a->owner), "%s", owner);
    char channel[STORE_KEY_MAX], msg[ORDER_REPLICA_MAX + 48];
    snprintf(channel, sizeof(channel), "%scancel:%s", rs->prefix, owner);
    snprintf(msg, sizeof(msg), "%" PRIu64 " %" PRIu64 " %s", a->ask, id, rs->base.replica);
    cmd_begin(rs, "PUBLISH");
    cmd_str(rs, channel);
    cmd_str(rs, msg);
    if (cmd_send(rs, rs->cmd, &a->base.hdr) < 0) {
        free(a);
        done(CANCEL_FINISHED, STORE_UNAVAILABLE, arg);
        return;
    }
    a->in_command = true;
    list_push_back(&rs->asking, &a->node);
    a->timer = evtimer_new(rs->ev, on_ask_timeout, a);
    struct timeval tv = timeval_from_ms(rs->cfg.cancel_wait_ms);
    evtimer_add(a->timer, &tv);
}

static void on_answer(struct redis_store *rs, const char *msg)
{
    uint64_t ask;
    unsigned verdict, result;
    if (sscanf(msg, "%" SCNu64 " %u %u", &ask, &verdict, &result) != 3 ||
        verdict > CANCEL_FINISHED || result > STORE_GAP)
        return;
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &rs->asking)
    {
        struct cancel_ask *a = container_of(pos, struct cancel_ask, node);
        if (a->ask == ask) {
            ask_end(a, (enum cafe_cancel)verdict, (enum store_result)result);
            return;
        }
    }
}

/* --- cancels: the owner --------------------------------------------------------------------- */

static void on_request(struct redis_store *rs, const char *msg)
{
    struct store_cancel_request rq;
    uint64_t id;
    _Static_assert(ORDER_REPLICA_MAX == 64, "the %63s below");
    if (sscanf(msg, "%" SCNu64 " %" SCNu64 " %63s", &rq.ask, &id, rq.from) != 3)
        return;
    struct store_cancel_request *copy = xmalloc(sizeof(*copy));
    *copy = rq;
    if (rs->base.on_cancel)
        rs->base.on_cancel(id, copy, rs->base.on_cancel_arg);
    else
        rs_cancel_reply(&rs->base, copy, CANCEL_FINISHED, STORE_NOT_FOUND);
}

static void on_fire_and_forget(struct redis_link *l, struct redisReply *reply,
                               struct redis_req *req)
{
    free(req);
}

void rs_cancel_reply(struct order_store *s, struct store_cancel_request *rq,
                     enum cafe_cancel verdict, enum store_result r)
{
    struct redis_store *rs = redis_store_of(s);
    if (cmd_up(rs)) { /* else the asker's wait ends it */
        char channel[STORE_KEY_MAX], msg[64];
        snprintf(channel, sizeof(channel), "%scancelled:%s", rs->prefix, rq->from);
        snprintf(msg, sizeof(msg), "%" PRIu64 " %d %d", rq->ask, (int)verdict, (int)r);
        struct redis_req *req = xmalloc(sizeof(*req));
        req->fn = on_fire_and_forget;
        cmd_begin(rs, "PUBLISH");
        cmd_str(rs, channel);
        cmd_str(rs, msg);
        if (cmd_send(rs, rs->cmd, req) < 0)
            free(req);
    }
    free(rq);
}

/* --- the Pub/Sub connection ------------------------------------------------------------- */

static void on_sub_message(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    struct redis_store *rs = ((struct store_req *)req)->rs;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = reply->element[0]->str;
    if (strcmp(kind, "subscribe") == 0) {
        if (++rs->subscribed == 2)
            redis_link_ready(l);
        return;
    }
    const struct redisReply *payload = reply->element[2];
    if (strcmp(kind, "message") != 0 || payload->type != REDIS_REPLY_STRING || payload->len > 200)
        return;
    char msg[256];
    memcpy(msg, payload->str, payload->len);
    msg[payload->len] = '\0';
    if (req == &rs->sub_cancel_rq.hdr)
        on_request(rs, msg);
    else
        on_answer(rs, msg);
}

static void on_sub_handshake(struct redis_link *l, void *arg)
{
    struct redis_store *rs = arg;
    rs->subscribed = 0;
    redis_link_subscribe(l, &rs->sub_cancel_rq.hdr, rs->ch_cancel);
    redis_link_subscribe(l, &rs->sub_answer_rq.hdr, rs->ch_answer);
}

static void on_sub_down(struct redis_link *l, const char *why, void *arg)
{
    struct redis_store *rs = arg;
    struct list *pos;
    while ((pos = list_first(&rs->asking))) /* their answers cannot come now */
        ask_end(container_of(pos, struct cancel_ask, node), CANCEL_FINISHED, STORE_UNAVAILABLE);
}

void replicas_start(struct redis_store *rs)
{
    rs->lease_rq = (struct store_req){{on_heartbeat}, rs};
    rs->member_rq = (struct store_req){{on_member}, rs};
    rs->reconcile_rq = (struct store_req){{on_reconciled}, rs};
    rs->sub_cancel_rq = (struct store_req){{on_sub_message}, rs};
    rs->sub_answer_rq = (struct store_req){{on_sub_message}, rs};
    struct redis_link_config lc = {.role = "pubsub",
                                   .host = rs->host,
                                   .port = rs->url.port,
                                   .password = rs->url.password,
                                   .timeout_ms = rs->cfg.timeout_ms,
                                   .backoff_max_ms = rs->cfg.backoff_max_ms};
    struct redis_link_hooks hooks = {on_sub_handshake, NULL, on_sub_down, rs};
    rs->sub = redis_link_new(rs->ev, &lc, &hooks);
    rs->lease_ev = event_new(rs->ev, -1, EV_PERSIST, on_lease_tick, rs);
    struct timeval tv = timeval_from_ms(rs->cfg.lease_ms / 4 ? rs->cfg.lease_ms / 4 : 1);
    event_add(rs->lease_ev, &tv);
}

void replicas_stop(struct redis_store *rs)
{
    struct list *pos;
    while ((pos = list_first(&rs->asking)))
        ask_end(container_of(pos, struct cancel_ask, node), CANCEL_FINISHED, STORE_UNAVAILABLE);
    if (rs->lease_ev)
        event_free(rs->lease_ev);
    rs->lease_ev = NULL;
}
