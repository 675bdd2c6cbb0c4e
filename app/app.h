#ifndef CAFE_APP_H
#define CAFE_APP_H

#include <stdint.h>

#include "app/options.h"

struct event_base;
struct server;
struct static_files;
struct cafe;
struct menu;
struct sse_hub;
struct metrics;

/* Everything a handler may reach through req->app. Owned by main(). */
struct app {
    struct event_base *base;
    const struct options *options;
    struct server *server;
    struct static_files *static_files;
    struct menu *menu;
    struct cafe *cafe;
    struct sse_hub *events;
    struct metrics *metrics;
    char *menu_json; /* GET /menu body, serialised once: the menu never changes */
    size_t menu_json_len;
};

/* Café wiring (app/wire_cafe.c): menu, order book, brew scheduler, baristas. */
int cafe_app_init(struct app *app);           /* 0, or -1 after printing why */
void cafe_app_drain_begin(struct app *app);   /* SIGTERM: refuse new orders (503) */
void cafe_app_drain_timeout(struct app *app); /* cancel what still brews, answering its clients */
void cafe_app_free(struct app *app);

/* Observability wiring (app/wire_observe.c): metrics, event stream, loop lag. */
struct request;
int observe_app_init(struct app *app);
void observe_app_drain_begin(struct app *app); /* end event streams */
void observe_on_request_done(struct request *req, uint64_t duration_ns, void *app);
void observe_app_free(struct app *app);

#endif
