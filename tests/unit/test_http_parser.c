/* The llhttp glue, fed every request split at every byte offset and one byte
 * at a time: the fragment, pause and resume paths only show up that way.
 * Each piece is copied into its own allocation, so ASan catches any read
 * before or after a fragment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/http_parser.h"
#include "tests/lib/parse_pieces.h"

struct outcome {
    int nrequests;
    int error_status;
    int continues;
    char method[16], path[256], query[256], body[1024], host[64], last_header[64];
    unsigned nheaders;
    bool keep_alive[8];
};

static struct server_limits limits;

static void record(struct outcome *o, const struct request *req)
{
    if (o->nrequests < 8)
        o->keep_alive[o->nrequests] = req->keep_alive;
    o->nrequests++;
    snprintf(o->method, sizeof(o->method), "%s", req->method_name);
    snprintf(o->path, sizeof(o->path), "%s", req->path);
    snprintf(o->query, sizeof(o->query), "%s", req->query);
    snprintf(o->body, sizeof(o->body), "%.*s", (int)req->body_len, req->body ? req->body : "");
    const char *host = request_header(req, "host");
    snprintf(o->host, sizeof(o->host), "%s", host ? host : "");
    o->nheaders = req->nheaders;
    if (req->nheaders)
        snprintf(o->last_header, sizeof(o->last_header), "%s=%s",
                 req->headers[req->nheaders - 1].name, req->headers[req->nheaders - 1].value);
}

static void record_request(const struct request *req, void *arg)
{
    record(arg, req);
}

static void run(const char *data, const size_t *cuts, size_t ncuts, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->error_status =
        parse_pieces(&limits, data, strlen(data), cuts, ncuts, record_request, o, &o->continues);
}

/* Runs data whole, split once at every offset, and byte by byte; all must
 * agree with the whole-buffer outcome, which is returned. */
static struct outcome check_all_splits(const char *data)
{
    struct outcome whole, split;
    run(data, NULL, 0, &whole);
    size_t len = strlen(data);
    for (size_t k = 1; k < len; k++) {
        run(data, &k, 1, &split);
        if (memcmp(&whole, &split, sizeof(whole))) {
            fail_msg("split at %zu of %zu changes the outcome (requests %d/%d, error %d/%d)", k,
                     len, whole.nrequests, split.nrequests, whole.error_status, split.error_status);
        }
    }
    size_t *cuts = malloc(len * sizeof(*cuts));
    for (size_t k = 0; k + 1 < len; k++)
        cuts[k] = k + 1;
    run(data, cuts, len ? len - 1 : 0, &split);
    free(cuts);
    if (memcmp(&whole, &split, sizeof(whole)))
        fail_msg("byte-by-byte feeding changes the outcome (error %d/%d)", whole.error_status,
                 split.error_status);
    return whole;
}

static void simple_get(void **state)
{
    struct outcome o =
        check_all_splits("GET /orders/42?limit=5&x=%41 HTTP/1.1\r\nHost: cafe\r\nX-A: b\r\n\r\n");
    assert_int_equal(o.nrequests, 1);
    assert_int_equal(o.error_status, 0);
    assert_string_equal(o.method, "GET");
    assert_string_equal(o.path, "/orders/42");
    assert_string_equal(o.query, "limit=5&x=%41");
    assert_string_equal(o.host, "cafe");
    assert_string_equal(o.last_header, "X-A=b");
    assert_true(o.keep_alive[0]);
}

static void percent_decoded_path(void **state)
{
    struct outcome o = check_all_splits("GET /a%20b/%7e HTTP/1.1\r\nHost: c\r\n\r\n");
    assert_string_equal(o.path, "/a b/~");
    o = check_all_splits("GET /a%zz HTTP/1.1\r\nHost: c\r\n\r\n");
    assert_int_equal(o.error_status, 400);
    o = check_all_splits("GET /a%00b HTTP/1.1\r\nHost: c\r\n\r\n");
    assert_int_equal(o.error_status, 400);
}

static void absolute_form_target(void **state)
{
    struct outcome o =
        check_all_splits("GET http://cafe:8080/menu?x=1 HTTP/1.1\r\nHost: c\r\n\r\n");
    assert_int_equal(o.error_status, 0);
    assert_string_equal(o.path, "/menu");
    assert_string_equal(o.query, "x=1");
}

static void body_with_length(void **state)
{
    struct outcome o = check_all_splits("POST /order HTTP/1.1\r\nHost: c\r\nContent-Length: 16\r\n"
                                        "\r\n{\"item\":\"latte\"}");
    assert_int_equal(o.nrequests, 1);
    assert_string_equal(o.body, "{\"item\":\"latte\"}");
}

static void chunked_body(void **state)
{
    struct outcome o =
        check_all_splits("POST /order HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: "
                         "chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
    assert_int_equal(o.error_status, 0);
    assert_int_equal(o.nrequests, 1);
    assert_string_equal(o.body, "hello world");
}

static void pipelined_requests(void **state)
{
    struct outcome o = check_all_splits(
        "GET /a HTTP/1.1\r\nHost: c\r\n\r\nPOST /b HTTP/1.1\r\nHost: c\r\nContent-Length: 3\r\n\r\n"
        "xyzGET /c HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n");
    assert_int_equal(o.error_status, 0);
    assert_int_equal(o.nrequests, 3);
    assert_string_equal(o.path, "/c");
    assert_true(o.keep_alive[0]);
    assert_true(o.keep_alive[1]);
    assert_false(o.keep_alive[2]);
}

static void keep_alive_by_version(void **state)
{
    struct outcome o = check_all_splits("GET / HTTP/1.0\r\n\r\n");
    assert_int_equal(o.error_status, 0);
    assert_false(o.keep_alive[0]);
    o = check_all_splits("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_true(o.keep_alive[0]);
}

static void bytes_after_close_are_ignored(void **state)
{
    struct outcome o = check_all_splits("GET /a HTTP/1.1\r\nHost: c\r\nConnection: "
                                        "close\r\n\r\nGET /b HTTP/1.1\r\nHost: c\r\n\r\n");
    assert_int_equal(o.error_status, 0);
    assert_int_equal(o.nrequests, 1);
}

static void expect_continue(void **state)
{
    struct outcome o = check_all_splits(
        "POST /order HTTP/1.1\r\nHost: c\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok");
    assert_int_equal(o.error_status, 0);
    assert_int_equal(o.continues, 1);
    assert_string_equal(o.body, "ok");
    o = check_all_splits(
        "POST /o HTTP/1.1\r\nHost: c\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\nok");
    assert_int_equal(o.error_status, 417);
}

/* Each of these must be refused with the given status, and never parsed
 * into a request (request smuggling and llhttp 8.1.0's gaps). */
static void refused(void **state)
{
    static const struct {
        int status;
        const char *raw;
    } cases[] = {
        {400,
         "POST / HTTP/1.1\r\nHost: c\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
         "0\r\n\r\n"},
        {400, "POST / HTTP/1.1\r\nHost: c\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
        {400, "POST / HTTP/1.1\r\nHost: c\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"},
        {400, "POST / HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked, identity\r\n\r\n"},
        {400, "POST / HTTP/1.1\r\nHost: c\r\nContent-Length: +3\r\n\r\nabc"},
        {400, "GET / HTTP/1.1\r\n Host: c\r\n\r\n"},
        {400, "GET / HTTP/1.1\r\nHost: c\r\nX-A: a\rX-B: b\r\n\r\n"},
        {400, "GET / HTTP/1.1\r\nHost: c\r\nX-A: \rxTransfer-Encoding: chunked\r\n\r\n"},
        {400, "GET / HTTP/1.1\r\nHost: c\r\nX-A: a\r\n folded\r\n\r\n"},
        {400, "GET / HTTP/1.1\r\nHost: c\r\nX-A: a\r\n\tfolded\r\n\r\n"},
        {400, "GET / HTTP/1.1\r\nHost: c\r\n: empty\r\n\r\n"},
        {400, "GET / HTTP/1.1\r\n\r\n"},
        {400, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
        {400, "GET / HTTP/1.1\r\nHost : c\r\n\r\n"},
        {400, "GET noslash HTTP/1.1\r\nHost: c\r\n\r\n"},
        {400, "GET / HTTP/1.1\nHost: c\n\n"},
        {400,
         "POST / HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"},
        {400, "GARBAGE\r\n\r\n"},
        {505, "GET / HTTP/2.0\r\nHost: c\r\n\r\n"},
        {501, "CONNECT cafe:443 HTTP/1.1\r\nHost: cafe:443\r\n\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct outcome o = check_all_splits(cases[i].raw);
        if (o.error_status != cases[i].status || o.nrequests != 0)
            fail_msg("case %zu: got status %d after %d requests, want %d:\n%s", i, o.error_status,
                     o.nrequests, cases[i].status, cases[i].raw);
    }
}

static char *repeat(const char *prefix, const char *unit, size_t times, const char *suffix)
{
    size_t len = strlen(prefix) + strlen(unit) * times + strlen(suffix) + 1;
    char *s = malloc(len);
    strcpy(s, prefix);
    for (size_t i = 0; i < times; i++)
        strcat(s, unit);
    strcat(s, suffix);
    return s;
}

static void limits_enforced(void **state)
{
    struct outcome o;
    char *raw = repeat("GET /", "a", 300, " HTTP/1.1\r\nHost: c\r\n\r\n");
    run(raw, NULL, 0, &o);
    assert_int_equal(o.error_status, 414);
    free(raw);

    raw = repeat("GET / HTTP/1.1\r\nHost: c\r\n", "X-Pad: 0123456789\r\n", 40, "\r\n");
    run(raw, NULL, 0, &o);
    assert_int_equal(o.error_status, 431);
    free(raw);

    raw = repeat("GET / HTTP/1.1\r\nHost: c\r\n", "X: 1\r\n", 20, "\r\n");
    run(raw, NULL, 0, &o);
    assert_int_equal(o.error_status, 431); /* field count */
    free(raw);

    run("POST / HTTP/1.1\r\nHost: c\r\nContent-Length: 129\r\n\r\n", NULL, 0, &o);
    assert_int_equal(o.error_status, 413); /* before any body byte */

    raw = repeat("POST / HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n",
                 "10\r\n0123456789abcdef\r\n", 9, "0\r\n\r\n");
    run(raw, NULL, 0, &o);
    assert_int_equal(o.error_status, 413);
    free(raw);

    raw = repeat("POST / HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n1;", "e", 2000,
                 "\r\nx\r\n0\r\n\r\n");
    run(raw, NULL, 0, &o);
    assert_int_equal(o.error_status, 400); /* chunk extensions */
    free(raw);
}

static void header_limit_counts_slow_block(void **state)
{
    /* Fed in small pieces, the limit still holds for the block as a whole. */
    char *raw = repeat("GET / HTTP/1.1\r\nHost: c\r\n", "X-Pad: 0123456789\r\n", 40, "\r\n");
    size_t len = strlen(raw), cuts[256], n = 0;
    for (size_t k = 7; k < len && n < 256; k += 7)
        cuts[n++] = k;
    struct outcome o;
    run(raw, cuts, n, &o);
    assert_int_equal(o.error_status, 431);
    free(raw);
}

/* A target over --max-uri-bytes is 414 even when the header-block limit is
 * crossed first, while the target is still arriving (it was 431; nginx says
 * 414). Breaks if fail_header_bytes() ignores uri_too_long. */
static void long_target_is_414_not_431(void **state)
{
    char *raw = repeat("GET /", "t", 2000, " HTTP/1.1\r\nHost: c\r\n\r\n"); /* > 512 block */
    struct outcome o = check_all_splits(raw);
    assert_int_equal(o.error_status, 414);
    assert_int_equal(o.nrequests, 0);
    free(raw);
    /* Under the target limit, the block over its own: still 431. */
    raw = repeat("GET /", "t", 200, " HTTP/1.1\r\nHost: c\r\nX-Pad: ");
    char *full = repeat(raw, "p", 400, "\r\n\r\n");
    o = check_all_splits(full);
    assert_int_equal(o.error_status, 431);
    free(full);
    free(raw);
    /* A target limit above the block limit cannot be reached first: 431. */
    size_t uri = limits.max_uri_bytes;
    limits.max_uri_bytes = 4096;
    raw = repeat("GET /", "t", 2000, " HTTP/1.1\r\nHost: c\r\n\r\n");
    run(raw, NULL, 0, &o);
    assert_int_equal(o.error_status, 431);
    free(raw);
    limits.max_uri_bytes = uri;
}

/* RFC 9112 §3.2: a Host that is not uri-host[:port] is 400 (it was 200).
 * Breaks if on_header_value_complete() stops calling host_valid(). */
static void host_syntax(void **state)
{
    static const char *const good[] = {
        "c",          "cafe:8080", "127.0.0.1", "127.0.0.1:80",      "[::1]",
        "[::1]:8080", "[v1.fe]",   "a-b.c_d~e", "%41b.example",      "x!$&'()*+,;=",
        "",           "host:",     "c \t",      "[2001:db8::7]:443",
    };
    static const char *const bad[] = {
        "a b",  "a/b", "a@b", "[::1", "::1",    "a:b",      "c:80:80", "%4g",
        "a\"b", "a?b", "a#b", "[]",   "[::1]x", "[::1]:8o", "a%",      "caf\xc3\xa9",
    };
    char raw[256];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", good[i]);
        struct outcome o = check_all_splits(raw);
        if (o.error_status || o.nrequests != 1)
            fail_msg("Host \"%s\": got %d, want a request", good[i], o.error_status);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
        struct outcome o = check_all_splits(raw);
        if (o.error_status != 400 || o.nrequests)
            fail_msg("Host \"%s\": got %d after %d requests, want 400", bad[i], o.error_status,
                     o.nrequests);
    }
    /* The value is trimmed of trailing whitespace for everyone (RFC 9110 §5.5). */
    struct outcome o = check_all_splits("GET / HTTP/1.1\r\nHost: cafe \t\r\nX-A: b  \r\n\r\n");
    assert_string_equal(o.host, "cafe");
    assert_string_equal(o.last_header, "X-A=b");
}

static void form_and_query_params(void **state)
{
    struct arena a;
    arena_init(&a);
    const char *form = "item=flat+white&flavour=vanilla&customer=Ana%20B&empty=&flag";
    assert_string_equal(form_param(&a, form, strlen(form), "item"), "flat white");
    assert_string_equal(form_param(&a, form, strlen(form), "customer"), "Ana B");
    assert_string_equal(form_param(&a, form, strlen(form), "empty"), "");
    assert_string_equal(form_param(&a, form, strlen(form), "flag"), "");
    assert_null(form_param(&a, form, strlen(form), "missing"));
    assert_null(form_param(&a, "x=%zz", 5, "x"));
    arena_reset(&a);
}

int main(void)
{
    server_limits_default(&limits);
    limits.max_uri_bytes = 256;
    limits.max_header_bytes = 512;
    limits.max_header_fields = 16;
    limits.max_body_bytes = 128;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simple_get),
        cmocka_unit_test(percent_decoded_path),
        cmocka_unit_test(absolute_form_target),
        cmocka_unit_test(body_with_length),
        cmocka_unit_test(chunked_body),
        cmocka_unit_test(pipelined_requests),
        cmocka_unit_test(keep_alive_by_version),
        cmocka_unit_test(bytes_after_close_are_ignored),
        cmocka_unit_test(expect_continue),
        cmocka_unit_test(refused),
        cmocka_unit_test(limits_enforced),
        cmocka_unit_test(header_limit_counts_slow_block),
        cmocka_unit_test(long_target_is_414_not_431),
        cmocka_unit_test(host_syntax),
        cmocka_unit_test(form_and_query_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
