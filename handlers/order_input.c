/* Order input decoding (handlers/order_input.h): JSON, form and query
 * string into order specs checked against the menu. The error sentences are
 * part of the API: they name what was wrong and what would be right. */
#include "handlers/order_input.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/request.h"

/* The three fields of one order, borrowed from a JSON value or the arena. */
struct order_fields {
    const char *item, *flavour, *customer;
};

static const char *const field_names[] = {"item", "flavour", "customer"};
#define NFIELDS 3

static const char **field_slot(struct order_fields *f, unsigned k)
{
    const char **slots[NFIELDS] = {&f->item, &f->flavour, &f->customer};
    return slots[k];
}

static int input_fail(struct input_error *e, int status, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int input_fail(struct input_error *e, int status, json_t *extra, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
    e->status = status;
    e->extra = extra;
    return -1;
}

void input_error_clear(struct input_error *e)
{
    json_decref(e->extra);
    memset(e, 0, sizeof(*e));
}

static const char *query_param(const struct order_input *in, const char *name)
{
    return form_param(in->arena, in->query, strlen(in->query), name);
}

static json_t *names_array(const char *first, size_t stride, unsigned n)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < n; i++)
        json_array_append_new(a, json_string(first + i * stride));
    return a;
}

/* A JSON body is read whatever its Content-Type (curl -d sends a form type):
 * JSON if the type says so or the body starts like a JSON text. */
static bool body_looks_json(const struct order_input *in)
{
    if (in->content_type && strstr(in->content_type, "json"))
        return true;
    size_t i = 0;
    while (i < in->body_len && (in->body[i] == ' ' || in->body[i] == '\t' || in->body[i] == '\r' ||
                                in->body[i] == '\n'))
        i++;
    return i < in->body_len && (in->body[i] == '{' || in->body[i] == '[' || in->body[i] == '"');
}

/* The body as a JSON object. Malformed -> 400; JSON_DECODE_ANY so that a
 * well-formed non-object ("latte", 42) is a shape problem (422), not a syntax
 * one, as docs/contract.md distinguishes them. */
static json_t *body_json(const struct order_input *in, struct input_error *e)
{
    json_error_t jerr;
    json_t *root =
        json_loadb(in->body, in->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        input_fail(e, 400, json_pack("{s:i, s:i}", "line", jerr.line, "column", jerr.column),
                   "malformed JSON: %s", jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        input_fail(e, 422, NULL, "the body must be a JSON object");
        return NULL;
    }
    return root;
}

static int fields_from_json(const json_t *obj, const char *where, struct order_fields *f,
                            struct input_error *e)
{
    if (!json_is_object(obj))
        return input_fail(e, 422, NULL, "%san order must be a JSON object", where);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        unsigned k = 0;
        while (k < NFIELDS && strcmp(field_names[k], key) != 0)
            k++;
        if (k == NFIELDS)
            return input_fail(e, 422, NULL,
                              "%sunknown member \"%s\"; an order has item, flavour, customer",
                              where, key);
        if (json_is_null(v))
            continue;
        if (!json_is_string(v))
            return input_fail(e, 422, NULL, "%s%s must be a string", where, key);
        *field_slot(f, k) = json_string_value(v);
    }
    return 0;
}

/* A form-encoded body, then the query string, for each field still unset. */
static void fields_from_form(const struct order_input *in, bool form_body, struct order_fields *f)
{
    for (unsigned k = 0; k < NFIELDS; k++) {
        const char **slot = field_slot(f, k);
        if (*slot)
            continue;
        const char *v =
            form_body ? form_param(in->arena, in->body, in->body_len, field_names[k]) : NULL;
        *slot = v ? v : query_param(in, field_names[k]);
    }
}

/* Checks fields against the menu into spec; the customer is copied into the
 * arena. A 422 names the valid choices. */
static int fields_check(const struct order_input *in, const struct menu *m,
                        const struct order_fields *f, const char *where, struct order_spec *spec,
                        struct input_error *e)
{
    char names[512];
    spec->item = f->item ? menu_find_item(m, f->item) : NULL;
    if (!spec->item) {
        json_t *extra = json_pack("{s:o}", "items",
                                  names_array(m->items[0].name, sizeof(m->items[0]), m->nitems));
        menu_item_names(m, names, sizeof(names));
        if (!f->item || !*f->item)
            return input_fail(e, 422, extra, "%san order needs an item: one of %s", where, names);
        return input_fail(e, 422, extra, "%sunknown item \"%.64s\"; the menu has %s", where,
                          f->item, names);
    }
    spec->flavour = NULL;
    if (f->flavour && *f->flavour) {
        spec->flavour = menu_find_flavour(m, f->flavour);
        if (!spec->flavour)
            return input_fail(
                e, 422,
                json_pack("{s:o}", "flavours",
                          names_array(m->flavours[0], sizeof(m->flavours[0]), m->nflavours)),
                "%sunknown flavour \"%.64s\"; choose %s (or none)", where, f->flavour,
                menu_flavour_names(m, names, sizeof(names)));
    }
    spec->customer = NULL;
    if (f->customer && *f->customer) {
        size_t len = strlen(f->customer);
        json_t *probe = json_stringn(f->customer, len); /* NULL unless valid UTF-8 */
        bool ok = probe && len <= ORDER_INPUT_CUSTOMER_MAX;
        json_decref(probe);
        if (!ok)
            return input_fail(e, 422, NULL, "%scustomer must be UTF-8 text of at most %d bytes",
                              where, ORDER_INPUT_CUSTOMER_MAX);
        spec->customer = arena_strndup(in->arena, f->customer, len);
    }
    return 0;
}

static int query_timeout(const struct order_input *in, int64_t *timeout_ms, struct input_error *e)
{
    long long v;
    if (order_input_query_uint(in, "timeout_ms", -1, ORDER_TIMEOUT_MAX_MS, &v, e) < 0)
        return -1;
    *timeout_ms = v;
    return 0;
}

/* ?time_scale=S: real seconds per recipe second for these orders only; 0
 * (the café's own) when absent. A client may make its recipe seconds as
 * short as a millisecond, never longer than a real second
 * (docs/experiments.md). */
static int query_time_scale(const struct order_input *in, double *out, struct input_error *e)
{
    const char *v = query_param(in, "time_scale");
    *out = 0;
    if (!v)
        return 0;
    char *end;
    double s = strtod(v, &end);
    if (!*v || !strchr("0123456789.", *v) || *end || !isfinite(s) ||
        s < ORDER_INPUT_TIME_SCALE_MIN || s > ORDER_INPUT_TIME_SCALE_MAX)
        return input_fail(e, 422, NULL, "time_scale must be a number from %g to %g",
                          ORDER_INPUT_TIME_SCALE_MIN, ORDER_INPUT_TIME_SCALE_MAX);
    *out = s;
    return 0;
}

int order_input_one(const struct order_input *in, const struct menu *m, enum brew_mode mode,
                    struct order_spec *spec, struct input_error *e)
{
    struct order_fields f = {0};
    json_t *root = NULL;
    bool json = in->body_len && body_looks_json(in);
    memset(spec, 0, sizeof(*spec));
    spec->mode = mode;
    if (json && (!(root = body_json(in, e)) || fields_from_json(root, "", &f, e) < 0))
        goto fail;
    fields_from_form(in, in->body_len && !json, &f);
    if (fields_check(in, m, &f, "", spec, e) < 0 || query_timeout(in, &spec->timeout_ms, e) < 0 ||
        query_time_scale(in, &spec->time_scale, e) < 0)
        goto fail;
    json_decref(root);
    return 0;
fail:
    json_decref(root);
    return -1;
}

/* The batch's mode: its "mode" member, else ?mode=, else async. */
static int batch_mode(const struct order_input *in, const json_t *root, struct input_error *e)
{
    const json_t *jmode = json_object_get(root, "mode");
    const char *name = jmode ? json_string_value(jmode) : query_param(in, "mode");
    int mode = name ? brew_mode_parse(name) : MODE_ASYNC;
    if (mode < 0 || (jmode && !json_is_string(jmode)))
        return input_fail(e, 422, NULL, "mode must be sync, async or thread");
    return mode;
}

struct order_spec *order_input_batch(const struct order_input *in, const struct menu *m,
                                     unsigned max_batch, unsigned *n, struct input_error *e)
{
    int64_t timeout_ms;
    double scale;
    json_t *root = NULL;
    struct order_spec *specs = NULL;
    if (!in->body_len) {
        input_fail(e, 422, NULL, "a batch is a JSON body {\"orders\":[...], \"mode\":\"async\"}");
        return NULL;
    }
    if (query_timeout(in, &timeout_ms, e) < 0 || query_time_scale(in, &scale, e) < 0 ||
        !(root = body_json(in, e)))
        return NULL;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "orders") != 0 && strcmp(key, "mode") != 0) {
            input_fail(e, 422, NULL, "unknown member \"%s\"; a batch has orders, mode", key);
            goto done;
        }
    }
    int mode = batch_mode(in, root, e);
    if (mode < 0)
        goto done;
    json_t *orders = json_object_get(root, "orders");
    size_t count = json_is_array(orders) ? json_array_size(orders) : 0;
    if (count == 0 || count > max_batch) {
        input_fail(e, 422, NULL, "orders must be an array of 1 to %u orders", max_batch);
        goto done;
    }
    struct order_spec *out = arena_alloc(in->arena, count * sizeof(*out));
    size_t i;
    json_array_foreach(orders, i, v)
    {
        struct order_fields f = {0};
        char where[32];
        snprintf(where, sizeof(where), "order %zu: ", i);
        out[i] = (struct order_spec){
            .mode = (enum brew_mode)mode, .timeout_ms = timeout_ms, .time_scale = scale};
        if (fields_from_json(v, where, &f, e) < 0 ||
            fields_check(in, m, &f, where, &out[i], e) < 0) {
            if (!e->extra)
                e->extra = json_object();
            json_object_set_new(e->extra, "index", json_integer((json_int_t)i));
            goto done;
        }
    }
    specs = out;
    *n = (unsigned)count;
done:
    json_decref(root);
    return specs;
}

int order_input_query_uint(const struct order_input *in, const char *name, long long def,
                           long long max, long long *out, struct input_error *e)
{
    const char *v = query_param(in, name);
    *out = def;
    if (!v)
        return 0;
    /* Digits only: strtoll() alone would take a sign or leading blanks
     * (and '+' in a query string is a blank). */
    char *end;
    errno = 0;
    long long n = *v >= '0' && *v <= '9' ? strtoll(v, &end, 10) : -1;
    if (n < 0 || *end || errno || n > max)
        return input_fail(e, 422, NULL, "%s must be a whole number from 0 to %lld", name, max);
    *out = n;
    return 0;
}

int order_input_query_status(const struct order_input *in, int *status, struct input_error *e)
{
    const char *name = query_param(in, "status");
    *status = -1;
    if (!name || !*name)
        return 0;
    *status = order_status_parse(name);
    if (*status >= 0)
        return 0;
    json_t *all = json_array();
    char list[128] = "";
    for (int s = 0; s < ORDER_NSTATUSES; s++) {
        const char *sn = order_status_name((enum order_status)s);
        const char *sep = s == 0 ? "" : s == ORDER_NSTATUSES - 1 ? " or " : ", ";
        size_t len = strlen(list);
        snprintf(list + len, sizeof(list) - len, "%s%s", sep, sn);
        json_array_append_new(all, json_string(sn));
    }
    return input_fail(e, 422, json_pack("{s:o}", "statuses", all),
                      "unknown status \"%.32s\"; use %s", name, list);
}

bool order_input_wait(const struct order_input *in)
{
    const char *v = query_param(in, "wait");
    return !v || !(strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0);
}

bool order_input_wants_ndjson(const struct order_input *in)
{
    const char *stream = query_param(in, "stream");
    return (in->accept && strstr(in->accept, "application/x-ndjson")) ||
           (stream && (strcmp(stream, "1") == 0 || strcasecmp(stream, "true") == 0));
}
