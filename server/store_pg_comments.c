/*
 * store_pg_comments.c: comments in PostgreSQL: writes, moderation, the
 * importer's writes, and the flat and threaded lists. The statements mirror
 * the SQLite backend's (store_comments.c, store_import.c) with the same
 * columns, cursors and tree assembly (store_tree.c); the walks down a
 * thread are the same recursive queries, with jsonb in place of SQLite's
 * json_each.
 */
#include <stdlib.h>
#include <string.h>

#include "newsd/log.h"
#include "newsd/util.h"
#include "store_pg.h"

/* This file's statements, numbered after store_pg.h's fixed ones. */
enum {
    S_GET = PG_SLOT_COMMENTS,
    S_LINKS,
    S_INSERT,
    S_SET_STATUS,
    S_REATTACH,
    S_DELETE,
    S_LIST_FLAT,
    S_LIST_FLAT_STATUS,
    S_LIST_TOP,
    S_LIST_TOP_STATUS,
    S_REPLIES,
    S_REPLIES_STATUS,
    S_HAS_PENDING,
    S_FIND_IMPORT,
    S_RECORD_CHECK,
    S_RECORD_INSERT,
    S_RECORD_ID,
    S_END
};
_Static_assert((int)S_END <= (int)PG_SLOT_CHANGES, "comment statements overflow their slots");

enum nd_err nd_pg_comment_get(struct nd_store *store, int64_t id, json_t **out)
{
    return nd_pg_get(nd_pg_of(store), S_GET,
                     "SELECT " ND_COMMENT_COLUMNS " FROM comments WHERE id = :id",
                     ND_PARAMS(ND_INT(":id", id)), &nd_comment_shape, out, "comment get");
}

/* A comment's place: its article, its parent, whether it is visible. */
struct links {
    int64_t article_id;
    bool has_parent;
    int64_t parent_id;
    bool visible;
};

static enum nd_err read_links(const struct nd_row *row, void *ctx)
{
    struct links *l = ctx;
    l->article_id = nd_row_int(row, 0);
    l->has_parent = !nd_row_is_null(row, 1);
    l->parent_id = l->has_parent ? nd_row_int(row, 1) : 0;
    l->visible = nd_row_int(row, 2) != 0;
    return ND_OK;
}

static enum nd_err comment_links(struct nd_pg *st, int64_t id, struct links *l)
{
    return nd_pg_row_one(
        st, S_LINKS,
        "SELECT article_id, parent_id, status = 'visible' FROM comments WHERE id = :id",
        ND_PARAMS(ND_INT(":id", id)), read_links, l, "comment lookup");
}

static enum nd_err finish_with_comment(struct nd_pg *st, enum nd_err err, int64_t id, json_t **out)
{
    json_t *comment = NULL;
    if (err == ND_OK)
        err = nd_pg_comment_get(&st->base, id, &comment);
    return nd_pg_finish_with(st, err, comment, out);
}

/*
 * One statement: the article and the parent are checked by its WHERE (the
 * rare refusal is told apart afterwards), the row comes back as
 * nd_pg_comment_get would read it.
 */
enum nd_err nd_pg_comment_post(struct nd_store *store, const struct nd_comment_fields *f,
                               unsigned flags, json_t **out)
{
    struct nd_pg *st = nd_pg_of(store);
    if (!f || !out || !f->author || !f->body)
        return ND_ERR_INVALID;
    enum nd_err err = nd_pg_write_one(
        st, S_INSERT,
        "INSERT INTO comments (article_id, parent_id, author, body, status, created_at) "
        "SELECT :article_id::bigint, :parent_id::bigint, :author::text, :body::text, "
        ":status::text, :now::bigint "
        "WHERE EXISTS (SELECT 1 FROM articles WHERE id = :article_id) "
        "AND (:parent_id IS NULL OR EXISTS (SELECT 1 FROM comments p WHERE p.id = :parent_id "
        "AND p.article_id = :article_id AND (:any_parent::int = 1 OR p.status = 'visible'))) "
        "RETURNING " ND_COMMENT_COLUMNS,
        ND_PARAMS(ND_INT(":article_id", f->article_id),
                  ND_INT_IF(f->has_parent, ":parent_id", f->parent_id),
                  ND_TEXT(":author", f->author), ND_TEXT(":body", f->body),
                  ND_TEXT(":status", (flags & ND_COMMENT_PENDING) ? "pending" : "visible"),
                  ND_INT(":now", nd_time_now()),
                  ND_INT(":any_parent", (flags & ND_COMMENT_VISIBLE_PARENT) ? 0 : 1)),
        &nd_comment_shape, out, "comment insert");
    if (err != ND_ERR_NOT_FOUND || !f->has_parent)
        return err;
    /* no row: no article (404), or a parent that is not one of its comments (422) */
    err = nd_pg_article_exists(st, f->article_id);
    return err == ND_OK ? ND_ERR_INVALID : err;
}

enum nd_err nd_pg_comment_set_status(struct nd_store *store, int64_t id, bool pending, json_t **out)
{
    struct nd_pg *st = nd_pg_of(store);
    enum nd_err err = nd_pg_begin(st);
    if (err != ND_OK)
        return err;
    err = nd_pg_exec(
        st, S_SET_STATUS, "UPDATE comments SET status = :status WHERE id = :id",
        ND_PARAMS(ND_INT(":id", id), ND_TEXT(":status", pending ? "pending" : "visible")), true,
        "comment status");
    return finish_with_comment(st, err, id, out);
}

enum nd_err nd_pg_comment_delete(struct nd_store *store, int64_t id)
{
    struct nd_pg *st = nd_pg_of(store);
    struct links self = {0, false, 0, false};
    enum nd_err err = nd_pg_begin(st);
    if (err != ND_OK)
        return err;
    err = comment_links(st, id, &self);
    /* Replies move up first, so the parent_id constraint never sees an orphan. */
    if (err == ND_OK)
        err = nd_pg_exec(
            st, S_REATTACH, "UPDATE comments SET parent_id = :parent WHERE parent_id = :id",
            ND_PARAMS(ND_INT(":id", id), ND_INT_IF(self.has_parent, ":parent", self.parent_id)),
            false, "comment delete");
    if (err == ND_OK)
        err = nd_pg_exec(st, S_DELETE, "DELETE FROM comments WHERE id = :id",
                         ND_PARAMS(ND_INT(":id", id)), false, "comment delete");
    return nd_pg_finish(st, err);
}

/* ---- the importer's and the restore's writes ---------------------------- */

enum nd_err nd_pg_comment_find_import(struct nd_store *store, const char *import_key, int64_t *id)
{
    if (!import_key || !id)
        return ND_ERR_INVALID;
    return nd_pg_row_one(
        nd_pg_of(store), S_FIND_IMPORT, "SELECT id FROM comments WHERE import_key = :import_key",
        ND_PARAMS(ND_TEXT(":import_key", import_key)), nd_pg_read_int, id, "comment import lookup");
}

/* What a comment record's check finds. */
struct comment_check {
    bool id_taken;
    bool key_taken;
    int64_t parent_article; /* 0 when the parent does not exist */
};

static enum nd_err read_check(const struct nd_row *row, void *ctx)
{
    struct comment_check *check = ctx;
    check->id_taken = nd_row_int(row, 0) != 0;
    check->key_taken = nd_row_int(row, 1) != 0;
    check->parent_article = nd_row_is_null(row, 2) ? 0 : nd_row_int(row, 2);
    return ND_OK;
}

/* The checks of a comment written with its own values (see store_internal.h's twin). */
static enum nd_err record_check(struct nd_pg *st, const struct nd_comment_record *rec,
                                const char **taken)
{
    struct comment_check check = {false, false, 0};
    if (rec->id > 0 && rec->f.has_parent && rec->f.parent_id >= rec->id)
        return ND_ERR_INVALID;
    enum nd_err err = nd_pg_row_one(
        st, S_RECORD_CHECK,
        "SELECT EXISTS (SELECT 1 FROM comments WHERE id = :id), "
        "EXISTS (SELECT 1 FROM comments WHERE import_key = :import_key), "
        "(SELECT article_id FROM comments WHERE id = :parent)",
        ND_PARAMS(ND_INT(":id", rec->id > 0 ? rec->id : 0), ND_TEXT(":import_key", rec->import_key),
                  ND_INT(":parent", rec->f.has_parent ? rec->f.parent_id : 0)),
        read_check, &check, "comment restore");
    if (err == ND_OK && (check.id_taken || check.key_taken)) {
        err = ND_ERR_CONFLICT;
        *taken = check.id_taken ? "id" : "import_key";
    } else if (err == ND_OK && rec->f.has_parent && check.parent_article != rec->f.article_id) {
        err = ND_ERR_INVALID;
    }
    return err;
}

/*
 * Inserts the row of rec as given, the next id when rec->id is 0. An
 * explicit id moves the id sequence past it, so later comments never get
 * it (ids are never reused, as SQLite's AUTOINCREMENT keeps them).
 */
static enum nd_err record_insert(struct nd_pg *st, const struct nd_comment_record *rec, int64_t *id)
{
    int64_t made = 0;
    enum nd_err err = nd_pg_row_one(
        st, S_RECORD_INSERT,
        "INSERT INTO comments (id, article_id, parent_id, author, body, status, created_at, "
        "import_key) OVERRIDING SYSTEM VALUE VALUES (coalesce(:id, nextval(pg_get_serial_sequence("
        "'comments', 'id'))), :article_id, :parent_id, :author, :body, :status, :created_at, "
        ":import_key) RETURNING id",
        ND_PARAMS(ND_INT_IF(rec->id > 0, ":id", rec->id), ND_INT(":article_id", rec->f.article_id),
                  ND_INT_IF(rec->f.has_parent, ":parent_id", rec->f.parent_id),
                  ND_TEXT(":author", rec->f.author), ND_TEXT(":body", rec->f.body),
                  ND_TEXT(":status", rec->pending ? "pending" : "visible"),
                  ND_INT(":created_at", rec->created_at), ND_TEXT(":import_key", rec->import_key)),
        nd_pg_read_int, &made, "comment restore");
    if (err == ND_OK && rec->id > 0)
        err = nd_pg_row_one(st, S_RECORD_ID,
                            "SELECT setval(pg_get_serial_sequence('comments', 'id'), "
                            "greatest(:id, (SELECT last_value FROM comments_id_seq)))",
                            ND_PARAMS(ND_INT(":id", rec->id)), NULL, NULL, "comment restore");
    if (err == ND_OK && id)
        *id = made;
    return err;
}

enum nd_err nd_pg_comment_import(struct nd_store *store, const struct nd_comment_import *c,
                                 int64_t *id)
{
    struct nd_pg *st = nd_pg_of(store);
    const char *taken = NULL;
    int64_t made = 0;
    if (!c || !id || !c->f.author || !c->f.body || !c->import_key)
        return ND_ERR_INVALID;
    const struct nd_comment_record rec = {
        .f = c->f, .pending = c->pending, .created_at = c->created_at, .import_key = c->import_key};
    enum nd_err err = nd_pg_begin(st);
    if (err != ND_OK)
        return err;
    err = nd_pg_article_exists(st, c->f.article_id);
    if (err == ND_OK)
        err = record_check(st, &rec, &taken);
    if (err == ND_OK)
        err = record_insert(st, &rec, &made);
    err = nd_pg_finish(st, err);
    if (err == ND_OK)
        *id = made;
    return err;
}

enum nd_err nd_pg_comment_restore(struct nd_store *store, const struct nd_comment_record *rec,
                                  const char **taken)
{
    struct nd_pg *st = nd_pg_of(store);
    const char *clash = "id";
    if (!rec || rec->id < 1 || !rec->f.author || !rec->f.body)
        return ND_ERR_INVALID;
    enum nd_err err = nd_pg_begin(st);
    if (err != ND_OK)
        return err;
    err = nd_pg_article_exists(st, rec->f.article_id);
    if (err == ND_OK)
        err = record_check(st, rec, &clash);
    if (err == ND_OK)
        err = record_insert(st, rec, NULL);
    err = nd_pg_finish(st, err);
    if (err == ND_ERR_CONFLICT && taken)
        *taken = clash;
    return err;
}

/* ---- lists -------------------------------------------------------------- */

/* The list being read. */
struct list_spec {
    int64_t article_id;
    int64_t after;
    enum nd_comment_filter which;
    const char *status; /* NULL for every status */
    struct nd_page page;
};

static enum nd_err list_page(struct nd_pg *st, int slot, const char *sql,
                             const struct list_spec *spec, json_t *items, char **next)
{
    return nd_pg_page(st, &st->stmts[slot], sql,
                      ND_PARAMS(ND_INT(":article_id", spec->article_id),
                                ND_INT(":after", spec->after),
                                ND_TEXT_IF(spec->status, ":status", spec->status)),
                      &spec->page, items, next, "comment list");
}

static enum nd_err list_flat(struct nd_pg *st, const struct list_spec *spec, json_t *items,
                             char **next)
{
    if (spec->status)
        return list_page(st, S_LIST_FLAT_STATUS,
                         "SELECT " ND_COMMENT_COLUMNS " FROM comments "
                         "WHERE article_id = :article_id AND status = :status "
                         "AND id > :after ORDER BY id LIMIT :limit",
                         spec, items, next);
    return list_page(st, S_LIST_FLAT,
                     "SELECT " ND_COMMENT_COLUMNS " FROM comments WHERE article_id = "
                     ":article_id AND id > :after ORDER BY id LIMIT :limit",
                     spec, items, next);
}

/* The column of a reply row that names the node it hangs under. */
#define COL_NEST 7

/* The walks down a thread (store_rows.h), in PostgreSQL's words. */
static const char replies_sql[] = ND_TREE_REPLIES_SQL("JOIN");
static const char tops_status_sql[] = ND_TREE_TOPS_STATUS_SQL("JOIN");
static const char replies_status_sql[] =
    ND_TREE_REPLIES_STATUS_SQL("JOIN", "jsonb_array_elements_text(CAST(:tops AS jsonb)) t(value)"
                                       " JOIN comments c ON c.parent_id = t.value::bigint");

/* The replies being hung below a page's top-level comments. */
struct hanging {
    const struct nd_node_index *tops;
    struct nd_node_index below;
};

static enum nd_err hang_row(const struct nd_row *row, void *ctx)
{
    struct hanging *h = ctx;
    return nd_tree_hang(row, COL_NEST, h->tops, &h->below);
}

static enum nd_err hang_replies(struct nd_pg *st, int slot, const char *sql,
                                const struct nd_param *params, const struct nd_node_index *tops)
{
    struct hanging h = {tops, {NULL, NULL, 0, 0}};
    enum nd_err err =
        nd_pg_each(st, &st->stmts[slot], sql, params, hang_row, &h, "comment replies");
    nd_node_index_fini(&h.below);
    return err;
}

static enum nd_err attach_filtered(struct nd_pg *st, const char *status,
                                   const struct nd_node_index *tops)
{
    char *ids = nd_node_ids_json(tops);
    if (!ids)
        return ND_ERR_NOMEM;
    enum nd_err err =
        hang_replies(st, S_REPLIES_STATUS, replies_status_sql,
                     ND_PARAMS(ND_TEXT(":tops", ids), ND_TEXT(":status", status)), tops);
    free(ids);
    return err;
}

static enum nd_err has_pending(struct nd_pg *st, int64_t article_id, bool *pending)
{
    int64_t exists = 0;
    enum nd_err err = nd_pg_row_one(st, S_HAS_PENDING,
                                    "SELECT EXISTS (SELECT 1 FROM comments WHERE article_id = "
                                    ":article_id AND status = 'pending')",
                                    ND_PARAMS(ND_INT(":article_id", article_id)), nd_pg_read_int,
                                    &exists, "comment pending check");
    if (err == ND_OK)
        *pending = exists != 0;
    return err;
}

static enum nd_err read_tree(struct nd_pg *st, const struct list_spec *spec, json_t *items,
                             struct nd_node_index *tops, char **next)
{
    enum nd_err err = ND_OK;
    bool filtered = spec->which == ND_COMMENTS_PENDING;
    if (spec->which == ND_COMMENTS_VISIBLE)
        err = has_pending(st, spec->article_id, &filtered);
    if (err != ND_OK)
        return err;
    struct list_spec top = *spec;
    top.status = filtered ? spec->status : NULL;
    top.page.map = nd_tree_node;
    top.page.how = tops;
    if (filtered)
        err = list_page(st, S_LIST_TOP_STATUS, tops_status_sql, &top, items, next);
    else
        err = list_page(st, S_LIST_TOP,
                        "SELECT " ND_COMMENT_COLUMNS " FROM comments "
                        "WHERE article_id = :article_id AND parent_id IS NULL "
                        "AND id > :after ORDER BY id LIMIT :limit",
                        &top, items, next);
    if (err != ND_OK || tops->len == 0)
        return err;
    if (filtered)
        return attach_filtered(st, spec->status, tops);
    return hang_replies(st, S_REPLIES, replies_sql,
                        ND_PARAMS(ND_INT(":article_id", spec->article_id),
                                  ND_INT(":first", tops->ids[0]),
                                  ND_INT(":last", tops->ids[tops->len - 1])),
                        tops);
}

/* The top-level page and its replies, read in one snapshot. */
static enum nd_err list_tree(struct nd_pg *st, const struct list_spec *spec, json_t *items,
                             char **next)
{
    struct nd_node_index tops = {0};
    char *cursor = NULL;
    enum nd_err err = nd_pg_begin_read(st);
    if (err != ND_OK)
        return err;
    err = read_tree(st, spec, items, &tops, &cursor);
    if (err == ND_OK)
        err = nd_pg_commit(st);
    else
        nd_pg_rollback(st);
    nd_node_index_fini(&tops);
    if (err != ND_OK) {
        free(cursor);
        return err;
    }
    *next = cursor;
    return ND_OK;
}

enum nd_err nd_pg_comment_list_filtered(struct nd_store *store, int64_t article_id,
                                        enum nd_comment_filter which, bool tree, unsigned limit,
                                        const char *cursor, struct nd_buf *text, json_t **items,
                                        char **next_cursor)
{
    struct nd_pg *st = nd_pg_of(store);
    static const char *const statuses[] = {"visible", "pending", NULL};
    struct list_spec spec = {article_id, 0, which, NULL, nd_comment_page(which, limit)};
    int64_t pos[ND_PAGE_KEYS_MAX];
    char *next = NULL;
    if (limit < 1 || limit > 100 || (unsigned)which > ND_COMMENTS_ANY)
        return ND_ERR_INVALID;
    if (nd_page_start(&spec.page, cursor, pos) != ND_OK)
        return ND_ERR_INVALID;
    spec.after = pos[0];
    spec.status = statuses[which];
    if (text && tree)
        return ND_ERR_INVALID; /* a tree is assembled from items */
    spec.page.text = text;
    json_t *arr = text ? NULL : json_array();
    if (!text && !arr)
        return ND_ERR_NOMEM;
    enum nd_err err = tree ? list_tree(st, &spec, arr, &next) : list_flat(st, &spec, arr, &next);
    if (err != ND_OK) {
        json_decref(arr);
        return err;
    }
    *items = arr;
    *next_cursor = next;
    return ND_OK;
}
