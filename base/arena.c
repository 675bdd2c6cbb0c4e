#include "base/arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "base/xmalloc.h"

struct arena_block {
    struct arena_block *next;
    size_t size, used;
    alignas(max_align_t) char data[];
};

#define ALIGN(n) (((n) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))

void arena_init(struct arena *a)
{
    a->blocks = NULL;
    a->used = 0;
}

void *arena_alloc(struct arena *a, size_t size)
{
    size = ALIGN(size ? size : 1);
    if (a->used + size <= sizeof(a->inline_buf)) {
        void *p = a->inline_buf + a->used;
        a->used += size;
        return p;
    }
    struct arena_block *b = a->blocks;
    if (!b || b->used + size > b->size) {
        /* Small blocks: a request waiting on a brew keeps its arena. */
        size_t bsize = size > 2048 ? size : 2048;
        b = xmalloc(sizeof(*b) + bsize);
        b->size = bsize;
        b->used = 0;
        b->next = a->blocks;
        a->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int arena_append(struct arena *a, char **s, size_t *len, const char *add, size_t n, size_t max)
{
    if (*len + n > max)
        return -1;
    /* Fragments are rare (llhttp splits only at read boundaries), so a copy
     * per fragment is cheaper than tracking capacities. */
    char *p = arena_alloc(a, *len + n + 1);
    if (*len)
        memcpy(p, *s, *len);
    memcpy(p + *len, add, n);
    *len += n;
    p[*len] = '\0';
    *s = p;
    return 0;
}

void arena_reset(struct arena *a)
{
    while (a->blocks) {
        struct arena_block *next = a->blocks->next;
        free(a->blocks);
        a->blocks = next;
    }
    a->used = 0;
}
