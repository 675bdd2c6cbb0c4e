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

/* v in decimal, at least `width` digits (zero-padded; 0 or 1: no padding).
 * Two digits a step from a table: a 13-digit unix millisecond (three in
 * every order's JSON) takes 7 divisions, not 13. */
static inline void textbuf_put_uint(struct textbuf *t, unsigned long long v, unsigned width)
{
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324252627282930"
                                   "31323334353637383940414243444546474849505152535455565758596061"
                                   "62636465666768697071727374757677787980818283848586878889909192"
                                   "93949596979899";
    char digits[24];
    size_t i = sizeof(digits);
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        digits[--i] = pairs[d + 1];
        digits[--i] = pairs[d];
    }
    if (v >= 10) {
        digits[--i] = pairs[v * 2 + 1];
        digits[--i] = pairs[v * 2];
    } else {
        digits[--i] = (char)('0' + v);
    }
    while (sizeof(digits) - i < width && i > 0)
        digits[--i] = '0';
    textbuf_put(t, digits + i, sizeof(digits) - i);
}

#endif
