#ifndef CAFE_CLOCK_H
#define CAFE_CLOCK_H

#include <stdint.h>

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC, not libevent's cached
 * time). Any thread may call it; cafe/ uses it too. */
uint64_t clock_ns(void);

#endif
