/* The options table is the one list of settings: --help, the environment
 * names, the start-up log lines and the cafe_config_limit metrics are all
 * read from it. Defaults come from the module each setting belongs to: the
 * engine's from server_limits_default(), the event hub's from
 * sse_hub_config_default(), the café's and the application's from
 * defaults() below. */
#include "app/options.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/loop_timeline.h"
#include "cafe/order.h"
#include "cafe/store.h"
#include "server/sse_hub.h"

enum opt_type {
    OPT_STRING,
    OPT_INT,
    OPT_UINT,
    OPT_SIZE,
    OPT_DOUBLE,
    OPT_BOOL,
    OPT_LOG_FORMAT,
    OPT_STORE, /* "memory" or a Redis URL, checked here; its password never shown */
};

struct opt {
    const char *name; /* flag without "--"; env is CAFE_ + upper snake case */
    enum opt_type type;
    size_t offset, size; /* where in struct options, and string capacity */
    double min, max;
    bool limit;          /* a limit: logged as one, exported as cafe_config_limit{name} */
    const char *metavar; /* what --help shows for the value */
    const char *help;
};

#define O(field) offsetof(struct options, field), sizeof(((struct options *)0)->field)
#define L(field) offsetof(struct options, limits.field), sizeof(((struct server_limits *)0)->field)
#define LIMIT    true
#define SETTING  false

static const struct opt opts[] = {
    {"host", OPT_STRING, O(host), 0, 0, SETTING, "ADDR", "address to listen on"},
    {"port", OPT_INT, O(port), 0, 65535, SETTING, "N", "TCP port; 0 picks a free one"},
    {"reuseport", OPT_BOOL, O(reuseport), 0, 0, SETTING, NULL,
     "SO_REUSEPORT on the listener: several replicas share one port"},
    {"store", OPT_STORE, O(store), 0, 0, SETTING, "URL",
     "where orders live: memory, or redis://[:password@]HOST[:PORT][/DB] shared by replicas"},
    {"store-prefix", OPT_STRING, O(store_prefix), 0, 0, SETTING, "PREFIX",
     "the Redis store's key namespace"},
    {"replica-id", OPT_STRING, O(replica_id), 0, 0, SETTING, "ID",
     "this replica's name in orders, logs and metrics; unset: HOST:PORT it listens on"},
    {"static-dir", OPT_STRING, O(static_dir), 0, 0, SETTING, "DIR",
     "dashboard files; unset: static/ next to the working directory or the binary"},
    {"menu", OPT_STRING, O(menu_path), 0, 0, SETTING, "FILE",
     "JSON menu replacing the built-in one; unset: the built-in menu"},
    {"time-scale", OPT_DOUBLE, O(time_scale), 0.0001, 1000, SETTING, "X",
     "real seconds per recipe second"},
    {"baristas", OPT_UINT, O(baristas), 1, 256, LIMIT, "N",
     "worker threads for hands-on steps (thread mode)"},
    {"max-orders", OPT_UINT, O(max_orders), 1, 10000000, LIMIT, "N",
     "orders the order book remembers (older ones answer 404)"},
    {"max-brews", OPT_UINT, O(max_brews), 1, 10000000, LIMIT, "N",
     "unfinished orders before new ones get 503"},
    {"max-queue", OPT_UINT, O(max_queue), 1, 10000000, LIMIT, "N",
     "hands-on steps waiting for a barista before thread orders get 503"},
    {"max-batch", OPT_UINT, O(max_batch), 1, 100000, LIMIT, "N",
     "orders in one POST /orders (422 above)"},
    {"slow-callback-ms", OPT_UINT, O(slow_callback_ms), 0, 3600000, LIMIT, "MS",
     "warn when a callback holds the loop longer (0: off)"},
    {"timeline", OPT_BOOL, O(timeline), 0, 0, SETTING, NULL,
     "record what holds the loop and the baristas: GET /timeline, timeline events"},
    {"timeline-threshold-ms", OPT_UINT, O(timeline_threshold_ms), 0, 60000, SETTING, "MS",
     "the loop timeline keeps sections at least this long (shorter: busy time only)"},
    {"sse-max-backlog", OPT_SIZE, O(sse_max_backlog), 1024, 1e9, LIMIT, "BYTES",
     "bytes an event-stream subscriber may fall behind before it is cut"},
    {"sse-heartbeat-ms", OPT_UINT, O(sse_heartbeat_ms), 10, 3600000, LIMIT, "MS",
     "heartbeat comment interval on event streams"},
    {"log-format", OPT_LOG_FORMAT, O(log_format), 0, 0, SETTING, "text|json",
     "log line format on stderr"},
    {"access-log", OPT_BOOL, O(access_log), 0, 0, SETTING, NULL, "one log line per request"},
    {"log-flush-ms", OPT_UINT, O(log_flush_ms), 0, 60000, LIMIT, "MS",
     "longest a log line waits in memory before it is written (0: at once)"},
    {"log-buffer-bytes", OPT_SIZE, O(log_buffer_bytes), LOG_BUFFER_BYTES_MIN, 1 << 26, LIMIT,
     "BYTES",
     "log bytes that force a write; as many again wait while stderr is stuck, then lines are "
     "dropped"},
    {"max-header-bytes", OPT_SIZE, L(max_header_bytes), 256, 1 << 24, LIMIT, "BYTES",
     "header block limit (431)"},
    {"max-header-fields", OPT_UINT, L(max_header_fields), 1, 10000, LIMIT, "N",
     "header field limit (431)"},
    {"max-uri-bytes", OPT_SIZE, L(max_uri_bytes), 16, 1 << 24, LIMIT, "BYTES",
     "request-target limit (414)"},
    {"max-body-bytes", OPT_SIZE, L(max_body_bytes), 0, 1 << 30, LIMIT, "BYTES",
     "request body limit (413)"},
    {"header-timeout-ms", OPT_UINT, L(header_timeout_ms), 1, 3600000, LIMIT, "MS",
     "time allowed for the header block, and again for the body (408)"},
    {"idle-timeout-ms", OPT_UINT, L(idle_timeout_ms), 1, 3600000, LIMIT, "MS",
     "keep-alive idle timeout"},
    {"write-timeout-ms", OPT_UINT, L(write_timeout_ms), 1, 3600000, LIMIT, "MS",
     "a client that reads nothing this long is cut"},
    {"max-connections", OPT_UINT, L(max_connections), 0, 10000000, LIMIT, "N",
     "open connections before 503 (0: the descriptor limit less a reserve)"},
    {"drain-timeout-ms", OPT_UINT, L(drain_timeout_ms), 0, 3600000, LIMIT, "MS",
     "on SIGTERM, time given to in-flight work"},
    {"max-output-bytes", OPT_SIZE, L(max_output_bytes), 1024, 1 << 30, LIMIT, "BYTES",
     "unread response bytes per connection before reading pauses"},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static void defaults(struct options *o)
{
    memset(o, 0, sizeof(*o));
    strcpy(o->host, "127.0.0.1");
    o->port = 8080;
    o->time_scale = 1.0;
    o->baristas = 4;
    o->max_orders = 10000;
    o->max_brews = 20000;
    o->max_queue = 1000;
    o->max_batch = 100;
    strcpy(o->store, "memory");
    strcpy(o->store_prefix, "cafe:");
    o->slow_callback_ms = 100;
    o->timeline = true;
    o->timeline_threshold_ms = LOOP_TIMELINE_THRESHOLD_NS_DEFAULT / 1000000;
    o->log_format = LOG_TEXT;
    o->access_log = true;
    o->log_flush_ms = LOG_FLUSH_MS_DEFAULT;
    o->log_buffer_bytes = LOG_BUFFER_BYTES_DEFAULT;
    struct sse_hub_config hub;
    sse_hub_config_default(&hub);
    o->sse_max_backlog = hub.max_backlog;
    o->sse_heartbeat_ms = hub.heartbeat_ms;
    server_limits_default(&o->limits);
}

static void *field(struct options *o, const struct opt *d)
{
    return (char *)o + d->offset;
}

static const void *field_c(const struct options *o, const struct opt *d)
{
    return (const char *)o + d->offset;
}

/* on/off, and the synonyms --help lists with them; -1 for anything else. */
static int bool_word(const char *v)
{
    static const char *const on[] = {"on", "true", "1"}, *const off[] = {"off", "false", "0"};
    for (size_t i = 0; i < 3; i++) {
        if (!strcasecmp(v, on[i]))
            return 1;
        if (!strcasecmp(v, off[i]))
            return 0;
    }
    return -1;
}

/* What a value of this option must look like, for the error message. */
static void expected(const struct opt *d, char *buf, size_t size)
{
    switch (d->type) {
    case OPT_BOOL:
        snprintf(buf, size, "on or off");
        break;
    case OPT_LOG_FORMAT:
        snprintf(buf, size, "text or json");
        break;
    case OPT_STORE:
        snprintf(buf, size, "memory or redis://[:password@]HOST[:PORT][/DB]");
        break;
    case OPT_STRING:
        snprintf(buf, size, "at most %zu bytes", d->size - 1);
        break;
    case OPT_DOUBLE:
        snprintf(buf, size, "a number from %g to %g", d->min, d->max);
        break;
    default:
        snprintf(buf, size, "a whole number from %.0f to %.0f", d->min, d->max);
        break;
    }
}

/* Stores value into d's field; 0, or -1 after saying what is wrong, naming
 * where the value came from (source: "--port" or "CAFE_PORT"). */
static int set(struct options *o, const struct opt *d, const char *value, const char *source)
{
    void *p = field(o, d);
    double v = 0;
    switch (d->type) {
    case OPT_STORE: {
        struct redis_url url;
        char why[600];
        if (strlen(value) >= d->size)
            goto bad;
        if (strcmp(value, "memory") && redis_url_parse(value, &url, why, sizeof(why)) < 0) {
            /* why names the URL and what is wrong with it */
            fprintf(stderr, "cafe-server: invalid value for %s: %s (or memory)\n", source, why);
            return -1;
        }
        strcpy(p, value);
        return 0;
    }
    case OPT_STRING:
        if (strlen(value) >= d->size)
            goto bad;
        strcpy(p, value);
        return 0;
    case OPT_BOOL: {
        int b = bool_word(value);
        if (b < 0)
            goto bad;
        *(bool *)p = b;
        return 0;
    }
    case OPT_LOG_FORMAT:
        if (!strcmp(value, "text"))
            *(enum log_format *)p = LOG_TEXT;
        else if (!strcmp(value, "json"))
            *(enum log_format *)p = LOG_JSON;
        else
            goto bad;
        return 0;
    case OPT_INT:
    case OPT_UINT:
    case OPT_SIZE:
    case OPT_DOUBLE: {
        char *end;
        errno = 0;
        v = strtod(value, &end);
        if (errno || end == value || *end || isspace((unsigned char)*value) || !(v >= d->min) ||
            !(v <= d->max))
            goto bad;
        if (d->type != OPT_DOUBLE && v != (double)(long long)v)
            goto bad;
        break;
    }
    }
    switch (d->type) {
    case OPT_INT:
        *(int *)p = (int)v;
        break;
    case OPT_UINT:
        *(unsigned *)p = (unsigned)v;
        break;
    case OPT_SIZE:
        *(size_t *)p = (size_t)v;
        break;
    default:
        *(double *)p = v;
        break;
    }
    return 0;
bad:;
    char want[80];
    expected(d, want, sizeof(want));
    fprintf(stderr, "cafe-server: invalid value '%s' for %s (expected %s)\n", value, source, want);
    return -1;
}

static void env_name(const struct opt *d, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "CAFE_");
    for (const char *s = d->name; *s && n + 1 < size; s++)
        out[n++] = *s == '-' ? '_' : (char)toupper((unsigned char)*s);
    out[n] = '\0';
}

/* A numeric option's value (0 for the others). */
static double number(const struct options *o, const struct opt *d)
{
    const void *p = field_c(o, d);
    switch (d->type) {
    case OPT_INT:
        return *(const int *)p;
    case OPT_UINT:
        return *(const unsigned *)p;
    case OPT_SIZE:
        return (double)*(const size_t *)p;
    case OPT_DOUBLE:
        return *(const double *)p;
    default:
        return 0;
    }
}

/* d's value in o as --help and the log show it ("-" for an empty string). */
static const char *value_text(const struct options *o, const struct opt *d, char *buf, size_t size)
{
    const void *p = field_c(o, d);
    switch (d->type) {
    case OPT_STRING:
        snprintf(buf, size, "%s", *(const char *)p ? (const char *)p : "-");
        break;
    case OPT_STORE:
        redis_url_redact(p, buf, size);
        break;
    case OPT_INT:
        snprintf(buf, size, "%d", *(const int *)p);
        break;
    case OPT_UINT:
        snprintf(buf, size, "%u", *(const unsigned *)p);
        break;
    case OPT_SIZE:
        snprintf(buf, size, "%zu", *(const size_t *)p);
        break;
    case OPT_DOUBLE:
        snprintf(buf, size, "%g", *(const double *)p);
        break;
    case OPT_BOOL:
        snprintf(buf, size, "%s", *(const bool *)p ? "on" : "off");
        break;
    case OPT_LOG_FORMAT:
        snprintf(buf, size, "%s", *(const enum log_format *)p == LOG_JSON ? "json" : "text");
        break;
    }
    return buf;
}

static void usage(void)
{
    printf("Usage: cafe-server [OPTIONS]\n\n"
           "Async Café: an HTTP/1.1 coffee shop on one event loop.\n"
           "Every option is also read from the environment variable shown with it;\n"
           "a flag wins over the environment. On/off options take on|off (or true|false,\n"
           "1|0) in every form.\n\n");
    struct options d;
    defaults(&d);
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &opts[i];
        char env[64], def[64];
        env_name(o, env, sizeof(env));
        value_text(&d, o, def, sizeof(def));
        if (o->type == OPT_BOOL)
            printf("  --%s, --%s=on|off, --%s on|off, --no-%s\n", o->name, o->name, o->name,
                   o->name);
        else
            printf("  --%s %s, --%s=%s\n", o->name, o->metavar, o->name, o->metavar);
        printf("      %s\n      env %s, default %s", o->help, env, def);
        if (o->type == OPT_DOUBLE)
            printf(", range %g..%g", o->min, o->max);
        else if (o->type != OPT_BOOL && o->type != OPT_STRING && o->type != OPT_LOG_FORMAT &&
                 o->type != OPT_STORE)
            printf(", range %.0f..%.0f", o->min, o->max);
        printf("\n");
    }
    printf("  --help, -h\n      this text\n  --version\n      print the version\n");
}

static const struct opt *find(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
}

/* One "--..." argument at argv[*i]; may consume argv[*i + 1] as its value. */
static int parse_flag(struct options *o, int argc, char **argv, int *i)
{
    const char *name = argv[*i] + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct opt *d = find(name, len);
    const struct opt *negated =
        !d && len > 3 && !strncmp(name, "no-", 3) ? find(name + 3, len - 3) : NULL;
    char source[80];
    if (negated && negated->type == OPT_BOOL) {
        if (eq) {
            fprintf(stderr, "cafe-server: --no-%s takes no value (see --help)\n", negated->name);
            return -1;
        }
        *(bool *)field(o, negated) = false;
        return 0;
    }
    if (!d) {
        fprintf(stderr, "cafe-server: unknown option '--%.*s' (see --help)\n", (int)len, name);
        return -1;
    }
    snprintf(source, sizeof(source), "--%s", d->name);
    if (eq)
        return set(o, d, eq + 1, source);
    const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (d->type == OPT_BOOL) {
        /* "--flag on|off" takes the next word when it is one; "--flag" alone,
         * or before another option, means on. */
        if (!next || !strncmp(next, "--", 2) || !strcmp(next, "-h")) {
            *(bool *)field(o, d) = true;
            return 0;
        }
        (*i)++;
        return set(o, d, next, source);
    }
    if (!next) {
        fprintf(stderr, "cafe-server: %s needs a value (see --help)\n", source);
        return -1;
    }
    (*i)++;
    return set(o, d, next, source);
}

int options_parse(struct options *o, int argc, char **argv)
{
    defaults(o);
    for (size_t i = 0; i < NOPTS; i++) {
        char env[64];
        env_name(&opts[i], env, sizeof(env));
        const char *v = getenv(env);
        if (v && *v && set(o, &opts[i], v, env) < 0)
            return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage();
            return 1;
        }
        if (!strcmp(arg, "--version")) {
            printf("cafe-server %s\n", CAFE_VERSION);
            return 1;
        }
        if (strncmp(arg, "--", 2) || !arg[2]) {
            fprintf(stderr, "cafe-server: unexpected argument '%s' (see --help)\n", arg);
            return -1;
        }
        if (parse_flag(o, argc, argv, &i) < 0)
            return -1;
    }
    return 0;
}

/* "name=value ..." of the table entries whose limit flag is `limits`. */
static void log_settings(const struct options *o, bool limits)
{
    char line[4096];
    size_t n = 0;
    for (size_t i = 0; i < NOPTS && n < sizeof(line); i++) {
        if (opts[i].limit != limits)
            continue;
        char value[600];
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s=%s", n ? " " : "", opts[i].name,
                              value_text(o, &opts[i], value, sizeof(value)));
    }
    log_info("%s: %s", limits ? "limits" : "config", line);
}

void options_log(const struct options *o)
{
    log_settings(o, false);
    log_settings(o, true);
}

void options_each_limit(const struct options *o,
                        void (*fn)(const char *name, double value, void *arg), void *arg)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *d = &opts[i];
        if (!d->limit)
            continue;
        char name[64];
        size_t n = 0;
        for (const char *s = d->name; *s && n + 1 < sizeof(name); s++)
            name[n++] = *s == '-' ? '_' : *s;
        name[n] = '\0';
        fn(name, number(o, d), arg);
    }
}
