/* The order book and the order's public face (JSON, names, message). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "base/xmalloc.h"
#include "cafe/cafe-internal.h"

static const char *const mode_names[BREW_NMODES] = {
    [MODE_SYNC] = "sync", [MODE_ASYNC] = "async", [MODE_THREAD] = "thread"};
static const char *const status_names[ORDER_NSTATUSES] = {[ORDER_QUEUED] = "queued",
                                                          [ORDER_BREWING] = "brewing",
                                                          [ORDER_READY] = "ready",
                                                          [ORDER_CANCELLED] = "cancelled",
                                                          [ORDER_FAILED] = "failed"};
static const char *const step_status_names[] = {[STEP_PENDING] = "pending",
                                                [STEP_QUEUED] = "queued",
                                                [STEP_RUNNING] = "running",
                                                [STEP_DONE] = "done",
                                                [STEP_DROPPED] = "dropped"};
static const char *const event_names[] = {
    [CAFE_ORDER_QUEUED] = "order_queued", [CAFE_ORDER_BREWING] = "order_brewing",
    [CAFE_STEP_STARTED] = "step_started", [CAFE_STEP_DONE] = "step_done",
    [CAFE_ORDER_READY] = "order_ready",   [CAFE_ORDER_CANCELLED] = "order_cancelled",
    [CAFE_ORDER_FAILED] = "order_failed"};

const char *brew_mode_name(enum brew_mode m)
{
    return mode_names[m];
}

static int name_parse(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcasecmp(names[i], s) == 0)
            return i;
    return -1;
}

int brew_mode_parse(const char *s)
{
    return name_parse(mode_names, BREW_NMODES, s);
}

const char *order_status_name(enum order_status s)
{
    return status_names[s];
}

int order_status_parse(const char *s)
{
    return name_parse(status_names, ORDER_NSTATUSES, s);
}

const char *cafe_event_name(enum cafe_event ev)
{
    return event_names[ev];
}

void book_init(struct cafe *c)
{
    c->cap = c->cfg.max_orders ? c->cfg.max_orders : 1;
    c->ring = xcalloc(c->cap, sizeof(*c->ring));
}

void book_free(struct cafe *c)
{
    for (unsigned i = 0; i < c->cap; i++)
        if (c->ring[i])
            order_unref(c->ring[i]);
    free(c->ring);
}

static int64_t unix_ms_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

struct order *order_create(struct cafe *c, const struct order_spec *spec)
{
    unsigned n = spec->item->nsteps;
    struct order *o = xcalloc(1, sizeof(*o) + n * sizeof(o->steps[0]));
    o->id = ++c->last_id;
    o->item = spec->item;
    o->flavour = spec->flavour;
    o->customer = spec->customer ? xstrdup(spec->customer) : NULL;
    o->mode = spec->mode;
    o->time_scale = spec->time_scale > 0 ? spec->time_scale : c->cfg.time_scale;
    o->status = ORDER_QUEUED;
    o->accepted_ns = clock_ns();
    o->accepted_unix_ms = unix_ms_now();
    for (unsigned i = 0; i < n; i++)
        o->steps[i] = (struct order_step){STEP_PENDING, -1, -1};
    o->refs = 1; /* the book's */
    o->cafe = c;

    /* The newest order takes the slot of the one cap ids older. */
    struct order **slot = &c->ring[o->id % c->cap];
    if (*slot)
        order_unref(*slot);
    *slot = o;
    c->st.live[ORDER_QUEUED]++;
    c->st.placed[o->mode]++;
    c->st.in_flight[o->mode]++;
    return o;
}

void order_ref(struct order *o)
{
    o->refs++;
}

void order_unref(struct order *o)
{
    if (--o->refs > 0)
        return;
    o->cafe->st.live[o->status]--;
    free(o->customer);
    free(o);
}

struct order *cafe_order_find(struct cafe *c, uint64_t id)
{
    if (id == 0 || id > c->last_id || c->last_id - id >= c->cap)
        return NULL;
    struct order *o = c->ring[id % c->cap];
    return o && o->id == id ? o : NULL;
}

unsigned cafe_orders_each(struct cafe *c, int status, unsigned limit,
                          void (*fn)(struct order *o, void *arg), void *arg)
{
    unsigned n = 0;
    for (uint64_t id = c->last_id; id > 0 && c->last_id - id < c->cap && n < limit; id--) {
        struct order *o = c->ring[id % c->cap];
        if (o && o->id == id && (status < 0 || (int)o->status == status)) {
            fn(o, arg);
            n++;
        }
    }
    return n;
}

int64_t order_offset_ms(const struct order *o, uint64_t now_ns)
{
    return now_ns > o->accepted_ns ? (int64_t)((now_ns - o->accepted_ns) / 1000000u) : 0;
}

void cafe_notify(struct cafe *c, const struct order *o, enum cafe_event ev, int step)
{
    if (c->observer)
        c->observer(o, ev, step, c->observer_arg);
}

void order_set_status(struct cafe *c, struct order *o, enum order_status status)
{
    static const enum cafe_event events[ORDER_NSTATUSES] = {[ORDER_QUEUED] = CAFE_ORDER_QUEUED,
                                                            [ORDER_BREWING] = CAFE_ORDER_BREWING,
                                                            [ORDER_READY] = CAFE_ORDER_READY,
                                                            [ORDER_CANCELLED] =
                                                                CAFE_ORDER_CANCELLED,
                                                            [ORDER_FAILED] = CAFE_ORDER_FAILED};
    c->st.live[o->status]--;
    c->st.live[status]++;
    o->status = status;
    if (status >= ORDER_READY) {
        o->finished_ns = clock_ns();
        c->st.in_flight[o->mode]--;
        c->st.finished[o->mode][status]++;
    }
    cafe_notify(c, o, events[status], -1);
}

void cafe_set_observer(struct cafe *c, cafe_observer_fn fn, void *arg)
{
    c->observer = fn;
    c->observer_arg = arg;
}

const char *order_message(const struct order *o, char *buf, size_t len)
{
    char what[2 * MENU_NAME_MAX + 2];
    if (o->flavour)
        snprintf(what, sizeof(what), "%s %s", o->flavour, o->item->name);
    else
        snprintf(what, sizeof(what), "%s", o->item->name);
    switch (o->status) {
    case ORDER_QUEUED:
        snprintf(buf, len, "Your %s is queued.", what);
        break;
    case ORDER_BREWING:
        snprintf(buf, len, "Your %s is being made.", what);
        break;
    case ORDER_READY:
        snprintf(buf, len, "Your %s is ready, enjoy!", what);
        break;
    case ORDER_CANCELLED:
        snprintf(buf, len, "Your %s was cancelled (%s).", what, o->reason ? o->reason : "");
        break;
    case ORDER_FAILED:
        snprintf(buf, len, "Sorry, your %s could not be made (%s).", what,
                 o->reason ? o->reason : "");
        break;
    }
    return buf;
}

/* Customer names from a query string may not be UTF-8; show them as null
 * rather than fail the whole object (handlers reject them anyway). */
static json_t *string_or_null(const char *s)
{
    json_t *j = s ? json_string(s) : NULL;
    return j ? j : json_null();
}

static json_t *ms_or_null(int64_t ms)
{
    return ms < 0 ? json_null() : json_integer(ms);
}

/* The menu's step, with how far this order got through it. */
static json_t *steps_to_json(const struct order *o)
{
    json_t *steps = json_array();
    for (unsigned i = 0; i < o->item->nsteps; i++) {
        const struct order_step *st = &o->steps[i];
        json_t *s = menu_step_to_json(o->item, i);
        json_object_set_new(s, "status", json_string(step_status_names[st->status]));
        json_object_set_new(s, "start_ms", ms_or_null(st->start_ms));
        json_object_set_new(s, "end_ms", ms_or_null(st->end_ms));
        json_array_append_new(steps, s);
    }
    return steps;
}

json_t *order_to_json(const struct order *o)
{
    char msg[160];
    int64_t started = o->started_ns ? order_offset_ms(o, o->started_ns) : -1;
    int64_t finished = o->finished_ns ? order_offset_ms(o, o->finished_ns) : -1;
    int64_t elapsed = finished >= 0 ? finished : order_offset_ms(o, clock_ns());
    json_t *j = json_pack(
        "{s:I, s:s, s:o, s:o, s:s, s:s, s:{s:I, s:o, s:o}, s:I, s:o, s:s}", "id", (json_int_t)o->id,
        "item", o->item->name, "flavour", string_or_null(o->flavour), "customer",
        string_or_null(o->customer), "mode", brew_mode_name(o->mode), "status",
        order_status_name(o->status), "times", "accepted", (json_int_t)o->accepted_unix_ms,
        "started", ms_or_null(started < 0 ? -1 : o->accepted_unix_ms + started), "ready",
        ms_or_null(o->status == ORDER_READY ? o->accepted_unix_ms + finished : -1), "elapsed_ms",
        (json_int_t)elapsed, "steps", steps_to_json(o), "message",
        order_message(o, msg, sizeof(msg)));
    if (o->reason)
        json_object_set_new(j, "reason", json_string(o->reason));
    /* Step offsets are real ms; this turns them into recipe seconds. */
    json_object_set_new(j, "time_scale", json_real(o->time_scale));
    return j;
}
