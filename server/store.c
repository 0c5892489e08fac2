/*
 * store.c: the store's connection: opening with the pragmas newsd relies
 * on, the statement cache, transactions, the mapping of SQLite results to
 * enum nd_err, and the helpers the resource files are written with
 * (store_internal.h): binding parameter lists, the runners that step and
 * release a statement, the keyset page reader and the mapping of a row to
 * JSON by a shape. The resource-specific SQL lives in store_articles.c,
 * store_comments.c, store_keys.c, store_search.c and store_backup.c.
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "newsd/cursor.h"
#include "newsd/json.h"
#include "newsd/log.h"
#include "newsd/migrate.h"
#include "newsd/util.h"
#include "store_internal.h"

enum nd_err nd_store_sqlite_err(sqlite3 *db, int rc, const char *what)
{
    enum nd_err err;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        nd_log(ND_LOG_WARN, "store: %s: database busy: %s", what, sqlite3_errmsg(db));
        return ND_ERR_BUSY;
    case SQLITE_NOMEM:
        err = ND_ERR_NOMEM;
        break;
    case SQLITE_INTERRUPT:
        /* only the search time limit interrupts a statement */
        return ND_ERR_LIMIT;
    case SQLITE_READONLY:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
        /* the storage under the database failed (read-only file system, disk
         * full, I/O error): 503, and reads may still work */
        err = ND_ERR_READONLY;
        break;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return ND_ERR_CONFLICT;
        err = ND_ERR_DB;
        break;
    default:
        err = ND_ERR_DB;
        break;
    }
    nd_log(ND_LOG_ERROR, "store: %s: %s (%d)", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
           rc);
    return err;
}

sqlite3_stmt *nd_store_prepare(struct nd_store *st, sqlite3_stmt **slot, const char *sql,
                               enum nd_err *err)
{
    sqlite3_stmt *stmt = *slot;
    if (stmt)
        return stmt;
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        *err = nd_store_sqlite_err(st->db, rc, "prepare");
        return NULL;
    }
    *slot = stmt;
    return stmt;
}

sqlite3_stmt *nd_store_stmt(struct nd_store *st, enum nd_stmt id, const char *sql, enum nd_err *err)
{
    return nd_store_prepare(st, &st->stmts[id], sql, err);
}

void nd_store_release(sqlite3_stmt *stmt)
{
    if (!stmt)
        return;
    /* The result repeats the last step's, which the user already checked. */
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

enum nd_err nd_store_step_done(struct nd_store *st, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE)
        return nd_store_sqlite_err(st->db, rc, what);
    return ND_OK;
}

/*
 * The transaction-control statements, prepared when the store is opened
 * (prepare_fixed): a connection's first ROLLBACK usually comes right after
 * an allocation failed, and a ROLLBACK that could not be prepared then would
 * leave the transaction open, holding the write lock for good.
 */
static const char *const fixed_sql[] = {
    [ND_STMT_BEGIN] = "BEGIN IMMEDIATE",
    [ND_STMT_BEGIN_READ] = "BEGIN",
    [ND_STMT_COMMIT] = "COMMIT",
    [ND_STMT_ROLLBACK] = "ROLLBACK",
    [ND_STMT_SAVEPOINT] = "SAVEPOINT nd_write",
    [ND_STMT_RELEASE] = "RELEASE nd_write",
    [ND_STMT_ROLLBACK_TO] = "ROLLBACK TO nd_write",
};

static enum nd_err prepare_fixed(struct nd_store *st)
{
    enum nd_err err = ND_OK;
    for (size_t i = 0; i < sizeof fixed_sql / sizeof fixed_sql[0] && err == ND_OK; i++)
        if (fixed_sql[i] != NULL)
            nd_store_stmt(st, (enum nd_stmt)i, fixed_sql[i], &err);
    return err;
}

/* Runs one of the fixed transaction-control statements. */
static enum nd_err run_fixed(struct nd_store *st, enum nd_stmt id)
{
    return nd_store_exec(st, id, fixed_sql[id], NULL, fixed_sql[id]);
}

/*
 * Writers of this process take turns on a mutex before BEGIN IMMEDIATE.
 * SQLite would make them take turns anyway, but a connection that finds the
 * lock taken sleeps in steps of milliseconds (its busy handler), while a
 * write takes a fraction of one: waiting on the mutex hands the lock over
 * the moment it is free. Other processes still meet busy_timeout.
 */
static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;

/* Waits up to busy_timeout for the writer mutex: ND_ERR_BUSY after that, as SQLite would. */
static enum nd_err writer_acquire(struct nd_store *st)
{
    if (st->holds_writer)
        return ND_OK;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += st->busy_timeout_ms / 1000;
    until.tv_nsec += (long)(st->busy_timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (pthread_mutex_timedlock(&writer_lock, &until) != 0) {
        nd_log(ND_LOG_WARN, "store: another write of this process held the lock for %u ms",
               st->busy_timeout_ms);
        return ND_ERR_BUSY;
    }
    st->holds_writer = true;
    return ND_OK;
}

static void writer_release(struct nd_store *st)
{
    if (st->holds_writer) {
        st->holds_writer = false;
        pthread_mutex_unlock(&writer_lock);
    }
}

/* Opens the savepoint that stands for a write's transaction inside a batch. */
static enum nd_err open_savepoint(struct nd_store *st)
{
    enum nd_err err = run_fixed(st, ND_STMT_SAVEPOINT);
    st->savepoint_open = err == ND_OK;
    return err;
}

enum nd_err nd_store_begin(struct nd_store *st)
{
    if (st->batch_depth > 0)
        return open_savepoint(st);
    if (!sqlite3_get_autocommit(st->db)) {
        /* a ROLLBACK that failed (out of memory) left one open: end it first */
        nd_log(ND_LOG_WARN, "store: a transaction was left open; rolling it back");
        nd_store_rollback(st);
    }
    enum nd_err err = writer_acquire(st);
    if (err != ND_OK)
        return err;
    err = run_fixed(st, ND_STMT_BEGIN);
    if (err != ND_OK)
        writer_release(st);
    return err;
}

enum nd_err nd_store_begin_read(struct nd_store *st)
{
    if (st->batch_depth > 0)
        return open_savepoint(st);
    return run_fixed(st, ND_STMT_BEGIN_READ);
}

enum nd_err nd_store_commit(struct nd_store *st)
{
    enum nd_err err = ND_OK;
    if (st->batch_depth > 0)
        err = run_fixed(st, ND_STMT_RELEASE);
    else
        err = run_fixed(st, ND_STMT_COMMIT);
    if (err != ND_OK)
        nd_store_rollback(st);
    else
        st->savepoint_open = false;
    if (st->batch_depth == 0)
        writer_release(st);
    return err;
}

enum nd_err nd_store_finish(struct nd_store *st, enum nd_err err)
{
    if (err == ND_OK)
        return nd_store_commit(st);
    nd_store_rollback(st);
    return err;
}

enum nd_err nd_store_finish_with(struct nd_store *st, enum nd_err err, json_t *value, json_t **out)
{
    err = nd_store_finish(st, err);
    if (err != ND_OK) {
        json_decref(value);
        return err;
    }
    *out = value;
    return ND_OK;
}

void nd_store_rollback(struct nd_store *st)
{
    /* SQLite has already rolled back after some errors (SQLITE_FULL, NOMEM). */
    if (sqlite3_get_autocommit(st->db)) {
        st->savepoint_open = false;
        if (st->batch_depth == 0)
            writer_release(st);
        return;
    }
    if (st->batch_depth == 0) {
        run_fixed(st, ND_STMT_ROLLBACK);
        writer_release(st);
        return;
    }
    if (!st->savepoint_open)
        return;
    /* ROLLBACK TO keeps the savepoint on the stack; RELEASE then drops it. */
    run_fixed(st, ND_STMT_ROLLBACK_TO);
    run_fixed(st, ND_STMT_RELEASE);
    st->savepoint_open = false;
}

/*
 * Only the outermost begin touches the database. A batch cannot start while
 * a transaction of another kind is open on this connection (ND_ERR_INVALID).
 */
enum nd_err nd_store_batch_begin(struct nd_store *st)
{
    if (!st)
        return ND_ERR_INVALID;
    if (st->batch_depth > 0) {
        st->batch_depth++;
        return ND_OK;
    }
    if (!sqlite3_get_autocommit(st->db))
        return ND_ERR_INVALID;
    enum nd_err err = writer_acquire(st);
    if (err != ND_OK)
        return err;
    err = run_fixed(st, ND_STMT_BEGIN);
    if (err == ND_OK) {
        st->batch_depth = 1;
        st->batch_doomed = false;
        st->savepoint_open = false;
    } else {
        writer_release(st);
    }
    return err;
}

/*
 * When SQLite rolled the whole transaction back on its own (disk full, out
 * of memory), the failing statement has logged why; the end only reports it.
 */
enum nd_err nd_store_batch_end(struct nd_store *st, bool commit)
{
    if (!st || st->batch_depth == 0)
        return ND_ERR_INVALID;
    if (!commit)
        st->batch_doomed = true;
    if (--st->batch_depth > 0)
        return ND_OK;
    bool doomed = st->batch_doomed;
    st->batch_doomed = false;
    st->savepoint_open = false;
    if (sqlite3_get_autocommit(st->db)) {
        writer_release(st);
        return doomed ? ND_OK : ND_ERR_DB;
    }
    if (doomed) {
        nd_store_rollback(st);
        return ND_OK;
    }
    return nd_store_commit(st);
}

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

enum nd_err nd_store_exec(struct nd_store *st, enum nd_stmt id, const char *sql,
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

enum nd_err nd_store_exec_change(struct nd_store *st, enum nd_stmt id, const char *sql,
                                 const struct nd_param *params, const char *what)
{
    enum nd_err err = nd_store_exec(st, id, sql, params, what);
    /* the count of the statement just run: releasing it does not touch that */
    if (err == ND_OK && sqlite3_changes(st->db) == 0)
        err = ND_ERR_NOT_FOUND;
    return err;
}

enum nd_err nd_store_row(struct nd_store *st, enum nd_stmt id, const char *sql,
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

enum nd_err nd_store_each(struct nd_store *st, sqlite3_stmt *stmt, const struct nd_param *params,
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

enum nd_err nd_store_get(struct nd_store *st, enum nd_stmt id, const char *sql,
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

enum nd_err nd_store_list(struct nd_store *st, enum nd_stmt id, const char *sql,
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
enum nd_err nd_store_page(struct nd_store *st, sqlite3_stmt *stmt, const struct nd_param *params,
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

/* Runs a fixed pragma, reading and discarding any row it answers. */
static enum nd_err pragma(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    enum nd_err err = ND_OK;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        do
            rc = sqlite3_step(stmt);
        while (rc == SQLITE_ROW);
    }
    if (rc != SQLITE_DONE)
        err = nd_store_sqlite_err(db, rc, sql);
    sqlite3_finalize(stmt);
    return err;
}

/*
 * Switches a file database to WAL. Some file systems cannot hold WAL's
 * shared memory; the database then keeps its rollback journal, which is
 * slower but correct, so that is a warning, not a failure.
 */
static enum nd_err use_wal(sqlite3 *db)
{
    sqlite3_stmt *stmt = NULL;
    enum nd_err err = ND_OK;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(stmt, 0);
        if (!mode || strcmp(mode, "wal") != 0)
            nd_log(ND_LOG_WARN, "store: journal mode stays %s, not wal", mode ? mode : "?");
    } else {
        err = nd_store_sqlite_err(db, rc, "PRAGMA journal_mode");
    }
    sqlite3_finalize(stmt);
    return err;
}

static const char *const sync_pragmas[] = {
    [ND_SYNC_OFF] = "PRAGMA synchronous=OFF",
    [ND_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
    [ND_SYNC_FULL] = "PRAGMA synchronous=FULL",
};

/* Applies every per-connection setting newsd relies on. */
static enum nd_err configure(sqlite3 *db, const char *path, const struct nd_store_options *opts)
{
    enum nd_err err = ND_OK;
    unsigned sync = (unsigned)opts->synchronous;
    sqlite3_extended_result_codes(db, 1);
    /* First, so that even the journal mode switch waits for other openers. */
    sqlite3_busy_timeout(db,
                         opts->busy_timeout_ms > INT_MAX ? INT_MAX : (int)opts->busy_timeout_ms);
    if (strcmp(path, ":memory:") != 0) {
        err = use_wal(db);
        if (err != ND_OK)
            return err;
    }
    if (sync >= sizeof sync_pragmas / sizeof sync_pragmas[0])
        sync = ND_SYNC_FULL;
    err = pragma(db, sync_pragmas[sync]);
    if (err == ND_OK)
        err = pragma(db, "PRAGMA foreign_keys=ON");
    /* Debian builds SQLite with secure_delete on; the data is not secret. */
    if (err == ND_OK)
        err = pragma(db, "PRAGMA secure_delete=OFF");
    return err;
}

enum nd_err nd_store_open(const char *path, const struct nd_store_options *opts,
                          struct nd_store **out)
{
    enum nd_err err = ND_OK;
    struct nd_store *st = NULL;
    if (!path || !*path || !opts)
        return ND_ERR_INVALID;
    st = calloc(1, sizeof *st);
    if (!st)
        return ND_ERR_NOMEM;
    int rc = sqlite3_open_v2(
        path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        err = st->db ? nd_store_sqlite_err(st->db, rc, "open") : ND_ERR_NOMEM;
        if (err == ND_ERR_READONLY && (rc & 0xff) == SQLITE_CANTOPEN)
            err = ND_ERR_IO;
        goto out;
    }
    st->busy_timeout_ms = opts->busy_timeout_ms;
    err = configure(st->db, path, opts);
    if (err != ND_OK)
        goto out;
    err = nd_migrate(st->db, &st->migrations_applied);
    if (err == ND_OK)
        err = prepare_fixed(st);
out:
    if (err != ND_OK) {
        nd_store_close(st);
        return err;
    }
    *out = st;
    return ND_OK;
}

void nd_store_close(struct nd_store *st)
{
    if (!st)
        return;
    /* a write left open (a bug) must not keep every other writer waiting */
    if (!sqlite3_get_autocommit(st->db))
        nd_store_rollback(st);
    for (size_t i = 0; i < ND_STMT_COUNT; i++)
        sqlite3_finalize(st->stmts[i]);
    for (size_t i = 0; i < ND_LIST_VARIANTS; i++) {
        for (size_t order = 0; order < ND_ORDER_COUNT; order++)
            sqlite3_finalize(st->article_lists[order][i]);
        for (size_t order = 0; order < 2; order++)
            sqlite3_finalize(st->article_searches[order][i]);
    }
    for (size_t i = 0; i < ND_SEARCH_COMMENT_VARIANTS; i++)
        for (size_t order = 0; order < 2; order++)
            sqlite3_finalize(st->comment_searches[order][i]);
    /* Every statement is finalized, so close cannot be refused as busy. */
    sqlite3_close(st->db);
    free(st);
}

unsigned nd_store_migrations_applied(const struct nd_store *st)
{
    return st->migrations_applied;
}

enum nd_err nd_store_ping(struct nd_store *st)
{
    /* Reads a real table, so a damaged or vanished file does not pass. */
    return nd_store_row(st, ND_STMT_PING, "SELECT max(version) FROM schema_migrations", NULL, NULL,
                        NULL, "ping");
}

enum nd_err nd_store_read_int(sqlite3_stmt *stmt, void *ctx)
{
    *(int64_t *)ctx = sqlite3_column_int64(stmt, 0);
    return ND_OK;
}

/*
 * Prepared on each call rather than kept: it serves a metrics scrape every
 * few seconds at most, and a statement slot would cost every connection.
 */
enum nd_err nd_store_size(struct nd_store *st, int64_t *bytes)
{
    enum nd_err err = ND_OK;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(
        st->db, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()", -1,
        &stmt, NULL);
    if (rc != SQLITE_OK) {
        err = nd_store_sqlite_err(st->db, rc, "database size");
        goto out;
    }
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *bytes = sqlite3_column_int64(stmt, 0);
    else
        err = nd_store_sqlite_err(st->db, rc, "database size");
out:
    sqlite3_finalize(stmt);
    return err;
}

enum nd_err nd_store_data_version(struct nd_store *st, int64_t *version)
{
    return nd_store_row(st, ND_STMT_DATA_VERSION, "PRAGMA data_version", NULL, nd_store_read_int,
                        version, "data version");
}
