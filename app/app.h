#ifndef CAFE_APP_H
#define CAFE_APP_H

#include <stdint.h>

#include "app/options.h"
#include "handlers/handlers.h"

struct event_base;
struct menu;
struct metrics;

/* The whole application, owned by main(). Handlers see only ctx (req->app
 * points at it). */
struct app {
    struct handler_ctx ctx; /* server, cafe, menu, event hub, static files */
    struct event_base *base;
    const struct options *options;
    struct menu *menu; /* the menu ctx.menu shows, owned here */
    struct metrics *metrics;
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
