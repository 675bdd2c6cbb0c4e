/* The brew scheduler on a real event_base at a small time scale: step
 * ordering and concurrency per mode, observer transitions, timeouts (sync
 * only at step boundaries), cancellation of timers and barista work, failing
 * everything at shutdown, and the common-timeout fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "base/log.h"
#include "base/xmalloc.h"
#include "cafe/baristas.h"
#include "cafe/cafe.h"
#include "tests/lib/cafe_sync.h"

#define SCALE 0.004 /* one recipe second = 4 ms: lunch 40 ms async, 60 ms sync */
#define U_MS  4

struct world {
    struct event_base *base;
    struct menu *menu;
    struct cafe *cafe;
    char events[64][32]; /* what the observer saw, "step_started:1" */
    unsigned nevents;
    unsigned answered;
};

static void observe(const struct order *o, enum cafe_event ev, int step, void *arg)
{
    struct world *w = arg;
    if (w->nevents < 64)
        snprintf(w->events[w->nevents++], sizeof(w->events[0]), "%s:%d", cafe_event_name(ev), step);
}

static struct world *world_new(struct menu *menu, unsigned baristas, unsigned max_queue)
{
    struct world *w = xcalloc(1, sizeof(*w));
    struct cafe_config cfg = {.time_scale = SCALE,
                              .baristas = baristas,
                              .max_orders = 100,
                              .max_brews = 100,
                              .max_queue = max_queue};
    /* The precise monotonic clock, as app/main.c runs the server: the coarse
     * one (libevent's default) fires timers a jiffy late or early. */
    struct event_config *ec = event_config_new();
    event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    w->base = event_base_new_with_config(ec);
    event_config_free(ec);
    w->menu = menu ? menu : menu_builtin();
    w->cafe = cafe_new(w->base, w->menu, &cfg);
    cafe_set_observer(w->cafe, observe, w);
    return w;
}

static void world_free(struct world *w)
{
    cafe_free(w->cafe);
    menu_free(w->menu);
    event_base_free(w->base);
    free(w);
}

static void on_answer(struct order *o, void *arg)
{
    struct world *w = arg;
    w->answered++;
}

static struct order *place(struct world *w, const char *item, enum brew_mode mode,
                           int64_t timeout_ms)
{
    struct order_spec spec = {
        .item = menu_find_item(w->menu, item), .mode = mode, .timeout_ms = timeout_ms};
    struct order *o = NULL;
    assert_int_equal(cafe_order_place(w->cafe, &spec, &o), CAFE_OK);
    order_wait(o, on_answer, w);
    return o;
}

/* Runs the loop until n waiters were answered; returns the elapsed ms. */
static double run_until_answered(struct world *w, unsigned n)
{
    uint64_t t0 = clock_ns();
    while (w->answered < n && clock_ns() - t0 < 5000000000ull)
        event_base_loop(w->base, EVLOOP_ONCE);
    assert_int_equal(w->answered, n);
    return (double)(clock_ns() - t0) / 1e6;
}

static const struct order_step *step_named(const struct order *o, const char *name)
{
    for (unsigned i = 0; i < o->item->nsteps; i++)
        if (strcmp(o->item->steps[i].name, name) == 0)
            return &o->steps[i];
    fail_msg("no step %s", name);
    return NULL;
}

static void lunch_in_each_mode(void **state)
{
    const enum brew_mode modes[] = {MODE_ASYNC, MODE_THREAD, MODE_SYNC};
    const double ideal[] = {10, 10, 15};
    for (int m = 0; m < 3; m++) {
        struct world *w = world_new(NULL, 2, 10);
        struct order *o = place(w, "lunch", modes[m], -1);
        order_ref(o);
        double ms = run_until_answered(w, 1);
        assert_int_equal(o->status, ORDER_READY);
        assert_true(ms >= ideal[m] * U_MS - 5); /* never early */
        assert_true(ms < ideal[m] * U_MS * 1.5 + 50);
        const struct order_step *pasta = step_named(o, "cook_pasta");
        const struct order_step *meat = step_named(o, "heat_meatloaf");
        const struct order_step *avo = step_named(o, "peel_avocado");
        if (modes[m] == MODE_SYNC) {
            /* one after another, in the recipe's order */
            assert_true(meat->start_ms >= pasta->end_ms);
            assert_true(avo->start_ms >= meat->end_ms);
        } else {
            /* gather: every timer starts before the avocado is peeled, and
             * they all overlap (no step waits for another) */
            assert_true(pasta->start_ms <= avo->start_ms && meat->start_ms <= avo->start_ms);
            assert_true(avo->start_ms < meat->end_ms && meat->start_ms < avo->end_ms);
            /* a timer fires at its time, give or take the loop turn */
            assert_in_range(pasta->end_ms - pasta->start_ms, 10 * U_MS - 5, 10000);
        }
        for (unsigned i = 0; i < 3; i++)
            assert_int_equal(o->steps[i].status, STEP_DONE);
        order_unref(o);
        world_free(w);
    }
}

/* A recipe that lists its hands-on step first: async mode still arms every
 * ready waiting step before the hands-on one blocks the loop, whatever the
 * order they are listed in (breaks if the scan stops at the first hands-on
 * step: the wait then starts after the hands-on one). */
static void gather_arms_every_wait_first(void **state)
{
    json_t *j = json_pack("{s:[{s:s, s:[{s:s, s:s, s:f}, {s:s, s:s, s:f}]}]}", "items", "name",
                          "salad", "steps", "name", "wash", "kind", "hands", "seconds", 2.0, "name",
                          "marinate", "kind", "wait", "seconds", 10.0);
    char err[256];
    struct menu *m = menu_from_json(j, err, sizeof(err));
    json_decref(j);
    assert_non_null(m);
    struct world *w = world_new(m, 1, 10);
    struct order *o = place(w, "salad", MODE_ASYNC, -1);
    order_ref(o);
    double ms = run_until_answered(w, 1);
    const struct order_step *wash = step_named(o, "wash");
    const struct order_step *marinate = step_named(o, "marinate");
    assert_true(marinate->start_ms <= wash->start_ms);          /* armed before the wash blocks */
    assert_true(marinate->end_ms - wash->start_ms < 11 * U_MS); /* 10, not 2 + 10 */
    assert_true(ms >= 10 * U_MS - 5);
    order_unref(o);
    world_free(w);
}

static void observer_sees_every_transition(void **state)
{
    struct world *w = world_new(NULL, 1, 10);
    place(w, "pourover", MODE_ASYNC, -1);
    run_until_answered(w, 1);
    /* boil (0) and grind (1) start together; grind (2 s) ends before boil
     * (3 s); the hands-on brew (2) starts only after both. */
    const char *want[] = {"order_queued:-1", "order_brewing:-1", "step_started:0",
                          "step_started:1",  "step_done:1",      "step_done:0",
                          "step_started:2",  "step_done:2",      "order_ready:-1"};
    assert_int_equal(w->nevents, 9);
    for (unsigned i = 0; i < 9; i++)
        assert_string_equal(w->events[i], want[i]);
    world_free(w);
}

static void thread_mode_uses_the_baristas(void **state)
{
    struct world *w = world_new(NULL, 1, 10);
    struct order *a = place(w, "lunch", MODE_THREAD, -1);
    struct order *b = place(w, "lunch", MODE_THREAD, -1);
    order_ref(a);
    order_ref(b);
    /* one barista: the second avocado waits for the first */
    event_base_loop(w->base, EVLOOP_ONCE);
    struct cafe_stats st;
    cafe_stats(w->cafe, &st);
    assert_int_equal(st.baristas, 1);
    assert_int_equal(st.in_flight[MODE_THREAD], 2);
    assert_int_equal(step_named(b, "peel_avocado")->status, STEP_QUEUED);
    run_until_answered(w, 2);
    const struct order_step *avo_a = step_named(a, "peel_avocado");
    const struct order_step *avo_b = step_named(b, "peel_avocado");
    assert_true(avo_b->start_ms >= avo_a->end_ms - 1);
    assert_int_equal(a->status, ORDER_READY);
    assert_int_equal(b->status, ORDER_READY);
    order_unref(a);
    order_unref(b);
    world_free(w);
}

static void queue_full_refuses_thread_orders(void **state)
{
    struct world *w = world_new(NULL, 1, 1);
    place(w, "lunch", MODE_THREAD, -1);
    /* the avocado is queued until the barista takes it: the queue is full */
    for (int i = 0; i < 50 && cafe_admit(w->cafe, MODE_THREAD, 1) != CAFE_OK; i++)
        sleep_ns(200000);
    place(w, "lunch", MODE_THREAD, -1);
    /* one avocado in hand, one queued */
    for (int i = 0; i < 50; i++) {
        struct cafe_stats st;
        cafe_stats(w->cafe, &st);
        if (st.barista_queue == 1 && st.baristas_busy == 1)
            break;
        event_base_loop(w->base, EVLOOP_NONBLOCK);
        sleep_ns(200000);
    }
    assert_int_equal(cafe_admit(w->cafe, MODE_THREAD, 1), CAFE_QUEUE_FULL);
    assert_int_equal(cafe_admit(w->cafe, MODE_ASYNC, 1), CAFE_OK);
    run_until_answered(w, 2);
    world_free(w);
}

static void a_batch_is_admitted_whole(void **state)
{
    /* Placing the first lunch hands its avocado to the baristas and fills the
     * one-deep queue; the rest of the batch was admitted with it all the same. */
    struct world *w = world_new(NULL, 1, 1);
    struct order_spec specs[3];
    for (int i = 0; i < 3; i++)
        specs[i] = (struct order_spec){
            .item = menu_find_item(w->menu, "lunch"), .mode = MODE_THREAD, .timeout_ms = -1};
    struct order *o[3] = {NULL};
    assert_int_equal(cafe_orders_place(w->cafe, specs, 3, o), CAFE_OK);
    for (int i = 0; i < 3; i++) {
        assert_non_null(o[i]);
        assert_int_equal(o[i]->id, i + 1);
        order_wait(o[i], on_answer, w);
    }
    assert_int_equal(cafe_admit(w->cafe, MODE_THREAD, 1), CAFE_QUEUE_FULL);
    /* refused whole: nothing enters the book */
    struct order *r[2] = {NULL};
    assert_int_equal(cafe_orders_place(w->cafe, specs, 2, r), CAFE_QUEUE_FULL);
    assert_null(r[0]);
    assert_null(cafe_order_find(w->cafe, 4));
    run_until_answered(w, 3);
    world_free(w);
}

static void timeout_cancels_async_brew(void **state)
{
    struct world *w = world_new(NULL, 1, 10);
    struct order *o = place(w, "latte", MODE_ASYNC, 5); /* 20 ms latte, 5 ms deadline */
    order_ref(o);
    double ms = run_until_answered(w, 1);
    assert_true(ms < 5 * U_MS);
    assert_int_equal(o->status, ORDER_CANCELLED);
    assert_true(o->timed_out);
    assert_int_equal(o->steps[0].status, STEP_DROPPED);
    order_unref(o);
    world_free(w);
}

static void sync_timeout_only_at_step_boundaries(void **state)
{
    struct world *w = world_new(NULL, 1, 10);
    struct order *o = place(w, "pourover", MODE_SYNC, 1);
    order_ref(o);
    double ms = run_until_answered(w, 1);
    /* boil_water (3 s) ran to its end although the deadline passed during it */
    assert_true(ms >= 3 * U_MS);
    assert_int_equal(o->status, ORDER_CANCELLED);
    assert_true(o->timed_out);
    assert_int_equal(o->steps[0].status, STEP_DONE);
    assert_int_equal(o->steps[1].status, STEP_DROPPED);
    assert_int_equal(o->steps[2].status, STEP_DROPPED);
    order_unref(o);
    world_free(w);
}

static void cancel_drops_timers_and_barista_work(void **state)
{
    /* A long hands-on step (100 recipe s = 400 ms), so "a's step in hand, b's
     * queued" lasts long enough to observe on a loaded machine or under ASan. */
    json_t *j = json_pack("{s:[{s:s, s:[{s:s, s:s, s:f}, {s:s, s:s, s:f}]}]}", "items", "name",
                          "lunch", "steps", "name", "cook_pasta", "kind", "wait", "seconds", 10.0,
                          "name", "peel_avocado", "kind", "hands", "seconds", 100.0);
    char err[256];
    struct menu *m = menu_from_json(j, err, sizeof(err));
    json_decref(j);
    assert_non_null(m);
    struct world *w = world_new(m, 1, 10);
    struct order *a = place(w, "lunch", MODE_THREAD, -1);
    struct order *b = place(w, "lunch", MODE_THREAD, -1);
    order_ref(a);
    order_ref(b);
    bool ready = false; /* a's avocado in hand, b's queued; generous for ASan */
    for (int i = 0; i < 10000 && !ready; i++) {
        struct cafe_stats now;
        cafe_stats(w->cafe, &now);
        ready = now.barista_queue == 1 && now.baristas_busy == 1;
        if (!ready) {
            event_base_loop(w->base, EVLOOP_NONBLOCK);
            sleep_ns(500000);
        }
    }
    assert_true(ready);
    assert_int_equal(cafe_order_cancel(w->cafe, b), CANCEL_DONE); /* queued work dropped */
    assert_int_equal(w->answered, 1);
    struct cafe_stats st;
    cafe_stats(w->cafe, &st);
    assert_int_equal(st.barista_queue, 0);
    assert_int_equal(cafe_order_cancel(w->cafe, a), CANCEL_DONE); /* in hand: detached */
    assert_int_equal(w->answered, 2);
    assert_int_equal(a->status, ORDER_CANCELLED);
    assert_int_equal(step_named(a, "peel_avocado")->status, STEP_DROPPED);
    /* the barista finishes the avocado; its late result is a no-op */
    for (int i = 0; i < 5000; i++) {
        cafe_stats(w->cafe, &st);
        if (!st.baristas_busy)
            break;
        sleep_ns(1000000);
    }
    event_base_loop(w->base, EVLOOP_NONBLOCK);
    assert_int_equal(a->status, ORDER_CANCELLED);
    assert_int_equal(w->answered, 2);
    order_unref(a);
    order_unref(b);
    world_free(w);
}

static void fail_all_answers_every_waiter(void **state)
{
    struct world *w = world_new(NULL, 2, 10);
    struct order *o[3] = {place(w, "lunch", MODE_THREAD, -1), place(w, "drip", MODE_ASYNC, 1000),
                          NULL};
    event_base_loop(w->base, EVLOOP_NONBLOCK); /* brewing: timers and a barista busy */
    o[2] = place(w, "latte", MODE_SYNC, -1);   /* queued for the loop */
    for (int i = 0; i < 3; i++)
        order_ref(o[i]);
    assert_int_equal(o[0]->status, ORDER_BREWING);
    cafe_fail_all(w->cafe, "closing time");
    assert_int_equal(w->answered, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(o[i]->status, ORDER_FAILED);
        assert_string_equal(o[i]->reason, "closing time");
        order_unref(o[i]);
    }
    world_free(w); /* joins the barista still peeling */
}

static void detached_waiter_is_not_called(void **state)
{
    struct world *w = world_new(NULL, 1, 10);
    struct order *o = place(w, "latte", MODE_ASYNC, -1);
    order_wait(o, NULL, NULL); /* the client went away; the brew goes on */
    struct order *p = place(w, "mocha", MODE_ASYNC, -1);
    order_ref(o);
    run_until_answered(w, 1);
    while (o->status != ORDER_READY)
        event_base_loop(w->base, EVLOOP_ONCE);
    assert_int_equal(w->answered, 1);
    assert_int_equal(p->status, ORDER_READY);
    order_unref(o);
    world_free(w);
}

/* 80 distinct durations: more than the café's common-timeout table holds;
 * the rest fall back to plain timers and still fire. */
static void many_distinct_durations(void **state)
{
    json_t *items = json_array();
    for (int i = 0; i < 64; i++) {
        char name[16];
        snprintf(name, sizeof(name), "i%d", i);
        json_array_append_new(items, json_pack("{s:s, s:[{s:s, s:s, s:f}, {s:s, s:s, s:f}]}",
                                               "name", name, "steps", "name", "a", "kind", "wait",
                                               "seconds", 1.0 + i * 0.01, "name", "b", "kind",
                                               "wait", "seconds", 2.0 + i * 0.01));
    }
    json_t *j = json_pack("{s:o}", "items", items);
    char err[256];
    struct menu *m = menu_from_json(j, err, sizeof(err));
    json_decref(j);
    assert_non_null(m);
    struct world *w = world_new(m, 1, 10);
    for (unsigned i = 0; i < m->nitems; i++)
        place(w, m->items[i].name, MODE_ASYNC, -1);
    run_until_answered(w, m->nitems);
    struct cafe_stats st;
    cafe_stats(w->cafe, &st);
    assert_int_equal(st.finished[MODE_ASYNC][ORDER_READY], 64);
    world_free(w);
}

int main(void)
{
    log_init(LOG_TEXT);
    log_set_slow_threshold_ms(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lunch_in_each_mode),
        cmocka_unit_test(gather_arms_every_wait_first),
        cmocka_unit_test(observer_sees_every_transition),
        cmocka_unit_test(thread_mode_uses_the_baristas),
        cmocka_unit_test(queue_full_refuses_thread_orders),
        cmocka_unit_test(a_batch_is_admitted_whole),
        cmocka_unit_test(timeout_cancels_async_brew),
        cmocka_unit_test(sync_timeout_only_at_step_boundaries),
        cmocka_unit_test(cancel_drops_timers_and_barista_work),
        cmocka_unit_test(fail_all_answers_every_waiter),
        cmocka_unit_test(detached_waiter_is_not_called),
        cmocka_unit_test(many_distinct_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
