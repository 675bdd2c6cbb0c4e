/* The brew scheduler: runs each order's recipe graph on the event loop in one
 * of three modes (docs/contract.md, "Modes").
 *
 * - sync: the whole recipe runs inside one loop callback, step after step,
 *   each a blocking sleep. Every other client stalls meanwhile -- the point.
 * - async: waiting steps are timers, all started at once (asyncio.gather);
 *   hands-on steps then block the loop one at a time, like a coroutine that
 *   never awaits.
 * - thread: waiting steps are timers; hands-on steps go to the barista pool
 *   and come back through its eventfd, so the loop never blocks.
 *
 * A brew holds a reference on its order, never a connection: whoever waits
 * for it registered a waiter with order_wait() and may detach at any time. */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xmalloc.h"
#include "cafe/cafe-internal.h"

struct brew;

/* One step of one brew while it runs. */
struct step_run {
    struct brew *brew;
    unsigned idx;
    /* A waiting step's timer (async/thread), inside the run: no allocation
     * per step. timing: it is pending. */
    struct event timer;
    bool timing;
    struct hands_job *job; /* a hands-on step with the baristas (thread) */
    uint64_t ready_ns;     /* when it could start (timers and barista work) */
    uint64_t armed_ns;     /* a timer's: when it was armed */
    uint64_t end_ns;       /* when it finished, 0 before */
};

/* A hands-on step handed to the baristas. run is NULL once the brew let go
 * (cancelled while the step was in a barista's hands): the result is dropped. */
struct hands_job {
    struct barista_job job; /* first: the pool hands this pointer back */
    struct step_run *run;
};

struct brew {
    struct cafe *cafe;
    struct order *order;        /* a reference */
    struct brew *prev, *next;   /* cafe->brews */
    struct brew *qprev, *qnext; /* on queue, if any */
    struct brew_queue *queue;   /* cafe->starting, cafe->sync or NULL */
    struct event deadline;      /* timeout_ms (async/thread, and sync while queued) */
    uint64_t deadline_ns;       /* 0: none */
    uint32_t started, done;     /* step bitmasks */
    struct step_run runs[];
};

static void brew_advance(struct brew *b);

/* --- queues and lists --------------------------------------------------- */

static void queue_push(struct brew_queue *q, struct brew *b)
{
    b->queue = q;
    b->qnext = NULL;
    b->qprev = q->tail;
    if (q->tail)
        q->tail->qnext = b;
    else
        q->head = b;
    q->tail = b;
}

static void queue_remove(struct brew *b)
{
    struct brew_queue *q = b->queue;
    if (!q)
        return;
    if (b->qprev)
        b->qprev->qnext = b->qnext;
    else
        q->head = b->qnext;
    if (b->qnext)
        b->qnext->qprev = b->qprev;
    else
        q->tail = b->qprev;
    b->queue = NULL;
    b->qprev = b->qnext = NULL;
}

static struct brew *queue_pop(struct brew_queue *q)
{
    struct brew *b = q->head;
    if (b)
        queue_remove(b);
    return b;
}

static void kick(struct cafe *c)
{
    /* A zero timeout, not event_active(): timers become active only after the
     * loop has polled for I/O, so queued sync brews take turns with other
     * clients instead of running back to back in one pass. */
    static const struct timeval now = {0, 0};
    evtimer_add(c->kick, &now);
}

/* --- time --------------------------------------------------------------- */

/* A step's real duration: each order carries its own scale (a client may ask
 * for a faster one than the café's, docs/experiments.md). */
static uint64_t step_ns(const struct order *o, const struct step_def *st)
{
    double ns = st->seconds * o->time_scale * 1e9;
    return ns < 1 ? 1 : (uint64_t)ns;
}

/* The timeval to arm a step's timer with: one of libevent's O(1) common
 * timeout queues per distinct duration (a menu has few), or a plain timeout
 * in *plain once the table or libevent's 256 per base run out. Orders at a
 * scale of their own get plain timeouts: clients' one-off durations must not
 * fill the table the café's own need. */
static const struct timeval *step_timeout(struct cafe *c, const struct order *o, uint64_t ns,
                                          struct timeval *plain)
{
    uint64_t us = (ns + 999) / 1000;
    plain->tv_sec = (time_t)(us / 1000000u);
    plain->tv_usec = (suseconds_t)(us % 1000000u);
    if (o->time_scale != c->cfg.time_scale)
        return plain;
    for (unsigned i = 0; i < c->ncommon; i++)
        if (c->common[i].us == us)
            return c->common[i].tv;
    if (c->ncommon == CAFE_MAX_COMMON_TIMEOUTS)
        return plain;
    const struct timeval *tv = event_base_init_common_timeout(c->base, plain);
    if (!tv)
        return plain;
    c->common[c->ncommon].us = us;
    c->common[c->ncommon].tv = tv;
    c->ncommon++;
    return tv;
}

/* --- step transitions --------------------------------------------------- */

static void step_started(struct brew *b, unsigned i, uint64_t at_ns)
{
    struct cafe *c = b->cafe;
    struct order *o = b->order;
    b->started |= 1u << i;
    o->steps[i].status = STEP_RUNNING;
    o->steps[i].start_ms = order_offset_ms(o, at_ns);
    if (o->status == ORDER_QUEUED) {
        o->started_ns = at_ns;
        o->started_ms = o->steps[i].start_ms;
        order_set_status(c, o, ORDER_BREWING);
    }
    cafe_transition(c, o, CAFE_STEP_STARTED, (int)i);
}

static void step_done(struct brew *b, unsigned i, uint64_t at_ns)
{
    struct order *o = b->order;
    b->runs[i].end_ns = at_ns;
    b->done |= 1u << i;
    o->steps[i].status = STEP_DONE;
    o->steps[i].end_ms = order_offset_ms(o, at_ns);
    cafe_transition(b->cafe, o, CAFE_STEP_DONE, (int)i);
}

/* --- where the time went (cafe/lateness.h) ------------------------------- */

/* When step i could start: its `after` steps all done, or the acceptance. */
static uint64_t step_ready_ns(const struct brew *b, unsigned i)
{
    uint64_t at = b->order->accepted_ns;
    uint32_t after = b->order->item->steps[i].after;
    for (unsigned j = 0; after; j++, after >>= 1)
        if ((after & 1) && b->runs[j].end_ns > at)
            at = b->runs[j].end_ns;
    return at;
}

/* The longest loop block in [from_ns, to_ns] (an empty span has none), if
 * it is longer than *best. */
static void longest_block(struct cafe *c, uint64_t from_ns, uint64_t to_ns,
                          struct timeline_block *best)
{
    struct timeline_block b;
    if (to_ns > from_ns &&
        loop_timeline_longest(c->cfg.timeline, LOOP_TIMELINE_LOOP, from_ns, to_ns, &b) &&
        b.dur_ns > best->dur_ns)
        *best = b;
}

/* Step i was due at due_ns and happened (ended, for a timer; else started)
 * at at_ns, held up for cause over [w0_from, w0_to] and [w1_from, w1_to]
 * (empty when to <= from): cafe/lateness.h. What held the loop is asked of
 * the timeline only when the step was late at all. */
static void step_was(struct brew *b, unsigned i, uint64_t due_ns, uint64_t at_ns,
                     enum late_cause cause, uint64_t w0_from, uint64_t w0_to, uint64_t w1_from,
                     uint64_t w1_to)
{
    struct order *o = b->order;
    struct step_lateness *l = &o->late[i];
    struct late_window w0 = {order_offset_ms(o, w0_from), order_offset_ms(o, w0_to)};
    struct late_window w1 = {order_offset_ms(o, w1_from), order_offset_ms(o, w1_to)};
    lateness_set(l, order_offset_ms(o, due_ns), order_offset_ms(o, at_ns), cause, w0, w1);
    l->held_by = (struct timeline_label){0};
    if (l->cause != LATE_LOOP || !b->cafe->cfg.timeline)
        return;
    struct timeline_block best = {0};
    longest_block(b->cafe, w0_from, w0_to, &best);
    longest_block(b->cafe, w1_from, w1_to, &best);
    if (best.dur_ns)
        l->held_by = best.label;
}

/* Runs a hands-on step on the loop thread (async): the loop is blocked for
 * its whole duration, and says so in the slow-callback log and the loop
 * timeline. */
static void step_block(struct brew *b, unsigned i)
{
    struct cafe *c = b->cafe;
    const struct step_def *def = &b->order->item->steps[i];
    uint64_t t0 = loop_timeline_enter(c->cfg.timeline);
    if (!t0)
        t0 = clock_ns();
    uint64_t ready = step_ready_ns(b, i);
    step_was(b, i, ready, t0, LATE_LOOP, ready, t0, 0, 0);
    step_started(b, i, t0);
    sleep_ns(step_ns(b->order, def));
    uint64_t t1 = clock_ns();
    step_done(b, i, t1);
    c->st.loop_blocked_ns += t1 - t0;
    struct timeline_label label = {"async hands-on", def->name, b->order->id};
    loop_timeline_leave(c->cfg.timeline, t0, BREW_TAG(MODE_ASYNC), &label);
    char what[128];
    snprintf(what, sizeof(what), "async brew %s step %s", b->order->item->name, def->name);
    log_slow_callback(what, t1 - t0);
}

/* --- finishing ---------------------------------------------------------- */

/* Lets go of a step that has not finished: its timer is dropped, its queued
 * barista work taken back, a step already in a barista's hands detached. */
static void step_drop(struct brew *b, struct step_run *r)
{
    struct order_step *st = &b->order->steps[r->idx];
    if (r->timing) {
        event_del(&r->timer);
        r->timing = false;
    }
    if (r->job) {
        if (baristas_drop(b->cafe->baristas, &r->job->job))
            free(r->job);
        else
            r->job->run = NULL;
        r->job = NULL;
    }
    if (st->status != STEP_DONE)
        st->status = STEP_DROPPED;
}

/* Ends the brew: the order moves to its final status, the observer and the
 * store hear of it (then the waiter, once stored), and the brew's reference
 * on the order goes. */
static void brew_finish(struct brew *b, enum order_status status, const char *reason)
{
    struct cafe *c = b->cafe;
    struct order *o = b->order;
    for (unsigned i = 0; status != ORDER_READY && i < o->item->nsteps; i++)
        step_drop(b, &b->runs[i]);
    if (b->deadline_ns)
        event_del(&b->deadline);
    queue_remove(b);
    if (b->prev)
        b->prev->next = b->next;
    else
        c->brews = b->next;
    if (b->next)
        b->next->prev = b->prev;
    free(b);

    o->brew = NULL;
    o->reason = reason;
    order_set_status(c, o, status);
    cafe_order_finished(c, o);
    order_unref(o);
}

static void brew_time_out(struct brew *b)
{
    b->order->timed_out = true;
    brew_finish(b, ORDER_CANCELLED, "timeout_ms passed");
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct brew *b = arg;
    b->deadline_ns = 0; /* fired: nothing to delete */
    brew_time_out(b);
}

/* --- the three ways to run steps ------------------------------------------ */

/* A timer fired: late if the loop was busy when it was due, or was busy
 * when it should have been armed (a brew queued behind another's hands-on
 * step). The callback is a section of the loop timeline of its own, named
 * by what runs inside it when that is longer (a hands-on step it unlocks). */
static void on_step_timer(evutil_socket_t fd, short what, void *arg)
{
    struct step_run *r = arg;
    struct brew *b = r->brew;
    struct cafe *c = b->cafe;
    const struct step_def *def = &b->order->item->steps[r->idx];
    uint64_t now = loop_timeline_enter(c->cfg.timeline);
    if (!now)
        now = clock_ns();
    enum brew_mode mode = b->order->mode;
    struct timeline_label label = {mode == MODE_ASYNC ? "async timer" : "thread timer", def->name,
                                   b->order->id};
    r->timing = false;
    uint64_t dur = step_ns(b->order, def);
    step_was(b, r->idx, r->ready_ns + dur, now, LATE_LOOP, r->ready_ns, r->armed_ns,
             r->armed_ns + dur, now);
    step_done(b, r->idx, now);
    brew_advance(b); /* may free b */
    loop_timeline_leave(c->cfg.timeline, now, BREW_TAG(mode), &label);
}

static void step_arm(struct brew *b, unsigned i)
{
    struct cafe *c = b->cafe;
    struct step_run *r = &b->runs[i];
    struct order *o = b->order;
    struct timeval plain;
    uint64_t dur = step_ns(o, &o->item->steps[i]);
    /* libevent counts timeouts from the time it cached when this loop turn
     * began; a busy turn would make the step end early. Count from now, as
     * start_ms does (a vDSO clock read). */
    event_base_update_cache_time(c->base);
    r->ready_ns = step_ready_ns(b, i);
    r->armed_ns = clock_ns();
    o->late[i].due_known = true;
    o->late[i].due_ms = order_offset_ms(o, r->ready_ns + dur);
    step_started(b, i, r->armed_ns);
    evtimer_assign(&r->timer, c->base, on_step_timer, r);
    evtimer_add(&r->timer, step_timeout(c, o, dur, &plain));
    r->timing = true;
}

/* A barista took the step in hand: it started then, not when it comes back
 * (the observers hear of it now, while it runs). */
static void on_job_started(struct barista_job *job)
{
    struct step_run *r = ((struct hands_job *)job)->run;
    if (!r) /* the brew was cancelled meanwhile */
        return;
    step_was(r->brew, r->idx, r->ready_ns, job->started_ns, LATE_BARISTA, r->ready_ns,
             job->started_ns, 0, 0);
    step_started(r->brew, r->idx, job->started_ns);
}

static void on_job_done(struct barista_job *job)
{
    struct hands_job *hj = (struct hands_job *)job;
    struct step_run *r = hj->run;
    enum barista_job_state state = job->state;
    uint64_t ended = job->ended_ns;
    free(hj);
    if (!r) /* the brew was cancelled while the step was in hand */
        return;
    struct brew *b = r->brew;
    r->job = NULL;
    if (state != JOB_FINISHED) { /* the pool shut down with it still queued */
        brew_finish(b, ORDER_FAILED, "the baristas went home");
        return;
    }
    step_done(b, r->idx, ended);
    brew_advance(b);
}

static void step_hand_over(struct brew *b, unsigned i)
{
    struct cafe *c = b->cafe;
    struct order *o = b->order;
    struct step_run *r = &b->runs[i];
    struct hands_job *hj = xcalloc(1, sizeof(*hj));
    hj->job.work_ns = step_ns(o, &o->item->steps[i]);
    hj->job.started = on_job_started;
    hj->job.done = on_job_done;
    hj->job.tag = BREW_TAG(MODE_THREAD);
    hj->job.label = (struct timeline_label){"thread hands-on", o->item->steps[i].name, o->id};
    hj->run = r;
    r->job = hj;
    r->ready_ns = step_ready_ns(b, i);
    o->late[i].due_known = true;
    o->late[i].due_ms = order_offset_ms(o, r->ready_ns);
    b->started |= 1u << i;
    o->steps[i].status = STEP_QUEUED;
    baristas_submit(c->baristas, &hj->job);
}

/* Starts every ready step that does not block the loop: waiting steps
 * become timers, and in thread mode hands-on steps go to the baristas.
 * Returns the first ready hands-on step async mode must run on the loop, or
 * -1. */
static int brew_start_ready(struct brew *b)
{
    const struct item *it = b->order->item;
    int hands = -1;
    for (unsigned i = 0; i < it->nsteps; i++) {
        if ((b->started & (1u << i)) || (it->steps[i].after & ~b->done))
            continue;
        if (it->steps[i].kind == STEP_WAIT)
            step_arm(b, i);
        else if (b->order->mode == MODE_THREAD)
            step_hand_over(b, i);
        else if (hands < 0)
            hands = (int)i;
    }
    return hands;
}

/* Starts every step whose prerequisites are done: all waiting steps first (as
 * asyncio.gather schedules every task before any runs), then, in async mode,
 * the hands-on ones on the loop, one at a time -- each may unlock more. */
static void brew_advance(struct brew *b)
{
    int hands;
    while ((hands = brew_start_ready(b)) >= 0) {
        step_block(b, (unsigned)hands);
        /* Timers armed from here on must count from the real now, not the
         * time libevent cached before we blocked. */
        event_base_update_cache_time(b->cafe->base);
    }
    if (b->done == (1u << b->order->item->nsteps) - 1)
        brew_finish(b, ORDER_READY, NULL);
}

/* Sync mode: the whole recipe in one callback. The deadline can only be
 * checked between steps -- a blocked loop runs no timers (docs/contract.md).
 * Each step is a block of the loop timeline, named after it; the first was
 * due when the order was accepted, each next one when the previous ended. */
static void brew_run_sync(struct brew *b)
{
    struct cafe *c = b->cafe;
    const struct item *it = b->order->item;
    uint64_t deadline = b->deadline_ns, t0 = clock_ns(), due = b->order->accepted_ns;
    char what[96];
    snprintf(what, sizeof(what), "sync brew %s (order %llu)", it->name,
             (unsigned long long)b->order->id);
    bool late = false;
    for (unsigned n = 0;; n++) {
        late = deadline && clock_ns() >= deadline;
        if (late || n == it->nsteps)
            break;
        unsigned i = it->order[n];
        uint64_t start = loop_timeline_enter(c->cfg.timeline);
        if (!start)
            start = clock_ns();
        /* A next step starts the instant the previous one ended: nothing
         * else can run inside this callback, and reading the clock again
         * would make it up to 1 ms "late" by rounding alone. */
        uint64_t at = n ? due : start;
        step_was(b, i, due, at, LATE_LOOP, due, at, 0, 0);
        step_started(b, i, at);
        sleep_ns(step_ns(b->order, &it->steps[i]));
        due = clock_ns();
        step_done(b, i, due);
        struct timeline_label label = {"sync brew", it->steps[i].name, b->order->id};
        loop_timeline_leave(c->cfg.timeline, start, BREW_TAG(MODE_SYNC), &label);
    }
    uint64_t elapsed = clock_ns() - t0;
    if (late)
        brew_time_out(b);
    else
        brew_finish(b, ORDER_READY, NULL);
    c->st.loop_blocked_ns += elapsed;
    log_slow_callback(what, elapsed);
    event_base_update_cache_time(c->base);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    struct cafe *c = arg;
    struct brew *b;
    /* Async and thread brews start in acceptance order; an async hands-on
     * step of one delays the start of the next, as in asyncio. */
    while ((b = queue_pop(&c->starting)))
        brew_advance(b);
    /* One sync brew per loop turn, so I/O gets a look-in between them. */
    if ((b = queue_pop(&c->sync)))
        brew_run_sync(b);
    if (c->starting.head || c->sync.head)
        kick(c);
}

/* --- the café's side ------------------------------------------------------ */

void brews_init(struct cafe *c)
{
    c->kick = evtimer_new(c->base, on_kick, c);
}

void brews_free(struct cafe *c)
{
    if (c->kick)
        event_free(c->kick);
}

void brew_start(struct cafe *c, struct order *o, int64_t timeout_ms)
{
    unsigned n = o->item->nsteps;
    struct brew *b = xcalloc(1, sizeof(*b) + n * sizeof(b->runs[0]));
    b->cafe = c;
    b->order = o;
    order_ref(o);
    o->brew = b;
    for (unsigned i = 0; i < n; i++)
        b->runs[i] = (struct step_run){.brew = b, .idx = i};
    b->next = c->brews;
    if (c->brews)
        c->brews->prev = b;
    c->brews = b;
    if (timeout_ms >= 0) {
        struct timeval tv = timeval_from_ms((uint64_t)timeout_ms);
        b->deadline_ns = o->accepted_ns + (uint64_t)timeout_ms * 1000000u;
        evtimer_assign(&b->deadline, c->base, on_deadline, b);
        evtimer_add(&b->deadline, &tv);
    }
    /* Timers and barista work start now (a loop turn saved under load);
     * anything that would block the loop waits for the next turn, so the
     * caller can order_wait() before anything finishes. An async brew
     * accepted behind one with blocking work still to do queues behind it:
     * orders start in acceptance order. */
    if (o->mode == MODE_SYNC) {
        queue_push(&c->sync, b);
        kick(c);
    } else if (c->starting.head || brew_start_ready(b) >= 0) {
        queue_push(&c->starting, b);
        kick(c);
    }
}

void brew_stop(struct order *o, enum order_status status, const char *reason)
{
    brew_finish(o->brew, status, reason);
}

void brews_fail_all(struct cafe *c, const char *reason)
{
    while (c->brews)
        brew_finish(c->brews, ORDER_FAILED, reason);
}
