#include "handlers/handlers.h"

/* The whole HTTP surface of the café, in one greppable table. Order matters
 * only where patterns overlap: literal paths before the static catch-all. */
const struct route cafe_routes[] = {
    {METHOD_GET, "/healthz", handle_healthz, "/healthz"},
    {METHOD_GET, "/menu", handle_menu, "/menu"},
    {METHOD_POST, "/order", handle_order_place, "/order"},
    {METHOD_POST, "/async/order", handle_order_place, "/async/order"},
    {METHOD_POST, "/sync/order", handle_order_place, "/sync/order"},
    {METHOD_POST, "/thread/order", handle_order_place, "/thread/order"},
    {METHOD_POST, "/orders", handle_orders_batch, "/orders"},
    {METHOD_GET, "/orders", handle_orders_list, "/orders"},
    {METHOD_GET, "/orders/*", handle_order_get, "/orders/:id"},
    {METHOD_DELETE, "/orders/*", handle_order_cancel, "/orders/:id"},
    {METHOD_GET, "/events", handle_events, "/events"},
    {METHOD_GET, "/metrics", handle_metrics, "/metrics"},
    {METHOD_GET, "/**", handle_static, "static"},
};

const size_t cafe_nroutes = sizeof(cafe_routes) / sizeof(cafe_routes[0]);
