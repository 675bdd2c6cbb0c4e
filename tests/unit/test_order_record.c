/* The order record codec (cafe/order_record.c) and the Redis URL parser:
 * pure functions, no store. A record round-trips; every way a record can be
 * truncated or hand-edited is a clear error naming the field, never a crash
 * (the fuzz target fuzz/fuzz_order_record.c explores the rest). Breaking
 * what they check: dropping a field from the encoder fails the round trip;
 * letting the decoder accept a missing field or a wrong step count fails
 * the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "cafe/order_record.h"
#include "cafe/store.h"

static struct menu *menu;

static struct order *sample(const char *item, enum order_status status)
{
    struct order *o = order_alloc(menu_find_item(menu, item));
    o->id = 42;
    o->flavour = menu_find_flavour(menu, "vanilla");
    o->customer = strdup("Zoë, \"quoted\"\nand a newline");
    o->mode = MODE_THREAD;
    o->status = status;
    o->accepted_unix_ms = 1700000000123;
    o->started_ms = 3;
    o->finished_ms = order_status_final(status) ? 5004 : -1;
    snprintf(o->replica, sizeof(o->replica), "host-1:8080");
    for (unsigned i = 0; i < o->item->nsteps; i++)
        o->steps[i] = (struct order_step){status == ORDER_READY ? STEP_DONE : STEP_RUNNING,
                                          (int64_t)i, status == ORDER_READY ? 5000 : -1};
    if (status == ORDER_CANCELLED) {
        o->reason = "timeout_ms passed";
        o->timed_out = true;
    }
    return o;
}

/* Decodes the pairs of r (with replaced/removed fields: name -> value, or
 * value NULL to drop it). */
static int decode_edited(const struct order_record *r, const char *name, const char *value,
                         struct order **out, char *err, size_t errlen)
{
    const char *argv[2 * ORDER_RECORD_FIELDS + 2];
    size_t len[2 * ORDER_RECORD_FIELDS + 2];
    size_t n = 0;
    bool found = false;
    for (unsigned i = 0; i < r->n; i++) {
        bool hit = name && strcmp(r->argv[2 * i], name) == 0;
        found |= hit;
        if (hit && !value)
            continue;
        argv[2 * n] = r->argv[2 * i];
        len[2 * n] = r->len[2 * i];
        argv[2 * n + 1] = hit ? value : r->argv[2 * i + 1];
        len[2 * n + 1] = hit ? strlen(value) : r->len[2 * i + 1];
        n++;
    }
    if (name && !found && value) { /* a new field */
        argv[2 * n] = name;
        len[2 * n] = strlen(name);
        argv[2 * n + 1] = value;
        len[2 * n + 1] = strlen(value);
        n++;
    }
    return order_record_decode(menu, argv, len, n, out, err, errlen);
}

static void round_trip(void **state)
{
    const enum order_status statuses[] = {ORDER_QUEUED, ORDER_BREWING, ORDER_READY,
                                          ORDER_CANCELLED};
    for (size_t s = 0; s < sizeof(statuses) / sizeof(statuses[0]); s++) {
        struct order *o = sample("pourover", statuses[s]);
        struct order_record r;
        order_record_encode(o, &r);
        struct order *back = NULL;
        char err[160] = "";
        assert_int_equal(decode_edited(&r, NULL, NULL, &back, err, sizeof(err)), 0);
        assert_true(order_is_snapshot(back));
        assert_null(back->cafe);
        assert_int_equal(back->id, 42);
        assert_ptr_equal(back->item, o->item);
        assert_ptr_equal(back->flavour, o->flavour); /* the menu's own spelling */
        assert_string_equal(back->customer, o->customer);
        assert_int_equal(back->mode, MODE_THREAD);
        assert_int_equal(back->status, statuses[s]);
        assert_int_equal(back->timed_out, o->timed_out);
        if (o->reason)
            assert_string_equal(back->reason, o->reason);
        else
            assert_null(back->reason);
        assert_string_equal(back->replica, "host-1:8080");
        assert_int_equal(back->accepted_unix_ms, 1700000000123);
        assert_int_equal(back->started_ms, 3);
        assert_int_equal(back->finished_ms, o->finished_ms);
        for (unsigned i = 0; i < o->item->nsteps; i++) {
            /* a cancelled order's unfinished steps did not happen */
            enum step_status want =
                statuses[s] == ORDER_CANCELLED ? STEP_DROPPED : o->steps[i].status;
            assert_int_equal(back->steps[i].status, want);
            assert_int_equal(back->steps[i].start_ms, o->steps[i].start_ms);
            assert_int_equal(back->steps[i].end_ms, o->steps[i].end_ms);
        }
        order_unref(back);
        order_unref(o);
    }
}

/* The packed form a stream entry carries (docs/store.md): the same order
 * back, the fields a transition sends are the changing ones, and a packed
 * record split wrong is refused. */
static void packed_records(void **state)
{
    struct order *o = sample("pourover", ORDER_CANCELLED);
    struct order_record r;
    order_record_encode(o, &r);
    size_t n = order_record_packed_len(&r);
    char *packed = malloc(n + 1);
    packed[n] = '#'; /* nothing written past the length it said */
    order_record_pack(&r, packed);
    assert_int_equal(packed[n], '#');
    assert_int_equal(memcmp(packed,
                            "v\0"
                            "1\0id\0"
                            "42\0",
                            10),
                     0);
    struct order *back = NULL;
    char err[160] = "";
    assert_int_equal(order_record_decode_packed(menu, packed, n, &back, err, sizeof(err)), 0);
    assert_int_equal(back->id, 42);
    assert_string_equal(back->customer, o->customer);
    assert_string_equal(back->reason, o->reason);
    assert_int_equal(back->status, ORDER_CANCELLED);
    assert_int_equal(back->steps[2].end_ms, o->steps[2].end_ms);
    order_unref(back);
    /* What a transition may change, and nothing that never does. */
    assert_string_equal(r.argv[2 * r.mutable_from], "status");
    for (unsigned i = r.mutable_from; i < r.n; i++)
        assert_true(strcmp(r.argv[2 * i], "item") && strcmp(r.argv[2 * i], "customer"));
    /* The last value cut off (an odd count), a stray NUL, nothing at all. */
    size_t cut = (size_t)((char *)memrchr(packed, '\0', n) - packed);
    assert_int_equal(order_record_decode_packed(menu, packed, cut, &back, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not field/value pairs"));
    assert_null(back);
    packed[1] = 'x'; /* "vx1": the pairs no longer line up */
    assert_int_equal(order_record_decode_packed(menu, packed, n, &back, err, sizeof(err)), -1);
    assert_int_equal(order_record_decode_packed(menu, "", 0, &back, err, sizeof(err)), -1);
    free(packed);
    order_unref(o);
}

static void optional_fields_and_unknown_ones(void **state)
{
    struct order *o = sample("latte", ORDER_QUEUED);
    o->flavour = NULL;
    free(o->customer);
    o->customer = NULL;
    o->id = 0; /* not assigned yet: left out */
    struct order_record r;
    order_record_encode(o, &r);
    for (unsigned i = 0; i < r.n; i++) {
        assert_string_not_equal(r.argv[2 * i], "id");
        assert_string_not_equal(r.argv[2 * i], "flavour");
        assert_string_not_equal(r.argv[2 * i], "customer");
        assert_string_not_equal(r.argv[2 * i], "reason");
    }
    struct order *back = NULL;
    char err[160];
    /* A stream entry's own fields (and a future version's) are ignored. */
    assert_int_equal(decode_edited(&r, "id", "7", &back, err, sizeof(err)), 0);
    assert_null(back->customer);
    assert_null(back->flavour);
    order_unref(back);
    assert_int_equal(decode_edited(&r, "event", "order_queued", &back, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no field id")); /* still needs its id */
    order_unref(o);
}

struct refusal {
    const char *field, *value; /* value NULL: the field removed */
    const char *says;
};

static void truncated_or_edited_records_are_refused(void **state)
{
    static const struct refusal cases[] = {
        {"steps", NULL, "no field steps"},
        {"status", NULL, "no field status"},
        {"v", "2", "version 2"},
        {"id", "0", "field id"},
        {"id", "-3", "field id"},
        {"id", "99999999999999999999", "field id"},
        {"id", "12a", "field id"},
        {"item", "espresso", "field item"},
        {"item", "", "field item"},
        {"flavour", "bacon", "field flavour"},
        {"mode", "turbo", "field mode"},
        {"status", "READY!", "field status"},
        {"timed_out", "2", "field timed_out"},
        {"accepted", "-1", "field accepted"},
        {"accepted", "", "field accepted"},
        {"started", "-2", "field started"},
        {"finished", "1.5", "field finished"},
        {"replica", "", "field replica"},
        {"replica", "has space", "field replica"},
        {"reason", "re\x84lica lost", "field reason"}, /* the message is JSON: found by fuzzing */
        {"steps", "r0:-1,r0:-1", "2 steps"},
        {"steps", "r0:-1,r0:-1,r0:-1,r0:-1", "more steps"},
        {"steps", "r0:-1,r0:-1,", "ends with a comma"},
        {"steps", "r0:-1,z0:-1,r0:-1", "step 1"},
        {"steps", "r0-1,r0:-1,r0:-1", "step 0"},
        {"steps", "r:,r0:-1,r0:-1", "step 0"},
        {"steps", "", "0 steps"},
    };
    struct order *o = sample("pourover", ORDER_BREWING);
    struct order_record r;
    order_record_encode(o, &r);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct order *back = (struct order *)1;
        char err[160] = "";
        int rc = decode_edited(&r, cases[i].field, cases[i].value, &back, err, sizeof(err));
        if (rc != -1 || !strstr(err, cases[i].says))
            fail_msg("%s=%s: rc %d, \"%s\" (wanted \"%s\")", cases[i].field,
                     cases[i].value ? cases[i].value : "(removed)", rc, err, cases[i].says);
        assert_null(back);
    }
    order_unref(o);

    /* ready with a step not done; a NUL in a customer; a duplicate field */
    o = sample("latte", ORDER_READY);
    order_record_encode(o, &r);
    struct order *back;
    char err[160];
    assert_int_equal(decode_edited(&r, "steps", "r0:-1", &back, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not done"));
    const char *argv[] = {"v", "1", "v", "1"};
    const size_t len[] = {1, 1, 1, 1};
    assert_int_equal(order_record_decode(menu, argv, len, 2, &back, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "twice"));
    const char nul[] = {'a', '\0', 'b'};
    const char *argv2[2 * ORDER_RECORD_FIELDS];
    size_t len2[2 * ORDER_RECORD_FIELDS];
    for (unsigned i = 0; i < 2 * r.n; i++) {
        argv2[i] = r.argv[i];
        len2[i] = r.len[i];
        if (i % 2 == 1 && strcmp(r.argv[i - 1], "customer") == 0) {
            argv2[i] = nul;
            len2[i] = sizeof(nul);
        }
    }
    assert_int_equal(order_record_decode(menu, argv2, len2, r.n, &back, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "customer"));
    order_unref(o);
}

static void redis_urls(void **state)
{
    struct redis_url u;
    char err[160];
    assert_int_equal(redis_url_parse("redis://127.0.0.1:6380/2", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 2);
    assert_int_equal(redis_url_parse("redis://cache", &u, err, sizeof(err)), 0);
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_int_equal(redis_url_parse("redis://:s3cr@t@[::1]:7000", &u, err, sizeof(err)), 0);
    assert_string_equal(u.password, "s3cr@t");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    const char *bad[] = {"http://x",          "redis://",           "redis://:6379", "redis://h:0",
                         "redis://h:70000",   "redis://h:12x",      "redis://h/db",  "redis://[::1",
                         "redis://user:pw@h", "redis://[::1]x:6379"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (redis_url_parse(bad[i], &u, err, sizeof(err)) != -1 || !err[0])
            fail_msg("%s accepted", bad[i]);
    }
}

int main(void)
{
    log_init(LOG_TEXT);
    menu = menu_builtin();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(packed_records),
        cmocka_unit_test(optional_fields_and_unknown_ones),
        cmocka_unit_test(truncated_or_edited_records_are_refused),
        cmocka_unit_test(redis_urls),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    menu_free(menu);
    return rc;
}
