/* The event-loop monitor on a real libevent loop: a callback that holds the
 * loop shows up as lag of about that long (counted from when the probe was
 * armed, not from libevent's cached time), iteration samples come with the
 * lag ones, and a monitor stopped from its own callback arms nothing more,
 * so the loop can run out of events and return. */
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/clock.h"
#include "server/loop_monitor.h"

#define MS 1000000ull

struct probe {
    struct loop_monitor *mon;
    unsigned lags, iterations, stop_after;
    uint64_t max_lag_ns;
};

static void on_sample(enum loop_sample kind, uint64_t ns, void *arg)
{
    struct probe *p = arg;
    if (kind == LOOP_SAMPLE_ITERATION) {
        p->iterations++;
        return;
    }
    p->lags++;
    if (ns > p->max_lag_ns)
        p->max_lag_ns = ns;
    if (p->lags == p->stop_after)
        loop_monitor_stop(p->mon);
}

/* Holds the loop thread, as a sync brew does. */
static void on_block(evutil_socket_t fd, short what, void *arg)
{
    uint64_t until = clock_ns() + *(uint64_t *)arg;
    while (clock_ns() < until)
        ;
}

static void a_held_loop_shows_as_lag(void **state)
{
    struct event_base *base = event_base_new();
    event_base_priority_init(base, 3);
    struct probe p = {.stop_after = 6};
    p.mon = loop_monitor_new(base, 10, on_sample, &p);
    uint64_t hold = 80 * MS;
    struct event *block = evtimer_new(base, on_block, &hold);
    struct timeval at = {0, 25 * 1000};
    evtimer_add(block, &at);
    /* Returns once the monitor stopped itself and the blocker has run: with
     * nothing left armed, the loop has no events. */
    uint64_t t0 = clock_ns();
    assert_int_equal(event_base_dispatch(base), 1);
    assert_true(clock_ns() - t0 < 5000 * MS);
    assert_int_equal(p.lags, 6);
    assert_true(p.iterations >= 5); /* the last tick's turn probe was deleted */
    /* 80 ms held, a 10 ms probe: it fired 70 to 80 ms late (more if loaded). */
    assert_true(p.max_lag_ns >= 60 * MS);
    loop_monitor_stop(NULL); /* tolerated */
    loop_monitor_free(p.mon);
    loop_monitor_free(NULL);
    event_free(block);
    event_base_free(base);
}

static void an_idle_loop_shows_little_lag(void **state)
{
    struct event_base *base = event_base_new();
    struct probe p = {.stop_after = 20};
    p.mon = loop_monitor_new(base, 10, on_sample, &p);
    event_base_dispatch(base);
    assert_int_equal(p.lags, 20);
    /* Nothing held the loop: each sample is timer noise, counted from its
     * own arming (were it counted from the first, the 20th would read 190
     * ms). 100 ms leaves room for a loaded machine. */
    assert_true(p.max_lag_ns < 100 * MS);
    loop_monitor_free(p.mon);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_held_loop_shows_as_lag),
        cmocka_unit_test(an_idle_loop_shows_little_lag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
