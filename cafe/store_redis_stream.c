/* The transition stream of the Redis store: <prefix>events, every replica's
 * transitions (XADD ... MAXLEN ~ stream_max), each entry "event", "step",
 * "by" and the order's record fields. Its entry ids are the SSE ids: any
 * replica can resume a client from any id the stream still holds.
 *
 * One tail per store follows the stream on its own connection (XREAD BLOCK
 * holds its connection: one connection per role) and feeds every
 * follower that has caught up. A follower that starts from an older id
 * first reads forward on the commands connection (XRANGE, in pages) until
 * it reaches what the tail has delivered; from then on the tail feeds it and
 * skips what it has already seen, so nothing is delivered twice or lost
 * between the two connections. */
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xmalloc.h"
#include "cafe/order_record.h"
#include "cafe/store_redis-internal.h"

#define TAIL_BLOCK_MS 1000 /* XREAD BLOCK: the tail reports back at least this often */
#define PAGE          256  /* entries per read */

struct store_follow {
    struct list node; /* rs->followers */
    struct redis_store *rs;
    store_events_fn fn;
    void *arg;
    char last[STORE_EVENT_ID_MAX]; /* the newest entry it has; "" until placed */
    bool live;                     /* the tail feeds it */
    bool reading;                  /* a catch-up read is in flight */
    bool gone;                     /* unfollowed while reading: the read frees it */
    bool first;                    /* its first read checks for a gap */
};

/* One XRANGE forward, optionally after a look at the oldest entry kept (to
 * tell a gap). Two commands, in order, each with its own record. */
struct read_req {
    struct store_req oldest, range;
    char after[STORE_EVENT_ID_MAX];
    bool check_gap, gap;
    unsigned max;
    struct store_follow *follow; /* a catch-up; else a one-shot read */
    store_events_fn done;
    void *arg;
};

/* --- entry ids -------------------------------------------------------------------- */

static bool id_parse(const char *s, uint64_t *ms, uint64_t *seq)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return false;
    *ms = strtoull(s, &end, 10);
    *seq = 0;
    if (*end == '-') {
        if (end[1] < '0' || end[1] > '9')
            return false;
        *seq = strtoull(end + 1, &end, 10);
    }
    return *end == '\0';
}

/* <0, 0, >0 like strcmp, for ids that parse ("" is the smallest). */
static int id_cmp(const char *a, const char *b)
{
    uint64_t am = 0, as = 0, bm = 0, bs = 0;
    bool ha = id_parse(a, &am, &as), hb = id_parse(b, &bm, &bs);
    if (!ha || !hb)
        return (int)ha - (int)hb;
    if (am != bm)
        return am < bm ? -1 : 1;
    return as < bs ? -1 : as > bs;
}

/* --- decoding entries ------------------------------------------------------------- */

static const struct redisReply *field(const struct redisReply *pairs, const char *name)
{
    for (size_t i = 0; i + 1 < pairs->elements; i += 2) {
        const struct redisReply *k = pairs->element[i];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0 &&
            pairs->element[i + 1]->type == REDIS_REPLY_STRING)
            return pairs->element[i + 1];
    }
    return NULL;
}

/* One [id, [field, value, ...]] entry into ev; false (logged) when bad. */
static bool decode_entry(struct redis_store *rs, const struct redisReply *e, struct store_event *ev)
{
    char why[256] = "not [id, fields]";
    const struct redisReply *id, *pairs, *event, *step, *by;
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        (id = e->element[0])->type != REDIS_REPLY_STRING || id->len >= sizeof(ev->id) ||
        (pairs = e->element[1])->type != REDIS_REPLY_ARRAY)
        goto bad;
    memcpy(ev->id, id->str, id->len + 1);
    event = field(pairs, "event");
    step = field(pairs, "step");
    by = field(pairs, "by");
    int n = event ? cafe_event_parse(event->str) : -1;
    long st = step ? strtol(step->str, NULL, 10) : -2;
    if (n < 0 || st < -1 || st >= MENU_MAX_STEPS || !by || by->len >= sizeof(ev->by)) {
        snprintf(why, sizeof(why), "entry %s: no valid event, step or by", ev->id);
        goto bad;
    }
    ev->event = (enum cafe_event)n;
    ev->step = (int)st;
    memcpy(ev->by, by->str, by->len + 1);
    char err[160];
    const struct redisReply *packed = field(pairs, "r");
    if (packed ? order_record_decode_packed(rs->base.menu, packed->str, packed->len, &ev->order,
                                            err, sizeof(err)) < 0
               : decode_pairs(rs, pairs, 0, &ev->order, err, sizeof(err)) < 0) {
        snprintf(why, sizeof(why), "entry %s: %s", ev->id, err);
        goto bad;
    }
    return true;
bad:
    rs->bad_records++;
    log_warn("redis store: %s skips a bad entry: %s", rs->k_events, why);
    return false;
}

/* The entries of an XRANGE-shaped reply into a new array (orders referenced). */
static struct store_event *decode_entries(struct redis_store *rs, const struct redisReply *list,
                                          unsigned *n)
{
    struct store_event *ev = xmalloc((list->elements + 1) * sizeof(*ev));
    *n = 0;
    for (size_t i = 0; i < list->elements; i++)
        *n += decode_entry(rs, list->element[i], &ev[*n]);
    return ev;
}

static void events_free(struct store_event *ev, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        order_unref(ev[i].order);
    free(ev);
}

/* --- followers ------------------------------------------------------------------------ */

static void catch_up(struct store_follow *f);

/* Hands f the entries of ev newer than what it has. */
static void feed(struct store_follow *f, const struct store_event *ev, unsigned n,
                 enum store_result r)
{
    unsigned skip = 0;
    while (skip < n && id_cmp(ev[skip].id, f->last) <= 0)
        skip++;
    if (skip < n)
        snprintf(f->last, sizeof(f->last), "%s", ev[n - 1].id);
    if (skip < n || r != STORE_OK)
        f->fn(ev + skip, n - skip, r, f->arg);
}

static void follow_free(struct store_follow *f)
{
    if (f->reading)
        f->gone = true; /* the read in flight frees it */
    else
        free(f);
}

/* A catch-up read came back with n entries (a full page: more to read). */
static void on_caught_up(struct store_follow *f, struct store_event *ev, unsigned n, bool full,
                         enum store_result r)
{
    struct redis_store *rs = f->rs;
    f->reading = false;
    if (f->gone) {
        free(f);
        return;
    }
    if (r == STORE_UNAVAILABLE)
        return; /* again once the commands connection is back */
    f->first = false;
    feed(f, ev, n, r);
    if (f->gone) { /* unfollowed from its own callback */
        free(f);
        return;
    }
    /* Live once it has everything the tail delivered; else read on. */
    if (!full && rs->tail_last[0] && id_cmp(f->last, rs->tail_last) >= 0)
        f->live = true;
    else if (full || rs->tail_last[0])
        catch_up(f);
    /* else: the tail has not placed itself yet; it calls catch_up() when it has */
}

static void read_end(struct read_req *rr, const struct redisReply *reply, enum store_result r)
{
    struct redis_store *rs = rr->range.rs;
    unsigned n = 0;
    struct store_event *ev = reply ? decode_entries(rs, reply, &n) : NULL;
    if (r == STORE_OK && rr->gap)
        r = STORE_GAP;
    if (rr->follow)
        on_caught_up(rr->follow, ev, n, reply && reply->elements >= rr->max, r);
    else
        rr->done(ev, n, r, rr->arg);
    if (ev)
        events_free(ev, n);
    free(rr);
}

static void on_oldest(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    struct read_req *rr = container_of((struct store_req *)req, struct read_req, oldest);
    /* The oldest entry kept is newer than `after` (and is not the next one
     * we could know of): entries between were trimmed. */
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
        const struct redisReply *e = reply->element[0];
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
            e->element[0]->type == REDIS_REPLY_STRING)
            rr->gap = id_cmp(e->element[0]->str, rr->after) > 0;
    }
}

static void on_range(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    struct read_req *rr = container_of((struct store_req *)req, struct read_req, range);
    const char *err;
    if (redis_reply_is_error(reply, &err))
        log_warn("redis store: reading %s failed: %s", rr->range.rs->k_events, err);
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        read_end(rr, NULL, STORE_UNAVAILABLE);
    else
        read_end(rr, reply, STORE_OK);
}

/* Queues the read of rr (after: "" for the oldest). -1 when it cannot. */
static int read_send(struct redis_store *rs, struct read_req *rr)
{
    char from[STORE_EVENT_ID_MAX + 1];
    if (!cmd_up(rs))
        return -1;
    rr->oldest = (struct store_req){{on_oldest}, rs};
    rr->range = (struct store_req){{on_range}, rs};
    if (rr->check_gap) {
        cmd_begin(rs, "XRANGE");
        cmd_str(rs, rs->k_events);
        cmd_str(rs, "-");
        cmd_str(rs, "+");
        cmd_str(rs, "COUNT");
        cmd_str(rs, "1");
        if (cmd_send(rs, rs->cmd, &rr->oldest.hdr) < 0)
            return -1;
    }
    snprintf(from, sizeof(from), "(%s", rr->after); /* exclusive: after it */
    cmd_begin(rs, "XRANGE");
    cmd_str(rs, rs->k_events);
    cmd_str(rs, rr->after[0] ? from : "-");
    cmd_str(rs, "+");
    cmd_str(rs, "COUNT");
    cmd_u64(rs, rr->max);
    return cmd_send(rs, rs->cmd, &rr->range.hdr);
}

static struct read_req *read_new(const char *after, unsigned max)
{
    uint64_t ms, seq;
    struct read_req *rr = xcalloc(1, sizeof(*rr));
    rr->max = max ? max : 1;
    if (after && id_parse(after, &ms, &seq) && (ms || seq)) {
        snprintf(rr->after, sizeof(rr->after), "%" PRIu64 "-%" PRIu64, ms, seq);
        rr->check_gap = true;
    } else if (after && !id_parse(after, &ms, &seq)) {
        rr->gap = true; /* an id this stream never had: start over, and say so */
    }
    return rr;
}

static void catch_up(struct store_follow *f)
{
    struct read_req *rr = read_new(f->last[0] ? f->last : NULL, PAGE);
    rr->check_gap = rr->check_gap && f->first;
    rr->follow = f;
    f->reading = true;
    if (read_send(f->rs, rr) < 0) {
        f->reading = false;
        free(rr); /* again once the commands connection is back */
    }
}

void rs_events_read(struct order_store *s, const char *after, unsigned max, store_events_fn done,
                    void *arg)
{
    struct redis_store *rs = redis_store_of(s);
    struct read_req *rr = read_new(after, max > 10000 ? 10000 : max);
    rr->done = done;
    rr->arg = arg;
    if (read_send(rs, rr) < 0) {
        free(rr);
        done(NULL, 0, STORE_UNAVAILABLE, arg);
    }
}

/* --- the tail ---------------------------------------------------------------------------- */

static void tail_read(struct redis_store *rs);

/* Followers waiting for the tail's place: from now on, or caught up. */
static void tail_placed(struct redis_store *rs)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &rs->followers)
    {
        struct store_follow *f = container_of(pos, struct store_follow, node);
        if (f->live || f->reading)
            continue;
        if (!f->last[0]) {
            snprintf(f->last, sizeof(f->last), "%s", rs->tail_last);
            f->live = true;
        } else {
            catch_up(f);
        }
    }
}

static void on_tail(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    struct redis_store *rs = ((struct store_req *)req)->rs;
    const char *err;
    rs->tail_reading = false;
    if (!reply || rs->freeing)
        return; /* tail_read() again once the connection is back */
    if (redis_reply_is_error(reply, &err)) {
        log_warn("redis store: following %s failed: %s", rs->k_events, err);
        redis_link_reset(l, "XREAD refused"); /* after the backoff, again */
        return;
    }
    /* [[key, [[id, fields], ...]]], or nil when BLOCK passed with nothing. */
    const struct redisReply *entries = NULL;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
        reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2)
        entries = reply->element[0]->element[1];
    if (entries && entries->type == REDIS_REPLY_ARRAY && entries->elements) {
        const struct redisReply *newest = entries->element[entries->elements - 1];
        unsigned n;
        struct store_event *ev = decode_entries(rs, entries, &n);
        if (newest->type == REDIS_REPLY_ARRAY && newest->elements == 2 &&
            newest->element[0]->type == REDIS_REPLY_STRING &&
            newest->element[0]->len < sizeof(rs->tail_last))
            memcpy(rs->tail_last, newest->element[0]->str, newest->element[0]->len + 1);
        struct list *pos, *tmp;
        list_for_each_safe(pos, tmp, &rs->followers)
        {
            struct store_follow *f = container_of(pos, struct store_follow, node);
            if (f->live)
                feed(f, ev, n, STORE_OK);
        }
        events_free(ev, n);
    }
    tail_placed(rs);
    tail_read(rs);
}

static void on_tail_placed(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    struct redis_store *rs = ((struct store_req *)req)->rs;
    const char *err;
    rs->tail_reading = false;
    if (!reply || rs->freeing)
        return;
    if (reply->type != REDIS_REPLY_ARRAY) {
        if (redis_reply_is_error(reply, &err))
            log_warn("redis store: reading %s failed: %s", rs->k_events, err);
        redis_link_reset(l, "XREVRANGE refused"); /* after the backoff, again */
        return;
    }
    /* The newest entry, or none: "0-0" (everything to come is after it). */
    const struct redisReply *e = reply->elements == 1 ? reply->element[0] : NULL;
    bool ok = e && e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
              e->element[0]->type == REDIS_REPLY_STRING &&
              e->element[0]->len < sizeof(rs->tail_last);
    snprintf(rs->tail_last, sizeof(rs->tail_last), "%s", ok ? e->element[0]->str : "0-0");
    tail_placed(rs);
    tail_read(rs);
}

static void tail_read(struct redis_store *rs)
{
    if (rs->tail_reading || !rs->tail || !redis_link_up(rs->tail))
        return;
    if (list_empty(&rs->followers)) {
        rs->tail_last[0] = '\0'; /* idle: the next follower from now places it again */
        return;
    }
    if (!rs->tail_last[0]) {
        rs->tail_rq.hdr.fn = on_tail_placed;
        cmd_begin(rs, "XREVRANGE");
        cmd_str(rs, rs->k_events);
        cmd_str(rs, "+");
        cmd_str(rs, "-");
        cmd_str(rs, "COUNT");
        cmd_str(rs, "1");
    } else {
        rs->tail_rq.hdr.fn = on_tail;
        cmd_begin(rs, "XREAD");
        cmd_str(rs, "COUNT");
        cmd_u64(rs, PAGE);
        cmd_str(rs, "BLOCK");
        cmd_u64(rs, TAIL_BLOCK_MS);
        cmd_str(rs, "STREAMS");
        cmd_str(rs, rs->k_events);
        cmd_str(rs, rs->tail_last);
    }
    rs->tail_reading = cmd_send(rs, rs->tail, &rs->tail_rq.hdr) == 0;
}

static void on_tail_ping(struct redis_link *l, struct redisReply *reply, struct redis_req *req)
{
    if (reply && !redis_reply_is_error(reply, NULL))
        redis_link_ready(l);
    else if (reply)
        redis_link_reset(l, "PING refused");
}

static void on_tail_handshake(struct redis_link *l, void *arg)
{
    struct redis_store *rs = arg;
    static struct redis_req ping_rq = {on_tail_ping};
    rs->tail_reading = false;
    cmd_begin(rs, "PING");
    cmd_send(rs, l, &ping_rq);
}

static void on_tail_up(struct redis_link *l, void *arg)
{
    tail_read(arg);
}

struct store_follow *rs_follow(struct order_store *s, const char *after, store_events_fn fn,
                               void *arg)
{
    struct redis_store *rs = redis_store_of(s);
    struct store_follow *f = xcalloc(1, sizeof(*f));
    f->rs = rs;
    f->fn = fn;
    f->arg = arg;
    f->first = true;
    list_push_back(&rs->followers, &f->node);
    if (after) {
        /* The id normalised ("0-0": from the oldest kept), or flagged. */
        struct read_req *probe = read_new(after, 1);
        snprintf(f->last, sizeof(f->last), "%s", probe->after[0] ? probe->after : "0-0");
        if (probe->gap)
            f->fn(NULL, 0, STORE_GAP, f->arg);
        free(probe);
        catch_up(f);
    } else if (rs->tail_last[0]) {
        snprintf(f->last, sizeof(f->last), "%s", rs->tail_last);
        f->live = true;
    }
    if (!rs->tail) {
        struct redis_link_config lc = {.role = "stream",
                                       .host = rs->host,
                                       .port = rs->url.port,
                                       .db = rs->url.db,
                                       .password = rs->url.password,
                                       .timeout_ms = TAIL_BLOCK_MS + rs->cfg.timeout_ms,
                                       .backoff_max_ms = rs->cfg.backoff_max_ms};
        struct redis_link_hooks hooks = {on_tail_handshake, on_tail_up, NULL, rs};
        rs->tail_rq = (struct store_req){{on_tail}, rs};
        rs->tail = redis_link_new(rs->ev, &lc, &hooks);
    } else {
        tail_read(rs);
    }
    return f;
}

void rs_unfollow(struct order_store *s, struct store_follow *f)
{
    if (!f)
        return;
    list_remove(&f->node);
    follow_free(f);
}

void stream_on_cmd_up(struct redis_store *rs)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &rs->followers)
    {
        struct store_follow *f = container_of(pos, struct store_follow, node);
        if (!f->live && !f->reading && f->last[0])
            catch_up(f);
    }
}

void stream_stop(struct redis_store *rs)
{
    struct list *pos;
    while ((pos = list_first(&rs->followers)))
        rs_unfollow(&rs->base, container_of(pos, struct store_follow, node));
}
