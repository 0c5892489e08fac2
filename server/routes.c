/*
 * routes.c: newsd's route table, the one list of its endpoints (the
 * OpenAPI document, server/assets/openapi.json, must name each of them; a
 * unit test holds the two together). HEAD is served wherever GET is (the
 * router adds it). The public reads are cacheable (newsd/cache.h); /health
 * and /metrics never are: they must tell the present. Embedded files need
 * no cache.
 */
#include "newsd/handlers.h"
#include "newsd/router.h"

const struct nd_route nd_routes[] = {
    {"/health", ND_METHOD_GET, nd_handle_health, false},
    {"/v1/articles", ND_METHOD_GET, nd_handle_articles_list, true},
    {"/v1/articles", ND_METHOD_POST, nd_handle_article_create, false},
    {"/v1/articles/{id}", ND_METHOD_GET, nd_handle_article_get, true},
    {"/v1/articles/{id}", ND_METHOD_PATCH, nd_handle_article_patch, false},
    {"/v1/articles/{id}", ND_METHOD_DELETE, nd_handle_article_delete, false},
    {"/v1/articles/{id}/comments", ND_METHOD_GET, nd_handle_comments_list, true},
    {"/v1/articles/{id}/comments", ND_METHOD_POST, nd_handle_comment_create, false},
    {"/v1/comments/{id}", ND_METHOD_GET, nd_handle_comment_get, true},
    {"/v1/comments/{id}", ND_METHOD_PATCH, nd_handle_comment_patch, false},
    {"/v1/comments/{id}", ND_METHOD_DELETE, nd_handle_comment_delete, false},
    {"/v1/search", ND_METHOD_GET, nd_handle_search, true},
    {"/v1/feed.atom", ND_METHOD_GET, nd_handle_feed_atom, true},
    {"/v1/feed.rss", ND_METHOD_GET, nd_handle_feed_rss, true},
    {"/v1/feed.json", ND_METHOD_GET, nd_handle_feed_json, true},
    {"/metrics", ND_METHOD_GET, nd_handle_metrics, false},
    {"/openapi.json", ND_METHOD_GET, nd_handle_openapi, false},
    {"/", ND_METHOD_GET, nd_handle_index, false},
    {"/assets/{name}", ND_METHOD_GET, nd_handle_asset, false},
    {NULL, 0, NULL, false},
};
