#ifndef CAFE_JSON_WRITER_H
#define CAFE_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* JSON text written straight into a buffer, for the hot response shapes (an
 * order): building a jansson tree only to serialise it was a third of the
 * CPU of an order. The caller writes the structure (keys, commas) as
 * literals; this escapes strings exactly as jansson's json_dumps() does
 * (compact, UTF-8 passed through) and writes integers without printf. Parse
 * untrusted input with jansson, not with this.
 *
 * The text starts in the caller's storage (a stack buffer) and moves to the
 * heap only when it outgrows it. */
struct json_writer {
    char *buf;
    size_t len, cap;
    bool heap; /* buf was allocated here: json_writer_free() releases it */
};

#define JSON_WRITER_ON(storage) ((struct json_writer){(storage), 0, sizeof(storage), false})
#define JSON_PUT_LIT(w, lit)    json_put(w, lit, sizeof(lit) - 1)

void json_writer_grow(struct json_writer *w, size_t more);

static inline void json_put(struct json_writer *w, const char *s, size_t n)
{
    if (w->cap - w->len < n)
        json_writer_grow(w, n);
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

/* Whether s[0..n) is what jansson accepts as a string: UTF-8 without
 * overlong forms, surrogates or code points past U+10FFFF. */
bool json_utf8_valid(const char *s, size_t n);
/* s as a quoted JSON string; false, with nothing written, when s is not
 * valid UTF-8 (jansson's json_string() refuses it: the caller decides). */
bool json_put_string(struct json_writer *w, const char *s);
/* One of the program's own names (an enum's, from a table of literals:
 * ASCII letters, digits and '_'), quoted as it is: nothing in it needs
 * escaping or checking. tests/unit/test_order_json.c holds every such name
 * to json_put_string()'s text. */
static inline void json_put_name(struct json_writer *w, const char *s)
{
    size_t n = strlen(s);
    if (w->cap - w->len < n + 2)
        json_writer_grow(w, n + 2);
    char *o = w->buf + w->len;
    o[0] = '"';
    memcpy(o + 1, s, n);
    o[n + 1] = '"';
    w->len += n + 2;
}
/* s as a string, or null when it is NULL or not valid UTF-8. */
void json_put_string_or_null(struct json_writer *w, const char *s);
void json_put_int(struct json_writer *w, long long v);
void json_writer_free(struct json_writer *w);

#endif
