/* The barista pool (cafe/baristas.h) at teardown: baristas_free() does not
 * wait for a hands-on step in a barista's hands -- it is abandoned and comes
 * back unfinished (JOB_IN_HANDS) -- a queued one comes back JOB_QUEUED, and
 * a finished one JOB_FINISHED. This is what lets a second SIGTERM exit at
 * once (docs/contract.md); a pool that joined a 10 s step would fail the
 * time bound here by seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <event2/event.h>

#include "base/clock.h"
#include "cafe/baristas.h"

#define MS 1000000ULL

struct test_job {
    struct barista_job job; /* first: the pool hands this pointer back */
    int *state_seen;
};

static void on_done(struct barista_job *job)
{
    struct test_job *t = (struct test_job *)job;
    *t->state_seen = (int)job->state;
    free(t);
}

static void submit(struct baristas *p, uint64_t work_ns, int *state_seen)
{
    struct test_job *t = calloc(1, sizeof(*t));
    t->job.work_ns = work_ns;
    t->job.done = on_done;
    t->state_seen = state_seen;
    *state_seen = -1;
    baristas_submit(p, &t->job);
}

static void busy_until(struct baristas *p, unsigned busy)
{
    struct barista_stats st;
    for (uint64_t end = clock_ns() + 5000 * MS; clock_ns() < end;) {
        baristas_stats(p, &st);
        if (st.busy == busy)
            return;
        sleep_ns(MS);
    }
    fail_msg("the baristas never had %u steps in hand", busy);
}

static void teardown_abandons_a_step_in_hand(void **state)
{
    struct event_base *base = event_base_new();
    struct baristas *p = baristas_new(base, 1);
    int in_hand, queued;
    submit(p, 10000 * MS, &in_hand); /* 10 s */
    submit(p, 10000 * MS, &queued);
    busy_until(p, 1);
    uint64_t t0 = clock_ns();
    baristas_free(p);
    uint64_t took = clock_ns() - t0;
    assert_true(took <
                2000 * MS); /* not the 10 s the step had left (ASan and a loaded machine: ms) */
    assert_int_equal(in_hand, JOB_IN_HANDS);
    assert_int_equal(queued, JOB_QUEUED);
    event_base_free(base);
}

static void a_step_finishes_in_its_time(void **state)
{
    struct event_base *base = event_base_new();
    struct baristas *p = baristas_new(base, 2);
    int a, b;
    uint64_t t0 = clock_ns();
    submit(p, 30 * MS, &a);
    submit(p, 30 * MS, &b);
    while (a < 0 || b < 0) /* the eventfd brings them back to this loop */
        event_base_loop(base, EVLOOP_ONCE);
    uint64_t took = clock_ns() - t0;
    assert_int_equal(a, JOB_FINISHED);
    assert_int_equal(b, JOB_FINISHED);
    assert_true(took >= 30 * MS); /* no early wake-up ends a step */
    baristas_free(p);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(teardown_abandons_a_step_in_hand),
        cmocka_unit_test(a_step_finishes_in_its_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
