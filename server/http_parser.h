#ifndef CAFE_HTTP_PARSER_H
#define CAFE_HTTP_PARSER_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>

#include "server/limits.h"
#include "server/request.h"

/* The llhttp glue: bytes in, one struct request out at a time. Pure (no
 * sockets, no libevent), so it is unit-tested by feeding every request split
 * at every byte offset. It enforces our limits and closes the gaps llhttp
 * 8.1.0 (Debian 12's) leaves open: obs-fold, empty header names, a missing,
 * doubled or malformed Host, HTTP/2.0 request lines, oversized chunk
 * extensions. Header values lose their trailing whitespace (RFC 9110 §5.5). */

enum http_parse_status {
    HTTP_PARSE_MORE,     /* *consumed bytes used: feed the rest, or more */
    HTTP_PARSE_CONTINUE, /* headers done with "Expect: 100-continue": answer
                            100 (unless body bytes are already here), then
                            call http_parser_resume() and feed on */
    HTTP_PARSE_REQUEST,  /* a whole request is in req; *consumed ends it */
    HTTP_PARSE_ERROR,    /* answer error_status, then close the connection */
};

struct http_parser {
    llhttp_t ll;
    const struct server_limits *limits;
    struct request *req;

    char *field, *value; /* header being assembled from fragments (arena) */
    size_t field_len, value_len;
    size_t url_len, body_ext_bytes;
    size_t expected_body;    /* Content-Length, or 0 */
    size_t msg_bytes_before; /* bytes of this message fed in earlier calls */
    const char *buf;         /* start of the buffer given to the current feed */
    char prev_last;          /* last byte of the previous buffer */
    unsigned host_count;
    const char *expect; /* the first Expect header's value, or NULL */
    bool in_message, headers_done, uri_too_long;

    int error_status; /* 400, 408, 413, 414, 417, 431, 501, 505 */
    const char *error_title;
    char error_detail[160];
};

void http_parser_init(struct http_parser *p, const struct server_limits *limits,
                      struct request *req);
/* Parses data[0..len); *consumed is how many bytes were used. */
enum http_parse_status http_parser_feed(struct http_parser *p, const char *data, size_t len,
                                        size_t *consumed);
/* After HTTP_PARSE_CONTINUE: carry on with the body. */
void http_parser_resume(struct http_parser *p);
/* After HTTP_PARSE_REQUEST: parse the next request into req (already reset). */
void http_parser_next(struct http_parser *p, struct request *req);
/* Bytes of a request have arrived but the request is not complete. */
bool http_parser_mid_message(const struct http_parser *p);

#endif
