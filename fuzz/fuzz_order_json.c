/* The order input decoder (handlers/order_input.h) through its public API,
 * exactly as POST /order, POST /orders and GET /orders call it. Properties: no
 * memory error or leak, an accepted order names a menu item (and flavour) and
 * a customer within bounds, a batch is 1 to max_batch orders of one mode, a
 * refusal is a 400 or 422 with a sentence and serialisable extra members.
 *
 * Input: byte 0 = flags, then "query\n" and the body. */
#include <string.h>

#include "base/arena.h"
#include "cafe/cafe.h"
#include "fuzz/fuzz_common.h"
#include "handlers/order_input.h"

enum { F_BATCH = 1, F_JSON_TYPE = 2, F_NDJSON = 4 };

#define MAX_BATCH 20

static struct menu *menu;

static void check_spec(const struct order_spec *s, enum brew_mode mode)
{
    FUZZ_CHECK(s->item && s->item >= menu->items && s->item < menu->items + menu->nitems);
    if (s->flavour) {
        FUZZ_CHECK(menu_find_flavour(menu, s->flavour) == s->flavour);
    }
    if (s->customer) {
        FUZZ_CHECK(*s->customer && strlen(s->customer) <= ORDER_INPUT_CUSTOMER_MAX);
    }
    FUZZ_CHECK(s->mode == mode);
    FUZZ_CHECK(s->timeout_ms >= -1 && s->timeout_ms <= ORDER_TIMEOUT_MAX_MS);
}

static void check_error(struct input_error *e)
{
    FUZZ_CHECK(e->status == 400 || e->status == 422);
    FUZZ_CHECK(e->detail[0] != '\0');
    if (e->extra) { /* what the problem+json answer merges in */
        FUZZ_CHECK(json_is_object(e->extra));
        char *text = json_dumps(e->extra, JSON_COMPACT);
        FUZZ_CHECK(text != NULL);
        free(text);
    }
    input_error_clear(e);
    FUZZ_CHECK(e->extra == NULL && e->status == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!menu)
        menu = menu_builtin();
    unsigned flags = data[0];
    const char *in_bytes = (const char *)data + 1;
    size_t len = size - 1;
    const char *nl = memchr(in_bytes, '\n', len);
    size_t qlen = nl ? (size_t)(nl - in_bytes) : 0;
    const char *body = nl ? nl + 1 : in_bytes;
    size_t blen = len - (size_t)(body - in_bytes);

    struct arena arena;
    arena_init(&arena);
    struct order_input in = {
        .body = arena_strndup(&arena, body, blen), /* NUL-terminated, as the parser leaves it */
        .body_len = blen,
        .content_type = flags & F_JSON_TYPE ? "application/json" : NULL,
        .accept = flags & F_NDJSON ? "application/x-ndjson" : NULL,
        .query = arena_strndup(&arena, in_bytes, qlen),
        .arena = &arena,
    };

    struct input_error e = {0};
    if (flags & F_BATCH) {
        unsigned n = 0;
        struct order_spec *specs = order_input_batch(&in, menu, MAX_BATCH, &n, &e);
        if (specs) {
            FUZZ_CHECK(n >= 1 && n <= MAX_BATCH);
            for (unsigned i = 0; i < n; i++)
                check_spec(&specs[i], specs[0].mode); /* one mode per batch */
        } else {
            check_error(&e);
        }
    } else {
        struct order_spec spec;
        if (order_input_one(&in, menu, MODE_THREAD, &spec, &e) == 0)
            check_spec(&spec, MODE_THREAD);
        else
            check_error(&e);
    }
    long long limit;
    if (order_input_query_uint(&in, "limit", 50, 1000, &limit, &e) == 0)
        FUZZ_CHECK(limit >= 0 && limit <= 1000);
    else
        check_error(&e);
    int status;
    if (order_input_query_status(&in, &status, &e) == 0)
        FUZZ_CHECK(status >= -1 && status < ORDER_NSTATUSES);
    else
        check_error(&e);
    (void)order_input_wait(&in);
    if (flags & F_NDJSON) {
        FUZZ_CHECK(order_input_wants_ndjson(&in));
    }
    arena_reset(&arena);
    return 0;
}
