/* The less travelled forms of a request: every method llhttp names and the
 * ones we map to OTHER, the asterisk and non-http absolute targets, Upgrade
 * (never switched to), and percent-decoding in either case of hex digit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/http_parser.h"
#include "tests/lib/parse_pieces.h"

static struct server_limits limits;

struct seen {
    int n;
    enum http_method method[4];
    char path[4][64];
};

static void note(const struct request *req, void *arg)
{
    struct seen *s = arg;
    if (s->n < 4) {
        s->method[s->n] = req->method;
        snprintf(s->path[s->n], sizeof(s->path[0]), "%s", req->path);
    }
    s->n++;
}

/* Parses raw whole and byte by byte; both must agree. Returns the status. */
static int parse(const char *raw, struct seen *s)
{
    int continues = 0;
    size_t len = strlen(raw), cuts[1024];
    assert_true(len < 1024);
    for (size_t k = 0; k + 1 < len; k++)
        cuts[k] = k + 1;
    struct seen bytes = {0};
    int st_bytes = parse_pieces(&limits, raw, len, cuts, len - 1, note, &bytes, &continues);
    memset(s, 0, sizeof(*s));
    int st = parse_pieces(&limits, raw, len, NULL, 0, note, s, &continues);
    assert_int_equal(st, st_bytes);
    assert_memory_equal(s, &bytes, sizeof(*s));
    return st;
}

static void methods_map_to_ours_or_other(void **state)
{
    static const struct {
        const char *name;
        enum http_method m;
    } cases[] = {
        {"GET", METHOD_GET},         {"HEAD", METHOD_HEAD},      {"POST", METHOD_POST},
        {"PUT", METHOD_PUT},         {"DELETE", METHOD_DELETE},  {"PATCH", METHOD_PATCH},
        {"OPTIONS", METHOD_OPTIONS}, {"PROPFIND", METHOD_OTHER}, {"PURGE", METHOD_OTHER},
        {"SEARCH", METHOD_OTHER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char raw[128];
        snprintf(raw, sizeof(raw), "%s /x HTTP/1.1\r\nHost: c\r\nContent-Length: 0\r\n\r\n",
                 cases[i].name);
        struct seen s;
        assert_int_equal(parse(raw, &s), 0);
        assert_int_equal(s.n, 1);
        if (s.method[0] != cases[i].m)
            fail_msg("%s parsed as method %d, want %d", cases[i].name, s.method[0], cases[i].m);
    }
    assert_string_equal(method_name(METHOD_PATCH), "PATCH");
    assert_string_equal(method_name(METHOD_OTHER), "OTHER");
    assert_string_equal(method_name((enum http_method)99), "OTHER");
}

static void asterisk_and_absolute_targets(void **state)
{
    struct seen s;
    assert_int_equal(parse("OPTIONS * HTTP/1.1\r\nHost: c\r\n\r\n", &s), 0);
    assert_string_equal(s.path[0], "*");
    assert_int_equal(parse("GET HTTP://cafe/menu HTTP/1.1\r\nHost: c\r\n\r\n", &s), 0);
    assert_string_equal(s.path[0], "/menu");
    assert_int_equal(parse("GET https://cafe HTTP/1.1\r\nHost: c\r\n\r\n", &s), 0);
    assert_string_equal(s.path[0], "/");
    /* An absolute target of another scheme is not ours to serve. */
    assert_int_equal(parse("GET ftp://cafe/menu HTTP/1.1\r\nHost: c\r\n\r\n", &s), 400);
    assert_int_equal(s.n, 0);
}

static void upgrade_is_never_switched_to(void **state)
{
    /* We never switch protocols (RFC 9110 §7.8 lets a server ignore
     * Upgrade), so the bytes after the request are the next HTTP/1.1
     * request -- curl --http2 on cleartext sends "Upgrade: h2c" and reuses
     * the connection. Fails today: a phantom empty request comes between. */
    struct seen s;
    assert_int_equal(
        parse("GET /a HTTP/1.1\r\nHost: c\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
              "GET /b HTTP/1.1\r\nHost: c\r\n\r\n",
              &s),
        0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.path[0], "/a");
    assert_string_equal(s.path[1], "/b");
}

static void percent_decoding(void **state)
{
    char out[32];
    assert_int_equal(percent_decode(out, "%4A%4a%7E", 9, false), 3);
    assert_string_equal(out, "JJ~");
    assert_int_equal(percent_decode(out, "a+b%2B", 6, true), 4);
    assert_string_equal(out, "a b+");
    assert_int_equal(percent_decode(out, "a+b", 3, false), 3);
    assert_string_equal(out, "a+b");
    assert_int_equal(percent_decode(out, "%4", 2, false), -1);  /* cut short */
    assert_int_equal(percent_decode(out, "%G1", 3, false), -1); /* not hex */
    assert_int_equal(percent_decode(out, "%1g", 3, false), -1);
    struct seen s;
    assert_int_equal(parse("GET /%C3%A9t%C3%a9 HTTP/1.1\r\nHost: c\r\n\r\n", &s), 0);
    assert_string_equal(s.path[0], "/\xc3\xa9t\xc3\xa9");
}

int main(void)
{
    server_limits_default(&limits);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(methods_map_to_ours_or_other),
        cmocka_unit_test(asterisk_and_absolute_targets),
        cmocka_unit_test(upgrade_is_never_switched_to),
        cmocka_unit_test(percent_decoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
