#ifndef CAFE_RESPONSE_H
#define CAFE_RESPONSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "server/request.h"

/* Responding. Every function here is loop-thread only. A request is answered
 * exactly once: one response_send*() or response_problem(), or one
 * response_stream_start() ... response_stream_end(); later calls, and calls
 * after the connection closed, do nothing. HEAD requests get the same headers
 * with the body dropped, by the engine. */

/* Adds a response header (name and value copied). Call before sending. */
void response_header(struct request *req, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same with the value as it is (no formatting: the per-request path). */
void response_header_str(struct request *req, const char *name, const char *value);

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

/* Streaming: headers now, body pieces later, for SSE and NDJSON. A stream is
 * pulled, as in h2o's h2o_generator_t: the engine calls proceed when the
 * connection can take more, and stop when the client leaves first. */
struct response_generator {
    /* A write returned false and its bytes have since gone out: write what is
     * ready (until a write returns false again) or end the stream. Never
     * called after response_stream_end() or stop. */
    void (*proceed)(struct response_generator *gen, struct request *req);
    /* The connection closed before response_stream_end(): release what the
     * stream holds; req is freed after this returns. At most once. */
    void (*stop)(struct response_generator *gen, struct request *req);
};

/* Sends the head of a streamed response pulled by gen (NULL: the caller
 * pushes, writing as it likes). chunked=true frames writes as HTTP/1.1
 * chunks (NDJSON); false sends an unframed body that ends when the
 * connection closes (SSE). A stream has no deadline: a client that reads
 * nothing is cut by the write timeout. A HEAD gets the head and is ended. */
void response_stream_start(struct request *req, int status, const char *content_type, bool chunked,
                           struct response_generator *gen);
/* response_stream_start() without a generator. */
void response_stream_begin(struct request *req, int status, const char *content_type, bool chunked);
/* Queues a copy of data. True when the connection can take more now; false
 * when bytes wait for the client, and then proceed follows once they are
 * written (writing on anyway is allowed, and buffered without bound). */
bool response_stream_write(struct request *req, const void *data, size_t len);
/* Queues memory without copying it (SSE fan-out: serialise once, reference
 * it from every subscriber); cleanup(data, len, arg) runs when this client no
 * longer needs it, possibly after the request is gone. Not chunk-framed:
 * only for unframed (chunked=false) streams. Returns as response_stream_write. */
bool response_stream_write_ref(struct request *req, const void *data, size_t len,
                               void (*cleanup)(const void *data, size_t len, void *arg), void *arg);
/* Bytes queued for this stream that the client has not taken yet. */
size_t response_stream_unsent(struct request *req);
/* Ends the stream (last chunk); the connection then serves its next request
 * (a chunked stream) or closes (an unframed one). */
void response_stream_end(struct request *req);

/* A pending handler must register this before returning HANDLER_PENDING; it
 * runs (after a stream's stop) if the connection closes unanswered. */
void request_on_abort(struct request *req, request_abort_fn fn, void *arg);

/* Standard reason phrase for a status code. */
const char *http_reason(int status);

#endif
