/* The Redis store's faults, each with its defined outcome (docs/store.md,
 * "Faults"), for real: the redis-server process killed, stopped (SIGSTOP),
 * busy (DEBUG SLEEP from another connection), its data edited by hand, its
 * script cache flushed. Throughout, a 5 ms ticker on the café's loop shows
 * the loop never waits for Redis: its largest gap stays far below the
 * store's own timeouts.
 *
 * What each test would catch, checked by breaking it:
 * - killed: placing waits for a reconnect instead of failing fast
 *   (rs_create queuing while down), or buffered transitions not flushed on
 *   reconnect (on_cmd_up without flush_dirty) -> the orders stay brewing;
 * - bounded buffer: no bound (make_dirty without the buffer_max check);
 * - paused / busy: no watchdog (on_timer ignoring LINK_UP) -> placing never
 *   completes; a blocking call -> the ticker's gap grows to the pause;
 * - bad data: a decoder that trusts the record (crash under ASan) or a get
 *   that reports a bad record as missing;
 * - a turn's writes: a create call per placement -> INCRBY counted N times;
 *   a bad record failing the whole record call (its reply not read per
 *   order) -> the other orders of that call never reach "ready";
 * - NOSCRIPT: no fallback to EVAL -> placing fails after SCRIPT FLUSH;
 * - a password and a database: AUTH or SELECT left out of the handshake, or
 *   a refused AUTH taken for a store that is up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "tests/lib/redis_fixture.h"
#include "tests/lib/store_world.h"

#define LOOP_GAP_MAX_MS 150 /* a loop turn never waits this long (ASan, a loaded machine) */

static struct world *world_up(const struct world_opts *o)
{
    struct world *w = world_new(KIND_REDIS, &redis, o);
    assert_non_null(w->cafe);
    assert_true(world_store_up(w, 5000));
    w->max_gap_ns = 0;
    return w;
}

static bool store_down(struct world *w, unsigned ms)
{
    uint64_t end = clock_ns() + (uint64_t)ms * 1000000u;
    while (world_store_stats(w).up && clock_ns() < end)
        event_base_loop(w->base, EVLOOP_ONCE);
    return !world_store_stats(w).up;
}

static double ms_since(uint64_t t0)
{
    return (double)(clock_ns() - t0) / 1e6;
}

/* Runs the loop until the café has nothing in flight and the store nothing
 * left to write (or ms pass). */
static bool world_settle(struct world *w, unsigned ms)
{
    uint64_t end = clock_ns() + (uint64_t)ms * 1000000u;
    for (;;) {
        struct cafe_stats cs;
        cafe_stats(w->cafe, &cs);
        unsigned busy = cs.in_flight[0] + cs.in_flight[1] + cs.in_flight[2];
        if (!busy && world_store_stats(w).tracked == 0)
            return true;
        if (clock_ns() > end)
            return false;
        event_base_loop(w->base, EVLOOP_ONCE);
    }
}

static unsigned count_status(struct world *w, const uint64_t *ids, unsigned n,
                             enum order_status status, const char *reason)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        struct outcome got;
        world_get(w, ids[i], &got);
        assert_int_equal(got.r, STORE_OK);
        k += got.orders[0]->status == status &&
             (!reason || (got.orders[0]->reason && strstr(got.orders[0]->reason, reason)));
        outcome_clear(&got);
    }
    return k;
}

static void killed_redis_fails_fast_then_catches_up(void **state)
{
    struct world_opts o = {.scale = 0.03}; /* lunch: 300 ms */
    struct world *w = world_up(&o);
    struct outcome p, refused, flushed;
    unsigned answered = 0;
    world_submit(w, "lunch", MODE_THREAD, 3, -1, &p);
    assert_int_equal(p.r, STORE_OK);
    uint64_t ids[3];
    for (int i = 0; i < 3; i++) {
        ids[i] = p.orders[i]->id;
        order_wait(p.orders[i], world_on_answer, &answered);
    }
    redis_server_kill(&redis);
    assert_true(store_down(w, 2000));
    assert_non_null(strstr(world_store_stats(w).state, "down"));

    uint64_t t0 = clock_ns();
    world_submit(w, "latte", MODE_ASYNC, 1, -1, &refused);
    assert_true(refused.done);
    assert_int_equal(refused.admit, CAFE_OK);
    assert_int_equal(refused.r, STORE_UNAVAILABLE);
    assert_true(ms_since(t0) < 50); /* fast: nothing waits for a Redis that is gone */
    struct cafe_stats cs;
    cafe_stats(w->cafe, &cs);
    assert_int_equal(cs.unstored, 1);

    /* The brews already running finish; their ends wait in the buffer. */
    assert_true(world_wait_count(w, &answered, 3));
    for (int i = 0; i < 3; i++)
        assert_int_equal(p.orders[i]->status, ORDER_READY);
    assert_int_equal(world_store_stats(w).buffered, 3);
    assert_int_equal(world_store_stats(w).dropped, 0);
    assert_true(w->max_gap_ns < LOOP_GAP_MAX_MS * 1000000ull);

    /* Redis back on its port, the café not restarted: it reconnects and
     * the buffered transitions land. */
    assert_int_equal(redis_server_spawn(&redis), 0);
    assert_true(world_store_up(w, 5000));
    memset(&flushed, 0, sizeof(flushed));
    cafe_flush(w->cafe, world_on_order, &flushed);
    assert_true(world_run_until(w, &flushed.done, 5000));
    assert_int_equal(flushed.r, STORE_OK);
    assert_int_equal(count_status(w, ids, 3, ORDER_READY, NULL), 3);
    assert_true(world_store_stats(w).reconnects >= 1);
    outcome_clear(&p);
    world_submit(w, "latte", MODE_ASYNC, 1, -1, &p);
    assert_int_equal(p.r, STORE_OK);
    outcome_clear(&p);
    world_free(w);
}

static void the_outage_buffer_is_bounded(void **state)
{
    struct world_opts o = {.scale = 0.06, .buffer_max = 2}; /* latte: 300 ms */
    struct world *w = world_up(&o);
    struct outcome p;
    unsigned answered = 0;
    world_submit(w, "latte", MODE_ASYNC, 4, -1, &p);
    assert_int_equal(p.r, STORE_OK);
    uint64_t ids[4];
    for (int i = 0; i < 4; i++) {
        ids[i] = p.orders[i]->id;
        order_wait(p.orders[i], world_on_answer, &answered);
    }
    world_run_for(w, 50); /* the brewing transitions are stored */
    redis_server_kill(&redis);
    assert_true(store_down(w, 2000));
    assert_true(world_wait_count(w, &answered, 4)); /* every waiter still hears */
    struct store_stats st = world_store_stats(w);
    assert_int_equal(st.buffered, 2);
    assert_int_equal(st.dropped, 2);

    /* Back: the two kept land as ready; the two dropped are failed by the
     * restart rule, not left brewing. */
    assert_int_equal(redis_server_spawn(&redis), 0);
    assert_true(world_store_up(w, 5000));
    assert_true(world_settle(w, 5000));
    assert_int_equal(count_status(w, ids, 4, ORDER_READY, NULL), 2);
    assert_int_equal(count_status(w, ids, 4, ORDER_FAILED, "lost"), 2);
    outcome_clear(&p);
    world_free(w);
}

static void paused_redis_never_blocks_the_loop(void **state)
{
    struct world_opts o = {.timeout_ms = 300};
    struct world *w = world_up(&o);
    struct outcome p;
    world_submit(w, "latte", MODE_ASYNC, 1, -1, &p);
    assert_int_equal(p.r, STORE_OK);
    outcome_clear(&p);

    redis_server_pause(&redis); /* accepts TCP, answers nothing */
    w->max_gap_ns = 0;
    uint64_t t0 = clock_ns();
    world_submit(w, "latte", MODE_ASYNC, 1, -1, &p);
    double waited = ms_since(t0);
    assert_true(p.done);
    assert_int_equal(p.r, STORE_UNAVAILABLE); /* the watchdog cut it */
    assert_true(waited >= 250 && waited < 2000);
    assert_false(world_store_stats(w).up);
    world_run_for(w, 700); /* reconnects: TCP is accepted, the handshake is not */
    assert_false(world_store_stats(w).up);
    t0 = clock_ns();
    world_submit(w, "latte", MODE_ASYNC, 1, -1, &p);
    assert_int_equal(p.r, STORE_UNAVAILABLE);
    assert_true(ms_since(t0) < 50); /* down: refused at once, no second wait */
    assert_true(w->max_gap_ns < LOOP_GAP_MAX_MS * 1000000ull);
    assert_true(world_store_stats(w).timeouts >= 1);

    redis_server_resume(&redis);
    assert_true(world_store_up(w, 5000));
    world_submit(w, "latte", MODE_ASYNC, 1, -1, &p);
    assert_int_equal(p.r, STORE_OK);
    outcome_clear(&p);
    world_free(w);
}

/* DEBUG SLEEP on another connection, from a child process (a blocking call
 * there holds nobody's loop). Returns once the command is on the wire: Redis,
 * idle, takes it at once (a fixed pause after fork() raced a loaded machine,
 * where the child had not even connected yet). */
static pid_t debug_sleep(const char *seconds)
{
    int sent[2];
    assert_int_equal(pipe(sent), 0);
    pid_t pid = fork();
    if (pid == 0) {
        redisContext *c = redis_server_client(&redis);
        int done = 0;
        if (c && redisAppendCommand(c, "DEBUG SLEEP %s", seconds) == REDIS_OK)
            while (!done && redisBufferWrite(c, &done) == REDIS_OK)
                ;
        if (write(sent[1], "x", 1) != 1)
            _exit(1);
        redisReply *r = NULL;
        if (done && redisGetReply(c, (void **)&r) == REDIS_OK)
            freeReplyObject(r);
        _exit(0);
    }
    close(sent[1]);
    char x;
    assert_int_equal(read(sent[0], &x, 1), 1);
    close(sent[0]);
    redis_sleep_ms(20); /* it has begun */
    return pid;
}

static void busy_redis_is_waited_out_or_cut(void **state)
{
    struct world_opts o = {.timeout_ms = 1000};
    struct world *w = world_up(&o);
    struct outcome p;
    /* Shorter than the timeout: the order waits, the loop does not. */
    pid_t sleeper = debug_sleep("0.5");
    uint64_t t0 = clock_ns();
    w->max_gap_ns = 0;
    world_submit(w, "latte", MODE_ASYNC, 1, -1, &p);
    double waited = ms_since(t0);
    waitpid(sleeper, NULL, 0);
    assert_int_equal(p.r, STORE_OK);
    assert_true(waited >= 300);
    assert_true(w->max_gap_ns < LOOP_GAP_MAX_MS * 1000000ull);
    assert_true(w->ticks > 20); /* the loop kept turning meanwhile */
    outcome_clear(&p);

    /* Longer than the timeout: cut, then back. */
    sleeper = debug_sleep("2.5");
    t0 = clock_ns();
    world_submit(w, "latte", MODE_ASYNC, 1, -1, &p);
    waited = ms_since(t0);
    assert_int_equal(p.r, STORE_UNAVAILABLE);
    assert_true(waited >= 800 && waited < 2400);
    assert_true(w->max_gap_ns < LOOP_GAP_MAX_MS * 1000000ull);
    waitpid(sleeper, NULL, 0);
    assert_true(world_store_up(w, 5000));
    world_submit(w, "latte", MODE_ASYNC, 1, -1, &p);
    assert_int_equal(p.r, STORE_OK);
    outcome_clear(&p);
    world_free(w);
}

static void command(const char *fmt, ...)
{
    redisContext *c = redis_server_client(&redis);
    assert_non_null(c);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    redisFree(c);
}

static void bad_data_is_an_error_for_that_order(void **state)
{
    struct world *w = world_up(NULL);
    struct outcome p, got, listed, q;
    world_submit(w, "pourover", MODE_ASYNC, 4, -1, &p);
    assert_int_equal(p.r, STORE_OK);
    assert_true(world_settle(w, 5000));
    uint64_t id[4];
    for (int i = 0; i < 4; i++)
        id[i] = p.orders[i]->id;
    outcome_clear(&p);
    /* A key of the wrong type, a truncated record, a hand-edited one. */
    command("DEL test:order:%llu", (unsigned long long)id[0]);
    command("SET test:order:%llu garbage", (unsigned long long)id[0]);
    command("HDEL test:order:%llu steps", (unsigned long long)id[1]);
    command("HSET test:order:%llu steps d0:1,zz", (unsigned long long)id[2]);
    for (int i = 0; i < 3; i++) {
        world_get(w, id[i], &got);
        assert_int_equal(got.r, STORE_BAD_RECORD);
        assert_int_equal(got.n, 0);
    }
    world_get(w, id[3], &got);
    assert_int_equal(got.r, STORE_OK);
    outcome_clear(&got);
    world_list(w, -1, 10, &listed); /* the bad ones are skipped, the good one stays */
    assert_int_equal(listed.r, STORE_OK);
    assert_int_equal(listed.n, 1);
    assert_int_equal(listed.orders[0]->id, id[3]);
    outcome_clear(&listed);
    assert_true(world_store_stats(w).bad_records >= 6);

    /* A listing key of the wrong type: an error for that listing. */
    command("SET test:status:failed nonsense");
    world_list(w, ORDER_FAILED, 10, &listed);
    assert_int_equal(listed.r, STORE_BAD_RECORD);

    /* The record of a brewing order broken under it: its write is refused,
     * its waiter still answered, the café goes on. */
    struct world_opts o = {.scale = 0.05};
    struct world *slow = world_new(KIND_REDIS, &redis, &o);
    assert_true(world_store_up(slow, 5000));
    unsigned answered = 0;
    world_submit(slow, "latte", MODE_ASYNC, 1, -1, &q);
    order_wait(q.orders[0], world_on_answer, &answered);
    command("DEL test:order:%llu", (unsigned long long)q.orders[0]->id);
    command("SET test:order:%llu garbage", (unsigned long long)q.orders[0]->id);
    assert_true(world_wait_count(slow, &answered, 1));
    assert_true(world_settle(slow, 5000));
    assert_true(world_store_stats(slow).bad_records >= 1);
    outcome_clear(&q);
    world_submit(slow, "latte", MODE_ASYNC, 1, -1, &q);
    assert_int_equal(q.r, STORE_OK);
    outcome_clear(&q);

    /* A stream entry nobody could have written: skipped, counted. */
    struct outcome ev;
    memset(&ev, 0, sizeof(ev));
    command("XADD test:events * event bogus step x");
    order_store_events_read(cafe_store(slow->cafe), NULL, 1000, world_on_events, &ev);
    world_run_until(slow, &ev.done, 5000);
    assert_int_equal(ev.r, STORE_OK);
    for (unsigned i = 0; i < ev.nevents; i++)
        assert_non_null(ev.events[i].order);
    outcome_clear(&ev);
    world_free(slow);
    world_free(w);
}

/* Calls of a Redis command so far, from INFO commandstats (a script's own
 * calls count too). */
static long long calls_of(const char *cmd)
{
    char key[64];
    snprintf(key, sizeof(key), "cmdstat_%s:calls=", cmd);
    redisReply *r = redis_server_command(&redis, "INFO commandstats");
    assert_non_null(r);
    const char *at = r->type == REDIS_REPLY_STRING ? strstr(r->str, key) : NULL;
    long long n = at ? strtoll(at + strlen(key), NULL, 10) : 0;
    freeReplyObject(r);
    return n;
}

/* One loop turn's placements go in one create call (one INCRBY for all
 * their ids) and their transitions in few record calls, not one per order
 * (docs/store.md, "Writes, batched per loop turn"); a bad record among the
 * orders of one call fails that order alone. */
static void a_turns_writes_go_together_and_fail_alone(void **state)
{
    enum { N = 8 };
    struct world_opts o = {.scale = 0.05};
    struct world *w = world_up(&o);
    struct outcome p[N];
    struct order_spec spec = {
        .item = menu_find_item(w->menu, "latte"), .mode = MODE_ASYNC, .timeout_ms = -1};
    long long incrby = calls_of("incrby"), evalsha = calls_of("evalsha");
    for (int i = 0; i < N; i++) { /* N placements of one order each, in one turn */
        memset(&p[i], 0, sizeof(p[i]));
        cafe_orders_submit(w->cafe, &spec, 1, world_on_placed, &p[i]);
    }
    unsigned answered = 0;
    for (int i = 0; i < N; i++) {
        assert_true(world_run_until(w, &p[i].done, 5000));
        assert_int_equal(p[i].r, STORE_OK);
        assert_int_equal(p[i].orders[0]->id, p[0].orders[0]->id + (uint64_t)i);
        order_wait(p[i].orders[0], world_on_answer, &answered);
    }
    assert_int_equal(calls_of("incrby") - incrby, 1);
    /* Broken under its brew, before any transition was written. */
    uint64_t bad = p[3].orders[0]->id;
    command("DEL test:order:%llu", (unsigned long long)bad);
    command("SET test:order:%llu garbage", (unsigned long long)bad);
    assert_true(world_wait_count(w, &answered, N));
    assert_true(world_settle(w, 5000));
    assert_true(world_store_stats(w).bad_records >= 1);
    /* Redis itself, not the café's reads (they prefer its own copy). */
    for (int i = 0; i < N; i++) {
        if (p[i].orders[0]->id == bad)
            continue;
        redisReply *r = redis_server_command(&redis, "HGET test:order:%llu status",
                                             (unsigned long long)p[i].orders[0]->id);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_string_equal(r->str, "ready");
        freeReplyObject(r);
    }
    /* a create, and the brews' starts and ends (a turn apart at most; a lease claim) */
    assert_true(calls_of("evalsha") - evalsha <= 8); /* one per order would be 17 */
    for (int i = 0; i < N; i++)
        outcome_clear(&p[i]);
    world_free(w);
}

static void a_flushed_script_cache_is_reloaded(void **state)
{
    struct world_opts o = {.scale = 0.05};
    struct world *w = world_up(&o);
    struct outcome p, listed, got;
    unsigned answered = 0;
    world_submit(w, "latte", MODE_ASYNC, 1, -1, &p);
    order_wait(p.orders[0], world_on_answer, &answered);
    command("SCRIPT FLUSH"); /* mid-brew: its next write meets NOSCRIPT */
    assert_true(world_wait_count(w, &answered, 1));
    assert_true(world_settle(w, 5000));
    world_get(w, p.orders[0]->id, &got);
    assert_int_equal(got.orders[0]->status, ORDER_READY);
    outcome_clear(&got);
    outcome_clear(&p);
    command("SCRIPT FLUSH");
    world_submit(w, "latte", MODE_ASYNC, 1, -1, &p);
    assert_int_equal(p.r, STORE_OK);
    command("SCRIPT FLUSH");
    world_list(w, -1, 10, &listed);
    assert_int_equal(listed.r, STORE_OK);
    assert_int_equal(listed.n, 2);
    outcome_clear(&listed);
    outcome_clear(&p);
    world_free(w);
}

/* deploy/'s URL form, redis://:password@host:port/db: the store
 * authenticates and keeps everything in that database; a wrong password is
 * a store that stays down and says why. */
static void a_password_and_a_database(void **state)
{
    redisReply *r = redis_server_command(&redis, "CONFIG SET requirepass %s", "s3cr3t");
    assert_non_null(r);
    freeReplyObject(r);
    struct world_opts wrong = {.password = "wrong", .db = 3};
    struct world *w = world_new(KIND_REDIS, &redis, &wrong);
    assert_false(world_store_up(w, 300));
    const char *said = world_store_stats(w).state;
    if (!strstr(said, "AUTH refused"))
        fail_msg("the store says \"%s\"", said);
    world_free(w);

    struct world_opts right = {.password = "s3cr3t", .db = 3};
    w = world_up(&right);
    struct outcome p;
    world_submit(w, "latte", MODE_ASYNC, 1, -1, &p);
    assert_int_equal(p.r, STORE_OK);
    char key[64];
    snprintf(key, sizeof(key), "test:order:%llu", (unsigned long long)p.orders[0]->id);
    outcome_clear(&p);
    world_free(w);
    redisContext *c = redis_server_client(&redis);
    assert_non_null(c);
    long long in[2];
    for (int db = 0; db < 2; db++) {
        r = redisCommand(c, "AUTH s3cr3t");
        freeReplyObject(r);
        r = redisCommand(c, "SELECT %d", db ? 3 : 0);
        freeReplyObject(r);
        r = redisCommand(c, "EXISTS %s", key);
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        in[db] = r->integer;
        freeReplyObject(r);
    }
    redisFree(c);
    assert_int_equal(in[0], 0); /* not in the default database */
    assert_int_equal(in[1], 1); /* in database 3 */
}

static void bad_urls_are_refused_and_nothing_listening_is_down(void **state)
{
    struct event_base *base = event_base_new();
    struct menu *m = menu_builtin();
    char err[256];
    struct store_redis_config cfg = {.url = "http://127.0.0.1:6379", .replica = "a"};
    assert_null(store_redis_new(base, m, &cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "redis://"));
    cfg.url = "redis://no-such-host.invalid:6379";
    assert_null(store_redis_new(base, m, &cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "no-such-host.invalid"));
    cfg.url = "redis://127.0.0.1:6379";
    cfg.replica = "has space";
    assert_null(store_redis_new(base, m, &cfg, err, sizeof(err)));
    event_base_free(base);
    menu_free(m);

    struct redis_server nobody = {.port = redis_free_port()};
    struct world *w = world_new(KIND_REDIS, &nobody, NULL);
    world_run_for(w, 200);
    struct store_stats st = world_store_stats(w);
    assert_false(st.up);
    assert_non_null(strstr(st.state, "refused"));
    struct outcome p;
    world_submit(w, "latte", MODE_ASYNC, 1, -1, &p);
    assert_int_equal(p.r, STORE_UNAVAILABLE);
    world_free(w);
}

int main(void)
{
    if (redis_missing())
        return 77;
    log_init(LOG_TEXT);
    log_set_slow_threshold_ms(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(killed_redis_fails_fast_then_catches_up, setup_aof,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_outage_buffer_is_bounded, setup_aof, teardown),
        cmocka_unit_test_setup_teardown(paused_redis_never_blocks_the_loop, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(busy_redis_is_waited_out_or_cut, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(bad_data_is_an_error_for_that_order, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(a_turns_writes_go_together_and_fail_alone, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_flushed_script_cache_is_reloaded, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(a_password_and_a_database, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(bad_urls_are_refused_and_nothing_listening_is_down,
                                        setup_plain, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
