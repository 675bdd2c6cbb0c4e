#ifndef CAFE_HANDLERS_H
#define CAFE_HANDLERS_H

#include "server/router.h"

/* One function per resource; the route table in routes.c maps them. Each
 * handler reaches the application through (struct app *)req->app. */
enum handler_status handle_healthz(struct request *req);
enum handler_status handle_static(struct request *req);
enum handler_status handle_menu(struct request *req);
enum handler_status handle_order_place(struct request *req);  /* POST /order, /{mode}/order */
enum handler_status handle_orders_batch(struct request *req); /* POST /orders */
enum handler_status handle_orders_list(struct request *req);  /* GET /orders */
enum handler_status handle_order_get(struct request *req);    /* GET /orders/ID */
enum handler_status handle_order_cancel(struct request *req); /* DELETE /orders/ID */
enum handler_status handle_events(struct request *req);       /* GET /events (SSE) */
enum handler_status handle_metrics(struct request *req);      /* GET /metrics */

extern const struct route cafe_routes[];
extern const size_t cafe_nroutes;

#endif
