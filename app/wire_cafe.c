/* Café wiring: the menu (built in or --menu FILE), the order store
 * (--store: the memory book or Redis), the café on the main loop and its
 * baristas, and what SIGTERM means for orders. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "base/log.h"
#include "cafe/cafe.h"

int cafe_app_init(struct app *app)
{
    const struct options *o = app->options;
    char err[512];
    if (o->menu_path[0]) {
        app->menu = menu_load_file(o->menu_path, err, sizeof(err));
        if (!app->menu) {
            fprintf(stderr, "cafe-server: bad --menu: %s\n", err);
            return -1;
        }
    } else {
        app->menu = menu_builtin();
    }
    struct cafe_config cfg = {
        .time_scale = o->time_scale,
        .baristas = o->baristas,
        .max_orders = o->max_orders,
        .max_brews = o->max_brews,
        .max_queue = o->max_queue,
        .replica_id = o->replica_id,
        .timeline = app->ctx.timeline,
    };
    if (strcmp(o->store, "memory") != 0) {
        struct store_redis_config rc = {
            .url = o->store,
            .prefix = o->store_prefix,
            .replica = o->replica_id,
            .max_orders = o->max_orders,
        };
        /* Resolves the host now, before the loop serves (docs/store.md). */
        cfg.store = store_redis_new(app->base, app->menu, &rc, err, sizeof(err));
        if (!cfg.store) {
            fprintf(stderr, "cafe-server: bad --store: %s\n", err);
            return -1;
        }
    }
    char url[600];
    redis_url_redact(o->store, url, sizeof(url));
    log_info("replica %s, store %s%s%s", o->replica_id, url, cfg.store ? " prefix " : "",
             cfg.store ? o->store_prefix : "");
    app->ctx.cafe = cafe_new(app->base, app->menu, &cfg);
    app->ctx.menu = app->menu;
    app->ctx.max_batch = o->max_batch;
    app->ctx.max_brews = o->max_brews;
    app->ctx.max_queue = o->max_queue;
    app->ctx.max_orders = o->max_orders;
    if (!app->ctx.cafe)
        return -1;
    log_info("menu: %s, %u items, %u flavours", app->menu->source, app->menu->nitems,
             app->menu->nflavours);
    return 0;
}

/* Draining: what still brews, and with a store that is up, what it has not
 * written yet (a store that is down would keep the drain for its whole
 * timeout; its orders are failed by the restart rule instead). */
bool cafe_app_busy(struct app *app)
{
    if (!app->ctx.cafe)
        return false;
    if (cafe_in_flight(app->ctx.cafe) > 0)
        return true;
    struct store_stats st;
    order_store_stats(cafe_store(app->ctx.cafe), &st);
    return st.up && st.tracked > 0;
}

/* New orders get 503 from now on; what brews goes on within the drain time. */
void cafe_app_drain_begin(struct app *app)
{
    if (app->ctx.cafe)
        cafe_drain(app->ctx.cafe);
}

/* Whatever still brews is failed now, and its waiting clients answered (503),
 * before the engine closes the remaining connections. */
void cafe_app_drain_timeout(struct app *app)
{
    if (app->ctx.cafe)
        cafe_fail_all(app->ctx.cafe, "the server is shutting down");
}

void cafe_app_free(struct app *app)
{
    cafe_free(app->ctx.cafe);
    app->ctx.cafe = NULL;
    menu_free(app->menu);
    app->menu = NULL;
}
