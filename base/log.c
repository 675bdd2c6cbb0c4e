/* The log: lines from every thread go into one buffer in the order they are
 * logged; a writer thread hands them to stderr in batches. Two buffers of
 * buffer_bytes: `fill` takes new lines while `out` is being written, and
 * they swap when out is written and fill is due (its oldest line has waited
 * flush_ms, it is half full, or someone asked). The loop thread never
 * writes: a pipe nobody reads, a terminal on hold or a slow disk stall only
 * the writer, and while it is stalled fill fills up and further lines are
 * dropped whole, counted, and noted in the log where the gap is. Envoy's
 * access-log flush thread is the model; nginx's buffer=64k flush=... the
 * settings. */
#include "base/log.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/textbuf.h"
#include "base/xmalloc.h"

#define NOTE_MAX 160 /* room kept in each buffer for the "lines dropped" line */

/* Whole lines waiting to be written. */
struct batch {
    char *p;
    size_t len;
    uint64_t lines;
};

static struct {
    enum log_format format;
    unsigned slow_ms;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;  /* the writer's: a first line, a due batch, a flush, stop */
    pthread_cond_t done;  /* log_stop()'s: a batch was written */
    pthread_t writer;
    bool running;     /* the writer exists: lines are buffered */
    bool stopping;    /* log_stop(): write everything, then end */
    bool stuck;       /* log_stop() gave up on stderr: later lines are dropped */
    bool flush_asked; /* log_flush(): do not wait out flush_ms */
    uint64_t flush_ns;
    size_t cap;          /* bytes of lines a batch holds (plus NOTE_MAX) */
    struct batch fill;   /* new lines go here */
    struct batch out;    /* the writer's, while it writes; empty when it is idle */
    uint64_t fill_since; /* clock_ns() of fill's oldest line */
    uint64_t dropped;    /* lines dropped since start */
    uint64_t unsaid;     /* dropped since the last note: later lines wait behind the note */
} logger = {.slow_ms = 100, .lock = PTHREAD_MUTEX_INITIALIZER};

/* One write(2) loop to stderr: false when stderr is gone (best effort). */
static bool write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            /* Someone sharing our stderr made it non-blocking. */
            struct pollfd pfd = {.fd = STDERR_FILENO, .events = POLLOUT};
            poll(&pfd, 1, -1);
        } else if (!(w < 0 && errno == EINTR)) {
            return false;
        }
    }
    return true;
}

static void batch_add(struct batch *b, const char *line, size_t n)
{
    memcpy(b->p + b->len, line, n);
    b->len += n;
    b->lines++;
}

/* "<time> warn log: N lines dropped ..." at the gap, in the log's format. */
static void note_dropped_locked(void)
{
    char line[NOTE_MAX], ts[40];
    struct textbuf t = TEXTBUF(line);
    size_t tn = log_timestamp(ts, sizeof(ts));
    if (logger.format == LOG_JSON) {
        TEXTBUF_PUT_LIT(&t, "{\"time\":\"");
        textbuf_put(&t, ts, tn);
        TEXTBUF_PUT_LIT(&t, "\",\"level\":\"warn\",\"msg\":\"log: ");
    } else {
        textbuf_put(&t, ts, tn);
        TEXTBUF_PUT_LIT(&t, " warn log: ");
    }
    textbuf_put_uint(&t, logger.unsaid, 0);
    TEXTBUF_PUT_LIT(&t, " lines dropped: stderr was not read fast enough");
    if (logger.format == LOG_JSON)
        TEXTBUF_PUT_LIT(&t, "\"}");
    TEXTBUF_PUT_LIT(&t, "\n");
    batch_add(&logger.fill, line, TEXTBUF_LEN(&t, line));
    logger.unsaid = 0;
}

/* Hands fill to the writer; out must be empty (the writer idle). */
static void swap_locked(void)
{
    if (logger.unsaid)
        note_dropped_locked();
    struct batch written = logger.out;
    logger.out = logger.fill;
    logger.fill = written;
    logger.flush_asked = false;
}

static struct timespec timespec_from_ns(uint64_t ns)
{
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
                             .tv_nsec = (long)(ns % 1000000000u)};
}

/* Whether fill should go out now rather than wait out flush_ns. */
static bool fill_due_locked(void)
{
    return logger.stopping || logger.flush_asked || logger.unsaid ||
           logger.fill.len >= logger.cap / 2 || clock_ns() >= logger.fill_since + logger.flush_ns;
}

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&logger.lock);
    for (;;) {
        if (!logger.out.len) {
            if (!logger.fill.len) {
                if (logger.stopping)
                    break;
                pthread_cond_wait(&logger.wake, &logger.lock);
                continue;
            }
            if (!fill_due_locked()) {
                struct timespec due = timespec_from_ns(logger.fill_since + logger.flush_ns);
                pthread_cond_timedwait(&logger.wake, &logger.lock, &due);
                continue;
            }
            swap_locked();
        }
        /* out is ours until its length is cleared: nobody swaps a full out. */
        struct batch b = logger.out;
        pthread_mutex_unlock(&logger.lock);
        bool ok = write_all(b.p, b.len);
        pthread_mutex_lock(&logger.lock);
        if (!ok)
            logger.dropped += b.lines;
        logger.out.len = 0;
        logger.out.lines = 0;
        pthread_cond_broadcast(&logger.done);
    }
    pthread_mutex_unlock(&logger.lock);
    return NULL;
}

void log_write(const char *line, size_t n)
{
    pthread_mutex_lock(&logger.lock);
    if (!logger.running) {
        if (logger.stuck)
            logger.dropped++;
        else
            write_all(line, n);
        pthread_mutex_unlock(&logger.lock);
        return;
    }
    if (logger.fill.len + n > logger.cap && !logger.out.len) {
        swap_locked(); /* fill is full and the writer idle: hand it over now */
        pthread_cond_signal(&logger.wake);
    }
    if (logger.unsaid || logger.fill.len + n > logger.cap) {
        logger.dropped++;
        logger.unsaid++;
    } else {
        if (!logger.fill.len) {
            logger.fill_since = clock_ns();
            pthread_cond_signal(&logger.wake); /* the writer starts the interval */
        }
        batch_add(&logger.fill, line, n);
    }
    pthread_mutex_unlock(&logger.lock);
}

void log_flush(void)
{
    pthread_mutex_lock(&logger.lock);
    if (logger.running && logger.fill.len) {
        logger.flush_asked = true;
        pthread_cond_signal(&logger.wake);
    }
    pthread_mutex_unlock(&logger.lock);
}

uint64_t log_lines_dropped(void)
{
    pthread_mutex_lock(&logger.lock);
    uint64_t n = logger.dropped;
    pthread_mutex_unlock(&logger.lock);
    return n;
}

int log_start(unsigned flush_ms, size_t buffer_bytes)
{
    if (logger.running)
        return 0;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* clock_ns()'s deadlines */
    pthread_cond_init(&logger.wake, &attr);
    pthread_cond_init(&logger.done, &attr);
    pthread_condattr_destroy(&attr);
    logger.cap = buffer_bytes < LOG_BUFFER_BYTES_MIN ? LOG_BUFFER_BYTES_MIN : buffer_bytes;
    logger.flush_ns = (uint64_t)flush_ms * 1000000u;
    logger.fill = (struct batch){.p = xmalloc(logger.cap + NOTE_MAX)};
    logger.out = (struct batch){.p = xmalloc(logger.cap + NOTE_MAX)};
    /* Signals are the loop's business (evsignal): the writer blocks them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&logger.writer, NULL, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        free(logger.fill.p);
        free(logger.out.p);
        logger.fill = logger.out = (struct batch){0};
        log_warn("log: cannot start the writer thread (%s); writing lines at once", strerror(err));
        return -1;
    }
    pthread_mutex_lock(&logger.lock);
    logger.running = true;
    pthread_mutex_unlock(&logger.lock);
    static bool at_exit;
    if (!at_exit && atexit(log_stop) == 0)
        at_exit = true;
    return 0;
}

void log_stop(void)
{
    pthread_mutex_lock(&logger.lock);
    if (!logger.running) {
        pthread_mutex_unlock(&logger.lock);
        return;
    }
    logger.stopping = true;
    pthread_cond_signal(&logger.wake);
    struct timespec deadline = timespec_from_ns(clock_ns() + LOG_STOP_WAIT_MS * 1000000ull);
    while (logger.fill.len || logger.out.len)
        if (pthread_cond_timedwait(&logger.done, &logger.lock, &deadline) == ETIMEDOUT)
            break;
    logger.running = false;
    if (logger.fill.len || logger.out.len) {
        /* stderr is stuck: the writer may never return from write(2). Leave
         * it and its buffers to the process's end. */
        logger.stuck = true;
        logger.dropped += logger.fill.lines + logger.out.lines;
        logger.fill.len = 0;
        logger.fill.lines = 0;
        pthread_detach(logger.writer);
        pthread_mutex_unlock(&logger.lock);
        return;
    }
    pthread_mutex_unlock(&logger.lock);
    pthread_join(logger.writer, NULL);
    free(logger.fill.p);
    free(logger.out.p);
    logger.fill = logger.out = (struct batch){0};
    logger.stopping = false;
    pthread_cond_destroy(&logger.wake);
    pthread_cond_destroy(&logger.done);
}

/* The seconds are formatted once per second and per thread; the
 * milliseconds on every call. */
size_t log_timestamp(char *out, size_t size)
{
    static _Thread_local time_t cached_sec = (time_t)-1;
    static _Thread_local char cached[32];
    static _Thread_local size_t cached_len;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        cached_len = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = ts.tv_sec;
    }
    struct textbuf t = {out, out + (size ? size - 1 : 0)};
    textbuf_put(&t, cached, cached_len);
    TEXTBUF_PUT_LIT(&t, ".");
    textbuf_put_uint(&t, (unsigned long long)ts.tv_nsec / 1000000u, 3);
    TEXTBUF_PUT_LIT(&t, "Z");
    if (size)
        *t.p = '\0';
    return TEXTBUF_LEN(&t, out);
}

void log_write_json(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return;
    size_t n = strlen(s);
    s[n] = '\n'; /* replaces the NUL: log_write() takes a length */
    log_write(s, n + 1);
    free(s);
}

__attribute__((format(printf, 2, 0))) static void log_line(const char *level, const char *fmt,
                                                           va_list ap)
{
    char msg[1024], ts[40], line[1280];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    log_timestamp(ts, sizeof(ts));
    if (logger.format == LOG_JSON) {
        json_t *m = json_string(msg); /* a message may quote client bytes */
        log_write_json(json_pack("{s:s, s:s, s:o}", "time", ts, "level", level, "msg",
                                 m ? m : json_string("(not valid UTF-8)")));
        return;
    }
    int n = snprintf(line, sizeof(line), "%s %s %s\n", ts, level, msg);
    log_write(line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

#define DEFINE_LOG(fn, level, then)                                                                \
    void fn(const char *fmt, ...)                                                                  \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        log_line(level, fmt, ap);                                                                  \
        va_end(ap);                                                                                \
        then;                                                                                      \
    }
DEFINE_LOG(log_info, "info", (void)0)
DEFINE_LOG(log_warn, "warn", (void)0)
DEFINE_LOG(log_error, "error", log_flush())

void log_init(enum log_format format)
{
    logger.format = format;
}

enum log_format log_get_format(void)
{
    return logger.format;
}

void log_set_slow_threshold_ms(unsigned ms)
{
    logger.slow_ms = ms;
}

bool log_slow_callback(const char *what, uint64_t elapsed_ns)
{
    if (!logger.slow_ms || elapsed_ns < (uint64_t)logger.slow_ms * 1000000u)
        return false;
    log_warn("slow callback: %s held the loop for %.0f ms (threshold %u ms)", what,
             (double)elapsed_ns / 1e6, logger.slow_ms);
    return true;
}
