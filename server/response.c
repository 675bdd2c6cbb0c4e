#include "server/response.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server/http1.h"

const char *http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* The Date header, formatted once per second (h2o and lwan do the same). */
static const char *http_date(void)
{
    static char buf[40];
    static time_t cached;
    time_t now = time(NULL);
    if (now != cached) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached = now;
    }
    return buf;
}

/* Appends "name: value[0..n)\r\n"; a line that would not fit is left out. */
static void header_add(struct request *req, const char *name, const char *value, size_t v)
{
    char line[1200];
    size_t n = strlen(name);
    if (n > 128 || v > sizeof(line) - n - 4)
        return;
    memcpy(line, name, n);
    line[n++] = ':';
    line[n++] = ' ';
    memcpy(line + n, value, v);
    n += v;
    line[n++] = '\r';
    line[n++] = '\n';
    arena_append(&req->arena, &req->resp_headers, &req->resp_headers_len, line, n, SIZE_MAX);
}

void response_header_str(struct request *req, const char *name, const char *value)
{
    header_add(req, name, value, strlen(value));
}

void response_header(struct request *req, const char *name, const char *fmt, ...)
{
    if (!strchr(fmt, '%')) { /* a constant value: no formatting */
        response_header_str(req, name, fmt);
        return;
    }
    char value[1200];
    va_list ap;
    va_start(ap, fmt);
    int v = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (v >= 0 && (size_t)v < sizeof(value))
        header_add(req, name, value, (size_t)v);
}

static bool has_header(const struct request *req, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = req->resp_headers; p && *p;) {
        if (!strncasecmp(p, name, n) && p[n] == ':')
            return true;
        p = strstr(p, "\r\n");
        p = p ? p + 2 : NULL;
    }
    return false;
}

/* The head is assembled with plain copies: this runs for every response,
 * and printf-style formatting was a measurable share of a small GET. */
struct head {
    char *p, *end;
};

static void put(struct head *h, const char *s, size_t n)
{
    if (n && (size_t)(h->end - h->p) >= n) {
        memcpy(h->p, s, n);
        h->p += n;
    }
}

#define PUT_LIT(h, lit) put(h, lit, sizeof(lit) - 1)

static void put_str(struct head *h, const char *s)
{
    put(h, s, strlen(s));
}

static void put_uint(struct head *h, unsigned long long v)
{
    char digits[24];
    size_t i = sizeof(digits);
    do
        digits[--i] = (char)('0' + v % 10);
    while (v /= 10);
    put(h, digits + i, sizeof(digits) - i);
}

/* Writes the status line and headers to out. content_length < 0 means none
 * (chunked or close-delimited). Decides keep-alive once, here: a response
 * that cannot keep the connection says "Connection: close" and clears
 * req->keep_alive, which the connection reads when the response is done. */
static void write_head(struct request *req, struct evbuffer *out, int status,
                       const char *content_type, long long content_length, bool chunked)
{
    req->status = status;
    bool keep = http1_persistent(req) && (content_length >= 0 || chunked);
    if (!keep)
        req->keep_alive = false;
    char buf[1024];
    struct head h = {buf, buf + sizeof(buf)};
    PUT_LIT(&h, "HTTP/1.1 ");
    put_uint(&h, (unsigned)status);
    PUT_LIT(&h, " ");
    put_str(&h, http_reason(status));
    PUT_LIT(&h, "\r\nDate: ");
    put_str(&h, http_date());
    PUT_LIT(&h, "\r\n");
    const char *server = http1_server_name(req);
    if (server) {
        PUT_LIT(&h, "Server: ");
        put_str(&h, server);
        PUT_LIT(&h, "\r\n");
    }
    if (content_type) {
        PUT_LIT(&h, "Content-Type: ");
        put_str(&h, content_type);
        PUT_LIT(&h, "\r\n");
    }
    if (chunked) {
        PUT_LIT(&h, "Transfer-Encoding: chunked\r\n");
    } else if (content_length >= 0 && status != 204 && status != 304) {
        PUT_LIT(&h, "Content-Length: ");
        put_uint(&h, (unsigned long long)content_length);
        PUT_LIT(&h, "\r\n");
    }
    if (!keep)
        PUT_LIT(&h, "Connection: close\r\n");
    else if (req->http_minor == 0)
        PUT_LIT(&h, "Connection: keep-alive\r\n");
    size_t n = (size_t)(h.p - buf);
    req->bytes_out += n + req->resp_headers_len + 2;
    if (req->resp_headers_len < (size_t)(h.end - h.p) - 2) {
        put(&h, req->resp_headers, req->resp_headers_len);
        PUT_LIT(&h, "\r\n");
        evbuffer_add(out, buf, (size_t)(h.p - buf));
        return;
    }
    evbuffer_add(out, buf, n);
    evbuffer_add(out, req->resp_headers, req->resp_headers_len);
    evbuffer_add(out, "\r\n", 2);
}

/* The response is complete: send what is queued, then let the connection
 * move on. */
static void finish(struct request *req)
{
    req->finished = true;
    http1_sent(req);
    http1_response_done(req);
}

static bool body_allowed(const struct request *req, int status)
{
    return req->method != METHOD_HEAD && status != 204 && status != 304;
}

static void free_text(const void *data, size_t len, void *arg)
{
    free((void *)data);
}

enum body_owner {
    BODY_COPY,   /* the caller keeps it: copied */
    BODY_STATIC, /* outlives every connection: referenced */
    BODY_TAKE,   /* malloc'd, ours now: referenced, freed when written */
};

/* The one path every complete (non-streamed) response takes. */
static void send_complete(struct request *req, int status, const char *content_type,
                          const void *body, size_t len, enum body_owner owner)
{
    struct evbuffer *out = req->status ? NULL : http1_output(req);
    if (!out) { /* already answered, or the connection is gone */
        if (owner == BODY_TAKE)
            free((void *)body);
        return;
    }
    write_head(req, out, status, content_type, (long long)len, false);
    if (len && body_allowed(req, status)) {
        if (owner == BODY_COPY)
            evbuffer_add(out, body, len);
        else
            evbuffer_add_reference(out, body, len, owner == BODY_TAKE ? free_text : NULL, NULL);
        req->bytes_out += len;
    } else if (owner == BODY_TAKE) {
        free((void *)body);
    }
    finish(req);
}

void response_send(struct request *req, int status, const char *content_type, const void *body,
                   size_t len)
{
    send_complete(req, status, content_type, body, len, BODY_COPY);
}

void response_send_static(struct request *req, int status, const char *content_type,
                          const void *body, size_t len)
{
    send_complete(req, status, content_type, body, len, BODY_STATIC);
}

/* Serialises json and sends it without another copy; a trailing newline
 * replaces the NUL, so curl users get a tidy prompt. */
static void send_json_text(struct request *req, int status, const char *content_type, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (!text) {
        static const char oops[] = "{\"title\":\"Internal Server Error\",\"status\":500}\n";
        response_send(req, 500, "application/problem+json", oops, sizeof(oops) - 1);
        return;
    }
    size_t len = strlen(text);
    text[len] = '\n';
    send_complete(req, status, content_type, text, len + 1, BODY_TAKE);
}

void response_send_json(struct request *req, int status, json_t *json)
{
    send_json_text(req, status, "application/json", json);
}

__attribute__((format(printf, 5, 0))) static void problem_send(struct request *req, int status,
                                                               const char *title, json_t *extra,
                                                               const char *fmt, va_list ap)
{
    char detail[1024];
    vsnprintf(detail, sizeof(detail), fmt, ap);
    json_t *p = json_object();
    json_object_set_new(p, "type", json_string("about:blank"));
    json_object_set_new(p, "title", json_string(title ? title : http_reason(status)));
    json_object_set_new(p, "status", json_integer(status));
    /* detail may quote client bytes: json_string rejects invalid UTF-8. */
    json_t *d = json_string(detail);
    json_object_set_new(p, "detail", d ? d : json_string("(detail not valid UTF-8)"));
    if (extra)
        json_object_update(p, extra);
    json_decref(extra);
    if (status == 503 && !has_header(req, "Retry-After"))
        response_header(req, "Retry-After", "1");
    send_json_text(req, status, "application/problem+json", p);
}

void response_problem(struct request *req, int status, const char *title, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    problem_send(req, status, title, NULL, fmt, ap);
    va_end(ap);
}

void response_problem_ext(struct request *req, int status, const char *title, json_t *extra,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    problem_send(req, status, title, extra, fmt, ap);
    va_end(ap);
}

void response_stream_start(struct request *req, int status, const char *content_type, bool chunked,
                           struct response_generator *gen)
{
    struct evbuffer *out = req->status ? NULL : http1_output(req);
    if (!out)
        return;
    /* HTTP/1.0 has no chunked coding: the body then ends with the connection. */
    req->chunked = chunked && req->http_minor >= 1;
    req->streaming = true;
    req->generator = gen;
    write_head(req, out, status, content_type, -1, req->chunked);
    if (req->method == METHOD_HEAD) {
        response_stream_end(req); /* the head alone */
        return;
    }
    http1_sent(req); /* before streaming: no proceed is owed for the head */
    http1_stream_started(req);
}

void response_stream_begin(struct request *req, int status, const char *content_type, bool chunked)
{
    response_stream_start(req, status, content_type, chunked, NULL);
}

/* The output for another piece of req's stream, or NULL when none may go. */
static struct evbuffer *stream_output(struct request *req)
{
    bool open = req->streaming && !req->finished && req->method != METHOD_HEAD;
    return open ? http1_output(req) : NULL;
}

bool response_stream_write(struct request *req, const void *data, size_t len)
{
    struct evbuffer *out = stream_output(req);
    if (!out)
        return false;
    if (len && req->chunked)
        evbuffer_add_printf(out, "%zx\r\n", len);
    evbuffer_add(out, data, len);
    if (len && req->chunked)
        evbuffer_add(out, "\r\n", 2);
    req->bytes_out += len;
    return http1_sent(req);
}

bool response_stream_write_ref(struct request *req, const void *data, size_t len,
                               void (*cleanup)(const void *data, size_t len, void *arg), void *arg)
{
    struct evbuffer *out = req->chunked ? NULL : stream_output(req);
    if (!out || evbuffer_add_reference(out, data, len, cleanup, arg) < 0) {
        if (cleanup)
            cleanup(data, len, arg);
        return false;
    }
    req->bytes_out += len;
    return http1_sent(req);
}

size_t response_stream_unsent(struct request *req)
{
    struct evbuffer *out = stream_output(req);
    return out ? evbuffer_get_length(out) : 0;
}

void response_stream_end(struct request *req)
{
    struct evbuffer *out = req->streaming && !req->finished ? http1_output(req) : NULL;
    if (!out)
        return;
    if (req->method == METHOD_HEAD)
        ; /* no body was sent: the connection may serve another request */
    else if (req->chunked)
        evbuffer_add(out, "0\r\n\r\n", 5);
    else
        req->keep_alive = false; /* a close-delimited body ends with the connection */
    finish(req);
}

void request_on_abort(struct request *req, request_abort_fn fn, void *arg)
{
    req->on_abort = fn;
    req->abort_arg = arg;
}
