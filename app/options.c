#include "app/options.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum opt_type { OPT_STRING, OPT_INT, OPT_UINT, OPT_SIZE, OPT_DOUBLE, OPT_BOOL, OPT_LOG_FORMAT };

struct opt {
    const char *name; /* flag without "--"; env is CAFE_ + upper snake case */
    enum opt_type type;
    size_t offset, size; /* where in struct options, and string capacity */
    double min, max;
    const char *help;
};

#define O(field) offsetof(struct options, field), sizeof(((struct options *)0)->field)
#define L(field) offsetof(struct options, limits.field), sizeof(((struct server_limits *)0)->field)

static const struct opt opts[] = {
    {"host", OPT_STRING, O(host), 0, 0, "address to listen on"},
    {"port", OPT_INT, O(port), 0, 65535, "TCP port; 0 picks a free one"},
    {"static-dir", OPT_STRING, O(static_dir), 0, 0, "dashboard files (default: static/)"},
    {"menu", OPT_STRING, O(menu_path), 0, 0, "JSON menu replacing the built-in one"},
    {"time-scale", OPT_DOUBLE, O(time_scale), 0.0001, 1000, "real seconds per recipe second"},
    {"baristas", OPT_UINT, O(baristas), 1, 256, "worker threads for hands-on steps (thread mode)"},
    {"max-orders", OPT_UINT, O(max_orders), 1, 10000000, "orders the order book remembers"},
    {"max-brews", OPT_UINT, O(max_brews), 1, 10000000, "brews in flight before 503"},
    {"max-queue", OPT_UINT, O(max_queue), 1, 10000000, "barista queue depth before 503"},
    {"max-batch", OPT_UINT, O(max_batch), 1, 100000, "orders in one POST /orders"},
    {"slow-callback-ms", OPT_UINT, O(slow_callback_ms), 0, 3600000,
     "warn when a callback holds the loop longer (0: off)"},
    {"sse-max-backlog", OPT_SIZE, O(sse_max_backlog), 1024, 1e9,
     "bytes an event-stream subscriber may fall behind before it is cut"},
    {"sse-heartbeat-ms", OPT_UINT, O(sse_heartbeat_ms), 10, 3600000,
     "heartbeat comment interval on event streams"},
    {"log-format", OPT_LOG_FORMAT, O(log_format), 0, 0, "text or json"},
    {"access-log", OPT_BOOL, O(access_log), 0, 0, "one log line per request (on/off)"},
    {"max-header-bytes", OPT_SIZE, L(max_header_bytes), 256, 1 << 24, "header block limit (431)"},
    {"max-header-fields", OPT_UINT, L(max_header_fields), 1, 10000, "header field limit (431)"},
    {"max-uri-bytes", OPT_SIZE, L(max_uri_bytes), 16, 1 << 24, "request-target limit (414)"},
    {"max-body-bytes", OPT_SIZE, L(max_body_bytes), 0, 1 << 30, "request body limit (413)"},
    {"header-timeout-ms", OPT_UINT, L(header_timeout_ms), 1, 3600000,
     "time allowed for the header block, and again for the body (408)"},
    {"idle-timeout-ms", OPT_UINT, L(idle_timeout_ms), 1, 3600000, "keep-alive idle timeout"},
    {"write-timeout-ms", OPT_UINT, L(write_timeout_ms), 1, 3600000,
     "a client that reads nothing this long is cut"},
    {"max-connections", OPT_UINT, L(max_connections), 0, 10000000,
     "open connections before 503 (0: descriptor limit less a reserve)"},
    {"drain-timeout-ms", OPT_UINT, L(drain_timeout_ms), 0, 3600000,
     "on SIGTERM, time given to in-flight work"},
    {"max-output-bytes", OPT_SIZE, L(max_output_bytes), 1024, 1 << 30,
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
    o->slow_callback_ms = 100;
    o->sse_max_backlog = 1024 * 1024;
    o->sse_heartbeat_ms = 15000;
    o->log_format = LOG_TEXT;
    o->access_log = true;
    server_limits_default(&o->limits);
}

static int set(struct options *o, const struct opt *d, const char *value, const char *source)
{
    char *p = (char *)o + d->offset;
    char *end = NULL;
    errno = 0;
    switch (d->type) {
    case OPT_STRING:
        if (strlen(value) >= d->size)
            goto bad;
        strcpy(p, value);
        return 0;
    case OPT_BOOL:
        if (!strcasecmp(value, "on") || !strcasecmp(value, "true") || !strcmp(value, "1"))
            *(bool *)p = true;
        else if (!strcasecmp(value, "off") || !strcasecmp(value, "false") || !strcmp(value, "0"))
            *(bool *)p = false;
        else
            goto bad;
        return 0;
    case OPT_LOG_FORMAT:
        if (!strcmp(value, "text"))
            *(enum log_format *)p = LOG_TEXT;
        else if (!strcmp(value, "json"))
            *(enum log_format *)p = LOG_JSON;
        else
            goto bad;
        return 0;
    default:
        break;
    }
    double v = strtod(value, &end);
    if (errno || end == value || *end || v < d->min || v > d->max)
        goto bad;
    if (d->type != OPT_DOUBLE && v != (double)(long long)v)
        goto bad;
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
    case OPT_DOUBLE:
        *(double *)p = v;
        break;
    default:
        break;
    }
    return 0;
bad:
    if (source)
        fprintf(stderr, "cafe-server: invalid value '%s' for %s", value, source);
    else
        fprintf(stderr, "cafe-server: invalid value '%s' for --%s", value, d->name);
    if (d->type != OPT_STRING && d->type != OPT_BOOL && d->type != OPT_LOG_FORMAT)
        fprintf(stderr, " (expected %g to %g)", d->min, d->max);
    fprintf(stderr, "\n");
    return -1;
}

static void env_name(const struct opt *d, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "CAFE_");
    for (const char *s = d->name; *s && n + 1 < size; s++)
        out[n++] = *s == '-' ? '_' : (char)toupper((unsigned char)*s);
    out[n] = '\0';
}

static void usage(void)
{
    printf("Usage: cafe-server [OPTIONS]\n\n"
           "Async Café: an HTTP/1.1 coffee shop on one event loop.\n"
           "Each option can also be set as an environment variable CAFE_<OPTION>\n"
           "(--time-scale 0.1 <-> CAFE_TIME_SCALE=0.1); flags win.\n\n");
    struct options d;
    defaults(&d);
    for (size_t i = 0; i < NOPTS; i++) {
        char env[64], def[64] = "";
        env_name(&opts[i], env, sizeof(env));
        const char *p = (const char *)&d + opts[i].offset;
        switch (opts[i].type) {
        case OPT_STRING:
            snprintf(def, sizeof(def), "%s", *p ? p : "-");
            break;
        case OPT_INT:
            snprintf(def, sizeof(def), "%d", *(const int *)p);
            break;
        case OPT_UINT:
            snprintf(def, sizeof(def), "%u", *(const unsigned *)p);
            break;
        case OPT_SIZE:
            snprintf(def, sizeof(def), "%zu", *(const size_t *)p);
            break;
        case OPT_DOUBLE:
            snprintf(def, sizeof(def), "%g", *(const double *)p);
            break;
        case OPT_BOOL:
            snprintf(def, sizeof(def), "%s", *(const bool *)p ? "on" : "off");
            break;
        case OPT_LOG_FORMAT:
            snprintf(def, sizeof(def), "text");
            break;
        }
        printf("  --%-20s %s\n  %-22s [%s, default %s]\n", opts[i].name, opts[i].help, "", env,
               def);
    }
    printf("  --help                 this text\n  --version              print the version\n");
}

static const struct opt *find(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
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
        if (strncmp(arg, "--", 2)) {
            fprintf(stderr, "cafe-server: unexpected argument '%s' (see --help)\n", arg);
            return -1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *d = find(name, len);
        if (!d && len > 3 && !strncmp(name, "no-", 3) && (d = find(name + 3, len - 3)) &&
            d->type == OPT_BOOL && !eq) {
            set(o, d, "off", NULL);
            continue;
        }
        if (!d) {
            fprintf(stderr, "cafe-server: unknown option '--%.*s' (see --help)\n", (int)len, name);
            return -1;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value && d->type == OPT_BOOL)
            value = "on";
        if (!value && i + 1 < argc)
            value = argv[++i];
        if (!value) {
            fprintf(stderr, "cafe-server: --%s needs a value\n", d->name);
            return -1;
        }
        if (set(o, d, value, NULL) < 0)
            return -1;
    }
    return 0;
}

void options_log(const struct options *o)
{
    const struct server_limits *l = &o->limits;
    log_info("config: time-scale=%g baristas=%u max-orders=%u max-brews=%u max-queue=%u "
             "max-batch=%u slow-callback-ms=%u",
             o->time_scale, o->baristas, o->max_orders, o->max_brews, o->max_queue, o->max_batch,
             o->slow_callback_ms);
    log_info("limits: max-header-bytes=%zu max-header-fields=%u max-uri-bytes=%zu "
             "max-body-bytes=%zu header-timeout-ms=%u idle-timeout-ms=%u write-timeout-ms=%u "
             "max-connections=%u drain-timeout-ms=%u max-output-bytes=%zu",
             l->max_header_bytes, l->max_header_fields, l->max_uri_bytes, l->max_body_bytes,
             l->header_timeout_ms, l->idle_timeout_ms, l->write_timeout_ms, l->max_connections,
             l->drain_timeout_ms, l->max_output_bytes);
}
