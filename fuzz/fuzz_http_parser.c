/* The llhttp glue (server/http_parser.c) fed the way http1.c feeds it: the
 * input is cut at a fuzzer-chosen offset, optionally after a valid request
 * and/or twice in a row (pipelining). Properties: no memory error (ASan,
 * UBSan), and the outcome (requests, their contents, the error status) is
 * the same whole, split once, and byte by byte -- so a fragment or pause
 * path cannot parse differently from the straight one.
 *
 * Input: byte 0 = flags, bytes 1-2 = cut offset, the rest = HTTP bytes. */
#include <stdbool.h>
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "server/http_parser.h"
#include "tests/lib/parse_pieces.h"

#define BYTEWISE_MAX 2048 /* byte-by-byte feeding above this gets slow */

enum { F_PREFIX = 1, F_TWICE = 2, F_BYTEWISE = 4 };

struct outcome {
    int nrequests, continues, error_status;
    uint64_t hash;
};

static struct server_limits limits;

static void record(struct outcome *o, const struct request *req)
{
    uint64_t h = o->hash;
    h = fuzz_hash(h, req->method_name, strlen(req->method_name));
    h = fuzz_hash(h, req->target, strlen(req->target));
    h = fuzz_hash(h, req->path, strlen(req->path) + 1);
    h = fuzz_hash(h, req->query, strlen(req->query) + 1);
    h = fuzz_hash(h, &req->body_len, sizeof(req->body_len));
    if (req->body_len) {
        FUZZ_CHECK(req->body[req->body_len] == '\0');
        h = fuzz_hash(h, req->body, req->body_len);
    }
    for (unsigned i = 0; i < req->nheaders; i++) {
        h = fuzz_hash(h, req->headers[i].name, strlen(req->headers[i].name) + 1);
        h = fuzz_hash(h, req->headers[i].value, strlen(req->headers[i].value) + 1);
    }
    unsigned char flags[4] = {req->http_major, req->http_minor, req->keep_alive,
                              req->expect_continue};
    o->hash = fuzz_hash(h, flags, sizeof(flags));
    o->nrequests++;
}

static void record_request(const struct request *req, void *arg)
{
    record(arg, req);
}

static void run(const char *data, size_t len, const size_t *cuts, size_t ncuts, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->hash = FUZZ_HASH_INIT;
    o->error_status =
        parse_pieces(&limits, data, len, cuts, ncuts, record_request, o, &o->continues);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    if (!limits.max_header_bytes) {
        server_limits_default(&limits);
        /* Small limits, so the fuzzer reaches 413/414/431 quickly. */
        limits.max_header_bytes = 2048;
        limits.max_header_fields = 20;
        limits.max_uri_bytes = 512;
        limits.max_body_bytes = 1024;
    }
    unsigned flags = data[0];
    size_t cut = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;

    static const char prefix[] = "GET /menu HTTP/1.1\r\nHost: cafe\r\n\r\n";
    size_t plen = flags & F_PREFIX ? sizeof(prefix) - 1 : 0;
    size_t len = plen + size * (flags & F_TWICE ? 2 : 1);
    char *buf = malloc(len ? len : 1);
    memcpy(buf, prefix, plen);
    memcpy(buf + plen, data, size);
    if (flags & F_TWICE)
        memcpy(buf + plen + size, data, size);

    struct outcome whole, split;
    run(buf, len, NULL, 0, &whole);
    if (len > 1) {
        size_t k = 1 + cut % (len - 1);
        run(buf, len, &k, 1, &split);
        FUZZ_CHECK(memcmp(&whole, &split, sizeof(whole)) == 0);
    }
    if ((flags & F_BYTEWISE) && len > 1 && len <= BYTEWISE_MAX) {
        size_t *cuts = malloc((len - 1) * sizeof(*cuts));
        for (size_t k = 0; k + 1 < len; k++)
            cuts[k] = k + 1;
        run(buf, len, cuts, len - 1, &split);
        free(cuts);
        FUZZ_CHECK(memcmp(&whole, &split, sizeof(whole)) == 0);
    }
    free(buf);
    return 0;
}
