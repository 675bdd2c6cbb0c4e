/* The order's JSON text (cafe/order_json.c over base/json_writer.c) against
 * the jansson tree it replaced on the answer path, order_to_json(), which
 * stays for the event stream and is the oracle here: for every order state,
 * with and without each optional member, every item of two menus (the
 * built-in one and one whose names need escaping), customers with quotes,
 * backslashes, every control character, non-ASCII and invalid UTF-8, the
 * text parses with jansson to exactly that tree -- and is the very text
 * json_dumps() writes for it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/json_writer.h"
#include "base/xmalloc.h"
#include "cafe/cafe-internal.h"

/* --- orders in every state ------------------------------------------------ */

static const char *const customers[] = {
    NULL,
    "Ada",
    "say \"hi\"",
    "back\\slash\\",
    "tab\tnew\nline\rcr\bbs\fff",
    "\x01\x02\x03\x04\x05\x06\x07\x0b\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b"
    "\x1c\x1d\x1e\x1f\x7f",
    "/slash/ </script>",
    "Zoë, Ångström, 日本語, 🙂",
    "\xef\xbb\xbf BOM and U+2028 \xe2\x80\xa8 U+10FFFF \xf4\x8f\xbf\xbf",
    /* not UTF-8: null, as json_string() refused them */
    "lone \x80 continuation",
    "overlong \xc0\xaf slash",
    "surrogate \xed\xa0\x80",
    "past U+10FFFF \xf4\x90\x80\x80",
    "cut \xe2\x82",
    "\xff",
};

static const char *const reasons[] = {
    NULL, "timeout_ms passed", "shutdown", "replica \"b\" lost\\", "été", "not UTF-8 \xff"};

/* An order of item in status, its steps as far as the status goes, with
 * lateness (and what held it) on some steps. live: brewed here (else a
 * store's snapshot: no time_scale, wall-clock elapsed). */
static struct order *order_make(const struct item *it, enum order_status status, unsigned variant,
                                const char *customer, const char *reason)
{
    struct order *o = order_alloc(it);
    bool live = variant & 1;
    o->id = 1000 + variant;
    o->flavour = variant & 2 ? "vanilla" : NULL;
    o->customer = customer ? xstrdup(customer) : NULL;
    o->mode = (enum brew_mode)(variant % BREW_NMODES);
    o->status = status;
    o->time_scale = live ? (variant & 4 ? 0.02 : 1.0 / 3) : 0;
    o->accepted_ns = live ? clock_ns() - 5000000000ull : 0;
    o->accepted_unix_ms = 1796220426857LL + variant;
    snprintf(o->replica, sizeof(o->replica), "%s", variant & 8 ? "replica \"é\"" : "local");
    if (status != ORDER_QUEUED)
        o->started_ms = 3;
    if (order_status_final(status)) {
        o->finished_ms = 412;
        o->reason = reason;
        o->timed_out = status == ORDER_CANCELLED && (variant & 4);
    }
    static const struct timeline_label held[] = {
        {"sync brew", "make_coffee", 4}, {"async hands-on", "pe\"el", 8}, {"x", NULL, 0}};
    for (unsigned i = 0; i < it->nsteps; i++) {
        struct order_step *st = &o->steps[i];
        struct step_lateness *l = &o->late[i];
        if (status == ORDER_QUEUED)
            break;
        bool done = status == ORDER_READY || i + 1 < it->nsteps;
        st->status = done ? STEP_DONE : status == ORDER_BREWING ? STEP_RUNNING : STEP_DROPPED;
        st->start_ms = 10 * (int64_t)i;
        st->end_ms = done ? 10 * (int64_t)i + 7 : -1;
        l->due_known = true;
        l->due_ms = 10 * (int64_t)i - (variant & 1); /* negative once: -1 is a known due time */
        l->late_known = done;
        l->late_ms = done ? (int64_t)(i * 9 + variant) : 0;
        l->cause = (enum late_cause)((i + variant) % 3);
        if (l->cause != LATE_NONE && (variant + i) % 2)
            l->held_by = held[(variant + i) % 3];
    }
    return o;
}

/* The text for o and the oracle's tree: both absent, or equal as parsed
 * JSON and byte for byte. */
static bool check_order(const struct order *o)
{
    char storage[256]; /* small: the writer moves to the heap for most orders */
    struct json_writer w = JSON_WRITER_ON(storage);
    bool ok = order_json_write(&w, o);
    json_t *want = order_to_json(o);
    if (!want) {
        assert_false(ok);
        json_writer_free(&w);
        return false;
    }
    assert_true(ok);
    json_error_t err;
    json_t *got = json_loadb(w.buf, w.len, JSON_REJECT_DUPLICATES, &err);
    if (!got)
        fail_msg("not JSON: %s in %.*s", err.text, (int)w.len, w.buf);
    if (!order_status_final(o->status)) { /* elapsed_ms is "to now": a clock apart */
        json_int_t a = json_integer_value(json_object_get(got, "elapsed_ms"));
        json_int_t b = json_integer_value(json_object_get(want, "elapsed_ms"));
        assert_true(b >= a && b - a <= 1000); /* the oracle ran second */
        json_object_set_new(got, "elapsed_ms", json_integer(0));
        json_object_set_new(want, "elapsed_ms", json_integer(0));
    }
    char *want_text = json_dumps(want, JSON_COMPACT), *got_text = json_dumps(got, JSON_COMPACT);
    if (!json_equal(got, want))
        fail_msg("got  %s\nwant %s", got_text, want_text);
    assert_string_equal(got_text, want_text); /* the same members in the same order */
    if (order_status_final(o->status)) {      /* and the writer's own bytes are jansson's */
        assert_int_equal(w.len, strlen(want_text));
        assert_memory_equal(w.buf, want_text, w.len);
    }
    free(want_text);
    free(got_text);
    json_decref(got);
    json_decref(want);
    json_writer_free(&w);
    return true;
}

static void check_menu(const struct menu *m)
{
    unsigned checked = 0, unwritable = 0;
    for (unsigned i = 0; i < m->nitems; i++)
        for (int s = 0; s < ORDER_NSTATUSES; s++)
            for (unsigned v = 0; v < 16; v++)
                for (size_t c = 0; c < sizeof(customers) / sizeof(customers[0]); c++) {
                    const char *reason = reasons[(v + c) % (sizeof(reasons) / sizeof(reasons[0]))];
                    struct order *o =
                        order_make(&m->items[i], (enum order_status)s, v, customers[c], reason);
                    unwritable += !check_order(o);
                    order_unref(o);
                    checked++;
                }
    assert_true(checked >= m->nitems * ORDER_NSTATUSES * 16);
    /* A reason that is not UTF-8 in the message: no object, as before. */
    assert_true(unwritable > 0 && unwritable < checked / 4);
}

/* Catches: a member missing, renamed or out of place, a state's optional
 * member (reason, time_scale, late, held_by, ready) shown when it should
 * not be, a customer escaped wrong or not nulled when not UTF-8. */
static void every_state_as_the_tree_had_it(void **state)
{
    struct menu *m = menu_builtin();
    check_menu(m);
    menu_free(m);
}

/* Names a custom menu may have (no control characters; quotes, backslashes
 * and UTF-8 allowed): the recipe part serialised at load is escaped too. */
static void menu_names_that_need_escaping(void **state)
{
    const char *text =
        "{\"items\":[{\"name\":\"la\\\"tte\\\\\",\"steps\":["
        "{\"name\":\"gr\\\"ind\",\"kind\":\"hands\",\"seconds\":0.5,\"after\":[]},"
        "{\"name\":\"br\\\\ew é\",\"kind\":\"wait\",\"seconds\":2,\"after\":[\"gr\\\"ind\"]},"
        "{\"name\":\"pour\",\"kind\":\"hands\",\"seconds\":1e-3,\"after\":[\"gr\\\"ind\","
        "\"br\\\\ew é\"]}]}],\"flavours\":[\"vani\\\"lla\"]}";
    json_t *root = json_loads(text, 0, NULL);
    char err[256];
    struct menu *m = menu_from_json(root, err, sizeof(err));
    json_decref(root);
    if (!m)
        fail_msg("%s", err);
    check_menu(m);
    menu_free(m);
}

/* A message cut at its buffer's end keeps whole characters: the old tree
 * had no object at all then (the cut sentence was not UTF-8). */
static void a_cut_message_stays_utf8(void **state)
{
    struct menu *m = menu_builtin();
    char reason[ORDER_REASON_MAX + 1];
    for (size_t shift = 0; shift < 4; shift++) {
        memset(reason, 'x', shift);
        for (size_t i = shift; i + 2 < sizeof(reason); i += 2)
            memcpy(reason + i, "\xc3\xa9", 2); /* é */
        reason[sizeof(reason) - 1 - (sizeof(reason) - 1 - shift) % 2] = '\0';
        struct order *o = order_make(&m->items[0], ORDER_FAILED, 0, NULL, reason);
        char msg[160];
        order_message(o, msg, sizeof(msg));
        assert_true(json_utf8_valid(msg, strlen(msg)));
        assert_true(strlen(msg) >= sizeof(msg) - 2); /* cut, by at most one partial character */
        assert_memory_equal(msg, "Sorry, your latte could not be made (", 37);
        char storage[2048];
        struct json_writer w = JSON_WRITER_ON(storage);
        assert_true(order_json_write(&w, o));
        json_t *j = json_loadb(w.buf, w.len, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "message")), msg);
        assert_string_equal(json_string_value(json_object_get(j, "reason")), reason);
        json_decref(j);
        order_unref(o);
    }
    menu_free(m);
}

/* --- the escaper alone ---------------------------------------------------- */

/* Every 1- and 2-byte string, and 3- and 4-byte ones around the edges of
 * UTF-8: accepted exactly when json_string() accepts it, and then read back
 * by jansson as the same bytes. Catches: a byte escaped wrong or not at all
 * (a quote, a backslash, a control character), an invalid sequence passed,
 * a valid one refused. */
static void check_string(const char *s, size_t n)
{
    char storage[64];
    struct json_writer w = JSON_WRITER_ON(storage);
    JSON_PUT_LIT(&w, "[");
    json_t *want = json_string(s);
    bool ok = json_put_string(&w, s);
    assert_int_equal(json_utf8_valid(s, n), want != NULL);
    if (ok != (want != NULL))
        fail_msg("string of %zu bytes %02x %02x %02x %02x: jansson %s it", n, (unsigned char)s[0],
                 n > 1 ? (unsigned char)s[1] : 0, n > 2 ? (unsigned char)s[2] : 0,
                 n > 3 ? (unsigned char)s[3] : 0, want ? "takes" : "refuses");
    JSON_PUT_LIT(&w, "]");
    if (ok) {
        json_t *a = json_array();
        json_array_append(a, want);
        char *text = json_dumps(a, JSON_COMPACT);
        assert_int_equal(w.len, strlen(text));
        assert_memory_equal(w.buf, text, w.len); /* json_dumps()'s very bytes */
        json_t *back = json_loadb(w.buf, w.len, 0, NULL);
        assert_non_null(back);
        assert_true(json_equal(back, a));
        free(text);
        json_decref(back);
        json_decref(a);
    } else {
        assert_int_equal(w.len, 2); /* nothing written */
    }
    json_decref(want);
    json_writer_free(&w);
}

static void strings_as_jansson_takes_them(void **state)
{
    char s[8];
    for (unsigned a = 1; a < 256; a++) {
        s[0] = (char)a;
        s[1] = '\0';
        check_string(s, 1);
        for (unsigned b = 1; b < 256; b++) {
            s[1] = (char)b;
            s[2] = '\0';
            check_string(s, 2);
        }
    }
    static const unsigned char leads3[] = {0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef};
    static const unsigned char leads4[] = {0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf7};
    static const unsigned char tails[] = {0x01, 0x22, 0x5c, 0x7f, 0x80, 0x8f,
                                          0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
    for (size_t l = 0; l < sizeof(leads3); l++)
        for (size_t x = 0; x < sizeof(tails); x++)
            for (size_t y = 0; y < sizeof(tails); y++) {
                unsigned char u[] = {leads3[l], tails[x], tails[y], 0};
                check_string((const char *)u, 3);
                for (size_t z = 0; z < sizeof(tails); z++) {
                    unsigned char v[] = {leads4[l], tails[x], tails[y], tails[z], 0};
                    check_string((const char *)v, 4);
                }
            }
}

/* Catches: a digit lost or reversed, the sign or the extremes wrong. */
static void integers_as_jansson_writes_them(void **state)
{
    const long long values[] = {
        0,         1,         -1,           9, 10, -10, 99, 1796220426857LL, -1796220426857LL,
        INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char storage[8]; /* shorter than the longest: grows */
        struct json_writer w = JSON_WRITER_ON(storage);
        json_put_int(&w, values[i]);
        json_t *j = json_integer(values[i]);
        char *text = json_dumps(j, JSON_ENCODE_ANY);
        assert_int_equal(w.len, strlen(text));
        assert_memory_equal(w.buf, text, w.len);
        free(text);
        json_decref(j);
        json_writer_free(&w);
    }
}

/* json_put_name() quotes without escaping: every name it is given must be
 * one json_put_string() writes the same. Catches: a name with a byte that
 * needs an escape, or a name function json_put_name() is wrongly used for. */
static void check_name(const char *s)
{
    char a[8], b[8]; /* shorter than some names: both grow */
    struct json_writer wa = JSON_WRITER_ON(a), wb = JSON_WRITER_ON(b);
    json_put_name(&wa, s);
    assert_true(json_put_string(&wb, s));
    assert_int_equal(wa.len, wb.len);
    assert_memory_equal(wa.buf, wb.buf, wa.len);
    json_writer_free(&wa);
    json_writer_free(&wb);
}

static void own_names_need_no_escaping(void **state)
{
    for (int m = 0; m < BREW_NMODES; m++)
        check_name(brew_mode_name((enum brew_mode)m));
    for (int s = 0; s < ORDER_NSTATUSES; s++)
        check_name(order_status_name((enum order_status)s));
    for (int s = STEP_PENDING; s <= STEP_DROPPED; s++)
        check_name(step_status_name((enum step_status)s));
    check_name(late_cause_name(LATE_LOOP));
    check_name(late_cause_name(LATE_BARISTA));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_state_as_the_tree_had_it),
        cmocka_unit_test(menu_names_that_need_escaping),
        cmocka_unit_test(a_cut_message_stays_utf8),
        cmocka_unit_test(strings_as_jansson_takes_them),
        cmocka_unit_test(integers_as_jansson_writes_them),
        cmocka_unit_test(own_names_need_no_escaping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
