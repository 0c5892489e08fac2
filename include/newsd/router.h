/*
 * router.h: table-driven routing of (method, path) to a handler.
 *
 * A route pattern is a path whose "{name}" segments capture one path
 * segment each ("/v1/articles/{id}/comments"); the names are the OpenAPI
 * document's, so a pattern is its path and the metrics' route label. A table is an array of struct
 * nd_route ended by an entry whose pattern is NULL. HEAD matches wherever GET does. Matching is
 * pure (no I/O), so it is unit-tested on its own tables.
 */
#ifndef NEWSD_ROUTER_H
#define NEWSD_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "newsd/http.h"

#define ND_ROUTE_MAX_PARAMS 2
#define ND_ROUTE_PARAM_MAX 256

typedef int (*nd_handler_fn)(struct nd_request *req);

/* Whether a route's 200 answers to requests without a key may come from the response cache. */
enum nd_cache_policy {
    ND_CACHE_NEVER = 0,
    ND_CACHE_SHARED = 1,   /* one answer for every client */
    ND_CACHE_PER_HOST = 2, /* the answer holds links made from Host (feeds without public-url) */
};

/*
 * Where a route's handler runs (http_offload.c). Inline handlers run on the
 * libmicrohttpd thread that reads and writes the socket; the others are
 * handed to a thread of their own while the connection waits suspended.
 */
enum nd_lane {
    ND_LANE_INLINE = 0, /* quick: answered on the I/O thread */
    ND_LANE_SLOW,       /* may take milliseconds (search, feeds): the reader pool,
                           for requests the response cache did not answer */
    ND_LANE_WRITE,      /* a write: the committer, which commits the writes
                           queued together in one transaction (group commit) */
};

struct nd_route {
    const char *pattern;
    enum nd_method method;
    nd_handler_fn handler;
    enum nd_cache_policy cacheable;
    enum nd_lane lane;
};

enum nd_route_result {
    ND_ROUTE_FOUND = 0,
    ND_ROUTE_NOT_FOUND,          /* no pattern matches the path: 404 */
    ND_ROUTE_METHOD_NOT_ALLOWED, /* a pattern matches, not with this method: 405 */
};

struct nd_route_match {
    const struct nd_route *route;   /* on FOUND: the table's entry (metrics label it) */
    nd_handler_fn handler;          /* on FOUND */
    enum nd_cache_policy cacheable; /* on FOUND: the route's policy */
    unsigned allowed;               /* on METHOD_NOT_ALLOWED: mask of enum nd_method */
    unsigned nparams;
    char params[ND_ROUTE_MAX_PARAMS][ND_ROUTE_PARAM_MAX];
};

/*
 * Matches method and path (no query string) against table. Writes *m on
 * every result. Of the patterns that match the path, only those with the
 * fewest parameters count: a literal segment beats a parameter, so
 * "/v1/articles/bulk" is not an article id. A parameter segment longer than ND_ROUTE_PARAM_MAX - 1
 * bytes or empty does not match.
 */
enum nd_route_result nd_router_match(const struct nd_route *table, enum nd_method method,
                                     const char *path, struct nd_route_match *m);

/*
 * Writes the Allow header value for mask ("GET, HEAD, POST") into buf.
 * Returns buf.
 */
char *nd_router_allow(unsigned mask, char *buf, size_t len);

/* newsd's own route table (routes.c). */
extern const struct nd_route nd_routes[];

#endif
