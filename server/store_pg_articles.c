/*
 * store_pg_articles.c: articles, their lists, the categories, tags and
 * authors in use, and API keys, in PostgreSQL. The statements mirror the
 * SQLite backend's (store_articles.c, store_taxonomy.c, store_keys.c) and
 * share its column lists, list SQL, slug rule and row shapes, so answers
 * are the same bytes; what differs is PostgreSQL's dialect: RETURNING for
 * new ids, ON CONFLICT for duplicate tags, and ASCII case folded by
 * translate() where SQLite says COLLATE NOCASE.
 */
#include <stdlib.h>
#include <string.h>

#include "newsd/log.h"
#include "newsd/util.h"
#include "store_pg.h"

enum nd_err nd_pg_article_get(struct nd_store *store, int64_t id, json_t **out)
{
    return nd_pg_get(nd_pg_of(store), PG_ARTICLE_GET, ND_ARTICLE_GET_SQL,
                     ND_PARAMS(ND_INT(":id", id)), &nd_article_shape, out, "article get");
}

/*
 * Whether text can be sent as a value: PostgreSQL refuses a string that is
 * not UTF-8 (SQLSTATE 22021), where SQLite compares its bytes and finds no
 * row. Every stored string is UTF-8, so a lookup by any other matches none.
 */
static bool sendable(const char *text)
{
    return !text || nd_utf8_valid(text, strlen(text));
}

enum nd_err nd_pg_article_get_by_slug(struct nd_store *store, const char *slug, json_t **out)
{
    if (!slug || !sendable(slug))
        return ND_ERR_NOT_FOUND;
    return nd_pg_get(nd_pg_of(store), PG_ARTICLE_GET_BY_SLUG, ND_ARTICLE_GET_BY_SLUG_SQL,
                     ND_PARAMS(ND_TEXT(":slug", slug)), &nd_article_shape, out, "article get");
}

enum nd_err nd_pg_article_text(struct nd_store *store, int64_t id, const char *slug,
                               struct nd_article_text *t)
{
    struct nd_pg *st = nd_pg_of(store);
    if (!slug)
        return nd_pg_row_one(st, PG_ARTICLE_GET, ND_ARTICLE_GET_SQL, ND_PARAMS(ND_INT(":id", id)),
                             nd_row_render_article, t, "article get");
    if (!sendable(slug))
        return ND_ERR_NOT_FOUND;
    return nd_pg_row_one(st, PG_ARTICLE_GET_BY_SLUG, ND_ARTICLE_GET_BY_SLUG_SQL,
                         ND_PARAMS(ND_TEXT(":slug", slug)), nd_row_render_article, t,
                         "article get");
}

enum nd_err nd_pg_article_exists(struct nd_pg *st, int64_t id)
{
    return nd_pg_row_one(st, PG_ARTICLE_EXISTS, "SELECT 1 FROM articles WHERE id = :id",
                         ND_PARAMS(ND_INT(":id", id)), NULL, NULL, "article lookup");
}

enum nd_err nd_pg_article_find_import(struct nd_store *store, const char *import_key, int64_t *id)
{
    if (!import_key)
        return ND_ERR_NOT_FOUND;
    return nd_pg_row_one(nd_pg_of(store), PG_ARTICLE_FIND_IMPORT,
                         "SELECT id FROM articles WHERE import_key = :import_key",
                         ND_PARAMS(ND_TEXT(":import_key", import_key)), nd_pg_read_int, id,
                         "article import lookup");
}

enum nd_err nd_pg_article_is_draft(struct nd_store *store, int64_t id, bool *draft)
{
    int64_t flag = 0;
    enum nd_err err =
        nd_pg_row_one(nd_pg_of(store), PG_ARTICLE_IS_DRAFT,
                      "SELECT (status = 'draft')::int FROM articles WHERE id = :id",
                      ND_PARAMS(ND_INT(":id", id)), nd_pg_read_int, &flag, "article lookup");
    *draft = flag != 0;
    return err;
}

/*
 * An nd_slug_taken_fn: whether slug belongs to an article other than self.
 * Writers run side by side (migration 0005): migration 0005's
 * newsd_slug_owner first takes a lock of the slug, held to the end of the
 * transaction, so of two writers that want one slug the second waits for
 * the first to commit, sees its row and suffixes its own, as SQLite's
 * single writer would have it.
 */
static enum nd_err slug_taken(void *ctx, const char *slug, int64_t self, bool *taken)
{
    int64_t owner = 0;
    enum nd_err err =
        nd_pg_row_one(ctx, PG_ARTICLE_SLUG_OWNER, "SELECT coalesce(newsd_slug_owner(:slug), 0)",
                      ND_PARAMS(ND_TEXT(":slug", slug)), nd_pg_read_int, &owner, "slug lookup");
    if (err == ND_OK)
        *taken = owner != 0 && owner != self;
    return err;
}

/* The article_tags rows of article id, from tags (its JSON array of names). */
static enum nd_err insert_tags(struct nd_pg *st, int64_t id, const char *tags)
{
    return nd_pg_exec(
        st, PG_TAG_INSERT,
        "INSERT INTO article_tags (tag, article_id, tagged_at, tagged_status, "
        "tagged_category) SELECT t, id, published_at, status, category FROM articles, "
        "json_array_elements_text(:tags::json) AS t WHERE id = :id "
        "ON CONFLICT DO NOTHING",
        ND_PARAMS(ND_TEXT(":tags", tags), ND_INT(":id", id)), false, "tags insert");
}

/* A new article and its tags in one statement, the row as nd_pg_article_get reads it. */
static const char insert_sql[] =
    "WITH a AS (INSERT INTO articles (slug, title, summary, body, author, category, tags, "
    "source_url, status, published_at, created_at, updated_at, import_key) VALUES (:slug, "
    ":title, :summary, :body, :author, :category, :tags, :source_url, :status, :published_at, "
    ":now, :now, :import_key) RETURNING " ND_ARTICLE_COLUMNS "), "
    "t AS (INSERT INTO article_tags (tag, article_id, tagged_at, tagged_status, tagged_category) "
    "SELECT DISTINCT t, a.id, a.published_at, a.status, a.category FROM a, "
    "json_array_elements_text(:tags::json) AS t ON CONFLICT DO NOTHING) "
    "SELECT * FROM a";

/* An update keeps the import key unless a new one is given. */
static const char update_sql[] =
    "UPDATE articles SET slug = :slug, title = :title, summary = :summary, body = :body, "
    "author = :author, category = :category, tags = :tags, source_url = :source_url, "
    "status = :status, published_at = :published_at, updated_at = :now, "
    "import_key = coalesce(:import_key, import_key) WHERE id = :id RETURNING " ND_ARTICLE_COLUMNS;

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/*
 * Inserts (id 0) or updates article id with f (its tags included), in the
 * transaction open; *out is the row as nd_pg_article_get reads it.
 */
static enum nd_err write_row(struct nd_pg *st, const struct nd_article_fields *f, const char *slug,
                             const char *tags, int64_t id, json_t **out)
{
    bool create = id == 0;
    const struct nd_param *params = ND_PARAMS(
        ND_TEXT(":slug", slug), ND_TEXT(":title", f->title),
        ND_TEXT(":summary", or_empty(f->summary)), ND_TEXT(":body", f->body),
        ND_TEXT(":author", or_empty(f->author)), ND_TEXT(":category", or_empty(f->category)),
        ND_TEXT(":tags", tags), ND_TEXT(":source_url", f->source_url),
        ND_TEXT(":status", f->draft ? "draft" : "published"),
        ND_INT(":published_at", f->published_at), ND_INT(":now", nd_time_now()),
        ND_TEXT(":import_key", f->import_key), ND_INT_IF(!create, ":id", id));
    if (create)
        return nd_pg_get(st, PG_ARTICLE_INSERT, insert_sql, params, &nd_article_shape, out,
                         "article insert");
    enum nd_err err = nd_pg_get(st, PG_ARTICLE_UPDATE, update_sql, params, &nd_article_shape, out,
                                "article update");
    if (err == ND_OK)
        err = nd_pg_exec(st, PG_TAGS_DELETE, "DELETE FROM article_tags WHERE article_id = :id",
                         ND_PARAMS(ND_INT(":id", id)), false, "tags delete");
    if (err == ND_OK && f->ntags > 0)
        err = insert_tags(st, id, tags);
    return err;
}

/* Create (id 0) and update, in one write transaction, as on SQLite. */
static enum nd_err save_once(struct nd_pg *st, int64_t id, const struct nd_article_fields *f,
                             json_t **out)
{
    char buf[ND_SLUG_BUF];
    const char *slug = NULL;
    char *tags = NULL;
    json_t *article = NULL;
    if (!f || !out || !f->slug || !f->title || !f->body || (f->ntags && !f->tags))
        return ND_ERR_INVALID;
    enum nd_err err = nd_tags_text(f, &tags);
    if (err != ND_OK)
        return err;
    err = nd_pg_begin(st);
    if (err != ND_OK) {
        free(tags);
        return err;
    }
    if (id != 0)
        err = nd_pg_article_exists(st, id);
    if (err == ND_OK)
        err = nd_slug_choose(f, id, buf, &slug, slug_taken, st);
    if (err == ND_OK)
        err = write_row(st, f, slug, tags, id, &article);
    free(tags);
    return nd_pg_finish_with(st, err, article, out);
}

/*
 * A derived slug may still meet a clash (an article renamed to one of its
 * suffixed forms between the look-up and the write): the save is tried
 * again, and the second try sees that row.
 */
static enum nd_err save_article(struct nd_pg *st, int64_t id, const struct nd_article_fields *f,
                                json_t **out)
{
    enum nd_err err = save_once(st, id, f, out);
    for (unsigned again = 0; err == ND_ERR_CONFLICT && f->slug_derived && again < 3; again++)
        err = save_once(st, id, f, out);
    return err;
}

enum nd_err nd_pg_article_create(struct nd_store *store, const struct nd_article_fields *f,
                                 json_t **out)
{
    return save_article(nd_pg_of(store), 0, f, out);
}

enum nd_err nd_pg_article_update(struct nd_store *store, int64_t id,
                                 const struct nd_article_fields *f, json_t **out)
{
    if (id <= 0)
        return ND_ERR_NOT_FOUND;
    return save_article(nd_pg_of(store), id, f, out);
}

enum nd_err nd_pg_article_delete(struct nd_store *store, int64_t id)
{
    struct nd_pg *st = nd_pg_of(store);
    enum nd_err err = nd_pg_begin(st);
    if (err != ND_OK)
        return err;
    err = nd_pg_exec(st, PG_ARTICLE_DELETE, "DELETE FROM articles WHERE id = :id",
                     ND_PARAMS(ND_INT(":id", id)), true, "article delete");
    return nd_pg_finish(st, err);
}

enum nd_err nd_pg_article_list_sorted(struct nd_store *store,
                                      const struct nd_article_filter *filter,
                                      enum nd_article_order order, unsigned limit,
                                      const char *cursor, json_t **items, char **next_cursor)
{
    struct nd_pg *st = nd_pg_of(store);
    static const struct nd_article_filter published = {.status = ND_STATUS_PUBLISHED};
    const struct nd_article_filter *flt = filter ? filter : &published;
    int64_t pos[ND_PAGE_KEYS_MAX];
    struct nd_param params[ND_FILTER_PARAMS + 1] = {{.name = NULL}};
    char sql[ND_LIST_SQL_MAX];
    char *next = NULL;
    if (limit < 1 || limit > 100 || (unsigned)order >= ND_ORDER_COUNT)
        return ND_ERR_INVALID;
    struct nd_page page = nd_list_page(order, limit);
    if (nd_page_start(&page, cursor, pos) != ND_OK)
        return ND_ERR_INVALID;
    unsigned mask = nd_store_filter_mask(flt, cursor != NULL);
    nd_list_sql(sql, sizeof sql, order, mask, ND_SQL_POSTGRES);
    json_t *arr = json_array();
    if (!arr)
        return ND_ERR_NOMEM;
    if (!sendable(flt->category) || !sendable(flt->tag) || !sendable(flt->author)) {
        *items = arr; /* no article has it: an empty page, as on SQLite */
        *next_cursor = NULL;
        return ND_OK;
    }
    nd_store_filter_params(params, mask, flt, pos);
    enum nd_err err =
        nd_pg_page(st, &st->lists[order][mask], sql, params, &page, arr, &next, "article list");
    if (err != ND_OK) {
        json_decref(arr);
        return err;
    }
    *items = arr;
    *next_cursor = next;
    return ND_OK;
}

/* ---- categories, tags, authors ------------------------------------------ */

/* SQLite's COLLATE NOCASE folds ASCII letters only; so does this. */
#define NOCASE(col) "translate(" col ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"

/* The {"name","count"} list of sql, drafts counted when drafts is true. */
static enum nd_err name_counts(struct nd_store *store, unsigned slot, const char *sql, bool drafts,
                               json_t **out, const char *what)
{
    struct nd_pg *st = nd_pg_of(store);
    return nd_pg_list(st, &st->stmts[slot], sql, ND_PARAMS(ND_INT(":drafts", drafts ? 1 : 0)),
                      nd_row_map_shape, &nd_name_count_shape, out, what);
}

enum nd_err nd_pg_category_list(struct nd_store *store, bool drafts, json_t **out)
{
    return name_counts(store, PG_CATEGORY_LIST,
                       "SELECT category, count(*) FROM articles"
                       " WHERE category > '' AND (status = 'published' OR :drafts)"
                       " GROUP BY category ORDER BY " NOCASE("category") ", category",
                       drafts, out, "category list");
}

enum nd_err nd_pg_tag_list(struct nd_store *store, bool drafts, json_t **out)
{
    return name_counts(store, PG_TAG_LIST,
                       "SELECT tag, count(*) FROM article_tags"
                       " WHERE (tagged_status = 'published' OR :drafts)"
                       " GROUP BY tag ORDER BY " NOCASE("tag") ", tag",
                       drafts, out, "tag list");
}

enum nd_err nd_pg_author_list(struct nd_store *store, bool drafts, json_t **out)
{
    return name_counts(store, PG_AUTHOR_LIST,
                       "SELECT author, count(*) FROM articles"
                       " WHERE author > '' AND (status = 'published' OR :drafts)"
                       " GROUP BY author ORDER BY " NOCASE("author") ", author",
                       drafts, out, "author list");
}

/* ---- API keys ----------------------------------------------------------- */

enum nd_err nd_pg_key_insert(struct nd_store *store, const char *name, const char *key_id,
                             const unsigned char *hash, size_t hash_len)
{
    struct nd_pg *st = nd_pg_of(store);
    if (!name || !key_id || !hash || hash_len == 0 || hash_len > INT32_MAX)
        return ND_ERR_INVALID;
    enum nd_err err = nd_pg_begin(st);
    if (err != ND_OK)
        return err;
    err =
        nd_pg_exec(st, PG_KEY_INSERT,
                   "INSERT INTO api_keys (name, key_id, hash, created_at) "
                   "VALUES (:name, :key_id, :hash, :now)",
                   ND_PARAMS(ND_TEXT(":name", name), ND_TEXT(":key_id", key_id),
                             ND_BLOB(":hash", hash, (int)hash_len), ND_INT(":now", nd_time_now())),
                   false, "key insert");
    return nd_pg_finish(st, err);
}

/* Where a key's stored hash is copied to. */
struct hash_out {
    unsigned char *hash;
    size_t len;
};

/* An nd_pg_read_fn: the bytea in column 0 (hex text) into the struct hash_out at ctx. */
static enum nd_err read_hash(const struct nd_row *row, void *ctx)
{
    const struct hash_out *out = ctx;
    size_t len = 0, stored_len = 0;
    const char *text = nd_row_text(row, 0, &len);
    unsigned char *stored = PQunescapeBytea((const unsigned char *)text, &stored_len);
    enum nd_err err = ND_OK;
    if (!stored) {
        err = ND_ERR_NOMEM;
    } else if (stored_len != out->len) {
        nd_log(ND_LOG_ERROR, "store: the stored hash of a key has %zu bytes, not %zu", stored_len,
               out->len);
        err = ND_ERR_DB;
    } else {
        memcpy(out->hash, stored, stored_len);
    }
    PQfreemem(stored);
    return err;
}

enum nd_err nd_pg_key_lookup(struct nd_store *store, const char *key_id, unsigned char *hash,
                             size_t hash_len)
{
    struct hash_out out = {hash, hash_len};
    if (!key_id)
        return ND_ERR_NOT_FOUND;
    return nd_pg_row_one(nd_pg_of(store), PG_KEY_LOOKUP,
                         "SELECT hash FROM api_keys WHERE key_id = :key_id",
                         ND_PARAMS(ND_TEXT(":key_id", key_id)), read_hash, &out, "key lookup");
}

enum nd_err nd_pg_key_list(struct nd_store *store, json_t **out)
{
    struct nd_pg *st = nd_pg_of(store);
    return nd_pg_list(st, &st->stmts[PG_KEY_LIST],
                      "SELECT name, key_id, created_at FROM api_keys ORDER BY id", NULL,
                      nd_row_map_shape, &nd_key_shape, out, "key list");
}

enum nd_err nd_pg_key_delete(struct nd_store *store, const char *name)
{
    struct nd_pg *st = nd_pg_of(store);
    if (!name)
        return ND_ERR_NOT_FOUND;
    enum nd_err err = nd_pg_begin(st);
    if (err != ND_OK)
        return err;
    err = nd_pg_exec(st, PG_KEY_DELETE, "DELETE FROM api_keys WHERE name = :name",
                     ND_PARAMS(ND_TEXT(":name", name)), true, "key delete");
    return nd_pg_finish(st, err);
}
