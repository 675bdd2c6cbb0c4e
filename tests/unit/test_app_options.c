/* options_parse() (app/options.h): the defaults come from the modules that
 * own them, every form of every value type (--flag V, --flag=V; on/off
 * options also --flag, --flag on|off, --no-flag), the environment and its
 * precedence, a clear message for every bad value, --help listing exactly the
 * accepted forms, and the limits as the metrics export sees them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/options.h"
#include "cafe/store.h"
#include "server/sse_hub.h"

/* Runs options_parse on argv (NULL-terminated, without the program name)
 * with stdout and stderr captured into out/err; returns its result. */
static int parse(struct options *o, const char *const *args, char *out, size_t outsz, char *err,
                 size_t errsz)
{
    char *argv[32] = {"cafe-server"};
    int argc = 1;
    while (args && args[argc - 1])
        argv[argc] = (char *)args[argc - 1], argc++;
    FILE *fo = tmpfile(), *fe = tmpfile();
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    dup2(fileno(fo), 1);
    dup2(fileno(fe), 2);
    int rc = options_parse(o, argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    FILE *files[2] = {fo, fe};
    char *bufs[2] = {out, err};
    size_t sizes[2] = {outsz, errsz};
    for (int i = 0; i < 2; i++) {
        rewind(files[i]);
        size_t n = bufs[i] ? fread(bufs[i], 1, sizes[i] - 1, files[i]) : 0;
        if (bufs[i])
            bufs[i][n] = '\0';
        fclose(files[i]);
    }
    return rc;
}

static int parse_ok(struct options *o, const char *const *args)
{
    char err[1024];
    int rc = parse(o, args, NULL, 0, err, sizeof(err));
    if (rc != 0)
        fail_msg("options_parse refused: %s", err);
    return rc;
}

/* The parse must fail and say exactly want on stderr. */
static void refused(const char *const *args, const char *want)
{
    struct options o;
    char err[1024];
    assert_int_equal(parse(&o, args, NULL, 0, err, sizeof(err)), -1);
    assert_string_equal(err, want);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void clear_env(void)
{
    const char *names[] = {
        "CAFE_PORT",      "CAFE_ACCESS_LOG", "CAFE_MAX_BREWS", "CAFE_TIME_SCALE",
        "CAFE_HOST",      "CAFE_LOG_FORMAT", "CAFE_STORE",     "CAFE_SSE_MAX_BACKLOG",
        "CAFE_REPLICA_ID"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unsetenv(names[i]);
}

static int setup(void **state)
{
    clear_env();
    return 0;
}

static void defaults_come_from_their_modules(void **state)
{
    struct options o;
    parse_ok(&o, NULL);
    struct server_limits l;
    server_limits_default(&l);
    assert_memory_equal(&o.limits, &l, sizeof(l)); /* the engine's, not a copy */
    struct sse_hub_config hub;
    sse_hub_config_default(&hub);
    assert_int_equal(o.sse_max_backlog, hub.max_backlog); /* the hub's */
    assert_int_equal(o.sse_heartbeat_ms, hub.heartbeat_ms);
    assert_string_equal(o.host, "127.0.0.1");
    assert_int_equal(o.port, 8080);
    assert_true(o.time_scale == 1.0);
    assert_true(o.access_log);
    assert_int_equal(o.log_format, LOG_TEXT);
    assert_int_equal(o.max_batch, 100);
    assert_string_equal(o.menu_path, "");
    assert_string_equal(o.store, "memory");
    assert_string_equal(o.store_prefix, "cafe:");
    assert_string_equal(o.replica_id, ""); /* main() derives it from the address */
    assert_false(o.reuseport);
}

/* --store takes memory or a Redis URL with its parts, and refuses anything
 * else at start, saying what is wrong with it; the log never shows a
 * password (breaks if the URL is not checked, or logged as given). */
static void the_store_url_is_checked_and_its_password_kept_out_of_logs(void **state)
{
    struct options o;
    parse_ok(&o, ARGS("--store", "redis://10.0.0.5:6380/2", "--store-prefix", "t1:", "--replica-id",
                      "a", "--reuseport"));
    assert_string_equal(o.store, "redis://10.0.0.5:6380/2");
    assert_string_equal(o.store_prefix, "t1:");
    assert_string_equal(o.replica_id, "a");
    assert_true(o.reuseport);
    parse_ok(&o, ARGS("--store=redis://:s3cret@db/1"));
    parse_ok(&o, ARGS("--store", "redis://[::1]"));
    parse_ok(&o, ARGS("--store", "memory"));
    assert_string_equal(o.store, "memory");
    refused(ARGS("--store", "postgres://db"),
            "cafe-server: invalid value for --store: postgres://db: not "
            "redis://[:password@]host[:port][/db] (or memory)\n");
    refused(ARGS("--store", "redis://db:99999"),
            "cafe-server: invalid value for --store: redis://db:99999: the port must be 1..65535 "
            "(or memory)\n");
    refused(ARGS("--store", "redis://"),
            "cafe-server: invalid value for --store: redis://: no host (or memory)\n");
    setenv("CAFE_STORE", "redis://db/x", 1);
    refused(NULL, "cafe-server: invalid value for CAFE_STORE: redis://db/x: the database must be "
                  "a number (or memory)\n");
    unsetenv("CAFE_STORE");
    char id[80];
    memset(id, 'r', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    char want[200];
    snprintf(want, sizeof(want),
             "cafe-server: invalid value '%s' for --replica-id (expected at most 63 bytes)\n", id);
    refused(ARGS("--replica-id", id), want);

    char buf[128];
    redis_url_redact("redis://:s3cret@db:6380/1", buf, sizeof(buf));
    assert_string_equal(buf, "redis://:***@db:6380/1");
    redis_url_redact("redis://db:6380/1", buf, sizeof(buf));
    assert_string_equal(buf, "redis://db:6380/1");
    redis_url_redact("memory", buf, sizeof(buf));
    assert_string_equal(buf, "memory");
}

static void on_off_options_take_every_form(void **state)
{
    struct options o;
    parse_ok(&o, ARGS("--access-log", "off")); /* the form --help shows */
    assert_false(o.access_log);
    parse_ok(&o, ARGS("--access-log=off"));
    assert_false(o.access_log);
    parse_ok(&o, ARGS("--no-access-log"));
    assert_false(o.access_log);
    parse_ok(&o, ARGS("--no-access-log", "--access-log", "on"));
    assert_true(o.access_log);
    parse_ok(&o, ARGS("--no-access-log", "--access-log=ON"));
    assert_true(o.access_log);
    parse_ok(&o, ARGS("--no-access-log", "--access-log")); /* alone, last */
    assert_true(o.access_log);
    parse_ok(&o, ARGS("--no-access-log", "--access-log", "--port", "5")); /* alone, then a flag */
    assert_true(o.access_log);
    assert_int_equal(o.port, 5);
    const char *off[] = {"off", "OFF", "false", "0"}, *on[] = {"on", "True", "1"};
    for (size_t i = 0; i < 4; i++) {
        parse_ok(&o, ARGS("--access-log", off[i]));
        assert_false(o.access_log);
    }
    for (size_t i = 0; i < 3; i++) {
        parse_ok(&o, ARGS("--no-access-log", "--access-log", on[i]));
        assert_true(o.access_log);
    }
}

static void valued_options_take_both_forms(void **state)
{
    struct options o;
    parse_ok(&o, ARGS("--port", "81", "--time-scale", "0.5", "--host", "::1", "--log-format",
                      "json", "--max-body-bytes", "0", "--menu", "m.json"));
    assert_int_equal(o.port, 81);
    assert_true(o.time_scale == 0.5);
    assert_string_equal(o.host, "::1");
    assert_int_equal(o.log_format, LOG_JSON);
    assert_int_equal(o.limits.max_body_bytes, 0);
    assert_string_equal(o.menu_path, "m.json");
    parse_ok(&o, ARGS("--port=82", "--time-scale=2", "--host=0.0.0.0", "--log-format=text",
                      "--max-body-bytes=1024", "--menu="));
    assert_int_equal(o.port, 82);
    assert_true(o.time_scale == 2.0);
    assert_string_equal(o.host, "0.0.0.0");
    assert_int_equal(o.log_format, LOG_TEXT);
    assert_int_equal(o.limits.max_body_bytes, 1024);
    assert_string_equal(o.menu_path, ""); /* empty: the built-in menu */
    parse_ok(&o, ARGS("--max-connections", "0", "--sse-max-backlog", "1024", "--drain-timeout-ms",
                      "3600000"));
    assert_int_equal(o.limits.max_connections, 0);
    assert_int_equal(o.sse_max_backlog, 1024);
    assert_int_equal(o.limits.drain_timeout_ms, 3600000);
    parse_ok(&o, ARGS("--port", "1", "--port", "2")); /* the last one wins */
    assert_int_equal(o.port, 2);
}

static void bad_values_say_what_is_expected(void **state)
{
    refused(ARGS("--port", "70000"),
            "cafe-server: invalid value '70000' for --port (expected a whole number from 0 to "
            "65535)\n");
    refused(ARGS("--port= 80"), "cafe-server: invalid value ' 80' for --port (expected a whole "
                                "number from 0 to 65535)\n");
    refused(ARGS("--max-brews", "1.5"), "cafe-server: invalid value '1.5' for --max-brews "
                                        "(expected a whole number from 1 to 10000000)\n");
    refused(ARGS("--max-brews", "0"), "cafe-server: invalid value '0' for --max-brews (expected a "
                                      "whole number from 1 to 10000000)\n");
    refused(ARGS("--time-scale", "0"), "cafe-server: invalid value '0' for --time-scale (expected "
                                       "a number from 0.0001 to 1000)\n");
    refused(ARGS("--time-scale=nan"), "cafe-server: invalid value 'nan' for --time-scale "
                                      "(expected a number from 0.0001 to 1000)\n");
    refused(ARGS("--access-log", "maybe"),
            "cafe-server: invalid value 'maybe' for --access-log (expected on or off)\n");
    refused(ARGS("--access-log=yes please"),
            "cafe-server: invalid value 'yes please' for --access-log (expected on or off)\n");
    refused(ARGS("--log-format", "xml"),
            "cafe-server: invalid value 'xml' for --log-format (expected text or json)\n");
    refused(ARGS("--no-access-log=on"),
            "cafe-server: --no-access-log takes no value (see --help)\n");
    refused(ARGS("--port"), "cafe-server: --port needs a value (see --help)\n");
    refused(ARGS("--no-port"), "cafe-server: unknown option '--no-port' (see --help)\n");
    refused(ARGS("--bogus=1"), "cafe-server: unknown option '--bogus' (see --help)\n");
    refused(ARGS("off"), "cafe-server: unexpected argument 'off' (see --help)\n");
    refused(ARGS("--"), "cafe-server: unexpected argument '--' (see --help)\n");
    char host[300];
    memset(host, 'h', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    char want[600];
    snprintf(want, sizeof(want),
             "cafe-server: invalid value '%s' for --host (expected at most 255 bytes)\n", host);
    refused(ARGS("--host", host), want);
}

static void the_environment_and_flags_over_it(void **state)
{
    struct options o;
    setenv("CAFE_PORT", "9000", 1);
    setenv("CAFE_ACCESS_LOG", "off", 1);
    setenv("CAFE_TIME_SCALE", "0.25", 1);
    setenv("CAFE_HOST", "", 1); /* empty: as if unset */
    parse_ok(&o, NULL);
    assert_int_equal(o.port, 9000);
    assert_false(o.access_log);
    assert_true(o.time_scale == 0.25);
    assert_string_equal(o.host, "127.0.0.1");
    parse_ok(&o, ARGS("--port", "9001", "--access-log", "--time-scale=0.5"));
    assert_int_equal(o.port, 9001);
    assert_true(o.access_log);
    assert_true(o.time_scale == 0.5);
    setenv("CAFE_MAX_BREWS", "lots", 1);
    refused(ARGS("--max-brews", "5"), "cafe-server: invalid value 'lots' for CAFE_MAX_BREWS "
                                      "(expected a whole number from 1 to 10000000)\n");
    clear_env();
}

static void help_lists_exactly_the_accepted_forms(void **state)
{
    struct options o;
    static char out[16384];
    assert_int_equal(parse(&o, ARGS("--help"), out, sizeof(out), NULL, 0), 1);
    assert_non_null(
        strstr(out, "  --access-log, --access-log=on|off, --access-log on|off, --no-access-log\n"));
    assert_non_null(strstr(out, "  --port N, --port=N\n"));
    assert_non_null(strstr(out, "env CAFE_PORT, default 8080, range 0..65535\n"));
    assert_non_null(strstr(out, "env CAFE_ACCESS_LOG, default on\n"));
    assert_non_null(strstr(out, "  --log-format text|json, --log-format=text|json\n"));
    assert_non_null(strstr(out, "env CAFE_MAX_HEADER_BYTES, default 16384, range 256..16777216\n"));
    /* Every flag shows each form the parser takes, and the parser takes each
     * of them with the default shown (a valued option) or on/off. */
    unsigned flags = 0;
    char name[64] = "", meta[64] = "";
    bool on_off = false;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char again[64], meta2[64], env[64], def[128], want[512], a[256], b[256];
        if (!strncmp(line, "  --", 4)) {
            if (!strcmp(line, "  --help, -h") || !strcmp(line, "  --version"))
                continue;
            flags++;
            on_off = strstr(line, "on|off") != NULL;
            if (on_off) {
                assert_int_equal(sscanf(line, "  --%63[a-z-],", name), 1);
                snprintf(want, sizeof(want), "  --%s, --%s=on|off, --%s on|off, --no-%s", name,
                         name, name, name);
            } else {
                assert_int_equal(sscanf(line, "  --%63[a-z-] %63[^,], --%63[a-z-]=%63s", name, meta,
                                        again, meta2),
                                 4);
                snprintf(want, sizeof(want), "  --%s %s, --%s=%s", name, meta, name, meta);
            }
            assert_string_equal(line, want);
        } else if (sscanf(line, "      env %63[A-Z_], default %127[^,]", env, def) == 2) {
            snprintf(a, sizeof(a), "--%s", name);
            snprintf(b, sizeof(b), "--%s=%s", name, def);
            if (on_off) {
                char no[256];
                snprintf(no, sizeof(no), "--no-%s", name);
                parse_ok(&o, ARGS(a, "off"));
                parse_ok(&o, ARGS(b));
                parse_ok(&o, ARGS(no));
                parse_ok(&o, ARGS(a));
            } else if (strcmp(def, "-") != 0) {
                parse_ok(&o, ARGS(a, def));
                parse_ok(&o, ARGS(b));
            }
        }
    }
    assert_int_equal(flags, 33);
    assert_int_equal(parse(&o, ARGS("-h"), out, sizeof(out), NULL, 0), 1);
    assert_int_equal(parse(&o, ARGS("--version"), out, sizeof(out), NULL, 0), 1);
    assert_true(strncmp(out, "cafe-server ", 12) == 0);
}

struct seen {
    unsigned n;
    char names[32][40];
    double values[32];
};

static void collect(const char *name, double value, void *arg)
{
    struct seen *s = arg;
    assert_true(s->n < 32);
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
    s->values[s->n++] = value;
}

static double seen_value(const struct seen *s, const char *name)
{
    for (unsigned i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name))
            return s->values[i];
    fail_msg("no limit %s", name);
    return -1;
}

static void limits_as_the_metrics_export_sees_them(void **state)
{
    struct options o;
    parse_ok(&o, ARGS("--max-orders", "2", "--sse-max-backlog", "4096", "--max-output-bytes",
                      "2048", "--max-connections", "77"));
    struct seen s = {0};
    options_each_limit(&o, collect, &s);
    assert_int_equal(s.n, 20);
    assert_true(seen_value(&s, "max_orders") == 2);
    assert_true(seen_value(&s, "sse_max_backlog") == 4096);
    assert_true(seen_value(&s, "max_output_bytes") == 2048);
    assert_true(seen_value(&s, "max_connections") == 77);
    assert_true(seen_value(&s, "max_header_bytes") == 16384);
    assert_true(seen_value(&s, "sse_heartbeat_ms") == 15000);
    assert_true(seen_value(&s, "baristas") == 4);
    for (unsigned i = 0; i < s.n; i++) /* settings that are not limits stay out */
        assert_true(strcmp(s.names[i], "port") && strcmp(s.names[i], "time_scale") &&
                    strcmp(s.names[i], "access_log"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults_come_from_their_modules, setup),
        cmocka_unit_test_setup(on_off_options_take_every_form, setup),
        cmocka_unit_test_setup(valued_options_take_both_forms, setup),
        cmocka_unit_test_setup(bad_values_say_what_is_expected, setup),
        cmocka_unit_test_setup(the_store_url_is_checked_and_its_password_kept_out_of_logs, setup),
        cmocka_unit_test_setup(the_environment_and_flags_over_it, setup),
        cmocka_unit_test_setup(help_lists_exactly_the_accepted_forms, setup),
        cmocka_unit_test_setup(limits_as_the_metrics_export_sees_them, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
