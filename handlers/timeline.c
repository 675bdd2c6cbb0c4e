/* GET /timeline?seconds=N: what held the loop, and each barista, over the
 * last N seconds (1 to 60, default 10) -- the JSON of docs/timeline.md, the
 * same shape as the "timeline" events on /events. */
#include <errno.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/loop_timeline.h"
#include "handlers/handlers.h"
#include "server/request.h"
#include "server/response.h"

#define SECONDS_DEFAULT 10
#define SECONDS_MAX     60 /* what the busy buckets keep */

enum handler_status handle_timeline(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    if (!ctx->timeline) {
        response_problem(req, 404, NULL, "the loop timeline is off (--timeline=off)");
        return HANDLER_DONE;
    }
    const char *v = request_query_param(req, "seconds");
    long seconds = SECONDS_DEFAULT;
    if (v) {
        char *end;
        errno = 0;
        seconds = *v >= '0' && *v <= '9' ? strtol(v, &end, 10) : -1;
        if (seconds < 1 || seconds > SECONDS_MAX || *end || errno) {
            response_problem(req, 422, NULL, "seconds must be a whole number from 1 to %d",
                             SECONDS_MAX);
            return HANDLER_DONE;
        }
    }
    uint64_t now = clock_ns(), span = (uint64_t)seconds * 1000000000u;
    response_header(req, "Cache-Control", "no-store");
    response_send_json(req, 200,
                       loop_timeline_json(ctx->timeline, now > span ? now - span : 0, now));
    return HANDLER_DONE;
}
