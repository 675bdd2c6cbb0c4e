#ifndef CAFE_CLOCK_H
#define CAFE_CLOCK_H

#include <stdint.h>
#include <sys/time.h>

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC, not libevent's cached
 * time). Any thread may call it. */
uint64_t clock_ns(void);

/* Milliseconds as the timeval libevent's timers take. */
static inline struct timeval timeval_from_ms(uint64_t ms)
{
    return (struct timeval){.tv_sec = (time_t)(ms / 1000),
                            .tv_usec = (suseconds_t)(ms % 1000 * 1000)};
}

#endif
