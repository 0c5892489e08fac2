/*
 * handler_comments.c: /v1/articles/{id}/comments and /v1/comments/{id}.
 *
 * Reading and posting comments is public, but a comment is only as visible
 * as its article: every comment of a draft is 404 to a request without a key,
 * so a draft's existence is never revealed through its comments. Posting is
 * rate-limited per client address before anything else is looked at.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/handler_list.h"
#include "newsd/handlers.h"
#include "newsd/store.h"
#include "newsd/util.h"
#include "newsd/validate.h"

#define UNAVAILABLE "the database is unavailable"
#define BAD_ARTICLE_ID "an article id is a positive decimal integer without leading zeros"
#define BAD_COMMENT_ID "a comment id is a positive decimal integer without leading zeros"

/*
 * ND_OK when article id exists and the request may see it; ND_ERR_NOT_FOUND
 * also for a draft when the request has no valid key; the store's error
 * otherwise.
 */
static enum nd_err check_visible(struct nd_request *req, struct nd_store *store, int64_t id)
{
    json_t *article = NULL;
    enum nd_err err = nd_store_article_get(store, id, &article);
    if (err == ND_OK) {
        const char *status = json_string_value(json_object_get(article, "status"));
        if (status && strcmp(status, "draft") == 0 && !nd_request_has_key(req))
            err = ND_ERR_NOT_FOUND;
    }
    json_decref(article);
    return err;
}

/* Answers check_visible's failure for article id. */
static int answer_article_error(struct nd_request *req, enum nd_err err, int64_t id)
{
    if (err == ND_ERR_NOT_FOUND)
        return nd_respond_problem(req, 404, "no article with id %" PRId64, id);
    return nd_respond_err(req, err, "could not read the article");
}

/* Checks limit and view of a comment list. Returns 0, or the 400 it answered. */
static int parse_list_query(struct nd_request *req, unsigned *limit, bool *tree)
{
    const char *view = nd_request_query(req, "view");
    if (!nd_validate_limit(nd_request_query(req, "limit"), limit))
        return nd_respond_problem(req, 400, "limit must be an integer from 1 to %d", ND_LIMIT_MAX);
    if (view && strcmp(view, "flat") != 0 && strcmp(view, "tree") != 0)
        return nd_respond_problem(req, 400, "view must be flat or tree");
    *tree = view && strcmp(view, "tree") == 0;
    return 0;
}

/*
 * Answers one page of comments of article id, with a Link header to the
 * next page repeating limit and view. Takes items and next (malloc'd).
 */
static int respond_page(struct nd_request *req, int64_t id, unsigned limit, json_t *items,
                        char *next)
{
    char path[64];
    struct nd_link_params lp = {.n = 0};
    snprintf(path, sizeof path, "/v1/articles/%" PRId64 "/comments", id);
    snprintf(lp.limit, sizeof lp.limit, "%u", limit);
    nd_link_params_add(&lp, "limit", lp.limit);
    nd_link_params_add(&lp, "cursor", next);
    nd_link_params_add(&lp, "view", nd_request_query(req, "view"));
    return nd_list_respond_page(req, items, next, path, &lp);
}

int nd_handle_comments_list(struct nd_request *req)
{
    int64_t id;
    unsigned limit = 0;
    bool tree = false;
    json_t *items = NULL;
    char *next = NULL;
    if (!nd_parse_id(nd_request_param(req, 0), &id))
        return nd_respond_problem(req, 400, BAD_ARTICLE_ID);
    int status = parse_list_query(req, &limit, &tree);
    if (status != 0)
        return status;
    struct nd_store *store = nd_request_store(req);
    if (!store)
        return nd_respond_problem(req, 503, UNAVAILABLE);
    enum nd_err err = check_visible(req, store, id);
    if (err != ND_OK)
        return answer_article_error(req, err, id);
    err = nd_store_comment_list(store, id, tree, limit, nd_request_query(req, "cursor"), &items,
                                &next);
    if (err == ND_ERR_INVALID)
        return nd_respond_problem(req, 400, "cursor is not a cursor of this list");
    if (err != ND_OK)
        return nd_respond_err(req, err, "could not list the comments");
    return respond_page(req, id, limit, items, next);
}

/* 422 naming parent_id: the store found no such comment on this article. */
static int respond_bad_parent(struct nd_request *req)
{
    json_t *errors = json_pack("[{s:s, s:s}]", "field", "parent_id", "message",
                               "must be a comment of the same article");
    if (!errors)
        return nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
    return nd_respond_invalid(req, errors);
}

/* Validates body, stores the comment on article id and answers 201 (or the failure). */
static int create_comment(struct nd_request *req, struct nd_store *store, int64_t id,
                          const json_t *body)
{
    struct nd_comment_input in = {0};
    struct nd_comment_fields fields;
    json_t *comment = NULL;
    json_t *errors = json_array();
    enum nd_err err = nd_validate_comment(body, &in, errors);
    if (err == ND_ERR_INVALID)
        return nd_respond_invalid(req, errors);
    json_decref(errors);
    if (err != ND_OK)
        return nd_respond_err(req, err, "out of memory");
    nd_comment_input_fields(&in, id, &fields);
    err = nd_store_comment_create(store, &fields, &comment);
    nd_comment_input_fini(&in);
    if (err == ND_ERR_INVALID)
        return respond_bad_parent(req);
    if (err != ND_OK)
        return answer_article_error(req, err, id);
    char location[48];
    snprintf(location, sizeof location, "/v1/comments/%" PRId64,
             (int64_t)json_integer_value(json_object_get(comment, "id")));
    if (!nd_respond_header(req, "Location", location)) {
        json_decref(comment);
        return nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
    }
    return nd_respond_json(req, 201, comment);
}

int nd_handle_comment_create(struct nd_request *req)
{
    int64_t id;
    json_t *body = NULL;
    if (!nd_parse_id(nd_request_param(req, 0), &id))
        return nd_respond_problem(req, 400, BAD_ARTICLE_ID);
    int status = nd_request_rate_limit_comment(req);
    if (status != 0)
        return status;
    struct nd_store *store = nd_request_store(req);
    if (!store)
        return nd_respond_problem(req, 503, UNAVAILABLE);
    status = nd_request_json(req, &body);
    if (status != 0)
        return status;
    enum nd_err err = check_visible(req, store, id);
    if (err != ND_OK)
        status = answer_article_error(req, err, id);
    else
        status = create_comment(req, store, id, body);
    json_decref(body);
    return status;
}

int nd_handle_comment_get(struct nd_request *req)
{
    int64_t id;
    json_t *comment = NULL;
    if (!nd_parse_id(nd_request_param(req, 0), &id))
        return nd_respond_problem(req, 400, BAD_COMMENT_ID);
    struct nd_store *store = nd_request_store(req);
    if (!store)
        return nd_respond_problem(req, 503, UNAVAILABLE);
    enum nd_err err = nd_store_comment_get(store, id, &comment);
    if (err == ND_OK) {
        int64_t article_id = (int64_t)json_integer_value(json_object_get(comment, "article_id"));
        err = check_visible(req, store, article_id);
        if (err != ND_OK)
            json_decref(comment);
    }
    if (err == ND_ERR_NOT_FOUND)
        return nd_respond_problem(req, 404, "no comment with id %" PRId64, id);
    if (err != ND_OK)
        return nd_respond_err(req, err, "could not read the comment");
    return nd_respond_json(req, 200, comment);
}

int nd_handle_comment_delete(struct nd_request *req)
{
    int64_t id;
    int status = nd_request_require_key(req);
    if (status != 0)
        return status;
    if (!nd_parse_id(nd_request_param(req, 0), &id))
        return nd_respond_problem(req, 400, BAD_COMMENT_ID);
    struct nd_store *store = nd_request_store(req);
    if (!store)
        return nd_respond_problem(req, 503, UNAVAILABLE);
    enum nd_err err = nd_store_comment_delete(store, id);
    if (err == ND_ERR_NOT_FOUND)
        return nd_respond_problem(req, 404, "no comment with id %" PRId64, id);
    if (err != ND_OK)
        return nd_respond_err(req, err, "could not delete the comment");
    return nd_respond_json(req, 204, NULL);
}
