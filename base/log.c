#include "base/log.h"

#include <event2/event.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/xmalloc.h"

#define LOG_BUFFER_MAX (64 * 1024)

static struct {
    enum log_format format;
    unsigned slow_ms;
    pthread_mutex_t lock;
    struct event *flush_ev; /* activated when the first line is buffered */
    pthread_t loop_thread;  /* only it may touch flush_ev: libevent runs unlocked */
    char *buf;
    size_t len, cap;
} logger = {.slow_ms = 100, .lock = PTHREAD_MUTEX_INITIALIZER};

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0)
            return; /* stderr gone: logs are best effort */
        p += w;
        n -= (size_t)w;
    }
}

static void flush_locked(void)
{
    write_all(logger.buf, logger.len);
    logger.len = 0;
}

void log_flush(void)
{
    pthread_mutex_lock(&logger.lock);
    flush_locked();
    pthread_mutex_unlock(&logger.lock);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    log_flush();
}

void log_write(const char *line, size_t n)
{
    pthread_mutex_lock(&logger.lock);
    if (logger.len + n > logger.cap) {
        logger.cap = logger.len + n > 4096 ? (logger.len + n) * 2 : 8192;
        logger.buf = xrealloc(logger.buf, logger.cap);
    }
    memcpy(logger.buf + logger.len, line, n);
    bool first = logger.len == 0;
    logger.len += n;
    if (!logger.flush_ev || logger.len > LOG_BUFFER_MAX ||
        !pthread_equal(pthread_self(), logger.loop_thread))
        flush_locked();
    else if (first)
        event_active(logger.flush_ev, EV_TIMEOUT, 0);
    pthread_mutex_unlock(&logger.lock);
}

void log_timestamp(char *out, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
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

#define DEFINE_LOG(fn, level)                                                                      \
    void fn(const char *fmt, ...)                                                                  \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        log_line(level, fmt, ap);                                                                  \
        va_end(ap);                                                                                \
    }
DEFINE_LOG(log_info, "info")
DEFINE_LOG(log_warn, "warn")
DEFINE_LOG(log_error, "error")

void log_init(enum log_format format)
{
    logger.format = format;
}

enum log_format log_get_format(void)
{
    return logger.format;
}

void log_attach(struct event_base *base)
{
    logger.loop_thread = pthread_self();
    logger.flush_ev = event_new(base, -1, 0, on_flush, NULL);
    /* Lowest priority: runs after the connection callbacks of this turn. */
    event_priority_set(logger.flush_ev, event_base_get_npriorities(base) - 1);
}

void log_detach(void)
{
    log_flush();
    if (logger.flush_ev)
        event_free(logger.flush_ev);
    logger.flush_ev = NULL;
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
