/*
 * store_pg_changes.c: the change log in PostgreSQL, read and pruned as the
 * SQLite backend does (store_changes.c): the triggers of migration 0001
 * write it in each write's transaction, and writers take turns (the write
 * lock of nd_pg_begin), so ids follow commit order and a reader that has
 * seen id N never later finds a smaller one appear.
 */
#include <stdlib.h>

#include "newsd/log.h"
#include "store_pg.h"

enum { S_BOUNDS = PG_SLOT_CHANGES, S_ALL, S_PUBLIC, S_OLDEST, S_DELETE, S_PRUNED, S_END };
_Static_assert((int)S_END <= (int)PG_SLOT_BACKUP, "change log statements overflow their slots");

#define PRUNE_CHUNK 4000
#define PRUNE_CHUNK_SQL "4000"

struct bounds {
    int64_t through, last;
};

static enum nd_err read_bounds(const struct nd_row *row, void *ctx)
{
    struct bounds *b = ctx;
    b->through = nd_row_int(row, 0);
    b->last = nd_row_int(row, 1);
    return ND_OK;
}

enum nd_err nd_pg_changes_bounds(struct nd_store *store, int64_t *pruned_through, int64_t *last)
{
    struct bounds b = {0, 0};
    enum nd_err err = nd_pg_row_one(
        nd_pg_of(store), S_BOUNDS,
        "SELECT through, greatest(through, coalesce((SELECT max(id) FROM changes), 0)) "
        "FROM changes_pruned",
        NULL, read_bounds, &b, "change log bounds");
    if (err == ND_ERR_NOT_FOUND) {
        nd_log(ND_LOG_ERROR, "store: the change log has lost its changes_pruned row");
        err = ND_ERR_DB;
    }
    if (err == ND_OK) {
        *pruned_through = b.through;
        *last = b.last;
    }
    return err;
}

/* Hands the rows over to the reader's callback, as store_changes.c's hand_over. */
struct hand_over {
    unsigned limit, n;
    nd_change_fn fn;
    void *ctx;
    int64_t handed;
    bool more;
};

static enum nd_err hand_row(const struct nd_row *row, void *ctx)
{
    struct hand_over *h = ctx;
    if (h->n == h->limit) {
        h->more = true;
        return ND_OK;
    }
    json_t *change = NULL;
    enum nd_err err = nd_row_change(row, &change);
    if (err == ND_OK)
        err = h->fn(h->ctx, nd_row_int(row, ND_XCOL_ID), nd_row_int(row, ND_XCOL_PUBLIC) != 0,
                    change);
    json_decref(change);
    if (err == ND_OK) {
        h->handed = nd_row_int(row, ND_XCOL_ID);
        h->n++;
    }
    return err;
}

static enum nd_err read_page(struct nd_pg *st, int64_t since, bool all, unsigned limit,
                             nd_change_fn fn, void *ctx, struct nd_change_page *page)
{
    int64_t through = 0, last = 0;
    enum nd_err err = nd_pg_changes_bounds(&st->base, &through, &last);
    if (err != ND_OK)
        return err;
    if (since < 0)
        since = through;
    if (since < through || since > last)
        return ND_ERR_NOT_FOUND;
    struct hand_over h = {limit, 0, fn, ctx, since, false};
    const struct nd_param *params =
        ND_PARAMS(ND_INT(":since", since), ND_INT(":limit", (int64_t)limit + 1));
    if (all)
        err = nd_pg_each(st, &st->stmts[S_ALL],
                         "SELECT " ND_CHANGE_COLUMNS " FROM changes WHERE id > :since "
                         "ORDER BY id LIMIT :limit",
                         params, hand_row, &h, "change log read");
    else
        err = nd_pg_each(st, &st->stmts[S_PUBLIC],
                         "SELECT " ND_CHANGE_COLUMNS " FROM changes WHERE public AND id > :since "
                         "ORDER BY id LIMIT :limit",
                         params, hand_row, &h, "change log read");
    if (err == ND_OK) {
        page->next = h.more ? h.handed : last;
        page->more = h.more;
    }
    return err;
}

enum nd_err nd_pg_changes_read(struct nd_store *store, int64_t since, bool all, unsigned limit,
                               nd_change_fn fn, void *ctx, struct nd_change_page *page)
{
    struct nd_pg *st = nd_pg_of(store);
    struct nd_change_page result = {0, false};
    if (!fn || !page || limit == 0 || limit > 1000)
        return ND_ERR_INVALID;
    enum nd_err err = nd_pg_begin_read(st);
    if (err != ND_OK)
        return err;
    err = read_page(st, since, all, limit, fn, ctx, &result);
    if (err == ND_OK)
        err = nd_pg_commit(st);
    else
        nd_pg_rollback(st);
    if (err == ND_OK)
        *page = result;
    return err;
}

/* The newest id among the oldest PRUNE_CHUNK changes made before before. */
struct prune_point {
    int64_t before, upto;
    unsigned n;
    bool stopped;
};

static enum nd_err read_point(const struct nd_row *row, void *ctx)
{
    struct prune_point *p = ctx;
    if (p->stopped || nd_row_int(row, 1) >= p->before) {
        p->stopped = true;
        return ND_OK;
    }
    p->upto = nd_row_int(row, 0);
    p->n++;
    return ND_OK;
}

static enum nd_err prune_chunk(struct nd_pg *st, int64_t before, unsigned long *removed,
                               bool *again)
{
    struct prune_point point = {before, 0, 0, false};
    enum nd_err err = nd_pg_begin(st);
    if (err != ND_OK)
        return err;
    err = nd_pg_each(st, &st->stmts[S_OLDEST],
                     "SELECT id, at FROM changes ORDER BY id LIMIT " PRUNE_CHUNK_SQL, NULL,
                     read_point, &point, "change log prune");
    if (err == ND_OK && point.upto > 0) {
        PGresult *res = NULL;
        err = nd_pg_run(st, &st->stmts[S_DELETE], "DELETE FROM changes WHERE id <= :upto",
                        ND_PARAMS(ND_INT(":upto", point.upto)), "change log prune", &res);
        if (err == ND_OK)
            *removed += strtoul(PQcmdTuples(res), NULL, 10);
        PQclear(res);
    }
    if (err == ND_OK && point.upto > 0)
        err =
            nd_pg_exec(st, S_PRUNED, "UPDATE changes_pruned SET through = greatest(through, :upto)",
                       ND_PARAMS(ND_INT(":upto", point.upto)), false, "change log prune");
    *again = err == ND_OK && point.n == PRUNE_CHUNK;
    return nd_pg_finish(st, err);
}

enum nd_err nd_pg_changes_prune(struct nd_store *store, int64_t before, unsigned long *removed)
{
    struct nd_pg *st = nd_pg_of(store);
    unsigned long count = 0;
    bool again = true;
    enum nd_err err = ND_OK;
    while (err == ND_OK && again)
        err = prune_chunk(st, before, &count, &again);
    if (count > 0)
        nd_pg_count_foreign();
    if (removed)
        *removed = count;
    return err;
}
