/* The loop monitor's samples, and the lag side of the slow-callback warning
 * (docs/contract.md, "Operating it"): the engine names the callback it timed;
 * this catches whatever held the loop, timed or not, and names the request
 * that completed last -- a handler that blocks the loop completes right
 * before the late timer fires. */
#include "app/app.h"
#include "base/log.h"
#include "server/loop_monitor.h"

#define LOOP_PROBE_MS 100 /* lag/iteration sampling period */

static void on_loop_sample(enum loop_sample kind, uint64_t ns, void *arg)
{
    struct app *app = arg;
    double ms = (double)ns / 1e6;
    if (kind == LOOP_SAMPLE_ITERATION) {
        metrics_export_loop_iteration(app, ms);
        stats_window_iteration(&app->stats, ms);
        return;
    }
    metrics_export_loop_lag(app, ms);
    stats_window_lag(&app->stats, ms);
    unsigned threshold = app->options->slow_callback_ms;
    const struct app_last_request *last = &app->last;
    if (threshold && ms > threshold)
        log_warn("event loop lag: a %u ms timer fired %.0f ms late (last request: %s%s%s%s%s)",
                 LOOP_PROBE_MS, ms, last->method ? last->method : "none", last->route ? " " : "",
                 last->route ? last->route : "", last->mode ? " mode=" : "",
                 last->mode ? last->mode : "");
}

void lag_warning_init(struct app *app)
{
    app->monitor = loop_monitor_new(app->base, LOOP_PROBE_MS, on_loop_sample, app);
}

void lag_warning_note_request(struct app *app, const char *method, const char *route, int mode)
{
    app->last.method = method;
    app->last.route = route;
    app->last.mode = mode >= 0 && mode < BREW_NMODES ? brew_mode_name((enum brew_mode)mode) : NULL;
}

void lag_warning_stop(struct app *app)
{
    loop_monitor_stop(app->monitor);
}

void lag_warning_free(struct app *app)
{
    loop_monitor_free(app->monitor);
    app->monitor = NULL;
}
