/* GET /events: the Server-Sent Events stream (order and step transitions, a
 * "stats" event every second). The hub in server/sse_hub.c does the work. */
#include "app/app.h"
#include "handlers/handlers.h"
#include "server/response.h"
#include "server/sse_hub.h"

enum handler_status handle_events(struct request *req)
{
    struct app *app = req->app;
    if (req->method == METHOD_HEAD) {
        /* The headers a GET would get; a HEAD never becomes a subscriber. */
        response_header(req, "Cache-Control", "no-cache");
        response_send(req, 200, "text/event-stream", "", 0);
        return HANDLER_DONE;
    }
    if (!app->events) {
        response_problem(req, 503, "Service Unavailable", "the event stream is not running");
        return HANDLER_DONE;
    }
    return sse_hub_subscribe(app->events, req) ? HANDLER_PENDING : HANDLER_DONE;
}
