/*
 * routes.c: newsd's route table, the one list of its endpoints.
 * HEAD is served wherever GET is (the router adds it). The public reads
 * are cacheable (newsd/cache.h); /health never is: it must ask the database.
 */
#include "newsd/handlers.h"
#include "newsd/router.h"

const struct nd_route nd_routes[] = {
    {"/health", ND_METHOD_GET, nd_handle_health, false},
    {"/v1/articles", ND_METHOD_GET, nd_handle_articles_list, true},
    {"/v1/articles", ND_METHOD_POST, nd_handle_article_create, false},
    {"/v1/articles/{}", ND_METHOD_GET, nd_handle_article_get, true},
    {"/v1/articles/{}", ND_METHOD_PATCH, nd_handle_article_patch, false},
    {"/v1/articles/{}", ND_METHOD_DELETE, nd_handle_article_delete, false},
    {"/v1/articles/{}/comments", ND_METHOD_GET, nd_handle_comments_list, true},
    {"/v1/articles/{}/comments", ND_METHOD_POST, nd_handle_comment_create, false},
    {"/v1/comments/{}", ND_METHOD_GET, nd_handle_comment_get, true},
    {"/v1/comments/{}", ND_METHOD_PATCH, nd_handle_comment_patch, false},
    {"/v1/comments/{}", ND_METHOD_DELETE, nd_handle_comment_delete, false},
    {"/v1/search", ND_METHOD_GET, nd_handle_search, true},
    {NULL, 0, NULL, false},
};
