#include "server/sse_hub.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xmalloc.h"
#include "server/request.h"
#include "server/response.h"

/* One framed piece of the stream, shared by the resume ring and the output
 * buffer of every subscriber whose socket did not take it at once. The count
 * is not atomic on purpose: only the loop thread writes to connections and
 * frees their buffers (libevent runs without locks). */
struct sse_blob {
    unsigned refs;
    uint64_t id; /* ring events: the event's id; batches: 0 */
    size_t len;
    char data[];
};

/* An event waiting for the end of the batching window. */
struct sse_pending {
    struct sse_pending *next;
    char *event;
    json_t *data;
    uint64_t key;
};

struct sse_sub {
    struct sse_sub *prev, *next;
    struct sse_hub *hub;
    struct request *req;
};

struct sse_hub {
    struct event_base *base;
    struct sse_hub_config cfg;
    struct sse_sub *subs;
    struct sse_pending *pending, **pending_tail;
    struct sse_blob **ring; /* cfg.ring_size slots; oldest at ring_head */
    unsigned ring_head, ring_count;
    struct event *flush_ev, *heartbeat_ev;
    bool flush_armed, closed;
    struct sse_hub_stats st;
};

static const char ping_frame[] = ": ping\n\n";

void sse_hub_config_default(struct sse_hub_config *cfg)
{
    cfg->max_backlog = 256 * 1024;
    cfg->ring_size = 256;
    cfg->heartbeat_ms = 15000;
    cfg->flush_ms = 0;
    cfg->retry_ms = 2000;
    cfg->real_precision = 0;
}

static struct sse_blob *blob_new(uint64_t id, size_t len)
{
    struct sse_blob *b = xmalloc(sizeof(*b) + len + 1);
    b->refs = 1;
    b->id = id;
    b->len = len;
    return b;
}

static void blob_unref(struct sse_blob *b)
{
    if (b && --b->refs == 0)
        free(b);
}

/* write_ref cleanup: this subscriber is done with the blob (at once when its
 * socket took all of it, else when its output buffer drains or is freed). */
static void on_blob_sent(const void *data, size_t len, void *arg)
{
    blob_unref(arg);
}

static void blob_send(struct sse_blob *b, struct request *req)
{
    b->refs++;
    response_stream_write_ref(req, b->data, b->len, on_blob_sent, b);
}

size_t sse_frame(char *buf, size_t size, uint64_t id, const char *event, const char *data,
                 size_t data_len)
{
    char head[160];
    size_t n = 0;
    if (id)
        n += (size_t)snprintf(head + n, sizeof(head) - n, "id: %" PRIu64 "\n", id);
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

static void sub_unlink(struct sse_sub *sub)
{
    struct sse_hub *hub = sub->hub;
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        hub->subs = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    hub->st.subscribers--;
}

/* The connection went away: the engine frees the request after this. */
static void on_sub_abort(struct request *req, void *arg)
{
    struct sse_sub *sub = arg;
    sub_unlink(sub);
    free(sub);
}

/* Ends this subscriber's stream (it has not been aborted, so the request is
 * still ours); the engine then closes the connection, as an unframed body
 * ends only there. */
static void sub_end(struct sse_sub *sub)
{
    sub_unlink(sub);
    request_on_abort(sub->req, NULL, NULL);
    response_stream_end(sub->req);
    free(sub);
}

/* Before each write to sub: a subscriber whose unsent backlog is already over
 * the limit is cut instead, and true is returned. Checking what is already
 * queued (not what it would become) keeps one large batch from cutting a
 * client that reads fine; memory per subscriber stays below max_backlog plus
 * one batch. */
static bool sub_cut_if_behind(struct sse_sub *sub)
{
    struct sse_hub *hub = sub->hub;
    if (response_stream_backlog(sub->req) <= hub->cfg.max_backlog)
        return false;
    hub->st.cut++;
    sub_end(sub);
    return true;
}

static void ring_push(struct sse_hub *hub, struct sse_blob *b)
{
    unsigned size = hub->cfg.ring_size;
    if (hub->ring_count == size) {
        blob_unref(hub->ring[hub->ring_head]);
        hub->ring[hub->ring_head] = b;
        hub->ring_head = (hub->ring_head + 1) % size;
    } else {
        hub->ring[(hub->ring_head + hub->ring_count) % size] = b;
        hub->ring_count++;
    }
}

static struct sse_blob *ring_at(const struct sse_hub *hub, unsigned i)
{
    return hub->ring[(hub->ring_head + i) % hub->cfg.ring_size];
}

long sse_hub_resume_count(const struct sse_hub *hub, uint64_t last_id)
{
    uint64_t newest = hub->st.last_id;
    if (last_id == newest)
        return 0;
    if (last_id > newest || hub->ring_count == 0)
        return -1;
    uint64_t oldest = ring_at(hub, 0)->id;
    if (last_id + 1 < oldest)
        return -1;
    return (long)(newest - last_id);
}

/* Frames one pending event into a new ring blob with the next id. */
static struct sse_blob *pending_frame(struct sse_hub *hub, struct sse_pending *p)
{
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    if (hub->cfg.real_precision > 0)
        flags |= JSON_REAL_PRECISION(hub->cfg.real_precision);
    char *json = p->data ? json_dumps(p->data, flags) : NULL;
    const char *data = json ? json : "null";
    size_t data_len = strlen(data);
    uint64_t id = ++hub->st.last_id;
    size_t len = sse_frame(NULL, 0, id, p->event, data, data_len);
    struct sse_blob *b = blob_new(id, len);
    sse_frame(b->data, len + 1, id, p->event, data, data_len);
    free(json);
    return b;
}

static void pending_free(struct sse_pending *p)
{
    json_decref(p->data);
    free(p->event);
    free(p);
}

void sse_hub_flush(struct sse_hub *hub)
{
    if (hub->flush_armed) {
        event_del(hub->flush_ev);
        hub->flush_armed = false;
    }
    if (!hub->pending)
        return;

    /* Frame each event once; the batch sent to subscribers is their
     * concatenation (or the one blob itself), framed before the ring may
     * evict any of them. */
    unsigned n = 0;
    for (struct sse_pending *p = hub->pending; p; p = p->next)
        n++;
    struct sse_blob **blobs = xmalloc(n * sizeof(*blobs));
    size_t total = 0;
    unsigned i = 0;
    for (struct sse_pending *p = hub->pending, *next; p; p = next) {
        next = p->next;
        blobs[i] = pending_frame(hub, p);
        total += blobs[i++]->len;
        pending_free(p);
    }
    hub->pending = NULL;
    hub->pending_tail = &hub->pending;
    hub->st.events += n;
    hub->st.batches++;
    hub->st.bytes += total;

    struct sse_blob *batch = NULL;
    if (hub->subs && n == 1) {
        batch = blobs[0];
        batch->refs++;
    } else if (hub->subs) {
        batch = blob_new(0, total);
        size_t off = 0;
        for (i = 0; i < n; i++) {
            memcpy(batch->data + off, blobs[i]->data, blobs[i]->len);
            off += blobs[i]->len;
        }
    }
    for (i = 0; i < n; i++)
        ring_push(hub, blobs[i]);
    free(blobs);
    if (!batch)
        return;
    for (struct sse_sub *sub = hub->subs, *next; sub; sub = next) {
        next = sub->next;
        if (!sub_cut_if_behind(sub))
            blob_send(batch, sub->req);
    }
    blob_unref(batch);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct sse_hub *hub = arg;
    hub->flush_armed = false;
    sse_hub_flush(hub);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    struct sse_hub *hub = arg;
    for (struct sse_sub *sub = hub->subs, *next; sub; sub = next) {
        next = sub->next;
        if (!sub_cut_if_behind(sub))
            response_stream_write_ref(sub->req, ping_frame, sizeof(ping_frame) - 1, NULL, NULL);
    }
}

struct sse_hub *sse_hub_new(struct event_base *base, const struct sse_hub_config *cfg)
{
    struct sse_hub *hub = xcalloc(1, sizeof(*hub));
    hub->base = base;
    hub->cfg = *cfg;
    if (hub->cfg.ring_size == 0)
        hub->cfg.ring_size = 1;
    hub->ring = xcalloc(hub->cfg.ring_size, sizeof(*hub->ring));
    hub->pending_tail = &hub->pending;
    hub->flush_ev = evtimer_new(base, on_flush, hub);
    /* The most urgent priority the base has (0): what is queued goes out
     * before the next callback of the turn, which may block the loop (a sync
     * handler) -- subscribers should see the stall as it happens, not after. */
    event_priority_set(hub->flush_ev, 0);
    if (hub->cfg.heartbeat_ms) {
        struct timeval tv = {hub->cfg.heartbeat_ms / 1000, (hub->cfg.heartbeat_ms % 1000) * 1000};
        hub->heartbeat_ev = event_new(base, -1, EV_PERSIST, on_heartbeat, hub);
        event_add(hub->heartbeat_ev, &tv);
    }
    return hub;
}

void sse_hub_publish(struct sse_hub *hub, const char *event, json_t *data, uint64_t key)
{
    if (hub->closed) {
        json_decref(data);
        return;
    }
    if (key) {
        for (struct sse_pending *p = hub->pending; p; p = p->next) {
            if (p->key != key)
                continue;
            json_decref(p->data);
            p->data = data;
            if (strcmp(p->event, event) != 0) {
                free(p->event);
                p->event = xstrdup(event);
            }
            hub->st.coalesced++;
            return;
        }
    }
    struct sse_pending *p = xmalloc(sizeof(*p));
    p->next = NULL;
    p->event = xstrdup(event);
    p->data = data;
    p->key = key;
    *hub->pending_tail = p;
    hub->pending_tail = &p->next;
    if (!hub->flush_armed) {
        struct timeval tv = {hub->cfg.flush_ms / 1000, (hub->cfg.flush_ms % 1000) * 1000};
        event_add(hub->flush_ev, &tv);
        hub->flush_armed = true;
    }
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

void sse_hub_skip(struct sse_hub *hub)
{
    sse_hub_flush(hub); /* what was published before keeps its place */
    for (unsigned i = 0; i < hub->ring_count; i++)
        blob_unref(ring_at(hub, i));
    hub->ring_head = hub->ring_count = 0;
    hub->st.last_id++;
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
    sub->hub = hub;
    sub->req = req;
    sub->next = hub->subs;
    if (hub->subs)
        hub->subs->prev = sub;
    hub->subs = sub;
    hub->st.subscribers++;
    hub->st.subscribed++;
    request_on_abort(req, on_sub_abort, sub);
    response_stream_begin(req, 200, "text/event-stream", false);
    char hello[64];
    int n = hub->cfg.retry_ms
                ? snprintf(hello, sizeof(hello), "retry: %u\n: connected\n\n", hub->cfg.retry_ms)
                : snprintf(hello, sizeof(hello), ": connected\n\n");
    response_stream_write(req, hello, (size_t)n);

    uint64_t last_id;
    const char *h = request_header(req, "Last-Event-ID");
    if (!h)
        h = request_query_param(req, "lastEventId");
    if (!parse_last_id(h, &last_id))
        return true;
    long count = sse_hub_resume_count(hub, last_id);
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
        response_stream_write(req, frame, (size_t)len);
        return true;
    }
    for (unsigned i = hub->ring_count - (unsigned)count; i < hub->ring_count; i++)
        blob_send(ring_at(hub, i), req);
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
    while (hub->subs)
        sub_end(hub->subs);
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
    for (struct sse_pending *p = hub->pending, *next; p; p = next) {
        next = p->next;
        pending_free(p);
    }
    for (unsigned i = 0; i < hub->ring_count; i++)
        blob_unref(ring_at(hub, i));
    free(hub->ring);
    event_free(hub->flush_ev);
    if (hub->heartbeat_ev)
        event_free(hub->heartbeat_ev);
    free(hub);
}
