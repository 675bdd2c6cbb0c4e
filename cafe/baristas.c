#include "cafe/baristas.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/xmalloc.h"

/* A doubly linked FIFO of jobs; guarded by the pool lock. */
struct job_list {
    struct barista_job *head, *tail;
    unsigned len;
};

/* What a job's news says (barista_job.news). */
#define NEWS_STARTED 1u
#define NEWS_DONE    2u

/* One barista thread: its number names its timeline lane. */
struct barista {
    pthread_t thread;
    struct baristas *pool;
    unsigned number; /* 1.. */
};

struct baristas {
    pthread_mutex_t lock;
    pthread_cond_t work;   /* signalled when a job is queued or stop is set */
    pthread_cond_t halt;   /* CLOCK_MONOTONIC; broadcast when stop is set */
    struct job_list queue; /* waiting for a barista */
    struct job_list news;  /* taken in hand or finished: the loop has to hear */
    unsigned busy;
    bool stop;
    int efd; /* eventfd the loop watches */
    struct event *ev;
    struct loop_timeline *timeline;
    unsigned nthreads;
    struct barista threads[];
};

void sleep_ns(uint64_t ns)
{
    /* An absolute deadline, so a signal that interrupts the sleep does not
     * stretch it. */
    uint64_t end = clock_ns() + ns;
    struct timespec ts = {.tv_sec = (time_t)(end / 1000000000u),
                          .tv_nsec = (long)(end % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void list_push(struct job_list *l, struct barista_job *j)
{
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    l->len++;
}

static void list_unlink(struct job_list *l, struct barista_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        l->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        l->tail = j->prev;
    j->prev = j->next = NULL;
    l->len--;
}

/* The hands-on step itself, with the lock held: the barista is busy until
 * ns have passed, or until the pool stops (a step abandoned at teardown, so
 * that a second SIGTERM need not wait for it). Returns whether it finished. */
static bool work_for(struct baristas *p, uint64_t ns)
{
    uint64_t end = clock_ns() + ns;
    struct timespec ts = {.tv_sec = (time_t)(end / 1000000000u),
                          .tv_nsec = (long)(end % 1000000000u)};
    while (!p->stop)
        if (pthread_cond_timedwait(&p->halt, &p->lock, &ts) == ETIMEDOUT)
            return true;
    return false;
}

/* With the lock held: the loop is to hear what happened to j. A job is on
 * the news list once, with everything since the loop last looked. */
static void tell_loop(struct baristas *p, struct barista_job *j, unsigned news)
{
    bool wake = p->news.head == NULL;
    if (!j->news)
        list_push(&p->news, j);
    j->news |= news;
    if (wake) {
        uint64_t one = 1;
        /* Cannot fail short of a counter overflow; the loop reads it to 0. */
        ssize_t w = write(p->efd, &one, sizeof(one));
        (void)w;
    }
}

static void *barista_main(void *arg)
{
    struct barista *me = arg;
    struct baristas *p = me->pool;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->queue.head && !p->stop)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->stop)
            break;
        struct barista_job *j = p->queue.head;
        list_unlink(&p->queue, j);
        j->state = JOB_IN_HANDS;
        j->started_ns = clock_ns();
        p->busy++;
        if (j->started)
            tell_loop(p, j, NEWS_STARTED);
        bool finished = work_for(p, j->work_ns);
        j->ended_ns = clock_ns();
        j->state = finished ? JOB_FINISHED : JOB_IN_HANDS;
        p->busy--;
        /* On the lane before the loop hears of it, so whoever learns the
         * step is done finds its block (the lane has a lock of its own: the
         * pool's is not held). Until told, the job is still the barista's. */
        if (p->timeline) {
            struct timeline_label label = j->label;
            uint64_t start = j->started_ns, end = j->ended_ns;
            uint8_t tag = j->tag;
            pthread_mutex_unlock(&p->lock);
            loop_timeline_record(p->timeline, me->number, start, end, tag, &label);
            pthread_mutex_lock(&p->lock);
        }
        tell_loop(p, j, NEWS_DONE);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Hands the news back, one job at a time and outside the lock: done may
 * submit more work, and a barista may add news meanwhile (a job it took
 * while the loop looked at another). */
static void news_drain(struct baristas *p)
{
    for (;;) {
        pthread_mutex_lock(&p->lock);
        struct barista_job *j = p->news.head;
        unsigned news = 0;
        if (j) {
            list_unlink(&p->news, j);
            news = j->news;
            j->news = 0;
        }
        pthread_mutex_unlock(&p->lock);
        if (!j)
            return;
        if (news & NEWS_STARTED)
            j->started(j);
        if (news & NEWS_DONE)
            j->done(j);
    }
}

static void on_news(evutil_socket_t fd, short what, void *arg)
{
    static const struct timeline_label label = {"barista hand-off", NULL, 0};
    struct baristas *p = arg;
    uint64_t t0 = loop_timeline_enter(p->timeline);
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof(n)); /* EAGAIN is fine: nothing new */
    (void)r;
    news_drain(p);
    loop_timeline_leave(p->timeline, t0, 0, &label);
}

struct baristas *baristas_new(struct event_base *base, unsigned n)
{
    struct baristas *p = xcalloc(1, sizeof(*p) + n * sizeof(p->threads[0]));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* work_for()'s deadline */
    pthread_cond_init(&p->halt, &attr);
    pthread_condattr_destroy(&attr);
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        fprintf(stderr, "baristas: eventfd: %s\n", strerror(errno));
        goto fail;
    }
    p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, on_news, p);
    event_add(p->ev, NULL);
    for (; p->nthreads < n; p->nthreads++) {
        struct barista *b = &p->threads[p->nthreads];
        b->pool = p;
        b->number = p->nthreads + 1;
        int err = pthread_create(&b->thread, NULL, barista_main, b);
        if (err) {
            fprintf(stderr, "baristas: pthread_create: %s\n", strerror(err));
            baristas_free(p);
            return NULL;
        }
    }
    return p;
fail:
    pthread_cond_destroy(&p->halt);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p);
    return NULL;
}

void baristas_free(struct baristas *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_cond_broadcast(&p->halt);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i].thread, NULL);
    /* No thread is left: hand back what never ran, then what finished. */
    while (p->queue.head) {
        struct barista_job *j = p->queue.head;
        list_unlink(&p->queue, j);
        j->done(j);
    }
    news_drain(p);
    event_free(p->ev);
    close(p->efd);
    pthread_cond_destroy(&p->halt);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void baristas_set_timeline(struct baristas *p, struct loop_timeline *tl)
{
    pthread_mutex_lock(&p->lock);
    p->timeline = tl;
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; tl && i < p->nthreads; i++) {
        char name[LOOP_TIMELINE_LANE_NAME_MAX];
        snprintf(name, sizeof(name), "barista %u", p->threads[i].number);
        loop_timeline_name_lane(tl, p->threads[i].number, name);
    }
}

void baristas_submit(struct baristas *p, struct barista_job *job)
{
    job->state = JOB_QUEUED;
    job->news = 0;
    job->started_ns = job->ended_ns = 0;
    pthread_mutex_lock(&p->lock);
    list_push(&p->queue, job);
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
}

bool baristas_drop(struct baristas *p, struct barista_job *job)
{
    pthread_mutex_lock(&p->lock);
    bool queued = job->state == JOB_QUEUED;
    if (queued)
        list_unlink(&p->queue, job);
    pthread_mutex_unlock(&p->lock);
    return queued;
}

void baristas_stats(struct baristas *p, struct barista_stats *st)
{
    pthread_mutex_lock(&p->lock);
    st->queued = p->queue.len;
    st->busy = p->busy;
    st->threads = p->nthreads;
    pthread_mutex_unlock(&p->lock);
}
