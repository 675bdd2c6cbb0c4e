#ifndef CAFE_ARENA_H
#define CAFE_ARENA_H

#include <stddef.h>

/* Request-scoped bump allocator (h2o's pool, lwan's coro_malloc): everything
 * copied out of the parser lives here and dies in one arena_reset(). The first
 * block is embedded so a typical request allocates nothing from malloc. */
struct arena_block;

struct arena {
    struct arena_block *blocks; /* extra blocks, newest first */
    size_t used;
    char inline_buf[1024]; /* a typical request (wrk, curl, browsers' small GETs) fits */
};

void arena_init(struct arena *a);
void *arena_alloc(struct arena *a, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Grows the string at *s (length *len, allocated from this arena) by n bytes;
 * returns 0, or -1 when the result would exceed max bytes. */
int arena_append(struct arena *a, char **s, size_t *len, const char *add, size_t n, size_t max);
/* Frees every extra block and makes the arena empty again. */
void arena_reset(struct arena *a);

#endif
