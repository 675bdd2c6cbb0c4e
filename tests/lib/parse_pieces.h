#ifndef CAFE_TESTS_PARSE_PIECES_H
#define CAFE_TESTS_PARSE_PIECES_H

/* Drives the llhttp glue the way server/http1.c does, for the unit tests and
 * the fuzzer alike: data is fed in pieces ending at cuts[], each piece in its
 * own allocation so ASan sees any read past a fragment. Every complete
 * request goes to on_request; parsing stops at the first error, whose status
 * is returned (0: none). 100-continue pauses are counted in *continues.
 * A broken feed contract (more consumed than given, no progress) aborts. */

#include <stdlib.h>
#include <string.h>

#include "server/http_parser.h"

static inline int parse_pieces(const struct server_limits *limits, const char *data, size_t len,
                               const size_t *cuts, size_t ncuts,
                               void (*on_request)(const struct request *req, void *arg), void *arg,
                               int *continues)
{
    struct request req;
    memset(&req, 0, sizeof(req));
    arena_init(&req.arena);
    request_reset(&req);
    struct http_parser p;
    http_parser_init(&p, limits, &req);
    int error = 0;
    size_t start = 0;
    for (size_t i = 0; i <= ncuts && !error; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        size_t n = end - start;
        char *piece = malloc(n ? n : 1);
        memcpy(piece, data + start, n);
        for (size_t off = 0; off < n;) {
            size_t used = 0;
            enum http_parse_status st = http_parser_feed(&p, piece + off, n - off, &used);
            if (used > n - off)
                abort();
            off += used;
            if (st == HTTP_PARSE_ERROR) {
                error = p.error_status;
                if (error < 400 || error > 505)
                    abort();
                break;
            }
            if (st == HTTP_PARSE_CONTINUE) {
                ++*continues;
                http_parser_resume(&p);
            } else if (st == HTTP_PARSE_REQUEST) {
                on_request(&req, arg);
                request_reset(&req);
                http_parser_next(&p, &req);
            } else if (used == 0) {
                abort(); /* HTTP_PARSE_MORE must make progress */
            }
        }
        free(piece);
        start = end;
    }
    request_reset(&req);
    return error;
}

#endif
