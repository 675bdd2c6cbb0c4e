#ifndef CAFE_LOG_H
#define CAFE_LOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_format { LOG_TEXT, LOG_JSON };

/* How long a line may wait in memory, and how many bytes may wait, before
 * they are written (nginx's access_log buffer=64k flush=...). */
#define LOG_FLUSH_MS_DEFAULT     100
#define LOG_BUFFER_BYTES_DEFAULT (64 * 1024)
#define LOG_BUFFER_BYTES_MIN     4096 /* the longest line fits */

/* Logs go to stderr; stdout carries only the "listening on" line.
 *
 * After log_start() every thread's lines are appended to one buffer in
 * memory, in the order they are logged, and a writer thread writes them out
 * when the oldest has waited flush_ms or buffer_bytes are waiting, so that
 * logging costs no system call per line and a slow disk or a pipe nobody
 * reads never holds the caller. While the writer is stuck, at most another
 * buffer_bytes wait; lines past that are dropped whole and counted
 * (log_lines_dropped()), and a line saying how many follows them. Before
 * log_start() (and after log_stop()) lines are written at once. */
void log_init(enum log_format format);
enum log_format log_get_format(void);
/* Starts the writer; 0, or -1 (lines then keep being written at once). */
int log_start(unsigned flush_ms, size_t buffer_bytes);
/* Asks the writer to write what waits now, without waiting out flush_ms
 * (SIGTERM: the drain's lines should not wait). Returns at once. */
void log_flush(void);
/* Writes everything that waits and stops the writer. Waits for a stuck
 * stderr at most LOG_STOP_WAIT_MS, then counts what is left as dropped.
 * Idempotent; also run at exit(), so an early `return 1` loses no line. */
#define LOG_STOP_WAIT_MS 2000
void log_stop(void);
/* Lines dropped since start: the writer could not keep up or stderr failed. */
uint64_t log_lines_dropped(void);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Also asks for a flush: an error is often the last thing said. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For writers of their own line formats (the access log): one finished line
 * (ending in '\n'), a JSON object as one line (the reference is released),
 * and the timestamp every line starts with ("2024-05-01T12:00:00.123Z", UTC;
 * returns its length, LOG_TIMESTAMP_LEN; size must be larger). */
void log_write(const char *line, size_t n);
void log_write_json(json_t *o);
#define LOG_TIMESTAMP_LEN 24
size_t log_timestamp(char *out, size_t size);

/* The slow-callback warning (asyncio debug mode's model): logs
 * "slow callback: WHAT held the loop for N ms" when elapsed_ns is above the
 * threshold (0 disables). Returns whether it warned. */
void log_set_slow_threshold_ms(unsigned ms);
bool log_slow_callback(const char *what, uint64_t elapsed_ns);

#endif
