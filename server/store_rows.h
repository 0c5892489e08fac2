/*
 * store_rows.h: what every storage backend needs and none should write
 * twice (store_rows.c, store_tree.c). Backend files hold their SQL and the
 * glue to their client library; the rest is here:
 *   - a row of any backend's result read through one small interface
 *     (struct nd_row), and rows made into the contract's JSON by a table of
 *     members per resource (struct nd_shape), so both backends answer the
 *     same bytes;
 *   - the columns each resource's queries select, in shape order;
 *   - keyset pages: a cursor's sort keys, decoded and encoded once;
 *   - slug suffixing on a clash, and the tags' stored text;
 *   - comment trees assembled from rows (store_tree.c);
 *   - the export's header record.
 */
#ifndef NEWSD_STORE_ROWS_H
#define NEWSD_STORE_ROWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "newsd/err.h"
#include "newsd/store.h"
#include "newsd/text.h"

/* ---- rows --------------------------------------------------------------- */

/* How a backend reads column col of one row of its result. */
struct nd_row_reader {
    bool (*is_null)(const void *row, int col);
    int64_t (*integer)(const void *row, int col);
    double (*real)(const void *row, int col);
    /* the text of col (NUL-terminated, *len bytes); "" for SQL NULL; valid
       until the backend moves to the next row */
    const char *(*text)(const void *row, int col, size_t *len);
};

/* One row: a reader and the backend's handle of the row (borrowed). */
struct nd_row {
    const struct nd_row_reader *reader;
    const void *impl;
};

static inline bool nd_row_is_null(const struct nd_row *row, int col)
{
    return row->reader->is_null(row->impl, col);
}

static inline int64_t nd_row_int(const struct nd_row *row, int col)
{
    return row->reader->integer(row->impl, col);
}

static inline double nd_row_real(const struct nd_row *row, int col)
{
    return row->reader->real(row->impl, col);
}

static inline const char *nd_row_text(const struct nd_row *row, int col, size_t *len)
{
    return row->reader->text(row->impl, col, len);
}

/* ---- statements' parameters and the article list's filters ----------- */

/*
 * Article list statements are built from fixed fragments, one per filter
 * present; the set of filters is a bitmask and each mask gets its own cached
 * statement.
 */
enum nd_list_bit {
    ND_LIST_STATUS = 1 << 0,
    ND_LIST_CATEGORY = 1 << 1,
    ND_LIST_TAG = 1 << 2,
    ND_LIST_AUTHOR = 1 << 3,
    ND_LIST_SINCE = 1 << 4,
    ND_LIST_UNTIL = 1 << 5,
    ND_LIST_CURSOR = 1 << 6,
    ND_LIST_VARIANTS = 1 << 7
};

/*
 * Appends to sql (which has room for every fragment) one "AND ..." condition
 * per filter bit in mask, on the unqualified columns of articles, with the
 * named parameters :status, :category, :tag, :author, :since and :until.
 * ND_LIST_CURSOR adds nothing: the condition after a cursor depends on the
 * order, and each caller adds its own on :cursor_at and :cursor_id (which
 * nd_store_filter_params gives).
 */
void nd_store_filter_sql(char *sql, unsigned mask);

/* The filter bits that flt (and a cursor, when has_cursor) needs. */
unsigned nd_store_filter_mask(const struct nd_article_filter *flt, bool has_cursor);

/* ---- parameters -------------------------------------------------------- */

enum nd_param_type { ND_PARAM_SKIP, ND_PARAM_INT, ND_PARAM_TEXT, ND_PARAM_REAL, ND_PARAM_BLOB };

/*
 * A value for one named parameter. Text and blobs are borrowed until the
 * statement is released; NULL text binds SQL NULL. A list of them ends with
 * an entry whose name is NULL (ND_PARAMS adds it); ND_PARAM_SKIP entries
 * (the _IF forms with a false condition) bind nothing, which leaves the
 * parameter NULL, or lets a list name parameters that only some variants
 * of a statement have.
 */
struct nd_param {
    const char *name;
    enum nd_param_type type;
    int64_t integer;
    double real;
    const char *text;
    const void *blob;
    int blob_len;
};

#define ND_INT(n, v)                                                                               \
    {                                                                                              \
        .name = (n), .type = ND_PARAM_INT, .integer = (v)                                          \
    }
#define ND_TEXT(n, v)                                                                              \
    {                                                                                              \
        .name = (n), .type = ND_PARAM_TEXT, .text = (v)                                            \
    }
#define ND_BLOB(n, p, len)                                                                         \
    {                                                                                              \
        .name = (n), .type = ND_PARAM_BLOB, .blob = (p), .blob_len = (len)                         \
    }
#define ND_INT_IF(c, n, v)                                                                         \
    {                                                                                              \
        .name = (n), .type = (c) ? ND_PARAM_INT : ND_PARAM_SKIP, .integer = (v)                    \
    }
#define ND_TEXT_IF(c, n, v)                                                                        \
    {                                                                                              \
        .name = (n), .type = (c) ? ND_PARAM_TEXT : ND_PARAM_SKIP, .text = (v)                      \
    }
#define ND_REAL_IF(c, n, v)                                                                        \
    {                                                                                              \
        .name = (n), .type = (c) ? ND_PARAM_REAL : ND_PARAM_SKIP, .real = (v)                      \
    }
/* A parameter list for one call: ND_PARAMS(ND_INT(":id", id), ND_TEXT(":slug", slug)). */
#define ND_PARAMS(...) ((const struct nd_param[]){__VA_ARGS__, {.name = NULL}})

/* How many entries nd_store_filter_params writes. */
#define ND_FILTER_PARAMS 8

/*
 * Writes the parameters of the filters in mask into params[0] to
 * params[ND_FILTER_PARAMS - 1]: those of flt and, for ND_LIST_CURSOR, the
 * position cursor (published_at, id). Borrows flt's text.
 */
void nd_store_filter_params(struct nd_param params[ND_FILTER_PARAMS], unsigned mask,
                            const struct nd_article_filter *flt, const int64_t cursor[2]);

/* ---- rows as JSON ------------------------------------------------------- */

enum nd_col_kind {
    ND_COL_INT,
    ND_COL_INT_OR_NULL,
    ND_COL_TEXT,
    ND_COL_TEXT_OR_NULL,
    ND_COL_TEXT_OR_ABSENT, /* no member at all when the column is NULL */
    ND_COL_TIME,           /* seconds, as RFC 3339 text */
    ND_COL_TAGS,           /* a JSON array kept as text; column 0 holds the article id */
};

/* One member of an object: its key, the result column and how to read it. */
struct nd_col {
    const char *key;
    int col;
    enum nd_col_kind kind;
};

/* The members of a resource in the order clients see them; type (when not NULL) comes first. */
struct nd_shape {
    const char *type;
    const struct nd_col *cols;
    size_t ncols;
};

#define ND_SHAPE(type, cols)                                                                       \
    {                                                                                              \
        (type), (cols), sizeof(cols) / sizeof((cols)[0])                                           \
    }

/* Makes row, as how says, a new JSON value in *out (written on ND_OK only). */
typedef enum nd_err (*nd_row_map_fn)(const struct nd_row *row, const void *how, json_t **out);

/*
 * An nd_row_map_fn whose how is a struct nd_shape: the row as a new object.
 * ND_ERR_NOMEM, or ND_ERR_DB (logged) when stored text is not UTF-8 or
 * stored tags are not an array.
 */
enum nd_err nd_row_map_shape(const struct nd_row *row, const void *shape, json_t **out);

/*
 * Appends row as shape's object in JSON text to out: the very bytes
 * nd_json_render writes for what nd_row_map_shape makes, without making it
 * (a page of comments was some seventy allocations and frees). The same
 * errors; on one, out holds part of the object.
 */
enum nd_err nd_row_render_shape(const struct nd_row *row, const struct nd_shape *shape,
                                struct nd_buf *out);

/*
 * Adds key to obj with the text of column col. ND_OK, ND_ERR_NOMEM, or
 * ND_ERR_DB when the stored text is not valid UTF-8 (logged).
 */
enum nd_err nd_row_json_text(json_t *obj, const char *key, const struct nd_row *row, int col);

/* ---- the resources' columns --------------------------------------------- */

/* An article: every query that answers articles selects these, in this order. */
#define ND_ARTICLE_COLUMNS                                                                         \
    "id, slug, title, summary, body, author, category, tags, source_url, status, "                 \
    "published_at, created_at, updated_at, comment_count"
/* One article, by id or by slug: both backends' statements. */
#define ND_ARTICLE_GET_SQL "SELECT " ND_ARTICLE_COLUMNS " FROM articles WHERE id = :id"
#define ND_ARTICLE_GET_BY_SLUG_SQL "SELECT " ND_ARTICLE_COLUMNS " FROM articles WHERE slug = :slug"
/* Lists leave the body out: NULL in its place keeps the column numbers. */
#define ND_ARTICLE_LIST_COLUMNS                                                                    \
    "id, slug, title, summary, NULL, author, category, tags, source_url, status, "                 \
    "published_at, created_at, updated_at, comment_count"

enum nd_article_col {
    ND_ACOL_ID,
    ND_ACOL_SLUG,
    ND_ACOL_TITLE,
    ND_ACOL_SUMMARY,
    ND_ACOL_BODY,
    ND_ACOL_AUTHOR,
    ND_ACOL_CATEGORY,
    ND_ACOL_TAGS,
    ND_ACOL_SOURCE_URL,
    ND_ACOL_STATUS,
    ND_ACOL_PUBLISHED_AT,
    ND_ACOL_CREATED_AT,
    ND_ACOL_UPDATED_AT,
    ND_ACOL_COMMENT_COUNT,
};

/* The contract's article; a NULL body (lists) leaves "body" out. */
extern const struct nd_shape nd_article_shape;

/*
 * A comment: "id, article_id, parent_id, author, body, status, created_at".
 * The first ND_COMMENT_MEMBERS are what clients see; the export selects
 * ND_COMMENT_EXPORT_COLUMNS and writes them all, import_key last.
 */
#define ND_COMMENT_COLUMNS "id, article_id, parent_id, author, body, status, created_at"
#define ND_COMMENT_EXPORT_COLUMNS ND_COMMENT_COLUMNS ", import_key"
#define ND_COMMENT_MEMBERS 7

enum nd_comment_col {
    ND_CCOL_ID,
    ND_CCOL_ARTICLE_ID,
    ND_CCOL_PARENT_ID,
    ND_CCOL_AUTHOR,
    ND_CCOL_BODY,
    ND_CCOL_STATUS,
    ND_CCOL_CREATED_AT,
    ND_CCOL_IMPORT_KEY, /* ND_COMMENT_EXPORT_COLUMNS only */
};

/* The contract's comment. */
extern const struct nd_shape nd_comment_shape;

/* {"name","count"}: a category, tag or author and its number of articles. */
extern const struct nd_shape nd_name_count_shape;

/* {"name","key_id","created_at"}: an API key as listed. */
extern const struct nd_shape nd_key_shape;

/*
 * A change of the change log (store.h): the query selects
 * ND_CHANGE_COLUMNS; comment_id NULL makes it an article's change.
 */
#define ND_CHANGE_COLUMNS                                                                          \
    "id, kind, article_id, comment_id, public, status, slug, title, published_at, at"
enum nd_change_col {
    ND_XCOL_ID,
    ND_XCOL_KIND,
    ND_XCOL_ARTICLE_ID,
    ND_XCOL_COMMENT_ID,
    ND_XCOL_PUBLIC,
    ND_XCOL_STATUS,
    ND_XCOL_SLUG,
    ND_XCOL_TITLE,
    ND_XCOL_PUBLISHED_AT,
    ND_XCOL_AT,
};

/* row (ND_CHANGE_COLUMNS) as a change object in *out. */
enum nd_err nd_row_change(const struct nd_row *row, json_t **out);

/* ---- the export --------------------------------------------------------- */

/* The article records of an export: the query selects ND_EXPORT_ARTICLE_COLUMNS. */
#define ND_EXPORT_ARTICLE_COLUMNS                                                                  \
    "id, slug, title, summary, body, author, category, tags, source_url, status, "                 \
    "published_at, created_at, updated_at, import_key"
extern const struct nd_shape nd_export_article_shape;
/* The comment records: ND_COMMENT_EXPORT_COLUMNS. */
extern const struct nd_shape nd_export_comment_shape;

/* Hands the export's header record to emit. */
enum nd_err nd_export_header(nd_store_export_fn emit, void *ctx);

/* ---- keyset pages ------------------------------------------------------- */

#define ND_PAGE_KEYS_MAX 3

/*
 * One sort key of a page: an integer column, a REAL column (kept in the
 * cursor as the bits of the double, so it compares exactly), or a fixed
 * value that names the list the cursor belongs to.
 */
enum nd_key_kind { ND_KEY_INT, ND_KEY_REAL, ND_KEY_FIXED };

struct nd_page_key {
    enum nd_key_kind kind;
    int col;       /* ND_KEY_INT, ND_KEY_REAL */
    int64_t value; /* ND_KEY_FIXED */
};

/*
 * A keyset-paginated read: a statement that orders its rows by the sort
 * keys, starts after the position of the cursor and stops at limit + 1
 * rows (one more tells of a next page). The cursor of the next page is the
 * kind letter and the nkeys (2 or 3) sort keys of the last row shown;
 * another order is another kind letter and its own keys.
 */
struct nd_page {
    char kind;
    unsigned nkeys;
    struct nd_page_key keys[ND_PAGE_KEYS_MAX];
    unsigned limit;
    nd_row_map_fn map; /* one row to one item */
    const void *how;   /* map's second argument */
    /* when set, the items are written here as JSON text, comma-separated (map must be
       nd_row_map_shape: nd_row_render_shape), and no array is made */
    struct nd_buf *text;
};

/*
 * The article of row (selected as ND_ARTICLE_COLUMNS) appended to t->out
 * by nd_row_render_shape, its id and draft flag in t. ctx is the struct
 * nd_article_text: an nd_pg_read_fn as it is.
 */
enum nd_err nd_row_render_article(const struct nd_row *row, void *ctx);

/*
 * Row n (from 0) of page: a new item of items, or its text after a comma
 * (page->text).
 */
enum nd_err nd_page_add_row(const struct nd_page *page, const struct nd_row *row, unsigned n,
                            json_t *items);

/*
 * Decodes cursor into keys: zeros when cursor is NULL (the first page).
 * ND_ERR_INVALID when it is not a cursor of page: another kind, another
 * number of keys, another fixed value, or a NaN for an ND_KEY_REAL key.
 */
enum nd_err nd_page_start(const struct nd_page *page, const char *cursor,
                          int64_t keys[ND_PAGE_KEYS_MAX]);

/* The sort keys of row in page's order. */
void nd_page_row_keys(const struct nd_page *page, const struct nd_row *row,
                      int64_t keys[ND_PAGE_KEYS_MAX]);

/* A new cursor (malloc'd) for the position keys; NULL when out of memory. */
char *nd_page_cursor(const struct nd_page *page, const int64_t keys[ND_PAGE_KEYS_MAX]);

/* The double whose bits an ND_KEY_REAL key holds. */
double nd_page_key_double(int64_t bits);

/*
 * The text of the article list statement for order and the filter bits of
 * mask into sql (size bytes, ND_LIST_SQL_MAX is enough): SQL that both
 * backends run, selecting ND_ARTICLE_LIST_COLUMNS, after the cursor when
 * mask has ND_LIST_CURSOR, in order, up to :limit rows. With a tag it reads
 * the tag's rows of article_tags, which carry the newest order.
 */
#define ND_LIST_SQL_MAX 1024
enum nd_sql_dialect { ND_SQL_SQLITE, ND_SQL_POSTGRES };
void nd_list_sql(char *sql, size_t size, enum nd_article_order order, unsigned mask,
                 enum nd_sql_dialect dialect);

/* The keyset page of the article list in order (items as nd_article_shape). */
struct nd_page nd_list_page(enum nd_article_order order, unsigned limit);

/*
 * The keyset page of a comment list with filter which: oldest first, the
 * cursor holding the last comment's id and the filter (kind 'c'), items as
 * nd_comment_shape.
 */
struct nd_page nd_comment_page(enum nd_comment_filter which, unsigned limit);

/*
 * The keyset page of a search: articles or comments, ranked or newest
 * first. A ranked row selects the item's columns (articles: id, slug,
 * title, published_at; comments: id, article_id, created_at) and then its
 * score negated (lower is better, so it sorts ascending); items get
 * "score" positive and no "snippet" (the backend adds it). The cursor holds
 * the score's bits, the time and the id.
 */
struct nd_page nd_search_page(bool comments, bool newest, unsigned limit);

/*
 * The conditions "after the cursor" of those pages, on the columns score,
 * id and time_col with the parameters :cursor_score, :cursor_at and
 * :cursor_id: ranked, rows after (score, time, id) in the order of the
 * results; newest first, (time, id) alone.
 */
#define ND_SEARCH_AFTER_CURSOR(time_col)                                                           \
    " AND (score > :cursor_score OR (score = :cursor_score AND (" time_col                         \
    ", id) < (:cursor_at, :cursor_id)))"
#define ND_SEARCH_AFTER_CURSOR_NEWEST(time_col) " AND (" time_col ", id) < (:cursor_at, :cursor_id)"

/* ND_SEARCH_WINDOW (newsd/search.h) as SQL text, for a LIMIT. */
#define ND_SEARCH_WINDOW_SQL ND_SQL_NUMBER(ND_SEARCH_WINDOW)
#define ND_SQL_NUMBER(x) ND_SQL_NUMBER_(x)
#define ND_SQL_NUMBER_(x) #x

/* The object of the array items whose "id" is id (borrowed), or NULL. */
json_t *nd_items_find(json_t *items, int64_t id);

/* ---- slugs and tags ----------------------------------------------------- */

/* Derived slugs try "-2" up to this suffix before giving up with CONFLICT. */
#define ND_SLUG_TRIES 1000
/* Room for a derived slug: the longest slug, a suffix and the NUL. */
#define ND_SLUG_BUF (ND_SLUG_MAX + 16)

/* Sets *taken when slug belongs to an article other than self (0: none). */
typedef enum nd_err (*nd_slug_taken_fn)(void *ctx, const char *slug, int64_t self, bool *taken);

/*
 * Picks the slug to store for f on article self (0 when creating) into
 * *slug, which points at f->slug or at buf, asking taken (with ctx) about
 * each candidate. A given slug that is taken is ND_ERR_CONFLICT; a derived
 * one gets the first free suffix ("-2", "-3", ... cut to ND_SLUG_MAX).
 */
enum nd_err nd_slug_choose(const struct nd_article_fields *f, int64_t self, char buf[ND_SLUG_BUF],
                           const char **slug, nd_slug_taken_fn taken, void *ctx);

/*
 * f's tags as the compact JSON array text the articles table keeps,
 * malloc'd into *out. ND_ERR_INVALID for a NULL or non-UTF-8 tag.
 */
enum nd_err nd_tags_text(const struct nd_article_fields *f, char **out);

/* ---- comment trees (store_tree.c) --------------------------------------- */

/*
 * Ids and their nodes' "replies" arrays (borrowed from the tree), added in
 * increasing id order so that lookups can bisect.
 */
struct nd_node_index {
    int64_t *ids;
    json_t **replies;
    size_t len, cap;
};

void nd_node_index_fini(struct nd_node_index *ix);

/*
 * An nd_row_map_fn whose how is a struct nd_node_index: the comment row
 * (ND_COMMENT_COLUMNS) as a node with an empty "replies", registered there.
 */
enum nd_err nd_tree_node(const struct nd_row *row, const void *how, json_t **out);

/*
 * Hangs the reply row (ND_COMMENT_COLUMNS, and in column anchor_col the id
 * of the node it hangs under) into the "replies" of that node: one of tops,
 * or a reply hung earlier (registered in below). Rows come in id order, so
 * a parent is always met before its replies; a miss is ND_ERR_DB (logged).
 */
enum nd_err nd_tree_hang(const struct nd_row *row, int anchor_col, const struct nd_node_index *tops,
                         struct nd_node_index *below);

/*
 * The three walks down a thread, one text for both backends: JOIN is the
 * join that keeps its left side as the outer loop (SQLite: CROSS JOIN, a
 * hint to its planner; PostgreSQL: JOIN) and TOPS the rows of the JSON array
 * :tops as (value) joined to comments c on c.parent_id (SQLite: json_each;
 * PostgreSQL: jsonb_array_elements_text).
 *
 * ND_TREE_REPLIES_SQL: every reply below the top-level comments of the
 * article with ids :first..:last (exactly one page of them), oldest first,
 * with the id it hangs under (its parent) in column 7.
 *
 * ND_TREE_TOPS_STATUS_SQL: the top level of a tree of the comments with
 * :status, those whose ancestors all have another status: the walk starts
 * at the article's top-level comments and goes down only through comments
 * of another status, as below one with the status nothing can be top-level.
 * A keyset page after :after, :limit rows.
 *
 * ND_TREE_REPLIES_STATUS_SQL: every comment with :status below the tops of
 * a filtered page (:tops), oldest first, each with its nearest ancestor of
 * :status (its anchor) in column 7; the walk goes through every descendant,
 * whatever its status, carrying the anchor down.
 */
#define ND_TREE_COLUMNS_C                                                                          \
    "c.id, c.article_id, c.parent_id, c.author, c.body, c.status, c.created_at"
#define ND_TREE_REPLIES_SQL(JOIN)                                                                  \
    "WITH RECURSIVE sub(id) AS ("                                                                  \
    " SELECT id FROM comments WHERE parent_id IN (SELECT id FROM comments"                         \
    "  WHERE article_id = :article_id AND parent_id IS NULL AND id BETWEEN :first AND :last)"      \
    " UNION ALL"                                                                                   \
    " SELECT c.id FROM sub JOIN comments c ON c.parent_id = sub.id)"                               \
    " SELECT " ND_TREE_COLUMNS_C ", c.parent_id FROM sub " JOIN " comments c ON c.id = sub.id"     \
    " ORDER BY c.id"
#define ND_TREE_TOPS_STATUS_SQL(JOIN)                                                              \
    "WITH RECURSIVE roots(id) AS ("                                                                \
    " SELECT id FROM comments WHERE article_id = :article_id AND parent_id IS NULL"                \
    " UNION ALL"                                                                                   \
    " SELECT c.id FROM roots r " JOIN " comments p ON p.id = r.id"                                 \
    "  " JOIN " comments c ON c.parent_id = r.id WHERE p.status <> :status)"                       \
    " SELECT " ND_TREE_COLUMNS_C " FROM roots r " JOIN " comments c ON c.id = r.id"                \
    " WHERE c.status = :status AND c.id > :after ORDER BY c.id LIMIT :limit"
#define ND_TREE_REPLIES_STATUS_SQL(JOIN, TOPS)                                                     \
    "WITH RECURSIVE sub(id, anchor) AS ("                                                          \
    " SELECT c.id, c.parent_id FROM " TOPS " UNION ALL"                                            \
    " SELECT c.id, CASE WHEN p.status = :status THEN p.id ELSE s.anchor END"                       \
    "  FROM sub s " JOIN " comments p ON p.id = s.id " JOIN " comments c"                          \
    "  ON c.parent_id = s.id)"                                                                     \
    " SELECT " ND_TREE_COLUMNS_C ", s.anchor FROM sub s " JOIN " comments c ON c.id = s.id"        \
    " WHERE c.status = :status ORDER BY c.id"

/* The ids of ix as a JSON array text ("[3,8,12]"), malloc'd; NULL when out of memory. */
char *nd_node_ids_json(const struct nd_node_index *ix);

#endif
