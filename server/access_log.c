/* The access log: one line per request, in the log's text or JSON format. */
#include "server/access_log.h"

#include <stdio.h>

#include "base/log.h"

static bool enabled = true;

void access_log_enable(bool on)
{
    enabled = on;
}

void access_log_write(const struct request *req, const char *peer, uint64_t bytes,
                      uint64_t duration_ns)
{
    if (!enabled)
        return;
    char line[2048], ts[40];
    log_timestamp(ts, sizeof(ts));
    double ms = (double)duration_ns / 1e6;
    const char *label = req->log_label ? req->log_label : "-";
    /* The target is client data: cap it, and keep it one line of ASCII in
     * either format. */
    char target[256];
    size_t i = 0;
    for (const unsigned char *t = (const unsigned char *)req->target; *t && i < sizeof(target) - 1;
         t++)
        target[i++] = (*t < 0x20 || *t >= 0x7f || *t == '"') ? '?' : (char)*t;
    target[i] = '\0';
    if (log_get_format() == LOG_JSON) {
        log_write_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:f, s:s}", "time", ts,
                                 "level", "access", "peer", peer, "method", req->method_name,
                                 "target", target, "status", req->status, "bytes",
                                 (json_int_t)bytes, "ms", ms, "mode", label));
        return;
    }
    int n = snprintf(line, sizeof(line), "%s access %s \"%s %s HTTP/%u.%u\" %d %llu %.3fms %s\n",
                     ts, peer, req->method_name, target, req->http_major, req->http_minor,
                     req->status, (unsigned long long)bytes, ms, label);
    log_write(line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
}
