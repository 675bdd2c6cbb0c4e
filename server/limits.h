#ifndef CAFE_LIMITS_H
#define CAFE_LIMITS_H

#include <stddef.h>

/* Every limit and timeout of the HTTP engine (redis: limits are
 * configuration). Defaults follow nginx and Node; see server_limits_default(). */
struct server_limits {
    size_t max_header_bytes;    /* whole header block, request line included -> 431 */
    unsigned max_header_fields; /* -> 431 */
    size_t max_uri_bytes;       /* -> 414 */
    size_t max_body_bytes;      /* -> 413, refused before it is read */
    unsigned header_timeout_ms; /* a header block is due this long after its first
                                   byte, and the body this long after the headers */
    unsigned idle_timeout_ms;   /* keep-alive: the next request's first byte (a
                                   streamed response has no deadline) */
    unsigned write_timeout_ms;  /* a client that reads nothing for this long is cut */
    unsigned max_connections;   /* above it: 503 + Retry-After, then close; must be
                                   set (app/main.c derives it from the descriptor
                                   limit), server_new() refuses 0 */
    unsigned drain_timeout_ms;  /* SIGTERM: time given to in-flight work */
    size_t max_output_bytes;    /* unread responses buffered before we stop reading */
};

void server_limits_default(struct server_limits *l);

#endif
