/*
 * store_articles.c: articles in SQLite: create, read, update, delete, the
 * keyset-paginated list with its filters, and the categories in use.
 *
 * An article's tags are kept twice: articles.tags holds the JSON array as
 * clients see it (so reading an article needs no join), article_tags holds
 * one row per tag for the tag filter. Both are written in the same
 * transaction. The list statement is assembled from fixed fragments chosen by
 * which filters are present, never from request text, and each combination
 * is prepared once per connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/json.h"
#include "newsd/log.h"
#include "newsd/text.h"
#include "newsd/util.h"
#include "store_internal.h"

enum nd_err nd_sqlite_article_get(struct nd_store *store, int64_t id, json_t **out)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    return nd_store_get(st, ND_STMT_ARTICLE_GET, ND_ARTICLE_GET_SQL, ND_PARAMS(ND_INT(":id", id)),
                        &nd_article_shape, out, "article get");
}

enum nd_err nd_sqlite_article_get_by_slug(struct nd_store *store, const char *slug, json_t **out)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    if (!slug)
        return ND_ERR_NOT_FOUND;
    return nd_store_get(st, ND_STMT_ARTICLE_GET_BY_SLUG, ND_ARTICLE_GET_BY_SLUG_SQL,
                        ND_PARAMS(ND_TEXT(":slug", slug)), &nd_article_shape, out, "article get");
}

/* An nd_store_row_fn: nd_row_render_article of the statement's row. */
static enum nd_err read_article_text(sqlite3_stmt *stmt, void *ctx)
{
    struct nd_row row = nd_sqlite_row(stmt);
    return nd_row_render_article(&row, ctx);
}

enum nd_err nd_sqlite_article_text(struct nd_store *store, int64_t id, const char *slug,
                                   struct nd_article_text *t)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    if (slug)
        return nd_store_row(st, ND_STMT_ARTICLE_GET_BY_SLUG, ND_ARTICLE_GET_BY_SLUG_SQL,
                            ND_PARAMS(ND_TEXT(":slug", slug)), read_article_text, t, "article get");
    return nd_store_row(st, ND_STMT_ARTICLE_GET, ND_ARTICLE_GET_SQL, ND_PARAMS(ND_INT(":id", id)),
                        read_article_text, t, "article get");
}

enum nd_err nd_store_article_exists(struct nd_sqlite *st, int64_t id)
{
    return nd_store_row(st, ND_STMT_ARTICLE_EXISTS, "SELECT 1 FROM articles WHERE id = :id",
                        ND_PARAMS(ND_INT(":id", id)), NULL, NULL, "article lookup");
}

enum nd_err nd_sqlite_article_is_draft(struct nd_store *store, int64_t id, bool *draft)
{
    int64_t flag = 0;
    enum nd_err err =
        nd_store_row(nd_sqlite_of(store), ND_STMT_ARTICLE_IS_DRAFT,
                     "SELECT status = 'draft' FROM articles WHERE id = :id",
                     ND_PARAMS(ND_INT(":id", id)), nd_store_read_int, &flag, "article lookup");
    *draft = flag != 0;
    return err;
}

enum nd_err nd_sqlite_article_find_import(struct nd_store *store, const char *import_key,
                                          int64_t *id)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    if (!import_key)
        return ND_ERR_NOT_FOUND;
    return nd_store_row(st, ND_STMT_ARTICLE_FIND_IMPORT,
                        "SELECT id FROM articles WHERE import_key = :import_key",
                        ND_PARAMS(ND_TEXT(":import_key", import_key)), nd_store_read_int, id,
                        "article import lookup");
}

/* Sets *taken when slug belongs to an article other than self (0: none). */
static enum nd_err slug_taken(void *ctx, const char *slug, int64_t self, bool *taken)
{
    struct nd_sqlite *st = ctx;
    int64_t owner = 0;
    enum nd_err err =
        nd_store_row(st, ND_STMT_ARTICLE_SLUG_OWNER, "SELECT id FROM articles WHERE slug = :slug",
                     ND_PARAMS(ND_TEXT(":slug", slug)), nd_store_read_int, &owner, "slug lookup");
    if (err == ND_ERR_NOT_FOUND)
        err = ND_OK; /* owner stays 0: ids start at 1 */
    if (err == ND_OK)
        *taken = owner != 0 && owner != self;
    return err;
}

enum nd_err nd_store_article_begin(struct nd_sqlite *st, const struct nd_article_fields *f,
                                   char **tags)
{
    char *text = NULL;
    enum nd_err err = nd_tags_text(f, &text);
    if (err == ND_OK)
        err = nd_store_begin(st);
    if (err != ND_OK) {
        free(text);
        return err;
    }
    *tags = text;
    return ND_OK;
}

/* Replaces the article_tags rows of article id with f's tags. */
static enum nd_err write_tags(struct nd_sqlite *st, int64_t id, const struct nd_article_fields *f)
{
    enum nd_err err =
        nd_store_exec(st, ND_STMT_TAGS_DELETE, "DELETE FROM article_tags WHERE article_id = :id",
                      ND_PARAMS(ND_INT(":id", id)), "tags delete");
    /* Duplicate tags are harmless: the primary key keeps one row. */
    for (size_t i = 0; i < f->ntags && err == ND_OK; i++)
        err = nd_store_exec(
            st, ND_STMT_TAG_INSERT,
            "INSERT OR IGNORE INTO article_tags (tag, article_id, tagged_at, tagged_status, "
            "tagged_category) SELECT :tag, id, published_at, status, category FROM articles "
            "WHERE id = :id",
            ND_PARAMS(ND_TEXT(":tag", f->tags[i]), ND_INT(":id", id)), "tag insert");
    return err;
}

static const char insert_sql[] =
    "INSERT INTO articles (slug, title, summary, body, author, category, tags, source_url, "
    "status, published_at, created_at, updated_at, import_key) VALUES (:slug, :title, "
    ":summary, :body, :author, :category, :tags, :source_url, :status, :published_at, :now, "
    ":now, :import_key)";

/* An update keeps the import key unless a new one is given. */
static const char update_sql[] =
    "UPDATE articles SET slug = :slug, title = :title, summary = :summary, body = :body, "
    "author = :author, category = :category, tags = :tags, source_url = :source_url, "
    "status = :status, published_at = :published_at, updated_at = :now, "
    "import_key = coalesce(:import_key, import_key) WHERE id = :id";

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* Inserts (*id == 0) or updates article *id with f; *id gets the new id. */
static enum nd_err write_row(struct nd_sqlite *st, const struct nd_article_fields *f,
                             const char *slug, const char *tags, int64_t *id)
{
    bool create = *id == 0;
    const struct nd_param *params = ND_PARAMS(
        ND_TEXT(":slug", slug), ND_TEXT(":title", f->title),
        ND_TEXT(":summary", or_empty(f->summary)), ND_TEXT(":body", f->body),
        ND_TEXT(":author", or_empty(f->author)), ND_TEXT(":category", or_empty(f->category)),
        ND_TEXT(":tags", tags), ND_TEXT(":source_url", f->source_url),
        ND_TEXT(":status", f->draft ? "draft" : "published"),
        ND_INT(":published_at", f->published_at), ND_INT(":now", nd_time_now()),
        ND_TEXT(":import_key", f->import_key), ND_INT_IF(!create, ":id", *id));
    enum nd_err err =
        create ? nd_store_exec(st, ND_STMT_ARTICLE_INSERT, insert_sql, params, "article insert")
               : nd_store_exec(st, ND_STMT_ARTICLE_UPDATE, update_sql, params, "article update");
    if (err == ND_OK && create)
        *id = sqlite3_last_insert_rowid(st->db);
    return err;
}

/*
 * The body of create (id 0) and update: one write transaction that checks
 * existence, picks the slug, writes the row and its tags and reads the
 * result back. Any failure rolls everything back.
 */
static enum nd_err save_article(struct nd_sqlite *st, int64_t id, const struct nd_article_fields *f,
                                json_t **out)
{
    char buf[ND_SLUG_BUF];
    const char *slug = NULL;
    char *tags = NULL;
    json_t *article = NULL;
    if (!st || !f || !out || !f->slug || !f->title || !f->body || (f->ntags && !f->tags))
        return ND_ERR_INVALID;
    enum nd_err err = nd_store_article_begin(st, f, &tags);
    if (err != ND_OK)
        return err;
    if (id != 0)
        err = nd_store_article_exists(st, id);
    if (err == ND_OK)
        err = nd_slug_choose(f, id, buf, &slug, slug_taken, st);
    if (err == ND_OK)
        err = write_row(st, f, slug, tags, &id);
    if (err == ND_OK)
        err = write_tags(st, id, f);
    if (err == ND_OK)
        err = nd_sqlite_article_get(&st->base, id, &article);
    free(tags);
    return nd_store_finish_with(st, err, article, out);
}

enum nd_err nd_sqlite_article_create(struct nd_store *store, const struct nd_article_fields *f,
                                     json_t **out)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    return save_article(st, 0, f, out);
}

enum nd_err nd_sqlite_article_update(struct nd_store *store, int64_t id,
                                     const struct nd_article_fields *f, json_t **out)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    if (id <= 0)
        return ND_ERR_NOT_FOUND;
    return save_article(st, id, f, out);
}

enum nd_err nd_sqlite_article_delete(struct nd_store *store, int64_t id)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    enum nd_err err = nd_store_begin(st);
    if (err != ND_OK)
        return err;
    /*
     * The article's comments go with it by the cascade of comments.article_id,
     * inside this one statement: at its end no reply points at a removed
     * parent, whatever the nesting depth. The article row goes first, so the
     * change log records one article.deleted, not a comment.removed per
     * comment (migration 0006).
     */
    err = nd_store_exec_change(st, ND_STMT_ARTICLE_DELETE, "DELETE FROM articles WHERE id = :id",
                               ND_PARAMS(ND_INT(":id", id)), "article delete");
    return nd_store_finish(st, err);
}

/* ---- the list ---------------------------------------------------------- */

/* The cached list statement for order and the filter combination mask. */
static sqlite3_stmt *list_stmt(struct nd_sqlite *st, enum nd_article_order order, unsigned mask,
                               enum nd_err *err)
{
    char sql[ND_LIST_SQL_MAX];
    if (st->article_lists[order][mask])
        return st->article_lists[order][mask];
    nd_list_sql(sql, sizeof sql, order, mask, ND_SQL_SQLITE);
    return nd_store_prepare(st, &st->article_lists[order][mask], sql, err);
}

enum nd_err nd_sqlite_article_list_sorted(struct nd_store *store,
                                          const struct nd_article_filter *filter,
                                          enum nd_article_order order, unsigned limit,
                                          const char *cursor, json_t **items, char **next_cursor)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    static const struct nd_article_filter published = {.status = ND_STATUS_PUBLISHED};
    const struct nd_article_filter *flt = filter ? filter : &published;
    struct nd_page page;
    int64_t pos[ND_PAGE_KEYS_MAX];
    struct nd_param params[ND_FILTER_PARAMS + 1] = {{.name = NULL}};
    char *next = NULL;
    enum nd_err err = ND_OK;
    if (limit < 1 || limit > 100 || (unsigned)order >= ND_ORDER_COUNT)
        return ND_ERR_INVALID;
    page = nd_list_page(order, limit);
    if (nd_page_start(&page, cursor, pos) != ND_OK)
        return ND_ERR_INVALID;
    unsigned mask = nd_store_filter_mask(flt, cursor != NULL);
    sqlite3_stmt *stmt = list_stmt(st, order, mask, &err);
    if (!stmt)
        return err;
    json_t *arr = json_array();
    if (!arr) {
        nd_store_release(stmt);
        return ND_ERR_NOMEM;
    }
    nd_store_filter_params(params, mask, flt, pos);
    err = nd_store_page(st, stmt, params, &page, arr, &next, "article list");
    if (err != ND_OK) {
        json_decref(arr);
        return err;
    }
    *items = arr;
    *next_cursor = next;
    return ND_OK;
}

/* ---- categories -------------------------------------------------------- */

/*
 * The status condition is written so that no index can serve it: the
 * planner then answers from the covering index articles_by_category
 * (category, status, ...) alone, starting after the empty category. Given
 * "status = 'published'" it would pick articles_by_status instead and read
 * every row of the table (measured with 100,000 articles: 0.4 s against
 * 10-15 ms).
 */
static const char category_list_sql[] =
    "SELECT category, count(*) FROM articles"
    " WHERE category > '' AND (status = 'published' OR :drafts)"
    " GROUP BY category ORDER BY category COLLATE NOCASE, category";

enum nd_err nd_sqlite_category_list(struct nd_store *store, bool drafts, json_t **out)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    return nd_store_list(st, ND_STMT_CATEGORY_LIST, category_list_sql,
                         ND_PARAMS(ND_INT(":drafts", drafts ? 1 : 0)), nd_row_map_shape,
                         &nd_name_count_shape, out, "category list");
}
