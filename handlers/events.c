/* GET /events: the Server-Sent Events stream (order and step transitions, a
 * "stats" event every second). The hub in server/sse_hub.c does the work,
 * HEAD and shutdown included. */
#include "handlers/handlers.h"
#include "server/sse_hub.h"

enum handler_status handle_events(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    if (ctx->events_catch_up)
        ctx->events_catch_up(ctx->events_arg);
    return sse_hub_subscribe(ctx->events, req) ? HANDLER_PENDING : HANDLER_DONE;
}
