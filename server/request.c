#include "server/request.h"

#include <string.h>
#include <strings.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long percent_decode(char *dst, const char *src, size_t n, bool plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '%') {
            int hi = i + 2 < n ? hex_value(src[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value(src[i + 2]) : -1;
            if (lo < 0)
                return -1;
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            dst[o++] = plus_is_space && src[i] == '+' ? ' ' : src[i];
        }
    }
    dst[o] = '\0';
    return (long)o;
}

const char *form_param(struct arena *arena, const char *form, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    const char *end = form + len;
    for (const char *p = form; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *kend = eq ? eq : stop;
        char *key = arena_alloc(arena, (size_t)(kend - p) + 1);
        long klen = percent_decode(key, p, (size_t)(kend - p), true);
        if (klen == (long)nlen && !memcmp(key, name, nlen)) {
            const char *v = eq ? eq + 1 : stop;
            char *value = arena_alloc(arena, (size_t)(stop - v) + 1);
            return percent_decode(value, v, (size_t)(stop - v), true) < 0 ? NULL : value;
        }
        p = stop + 1;
    }
    return NULL;
}

const char *request_query_param(struct request *req, const char *name)
{
    return form_param(&req->arena, req->query, strlen(req->query), name);
}

const char *request_header(const struct request *req, const char *name)
{
    /* The first bytes folded alike (| 0x20 is tolower for letters, and the
     * same on both sides for anything else) rule most names out before a
     * call: a request's few headers, looked up for two or three names. */
    unsigned first = (unsigned char)name[0] | 0x20;
    for (unsigned i = 0; i < req->nheaders; i++)
        if (((unsigned char)req->headers[i].name[0] | 0x20) == first &&
            !strcasecmp(req->headers[i].name, name))
            return req->headers[i].value;
    return NULL;
}

const char *method_name(enum http_method m)
{
    static const char *const names[] = {"GET",    "HEAD",  "POST",    "PUT",
                                        "DELETE", "PATCH", "OPTIONS", "OTHER"};
    return m <= METHOD_OTHER ? names[m] : "OTHER";
}

void request_reset(struct request *req)
{
    arena_reset(&req->arena);
    struct conn *conn = req->conn;
    void *app = req->app;
    /* The arena comes first in the struct; its inline buffer needs no zeroing. */
    memset((char *)req + sizeof(req->arena), 0, sizeof(*req) - sizeof(req->arena));
    req->conn = conn;
    req->app = app;
    req->target = "";
    req->path = "";
    req->query = "";
    req->method_name = "";
}
