#ifndef CAFE_BARISTAS_H
#define CAFE_BARISTAS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/loop_timeline.h"

/* A pool of barista threads for hands-on steps in thread mode
 * (asyncio.to_thread). The loop submits jobs; a barista "does" one by
 * sleeping work_ns. What the loop must hear -- a job taken in hand, a job
 * finished -- comes back through a mutex-guarded list and one eventfd (h2o's
 * multithread queue): a barista writes the eventfd only when the list goes
 * empty -> non-empty, the loop drains the whole list per wake-up. A job is on
 * that list at most once, carrying what happened to it since the loop last
 * looked, so a barista never waits for the loop. Baristas never touch
 * libevent or connections; the loop never blocks on them. */

struct event_base;
struct baristas;

enum barista_job_state { JOB_QUEUED, JOB_IN_HANDS, JOB_FINISHED };

/* Embed this in your own job struct. Fields marked (loop) are only touched by
 * the loop thread; the rest belong to whoever holds the pool lock. */
struct barista_job {
    struct barista_job *prev, *next;
    enum barista_job_state state;
    uint64_t work_ns;    /* set before submitting: how long the step takes */
    uint64_t started_ns; /* CLOCK_MONOTONIC when a barista took it */
    uint64_t ended_ns;
    /* Set before submitting: what the barista's lane of the pool's timeline
     * shows it doing (baristas_set_timeline). */
    uint8_t tag;
    struct timeline_label label;
    /* (loop) Optional: called on the loop thread once a barista has taken
     * the job in hand (started_ns is set), before done. */
    void (*started)(struct barista_job *job);
    /* (loop) Called on the loop thread once the job is finished, or when the
     * pool is freed before it was (state JOB_QUEUED, or JOB_IN_HANDS for a
     * step abandoned in hand). Owns the job from then on. */
    void (*done)(struct barista_job *job);
    unsigned news; /* (pool) what the loop has not heard yet */
};

/* Starts n threads. NULL (after a message on stderr) if they cannot start. */
struct baristas *baristas_new(struct event_base *base, unsigned n);
/* Stops and joins the threads at once (a step in hand is abandoned, not
 * finished), then hands every job still queued, abandoned or finished back to
 * its done callback. */
void baristas_free(struct baristas *p);

/* Barista i (0..) records each job's hands-on work on lane 1 + i of tl,
 * named "barista 1 + i", from its own thread. NULL: nowhere. Call before
 * submitting; tl must outlive the pool. */
void baristas_set_timeline(struct baristas *p, struct loop_timeline *tl);

void baristas_submit(struct baristas *p, struct barista_job *job);
/* Takes a job back out of the queue: true if it was still queued (it is the
 * caller's again and done will not be called), false if a barista has it in
 * hand or it finished (done will be called as usual). */
bool baristas_drop(struct baristas *p, struct barista_job *job);

struct barista_stats {
    unsigned queued;
    unsigned busy;
    unsigned threads;
};
void baristas_stats(struct baristas *p, struct barista_stats *st);

/* Sleeps ns on the calling thread, resuming after signals. */
void sleep_ns(uint64_t ns);

#endif
