/*
 * store_import.c: the writes only importers make: comments stored with the
 * time, status and import key they had elsewhere (a WordPress export), and
 * the look-up of such a key. Articles need nothing of the kind: create
 * takes an import key and a publication time already.
 */
#include "store_internal.h"

enum nd_err nd_sqlite_comment_find_import(struct nd_store *store, const char *import_key,
                                          int64_t *id)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    if (!st || !import_key || !id)
        return ND_ERR_INVALID;
    return nd_store_row(st, ND_STMT_COMMENT_FIND_IMPORT,
                        "SELECT id FROM comments WHERE import_key = :import_key",
                        ND_PARAMS(ND_TEXT(":import_key", import_key)), nd_store_read_int, id,
                        "comment import lookup");
}

enum nd_err nd_sqlite_comment_import(struct nd_store *store, const struct nd_comment_import *c,
                                     int64_t *id)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    const char *taken = NULL;
    int64_t made = 0;
    if (!st || !c || !id || !c->f.author || !c->f.body || !c->import_key)
        return ND_ERR_INVALID;
    /* a record of no id: the row gets the next one */
    const struct nd_comment_record rec = {
        .f = c->f, .pending = c->pending, .created_at = c->created_at, .import_key = c->import_key};
    enum nd_err err = nd_store_begin(st);
    if (err != ND_OK)
        return err;
    err = nd_store_article_exists(st, c->f.article_id);
    if (err == ND_OK)
        err = nd_store_comment_record_check(st, &rec, &taken);
    if (err == ND_OK)
        err = nd_store_comment_record_insert(st, &rec, &made);
    err = nd_store_finish(st, err);
    if (err == ND_OK)
        *id = made;
    return err;
}
