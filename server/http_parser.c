#include "server/http_parser.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_CHUNK_EXTENSION_BYTES 1024

static struct http_parser *parser_of(llhttp_t *ll)
{
    return ll->data;
}

/* Records why the request is refused; the caller answers with that status
 * and closes the connection. Returns HPE_USER so llhttp stops right here. */
__attribute__((format(printf, 4, 5))) static int fail(struct http_parser *p, int status,
                                                      const char *title, const char *fmt, ...)
{
    if (!p->error_status) {
        p->error_status = status;
        p->error_title = title;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->error_detail, sizeof(p->error_detail), fmt, ap);
        va_end(ap);
    }
    return HPE_USER;
}

/* The header block is over its limit. A target already over its own limit
 * is the cause the client must hear about (nginx answers 414 here too): the
 * block limit is usually crossed while such a target is still arriving. */
static int fail_header_bytes(struct http_parser *p)
{
    if (p->uri_too_long)
        return fail(p, 414, "URI Too Long", "the request target exceeds %zu bytes",
                    p->limits->max_uri_bytes);
    return fail(p, 431, "Request Header Fields Too Large", "the header block exceeds %zu bytes",
                p->limits->max_header_bytes);
}

/* The header block is limited as a whole, request line included (nginx's
 * large_client_header_buffers, Node's maxHeaderSize). */
static int check_header_bytes(struct http_parser *p, const char *end)
{
    size_t used = p->msg_bytes_before + (size_t)(end - p->buf);
    return used > p->limits->max_header_bytes ? fail_header_bytes(p) : 0;
}

static int on_message_begin(llhttp_t *ll)
{
    struct http_parser *p = parser_of(ll);
    p->in_message = true;
    return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = parser_of(ll);
    struct request *req = p->req;
    char *target = (char *)req->target;
    /* Too long: stop keeping it, but refuse only when the target ends, so a
     * bad byte further on gets the same answer however the bytes arrived. */
    if (!p->uri_too_long &&
        arena_append(&req->arena, &target, &p->url_len, at, len, p->limits->max_uri_bytes) < 0)
        p->uri_too_long = true;
    req->target = target;
    return check_header_bytes(p, at + len);
}

/* Splits the target into a percent-decoded path and the raw query. Accepts
 * origin-form and absolute-form (RFC 9112 §3.2); "*" only for OPTIONS. */
static int on_url_complete(llhttp_t *ll)
{
    struct http_parser *p = parser_of(ll);
    struct request *req = p->req;
    const char *t = req->target;
    if (p->uri_too_long)
        return fail(p, 414, "URI Too Long", "the request target exceeds %zu bytes",
                    p->limits->max_uri_bytes);
    if (ll->method == HTTP_CONNECT) /* authority-form: we are not a proxy */
        return fail(p, 501, "Not Implemented", "CONNECT is not supported");
    if ((t[0] | 0x20) == 'h' && (!strncasecmp(t, "http://", 7) || !strncasecmp(t, "https://", 8))) {
        const char *slash = strchr(strstr(t, "//") + 2, '/');
        t = slash ? slash : "/";
    }
    if (t[0] != '/' && !(t[0] == '*' && t[1] == '\0'))
        return fail(p, 400, "Bad Request", "the request target must start with '/'");
    const char *q = strchr(t, '?');
    size_t plen = q ? (size_t)(q - t) : strlen(t);
    char *path = arena_alloc(&req->arena, plen + 1);
    long n = percent_decode(path, t, plen, false);
    if (n < 0 || memchr(path, '\0', (size_t)n))
        return fail(p, 400, "Bad Request", "malformed percent-encoding in the path");
    req->path = path;
    req->query = q ? q + 1 : "";
    return 0;
}

static int on_header_field(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = parser_of(ll);
    arena_append(&p->req->arena, &p->field, &p->field_len, at, len, SIZE_MAX);
    return check_header_bytes(p, at + len);
}

static int on_header_field_complete(llhttp_t *ll)
{
    struct http_parser *p = parser_of(ll);
    if (p->field_len == 0) /* llhttp 8.1.0 accepts ": value" */
        return fail(p, 400, "Bad Request", "empty header name");
    if (p->req->nheaders >= p->limits->max_header_fields)
        return fail(p, 431, "Request Header Fields Too Large", "more than %u header fields",
                    p->limits->max_header_fields);
    return 0;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = parser_of(ll);
    /* llhttp 8.1.0 accepts obs-fold even in strict mode (CVE-2024-27982): the
     * continuation line arrives as another fragment starting after a LF. */
    char before = at > p->buf ? at[-1] : p->prev_last;
    if (p->value_len > 0 && before == '\n')
        return fail(p, 400, "Bad Request", "obsolete line folding in header '%s'", p->field);
    arena_append(&p->req->arena, &p->value, &p->value_len, at, len, SIZE_MAX);
    return check_header_bytes(p, at + len);
}

/* RFC 3986 §3.2.2 reg-name characters: unreserved and sub-delims ('%'
 * escapes are checked by the caller). */
static bool is_reg_name_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("-._~!$&'()*+,;=", ch));
}

static bool is_hex(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f');
}

/* Host = uri-host [ ":" port ] (RFC 9110 §7.2): a reg-name (which covers
 * IPv4address) or an IP-literal in brackets, then optional digits after a
 * colon. Empty is valid (a target without an authority). */
static bool host_valid(const char *v, size_t len)
{
    size_t i = 0;
    if (len && v[0] == '[') { /* IPv6address or IPvFuture: hex, ':', '.', 'v', sub-delims */
        while (++i < len && v[i] != ']')
            if (v[i] != ':' && !is_reg_name_char((unsigned char)v[i]))
                return false;
        if (i == len || i == 1)
            return false;
        i++;
    } else {
        for (; i < len && v[i] != ':'; i++) {
            if (v[i] == '%' && i + 2 < len && is_hex(v[i + 1]) && is_hex(v[i + 2]))
                i += 2;
            else if (!is_reg_name_char((unsigned char)v[i]))
                return false;
        }
    }
    if (i == len)
        return true;
    if (v[i++] != ':')
        return false;
    for (; i < len; i++)
        if (v[i] < '0' || v[i] > '9')
            return false;
    return true;
}

static int on_header_value_complete(llhttp_t *ll)
{
    struct http_parser *p = parser_of(ll);
    struct request *req = p->req;
    /* llhttp keeps trailing whitespace; it is not part of the value (RFC
     * 9110 §5.5). Leading whitespace never reaches us. */
    while (p->value_len &&
           (p->value[p->value_len - 1] == ' ' || p->value[p->value_len - 1] == '\t'))
        p->value[--p->value_len] = '\0';
    if (req->nheaders % 16 == 0) { /* grow in the arena; old arrays die with it */
        struct header *h = arena_alloc(&req->arena, (req->nheaders + 16) * sizeof(*h));
        if (req->nheaders)
            memcpy(h, req->headers, req->nheaders * sizeof(*h));
        req->headers = h;
    }
    const char *value = p->value ? p->value : "";
    req->headers[req->nheaders++] = (struct header){p->field, value};
    /* The length first: most names are told apart without a comparison. */
    if (p->field_len == 4 && !strcasecmp(p->field, "host")) { /* RFC 9112 §3.2 */
        if (++p->host_count > 1)
            return fail(p, 400, "Bad Request", "more than one Host header");
        if (!host_valid(value, p->value_len))
            return fail(p, 400, "Bad Request", "the Host header is not a valid host[:port]");
    }
    if (p->field_len == 6 && !p->expect && !strcasecmp(p->field, "expect"))
        p->expect = value; /* the first, as request_header() finds it */
    p->field = p->value = NULL;
    p->field_len = p->value_len = 0;
    return 0;
}

static enum http_method method_from_llhttp(uint8_t m)
{
    switch (m) {
    case HTTP_GET:
        return METHOD_GET;
    case HTTP_HEAD:
        return METHOD_HEAD;
    case HTTP_POST:
        return METHOD_POST;
    case HTTP_PUT:
        return METHOD_PUT;
    case HTTP_DELETE:
        return METHOD_DELETE;
    case HTTP_PATCH:
        return METHOD_PATCH;
    case HTTP_OPTIONS:
        return METHOD_OPTIONS;
    default:
        return METHOD_OTHER;
    }
}

static int on_headers_complete(llhttp_t *ll)
{
    struct http_parser *p = parser_of(ll);
    struct request *req = p->req;
    req->http_major = ll->http_major;
    req->http_minor = ll->http_minor;
    req->method = method_from_llhttp(ll->method);
    req->method_name = llhttp_method_name(ll->method);
    p->headers_done = true;

    /* llhttp 8.1.0 parses "HTTP/2.0" request lines; we speak HTTP/1.x only. */
    if (ll->http_major != 1)
        return fail(p, 505, "HTTP Version Not Supported", "only HTTP/1.0 and HTTP/1.1");
    if (ll->http_minor >= 1 && p->host_count == 0) /* RFC 9112 §3.2 */
        return fail(p, 400, "Bad Request", "HTTP/1.1 requests need a Host header");
    if ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > p->limits->max_body_bytes)
        return fail(p, 413, "Content Too Large", "the body exceeds %zu bytes",
                    p->limits->max_body_bytes);
    p->expected_body = (ll->flags & F_CONTENT_LENGTH) ? (size_t)ll->content_length : 0;
    const char *expect = p->expect;
    if (expect) {
        if (strcasecmp(expect, "100-continue"))
            return fail(p, 417, "Expectation Failed", "only 100-continue is supported");
        req->expect_continue = (ll->flags & F_CHUNKED) || ll->content_length > 0;
    }
    /* Read it here: llhttp forgets "Connection: close" after the message
     * (llhttp#147). */
    req->keep_alive = llhttp_should_keep_alive(ll);
    return req->expect_continue ? HPE_PAUSED : 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = parser_of(ll);
    struct request *req = p->req;
    if (req->body_len + len > p->limits->max_body_bytes) /* chunked: no length up front */
        return fail(p, 413, "Content Too Large", "the body exceeds %zu bytes",
                    p->limits->max_body_bytes);
    size_t need = req->body_len + len + 1;
    if (need > req->body_cap) { /* grow geometrically: many tiny chunks stay O(n) */
        /* With a Content-Length, exactly that: a pending request keeps its
         * request, so slack here is memory per waiting client. */
        size_t cap = req->body_cap ? req->body_cap : p->expected_body ? p->expected_body + 1 : 256;
        while (cap < need)
            cap *= 2;
        char *body = arena_alloc(&req->arena, cap);
        if (req->body_len)
            memcpy(body, req->body, req->body_len);
        req->body = body;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, at, len);
    req->body_len += len;
    req->body[req->body_len] = '\0';
    return 0;
}

static int on_chunk_extension(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = parser_of(ll);
    /* llhttp 8.1.0 accepts unbounded chunk extensions (Node CVE-2024-22019). */
    p->body_ext_bytes += len;
    if (p->body_ext_bytes > MAX_CHUNK_EXTENSION_BYTES)
        return fail(p, 400, "Bad Request", "chunk extensions too long");
    return 0;
}

static int on_message_complete(llhttp_t *ll)
{
    parser_of(ll)->in_message = false;
    return HPE_PAUSED; /* one request at a time: pipelined ones wait their turn */
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_extension_name = on_chunk_extension,
    .on_chunk_extension_value = on_chunk_extension,
    .on_message_complete = on_message_complete,
};

static void reset_message(struct http_parser *p, struct request *req)
{
    p->req = req;
    p->field = p->value = NULL;
    p->field_len = p->value_len = p->url_len = p->body_ext_bytes = 0;
    p->msg_bytes_before = 0;
    p->host_count = 0;
    p->expect = NULL;
    p->expected_body = 0;
    p->in_message = p->headers_done = p->uri_too_long = false;
}

void http_parser_init(struct http_parser *p, const struct server_limits *limits,
                      struct request *req)
{
    memset(p, 0, sizeof(*p));
    llhttp_init(&p->ll, HTTP_REQUEST, &settings);
    p->ll.data = p;
    p->limits = limits;
    p->prev_last = '\n';
    reset_message(p, req);
}

enum http_parse_status http_parser_feed(struct http_parser *p, const char *data, size_t len,
                                        size_t *consumed)
{
    /* llhttp reports a span (URL, header value) only when it ends or the
     * buffer does, so a limit would trip at different bytes depending on how
     * TCP cut the stream. Never hand it more of a header block than the
     * limit allows: every split then meets the same limit at the same byte. */
    if (!p->headers_done) {
        size_t max = p->limits->max_header_bytes;
        if (p->msg_bytes_before >= max && len > 0) { /* a byte past the limit, unfinished */
            *consumed = 0;
            fail_header_bytes(p);
            return HTTP_PARSE_ERROR;
        }
        if (len > max - p->msg_bytes_before)
            len = max - p->msg_bytes_before;
    }
    p->buf = data;
    llhttp_errno_t err = llhttp_execute(&p->ll, data, len);
    size_t used = len;
    if (err != HPE_OK && err != HPE_CLOSED_CONNECTION)
        used = (size_t)(llhttp_get_error_pos(&p->ll) - data);
    *consumed = used;
    if (used)
        p->prev_last = data[used - 1];

    switch (err) {
    case HPE_OK:
        p->msg_bytes_before += used;
        return HTTP_PARSE_MORE;
    case HPE_CLOSED_CONNECTION:
        /* Bytes after a "Connection: close" request: the connection closes
         * after the current response, so they are simply ignored. */
        return HTTP_PARSE_MORE;
    case HPE_PAUSED:
        if (!p->in_message)
            return HTTP_PARSE_REQUEST;
        p->msg_bytes_before += used;
        return HTTP_PARSE_CONTINUE;
    case HPE_PAUSED_UPGRADE:
        /* We never switch protocols (RFC 9110 §7.8 lets us ignore Upgrade).
         * llhttp ends an upgrade request with our pause (reported above as
         * the request) and, once resumed, pauses again for the upgrade before
         * the next byte: that is no request of its own (curl --http2 sends
         * "Upgrade: h2c" and reuses the connection), so parse on. */
        if (p->headers_done)
            return HTTP_PARSE_REQUEST;
        llhttp_resume_after_upgrade(&p->ll);
        size_t more = 0;
        enum http_parse_status st = http_parser_feed(p, data + used, len - used, &more);
        *consumed = used + more;
        return st;
    default:
        if (!p->error_status)
            fail(p, 400, "Bad Request", "malformed request: %s (%s)", llhttp_errno_name(err),
                 p->ll.reason ? p->ll.reason : "");
        return HTTP_PARSE_ERROR;
    }
}

void http_parser_resume(struct http_parser *p)
{
    llhttp_resume(&p->ll);
}

void http_parser_next(struct http_parser *p, struct request *req)
{
    if (llhttp_get_errno(&p->ll) == HPE_PAUSED_UPGRADE)
        llhttp_resume_after_upgrade(&p->ll);
    else if (llhttp_get_errno(&p->ll) == HPE_PAUSED)
        llhttp_resume(&p->ll);
    reset_message(p, req);
}

bool http_parser_mid_message(const struct http_parser *p)
{
    return p->in_message;
}
