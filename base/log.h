#ifndef CAFE_LOG_H
#define CAFE_LOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

enum log_format { LOG_TEXT, LOG_JSON };

/* Logs go to stderr; stdout carries only the "listening on" line. Lines are
 * batched and written once per loop turn, so logging costs no syscall per
 * request. Before log_attach() (and after log_detach()) lines go out at once. */
void log_init(enum log_format format);
enum log_format log_get_format(void);
void log_attach(struct event_base *base);
void log_detach(void);
void log_flush(void);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For writers of their own line formats (the access log): one finished line
 * (ending in '\n'), a JSON object as one line (the reference is released),
 * and the timestamp every line starts with. */
void log_write(const char *line, size_t n);
void log_write_json(json_t *o);
void log_timestamp(char *out, size_t size);

/* The slow-callback warning (asyncio debug mode's model): logs
 * "slow callback: WHAT held the loop for N ms" when elapsed_ns is above the
 * threshold (0 disables). Returns whether it warned. */
void log_set_slow_threshold_ms(unsigned ms);
bool log_slow_callback(const char *what, uint64_t elapsed_ns);

#endif
