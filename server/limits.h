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
    unsigned header_timeout_ms; /* total time to receive a header block */
    unsigned idle_timeout_ms;   /* keep-alive idle, and no body progress */
    unsigned write_timeout_ms;  /* a client that reads nothing for this long is cut */
    unsigned max_connections;   /* above it: 503 + Retry-After, then close */
    unsigned drain_timeout_ms;  /* SIGTERM: time given to in-flight work */
    size_t max_output_bytes;    /* unread responses buffered before we stop reading */
};

void server_limits_default(struct server_limits *l);

#endif
