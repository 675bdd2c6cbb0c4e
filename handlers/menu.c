/* GET /menu: the items with their recipe steps, and the flavours -- the same
 * shape --menu FILE reads back. */
#include "app/app.h"
#include "cafe/menu.h"
#include "handlers/handlers.h"
#include "server/response.h"

enum handler_status handle_menu(struct request *req)
{
    const struct app *app = req->app;
    response_header(req, "Cache-Control", "max-age=60");
    response_send_json(req, 200, menu_to_json(app->menu));
    return HANDLER_DONE;
}
