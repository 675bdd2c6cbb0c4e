/* The café's face: admission, placing orders through the store (an order is
 * acknowledged only once stored), reading them back, cancelling them wherever
 * they brew, and the bookkeeping of every transition. The brews themselves
 * are cafe/brew.c's; where orders live is the store's (cafe/store.h). */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xmalloc.h"
#include "cafe/cafe-internal.h"

static void on_cancel_request(uint64_t id, struct store_cancel_request *rq, void *arg);

struct cafe *cafe_new(struct event_base *base, const struct menu *menu,
                      const struct cafe_config *cfg)
{
    struct cafe *c = xcalloc(1, sizeof(*c));
    c->base = base;
    c->menu = menu;
    c->cfg = *cfg;
    c->cfg.store = NULL;
    if (c->cfg.time_scale < 0)
        c->cfg.time_scale = 0;
    c->store = cfg->store ? cfg->store
                          : store_memory_new(menu, cfg->max_orders, CAFE_MEMORY_STREAM,
                                             cfg->replica_id ? cfg->replica_id : "local");
    order_store_on_cancel(c->store, on_cancel_request, c);
    brews_init(c);
    c->baristas = baristas_new(base, cfg->baristas ? cfg->baristas : 1);
    if (!c->baristas) {
        cafe_free(c);
        return NULL;
    }
    baristas_set_timeline(c->baristas, cfg->timeline);
    return c;
}

void cafe_free(struct cafe *c)
{
    if (!c)
        return;
    if (c->baristas) {
        cafe_fail_all(c, "the café closed");
        baristas_free(c->baristas); /* detached jobs come back and are freed */
    }
    brews_free(c);
    order_store_free(c->store); /* answers what still waits for it */
    for (unsigned i = 0; i < CAFE_RECENT; i++)
        if (c->recent[i])
            order_unref(c->recent[i]);
    free(c);
}

const struct menu *cafe_menu(const struct cafe *c)
{
    return c->menu;
}

struct order_store *cafe_store(const struct cafe *c)
{
    return c->store;
}

/* --- transitions ---------------------------------------------------------- */

void cafe_set_observer(struct cafe *c, cafe_observer_fn fn, void *arg)
{
    c->observer = fn;
    c->observer_arg = arg;
}

static void observe(struct cafe *c, const struct order *o, enum cafe_event ev, int step)
{
    if (c->observer)
        c->observer(o, ev, step, c->observer_arg);
}

void cafe_transition(struct cafe *c, struct order *o, enum cafe_event ev, int step)
{
    observe(c, o, ev, step);
    order_store_record(c->store, o, ev, step);
}

void order_set_status(struct cafe *c, struct order *o, enum order_status status)
{
    static const enum cafe_event events[ORDER_NSTATUSES] = {[ORDER_QUEUED] = CAFE_ORDER_QUEUED,
                                                            [ORDER_BREWING] = CAFE_ORDER_BREWING,
                                                            [ORDER_READY] = CAFE_ORDER_READY,
                                                            [ORDER_CANCELLED] =
                                                                CAFE_ORDER_CANCELLED,
                                                            [ORDER_FAILED] = CAFE_ORDER_FAILED};
    c->st.live[o->status]--;
    c->st.live[status]++;
    o->status = status;
    if (order_status_final(status)) {
        o->finished_ns = clock_ns();
        o->finished_ms = order_offset_ms(o, o->finished_ns);
        c->st.in_flight[o->mode]--;
        c->st.finished[o->mode][status]++;
    }
    cafe_transition(c, o, events[status], -1);
}

static bool store_is_memory(const struct cafe *c)
{
    return strcmp(c->store->kind, "memory") == 0;
}

/* A finished order kept whole (the memory book keeps them all itself). */
static void remember(struct cafe *c, struct order *o)
{
    if (store_is_memory(c))
        return;
    struct order **slot = &c->recent[o->id % CAFE_RECENT];
    if (*slot)
        order_unref(*slot);
    order_ref(o);
    *slot = o;
}

/* What the store has of order id (o), as this replica knows it: the store
 * says whether it exists (the book is bounded) and has the last word on a
 * final state (another replica may have failed it: docs/store.md); this
 * replica's own copy -- brewing, still being written, or among the recent --
 * is at least as new otherwise, and says how the order went. */
static struct order *mine(struct cafe *c, uint64_t id)
{
    struct order *live = order_store_local(c->store, id), *r = c->recent[id % CAFE_RECENT];
    return live ? live : r && r->id == id ? r : NULL;
}

static struct order *ours_or(struct cafe *c, uint64_t id, struct order *o)
{
    struct order *m = mine(c, id);
    return m && (!order_status_final(o->status) || o->status == m->status) ? m : o;
}

struct order *cafe_order_own(struct cafe *c, struct order *snap)
{
    struct order *m = mine(c, snap->id);
    return m && m->status == snap->status ? m : snap;
}

static void answer_waiter(struct order *o)
{
    void (*waiter)(struct order *, void *) = o->waiter;
    o->waiter = NULL;
    if (waiter)
        waiter(o, o->waiter_arg);
}

static void on_final_stored(struct order *o, enum store_result r, void *arg)
{
    /* Answered even when the store could not confirm: the coffee is made;
     * the store catches up when it is back (docs/store.md, "Faults"). */
    remember(arg, o);
    answer_waiter(o);
    order_unref(o);
}

void cafe_order_finished(struct cafe *c, struct order *o)
{
    if (c->answer_now) /* the loop stops before the store could answer */
        answer_waiter(o);
    order_ref(o);
    order_store_sync(c->store, o, on_final_stored, c);
}

void order_wait(struct order *o, void (*fn)(struct order *o, void *arg), void *arg)
{
    o->waiter = fn;
    o->waiter_arg = arg;
}

/* --- placing -------------------------------------------------------------- */

enum cafe_admit cafe_admit(const struct cafe *c, enum brew_mode mode, unsigned n)
{
    if (c->draining)
        return CAFE_CLOSED;
    if ((uint64_t)cafe_in_flight(c) + n > c->cfg.max_brews)
        return CAFE_BUSY;
    if (mode == MODE_THREAD) {
        /* Checked at admission: an accepted order never fails later for want
         * of queue space, so the queue may pass the bound by what accepted
         * orders still have to hand over (itself bounded by max_brews). */
        struct barista_stats bs;
        baristas_stats(c->baristas, &bs);
        if (bs.queued >= c->cfg.max_queue)
            return CAFE_QUEUE_FULL;
    }
    return CAFE_OK;
}

/* An admitted order, queued, not stored yet: the café's reference. */
static struct order *order_from_spec(struct cafe *c, const struct order_spec *spec)
{
    struct order *o = order_alloc(spec->item);
    o->flavour = spec->flavour;
    o->customer = spec->customer ? xstrdup(spec->customer) : NULL;
    o->mode = spec->mode;
    o->time_scale = spec->time_scale > 0 ? spec->time_scale : c->cfg.time_scale;
    o->accepted_ns = clock_ns();
    o->accepted_unix_ms = unix_ms_now();
    size_t len = strnlen(c->store->replica, sizeof(o->replica) - 1); /* cut as snprintf cuts */
    memcpy(o->replica, c->store->replica, len);
    o->replica[len] = '\0';
    o->cafe = c;
    c->st.live[ORDER_QUEUED]++;
    return o;
}

/* A placement between admission and the store's answer. */
struct placing {
    struct cafe *cafe;
    cafe_placed_fn placed;
    void *arg;
    int64_t timeout_ms[]; /* one per order */
};

static void on_created(struct order *const *orders, unsigned n, enum store_result r, void *arg)
{
    struct placing *p = arg;
    struct cafe *c = p->cafe;
    c->creating -= n;
    if (r != STORE_OK) {
        c->st.unstored += n;
        for (unsigned i = 0; i < n; i++)
            order_unref(orders[i]);
        p->placed(NULL, 0, CAFE_OK, r, p->arg);
        free(p);
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        struct order *o = orders[i];
        /* Accepted now that it is stored: step offsets count from here. A
         * store that answered inside the call (memory) took no time: the
         * times order_from_spec() read a moment ago stand. */
        if (!c->submitting) {
            o->accepted_ns = clock_ns();
            o->accepted_unix_ms = unix_ms_now();
        }
        c->st.placed[o->mode]++;
        c->st.in_flight[o->mode]++;
        observe(c, o, CAFE_ORDER_QUEUED, -1); /* the store wrote its own entry */
        brew_start(c, o, p->timeout_ms[i]);
    }
    p->placed(orders, n, CAFE_OK, STORE_OK, p->arg);
    for (unsigned i = 0; i < n; i++)
        order_unref(orders[i]); /* the store and the brew hold theirs */
    free(p);
}

void cafe_orders_submit(struct cafe *c, const struct order_spec *specs, unsigned n,
                        cafe_placed_fn placed, void *arg)
{
    /* One verdict for all: placing one hands its steps to the baristas, which
     * must not refuse the next one of the same batch. */
    enum cafe_admit verdict = cafe_admit(c, specs[0].mode, n);
    if (verdict != CAFE_OK) {
        c->st.refused++;
        placed(NULL, 0, verdict, STORE_OK, arg);
        return;
    }
    struct placing *p = xmalloc(sizeof(*p) + n * sizeof(p->timeout_ms[0]));
    struct order *one[1], **orders = n == 1 ? one : xmalloc(n * sizeof(*orders));
    *p = (struct placing){.cafe = c, .placed = placed, .arg = arg};
    for (unsigned i = 0; i < n; i++) {
        orders[i] = order_from_spec(c, &specs[i]);
        p->timeout_ms[i] = specs[i].timeout_ms;
    }
    c->creating += n;
    c->submitting = true;
    order_store_create(c->store, orders, n, on_created, p); /* may complete in here */
    c->submitting = false;
    if (orders != one) /* the store copies the list (cafe/store.h) */
        free(orders);
}

/* --- reading -------------------------------------------------------------- */

/* A read on its way to the store. */
struct getting {
    struct cafe *cafe;
    uint64_t id;
    store_order_fn done;
    void *arg;
};

static void on_got(struct order *o, enum store_result r, void *arg)
{
    struct getting g = *(struct getting *)arg;
    free(arg);
    g.done(r == STORE_OK ? ours_or(g.cafe, g.id, o) : o, r, g.arg);
}

void cafe_order_get(struct cafe *c, uint64_t id, store_order_fn done, void *arg)
{
    if (store_is_memory(c)) { /* its orders are the live ones */
        order_store_get(c->store, id, done, arg);
        return;
    }
    struct getting *g = xmalloc(sizeof(*g));
    *g = (struct getting){c, id, done, arg};
    order_store_get(c->store, id, on_got, g);
}

/* A listing on its way to the store. */
struct listing {
    struct cafe *cafe;
    store_orders_fn done;
    void *arg;
};

static void on_listed(struct order *const *orders, unsigned n, enum store_result r, void *arg)
{
    struct listing l = *(struct listing *)arg;
    free(arg);
    struct order **ours = n ? xmalloc(n * sizeof(*ours)) : NULL;
    for (unsigned i = 0; i < n; i++)
        ours[i] = ours_or(l.cafe, orders[i]->id, orders[i]);
    l.done(ours, n, r, l.arg);
    free(ours);
}

void cafe_orders_list(struct cafe *c, int status, unsigned limit, store_orders_fn done, void *arg)
{
    if (store_is_memory(c)) { /* its orders are the live ones */
        order_store_list(c->store, status, limit, done, arg);
        return;
    }
    struct listing *l = xmalloc(sizeof(*l));
    *l = (struct listing){c, done, arg};
    order_store_list(c->store, status, limit, on_listed, l);
}

void cafe_flush(struct cafe *c, store_order_fn done, void *arg)
{
    order_store_sync(c->store, NULL, done, arg);
}

/* --- cancelling ------------------------------------------------------------- */

enum cafe_cancel cafe_order_cancel(struct cafe *c, struct order *o)
{
    if (o->status == ORDER_CANCELLED)
        return CANCEL_ALREADY;
    if (!o->brew)
        return CANCEL_FINISHED;
    brew_stop(o, ORDER_CANCELLED, "cancelled");
    return CANCEL_DONE;
}

/* One DELETE on its way: here, or through the owner replica. */
struct cancelling {
    struct cafe *cafe;
    uint64_t id;
    enum cafe_cancel verdict;
    cafe_cancelled_fn done;
    void *arg;
};

static void cancelling_end(struct cancelling *t, struct order *o, enum store_result r)
{
    t->done(o, t->verdict, r, t->arg);
    free(t);
}

static void on_cancel_stored(struct order *o, enum store_result r, void *arg)
{
    cancelling_end(arg, o, r);
}

static void on_cancel_reread(struct order *o, enum store_result r, void *arg)
{
    cancelling_end(arg, o, r);
}

static void on_cancel_answered(enum cafe_cancel verdict, enum store_result r, void *arg)
{
    struct cancelling *t = arg;
    t->verdict = verdict;
    if (r != STORE_OK) {
        cancelling_end(t, NULL, r);
        return;
    }
    /* The owner stored the cancellation before answering: read it back. */
    order_store_get(t->cafe->store, t->id, on_cancel_reread, t);
}

static void on_cancel_looked_up(struct order *o, enum store_result r, void *arg)
{
    struct cancelling *t = arg;
    struct order_store *s = t->cafe->store;
    if (r != STORE_OK) {
        cancelling_end(t, NULL, r);
    } else if (order_status_final(o->status)) {
        t->verdict = o->status == ORDER_CANCELLED ? CANCEL_ALREADY : CANCEL_FINISHED;
        cancelling_end(t, o, STORE_OK);
    } else if (strcmp(o->replica, s->replica) == 0) {
        /* Ours by name but not brewing here: an earlier life of this replica
         * left it; the restart rule fails it (docs/store.md). */
        cancelling_end(t, NULL, STORE_OWNER_GONE);
    } else {
        order_store_cancel_send(s, o->replica, t->id, on_cancel_answered, t);
    }
}

void cafe_order_cancel_async(struct cafe *c, uint64_t id, cafe_cancelled_fn done, void *arg)
{
    struct cancelling *t = xmalloc(sizeof(*t));
    *t = (struct cancelling){.cafe = c, .id = id, .done = done, .arg = arg};
    struct order *o = order_store_local(c->store, id);
    if (!o) {
        cafe_order_get(c, id, on_cancel_looked_up, t);
        return;
    }
    t->verdict = cafe_order_cancel(c, o);
    order_store_sync(c->store, o, on_cancel_stored, t);
}

/* A cancel another replica sent for an order brewing here: cancel, store,
 * then answer (the asker reads the stored state back). */
struct remote_cancel {
    struct cafe *cafe;
    struct store_cancel_request *rq;
    enum cafe_cancel verdict;
};

static void on_remote_cancel_stored(struct order *o, enum store_result r, void *arg)
{
    struct remote_cancel *t = arg;
    order_store_cancel_reply(t->cafe->store, t->rq, t->verdict, r);
    free(t);
}

static void on_cancel_request(uint64_t id, struct store_cancel_request *rq, void *arg)
{
    struct cafe *c = arg;
    struct order *o = order_store_local(c->store, id);
    if (!o) {
        order_store_cancel_reply(c->store, rq, CANCEL_FINISHED, STORE_NOT_FOUND);
        return;
    }
    struct remote_cancel *t = xmalloc(sizeof(*t));
    *t = (struct remote_cancel){.cafe = c, .rq = rq, .verdict = cafe_order_cancel(c, o)};
    order_store_sync(c->store, o, on_remote_cancel_stored, t);
}

/* --- shutdown and stats ----------------------------------------------------- */

void cafe_drain(struct cafe *c)
{
    c->draining = true;
}

bool cafe_draining(const struct cafe *c)
{
    return c->draining;
}

void cafe_fail_all(struct cafe *c, const char *reason)
{
    c->answer_now = true;
    brews_fail_all(c, reason);
    c->answer_now = false;
}

void cafe_stats(const struct cafe *c, struct cafe_stats *st)
{
    struct barista_stats bs;
    *st = c->st;
    baristas_stats(c->baristas, &bs);
    st->barista_queue = bs.queued;
    st->baristas_busy = bs.busy;
    st->baristas = bs.threads;
}

unsigned cafe_in_flight(const struct cafe *c)
{
    unsigned n = c->creating; /* placed, not yet stored: they count against max_brews too */
    for (int m = 0; m < BREW_NMODES; m++)
        n += c->st.in_flight[m];
    return n;
}
