/* Observability wiring: the metrics export, the event stream and its stats
 * window, and the loop monitor with its lag warning, each in its own file
 * (see app/app.h); their state lives in struct app. This file starts and stops
 * them in order and hands each finished request to those that count it. */
#include "app/app.h"
#include "base/clock.h"
#include "base/loop_timeline.h"
#include "server/request.h"
#include "server/router.h"

void observe_timeline_new(struct app *app)
{
    static const char *const tags[] = {[BREW_TAG(MODE_SYNC)] = "sync",
                                       [BREW_TAG(MODE_ASYNC)] = "async",
                                       [BREW_TAG(MODE_THREAD)] = "thread"};
    const struct options *o = app->options;
    if (!o->timeline)
        return;
    struct loop_timeline_config cfg;
    loop_timeline_config_default(&cfg);
    cfg.lanes = 1 + o->baristas;
    cfg.threshold_ns = (uint64_t)o->timeline_threshold_ms * 1000000u;
    cfg.slow_ns = (uint64_t)o->slow_callback_ms * 1000000u;
    cfg.tag_names = tags;
    cfg.ntags = sizeof(tags) / sizeof(tags[0]);
    app->ctx.timeline = loop_timeline_new(&cfg);
}

void observe_timeline_free(struct app *app)
{
    loop_timeline_free(app->ctx.timeline);
    app->ctx.timeline = NULL;
}

int observe_app_init(struct app *app)
{
    stats_window_init(&app->stats, clock_ns(), 0x9e3779b97f4a7c15ULL ^ clock_ns());
    metrics_export_init(app);
    event_bridge_init(app);
    lag_warning_init(app);
    return 0;
}

void observe_on_request_done(struct request *req, uint64_t duration_ns, void *ctx)
{
    struct app *app = app_of(ctx);
    const char *route = req->route ? req->route->label : "unmatched";
    int mode = ORDER_TAG_MODE(req->tag); /* set by the order handlers */
    bool stream = req->route && req->route->kind == ROUTE_EVENTS;
    metrics_export_request(app, route, mode, req->status, duration_ns, stream);
    stats_window_request(&app->stats, mode);
    lag_warning_note_request(app, req->method_name, route, mode);
}

/* A handler that answers once the store has replied completes after the
 * loop turn it made slow: noted when it ran as well. */
void observe_on_request_handled(struct request *req, void *ctx)
{
    lag_warning_note_request(app_of(ctx), req->method_name, req->route->label,
                             ORDER_TAG_MODE(req->tag));
}

void observe_app_drain_begin(struct app *app)
{
    event_bridge_drain(app);
    lag_warning_stop(app);
}

void observe_app_free(struct app *app)
{
    lag_warning_free(app);
    event_bridge_free(app);
    metrics_export_free(app);
}
