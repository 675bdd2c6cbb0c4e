#ifndef CAFE_OPTIONS_H
#define CAFE_OPTIONS_H

#include <stdbool.h>

#include "base/log.h"
#include "server/server.h"

/* Every setting, one per entry of the options table in app/options.c: a
 * flag --NAME that also reads CAFE_<NAME> from the environment (--time-scale
 * <-> CAFE_TIME_SCALE); flags win over the environment. Values take
 * --name V and --name=V; on/off settings take --name, --name=on|off,
 * --name on|off and --no-name. */
struct options {
    char host[256];
    int port;
    char static_dir[4096];
    char menu_path[4096];      /* "" = the built-in menu */
    double time_scale;         /* real seconds per recipe second */
    unsigned baristas;         /* worker threads for hands-on steps in thread mode */
    unsigned max_orders;       /* order book keeps the most recent N */
    unsigned max_brews;        /* brews in flight -> 503 above */
    unsigned max_queue;        /* barista queue depth -> 503 above */
    unsigned max_batch;        /* orders in one POST /orders -> 422 above */
    unsigned slow_callback_ms; /* warn when one callback holds the loop longer */
    size_t sse_max_backlog;    /* bytes a stalled event subscriber may queue */
    unsigned sse_heartbeat_ms; /* ": ping" comment interval on event streams */
    /* The loop timeline (docs/timeline.md): on, and the shortest section it
     * keeps as a block. */
    bool timeline;
    unsigned timeline_threshold_ms;
    enum log_format log_format;
    bool access_log;
    unsigned log_flush_ms; /* a log line waits at most this long in memory */
    size_t
        log_buffer_bytes; /* log bytes waiting before a write; as many again while one is stuck */
    struct server_limits limits;

    /* Where orders live (docs/store.md) and who this replica is. */
    char store[512];       /* "memory" or redis://[:password@]HOST[:PORT][/DB] */
    char store_prefix[64]; /* the store's key namespace */
    char replica_id[64];   /* "" until main() derives it from the address it listens on */
    bool reuseport;        /* SO_REUSEPORT: replicas share one port */
};

/* Fills opts from defaults, then environment, then argv. Returns 0 to run,
 * 1 when --help/--version was handled (exit 0), -1 on a bad option (a message
 * was printed; exit 2). */
int options_parse(struct options *opts, int argc, char **argv);
/* The settings on stderr at start-up, from the table (redis prints its
 * config): a "config:" line, then a "limits:" line. */
void options_log(const struct options *opts);
/* Calls fn for each limit of the table, in table order, with its name in
 * snake case (max_header_bytes) and its value: the cafe_config_limit metrics. */
void options_each_limit(const struct options *opts,
                        void (*fn)(const char *name, double value, void *arg), void *arg);

#endif
