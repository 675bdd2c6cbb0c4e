/* The loop timeline's rings (see loop_timeline.h). Each lane owns a ring of
 * kept blocks, counted by a sequence number (the block numbered seq lives in
 * ring[seq % capacity] until capacity newer ones replace it), and a ring of
 * busy buckets indexed by the absolute bucket number (clock_ns / 100 ms), so
 * a slot holding another bucket's number simply reads as idle. */
#include "base/loop_timeline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "base/clock.h"
#include "base/xmalloc.h"

#define B LOOP_TIMELINE_BUCKET_NS
#define N LOOP_TIMELINE_BUCKETS

struct bucket {
    uint64_t index; /* clock_ns / B of the 100 ms this slot counts */
    uint64_t busy_ns;
};

struct lane {
    pthread_mutex_t lock; /* lanes >= 1: their worker records, the loop reads */
    struct timeline_block *ring;
    uint64_t head;          /* blocks ever kept */
    uint64_t skipped;       /* sections below the threshold */
    uint64_t counted_to_ns; /* busy time is counted up to here */
    uint64_t sent;          /* take_batch: blocks below this number went out */
    uint64_t sent_bucket;   /* take_batch: buckets below this number went out */
    struct bucket buckets[N];
    char name[LOOP_TIMELINE_LANE_NAME_MAX];
};

/* The loop thread's open sections (loop_timeline_enter): how deep, and what
 * names the outermost so far. */
struct open_sections {
    unsigned depth;
    bool named;
    uint64_t named_ns;
    uint8_t tag;
    struct timeline_label label;
};

struct loop_timeline {
    struct loop_timeline_config cfg;
    struct open_sections open; /* lane 0 only: the loop thread's */
    uint64_t epoch_ns;         /* clock_ns() when epoch_unix_us was read: maps one to the other */
    int64_t epoch_unix_us;
    uint64_t batch_from_ns; /* take_batch: the previous call's now */
    struct lane lanes[];
};

void loop_timeline_config_default(struct loop_timeline_config *cfg)
{
    *cfg = (struct loop_timeline_config){
        .lanes = 1, .capacity = 2048, .threshold_ns = LOOP_TIMELINE_THRESHOLD_NS_DEFAULT};
}

struct loop_timeline *loop_timeline_new(const struct loop_timeline_config *cfg)
{
    unsigned lanes = cfg->lanes ? cfg->lanes : 1;
    struct loop_timeline *tl = xcalloc(1, sizeof(*tl) + lanes * sizeof(tl->lanes[0]));
    tl->cfg = *cfg;
    tl->cfg.lanes = lanes;
    if (!tl->cfg.capacity)
        tl->cfg.capacity = 1;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    tl->epoch_ns = clock_ns();
    tl->epoch_unix_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
    for (unsigned i = 0; i < lanes; i++) {
        struct lane *ln = &tl->lanes[i];
        pthread_mutex_init(&ln->lock, NULL);
        ln->ring = xcalloc(tl->cfg.capacity, sizeof(*ln->ring));
        if (i == LOOP_TIMELINE_LOOP)
            snprintf(ln->name, sizeof(ln->name), "loop");
        else
            snprintf(ln->name, sizeof(ln->name), "lane %u", i);
    }
    return tl;
}

void loop_timeline_free(struct loop_timeline *tl)
{
    if (!tl)
        return;
    for (unsigned i = 0; i < tl->cfg.lanes; i++) {
        pthread_mutex_destroy(&tl->lanes[i].lock);
        free(tl->lanes[i].ring);
    }
    free(tl);
}

/* The lane, locked unless it is the loop's; NULL if out of range. */
static struct lane *lane_get(struct loop_timeline *tl, unsigned lane)
{
    if (lane >= tl->cfg.lanes)
        return NULL;
    if (lane != LOOP_TIMELINE_LOOP)
        pthread_mutex_lock(&tl->lanes[lane].lock);
    return &tl->lanes[lane];
}

static void lane_put(struct loop_timeline *tl, struct lane *ln)
{
    if (ln != &tl->lanes[LOOP_TIMELINE_LOOP])
        pthread_mutex_unlock(&ln->lock);
}

void loop_timeline_name_lane(struct loop_timeline *tl, unsigned lane, const char *name)
{
    struct lane *ln = lane_get(tl, lane);
    if (!ln)
        return;
    snprintf(ln->name, sizeof(ln->name), "%s", name);
    lane_put(tl, ln);
}

/* Adds [s, e) to the busy buckets it spans, minus what is already counted. */
static void busy_count(struct lane *ln, uint64_t s, uint64_t e)
{
    if (s < ln->counted_to_ns)
        s = ln->counted_to_ns;
    if (e <= s)
        return;
    ln->counted_to_ns = e;
    if (e - s > (uint64_t)N * B) /* only the last minute has slots */
        s = e - (uint64_t)N * B;
    for (uint64_t i = s / B; s < e; i++) {
        uint64_t upto = e < (i + 1) * B ? e : (i + 1) * B;
        struct bucket *bk = &ln->buckets[i % N];
        if (bk->index != i)
            *bk = (struct bucket){.index = i};
        bk->busy_ns += upto - s;
        s = upto;
    }
}

bool loop_timeline_record(struct loop_timeline *tl, unsigned lane, uint64_t start_ns,
                          uint64_t end_ns, uint8_t tag, const struct timeline_label *label)
{
    struct lane *ln = lane_get(tl, lane);
    if (!ln)
        return false;
    if (end_ns < start_ns)
        end_ns = start_ns;
    busy_count(ln, start_ns, end_ns);
    bool keep = end_ns - start_ns >= tl->cfg.threshold_ns;
    if (keep)
        ln->ring[ln->head++ % tl->cfg.capacity] = (struct timeline_block){
            .start_ns = start_ns,
            .dur_ns = end_ns - start_ns,
            .label = *label,
            .lane = (uint16_t)lane,
            .tag = tag,
        };
    else
        ln->skipped++;
    lane_put(tl, ln);
    return keep;
}

uint64_t loop_timeline_enter(struct loop_timeline *tl)
{
    if (!tl)
        return 0;
    if (tl->open.depth++ == 0)
        tl->open.named = false;
    return clock_ns();
}

void loop_timeline_note(struct loop_timeline *tl, uint64_t dur_ns, uint8_t tag,
                        const struct timeline_label *label)
{
    struct open_sections *o = tl ? &tl->open : NULL;
    if (!o || !o->depth || (o->named && dur_ns < o->named_ns))
        return;
    *o = (struct open_sections){
        .depth = o->depth, .named = true, .named_ns = dur_ns, .tag = tag, .label = *label};
}

void loop_timeline_leave(struct loop_timeline *tl, uint64_t start_ns, uint8_t tag,
                         const struct timeline_label *label)
{
    if (!tl)
        return;
    uint64_t end_ns = clock_ns();
    struct open_sections *o = &tl->open;
    if (o->depth > 1) {
        o->depth--;
        loop_timeline_note(tl, end_ns - start_ns, tag, label);
        return;
    }
    o->depth = 0;
    if (o->named) {
        tag = o->tag;
        label = &o->label;
    }
    loop_timeline_record(tl, LOOP_TIMELINE_LOOP, start_ns, end_ns, tag, label);
}

static uint64_t oldest_kept(const struct loop_timeline *tl, const struct lane *ln)
{
    return ln->head > tl->cfg.capacity ? ln->head - tl->cfg.capacity : 0;
}

static bool overlaps(const struct timeline_block *b, uint64_t from_ns, uint64_t to_ns)
{
    return b->start_ns < to_ns && b->start_ns + b->dur_ns > from_ns;
}

unsigned loop_timeline_each(struct loop_timeline *tl, unsigned lane, uint64_t from_ns,
                            uint64_t to_ns, void (*fn)(const struct timeline_block *b, void *arg),
                            void *arg)
{
    struct lane *ln = lane_get(tl, lane);
    unsigned n = 0;
    if (!ln)
        return 0;
    for (uint64_t seq = oldest_kept(tl, ln); seq < ln->head; seq++) {
        const struct timeline_block *b = &ln->ring[seq % tl->cfg.capacity];
        if (overlaps(b, from_ns, to_ns)) {
            fn(b, arg);
            n++;
        }
    }
    lane_put(tl, ln);
    return n;
}

bool loop_timeline_longest(struct loop_timeline *tl, unsigned lane, uint64_t from_ns,
                           uint64_t to_ns, struct timeline_block *out)
{
    struct lane *ln = lane_get(tl, lane);
    const struct timeline_block *best = NULL;
    if (!ln)
        return false;
    /* Newest first; blocks are kept in the order they end, so the first
     * one ending by from_ns ends the search. */
    for (uint64_t seq = ln->head; seq > oldest_kept(tl, ln); seq--) {
        const struct timeline_block *b = &ln->ring[(seq - 1) % tl->cfg.capacity];
        if (b->start_ns + b->dur_ns <= from_ns)
            break;
        if (overlaps(b, from_ns, to_ns) && (!best || b->dur_ns > best->dur_ns))
            best = b;
    }
    if (best)
        *out = *best;
    lane_put(tl, ln);
    return best != NULL;
}

static uint64_t bucket_busy(const struct lane *ln, uint64_t i)
{
    const struct bucket *bk = &ln->buckets[i % N];
    return bk->index == i ? bk->busy_ns : 0;
}

unsigned loop_timeline_busy(struct loop_timeline *tl, unsigned lane, uint64_t from_ns,
                            uint64_t to_ns, uint64_t *out, unsigned max)
{
    struct lane *ln = lane_get(tl, lane);
    unsigned n = 0;
    if (!ln)
        return 0;
    for (uint64_t i = from_ns / B; i <= to_ns / B && n < max && from_ns <= to_ns; i++)
        out[n++] = bucket_busy(ln, i);
    lane_put(tl, ln);
    return n;
}

uint64_t loop_timeline_skipped(struct loop_timeline *tl, unsigned lane)
{
    struct lane *ln = lane_get(tl, lane);
    uint64_t n = ln ? ln->skipped : 0;
    if (ln)
        lane_put(tl, ln);
    return n;
}

size_t timeline_label_format(const struct timeline_label *l, char *buf, size_t size)
{
    char id[24] = "";
    if (l->id)
        snprintf(id, sizeof(id), " #%llu", (unsigned long long)l->id);
    int n = snprintf(buf, size, "%s%s%s%s", l->what ? l->what : "", id, l->detail ? " " : "",
                     l->detail ? l->detail : "");
    return n < 0 ? 0 : (size_t)n;
}

/* --- JSON (docs/timeline.md) ---------------------------------------------------- */

/* a / b rounded down (b > 0), for offsets that may be negative. */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* What the renderers share: the span's origin and the lane being filled. */
struct render {
    const struct loop_timeline *tl;
    int64_t t0_unix_us; /* t0_ms in us: every *_us counts from it */
    json_t *blocks;
};

/* The unix microsecond of a clock_ns() instant: the same in every rendering,
 * whatever its origin, so that one block sent twice (a GET /timeline and a
 * batch) is the same block to the page. */
static int64_t unix_us(const struct loop_timeline *tl, uint64_t ns)
{
    return tl->epoch_unix_us + floor_div((int64_t)ns - (int64_t)tl->epoch_ns, 1000);
}

static json_int_t offset_us(const struct render *r, uint64_t ns)
{
    return (json_int_t)(unix_us(r->tl, ns) - r->t0_unix_us);
}

static void block_append(const struct timeline_block *b, void *arg)
{
    struct render *r = arg;
    const struct loop_timeline_config *cfg = &r->tl->cfg;
    char label[192];
    timeline_label_format(&b->label, label, sizeof(label));
    const char *tag = b->tag < cfg->ntags ? cfg->tag_names[b->tag] : NULL;
    json_t *j = json_pack("{s:I, s:I, s:o, s:s}", "start_us", offset_us(r, b->start_ns), "dur_us",
                          (json_int_t)(b->dur_ns / 1000), "tag",
                          tag ? json_string(tag) : json_null(), "label", label);
    if (b->label.id)
        json_object_set_new(j, "id", json_integer((json_int_t)b->label.id));
    json_array_append_new(r->blocks, j);
}

/* The object every rendering starts with; sets r's origin from from_ns. */
static json_t *render_head(struct render *r, const struct loop_timeline *tl, uint64_t from_ns,
                           uint64_t to_ns)
{
    /* t0_ms: the unix millisecond holding from_ns, so from_us is 0..999 */
    int64_t t0_ms = floor_div(unix_us(tl, from_ns), 1000);
    r->tl = tl;
    r->t0_unix_us = t0_ms * 1000;
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:[]}", "t0_ms", (json_int_t)t0_ms, "from_us",
                     offset_us(r, from_ns), "to_us", offset_us(r, to_ns), "threshold_us",
                     (json_int_t)(tl->cfg.threshold_ns / 1000), "slow_us",
                     (json_int_t)(tl->cfg.slow_ns / 1000), "bucket_us", (json_int_t)(B / 1000),
                     "lanes");
}

/* Buckets [first, end) of a lane as busy_us, with where the first begins. */
static void render_busy(const struct render *r, const struct lane *ln, json_t *lane, uint64_t first,
                        uint64_t end)
{
    if (end > first + N)
        first = end - N;
    json_t *busy = json_array();
    for (uint64_t i = first; i < end; i++)
        json_array_append_new(busy, json_integer((json_int_t)(bucket_busy(ln, i) / 1000)));
    json_object_set_new(lane, "busy_from_us", json_integer(offset_us(r, first * B)));
    json_object_set_new(lane, "busy_us", busy);
}

static json_t *lane_head(const struct lane *ln, unsigned i, struct render *r)
{
    r->blocks = json_array();
    return json_pack("{s:I, s:s, s:I, s:o}", "lane", (json_int_t)i, "name", ln->name, "skipped",
                     (json_int_t)ln->skipped, "blocks", r->blocks);
}

json_t *loop_timeline_json(struct loop_timeline *tl, uint64_t from_ns, uint64_t to_ns)
{
    struct render r;
    json_t *root = render_head(&r, tl, from_ns, to_ns);
    json_t *lanes = json_object_get(root, "lanes");
    for (unsigned i = 0; i < tl->cfg.lanes; i++) {
        struct lane *ln = lane_get(tl, i);
        json_t *lane = lane_head(ln, i, &r);
        for (uint64_t seq = oldest_kept(tl, ln); seq < ln->head; seq++)
            if (overlaps(&ln->ring[seq % tl->cfg.capacity], from_ns, to_ns))
                block_append(&ln->ring[seq % tl->cfg.capacity], &r);
        /* complete buckets only: the one holding to_ns is still counting */
        render_busy(&r, ln, lane, from_ns / B, to_ns >= from_ns ? to_ns / B : from_ns / B);
        lane_put(tl, ln);
        json_array_append_new(lanes, lane);
    }
    return root;
}

json_t *loop_timeline_take_batch(struct loop_timeline *tl, uint64_t now_ns)
{
    struct render r;
    uint64_t from_ns = tl->batch_from_ns ? tl->batch_from_ns : tl->epoch_ns;
    json_t *root = render_head(&r, tl, from_ns, now_ns);
    json_t *lanes = json_object_get(root, "lanes");
    for (unsigned i = 0; i < tl->cfg.lanes; i++) {
        struct lane *ln = lane_get(tl, i);
        json_t *lane = lane_head(ln, i, &r);
        uint64_t first = oldest_kept(tl, ln) > ln->sent ? oldest_kept(tl, ln) : ln->sent;
        json_object_set_new(lane, "dropped", json_integer((json_int_t)(first - ln->sent)));
        for (uint64_t seq = first; seq < ln->head; seq++) {
            const struct timeline_block *b = &ln->ring[seq % tl->cfg.capacity];
            if (b->start_ns + b->dur_ns + (uint64_t)N * B > now_ns) /* older: nobody draws it */
                block_append(b, &r);
        }
        ln->sent = ln->head;
        uint64_t first_bucket = ln->sent_bucket ? ln->sent_bucket : from_ns / B;
        render_busy(&r, ln, lane, first_bucket, now_ns / B);
        if (now_ns / B > first_bucket)
            ln->sent_bucket = now_ns / B;
        lane_put(tl, ln);
        json_array_append_new(lanes, lane);
    }
    tl->batch_from_ns = now_ns;
    return root;
}
