/*
 * handler_articles.c: /v1/articles, /v1/articles/{id-or-slug} and the
 * names in use with their counts: /v1/categories, /v1/tags, /v1/authors.
 *
 * Each handler reads the request through http.h, checks it (validate.h),
 * decides who may see what (a draft exists only for a request with a key)
 * and calls the store; the store's JSON goes back unchanged. Every early
 * return answers the request first, so the returned status is always the
 * one that was set. A 5xx detail names the operation, never the cause: the
 * store has logged that once already.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/buf.h"
#include "newsd/handler_list.h"
#include "newsd/handler_write.h"
#include "newsd/handlers.h"
#include "newsd/store.h"
#include "newsd/text.h"
#include "newsd/util.h"
#include "newsd/validate.h"

#define BAD_ID "an article id is a positive decimal integer without leading zeros"

static bool is_draft(const json_t *article)
{
    const char *status = json_string_value(json_object_get(article, "status"));
    return status && strcmp(status, "draft") == 0;
}

/* The values of ?sort= on the list, by enum nd_article_order (newest, the default, first). */
static const char *const sort_values[ND_ORDER_COUNT] = {
    [ND_ORDER_NEWEST] = "newest",
    [ND_ORDER_OLDEST] = "oldest",
    [ND_ORDER_UPDATED] = "updated",
    [ND_ORDER_COMMENTED] = "commented",
};

int nd_handle_articles_list(struct nd_request *req)
{
    struct nd_list_query q;
    struct nd_fields fields;
    unsigned order = ND_ORDER_NEWEST;
    int status = nd_list_query_parse(req, &q);
    if (status == 0)
        status = nd_handler_choice(req, "sort", sort_values, ND_ORDER_COUNT, &order);
    if (status == 0)
        status = nd_handler_fields(req, ND_VOCAB_ARTICLE_ITEM, &fields);
    if (status != 0)
        return status;
    struct nd_store *store = nd_request_store(req);
    if (!store)
        return nd_respond_unavailable(req);
    json_t *items = NULL;
    char *next = NULL;
    enum nd_err err = nd_store_article_list_sorted(store, &q.filter, (enum nd_article_order)order,
                                                   q.limit, q.cursor, &items, &next);
    if (err == ND_ERR_INVALID)
        return nd_respond_problem(req, 400,
                                  "cursor is not a cursor of this list in sort order %s: "
                                  "start again without it",
                                  sort_values[order]);
    if (err != ND_OK)
        return nd_respond_err(req, err, "could not list the articles");
    struct nd_link_params lp;
    nd_link_params_list(&lp, &q, next);
    return nd_list_respond_page(req, items, next, "/v1/articles", &lp, &fields, NULL);
}

/*
 * Answers a verdict of validate.h: 0 on ND_OK (errors freed), else the 422
 * listing errors (taken) or the 500 it answered.
 */
static int answer_validation(struct nd_request *req, enum nd_err err, json_t *errors)
{
    if (err == ND_ERR_INVALID)
        return nd_respond_invalid(req, errors);
    json_decref(errors);
    if (err != ND_OK)
        return nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
    return 0;
}

int nd_article_write_problem(enum nd_err err, const struct nd_article_input *in, int64_t id,
                             char *detail, size_t len)
{
    int status = nd_err_http_status(err);
    if (err == ND_ERR_CONFLICT && in->slug_derived)
        snprintf(detail, len, "no free slug could be made from the title; give one");
    else if (err == ND_ERR_CONFLICT)
        snprintf(detail, len, "slug '%s' is taken", in->slug);
    else if (err == ND_ERR_NOT_FOUND)
        snprintf(detail, len, "no article with id %" PRId64, id);
    else if (status >= 500)
        snprintf(detail, len, "%s", nd_err_str(err)); /* never the cause: the store logged it */
    else
        snprintf(detail, len, "could not save the article");
    return err == ND_ERR_CONFLICT ? 409 : err == ND_ERR_NOT_FOUND ? 404 : status;
}

/* Answers a failed create or update of an article with the fields in. */
static int answer_write_error(struct nd_request *req, enum nd_err err,
                              const struct nd_article_input *in, int64_t id)
{
    char detail[256];
    int status = nd_article_write_problem(err, in, id, detail, sizeof detail);
    return nd_respond_problem(req, status, "%s", detail);
}

int nd_handle_article_create(struct nd_request *req)
{
    json_t *body = NULL, *errors = NULL, *article = NULL;
    struct nd_article_input in = {0};
    struct nd_article_fields fields;
    struct nd_store *store = NULL;
    int status = nd_request_require_key(req);
    if (status == 0)
        status = nd_handler_store_and_body(req, &store, &body);
    if (status != 0)
        return status;
    errors = json_array();
    status = answer_validation(req, nd_validate_article(body, nd_time_now(), &in, errors), errors);
    if (status != 0)
        goto out;
    nd_article_input_fields(&in, &fields);
    enum nd_err err = nd_store_article_create(store, &fields, &article);
    if (err != ND_OK)
        status = answer_write_error(req, err, &in, 0);
    else {
        nd_request_wrote_article(req, (int64_t)json_integer_value(json_object_get(article, "id")));
        status = nd_handler_respond_created(req, "/v1/articles/", article);
    }
out:
    nd_article_input_fini(&in);
    json_decref(body);
    return status;
}

/* 404 for the path segment key, naming it only when it is an id or a slug. */
static int article_not_found(struct nd_request *req, const char *key)
{
    int64_t id;
    if (nd_parse_id(key, &id))
        return nd_respond_problem(req, 404, "no article with id %" PRId64, id);
    if (nd_slug_valid(key))
        return nd_respond_problem(req, 404, "no article with slug '%s'", key);
    return nd_respond_problem(req, 404, "no article with that id or slug");
}

/*
 * The whole article (no fields chosen) written straight from its row into
 * its JSON text: the bytes nd_handler_respond_fields would send, without a
 * tree of it made and freed for each answer. ND_ERR_UNSUPPORTED when the
 * store cannot; the answer is set otherwise.
 */
static int respond_text(struct nd_request *req, struct nd_store *store, const char *key,
                        enum nd_err *err)
{
    struct nd_buf body = ND_BUF_INIT(SIZE_MAX / 2);
    struct nd_article_text t = {.out = &body};
    int64_t id = 0;
    *err = ND_ERR_NOT_FOUND;
    nd_buf_reserve(&body, 8192);
    if (nd_parse_id(key, &id))
        *err = nd_store_article_text(store, id, NULL, &t);
    else if (nd_slug_valid(key))
        *err = nd_store_article_text(store, 0, key, &t);
    if (*err == ND_OK && t.draft && !nd_request_has_key(req))
        *err = ND_ERR_NOT_FOUND;
    if (*err != ND_OK) {
        nd_buf_free(&body);
        return 0;
    }
    nd_request_cache_article(req, t.id);
    return nd_respond_json_buf(req, 200, &body);
}

/* Answers a failed read of the article key names. */
static int answer_get_error(struct nd_request *req, const char *key, enum nd_err err)
{
    if (err == ND_ERR_NOT_FOUND)
        return article_not_found(req, key);
    return nd_respond_err(req, err, "could not read the article");
}

int nd_handle_article_get(struct nd_request *req)
{
    const char *key = nd_request_param(req, 0);
    json_t *article = NULL;
    int64_t id;
    struct nd_fields fields;
    enum nd_err err = ND_ERR_NOT_FOUND;
    int status = nd_handler_fields(req, ND_VOCAB_ARTICLE, &fields);
    if (status != 0)
        return status;
    struct nd_store *store = nd_request_store(req);
    if (!store)
        return nd_respond_unavailable(req);
    if (fields.all) {
        status = respond_text(req, store, key, &err);
        if (err != ND_ERR_UNSUPPORTED)
            return err == ND_OK ? status : answer_get_error(req, key, err);
        err = ND_ERR_NOT_FOUND;
    }
    if (nd_parse_id(key, &id))
        err = nd_store_article_get(store, id, &article);
    else if (nd_slug_valid(key))
        err = nd_store_article_get_by_slug(store, key, &article);
    if (err == ND_OK && is_draft(article) && !nd_request_has_key(req)) {
        json_decref(article);
        err = ND_ERR_NOT_FOUND;
    }
    if (err != ND_OK)
        return answer_get_error(req, key, err);
    nd_request_cache_article(req, (int64_t)json_integer_value(json_object_get(article, "id")));
    return nd_handler_respond_fields(req, &fields, article, NULL);
}

/* 422 for a body that is JSON but not an object (before the article is looked up). */
static int respond_not_object(struct nd_request *req)
{
    json_t *errors = json_pack("[{s:s, s:s}]", "field", "", "message", "must be a JSON object");
    if (!errors)
        return nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
    return nd_respond_invalid(req, errors);
}

/* Loads article id into *current for a write; answers 404 or the store's error otherwise. */
static int load_for_write(struct nd_request *req, struct nd_store *store, int64_t id,
                          json_t **current)
{
    enum nd_err err = nd_store_article_get(store, id, current);
    if (err == ND_ERR_NOT_FOUND)
        return nd_respond_problem(req, 404, "no article with id %" PRId64, id);
    if (err != ND_OK)
        return nd_respond_err(req, err, "could not read the article");
    return 0;
}

int nd_handle_article_patch(struct nd_request *req)
{
    json_t *patch = NULL, *current = NULL, *errors = NULL, *article = NULL;
    struct nd_article_input in = {0};
    struct nd_article_fields fields;
    int64_t id = 0;
    struct nd_store *store = NULL;
    int status = nd_handler_keyed_target(req, BAD_ID, &id, &store);
    if (status != 0)
        return status;
    nd_request_wrote_article(req, id);
    status = nd_request_json(req, &patch);
    if (status != 0)
        return status;
    if (!json_is_object(patch))
        status = respond_not_object(req);
    else
        status = load_for_write(req, store, id, &current);
    if (status != 0)
        goto out;
    errors = json_array();
    status = answer_validation(
        req, nd_validate_article_patch(current, patch, nd_time_now(), &in, errors), errors);
    if (status != 0)
        goto out;
    nd_article_input_fields(&in, &fields);
    enum nd_err err = nd_store_article_update(store, id, &fields, &article);
    if (err != ND_OK)
        status = answer_write_error(req, err, &in, id);
    else
        status = nd_respond_json(req, 200, article);
out:
    nd_article_input_fini(&in);
    json_decref(current);
    json_decref(patch);
    return status;
}

int nd_handle_article_delete(struct nd_request *req)
{
    int64_t id;
    if (nd_parse_id(nd_request_param(req, 0), &id))
        nd_request_wrote_article(req, id);
    return nd_handler_delete(req, BAD_ID, "article", nd_store_article_delete);
}

/*
 * A list of names in use with their counts, all at once (categories, tags,
 * authors): a site has tens or hundreds of them, not millions, so there is
 * no page and no parameter (unknown ones are ignored, as everywhere). A key
 * counts drafts too, as it shows them on GET of an article; answers to
 * requests without one are cached like the list's. what names the list in
 * a 5xx detail.
 */
static int respond_counts(struct nd_request *req,
                          enum nd_err (*list)(struct nd_store *, bool, json_t **), const char *what)
{
    struct nd_store *store = nd_request_store(req);
    if (!store)
        return nd_respond_unavailable(req);
    json_t *items = NULL;
    nd_request_cache_articles_only(req);
    enum nd_err err = list(store, nd_request_has_key(req), &items);
    if (err != ND_OK)
        return nd_respond_err(req, err, what);
    json_t *answer = json_pack("{s:o}", "data", items);
    if (!answer)
        return nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
    return nd_respond_json(req, 200, answer);
}

int nd_handle_categories_list(struct nd_request *req)
{
    return respond_counts(req, nd_store_category_list, "could not list the categories");
}

int nd_handle_tags_list(struct nd_request *req)
{
    return respond_counts(req, nd_store_tag_list, "could not list the tags");
}

int nd_handle_authors_list(struct nd_request *req)
{
    return respond_counts(req, nd_store_author_list, "could not list the authors");
}
