/* The Redis store: orders shared by every replica (docs/store.md).
 *
 * Writes: an order is created by one script (id from one counter, record,
 * listings, stream entry, this replica's in-flight set) and acknowledged only
 * when Redis has answered it. Each later transition marks the order dirty;
 * once per loop turn every dirty order is written by one script call, whatever
 * number of transitions it collected (hiredis pipelines the calls of a turn
 * into one write). An order has one write in flight at most, so its writes
 * land in order; a write lost with its connection puts its transitions back,
 * and they go again once the connection is back (bounded: buffer_max orders).
 *
 * Reads (get, list) go to Redis: the store, not this process, is the truth.
 * Nothing here blocks: every command has a reply callback, and the
 * connection's watchdog (cafe/redis_link.c) bounds how long one may wait. */
#include <arpa/inet.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/textbuf.h"
#include "base/xmalloc.h"
#include "cafe/order_record.h"
#include "cafe/store_redis-internal.h"

/* One placement (cafe/store.h's create): its orders get consecutive ids. */
struct create_req {
    struct list node; /* rs->creating, then its batch's */
    store_orders_fn done;
    void *arg;
    unsigned n;
    struct order *orders[];
};

/* One create script call: the whole placements of a loop turn. */
struct create_batch {
    struct store_req base; /* first */
    bool retried;          /* sent again as EVAL after NOSCRIPT */
    unsigned n;            /* orders */
    struct list reqs;      /* struct create_req, in id order */
};

struct write_item {
    struct tracked *t;
    unsigned nev;
    struct pending_event ev[STORE_PENDING_EVENTS];
};

/* One record script call: the dirty orders of a loop turn. */
struct write_batch {
    struct store_req base; /* first */
    bool eval;
    unsigned n;
    struct write_item items[];
};

struct get_req {
    struct store_req base; /* first */
    uint64_t id;
    store_order_fn done;
    void *arg;
};

struct list_req {
    struct store_req base; /* first */
    unsigned limit;
    char status[16];
    bool retried;
    store_orders_fn done;
    void *arg;
};

static void flush_dirty(struct redis_store *rs, bool eval);

bool cmd_up(const struct redis_store *rs)
{
    return !rs->freeing && rs->cmd && redis_link_up(rs->cmd);
}

/* --- building commands --------------------------------------------------------- */

void cmd_begin(struct redis_store *rs, const char *name)
{
    struct cmd_buf *b = &rs->cmdbuf;
    b->argc = 0;
    b->len = CMD_HEAD;
    cmd_str(rs, name);
}

/* n more bytes at the end of the command, the room made if need be. */
static char *cmd_room(struct cmd_buf *b, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = b->cap ? b->cap : 4096;
        while (b->len + n > b->cap)
            b->cap *= 2;
        b->buf = xrealloc(b->buf, b->cap);
    }
    char *p = b->buf + b->len;
    b->len += n;
    return p;
}

/* v in decimal at out, which has room for 20 digits; returns how many. */
static size_t put_digits(char *out, uint64_t v)
{
    struct textbuf t = {.p = out, .end = out + 20};
    textbuf_put_uint(&t, v, 0);
    return (size_t)(t.p - out);
}

char *cmd_arg_space(struct redis_store *rs, size_t n)
{
    struct cmd_buf *b = &rs->cmdbuf;
    char *p = cmd_room(b, 1 + 20 + 2 + n + 2), *start = p;
    *p++ = '$';
    p += put_digits(p, n);
    *p++ = '\r';
    *p++ = '\n';
    p[n] = '\r';
    p[n + 1] = '\n';
    b->len -= (size_t)(20 - (p - start - 3)); /* the digits took fewer than 20 bytes */
    b->argc++;
    return p;
}

void cmd_arg(struct redis_store *rs, const char *s, size_t n)
{
    memcpy(cmd_arg_space(rs, n), s, n);
}

void cmd_str(struct redis_store *rs, const char *s)
{
    cmd_arg(rs, s, strlen(s));
}

void cmd_u64(struct redis_store *rs, uint64_t v)
{
    char digits[24];
    size_t n = put_digits(digits, v);
    cmd_arg(rs, digits, n);
}

void cmd_script(struct redis_store *rs, enum script_id script, bool eval)
{
    cmd_begin(rs, eval ? "EVAL" : "EVALSHA");
    cmd_str(rs, eval ? redis_scripts[script].body : rs->sha[script]);
    cmd_str(rs, "0");
    cmd_str(rs, rs->prefix);
}

int cmd_send(struct redis_store *rs, struct redis_link *l, struct redis_req *rq)
{
    struct cmd_buf *b = &rs->cmdbuf;
    /* room for put_digits' 20; an unsigned argc has 10 at most, so the head
     * (13 bytes at most) fits the CMD_HEAD bytes kept before the arguments */
    char head[1 + 20 + 2];
    head[0] = '*';
    size_t n = 1 + put_digits(head + 1, b->argc);
    head[n++] = '\r';
    head[n++] = '\n';
    char *cmd = b->buf + CMD_HEAD - n;
    memcpy(cmd, head, n);
    /* hiredis copies the command into its output buffer here. */
    int rc = l ? redis_link_send_formatted(l, rq, cmd, b->len - (CMD_HEAD - n)) : -1;
    b->argc = 0;
    b->len = CMD_HEAD;
    return rc;
}

/* The order's packed record (the stream entry's), then the count of the
 * pairs that follow and the pairs: all of them (a create), or those a
 * transition may change -- timed_out and reason only with a final status
 * (cafe/brew.c sets them with it). */
static void cmd_record(struct redis_store *rs, const struct order *o, bool changed_only)
{
    struct order_record r;
    order_record_encode(o, &r);
    order_record_pack(&r, cmd_arg_space(rs, order_record_packed_len(&r)));
    if (!changed_only) {
        cmd_u64(rs, r.n);
        for (unsigned i = 0; i < 2 * r.n; i++)
            cmd_arg(rs, r.argv[i], r.len[i]);
        return;
    }
    bool final = order_status_final(o->status);
    unsigned keep[ORDER_RECORD_FIELDS], n = 0;
    for (unsigned i = r.mutable_from; i < r.n; i++) {
        const char *name = r.argv[2 * i];
        if (!final && (!strcmp(name, "timed_out") || !strcmp(name, "reason")))
            continue;
        keep[n++] = i;
    }
    cmd_u64(rs, n);
    for (unsigned k = 0; k < n; k++) {
        cmd_arg(rs, r.argv[2 * keep[k]], r.len[2 * keep[k]]);
        cmd_arg(rs, r.argv[2 * keep[k] + 1], r.len[2 * keep[k] + 1]);
    }
}

bool reply_is_noscript(const struct redisReply *reply)
{
    const char *err;
    return redis_reply_is_error(reply, &err) && strncmp(err, "NOSCRIPT", 8) == 0;
}

static bool reply_is_bad_record(const struct redisReply *reply, const char **err)
{
    return redis_reply_is_error(reply, err) &&
           (strncmp(*err, "WRONGTYPE", 9) == 0 || strstr(*err, "BADRECORD") != NULL);
}

int decode_pairs(struct redis_store *rs, const struct redisReply *reply, size_t from,
                 struct order **out, char *err, size_t errlen)
{
    const char *argv[2 * STORE_FIELDS_MAX];
    size_t len[2 * STORE_FIELDS_MAX];
    *out = NULL;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < from ||
        (reply->elements - from) % 2) {
        snprintf(err, errlen, "not a list of field/value pairs");
        return -1;
    }
    size_t n = reply->elements - from;
    if (n > 2 * STORE_FIELDS_MAX) {
        snprintf(err, errlen, "%zu fields, more than any record has", n / 2);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct redisReply *e = reply->element[from + i];
        if (e->type != REDIS_REPLY_STRING) {
            snprintf(err, errlen, "element %zu is not a string", from + i);
            return -1;
        }
        argv[i] = e->str;
        len[i] = e->len;
    }
    return order_record_decode(rs->base.menu, argv, len, n / 2, out, err, errlen);
}

/* --- tracking: orders this replica still writes for ------------------------------ */

static void syncs_answer(struct list *syncs, enum store_result r)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, syncs)
    {
        struct sync_waiter *w = container_of(pos, struct sync_waiter, node);
        list_remove(&w->node);
        w->done(w->order, r, w->arg);
        free(w);
    }
}

static void track(struct redis_store *rs, struct order *o)
{
    struct tracked *t = xcalloc(1, sizeof(*t));
    t->order = o;
    order_ref(o);
    list_init(&t->syncs);
    list_push_back(&rs->tracked, &t->node);
    struct tracked **b = &rs->by_id[o->id % TRACKED_BUCKETS];
    t->same_hash = *b;
    *b = t;
    rs->ntracked++;
    o->store_state = t;
}

static void untrack(struct redis_store *rs, struct tracked *t, enum store_result r)
{
    if (list_linked(&t->dirty)) {
        list_remove(&t->dirty);
        rs->ndirty--;
    }
    list_remove(&t->node);
    for (struct tracked **p = &rs->by_id[t->order->id % TRACKED_BUCKETS]; *p; p = &(*p)->same_hash)
        if (*p == t) {
            *p = t->same_hash;
            break;
        }
    rs->ntracked--;
    t->order->store_state = NULL;
    syncs_answer(&t->syncs, r);
    order_unref(t->order);
    free(t);
}

/* Every write answered and nothing left to send: flush waiters are done. */
static void check_flushed(struct redis_store *rs)
{
    if (rs->ndirty == 0 && rs->nwriting == 0)
        syncs_answer(&rs->flush_waiters, STORE_OK);
}

/* Made active, not a zero timer: it runs after the callbacks this turn has
 * queued already (every read and timer of the turn), in the same turn, so a
 * placement does not wait a turn more for its call to leave. */
static void schedule_flush(struct redis_store *rs)
{
    if (cmd_up(rs))
        event_active(rs->flush_ev, EV_TIMEOUT, 1); /* once, however often asked */
}

/* Puts t on the dirty list; false when the buffer is full while Redis is
 * away (then the order's transitions are dropped: counted, logged once per
 * outage, and the restart rule fails it in the store later). */
static bool make_dirty(struct redis_store *rs, struct tracked *t)
{
    if (list_linked(&t->dirty) || t->writing)
        return true;
    if (!cmd_up(rs) && rs->ndirty >= rs->cfg.buffer_max) {
        rs->dropped++;
        if (!rs->overflow_logged)
            log_warn("redis store: %u orders wait for the store already; transitions of order "
                     "%llu and later ones are dropped",
                     rs->ndirty, (unsigned long long)t->order->id);
        rs->overflow_logged = true;
        untrack(rs, t, STORE_UNAVAILABLE);
        return false;
    }
    list_push_back(&rs->dirty, &t->dirty);
    rs->ndirty++;
    schedule_flush(rs);
    return true;
}

/* Puts events back in front of what came since (they are older). */
static void requeue(struct redis_store *rs, struct tracked *t, const struct pending_event *ev,
                    unsigned nev)
{
    unsigned keep = t->nev + nev <= STORE_PENDING_EVENTS ? nev : STORE_PENDING_EVENTS - t->nev;
    rs->dropped += nev - keep;
    memmove(t->ev + keep, t->ev, t->nev * sizeof(t->ev[0]));
    memcpy(t->ev, ev + (nev - keep), keep * sizeof(t->ev[0]));
    t->nev += keep;
}

/* --- create ------------------------------------------------------------------- */

static void create_end(struct create_req *rq, enum store_result r)
{
    rq->done(rq->orders, rq->n, r, rq->arg);
    for (unsigned i = 0; i < rq->n; i++)
        order_unref(rq->orders[i]);
    free(rq);
}

static void creates_fail(struct list *reqs)
{
    struct list *pos;
    while ((pos = list_first(reqs))) {
        list_remove(pos);
        create_end(container_of(pos, struct create_req, node), STORE_UNAVAILABLE);
    }
}

static int send_create(struct redis_store *rs, struct create_batch *b, bool eval)
{
    struct list *pos, *tmp;
    cmd_script(rs, SCRIPT_CREATE, eval);
    cmd_str(rs, rs->base.replica);
    cmd_u64(rs, b->n);
    cmd_u64(rs, rs->cfg.max_orders);
    cmd_u64(rs, rs->cfg.stream_max);
    list_for_each_safe(pos, tmp, &b->reqs)
    {
        struct create_req *rq = container_of(pos, struct create_req, node);
        for (unsigned i = 0; i < rq->n; i++)
            cmd_record(rs, rq->orders[i], false);
    }
    return cmd_send(rs, rs->cmd, &b->base.hdr);
}

static void on_created(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    struct create_batch *b = (struct create_batch *)req;
    struct redis_store *rs = b->base.rs;
    long long first;
    const char *err;
    struct list *pos, *tmp;
    if (reply_is_noscript(reply) && !b->retried) {
        b->retried = true; /* nothing ran: safe to send again, with the body */
        if (send_create(rs, b, true) == 0)
            return;
    }
    if (!redis_reply_integer(reply, &first) || first <= 0) {
        if (redis_reply_is_error(reply, &err)) {
            rs->errors++;
            log_warn("redis store: creating %u orders failed: %s", b->n, err);
        }
        creates_fail(&b->reqs);
        free(b);
        return;
    }
    uint64_t id = (uint64_t)first;
    list_for_each_safe(pos, tmp, &b->reqs)
    {
        struct create_req *rq = container_of(pos, struct create_req, node);
        for (unsigned i = 0; i < rq->n; i++) {
            rq->orders[i]->id = id++;
            track(rs, rq->orders[i]);
        }
    }
    if (id - 1 > rs->top_id)
        rs->top_id = id - 1;
    while ((pos = list_first(&b->reqs))) {
        list_remove(pos);
        create_end(container_of(pos, struct create_req, node), STORE_OK);
    }
    free(b);
}

/* The placements of this loop turn, in script calls of up to
 * STORE_BATCH_MAX orders (a larger placement goes alone). */
static void flush_creates(struct redis_store *rs)
{
    struct list *pos;
    while (!list_empty(&rs->creating)) {
        struct create_batch *b = xmalloc(sizeof(*b));
        *b = (struct create_batch){.base = {{on_created}, rs}};
        list_init(&b->reqs);
        while ((pos = list_first(&rs->creating))) {
            struct create_req *rq = container_of(pos, struct create_req, node);
            if (b->n && b->n + rq->n > STORE_BATCH_MAX)
                break;
            list_remove(pos);
            list_push_back(&b->reqs, pos);
            b->n += rq->n;
        }
        if (!cmd_up(rs) || send_create(rs, b, false) < 0) {
            creates_fail(&b->reqs);
            free(b);
        }
    }
}

static void rs_create(struct order_store *s, struct order *const *orders, unsigned n,
                      store_orders_fn done, void *arg)
{
    struct redis_store *rs = redis_store_of(s);
    if (!cmd_up(rs)) {
        done(orders, n, STORE_UNAVAILABLE, arg); /* fail fast: nothing waits for Redis */
        return;
    }
    struct create_req *rq = xmalloc(sizeof(*rq) + n * sizeof(rq->orders[0]));
    *rq = (struct create_req){.done = done, .arg = arg, .n = n};
    for (unsigned i = 0; i < n; i++) {
        rq->orders[i] = orders[i];
        order_ref(orders[i]);
    }
    list_push_back(&rs->creating, &rq->node); /* sent at the end of the turn, with the others */
    schedule_flush(rs);
}

/* --- transitions ---------------------------------------------------------------- */

/* What the store answered for one order of a write (r: its element of the
 * reply, or the reply when the whole call failed; log: say why). */
static void write_done(struct redis_store *rs, struct tracked *t, const struct redisReply *r,
                       bool log)
{
    const struct order *o = t->order;
    const char *err;
    char final[16];
    if (reply_is_bad_record(r, &err)) {
        rs->bad_records++;
        if (log)
            log_warn("redis store: order %llu: %s; its transitions are dropped",
                     (unsigned long long)o->id, err);
        untrack(rs, t, STORE_BAD_RECORD);
    } else if (redis_reply_is_error(r, &err) || !r ||
               (r->type != REDIS_REPLY_INTEGER && r->type != REDIS_REPLY_STRING)) {
        rs->errors++;
        if (log)
            log_warn("redis store: writing order %llu refused: %s", (unsigned long long)o->id,
                     r && r->type == REDIS_REPLY_ERROR ? err : "an unexpected reply");
        untrack(rs, t, STORE_UNAVAILABLE);
    } else if (redis_reply_string(r, final, sizeof(final))) {
        log_warn("redis store: order %llu is %s in the store already (another replica resolved "
                 "it); this replica's %s is dropped",
                 (unsigned long long)o->id, final, order_status_name(o->status));
        untrack(rs, t, STORE_CONFLICT);
    } else if (t->nev) {
        make_dirty(rs, t); /* more came while this one flew */
    } else {
        syncs_answer(&t->syncs, STORE_OK);
        if (order_status_final(o->status))
            untrack(rs, t, STORE_OK);
    }
}

/* A write that did not run (lost with its connection, or not sent): its
 * transitions go back in front of the order's newer ones. */
static void write_undo(struct redis_store *rs, struct write_item *it, bool answer_syncs)
{
    struct tracked *t = it->t;
    t->writing = false;
    rs->nwriting--;
    requeue(rs, t, it->ev, it->nev);
    if (rs->freeing)
        return;
    if (answer_syncs)
        syncs_answer(&t->syncs, STORE_UNAVAILABLE); /* nobody waits out an outage */
    make_dirty(rs, t);
}

static void on_written(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    struct write_batch *b = (struct write_batch *)req;
    struct redis_store *rs = b->base.rs;
    bool noscript = reply_is_noscript(reply) && !b->eval; /* the script cache was flushed */
    if (!reply || noscript) {
        for (unsigned k = 0; k < b->n; k++)
            write_undo(rs, &b->items[k], !reply);
        free(b);
        if (noscript)
            flush_dirty(rs, true); /* at once, with the body */
        check_flushed(rs);
        return;
    }
    bool whole = reply->type != REDIS_REPLY_ARRAY || reply->elements != b->n;
    for (unsigned k = 0; k < b->n; k++) {
        struct tracked *t = b->items[k].t;
        const struct redisReply *r = whole ? reply : reply->element[k];
        t->writing = false;
        rs->nwriting--;
        write_done(rs, t, r, !whole || k == 0);
    }
    free(b);
    check_flushed(rs);
}

/* Every dirty order, in script calls of up to STORE_BATCH_MAX orders. */
static void flush_dirty(struct redis_store *rs, bool eval)
{
    struct list *pos;
    while (cmd_up(rs) && rs->ndirty) {
        unsigned n = rs->ndirty < STORE_BATCH_MAX ? rs->ndirty : STORE_BATCH_MAX;
        struct write_batch *b = xmalloc(sizeof(*b) + n * sizeof(b->items[0]));
        *b = (struct write_batch){.base = {{on_written}, rs}, .eval = eval};
        cmd_script(rs, SCRIPT_RECORD, eval);
        cmd_str(rs, rs->base.replica);
        cmd_u64(rs, rs->cfg.stream_max);
        cmd_u64(rs, n);
        while (b->n < n && (pos = list_first(&rs->dirty))) {
            struct tracked *t = container_of(pos, struct tracked, dirty);
            const struct order *o = t->order;
            struct write_item *it = &b->items[b->n++];
            list_remove(&t->dirty);
            rs->ndirty--;
            it->t = t;
            it->nev = t->nev;
            memcpy(it->ev, t->ev, t->nev * sizeof(t->ev[0]));
            t->nev = 0;
            t->writing = true;
            rs->nwriting++;
            cmd_u64(rs, o->id);
            cmd_str(rs, order_status_name(o->status));
            cmd_u64(rs, it->nev);
            for (unsigned i = 0; i < it->nev; i++) {
                cmd_str(rs, cafe_event_name((enum cafe_event)it->ev[i].event));
                if (it->ev[i].step < 0)
                    cmd_str(rs, "-1");
                else
                    cmd_u64(rs, (uint64_t)it->ev[i].step);
            }
            cmd_record(rs, o, true);
        }
        if (cmd_send(rs, rs->cmd, &b->base.hdr) < 0) {
            for (unsigned k = 0; k < b->n; k++)
                write_undo(rs, &b->items[k], true);
            free(b);
            break;
        }
        rs->writes += b->n;
    }
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct redis_store *rs = arg;
    flush_creates(rs);
    flush_dirty(rs, false);
    if (cmd_up(rs))
        redis_link_write(rs->cmd); /* the turn's calls go out now, in one write */
}

static void rs_record(struct order_store *s, struct order *o, enum cafe_event ev, int step)
{
    struct redis_store *rs = redis_store_of(s);
    struct tracked *t = o->store_state;
    if (!t || rs->freeing)
        return; /* not ours to write any more (dropped, or resolved elsewhere) */
    if (t->nev == STORE_PENDING_EVENTS) { /* the oldest go; the record stays whole */
        memmove(t->ev, t->ev + 1, (t->nev - 1) * sizeof(t->ev[0]));
        t->nev--;
        rs->dropped++;
    }
    t->ev[t->nev++] = (struct pending_event){(uint8_t)ev, (int8_t)step};
    make_dirty(rs, t);
}

static void rs_sync(struct order_store *s, struct order *o, store_order_fn done, void *arg)
{
    struct redis_store *rs = redis_store_of(s);
    struct tracked *t = o ? o->store_state : NULL;
    bool pending = o ? t && (t->nev || t->writing) : rs->ndirty || rs->nwriting;
    if (o && !t) /* nothing held for it: stored, unless dropped while Redis was away */
        done(o, cmd_up(rs) ? STORE_OK : STORE_UNAVAILABLE, arg);
    else if (!pending)
        done(o, STORE_OK, arg);
    else if (!cmd_up(rs))
        done(o, STORE_UNAVAILABLE, arg); /* nobody waits out an outage */
    else {
        struct sync_waiter *w = xmalloc(sizeof(*w));
        *w = (struct sync_waiter){.order = o, .done = done, .arg = arg};
        list_push_back(o ? &t->syncs : &rs->flush_waiters, &w->node);
    }
}

/* --- reads ------------------------------------------------------------------------ */

static void on_got(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    struct get_req *rq = (struct get_req *)req;
    struct redis_store *rs = rq->base.rs;
    struct order *o = NULL;
    enum store_result r = STORE_UNAVAILABLE;
    const char *err = NULL;
    char why[200];
    if (reply && reply->type == REDIS_REPLY_ARRAY) {
        if (reply->elements == 0)
            r = STORE_NOT_FOUND;
        else if (decode_pairs(rs, reply, 0, &o, why, sizeof(why)) == 0)
            r = STORE_OK;
        else
            err = why;
    } else if (reply_is_bad_record(reply, &err)) {
        /* err says it: WRONGTYPE */
    } else if (redis_reply_is_error(reply, &err)) {
        rs->errors++;
        log_warn("redis store: reading order %llu failed: %s", (unsigned long long)rq->id, err);
        err = NULL;
    }
    if (err) {
        rs->bad_records++;
        log_warn("redis store: order %llu: bad record in %sorder:%llu: %s",
                 (unsigned long long)rq->id, rs->prefix, (unsigned long long)rq->id, err);
        r = STORE_BAD_RECORD;
    }
    rq->done(o, r, rq->arg);
    if (o)
        order_unref(o);
    free(rq);
}

static void rs_get(struct order_store *s, uint64_t id, store_order_fn done, void *arg)
{
    struct redis_store *rs = redis_store_of(s);
    if (!cmd_up(rs)) {
        done(NULL, STORE_UNAVAILABLE, arg);
        return;
    }
    struct get_req *rq = xmalloc(sizeof(*rq));
    *rq = (struct get_req){{{on_got}, rs}, id, done, arg};
    char key[STORE_KEY_MAX];
    snprintf(key, sizeof(key), "%sorder:%llu", rs->prefix, (unsigned long long)id);
    cmd_begin(rs, "HGETALL");
    cmd_str(rs, key);
    if (cmd_send(rs, rs->cmd, &rq->base.hdr) < 0) {
        free(rq);
        done(NULL, STORE_UNAVAILABLE, arg);
    }
}

static struct order *rs_local(struct order_store *s, uint64_t id)
{
    struct redis_store *rs = redis_store_of(s);
    for (struct tracked *t = rs->by_id[id % TRACKED_BUCKETS]; t; t = t->same_hash)
        if (t->order->id == id)
            return t->order;
    return NULL;
}

static int send_list(struct redis_store *rs, struct list_req *rq, bool eval)
{
    cmd_script(rs, SCRIPT_LIST, eval);
    cmd_str(rs, rq->status);
    cmd_u64(rs, rq->limit);
    return cmd_send(rs, rs->cmd, &rq->base.hdr);
}

static void on_listed(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    struct list_req *rq = (struct list_req *)req;
    struct redis_store *rs = rq->base.rs;
    const char *err;
    if (reply_is_noscript(reply) && !rq->retried) {
        rq->retried = true;
        if (send_list(rs, rq, true) == 0)
            return;
    }
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        enum store_result r =
            reply_is_bad_record(reply, &err) ? STORE_BAD_RECORD : STORE_UNAVAILABLE;
        if (redis_reply_is_error(reply, &err))
            log_warn("redis store: listing orders failed: %s", err);
        rq->done(NULL, 0, r, rq->arg);
        free(rq);
        return;
    }
    struct order **orders = xmalloc((reply->elements + 1) * sizeof(*orders));
    unsigned n = 0;
    for (size_t i = 0; i < reply->elements; i++) {
        const struct redisReply *e = reply->element[i];
        char why[200];
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 0)
            continue; /* gone meanwhile */
        if (redis_reply_is_error(e, &err) ||
            (decode_pairs(rs, e, 0, &orders[n], why, sizeof(why)) < 0 && (err = why))) {
            rs->bad_records++;
            log_warn("redis store: listing skips a bad record: %s", err);
            continue;
        }
        n++;
    }
    rq->done(orders, n, STORE_OK, rq->arg);
    for (unsigned i = 0; i < n; i++)
        order_unref(orders[i]);
    free(orders);
    free(rq);
}

static void rs_list(struct order_store *s, int status, unsigned limit, store_orders_fn done,
                    void *arg)
{
    struct redis_store *rs = redis_store_of(s);
    if (!cmd_up(rs) || limit == 0) {
        done(NULL, 0, limit ? STORE_UNAVAILABLE : STORE_OK, arg);
        return;
    }
    struct list_req *rq = xcalloc(1, sizeof(*rq));
    *rq = (struct list_req){{{on_listed}, rs}, limit, "", false, done, arg};
    if (status >= 0)
        snprintf(rq->status, sizeof(rq->status), "%s", order_status_name(status));
    if (send_list(rs, rq, false) < 0) {
        free(rq);
        done(NULL, 0, STORE_UNAVAILABLE, arg);
    }
}

/* --- the commands connection ------------------------------------------------------- */

static void on_script_loaded(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    struct store_req *rq = (struct store_req *)req;
    struct redis_store *rs = rq->rs;
    int i = (int)(rq - rs->script_rq);
    char why[200];
    const char *err = "not a sha1";
    if (!reply)
        return;
    if (!redis_reply_string(reply, rs->sha[i], sizeof(rs->sha[i])) || strlen(rs->sha[i]) != 40) {
        redis_reply_is_error(reply, &err);
        snprintf(why, sizeof(why), "SCRIPT LOAD %s: %.150s", redis_scripts[i].name, err);
        redis_link_reset(l, why);
        return;
    }
    if (i == SCRIPT_COUNT - 1) { /* replies come in order: all are loaded */
        send_heartbeat(rs);
        send_reconcile(rs, rs->reconciled_once ? "its transitions were lost while the store was "
                                                 "unreachable"
                                               : "the replica restarted");
    }
}

static void on_cmd_handshake(struct redis_link *l, void *arg)
{
    struct redis_store *rs = arg;
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        cmd_begin(rs, "SCRIPT");
        cmd_str(rs, "LOAD");
        cmd_str(rs, redis_scripts[i].body);
        cmd_send(rs, l, &rs->script_rq[i].hdr);
    }
}

static void on_cmd_up(struct redis_link *l, void *arg)
{
    struct redis_store *rs = arg;
    rs->overflow_logged = false;
    flush_dirty(rs, false);
    check_flushed(rs);
    stream_on_cmd_up(rs);
}

static void on_cmd_down(struct redis_link *l, const char *why, void *arg)
{
    struct redis_store *rs = arg;
    /* Writes in flight come back (NULL) and wait in the buffer; nobody waits
     * for them meanwhile. */
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &rs->dirty)
    {
        syncs_answer(&container_of(pos, struct tracked, dirty)->syncs, STORE_UNAVAILABLE);
    }
    syncs_answer(&rs->flush_waiters, STORE_UNAVAILABLE);
    creates_fail(&rs->creating); /* placing fails fast while Redis is away */
}

/* --- the store ---------------------------------------------------------------------- */

static void rs_stats(struct order_store *s, struct store_stats *st)
{
    struct redis_store *rs = redis_store_of(s);
    struct redis_link_stats ls;
    redis_link_get_stats(rs->cmd, &ls);
    *st = (struct store_stats){
        .up = cmd_up(rs),
        .state = redis_link_describe(rs->cmd),
        .tracked = rs->ntracked,
        .buffered = cmd_up(rs) ? 0 : rs->ndirty,
        .dropped = rs->dropped,
        .reconnects = ls.reconnects,
        .timeouts = ls.timeouts,
        .bad_records = rs->bad_records,
        .claimed = rs->claimed,
        .writes = rs->writes,
        .errors = rs->errors,
    };
}

static void rs_free(struct order_store *s)
{
    struct redis_store *rs = redis_store_of(s);
    struct list *pos;
    rs->freeing = true;
    /* Connections first: every reply still awaited comes back NULL while all
     * the records are alive -- creates and reads fail, writes are lost (the
     * restart rule fails their orders in the store later). */
    redis_link_free(rs->tail);
    redis_link_free(rs->sub);
    redis_link_free(rs->cmd);
    rs->tail = rs->sub = rs->cmd = NULL;
    stream_stop(rs);
    replicas_stop(rs);
    creates_fail(&rs->creating);
    syncs_answer(&rs->flush_waiters, STORE_UNAVAILABLE);
    while ((pos = list_first(&rs->tracked)))
        untrack(rs, container_of(pos, struct tracked, node), STORE_UNAVAILABLE);
    event_free(rs->flush_ev);
    free(rs->cmdbuf.buf);
    free(rs);
}

static const struct order_store_ops redis_ops = {
    .create = rs_create,
    .record = rs_record,
    .sync = rs_sync,
    .get = rs_get,
    .local = rs_local,
    .list = rs_list,
    .cancel_send = rs_cancel_send,
    .cancel_reply = rs_cancel_reply,
    .claim_orphans = rs_claim_orphans,
    .events_read = rs_events_read,
    .follow = rs_follow,
    .unfollow = rs_unfollow,
    .stats = rs_stats,
    .free = rs_free,
};

/* Once, before the loop serves: hiredis would resolve a name with a blocking
 * getaddrinfo() on every reconnect, so it gets the address instead. */
static int resolve(const char *host, char *out, size_t size, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "redis host %s: %s", host, gai_strerror(rc));
        return -1;
    }
    const void *addr = res->ai_family == AF_INET6
                           ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                           : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    inet_ntop(res->ai_family, addr, out, (socklen_t)size);
    freeaddrinfo(res);
    return 0;
}

static bool replica_id_ok(const char *id)
{
    size_t n = strlen(id);
    for (size_t i = 0; i < n; i++)
        if (id[i] <= ' ' || id[i] >= 0x7f)
            return false;
    return n > 0 && n < ORDER_REPLICA_MAX;
}

static unsigned or_default(unsigned v, unsigned dflt)
{
    return v ? v : dflt;
}

struct order_store *store_redis_new(struct event_base *base, const struct menu *menu,
                                    const struct store_redis_config *cfg, char *err, size_t errlen)
{
    struct redis_url url;
    char host[64];
    const char *prefix = cfg->prefix ? cfg->prefix : "cafe:";
    if (redis_url_parse(cfg->url, &url, err, errlen) < 0)
        return NULL;
    if (!cfg->replica || !replica_id_ok(cfg->replica)) {
        snprintf(err, errlen, "replica id must be 1..%d printable bytes without spaces",
                 ORDER_REPLICA_MAX - 1);
        return NULL;
    }
    if (strlen(prefix) > STORE_PREFIX_MAX || strpbrk(prefix, " \r\n")) {
        snprintf(err, errlen, "store prefix: at most %d bytes, no spaces", STORE_PREFIX_MAX);
        return NULL;
    }
    if (resolve(url.host, host, sizeof(host), err, errlen) < 0)
        return NULL;

    struct redis_store *rs = xcalloc(1, sizeof(*rs));
    rs->base.ops = &redis_ops;
    rs->base.kind = "redis";
    rs->base.menu = menu;
    snprintf(rs->base.replica, sizeof(rs->base.replica), "%s", cfg->replica);
    rs->ev = base;
    rs->url = url;
    snprintf(rs->host, sizeof(rs->host), "%s", host);
    snprintf(rs->prefix, sizeof(rs->prefix), "%s", prefix);
    rs->cfg = *cfg;
    rs->cfg.url = NULL;
    rs->cfg.prefix = rs->prefix;
    rs->cfg.replica = rs->base.replica;
    rs->cfg.max_orders = or_default(cfg->max_orders, 10000);
    rs->cfg.stream_max = or_default(cfg->stream_max, 10000);
    rs->cfg.timeout_ms = or_default(cfg->timeout_ms, 1000);
    rs->cfg.lease_ms = or_default(cfg->lease_ms, 2000);
    rs->cfg.cancel_wait_ms = or_default(cfg->cancel_wait_ms, 2000);
    rs->cfg.buffer_max = or_default(cfg->buffer_max, 10000);
    rs->cfg.backoff_max_ms = or_default(cfg->backoff_max_ms, 1000);
    snprintf(rs->k_events, sizeof(rs->k_events), "%sevents", prefix);
    snprintf(rs->k_lease, sizeof(rs->k_lease), "%slease:%s", prefix, cfg->replica);
    snprintf(rs->k_replicas, sizeof(rs->k_replicas), "%sreplicas", prefix);
    snprintf(rs->ch_cancel, sizeof(rs->ch_cancel), "%scancel:%s", prefix, cfg->replica);
    snprintf(rs->ch_answer, sizeof(rs->ch_answer), "%scancelled:%s", prefix, cfg->replica);
    snprintf(rs->token, sizeof(rs->token), "%ld-%llx", (long)getpid(),
             (unsigned long long)clock_ns());
    list_init(&rs->tracked);
    list_init(&rs->dirty);
    list_init(&rs->creating);
    list_init(&rs->flush_waiters);
    list_init(&rs->asking);
    list_init(&rs->followers);
    for (int i = 0; i < SCRIPT_COUNT; i++)
        rs->script_rq[i] = (struct store_req){{on_script_loaded}, rs};
    rs->flush_ev = evtimer_new(base, on_flush, rs);

    struct redis_link_config lc = {.role = "commands",
                                   .host = rs->host,
                                   .port = url.port,
                                   .db = url.db,
                                   .password = url.password,
                                   .timeout_ms = rs->cfg.timeout_ms,
                                   .backoff_max_ms = rs->cfg.backoff_max_ms};
    struct redis_link_hooks hooks = {on_cmd_handshake, on_cmd_up, on_cmd_down, rs};
    rs->cmd = redis_link_new(base, &lc, &hooks);
    replicas_start(rs);
    log_info("redis store: %s:%d db %d, prefix \"%s\", replica %s", url.host, url.port, url.db,
             rs->prefix, rs->base.replica);
    return &rs->base;
}
