#include "cafe/menu.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xmalloc.h"

/* The built-in menu is written in the same JSON a --menu file uses, so both go
 * through one validating loader and GET /menu round-trips into --menu. */
static const char builtin_menu_json[] =
    "{\"items\":["
    "{\"name\":\"latte\",\"steps\":[{\"name\":\"make_coffee\",\"kind\":\"wait\",\"seconds\":5}]},"
    "{\"name\":\"cappuccino\",\"steps\":[{\"name\":\"make_coffee\",\"kind\":\"wait\","
    "\"seconds\":5}]},"
    "{\"name\":\"flat white\",\"steps\":[{\"name\":\"make_coffee\",\"kind\":\"wait\","
    "\"seconds\":5}]},"
    "{\"name\":\"mocha\",\"steps\":[{\"name\":\"make_coffee\",\"kind\":\"wait\",\"seconds\":5}]},"
    "{\"name\":\"pourover\",\"steps\":["
    "{\"name\":\"boil_water\",\"kind\":\"wait\",\"seconds\":3},"
    "{\"name\":\"grind_beans\",\"kind\":\"wait\",\"seconds\":2},"
    "{\"name\":\"brew\",\"kind\":\"hands\",\"seconds\":1,"
    "\"after\":[\"boil_water\",\"grind_beans\"]}]},"
    "{\"name\":\"drip\",\"steps\":["
    "{\"name\":\"boil_water\",\"kind\":\"wait\",\"seconds\":3},"
    "{\"name\":\"grind_beans\",\"kind\":\"wait\",\"seconds\":2},"
    "{\"name\":\"brew\",\"kind\":\"wait\",\"seconds\":1,"
    "\"after\":[\"boil_water\",\"grind_beans\"]}]},"
    "{\"name\":\"lunch\",\"steps\":["
    "{\"name\":\"cook_pasta\",\"kind\":\"wait\",\"seconds\":10},"
    "{\"name\":\"heat_meatloaf\",\"kind\":\"wait\",\"seconds\":3},"
    "{\"name\":\"peel_avocado\",\"kind\":\"hands\",\"seconds\":2}]}"
    "],"
    "\"flavours\":[\"vanilla\",\"chocolate\",\"pistachio\",\"caramel\"]}";

static const char *const step_kind_names[] = {[STEP_WAIT] = "wait", [STEP_HANDS] = "hands"};

const char *step_kind_name(enum step_kind k)
{
    return step_kind_names[k];
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A name is 1..MENU_NAME_MAX-1 bytes of printable text (UTF-8 allowed): it is
 * echoed in JSON, logs and error messages. */
static int name_copy(char dst[MENU_NAME_MAX], const json_t *v, const char *what, char *err,
                     size_t errlen)
{
    if (!json_is_string(v))
        return fail(err, errlen, "%s: name must be a string", what);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n >= MENU_NAME_MAX)
        return fail(err, errlen, "%s: name must be 1 to %d bytes", what, MENU_NAME_MAX - 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return fail(err, errlen, "%s: name contains a control character", what);
    }
    memcpy(dst, s, n + 1);
    return 0;
}

/* Checks that only the listed keys appear (like json_unpack's JSON_STRICT, but
 * naming the culprit). */
static int keys_check(const json_t *obj, const char *const *allowed, const char *what, char *err,
                      size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok = ok || strcmp(*a, key) == 0;
        if (!ok)
            return fail(err, errlen, "%s: unknown member \"%s\"", what, key);
    }
    return 0;
}

static int step_index(const struct item *it, const char *name)
{
    for (unsigned i = 0; i < it->nsteps; i++)
        if (strcasecmp(it->steps[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int step_parse(struct item *it, unsigned i, const json_t *js, char *err, size_t errlen)
{
    static const char *const keys[] = {"name", "kind", "seconds", "after", NULL};
    struct step_def *st = &it->steps[i];
    char what[160];
    snprintf(what, sizeof(what), "item \"%s\": step %u", it->name, i);
    if (!json_is_object(js))
        return fail(err, errlen, "%s: must be an object", what);
    if (keys_check(js, keys, what, err, errlen) < 0)
        return -1;
    if (name_copy(st->name, json_object_get(js, "name"), what, err, errlen) < 0)
        return -1;
    snprintf(what, sizeof(what), "item \"%s\": step \"%s\"", it->name, st->name);
    if (step_index(it, st->name) >= 0)
        return fail(err, errlen, "%s: duplicate step name", what);

    const char *kind = json_string_value(json_object_get(js, "kind"));
    if (kind && strcmp(kind, "wait") == 0)
        st->kind = STEP_WAIT;
    else if (kind && strcmp(kind, "hands") == 0)
        st->kind = STEP_HANDS;
    else
        return fail(err, errlen, "%s: kind must be \"wait\" or \"hands\"", what);

    const json_t *sec = json_object_get(js, "seconds");
    if (!json_is_number(sec))
        return fail(err, errlen, "%s: seconds must be a number", what);
    st->seconds = json_number_value(sec);
    if (!isfinite(st->seconds) || st->seconds <= 0 || st->seconds > MENU_MAX_SECONDS)
        return fail(err, errlen, "%s: seconds must be more than 0 and at most %g", what,
                    MENU_MAX_SECONDS);
    return 0;
}

/* Second pass, once every step name is known: `after` may name a later step. */
static int step_deps(struct item *it, unsigned i, const json_t *js, char *err, size_t errlen)
{
    struct step_def *st = &it->steps[i];
    const json_t *after = json_object_get(js, "after");
    if (!after)
        return 0;
    if (!json_is_array(after))
        return fail(err, errlen, "item \"%s\": step \"%s\": after must be an array of step names",
                    it->name, st->name);
    size_t k;
    const json_t *dep;
    json_array_foreach(after, k, dep)
    {
        const char *name = json_string_value(dep);
        int d = name ? step_index(it, name) : -1;
        if (!name)
            return fail(err, errlen, "item \"%s\": step \"%s\": after must list step names",
                        it->name, st->name);
        if (d < 0)
            return fail(err, errlen, "item \"%s\": step \"%s\": unknown dependency \"%s\"",
                        it->name, st->name, name);
        if ((unsigned)d == i)
            return fail(err, errlen, "item \"%s\": step \"%s\" depends on itself", it->name,
                        st->name);
        st->after |= 1u << d;
    }
    return 0;
}

/* Kahn's algorithm, lowest index first: the order sync mode runs the steps
 * in, and the proof there is no cycle. Also computes the two totals. */
static int item_order(struct item *it, char *err, size_t errlen)
{
    uint32_t done = 0;
    double finish[MENU_MAX_STEPS] = {0};
    it->sync_seconds = it->async_seconds = 0;
    for (unsigned n = 0; n < it->nsteps; n++) {
        unsigned pick = it->nsteps;
        for (unsigned i = 0; i < it->nsteps && pick == it->nsteps; i++)
            if (!(done & (1u << i)) && (it->steps[i].after & ~done) == 0)
                pick = i;
        if (pick == it->nsteps) {
            for (unsigned i = 0; i < it->nsteps; i++)
                if (!(done & (1u << i)))
                    return fail(err, errlen, "item \"%s\": steps form a cycle (through \"%s\")",
                                it->name, it->steps[i].name);
        }
        double start = 0;
        for (unsigned d = 0; d < it->nsteps; d++)
            if ((it->steps[pick].after & (1u << d)) && finish[d] > start)
                start = finish[d];
        finish[pick] = start + it->steps[pick].seconds;
        if (finish[pick] > it->async_seconds)
            it->async_seconds = finish[pick];
        it->sync_seconds += it->steps[pick].seconds;
        it->order[n] = (uint8_t)pick;
        done |= 1u << pick;
    }
    return 0;
}

static int item_parse(struct menu *m, const json_t *ji, char *err, size_t errlen)
{
    static const char *const keys[] = {"name", "steps", "seconds", NULL};
    struct item *it = &m->items[m->nitems];
    char what[64];
    snprintf(what, sizeof(what), "item %u", m->nitems);
    if (!json_is_object(ji))
        return fail(err, errlen, "%s: must be an object", what);
    if (keys_check(ji, keys, what, err, errlen) < 0 ||
        name_copy(it->name, json_object_get(ji, "name"), what, err, errlen) < 0)
        return -1;
    if (menu_find_item(m, it->name))
        return fail(err, errlen, "item \"%s\": duplicate item name", it->name);
    const json_t *steps = json_object_get(ji, "steps");
    if (!json_is_array(steps) || json_array_size(steps) == 0 ||
        json_array_size(steps) > MENU_MAX_STEPS)
        return fail(err, errlen, "item \"%s\": steps must be an array of 1 to %d steps", it->name,
                    MENU_MAX_STEPS);
    size_t i;
    const json_t *js;
    json_array_foreach(steps, i, js)
    {
        if (step_parse(it, (unsigned)i, js, err, errlen) < 0)
            return -1;
        it->nsteps++;
    }
    json_array_foreach(steps, i, js)
    {
        if (step_deps(it, (unsigned)i, js, err, errlen) < 0)
            return -1;
    }
    if (item_order(it, err, errlen) < 0)
        return -1;
    m->nitems++;
    return 0;
}

static int flavours_parse(struct menu *m, const json_t *jf, char *err, size_t errlen)
{
    if (!jf)
        return 0;
    if (!json_is_array(jf) || json_array_size(jf) > MENU_MAX_FLAVOURS)
        return fail(err, errlen, "flavours must be an array of at most %d names",
                    MENU_MAX_FLAVOURS);
    size_t i;
    const json_t *v;
    json_array_foreach(jf, i, v)
    {
        char what[32];
        snprintf(what, sizeof(what), "flavour %zu", i);
        if (name_copy(m->flavours[m->nflavours], v, what, err, errlen) < 0)
            return -1;
        if (menu_find_flavour(m, m->flavours[m->nflavours]))
            return fail(err, errlen, "flavour \"%s\": duplicate", m->flavours[m->nflavours]);
        m->nflavours++;
    }
    return 0;
}

/* The recipe part of every order's JSON, and the item's name, are the same
 * for every order of the item: written once here, with jansson, so it is
 * jansson's text. */
static void item_serialise(struct item *it)
{
    json_t *name = json_string(it->name);
    it->name_json = name ? json_dumps(name, JSON_ENCODE_ANY) : NULL;
    json_decref(name);
    if (!it->name_json) /* names are UTF-8 (they came from jansson): a programming error */
        abort();
    it->name_json_len = strlen(it->name_json);
    size_t len = 0, cap = 0;
    for (unsigned i = 0; i < it->nsteps; i++) {
        json_t *j = menu_step_to_json(it, i);
        char *text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!text) /* names are UTF-8 (they came from jansson): a programming error */
            abort();
        size_t n = strlen(text) - 1; /* without the closing brace */
        if (len + n > cap) {
            cap = 2 * (len + n);
            it->steps_json = xrealloc(it->steps_json, cap);
        }
        memcpy(it->steps_json + len, text, n);
        it->steps_json_at[i] = (uint32_t)len;
        len += n;
        free(text);
    }
    it->steps_json_at[it->nsteps] = (uint32_t)len;
}

struct menu *menu_from_json(const json_t *root, char *err, size_t errlen)
{
    static const char *const keys[] = {"items", "flavours", NULL};
    struct menu *m = xcalloc(1, sizeof(*m));
    snprintf(m->source, sizeof(m->source), "json");
    if (!json_is_object(root)) {
        fail(err, errlen, "the menu must be a JSON object");
        goto fail;
    }
    if (keys_check(root, keys, "menu", err, errlen) < 0)
        goto fail;
    const json_t *items = json_object_get(root, "items");
    if (!json_is_array(items) || json_array_size(items) == 0 ||
        json_array_size(items) > MENU_MAX_ITEMS) {
        fail(err, errlen, "items must be an array of 1 to %d items", MENU_MAX_ITEMS);
        goto fail;
    }
    size_t i;
    const json_t *ji;
    json_array_foreach(items, i, ji)
    {
        if (item_parse(m, ji, err, errlen) < 0)
            goto fail;
    }
    if (flavours_parse(m, json_object_get(root, "flavours"), err, errlen) < 0)
        goto fail;
    for (unsigned k = 0; k < m->nitems; k++)
        item_serialise(&m->items[k]);
    return m;
fail:
    menu_free(m);
    return NULL;
}

struct menu *menu_builtin(void)
{
    char err[256];
    json_error_t jerr;
    json_t *root = json_loads(builtin_menu_json, JSON_REJECT_DUPLICATES, &jerr);
    struct menu *m = root ? menu_from_json(root, err, sizeof(err)) : NULL;
    json_decref(root);
    if (!m) /* a programming error, caught by the unit tests */
        abort();
    snprintf(m->source, sizeof(m->source), "built-in");
    return m;
}

struct menu *menu_load_file(const char *path, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (jerr.line < 0) /* jansson could not open or read the file */
            fail(err, errlen, "%s: %s", path, jerr.text);
        else
            fail(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    char why[256];
    struct menu *m = menu_from_json(root, why, sizeof(why));
    json_decref(root);
    if (!m) {
        fail(err, errlen, "%s: %s", path, why);
        return NULL;
    }
    const char *base = strrchr(path, '/');
    snprintf(m->source, sizeof(m->source), "%s", base ? base + 1 : path);
    return m;
}

void menu_free(struct menu *m)
{
    for (unsigned i = 0; m && i < m->nitems; i++) {
        free(m->items[i].steps_json);
        free(m->items[i].name_json);
    }
    free(m);
}

const struct item *menu_find_item(const struct menu *m, const char *name)
{
    for (unsigned i = 0; i < m->nitems; i++)
        if (strcasecmp(m->items[i].name, name) == 0)
            return &m->items[i];
    return NULL;
}

const char *menu_find_flavour(const struct menu *m, const char *name)
{
    for (unsigned i = 0; i < m->nflavours; i++)
        if (strcasecmp(m->flavours[i], name) == 0)
            return m->flavours[i];
    return NULL;
}

/* Joins n names (stride bytes apart) with ", ", truncating with "..." when the
 * buffer is too small. */
static const char *names_join(const char *first, size_t stride, unsigned n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", first + i * stride);
        used += w > 0 ? (size_t)w : 0;
    }
    if (used >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
    return buf;
}

const char *menu_item_names(const struct menu *m, char *buf, size_t len)
{
    return names_join(m->items[0].name, sizeof(m->items[0]), m->nitems, buf, len);
}

const char *menu_flavour_names(const struct menu *m, char *buf, size_t len)
{
    return names_join(m->flavours[0], sizeof(m->flavours[0]), m->nflavours, buf, len);
}

/* Whole seconds print as integers ("seconds":5), as docs/contract.md's table writes them. */
json_t *json_seconds(double s)
{
    return s == floor(s) ? json_integer((json_int_t)s) : json_real(s);
}

json_t *menu_step_to_json(const struct item *it, unsigned i)
{
    const struct step_def *st = &it->steps[i];
    json_t *after = json_array();
    for (unsigned d = 0; d < it->nsteps; d++)
        if (st->after & (1u << d))
            json_array_append_new(after, json_string(it->steps[d].name));
    return json_pack("{s:s, s:s, s:o, s:o}", "name", st->name, "kind", step_kind_name(st->kind),
                     "seconds", json_seconds(st->seconds), "after", after);
}

json_t *menu_to_json(const struct menu *m)
{
    json_t *items = json_array();
    for (unsigned i = 0; i < m->nitems; i++) {
        const struct item *it = &m->items[i];
        json_t *steps = json_array();
        for (unsigned s = 0; s < it->nsteps; s++)
            json_array_append_new(steps, menu_step_to_json(it, s));
        json_array_append_new(items,
                              json_pack("{s:s, s:o, s:{s:o, s:o}}", "name", it->name, "steps",
                                        steps, "seconds", "sync", json_seconds(it->sync_seconds),
                                        "async", json_seconds(it->async_seconds)));
    }
    json_t *flavours = json_array();
    for (unsigned i = 0; i < m->nflavours; i++)
        json_array_append_new(flavours, json_string(m->flavours[i]));
    return json_pack("{s:o, s:o}", "items", items, "flavours", flavours);
}
