/*
 * validate.h: checking what clients send, before anything reaches the store.
 *
 * Request bodies become owned, trimmed, defaulted input structs that fill the
 * store's field structs; every bad field is reported at once as an entry
 * {"field","message"} appended to a Jansson array, which the handler answers
 * as one 422. Query parameters shared by the lists (limit) are parsed here
 * too, and so is the one place that writes a query string back (the next-page
 * link), so that what a list accepts and what it links to stay in step.
 *
 * Everything here is pure: no I/O, no clock (callers pass "now"), so every
 * rule is unit-tested on its own (tests/unit/test_validate.c).
 *
 * Rules (docs/api.md, "Requests and responses" and "Articles"):
 *   - free text (title, body, summary, author, category, tags, source_url)
 *     is trimmed of surrounding white space (ASCII and Unicode spaces)
 *     before its length is checked; lengths count code points, except body's
 *     1 MiB, which counts bytes;
 *   - single-line text (title, author, category, tags, source_url) may not
 *     hold control characters; multi-line text (body, summary, a comment's
 *     body) may hold tabs and line breaks but no other control character;
 *   - slug, status and published_at are taken exactly as given;
 *   - null for an optional field means its default (as in a merge patch).
 */
#ifndef NEWSD_VALIDATE_H
#define NEWSD_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "newsd/err.h"
#include "newsd/store.h"

#define ND_TITLE_MAX 300          /* characters */
#define ND_BODY_MAX_BYTES 1048576 /* bytes */
#define ND_SUMMARY_GIVEN_MAX 1000 /* characters, for a summary the client writes */
#define ND_AUTHOR_MAX 80          /* characters, articles and comments */
#define ND_CATEGORY_MAX 100       /* characters */
#define ND_TAGS_MAX 20            /* distinct tags per article */
#define ND_TAG_MAX 50             /* characters per tag */
#define ND_URL_MAX 2048           /* characters */
#define ND_COMMENT_BODY_MAX 10000 /* characters */
#define ND_LIMIT_DEFAULT 20
#define ND_LIMIT_MAX 100

/* A valid article body, every string malloc'd and owned by the struct. */
struct nd_article_input {
    char *slug;
    bool slug_derived; /* the slug was made from the title: the store may suffix it */
    char *title;
    char *summary;
    char *body;
    char *author;   /* "" when none */
    char *category; /* "" when none */
    char **tags;    /* distinct, in the order given */
    size_t ntags;
    char *source_url; /* NULL when none */
    bool draft;
    int64_t published_at;
};

/* Frees what the struct owns and zeroes it. Accepts NULL and a zeroed struct. */
void nd_article_input_fini(struct nd_article_input *in);

/* Points f at in's values (borrowed: valid while in lives); import_key NULL. */
void nd_article_input_fields(const struct nd_article_input *in, struct nd_article_fields *f);

/*
 * Checks obj, the body of POST /v1/articles, and fills *in with its values
 * and defaults (slug from the title, summary from the body, published_at =
 * now). Returns ND_OK; ND_ERR_INVALID having appended one entry per bad
 * field to errors; ND_ERR_NOMEM. *in is written only on ND_OK.
 */
enum nd_err nd_validate_article(const json_t *obj, int64_t now, struct nd_article_input *in,
                                json_t *errors);

/*
 * Applies patch, the body of PATCH /v1/articles/{id}, to current (an article
 * as the store returns it) with JSON merge patch semantics at the top level,
 * and checks the merged article as a whole. A member set to null resets
 * slug (derived again from the title), summary (derived from the body),
 * author, category ("") tags ([]) and source_url (none); null is refused for
 * title, body, status and published_at. A patch that changes body and says
 * nothing of summary derives the summary anew when the current one was the
 * derived one. A slug kept or given has slug_derived false. Returns and
 * fills *in as nd_validate_article; both borrowed values are unchanged.
 */
enum nd_err nd_validate_article_patch(const json_t *current, const json_t *patch, int64_t now,
                                      struct nd_article_input *in, json_t *errors);

/* A valid comment body, strings malloc'd and owned by the struct. */
struct nd_comment_input {
    char *author;
    char *body;
    bool has_parent;
    int64_t parent_id;
};

/* Frees what the struct owns and zeroes it. Accepts NULL and a zeroed struct. */
void nd_comment_input_fini(struct nd_comment_input *in);

/* Points f at in's values (borrowed) for the comment of article_id. */
void nd_comment_input_fields(const struct nd_comment_input *in, int64_t article_id,
                             struct nd_comment_fields *f);

/*
 * Checks obj, the body of POST /v1/articles/{id}/comments. Returns as
 * nd_validate_article; *in is written only on ND_OK.
 */
enum nd_err nd_validate_comment(const json_t *obj, struct nd_comment_input *in, json_t *errors);

/*
 * Parses a limit query value: decimal digits only, 1..ND_LIMIT_MAX. NULL
 * (absent) gives ND_LIMIT_DEFAULT. Returns false, writing nothing, otherwise.
 */
bool nd_validate_limit(const char *text, unsigned *out);

#endif
