/*
 * handler_health.c: GET /health and GET /ready, for load balancers and
 * supervisors.
 *
 * Healthy means this worker's database connection answers a trivial query;
 * anything else is 503 so that traffic goes elsewhere. The detail never says
 * why the database failed (the store has logged that once already).
 *
 * Ready means the process has not been told to stop. From the SIGTERM on it
 * is 503 while the process goes on serving for drain-seconds, so that a
 * balancer checking /ready takes it out of rotation before it stops
 * accepting connections. It asks nothing of the database: /health does.
 */
#include "newsd/handlers.h"
#include "newsd/store.h"

int nd_handle_health(struct nd_request *req)
{
    struct nd_store *store = nd_request_store(req);
    if (!store)
        return nd_respond_unavailable(req);
    if (nd_store_ping(store) != ND_OK)
        return nd_respond_problem(req, 503, "the database does not answer");
    json_t *body = json_pack("{s:s}", "status", "ok");
    if (!body)
        return nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
    return nd_respond_json(req, 200, body);
}

int nd_handle_ready(struct nd_request *req)
{
    if (nd_request_draining(req))
        return nd_respond_problem(req, 503, "this instance is shutting down");
    json_t *body = json_pack("{s:s}", "status", "ready");
    if (!body)
        return nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
    return nd_respond_json(req, 200, body);
}
