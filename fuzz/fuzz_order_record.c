/* The order record decoder: whatever bytes a store hands back (another
 * version's record, a truncated one, one edited by hand) either decode to a
 * consistent snapshot or are refused with a reason -- never a crash, a leak
 * or an order that points outside the menu. An accepted record encodes back
 * to fields that decode to the same order, and encoding that again changes
 * nothing (the codec is a fixed point after one pass).
 *
 * Input: field and value strings, one per line, alternating
 * ("v\n1\nid\n7\n..."); the menu is the built-in one. The same bytes go
 * to the packed decoder (NUL-separated, a stream entry's field r) too, and
 * an accepted record packed decodes back to the same order. */
#include <string.h>

#include "base/json_writer.h"
#include "cafe/order_record.h"
#include "fuzz/fuzz_common.h"

#define MAX_ITEMS 128

static void check_order(const struct menu *m, const struct order *o)
{
    FUZZ_CHECK(o->id > 0);
    FUZZ_CHECK(o->item >= m->items && o->item < m->items + m->nitems);
    FUZZ_CHECK(!o->flavour || menu_find_flavour(m, o->flavour) == o->flavour);
    FUZZ_CHECK(o->replica[0] && memchr(o->replica, '\0', sizeof(o->replica)));
    FUZZ_CHECK(o->mode <= MODE_THREAD && o->status <= ORDER_FAILED);
    FUZZ_CHECK(order_is_snapshot(o) && !o->cafe && !o->brew);
    for (unsigned i = 0; i < o->item->nsteps; i++) {
        FUZZ_CHECK(o->steps[i].status <= STEP_DROPPED);
        FUZZ_CHECK(o->steps[i].start_ms >= -1 && o->steps[i].end_ms >= -1);
        if (o->status == ORDER_READY)
            FUZZ_CHECK(o->steps[i].status == STEP_DONE);
    }
    char msg[160];
    FUZZ_CHECK(order_message(o, msg, sizeof(msg))[0] != '\0');
    /* Its answer: the text parses, names it, shows the customer as stored --
     * or null when that is not UTF-8 (a record may hold any bytes) ... */
    char storage[1024]; /* small: long records take the heap path too */
    struct json_writer w = JSON_WRITER_ON(storage);
    FUZZ_CHECK(order_json_write(&w, o));
    json_t *j = json_loadb(w.buf, w.len, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(j != NULL);
    FUZZ_CHECK(json_integer_value(json_object_get(j, "id")) == (json_int_t)o->id);
    FUZZ_CHECK(
        !strcmp(json_string_value(json_object_get(j, "status")), order_status_name(o->status)));
    json_t *who = json_object_get(j, "customer");
    if (o->customer && json_utf8_valid(o->customer, strlen(o->customer)))
        FUZZ_CHECK(json_is_string(who) && !strcmp(json_string_value(who), o->customer));
    else
        FUZZ_CHECK(json_is_null(who));
    /* ... and is the event stream's tree of it (elapsed_ms: "to now"). */
    json_t *tree = order_to_json(o);
    FUZZ_CHECK(tree != NULL);
    json_object_del(tree, "elapsed_ms");
    json_object_del(j, "elapsed_ms");
    FUZZ_CHECK(json_equal(j, tree));
    json_decref(tree);
    json_decref(j);
    json_writer_free(&w);
}

static uint64_t record_hash(const struct order_record *r)
{
    uint64_t h = FUZZ_HASH_INIT;
    for (unsigned i = 0; i < 2 * r->n; i++) {
        h = fuzz_hash(h, r->argv[i], r->len[i]);
        h = fuzz_hash(h, "\n", 1);
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct menu *menu;
    if (!menu)
        menu = menu_builtin();
    const char *argv[2 * MAX_ITEMS];
    size_t len[2 * MAX_ITEMS], n = 0;
    const char *p = (const char *)data, *end = p + size;
    while (p <= end && n < 2 * MAX_ITEMS) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        argv[n] = p;
        len[n] = (size_t)(stop - p);
        n++;
        p = stop + 1;
    }
    struct order *o = NULL;
    char err[200] = "";
    /* The same bytes as a packed record (a stream entry's "r"). */
    if (order_record_decode_packed(menu, (const char *)data, size, &o, err, sizeof(err)) < 0) {
        FUZZ_CHECK(o == NULL && err[0] != '\0');
    } else {
        check_order(menu, o);
        order_unref(o);
        o = NULL;
    }
    err[0] = '\0';
    if (order_record_decode(menu, argv, len, n / 2, &o, err, sizeof(err)) < 0) {
        FUZZ_CHECK(o == NULL && err[0] != '\0');
        return 0;
    }
    check_order(menu, o);

    struct order_record r1, r2;
    order_record_encode(o, &r1);
    struct order *again = NULL;
    if (order_record_decode(menu, r1.argv, r1.len, r1.n, &again, err, sizeof(err)) < 0)
        fprintf(stderr, "re-encoded record refused: %s\n", err);
    FUZZ_CHECK(again != NULL);
    check_order(menu, again);
    order_record_encode(again, &r2);
    FUZZ_CHECK(record_hash(&r1) == record_hash(&r2));
    order_unref(again);
    /* Packed, the record decodes to the same order again. */
    char packed[sizeof(r1.scratch) + 4 * ORDER_CUSTOMER_MAX + 1024];
    size_t plen = order_record_packed_len(&r1);
    if (plen <= sizeof(packed)) {
        order_record_pack(&r1, packed);
        FUZZ_CHECK(order_record_decode_packed(menu, packed, plen, &again, err, sizeof(err)) == 0);
        order_record_encode(again, &r2);
        FUZZ_CHECK(record_hash(&r1) == record_hash(&r2));
        order_unref(again);
    }
    order_unref(o);
    return 0;
}
