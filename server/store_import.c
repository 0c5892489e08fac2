/*
 * store_import.c: the writes only importers make: comments stored with the
 * time, status and import key they had elsewhere (a WordPress export), and
 * the look-up of such a key. Articles need nothing of the kind: create
 * takes an import key and a publication time already.
 */
#include <stdbool.h>

#include "store_internal.h"

enum nd_err nd_store_comment_find_import(struct nd_store *st, const char *import_key, int64_t *id)
{
    if (!st || !import_key || !id)
        return ND_ERR_INVALID;
    return nd_store_row(st, ND_STMT_COMMENT_FIND_IMPORT,
                        "SELECT id FROM comments WHERE import_key = :import_key",
                        ND_PARAMS(ND_TEXT(":import_key", import_key)), nd_store_read_int, id,
                        "comment import lookup");
}

/* What check_import's statement says of a comment to import. */
struct import_check {
    bool key_taken;
    int64_t parent_article; /* 0 when the parent does not exist */
};

/* An nd_store_row_fn: the row of check_import's statement into the struct import_check at ctx. */
static enum nd_err read_import_check(sqlite3_stmt *stmt, void *ctx)
{
    struct import_check *check = ctx;
    check->key_taken = sqlite3_column_int(stmt, 0) != 0;
    check->parent_article = sqlite3_column_int64(stmt, 1);
    return ND_OK;
}

/*
 * ND_ERR_INVALID unless c's parent (when it has one) is a comment of c's
 * article; ND_ERR_CONFLICT when c's import key is taken.
 */
static enum nd_err check_import(struct nd_store *st, const struct nd_comment_import *c)
{
    struct import_check check = {false, 0};
    enum nd_err err =
        nd_store_row(st, ND_STMT_COMMENT_IMPORT_CHECK,
                     "SELECT EXISTS (SELECT 1 FROM comments WHERE import_key = :import_key), "
                     "(SELECT article_id FROM comments WHERE id = :parent)",
                     ND_PARAMS(ND_TEXT(":import_key", c->import_key),
                               ND_INT(":parent", c->f.has_parent ? c->f.parent_id : 0)),
                     read_import_check, &check, "comment import");
    if (err == ND_OK && check.key_taken)
        err = ND_ERR_CONFLICT;
    else if (err == ND_OK && c->f.has_parent && check.parent_article != c->f.article_id)
        err = ND_ERR_INVALID;
    return err;
}

/* Inserts the row of c (inside the caller's transaction); *id gets its id. */
static enum nd_err insert_import(struct nd_store *st, const struct nd_comment_import *c,
                                 int64_t *id)
{
    enum nd_err err = nd_store_exec(
        st, ND_STMT_COMMENT_IMPORT,
        "INSERT INTO comments (article_id, parent_id, author, body, status, created_at, "
        "import_key) VALUES (:article_id, :parent_id, :author, :body, :status, :created_at, "
        ":import_key)",
        ND_PARAMS(ND_INT(":article_id", c->f.article_id),
                  ND_INT_IF(c->f.has_parent, ":parent_id", c->f.parent_id),
                  ND_TEXT(":author", c->f.author), ND_TEXT(":body", c->f.body),
                  ND_TEXT(":status", c->pending ? "pending" : "visible"),
                  ND_INT(":created_at", c->created_at), ND_TEXT(":import_key", c->import_key)),
        "comment import");
    if (err == ND_OK)
        *id = sqlite3_last_insert_rowid(st->db);
    return err;
}

enum nd_err nd_store_comment_import(struct nd_store *st, const struct nd_comment_import *c,
                                    int64_t *id)
{
    int64_t made = 0;
    if (!st || !c || !id || !c->f.author || !c->f.body || !c->import_key)
        return ND_ERR_INVALID;
    enum nd_err err = nd_store_begin(st);
    if (err != ND_OK)
        return err;
    err = nd_store_article_exists(st, c->f.article_id);
    if (err == ND_OK)
        err = check_import(st, c);
    if (err == ND_OK)
        err = insert_import(st, c, &made);
    err = nd_store_finish(st, err);
    if (err == ND_OK)
        *id = made;
    return err;
}
