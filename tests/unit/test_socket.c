/* server/socket.c itself, on a real loop over real TCP on 127.0.0.1 (the
 * connection's own tests run against tests/unit/fake_socket.c). The socket
 * reads into one buffer shared by every socket, keeps only what its owner
 * leaves, and watches one edge-triggered event: these tests hold what that
 * must not lose -- input that came while reading was off, the rest of a
 * read that filled the buffer, leftover bytes across another socket's read,
 * output that waited for the kernel.
 *
 * Each test names the breakage it catches. No timing: the loop is run until
 * the expected callback came, at most a bounded number of turns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/socket.h"

/* What one socket's owner saw; it takes at most `take` bytes per read
 * (SIZE_MAX: all), as a parser that stops after one request does. */
struct owner {
    struct sock *s;
    int fd; /* the descriptor it was made from */
    size_t take;
    size_t reads, drains, eofs, errors;
    char got[65536];
    size_t got_len;
};

static void on_read(struct sock *s, void *arg)
{
    struct owner *o = arg;
    struct evbuffer *in = sock_input(s);
    size_t n = evbuffer_get_length(in);
    if (n > o->take)
        n = o->take;
    if (n > sizeof(o->got) - o->got_len)
        n = sizeof(o->got) - o->got_len;
    evbuffer_remove(in, o->got + o->got_len, n);
    o->got_len += n;
    o->reads++;
}

static void on_eof(struct sock *s, void *arg)
{
    ((struct owner *)arg)->eofs++;
}

static void on_drain(struct sock *s, void *arg)
{
    ((struct owner *)arg)->drains++;
}

static void on_error(struct sock *s, void *arg, int err)
{
    struct owner *o = arg;
    o->errors++;
    sock_close(o->s);
}

static void on_deadline(struct sock *s, void *arg) {}

static const struct sock_handlers handlers = {on_read, on_eof, on_drain, on_error, on_deadline};

static struct event_base *base;
static int listener;

static int setup(void **state)
{
    base = event_base_new();
    listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(bind(listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(listener, 8), 0);
    return 0;
}

static int teardown(void **state)
{
    close(listener);
    event_base_free(base);
    return 0;
}

/* A connected pair: *peer is the test's blocking end, the socket the
 * server's (owner o, reading off as sock_new leaves it). */
static void connect_pair(struct owner *o, int *peer)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    getsockname(listener, (struct sockaddr *)&sa, &len);
    *peer = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(*peer, (struct sockaddr *)&sa, sizeof(sa)), 0);
    int fd = accept(listener, NULL, NULL);
    assert_true(fd >= 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    memset(o, 0, sizeof(*o));
    o->fd = fd;
    o->take = SIZE_MAX;
    o->s = sock_new(base, fd, &handlers, o, NULL);
}

/* Runs the loop until *count reaches want (true) or 200 turns went by with
 * nothing more to do (false). */
static bool run_until(const size_t *count, size_t want)
{
    for (int i = 0; i < 200 && *count < want; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    return *count >= want;
}

/* Sends all of data from the peer and waits until the server's end has
 * it: the kernel holds it before the loop looks. */
static void peer_send(int peer, int fd, const void *data, size_t len)
{
    assert_int_equal(send(peer, data, len, 0), (ssize_t)len);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
}

/* Bytes that arrived while reading was off are read once it is on, though
 * no new byte (no new edge) comes (breaks if turning reading on waits for
 * the next edge: a throttled pipelining client that has sent everything
 * would never be read again). */
static void input_that_came_while_off_is_read(void **state)
{
    struct owner o;
    int peer;
    connect_pair(&o, &peer);
    peer_send(peer, o.fd, "GET / HTTP/1.1\r\n\r\n", 18);
    for (int i = 0; i < 10; i++) /* the edge comes and goes */
        event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(o.reads, 0);
    sock_set_reading(o.s, true);
    assert_true(run_until(&o.reads, 1));
    assert_int_equal(o.got_len, 18);
    assert_memory_equal(o.got, "GET / HTTP/1.1\r\n\r\n", 18);
    sock_free(o.s);
    close(peer);
}

/* A read that fills the buffer is followed by another without a new edge,
 * until everything the kernel held is delivered (breaks if the socket waits
 * for an edge after a full read: an upload larger than one read stalls). */
static void a_full_read_reads_again(void **state)
{
    struct owner o;
    int peer;
    connect_pair(&o, &peer);
    static char big[40000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    peer_send(peer, o.fd, big, sizeof(big));
    sock_set_reading(o.s, true);
    for (int i = 0; i < 200 && o.got_len < sizeof(big); i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(o.got_len, sizeof(big));
    assert_memory_equal(o.got, big, sizeof(big));
    assert_true(o.reads >= 3); /* one buffer at a time */
    sock_free(o.s);
    close(peer);
}

/* What an owner leaves of a read stays its own, in order, while another
 * socket reads into the shared buffer; the next read is appended after it
 * (breaks if the leftover still points into the shared buffer, or is
 * dropped, or the next read lands before it). */
static void leftover_survives_another_sockets_read(void **state)
{
    struct owner a, b;
    int pa, pb;
    connect_pair(&a, &pa);
    connect_pair(&b, &pb);
    a.take = 3;
    sock_set_reading(a.s, true);
    sock_set_reading(b.s, true);
    peer_send(pa, a.fd, "abcdefgh", 8);
    assert_true(run_until(&a.reads, 1));
    assert_int_equal(a.got_len, 3);
    peer_send(pb, b.fd, "XXXXXXXXXXXXXXXX", 16); /* overwrites the shared buffer */
    assert_true(run_until(&b.reads, 1));
    struct evbuffer *in = sock_input(a.s);
    assert_int_equal(evbuffer_get_length(in), 5);
    assert_memory_equal(evbuffer_pullup(in, -1), "defgh", 5);
    peer_send(pa, a.fd, "ijk", 3);
    a.take = SIZE_MAX;
    assert_true(run_until(&a.reads, 2));
    assert_int_equal(a.got_len, 11);
    assert_memory_equal(a.got, "abcdefghijk", 11);
    assert_int_equal(evbuffer_get_length(sock_input(a.s)), 0);
    sock_free(a.s);
    sock_free(b.s);
    close(pa);
    close(pb);
}

/* Output the kernel would not take waits, and goes out as the peer reads,
 * the owner told each time (breaks if the write edge is missed or not
 * told: a large answer to a slow reader never finishes). */
static void output_that_waited_is_written(void **state)
{
    struct owner o;
    int peer;
    connect_pair(&o, &peer);
    size_t total = 8u << 20; /* far more than both socket buffers */
    char *blob = malloc(total);
    memset(blob, 'z', total);
    evbuffer_add(sock_output(o.s), blob, total);
    assert_true(sock_flush(o.s) > 0); /* the kernel pushed back */
    size_t got = 0;
    char buf[65536];
    for (int i = 0; i < 100000 && got < total; i++) {
        ssize_t n = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    assert_int_equal(got, total);
    assert_int_equal(sock_pending(o.s), 0);
    assert_true(o.drains > 0);
    assert_int_equal(o.errors, 0);
    free(blob);
    sock_free(o.s);
    close(peer);
}

/* The peer's FIN is told once, after the bytes before it (breaks if EOF is
 * taken for an error, or the bytes are lost). */
static void eof_after_bytes(void **state)
{
    struct owner o;
    int peer;
    connect_pair(&o, &peer);
    sock_set_reading(o.s, true);
    peer_send(peer, o.fd, "last", 4);
    shutdown(peer, SHUT_WR);
    assert_true(run_until(&o.eofs, 1));
    assert_int_equal(o.got_len, 4);
    assert_int_equal(o.errors, 0);
    for (int i = 0; i < 10; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(o.eofs, 1);
    sock_free(o.s);
    close(peer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(input_that_came_while_off_is_read, setup, teardown),
        cmocka_unit_test_setup_teardown(a_full_read_reads_again, setup, teardown),
        cmocka_unit_test_setup_teardown(leftover_survives_another_sockets_read, setup, teardown),
        cmocka_unit_test_setup_teardown(output_that_waited_is_written, setup, teardown),
        cmocka_unit_test_setup_teardown(eof_after_bytes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
