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
    return nd_store_map_shape(stmt, into->shape, into->out);
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
    nd_store_map_fn map;
    const void *how;
    json_t *items;
};

static enum nd_err append_row(sqlite3_stmt *stmt, void *ctx)
{
    struct list_into *into = ctx;
    json_t *item = NULL;
    enum nd_err err = into->map(stmt, into->how, &item);
    if (err == ND_OK && json_array_append_new(into->items, item) != 0)
        err = ND_ERR_NOMEM;
    return err;
}

enum nd_err nd_store_list(struct nd_sqlite *st, enum nd_stmt id, const char *sql,
                          const struct nd_param *params, nd_store_map_fn map, const void *how,
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

/* ---- keyset pages ------------------------------------------------------ */

/* The double whose bits an ND_KEY_REAL key holds. */
static double key_double(int64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* A NaN is no position (every comparison with it is false), so such a cursor is refused. */
enum nd_err nd_store_page_start(const struct nd_page *page, const char *cursor,
                                int64_t keys[ND_PAGE_KEYS_MAX])
{
    enum nd_err err = ND_OK;
    for (unsigned i = 0; i < ND_PAGE_KEYS_MAX; i++)
        keys[i] = 0;
    if (!cursor)
        return ND_OK;
    if (page->nkeys == 3)
        err = nd_cursor_decode3(cursor, page->kind, &keys[0], &keys[1], &keys[2]);
    else
        err = nd_cursor_decode(cursor, page->kind, &keys[0], &keys[1]);
    for (unsigned i = 0; i < page->nkeys && err == ND_OK; i++)
        if ((page->keys[i].kind == ND_KEY_FIXED && keys[i] != page->keys[i].value) ||
            (page->keys[i].kind == ND_KEY_REAL && isnan(key_double(keys[i]))))
            err = ND_ERR_INVALID;
    return err == ND_OK ? ND_OK : ND_ERR_INVALID;
}

/* The sort keys of the current row of stmt. */
static void read_keys(const struct nd_page *page, sqlite3_stmt *stmt,
                      int64_t keys[ND_PAGE_KEYS_MAX])
{
    for (unsigned i = 0; i < page->nkeys; i++) {
        const struct nd_page_key *k = &page->keys[i];
        double real;
        switch (k->kind) {
        case ND_KEY_INT:
            keys[i] = sqlite3_column_int64(stmt, k->col);
            break;
        case ND_KEY_REAL:
            real = sqlite3_column_double(stmt, k->col);
            memcpy(&keys[i], &real, sizeof keys[i]);
            break;
        case ND_KEY_FIXED:
            keys[i] = k->value;
            break;
        }
    }
}

/* A new cursor for the position keys in page's order, or NULL when out of memory. */
static char *encode_keys(const struct nd_page *page, const int64_t keys[ND_PAGE_KEYS_MAX])
{
    if (page->nkeys == 3)
        return nd_cursor_encode3(page->kind, keys[0], keys[1], keys[2]);
    return nd_cursor_encode(page->kind, keys[0], keys[1]);
}

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
    int rc = nd_store_bind(stmt, params);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, sqlite3_bind_parameter_index(stmt, ":limit"),
                                (int64_t)page->limit + 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    for (; rc == SQLITE_ROW && n < page->limit && err == ND_OK; rc = sqlite3_step(stmt), n++) {
        json_t *item = NULL;
        if (n + 1 == page->limit)
            read_keys(page, stmt, last);
        err = page->map(stmt, page->how, &item);
        if (err == ND_OK && json_array_append_new(items, item) != 0)
            err = ND_ERR_NOMEM;
    }
    if (err == ND_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = nd_store_sqlite_err(st->db, rc, what);
    if (err == ND_OK && rc == SQLITE_ROW) {
        cursor = encode_keys(page, last);
        if (!cursor)
            err = ND_ERR_NOMEM;
    }
    nd_store_release(stmt);
    if (err == ND_OK)
        *next = cursor;
    return err;
}

/* ---- rows as JSON ------------------------------------------------------ */

/* Sets key to value (stolen, may be NULL after a failed allocation). */
static enum nd_err set_value(json_t *obj, const char *key, json_t *value)
{
    return json_object_set_new(obj, key, value) == 0 ? ND_OK : ND_ERR_NOMEM;
}

enum nd_err nd_store_json_text(json_t *obj, const char *key, sqlite3_stmt *stmt, int col)
{
    const char *text = (const char *)sqlite3_column_text(stmt, col);
    size_t len = (size_t)sqlite3_column_bytes(stmt, col);
    if (!text)
        text = "";
    json_t *value = json_stringn(text, len);
    if (!value && !nd_utf8_valid(text, len)) {
        nd_log(ND_LOG_ERROR, "store: column %s holds text that is not UTF-8", key);
        return ND_ERR_DB;
    }
    return set_value(obj, key, value);
}

/* Adds the stored JSON array text of column col as the array key. */
static enum nd_err json_tags(json_t *obj, const char *key, sqlite3_stmt *stmt, int col)
{
    json_error_t jerr;
    bool nomem = false;
    const char *text = (const char *)sqlite3_column_text(stmt, col);
    size_t len = (size_t)sqlite3_column_bytes(stmt, col);
    json_t *tags = text ? nd_json_loadb(text, len, 0, &jerr, &nomem) : NULL;
    if (nomem)
        return ND_ERR_NOMEM;
    if (!json_is_array(tags)) {
        json_decref(tags);
        nd_log(ND_LOG_ERROR, "store: article %lld has malformed tags",
               (long long)sqlite3_column_int64(stmt, 0));
        return ND_ERR_DB;
    }
    return set_value(obj, key, tags);
}

static enum nd_err json_column(json_t *obj, const struct nd_col *c, sqlite3_stmt *stmt)
{
    char buf[ND_TIME_BUF];
    switch (c->kind) {
    case ND_COL_INT_OR_NULL:
        if (sqlite3_column_type(stmt, c->col) == SQLITE_NULL)
            return set_value(obj, c->key, json_null());
        return set_value(obj, c->key, json_integer(sqlite3_column_int64(stmt, c->col)));
    case ND_COL_INT:
        return set_value(obj, c->key, json_integer(sqlite3_column_int64(stmt, c->col)));
    case ND_COL_TEXT_OR_NULL:
        if (sqlite3_column_type(stmt, c->col) == SQLITE_NULL)
            return set_value(obj, c->key, json_null());
        return nd_store_json_text(obj, c->key, stmt, c->col);
    case ND_COL_TEXT_OR_ABSENT:
        if (sqlite3_column_type(stmt, c->col) == SQLITE_NULL)
            return ND_OK;
        return nd_store_json_text(obj, c->key, stmt, c->col);
    case ND_COL_TEXT:
        return nd_store_json_text(obj, c->key, stmt, c->col);
    case ND_COL_TIME:
        nd_time_format(sqlite3_column_int64(stmt, c->col), buf);
        return set_value(obj, c->key, json_string(buf));
    case ND_COL_TAGS:
        return json_tags(obj, c->key, stmt, c->col);
    }
    return ND_ERR_DB;
}

enum nd_err nd_store_map_shape(sqlite3_stmt *stmt, const void *how, json_t **out)
{
    const struct nd_shape *shape = how;
    json_t *obj = json_object();
    enum nd_err err = obj ? ND_OK : ND_ERR_NOMEM;
    if (err == ND_OK && shape->type)
        err = set_value(obj, "type", json_string(shape->type));
    for (size_t i = 0; i < shape->ncols && err == ND_OK; i++)
        err = json_column(obj, &shape->cols[i], stmt);
    if (err != ND_OK) {
        json_decref(obj);
        return err;
    }
    *out = obj;
    return ND_OK;
}
