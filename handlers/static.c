#include "app/app.h"
#include "handlers/handlers.h"
#include "server/static_files.h"

/* GET / and every file under static/: the dashboard. */
enum handler_status handle_static(struct request *req)
{
    struct app *app = req->app;
    static_files_serve(app->static_files, req, req->path);
    return HANDLER_DONE;
}
