#include <stdio.h>

#include "app/app.h"
#include "handlers/handlers.h"
#include "server/response.h"
#include "server/server.h"

/* GET /healthz: 200 while serving, 503 once draining so a load balancer
 * stops sending new work. */
enum handler_status handle_healthz(struct request *req)
{
    struct app *app = req->app;
    bool draining = server_draining(app->server);
    const struct server_stats *st = server_stats(app->server);
    char body[160];
    int n = snprintf(body, sizeof(body), "{\"status\":\"%s\",\"connections\":%u}\n",
                     draining ? "draining" : "ok", st->open_connections);
    response_header(req, "Cache-Control", "no-store");
    response_send(req, draining ? 503 : 200, "application/json", body, (size_t)n);
    return HANDLER_DONE;
}
