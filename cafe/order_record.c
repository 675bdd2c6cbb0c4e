/* The order record: encoding an order into field/value strings and decoding
 * them back, strictly (cafe/order_record.h has the format). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/json_writer.h"
#include "base/textbuf.h"
#include "base/xmalloc.h"
#include "cafe/order_record.h"

enum field {
    F_V,
    F_ID,
    F_REPLICA,
    F_ITEM,
    F_FLAVOUR,
    F_CUSTOMER,
    F_MODE,
    F_STATUS,
    F_TIMED_OUT,
    F_REASON,
    F_ACCEPTED,
    F_STARTED,
    F_FINISHED,
    F_STEPS,
    F_COUNT
};
_Static_assert(F_COUNT == ORDER_RECORD_FIELDS, "one slot per field");

/* Each field's name and its length (strlen per field per lookup was most
 * of a decode), the length taken from the literal. */
#define FIELD(f, name) [f] = {name, sizeof(name) - 1}
static const struct {
    const char *name;
    unsigned char len;
} fields[F_COUNT] = {
    FIELD(F_V, "v"),
    FIELD(F_ID, "id"),
    FIELD(F_REPLICA, "replica"),
    FIELD(F_ITEM, "item"),
    FIELD(F_FLAVOUR, "flavour"),
    FIELD(F_CUSTOMER, "customer"),
    FIELD(F_MODE, "mode"),
    FIELD(F_STATUS, "status"),
    FIELD(F_TIMED_OUT, "timed_out"),
    FIELD(F_REASON, "reason"),
    FIELD(F_ACCEPTED, "accepted"),
    FIELD(F_STARTED, "started"),
    FIELD(F_FINISHED, "finished"),
    FIELD(F_STEPS, "steps"),
};
#undef FIELD

/* Step statuses as one letter each, indexed by enum step_status. */
static const char step_letters[] = "pqrdx";

/* --- encoding ------------------------------------------------------------ */

struct encoder {
    struct order_record *r;
    size_t used; /* of r->scratch */
};

static void put(struct encoder *e, enum field f, const char *value, size_t len)
{
    struct order_record *r = e->r;
    r->argv[2 * r->n] = fields[f].name;
    r->len[2 * r->n] = fields[f].len;
    r->argv[2 * r->n + 1] = value;
    r->len[2 * r->n + 1] = len;
    r->n++;
}

static void put_str(struct encoder *e, enum field f, const char *value)
{
    put(e, f, value, strlen(value));
}

/* v in decimal at the end of the scratch space (no printf: an order is
 * encoded on every write). */
static void scratch_int(struct encoder *e, long long v)
{
    char digits[24];
    struct textbuf t = TEXTBUF(digits);
    if (v < 0)
        TEXTBUF_PUT_LIT(&t, "-");
    textbuf_put_uint(&t, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, 0);
    size_t n = TEXTBUF_LEN(&t, digits);
    if (n < sizeof(e->r->scratch) - e->used) {
        memcpy(e->r->scratch + e->used, digits, n);
        e->used += n;
    }
}

static void scratch_char(struct encoder *e, char c)
{
    if (e->used + 1 < sizeof(e->r->scratch))
        e->r->scratch[e->used++] = c;
}

static void put_int(struct encoder *e, enum field f, long long v)
{
    size_t start = e->used;
    scratch_int(e, v);
    put(e, f, e->r->scratch + start, e->used - start);
    scratch_char(e, '\0'); /* each value ends with a NUL, as a string would */
}

void order_record_encode(const struct order *o, struct order_record *r)
{
    struct encoder e = {.r = r};
    r->n = 0;
    put_str(&e, F_V, "1");
    if (o->id)
        put_int(&e, F_ID, (long long)o->id);
    put_str(&e, F_REPLICA, o->replica);
    put_str(&e, F_ITEM, o->item->name);
    if (o->flavour)
        put_str(&e, F_FLAVOUR, o->flavour);
    if (o->customer)
        put_str(&e, F_CUSTOMER, o->customer);
    put_str(&e, F_MODE, brew_mode_name(o->mode));
    r->mutable_from = r->n; /* the rest change with the brew (accepted: once it is stored) */
    put_str(&e, F_STATUS, order_status_name(o->status));
    put_str(&e, F_TIMED_OUT, o->timed_out ? "1" : "0");
    if (o->reason)
        put_str(&e, F_REASON, o->reason);
    put_int(&e, F_ACCEPTED, (long long)o->accepted_unix_ms);
    put_int(&e, F_STARTED, (long long)o->started_ms);
    put_int(&e, F_FINISHED, (long long)o->finished_ms);
    size_t start = e.used;
    for (unsigned i = 0; i < o->item->nsteps; i++) {
        if (i)
            scratch_char(&e, ',');
        scratch_char(&e, step_letters[o->steps[i].status]);
        scratch_int(&e, (long long)o->steps[i].start_ms);
        scratch_char(&e, ':');
        scratch_int(&e, (long long)o->steps[i].end_ms);
    }
    if (e.used < sizeof(r->scratch))
        r->scratch[e.used] = '\0';
    put(&e, F_STEPS, r->scratch + start, e.used - start);
}

size_t order_record_packed_len(const struct order_record *r)
{
    size_t n = 0;
    for (unsigned i = 0; i < 2 * r->n; i++)
        n += r->len[i] + 1;
    return n ? n - 1 : 0;
}

void order_record_pack(const struct order_record *r, char *buf)
{
    for (unsigned i = 0; i < 2 * r->n; i++) {
        memcpy(buf, r->argv[i], r->len[i]);
        buf += r->len[i];
        if (i + 1 < 2 * r->n)
            *buf++ = '\0';
    }
}

/* --- decoding ------------------------------------------------------------ */

struct decoder {
    const char *value[F_COUNT];
    size_t len[F_COUNT];
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct decoder *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, d->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A decimal integer in [min, max], the whole of s[0..n). */
static bool parse_int(const char *s, size_t n, long long min, long long max, long long *out)
{
    bool neg = n > 0 && s[0] == '-';
    size_t i = neg;
    if (i == n || n - i > 19)
        return false;
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > (unsigned long long)INT64_MAX)
        return false;
    long long x = neg ? -(long long)v : (long long)v;
    if (x < min || x > max)
        return false;
    *out = x;
    return true;
}

static bool has_nul(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

/* Valid UTF-8 without NUL, by jansson's rules (the answer is JSON). */
static bool utf8_ok(const char *s, size_t n)
{
    return !has_nul(s, n) && json_utf8_valid(s, n);
}

/* A copy of a name-like value into buf (cap bytes with the NUL), or false. */
static bool copy_name(char *buf, size_t cap, const char *s, size_t n)
{
    if (n == 0 || n >= cap || has_nul(s, n))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

static bool replica_char_ok(char ch)
{
    return ch > ' ' && ch < 0x7f;
}

static bool field_is(int f, const char *name, size_t n)
{
    return fields[f].len == n && memcmp(fields[f].name, name, n) == 0;
}

/* The field named name[0..n), trying first `next` (records come in the
 * encoder's order). */
static int field_index(const char *name, size_t n, int next)
{
    if (next < F_COUNT && field_is(next, name, n))
        return next;
    for (int f = 0; f < F_COUNT; f++)
        if (field_is(f, name, n))
            return f;
    return -1;
}

static int collect(struct decoder *d, const char *const *argv, const size_t *len, size_t n)
{
    for (size_t i = 0, next = 0; i < n; i++) {
        int f = field_index(argv[2 * i], len[2 * i], (int)next);
        next = f < 0 ? next : (size_t)f + 1;
        if (f < 0)
            continue; /* another version's, or a stream entry's own */
        if (d->value[f])
            return fail(d, "field %s twice", fields[f].name);
        d->value[f] = argv[2 * i + 1];
        d->len[f] = len[2 * i + 1];
    }
    static const enum field required[] = {F_V,    F_ID,     F_REPLICA,  F_ITEM,
                                          F_MODE, F_STATUS, F_ACCEPTED, F_STEPS};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!d->value[required[i]])
            return fail(d, "no field %s (truncated record?)", fields[required[i]].name);
    if (d->len[F_V] != 1 || d->value[F_V][0] != '1')
        return fail(d, "field v: version %.*s, this café reads version 1",
                    (int)(d->len[F_V] > 16 ? 16 : d->len[F_V]), d->value[F_V]);
    return 0;
}

/* A name field looked up through find (the menu), into *out. */
static int decode_enum(struct decoder *d, enum field f, int (*parse)(const char *), int *out)
{
    char buf[MENU_NAME_MAX];
    int v = copy_name(buf, sizeof(buf), d->value[f], d->len[f]) ? parse(buf) : -1;
    if (v < 0)
        return fail(d, "field %s: unknown value", fields[f].name);
    *out = v;
    return 0;
}

static int decode_offset(struct decoder *d, enum field f, int64_t *out)
{
    long long v = -1;
    if (d->value[f] && !parse_int(d->value[f], d->len[f], -1, INT64_MAX, &v))
        return fail(d, "field %s: not a number of ms (or -1)", fields[f].name);
    *out = v;
    return 0;
}

static int decode_steps(struct decoder *d, struct order *o)
{
    const char *p = d->value[F_STEPS], *end = p + d->len[F_STEPS];
    unsigned n = o->item->nsteps, i = 0;
    for (; p < end; i++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        const char *colon = memchr(p, ':', (size_t)(stop - p));
        const char *letter = p < stop ? memchr(step_letters, *p, sizeof(step_letters) - 1) : NULL;
        long long start, fin;
        if (i >= n)
            return fail(d, "field steps: more steps than %s's %u", o->item->name, n);
        if (!letter || !colon ||
            !parse_int(p + 1, (size_t)(colon - p - 1), -1, INT64_MAX, &start) ||
            !parse_int(colon + 1, (size_t)(stop - colon - 1), -1, INT64_MAX, &fin))
            return fail(d, "field steps: step %u is not <status><start>:<end>", i);
        o->steps[i] = (struct order_step){(enum step_status)(letter - step_letters), start, fin};
        p = comma ? comma + 1 : end;
        if (comma && p == end)
            return fail(d, "field steps: ends with a comma");
    }
    if (i != n)
        return fail(d, "field steps: %u steps for %s's %u", i, o->item->name, n);
    return 0;
}

static int decode_order(struct decoder *d, const struct menu *m, struct order *o)
{
    long long id, accepted, timed_out = 0;
    int mode = 0, status = 0; /* -O3 cannot see decode_enum set them */
    if (!parse_int(d->value[F_ID], d->len[F_ID], 1, INT64_MAX, &id))
        return fail(d, "field id: not an order id");
    o->id = (uint64_t)id;
    if (!copy_name(o->replica, sizeof(o->replica), d->value[F_REPLICA], d->len[F_REPLICA]))
        return fail(d, "field replica: empty or longer than %d bytes", ORDER_REPLICA_MAX - 1);
    for (const char *c = o->replica; *c; c++)
        if (!replica_char_ok(*c))
            return fail(d, "field replica: not printable ASCII");
    if (d->value[F_FLAVOUR]) {
        char buf[MENU_NAME_MAX];
        o->flavour = copy_name(buf, sizeof(buf), d->value[F_FLAVOUR], d->len[F_FLAVOUR])
                         ? menu_find_flavour(m, buf)
                         : NULL;
        if (!o->flavour)
            return fail(d, "field flavour: not on this menu");
    }
    if (d->value[F_CUSTOMER]) {
        if (d->len[F_CUSTOMER] > ORDER_CUSTOMER_MAX ||
            has_nul(d->value[F_CUSTOMER], d->len[F_CUSTOMER]))
            return fail(d, "field customer: longer than %d bytes or holds a NUL",
                        ORDER_CUSTOMER_MAX);
        o->customer = xstrndup(d->value[F_CUSTOMER], d->len[F_CUSTOMER]);
    }
    if (decode_enum(d, F_MODE, brew_mode_parse, &mode) < 0 ||
        decode_enum(d, F_STATUS, order_status_parse, &status) < 0)
        return -1;
    o->mode = (enum brew_mode)mode;
    o->status = (enum order_status)status;
    if (d->value[F_TIMED_OUT] &&
        !parse_int(d->value[F_TIMED_OUT], d->len[F_TIMED_OUT], 0, 1, &timed_out))
        return fail(d, "field timed_out: not 0 or 1");
    o->timed_out = timed_out;
    if (d->value[F_REASON]) {
        /* The reason goes into the order's message, a JSON string: UTF-8. */
        if (d->len[F_REASON] > ORDER_REASON_MAX || !utf8_ok(d->value[F_REASON], d->len[F_REASON]))
            return fail(d, "field reason: longer than %d bytes, or not UTF-8 without NUL",
                        ORDER_REASON_MAX);
        o->reason = o->reason_buf = xstrndup(d->value[F_REASON], d->len[F_REASON]);
    }
    if (!parse_int(d->value[F_ACCEPTED], d->len[F_ACCEPTED], 0, INT64_MAX, &accepted))
        return fail(d, "field accepted: not a unix time in ms");
    o->accepted_unix_ms = accepted;
    if (decode_offset(d, F_STARTED, &o->started_ms) < 0 ||
        decode_offset(d, F_FINISHED, &o->finished_ms) < 0 || decode_steps(d, o) < 0)
        return -1;
    for (unsigned i = 0; i < o->item->nsteps; i++) {
        struct order_step *st = &o->steps[i];
        if (o->status == ORDER_READY && st->status != STEP_DONE)
            return fail(d, "status ready but step %u is not done", i);
        /* A replica that failed someone else's order (replica lost) leaves
         * the steps as they were; unfinished ones did not happen. */
        if (order_status_final(o->status) && st->status != STEP_DONE)
            st->status = STEP_DROPPED;
    }
    return 0;
}

int order_record_decode(const struct menu *m, const char *const *argv, const size_t *len, size_t n,
                        struct order **out, char *err, size_t errlen)
{
    struct decoder d = {.err = err, .errlen = errlen};
    *out = NULL;
    if (collect(&d, argv, len, n) < 0)
        return -1;
    char name[MENU_NAME_MAX];
    const struct item *item = copy_name(name, sizeof(name), d.value[F_ITEM], d.len[F_ITEM])
                                  ? menu_find_item(m, name)
                                  : NULL;
    if (!item)
        return fail(&d, "field item: not on this menu");
    struct order *o = order_alloc(item);
    if (decode_order(&d, m, o) < 0) {
        order_unref(o);
        return -1;
    }
    *out = o;
    return 0;
}

int order_record_decode_packed(const struct menu *m, const char *s, size_t n, struct order **out,
                               char *err, size_t errlen)
{
    enum { MAX_PARTS = 128 }; /* field/value strings: more than any version's record */
    const char *argv[MAX_PARTS];
    size_t len[MAX_PARTS];
    size_t parts = 0;
    const char *end = s + n;
    *out = NULL;
    for (const char *p = s;; parts++) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        if (parts == MAX_PARTS) {
            snprintf(err, errlen, "packed record: more than %d parts", MAX_PARTS);
            return -1;
        }
        argv[parts] = p;
        len[parts] = (size_t)((nul ? nul : end) - p);
        if (!nul) {
            parts++;
            break;
        }
        p = nul + 1;
    }
    if (parts % 2) {
        snprintf(err, errlen, "packed record: %zu parts, not field/value pairs", parts);
        return -1;
    }
    return order_record_decode(m, argv, len, parts / 2, out, err, errlen);
}
