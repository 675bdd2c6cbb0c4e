/* The order as a value: its life (references), its names and its public
 * face (JSON, message). The book that holds orders is a store's job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "base/xmalloc.h"
#include "cafe/cafe-internal.h"

static const char *const mode_names[BREW_NMODES] = {
    [MODE_SYNC] = "sync", [MODE_ASYNC] = "async", [MODE_THREAD] = "thread"};
static const char *const status_names[ORDER_NSTATUSES] = {[ORDER_QUEUED] = "queued",
                                                          [ORDER_BREWING] = "brewing",
                                                          [ORDER_READY] = "ready",
                                                          [ORDER_CANCELLED] = "cancelled",
                                                          [ORDER_FAILED] = "failed"};
static const char *const step_status_names[] = {[STEP_PENDING] = "pending",
                                                [STEP_QUEUED] = "queued",
                                                [STEP_RUNNING] = "running",
                                                [STEP_DONE] = "done",
                                                [STEP_DROPPED] = "dropped"};
static const char *const event_names[] = {
    [CAFE_ORDER_QUEUED] = "order_queued", [CAFE_ORDER_BREWING] = "order_brewing",
    [CAFE_STEP_STARTED] = "step_started", [CAFE_STEP_DONE] = "step_done",
    [CAFE_ORDER_READY] = "order_ready",   [CAFE_ORDER_CANCELLED] = "order_cancelled",
    [CAFE_ORDER_FAILED] = "order_failed"};

const char *brew_mode_name(enum brew_mode m)
{
    return mode_names[m];
}

static int name_parse(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcasecmp(names[i], s) == 0)
            return i;
    return -1;
}

int brew_mode_parse(const char *s)
{
    return name_parse(mode_names, BREW_NMODES, s);
}

const char *order_status_name(enum order_status s)
{
    return status_names[s];
}

int order_status_parse(const char *s)
{
    return name_parse(status_names, ORDER_NSTATUSES, s);
}

const char *cafe_event_name(enum cafe_event ev)
{
    return event_names[ev];
}

int cafe_event_parse(const char *s)
{
    for (int i = 0; s && i < CAFE_NEVENTS; i++)
        if (strcmp(event_names[i], s) == 0)
            return i;
    return -1;
}

const char *step_status_name(enum step_status s)
{
    return step_status_names[s];
}

struct order *order_alloc(const struct item *item)
{
    unsigned n = item->nsteps;
    struct order *o =
        xcalloc(1, sizeof(*o) + n * sizeof(o->steps[0]) + n * sizeof(struct step_lateness));
    o->item = item;
    o->late = (struct step_lateness *)(o->steps + n); /* int64_t-aligned like the steps */
    o->status = ORDER_QUEUED;
    o->started_ms = o->finished_ms = -1;
    for (unsigned i = 0; i < n; i++)
        o->steps[i] = (struct order_step){STEP_PENDING, -1, -1};
    o->refs = 1;
    return o;
}

void order_ref(struct order *o)
{
    o->refs++;
}

void order_unref(struct order *o)
{
    if (--o->refs > 0)
        return;
    if (o->cafe)
        o->cafe->st.live[o->status]--;
    free(o->customer);
    free(o->reason_buf);
    free(o);
}

int64_t order_offset_ms(const struct order *o, uint64_t now_ns)
{
    return now_ns > o->accepted_ns ? (int64_t)((now_ns - o->accepted_ns) / 1000000u) : 0;
}

/* Appends s to buf[*at..len), cut as snprintf() cuts (buf stays a C string). */
static void message_put(char *buf, size_t len, size_t *at, const char *s)
{
    size_t n = strlen(s);
    if (*at + 1 >= len)
        return;
    if (n > len - 1 - *at)
        n = len - 1 - *at;
    memcpy(buf + *at, s, n);
    *at += n;
    buf[*at] = '\0';
}

/* Once per order answer: plain copies, no printf. A cut sentence loses its
 * last, incomplete UTF-8 character rather than become invalid text. */
const char *order_message(const struct order *o, char *buf, size_t len)
{
    static const char *const before[ORDER_NSTATUSES] = {[ORDER_QUEUED] = "Your ",
                                                        [ORDER_BREWING] = "Your ",
                                                        [ORDER_READY] = "Your ",
                                                        [ORDER_CANCELLED] = "Your ",
                                                        [ORDER_FAILED] = "Sorry, your "};
    static const char *const after[ORDER_NSTATUSES] = {[ORDER_QUEUED] = " is queued.",
                                                       [ORDER_BREWING] = " is being made.",
                                                       [ORDER_READY] = " is ready, enjoy!",
                                                       [ORDER_CANCELLED] = " was cancelled (",
                                                       [ORDER_FAILED] = " could not be made ("};
    size_t at = 0;
    if (!len)
        return buf;
    buf[0] = '\0';
    message_put(buf, len, &at, before[o->status]);
    if (o->flavour) {
        message_put(buf, len, &at, o->flavour);
        message_put(buf, len, &at, " ");
    }
    message_put(buf, len, &at, o->item->name);
    message_put(buf, len, &at, after[o->status]);
    if (o->status == ORDER_CANCELLED || o->status == ORDER_FAILED) {
        message_put(buf, len, &at, o->reason ? o->reason : "");
        message_put(buf, len, &at, ").");
    }
    if (at == len - 1) { /* cut: drop a partial trailing character */
        size_t end = at;
        while (end > 0 && ((unsigned char)buf[end - 1] & 0xC0) == 0x80)
            end--;
        if (end > 0 && (unsigned char)buf[end - 1] >= 0xC0) {
            unsigned char lead = (unsigned char)buf[end - 1];
            size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
            if (at - (end - 1) < need)
                buf[end - 1] = '\0';
        }
    }
    return buf;
}

int64_t unix_ms_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}
