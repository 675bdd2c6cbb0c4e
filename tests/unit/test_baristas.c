/* The barista pool on a real event loop and real threads: every job comes
 * back to the loop through the eventfd (in a bounded time, never by luck),
 * the pool runs as many at once as it has threads, a queued job can be taken
 * back and one in hand cannot, and freeing the pool hands back what never
 * ran. The loop runs with a deadline, so a pool that never wakes it fails
 * here instead of hanging. */
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cafe/baristas.h"

#define MS 1000000ull

struct job {
    struct barista_job job; /* first: the pool hands this pointer back */
    int *done_count;
    enum barista_job_state state_at_done;
};

static void on_done(struct barista_job *bj)
{
    struct job *j = (struct job *)bj;
    j->state_at_done = bj->state;
    ++*j->done_count;
}

static void job_init(struct job *j, uint64_t work_ns, int *count)
{
    *j = (struct job){.job = {.work_ns = work_ns, .done = on_done}, .done_count = count};
}

/* Runs the loop until *count reaches want or ms pass; returns *count. */
static int run_until(struct event_base *base, int *count, int want, unsigned ms)
{
    uint64_t end = clock_ns() + ms * MS;
    while (*count < want && clock_ns() < end) {
        struct timeval tick = {0, 5000};
        event_base_loopexit(base, &tick);
        event_base_dispatch(base);
    }
    return *count;
}

/* Waits (under the pool's lock, through its stats) until n jobs are in hand. */
static void wait_busy(struct baristas *p, unsigned n)
{
    struct barista_stats st;
    for (int i = 0; i < 5000; i++) {
        baristas_stats(p, &st);
        if (st.busy == n)
            return;
        sleep_ns(MS);
    }
    fail_msg("no barista took the job in 5 s");
}

static void every_job_comes_back_to_the_loop(void **state)
{
    struct event_base *base = event_base_new();
    struct baristas *p = baristas_new(base, 2);
    assert_non_null(p);
    int done = 0;
    struct job jobs[6];
    uint64_t t0 = clock_ns();
    for (int i = 0; i < 6; i++) {
        job_init(&jobs[i], 20 * MS, &done);
        baristas_submit(p, &jobs[i].job);
    }
    struct barista_stats st;
    baristas_stats(p, &st);
    assert_int_equal(st.threads, 2);
    assert_int_equal(st.queued + st.busy, 6);
    assert_int_equal(run_until(base, &done, 6, 5000), 6);
    uint64_t took = clock_ns() - t0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(jobs[i].state_at_done, JOB_FINISHED);
        assert_true(jobs[i].job.ended_ns - jobs[i].job.started_ns >= 20 * MS);
    }
    /* Two at a time: 6 jobs of 20 ms take three rounds, never fewer. */
    assert_true(took >= 60 * MS);
    baristas_stats(p, &st);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.busy, 0);
    baristas_free(p);
    event_base_free(base);
}

static void a_queued_job_can_be_taken_back(void **state)
{
    struct event_base *base = event_base_new();
    struct baristas *p = baristas_new(base, 1);
    int done = 0;
    struct job busy, waiting;
    job_init(&busy, 100 * MS, &done);
    job_init(&waiting, 1 * MS, &done);
    baristas_submit(p, &busy.job);
    wait_busy(p, 1); /* the one barista takes it */
    baristas_submit(p, &waiting.job);
    assert_true(baristas_drop(p, &waiting.job)); /* still queued: ours again */
    assert_false(baristas_drop(p, &busy.job));   /* in hand: finishes anyway */
    assert_int_equal(run_until(base, &done, 1, 5000), 1);
    assert_int_equal(busy.state_at_done, JOB_FINISHED);
    run_until(base, &done, 2, 150); /* the dropped one never comes back */
    assert_int_equal(done, 1);
    baristas_free(p);
    event_base_free(base);
}

static void freeing_the_pool_hands_back_what_never_ran(void **state)
{
    struct event_base *base = event_base_new();
    struct baristas *p = baristas_new(base, 1);
    int done = 0;
    struct job jobs[3];
    for (int i = 0; i < 3; i++) {
        job_init(&jobs[i], 30 * MS, &done);
        baristas_submit(p, &jobs[i].job);
    }
    wait_busy(p, 1);
    baristas_free(p); /* abandons the one in hand (test_baristas_free.c), returns the queued two */
    assert_int_equal(done, 3);
    assert_int_equal(jobs[0].state_at_done, JOB_IN_HANDS);
    assert_int_equal(jobs[1].state_at_done, JOB_QUEUED);
    assert_int_equal(jobs[2].state_at_done, JOB_QUEUED);
    event_base_free(base);
}

static void sleep_ns_sleeps_at_least_that_long(void **state)
{
    uint64_t t0 = clock_ns();
    sleep_ns(15 * MS);
    assert_true(clock_ns() - t0 >= 15 * MS);
}

/* The start is told while the step is in hand, not with its end: a barista
 * leaves news for the loop when it takes a job, without waiting for it.
 * Breakage this catches: the start delivered only with the end (done_at
 * already set, or the start arriving after work_ns). */
struct told {
    struct barista_job job;       /* first: the pool hands this pointer back */
    uint64_t started_at, done_at; /* clock_ns() when the loop heard */
};

static void on_told_started(struct barista_job *job)
{
    struct told *t = (struct told *)job;
    assert_true(t->done_at == 0);
    assert_true(job->started_ns > 0 && job->state == JOB_IN_HANDS);
    t->started_at = clock_ns();
}

static void on_told_done(struct barista_job *job)
{
    ((struct told *)job)->done_at = clock_ns();
}

static void the_start_is_told_while_in_hand(void **state)
{
    struct event_base *base = event_base_new();
    struct baristas *p = baristas_new(base, 1);
    struct told t = {
        .job = {.work_ns = 200 * MS, .started = on_told_started, .done = on_told_done}};
    uint64_t t0 = clock_ns();
    baristas_submit(p, &t.job);
    while (!t.done_at)
        event_base_loop(base, EVLOOP_ONCE);
    assert_true(t.started_at > 0);
    assert_true(t.started_at < t0 + 150 * MS); /* heard at once, not after the 200 ms */
    assert_true(t.done_at - t.started_at >= 150 * MS);
    assert_int_equal(t.job.state, JOB_FINISHED);
    baristas_free(p);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_job_comes_back_to_the_loop),
        cmocka_unit_test(a_queued_job_can_be_taken_back),
        cmocka_unit_test(freeing_the_pool_hands_back_what_never_ran),
        cmocka_unit_test(sleep_ns_sleeps_at_least_that_long),
        cmocka_unit_test(the_start_is_told_while_in_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
