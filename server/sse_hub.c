#include "server/sse_hub.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/list.h"
#include "base/loop_timeline.h"
#include "base/xmalloc.h"
#include "server/request.h"
#include "server/response.h"

/* One framed event in the hub's list of recent events, or a batch (several
 * events concatenated, in no list). Shared by the list and the output buffer
 * of every subscriber that has it queued; a subscriber's cursor holds a
 * reference too. The count is not atomic on purpose: only the loop thread
 * writes to connections and frees their buffers (libevent runs without
 * locks). An event whose count falls to 0 stays in the list until it is
 * trimmed from the head (hub_trim). */
struct sse_blob {
    struct list node;    /* hub->events, oldest first; unlinked for a batch */
    struct sse_hub *hub; /* valid while the blob is linked */
    unsigned refs;
    uint64_t end;         /* an event's: the hub's byte count just after it */
    char xid[SSE_ID_MAX]; /* the publisher's id (external ids), or "" */
    size_t len;
    char data[];
};

/* An event waiting for the end of the batching window. */
struct sse_pending {
    struct list node;
    char *event;
    json_t *data;
    uint64_t key;
    char xid[SSE_ID_MAX];
};

struct sse_sub {
    struct response_generator gen; /* the engine pulls the stream through it */
    struct list node;              /* hub->subs */
    struct sse_hub *hub;
    struct request *req;
    struct sse_blob *next; /* the first event not yet given to it (a reference), or NULL */
    bool blocked;          /* a write returned false: the engine calls proceed */
};

struct sse_hub {
    struct event_base *base;
    struct sse_hub_config cfg;
    struct list subs, pending;
    struct list events; /* the newest ring_count for resume, older ones while referenced */
    unsigned nevents;
    unsigned ring_count; /* events at the tail resume may use: ring_size, or fewer since a skip */
    struct event *flush_ev, *heartbeat_ev;
    bool flush_armed, closed;
    struct sse_hub_stats st;
    char last_xid[SSE_ID_MAX]; /* external ids: the newest */
    char origin[SSE_ID_MAX];   /* external ids: the ring covers everything since, or "" */
};

static const char ping_frame[] = ": ping\n\n";

void sse_hub_config_default(struct sse_hub_config *cfg)
{
    cfg->max_backlog = 1024 * 1024;
    cfg->ring_size = 256;
    cfg->heartbeat_ms = 15000;
    cfg->flush_ms = 0;
    cfg->retry_ms = 2000;
    cfg->real_precision = 0;
    cfg->timeline = NULL;
    cfg->external_ids = false;
}

static struct sse_blob *blob_new(size_t len)
{
    struct sse_blob *b = xmalloc(sizeof(*b) + len + 1);
    b->node = (struct list){NULL, NULL};
    b->refs = 1;
    b->end = 0;
    b->len = len;
    return b;
}

static void hub_trim(struct sse_hub *hub);

/* An event with no reference left is freed by hub_trim() once nothing older
 * is needed; anything else at once. */
static void blob_unref(struct sse_blob *b)
{
    if (!b || --b->refs)
        return;
    if (!list_linked(&b->node))
        free(b);
    else if (b->node.prev == &b->hub->events) /* the oldest: others may follow it out */
        hub_trim(b->hub);
}

/* The hub's byte count where b begins. */
static uint64_t blob_start(const struct sse_blob *b)
{
    return b->end - b->len;
}

/* The event after b in the list, or NULL for the newest. */
static struct sse_blob *event_after(const struct sse_hub *hub, const struct sse_blob *b)
{
    return b->node.next == &hub->events ? NULL : container_of(b->node.next, struct sse_blob, node);
}

/* Drops the oldest events no one needs: outside the resume ring and
 * referenced by no cursor and no output buffer. */
static void hub_trim(struct sse_hub *hub)
{
    struct list *n;
    while (hub->nevents > hub->ring_count && (n = list_first(&hub->events))) {
        struct sse_blob *b = container_of(n, struct sse_blob, node);
        if (b->refs)
            break;
        list_remove(n);
        free(b);
        hub->nevents--;
    }
}

/* write_ref cleanup: this subscriber is done with the blob (at once when its
 * socket took all of it, else when its output buffer drains or is freed). */
static void on_blob_sent(const void *data, size_t len, void *arg)
{
    blob_unref(arg);
}

/* Hands b (one reference, the caller's) to sub's stream; false and blocked
 * when the connection cannot take more. */
static bool sub_write(struct sse_sub *sub, struct sse_blob *b)
{
    if (!response_stream_write_ref(sub->req, b->data, b->len, on_blob_sent, b))
        sub->blocked = true;
    return !sub->blocked;
}

/* Gives sub the events after its cursor while it can take them (or all of
 * them when force: the stream is about to end). */
static void sub_catch_up(struct sse_sub *sub, bool force)
{
    while (sub->next && (force || !sub->blocked)) {
        struct sse_blob *b = sub->next;
        sub->next = event_after(sub->hub, b);
        if (sub->next)
            sub->next->refs++;
        sub_write(sub, b); /* the cursor's reference goes with it */
    }
}

size_t sse_frame(char *buf, size_t size, uint64_t id, const char *event, const char *data,
                 size_t data_len)
{
    char text[24] = "";
    if (id)
        snprintf(text, sizeof(text), "%" PRIu64, id);
    return sse_frame_id(buf, size, text, event, data, data_len);
}

size_t sse_frame_id(char *buf, size_t size, const char *id, const char *event, const char *data,
                    size_t data_len)
{
    char head[160];
    size_t n = 0;
    if (id[0])
        n += (size_t)snprintf(head + n, sizeof(head) - n, "id: %.*s\n", SSE_ID_MAX - 1, id);
    size_t event_len = event ? strlen(event) : 0;
    size_t total = n + (event ? 7 + event_len + 1 : 0) + 6 + data_len + 2;
    if (!buf || total >= size)
        return total;
    char *p = buf;
    memcpy(p, head, n);
    p += n;
    if (event) {
        memcpy(p, "event: ", 7);
        memcpy(p + 7, event, event_len);
        p[7 + event_len] = '\n';
        p += 7 + event_len + 1;
    }
    memcpy(p, "data: ", 6);
    memcpy(p + 6, data, data_len);
    p += 6 + data_len;
    memcpy(p, "\n\n", 2);
    p[2] = '\0';
    return total;
}

static void sub_free(struct sse_sub *sub)
{
    list_remove(&sub->node);
    sub->hub->st.subscribers--;
    blob_unref(sub->next);
    free(sub);
}

/* The engine: the last write has gone out. */
static void on_sub_proceed(struct response_generator *gen, struct request *req)
{
    struct sse_sub *sub = container_of(gen, struct sse_sub, gen);
    sub->blocked = false;
    sub_catch_up(sub, false);
    hub_trim(sub->hub);
}

/* The engine: the connection went away; the request is freed after this. */
static void on_sub_stop(struct response_generator *gen, struct request *req)
{
    sub_free(container_of(gen, struct sse_sub, gen));
}

/* Ends this subscriber's stream, after what it is owed when deliver (a cut
 * subscriber gets nothing more); the engine then closes the connection, as
 * an unframed body ends only there. */
static void sub_end(struct sse_sub *sub, bool deliver)
{
    if (deliver)
        sub_catch_up(sub, true);
    response_stream_end(sub->req);
    sub_free(sub);
}

/* The newest ring_count events, oldest first: the i-th. */
static struct sse_blob *ring_at(const struct sse_hub *hub, unsigned i)
{
    struct list *n = hub->events.prev;
    for (unsigned back = hub->ring_count - 1 - i; back; back--)
        n = n->prev;
    return container_of(n, struct sse_blob, node);
}

long sse_hub_resume_count(const struct sse_hub *hub, uint64_t last_id)
{
    uint64_t newest = hub->st.last_id;
    if (last_id == newest)
        return 0;
    if (last_id > newest || hub->ring_count == 0)
        return -1;
    if (last_id + hub->ring_count < newest) /* older than the oldest the ring holds, minus one */
        return -1;
    return (long)(newest - last_id);
}

/* Frames one pending event into a new event blob with the next id. */
static struct sse_blob *pending_frame(struct sse_hub *hub, struct sse_pending *p)
{
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    if (hub->cfg.real_precision > 0)
        flags |= JSON_REAL_PRECISION(hub->cfg.real_precision);
    char *json = p->data ? json_dumps(p->data, flags) : NULL;
    const char *data = json ? json : "null";
    size_t data_len = strlen(data);
    char id[SSE_ID_MAX];
    ++hub->st.last_id;
    if (!hub->cfg.external_ids)
        snprintf(id, sizeof(id), "%" PRIu64, hub->st.last_id);
    else
        memcpy(id, p->xid, sizeof(id)); /* "" for an event without one: no id line */
    size_t len = sse_frame_id(NULL, 0, id, p->event, data, data_len);
    struct sse_blob *b = blob_new(len);
    sse_frame_id(b->data, len + 1, id, p->event, data, data_len);
    memcpy(b->xid, p->xid, sizeof(b->xid));
    if (p->xid[0])
        memcpy(hub->last_xid, p->xid, sizeof(hub->last_xid));
    free(json);
    return b;
}

static void pending_free(struct sse_pending *p)
{
    list_remove(&p->node);
    json_decref(p->data);
    free(p->event);
    free(p);
}

/* Appends a framed event to the list (the ring's newest). */
static void events_push(struct sse_hub *hub, struct sse_blob *b)
{
    hub->st.bytes += b->len;
    b->end = hub->st.bytes;
    b->hub = hub;
    b->refs = 0; /* held by the list until trimmed; cursors and buffers add theirs */
    list_push_back(&hub->events, &b->node);
    hub->nevents++;
    if (hub->ring_count < hub->cfg.ring_size)
        hub->ring_count++;
    else
        hub->origin[0] = '\0'; /* an event left the ring: it covers less now */
}

/* What the server holds for a subscriber that cannot keep up: the events
 * after its cursor and what its connection has not sent yet. */
static uint64_t sub_lag(const struct sse_sub *sub, const struct sse_blob *first)
{
    return blob_start(first) - blob_start(sub->next) + response_stream_unsent(sub->req);
}

/* A batch is out: sub gets it now if it can take it, else its cursor moves
 * to the batch's first event -- unless it was over max_backlog behind
 * already (lag counted before this batch, so one large batch never cuts a
 * client that reads fine). */
static void sub_feed(struct sse_sub *sub, struct sse_blob *first, struct sse_blob *batch)
{
    struct sse_hub *hub = sub->hub;
    if (sub->next && sub_lag(sub, first) > hub->cfg.max_backlog) {
        hub->st.cut++;
        sub_end(sub, false);
        return;
    }
    if (sub->next || sub->blocked) {
        if (!sub->next) {
            sub->next = first;
            first->refs++;
        }
        return;
    }
    batch->refs++;
    sub_write(sub, batch);
}

void sse_hub_flush(struct sse_hub *hub)
{
    if (hub->flush_armed) {
        event_del(hub->flush_ev);
        hub->flush_armed = false;
    }
    if (list_empty(&hub->pending))
        return;
    static const struct timeline_label flush_label = {"SSE flush", NULL, 0};
    uint64_t t0 = loop_timeline_enter(hub->cfg.timeline);

    /* Frame each event once into the list; subscribers that can take more
     * get the batch as one blob (the event itself when it is alone). */
    struct sse_blob *first = NULL;
    size_t total = 0;
    unsigned n = 0;
    struct list *node, *tmp;
    list_for_each_safe(node, tmp, &hub->pending)
    {
        struct sse_blob *b = pending_frame(hub, container_of(node, struct sse_pending, node));
        pending_free(container_of(node, struct sse_pending, node));
        events_push(hub, b);
        first = first ? first : b;
        total += b->len;
        n++;
    }
    hub->st.events += n;
    hub->st.batches++;

    struct sse_blob *batch = first;
    if (n > 1) {
        batch = blob_new(total);
        size_t off = 0;
        for (struct sse_blob *b = first; b; b = event_after(hub, b)) {
            memcpy(batch->data + off, b->data, b->len);
            off += b->len;
        }
    } else {
        batch->refs++;
    }
    first->refs++; /* not trimmed while subscribers are fed */
    list_for_each_safe(node, tmp, &hub->subs)
        sub_feed(container_of(node, struct sse_sub, node), first, batch);
    blob_unref(first);
    blob_unref(batch);
    hub_trim(hub);
    loop_timeline_leave(hub->cfg.timeline, t0, 0, &flush_label);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct sse_hub *hub = arg;
    hub->flush_armed = false;
    sse_hub_flush(hub);
}

/* A comment to every subscriber that is not waiting already: proxies keep
 * the stream open, and a vanished peer surfaces as a write error. */
static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    struct sse_hub *hub = arg;
    struct list *node, *tmp;
    list_for_each_safe(node, tmp, &hub->subs)
    {
        struct sse_sub *sub = container_of(node, struct sse_sub, node);
        if (!sub->next && !sub->blocked &&
            !response_stream_write_ref(sub->req, ping_frame, sizeof(ping_frame) - 1, NULL, NULL))
            sub->blocked = true;
    }
}

struct sse_hub *sse_hub_new(struct event_base *base, const struct sse_hub_config *cfg)
{
    struct sse_hub *hub = xcalloc(1, sizeof(*hub));
    hub->base = base;
    hub->cfg = *cfg;
    if (hub->cfg.ring_size == 0)
        hub->cfg.ring_size = 1;
    list_init(&hub->subs);
    list_init(&hub->pending);
    list_init(&hub->events);
    hub->flush_ev = evtimer_new(base, on_flush, hub);
    /* The most urgent priority the base has (0): what is queued goes out
     * before the next callback of the turn, which may block the loop (a sync
     * handler) -- subscribers should see the stall as it happens, not after. */
    event_priority_set(hub->flush_ev, 0);
    if (hub->cfg.heartbeat_ms) {
        struct timeval tv = timeval_from_ms(hub->cfg.heartbeat_ms);
        hub->heartbeat_ev = event_new(base, -1, EV_PERSIST, on_heartbeat, hub);
        event_add(hub->heartbeat_ev, &tv);
    }
    return hub;
}

void sse_hub_publish(struct sse_hub *hub, const char *event, json_t *data, uint64_t key)
{
    sse_hub_publish_id(hub, event, data, key, NULL);
}

void sse_hub_publish_id(struct sse_hub *hub, const char *event, json_t *data, uint64_t key,
                        const char *id)
{
    if (hub->closed) {
        json_decref(data);
        return;
    }
    if (key) {
        struct list *node;
        for (node = hub->pending.next; node != &hub->pending; node = node->next) {
            struct sse_pending *p = container_of(node, struct sse_pending, node);
            if (p->key != key)
                continue;
            json_decref(p->data);
            p->data = data;
            if (id) /* the newest's id: a resume from it has everything */
                snprintf(p->xid, sizeof(p->xid), "%s", id);
            if (strcmp(p->event, event) != 0) {
                free(p->event);
                p->event = xstrdup(event);
            }
            hub->st.coalesced++;
            return;
        }
    }
    struct sse_pending *p = xmalloc(sizeof(*p));
    p->event = xstrdup(event);
    p->data = data;
    p->key = key;
    snprintf(p->xid, sizeof(p->xid), "%s", id ? id : "");
    list_push_back(&hub->pending, &p->node);
    if (!hub->flush_armed) {
        struct timeval tv = timeval_from_ms(hub->cfg.flush_ms);
        event_add(hub->flush_ev, &tv);
        hub->flush_armed = true;
    }
}

/* External ids are ordered: numbers joined by '-' ("1700000000000-3"),
 * compared part by part. */
static int xid_cmp(const char *a, const char *b)
{
    while (*a || *b) {
        char *ea, *eb;
        unsigned long long x = strtoull(a, &ea, 10), y = strtoull(b, &eb, 10);
        if (x != y)
            return x < y ? -1 : 1;
        a = *ea == '-' ? ea + 1 : ea + strlen(ea);
        b = *eb == '-' ? eb + 1 : eb + strlen(eb);
    }
    return 0;
}

/* External ids: how many ring events come after id last -- back to the
 * newest event with an id at most last -- or -1 when the ring does not reach
 * back that far (or last is not an id). */
long sse_hub_resume_count_id(const struct sse_hub *hub, const char *last)
{
    if (last[0] < '0' || last[0] > '9')
        return -1;
    long count = 0;
    struct list *n = hub->events.prev;
    for (unsigned i = 0; i < hub->ring_count; i++, n = n->prev, count++) {
        const char *xid = container_of(n, struct sse_blob, node)->xid;
        if (xid[0] && xid_cmp(xid, last) <= 0)
            return count;
    }
    return hub->origin[0] && xid_cmp(last, hub->origin) >= 0 ? count : -1;
}

void sse_hub_set_origin(struct sse_hub *hub, const char *id)
{
    snprintf(hub->origin, sizeof(hub->origin), "%s", id ? id : "");
}

/* Parses a Last-Event-ID; false when absent or not a plain decimal number. */
static bool parse_last_id(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

unsigned sse_hub_subscriber_count(const struct sse_hub *hub)
{
    return hub->st.subscribers;
}

bool sse_hub_subscribe(struct sse_hub *hub, struct request *req)
{
    if (hub->closed) {
        response_problem(req, 503, "Service Unavailable", "the server is shutting down");
        return false;
    }
    response_header(req, "Cache-Control", "no-cache");
    response_header(req, "X-Accel-Buffering", "no");
    if (req->method == METHOD_HEAD) { /* the engine sends the head and ends it */
        response_stream_begin(req, 200, "text/event-stream", false);
        return false;
    }
    struct sse_sub *sub = xcalloc(1, sizeof(*sub));
    sub->gen = (struct response_generator){on_sub_proceed, on_sub_stop};
    sub->hub = hub;
    sub->req = req;
    list_push_back(&hub->subs, &sub->node);
    hub->st.subscribers++;
    hub->st.subscribed++;
    response_stream_start(req, 200, "text/event-stream", false, &sub->gen);
    char hello[64];
    int n = hub->cfg.retry_ms
                ? snprintf(hello, sizeof(hello), "retry: %u\n: connected\n\n", hub->cfg.retry_ms)
                : snprintf(hello, sizeof(hello), ": connected\n\n");
    if (!response_stream_write(req, hello, (size_t)n))
        sub->blocked = true;

    uint64_t last_id;
    const char *h = request_header(req, "Last-Event-ID");
    if (!h)
        h = request_query_param(req, "lastEventId");
    long count;
    if (hub->cfg.external_ids && h && h[0])
        count = sse_hub_resume_count_id(hub, h);
    else if (!hub->cfg.external_ids && parse_last_id(h, &last_id))
        count = sse_hub_resume_count(hub, last_id);
    else
        return true;
    if (count < 0 && hub->cfg.external_ids) {
        char frame[160];
        int len =
            snprintf(frame, sizeof(frame), "id%s%s\nevent: resync\ndata: {\"last_id\":\"%s\"}\n\n",
                     hub->last_xid[0] ? ": " : "", hub->last_xid, hub->last_xid);
        if (!response_stream_write(req, frame, (size_t)len))
            sub->blocked = true;
        return true;
    }
    if (count < 0) {
        /* Unknown id: the client missed events it cannot get back. Reset its
         * id to our newest (an empty "id" when there is none yet) so its next
         * reconnection resumes cleanly, and tell it to reload its state. */
        char frame[160];
        int len;
        if (hub->st.last_id)
            len = snprintf(frame, sizeof(frame),
                           "id: %" PRIu64 "\nevent: resync\ndata: {\"last_id\":%" PRIu64 "}\n\n",
                           hub->st.last_id, hub->st.last_id);
        else
            len = snprintf(frame, sizeof(frame), "id\nevent: resync\ndata: {\"last_id\":0}\n\n");
        if (!response_stream_write(req, frame, (size_t)len))
            sub->blocked = true;
        return true;
    }
    if (count > 0) { /* replayed from the ring as the connection takes it */
        sub->next = ring_at(hub, hub->ring_count - (unsigned)count);
        sub->next->refs++;
        sub_catch_up(sub, false);
    }
    return true;
}

void sse_hub_close(struct sse_hub *hub, const char *event, json_t *data)
{
    if (hub->closed) {
        json_decref(data);
        return;
    }
    if (event)
        sse_hub_publish(hub, event, data, 0);
    else
        json_decref(data);
    sse_hub_flush(hub);
    hub->closed = true;
    if (hub->heartbeat_ev)
        event_del(hub->heartbeat_ev);
    struct list *n;
    while ((n = list_first(&hub->subs)))
        sub_end(container_of(n, struct sse_sub, node), true);
}

void sse_hub_get_stats(const struct sse_hub *hub, struct sse_hub_stats *st)
{
    *st = hub->st;
}

void sse_hub_free(struct sse_hub *hub)
{
    if (!hub)
        return;
    sse_hub_close(hub, NULL, NULL);
    struct list *n;
    while ((n = list_first(&hub->pending)))
        pending_free(container_of(n, struct sse_pending, node));
    while ((n = list_first(&hub->events))) { /* what a buffer still holds goes with it */
        struct sse_blob *b = container_of(n, struct sse_blob, node);
        list_remove(n);
        if (!b->refs)
            free(b);
    }
    event_free(hub->flush_ev);
    if (hub->heartbeat_ev)
        event_free(hub->heartbeat_ev);
    free(hub);
}
