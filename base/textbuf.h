#ifndef CAFE_TEXTBUF_H
#define CAFE_TEXTBUF_H

#include <stddef.h>
#include <string.h>

/* Short text assembled with plain copies, for what runs once per request
 * (the access log line): printf-style formatting is a measurable share of a
 * small request. A piece that does not fit is left out whole, so the text is
 * never cut in the middle of a field; size the buffer for the longest line. */
struct textbuf {
    char *p, *end;
};

#define TEXTBUF(buf)            ((struct textbuf){(buf), (buf) + sizeof(buf)})
#define TEXTBUF_PUT_LIT(t, lit) textbuf_put(t, lit, sizeof(lit) - 1)
#define TEXTBUF_LEN(t, buf)     ((size_t)((t)->p - (buf)))

static inline void textbuf_put(struct textbuf *t, const char *s, size_t n)
{
    if (n && (size_t)(t->end - t->p) >= n) {
        memcpy(t->p, s, n);
        t->p += n;
    }
}

static inline void textbuf_put_str(struct textbuf *t, const char *s)
{
    textbuf_put(t, s, strlen(s));
}

/* v in decimal, at least `width` digits (zero-padded; 0 or 1: no padding). */
static inline void textbuf_put_uint(struct textbuf *t, unsigned long long v, unsigned width)
{
    char digits[24];
    size_t i = sizeof(digits);
    do
        digits[--i] = (char)('0' + v % 10);
    while (((v /= 10) || sizeof(digits) - i < width) && i > 0);
    textbuf_put(t, digits + i, sizeof(digits) - i);
}

#endif
