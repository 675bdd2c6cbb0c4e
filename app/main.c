/* cafe-server: wires options, the HTTP engine, the café and observability
 * together, then runs the loop until SIGTERM/SIGINT has drained it. */

#include <event2/event.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "base/list.h"
#include "base/log.h"
#include "cafe/cafe.h"
#include "handlers/handlers.h"
#include "server/access_log.h"
#include "server/server.h"
#include "server/static_files.h"

/* Descriptors kept back from the connection cap: listener, eventfds, logs,
 * menu and static files, the occasional accept() under pressure. */
#define FD_RESERVE 64

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct app *app = arg;
    if (!server_draining(app->ctx.server)) {
        server_shutdown(app->ctx.server);
        log_flush(); /* "shutting down" now, not after the log interval */
        return;
    }
    /* The second signal ends the drain now: what still brews is failed and
     * its clients answered (503), as at the drain timeout, and the loop
     * stops; cafe_free() then abandons the steps in the baristas' hands
     * instead of waiting for them. The exit code stays 0 (docs/contract.md). */
    log_warn("second %s: exiting now", sig == SIGINT ? "SIGINT" : "SIGTERM");
    cafe_app_drain_timeout(app);
    event_base_loopbreak(app->base);
}

/* Raises the soft descriptor limit to the hard one and keeps the connection
 * cap below it, so accept() never meets EMFILE in normal operation. */
static void fit_connection_cap(struct server_limits *l)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t usable = rl.rlim_cur > FD_RESERVE * 2 ? rl.rlim_cur - FD_RESERVE : rl.rlim_cur / 2;
    if (usable > 1000000)
        usable = 1000000;
    if (!l->max_connections)
        l->max_connections = (unsigned)usable;
    else if (l->max_connections > usable) {
        log_warn("max-connections %u is above the descriptor limit; using %u", l->max_connections,
                 (unsigned)usable);
        l->max_connections = (unsigned)usable;
    }
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* static/ next to the working directory (the repository root), else next to
 * the binary (build/cafe-server -> ../static). */
static void find_static_dir(struct options *o)
{
    if (o->static_dir[0])
        return;
    if (is_dir("static")) {
        strcpy(o->static_dir, "static");
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    const char *rel[] = {"/../static", "/static", "/../share/cafe/static"};
    for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
        char cand[PATH_MAX + 32];
        snprintf(cand, sizeof(cand), "%s%s", exe, rel[i]);
        if (is_dir(cand) && strlen(cand) < sizeof(o->static_dir)) {
            strcpy(o->static_dir, cand);
            return;
        }
    }
}

static bool wildcard_host(const char *host)
{
    return !host[0] || !strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !strcmp(host, "[::]");
}

/* --replica-id unset: HOST:PORT as the replica listens, or this machine's
 * name and the port when it listens on every address (so that replicas on
 * several hosts differ). */
static void derive_replica_id(struct options *o, int port)
{
    if (o->replica_id[0])
        return;
    char name[256] = "";
    if (wildcard_host(o->host) && gethostname(name, sizeof(name) - 1) == 0 && name[0])
        name[sizeof(name) - 1] = '\0';
    else
        snprintf(name, sizeof(name), "%s", o->host);
    bool v6 = strchr(name, ':') != NULL;
    /* A very long host name is cut, the port kept: the store's keys stay short. */
    int room = (int)sizeof(o->replica_id) - 10;
    if (snprintf(o->replica_id, sizeof(o->replica_id), "%s%.*s%s:%d", v6 ? "[" : "", room, name,
                 v6 ? "]" : "", port) >= (int)sizeof(o->replica_id))
        log_warn("replica id cut to %s", o->replica_id); /* cannot happen: room is kept */
}

static void on_drain_begin(void *arg)
{
    struct app *app = app_of(arg);
    observe_app_drain_begin(app);
    cafe_app_drain_begin(app);
}

static void on_drain_timeout(void *arg)
{
    cafe_app_drain_timeout(app_of(arg));
}

static bool cafe_busy(void *arg)
{
    return cafe_app_busy(app_of(arg));
}

int main(int argc, char **argv)
{
    /* A write to a vanished client must be an error, not the end of us. */
    signal(SIGPIPE, SIG_IGN);

    struct options opts;
    int rc = options_parse(&opts, argc, argv);
    if (rc)
        return rc > 0 ? 0 : 2;
    log_init(opts.log_format);
    access_log_enable(opts.access_log);
    log_set_slow_threshold_ms(opts.slow_callback_ms);
    fit_connection_cap(&opts.limits);
    find_static_dir(&opts);

    /* No evthread_use_pthreads(): only the loop thread touches libevent (the
     * baristas report through an eventfd), so the base runs without locks. */
    struct app app = {.options = &opts};
    /* Batch epoll_ctl calls per loop turn (interest changes under
     * backpressure and at close). Safe because we never dup() fds. */
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    /* CLOCK_MONOTONIC, not _COARSE: a 100 ms brew should take 100 ms, not up
     * to a 4 ms jiffy more (libevent uses CLOCK_MONOTONIC_COARSE otherwise). */
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    app.base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!app.base) {
        fprintf(stderr, "cafe-server: cannot create the event loop\n");
        return 1;
    }
    event_base_priority_init(app.base, 3); /* 0 urgent, 1 default, 2 after the rest */
    /* From here on lines are buffered (base/log.h); log_stop() at the end,
     * and at exit() for the early returns, writes what is left. */
    log_start(opts.log_flush_ms, opts.log_buffer_bytes);

    if (opts.static_dir[0] && !(app.ctx.static_files = static_files_load(opts.static_dir)))
        return 1;
    if (!app.ctx.static_files)
        log_warn("no static/ directory found: the dashboard is not served (see --static-dir)");

    observe_timeline_new(&app); /* the engine and the café record into it */
    struct server_hooks hooks = {
        .name = "cafe-server",
        .routes = cafe_routes,
        .nroutes = cafe_nroutes,
        .app = &app.ctx,
        .on_request_done = observe_on_request_done,
        .on_request_handled = observe_on_request_handled,
        .on_drain_begin = on_drain_begin,
        .on_drain_timeout = on_drain_timeout,
        .busy = cafe_busy,
        .timeline = app.ctx.timeline,
    };
    app.ctx.server = server_new(app.base, &opts.limits, &hooks);
    if (!app.ctx.server)
        return 1;
    /* Bound before the café: the replica id defaults to the port it got.
     * Nothing is accepted until the loop runs. */
    int port = server_listen(app.ctx.server, opts.host, opts.port, opts.reuseport);
    if (port < 0)
        return 1;
    derive_replica_id(&opts, port);
    if (cafe_app_init(&app) < 0 || observe_app_init(&app) < 0)
        return 1;
    options_log(&opts);
    struct event *sigterm = evsignal_new(app.base, SIGTERM, on_signal, &app);
    struct event *sigint = evsignal_new(app.base, SIGINT, on_signal, &app);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);

    bool v6 = strchr(opts.host, ':') != NULL;
    printf("listening on http://%s%s%s:%d\n", v6 ? "[" : "", opts.host, v6 ? "]" : "", port);
    fflush(stdout);
    log_info("serving %zu static files from %s",
             app.ctx.static_files ? static_files_count(app.ctx.static_files) : 0,
             opts.static_dir[0] ? opts.static_dir : "-");

    event_base_dispatch(app.base);

    log_info("stopped");
    event_free(sigterm);
    event_free(sigint);
    /* The engine first: closing what is still open (after a second signal)
     * runs the abort hooks and the request-done hook, which reach the café,
     * the event hub and the metrics. */
    server_free(app.ctx.server);
    observe_app_free(&app);
    cafe_app_free(&app);
    observe_timeline_free(&app); /* after the baristas, which record into it */
    free(app.ctx.menu_json);
    static_files_free(app.ctx.static_files);
    log_stop();
    event_base_free(app.base);
    libevent_global_shutdown();
    return 0;
}
