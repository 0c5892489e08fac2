/*
 * handler_metrics.c: GET /metrics, newsd's counters for Prometheus.
 *
 * The counters live in metrics.c; this handler adds what is read at the
 * moment of the scrape (requests in flight, connections, the response
 * cache's counters, the database's size) and answers the text exposition
 * format 0.0.4. With the metrics setting off the path does not exist: 404.
 * A database that cannot be opened or measured leaves the size out of the
 * page rather than failing the scrape: the other series still tell the truth.
 */
#include "newsd/handlers.h"
#include "newsd/metrics.h"
#include "newsd/store.h"

#define EXPOSITION_TYPE "text/plain; version=0.0.4; charset=utf-8"

int nd_handle_metrics(struct nd_request *req)
{
    struct nd_metrics *m = nd_request_metrics(req);
    if (m == NULL)
        return nd_respond_problem(req, 404, "metrics are turned off (setting metrics)");
    struct nd_metrics_gauges g;
    nd_request_gauges(req, &g);
    nd_request_replica_gauges(req, &g);
    struct nd_store *store = nd_request_store(req);
    int64_t bytes;
    if (store != NULL && nd_store_size(store, &bytes) == ND_OK)
        g.db_bytes = bytes;
    size_t len = 0;
    char *text = nd_metrics_render(m, &g, &len);
    if (text == NULL)
        return nd_respond_err(req, ND_ERR_NOMEM, NULL);
    return nd_respond_owned(req, 200, EXPOSITION_TYPE, text, len);
}
