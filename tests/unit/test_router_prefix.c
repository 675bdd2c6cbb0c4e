/* The router's prefix patterns ("/api/" "**" captures the rest of the path,
 * and only under that prefix) and its Allow header when several routes
 * serve one path (each method named once, HEAD with GET). */
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
    {METHOD_GET, "/api/**", h, "api", 0, 0},  {METHOD_GET, "/x", h, "/x", 0, 0},
    {METHOD_GET, "/x", h, "/x again", 0, 0},  {METHOD_POST, "/x", h, "/x", 0, 0},
    {METHOD_POST, "/x", h, "/x again", 0, 0},
};
#define N (sizeof(routes) / sizeof(routes[0]))

static void a_prefix_captures_the_rest(void **state)
{
    struct route_match m;
    router_match(routes, N, METHOD_GET, "/api/orders/7", &m);
    assert_int_equal(m.status, 200);
    assert_ptr_equal(m.route, &routes[0]);
    assert_int_equal(m.param_len, strlen("/orders/7"));
    assert_memory_equal(m.param, "/orders/7", m.param_len);
    router_match(routes, N, METHOD_GET, "/api/", &m);
    assert_int_equal(m.status, 200);
    assert_string_equal(m.param, "/");
    /* Not under the prefix: "/apis" and "/api" itself are other paths. */
    router_match(routes, N, METHOD_GET, "/apis/x", &m);
    assert_int_equal(m.status, 404);
    assert_null(m.route);
    router_match(routes, N, METHOD_GET, "/ap", &m);
    assert_int_equal(m.status, 404);
}

static void the_first_route_wins_and_allow_names_each_method_once(void **state)
{
    struct route_match m;
    router_match(routes, N, METHOD_POST, "/x", &m);
    assert_ptr_equal(m.route, &routes[3]);
    router_match(routes, N, METHOD_DELETE, "/x", &m);
    assert_int_equal(m.status, 405);
    assert_string_equal(m.allow, "GET, HEAD, POST");
    assert_null(m.param);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_prefix_captures_the_rest),
        cmocka_unit_test(the_first_route_wins_and_allow_names_each_method_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
