/* placeholder: being written */
#include "newsd/handlers.h"

int nd_handle_feed_atom(struct nd_request *req)
{
    return nd_respond_problem(req, 501, "not yet");
}
int nd_handle_feed_rss(struct nd_request *req)
{
    return nd_respond_problem(req, 501, "not yet");
}
int nd_handle_feed_json(struct nd_request *req)
{
    return nd_respond_problem(req, 501, "not yet");
}
