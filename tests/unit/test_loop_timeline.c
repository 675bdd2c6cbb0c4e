/* The loop timeline's rings (base/loop_timeline.c): the threshold, wrap-around,
 * busy time per 100 ms bucket, the "longest block overlapping" query that
 * lateness bookkeeping asks, lanes kept apart (and recorded from their own
 * threads), and the JSON of docs/timeline.md. Times are synthetic clock_ns()
 * values from T, a bucket boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/loop_timeline.h"

#define MS     1000000ull
#define T      (10000 * LOOP_TIMELINE_BUCKET_NS) /* 1,000 s: a bucket boundary */
#define AT(ms) (T + (uint64_t)(ms)*MS)

static const char *const tags[] = {NULL, "sync", "async", "thread"};

static struct loop_timeline *timeline(unsigned lanes, unsigned capacity)
{
    struct loop_timeline_config cfg;
    loop_timeline_config_default(&cfg);
    cfg.lanes = lanes;
    cfg.capacity = capacity;
    cfg.slow_ns = 100 * MS;
    cfg.tag_names = tags;
    cfg.ntags = 4;
    return loop_timeline_new(&cfg);
}

/* Records [from_ms, to_ms) on lane as "work #id". */
static bool rec(struct loop_timeline *tl, unsigned lane, double from_ms, double to_ms, uint64_t id)
{
    struct timeline_label l = {.what = "work", .id = id};
    return loop_timeline_record(tl, lane, T + (uint64_t)(from_ms * MS), T + (uint64_t)(to_ms * MS),
                                1, &l);
}

struct collected {
    unsigned n;
    uint64_t ids[64];
    unsigned lanes[64];
};

static void collect(const struct timeline_block *b, void *arg)
{
    struct collected *c = arg;
    c->lanes[c->n] = b->lane;
    c->ids[c->n++] = b->label.id;
}

static struct collected each(struct loop_timeline *tl, unsigned lane, uint64_t from, uint64_t to)
{
    struct collected c = {0};
    unsigned n = loop_timeline_each(tl, lane, from, to, collect, &c);
    assert_int_equal(n, c.n);
    return c;
}

/* Breaks if the threshold test is dropped or inverted: 0.5 ms would be kept. */
static void test_threshold(void **state)
{
    struct loop_timeline *tl = timeline(1, 16);
    assert_false(rec(tl, 0, 0, 0.5, 1));   /* below 1 ms: busy time only */
    assert_true(rec(tl, 0, 1, 2, 2));      /* exactly the threshold: kept */
    assert_true(rec(tl, 0, 10, 160, 3));   /* a long one */
    assert_false(rec(tl, 0, 200, 200, 4)); /* empty */
    struct collected c = each(tl, 0, 0, AT(1000));
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ids[0], 2);
    assert_int_equal(c.ids[1], 3);
    assert_int_equal(loop_timeline_skipped(tl, 0), 2);
    /* the short one still counts as busy time */
    uint64_t busy[1];
    assert_int_equal(loop_timeline_busy(tl, 0, AT(0), AT(0), busy, 1), 1);
    assert_int_equal(busy[0], (uint64_t)(0.5 * MS) + 1 * MS + 90 * MS);
    loop_timeline_free(tl);

    /* threshold 0 keeps everything */
    struct loop_timeline_config cfg;
    loop_timeline_config_default(&cfg);
    cfg.threshold_ns = 0;
    tl = loop_timeline_new(&cfg);
    assert_true(rec(tl, 0, 0, 0.001, 1));
    loop_timeline_free(tl);
}

/* Breaks if the ring index is head instead of head % capacity (overflow, an
 * ASan error) or if queries read slots already overwritten. */
static void test_wrap_around(void **state)
{
    struct loop_timeline *tl = timeline(1, 4);
    for (uint64_t i = 1; i <= 10; i++)
        rec(tl, 0, 10.0 * (double)i, 10.0 * (double)i + (i == 3 ? 9 : 2),
            i); /* #3 is the longest */
    struct collected c = each(tl, 0, 0, AT(1000));
    assert_int_equal(c.n, 4);
    for (unsigned k = 0; k < 4; k++)
        assert_int_equal(c.ids[k], 7 + k); /* the newest four, oldest first */
    /* #3 was overwritten: the longest is now among the kept ones */
    struct timeline_block b;
    assert_true(loop_timeline_longest(tl, 0, 0, AT(1000), &b));
    assert_int_equal(b.label.id, 10); /* all 2 ms: ties go to the later */
    assert_false(loop_timeline_longest(tl, 0, AT(30), AT(39), &b));
    loop_timeline_free(tl);
}

/* Breaks if a section is counted in one bucket only, or twice where it
 * overlaps the previous one, or if a stale slot reads as busy. */
static void test_busy_fractions(void **state)
{
    struct loop_timeline *tl = timeline(1, 16);
    rec(tl, 0, 50, 250, 1);  /* 50 ms in bucket 0, all of bucket 1, 50 ms in bucket 2 */
    rec(tl, 0, 240, 260, 2); /* overlaps the previous by 10 ms: 10 more in bucket 2 */
    rec(tl, 0, 390, 410, 3); /* across a boundary: 10 + 10 */
    uint64_t busy[6];
    assert_int_equal(loop_timeline_busy(tl, 0, AT(0), AT(599), busy, 6), 6);
    assert_int_equal(busy[0], 50 * MS);
    assert_int_equal(busy[1], 100 * MS);
    assert_int_equal(busy[2], 60 * MS);
    assert_int_equal(busy[3], 10 * MS);
    assert_int_equal(busy[4], 10 * MS);
    assert_int_equal(busy[5], 0);
    /* max bounds the output */
    assert_int_equal(loop_timeline_busy(tl, 0, AT(0), AT(599), busy, 2), 2);

    /* a minute later the same slots hold other buckets: the old ones read 0 */
    double later = LOOP_TIMELINE_BUCKETS * 100.0;
    rec(tl, 0, later + 100, later + 130, 4);
    assert_int_equal(loop_timeline_busy(tl, 0, AT(100), AT(100), busy, 1), 1);
    assert_int_equal(busy[0], 0);
    assert_int_equal(loop_timeline_busy(tl, 0, AT(later + 100), AT(later + 100), busy, 1), 1);
    assert_int_equal(busy[0], 30 * MS);

    /* a section longer than the minute fills every slot, each with 100 ms */
    double from = 2 * later, to = 4 * later;
    rec(tl, 0, from, to, 5);
    assert_int_equal(loop_timeline_busy(tl, 0, AT(to - 1000), AT(to - 1), busy, 6), 6);
    for (unsigned i = 0; i < 6; i++)
        assert_int_equal(busy[i], 100 * MS);
    loop_timeline_free(tl);
}

/* The query the lateness bookkeeping asks: a timer due at t0 fired at t1,
 * what held the loop meanwhile? Breaks if overlap is not strict (a block
 * ending exactly at t0 is not guilty) or the newest-first scan stops early. */
static void test_overlap_query(void **state)
{
    struct loop_timeline *tl = timeline(1, 16);
    rec(tl, 0, 0, 1000, 1);    /* A: a whole second, long before the rest */
    rec(tl, 0, 1100, 1150, 2); /* B */
    rec(tl, 0, 1200, 1400, 3); /* C: 200 ms */
    rec(tl, 0, 1410, 1420, 4); /* D: 10 ms */
    struct timeline_block b;
    assert_true(loop_timeline_longest(tl, 0, AT(1210), AT(1215), &b));
    assert_int_equal(b.label.id, 3);
    assert_int_equal(b.start_ns, AT(1200));
    assert_int_equal(b.dur_ns, 200 * MS);
    assert_true(loop_timeline_longest(tl, 0, AT(1390), AT(1415), &b)); /* C and D: C is longer */
    assert_int_equal(b.label.id, 3);
    assert_true(loop_timeline_longest(tl, 0, AT(1405), AT(1500), &b)); /* D only */
    assert_int_equal(b.label.id, 4);
    assert_false(loop_timeline_longest(tl, 0, AT(1401), AT(1409), &b)); /* a gap */
    assert_false(loop_timeline_longest(tl, 0, AT(1150), AT(1200), &b)); /* B ends, C starts */
    /* past the newest blocks to an old long one */
    assert_true(loop_timeline_longest(tl, 0, AT(500), AT(600), &b));
    assert_int_equal(b.label.id, 1);
    assert_true(loop_timeline_longest(tl, 0, AT(0), AT(2000), &b));
    assert_int_equal(b.label.id, 1);
    struct collected c = each(tl, 0, AT(1140), AT(1405));
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ids[0], 2);
    assert_int_equal(c.ids[1], 3);
    loop_timeline_free(tl);
}

/* Breaks if lanes share a ring or busy buckets. */
static void test_lane_separation(void **state)
{
    struct loop_timeline *tl = timeline(3, 16);
    rec(tl, 0, 0, 50, 1);
    rec(tl, 1, 10, 90, 2);
    rec(tl, 2, 20, 30, 3);
    rec(tl, 2, 40, 45, 4);
    assert_false(rec(tl, 3, 0, 50, 5)); /* no such lane: ignored */
    for (unsigned lane = 0; lane < 3; lane++) {
        struct collected c = each(tl, lane, 0, AT(1000));
        assert_int_equal(c.n, lane == 2 ? 2 : 1);
        for (unsigned k = 0; k < c.n; k++)
            assert_int_equal(c.lanes[k], lane);
    }
    struct timeline_block b;
    assert_true(loop_timeline_longest(tl, 2, 0, AT(1000), &b));
    assert_int_equal(b.label.id, 3);
    uint64_t busy[1];
    uint64_t want[3] = {50 * MS, 80 * MS, 15 * MS};
    for (unsigned lane = 0; lane < 3; lane++) {
        loop_timeline_busy(tl, lane, AT(0), AT(0), busy, 1);
        assert_int_equal(busy[0], want[lane]);
    }
    assert_int_equal(loop_timeline_each(tl, 7, 0, AT(1000), collect, &(struct collected){0}), 0);
    loop_timeline_free(tl);
}

struct worker {
    struct loop_timeline *tl;
    unsigned lane;
};

#define PER_WORKER 20000

static void *work(void *arg)
{
    struct worker *w = arg;
    for (unsigned i = 0; i < PER_WORKER; i++) {
        struct timeline_label l = {.what = "hands-on", .detail = "peel_avocado", .id = i + 1};
        uint64_t start = T + (uint64_t)i * 2 * MS;
        loop_timeline_record(w->tl, w->lane, start, start + (i % 2 ? 1 : 0) * 2 * MS, 3, &l);
    }
    return NULL;
}

/* Worker lanes recorded from their own threads while the loop thread reads
 * and renders (under ASan/TSan this is the race check): every record lands
 * in its own lane, none lost. */
static void test_worker_threads(void **state)
{
    enum { WORKERS = 3 };
    struct loop_timeline *tl = timeline(1 + WORKERS, 256);
    pthread_t th[WORKERS];
    struct worker w[WORKERS];
    for (unsigned i = 0; i < WORKERS; i++) {
        w[i] = (struct worker){tl, i + 1};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (unsigned k = 0; k < 200; k++) { /* the loop meanwhile */
        rec(tl, 0, k, k + 1.5, k + 1);
        json_decref(loop_timeline_take_batch(tl, AT(k + 2)));
        struct timeline_block b;
        loop_timeline_longest(tl, 1 + k % WORKERS, 0, AT(100000), &b);
    }
    for (unsigned i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    for (unsigned lane = 1; lane <= WORKERS; lane++) {
        assert_int_equal(loop_timeline_skipped(tl, lane), PER_WORKER / 2);
        struct timeline_block b;
        assert_true(loop_timeline_longest(tl, lane, 0, AT(1000000), &b));
        assert_int_equal(b.lane, lane);
        assert_int_equal(b.label.id, PER_WORKER); /* the newest of equals */
    }
    loop_timeline_free(tl);
}

static void test_label_format(void **state)
{
    char buf[64];
    struct timeline_label a = {.what = "POST /sync/order", .detail = "make_coffee", .id = 17};
    assert_int_equal(timeline_label_format(&a, buf, sizeof(buf)), 32);
    assert_string_equal(buf, "POST /sync/order #17 make_coffee");
    struct timeline_label b = {.what = "SSE flush"};
    timeline_label_format(&b, buf, sizeof(buf));
    assert_string_equal(buf, "SSE flush");
    struct timeline_label c = {.what = "async hands-on", .detail = "peel_avocado", .id = 9};
    timeline_label_format(&c, buf, sizeof(buf));
    assert_string_equal(buf, "async hands-on #9 peel_avocado");
    char tiny[8];
    assert_int_equal(timeline_label_format(&a, tiny, sizeof(tiny)), 32); /* cut, as snprintf */
    assert_string_equal(tiny, "POST /s");
}

static json_t *lane_of(json_t *root, size_t i)
{
    json_t *lane = json_array_get(json_object_get(root, "lanes"), i);
    assert_non_null(lane);
    return lane;
}

static json_int_t int_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* The shape docs/timeline.md promises, field by field. */
static void test_json_shape(void **state)
{
    struct loop_timeline *tl = timeline(2, 16);
    loop_timeline_name_lane(tl, 1, "barista 1");
    struct timeline_label sync = {.what = "POST /sync/order", .detail = "make_coffee", .id = 17};
    struct timeline_label flush = {.what = "SSE flush"};
    struct timeline_label peel = {.what = "thread hands-on", .detail = "peel_avocado", .id = 9};
    loop_timeline_record(tl, 0, AT(120), AT(270), 1, &sync);
    loop_timeline_record(tl, 0, AT(300), AT(302), 0, &flush);
    loop_timeline_record(tl, 1, AT(10), AT(210), 3, &peel);
    loop_timeline_record(tl, 0, AT(5000), AT(5010), 1, &sync); /* outside the span */

    json_t *j = loop_timeline_json(tl, AT(100), AT(400));
    json_int_t from = int_of(j, "from_us");
    assert_true(from >= 0 && from < 1000);
    assert_int_equal(int_of(j, "to_us") - from, 300000);
    assert_true(int_of(j, "t0_ms") > 1600000000000LL); /* unix ms */
    assert_int_equal(int_of(j, "threshold_us"), 1000);
    assert_int_equal(int_of(j, "slow_us"), 100000);
    assert_int_equal(int_of(j, "bucket_us"), 100000);
    assert_int_equal(json_array_size(json_object_get(j, "lanes")), 2);

    json_t *loop = lane_of(j, 0);
    assert_int_equal(int_of(loop, "lane"), 0);
    assert_string_equal(json_string_value(json_object_get(loop, "name")), "loop");
    json_t *blocks = json_object_get(loop, "blocks");
    assert_int_equal(json_array_size(blocks), 2);
    json_t *b0 = json_array_get(blocks, 0);
    assert_int_equal(int_of(b0, "start_us") - from, 20000);
    assert_int_equal(int_of(b0, "dur_us"), 150000);
    assert_string_equal(json_string_value(json_object_get(b0, "tag")), "sync");
    assert_string_equal(json_string_value(json_object_get(b0, "label")),
                        "POST /sync/order #17 make_coffee");
    assert_int_equal(int_of(b0, "id"), 17);
    json_t *b1 = json_array_get(blocks, 1);
    assert_true(json_is_null(json_object_get(b1, "tag")));
    assert_null(json_object_get(b1, "id")); /* no number in the label */
    /* busy: buckets from the one holding from (100 ms) up to the one before to's */
    assert_int_equal(int_of(loop, "busy_from_us"), from);
    json_t *busy = json_object_get(loop, "busy_us");
    assert_int_equal(json_array_size(busy), 3);
    assert_int_equal(json_integer_value(json_array_get(busy, 0)), 80000);
    assert_int_equal(json_integer_value(json_array_get(busy, 1)), 70000);
    assert_int_equal(json_integer_value(json_array_get(busy, 2)), 2000);

    json_t *barista = lane_of(j, 1);
    assert_string_equal(json_string_value(json_object_get(barista, "name")), "barista 1");
    json_t *p = json_array_get(json_object_get(barista, "blocks"), 0);
    assert_int_equal(int_of(p, "start_us") - from, -90000); /* began before the span */
    assert_string_equal(json_string_value(json_object_get(p, "tag")), "thread");
    assert_string_equal(json_string_value(json_object_get(p, "label")),
                        "thread hands-on #9 peel_avocado");
    json_decref(j);
    loop_timeline_free(tl);
}

/* The batched stream: each block and each complete bucket goes out once;
 * blocks overwritten before a batch are counted as dropped. */
static void test_take_batch(void **state)
{
    struct loop_timeline *tl = timeline(1, 4);
    rec(tl, 0, 10, 20, 1);
    rec(tl, 0, 30, 40, 2);
    json_t *j = loop_timeline_take_batch(tl, AT(250));
    json_t *loop = lane_of(j, 0);
    assert_int_equal(json_array_size(json_object_get(loop, "blocks")), 2);
    assert_int_equal(int_of(loop, "dropped"), 0);
    json_decref(j);

    j = loop_timeline_take_batch(tl, AT(260)); /* nothing new, no bucket completed */
    loop = lane_of(j, 0);
    assert_int_equal(json_array_size(json_object_get(loop, "blocks")), 0);
    assert_int_equal(json_array_size(json_object_get(loop, "busy_us")), 0);
    json_decref(j);

    for (uint64_t i = 3; i <= 9; i++) /* 7 new, the ring keeps 4 */
        rec(tl, 0, 300 + 10.0 * (double)i, 305 + 10.0 * (double)i, i);
    j = loop_timeline_take_batch(tl, AT(520));
    loop = lane_of(j, 0);
    json_t *blocks = json_object_get(loop, "blocks");
    assert_int_equal(json_array_size(blocks), 4);
    assert_int_equal(int_of(json_array_get(blocks, 0), "id"), 6);
    assert_int_equal(int_of(loop, "dropped"), 3);
    /* buckets 2, 3 and 4 completed since the previous batch (bucket 2 held
     * nothing; 3 and 4 the seven 5 ms blocks from 330 to 395 ms) */
    json_t *busy = json_object_get(loop, "busy_us");
    assert_int_equal(json_array_size(busy), 3);
    assert_int_equal(json_integer_value(json_array_get(busy, 0)), 0);
    assert_int_equal(json_integer_value(json_array_get(busy, 1)), 35000);
    assert_int_equal(json_integer_value(json_array_get(busy, 2)), 0);
    assert_int_equal(int_of(loop, "busy_from_us") - int_of(j, "from_us"), -60000);
    json_decref(j);
    loop_timeline_free(tl);
}

static const struct timeline_label *label_of(const char *what)
{
    static struct timeline_label l;
    l = (struct timeline_label){.what = what};
    return &l;
}

static void keep_last(const struct timeline_block *b, void *arg)
{
    *(struct timeline_block *)arg = *b;
}

/* What the newest block of lane 0 says (into *out). */
static const char *newest_label(struct loop_timeline *tl, struct timeline_block *out)
{
    static char buf[64];
    *out = (struct timeline_block){0};
    loop_timeline_each(tl, 0, 0, UINT64_MAX, keep_last, out);
    timeline_label_format(&out->label, buf, sizeof(buf));
    return buf;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Sections on the real clock: the outermost is the block, named after the
 * longest section or note inside it, else after itself; a short one only
 * counts. Breakages this catches: an inner section recorded as a block of
 * its own (two blocks), the outer's own label kept over what ran inside,
 * the shorter of two inner ones winning, and a NULL timeline crashing. */
static void test_sections(void **state)
{
    struct loop_timeline *tl = timeline(1, 16);
    struct timeline_block b;
    /* a handler inside a connection's batch, and a shorter note */
    uint64_t outer = loop_timeline_enter(tl);
    uint64_t inner = loop_timeline_enter(tl);
    sleep_ms(3);
    loop_timeline_leave(tl, inner, 2, label_of("handler"));
    loop_timeline_note(tl, 1 * MS, 3, label_of("shorter"));
    loop_timeline_leave(tl, outer, 0, label_of("batch"));
    assert_string_equal(newest_label(tl, &b), "handler");
    assert_int_equal(b.tag, 2);
    assert_true(b.dur_ns >= 3 * MS);
    struct collected c = each(tl, 0, 0, UINT64_MAX);
    assert_int_equal(c.n, 1); /* one block: the inner one is part of it */
    /* a longer note names it; ties go to the later */
    outer = loop_timeline_enter(tl);
    loop_timeline_note(tl, 2 * MS, 1, label_of("first"));
    loop_timeline_note(tl, 2 * MS, 1, label_of("second"));
    sleep_ms(2);
    loop_timeline_leave(tl, outer, 0, label_of("batch"));
    assert_string_equal(newest_label(tl, &b), "second");
    /* nothing inside: its own label */
    outer = loop_timeline_enter(tl);
    sleep_ms(2);
    loop_timeline_leave(tl, outer, 0, label_of("accept"));
    assert_string_equal(newest_label(tl, &b), "accept");
    assert_int_equal(each(tl, 0, 0, UINT64_MAX).n, 3);
    /* below the threshold: busy time only; a note outside any section: ignored */
    uint64_t skipped = loop_timeline_skipped(tl, 0);
    loop_timeline_note(tl, 5 * MS, 1, label_of("nowhere"));
    outer = loop_timeline_enter(tl);
    loop_timeline_leave(tl, outer, 0, label_of("quick"));
    assert_int_equal(loop_timeline_skipped(tl, 0), skipped + 1);
    assert_int_equal(each(tl, 0, 0, UINT64_MAX).n, 3);
    /* the timeline off */
    assert_int_equal(loop_timeline_enter(NULL), 0);
    loop_timeline_note(NULL, 1, 0, label_of("x"));
    loop_timeline_leave(NULL, 0, 0, label_of("x"));
    loop_timeline_free(tl);
}

/* A batch after a long silence sends what ended within the last minute. */
static void test_take_batch_keeps_a_minute(void **state)
{
    struct loop_timeline *tl = timeline(1, 8);
    rec(tl, 0, 10, 20, 1);
    rec(tl, 0, 61000, 61010, 2);
    json_t *j = loop_timeline_take_batch(tl, AT(120000));
    json_t *blocks = json_object_get(lane_of(j, 0), "blocks");
    assert_int_equal(json_array_size(blocks), 1);
    assert_int_equal(int_of(json_array_get(blocks, 0), "id"), 2);
    json_decref(j);
    loop_timeline_free(tl);
}

/* One block in two renderings with origins a fraction of a microsecond
 * apart (a GET /timeline and a batch) is at the same unix microsecond in
 * both, so the page draws it once. Breakage this catches: offsets counted
 * from each rendering's own origin, rounding apart by 1 us. */
static void test_same_instant_in_every_rendering(void **state)
{
    struct loop_timeline *tl = timeline(1, 8);
    struct timeline_label l = {.what = "work", .id = 1};
    loop_timeline_record(tl, 0, T + 12345678, T + 22345678, 1, &l); /* 12.345678 ms */
    int64_t first = 0;
    /* origins at every sub-microsecond residue: some add up across a us */
    for (unsigned k = 0; k < 1000; k++) {
        json_t *j = loop_timeline_json(tl, T + k, T + 50 * MS);
        json_t *b = json_array_get(json_object_get(lane_of(j, 0), "blocks"), 0);
        int64_t at = int_of(j, "t0_ms") * 1000 + int_of(b, "start_us");
        json_decref(j);
        if (!k)
            first = at;
        assert_int_equal(at, first);
    }
    json_t *j = loop_timeline_take_batch(tl, T + 50 * MS + 777);
    json_t *b = json_array_get(json_object_get(lane_of(j, 0), "blocks"), 0);
    assert_int_equal(int_of(j, "t0_ms") * 1000 + int_of(b, "start_us"), first);
    json_decref(j);
    loop_timeline_free(tl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_wrap_around),
        cmocka_unit_test(test_busy_fractions),
        cmocka_unit_test(test_overlap_query),
        cmocka_unit_test(test_lane_separation),
        cmocka_unit_test(test_worker_threads),
        cmocka_unit_test(test_label_format),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_take_batch),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_take_batch_keeps_a_minute),
        cmocka_unit_test(test_same_instant_in_every_rendering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
