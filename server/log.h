#ifndef CAFE_LOG_H
#define CAFE_LOG_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct request;

enum log_format { LOG_TEXT, LOG_JSON };

/* Logs go to stderr; stdout carries only the "listening on" line. Lines are
 * batched and written once per loop turn, so logging costs no syscall per
 * request. Before log_attach() (and after log_detach()) lines go out at once. */
void log_init(enum log_format format, bool access_log);
void log_attach(struct event_base *base);
void log_detach(void);
void log_flush(void);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line per request: peer, method, target, status, bytes, duration. */
void log_access(const struct request *req, const char *peer, uint64_t bytes, uint64_t duration_ns);

/* The slow-callback warning (asyncio debug mode's model): logs
 * "slow callback: WHAT held the loop for N ms" when elapsed_ns is above the
 * threshold (0 disables). Returns whether it warned. */
void log_set_slow_threshold_ms(unsigned ms);
bool log_slow_callback(const char *what, uint64_t elapsed_ns);

#endif
