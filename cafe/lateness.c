/* The pure part of "where an order's time went" (see cafe/lateness.h). */
#include "cafe/lateness.h"

#include <stdio.h>
#include <stdlib.h>

void lateness_set(struct step_lateness *l, int64_t due_ms, int64_t happened_ms,
                  enum late_cause cause, struct late_window before, struct late_window after)
{
    l->due_known = l->late_known = true;
    l->due_ms = due_ms;
    l->late_ms = happened_ms > due_ms ? happened_ms - due_ms : 0;
    l->cause = l->late_ms ? cause : LATE_NONE;
    l->waited[0] = before;
    l->waited[1] = after;
}

static int by_start(const void *a, const void *b)
{
    const struct late_window *x = a, *y = b;
    return (x->from_ms > y->from_ms) - (x->from_ms < y->from_ms);
}

int64_t late_windows_union_ms(struct late_window *w, unsigned n)
{
    if (n > 1)
        qsort(w, n, sizeof(*w), by_start);
    int64_t total = 0, end = INT64_MIN;
    for (unsigned i = 0; i < n; i++) {
        int64_t from = w[i].from_ms > end ? w[i].from_ms : end;
        if (w[i].to_ms > from)
            total += w[i].to_ms - from;
        if (w[i].to_ms > end)
            end = w[i].to_ms;
    }
    return total;
}

int64_t lateness_total_ms(const struct step_lateness *steps, unsigned n, enum late_cause cause)
{
    struct late_window w[2 * 32];
    unsigned k = 0;
    for (unsigned i = 0; i < n && k + 2 <= sizeof(w) / sizeof(w[0]); i++)
        if (steps[i].cause == cause) {
            w[k++] = steps[i].waited[0];
            w[k++] = steps[i].waited[1];
        }
    return late_windows_union_ms(w, k);
}

/* "850 ms", "2.1 s": what a reader takes in at a glance. */
static void duration_text(char *buf, size_t size, int64_t ms)
{
    if (ms < 1000)
        snprintf(buf, size, "%lld ms", (long long)ms);
    else
        snprintf(buf, size, "%.1f s", (double)ms / 1000);
}

size_t late_sentence(char *buf, size_t size, const char *step, bool at_end, int64_t late_ms,
                     enum late_cause cause, const char *held_by)
{
    char d[32];
    duration_text(d, sizeof(d), late_ms);
    int n;
    if (cause == LATE_BARISTA)
        n = snprintf(buf, size, "%s waited %s for a barista", step, d);
    else
        n = snprintf(buf, size, "%s %s %s late: the loop was %s%s", step,
                     at_end ? "finished" : "started", d, held_by ? "running " : "busy",
                     held_by ? held_by : "");
    return n < 0 ? 0 : (size_t)n;
}
