#ifndef CAFE_RESPONSE_H
#define CAFE_RESPONSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "server/request.h"

/* Responding. Every function here is loop-thread only. A request is answered
 * exactly once: one response_send*() or response_problem(), or one
 * response_stream_begin() ... response_stream_end(). HEAD requests get the
 * same headers with the body dropped, by the engine. */

/* Adds a response header (name and value copied). Call before sending. */
void response_header(struct request *req, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sends a complete response; body is copied (len may be 0). */
void response_send(struct request *req, int status, const char *content_type, const void *body,
                   size_t len);
/* Sends memory that outlives every connection (static files, built-in menu)
 * without copying it. */
void response_send_static(struct request *req, int status, const char *content_type,
                          const void *body, size_t len);
/* Serialises json compactly as the body and releases the reference. */
void response_send_json(struct request *req, int status, json_t *json);
/* RFC 9457 application/problem+json: {"type","title","status","detail"}.
 * Adds "Retry-After" for 503 and "Allow" is up to the caller. */
void response_problem(struct request *req, int status, const char *title, const char *detail_fmt,
                      ...) __attribute__((format(printf, 4, 5)));
/* Like response_problem(), with extra members merged into the object (stolen). */
void response_problem_ext(struct request *req, int status, const char *title, json_t *extra,
                          const char *detail_fmt, ...) __attribute__((format(printf, 5, 6)));

/* Streaming: headers now, body pieces later, for SSE and NDJSON.
 * chunked=true frames writes as HTTP/1.1 chunks (NDJSON); false sends an
 * unframed body that ends when the connection closes (SSE). */
void response_stream_begin(struct request *req, int status, const char *content_type, bool chunked);
void response_stream_write(struct request *req, const void *data, size_t len);
/* Queues memory without copying it (SSE fan-out: serialise once, reference
 * it from every subscriber); cleanup(data, len, arg) runs when this client no
 * longer needs it, possibly after the request is gone. Not chunk-framed:
 * only for unframed (chunked=false) streams. */
void response_stream_write_ref(struct request *req, const void *data, size_t len,
                               void (*cleanup)(const void *data, size_t len, void *arg), void *arg);
/* Bytes queued to this client and not yet written to the socket. */
size_t response_stream_backlog(const struct request *req);
/* Ends the stream (last chunk); the connection then serves its next request. */
void response_stream_end(struct request *req);

/* A pending handler must register this before returning HANDLER_PENDING. */
void request_on_abort(struct request *req, request_abort_fn fn, void *arg);

/* Standard reason phrase for a status code. */
const char *http_reason(int status);

#endif
