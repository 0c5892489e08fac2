/*
 * store_query.c: the helpers every store_*.c function is written with
 * (store_internal.h): binding a parameter list, the runners that bind, step
 * and always reset a cached statement (no row, one row, every row, each row
 * to a callback), the keyset page reader with its cursors, and the mapping
 * of a row to JSON by a shape. The connection, the statement cache and the
 * transactions they run in are store.c's.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/cursor.h"
#include "newsd/json.h"
#include "newsd/log.h"
#include "newsd/util.h"
#include "store_internal.h"

int nd_store_bind(sqlite3_stmt *stmt, const struct nd_param *params)
{
    int rc = SQLITE_OK;
    for (const struct nd_param *p = params; p && p->name && rc == SQLITE_OK; p++) {
        if (p->type == ND_PARAM_SKIP)
            continue;
        int idx = sqlite3_bind_parameter_index(stmt, p->name);
        switch (p->type) {
        case ND_PARAM_INT:
            rc = sqlite3_bind_int64(stmt, idx, p->integer);
            break;
        case ND_PARAM_TEXT:
            rc = p->text ? sqlite3_bind_text(stmt, idx, p->text, -1, SQLITE_STATIC)
                         : sqlite3_bind_null(stmt, idx);
            break;
        case ND_PARAM_REAL:
            rc = sqlite3_bind_double(stmt, idx, p->real);
            break;
        case ND_PARAM_BLOB:
            rc = sqlite3_bind_blob(stmt, idx, p->blob, p->blob_len, SQLITE_STATIC);
            break;
        case ND_PARAM_SKIP:
            break;
        }
    }
    return rc;
}

/* Binds params to stmt and steps it once: the first step's result, or the bind's failure. */
static int bind_and_step(sqlite3_stmt *stmt, const struct nd_param *params)
{
    int rc = nd_store_bind(stmt, params);
    return rc == SQLITE_OK ? sqlite3_step(stmt) : rc;
}

enum nd_err nd_store_exec(struct nd_sqlite *st, enum nd_stmt id, const char *sql,
                          const struct nd_param *params, const char *what)
{
    enum nd_err err = ND_OK;
    sqlite3_stmt *stmt = nd_store_stmt(st, id, sql, &err);
    if (!stmt)
        return err;
    int rc = nd_store_bind(stmt, params);
    err = rc == SQLITE_OK ? nd_store_step_done(st, stmt, what)
                          : nd_store_sqlite_err(st->db, rc, what);
    nd_store_release(stmt);
    return err;
}

enum nd_err nd_store_exec_change(struct nd_sqlite *st, enum nd_stmt id, const char *sql,
                                 const struct nd_param *params, const char *what)
{
    enum nd_err err = nd_store_exec(st, id, sql, params, what);
    /* the count of the statement just run: releasing it does not touch that */
    if (err == ND_OK && sqlite3_changes(st->db) == 0)
        err = ND_ERR_NOT_FOUND;
    return err;
}

enum nd_err nd_store_row(struct nd_sqlite *st, enum nd_stmt id, const char *sql,
                         const struct nd_param *params, nd_store_row_fn read, void *ctx,
                         const char *what)
{
    enum nd_err err = ND_OK;
    sqlite3_stmt *stmt = nd_store_stmt(st, id, sql, &err);
    if (!stmt)
        return err;
    int rc = bind_and_step(stmt, params);
    if (rc == SQLITE_ROW)
        err = read ? read(stmt, ctx) : ND_OK;
    else if (rc == SQLITE_DONE)
        err = ND_ERR_NOT_FOUND;
    else
        err = nd_store_sqlite_err(st->db, rc, what);
    nd_store_release(stmt);
    return err;
}

enum nd_err nd_store_each(struct nd_sqlite *st, sqlite3_stmt *stmt, const struct nd_param *params,
                          nd_store_row_fn read, void *ctx, const char *what)
{
    enum nd_err err = ND_OK;
    int rc = bind_and_step(stmt, params);
    while (rc == SQLITE_ROW && err == ND_OK) {
        err = read(stmt, ctx);
        if (err == ND_OK)
            rc = sqlite3_step(stmt);
    }
    if (err == ND_OK && rc != SQLITE_DONE)
        err = nd_store_sqlite_err(st->db, rc, what);
    nd_store_release(stmt);
    return err;
}

/* Where nd_store_get puts its row. */
struct shape_into {
    const struct nd_shape *shape;
    json_t **out;
};

static enum nd_err read_shape(sqlite3_stmt *stmt, void *ctx)
{
    const struct shape_into *into = ctx;
    struct nd_row row = nd_sqlite_row(stmt);
    return nd_row_map_shape(&row, into->shape, into->out);
}

enum nd_err nd_store_get(struct nd_sqlite *st, enum nd_stmt id, const char *sql,
                         const struct nd_param *params, const struct nd_shape *shape, json_t **out,
                         const char *what)
{
    struct shape_into into = {shape, out};
    return nd_store_row(st, id, sql, params, read_shape, &into, what);
}

/* What nd_store_list's rows are mapped with and appended to. */
struct list_into {
    nd_row_map_fn map;
    const void *how;
    json_t *items;
};

static enum nd_err append_row(sqlite3_stmt *stmt, void *ctx)
{
    struct list_into *into = ctx;
    json_t *item = NULL;
    struct nd_row row = nd_sqlite_row(stmt);
    enum nd_err err = into->map(&row, into->how, &item);
    if (err == ND_OK && json_array_append_new(into->items, item) != 0)
        err = ND_ERR_NOMEM;
    return err;
}

enum nd_err nd_store_list(struct nd_sqlite *st, enum nd_stmt id, const char *sql,
                          const struct nd_param *params, nd_row_map_fn map, const void *how,
                          json_t **out, const char *what)
{
    enum nd_err err = ND_OK;
    struct list_into into = {map, how, json_array()};
    if (!into.items)
        return ND_ERR_NOMEM;
    sqlite3_stmt *stmt = nd_store_stmt(st, id, sql, &err);
    if (stmt)
        err = nd_store_each(st, stmt, params, append_row, &into, what);
    if (err != ND_OK) {
        json_decref(into.items);
        return err;
    }
    *out = into.items;
    return ND_OK;
}

/* ---- rows of SQLite statements ---------------------------------------- */

static bool column_is_null(const void *row, int col)
{
    return sqlite3_column_type((sqlite3_stmt *)row, col) == SQLITE_NULL;
}

static int64_t column_int(const void *row, int col)
{
    return sqlite3_column_int64((sqlite3_stmt *)row, col);
}

static double column_real(const void *row, int col)
{
    return sqlite3_column_double((sqlite3_stmt *)row, col);
}

static const char *column_text(const void *row, int col, size_t *len)
{
    sqlite3_stmt *stmt = (sqlite3_stmt *)row;
    const char *text = (const char *)sqlite3_column_text(stmt, col);
    *len = text ? (size_t)sqlite3_column_bytes(stmt, col) : 0;
    return text ? text : "";
}

static const struct nd_row_reader sqlite_rows = {column_is_null, column_int, column_real,
                                                 column_text};

struct nd_row nd_sqlite_row(sqlite3_stmt *stmt)
{
    struct nd_row row = {&sqlite_rows, stmt};
    return row;
}

/* ---- keyset pages ------------------------------------------------------ */

/*
 * Only the last row that fits gives its keys: the row after it, if any,
 * only says that there is a next page.
 */
enum nd_err nd_store_page(struct nd_sqlite *st, sqlite3_stmt *stmt, const struct nd_param *params,
                          const struct nd_page *page, json_t *items, char **next, const char *what)
{
    enum nd_err err = ND_OK;
    int64_t last[ND_PAGE_KEYS_MAX] = {0, 0, 0};
    char *cursor = NULL;
    unsigned n = 0;
    struct nd_row row = nd_sqlite_row(stmt);
    int rc = nd_store_bind(stmt, params);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, sqlite3_bind_parameter_index(stmt, ":limit"),
                                (int64_t)page->limit + 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    for (; rc == SQLITE_ROW && n < page->limit && err == ND_OK; rc = sqlite3_step(stmt), n++) {
        if (n + 1 == page->limit)
            nd_page_row_keys(page, &row, last);
        err = nd_page_add_row(page, &row, n, items);
    }
    if (err == ND_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = nd_store_sqlite_err(st->db, rc, what);
    if (err == ND_OK && rc == SQLITE_ROW) {
        cursor = nd_page_cursor(page, last);
        if (!cursor)
            err = ND_ERR_NOMEM;
    }
    nd_store_release(stmt);
    if (err == ND_OK)
        *next = cursor;
    return err;
}
