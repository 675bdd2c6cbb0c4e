/* The listener and the drain (server/server.c) on a real loop and real
 * sockets on 127.0.0.1: what server_new() and server_listen() refuse, the
 * connection cap, and the drain's three ways to end -- nothing open, the
 * busy hook quiet again, the drain timeout. The connections themselves are
 * test_http1.c's.
 *
 * Each test names the breakage it catches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "server/access_log.h"
#include "server/response.h"
#include "server/server.h"

static enum handler_status on_hello(struct request *req)
{
    response_send(req, 200, "text/plain", "hi", 2);
    return HANDLER_DONE;
}

static const struct route routes[] = {{METHOD_GET, "/hello", on_hello, "/hello", 0, 0}};

/* What the hooks saw. */
static struct {
    unsigned busy_left; /* busy() answers true this many times */
    unsigned drain_begun, timed_out;
} app;

static bool app_busy(void *arg)
{
    if (!app.busy_left)
        return false;
    app.busy_left--;
    return true;
}

static void app_drain_begin(void *arg)
{
    app.drain_begun++;
}

static void app_drain_timeout(void *arg)
{
    app.timed_out++;
    app.busy_left = 0;
}

static const struct server_hooks hooks = {
    .routes = routes,
    .nroutes = 1,
    .busy = app_busy,
    .on_drain_begin = app_drain_begin,
    .on_drain_timeout = app_drain_timeout,
};

static struct event_base *base;
static struct server_limits limits;

static int setup(void **state)
{
    access_log_enable(false);
    base = event_base_new();
    server_limits_default(&limits);
    limits.max_connections = 2;
    limits.drain_timeout_ms = 300;
    memset(&app, 0, sizeof(app));
    return 0;
}

static int teardown(void **state)
{
    event_base_free(base);
    return 0;
}

/* A blocking client socket connected to 127.0.0.1:port. */
static int client(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Runs the loop until fd has a whole head (or EOF, or 5 s: a broken server
 * fails the test, never hangs it); returns what was read. */
static const char *answer(int fd)
{
    static char buf[4096];
    size_t n = 0;
    uint64_t end = clock_ns() + 5000000000ull;
    while (clock_ns() < end && n < sizeof(buf) - 1) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && n && strstr(buf, "\r\n\r\n")))
            break;
        if (r > 0)
            n += (size_t)r;
        buf[n] = '\0';
        usleep(1000);
    }
    buf[n] = '\0';
    return buf;
}

/* Runs the loop to its exit; returns the ms it took (breaks the test after 5 s). */
static double run_to_exit(void)
{
    uint64_t t0 = clock_ns();
    while (event_base_got_exit(base) == 0 && clock_ns() - t0 < 5000000000ull)
        event_base_loop(base, EVLOOP_ONCE);
    assert_true(event_base_got_exit(base));
    return (double)(clock_ns() - t0) / 1e6;
}

/* No connection cap is no server (the application derives the default);
 * a host that does not resolve and a port that is taken are errors, not
 * crashes (breaks if server_new() accepts a cap of 0: every connection 503). */
static void refusals(void **state)
{
    struct server_limits none = limits;
    none.max_connections = 0;
    assert_null(server_new(base, &none, &hooks));
    server_free(NULL);

    struct server *a = server_new(base, &limits, &hooks);
    assert_int_equal(server_listen(a, "", 0, false), -1); /* no such host: fails at once */
    int port = server_listen(a, "127.0.0.1", 0, false);
    assert_true(port > 0);
    struct server *b = server_new(base, &limits, &hooks);
    assert_int_equal(server_listen(b, "127.0.0.1", port, false), -1); /* taken */
    server_free(b);
    server_free(a); /* never shut down: the listener is freed with it */
}

/* With reuseport two servers bind one port, and both serve on it; without
 * it the second is refused (breaks if the flag never reaches the socket). */
static void reuseport_shares_a_port(void **state)
{
    struct server *a = server_new(base, &limits, &hooks), *b = server_new(base, &limits, &hooks);
    int port = server_listen(a, "127.0.0.1", 0, true);
    assert_true(port > 0);
    assert_int_equal(server_listen(b, "127.0.0.1", port, false), -1);
    assert_int_equal(server_listen(b, "127.0.0.1", port, true), port);
    int c = client(port);
    const char *get = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_true(send(c, get, strlen(get), 0) > 0);
    assert_non_null(strstr(answer(c), "200 OK"));
    close(c);
    server_free(b);
    server_free(a);
}

/* The cap counts open connections: the third of two is answered 503 with
 * Retry-After and closed; once one closes, a new one is served (breaks if
 * the cap is off by one, or never frees a slot). */
static void connection_cap(void **state)
{
    struct server *s = server_new(base, &limits, &hooks);
    int port = server_listen(s, "127.0.0.1", 0, false);
    int a = client(port), b = client(port);
    const char *get = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_true(send(a, get, strlen(get), 0) > 0);
    assert_non_null(strstr(answer(a), "200 OK"));
    assert_true(send(b, get, strlen(get), 0) > 0);
    assert_non_null(strstr(answer(b), "200 OK"));
    int c = client(port);
    const char *shed = answer(c);
    assert_non_null(strstr(shed, "HTTP/1.1 503 Service Unavailable\r\n"));
    assert_non_null(strstr(shed, "Retry-After: 1\r\n"));
    assert_int_equal(server_stats(s)->connections_rejected, 1);
    close(c);
    close(a);
    for (int i = 0; i < 100 && server_stats(s)->open_connections > 1; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    assert_int_equal(server_stats(s)->open_connections, 1);
    int d = client(port);
    assert_true(send(d, get, strlen(get), 0) > 0);
    assert_non_null(strstr(answer(d), "200 OK"));
    close(b);
    close(d);
    server_free(s);
}

/* Nothing open and nothing busy: the drain ends at once; shutting down
 * twice is one drain (breaks if a second server_shutdown() re-arms it). */
static void drain_with_nothing_open(void **state)
{
    struct server *s = server_new(base, &limits, &hooks);
    server_listen(s, "127.0.0.1", 0, false);
    server_shutdown(s);
    server_shutdown(s);
    assert_true(server_draining(s));
    assert_int_equal(app.drain_begun, 1);
    assert_true(run_to_exit() < 200);
    assert_int_equal(app.timed_out, 0);
    server_free(s);
}

/* Busy work without a connection (?wait=0 brews) holds the drain until it
 * is done, polled (breaks if the drain ignores the busy hook). */
static void drain_waits_while_busy(void **state)
{
    struct server *s = server_new(base, &limits, &hooks);
    server_listen(s, "127.0.0.1", 0, false);
    app.busy_left = 5; /* five 20 ms polls */
    server_shutdown(s);
    double ms = run_to_exit();
    assert_true(ms >= 80);
    assert_true(ms < limits.drain_timeout_ms);
    assert_int_equal(app.busy_left, 0);
    assert_int_equal(app.timed_out, 0);
    server_free(s);
}

/* Work that never ends: at the drain timeout the hook cancels it, then the
 * remaining connections are closed and the loop exits (breaks if the drain
 * timeout is never armed, or leaves connections open). */
static void drain_timeout_closes_what_is_left(void **state)
{
    struct server *s = server_new(base, &limits, &hooks);
    int port = server_listen(s, "127.0.0.1", 0, false);
    int c = client(port);
    assert_true(send(c, "GET /hel", 8, 0) > 0); /* half a request: it has a 10 s deadline */
    for (int i = 0; i < 100 && !server_stats(s)->open_connections; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    app.busy_left = 1000000;
    server_shutdown(s);
    double ms = run_to_exit();
    assert_int_equal(app.timed_out, 1);
    assert_true(ms >= limits.drain_timeout_ms);
    assert_true(ms < limits.drain_timeout_ms + 1000);
    assert_int_equal(server_stats(s)->open_connections, 0);
    close(c);
    server_free(s);
}

int main(void)
{
    log_init(LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(reuseport_shares_a_port, setup, teardown),
        cmocka_unit_test_setup_teardown(connection_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(drain_with_nothing_open, setup, teardown),
        cmocka_unit_test_setup_teardown(drain_waits_while_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(drain_timeout_closes_what_is_left, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
