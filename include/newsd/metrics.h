/*
 * metrics.h: what newsd counts about itself, rendered in Prometheus's text
 * exposition format for GET /metrics.
 *
 * The HTTP layer records every finished request (its route, status and
 * duration) and the search handler the time each search took; the counters
 * are lock-free atomics, so recording costs a few increments. Gauges that
 * are read, not counted (requests in flight, open connections, database
 * size, response-cache counters) are handed to nd_metrics_render when the
 * page is asked for.
 */
#ifndef NEWSD_METRICS_H
#define NEWSD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "newsd/cache.h"

struct nd_metrics;
struct nd_route; /* router.h */

/*
 * Counters for the routes of table (borrowed for the metrics' life; ended by
 * a NULL pattern). NULL when out of memory.
 */
struct nd_metrics *nd_metrics_create(const struct nd_route *table);

/* Accepts NULL. */
void nd_metrics_destroy(struct nd_metrics *m);

/*
 * Counts one finished request: route is the table entry it was routed to,
 * or NULL when it matched none (404, 405, OPTIONS, refused before routing).
 * Thread-safe. Accepts m == NULL (metrics off).
 */
void nd_metrics_observe_request(struct nd_metrics *m, const struct nd_route *route, int status,
                                uint64_t usec);

/* Counts one search's time in the store (ranking and snippets). Thread-safe; m may be NULL. */
void nd_metrics_observe_search(struct nd_metrics *m, uint64_t usec);

/* The public reads routed with --db-replica (counted by the HTTP layer). */
struct nd_metrics_replica {
    bool configured; /* false without --db-replica: nothing is rendered */
    uint64_t reads;  /* answered from the replica */
    uint64_t
        primary_for_position; /* sent to the primary: the replica had not replayed a position */
    uint64_t fallbacks;       /* sent to the primary: the replica could not be used */
};

/* What is read rather than counted, at the moment of rendering. */
struct nd_metrics_gauges {
    unsigned in_flight;   /* requests being answered */
    unsigned connections; /* open client connections */
    int64_t db_bytes;     /* database file size (pages x page size); -1 when unknown */
    bool have_cache;      /* false with cache-size 0 */
    struct nd_cache_stats cache;
    struct nd_metrics_replica replica;
};

/*
 * The whole exposition (text format 0.0.4), malloc'd, its length in *len.
 * NULL when out of memory.
 */
char *nd_metrics_render(const struct nd_metrics *m, const struct nd_metrics_gauges *g, size_t *len);

#endif
