/* The SSE hub: event framing, batching with coalescing, the Last-Event-ID
 * ring -- and its subscribers as the engine pulls them, through the real
 * HTTP/1 connection over a fake socket (tests/unit/fake_socket.c, linked in
 * place of server/socket.c): no kernel buffer decides when a stalled reader
 * is cut, so the bounds are exact.
 *
 * The hub's source is included (h2o's way), so the tests read the framed
 * events in the ring, not only their byte count: the linker then takes the
 * hub from here, not from the library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "server/access_log.h"
#include "server/http1.h"
#include "server/loop_monitor.h"
#include "server/sse_hub.c"
#include "tests/unit/fake_socket.c"

/* The ring's events, oldest first, as one string the caller frees. */
static char *ring_text(const struct sse_hub *hub)
{
    size_t n = 0;
    for (unsigned i = 0; i < hub->ring_count; i++)
        n += ring_at(hub, i)->len;
    char *s = malloc(n + 1), *p = s;
    for (unsigned i = 0; i < hub->ring_count; i++) {
        memcpy(p, ring_at(hub, i)->data, ring_at(hub, i)->len);
        p += ring_at(hub, i)->len;
    }
    *p = '\0';
    return s;
}

static void test_frame(void **state)
{
    char buf[128];
    const char *data = "{\"a\":1}";
    size_t n = sse_frame(buf, sizeof(buf), 42, "order", data, strlen(data));
    assert_string_equal(buf, "id: 42\nevent: order\ndata: {\"a\":1}\n\n");
    assert_int_equal(n, strlen(buf));
    /* no id, no event name: a plain message */
    sse_frame(buf, sizeof(buf), 0, NULL, "1", 1);
    assert_string_equal(buf, "data: 1\n\n");
    /* too small: nothing written, the size needed returned (like snprintf) */
    char tiny[8] = "xxxxxxx";
    size_t need = sse_frame(tiny, sizeof(tiny), 42, "order", data, strlen(data));
    assert_int_equal(need, n);
    assert_string_equal(tiny, "xxxxxxx");
    assert_int_equal(sse_frame(NULL, 0, 42, "order", data, strlen(data)), n);
}

static struct sse_hub *hub_with_ring(struct event_base *base, unsigned ring)
{
    struct sse_hub_config cfg;
    sse_hub_config_default(&cfg);
    cfg.ring_size = ring;
    cfg.heartbeat_ms = 0;
    return sse_hub_new(base, &cfg);
}

static void test_ids_and_resume(void **state)
{
    struct event_base *base = event_base_new();
    struct sse_hub *hub = hub_with_ring(base, 4);
    struct sse_hub_stats st;

    assert_int_equal(sse_hub_resume_count(hub, 0), 0);  /* nothing sent, client up to date */
    assert_int_equal(sse_hub_resume_count(hub, 5), -1); /* from another server's life */
    for (int i = 0; i < 3; i++)
        sse_hub_publish(hub, "order", json_integer(i), 0);
    sse_hub_get_stats(hub, &st);
    assert_int_equal(st.last_id, 0);        /* still in the batching window */
    event_base_loop(base, EVLOOP_NONBLOCK); /* the window (0 ms) ends on the next turn */
    sse_hub_get_stats(hub, &st);
    assert_int_equal(st.last_id, 3);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.batches, 1);
    assert_int_equal(sse_hub_resume_count(hub, 3), 0);
    assert_int_equal(sse_hub_resume_count(hub, 1), 2);
    assert_int_equal(sse_hub_resume_count(hub, 0), 3);

    /* the ring keeps the last 4: after 6 events, id 1 and before are gone */
    sse_hub_publish(hub, "order", json_integer(3), 0);
    sse_hub_publish(hub, "order", json_integer(4), 0);
    sse_hub_publish(hub, "order", json_integer(5), 0);
    sse_hub_flush(hub);
    assert_int_equal(sse_hub_resume_count(hub, 2), 4);
    assert_int_equal(sse_hub_resume_count(hub, 1), -1);
    assert_int_equal(sse_hub_resume_count(hub, 0), -1);
    assert_int_equal(sse_hub_resume_count(hub, 7), -1);

    sse_hub_free(hub);
    event_base_free(base);
}

/* External ids (a shared log's entry ids): framed as given, an event without
 * one gets no id line, entries are never coalesced, a resume counts the ring
 * back to the newest id at most its own -- ordered part by part, so 10-0 is
 * after 9-5 -- and the origin covers what the ring does not hold until an
 * event leaves the ring (breaks if ids compare as text, or the origin
 * outlives the ring's first loss). */
static void test_external_ids(void **state)
{
    struct event_base *base = event_base_new();
    struct sse_hub_config cfg;
    sse_hub_config_default(&cfg);
    cfg.ring_size = 4;
    cfg.heartbeat_ms = 0;
    cfg.external_ids = true;
    struct sse_hub *hub = sse_hub_new(base, &cfg);
    assert_int_equal(sse_hub_resume_count_id(hub, "1-0"), -1); /* nothing yet */
    sse_hub_publish_id(hub, "order", json_integer(1), 0, "9-4");
    sse_hub_publish_id(hub, "order", json_integer(2), 0, "9-5");
    sse_hub_publish(hub, "stats", json_object(), 0);
    sse_hub_publish_id(hub, "order", json_integer(3), 0, "10-0");
    sse_hub_flush(hub);
    struct sse_hub_stats st;
    sse_hub_get_stats(hub, &st);
    assert_int_equal(st.events, 4);
    assert_int_equal(sse_hub_resume_count_id(hub, "10-0"), 0);
    assert_int_equal(sse_hub_resume_count_id(hub, "9-5"), 2); /* the stats and 10-0 */
    assert_int_equal(sse_hub_resume_count_id(hub, "9-9"), 2); /* between: after 9-5 */
    assert_int_equal(sse_hub_resume_count_id(hub, "9-4"), 3);
    assert_int_equal(sse_hub_resume_count_id(hub, "9-3"), -1); /* before the ring */
    assert_int_equal(sse_hub_resume_count_id(hub, "x"), -1);
    sse_hub_set_origin(hub, "9-0"); /* the ring covers everything since */
    assert_int_equal(sse_hub_resume_count_id(hub, "9-3"), 4);
    assert_int_equal(sse_hub_resume_count_id(hub, "8-9"), -1);
    sse_hub_publish_id(hub, "order", json_integer(4), 0, "10-1");
    sse_hub_flush(hub); /* a fifth event: 9-4 leaves the ring, and the origin with it */
    assert_int_equal(sse_hub_resume_count_id(hub, "9-3"), -1);
    assert_int_equal(sse_hub_resume_count_id(hub, "9-5"), 3);

    char buf[128];
    sse_frame_id(buf, sizeof(buf), "10-1", "order", "4", 1);
    assert_string_equal(buf, "id: 10-1\nevent: order\ndata: 4\n\n");
    sse_frame_id(buf, sizeof(buf), "", "stats", "{}", 2);
    assert_string_equal(buf, "event: stats\ndata: {}\n\n");
    sse_hub_free(hub);
    event_base_free(base);
}

static void test_coalescing(void **state)
{
    struct event_base *base = event_base_new();
    struct sse_hub *hub = hub_with_ring(base, 16);
    /* order 7 moves three times within one window: one event goes out */
    sse_hub_publish(hub, "order", json_pack("{s:i,s:s}", "id", 7, "status", "queued"), 7);
    sse_hub_publish(hub, "order", json_pack("{s:i,s:s}", "id", 8, "status", "queued"), 8);
    sse_hub_publish(hub, "order", json_pack("{s:i,s:s}", "id", 7, "status", "brewing"), 7);
    sse_hub_publish(hub, "stats", json_object(), 0);
    sse_hub_publish(hub, "order", json_pack("{s:i,s:s}", "id", 7, "status", "ready"), 7);
    sse_hub_flush(hub);
    struct sse_hub_stats st;
    sse_hub_get_stats(hub, &st);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.coalesced, 2);
    assert_int_equal(st.last_id, 3);
    /* order 7 keeps its first position with the newest data */
    const char *expect = "id: 1\nevent: order\ndata: {\"id\":7,\"status\":\"ready\"}\n\n"
                         "id: 2\nevent: order\ndata: {\"id\":8,\"status\":\"queued\"}\n\n"
                         "id: 3\nevent: stats\ndata: {}\n\n";
    char *got = ring_text(hub);
    assert_string_equal(got, expect);
    free(got);
    assert_int_equal(st.bytes, strlen(expect));
    /* after the window, the same key starts a new event */
    sse_hub_publish(hub, "order", json_pack("{s:i}", "id", 7), 7);
    sse_hub_flush(hub);
    sse_hub_get_stats(hub, &st);
    assert_int_equal(st.events, 4);
    assert_int_equal(st.coalesced, 2);
    sse_hub_free(hub);
    event_base_free(base);
}

static void test_data_is_one_line(void **state)
{
    struct event_base *base = event_base_new();
    struct sse_hub *hub = hub_with_ring(base, 4);
    /* a newline inside a string is escaped by the compact encoder */
    json_t *data = json_pack("{s:s, s:[i,i]}", "msg", "two\nlines", "xs", 1, 2);
    sse_hub_publish(hub, "note", data, 0);
    sse_hub_publish(hub, "nothing", NULL, 0);
    sse_hub_flush(hub);
    struct sse_hub_stats st;
    sse_hub_get_stats(hub, &st);
    const char *expect = "id: 1\nevent: note\ndata: {\"msg\":\"two\\nlines\",\"xs\":[1,2]}\n\n"
                         "id: 2\nevent: nothing\ndata: null\n\n";
    char *got = ring_text(hub);
    assert_string_equal(got, expect);
    free(got);
    assert_int_equal(st.bytes, strlen(expect));
    /* closed: publishing is a no-op that still releases the data */
    sse_hub_close(hub, "bye", json_object());
    sse_hub_publish(hub, "late", json_object(), 0);
    sse_hub_get_stats(hub, &st);
    assert_int_equal(st.events, 3);
    sse_hub_free(hub);
    event_base_free(base);
}

static void test_loop_lag(void **state)
{
    assert_int_equal(loop_lag_ns(1000, 100, 1100), 0);
    assert_int_equal(loop_lag_ns(1000, 100, 1050), 0); /* early: 0, never negative */
    assert_int_equal(loop_lag_ns(1000, 100, 3100), 2000);
}

/* --- subscribers, through the engine ------------------------------------------- */

static struct event_base *base;
static struct sse_hub *hub;
static struct server_limits limits;
static struct server_stats stats;
static struct http1_ctx ctx;
static int next_fd;

static enum handler_status on_events(struct request *req)
{
    return sse_hub_subscribe(hub, req) ? HANDLER_PENDING : HANDLER_DONE;
}

static const struct route routes[] = {{METHOD_GET, "/events", on_events, "/events", 0, 0}};
static const struct server_hooks hooks = {.routes = routes, .nroutes = 1};

#define MAX_BACKLOG 4096

static int stream_setup(void **state)
{
    access_log_enable(false);
    base = event_base_new();
    server_limits_default(&limits);
    memset(&stats, 0, sizeof(stats));
    http1_ctx_init(&ctx, base, &limits, &hooks, &stats);
    struct sse_hub_config cfg;
    sse_hub_config_default(&cfg);
    cfg.max_backlog = MAX_BACKLOG;
    cfg.ring_size = 8;
    cfg.heartbeat_ms = 0;
    cfg.retry_ms = 0;
    hub = sse_hub_new(base, &cfg);
    next_fd = 0;
    return 0;
}

static int stream_teardown(void **state)
{
    sse_hub_free(hub);
    http1_ctx_free(&ctx);
    event_base_free(base);
    assert_true(fake_forget());
    return 0;
}

/* A connection whose peer reads `room` bytes (its head is about 170) and has
 * sent GET /events. */
static struct sock *subscriber(size_t room, const char *extra_header)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = next_fd++;
    http1_accept(&ctx, fd, (struct sockaddr *)&sa);
    struct sock *s = fake_sock(fd);
    s->room = room;
    char req[256];
    snprintf(req, sizeof(req), "GET /events HTTP/1.1\r\nHost: t\r\n%s\r\n", extra_header);
    fake_send(s, req);
    fake_run(base);
    return s;
}

/* Publishes n events of about 200 bytes (ids continue from the hub's) and
 * lets the loop flush them. */
static void publish(unsigned n)
{
    char pad[180];
    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    for (unsigned i = 0; i < n; i++)
        sse_hub_publish(hub, "tick", json_pack("{s:s}", "pad", pad), 0);
    fake_run(base);
}

/* text is a whole stream whose "id: N" lines are first..last, each once, in
 * order. */
static void assert_ids(const char *text, uint64_t first, uint64_t last)
{
    assert_non_null(strstr(text, "text/event-stream"));
    assert_non_null(strstr(text, ": connected\n\n"));
    uint64_t want = first;
    for (const char *p = text; (p = strstr(p, "id: ")); p += 4)
        assert_int_equal(strtoull(p + 4, NULL, 10), want++);
    assert_int_equal(want, last + 1);
}

/* A reader that takes a little at a time gets every event exactly once, in
 * order, pulled on proceed from the shared list (breaks if events are lost
 * or doubled while it waits, or if it is never pulled). */
static void test_slow_reader_catches_up(void **state)
{
    struct sock *slow = subscriber(500, "");
    struct sock *fast = subscriber(SIZE_MAX, "");
    for (int round = 0; round < 10; round++) {
        publish(3); /* about 600 bytes: more than slow takes in a round */
        fake_make_room(slow, 300);
        fake_run(base);
        /* what waits for it is one batch at most: the rest is shared */
        assert_true(sock_pending(slow) <= 3 * 220);
    }
    struct sse_hub_stats st;
    sse_hub_get_stats(hub, &st);
    assert_int_equal(st.cut, 0);
    fake_make_room(slow, SIZE_MAX);
    fake_run(base);
    for (struct sock *s = slow; s; s = s == slow ? fast : NULL) {
        char *text = fake_take(s);
        assert_ids(text, 1, 30);
        free(text);
    }
    /* caught up: the list is back to the resume ring */
    assert_int_equal(hub->nevents, 8);
}

/* A reader that takes nothing is cut once it is over max_backlog behind,
 * and what the hub keeps stays bounded; the others stream on (breaks if the
 * cut is gone or counted from the wrong place). */
static void test_stalled_reader_is_cut(void **state)
{
    struct sock *stalled = subscriber(0, "");
    struct sock *fine = subscriber(SIZE_MAX, "");
    unsigned published = 0;
    struct sse_hub_stats st;
    do {
        publish(1);
        published++;
        sse_hub_get_stats(hub, &st);
        /* lag counted before each batch: never more than max_backlog + one */
        assert_true(hub->nevents <= 8 + MAX_BACKLOG / 150 + 1);
    } while (!st.cut && published < 100);
    assert_int_equal(st.cut, 1);
    /* cut within one event of the bound (each is ~200 bytes framed) */
    uint64_t lag = st.bytes - (st.bytes / published) * 2; /* all but the first and this one */
    assert_true(lag > MAX_BACKLOG - 250 && lag <= MAX_BACKLOG + 250);
    assert_int_equal(st.subscribers, 1);
    assert_false(stalled->closed); /* its stream ended: the rest is flushed, then closed */
    fake_advance(base, limits.write_timeout_ms);
    assert_true(stalled->closed);
    publish(2);
    assert_int_equal(hub->nevents, 8); /* nobody lags: only the ring is kept */
    char *text = fake_take(fine);
    assert_ids(text, 1, published + 2);
    free(text);
}

/* Last-Event-ID replays from the ring as the connection takes it. */
/* What the connection has not sent counts as held: a batch handed to a
 * reader that takes nothing, then single events, are cut once together they
 * pass max_backlog (breaks if only the events after the cursor count: the
 * cut then waits for another whole max_backlog of them). */
static void test_unsent_batch_counts_as_held(void **state)
{
    struct sock *stalled = subscriber(SIZE_MAX, ""); /* it takes the head... */
    stalled->room = 0;                               /* ...and nothing after it */
    publish(15); /* one batch of ~3 KB, handed to the connection, not taken */
    struct sse_hub_stats st;
    sse_hub_get_stats(hub, &st);
    uint64_t batch = st.bytes, one = batch / 15;
    unsigned singles = 0;
    do {
        publish(1);
        singles++;
        sse_hub_get_stats(hub, &st);
    } while (!st.cut && singles < 100);
    assert_int_equal(st.cut, 1);
    /* cut by the single that found the batch and the singles before it past
     * the bound */
    unsigned room = (unsigned)((MAX_BACKLOG - batch) / one);
    assert_true(singles >= room && singles <= room + 2);
    fake_advance(base, limits.write_timeout_ms);
    assert_true(stalled->closed);
}

static void test_resume_is_pulled(void **state)
{
    publish(6);
    struct sock *s = subscriber(400, "Last-Event-ID: 2\r\n");
    fake_run(base);
    for (int i = 0; i < 10; i++) {
        fake_make_room(s, 250);
        fake_run(base);
    }
    char *text = fake_take(s);
    assert_ids(text, 3, 6);
    free(text);
}

/* Closing the hub gives each subscriber what it is owed, then ends it. */
static void test_close_delivers(void **state)
{
    struct sock *s = subscriber(0, "");
    publish(3);
    sse_hub_close(hub, "bye", json_object());
    fake_make_room(s, SIZE_MAX);
    fake_run(base);
    char *text = fake_take(s);
    assert_ids(text, 1, 4);
    assert_non_null(strstr(text, "event: bye"));
    free(text);
    assert_true(s->shut); /* an unframed body ends with the connection */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_ids_and_resume),
        cmocka_unit_test(test_external_ids),
        cmocka_unit_test(test_coalescing),
        cmocka_unit_test(test_data_is_one_line),
        cmocka_unit_test(test_loop_lag),
        cmocka_unit_test_setup_teardown(test_slow_reader_catches_up, stream_setup, stream_teardown),
        cmocka_unit_test_setup_teardown(test_stalled_reader_is_cut, stream_setup, stream_teardown),
        cmocka_unit_test_setup_teardown(test_unsent_batch_counts_as_held, stream_setup,
                                        stream_teardown),
        cmocka_unit_test_setup_teardown(test_resume_is_pulled, stream_setup, stream_teardown),
        cmocka_unit_test_setup_teardown(test_close_delivers, stream_setup, stream_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
