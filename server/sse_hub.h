#ifndef CAFE_SSE_HUB_H
#define CAFE_SSE_HUB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Server-Sent Events fan-out (engine layer: knows nothing of the application).
 *
 * Subscribers are streamed responses (text/event-stream) pulled by the
 * engine (server/response.h's generator). Published events wait in a short
 * batching window (one loop turn by default), where a newer event with the
 * same coalescing key replaces an older one; then each event is framed ONCE
 * into a reference-counted blob, and a subscriber that can take more gets the
 * whole batch at once without a copy (one write per subscriber per batch).
 *
 * A subscriber that cannot (its last write still waits for the client) keeps
 * a cursor into the hub's list of recent events, and is written from it when
 * the engine calls proceed: the events are shared, never copied per
 * subscriber (redis 7's shared replication buffer). The newest ring_size
 * events are kept for Last-Event-ID resume, older ones only while a cursor
 * needs them. A subscriber already more than max_backlog bytes behind when a
 * batch comes is cut (redis's client-output-buffer-limit rule), so memory
 * stays below max_backlog plus one batch however many tabs stall; one that
 * reads nothing at all is cut by the engine's write timeout. Loop-thread
 * only. */

struct event_base;
struct loop_timeline;
struct request;
struct sse_hub;

#define SSE_ID_MAX 48 /* bytes of a publisher's event id, NUL included */

struct sse_hub_config {
    size_t max_backlog;    /* bytes of events one subscriber may lag before it is cut */
    unsigned ring_size;    /* events kept for Last-Event-ID resume */
    unsigned heartbeat_ms; /* ": ping" comment interval (0: none) */
    unsigned flush_ms;     /* batching window; 0 = the next loop turn */
    unsigned retry_ms;     /* reconnection delay advertised to EventSource (0: none) */
    int real_precision;    /* significant digits of JSON reals (0: jansson's 17) */
    /* Each flush is a section of it ("SSE flush"); NULL: none. */
    struct loop_timeline *timeline;
    /* Ids are the publisher's (sse_hub_publish_id(): a shared log's entry
     * ids, so that a client resumes on any server that carries the same
     * log), increasing, numbers joined by '-' ("1700000000000-3"); events
     * published without one get no id line; a resume replays the ring after
     * the id, if the ring reaches back to it, else resyncs. */
    bool external_ids;
};

struct sse_hub_stats {
    unsigned subscribers;
    uint64_t subscribed; /* since start */
    uint64_t cut;        /* subscribers dropped for their backlog */
    uint64_t events;     /* events sent (after coalescing) */
    uint64_t coalesced;  /* events replaced by a newer one with the same key */
    uint64_t batches;    /* flushes: one blob, one write per subscriber */
    uint64_t bytes;      /* framed bytes, counted once per batch */
    uint64_t last_id;    /* id of the newest event, 0 before the first */
};

/* Fills the defaults: 1 MiB backlog, 256 events, 15 s heartbeat, 0 ms
 * window (next loop turn), 2 s retry. */
void sse_hub_config_default(struct sse_hub_config *cfg);
struct sse_hub *sse_hub_new(struct event_base *base, const struct sse_hub_config *cfg);
/* Ends every stream (sse_hub_close()) and frees the hub. */
void sse_hub_free(struct sse_hub *hub);

/* Makes req a subscriber: sends the headers (200, text/event-stream,
 * Cache-Control: no-cache), a retry hint, then the events after the
 * Last-Event-ID header (or ?lastEventId=) from the ring -- or, when that id is
 * unknown (too old, or from before a restart), one "resync" event whose id is
 * the newest, telling the client to reload its state. The stream is the hub's
 * from then on; returns true and the handler returns HANDLER_PENDING. A HEAD
 * gets the same headers and no stream; after sse_hub_close() the answer is
 * 503. Both return false (HANDLER_DONE). */
bool sse_hub_subscribe(struct sse_hub *hub, struct request *req);
unsigned sse_hub_subscriber_count(const struct sse_hub *hub);

/* Queues an event. data is stolen (a new reference; NULL sends "null") and is
 * serialised with JSON_COMPACT at flush time, so "data:" is one line. A
 * nonzero key coalesces: a still-unsent event with the same key is replaced
 * (its data dropped), keeping the position of the first. event names must be
 * a single line. */
void sse_hub_publish(struct sse_hub *hub, const char *event, json_t *data, uint64_t key);
/* The same with the publisher's id (external_ids; at most SSE_ID_MAX - 1
 * bytes, one line): an event that replaces a pending one takes its place
 * and gives it this id. */
void sse_hub_publish_id(struct sse_hub *hub, const char *event, json_t *data, uint64_t key,
                        const char *id);
/* External ids: what the ring holds covers everything after id (NULL:
 * nothing is known), because the events left out (coalesced by the
 * publisher) are summed up by later ones; a resume from id or later replays
 * what the ring has even when none of its events is as old. Forgotten once
 * an event leaves the ring. */
void sse_hub_set_origin(struct sse_hub *hub, const char *id);
/* Sends what is queued now instead of at the end of the window. */
void sse_hub_flush(struct sse_hub *hub);
/* Shutdown: publishes a final event (if name is non-NULL, data stolen),
 * flushes, ends every stream and refuses new subscribers. Idempotent. */
void sse_hub_close(struct sse_hub *hub, const char *event, json_t *data);

void sse_hub_get_stats(const struct sse_hub *hub, struct sse_hub_stats *st);

/* The pure parts, exposed for unit tests. */

/* Frames one event: "id: ID\nevent: EVENT\ndata: DATA\n\n" (no id line when id
 * is 0, no event line when event is NULL). Returns the bytes written (the
 * terminating NUL not counted) or the size needed when it does not fit in
 * size, like snprintf. */
size_t sse_frame(char *buf, size_t size, uint64_t id, const char *event, const char *data,
                 size_t data_len);
/* The same with a text id ("" for none). */
size_t sse_frame_id(char *buf, size_t size, const char *id, const char *event, const char *data,
                    size_t data_len);
/* Where resume from last_id starts: the number of ring events newer than
 * last_id (0 when the client is up to date), or -1 when last_id is unknown
 * (older than the ring, or newer than anything sent). */
long sse_hub_resume_count(const struct sse_hub *hub, uint64_t last_id);
/* The same with external ids: the ring events after id last (numbers joined
 * by '-', compared part by part), or -1 when the ring does not reach back to
 * it (nor its origin covers it). */
long sse_hub_resume_count_id(const struct sse_hub *hub, const char *last);

#endif
