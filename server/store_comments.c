/*
 * store_comments.c: comments in SQLite: create, read, delete, moderation
 * (visible or pending) and the flat and threaded lists.
 *
 * Replies point at their parent with parent_id. A comment is always newer
 * than its parent, so its id is larger; deleting a comment moves its replies
 * to its own parent, which keeps that true. The threaded list relies on it:
 * rows read in id order always meet a parent before its replies, so the
 * tree is assembled in one pass with a sorted index from id to node and no
 * recursion, however deep the nesting.
 *
 * A filtered tree (readers see visible comments only) hangs each comment
 * under its nearest ancestor of the same status. Its queries walk down
 * through the comments left out, so they cost more; a reader's tree takes
 * that path only when the article has a pending comment at all, which a
 * partial index answers at once. Otherwise it is the same as the full tree.
 */
#include <stdlib.h>

#include "newsd/log.h"
#include "newsd/util.h"
#include "store_internal.h"

enum nd_err nd_sqlite_comment_get(struct nd_store *store, int64_t id, json_t **out)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    return nd_store_get(st, ND_STMT_COMMENT_GET,
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

/* An nd_store_row_fn: the row of comment_links into the struct links at ctx. */
static enum nd_err read_links(sqlite3_stmt *stmt, void *ctx)
{
    struct links *l = ctx;
    l->article_id = sqlite3_column_int64(stmt, 0);
    l->has_parent = sqlite3_column_type(stmt, 1) != SQLITE_NULL;
    l->parent_id = sqlite3_column_int64(stmt, 1);
    l->visible = sqlite3_column_int(stmt, 2) != 0;
    return ND_OK;
}

/* Looks up comment id's links into *l; ND_ERR_NOT_FOUND when there is no such comment. */
static enum nd_err comment_links(struct nd_sqlite *st, int64_t id, struct links *l)
{
    return nd_store_row(
        st, ND_STMT_COMMENT_LINKS,
        "SELECT article_id, parent_id, status = 'visible' FROM comments WHERE id = :id",
        ND_PARAMS(ND_INT(":id", id)), read_links, l, "comment lookup");
}

/*
 * ND_ERR_INVALID unless f's parent (when it has one) is a comment of f's
 * article, and a visible one when visible_only.
 */
static enum nd_err check_parent(struct nd_sqlite *st, const struct nd_comment_fields *f,
                                bool visible_only)
{
    struct links parent = {0, false, 0, false};
    if (!f->has_parent)
        return ND_OK;
    enum nd_err err = comment_links(st, f->parent_id, &parent);
    if (err == ND_ERR_NOT_FOUND ||
        (err == ND_OK && (parent.article_id != f->article_id || (visible_only && !parent.visible))))
        return ND_ERR_INVALID;
    return err;
}

/* Inserts the comment row of f, created now with status; *id gets its id. */
static enum nd_err insert_comment(struct nd_sqlite *st, const struct nd_comment_fields *f,
                                  const char *status, int64_t *id)
{
    enum nd_err err = nd_store_exec(
        st, ND_STMT_COMMENT_INSERT,
        "INSERT INTO comments (article_id, parent_id, author, body, status, created_at) "
        "VALUES (:article_id, :parent_id, :author, :body, :status, :now)",
        ND_PARAMS(ND_INT(":article_id", f->article_id),
                  ND_INT_IF(f->has_parent, ":parent_id", f->parent_id),
                  ND_TEXT(":author", f->author), ND_TEXT(":body", f->body),
                  ND_TEXT(":status", status), ND_INT(":now", nd_time_now())),
        "comment insert");
    if (err == ND_OK)
        *id = sqlite3_last_insert_rowid(st->db);
    return err;
}

/*
 * Ends a write transaction on comment id: when err is ND_OK, reads the
 * comment back into *out and commits; otherwise (or if that fails) rolls
 * back. Returns the outcome; *out is written only on ND_OK.
 */
static enum nd_err finish_with_comment(struct nd_sqlite *st, enum nd_err err, int64_t id,
                                       json_t **out)
{
    json_t *comment = NULL;
    if (err == ND_OK)
        err = nd_sqlite_comment_get(&st->base, id, &comment);
    return nd_store_finish_with(st, err, comment, out);
}

enum nd_err nd_sqlite_comment_post(struct nd_store *store, const struct nd_comment_fields *f,
                                   unsigned flags, json_t **out)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    int64_t id = 0;
    if (!st || !f || !out || !f->author || !f->body)
        return ND_ERR_INVALID;
    enum nd_err err = nd_store_begin(st);
    if (err != ND_OK)
        return err;
    err = nd_store_article_exists(st, f->article_id);
    if (err == ND_OK)
        err = check_parent(st, f, (flags & ND_COMMENT_VISIBLE_PARENT) != 0);
    if (err == ND_OK)
        err = insert_comment(st, f, (flags & ND_COMMENT_PENDING) ? "pending" : "visible", &id);
    return finish_with_comment(st, err, id, out);
}

enum nd_err nd_sqlite_comment_set_status(struct nd_store *store, int64_t id, bool pending,
                                         json_t **out)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    enum nd_err err = nd_store_begin(st);
    if (err != ND_OK)
        return err;
    /* ND_ERR_NOT_FOUND when there is no such comment */
    err = nd_store_exec_change(
        st, ND_STMT_COMMENT_SET_STATUS, "UPDATE comments SET status = :status WHERE id = :id",
        ND_PARAMS(ND_INT(":id", id), ND_TEXT(":status", pending ? "pending" : "visible")),
        "comment status");
    return finish_with_comment(st, err, id, out);
}

enum nd_err nd_sqlite_comment_delete(struct nd_store *store, int64_t id)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    struct links self = {0, false, 0, false};
    enum nd_err err = nd_store_begin(st);
    if (err != ND_OK)
        return err;
    err = comment_links(st, id, &self);
    /* Replies move up first, so the parent_id constraint never sees an orphan. */
    if (err == ND_OK)
        err = nd_store_exec(
            st, ND_STMT_COMMENT_REATTACH,
            "UPDATE comments SET parent_id = :parent WHERE parent_id = :id",
            ND_PARAMS(ND_INT(":id", id), ND_INT_IF(self.has_parent, ":parent", self.parent_id)),
            "comment delete");
    if (err == ND_OK)
        err = nd_store_exec(st, ND_STMT_COMMENT_DELETE, "DELETE FROM comments WHERE id = :id",
                            ND_PARAMS(ND_INT(":id", id)), "comment delete");
    return nd_store_finish(st, err);
}

/* ---- lists ------------------------------------------------------------- */

/* The list being read. */
struct list_spec {
    int64_t article_id;
    int64_t after; /* the cursor's position: ids above it */
    enum nd_comment_filter which;
    const char *status; /* the status the list holds; NULL for every one */
    struct nd_page page;
};

/* Reads the page of spec from stmt (a list statement) into items; releases stmt. */
static enum nd_err list_page(struct nd_sqlite *st, sqlite3_stmt *stmt, const struct list_spec *spec,
                             json_t *items, char **next)
{
    return nd_store_page(st, stmt,
                         ND_PARAMS(ND_INT(":article_id", spec->article_id),
                                   ND_INT(":after", spec->after),
                                   ND_TEXT_IF(spec->status, ":status", spec->status)),
                         &spec->page, items, next, "comment list");
}

/*
 * The status is compared as "+status": SQLite weighs "status = :status"
 * against the partial index comments_pending (status = 'pending') with the
 * value bound, and so marks the statement to be prepared again whenever
 * :status is bound, even to the same value: the parser and planner ran for
 * every page of comments (a profile of cold comment pages: sqlite3Reprepare
 * under each first step). The unary plus keeps the term away from that
 * comparison; the page is read from comments_by_article, which holds the
 * status, either way.
 */
static enum nd_err list_flat(struct nd_sqlite *st, const struct list_spec *spec, json_t *items,
                             char **next)
{
    enum nd_err err = ND_OK;
    sqlite3_stmt *stmt =
        spec->status
            ? nd_store_stmt(st, ND_STMT_COMMENT_LIST_FLAT_STATUS,
                            "SELECT " ND_COMMENT_COLUMNS " FROM comments "
                            "WHERE article_id = :article_id AND +status = :status "
                            "AND id > :after ORDER BY id LIMIT :limit",
                            &err)
            : nd_store_stmt(st, ND_STMT_COMMENT_LIST_FLAT,
                            "SELECT " ND_COMMENT_COLUMNS " FROM comments WHERE article_id = "
                            ":article_id AND id > :after ORDER BY id LIMIT :limit",
                            &err);
    if (!stmt)
        return err;
    return list_page(st, stmt, spec, items, next);
}

/* ---- trees ------------------------------------------------------------- */

/* The column of a reply row that names the node it hangs under. */
#define COL_NEST 7

/* The walks down a thread (store_rows.h); CROSS JOIN keeps the left side as the outer loop. */
static const char replies_sql[] = ND_TREE_REPLIES_SQL("CROSS JOIN");
static const char tops_status_sql[] = ND_TREE_TOPS_STATUS_SQL("CROSS JOIN");
static const char replies_status_sql[] = ND_TREE_REPLIES_STATUS_SQL(
    "CROSS JOIN", "json_each(:tops) t CROSS JOIN comments c ON c.parent_id = t.value");

/* The replies being hung: the nodes met so far below the page's top-level comments. */
struct hanging {
    const struct nd_node_index *tops;
    struct nd_node_index below;
};

/* An nd_store_row_fn: nd_tree_hang of the reply row, whose anchor is in COL_NEST. */
static enum nd_err hang_row(sqlite3_stmt *stmt, void *ctx)
{
    struct hanging *h = ctx;
    struct nd_row row = nd_sqlite_row(stmt);
    return nd_tree_hang(&row, COL_NEST, h->tops, &h->below);
}

/* Hangs every row of stmt (reply rows in id order) with params bound; releases stmt. */
static enum nd_err hang_replies(struct nd_sqlite *st, sqlite3_stmt *stmt,
                                const struct nd_param *params, const struct nd_node_index *tops)
{
    struct hanging h = {tops, {NULL, NULL, 0, 0}};
    enum nd_err err = nd_store_each(st, stmt, params, hang_row, &h, "comment replies");
    nd_node_index_fini(&h.below);
    return err;
}

/* Hangs every reply of the page's top-level comments (tops, not empty). */
static enum nd_err attach_replies(struct nd_sqlite *st, int64_t article_id,
                                  const struct nd_node_index *tops)
{
    enum nd_err err = ND_OK;
    sqlite3_stmt *stmt = nd_store_stmt(st, ND_STMT_COMMENT_LIST_REPLIES, replies_sql, &err);
    if (!stmt)
        return err;
    return hang_replies(st, stmt,
                        ND_PARAMS(ND_INT(":article_id", article_id), ND_INT(":first", tops->ids[0]),
                                  ND_INT(":last", tops->ids[tops->len - 1])),
                        tops);
}

/* attach_replies for a tree of the comments with status. */
static enum nd_err attach_filtered(struct nd_sqlite *st, const char *status,
                                   const struct nd_node_index *tops)
{
    enum nd_err err = ND_OK;
    char *ids = nd_node_ids_json(tops);
    if (!ids)
        return ND_ERR_NOMEM;
    sqlite3_stmt *stmt =
        nd_store_stmt(st, ND_STMT_COMMENT_LIST_REPLIES_STATUS, replies_status_sql, &err);
    if (stmt)
        err = hang_replies(st, stmt, ND_PARAMS(ND_TEXT(":tops", ids), ND_TEXT(":status", status)),
                           tops);
    free(ids);
    return err;
}

/* *pending: whether the article has any pending comment (the partial index answers). */
static enum nd_err has_pending(struct nd_sqlite *st, int64_t article_id, bool *pending)
{
    int64_t exists = 0;
    enum nd_err err = nd_store_row(st, ND_STMT_COMMENT_HAS_PENDING,
                                   "SELECT EXISTS (SELECT 1 FROM comments WHERE article_id = "
                                   ":article_id AND status = 'pending')",
                                   ND_PARAMS(ND_INT(":article_id", article_id)), nd_store_read_int,
                                   &exists, "comment pending check");
    if (err == ND_OK)
        *pending = exists != 0;
    return err;
}

/*
 * Reads the top-level page and its replies (the caller holds a read
 * transaction). A list of visible comments is the full tree when the article
 * has no pending comment.
 */
static enum nd_err read_tree(struct nd_sqlite *st, const struct list_spec *spec, json_t *items,
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
    sqlite3_stmt *stmt =
        filtered ? nd_store_stmt(st, ND_STMT_COMMENT_LIST_TOP_STATUS, tops_status_sql, &err)
                 : nd_store_stmt(st, ND_STMT_COMMENT_LIST_TOP,
                                 "SELECT " ND_COMMENT_COLUMNS " FROM comments "
                                 "WHERE article_id = :article_id AND parent_id IS NULL "
                                 "AND id > :after ORDER BY id LIMIT :limit",
                                 &err);
    if (!stmt)
        return err;
    err = list_page(st, stmt, &top, items, next);
    if (err != ND_OK || tops->len == 0)
        return err;
    return filtered ? attach_filtered(st, spec->status, tops)
                    : attach_replies(st, spec->article_id, tops);
}

/* The top-level page and its replies, read in one snapshot. */
static enum nd_err list_tree(struct nd_sqlite *st, const struct list_spec *spec, json_t *items,
                             char **next)
{
    struct nd_node_index tops = {0};
    char *cursor = NULL;
    enum nd_err err = nd_store_begin_read(st);
    if (err != ND_OK)
        return err;
    err = read_tree(st, spec, items, &tops, &cursor);
    if (err == ND_OK)
        err = nd_store_commit(st);
    else
        nd_store_rollback(st);
    nd_node_index_fini(&tops);
    if (err != ND_OK) {
        free(cursor);
        return err;
    }
    *next = cursor;
    return ND_OK;
}

enum nd_err nd_sqlite_comment_list_filtered(struct nd_store *store, int64_t article_id,
                                            enum nd_comment_filter which, bool tree, unsigned limit,
                                            const char *cursor, struct nd_buf *text, json_t **items,
                                            char **next_cursor)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
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
