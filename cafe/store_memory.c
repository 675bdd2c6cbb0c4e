/* The in-memory order book behind the store interface: one process's orders,
 * bounded, gone with the process. Every operation completes before the call
 * returns: there is nothing to wait for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "base/xmalloc.h"
#include "cafe/store.h"

/* One transition; the order is looked up again when read (an evicted one is
 * skipped), so the stream holds no references and the book stays the bound. */
struct entry {
    uint64_t seq; /* the entry id is "<seq>-0" */
    uint64_t order_id;
    uint8_t event;
    int8_t step;
};

struct store_follow {
    struct list node;
    store_events_fn fn;
    void *arg;
};

struct memory_store {
    struct order_store base; /* first */

    /* The book: a ring indexed by id % cap. Ids are consecutive, so the slot
     * of id either holds that order or a newer one: O(1) lookup, and the
     * oldest order is evicted by the newest (memory stays bounded however
     * many millions of orders pass). */
    struct order **ring;
    unsigned cap;
    uint64_t last_id;

    struct entry *stream; /* the last stream_cap transitions, by seq % stream_cap */
    unsigned stream_cap;
    uint64_t last_seq;
    struct list followers;
};

static struct memory_store *mem(struct order_store *s)
{
    return (struct memory_store *)s;
}

static bool is_memory(const struct order_store *s)
{
    return s && strcmp(s->kind, "memory") == 0;
}

struct order *store_memory_find(struct order_store *s, uint64_t id)
{
    if (!is_memory(s))
        return NULL;
    struct memory_store *m = mem(s);
    if (id == 0 || id > m->last_id || m->last_id - id >= m->cap)
        return NULL;
    struct order *o = m->ring[id % m->cap];
    return o && o->id == id ? o : NULL;
}

unsigned store_memory_each(struct order_store *s, int status, unsigned limit,
                           void (*fn)(struct order *o, void *arg), void *arg)
{
    if (!is_memory(s))
        return 0;
    struct memory_store *m = mem(s);
    unsigned n = 0;
    for (uint64_t id = m->last_id; id > 0 && m->last_id - id < m->cap && n < limit; id--) {
        struct order *o = m->ring[id % m->cap];
        if (o && o->id == id && (status < 0 || (int)o->status == status)) {
            fn(o, arg);
            n++;
        }
    }
    return n;
}

/* --- the stream ------------------------------------------------------------- */

static bool event_of(struct memory_store *m, const struct entry *e, struct store_event *ev)
{
    struct order *o = store_memory_find(&m->base, e->order_id);
    if (!o)
        return false;
    snprintf(ev->id, sizeof(ev->id), "%llu-0", (unsigned long long)e->seq);
    ev->event = (enum cafe_event)e->event;
    ev->step = e->step;
    snprintf(ev->by, sizeof(ev->by), "%s", m->base.replica);
    ev->order = o;
    return true;
}

static void append(struct memory_store *m, const struct order *o, enum cafe_event ev, int step)
{
    struct entry *e = &m->stream[++m->last_seq % m->stream_cap];
    *e = (struct entry){m->last_seq, o->id, (uint8_t)ev, (int8_t)step};
    struct store_event one;
    if (list_empty(&m->followers) || !event_of(m, e, &one))
        return;
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &m->followers)
    {
        struct store_follow *f = container_of(pos, struct store_follow, node);
        f->fn(&one, 1, STORE_OK, f->arg);
    }
}

/* "<seq>-<n>" or "<seq>" -> seq; 0 for NULL, "0" or anything else. */
static uint64_t seq_of(const char *id)
{
    return id ? strtoull(id, NULL, 10) : 0;
}

static uint64_t oldest_seq(const struct memory_store *m)
{
    return m->last_seq >= m->stream_cap ? m->last_seq - m->stream_cap + 1 : 1;
}

/* Up to max entries after seq `after` into ev[]; *r says whether some were
 * trimmed in between. */
static unsigned collect_after(struct memory_store *m, uint64_t after, struct store_event *ev,
                              unsigned max, enum store_result *r)
{
    uint64_t seq = after + 1, oldest = oldest_seq(m);
    *r = seq < oldest ? STORE_GAP : STORE_OK;
    unsigned n = 0;
    for (seq = seq < oldest ? oldest : seq; seq <= m->last_seq && n < max; seq++)
        n += event_of(m, &m->stream[seq % m->stream_cap], &ev[n]);
    return n;
}

static void mem_events_read(struct order_store *s, const char *after, unsigned max,
                            store_events_fn done, void *arg)
{
    struct memory_store *m = mem(s);
    unsigned cap = max < m->stream_cap ? max : m->stream_cap;
    struct store_event *ev = xmalloc((cap + 1) * sizeof(*ev));
    enum store_result r;
    unsigned n = collect_after(m, seq_of(after), ev, cap, &r);
    done(ev, n, r, arg);
    free(ev);
}

static struct store_follow *mem_follow(struct order_store *s, const char *after, store_events_fn fn,
                                       void *arg)
{
    struct memory_store *m = mem(s);
    struct store_follow *f = xcalloc(1, sizeof(*f));
    f->fn = fn;
    f->arg = arg;
    if (after) {
        /* What the stream still holds after `after`, in one batch. */
        struct store_event *ev = xmalloc((m->stream_cap + 1) * sizeof(*ev));
        enum store_result r;
        unsigned n = collect_after(m, seq_of(after), ev, m->stream_cap, &r);
        if (n || r != STORE_OK)
            fn(ev, n, r, arg);
        free(ev);
    }
    list_push_back(&m->followers, &f->node);
    return f;
}

static void mem_unfollow(struct order_store *s, struct store_follow *f)
{
    if (!f)
        return;
    list_remove(&f->node);
    free(f);
}

/* --- orders ------------------------------------------------------------------ */

#define EVICT_AHEAD 8 /* orders: a few requests' time, enough for a cache miss */

static void mem_create(struct order_store *s, struct order *const *orders, unsigned n,
                       store_orders_fn done, void *arg)
{
    struct memory_store *m = mem(s);
    for (unsigned i = 0; i < n; i++) {
        struct order *o = orders[i];
        o->id = ++m->last_id;
        /* The newest order takes the slot of the one cap ids older, cold
         * by now: the one a few orders on is fetched ahead, so its free
         * does not wait for memory. */
        struct order *next = m->ring[(o->id + EVICT_AHEAD) % m->cap];
        if (next)
            __builtin_prefetch(next, 1);
        struct order **slot = &m->ring[o->id % m->cap];
        if (*slot)
            order_unref(*slot);
        *slot = o;
        order_ref(o);
        append(m, o, CAFE_ORDER_QUEUED, -1);
    }
    done(orders, n, STORE_OK, arg);
}

static void mem_record(struct order_store *s, struct order *o, enum cafe_event ev, int step)
{
    append(mem(s), o, ev, step); /* the book holds the order itself */
}

static void mem_sync(struct order_store *s, struct order *o, store_order_fn done, void *arg)
{
    done(o, STORE_OK, arg);
}

static void mem_get(struct order_store *s, uint64_t id, store_order_fn done, void *arg)
{
    struct order *o = store_memory_find(s, id);
    done(o, o ? STORE_OK : STORE_NOT_FOUND, arg);
}

static struct order *mem_local(struct order_store *s, uint64_t id)
{
    return store_memory_find(s, id);
}

struct collected {
    struct order **orders;
    unsigned n;
};

static void collect(struct order *o, void *arg)
{
    struct collected *c = arg;
    c->orders[c->n++] = o;
}

static void mem_list(struct order_store *s, int status, unsigned limit, store_orders_fn done,
                     void *arg)
{
    struct memory_store *m = mem(s);
    struct collected c = {xmalloc((limit < m->cap ? limit : m->cap) * sizeof(struct order *) + 1),
                          0};
    store_memory_each(s, status, limit, collect, &c);
    done(c.orders, c.n, STORE_OK, arg);
    free(c.orders);
}

/* Every order here is this replica's own: nobody else to ask. */
static void mem_cancel_send(struct order_store *s, const char *owner, uint64_t id,
                            store_cancel_fn done, void *arg)
{
    done(CANCEL_FINISHED, STORE_OWNER_GONE, arg);
}

static void mem_cancel_reply(struct order_store *s, struct store_cancel_request *rq,
                             enum cafe_cancel verdict, enum store_result r)
{
}

static void mem_claim_orphans(struct order_store *s, store_count_fn done, void *arg)
{
    done(0, STORE_OK, arg);
}

static void mem_stats(struct order_store *s, struct store_stats *st)
{
    *st = (struct store_stats){.up = true, .state = "up"};
}

static void mem_free(struct order_store *s)
{
    struct memory_store *m = mem(s);
    for (unsigned i = 0; i < m->cap; i++)
        if (m->ring[i])
            order_unref(m->ring[i]);
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &m->followers)
        mem_unfollow(s, container_of(pos, struct store_follow, node));
    free(m->ring);
    free(m->stream);
    free(m);
}

static const struct order_store_ops memory_ops = {
    .create = mem_create,
    .record = mem_record,
    .sync = mem_sync,
    .get = mem_get,
    .local = mem_local,
    .list = mem_list,
    .cancel_send = mem_cancel_send,
    .cancel_reply = mem_cancel_reply,
    .claim_orphans = mem_claim_orphans,
    .events_read = mem_events_read,
    .follow = mem_follow,
    .unfollow = mem_unfollow,
    .stats = mem_stats,
    .free = mem_free,
};

struct order_store *store_memory_new(const struct menu *menu, unsigned max_orders,
                                     unsigned stream_max, const char *replica)
{
    struct memory_store *m = xcalloc(1, sizeof(*m));
    m->base.ops = &memory_ops;
    m->base.kind = "memory";
    m->base.menu = menu;
    snprintf(m->base.replica, sizeof(m->base.replica), "%s", replica);
    m->cap = max_orders ? max_orders : 1;
    m->ring = xcalloc(m->cap, sizeof(*m->ring));
    m->stream_cap = stream_max ? stream_max : 1;
    m->stream = xcalloc(m->stream_cap, sizeof(*m->stream));
    list_init(&m->followers);
    return &m->base;
}
