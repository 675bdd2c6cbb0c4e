/* The order decoder of handlers/orders.c -- body_json(), fields_from_json(),
 * fields_from_form(), fields_check(), batch_read(), query_uint() -- through
 * order_read() and the batch path, exactly as POST /order and POST /orders
 * call them (the file is included, as h2o's unit tests include theirs).
 * Properties: no memory error or leak, an accepted order names a menu item
 * (and flavour), a refusal is a 400 or 422 with a sentence.
 *
 * Input: byte 0 = flags, then "query\n" and the body. */
#include "handlers/orders.c"

#include "fuzz/fuzz_common.h"

enum { F_BATCH = 1, F_JSON_TYPE = 2 };

static struct menu *menu;
static struct handler_ctx ctx;

static void check_spec(const struct order_spec *s)
{
    FUZZ_CHECK(s->item && s->item >= menu->items && s->item < menu->items + menu->nitems);
    if (s->flavour) {
        FUZZ_CHECK(menu_find_flavour(menu, s->flavour) == s->flavour);
    }
    if (s->customer) {
        FUZZ_CHECK(strlen(s->customer) <= CUSTOMER_MAX);
    }
}

static void check_error(struct input_error *e)
{
    FUZZ_CHECK(e->status == 400 || e->status == 422);
    FUZZ_CHECK(e->detail[0] != '\0');
    if (e->extra) { /* what problem_send() merges into the answer */
        char *text = json_dumps(e->extra, JSON_COMPACT);
        FUZZ_CHECK(text != NULL);
        free(text);
        json_decref(e->extra);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!menu) {
        menu = menu_builtin();
        ctx.max_batch = 20;
        ctx.menu = menu;
    }
    unsigned flags = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    const char *nl = memchr(in, '\n', len);
    size_t qlen = nl ? (size_t)(nl - in) : 0;
    const char *body = nl ? nl + 1 : in;
    size_t blen = len - (size_t)(body - in);

    struct request req;
    memset(&req, 0, sizeof(req));
    arena_init(&req.arena);
    request_reset(&req);
    req.app = &ctx;
    req.query = arena_strndup(&req.arena, in, qlen);
    req.body = arena_strndup(&req.arena, body, blen); /* NUL-terminated, as the parser leaves it */
    req.body_len = blen;
    struct header ct = {"Content-Type", "application/json"};
    if (flags & F_JSON_TYPE) {
        req.headers = &ct;
        req.nheaders = 1;
    }

    struct input_error e = {0};
    long long timeout;
    if (flags & F_BATCH) {
        unsigned n = 0;
        json_t *root = body_json(&req, &e);
        struct order_spec *specs = root ? batch_read(&req, &ctx, root, -1, &n, &e) : NULL;
        if (specs) {
            FUZZ_CHECK(n >= 1 && n <= ctx.max_batch);
            for (unsigned i = 0; i < n; i++) {
                check_spec(&specs[i]);
                FUZZ_CHECK(specs[i].mode == specs[0].mode); /* one mode per batch */
            }
            (void)wants_ndjson(&req);
        } else {
            check_error(&e);
        }
        json_decref(root);
    } else {
        struct order_spec spec = {.mode = MODE_ASYNC};
        if (order_read(&req, menu, &spec, &e) == 0)
            check_spec(&spec);
        else
            check_error(&e);
    }
    struct input_error qe = {0};
    if (query_uint(&req, "timeout_ms", -1, TIMEOUT_MAX, &timeout, &qe) == 0)
        FUZZ_CHECK(timeout >= -1 && timeout <= TIMEOUT_MAX);
    else
        check_error(&qe);
    (void)query_wait(&req);
    request_reset(&req);
    return 0;
}
