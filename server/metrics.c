#include "server/metrics.h"

#include <event2/buffer.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "base/xmalloc.h"

#define HASH_SLOTS 64

struct metric_series {
    struct list node;            /* in the family, creation order */
    struct metric_series *hnext; /* in the family's hash bucket */
    const struct metric_family *family;
    uint64_t hash;
    char *labels[METRICS_MAX_LABELS];
    double value; /* counter, gauge; histogram: the sum */
    unsigned long long count;
    unsigned long long *buckets; /* histogram: per bucket (not cumulative), nbuckets + 1 for +Inf */
};

struct metric_family {
    struct list node; /* in the registry, registration order */
    enum metric_type type;
    char *name, *help;
    unsigned nlabels;
    char *label_names[METRICS_MAX_LABELS];
    double *bounds;
    unsigned nbounds;
    struct list series;
    unsigned nseries;
    struct metric_series *hash[HASH_SLOTS]; /* by labels_hash(): a lookup per request stays cheap */
};

struct metrics {
    struct list families;
};

struct metrics *metrics_new(void)
{
    struct metrics *m = xcalloc(1, sizeof(*m));
    list_init(&m->families);
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    struct list *fn, *ft, *sn, *st;
    list_for_each_safe(fn, ft, &m->families)
    {
        struct metric_family *f = container_of(fn, struct metric_family, node);
        list_for_each_safe(sn, st, &f->series)
        {
            struct metric_series *s = container_of(sn, struct metric_series, node);
            for (unsigned i = 0; i < f->nlabels; i++)
                free(s->labels[i]);
            free(s->buckets);
            free(s);
        }
        for (unsigned i = 0; i < f->nlabels; i++)
            free(f->label_names[i]);
        free(f->bounds);
        free(f->name);
        free(f->help);
        free(f);
    }
    free(m);
}

struct metric_family *metrics_family(struct metrics *m, enum metric_type type, const char *name,
                                     const char *help, unsigned nlabels,
                                     const char *const *label_names, const double *buckets,
                                     unsigned nbuckets)
{
    struct metric_family *f = xcalloc(1, sizeof(*f));
    f->type = type;
    f->name = xstrdup(name);
    f->help = xstrdup(help ? help : "");
    f->nlabels = nlabels > METRICS_MAX_LABELS ? METRICS_MAX_LABELS : nlabels;
    for (unsigned i = 0; i < f->nlabels; i++)
        f->label_names[i] = xstrdup(label_names[i]);
    if (type == METRIC_HISTOGRAM && nbuckets) {
        f->bounds = xmalloc(nbuckets * sizeof(*f->bounds));
        memcpy(f->bounds, buckets, nbuckets * sizeof(*f->bounds));
        f->nbounds = nbuckets;
    }
    list_init(&f->series);
    list_push_back(&m->families, &f->node);
    return f;
}

/* FNV-1a over the label values with a 0xff separator (never valid UTF-8),
 * so ("ab","") and ("a","b") differ. Only a shortcut: values are compared too. */
static uint64_t labels_hash(unsigned n, const char *const *values)
{
    uint64_t h = 1469598103934665603ULL;
    for (unsigned i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)(values[i] ? values[i] : ""); *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    return h;
}

struct metric_series *metrics_series(struct metric_family *f, const char *const *label_values)
{
    uint64_t h = labels_hash(f->nlabels, label_values);
    struct metric_series **bucket = &f->hash[h % HASH_SLOTS];
    for (struct metric_series *s = *bucket; s; s = s->hnext) {
        if (s->hash != h)
            continue;
        unsigned i = 0;
        while (i < f->nlabels && strcmp(s->labels[i], label_values[i] ? label_values[i] : "") == 0)
            i++;
        if (i == f->nlabels)
            return s;
    }
    if (f->nseries >= METRICS_MAX_SERIES)
        return NULL;
    struct metric_series *s = xcalloc(1, sizeof(*s));
    s->hash = h;
    s->family = f;
    for (unsigned i = 0; i < f->nlabels; i++)
        s->labels[i] = xstrdup(label_values[i] ? label_values[i] : "");
    if (f->type == METRIC_HISTOGRAM)
        s->buckets = xcalloc(f->nbounds + 1, sizeof(*s->buckets));
    list_push_back(&f->series, &s->node);
    s->hnext = *bucket;
    *bucket = s;
    f->nseries++;
    return s;
}

void metrics_counter_add(struct metric_series *s, double delta)
{
    if (s && delta > 0)
        s->value += delta;
}

void metrics_gauge_set(struct metric_series *s, double value)
{
    if (s)
        s->value = value;
}

static unsigned bucket_index(const double *bounds, unsigned n, double v)
{
    unsigned lo = 0, hi = n; /* the first bound >= v, or n for +Inf */
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (v <= bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void metrics_histogram_observe(struct metric_series *s, double value)
{
    if (!s || !s->buckets || isnan(value))
        return;
    s->value += value;
    s->count++;
    s->buckets[bucket_index(s->family->bounds, s->family->nbounds, value)]++;
}

double metrics_value(const struct metric_series *s)
{
    return s ? s->value : 0;
}

double metrics_histogram_sum(const struct metric_series *s)
{
    return s ? s->value : 0;
}

unsigned long long metrics_histogram_count(const struct metric_series *s)
{
    return s ? s->count : 0;
}

const char *metrics_format_value(char *buf, size_t size, double v)
{
    if (isnan(v))
        snprintf(buf, size, "NaN");
    else if (isinf(v))
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, size, "%.0f", v);
    else
        snprintf(buf, size, "%.9g", v);
    return buf;
}

/* A label value escapes backslash, double quote and newline. */
static void escape_label(struct evbuffer *out, const char *value)
{
    const char *run = value;
    for (const char *p = value;; p++) {
        const char *esc = NULL;
        if (*p == '\\')
            esc = "\\\\";
        else if (*p == '"')
            esc = "\\\"";
        else if (*p == '\n')
            esc = "\\n";
        else if (*p != '\0')
            continue;
        evbuffer_add(out, run, (size_t)(p - run));
        if (!esc)
            return;
        evbuffer_add(out, esc, 2);
        run = p + 1;
    }
}

/* HELP text escapes only backslash and newline. */
static void escape_help(struct evbuffer *out, const char *help)
{
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            evbuffer_add(out, "\\\\", 2);
        else if (*p == '\n')
            evbuffer_add(out, "\\n", 2);
        else
            evbuffer_add(out, p, 1);
    }
}

/* Writes `{a="x",b="y"` plus an optional extra le label, then `}`; nothing
 * when there are no labels at all. */
static void render_labels(struct evbuffer *out, const struct metric_family *f,
                          const struct metric_series *s, const char *le)
{
    if (f->nlabels == 0 && !le)
        return;
    evbuffer_add(out, "{", 1);
    for (unsigned i = 0; i < f->nlabels; i++) {
        evbuffer_add_printf(out, "%s%s=\"", i ? "," : "", f->label_names[i]);
        escape_label(out, s->labels[i]);
        evbuffer_add(out, "\"", 1);
    }
    if (le)
        evbuffer_add_printf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    evbuffer_add(out, "}", 1);
}

static void render_histogram(struct evbuffer *out, const struct metric_family *f,
                             const struct metric_series *s)
{
    char num[64], le[64];
    unsigned long long cumulative = 0;
    for (unsigned i = 0; i <= f->nbounds; i++) {
        cumulative += s->buckets[i];
        if (i < f->nbounds)
            metrics_format_value(le, sizeof(le), f->bounds[i]);
        else
            snprintf(le, sizeof(le), "+Inf");
        evbuffer_add_printf(out, "%s_bucket", f->name);
        render_labels(out, f, s, le);
        evbuffer_add_printf(out, " %llu\n", cumulative);
    }
    evbuffer_add_printf(out, "%s_sum", f->name);
    render_labels(out, f, s, NULL);
    evbuffer_add_printf(out, " %s\n", metrics_format_value(num, sizeof(num), s->value));
    evbuffer_add_printf(out, "%s_count", f->name);
    render_labels(out, f, s, NULL);
    evbuffer_add_printf(out, " %llu\n", s->count);
}

void metrics_render(const struct metrics *m, struct evbuffer *out)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    char num[64];
    struct list *fn, *ft, *sn, *st;
    list_for_each_safe(fn, ft, &m->families)
    {
        const struct metric_family *f = container_of(fn, struct metric_family, node);
        evbuffer_add_printf(out, "# HELP %s ", f->name);
        escape_help(out, f->help);
        evbuffer_add_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
        list_for_each_safe(sn, st, &f->series)
        {
            const struct metric_series *s = container_of(sn, struct metric_series, node);
            if (f->type == METRIC_HISTOGRAM) {
                render_histogram(out, f, s);
                continue;
            }
            evbuffer_add_printf(out, "%s", f->name);
            render_labels(out, f, s, NULL);
            evbuffer_add_printf(out, " %s\n", metrics_format_value(num, sizeof(num), s->value));
        }
    }
}
