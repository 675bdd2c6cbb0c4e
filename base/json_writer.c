#include "base/json_writer.h"

#include <stdint.h>
#include <stdlib.h>

#include "base/textbuf.h"
#include "base/xmalloc.h"

void json_writer_grow(struct json_writer *w, size_t more)
{
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < more)
        cap *= 2;
    if (w->heap) {
        w->buf = xrealloc(w->buf, cap);
    } else {
        char *heap = xmalloc(cap);
        memcpy(heap, w->buf, w->len);
        w->buf = heap;
        w->heap = true;
    }
    w->cap = cap;
}

void json_writer_free(struct json_writer *w)
{
    if (w->heap)
        free(w->buf);
    w->heap = false;
    w->buf = NULL;
    w->len = w->cap = 0;
}

/* jansson's utf8_check_full(): the same rules, so the same strings pass. */
bool json_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p++;
        if (c < 0x80)
            continue;
        size_t extra;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false; /* a continuation byte, 0xC0/0xC1 (overlong) or past U+10FFFF */
        }
        if ((size_t)(end - p) < extra)
            return false;
        for (size_t i = 0; i < extra; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        p += extra;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000))
            return false; /* overlong */
    }
    return true;
}

bool json_put_string(struct json_writer *w, const char *s)
{
    size_t n = strlen(s);
    if (!json_utf8_valid(s, n))
        return false;
    /* At most 6 bytes per input byte (\u00XX) and the quotes. */
    if (w->cap - w->len < 6 * n + 2)
        json_writer_grow(w, 6 * n + 2);
    static const char hex[] = "0123456789ABCDEF"; /* jansson: \\u%04X */
    char *o = w->buf + w->len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 0xF];
            break;
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    return true;
}

void json_put_string_or_null(struct json_writer *w, const char *s)
{
    if (!s || !json_put_string(w, s))
        JSON_PUT_LIT(w, "null");
}

void json_put_int(struct json_writer *w, long long v)
{
    char digits[24];
    struct textbuf t = TEXTBUF(digits);
    if (v < 0)
        TEXTBUF_PUT_LIT(&t, "-");
    /* In unsigned arithmetic, so LLONG_MIN has a magnitude. */
    textbuf_put_uint(&t, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, 0);
    json_put(w, digits, TEXTBUF_LEN(&t, digits));
}
