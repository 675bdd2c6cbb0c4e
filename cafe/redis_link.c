/* One Redis connection on the loop (cafe/redis_link.h): hiredis 0.14 async
 * context, watchdog, handshake, reconnection with backoff.
 *
 * How hiredis 0.14 ends a context (async.c), which everything here follows:
 * - connect fails: onConnect(ERR), then the context is freed and every
 *   queued callback runs with NULL; onDisconnect is not called;
 * - the server closes or a read/write fails: every pending callback runs
 *   with NULL, then onDisconnect(ERR), then the context is freed;
 * - redisAsyncFree(): the same (onDisconnect(OK) if it was connected), at
 *   once, or after the current callback returns when called from one;
 * - redisAsyncDisconnect() waits for pending replies: useless against a
 *   Redis that does not answer, so a reset here always frees.
 * A NULL reply therefore always means "this context is going away". */
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/xmalloc.h"
#include "cafe/redis_link.h"
#include "cafe/redis_replies.h"

struct redis_link {
    struct event_base *base;
    struct redis_link_config cfg; /* strings point into the copies below */
    char role[16], host[256], password[128];
    struct redis_link_hooks hooks;

    redisAsyncContext *ac;         /* NULL while down */
    struct redis_replies *replies; /* every context's, in turn */
    enum redis_link_state state;
    struct event *timer; /* backoff while down, else the watchdog */
    unsigned backoff_ms;
    unsigned pending;     /* commands sent whose replies have not come */
    uint64_t progress_ns; /* the last reply, or when pending went 0 -> 1 */
    uint64_t connect_ns;  /* when this connection attempt began */
    uint64_t up_since_ns;
    bool was_up;
    char why[160]; /* why it is down */
    char described[200];
    struct redis_req auth_rq, select_rq;
    struct redis_link_stats st;
};

static void link_connect(struct redis_link *l);

static void arm(struct redis_link *l, uint64_t ms)
{
    struct timeval tv = timeval_from_ms(ms);
    evtimer_add(l->timer, &tv);
}

/* The link is down: it retries after the backoff. */
static void link_down(struct redis_link *l, const char *why)
{
    bool changed = l->state == LINK_UP || strcmp(l->why, why) != 0;
    l->state = LINK_DOWN;
    l->up_since_ns = 0;
    snprintf(l->why, sizeof(l->why), "%s", why);
    /* Jitter, so replicas that lost Redis together do not return in step. */
    unsigned delay = l->backoff_ms + (unsigned)(clock_ns() % (l->backoff_ms / 4 + 1));
    if (changed)
        log_warn("redis %s link to %s:%d down: %s; retrying in %u ms", l->role, l->host,
                 l->cfg.port, why, delay);
    arm(l, delay);
    l->backoff_ms =
        l->backoff_ms * 2 > l->cfg.backoff_max_ms ? l->cfg.backoff_max_ms : l->backoff_ms * 2;
    if (l->hooks.on_down)
        l->hooks.on_down(l, why, l->hooks.arg);
}

/* The context ac is gone or going. Idempotent: hiredis may report one loss
 * several ways (NULL replies, then the disconnect callback). */
static void link_lost(struct redis_link *l, redisAsyncContext *ac, const char *why)
{
    if (ac && l->ac == ac) {
        l->ac = NULL;
        link_down(l, why);
    }
}

void redis_link_reset(struct redis_link *l, const char *why)
{
    redisAsyncContext *ac = l->ac;
    if (!ac)
        return;
    link_lost(l, ac, why);
    redisAsyncFree(ac); /* pending callbacks run with NULL (now, or after this callback) */
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct redis_link *l = ac->data;
    struct redis_req *rq = privdata;
    l->pending--;
    l->progress_ns = clock_ns();
    if (!reply)
        link_lost(l, ac, "connection lost");
    rq->fn(l, reply, rq);
}

static void on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct redis_link *l = ac->data;
    struct redis_req *rq = privdata;
    if (!reply)
        link_lost(l, ac, "connection lost");
    rq->fn(l, reply, rq);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct redis_link *l = arg;
    char why[64];
    uint64_t now = clock_ns(), timeout_ns = (uint64_t)l->cfg.timeout_ms * 1000000u;
    switch (l->state) {
    case LINK_DOWN:
        link_connect(l);
        break;
    case LINK_CONNECTING:
        l->st.timeouts++;
        snprintf(why, sizeof(why), "not ready within %u ms", l->cfg.timeout_ms);
        redis_link_reset(l, why);
        break;
    case LINK_UP:
        if (!l->pending)
            break;
        if (now - l->progress_ns < timeout_ns) {
            arm(l, (timeout_ns - (now - l->progress_ns)) / 1000000u + 1);
            break;
        }
        l->st.timeouts++;
        snprintf(why, sizeof(why), "no reply in %u ms", l->cfg.timeout_ms);
        redis_link_reset(l, why);
        break;
    }
}

static void on_connected(const redisAsyncContext *ac, int status)
{
    struct redis_link *l = ac->data;
    if (status != REDIS_OK) /* hiredis frees ac after this returns */
        link_lost(l, (redisAsyncContext *)ac, ac->errstr ? ac->errstr : "connect failed");
}

static void on_disconnected(const redisAsyncContext *ac, int status)
{
    struct redis_link *l = ac->data;
    link_lost(l, (redisAsyncContext *)ac,
              status == REDIS_OK ? "closed"
              : ac->errstr       ? ac->errstr
                                 : "disconnected");
}

static void on_handshake_reply(struct redis_link *l, struct redisReply *reply, struct redis_req *rq)
{
    const char *err;
    char why[200];
    if (reply && redis_reply_is_error(reply, &err)) {
        snprintf(why, sizeof(why), "%s refused: %.150s", rq == &l->auth_rq ? "AUTH" : "SELECT",
                 err);
        redis_link_reset(l, why);
    }
}

static void link_connect(struct redis_link *l)
{
    redisAsyncContext *ac = redisAsyncConnect(l->host, l->cfg.port);
    if (!ac || ac->err) {
        /* Refused at once (nothing listens on a local port), or no memory:
         * nothing is attached yet, so this context is ours to free. */
        char why[160];
        snprintf(why, sizeof(why), "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        link_down(l, why);
        return;
    }
    ac->data = l;
    redis_replies_attach(l->replies, &ac->c);
    redisLibeventAttach(ac, l->base);
    redisAsyncSetConnectCallback(ac, on_connected);
    redisAsyncSetDisconnectCallback(ac, on_disconnected);
    redisEnableKeepAlive(&ac->c); /* a peer that vanished is noticed without traffic */
    l->ac = ac;
    l->state = LINK_CONNECTING;
    l->connect_ns = clock_ns();
    l->pending = 0;
    arm(l, l->cfg.timeout_ms);
    if (l->cfg.password[0]) {
        const char *argv[] = {"AUTH", l->cfg.password};
        redis_link_send(l, &l->auth_rq, 2, argv, NULL);
    }
    if (l->cfg.db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", l->cfg.db);
        const char *argv[] = {"SELECT", db};
        redis_link_send(l, &l->select_rq, 2, argv, NULL);
    }
    if (l->hooks.on_handshake)
        l->hooks.on_handshake(l, l->hooks.arg);
}

void redis_link_ready(struct redis_link *l)
{
    if (l->state != LINK_CONNECTING)
        return;
    l->state = LINK_UP;
    l->up_since_ns = clock_ns();
    l->backoff_ms = l->cfg.backoff_min_ms;
    if (l->was_up)
        l->st.reconnects++;
    if (l->was_up || l->why[0])
        log_info("redis %s link to %s:%d up", l->role, l->host, l->cfg.port);
    l->was_up = true;
    l->why[0] = '\0';
    evtimer_del(l->timer);
    if (l->pending) {
        l->progress_ns = clock_ns();
        arm(l, l->cfg.timeout_ms);
    }
    if (l->hooks.on_up)
        l->hooks.on_up(l, l->hooks.arg);
}

/* A command was queued: the watchdog waits for its reply. */
static void sent(struct redis_link *l)
{
    l->st.commands++;
    if (l->pending++ == 0) {
        l->progress_ns = clock_ns();
        if (l->state == LINK_UP && !evtimer_pending(l->timer, NULL))
            arm(l, l->cfg.timeout_ms);
    }
}

int redis_link_send(struct redis_link *l, struct redis_req *rq, int argc, const char **argv,
                    const size_t *len)
{
    if (l->state == LINK_DOWN || !l->ac ||
        redisAsyncCommandArgv(l->ac, on_reply, rq, argc, argv, len) != REDIS_OK)
        return -1;
    sent(l);
    return 0;
}

int redis_link_send_formatted(struct redis_link *l, struct redis_req *rq, const char *cmd,
                              size_t len)
{
    if (l->state == LINK_DOWN || !l->ac ||
        redisAsyncFormattedCommand(l->ac, on_reply, rq, cmd, len) != REDIS_OK)
        return -1;
    sent(l);
    return 0;
}

void redis_link_write(struct redis_link *l)
{
    if (l->ac && (l->ac->c.flags & REDIS_CONNECTED))
        redisAsyncHandleWrite(l->ac);
}

int redis_link_subscribe(struct redis_link *l, struct redis_req *rq, const char *channel)
{
    if (l->state == LINK_DOWN || !l->ac)
        return -1;
    const char *argv[] = {"SUBSCRIBE", channel};
    return redisAsyncCommandArgv(l->ac, on_message, rq, 2, argv, NULL) == REDIS_OK ? 0 : -1;
}

struct redis_link *redis_link_new(struct event_base *base, const struct redis_link_config *cfg,
                                  const struct redis_link_hooks *hooks)
{
    struct redis_link *l = xcalloc(1, sizeof(*l));
    l->base = base;
    l->cfg = *cfg;
    snprintf(l->role, sizeof(l->role), "%s", cfg->role);
    snprintf(l->host, sizeof(l->host), "%s", cfg->host);
    snprintf(l->password, sizeof(l->password), "%s", cfg->password ? cfg->password : "");
    l->cfg.role = l->role;
    l->cfg.host = l->host;
    l->cfg.password = l->password;
    if (!l->cfg.backoff_min_ms)
        l->cfg.backoff_min_ms = 50;
    if (l->cfg.backoff_max_ms < l->cfg.backoff_min_ms)
        l->cfg.backoff_max_ms = l->cfg.backoff_min_ms;
    l->backoff_ms = l->cfg.backoff_min_ms;
    l->hooks = *hooks;
    l->auth_rq.fn = on_handshake_reply;
    l->select_rq.fn = on_handshake_reply;
    l->timer = evtimer_new(base, on_timer, l);
    l->replies = redis_replies_new();
    link_connect(l);
    return l;
}

void redis_link_free(struct redis_link *l)
{
    if (!l)
        return;
    redisAsyncContext *ac = l->ac;
    l->ac = NULL; /* link_lost() ignores what follows */
    l->hooks.on_down = NULL;
    if (ac)
        redisAsyncFree(ac); /* pending callbacks run with NULL; l is still valid */
    event_free(l->timer);
    redis_replies_free(l->replies);
    free(l);
}

enum redis_link_state redis_link_state(const struct redis_link *l)
{
    return l->state;
}

const char *redis_link_describe(const struct redis_link *l)
{
    struct redis_link *m = (struct redis_link *)l;
    switch (l->state) {
    case LINK_UP:
        return "up";
    case LINK_CONNECTING:
        if (!l->why[0])
            return "connecting";
        snprintf(m->described, sizeof(m->described), "connecting (was: %s)", l->why);
        return m->described;
    case LINK_DOWN:
        break;
    }
    snprintf(m->described, sizeof(m->described), "down: %s", l->why);
    return m->described;
}

uint64_t redis_link_up_since(const struct redis_link *l)
{
    return l->up_since_ns;
}

void redis_link_get_stats(const struct redis_link *l, struct redis_link_stats *st)
{
    *st = l->st;
}

bool redis_reply_is_error(const struct redisReply *reply, const char **text)
{
    if (!reply || reply->type != REDIS_REPLY_ERROR)
        return false;
    if (text)
        *text = reply->str ? reply->str : "";
    return true;
}

bool redis_reply_integer(const struct redisReply *reply, long long *out)
{
    if (!reply || reply->type != REDIS_REPLY_INTEGER)
        return false;
    *out = reply->integer;
    return true;
}

bool redis_reply_string(const struct redisReply *reply, char *buf, size_t size)
{
    if (!reply || (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_STATUS))
        return false;
    size_t n = reply->len < size ? reply->len : size - 1;
    memcpy(buf, reply->str, n);
    buf[n] = '\0';
    return true;
}
