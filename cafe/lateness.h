#ifndef CAFE_LATENESS_H
#define CAFE_LATENESS_H

/* Where an order's time went (docs/timeline.md, "Where each order's time
 * went"): when each step was due, how much later it ran, what it waited for
 * meanwhile and what held the loop; the order's totals and its sentence.
 * The pure part of the bookkeeping -- no clock, no loop -- which the brew
 * scheduler fills in (cafe/brew.c) and the order's JSON reads
 * (cafe/order.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/loop_timeline.h"

/* What a step that ran late waited for. */
enum late_cause {
    LATE_NONE,    /* it ran when it was due */
    LATE_LOOP,    /* the loop thread was busy: a late timer, or a step run on the loop */
    LATE_BARISTA, /* every barista had a step in hand (thread mode) */
};

/* A span of time an order spent waiting, in ms from its acceptance. */
struct late_window {
    int64_t from_ms, to_ms;
};

/* One step's lateness. All zero (nothing known) until the brew sets it, and
 * in a store's snapshot, which does not carry it. */
struct step_lateness {
    bool due_known, late_known;
    /* Offsets from the order's acceptance, in ms. A timer (a waiting step in
     * async or thread mode) is due to END at due_ms: its start, when it
     * could start, plus its duration. Any other step is due to START at
     * due_ms: when it could start (its `after` steps done, or acceptance;
     * in sync mode, the previous step done). */
    int64_t due_ms;
    int64_t late_ms; /* how much after due_ms it ended (a timer) or started (the rest) */
    enum late_cause cause;
    /* When it was held up: before it started -- for a timer, before it was
     * armed -- and, for a timer, from when it was due to fire to when it did
     * (the windows' lengths add up to late_ms). */
    struct late_window waited[2];
    /* The longest loop block overlapping the time it waited (cause LATE_LOOP);
     * what == NULL: none was kept. */
    struct timeline_label held_by;
};

/* The step was due at due_ms and happened at happened_ms (its end for a
 * timer, else its start), held up over before and after (a window that
 * ends before it begins counts as empty): records how late, and cause when
 * it was late at all. */
void lateness_set(struct step_lateness *l, int64_t due_ms, int64_t happened_ms,
                  enum late_cause cause, struct late_window before, struct late_window after);

/* How long the windows cover together, overlaps counted once (an order's
 * steps held up by the same block waited once). Sorts w in place. */
int64_t late_windows_union_ms(struct late_window *w, unsigned n);
/* The order's time held up by cause: the union of its steps' windows. */
int64_t lateness_total_ms(const struct step_lateness *steps, unsigned n, enum late_cause cause);

/* "make_coffee finished 2.1 s late: the loop was running sync brew #4
 * make_coffee", "peel_avocado started 300 ms late: the loop was running
 * async hands-on #8 peel_avocado", "brew waited 1.2 s for a barista". at_end:
 * the step is a timer (it finished late). held_by NULL: the loop was busy
 * with nothing kept by the timeline. Formats as snprintf does. */
size_t late_sentence(char *buf, size_t size, const char *step, bool at_end, int64_t late_ms,
                     enum late_cause cause, const char *held_by);

#endif
