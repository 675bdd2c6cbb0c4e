#include "cafe/cafe.h"
#include "handlers/handlers.h"

/* The whole HTTP surface of the café, in one greppable table. Order matters
 * only where patterns overlap: literal paths before the static catch-all. */
const struct route cafe_routes[] = {
    {METHOD_GET, "/healthz", handle_healthz, "/healthz", ROUTE_HEALTH, 0},
    {METHOD_GET, "/menu", handle_menu, "/menu", ROUTE_MENU, 0},
    {METHOD_POST, "/order", handle_order_place, "/order", ROUTE_ORDER, MODE_ASYNC},
    {METHOD_POST, "/async/order", handle_order_place, "/async/order", ROUTE_ORDER, MODE_ASYNC},
    {METHOD_POST, "/sync/order", handle_order_place, "/sync/order", ROUTE_ORDER, MODE_SYNC},
    {METHOD_POST, "/thread/order", handle_order_place, "/thread/order", ROUTE_ORDER, MODE_THREAD},
    {METHOD_POST, "/orders", handle_orders_batch, "/orders", ROUTE_BATCH, 0},
    {METHOD_GET, "/orders", handle_orders_list, "/orders", ROUTE_ORDERS_LIST, 0},
    {METHOD_GET, "/orders/*", handle_order_get, "/orders/:id", ROUTE_ORDER_GET, 0},
    {METHOD_DELETE, "/orders/*", handle_order_cancel, "/orders/:id", ROUTE_ORDER_CANCEL, 0},
    {METHOD_GET, "/events", handle_events, "/events", ROUTE_EVENTS, 0},
    {METHOD_GET, "/metrics", handle_metrics, "/metrics", ROUTE_METRICS, 0},
    {METHOD_GET, "/timeline", handle_timeline, "/timeline", ROUTE_TIMELINE, 0},
    {METHOD_GET, "/**", handle_static, "static", ROUTE_STATIC, 0},
};

const size_t cafe_nroutes = sizeof(cafe_routes) / sizeof(cafe_routes[0]);
