/* Placeholder until observability lands (issue 4). */
#include "app/app.h"
#include "handlers/handlers.h"
#include "server/response.h"

int observe_app_init(struct app *app)
{
    return 0;
}
void observe_app_drain_begin(struct app *app)
{
}
void observe_on_request_done(struct request *req, uint64_t duration_ns, void *app)
{
}
void observe_app_free(struct app *app)
{
}
enum handler_status handle_events(struct request *req)
{
    response_problem(req, 501, "Not Implemented", "coming soon");
    return HANDLER_DONE;
}
enum handler_status handle_metrics(struct request *req)
{
    response_problem(req, 501, "Not Implemented", "coming soon");
    return HANDLER_DONE;
}
