/* The order input decoder (handlers/order_input.h) without a server: JSON vs
 * form vs query, case-insensitive names, the customer's UTF-8 and length
 * bound, the batch's mode, size and the index of its bad order, the query
 * integers, and every refusal with its status, sentence and extra members. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "handlers/order_input.h"

static struct menu *menu;
static struct arena arena;

static int setup(void **state)
{
    menu = menu_builtin();
    arena_init(&arena);
    return 0;
}

static int teardown(void **state)
{
    arena_reset(&arena);
    menu_free(menu);
    return 0;
}

/* An input with a body, a Content-Type (NULL: none) and a query string. */
static struct order_input input(const char *body, const char *type, const char *query)
{
    return (struct order_input){
        .body = body,
        .body_len = strlen(body),
        .content_type = type,
        .query = query,
        .arena = &arena,
    };
}

#define FORM "application/x-www-form-urlencoded"

/* Decodes one order that must be accepted. */
static struct order_spec one_ok(const char *body, const char *type, const char *query)
{
    struct order_input in = input(body, type, query);
    struct order_spec spec;
    struct input_error e = {0};
    int rc = order_input_one(&in, menu, MODE_SYNC, &spec, &e);
    if (rc != 0)
        fail_msg("refused (%d): %s", e.status, e.detail);
    assert_null(e.extra);
    assert_int_equal(spec.mode, MODE_SYNC);
    return spec;
}

/* Decodes one order that must be refused with status and a detail that
 * contains want; returns the error (the caller clears it). */
static struct input_error one_refused(const char *body, const char *type, const char *query,
                                      int status, const char *want)
{
    struct order_input in = input(body, type, query);
    struct order_spec spec;
    struct input_error e = {0};
    assert_int_equal(order_input_one(&in, menu, MODE_ASYNC, &spec, &e), -1);
    assert_int_equal(e.status, status);
    if (!strstr(e.detail, want))
        fail_msg("detail \"%s\" lacks \"%s\"", e.detail, want);
    return e;
}

static void refused_plain(const char *body, const char *type, const char *query, int status,
                          const char *want)
{
    struct input_error e = one_refused(body, type, query, status, want);
    assert_null(e.extra);
    input_error_clear(&e);
}

static void json_order_with_every_field(void **state)
{
    struct order_spec s =
        one_ok("{\"item\":\"latte\",\"flavour\":\"vanilla\",\"customer\":\"Ana\"}", NULL, "");
    assert_string_equal(s.item->name, "latte");
    assert_string_equal(s.flavour, "vanilla");
    assert_string_equal(s.customer, "Ana");
    assert_true(s.timeout_ms == -1);
}

static void names_match_case_insensitively_and_keep_the_menu_spelling(void **state)
{
    struct order_spec s = one_ok("{\"item\":\"FLAT White\",\"flavour\":\"ChOcOlAtE\"}", NULL, "");
    assert_ptr_equal(s.item, menu_find_item(menu, "flat white"));
    assert_ptr_equal(s.flavour, menu->flavours[1]); /* the menu's own string */
    s = one_ok("item=MOCHA&flavour=CARAMEL", FORM, "");
    assert_string_equal(s.item->name, "mocha");
    assert_string_equal(s.flavour, "caramel");
}

static void json_is_read_whatever_the_content_type(void **state)
{
    /* curl -d sends a form type; a body that starts like JSON is JSON. */
    assert_string_equal(one_ok(" \r\n{\"item\":\"drip\"}", FORM, "").item->name, "drip");
    /* A JSON type makes a form body malformed JSON, not a form. */
    struct input_error e = one_refused("item=latte", "application/json", "", 400, "malformed JSON");
    assert_non_null(json_object_get(e.extra, "line"));
    assert_non_null(json_object_get(e.extra, "column"));
    input_error_clear(&e);
    assert_null(e.extra);
}

static void form_body_then_query_string(void **state)
{
    struct order_spec s = one_ok("item=pourover&customer=Ana+B%C3%A9", FORM, "item=mocha");
    assert_string_equal(s.item->name, "pourover"); /* the body wins over the query */
    assert_string_equal(s.customer, "Ana B\xc3\xa9");
    s = one_ok("", NULL, "item=lunch&flavour=pistachio&customer=Bo");
    assert_string_equal(s.item->name, "lunch");
    assert_string_equal(s.flavour, "pistachio");
    assert_string_equal(s.customer, "Bo");
    /* A JSON body's missing fields come from the query string. */
    s = one_ok("{\"customer\":\"Cy\",\"flavour\":null}", NULL, "item=cappuccino&flavour=vanilla");
    assert_string_equal(s.item->name, "cappuccino");
    assert_string_equal(s.flavour, "vanilla");
    assert_string_equal(s.customer, "Cy");
}

static void empty_flavour_and_customer_mean_none(void **state)
{
    struct order_spec s =
        one_ok("{\"item\":\"latte\",\"flavour\":\"\",\"customer\":\"\"}", NULL, "");
    assert_null(s.flavour);
    assert_null(s.customer);
    s = one_ok("", NULL, "item=latte&flavour=&customer=");
    assert_null(s.flavour);
    assert_null(s.customer);
}

static void malformed_json_is_400_wrong_shape_is_422(void **state)
{
    struct input_error e = one_refused("{\"item\":", NULL, "", 400, "malformed JSON: ");
    input_error_clear(&e);
    /* Duplicate members are rejected by the parser (JSON_REJECT_DUPLICATES). */
    e = one_refused("{\"item\":\"latte\",\"item\":\"mocha\"}", NULL, "", 400, "malformed JSON");
    input_error_clear(&e);
    refused_plain("\"latte\"", NULL, "", 422, "the body must be a JSON object");
    refused_plain("[{\"item\":\"latte\"}]", NULL, "", 422, "the body must be a JSON object");
    refused_plain("42", "application/json", "", 422, "the body must be a JSON object");
    refused_plain("{\"item\":\"latte\",\"size\":\"L\"}", NULL, "", 422,
                  "unknown member \"size\"; an order has item, flavour, customer");
    refused_plain("{\"item\":5}", NULL, "", 422, "item must be a string");
    refused_plain("{\"item\":\"latte\",\"customer\":[]}", NULL, "", 422,
                  "customer must be a string");
}

static void missing_or_unknown_item_lists_the_items(void **state)
{
    const char *all = "latte, cappuccino, flat white, mocha, pourover, drip, lunch";
    char want[160];
    snprintf(want, sizeof(want), "an order needs an item: one of %s", all);
    struct input_error e = one_refused("{\"flavour\":\"vanilla\"}", NULL, "", 422, want);
    json_t *items = json_object_get(e.extra, "items");
    assert_int_equal(json_array_size(items), 7);
    assert_string_equal(json_string_value(json_array_get(items, 6)), "lunch");
    input_error_clear(&e);
    e = one_refused("", NULL, "item=", 422, "an order needs an item");
    input_error_clear(&e);
    snprintf(want, sizeof(want), "unknown item \"tea\"; the menu has %s", all);
    e = one_refused("item=tea", FORM, "", 422, want);
    assert_int_equal(json_array_size(json_object_get(e.extra, "items")), 7);
    input_error_clear(&e);
}

static void unknown_flavour_lists_the_flavours(void **state)
{
    struct input_error e =
        one_refused("{\"item\":\"latte\",\"flavour\":\"mint\"}", NULL, "", 422,
                    "unknown flavour \"mint\"; choose vanilla, chocolate, pistachio, caramel "
                    "(or none)");
    json_t *fl = json_object_get(e.extra, "flavours");
    assert_int_equal(json_array_size(fl), 4);
    assert_string_equal(json_string_value(json_array_get(fl, 0)), "vanilla");
    input_error_clear(&e);
}

static void customer_is_utf8_of_at_most_100_bytes(void **state)
{
    char body[256], name[128];
    memset(name, 'a', 100);
    name[100] = '\0';
    snprintf(body, sizeof(body), "{\"item\":\"latte\",\"customer\":\"%s\"}", name);
    assert_int_equal(strlen(one_ok(body, NULL, "").customer), 100);
    name[100] = 'a';
    name[101] = '\0';
    snprintf(body, sizeof(body), "{\"item\":\"latte\",\"customer\":\"%s\"}", name);
    const char *want = "customer must be UTF-8 text of at most 100 bytes";
    refused_plain(body, NULL, "", 422, want);
    /* 50 two-byte characters are 100 bytes; 51 are too many. */
    char utf[512] = "customer=";
    for (int i = 0; i < 50; i++)
        strcat(utf, "%C3%A9");
    strcat(utf, "&item=latte");
    assert_int_equal(strlen(one_ok(utf, FORM, "").customer), 100);
    refused_plain("", NULL, "item=latte&customer=%C3%A9%C3", 422, want); /* cut in a character */
    refused_plain("item=latte&customer=%FF", FORM, "", 422, want);
    refused_plain("", NULL, "item=latte&customer=%C0%AF", 422, want); /* overlong '/' */
    assert_string_equal(
        one_ok("{\"item\":\"latte\",\"customer\":\"Zo\\u00eb\"}", NULL, "").customer, "Zo\xc3\xab");
}

static void customer_outlives_the_json_it_came_from(void **state)
{
    char body[] = "{\"item\":\"latte\",\"customer\":\"Dee\"}";
    struct order_spec s = one_ok(body, NULL, "");
    memset(body, 'x', sizeof(body) - 1); /* the decoder kept no pointer into its input */
    assert_string_equal(s.customer, "Dee");
}

static void timeout_ms_is_a_whole_number_up_to_a_day(void **state)
{
    assert_true(one_ok("", NULL, "item=latte&timeout_ms=250").timeout_ms == 250);
    assert_true(one_ok("", NULL, "item=latte&timeout_ms=0").timeout_ms == 0);
    assert_true(one_ok("", NULL, "item=latte&timeout_ms=86400000").timeout_ms == 86400000);
    const char *want = "timeout_ms must be a whole number from 0 to 86400000";
    /* "+5" is " 5" in a query string; strtoll() alone would take both. */
    const char *bad[] = {
        "86400001", "-1", "+5", "%2B5", "%205", "", "1.5", "5ms", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char q[64];
        snprintf(q, sizeof(q), "item=latte&timeout_ms=%s", bad[i]);
        refused_plain("", NULL, q, 422, want);
    }
    /* The body is judged first. */
    struct input_error e = one_refused("", NULL, "item=tea&timeout_ms=x", 422, "unknown item");
    input_error_clear(&e);
}

/* ?time_scale=S sets the order's own scale, 0.001 to 1; absent, 0 (the
 * café's). A batch takes it for every order. */
static void time_scale_is_bounded_and_reaches_every_order(void **state)
{
    assert_true(one_ok("", NULL, "item=latte").time_scale == 0);
    assert_true(one_ok("", NULL, "item=latte&time_scale=0.2").time_scale == 0.2);
    assert_true(one_ok("", NULL, "item=latte&time_scale=0.001").time_scale == 0.001);
    assert_true(one_ok("", NULL, "item=latte&time_scale=1").time_scale == 1.0);
    const char *bad[] = {"0", "0.0009", "1.01", "-0.5", "", "nan", "inf", "0.2s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char q[64];
        snprintf(q, sizeof(q), "item=latte&time_scale=%s", bad[i]);
        refused_plain("", NULL, q, 422, "time_scale must be a number from 0.001 to 1");
    }
    unsigned n = 0;
    struct input_error e = {0};
    struct order_input in = input("{\"orders\":[{\"item\":\"latte\"},{\"item\":\"drip\"}]}",
                                  "application/json", "time_scale=0.5");
    struct order_spec *s = order_input_batch(&in, menu, 100, &n, &e);
    assert_non_null(s);
    assert_int_equal(n, 2);
    assert_true(s[0].time_scale == 0.5 && s[1].time_scale == 0.5);
}

/* --- batches --------------------------------------------------------------- */

static struct order_spec *batch(const char *body, const char *query, unsigned max, unsigned *n,
                                struct input_error *e)
{
    struct order_input in = input(body, "application/json", query);
    *n = 0;
    return order_input_batch(&in, menu, max, n, e);
}

static void batch_refused(const char *body, const char *query, unsigned max, int status,
                          const char *want)
{
    unsigned n;
    struct input_error e = {0};
    assert_null(batch(body, query, max, &n, &e));
    assert_int_equal(e.status, status);
    if (!strstr(e.detail, want))
        fail_msg("detail \"%s\" lacks \"%s\"", e.detail, want);
    input_error_clear(&e);
}

static void batch_of_three_in_one_mode(void **state)
{
    unsigned n;
    struct input_error e = {0};
    struct order_spec *s =
        batch("{\"mode\":\"THREAD\",\"orders\":[{\"item\":\"latte\"},{\"item\":\"drip\","
              "\"flavour\":\"Caramel\"},{\"item\":\"lunch\",\"customer\":\"Eve\"}]}",
              "timeout_ms=900", 100, &n, &e);
    assert_non_null(s);
    assert_int_equal(n, 3);
    const char *items[] = {"latte", "drip", "lunch"};
    for (unsigned i = 0; i < 3; i++) {
        assert_string_equal(s[i].item->name, items[i]);
        assert_int_equal(s[i].mode, MODE_THREAD);
        assert_true(s[i].timeout_ms == 900);
    }
    assert_string_equal(s[1].flavour, "caramel");
    assert_string_equal(s[2].customer, "Eve");
    assert_null(s[0].customer);
}

static void batch_mode_from_the_body_the_query_or_async(void **state)
{
    unsigned n;
    struct input_error e = {0};
    const char *one = "{\"orders\":[{\"item\":\"latte\"}]}";
    assert_int_equal(batch(one, "", 100, &n, &e)->mode, MODE_ASYNC);
    assert_int_equal(batch(one, "mode=sync", 100, &n, &e)->mode, MODE_SYNC);
    assert_int_equal(
        batch("{\"mode\":\"thread\",\"orders\":[{\"item\":\"latte\"}]}", "mode=sync", 100, &n, &e)
            ->mode,
        MODE_THREAD); /* the body wins */
    const char *want = "mode must be sync, async or thread";
    batch_refused(one, "mode=turbo", 100, 422, want);
    batch_refused("{\"mode\":\"fast\",\"orders\":[{\"item\":\"latte\"}]}", "", 100, 422, want);
    batch_refused("{\"mode\":1,\"orders\":[{\"item\":\"latte\"}]}", "", 100, 422, want);
}

static void batch_size_is_one_to_max_batch(void **state)
{
    char body[4096] = "{\"orders\":[";
    for (int i = 0; i < 5; i++)
        strcat(body, i ? ",{\"item\":\"mocha\"}" : "{\"item\":\"mocha\"}");
    strcat(body, "]}");
    unsigned n;
    struct input_error e = {0};
    assert_non_null(batch(body, "", 5, &n, &e));
    assert_int_equal(n, 5);
    batch_refused(body, "", 4, 422, "orders must be an array of 1 to 4 orders");
    batch_refused("{\"orders\":[]}", "", 100, 422, "orders must be an array of 1 to 100 orders");
    batch_refused("{\"orders\":{\"item\":\"latte\"}}", "", 100, 422, "orders must be an array");
    batch_refused("{\"mode\":\"async\"}", "", 100, 422, "orders must be an array");
}

static void batch_shape_and_syntax(void **state)
{
    batch_refused("", "", 100, 422,
                  "a batch is a JSON body {\"orders\":[...], \"mode\":\"async\"}");
    batch_refused("{\"orders\":[", "", 100, 400, "malformed JSON");
    batch_refused("[{\"item\":\"latte\"}]", "", 100, 422, "the body must be a JSON object");
    batch_refused("{\"orders\":[{\"item\":\"latte\"}],\"rush\":true}", "", 100, 422,
                  "unknown member \"rush\"; a batch has orders, mode");
    batch_refused("{\"orders\":[{\"item\":\"latte\"}]}", "timeout_ms=-3", 100, 422,
                  "timeout_ms must be a whole number from 0 to 86400000");
}

static void a_bad_order_rejects_the_batch_naming_its_index(void **state)
{
    unsigned n;
    struct input_error e = {0};
    assert_null(batch("{\"orders\":[{\"item\":\"latte\"},{\"item\":\"mocha\"},{\"item\":\"tea\"}]}",
                      "", 100, &n, &e));
    assert_int_equal(e.status, 422);
    assert_true(strncmp(e.detail, "order 2: unknown item \"tea\"", 27) == 0);
    assert_int_equal(json_integer_value(json_object_get(e.extra, "index")), 2);
    assert_int_equal(json_array_size(json_object_get(e.extra, "items")), 7);
    input_error_clear(&e);

    assert_null(batch("{\"orders\":[{\"item\":\"latte\"},\"mocha\"]}", "", 100, &n, &e));
    assert_string_equal(e.detail, "order 1: an order must be a JSON object");
    assert_int_equal(json_integer_value(json_object_get(e.extra, "index")), 1);
    input_error_clear(&e);

    assert_null(batch("{\"orders\":[{\"item\":\"latte\",\"flavour\":\"mint\"}]}", "", 100, &n, &e));
    assert_true(strncmp(e.detail, "order 0: unknown flavour", 24) == 0);
    assert_int_equal(json_integer_value(json_object_get(e.extra, "index")), 0);
    assert_int_equal(json_array_size(json_object_get(e.extra, "flavours")), 4);
    input_error_clear(&e);
}

/* --- query parameters ------------------------------------------------------ */

static void query_integers_and_status(void **state)
{
    struct order_input in = input("", NULL, "limit=7&status=READY");
    struct input_error e = {0};
    long long v;
    int status;
    assert_int_equal(order_input_query_uint(&in, "limit", 50, 1000, &v, &e), 0);
    assert_true(v == 7);
    assert_int_equal(order_input_query_uint(&in, "offset", 50, 1000, &v, &e), 0);
    assert_true(v == 50); /* absent: the default */
    assert_int_equal(order_input_query_status(&in, &status, &e), 0);
    assert_int_equal(status, ORDER_READY);

    in = input("", NULL, "limit=1001&status=");
    assert_int_equal(order_input_query_uint(&in, "limit", 50, 1000, &v, &e), -1);
    assert_int_equal(e.status, 422);
    assert_string_equal(e.detail, "limit must be a whole number from 0 to 1000");
    input_error_clear(&e);
    assert_int_equal(order_input_query_status(&in, &status, &e), 0);
    assert_int_equal(status, -1); /* empty: any */

    in = input("", NULL, "status=gone");
    assert_int_equal(order_input_query_status(&in, &status, &e), -1);
    assert_int_equal(e.status, 422);
    assert_string_equal(e.detail,
                        "unknown status \"gone\"; use queued, brewing, ready, cancelled or failed");
    json_t *all = json_object_get(e.extra, "statuses");
    assert_int_equal(json_array_size(all), ORDER_NSTATUSES);
    assert_string_equal(json_string_value(json_array_get(all, 4)), "failed");
    input_error_clear(&e);
}

static void wait_and_stream_flags(void **state)
{
    const char *no_wait[] = {"wait=0", "wait=false", "wait=NO", "a=1&wait=False"};
    for (size_t i = 0; i < 4; i++) {
        struct order_input in = input("", NULL, no_wait[i]);
        assert_false(order_input_wait(&in));
    }
    const char *waits[] = {"", "wait=1", "wait=yes", "wait"};
    for (size_t i = 0; i < 4; i++) {
        struct order_input in = input("", NULL, waits[i]);
        assert_true(order_input_wait(&in));
    }
    struct order_input in = input("", NULL, "");
    assert_false(order_input_wants_ndjson(&in));
    in.accept = "text/html, application/x-ndjson;q=0.9";
    assert_true(order_input_wants_ndjson(&in));
    in = input("", NULL, "stream=1");
    assert_true(order_input_wants_ndjson(&in));
    in = input("", NULL, "stream=TRUE");
    assert_true(order_input_wants_ndjson(&in));
    in = input("", NULL, "stream=0");
    assert_false(order_input_wants_ndjson(&in));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_order_with_every_field),
        cmocka_unit_test(names_match_case_insensitively_and_keep_the_menu_spelling),
        cmocka_unit_test(json_is_read_whatever_the_content_type),
        cmocka_unit_test(form_body_then_query_string),
        cmocka_unit_test(empty_flavour_and_customer_mean_none),
        cmocka_unit_test(malformed_json_is_400_wrong_shape_is_422),
        cmocka_unit_test(missing_or_unknown_item_lists_the_items),
        cmocka_unit_test(unknown_flavour_lists_the_flavours),
        cmocka_unit_test(customer_is_utf8_of_at_most_100_bytes),
        cmocka_unit_test(customer_outlives_the_json_it_came_from),
        cmocka_unit_test(timeout_ms_is_a_whole_number_up_to_a_day),
        cmocka_unit_test(batch_of_three_in_one_mode),
        cmocka_unit_test(batch_mode_from_the_body_the_query_or_async),
        cmocka_unit_test(time_scale_is_bounded_and_reaches_every_order),
        cmocka_unit_test(batch_size_is_one_to_max_batch),
        cmocka_unit_test(batch_shape_and_syntax),
        cmocka_unit_test(a_bad_order_rejects_the_batch_naming_its_index),
        cmocka_unit_test(query_integers_and_status),
        cmocka_unit_test(wait_and_stream_flags),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
