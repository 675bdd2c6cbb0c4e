/* What every store shares: result phrases, freeing, the Redis URL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cafe/store.h"

const char *store_result_text(enum store_result r)
{
    switch (r) {
    case STORE_OK:
        return "stored";
    case STORE_NOT_FOUND:
        return "no such order";
    case STORE_UNAVAILABLE:
        return "the order store is unavailable";
    case STORE_BAD_RECORD:
        return "the order store holds an unreadable record";
    case STORE_CONFLICT:
        return "the order store already holds another final state";
    case STORE_OWNER_GONE:
        return "the replica that brews the order is gone (its lease lapsed)";
    case STORE_OWNER_TIMEOUT:
        return "the replica that brews the order did not answer in time";
    case STORE_GAP:
        return "older transitions were trimmed";
    }
    return "?";
}

void order_store_free(struct order_store *s)
{
    if (s)
        s->ops->free(s);
}

/* Copies s[0..n) into dst (cap bytes), or fails. */
static int part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* A decimal in [min, max], all of s[0..n). */
static int number(const char *s, size_t n, long min, long max, int *out)
{
    char buf[16], *end;
    if (n == 0 || part(buf, sizeof(buf), s, n) < 0 || buf[0] == '-' || buf[0] == '+')
        return -1;
    long v = strtol(buf, &end, 10);
    if (*end || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen)
{
    static const char scheme[] = "redis://";
    *out = (struct redis_url){.port = 6379};
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
        snprintf(err, errlen, "%s: not redis://[:password@]host[:port][/db]", url);
        return -1;
    }
    const char *p = url + sizeof(scheme) - 1;
    const char *at = strrchr(p, '@');
    if (at) {
        if (*p != ':' ||
            part(out->password, sizeof(out->password), p + 1, (size_t)(at - p - 1)) < 0) {
            snprintf(err, errlen, "%s: credentials must be :password@ (at most %zu bytes)", url,
                     sizeof(out->password) - 1);
            return -1;
        }
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *host = p, *host_end, *colon;
    if (*p == '[') { /* [::1]:6379 */
        host_end = memchr(p, ']', (size_t)(end - p));
        if (!host_end) {
            snprintf(err, errlen, "%s: unclosed [ in the host", url);
            return -1;
        }
        host++;
        colon = host_end + 1 < end && host_end[1] == ':' ? host_end + 1 : NULL;
        if (!colon && host_end + 1 != end) {
            snprintf(err, errlen, "%s: junk after the host", url);
            return -1;
        }
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon ? colon : end;
    }
    if (host_end == host ||
        part(out->host, sizeof(out->host), host, (size_t)(host_end - host)) < 0) {
        snprintf(err, errlen, "%s: no host", url);
        return -1;
    }
    if (colon && number(colon + 1, (size_t)(end - colon - 1), 1, 65535, &out->port) < 0) {
        snprintf(err, errlen, "%s: the port must be 1..65535", url);
        return -1;
    }
    if (slash && slash[1] && number(slash + 1, strlen(slash + 1), 0, 1000000, &out->db) < 0) {
        snprintf(err, errlen, "%s: the database must be a number", url);
        return -1;
    }
    return 0;
}

void redis_url_redact(const char *url, char *buf, size_t size)
{
    static const char scheme[] = "redis://";
    const char *at = strrchr(url, '@');
    if (strncmp(url, scheme, sizeof(scheme) - 1) || !at)
        snprintf(buf, size, "%s", url);
    else
        snprintf(buf, size, "%s:***%s", scheme, at);
}
