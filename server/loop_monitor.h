#ifndef CAFE_LOOP_MONITOR_H
#define CAFE_LOOP_MONITOR_H

#include <stdint.h>

/* Event-loop health, measured from inside the loop (redis's EL_DURATION
 * stats; Node's monitorEventLoopDelay). Two probes, both on clock_ns(), never
 * on the time libevent cached at the start of the loop turn:
 *
 *   lag        a one-shot timer re-armed every interval_ms; lag = how late it
 *              fired (now - (armed + interval)). A handler that blocks the
 *              loop for 2 s shows up as ~2 s of lag.
 *   iteration  libevent 2.1 has no prepare/check watchers (they arrived in
 *              2.2), and an always-active low-priority event would keep the
 *              loop from ever sleeping. So at each lag tick we arm a
 *              zero-timeout timer: libevent runs it at the start of the next
 *              loop turn's timer processing, so the time between the tick and
 *              that callback spans the rest of this turn's callbacks, one
 *              non-blocking poll and the I/O callbacks of the next turn --
 *              one loop iteration's worth of work, sampled every interval.
 *
 * Each sample goes to the callback; the monitor itself keeps nothing else.
 * Loop-thread only. */

struct event_base;
struct loop_monitor;

enum loop_sample { LOOP_SAMPLE_LAG, LOOP_SAMPLE_ITERATION };
typedef void (*loop_monitor_fn)(enum loop_sample kind, uint64_t ns, void *arg);

/* Starts probing base every interval_ms (> 0). */
struct loop_monitor *loop_monitor_new(struct event_base *base, unsigned interval_ms,
                                      loop_monitor_fn fn, void *arg);
/* Stops the probes (shutdown: lets the loop run out of timers). */
void loop_monitor_stop(struct loop_monitor *mon);
void loop_monitor_free(struct loop_monitor *mon);

/* The pure part: how late a timer armed at armed_ns for interval_ns fired at
 * now_ns (0 when on time or early). */
uint64_t loop_lag_ns(uint64_t armed_ns, uint64_t interval_ns, uint64_t now_ns);

#endif
