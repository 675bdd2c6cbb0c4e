/* The HTTP/1.1 connection's state machine (server/http1.c) against a fake
 * socket (tests/unit/fake_socket.c, linked in place of server/socket.c) and a
 * test clock: keep-alive, pipelining, backpressure, every deadline, aborts,
 * lingering close, 100-continue, HEAD, the drain, and streams pulled with
 * proceed/stop. No network; the rest of the engine is the real code.
 *
 * Each test names the breakage it catches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "server/access_log.h"
#include "server/http1.h"
#include "server/response.h"
#include "tests/unit/fake_socket.c"

#define IDLE_MS   1500
#define HEADER_MS 1000
#define WRITE_MS  10000
#define MAX_OUT   (200 * 1024)
#define BIG       (64 * 1024)

static struct event_base *base;
static struct server_limits limits;
static struct server_stats stats;
static struct http1_ctx ctx;
static int next_fd;

/* --- the routes the tests talk to -------------------------------------------- */

static char big_body[BIG];
static struct request *pending_req;
static unsigned aborts, proceeds, stops, done_calls;

static enum handler_status on_hello(struct request *req)
{
    response_send(req, 200, "text/plain", "hi", 2);
    response_send(req, 500, "text/plain", "twice", 5); /* exactly once: ignored */
    return HANDLER_DONE;
}

static enum handler_status on_big(struct request *req)
{
    response_send_static(req, 200, "application/octet-stream", big_body, sizeof(big_body));
    return HANDLER_DONE;
}

static enum handler_status on_echo(struct request *req)
{
    response_send(req, 200, "text/plain", req->body, req->body_len);
    return HANDLER_DONE;
}

static void on_pending_abort(struct request *req, void *arg)
{
    aborts++;
    pending_req = NULL;
}

static enum handler_status on_pending(struct request *req)
{
    pending_req = req;
    request_on_abort(req, on_pending_abort, NULL);
    return HANDLER_PENDING;
}

/* A pulled stream of `total` 1000-byte chunks: written while the connection
 * takes them, the rest on proceed. */
struct test_stream {
    struct response_generator gen;
    unsigned sent, total;
};
static struct test_stream stream;

static void stream_pump(struct request *req)
{
    char chunk[1001];
    while (stream.sent < stream.total) {
        int n = snprintf(chunk, sizeof(chunk), "<%02u>", stream.sent++);
        memset(chunk + n, '.', sizeof(chunk) - 1 - (size_t)n);
        if (!response_stream_write(req, chunk, sizeof(chunk) - 1))
            return;
    }
    response_stream_end(req);
}

static struct sock *stream_sock; /* the streaming connection's socket */

static void stream_proceed(struct response_generator *gen, struct request *req)
{
    proceeds++;
    assert_int_equal(sock_pending(stream_sock), 0); /* only once the bytes are out */
    stream_pump(req);
}

static void stream_stop(struct response_generator *gen, struct request *req)
{
    stops++;
}

static enum handler_status on_stream(struct request *req)
{
    stream = (struct test_stream){{stream_proceed, stream_stop}, 0, 8};
    response_stream_start(req, 200, "text/plain", true, &stream.gen);
    if (req->method != METHOD_HEAD)
        stream_pump(req);
    return HANDLER_PENDING;
}

/* A stream whose data comes later (like an event stream): it starts with
 * nothing to write. */
static struct request *quiet_req;

static enum handler_status on_quiet(struct request *req)
{
    quiet_req = req;
    stream = (struct test_stream){{stream_proceed, stream_stop}, 0, 0};
    response_stream_start(req, 200, "text/plain", true, &stream.gen);
    return HANDLER_PENDING;
}

/* An unframed stream (an event stream's kind): its body ends with the
 * connection. */
static struct request *unframed_req;

static enum handler_status on_unframed(struct request *req)
{
    unframed_req = req;
    response_stream_begin(req, 200, "text/event-stream", false);
    response_stream_write(req, "data: 1\n\n", 9);
    return HANDLER_PENDING;
}

/* The response API at its edges, one case per ?query. */
#define V10   "vvvvvvvvvv"
#define V100  V10 V10 V10 V10 V10 V10 V10 V10 V10 V10
#define V1200 V100 V100 V100 V100 V100 V100 V100 V100 V100 V100 V100 V100
static unsigned cleanups;

static void count_cleanup(const void *data, size_t len, void *arg)
{
    cleanups++;
}

static enum handler_status on_edge(struct request *req)
{
    static char long_value[1300];
    memset(long_value, 'v', sizeof(long_value) - 1);
    if (!strcmp(req->query, "headers")) {
        /* A name over 128 bytes and values over the line are dropped whole,
         * never cut; a head over its 1 KiB buffer goes out intact. */
        char name[200];
        memset(name, 'n', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        response_header(req, name, "x");
        response_header(req, "X-Const", V1200); /* a constant: copied unformatted */
        response_header(req, "X-Formatted", "%s", long_value);
        for (int i = 0; i < 12; i++)
            response_header(req, "X-Pad", "%d-%.100s", i, long_value);
        response_send(req, 200, "text/plain", "ok", 2);
    } else if (!strcmp(req->query, "null-json")) {
        response_send_json(req, 200, NULL); /* what a failed json_pack() gives */
    } else if (!strcmp(req->query, "twice-json")) {
        response_send_json(req, 201, json_pack("{s:i}", "n", 1));
        response_send_json(req, 200, json_pack("{s:i}", "n", 2)); /* ignored, and freed */
    } else if (!strcmp(req->query, "stream-after-end")) {
        response_stream_end(req); /* not streaming: nothing happens */
        response_stream_begin(req, 200, "text/plain", true);
        assert_false(response_stream_write_ref(req, "ref", 3, count_cleanup, NULL)); /* chunked */
        response_stream_write(req, "one", 3);
        response_stream_end(req);
        assert_false(response_stream_write(req, "late", 4));
        assert_false(response_stream_write_ref(req, "late", 4, count_cleanup, NULL));
        response_stream_end(req); /* ended once */
    } else if (!strcmp(req->query, "retry-after")) {
        response_header(req, "Retry-After", "7");
        response_problem(req, 503, NULL, "busy");
    }
    return HANDLER_DONE;
}

static const struct route routes[] = {
    {METHOD_GET, "/hello", on_hello, "/hello", 0, 0},
    {METHOD_GET, "/big", on_big, "/big", 0, 0},
    {METHOD_POST, "/echo", on_echo, "/echo", 0, 0},
    {METHOD_GET, "/pending", on_pending, "/pending", 0, 0},
    {METHOD_GET, "/stream", on_stream, "/stream", 0, 0},
    {METHOD_GET, "/quiet", on_quiet, "/quiet", 0, 0},
    {METHOD_GET, "/unframed", on_unframed, "/unframed", 0, 0},
    {METHOD_GET, "/edge", on_edge, "/edge", 0, 0},
};

static void on_done(struct request *req, uint64_t ns, void *app)
{
    done_calls++;
}

static const struct server_hooks hooks = {
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .on_request_done = on_done,
};

static int setup(void **state)
{
    access_log_enable(false);
    base = event_base_new();
    server_limits_default(&limits);
    limits.idle_timeout_ms = IDLE_MS;
    limits.header_timeout_ms = HEADER_MS;
    limits.write_timeout_ms = WRITE_MS;
    limits.max_output_bytes = MAX_OUT;
    limits.max_header_bytes = 1024;
    limits.max_body_bytes = 1024;
    memset(&stats, 0, sizeof(stats));
    http1_ctx_init(&ctx, base, &limits, &hooks, &stats);
    pending_req = NULL;
    aborts = proceeds = stops = done_calls = cleanups = 0;
    next_fd = 0;
    memset(big_body, 'x', sizeof(big_body));
    return 0;
}

static int teardown(void **state)
{
    http1_ctx_free(&ctx);
    event_base_free(base);
    assert_true(fake_forget()); /* every connection was freed */
    return 0;
}

/* --- helpers ------------------------------------------------------------------ */

static struct sock *connect_client(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = next_fd++;
    http1_accept(&ctx, fd, (struct sockaddr *)&sa);
    return fake_sock(fd);
}

static unsigned count(const char *text, const char *what)
{
    unsigned n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* Takes the wire and checks it holds exactly `responses` responses. */
static char *expect_responses(struct sock *s, unsigned responses)
{
    char *text = fake_take(s);
    if (count(text, "HTTP/1.1 ") != responses)
        fail_msg("want %u responses, the peer read:\n%.600s", responses, text);
    return text;
}

/* Answers the pending request: the answer must close the connection. */
static void answer_pending_closing(struct sock *s)
{
    response_send(pending_req, 200, "text/plain", "ok", 2);
    fake_run(base);
    char *text = expect_responses(s, 1);
    assert_non_null(strstr(text, "Connection: close"));
    free(text);
}

/* Nothing until ms have passed, then a 408 saying why, and that the
 * connection closes: a body's headers asked to keep it, and a refusal must
 * override that (breaks if conn_reject() keeps the connection alive). */
static void expect_408_after(struct sock *s, uint64_t ms, const char *why)
{
    fake_advance(base, ms - 1);
    free(expect_responses(s, 0));
    fake_advance(base, 1);
    char *text = expect_responses(s, 1);
    assert_non_null(strstr(text, "408 Request Timeout"));
    assert_non_null(strstr(text, why));
    assert_non_null(strstr(text, "Connection: close"));
    free(text);
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

/* --- the tests ---------------------------------------------------------------- */

/* Two requests one after the other on one connection: each costs one read,
 * one write and one timer operation (breaks if the deadline is re-armed at
 * dispatch, or if a response is written in pieces). */
static void keep_alive(void **state)
{
    struct sock *s = connect_client();
    assert_true(s->reading);
    assert_int_equal(s->deadlines, 1); /* idle */
    for (unsigned i = 1; i <= 2; i++) {
        fake_send(s, GET("/hello"));
        fake_run(base);
        char *text = expect_responses(s, 1);
        assert_non_null(strstr(text, "HTTP/1.1 200 OK\r\n"));
        assert_null(strstr(text, "Connection: close"));
        assert_non_null(strstr(text, "\r\n\r\nhi"));
        assert_null(strstr(text, "twice"));
        free(text);
        assert_int_equal(s->reads, i);
        assert_int_equal(s->writes, i);
        assert_int_equal(s->deadlines, 1 + i);
    }
    assert_false(s->closed);
    assert_int_equal(stats.requests, 2);
    assert_int_equal(done_calls, 2);
}

/* Three requests in one read are answered in order in one write (breaks if
 * the batch flushes per response, or stops after the first request). */
static void pipelining(void **state)
{
    struct sock *s = connect_client();
    fake_send(s, GET("/hello") "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" GET(
                     "/nope"));
    fake_run(base);
    char *text = expect_responses(s, 3);
    const char *a = strstr(text, "200 OK"), *b = strstr(text, "\r\n\r\nabc"),
               *c = strstr(text, "404 Not Found");
    assert_true(a && b && c && a < b && b < c);
    free(text);
    assert_int_equal(s->writes, 1);

    /* A pending request holds the ones behind it, which then follow in order. */
    fake_send(s, GET("/pending") GET("/hello"));
    fake_run(base);
    assert_non_null(pending_req);
    free(expect_responses(s, 0));
    response_send(pending_req, 202, "text/plain", "later", 5);
    fake_run(base);
    text = expect_responses(s, 2);
    assert_true(strstr(text, "202 Accepted") < strstr(text, "200 OK"));
    free(text);
}

/* The peer reads nothing: answers pile up to max_output_bytes, then reading
 * stops; it resumes only once half is read (breaks without the throttle, or
 * with it lifted at once). */
static void backpressure(void **state)
{
    struct sock *s = connect_client();
    s->room = 0;
    for (int i = 0; i < 10; i++)
        fake_send(s, GET("/big"));
    fake_run(base);
    /* 3 x 64 KiB fit under 200 KiB; the 4th crosses it and is the last. */
    assert_int_equal(stats.requests, 4);
    assert_false(s->reading);
    assert_true(sock_pending(s) > MAX_OUT);

    fake_make_room(s, 100 * 1024); /* 156 KiB left: still over half */
    fake_run(base);
    assert_int_equal(stats.requests, 4);
    assert_false(s->reading);

    fake_make_room(s, 60 * 1024); /* under half: two more, the second crossing again */
    fake_run(base);
    assert_int_equal(stats.requests, 6);
    assert_false(s->reading);

    fake_make_room(s, SIZE_MAX);
    fake_run(base);
    assert_int_equal(stats.requests, 10);
    char *text = expect_responses(s, 10);
    free(text);
    assert_true(s->reading);
    assert_false(s->closed);
}

/* Pipelined bytes beyond one header block and body wait in the kernel while
 * a request is pending (breaks if reading ignores the input bound). */
static void input_bounded(void **state)
{
    struct sock *s = connect_client();
    fake_send(s, GET("/pending"));
    for (int i = 0; i < 3000; i++)
        fake_send(s, GET("/hello"));
    fake_run(base);
    assert_non_null(pending_req);
    assert_false(s->reading);
    size_t held = evbuffer_get_length(s->in);
    assert_true(held >= limits.max_header_bytes + limits.max_body_bytes);
    assert_true(held <= limits.max_header_bytes + limits.max_body_bytes + 2 * FAKE_READ_CHUNK);
    assert_true(evbuffer_get_length(s->inbox) > 0);
    response_send(pending_req, 200, "text/plain", "ok", 2);
    fake_run(base);
    free(expect_responses(s, 3001));
}

/* Idle keep-alive: closed, unanswered, exactly at the idle deadline. */
static void idle_deadline(void **state)
{
    struct sock *s = connect_client();
    fake_advance(base, IDLE_MS - 1);
    assert_false(s->closed);
    fake_advance(base, 1);
    assert_true(s->closed);
    free(expect_responses(s, 0));
    assert_int_equal(stats.open_connections, 0);
}

/* A client still reading its answers is not idle: while output waits, the
 * idle deadline does not cut it (the write timeout judges it), and once the
 * output is read it is idle again (breaks if the idle deadline closes a
 * connection with output pending: a slow reader cut at the idle timeout). */
static void slow_reader_is_not_idle(void **state)
{
    struct sock *s = connect_client();
    s->room = 0;
    fake_send(s, GET("/big"));
    fake_run(base);
    for (int i = 0; i < 4; i++) { /* 4 idle periods, a little read in each */
        fake_advance(base, IDLE_MS);
        assert_false(s->closed);
        fake_make_room(s, 1024);
        fake_run(base);
    }
    fake_make_room(s, SIZE_MAX);
    fake_run(base);
    free(expect_responses(s, 1));
    fake_advance(base, 2 * IDLE_MS);
    assert_true(s->closed);
}

/* The header deadline is a total from the first byte: bytes that trickle in
 * never push it back (breaks if every byte re-arms it: slowloris). */
static void header_deadline_is_total(void **state)
{
    struct sock *s = connect_client();
    const char *slow = "GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: 1\r\n";
    char one[2] = {0};
    one[0] = slow[0];
    fake_send(s, one);
    fake_run(base);
    unsigned armed = s->deadlines;
    for (size_t i = 1; slow[i]; i++) {
        fake_advance(base, 20);
        one[0] = slow[i];
        fake_send(s, one);
        fake_run(base);
    }
    assert_int_equal(s->deadlines, armed); /* not re-armed by a single byte */
    uint64_t elapsed = 20 * (strlen(slow) - 1);
    expect_408_after(s, HEADER_MS - elapsed, "headers took too long");
    assert_true(s->shut); /* then lingering */
    assert_int_equal(stats.parse_errors, 1);
}

/* The body is due header_timeout_ms after the headers (breaks if the body
 * state arms no deadline: a stalled upload holds the connection forever). */
static void body_deadline(void **state)
{
    struct sock *s = connect_client();
    fake_advance(base, 300);
    fake_send(s, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    fake_run(base);
    expect_408_after(s, HEADER_MS, "body took too long");
}

/* The client resets while its request is pending: the abort hook runs once,
 * the request is logged as 499, and a late answer is a no-op (breaks if
 * close forgets the hook, runs it twice, or lets a late answer write). */
static void abort_while_pending(void **state)
{
    struct sock *s = connect_client();
    fake_send(s, GET("/pending"));
    fake_run(base);
    struct request *req = pending_req;
    assert_non_null(req);
    fake_reset(s);
    assert_true(fake_deliver(s)); /* the reset alone, not the loop's later turn */
    assert_int_equal(aborts, 1);
    assert_true(s->closed);
    assert_int_equal(req->status, 499);
    assert_int_equal(done_calls, 1);
    /* Closed, not yet freed (a later loop turn): late answers do nothing. */
    response_send(req, 200, "text/plain", "late", 4);
    response_stream_begin(req, 200, "text/plain", true);
    assert_int_equal(evbuffer_get_length(s->out), 0);
    http1_close_all(&ctx); /* closing is idempotent */
    assert_int_equal(aborts, 1);
    fake_run(base); /* the reaper */
    assert_true(s->freed);
}

/* A half-closed client still gets the pending answer, then the connection
 * closes (breaks if EOF aborts the request, or keeps the connection). */
static void half_close_is_answered(void **state)
{
    struct sock *s = connect_client();
    fake_send(s, GET("/pending"));
    fake_send_fin(s);
    fake_run(base);
    assert_non_null(pending_req);
    assert_false(s->closed);
    answer_pending_closing(s);
    assert_true(s->closed);
    assert_int_equal(aborts, 0);
}

/* Connection: close: the answer says so, then FIN after it is written, then
 * input is dropped until the peer's EOF or the linger deadline (breaks if
 * the socket is shut before the answer is out, or closed with input unread). */
static void lingering_close(void **state)
{
    struct sock *s = connect_client();
    s->room = 10;
    fake_send(s, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    fake_run(base);
    assert_false(s->shut); /* the answer is still going out */
    fake_make_room(s, SIZE_MAX);
    fake_run(base);
    char *text = expect_responses(s, 1);
    assert_non_null(strstr(text, "Connection: close"));
    free(text);
    assert_true(s->shut);
    assert_false(s->closed);
    fake_send(s, GET("/hello")); /* read and dropped */
    fake_run(base);
    free(expect_responses(s, 0));
    assert_int_equal(evbuffer_get_length(s->in), 0);
    fake_send_fin(s);
    fake_run(base);
    assert_true(s->closed);

    /* A peer that never closes: the linger deadline does (2 s). */
    struct sock *t = connect_client();
    fake_send(t, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    fake_run(base);
    free(expect_responses(t, 1));
    fake_advance(base, 1999);
    assert_false(t->closed);
    fake_advance(base, 1);
    assert_true(t->closed);
}

/* Expect: 100-continue: the interim answer before the body is read; none
 * when the body came along (breaks if the 100 is dropped or sent twice). */
static void expect_continue(void **state)
{
    struct sock *s = connect_client();
    fake_send(
        s, "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    fake_run(base);
    char *text = fake_take(s);
    assert_string_equal(text, "HTTP/1.1 100 Continue\r\n\r\n");
    free(text);
    fake_send(s, "hello");
    fake_run(base);
    text = expect_responses(s, 1);
    assert_non_null(strstr(text, "\r\n\r\nhello"));
    free(text);
    fake_send(s, "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
                 "\r\nok");
    fake_run(base);
    text = expect_responses(s, 1);
    assert_null(strstr(text, "100 Continue"));
    free(text);
}

/* HEAD: the GET's headers and no body, and the connection goes on; a
 * streamed HEAD ends at once and never pulls (breaks if the body is sent). */
static void head_requests(void **state)
{
    struct sock *s = connect_client();
    fake_send(s,
              "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\nHEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n" GET(
                  "/hello"));
    fake_run(base);
    char *text = expect_responses(s, 3);
    assert_non_null(strstr(text, "Content-Length: 2\r\n"));
    assert_int_equal(count(text, "\r\n\r\nhi"), 1); /* only the GET's body */
    assert_null(strstr(text, "<00>"));
    free(text);
    assert_int_equal(proceeds + stops, 0);
}

/* A stream is pulled: it writes while the connection takes more, waits
 * when a write returns false, and proceed comes once the output is written
 * (breaks if proceed never comes, or comes while bytes still wait). It has
 * no deadline: the idle one does not cut it (issue 13). */
static void stream_proceeds(void **state)
{
    struct sock *s = stream_sock = connect_client();
    s->room = 2500; /* two chunks and a bit */
    fake_send(s, GET("/stream"));
    fake_run(base);
    /* Each write returned false (the first inside the request's batch), and
     * proceed followed each time its bytes had gone out, until one stuck. */
    unsigned first = stream.sent;
    assert_int_equal(first, proceeds + 1);
    assert_true(first >= 2 && first < 8);
    assert_true(sock_pending(s) > 0);
    fake_advance(base, IDLE_MS * 4);
    assert_false(s->closed);
    assert_int_equal(stream.sent, first); /* nothing more until the bytes go out */
    for (unsigned round = 0; stream.sent < 8 && round < 20; round++) {
        fake_make_room(s, 1500);
        fake_run(base);
    }
    fake_make_room(s, SIZE_MAX);
    fake_run(base);
    assert_int_equal(stream.sent, 8);
    assert_true(proceeds >= 3);
    char *text = expect_responses(s, 1);
    assert_non_null(strstr(text, "Transfer-Encoding: chunked"));
    const char *prev = text;
    for (unsigned i = 0; i < 8; i++) { /* every chunk, in order */
        char tag[8];
        snprintf(tag, sizeof(tag), "<%02u>", i);
        const char *at = strstr(prev, tag);
        assert_non_null(at);
        prev = at;
    }
    assert_non_null(strstr(text, "\r\n0\r\n\r\n"));
    free(text);
    assert_int_equal(stops, 0);
    /* The chunked stream ended: the connection serves the next request. */
    fake_send(s, GET("/hello"));
    fake_run(base);
    free(expect_responses(s, 1));
}

/* proceed answers a write that returned false, nothing else: not the head,
 * not a write that went out whole (breaks if the head makes one owed). */
static void stream_proceed_only_when_owed(void **state)
{
    struct sock *s = stream_sock = connect_client();
    fake_send(s, GET("/quiet"));
    fake_run(base);
    assert_int_equal(proceeds, 0);
    assert_true(response_stream_write(quiet_req, "late", 4)); /* outside a batch: all out */
    fake_run(base);
    assert_int_equal(proceeds, 0);
    s->room = 0;
    assert_false(response_stream_write(quiet_req, "more", 4));
    fake_run(base);
    assert_int_equal(proceeds, 0); /* its bytes still wait */
    fake_make_room(s, SIZE_MAX);
    fake_run(base);
    assert_int_equal(proceeds, 1); /* ended by the generator: stream.total is 0 */
    char *text = expect_responses(s, 1);
    assert_non_null(strstr(text, "4\r\nlate\r\n4\r\nmore\r\n0\r\n\r\n"));
    free(text);
}

/* The client leaves mid-stream: stop runs once, proceed never again (breaks
 * if close forgets the generator). */
static void stream_stops(void **state)
{
    struct sock *s = stream_sock = connect_client();
    s->room = 0;
    fake_send(s, GET("/stream"));
    fake_run(base);
    fake_reset(s);
    fake_run(base);
    assert_int_equal(stops, 1);
    assert_int_equal(proceeds, 0);
    assert_true(s->closed);
}

/* A stream the client reads nothing of is cut by the write timeout. */
static void stream_write_timeout(void **state)
{
    struct sock *s = connect_client();
    s->room = 0;
    fake_send(s, GET("/stream"));
    fake_run(base);
    fake_advance(base, WRITE_MS - 1);
    assert_false(s->closed);
    fake_advance(base, 1);
    assert_true(s->closed);
    assert_int_equal(stops, 1);
}

/* Headers that trickle for most of their deadline, then a stalled body: the
 * body gets a whole deadline of its own, counted from the end of the headers
 * (breaks if the HEAD -> BODY move arms nothing: the 408 comes at the
 * header deadline, worded as headers that took too long). */
static void body_deadline_after_slow_headers(void **state)
{
    struct sock *s = connect_client();
    const char *head = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n";
    size_t n = strlen(head);
    char one[2] = {0};
    unsigned pace = 600 / (unsigned)(n - 1); /* the headers take 600 of their 1,000 ms */
    for (size_t i = 0; i < n; i++) {
        if (i)
            fake_advance(base, pace);
        one[0] = head[i];
        fake_send(s, one);
        fake_run(base);
    }
    assert_true(pace * (n - 1) > HEADER_MS / 2);
    expect_408_after(s, HEADER_MS, "body took too long");
}

/* A body without framing ends with the connection: its head says so, also
 * to an HTTP/1.1 client that would keep the connection, and an HTTP/1.0
 * client is never sent chunked coding (breaks if an unframed body keeps the
 * connection, or if HTTP/1.0 gets Transfer-Encoding). */
static void unframed_streams_close(void **state)
{
    struct sock *s = connect_client();
    fake_send(s, GET("/unframed"));
    fake_run(base);
    char *text = fake_take(s);
    assert_non_null(strstr(text, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(text, "Connection: close\r\n"));
    assert_null(strstr(text, "Transfer-Encoding"));
    assert_null(strstr(text, "Content-Length"));
    assert_non_null(strstr(text, "\r\n\r\ndata: 1\n\n"));
    free(text);
    response_stream_end(unframed_req);
    fake_run(base);
    assert_true(s->shut);

    struct sock *t = stream_sock = connect_client();
    fake_send(t, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    fake_run(base);
    text = expect_responses(t, 1);
    assert_null(strstr(text, "Transfer-Encoding"));
    assert_non_null(strstr(text, "Connection: close\r\n"));
    assert_null(strstr(text, "Connection: keep-alive"));
    assert_non_null(strstr(text, "\r\n\r\n<00>"));
    assert_non_null(strstr(text, "<07>"));
    assert_null(strstr(text, "\r\n0\r\n\r\n")); /* no last chunk: the close ends it */
    free(text);
    assert_true(t->shut);
}

/* The response API's guards: headers too long for a line are dropped whole;
 * a long head is sent intact; a response that cannot be serialised is a 500;
 * a second answer, and stream writes after the end, do nothing (and memory
 * handed over is freed: ASan's leak check); a handler's own Retry-After
 * stands. */
static void response_edges(void **state)
{
    static const struct {
        const char *query;
        const char *has[3];   /* each must be in the response */
        const char *lacks[3]; /* none may be */
    } cases[] = {
        {"headers", {"X-Pad: 11-", "\r\n\r\nok"}, {"nnnn", "X-Const", "X-Formatted"}},
        {"null-json", {"HTTP/1.1 500 Internal Server Error\r\n", "\"status\":500"}, {NULL}},
        {"twice-json", {"201 Created", "{\"n\":1}\n"}, {"\"n\":2"}},
        {"stream-after-end", {"3\r\none\r\n0\r\n\r\n"}, {"late", "ref"}},
        {"retry-after", {"503 Service Unavailable", "Retry-After: 7\r\n"}, {"Retry-After: 1"}},
    };
    struct sock *s = connect_client();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char req[64];
        snprintf(req, sizeof(req), "GET /edge?%s HTTP/1.1\r\nHost: t\r\n\r\n", cases[i].query);
        fake_send(s, req);
        fake_run(base);
        char *text = expect_responses(s, 1);
        for (int k = 0; k < 3; k++) {
            if (cases[i].has[k] && !strstr(text, cases[i].has[k]))
                fail_msg("?%s: no \"%s\" in:\n%.600s", cases[i].query, cases[i].has[k], text);
            if (cases[i].lacks[k] && strstr(text, cases[i].lacks[k]))
                fail_msg("?%s: \"%s\" in:\n%.600s", cases[i].query, cases[i].lacks[k], text);
        }
        if (!strcmp(cases[i].query, "headers")) { /* the twelve that fit, in a head over 1 KiB */
            assert_int_equal(count(text, "X-Pad: "), 12);
            assert_true(strlen(text) > 1200);
        }
        free(text);
    }
    assert_int_equal(cleanups, 2); /* refused references are released at once */
    assert_false(s->closed);
}

/* Every status the engine can send has its RFC 9110 reason phrase (the
 * status line of each response reads it). */
static void reason_phrases(void **state)
{
    static const struct {
        int status;
        const char *reason;
    } want[] = {
        {100, "Continue"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {411, "Length Required"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {417, "Expectation Failed"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
        {299, "Unknown"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_string_equal(http_reason(want[i].status), want[i].reason);
}

/* Shutdown: an idle connection gets a short grace, then closes; a busy one
 * is answered with Connection: close (breaks if the drain cuts requests in
 * flight, or leaves idle connections open). */
static void drain(void **state)
{
    struct sock *idle = connect_client();
    struct sock *busy = connect_client();
    fake_send(busy, GET("/pending"));
    fake_run(base);
    http1_drain(&ctx);
    fake_advance(base, 499);
    assert_false(idle->closed);
    fake_advance(base, 1);
    assert_true(idle->closed);
    assert_false(busy->closed);
    answer_pending_closing(busy);
    assert_true(busy->shut);
}

/* A framing error is answered and closes the connection; nothing after it
 * is parsed (breaks if the connection keeps reading requests). */
static void reject_closes(void **state)
{
    struct sock *s = connect_client();
    fake_send(s, "GET /hello HTTP/1.1\r\nHost: a b\r\n\r\n" GET("/hello"));
    fake_run(base);
    char *text = expect_responses(s, 1);
    assert_non_null(strstr(text, "400 Bad Request"));
    free(text);
    assert_true(s->shut);
    assert_int_equal(stats.requests, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(keep_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(pipelining, setup, teardown),
        cmocka_unit_test_setup_teardown(backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(input_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(idle_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(slow_reader_is_not_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(header_deadline_is_total, setup, teardown),
        cmocka_unit_test_setup_teardown(body_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(abort_while_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(half_close_is_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(lingering_close, setup, teardown),
        cmocka_unit_test_setup_teardown(expect_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(head_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(stream_proceeds, setup, teardown),
        cmocka_unit_test_setup_teardown(stream_proceed_only_when_owed, setup, teardown),
        cmocka_unit_test_setup_teardown(stream_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(stream_write_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(body_deadline_after_slow_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(unframed_streams_close, setup, teardown),
        cmocka_unit_test_setup_teardown(response_edges, setup, teardown),
        cmocka_unit_test(reason_phrases),
        cmocka_unit_test_setup_teardown(drain, setup, teardown),
        cmocka_unit_test_setup_teardown(reject_closes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
