/*
 * handler_list.c: the query parsing, sparse fieldsets and page answers
 * shared by the list, single-resource and search handlers (see
 * newsd/handler_list.h).
 */
#include "newsd/handler_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/url.h"
#include "newsd/util.h"
#include "newsd/validate.h"

#define TIME_HINT "an RFC 3339 date-time such as 2025-07-12T09:30:00Z"

/* Parses since or until (NULL: absent). Answers 400 and returns it when malformed, else 0. */
static int parse_time_param(struct nd_request *req, const char *name, const char *text, bool *has,
                            int64_t *value)
{
    *has = text != NULL;
    if (text && !nd_time_parse(text, value))
        return nd_respond_problem(req, 400, "%s must be " TIME_HINT, name);
    return 0;
}

static int parse_status(struct nd_request *req, struct nd_list_query *q)
{
    q->status = nd_request_query(req, "status");
    if (!q->status || strcmp(q->status, "published") == 0)
        q->filter.status = ND_STATUS_PUBLISHED;
    else if (strcmp(q->status, "draft") == 0)
        q->filter.status = ND_STATUS_DRAFT;
    else if (strcmp(q->status, "any") == 0)
        q->filter.status = ND_STATUS_ANY;
    else
        return nd_respond_problem(req, 400, "status must be published, draft or any");
    return q->filter.status == ND_STATUS_PUBLISHED ? 0 : nd_request_require_key(req);
}

static const char *const article_names[] = {
    "id",   "slug",       "title",  "summary",      "body",       "author",     "category",
    "tags", "source_url", "status", "published_at", "created_at", "updated_at", "comment_count",
};
/* The same without body, which list items never carry. */
static const char *const article_item_names[] = {
    "id",         "slug",   "title",        "summary",    "author",     "category",      "tags",
    "source_url", "status", "published_at", "created_at", "updated_at", "comment_count",
};
static const char *const comment_names[] = {
    "id", "article_id", "parent_id", "author", "body", "status", "created_at",
};
static const char *const article_hit_names[] = {
    "id", "slug", "title", "published_at", "snippet", "score",
};
static const char *const comment_hit_names[] = {
    "id", "article_id", "created_at", "snippet", "score",
};

#define VOCAB(a, what)                                                                             \
    {                                                                                              \
        a, sizeof a / sizeof a[0], what                                                            \
    }
static const struct {
    const char *const *names;
    size_t count;
    const char *what;
} vocabularies[] = {
    [ND_VOCAB_ARTICLE] = VOCAB(article_names, "an article"),
    [ND_VOCAB_ARTICLE_ITEM] = VOCAB(article_item_names, "an item of the article list (no body)"),
    [ND_VOCAB_COMMENT] = VOCAB(comment_names, "a comment"),
    [ND_VOCAB_ARTICLE_HIT] = VOCAB(article_hit_names, "an article search result"),
    [ND_VOCAB_COMMENT_HIT] = VOCAB(comment_hit_names, "a comment search result"),
};

int nd_handler_fields(struct nd_request *req, enum nd_vocabulary vocab, struct nd_fields *out)
{
    char why[640];
    if (nd_fields_parse(nd_request_query(req, "fields"), vocabularies[vocab].names,
                        vocabularies[vocab].count, vocabularies[vocab].what, out, why,
                        sizeof why) != ND_OK)
        return nd_respond_problem(req, 400, "%s", why);
    return 0;
}

int nd_handler_respond_fields(struct nd_request *req, const struct nd_fields *f, json_t *resource,
                              const char *nested)
{
    enum nd_err err = json_is_array(resource) ? nd_fields_apply_all(f, resource, nested)
                                              : nd_fields_apply(f, resource, nested);
    if (err != ND_OK) {
        json_decref(resource);
        return nd_respond_err(req, err, "out of memory");
    }
    return nd_respond_json(req, 200, resource);
}

int nd_handler_choice(struct nd_request *req, const char *name, const char *const *values, size_t n,
                      unsigned *index)
{
    char list[256] = "";
    size_t used = 0;
    const char *text = nd_request_query(req, name);
    for (size_t i = 0; i < n; i++)
        if (text && strcmp(text, values[i]) == 0) {
            *index = (unsigned)i;
            return 0;
        }
    if (!text) {
        *index = 0;
        return 0;
    }
    for (size_t i = 0; i < n && used < sizeof list; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(list + used, sizeof list - used, "%s%s", sep, values[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    return nd_respond_problem(req, 400, "%s must be %s", name, list);
}

int nd_list_query_parse(struct nd_request *req, struct nd_list_query *q)
{
    memset(q, 0, sizeof *q);
    if (!nd_validate_limit(nd_request_query(req, "limit"), &q->limit))
        return nd_respond_problem(req, 400, "limit must be an integer from 1 to %d", ND_LIMIT_MAX);
    q->cursor = nd_request_query(req, "cursor");
    q->filter.category = nd_request_query(req, "category");
    q->filter.tag = nd_request_query(req, "tag");
    q->filter.author = nd_request_query(req, "author");
    q->since = nd_request_query(req, "since");
    q->until = nd_request_query(req, "until");
    q->fields = nd_request_query(req, "fields");
    q->sort = nd_request_query(req, "sort");
    int status = parse_time_param(req, "since", q->since, &q->filter.has_since, &q->filter.since);
    if (status == 0)
        status = parse_time_param(req, "until", q->until, &q->filter.has_until, &q->filter.until);
    if (status == 0)
        status = parse_status(req, q);
    return status;
}

bool nd_link_params_add(struct nd_link_params *lp, const char *name, const char *value)
{
    if (lp->n == ND_LINK_PARAMS_MAX)
        return false;
    lp->pairs[lp->n][0] = name;
    lp->pairs[lp->n][1] = value;
    lp->n++;
    return true;
}

void nd_link_params_list(struct nd_link_params *lp, const struct nd_list_query *q, const char *next)
{
    lp->n = 0;
    snprintf(lp->limit, sizeof lp->limit, "%u", q->limit);
    nd_link_params_add(lp, "limit", lp->limit);
    nd_link_params_add(lp, "cursor", next);
    nd_link_params_add(lp, "category", q->filter.category);
    nd_link_params_add(lp, "tag", q->filter.tag);
    nd_link_params_add(lp, "author", q->filter.author);
    nd_link_params_add(lp, "since", q->since);
    nd_link_params_add(lp, "until", q->until);
    nd_link_params_add(lp, "status", q->status);
    nd_link_params_add(lp, "fields", q->fields);
    nd_link_params_add(lp, "sort", q->sort);
}

int nd_list_respond_page(struct nd_request *req, json_t *items, char *next, const char *path,
                         const struct nd_link_params *lp, const struct nd_fields *f,
                         const char *nested)
{
    int status;
    json_t *page = NULL;
    if (f && nd_fields_apply_all(f, items, nested) != ND_OK) {
        json_decref(items);
        status = nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
        goto out;
    }
    page = json_pack("{s:o, s:s?}", "data", items, "next_cursor", next);
    if (!page) {
        status = nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (next && !nd_list_next_link(req, path, lp)) {
        json_decref(page);
        status = nd_respond_err(req, ND_ERR_NOMEM, "out of memory");
        goto out;
    }
    status = nd_respond_json(req, 200, page);
out:
    free(next);
    return status;
}

bool nd_list_next_link(struct nd_request *req, const char *path, const struct nd_link_params *lp)
{
    char *link = nd_url_build_next_link(path, lp->pairs, lp->n);
    bool ok = link && nd_respond_header(req, "Link", link);
    free(link);
    return ok;
}
