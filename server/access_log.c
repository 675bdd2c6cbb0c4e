/* The access log: one line per request, in the log's text or JSON format.
 * It runs for every request, so the line is assembled with plain copies (no
 * printf, no JSON tree) and handed to base/log.c's buffer: no system call. */
#include "server/access_log.h"

#include "base/log.h"
#include "base/textbuf.h"

#define TARGET_MAX 255 /* request-target bytes logged; the rest is cut */

static bool enabled = true;

void access_log_enable(bool on)
{
    enabled = on;
}

/* The target is client data: capped, and kept one line of printable ASCII
 * in either format ('"' and anything else outside it become '?'). In JSON a
 * backslash is escaped. */
static void put_target(struct textbuf *t, const char *target, bool json)
{
    size_t n = 0;
    for (const unsigned char *s = (const unsigned char *)target; *s && n < TARGET_MAX; s++, n++) {
        if (*s < 0x20 || *s >= 0x7f || *s == '"')
            TEXTBUF_PUT_LIT(t, "?");
        else if (*s == '\\' && json)
            TEXTBUF_PUT_LIT(t, "\\\\");
        else
            textbuf_put(t, (const char *)s, 1);
    }
}

/* Milliseconds with three decimals ("12.345"), rounded to the microsecond. */
static void put_ms(struct textbuf *t, uint64_t ns)
{
    uint64_t us = (ns + 500) / 1000;
    textbuf_put_uint(t, us / 1000, 0);
    TEXTBUF_PUT_LIT(t, ".");
    textbuf_put_uint(t, us % 1000, 3);
}

/* {"time":..,"level":"access","peer":..,"method":..,"target":..,"status":..,
 * "bytes":..,"ms":..,"mode":..}: the peer, the method (a token) and the label
 * (a static string) need no escaping; the target is made safe above. */
static void put_json(struct textbuf *t, const struct request *req, const char *peer, uint64_t bytes,
                     uint64_t duration_ns, const char *label)
{
    TEXTBUF_PUT_LIT(t, "\",\"level\":\"access\",\"peer\":\"");
    textbuf_put_str(t, peer);
    TEXTBUF_PUT_LIT(t, "\",\"method\":\"");
    textbuf_put_str(t, req->method_name);
    TEXTBUF_PUT_LIT(t, "\",\"target\":\"");
    put_target(t, req->target, true);
    TEXTBUF_PUT_LIT(t, "\",\"status\":");
    textbuf_put_uint(t, (unsigned)req->status, 0);
    TEXTBUF_PUT_LIT(t, ",\"bytes\":");
    textbuf_put_uint(t, bytes, 0);
    TEXTBUF_PUT_LIT(t, ",\"ms\":");
    put_ms(t, duration_ns);
    TEXTBUF_PUT_LIT(t, ",\"mode\":\"");
    textbuf_put_str(t, label);
    TEXTBUF_PUT_LIT(t, "\"}");
}

/* TIME access PEER "METHOD TARGET HTTP/x.y" STATUS BYTES MSms LABEL */
static void put_text(struct textbuf *t, const struct request *req, const char *peer, uint64_t bytes,
                     uint64_t duration_ns, const char *label)
{
    TEXTBUF_PUT_LIT(t, " access ");
    textbuf_put_str(t, peer);
    TEXTBUF_PUT_LIT(t, " \"");
    textbuf_put_str(t, req->method_name);
    TEXTBUF_PUT_LIT(t, " ");
    put_target(t, req->target, false);
    TEXTBUF_PUT_LIT(t, " HTTP/");
    textbuf_put_uint(t, req->http_major, 0);
    TEXTBUF_PUT_LIT(t, ".");
    textbuf_put_uint(t, req->http_minor, 0);
    TEXTBUF_PUT_LIT(t, "\" ");
    textbuf_put_uint(t, (unsigned)req->status, 0);
    TEXTBUF_PUT_LIT(t, " ");
    textbuf_put_uint(t, bytes, 0);
    TEXTBUF_PUT_LIT(t, " ");
    put_ms(t, duration_ns);
    TEXTBUF_PUT_LIT(t, "ms ");
    textbuf_put_str(t, label);
}

void access_log_write(const struct request *req, const char *peer, uint64_t bytes,
                      uint64_t duration_ns)
{
    if (!enabled)
        return;
    /* Room for the longest line: a target of TARGET_MAX bytes, each
     * escaped to two, and short fields around it. */
    char line[2 * TARGET_MAX + 512];
    struct textbuf t = {line, line + sizeof(line) - 1}; /* the '\n' always fits */
    const char *label = req->log_label ? req->log_label : "-";
    bool json = log_get_format() == LOG_JSON;
    if (json)
        TEXTBUF_PUT_LIT(&t, "{\"time\":\"");
    t.p += log_timestamp(t.p, (size_t)(t.end - t.p));
    if (json)
        put_json(&t, req, peer, bytes, duration_ns, label);
    else
        put_text(&t, req, peer, bytes, duration_ns, label);
    *t.p++ = '\n';
    log_write(line, TEXTBUF_LEN(&t, line));
}
