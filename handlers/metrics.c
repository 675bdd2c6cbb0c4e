/* GET /metrics: Prometheus text exposition format 0.0.4. */
#include <event2/buffer.h>

#include "handlers/handlers.h"
#include "server/metrics.h"
#include "server/response.h"

enum handler_status handle_metrics(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    struct evbuffer *out = evbuffer_new();
    ctx->render_metrics(ctx->metrics_arg, out);
    size_t len = evbuffer_get_length(out);
    response_header(req, "Cache-Control", "no-store");
    response_send(req, 200, METRICS_CONTENT_TYPE, evbuffer_pullup(out, -1), len);
    evbuffer_free(out);
    return HANDLER_DONE;
}
