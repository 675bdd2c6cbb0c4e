#include "cafe/cafe.h"
#include "handlers/handlers.h"
#include "server/response.h"
#include "server/server.h"

/* GET /healthz: 200 while serving -- "ok", or "degraded" while the order
 * store is down (the replica still answers every client clearly: orders get
 * 503 + Retry-After, so a load balancer keeps it) -- and 503 once draining,
 * so a load balancer stops sending new work. */
enum handler_status handle_healthz(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    bool draining = server_draining(ctx->server);
    struct order_store *store = cafe_store(ctx->cafe);
    struct store_stats st;
    order_store_stats(store, &st);
    const char *status = draining ? "draining" : st.up ? "ok" : "degraded";
    response_header(req, "Cache-Control", "no-store");
    response_send_json(req, draining ? 503 : 200,
                       json_pack("{s:s,s:I,s:s,s:s}", "status", status, "connections",
                                 (json_int_t)server_stats(ctx->server)->open_connections, "replica",
                                 store->replica, "store", st.state ? st.state : "?"));
    return HANDLER_DONE;
}
