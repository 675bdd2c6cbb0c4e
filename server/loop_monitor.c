#include "server/loop_monitor.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/xmalloc.h"
#include "server/server.h"

struct loop_monitor {
    struct event *tick, *turn;
    struct timeval interval;
    uint64_t interval_ns;
    uint64_t armed_ns; /* when tick was last added */
    uint64_t turn_ns;  /* when turn was armed */
    bool stopped;
    loop_monitor_fn fn;
    void *arg;
};

uint64_t loop_lag_ns(uint64_t armed_ns, uint64_t interval_ns, uint64_t now_ns)
{
    uint64_t due = armed_ns + interval_ns;
    return now_ns > due ? now_ns - due : 0;
}

static void on_turn(evutil_socket_t fd, short what, void *arg)
{
    struct loop_monitor *mon = arg;
    mon->fn(LOOP_SAMPLE_ITERATION, clock_ns() - mon->turn_ns, mon->arg);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct loop_monitor *mon = arg;
    uint64_t now = clock_ns();
    mon->fn(LOOP_SAMPLE_LAG, loop_lag_ns(mon->armed_ns, mon->interval_ns, now), mon->arg);
    if (mon->stopped)
        return; /* the callback may have stopped us */
    static const struct timeval zero = {0, 0};
    /* One-shot and re-armed here, not EV_PERSIST: a persistent timer
     * schedules from its previous deadline and would hide the lag. libevent
     * counts a timeout from the time it cached when this turn began; count
     * it from now, as armed_ns does. */
    event_base_update_cache_time(event_get_base(mon->tick));
    mon->turn_ns = mon->armed_ns = clock_ns();
    event_add(mon->turn, &zero);
    event_add(mon->tick, &mon->interval);
}

struct loop_monitor *loop_monitor_new(struct event_base *base, unsigned interval_ms,
                                      loop_monitor_fn fn, void *arg)
{
    struct loop_monitor *mon = xcalloc(1, sizeof(*mon));
    mon->fn = fn;
    mon->arg = arg;
    mon->interval = timeval_from_ms(interval_ms);
    mon->interval_ns = (uint64_t)interval_ms * 1000000u;
    mon->tick = evtimer_new(base, on_tick, mon);
    mon->turn = evtimer_new(base, on_turn, mon);
    /* The tick runs first in its turn (priority 0, when the base has
     * priorities) so lag measures the loop being held, not the queue of
     * callbacks ahead of it; the turn probe keeps the default priority. */
    event_priority_set(mon->tick, 0);
    mon->armed_ns = clock_ns();
    event_add(mon->tick, &mon->interval);
    return mon;
}

void loop_monitor_stop(struct loop_monitor *mon)
{
    if (!mon)
        return;
    mon->stopped = true;
    event_del(mon->tick);
    event_del(mon->turn);
}

void loop_monitor_free(struct loop_monitor *mon)
{
    if (!mon)
        return;
    event_free(mon->tick);
    event_free(mon->turn);
    free(mon);
}
