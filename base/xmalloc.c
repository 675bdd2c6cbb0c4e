#include "base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t size)
{
    fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", size);
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        out_of_memory(size);
    return p;
}

/* Small blocks through malloc and memset: glibc's calloc (2.36) bypasses the
 * per-thread cache that free() fills, so a calloc/free pair per order (the
 * order, its brew) took malloc's slow path both ways. Large ones stay with
 * calloc, whose fresh pages need no clearing. */
#define XCALLOC_SMALL 1024

void *xcalloc(size_t n, size_t size)
{
    n = n ? n : 1;
    size = size ? size : 1;
    if (size <= XCALLOC_SMALL / n)
        return memset(xmalloc(n * size), 0, n * size);
    void *p = calloc(n, size);
    if (!p)
        out_of_memory(n * size);
    return p;
}

void *xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        out_of_memory(size);
    return p;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}
