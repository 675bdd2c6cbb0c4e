/* Replicas sharing one Redis (docs/store.md, "Replicas"): global ids, any
 * replica reads any order, a cancel reaches the owner (or says why not), a
 * replica killed with SIGKILL has its unfinished orders failed by a
 * survivor within 5 s, and after everything restarts (Redis with appendonly)
 * every acknowledged order is there and none is left brewing. A killed
 * replica is a real child process (fork) that gets SIGKILL.
 *
 * What each test would catch, checked by breaking it:
 * - shared book: a per-replica counter or key space (ids collide, b does
 *   not find a's order);
 * - cancel: the owner answering before storing (b reads "brewing" back), no
 *   bounded wait (a silent owner hangs the cancel);
 * - killed replica: no claim (claim_lua never run: orders stay brewing
 *   forever), or a claim that ignores the lease (the live survivor's own
 *   orders failed too);
 * - restart: the reconcile left out (orders brewing for ever after the
 *   restart), or acknowledging before the create script answered. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "tests/lib/redis_fixture.h"
#include "tests/lib/store_world.h"

static struct world *replica(const char *id, const struct world_opts *base)
{
    struct world_opts o = base ? *base : (struct world_opts){0};
    o.replica = id;
    struct world *w = world_new(KIND_REDIS, &redis, &o);
    assert_non_null(w->cafe);
    assert_true(world_store_up(w, 5000));
    return w;
}

/* Turns both loops until *flag (or ms pass). */
static bool run_both(struct world *a, struct world *b, const bool *flag, unsigned ms)
{
    uint64_t end = clock_ns() + (uint64_t)ms * 1000000u;
    while (!*flag && clock_ns() < end) {
        event_base_loop(a->base, EVLOOP_ONCE);
        event_base_loop(b->base, EVLOOP_ONCE);
    }
    return *flag;
}

static void two_replicas_share_one_book(void **state)
{
    struct world_opts o = {.scale = 0.05, .cancel_wait_ms = 400};
    struct world *a = replica("a", &o), *b = replica("b", &o);
    struct outcome p, q, got, listed, c;
    unsigned answered = 0;
    world_submit(a, "lunch", MODE_THREAD, 1, -1, &p);
    assert_int_equal(p.r, STORE_OK);
    uint64_t id = p.orders[0]->id;
    order_wait(p.orders[0], world_on_answer, &answered);

    world_get(b, id, &got); /* b reads a's order */
    assert_int_equal(got.r, STORE_OK);
    assert_string_equal(got.orders[0]->replica, "a");
    assert_false(order_status_final(got.orders[0]->status));
    outcome_clear(&got);
    world_submit(b, "latte", MODE_ASYNC, 1, -1, &q); /* one counter for all */
    assert_int_equal(q.orders[0]->id, id + 1);
    assert_string_equal(q.orders[0]->replica, "b");
    outcome_clear(&q);
    world_list(b, -1, 10, &listed);
    assert_int_equal(listed.n, 2);
    assert_int_equal(listed.orders[1]->id, id);
    outcome_clear(&listed);

    /* b cancels a's lunch: a cancels, stores, answers; b reads it back. */
    memset(&c, 0, sizeof(c));
    cafe_order_cancel_async(b->cafe, id, world_on_cancelled, &c);
    assert_true(run_both(a, b, &c.done, 5000));
    assert_int_equal(c.r, STORE_OK);
    assert_int_equal(c.verdict, CANCEL_DONE);
    assert_int_equal(c.orders[0]->status, ORDER_CANCELLED);
    assert_int_equal(answered, 1); /* a's waiting client heard */
    outcome_clear(&c);
    memset(&c, 0, sizeof(c));
    cafe_order_cancel_async(b->cafe, id, world_on_cancelled, &c); /* from the record */
    assert_true(run_both(a, b, &c.done, 5000));
    assert_int_equal(c.verdict, CANCEL_ALREADY);
    outcome_clear(&c);
    outcome_clear(&p);

    /* An owner that does not answer (its loop does not run): a bounded wait. */
    world_submit(a, "lunch", MODE_THREAD, 1, -1, &p);
    uint64_t t0 = clock_ns();
    world_cancel(b, p.orders[0]->id, &c);
    double waited = (double)(clock_ns() - t0) / 1e6;
    assert_int_equal(c.r, STORE_OWNER_TIMEOUT);
    assert_true(waited >= 350 && waited < 3000);
    outcome_clear(&c);
    outcome_clear(&p);

    /* b's stream carries a's transitions, each saying who made it. */
    struct outcome ev;
    memset(&ev, 0, sizeof(ev));
    order_store_events_read(cafe_store(b->cafe), NULL, 1000, world_on_events, &ev);
    world_run_until(b, &ev.done, 5000);
    bool by_a = false, by_b = false;
    for (unsigned i = 0; i < ev.nevents; i++) {
        by_a |= strcmp(ev.events[i].by, "a") == 0 && ev.events[i].order->id == id;
        by_b |= strcmp(ev.events[i].by, "b") == 0;
    }
    assert_true(by_a && by_b);
    outcome_clear(&ev);
    world_free(b);
    world_free(a);
}

/* --- a replica in a child process ------------------------------------------------ */

struct child {
    pid_t pid;
    int fd; /* the ids it reports */
};

/* Starts replica id in a child: it places n orders of item (scale, lease)
 * and writes their ids, one per line, then brews until killed. */
static struct child child_start(const char *id, double scale, unsigned lease_ms, const char *item,
                                enum brew_mode mode, unsigned n, unsigned wait_ready)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        close(fds[0]);
        struct world_opts o = {.scale = scale, .lease_ms = lease_ms, .replica = id};
        struct world *w = world_new(KIND_REDIS, &redis, &o);
        if (!world_store_up(w, 5000))
            _exit(2);
        struct outcome p;
        unsigned answered = 0;
        if (wait_ready) { /* first some that finish */
            world_submit(w, "latte", MODE_ASYNC, wait_ready, -1, &p);
            for (unsigned i = 0; i < p.n; i++)
                order_wait(p.orders[i], world_on_answer, &answered);
            world_wait_count(w, &answered, wait_ready);
            world_run_for(w, 50);
            for (unsigned i = 0; i < p.n; i++)
                dprintf(fds[1], "%llu\n", (unsigned long long)p.orders[i]->id);
        }
        world_submit(w, item, mode, n, -1, &p);
        if (p.r != STORE_OK)
            _exit(3);
        for (unsigned i = 0; i < p.n; i++)
            dprintf(fds[1], "%llu\n", (unsigned long long)p.orders[i]->id);
        dprintf(fds[1], "end\n");
        for (;;)
            event_base_loop(w->base, EVLOOP_ONCE);
    }
    close(fds[1]);
    return (struct child){pid, fds[0]};
}

/* The ids the child reports (up to max); waits 10 s at most. */
static unsigned child_ids(struct child *c, uint64_t *ids, unsigned max)
{
    char buf[512];
    size_t len = 0;
    while (!memmem(buf, len, "end\n", 4) && len < sizeof(buf) - 1) {
        struct pollfd pfd = {c->fd, POLLIN, 0};
        if (poll(&pfd, 1, 10000) <= 0)
            break;
        ssize_t r = read(c->fd, buf + len, sizeof(buf) - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    unsigned n = 0;
    for (char *line = strtok(buf, "\n"); line && n < max; line = strtok(NULL, "\n"))
        if (strcmp(line, "end") != 0)
            ids[n++] = strtoull(line, NULL, 10);
    return n;
}

static void child_kill(struct child *c)
{
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    close(c->fd);
}

static unsigned failed_for(struct world *w, const uint64_t *ids, unsigned n, const char *why)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        struct outcome got;
        world_get(w, ids[i], &got);
        k += got.r == STORE_OK && got.orders[0]->status == ORDER_FAILED && got.orders[0]->reason &&
             strstr(got.orders[0]->reason, why);
        outcome_clear(&got);
    }
    return k;
}

static void a_killed_replica_is_resolved_within_5s(void **state)
{
    struct child k = child_start("k", 1.0, 500, "lunch", MODE_THREAD, 3, 0);
    uint64_t ids[3];
    assert_int_equal(child_ids(&k, ids, 3), 3);
    struct world_opts o = {.lease_ms = 500, .scale = 1.0};
    struct world *b = replica("b", &o);
    struct outcome mine;
    world_submit(b, "lunch", MODE_THREAD, 1, -1, &mine); /* a survivor's own brew */
    world_run_for(b, 700);
    assert_int_equal(failed_for(b, ids, 3, "replica lost"), 0); /* k is alive: nothing */

    child_kill(&k);
    uint64_t t0 = clock_ns();
    while (failed_for(b, ids, 3, "replica lost") < 3 && clock_ns() - t0 < 6000000000ull)
        world_run_for(b, 100);
    double took = (double)(clock_ns() - t0) / 1e6;
    fprintf(stderr, "killed replica's orders failed %.0f ms after SIGKILL\n", took);
    assert_int_equal(failed_for(b, ids, 3, "replica lost"), 3);
    assert_true(took < 5000);
    struct outcome got;
    world_get(b, mine.orders[0]->id, &got);
    assert_false(order_status_final(got.orders[0]->status)); /* only the lapsed lease's */
    outcome_clear(&got);
    assert_int_equal(world_store_stats(b).claimed, 3);

    /* The survivor published the transitions. */
    struct outcome ev;
    memset(&ev, 0, sizeof(ev));
    order_store_events_read(cafe_store(b->cafe), NULL, 1000, world_on_events, &ev);
    world_run_until(b, &ev.done, 5000);
    unsigned published = 0;
    for (unsigned i = 0; i < ev.nevents; i++)
        published += ev.events[i].event == CAFE_ORDER_FAILED && strcmp(ev.events[i].by, "b") == 0;
    assert_int_equal(published, 3);
    outcome_clear(&ev);
    outcome_clear(&mine);
    world_free(b);
}

static void a_cancel_reaches_another_process_or_says_it_is_gone(void **state)
{
    struct child k = child_start("k", 1.0, 400, "lunch", MODE_THREAD, 2, 0);
    uint64_t ids[2];
    assert_int_equal(child_ids(&k, ids, 2), 2);
    /* A long lease of its own: this survivor does not claim k's orders
     * before the cancel asks for them. */
    struct world_opts o = {.lease_ms = 20000, .cancel_wait_ms = 3000};
    struct world *b = replica("b", &o);
    struct outcome c;
    world_cancel(b, ids[0], &c);
    assert_int_equal(c.r, STORE_OK);
    assert_int_equal(c.verdict, CANCEL_DONE);
    assert_int_equal(c.orders[0]->status, ORDER_CANCELLED); /* stored by k before it answered */
    outcome_clear(&c);

    child_kill(&k);
    world_run_for(b, 900); /* k's lease lapses */
    world_cancel(b, ids[1], &c);
    assert_int_equal(c.r, STORE_OWNER_GONE);
    world_free(b);
}

static void everything_restarted_keeps_what_was_acknowledged(void **state)
{
    /* 2 lattes ready (1 s each), then 2 lunches acknowledged, still brewing. */
    struct child r = child_start("r", 0.2, 500, "lunch", MODE_THREAD, 2, 2);
    uint64_t ids[4];
    assert_int_equal(child_ids(&r, ids, 4), 4);
    child_kill(&r);
    redis_server_kill(&redis); /* appendonly yes, appendfsync always */
    assert_int_equal(redis_server_spawn(&redis), 0);

    /* The same replica id again: its first connection fails what it no
     * longer brews. */
    struct world *w = replica("r", NULL);
    struct outcome got;
    for (int i = 0; i < 4; i++) {
        world_get(w, ids[i], &got);
        assert_int_equal(got.r, STORE_OK); /* every acknowledged order is there */
        if (i < 2) {
            assert_int_equal(got.orders[0]->status, ORDER_READY);
        } else {
            assert_int_equal(got.orders[0]->status, ORDER_FAILED);
            assert_non_null(strstr(got.orders[0]->reason, "restarted"));
        }
        outcome_clear(&got);
    }
    struct outcome p;
    world_submit(w, "latte", MODE_ASYNC, 1, -1, &p);
    assert_true(p.orders[0]->id > ids[3]); /* ids go on from where they were */
    outcome_clear(&p);
    world_free(w);
}

int main(void)
{
    if (redis_missing())
        return 77;
    log_init(LOG_TEXT);
    log_set_slow_threshold_ms(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(two_replicas_share_one_book, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(a_killed_replica_is_resolved_within_5s, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_cancel_reaches_another_process_or_says_it_is_gone,
                                        setup_plain, teardown),
        cmocka_unit_test_setup_teardown(everything_restarted_keeps_what_was_acknowledged, setup_aof,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
