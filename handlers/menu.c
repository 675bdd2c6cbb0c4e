/* GET /menu: the items with their recipe steps, and the flavours -- the same
 * shape --menu FILE reads back. The menu never changes while the server runs,
 * so it is serialised once and sent without copying. */
#include <string.h>

#include "cafe/menu.h"
#include "handlers/handlers.h"
#include "server/response.h"

enum handler_status handle_menu(struct request *req)
{
    struct handler_ctx *ctx = req->app;
    if (!ctx->menu_json) {
        json_t *menu = menu_to_json(ctx->menu);
        ctx->menu_json = json_dumps(menu, JSON_COMPACT);
        json_decref(menu);
        ctx->menu_json_len = strlen(ctx->menu_json);
    }
    response_header(req, "Cache-Control", "max-age=60");
    response_send_static(req, 200, "application/json", ctx->menu_json, ctx->menu_json_len);
    return HANDLER_DONE;
}
