/* GET /events: the Server-Sent Events stream (order and step transitions, a
 * "stats" event every second). The hub in server/sse_hub.c does the work,
 * HEAD and shutdown included. */
#include "app/app.h"
#include "handlers/handlers.h"
#include "server/sse_hub.h"

enum handler_status handle_events(struct request *req)
{
    struct app *app = req->app;
    return sse_hub_subscribe(app->events, req) ? HANDLER_PENDING : HANDLER_DONE;
}
