/*
 * handler_list.h: what every paginated endpoint shares: reading the article
 * filters and limit from the query string, and answering one page as
 * {"data":[...],"next_cursor":...} with its Link header. Used by the article
 * list, the comment list and search, so that they accept and link alike.
 */
#ifndef NEWSD_HANDLER_LIST_H
#define NEWSD_HANDLER_LIST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "newsd/fields.h"
#include "newsd/http.h"
#include "newsd/store.h"

/* The list parameters of a request; strings borrowed from the request. */
struct nd_list_query {
    unsigned limit;
    const char *cursor;
    const char *since; /* as given, for the next-page link */
    const char *until;
    const char *status; /* as given; the parsed value is in filter.status */
    const char *fields; /* as given, for the next-page link; the handler parses it */
    const char *sort;   /* as given, for the next-page link; the handler parses it */
    struct nd_article_filter filter;
};

/*
 * Reads limit, cursor, category, tag, author, since, until and status into
 * *q. A status other than published needs a key. Returns 0, or the status
 * of the problem it answered (400, 401, 503).
 */
int nd_list_query_parse(struct nd_request *req, struct nd_list_query *q);

/*
 * Reads the query parameter name, which must be one of values[0..n) (NULL:
 * absent, which gives 0, the first value, the default) into *index.
 * Returns 0, or the 400 it answered ("NAME must be A, B or C").
 */
int nd_handler_choice(struct nd_request *req, const char *name, const char *const *values, size_t n,
                      unsigned *index);

/* The resources whose members ?fields= can choose from (see newsd/fields.h). */
enum nd_vocabulary {
    ND_VOCAB_ARTICLE,      /* one article: every member */
    ND_VOCAB_ARTICLE_ITEM, /* an item of the article list: every member but body */
    ND_VOCAB_COMMENT,      /* a comment, alone or in a list or tree ("replies" always stays) */
    ND_VOCAB_ARTICLE_HIT,  /* an article found by search */
    ND_VOCAB_COMMENT_HIT,  /* a comment found by search */
};

/*
 * Reads ?fields= of the request against vocab into *out. Returns 0, or the
 * 400 it answered (the detail names the unknown entry and lists the names
 * there are).
 */
int nd_handler_fields(struct nd_request *req, enum nd_vocabulary vocab, struct nd_fields *out);

/*
 * Trims resource (an object, or with many an array of them) to f and
 * answers it with status 200 (nd_respond_json); takes resource. nested as
 * for nd_fields_apply. Returns the status (500 when out of memory).
 */
int nd_handler_respond_fields(struct nd_request *req, const struct nd_fields *f, json_t *resource,
                              const char *nested);

/* The query parameters a next-page link repeats. */
#define ND_LINK_PARAMS_MAX 12
struct nd_link_params {
    char limit[12]; /* the limit as text */
    size_t n;
    const char *pairs[ND_LINK_PARAMS_MAX][2]; /* {name, value}; a NULL value is left out */
};

/* Sets lp to the parameters of q: limit, cursor (next), filters, status, fields, sort. */
void nd_link_params_list(struct nd_link_params *lp, const struct nd_list_query *q,
                         const char *next);

/* Appends one {name, value} pair (both borrowed). Returns false when lp is full. */
bool nd_link_params_add(struct nd_link_params *lp, const char *name, const char *value);

/*
 * Sets the Link header to the next page: path with lp's parameters (which
 * name the cursor). False, the answer's headers lost, when out of memory.
 */
bool nd_list_next_link(struct nd_request *req, const char *path, const struct nd_link_params *lp);

/*
 * Answers one page: {"data":items,"next_cursor":next|null}, each item
 * trimmed to f (NULL: untouched; nested as for nd_fields_apply) and, when
 * there is a next page, a Link header to path with lp's parameters. Takes
 * items and next (malloc'd). Returns the status.
 */
int nd_list_respond_page(struct nd_request *req, json_t *items, char *next, const char *path,
                         const struct nd_link_params *lp, const struct nd_fields *f,
                         const char *nested);

#endif
