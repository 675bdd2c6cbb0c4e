#ifndef CAFE_REQUEST_H
#define CAFE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"

enum http_method {
    METHOD_GET,
    METHOD_HEAD,
    METHOD_POST,
    METHOD_PUT,
    METHOD_DELETE,
    METHOD_PATCH,
    METHOD_OPTIONS,
    METHOD_OTHER,
};

struct header {
    const char *name; /* as sent; compare with strcasecmp */
    const char *value;
};

struct conn;
struct route;
struct request;
struct response_generator;

/* What a handler registers when it answers later: called once, on the loop
 * thread, if the connection goes away before the response is complete, so
 * the handler can detach from its work or stream. The request is freed right
 * after the hook returns. */
typedef void (*request_abort_fn)(struct request *req, void *arg);

/* One parsed HTTP request. Every string lives in req->arena and dies with the
 * request; copy what must outlive it. Only the loop thread touches it. */
struct request {
    struct arena arena;
    enum http_method method;
    const char *method_name;
    const char *target; /* raw request-target, e.g. "/orders?limit=5" */
    const char *path;   /* percent-decoded path without the query */
    const char *query;  /* raw query string after '?', or "" */
    struct header *headers;
    unsigned nheaders;
    char *body; /* NUL-terminated for convenience; body_len excludes it */
    size_t body_len, body_cap;
    unsigned char http_major, http_minor;
    bool keep_alive;      /* client allows another request on this connection */
    bool expect_continue; /* "Expect: 100-continue" was sent */

    /* Set by the router. */
    const struct route *route;
    const char *route_param; /* the segment matched by '*', or NULL */
    void *app;               /* the application context given to server_new() */

    /* Owned by the engine. */
    struct conn *conn;
    uint64_t start_ns;
    uint64_t bytes_out; /* response bytes queued: head and body */
    int status;         /* status sent, 0 until the response has begun */
    char *resp_headers; /* extra "Name: value\r\n" lines (arena) */
    size_t resp_headers_len;
    request_abort_fn on_abort;
    void *abort_arg;
    struct response_generator *generator; /* a pulled stream's, or NULL */
    bool streaming, chunked, finished;
    /* Set by the handler, read when the request is done. */
    const char *log_label; /* optional extra access-log field (e.g. the order mode) */
    int tag;               /* the application's own datum about this request (0: none) */
};

/* Case-insensitive header lookup; the first match, or NULL. */
const char *request_header(const struct request *req, const char *name);
/* Value of a query parameter (percent- and '+'-decoded, arena-allocated), or
 * NULL when absent. */
const char *request_query_param(struct request *req, const char *name);
/* Decodes "a=1&b=x+y" form data into the arena: value of name, or NULL. */
const char *form_param(struct arena *arena, const char *form, size_t len, const char *name);
/* Percent-decodes src[0..n) into dst (capacity n+1); '+' becomes ' ' when
 * plus_is_space. Returns the decoded length, or -1 on a malformed escape. */
long percent_decode(char *dst, const char *src, size_t n, bool plus_is_space);
const char *method_name(enum http_method m);

/* Engine only: make req empty for the next message (frees its arena). */
void request_reset(struct request *req);

#endif
