/* router_match() over the café's real route table, and the percent-decoding
 * and query helpers the router's input comes through. Properties: a match
 * is a row of the table whose method fits; 405 lists a non-empty Allow; the
 * captured parameter lies inside the path.
 *
 * Input: byte 0 = method, then "path?query". */
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "handlers/handlers.h"
#include "server/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum http_method method = (enum http_method)(data[0] % (METHOD_OTHER + 1));
    const char *in = (const char *)data + 1;
    size_t len = size - 1;

    struct arena arena;
    arena_init(&arena);
    const char *q = memchr(in, '?', len);
    size_t plen = q ? (size_t)(q - in) : len;
    char *path = arena_alloc(&arena, plen + 1);
    long n = percent_decode(path, in, plen, false);
    if (n >= 0) {
        FUZZ_CHECK((size_t)n <= plen && path[n] == '\0');
        struct route_match m;
        router_match(cafe_routes, cafe_nroutes, method, path, &m);
        FUZZ_CHECK(m.status == 200 || m.status == 404 || m.status == 405);
        if (m.status == 200) {
            FUZZ_CHECK(m.route >= cafe_routes && m.route < cafe_routes + cafe_nroutes);
            FUZZ_CHECK(m.route->method == method ||
                       (m.route->method == METHOD_GET && method == METHOD_HEAD));
            if (m.param) {
                FUZZ_CHECK(m.param >= path && m.param + m.param_len <= path + strlen(path));
            }
        } else {
            FUZZ_CHECK(m.route == NULL && m.param == NULL);
            FUZZ_CHECK((m.status == 405) == (m.allow[0] != '\0'));
            FUZZ_CHECK(memchr(m.allow, '\0', sizeof(m.allow)) != NULL);
        }
    }
    if (q) {
        const char *query = arena_strndup(&arena, q + 1, len - plen - 1);
        static const char *const names[] = {"limit", "status", "wait", "timeout_ms", "", "a+b"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            (void)form_param(&arena, query, strlen(query), names[i]);
    }
    arena_reset(&arena);
    return 0;
}
