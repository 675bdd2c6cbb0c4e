#include <stdio.h>

#include "handlers/handlers.h"
#include "server/response.h"
#include "server/server.h"

/* GET /healthz: 200 while serving, 503 once draining so a load balancer
 * stops sending new work. */
enum handler_status handle_healthz(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    bool draining = server_draining(ctx->server);
    const struct server_stats *st = server_stats(ctx->server);
    char body[160];
    int n = snprintf(body, sizeof(body), "{\"status\":\"%s\",\"connections\":%u}\n",
                     draining ? "draining" : "ok", st->open_connections);
    response_header(req, "Cache-Control", "no-store");
    response_send(req, draining ? 503 : 200, "application/json", body, (size_t)n);
    return HANDLER_DONE;
}
