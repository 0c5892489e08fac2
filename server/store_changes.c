/*
 * store_changes.c: reading and pruning the change log.
 *
 * The rows are written by the triggers of migration 0006, never here: every
 * write path of every process is logged the same way. This file reads them
 * in id order (all of them for key holders, or through the partial index of
 * public rows), tells what the log still keeps (changes_pruned) and removes
 * old rows in short transactions.
 */
#include <stdlib.h>

#include "newsd/log.h"
#include "newsd/util.h"
#include "store_internal.h"

/* Rows removed per prune transaction: a few milliseconds of writer lock.
 * PRUNE_CHUNK_SQL must say the same number. */
#define PRUNE_CHUNK 4000
#define PRUNE_CHUNK_SQL "4000"

static const char bounds_sql[] =
    "SELECT through, max(through, coalesce((SELECT max(id) FROM changes), 0)) "
    "FROM changes_pruned";

enum nd_err nd_sqlite_changes_bounds(struct nd_store *store, int64_t *pruned_through, int64_t *last)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    enum nd_err err = ND_OK;
    sqlite3_stmt *stmt = nd_store_stmt(st, ND_STMT_CHANGES_BOUNDS, bounds_sql, &err);
    if (!stmt)
        return err;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *pruned_through = sqlite3_column_int64(stmt, 0);
        *last = sqlite3_column_int64(stmt, 1);
    } else {
        /* SQLITE_DONE: the row of changes_pruned is missing, which 0006 made */
        err = rc == SQLITE_DONE ? ND_ERR_DB : nd_store_sqlite_err(st->db, rc, "change log bounds");
        if (rc == SQLITE_DONE)
            nd_log(ND_LOG_ERROR, "store: the change log has lost its changes_pruned row");
    }
    nd_store_release(stmt);
    return err;
}

/* The current row as a change object (see store.h) in *out. */
static enum nd_err row_to_change(sqlite3_stmt *stmt, json_t **out)
{
    struct nd_row row = nd_sqlite_row(stmt);
    return nd_row_change(&row, out);
}

/*
 * Steps stmt (bound to the changes after since, limit + 1 rows) and hands
 * up to limit changes to fn. *handed gets the id of the last one handed
 * over (unchanged when none), *more whether a row was left.
 */
static enum nd_err hand_over(struct nd_sqlite *st, sqlite3_stmt *stmt, unsigned limit,
                             nd_change_fn fn, void *ctx, int64_t *handed, bool *more)
{
    enum nd_err err = ND_OK;
    unsigned n = 0;
    int rc;
    *more = false;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (n == limit) {
            *more = true;
            break;
        }
        json_t *change = NULL;
        err = row_to_change(stmt, &change);
        if (err == ND_OK)
            err = fn(ctx, sqlite3_column_int64(stmt, ND_XCOL_ID),
                     sqlite3_column_int(stmt, ND_XCOL_PUBLIC) != 0, change);
        json_decref(change);
        if (err != ND_OK)
            return err;
        *handed = sqlite3_column_int64(stmt, ND_XCOL_ID);
        n++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = nd_store_sqlite_err(st->db, rc, "change log read");
    return err;
}

/* The body of nd_store_changes_read, inside its read transaction. */
static enum nd_err read_page(struct nd_sqlite *st, int64_t since, bool all, unsigned limit,
                             nd_change_fn fn, void *ctx, struct nd_change_page *page)
{
    int64_t through = 0, last = 0;
    enum nd_err err = nd_sqlite_changes_bounds(&st->base, &through, &last);
    if (err != ND_OK)
        return err;
    if (since < 0)
        since = through;
    if (since < through || since > last)
        return ND_ERR_NOT_FOUND;
    sqlite3_stmt *stmt =
        all ? nd_store_stmt(st, ND_STMT_CHANGES_ALL,
                            "SELECT " ND_CHANGE_COLUMNS " FROM changes WHERE id > :since "
                            "ORDER BY id LIMIT :limit",
                            &err)
            : nd_store_stmt(st, ND_STMT_CHANGES_PUBLIC,
                            "SELECT " ND_CHANGE_COLUMNS
                            " FROM changes WHERE public AND id > :since "
                            "ORDER BY id LIMIT :limit",
                            &err);
    if (!stmt)
        return err;
    int rc = nd_store_bind(
        stmt, ND_PARAMS(ND_INT(":since", since), ND_INT(":limit", (int64_t)limit + 1)));
    int64_t handed = since;
    bool more = false;
    err = rc == SQLITE_OK ? hand_over(st, stmt, limit, fn, ctx, &handed, &more)
                          : nd_store_sqlite_err(st->db, rc, "change log read");
    nd_store_release(stmt);
    if (err == ND_OK) {
        /* Past the last change handed over, nothing this reader may see is
         * left before the newest id: hidden changes are skipped for good. */
        page->next = more ? handed : last;
        page->more = more;
    }
    return err;
}

enum nd_err nd_sqlite_changes_read(struct nd_store *store, int64_t since, bool all, unsigned limit,
                                   nd_change_fn fn, void *ctx, struct nd_change_page *page)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    struct nd_change_page result = {0, false};
    if (!st || !fn || !page || limit == 0 || limit > 1000)
        return ND_ERR_INVALID;
    enum nd_err err = nd_store_begin_read(st);
    if (err != ND_OK)
        return err;
    err = read_page(st, since, all, limit, fn, ctx, &result);
    if (err == ND_OK)
        err = nd_store_commit(st);
    else
        nd_store_rollback(st);
    if (err == ND_OK)
        *page = result;
    return err;
}

/*
 * The newest id of the oldest PRUNE_CHUNK changes that was made before
 * before, stopping at the first later one: *upto (0 when none), and *full
 * when the whole chunk was old (more may follow).
 */
static enum nd_err prune_point(struct nd_sqlite *st, int64_t before, int64_t *upto, bool *full)
{
    enum nd_err err = ND_OK;
    unsigned n = 0;
    int rc;
    sqlite3_stmt *stmt =
        nd_store_stmt(st, ND_STMT_CHANGES_OLDEST,
                      "SELECT id, at FROM changes ORDER BY id LIMIT " PRUNE_CHUNK_SQL, &err);
    if (!stmt)
        return err;
    *upto = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && sqlite3_column_int64(stmt, 1) < before) {
        *upto = sqlite3_column_int64(stmt, 0);
        n++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = nd_store_sqlite_err(st->db, rc, "change log prune");
    *full = n == PRUNE_CHUNK;
    nd_store_release(stmt);
    return err;
}

/* One transaction of pruning: *removed grows, *again says whether to go on. */
static enum nd_err prune_chunk(struct nd_sqlite *st, int64_t before, unsigned long *removed,
                               bool *again)
{
    int64_t upto = 0;
    bool full = false;
    enum nd_err err = nd_store_begin(st);
    if (err != ND_OK)
        return err;
    err = prune_point(st, before, &upto, &full);
    if (err == ND_OK && upto > 0)
        err = nd_store_exec(st, ND_STMT_CHANGES_DELETE, "DELETE FROM changes WHERE id <= :upto",
                            ND_PARAMS(ND_INT(":upto", upto)), "change log prune");
    if (err == ND_OK && upto > 0) {
        *removed += (unsigned long)sqlite3_changes(st->db);
        err = nd_store_exec(st, ND_STMT_CHANGES_PRUNED,
                            "UPDATE changes_pruned SET through = max(through, :upto)",
                            ND_PARAMS(ND_INT(":upto", upto)), "change log prune");
    }
    *again = err == ND_OK && full;
    return nd_store_finish(st, err);
}

enum nd_err nd_sqlite_changes_prune(struct nd_store *store, int64_t before, unsigned long *removed)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    unsigned long count = 0;
    bool again = true;
    enum nd_err err = ND_OK;
    if (!st)
        return ND_ERR_INVALID;
    while (err == ND_OK && again)
        err = prune_chunk(st, before, &count, &again);
    /* /v1/changes answers hold those rows, and no HTTP write says so */
    if (count > 0)
        nd_store_count_foreign(st);
    if (removed)
        *removed = count;
    return err;
}
