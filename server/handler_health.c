/*
 * handler_health.c: GET /health and GET /ready, for load balancers and
 * supervisors.
 *
 * Healthy means this worker's database connection answers a trivial query;
 * anything else is 503 so that traffic goes elsewhere. The detail never says
 * why the database failed (the store has logged that once already). With
 * --db-replica the answer says how the replica is (ok, lagging so many
 * bytes, unreachable) without failing for it: public reads then go to the
 * primary, so this instance still serves.
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
    char replica[64];
    const char *replica_status = nd_request_replica_status(req, replica, sizeof replica);
    if (body && replica_status &&
        json_object_set_new(body, "replica", json_string(replica_status)) != 0) {
        json_decref(body);
        body = NULL;
    }
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
