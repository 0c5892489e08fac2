/*
 * routes.c: newsd's route table, the one list of its endpoints (the
 * OpenAPI document, server/assets/openapi.json, must name each of them; a
 * unit test holds the two together). HEAD is served wherever GET is (the
 * router adds it). The public reads are cacheable (newsd/cache.h); /health,
 * /ready and /metrics never are: they must tell the present. Embedded files need
 * no cache. Writes go to the committer and slow reads to the reader pool
 * (enum nd_lane); the bulk load keeps its own path (http_bulk.c).
 */
#include "newsd/handlers.h"
#include "newsd/router.h"

const struct nd_route nd_routes[] = {
    {"/health", ND_METHOD_GET, nd_handle_health, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/ready", ND_METHOD_GET, nd_handle_ready, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/v1/articles", ND_METHOD_GET, nd_handle_articles_list, ND_CACHE_SHARED, ND_LANE_INLINE},
    {"/v1/articles", ND_METHOD_POST, nd_handle_article_create, ND_CACHE_NEVER, ND_LANE_WRITE},
    {"/v1/articles/bulk", ND_METHOD_POST, nd_handle_articles_bulk, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/v1/articles/{id}", ND_METHOD_GET, nd_handle_article_get, ND_CACHE_SHARED, ND_LANE_INLINE},
    {"/v1/articles/{id}", ND_METHOD_PATCH, nd_handle_article_patch, ND_CACHE_NEVER, ND_LANE_WRITE},
    {"/v1/articles/{id}", ND_METHOD_DELETE, nd_handle_article_delete, ND_CACHE_NEVER,
     ND_LANE_WRITE},
    {"/v1/categories", ND_METHOD_GET, nd_handle_categories_list, ND_CACHE_SHARED, ND_LANE_INLINE},
    {"/v1/tags", ND_METHOD_GET, nd_handle_tags_list, ND_CACHE_SHARED, ND_LANE_INLINE},
    {"/v1/authors", ND_METHOD_GET, nd_handle_authors_list, ND_CACHE_SHARED, ND_LANE_INLINE},
    {"/v1/articles/{id}/comments", ND_METHOD_GET, nd_handle_comments_list, ND_CACHE_SHARED,
     ND_LANE_INLINE},
    {"/v1/articles/{id}/comments", ND_METHOD_POST, nd_handle_comment_create, ND_CACHE_NEVER,
     ND_LANE_WRITE},
    {"/v1/comments/{id}", ND_METHOD_GET, nd_handle_comment_get, ND_CACHE_SHARED, ND_LANE_INLINE},
    {"/v1/comments/{id}", ND_METHOD_PATCH, nd_handle_comment_patch, ND_CACHE_NEVER, ND_LANE_WRITE},
    {"/v1/comments/{id}", ND_METHOD_DELETE, nd_handle_comment_delete, ND_CACHE_NEVER,
     ND_LANE_WRITE},
    {"/v1/changes", ND_METHOD_GET, nd_handle_changes, ND_CACHE_SHARED, ND_LANE_INLINE},
    {"/v1/events", ND_METHOD_GET, nd_handle_events, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/v1/search", ND_METHOD_GET, nd_handle_search, ND_CACHE_SHARED, ND_LANE_SLOW},
    {"/v1/feed.atom", ND_METHOD_GET, nd_handle_feed_atom, ND_CACHE_PER_HOST, ND_LANE_SLOW},
    {"/v1/feed.rss", ND_METHOD_GET, nd_handle_feed_rss, ND_CACHE_PER_HOST, ND_LANE_SLOW},
    {"/v1/feed.json", ND_METHOD_GET, nd_handle_feed_json, ND_CACHE_PER_HOST, ND_LANE_SLOW},
    {"/metrics", ND_METHOD_GET, nd_handle_metrics, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/openapi.json", ND_METHOD_GET, nd_handle_openapi, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/", ND_METHOD_GET, nd_handle_index, ND_CACHE_NEVER, ND_LANE_INLINE},
    {"/assets/{name}", ND_METHOD_GET, nd_handle_asset, ND_CACHE_NEVER, ND_LANE_INLINE},
    {NULL, 0, NULL, ND_CACHE_NEVER, ND_LANE_INLINE},
};
