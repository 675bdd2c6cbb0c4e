/* The order as a value: its life (references), its names and its public
 * face (JSON, message). The book that holds orders is a store's job. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "base/xmalloc.h"
#include "cafe/cafe-internal.h"

#define LATE_NOTE_MS 10 /* lateness worth a sentence: a few ms are a busy machine, not a story */

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

int cafe_event_parse(const char *s)
{
    for (int i = 0; s && i < CAFE_NEVENTS; i++)
        if (strcmp(event_names[i], s) == 0)
            return i;
    return -1;
}

const char *step_status_name(enum step_status s)
{
    return step_status_names[s];
}

struct order *order_alloc(const struct item *item)
{
    unsigned n = item->nsteps;
    struct order *o =
        xcalloc(1, sizeof(*o) + n * sizeof(o->steps[0]) + n * sizeof(struct step_lateness));
    o->item = item;
    o->late = (struct step_lateness *)(o->steps + n); /* int64_t-aligned like the steps */
    o->status = ORDER_QUEUED;
    o->started_ms = o->finished_ms = -1;
    for (unsigned i = 0; i < n; i++)
        o->steps[i] = (struct order_step){STEP_PENDING, -1, -1};
    o->refs = 1;
    return o;
}

void order_ref(struct order *o)
{
    o->refs++;
}

_Static_assert(offsetof(struct order, reason_buf) + sizeof(char *) <= 64,
               "order_unref() reads one cache line of an evicted order");

void order_unref(struct order *o)
{
    if (--o->refs > 0)
        return;
    if (o->cafe)
        o->cafe->st.live[o->status]--;
    free(o->customer);
    free(o->reason_buf);
    free(o);
}

int64_t order_offset_ms(const struct order *o, uint64_t now_ns)
{
    return now_ns > o->accepted_ns ? (int64_t)((now_ns - o->accepted_ns) / 1000000u) : 0;
}

/* Appends s to buf[*at..len), cut as snprintf() cuts (buf stays a C string). */
static void message_put(char *buf, size_t len, size_t *at, const char *s)
{
    size_t n = strlen(s);
    if (*at + 1 >= len)
        return;
    if (n > len - 1 - *at)
        n = len - 1 - *at;
    memcpy(buf + *at, s, n);
    *at += n;
    buf[*at] = '\0';
}

/* Once per order answer: plain copies, no printf. A cut sentence loses its
 * last, incomplete UTF-8 character rather than become invalid text. */
const char *order_message(const struct order *o, char *buf, size_t len)
{
    static const char *const before[ORDER_NSTATUSES] = {[ORDER_QUEUED] = "Your ",
                                                        [ORDER_BREWING] = "Your ",
                                                        [ORDER_READY] = "Your ",
                                                        [ORDER_CANCELLED] = "Your ",
                                                        [ORDER_FAILED] = "Sorry, your "};
    static const char *const after[ORDER_NSTATUSES] = {[ORDER_QUEUED] = " is queued.",
                                                       [ORDER_BREWING] = " is being made.",
                                                       [ORDER_READY] = " is ready, enjoy!",
                                                       [ORDER_CANCELLED] = " was cancelled (",
                                                       [ORDER_FAILED] = " could not be made ("};
    size_t at = 0;
    if (!len)
        return buf;
    buf[0] = '\0';
    message_put(buf, len, &at, before[o->status]);
    if (o->flavour) {
        message_put(buf, len, &at, o->flavour);
        message_put(buf, len, &at, " ");
    }
    message_put(buf, len, &at, o->item->name);
    message_put(buf, len, &at, after[o->status]);
    if (o->status == ORDER_CANCELLED || o->status == ORDER_FAILED) {
        message_put(buf, len, &at, o->reason ? o->reason : "");
        message_put(buf, len, &at, ").");
    }
    if (at == len - 1) { /* cut: drop a partial trailing character */
        size_t end = at;
        while (end > 0 && ((unsigned char)buf[end - 1] & 0xC0) == 0x80)
            end--;
        if (end > 0 && (unsigned char)buf[end - 1] >= 0xC0) {
            unsigned char lead = (unsigned char)buf[end - 1];
            size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
            if (at - (end - 1) < need)
                buf[end - 1] = '\0';
        }
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

static const char *const late_cause_names[] = {
    [LATE_NONE] = NULL, [LATE_LOOP] = "loop", [LATE_BARISTA] = "barista"};

const char *late_cause_name(enum late_cause c)
{
    return late_cause_names[c];
}

/* A timer is due to end; every other step is due to start (cafe/lateness.h). */
static bool step_is_timer(const struct order *o, unsigned i)
{
    return o->item->steps[i].kind == STEP_WAIT && o->mode != MODE_SYNC;
}

int order_late_sentence(const struct order *o, char *text, size_t size)
{
    int best = -1;
    for (unsigned i = 0; i < o->item->nsteps; i++) {
        const struct step_lateness *l = &o->late[i];
        if (l->cause != LATE_NONE && l->late_ms >= LATE_NOTE_MS &&
            (best < 0 || l->late_ms > o->late[best].late_ms))
            best = (int)i;
    }
    if (best < 0)
        return -1;
    const struct step_lateness *l = &o->late[best];
    char held[192];
    if (l->held_by.what)
        timeline_label_format(&l->held_by, held, sizeof(held));
    late_sentence(text, size, o->item->steps[best].name, step_is_timer(o, (unsigned)best),
                  l->late_ms, l->cause, l->held_by.what ? held : NULL);
    return best;
}

static json_t *held_by_json(const struct step_lateness *l)
{
    char label[192];
    if (!l->held_by.what)
        return json_null();
    timeline_label_format(&l->held_by, label, sizeof(label));
    return json_string(label);
}

/* The menu's step, with how far this order got through it and where its
 * time went. */
static json_t *steps_to_json(const struct order *o)
{
    json_t *steps = json_array();
    for (unsigned i = 0; i < o->item->nsteps; i++) {
        const struct order_step *st = &o->steps[i];
        const struct step_lateness *l = &o->late[i];
        const char *waited = late_cause_name(l->cause);
        json_t *s = menu_step_to_json(o->item, i);
        json_object_set_new(s, "status", json_string(step_status_names[st->status]));
        json_object_set_new(s, "start_ms", ms_or_null(st->start_ms));
        json_object_set_new(s, "end_ms", ms_or_null(st->end_ms));
        json_object_set_new(s, "due_ms", l->due_known ? json_integer(l->due_ms) : json_null());
        json_object_set_new(s, "late_ms", l->late_known ? json_integer(l->late_ms) : json_null());
        json_object_set_new(s, "waited_for", waited ? json_string(waited) : json_null());
        json_object_set_new(s, "held_by", held_by_json(l));
        json_array_append_new(steps, s);
    }
    return steps;
}

/* For how long its steps were held up, per cause, overlaps counted once. */
static json_t *queued_to_json(const struct order *o)
{
    unsigned n = o->item->nsteps;
    return json_pack("{s:I, s:I}", "loop", (json_int_t)lateness_total_ms(o->late, n, LATE_LOOP),
                     "barista", (json_int_t)lateness_total_ms(o->late, n, LATE_BARISTA));
}

/* The sentence of its latest step, or null when none was late enough. */
static json_t *late_to_json(const struct order *o)
{
    char text[320];
    return order_late_sentence(o, text, sizeof(text)) < 0 ? json_null() : json_string(text);
}

int64_t unix_ms_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Acceptance to finish, or to now: a live order counts on the monotonic
 * clock, a snapshot (brewed elsewhere) on the wall clock. */
int64_t order_elapsed_ms(const struct order *o)
{
    if (o->finished_ms >= 0)
        return o->finished_ms;
    if (!order_is_snapshot(o))
        return order_offset_ms(o, clock_ns());
    int64_t age = unix_ms_now() - o->accepted_unix_ms;
    return age > 0 ? age : 0;
}

json_t *order_to_json(const struct order *o)
{
    char msg[160];
    int64_t t0 = o->accepted_unix_ms;
    json_t *j = json_pack(
        "{s:I, s:s, s:o, s:o, s:s, s:s, s:s, s:{s:I, s:o, s:o}, s:I, s:o, s:s}", "id",
        (json_int_t)o->id, "item", o->item->name, "flavour", string_or_null(o->flavour), "customer",
        string_or_null(o->customer), "mode", brew_mode_name(o->mode), "status",
        order_status_name(o->status), "replica", o->replica, "times", "accepted", (json_int_t)t0,
        "started", ms_or_null(o->started_ms < 0 ? -1 : t0 + o->started_ms), "ready",
        ms_or_null(o->status == ORDER_READY && o->finished_ms >= 0 ? t0 + o->finished_ms : -1),
        "elapsed_ms", (json_int_t)order_elapsed_ms(o), "steps", steps_to_json(o), "message",
        order_message(o, msg, sizeof(msg)));
    json_object_set_new(j, "queued_ms", queued_to_json(o));
    json_object_set_new(j, "late", late_to_json(o));
    if (o->reason)
        json_object_set_new(j, "reason", json_string(o->reason));
    /* Step offsets are real ms; this turns them into recipe seconds. A store
     * snapshot does not carry it (yet): then it is left out. */
    if (o->time_scale > 0)
        json_object_set_new(j, "time_scale", json_real(o->time_scale));
    return j;
}
