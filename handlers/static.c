#include "handlers/handlers.h"
#include "server/static_files.h"

/* GET / and every file under static/: the dashboard. */
enum handler_status handle_static(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    static_files_serve(ctx->static_files, req, req->path);
    return HANDLER_DONE;
}
