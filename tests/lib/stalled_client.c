/* A client that stops reading, with a small receive buffer it chose itself,
 * for the e2e tests of backpressure (tests/e2e/):
 *
 *   stalled_client PORT RCVBUF TARGET [MARK [COUNT]]
 *
 * Sets SO_RCVBUF before connecting (so the window is small from the SYN on
 * and the kernel does not autotune it), sends "GET TARGET HTTP/1.1" (COUNT
 * times, pipelined; default once), reads
 * until MARK (default ": connected\n\n", the event stream's greeting) has
 * arrived, prints one JSON line {"read":N,"port":LOCAL_PORT,"rcvbuf":BYTES}
 * and then never reads the socket again: it waits for its stdin to close and
 * exits 0. Node cannot set SO_RCVBUF on a TCP socket, and a paused node socket
 * leaves the kernel free to buffer megabytes (as much as tcp_rmem allows),
 * which makes "when is this reader cut" a property of the machine. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int die(const char *what)
{
    perror(what);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: stalled_client PORT RCVBUF TARGET [MARK [COUNT]]\n");
        return 2;
    }
    int port = atoi(argv[1]), rcvbuf = atoi(argv[2]);
    const char *target = argv[3], *mark = argc > 4 ? argv[4] : ": connected\n\n";
    int count = argc > 5 ? atoi(argv[5]) : 1;

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return die("socket");
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
        return die("SO_RCVBUF");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return die("connect");

    char req[1024];
    int n =
        snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: stalled\r\nAccept: text/event-stream\r\n\r\n", target);
    if (n <= 0 || (size_t)n >= sizeof(req))
        return die("request");
    for (int i = 0; i < count; i++) /* small requests: the server reads them all at once */
        if (write(fd, req, (size_t)n) != n)
            return die("write");

    /* Read byte by byte up to the mark: nothing past it leaves the kernel. */
    char seen[8192];
    size_t got = 0;
    while (!memmem(seen, got, mark, strlen(mark))) {
        if (got == sizeof(seen)) {
            fprintf(stderr, "stalled_client: no mark in the first %zu bytes\n", got);
            return 1;
        }
        ssize_t r = read(fd, seen + got, 1);
        if (r <= 0)
            return die("read before the mark");
        got++;
    }
    struct sockaddr_in local;
    socklen_t len = sizeof(local);
    getsockname(fd, (struct sockaddr *)&local, &len);
    int actual = 0;
    len = sizeof(actual);
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &actual, &len);
    printf("{\"read\":%zu,\"port\":%d,\"rcvbuf\":%d}\n", got, ntohs(local.sin_port), actual);
    fflush(stdout);

    char sink[256];
    while (read(STDIN_FILENO, sink, sizeof(sink)) > 0)
        ;
    close(fd);
    return 0;
}
