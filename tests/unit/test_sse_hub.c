/* The SSE hub's pure parts: event framing, batching with coalescing, the
 * Last-Event-ID ring. The socket side is tests/e2e/events.test.mjs.
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
#include <stdlib.h>
#include <string.h>

#include "server/loop_monitor.h"
#include "server/sse_hub.c"

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

    /* a skipped event (nobody listening) forgets the ring: resume resyncs */
    sse_hub_skip(hub);
    assert_int_equal(sse_hub_resume_count(hub, 6), -1);
    assert_int_equal(sse_hub_resume_count(hub, 7), 0);

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame),      cmocka_unit_test(test_ids_and_resume),
        cmocka_unit_test(test_coalescing), cmocka_unit_test(test_data_is_one_line),
        cmocka_unit_test(test_loop_lag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
