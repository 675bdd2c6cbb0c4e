#ifndef TESTS_LIB_REDIS_FIXTURE_H
#define TESTS_LIB_REDIS_FIXTURE_H

/* One redis-server per test for the Redis-only store tests: cmocka setup
 * (with or without appendonly) and teardown, which runs even when the test
 * failed. Include after <cmocka.h>. */

#include "tests/lib/redis_server.h"

static struct redis_server redis;

static int setup_plain(void **state)
{
    return redis_server_start(&redis, false);
}

static int setup_aof(void **state)
{
    return redis_server_start(&redis, true);
}

static int teardown(void **state)
{
    redis_server_stop(&redis);
    return 0;
}

/* main()'s first words: without redis-server the test cannot run (exit 77). */
static inline bool redis_missing(void)
{
    if (redis_server_available())
        return false;
    fprintf(stderr, "redis-server is not installed (scripts/setup.sh test): skipped\n");
    return true;
}

#endif
