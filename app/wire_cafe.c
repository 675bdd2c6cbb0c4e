/* Placeholder until the café lands (issue 3). */
#include "app/app.h"
#include "handlers/handlers.h"
#include "server/response.h"

int cafe_app_init(struct app *app)
{
    return 0;
}
void cafe_app_drain_begin(struct app *app)
{
}
void cafe_app_drain_timeout(struct app *app)
{
}
void cafe_app_free(struct app *app)
{
}

#define NOT_YET(fn)                                                                                \
    enum handler_status fn(struct request *req)                                                    \
    {                                                                                              \
        response_problem(req, 501, "Not Implemented", "coming soon");                              \
        return HANDLER_DONE;                                                                       \
    }
NOT_YET(handle_menu)
NOT_YET(handle_order_place)
NOT_YET(handle_orders_batch)
NOT_YET(handle_orders_list)
NOT_YET(handle_order_get)
NOT_YET(handle_order_cancel)
