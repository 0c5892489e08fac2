/* placeholder: being written */
#include "newsd/handlers.h"

int nd_handle_metrics(struct nd_request *req)
{
    return nd_respond_problem(req, 501, "not yet");
}
