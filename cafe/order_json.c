/* The order's public face as JSON text (cafe/order.h has the shape),
 * written straight into a buffer: the answer to every order request, so no
 * jansson tree is built for it. The recipe part comes from the menu, already
 * serialised (struct item's steps_json). order_to_json() parses this text
 * back for the callers that want a tree (the event stream), so the shape is
 * written down once. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/json_writer.h"
#include "cafe/cafe-internal.h"

#define LATE_NOTE_MS 10 /* lateness worth a sentence: a few ms are a busy machine, not a story */

static const char *const late_cause_names[] = {
    [LATE_NONE] = NULL, [LATE_LOOP] = "loop", [LATE_BARISTA] = "barista"};

/* A timer is due to end; every other step is due to start (cafe/lateness.h). */
static bool step_is_timer(const struct order *o, unsigned i)
{
    return o->item->steps[i].kind == STEP_WAIT && o->mode != MODE_SYNC;
}

/* key (",\"name\":") and s; jansson's tree had no member for a string
 * that is not UTF-8 (json_object_set_new() of NULL), so neither has this. */
static void put_member_if_utf8(struct json_writer *w, const char *key, size_t keylen, const char *s)
{
    if (json_utf8_valid(s, strlen(s))) {
        json_put(w, key, keylen);
        json_put_string(w, s);
    }
}
#define PUT_MEMBER_IF_UTF8(w, key, s) put_member_if_utf8(w, key, sizeof(key) - 1, s)

static void put_ms_or_null(struct json_writer *w, bool known, int64_t ms)
{
    if (known)
        json_put_int(w, ms);
    else
        JSON_PUT_LIT(w, "null");
}

/* A real exactly as jansson writes it. The scale is nearly always the café's
 * own, so its text is kept from the last time. */
static void put_real(struct json_writer *w, double v)
{
    static _Thread_local double last;
    static _Thread_local char text[32];
    static _Thread_local size_t len;
    if (!len || v != last) {
        json_t *j = json_real(v);
        len = json_dumpb(j, text, sizeof(text), JSON_ENCODE_ANY);
        json_decref(j);
        if (len > sizeof(text)) /* cannot happen: "%.17g" is shorter */
            len = 0;
        last = v;
    }
    json_put(w, text, len);
}

static void put_steps(struct json_writer *w, const struct order *o)
{
    const struct item *it = o->item;
    JSON_PUT_LIT(w, "[");
    for (unsigned i = 0; i < it->nsteps; i++) {
        const struct order_step *st = &o->steps[i];
        const struct step_lateness *l = &o->late[i];
        const char *waited = late_cause_names[l->cause];
        if (i)
            JSON_PUT_LIT(w, ",");
        json_put(w, it->steps_json + it->steps_json_at[i],
                 it->steps_json_at[i + 1] - it->steps_json_at[i]);
        JSON_PUT_LIT(w, ",\"status\":");
        json_put_string(w, step_status_name(st->status));
        JSON_PUT_LIT(w, ",\"start_ms\":");
        put_ms_or_null(w, st->start_ms >= 0, st->start_ms);
        JSON_PUT_LIT(w, ",\"end_ms\":");
        put_ms_or_null(w, st->end_ms >= 0, st->end_ms);
        JSON_PUT_LIT(w, ",\"due_ms\":");
        put_ms_or_null(w, l->due_known, l->due_ms);
        JSON_PUT_LIT(w, ",\"late_ms\":");
        put_ms_or_null(w, l->late_known, l->late_ms);
        JSON_PUT_LIT(w, ",\"waited_for\":");
        json_put_string_or_null(w, waited);
        if (l->held_by.what) {
            char label[192];
            timeline_label_format(&l->held_by, label, sizeof(label));
            PUT_MEMBER_IF_UTF8(w, ",\"held_by\":", label);
        } else {
            JSON_PUT_LIT(w, ",\"held_by\":null");
        }
        JSON_PUT_LIT(w, "}");
    }
    JSON_PUT_LIT(w, "]");
}

/* The sentence of its latest step (the first of equals), or null when none
 * was late by LATE_NOTE_MS. */
static void put_late(struct json_writer *w, const struct order *o)
{
    int best = -1;
    for (unsigned i = 0; i < o->item->nsteps; i++) {
        const struct step_lateness *l = &o->late[i];
        if (l->cause != LATE_NONE && l->late_ms >= LATE_NOTE_MS &&
            (best < 0 || l->late_ms > o->late[best].late_ms))
            best = (int)i;
    }
    if (best < 0) {
        JSON_PUT_LIT(w, ",\"late\":null");
        return;
    }
    const struct step_lateness *l = &o->late[best];
    char held[192], text[320];
    if (l->held_by.what)
        timeline_label_format(&l->held_by, held, sizeof(held));
    late_sentence(text, sizeof(text), o->item->steps[best].name, step_is_timer(o, (unsigned)best),
                  l->late_ms, l->cause, l->held_by.what ? held : NULL);
    PUT_MEMBER_IF_UTF8(w, ",\"late\":", text);
}

/* Acceptance to finish, or to now: a live order counts on the monotonic
 * clock, a snapshot (brewed elsewhere) on the wall clock. */
static int64_t elapsed_ms(const struct order *o)
{
    if (o->finished_ms >= 0)
        return o->finished_ms;
    if (!order_is_snapshot(o))
        return order_offset_ms(o, clock_ns());
    int64_t age = unix_ms_now() - o->accepted_unix_ms;
    return age > 0 ? age : 0;
}

bool order_json_write(struct json_writer *w, const struct order *o)
{
    char msg[160];
    int64_t t0 = o->accepted_unix_ms;
    unsigned n = o->item->nsteps;
    bool ok = true;
    JSON_PUT_LIT(w, "{\"id\":");
    json_put_int(w, (long long)o->id);
    JSON_PUT_LIT(w, ",\"item\":");
    ok &= json_put_string(w, o->item->name);
    JSON_PUT_LIT(w, ",\"flavour\":");
    json_put_string_or_null(w, o->flavour);
    /* Customer names from a query string may not be UTF-8: null rather than
     * fail the whole object (handlers reject them anyway). */
    JSON_PUT_LIT(w, ",\"customer\":");
    json_put_string_or_null(w, o->customer);
    JSON_PUT_LIT(w, ",\"mode\":");
    json_put_string(w, brew_mode_name(o->mode));
    JSON_PUT_LIT(w, ",\"status\":");
    json_put_string(w, order_status_name(o->status));
    JSON_PUT_LIT(w, ",\"replica\":");
    ok &= json_put_string(w, o->replica);
    JSON_PUT_LIT(w, ",\"times\":{\"accepted\":");
    json_put_int(w, t0);
    int64_t started = o->started_ms < 0 ? -1 : t0 + o->started_ms;
    int64_t ready = o->status == ORDER_READY && o->finished_ms >= 0 ? t0 + o->finished_ms : -1;
    JSON_PUT_LIT(w, ",\"started\":");
    put_ms_or_null(w, started >= 0, started);
    JSON_PUT_LIT(w, ",\"ready\":");
    put_ms_or_null(w, ready >= 0, ready);
    JSON_PUT_LIT(w, "},\"elapsed_ms\":");
    json_put_int(w, elapsed_ms(o));
    JSON_PUT_LIT(w, ",\"steps\":");
    put_steps(w, o);
    JSON_PUT_LIT(w, ",\"message\":");
    ok &= json_put_string(w, order_message(o, msg, sizeof(msg)));
    /* For how long its steps were held up, per cause, overlaps counted once. */
    JSON_PUT_LIT(w, ",\"queued_ms\":{\"loop\":");
    json_put_int(w, lateness_total_ms(o->late, n, LATE_LOOP));
    JSON_PUT_LIT(w, ",\"barista\":");
    json_put_int(w, lateness_total_ms(o->late, n, LATE_BARISTA));
    JSON_PUT_LIT(w, "}");
    put_late(w, o);
    if (o->reason) /* a store's snapshot may hold any bytes */
        PUT_MEMBER_IF_UTF8(w, ",\"reason\":", o->reason);
    /* Step offsets are real ms; this turns them into recipe seconds. A store
     * snapshot does not carry it (yet): then it is left out. */
    if (o->time_scale > 0) {
        JSON_PUT_LIT(w, ",\"time_scale\":");
        put_real(w, o->time_scale);
    }
    JSON_PUT_LIT(w, "}");
    return ok;
}

json_t *order_to_json(const struct order *o)
{
    char storage[4096];
    struct json_writer w = JSON_WRITER_ON(storage);
    json_t *j = order_json_write(&w, o) ? json_loadb(w.buf, w.len, 0, NULL) : NULL;
    json_writer_free(&w);
    return j;
}
