/*
 * routes.c: newsd's route table, the one list of its endpoints.
 * HEAD is served wherever GET is (the router adds it).
 */
#include "newsd/handlers.h"
#include "newsd/router.h"

const struct nd_route nd_routes[] = {
    {"/health", ND_METHOD_GET, nd_handle_health},
    {"/v1/articles", ND_METHOD_GET, nd_handle_articles_list},
    {"/v1/articles", ND_METHOD_POST, nd_handle_article_create},
    {"/v1/articles/{}", ND_METHOD_GET, nd_handle_article_get},
    {"/v1/articles/{}", ND_METHOD_PATCH, nd_handle_article_patch},
    {"/v1/articles/{}", ND_METHOD_DELETE, nd_handle_article_delete},
    {"/v1/articles/{}/comments", ND_METHOD_GET, nd_handle_comments_list},
    {"/v1/articles/{}/comments", ND_METHOD_POST, nd_handle_comment_create},
    {"/v1/comments/{}", ND_METHOD_GET, nd_handle_comment_get},
    {"/v1/comments/{}", ND_METHOD_DELETE, nd_handle_comment_delete},
    {"/v1/search", ND_METHOD_GET, nd_handle_search},
    {NULL, 0, NULL},
};
