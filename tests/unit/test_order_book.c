/* The order book: consecutive ids, O(1) lookup, eviction of the oldest so
 * memory stays bounded however many orders pass (even while the evicted ones
 * still brew), newest-first listing, admission limits, cancellation verdicts
 * and the order's JSON face. No sockets; the loop runs only to finish brews. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "base/log.h"
#include "base/xmalloc.h"
#include "cafe/cafe.h"
#include "tests/lib/cafe_sync.h"

struct fixture {
    struct event_base *base;
    struct menu *menu;
    struct cafe *cafe;
};

static struct fixture *fixture_new(unsigned max_orders, unsigned max_brews, double scale)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    struct cafe_config cfg = {.time_scale = scale,
                              .baristas = 1,
                              .max_orders = max_orders,
                              .max_brews = max_brews,
                              .max_queue = 10};
    f->base = event_base_new();
    f->menu = menu_builtin();
    f->cafe = cafe_new(f->base, f->menu, &cfg);
    return f;
}

static void fixture_free(struct fixture *f)
{
    cafe_free(f->cafe);
    menu_free(f->menu);
    event_base_free(f->base);
    free(f);
}

static struct order *place_mode(struct fixture *f, const char *item, enum brew_mode mode)
{
    struct order_spec spec = {
        .item = menu_find_item(f->menu, item), .mode = mode, .timeout_ms = -1};
    struct order *o = NULL;
    assert_int_equal(cafe_order_place(f->cafe, &spec, &o), CAFE_OK);
    return o;
}

static struct order *place(struct fixture *f, const char *item, const char *customer)
{
    struct order_spec spec = {.item = menu_find_item(f->menu, item),
                              .customer = customer,
                              .mode = MODE_ASYNC,
                              .timeout_ms = -1};
    struct order *o = NULL;
    assert_int_equal(cafe_order_place(f->cafe, &spec, &o), CAFE_OK);
    return o;
}

static unsigned in_flight(struct fixture *f)
{
    struct cafe_stats st;
    cafe_stats(f->cafe, &st);
    return st.in_flight[MODE_SYNC] + st.in_flight[MODE_ASYNC] + st.in_flight[MODE_THREAD];
}

/* Runs the loop until nothing is in flight (brews at a tiny time scale). */
static void drain(struct fixture *f)
{
    for (int i = 0; i < 100000 && in_flight(f); i++)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_int_equal(in_flight(f), 0);
}

static void ids_lookup_and_eviction(void **state)
{
    struct fixture *f = fixture_new(3, 100, 1e-6);
    struct order *o[5];
    for (int i = 0; i < 5; i++)
        o[i] = place(f, "latte", NULL);
    for (int i = 0; i < 5; i++)
        assert_int_equal(o[i]->id, i + 1);
    /* ids 1 and 2 were evicted from the book; the newest three remain */
    assert_null(cafe_order_find(f->cafe, 1));
    assert_null(cafe_order_find(f->cafe, 2));
    assert_ptr_equal(cafe_order_find(f->cafe, 3), o[2]);
    assert_ptr_equal(cafe_order_find(f->cafe, 5), o[4]);
    assert_null(cafe_order_find(f->cafe, 0));
    assert_null(cafe_order_find(f->cafe, 6));
    assert_null(cafe_order_find(f->cafe, UINT64_MAX));
    /* the evicted ones are still brewing and finish normally */
    assert_int_equal(in_flight(f), 5);
    drain(f);
    struct cafe_stats st;
    cafe_stats(f->cafe, &st);
    assert_int_equal(st.live[ORDER_READY], 3); /* the evicted two are gone from memory */
    assert_int_equal(st.finished[MODE_ASYNC][ORDER_READY], 5);
    assert_int_equal(st.placed[MODE_ASYNC], 5);
    fixture_free(f);
}

static void millions_stay_bounded(void **state)
{
    /* 200,000 orders through a book of 64: live orders never exceed the book
     * plus what is in flight (ASan/valgrind check nothing leaks). */
    struct fixture *f = fixture_new(64, 1000, 1e-7);
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 1000; i++)
            place(f, i % 2 ? "drip" : "latte", "someone with a name");
        drain(f);
        struct cafe_stats st;
        cafe_stats(f->cafe, &st);
        unsigned live = 0;
        for (int s = 0; s < ORDER_NSTATUSES; s++)
            live += st.live[s];
        assert_int_equal(live, 64);
    }
    assert_non_null(cafe_order_find(f->cafe, 200000));
    assert_null(cafe_order_find(f->cafe, 200000 - 64));
    fixture_free(f);
}

struct collected {
    uint64_t ids[16];
    unsigned n;
};

static void collect(struct order *o, void *arg)
{
    struct collected *c = arg;
    c->ids[c->n++] = o->id;
}

static void listing_newest_first(void **state)
{
    struct fixture *f = fixture_new(10, 100, 1e-6);
    for (int i = 0; i < 4; i++)
        place(f, "latte", NULL);
    drain(f);
    struct order *b = place_mode(f, "mocha", MODE_SYNC); /* id 5, queued for the loop */
    struct order *c = place(f, "mocha", NULL);           /* id 6, cancelled */
    assert_int_equal(cafe_order_cancel(f->cafe, c), CANCEL_DONE);

    struct collected all = {0}, ready = {0}, queued = {0}, two = {0};
    assert_int_equal(cafe_orders_each(f->cafe, -1, 100, collect, &all), 6);
    assert_int_equal(all.ids[0], 6);
    assert_int_equal(all.ids[5], 1);
    assert_int_equal(cafe_orders_each(f->cafe, ORDER_READY, 100, collect, &ready), 4);
    assert_int_equal(cafe_orders_each(f->cafe, ORDER_BREWING, 100, collect, &queued), 0);
    assert_int_equal(ready.ids[0], 4);
    assert_int_equal(cafe_orders_each(f->cafe, ORDER_QUEUED, 100, collect, &queued), 1);
    assert_int_equal(queued.ids[0], b->id);
    assert_int_equal(cafe_orders_each(f->cafe, -1, 2, collect, &two), 2);
    assert_int_equal(two.ids[1], 5);
    fixture_free(f);
}

static void admission_and_cancel_verdicts(void **state)
{
    struct fixture *f = fixture_new(10, 2, 1e-6);
    struct order *a = place(f, "latte", NULL);
    place(f, "latte", NULL);
    struct order_spec spec = {.item = &f->menu->items[0], .mode = MODE_SYNC, .timeout_ms = -1};
    struct order *o = NULL;
    assert_int_equal(cafe_admit(f->cafe, MODE_SYNC, 1), CAFE_BUSY);
    assert_int_equal(cafe_order_place(f->cafe, &spec, &o), CAFE_BUSY);
    assert_null(o);
    assert_int_equal(cafe_order_cancel(f->cafe, a), CANCEL_DONE);
    assert_int_equal(cafe_order_cancel(f->cafe, a), CANCEL_ALREADY);
    assert_int_equal(cafe_admit(f->cafe, MODE_SYNC, 1), CAFE_OK);
    assert_int_equal(cafe_admit(f->cafe, MODE_SYNC, 2), CAFE_BUSY); /* a batch is all or none */
    drain(f);
    assert_int_equal(cafe_order_cancel(f->cafe, cafe_order_find(f->cafe, 2)), CANCEL_FINISHED);
    cafe_drain(f->cafe);
    assert_true(cafe_draining(f->cafe));
    assert_int_equal(cafe_admit(f->cafe, MODE_ASYNC, 1), CAFE_CLOSED);
    struct cafe_stats st;
    cafe_stats(f->cafe, &st);
    assert_int_equal(st.refused, 1);
    fixture_free(f);
}

static void order_json_and_message(void **state)
{
    struct fixture *f = fixture_new(10, 10, 1e-6);
    struct order_spec spec = {.item = menu_find_item(f->menu, "latte"),
                              .flavour = menu_find_flavour(f->menu, "vanilla"),
                              .customer = "Ana",
                              .mode = MODE_THREAD,
                              .timeout_ms = -1};
    struct order *o = NULL;
    assert_int_equal(cafe_order_place(f->cafe, &spec, &o), CAFE_OK);
    char msg[128];
    /* thread mode starts the timer at once */
    assert_string_equal(order_message(o, msg, sizeof(msg)), "Your vanilla latte is being made.");
    struct order *q = place_mode(f, "mocha", MODE_SYNC); /* waits for the loop */
    assert_string_equal(order_message(q, msg, sizeof(msg)), "Your mocha is queued.");
    json_t *j = order_to_json(q);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "queued");
    assert_true(json_is_null(json_object_get(json_object_get(j, "times"), "started")));
    json_decref(j);
    drain(f);
    j = order_to_json(o);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(strstr(text, "\"customer\":\"Ana\""));
    assert_non_null(strstr(text, "\"flavour\":\"vanilla\""));
    assert_non_null(strstr(text, "\"mode\":\"thread\""));
    assert_non_null(strstr(text, "\"message\":\"Your vanilla latte is ready, enjoy!\""));
    assert_non_null(strstr(text, "\"kind\":\"wait\""));
    assert_non_null(strstr(text, "\"status\":\"done\""));
    assert_null(strstr(text, "\"reason\""));
    assert_true(json_is_integer(json_object_get(json_object_get(j, "times"), "ready")));
    free(text);
    json_decref(j);

    struct order *plain = place(f, "lunch", NULL);
    cafe_order_cancel(f->cafe, plain);
    assert_string_equal(order_message(plain, msg, sizeof(msg)),
                        "Your lunch was cancelled (cancelled).");
    j = order_to_json(plain);
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "cancelled");
    assert_true(json_is_null(json_object_get(j, "flavour")));
    json_decref(j);
    fixture_free(f);
}

static void names_parse_both_ways(void **state)
{
    assert_int_equal(brew_mode_parse("Thread"), MODE_THREAD);
    assert_int_equal(brew_mode_parse("turbo"), -1);
    assert_int_equal(brew_mode_parse(NULL), -1);
    assert_string_equal(brew_mode_name(MODE_SYNC), "sync");
    assert_int_equal(order_status_parse("READY"), ORDER_READY);
    assert_int_equal(order_status_parse("done"), -1);
    assert_string_equal(order_status_name(ORDER_CANCELLED), "cancelled");
    assert_string_equal(cafe_event_name(CAFE_STEP_DONE), "step_done");
}

int main(void)
{
    log_init(LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_lookup_and_eviction), cmocka_unit_test(millions_stay_bounded),
        cmocka_unit_test(listing_newest_first),    cmocka_unit_test(admission_and_cancel_verdicts),
        cmocka_unit_test(order_json_and_message),  cmocka_unit_test(names_parse_both_ways),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
