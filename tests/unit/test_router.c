/* The router: 404 vs 405 + Allow, captured segments, HEAD via GET, and the
 * static catch-all never turning unknown paths into 405. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/router.h"

static enum handler_status h(struct request *req)
{
    return HANDLER_DONE;
}

static const struct route routes[] = {
    {METHOD_GET, "/menu", h, "/menu", 0, 0},
    {METHOD_POST, "/orders", h, "/orders", 0, 0},
    {METHOD_POST, "/sync/order", h, "/sync/order", 0, 0},
    {METHOD_GET, "/orders", h, "/orders", 0, 0},
    {METHOD_GET, "/orders/*", h, "/orders/:id", 0, 0},
    {METHOD_DELETE, "/orders/*", h, "/orders/:id", 0, 0},
    {METHOD_GET, "/**", h, "static", 0, 0},
};
#define N (sizeof(routes) / sizeof(routes[0]))

static void literal_and_head(void **state)
{
    struct route_match m;
    router_match(routes, N, METHOD_GET, "/menu", &m);
    assert_int_equal(m.status, 200);
    assert_ptr_equal(m.route, &routes[0]);
    router_match(routes, N, METHOD_HEAD, "/menu", &m);
    assert_int_equal(m.status, 200);
    assert_ptr_equal(m.route, &routes[0]);
}

static void method_not_allowed_lists_allow(void **state)
{
    struct route_match m;
    router_match(routes, N, METHOD_PUT, "/orders", &m);
    assert_int_equal(m.status, 405);
    assert_null(m.route);
    assert_string_equal(m.allow, "POST, GET, HEAD");
    router_match(routes, N, METHOD_POST, "/orders/17", &m);
    assert_int_equal(m.status, 405);
    assert_string_equal(m.allow, "GET, HEAD, DELETE");
}

static void captures_one_segment(void **state)
{
    struct route_match m;
    router_match(routes, N, METHOD_DELETE, "/orders/abc123", &m);
    assert_int_equal(m.status, 200);
    assert_ptr_equal(m.route, &routes[5]);
    assert_int_equal(m.param_len, 6);
    assert_memory_equal(m.param, "abc123", 6);
    /* Two segments do not match the one-segment pattern: catch-all. */
    router_match(routes, N, METHOD_GET, "/orders/a/b", &m);
    assert_ptr_equal(m.route, &routes[6]);
    router_match(routes, N, METHOD_GET, "/orders/", &m);
    assert_ptr_equal(m.route, &routes[6]);
}

static void catch_all_is_not_a_known_path(void **state)
{
    struct route_match m;
    router_match(routes, N, METHOD_GET, "/app.js", &m);
    assert_int_equal(m.status, 200);
    assert_ptr_equal(m.route, &routes[6]);
    assert_string_equal(m.param, "/app.js");
    /* A literal route's path is not a static file: wrong method is 405. */
    router_match(routes, N, METHOD_GET, "/orders/7", &m);
    assert_ptr_equal(m.route, &routes[4]);
    router_match(routes, N, METHOD_GET, "/sync/order", &m);
    assert_int_equal(m.status, 405);
    assert_string_equal(m.allow, "POST");
    router_match(routes, N, METHOD_PUT, "/menu", &m);
    assert_int_equal(m.status, 405);
    assert_string_equal(m.allow, "GET, HEAD");
    router_match(routes, N, METHOD_POST, "/nowhere", &m);
    assert_int_equal(m.status, 404);
    assert_string_equal(m.allow, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_and_head),
        cmocka_unit_test(method_not_allowed_lists_allow),
        cmocka_unit_test(captures_one_segment),
        cmocka_unit_test(catch_all_is_not_a_known_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
