#ifndef CAFE_HANDLERS_H
#define CAFE_HANDLERS_H

#include <stddef.h>

#include "server/router.h"

struct cafe;
struct evbuffer;
struct loop_timeline;
struct menu;
struct server;
struct sse_hub;
struct static_files;

/* What a handler may reach, through req->app: the parts app/ wires up at
 * start-up. Handlers see no more of the application than this. */
struct handler_ctx {
    struct server *server;
    struct cafe *cafe;
    const struct menu *menu;
    struct sse_hub *events;
    struct static_files *static_files;
    unsigned max_batch;  /* orders in one POST /orders (422 above) */
    unsigned max_brews;  /* named in the 503 when the café is full */
    unsigned max_queue;  /* named in the 503 when the baristas' queue is */
    unsigned max_orders; /* named in the 404 for an order the book forgot */
    char *menu_json;     /* GET /menu body, serialised once: the menu never changes */
    size_t menu_json_len;
    /* GET /metrics: appends the whole registry in Prometheus text format. */
    void (*render_metrics)(void *arg, struct evbuffer *out);
    void *metrics_arg;
    /* GET /events, before subscribing: the application publishes what it
     * held back while nobody listened, so that a resume can replay it. */
    void (*events_catch_up)(void *arg);
    void *events_arg;
    struct loop_timeline *timeline; /* GET /timeline (docs/timeline.md); NULL: it is off */
};

/* struct route's kind: what each entry of the route table is. */
enum route_kind {
    ROUTE_HEALTH,
    ROUTE_MENU,
    ROUTE_ORDER, /* arg: the enum brew_mode it places orders in */
    ROUTE_BATCH,
    ROUTE_ORDERS_LIST,
    ROUTE_ORDER_GET,
    ROUTE_ORDER_CANCEL,
    ROUTE_EVENTS,
    ROUTE_METRICS,
    ROUTE_TIMELINE,
    ROUTE_STATIC,
};

/* req->tag of an order request (POST /order, /{mode}/order, /orders): its
 * brew mode + 1, so that 0 means "not an order". The metrics read it back. */
#define ORDER_TAG(mode)     ((int)(mode) + 1)
#define ORDER_TAG_MODE(tag) ((tag)-1) /* -1: not an order */

/* One function per resource, each in the file named; the route table in
 * routes.c maps them. The order input they share is handlers/order_input.h. */
enum handler_status handle_healthz(struct request *req);      /* health.c: GET /healthz */
enum handler_status handle_static(struct request *req);       /* static.c: the dashboard */
enum handler_status handle_menu(struct request *req);         /* menu.c: GET /menu */
enum handler_status handle_order_place(struct request *req);  /* order_place.c: POST /order */
enum handler_status handle_orders_batch(struct request *req); /* orders_batch.c: POST /orders */
enum handler_status handle_orders_list(struct request *req);  /* orders_book.c: GET /orders */
enum handler_status handle_order_get(struct request *req);    /* orders_book.c: GET /orders/ID */
enum handler_status handle_order_cancel(struct request *req); /* orders_book.c: DELETE /orders/ID */
enum handler_status handle_events(struct request *req);       /* events.c: GET /events (SSE) */
enum handler_status handle_metrics(struct request *req);      /* metrics.c: GET /metrics */
enum handler_status handle_timeline(struct request *req);     /* timeline.c: GET /timeline */

extern const struct route cafe_routes[];
extern const size_t cafe_nroutes;

#endif
