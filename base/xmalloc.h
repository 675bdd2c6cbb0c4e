#ifndef CAFE_XMALLOC_H
#define CAFE_XMALLOC_H

#include <stddef.h>

/* Allocation that cannot fail: out of memory aborts the process in one place
 * (as h2o does), so no caller sprinkles NULL checks. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
