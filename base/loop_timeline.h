#ifndef CAFE_LOOP_TIMELINE_H
#define CAFE_LOOP_TIMELINE_H

/* What held the loop: a bounded record, per lane, of the sections of work
 * ("blocks") that ran longer than a threshold, and of each lane's busy time
 * per 100 ms. Lane 0 is the event-loop thread; lanes 1.. are helper threads
 * (a worker pool). It knows nothing of what the work was: a block carries a
 * label made of caller-given pieces and a small tag (a colour key, e.g. a
 * mode) the caller names. docs/timeline.md is the JSON it renders.
 *
 * Cheap enough to stay on: recording is a few stores into rings allocated
 * up front -- no allocation, no formatting, no lock on the loop's lane. A
 * label is kept as pointers and a number and formatted only when read.
 *
 * Threads: lane 0 belongs to the loop thread; only it records into lane 0
 * and only it calls the queries and the JSON renderers, all without a lock.
 * Each other lane may be recorded into by one thread at a time (its worker)
 * and is guarded by a lock of its own, taken by that worker's records and by
 * the loop's reads. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOOP_TIMELINE_LOOP                 0            /* the loop thread's lane */
#define LOOP_TIMELINE_BUCKET_NS            100000000ull /* busy-time resolution: 100 ms */
#define LOOP_TIMELINE_BUCKETS              600          /* a minute of busy time per lane */
#define LOOP_TIMELINE_THRESHOLD_NS_DEFAULT 1000000ull   /* 1 ms */
#define LOOP_TIMELINE_LANE_NAME_MAX        24

/* A label, formatted only when read: "what #id detail", with " #id" left
 * out for id 0 and " detail" for NULL -- "POST /sync/order #17 make_coffee",
 * "SSE flush". Both strings must outlive the timeline (literals, route
 * patterns, menu names), since only the pointers are kept. */
struct timeline_label {
    const char *what;
    const char *detail;
    uint64_t id;
};

/* One kept block. Times are clock_ns(). */
struct timeline_block {
    uint64_t start_ns, dur_ns;
    struct timeline_label label;
    uint16_t lane;
    uint8_t tag; /* the caller's colour key; 0 by convention "none" */
};

struct loop_timeline_config {
    unsigned lanes;               /* 1 (the loop) + helper threads */
    unsigned capacity;            /* blocks kept per lane; the oldest are overwritten */
    uint64_t threshold_ns;        /* shorter sections count as busy time but are not kept */
    uint64_t slow_ns;             /* the slow-callback warning threshold, for the page; 0: none */
    const char *const *tag_names; /* tag -> its name in the JSON; NULL entries: null */
    unsigned ntags;
};

/* Fills cfg with defaults: 1 lane, 2048 blocks, 1 ms threshold, no tags. */
void loop_timeline_config_default(struct loop_timeline_config *cfg);
/* Allocates every ring now; lanes are named "loop", "lane 1", ... The tag
 * names must outlive the timeline. Call from the loop thread. */
struct loop_timeline *loop_timeline_new(const struct loop_timeline_config *cfg);
void loop_timeline_free(struct loop_timeline *tl);
/* Copies name (cut to LOOP_TIMELINE_LANE_NAME_MAX - 1 bytes), e.g. "barista 2". */
void loop_timeline_name_lane(struct loop_timeline *tl, unsigned lane, const char *name);

/* Records that lane was busy from start_ns to end_ns on label's work: the
 * time counts towards the lane's busy buckets, and the section is kept as a
 * block if it lasted at least the threshold. A lane's sections are recorded
 * in the order they end and do not nest (record the outermost; time a
 * section shares with the previous one is counted once). Returns whether it
 * was kept. label is copied (three words). Lane out of range: ignored. */
bool loop_timeline_record(struct loop_timeline *tl, unsigned lane, uint64_t start_ns,
                          uint64_t end_ns, uint8_t tag, const struct timeline_label *label);

/* Sections of the loop thread's work (lane 0), timed where they run: a
 * callback, a handler, a blocking step. A section opened inside another (a
 * handler inside a connection's batch) is part of the outermost one: only
 * the outermost becomes a block -- recorded as loop_timeline_record() does
 * -- labelled by the longest section or note that ran inside it, else by
 * its own label. Pair every enter with a leave, innermost first. Loop thread
 * only; tl NULL (the timeline is off): nothing is read or recorded. */

/* Opens a section now; returns its start, for loop_timeline_leave(). */
uint64_t loop_timeline_enter(struct loop_timeline *tl);
/* Closes the section that began at start_ns: recorded if it is the
 * outermost, else a note of the one around it. */
void loop_timeline_leave(struct loop_timeline *tl, uint64_t start_ns, uint8_t tag,
                         const struct timeline_label *label);
/* Something that ran for dur_ns inside the open section, timed by the
 * caller: it names the outermost section's block if it is the longest so far
 * (ties: the later). Ignored when no section is open. */
void loop_timeline_note(struct loop_timeline *tl, uint64_t dur_ns, uint8_t tag,
                        const struct timeline_label *label);

/* Calls fn for every kept block of lane that overlaps [from_ns, to_ns],
 * oldest first; returns how many. fn must not call back into the timeline. */
unsigned loop_timeline_each(struct loop_timeline *tl, unsigned lane, uint64_t from_ns,
                            uint64_t to_ns, void (*fn)(const struct timeline_block *b, void *arg),
                            void *arg);
/* The longest kept block of lane overlapping [from_ns, to_ns] -- what held
 * the loop while a timer that was due at from_ns waited until to_ns. Ties go
 * to the later block. false (and *out untouched) if there is none. */
bool loop_timeline_longest(struct loop_timeline *tl, unsigned lane, uint64_t from_ns,
                           uint64_t to_ns, struct timeline_block *out);
/* Busy time in ns of each 100 ms bucket of lane, from the one holding from_ns
 * to the one holding to_ns, into out (at most max); returns how many. Only
 * the last LOOP_TIMELINE_BUCKETS buckets are kept: older ones may read 0. */
unsigned loop_timeline_busy(struct loop_timeline *tl, unsigned lane, uint64_t from_ns,
                            uint64_t to_ns, uint64_t *out, unsigned max);
/* Sections recorded below the threshold (busy time only), per lane. */
uint64_t loop_timeline_skipped(struct loop_timeline *tl, unsigned lane);

/* Formats a label into buf (as snprintf: returns the length it needed). */
size_t timeline_label_format(const struct timeline_label *l, char *buf, size_t size);

/* docs/timeline.md: every lane's kept blocks overlapping [from_ns, to_ns]
 * and its busy time per complete bucket in that span. A new reference. */
json_t *loop_timeline_json(struct loop_timeline *tl, uint64_t from_ns, uint64_t to_ns);
/* The same shape for a batched stream: the blocks kept since the previous
 * call (or since the start) that end within the last minute, and the busy
 * buckets completed since then (at most a minute of them), up to now_ns,
 * with how many blocks were overwritten before they could be sent. One
 * consumer per timeline. */
json_t *loop_timeline_take_batch(struct loop_timeline *tl, uint64_t now_ns);

#endif
