#ifndef TESTS_LIB_REDIS_SERVER_H
#define TESTS_LIB_REDIS_SERVER_H

/* A real redis-server for one test: started on a free port in a temporary
 * directory, stopped by its PID (also when the test fails: call
 * redis_server_stop() from a cmocka teardown; and the server gets SIGKILL
 * if the test process dies, through PR_SET_PDEATHSIG). The test side talks
 * to it with hiredis's blocking API, which is fine in a test and never in the
 * café. redis_server_available() false: the test binary exits 77 (skip). */

#include <arpa/inet.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct redis_server {
    pid_t pid; /* 0 when not running */
    int port;
    bool appendonly;
    char dir[64];
};

static inline bool redis_server_available(void)
{
    return system("command -v redis-server >/dev/null 2>&1") == 0;
}

static inline int redis_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static inline void redis_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* A blocking client (NULL if it cannot connect). */
static inline redisContext *redis_server_client(const struct redis_server *rs)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", rs->port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c)
        redisSetTimeout(c, tv);
    return c;
}

static inline bool redis_server_pings(const struct redis_server *rs)
{
    redisContext *c = redis_server_client(rs);
    redisReply *r = c ? redisCommand(c, "PING") : NULL;
    bool ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (r)
        freeReplyObject(r);
    if (c)
        redisFree(c);
    return ok;
}

/* Starts (or restarts: same port, same directory) the server. 0 or -1. */
static inline int redis_server_spawn(struct redis_server *rs)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", rs->port);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        char log[96];
        snprintf(log, sizeof(log), "%s/redis.log", rs->dir);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", rs->appendonly ? "yes" : "no", "--appendfsync", "always", "--dir",
               rs->dir, "--logfile", log, "--enable-debug-command", "yes", "--daemonize", "no",
               (char *)NULL);
        _exit(127);
    }
    rs->pid = pid;
    for (int i = 0; i < 500; i++) { /* 10 s: generous on a loaded machine, under ASan */
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            rs->pid = 0;
            return -1; /* the port was taken meanwhile, or it would not start */
        }
        if (redis_server_pings(rs))
            return 0;
        redis_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    rs->pid = 0;
    return -1;
}

static inline int redis_server_start(struct redis_server *rs, bool appendonly)
{
    memset(rs, 0, sizeof(*rs));
    rs->appendonly = appendonly;
    snprintf(rs->dir, sizeof(rs->dir), "/tmp/cafe-redis-XXXXXX");
    if (!mkdtemp(rs->dir))
        return -1;
    for (int attempt = 0; attempt < 5; attempt++) {
        rs->port = redis_free_port();
        if (rs->port > 0 && redis_server_spawn(rs) == 0)
            return 0;
    }
    return -1;
}

/* Sends sig and waits for the server to end. */
static inline void redis_server_signal_wait(struct redis_server *rs, int sig)
{
    if (!rs->pid)
        return;
    kill(rs->pid, SIGCONT); /* a stopped server cannot act on SIGTERM */
    kill(rs->pid, sig);
    waitpid(rs->pid, NULL, 0);
    rs->pid = 0;
}

static inline void redis_server_kill(struct redis_server *rs)
{
    redis_server_signal_wait(rs, SIGKILL);
}

static inline void redis_server_pause(const struct redis_server *rs)
{
    kill(rs->pid, SIGSTOP);
}

static inline void redis_server_resume(const struct redis_server *rs)
{
    kill(rs->pid, SIGCONT);
}

/* Stops the server and removes its directory. Safe to call twice. */
static inline void redis_server_stop(struct redis_server *rs)
{
    redis_server_signal_wait(rs, SIGTERM);
    if (rs->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rs->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", rs->dir);
        rs->dir[0] = '\0';
    }
}

/* One command on a fresh blocking connection; the reply (free it), or NULL. */
static inline redisReply *redis_server_command(const struct redis_server *rs, const char *fmt, ...)
{
    redisContext *c = redis_server_client(rs);
    if (!c)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return r;
}

#endif
