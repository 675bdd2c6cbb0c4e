/* The order's public face as JSON text (cafe/order.h has the shape),
 * written straight into a buffer: the answer to every order request, so no
 * jansson tree is built for it. The recipe part comes from the menu, already
 * serialised (struct item's steps_json). order_to_json() (cafe/order.c)
 * builds the same object as a tree for the event stream, whose hub takes
 * trees; tests/unit/test_order_json.c holds the two to the same bytes. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/json_writer.h"
#include "cafe/cafe-internal.h"

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
        const char *waited = late_cause_name(l->cause);
        if (i)
            JSON_PUT_LIT(w, ",");
        json_put(w, it->steps_json + it->steps_json_at[i],
                 it->steps_json_at[i + 1] - it->steps_json_at[i]);
        JSON_PUT_LIT(w, ",\"status\":");
        json_put_name(w, step_status_name(st->status));
        JSON_PUT_LIT(w, ",\"start_ms\":");
        put_ms_or_null(w, st->start_ms >= 0, st->start_ms);
        JSON_PUT_LIT(w, ",\"end_ms\":");
        put_ms_or_null(w, st->end_ms >= 0, st->end_ms);
        JSON_PUT_LIT(w, ",\"due_ms\":");
        put_ms_or_null(w, l->due_known, l->due_ms);
        JSON_PUT_LIT(w, ",\"late_ms\":");
        put_ms_or_null(w, l->late_known, l->late_ms);
        JSON_PUT_LIT(w, ",\"waited_for\":");
        if (waited)
            json_put_name(w, waited);
        else
            JSON_PUT_LIT(w, "null");
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

/* The sentence of its latest step, or null when none was late enough. */
static void put_late(struct json_writer *w, const struct order *o)
{
    char text[320];
    if (order_late_sentence(o, text, sizeof(text)) < 0)
        JSON_PUT_LIT(w, ",\"late\":null");
    else
        PUT_MEMBER_IF_UTF8(w, ",\"late\":", text);
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
    json_put(w, o->item->name_json, o->item->name_json_len);
    JSON_PUT_LIT(w, ",\"flavour\":");
    json_put_string_or_null(w, o->flavour);
    /* Customer names from a query string may not be UTF-8: null rather than
     * fail the whole object (handlers reject them anyway). */
    JSON_PUT_LIT(w, ",\"customer\":");
    json_put_string_or_null(w, o->customer);
    JSON_PUT_LIT(w, ",\"mode\":");
    json_put_name(w, brew_mode_name(o->mode));
    JSON_PUT_LIT(w, ",\"status\":");
    json_put_name(w, order_status_name(o->status));
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
    json_put_int(w, order_elapsed_ms(o));
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
