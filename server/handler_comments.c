/*
 * handler_comments.c: /v1/articles/{id}/comments and /v1/comments/{id}.
 *
 * Reading and posting comments is public, but a comment is only as visible
 * as its article: every comment of a draft is 404 to a request without a key,
 * so a draft's existence is never revealed through its comments. Posting is
 * rate-limited per client address before anything else is looked at.
 *
 * Moderation: with comment-moderation = pre a new comment is stored pending.
 * A pending comment is invisible without a key, as if it did not exist (404,
 * left out of lists, never a parent a reader may reply to); key holders list
 * it with ?status=pending or any, and approve or hide comments with
 * PATCH /v1/comments/{id} {"status":"visible"|"pending"}.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/handler_list.h"
#include "newsd/handler_write.h"
#include "newsd/handlers.h"
#include "newsd/json.h"
#include "newsd/store.h"
#include "newsd/util.h"
#include "newsd/validate.h"

#define BAD_ARTICLE_ID "an article id is a positive decimal integer without leading zeros"
#define BAD_COMMENT_ID "a comment id is a positive decimal integer without leading zeros"
#define BAD_STATUS "status must be visible, pending or any"

/*
 * Whether the request may see article id (only its draft flag is read, not
 * the article). ND_OK when it exists and the request may see it;
 * ND_ERR_NOT_FOUND also for a draft when the request has no valid key; the
 * store's error otherwise.
 */
static enum nd_err find_visible_article(struct nd_request *req, struct nd_store *store, int64_t id)
{
    bool draft = false;
    enum nd_err err = nd_store_article_is_draft(store, id, &draft);
    if (err == ND_OK && draft && !nd_request_has_key(req))
        err = ND_ERR_NOT_FOUND;
    return err;
}

/* Answers find_visible_article's failure for article id. */
static int answer_article_error(struct nd_request *req, enum nd_err err, int64_t id)
{
    if (err == ND_ERR_NOT_FOUND)
        return nd_respond_problem(req, 404, "no article with id %" PRId64, id);
    return nd_respond_err(req, err, "could not read the article");
}

/* The list parameters of a comment list. */
struct comment_query {
    unsigned limit;
    bool tree;
    enum nd_comment_filter which;
    struct nd_fields fields;
};

/*
 * Checks limit, view, fields and status of a comment list. status other than
 * visible needs a key. Returns 0, or the status of the problem it answered
 * (400, 401, 503).
 */
static int parse_list_query(struct nd_request *req, struct comment_query *q)
{
    const char *view = nd_request_query(req, "view");
    const char *status = nd_request_query(req, "status");
    if (!nd_validate_limit(nd_request_query(req, "limit"), &q->limit))
        return nd_respond_problem(req, 400, "limit must be an integer from 1 to %d", ND_LIMIT_MAX);
    if (view && strcmp(view, "flat") != 0 && strcmp(view, "tree") != 0)
        return nd_respond_problem(req, 400, "view must be flat or tree");
    q->tree = view && strcmp(view, "tree") == 0;
    int code = nd_handler_fields(req, ND_VOCAB_COMMENT, &q->fields);
    if (code != 0)
        return code;
    q->which = ND_COMMENTS_VISIBLE;
    if (!status || strcmp(status, "visible") == 0)
        return 0;
    if (strcmp(status, "pending") == 0)
        q->which = ND_COMMENTS_PENDING;
    else if (strcmp(status, "any") == 0)
        q->which = ND_COMMENTS_ANY;
    else
        return nd_respond_problem(req, 400, BAD_STATUS);
    return nd_request_require_key(req);
}

/* The path of the comments of article id, and the parameters of the next page's Link. */
static void next_link_params(struct nd_request *req, int64_t id, const struct comment_query *q,
                             const char *next, char path[64], struct nd_link_params *lp)
{
    lp->n = 0;
    snprintf(path, 64, "/v1/articles/%" PRId64 "/comments", id);
    snprintf(lp->limit, sizeof lp->limit, "%u", q->limit);
    nd_link_params_add(lp, "limit", lp->limit);
    nd_link_params_add(lp, "cursor", next);
    nd_link_params_add(lp, "view", nd_request_query(req, "view"));
    nd_link_params_add(lp, "status", nd_request_query(req, "status"));
    nd_link_params_add(lp, "fields", nd_request_query(req, "fields"));
}

/*
 * Answers one page of comments of article id, with a Link header to the
 * next page repeating limit, view, status and fields, each comment trimmed
 * to the fields asked for. Takes items and next (malloc'd).
 */
static int respond_page(struct nd_request *req, int64_t id, const struct comment_query *q,
                        json_t *items, char *next)
{
    char path[64];
    struct nd_link_params lp;
    next_link_params(req, id, q, next, path, &lp);
    return nd_list_respond_page(req, items, next, path, &lp, &q->fields,
                                q->tree ? "replies" : NULL);
}

/* The Link header of the page after this one (none when next is NULL); false when out of memory. */
static bool add_next_link(struct nd_request *req, int64_t id, const struct comment_query *q,
                          const char *next)
{
    char path[64];
    struct nd_link_params lp;
    if (!next)
        return true;
    next_link_params(req, id, q, next, path, &lp);
    return nd_list_next_link(req, path, &lp);
}

/* Answers a failed list: a cursor of another list is the client's mistake. */
static int answer_list_error(struct nd_request *req, enum nd_err err)
{
    if (err == ND_ERR_INVALID)
        return nd_respond_problem(req, 400, "cursor is not a cursor of this list");
    return nd_respond_err(req, err, "could not list the comments");
}

/*
 * The flat page with every member, written straight from the rows into
 * its JSON text: the bytes respond_page would send, without a tree of the
 * comments made and freed for each answer (a page of comments was some
 * seventy allocations).
 */
static int respond_text_page(struct nd_request *req, struct nd_store *store, int64_t id,
                             const struct comment_query *q)
{
    struct nd_buf body = ND_BUF_INIT(SIZE_MAX / 2);
    char *next = NULL;
    nd_buf_reserve(&body, 4096);
    nd_buf_append_str(&body, "{\"data\":[");
    enum nd_err err = nd_store_comment_list_text(store, id, q->which, q->limit,
                                                 nd_request_query(req, "cursor"), &body, &next);
    if (err != ND_OK) {
        nd_buf_free(&body);
        return answer_list_error(req, err);
    }
    nd_buf_append_str(&body, "],\"next_cursor\":");
    if (next)
        nd_json_render_string(&body, next, strlen(next));
    else
        nd_buf_append_str(&body, "null");
    nd_buf_append_str(&body, "}");
    bool linked = add_next_link(req, id, q, next);
    free(next);
    if (!linked) {
        nd_buf_free(&body);
        return nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
    }
    return nd_respond_json_buf(req, 200, &body);
}

int nd_handle_comments_list(struct nd_request *req)
{
    int64_t id;
    struct comment_query q;
    json_t *items = NULL;
    char *next = NULL;
    if (!nd_parse_id(nd_request_param(req, 0), &id))
        return nd_respond_problem(req, 400, BAD_ARTICLE_ID);
    int status = parse_list_query(req, &q);
    if (status != 0)
        return status;
    struct nd_store *store = nd_request_store(req);
    if (!store)
        return nd_respond_unavailable(req);
    enum nd_err err = find_visible_article(req, store, id);
    if (err != ND_OK)
        return answer_article_error(req, err, id);
    nd_request_cache_article(req, id);
    if (!q.tree && q.fields.all)
        return respond_text_page(req, store, id, &q);
    err = nd_store_comment_list_filtered(store, id, q.which, q.tree, q.limit,
                                         nd_request_query(req, "cursor"), &items, &next);
    if (err != ND_OK)
        return answer_list_error(req, err);
    return respond_page(req, id, &q, items, next);
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

/*
 * Validates body, stores the comment on article id (pending under
 * pre-moderation; without a key only as a reply to a visible comment) and
 * answers 201 (or the failure).
 */
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
    unsigned flags = 0;
    if (nd_request_config(req)->comment_moderation == ND_MODERATION_PRE)
        flags |= ND_COMMENT_PENDING;
    if (!nd_request_has_key(req))
        flags |= ND_COMMENT_VISIBLE_PARENT;
    err = nd_store_comment_post(store, &fields, flags, &comment);
    nd_comment_input_fini(&in);
    if (err == ND_ERR_INVALID)
        return respond_bad_parent(req);
    if (err != ND_OK)
        return answer_article_error(req, err, id);
    return nd_handler_respond_created(req, "/v1/comments/", comment);
}

int nd_handle_comment_create(struct nd_request *req)
{
    int64_t id;
    json_t *body = NULL;
    if (!nd_parse_id(nd_request_param(req, 0), &id))
        return nd_respond_problem(req, 400, BAD_ARTICLE_ID);
    nd_request_wrote_comment(req, id);
    struct nd_store *store = NULL;
    int status = nd_request_rate_limit_comment(req);
    if (status == 0)
        status = nd_handler_store_and_body(req, &store, &body);
    if (status != 0)
        return status;
    enum nd_err err = find_visible_article(req, store, id);
    if (err != ND_OK)
        status = answer_article_error(req, err, id);
    else
        status = create_comment(req, store, id, body);
    json_decref(body);
    return status;
}

/* True when comment is pending. */
static bool is_pending(const json_t *comment)
{
    const char *status = json_string_value(json_object_get(comment, "status"));
    return status && strcmp(status, "pending") == 0;
}

int nd_handle_comment_get(struct nd_request *req)
{
    int64_t id;
    json_t *comment = NULL;
    struct nd_fields fields;
    if (!nd_parse_id(nd_request_param(req, 0), &id))
        return nd_respond_problem(req, 400, BAD_COMMENT_ID);
    int status = nd_handler_fields(req, ND_VOCAB_COMMENT, &fields);
    if (status != 0)
        return status;
    struct nd_store *store = nd_request_store(req);
    if (!store)
        return nd_respond_unavailable(req);
    enum nd_err err = nd_store_comment_get(store, id, &comment);
    if (err == ND_OK && is_pending(comment) && !nd_request_has_key(req))
        err = ND_ERR_NOT_FOUND;
    if (err == ND_OK) {
        int64_t article_id = (int64_t)json_integer_value(json_object_get(comment, "article_id"));
        err = find_visible_article(req, store, article_id);
        nd_request_cache_article(req, article_id);
    }
    if (err != ND_OK)
        json_decref(comment);
    if (err == ND_ERR_NOT_FOUND)
        return nd_respond_problem(req, 404, "no comment with id %" PRId64, id);
    if (err != ND_OK)
        return nd_respond_err(req, err, "could not read the comment");
    return nd_handler_respond_fields(req, &fields, comment, NULL);
}

/*
 * Reads the body of PATCH /v1/comments/{id}: status "visible" or "pending"
 * is the one writable member; the comment's other fields are read-only and
 * anything else is not allowed. *status stays NULL when the body sets none
 * (nothing to change). Returns 0, or the 422 it answered.
 */
static int parse_patch(struct nd_request *req, const json_t *body, const char **status)
{
    static const char *const readonly[] = {"id",     "article_id", "parent_id",
                                           "author", "body",       "created_at"};
    const char *key;
    const json_t *value;
    json_t *errors = json_array();
    if (!errors)
        return nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
    if (!json_is_object(body))
        json_array_append_new(
            errors, json_pack("{s:s, s:s}", "field", "", "message", "must be a JSON object"));
    json_object_foreach((json_t *)body, key, value)
    {
        const char *message = "is not allowed";
        if (strcmp(key, "status") == 0) {
            const char *text = json_string_value(value);
            if (text && (strcmp(text, "visible") == 0 || strcmp(text, "pending") == 0)) {
                *status = text;
                continue;
            }
            message = "must be visible or pending";
        }
        for (size_t i = 0; i < sizeof readonly / sizeof readonly[0]; i++)
            if (strcmp(key, readonly[i]) == 0)
                message = "is read-only";
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", key, "message", message));
    }
    if (json_array_size(errors) > 0)
        return nd_respond_invalid(req, errors);
    json_decref(errors);
    return 0;
}

/* Sets comment id's status (NULL: none given, the comment is answered as it is). */
static int apply_patch(struct nd_request *req, struct nd_store *store, int64_t id,
                       const char *status)
{
    json_t *comment = NULL;
    enum nd_err err =
        status ? nd_store_comment_set_status(store, id, strcmp(status, "pending") == 0, &comment)
               : nd_store_comment_get(store, id, &comment);
    if (err == ND_ERR_NOT_FOUND)
        return nd_respond_problem(req, 404, "no comment with id %" PRId64, id);
    if (err != ND_OK)
        return nd_respond_err(req, err, "could not change the comment");
    nd_request_wrote_comment(req,
                             (int64_t)json_integer_value(json_object_get(comment, "article_id")));
    return nd_respond_json(req, 200, comment);
}

int nd_handle_comment_patch(struct nd_request *req)
{
    int64_t id;
    json_t *body = NULL;
    const char *status = NULL;
    struct nd_store *store = NULL;
    int code = nd_handler_keyed_target(req, BAD_COMMENT_ID, &id, &store);
    if (code != 0)
        return code;
    code = nd_request_json(req, &body);
    if (code != 0)
        return code;
    code = parse_patch(req, body, &status);
    if (code == 0)
        code = apply_patch(req, store, id, status);
    json_decref(body);
    return code;
}

int nd_handle_comment_delete(struct nd_request *req)
{
    return nd_handler_delete(req, BAD_COMMENT_ID, "comment", nd_store_comment_delete);
}
