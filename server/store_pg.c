/*
 * store_pg.c: the PostgreSQL backend's connection (store_pg.h): opening and
 * reopening, statements numbered and prepared per connection, results read
 * as struct nd_row, the mapping of SQLSTATE codes to enum nd_err,
 * transactions and batches. Connecting itself, and knowing whether the
 * database is away, is store_pg_connect.c's work, the migrations
 * store_pg_migrate.c's; the resources' SQL is in store_pg_articles.c,
 * store_pg_comments.c, store_pg_changes.c, store_pg_search.c and
 * store_pg_backup.c.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/log.h"
#include "newsd/migrate.h"
#include "newsd/util.h"
#include "store_pg.h"

/* ---- errors ------------------------------------------------------------- */

/*
 * Maps a failed result (res may be NULL: the call itself failed) to an
 * nd_err and logs it once, as nd_store_sqlite_err does for SQLite: a unique
 * violation is ND_ERR_CONFLICT and not logged (the client's doing); a lost
 * connection, a restart, a lock or statement timeout is ND_ERR_BUSY (503,
 * try again); a full disk or a read-only server is ND_ERR_READONLY.
 */
enum nd_err nd_pg_err(struct nd_pg *st, const PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char msg[256];
    nd_pg_first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(st->conn), msg, sizeof msg);
    if (!msg[0])
        nd_pg_first_line(PQerrorMessage(st->conn), msg, sizeof msg);
    if (PQstatus(st->conn) != CONNECTION_OK || !state) {
        st->lost = true;
        nd_log(ND_LOG_WARN, "store: %s: the PostgreSQL connection is lost: %s", what, msg);
        return ND_ERR_BUSY;
    }
    if (strcmp(state, "23505") == 0)
        return ND_ERR_CONFLICT;
    if (strcmp(state, "23503") == 0)
        return ND_ERR_NOT_FOUND; /* what a row refers to was deleted by a writer beside it */
    enum nd_err err = ND_ERR_DB;
    if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
        strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0) {
        st->lost = true;
        err = ND_ERR_BUSY;
    } else if (strcmp(state, "57014") == 0 && st->timeout_is_limit) {
        return ND_ERR_LIMIT; /* the search ran past its time limit: the caller says so */
    } else if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0 ||
               strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
        err = ND_ERR_BUSY; /* a timeout, a lock, a serialization failure: try again */
    } else if (strncmp(state, "53", 2) == 0 || strcmp(state, "25006") == 0) {
        err = ND_ERR_READONLY; /* disk full, out of resources, a read-only server */
    } else if (strcmp(state, "54000") == 0 || strcmp(state, "22P05") == 0 ||
               strcmp(state, "22021") == 0) {
        err = ND_ERR_INVALID; /* a value PostgreSQL cannot store (a NUL, a bad encoding) */
    }
    nd_log(err == ND_ERR_BUSY ? ND_LOG_WARN : ND_LOG_ERROR, "store: %s: %s (SQLSTATE %s)", what,
           msg, state);
    return err;
}

/* ---- statements --------------------------------------------------------- */

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* The length of the parameter name at p (":id" is 3). */
static size_t name_len(const char *p)
{
    size_t len = 1;
    while (is_name_char(p[len]))
        len++;
    return len;
}

/*
 * Numbers the named parameters of sql (":id") into out ($1, $2, ...), each
 * name once, in slot->params; "::" (a cast) is left alone, and so is text
 * in quotes. false when out (size bytes) or the parameter table is too
 * small: a bug of the SQL, logged.
 */
static bool number_params(const char *sql, char *out, size_t size, struct nd_pg_stmt *slot)
{
    size_t used = 0;
    bool quoted = false;
    slot->nparams = 0;
    for (const char *p = sql; *p; p++) {
        if (*p == '\'')
            quoted = !quoted;
        if (!quoted && p[0] == ':' && p[1] == ':') {
            if (used + 2 >= size)
                return false;
            out[used++] = *p++;
            out[used++] = *p;
            continue;
        }
        if (quoted || p[0] != ':' || !is_name_char(p[1])) {
            if (used + 1 >= size)
                return false;
            out[used++] = *p;
            continue;
        }
        size_t len = 1;
        while (is_name_char(p[len]))
            len++;
        unsigned n = 0;
        while (n < slot->nparams &&
               !(name_len(slot->params[n]) == len && memcmp(slot->params[n], p, len) == 0))
            n++;
        if (n == slot->nparams) {
            if (n == ND_PG_MAX_PARAMS)
                return false;
            /* into the SQL text for now: prepare copies them (keep_names) */
            slot->params[n] = p;
            slot->nparams++;
        }
        int w = snprintf(out + used, size - used, "$%u", n + 1);
        if (w < 0 || (size_t)w >= size - used)
            return false;
        used += (size_t)w;
        p += len - 1;
    }
    out[used] = '\0';
    return true;
}

/*
 * Points slot's parameter names at a copy of their own (each ends in a NUL,
 * where name_len stops), so they outlive the SQL text they were found in.
 */
static enum nd_err keep_names(struct nd_pg_stmt *slot)
{
    /* none to keep: no allocation, so ROLLBACK and COMMIT never fail for want of memory */
    if (slot->nparams == 0)
        return ND_OK;
    size_t size = 1;
    for (unsigned i = 0; i < slot->nparams; i++)
        size += name_len(slot->params[i]) + 1;
    char *names = malloc(size);
    if (!names)
        return ND_ERR_NOMEM;
    char *at = names;
    for (unsigned i = 0; i < slot->nparams; i++) {
        size_t len = name_len(slot->params[i]);
        memcpy(at, slot->params[i], len);
        at[len] = '\0';
        slot->params[i] = at;
        at += len + 1;
    }
    free(slot->names);
    slot->names = names;
    return ND_OK;
}

static enum nd_err prepare(struct nd_pg *st, struct nd_pg_stmt *slot, const char *sql,
                           const char *what)
{
    static unsigned long next_name;
    char numbered[8192];
    if (!number_params(sql, numbered, sizeof numbered, slot)) {
        nd_log(ND_LOG_ERROR, "store: %s: the statement is too long or has too many parameters",
               what);
        return ND_ERR_DB;
    }
    if (!slot->name[0])
        snprintf(slot->name, sizeof slot->name, "nd%lu",
                 __atomic_add_fetch(&next_name, 1, __ATOMIC_RELAXED));
    enum nd_err err = keep_names(slot);
    if (err != ND_OK)
        return err;
    PGresult *res = PQprepare(st->conn, slot->name, numbered, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        err = nd_pg_err(st, res, what);
    else
        slot->prepared = true;
    PQclear(res);
    return err;
}

/* The value of the parameter named like slot's parameter i, or NULL when params has none. */
static const struct nd_param *find_param(const struct nd_param *params, const char *name)
{
    size_t len = name_len(name);
    for (const struct nd_param *p = params; p && p->name; p++)
        if (p->type != ND_PARAM_SKIP && strlen(p->name) == len && memcmp(p->name, name, len) == 0)
            return p;
    return NULL;
}

static void forget_statements(struct nd_pg *st)
{
    for (size_t i = 0; i < PG_SLOT_COUNT; i++)
        st->stmts[i].prepared = false;
    for (size_t o = 0; o < ND_ORDER_COUNT; o++)
        for (size_t m = 0; m < ND_LIST_VARIANTS; m++)
            st->lists[o][m].prepared = false;
}

/*
 * True when the server closed conn while it was idle (a restart, an
 * administrator's pg_terminate_backend): the server's goodbye and the end
 * of the stream wait in the socket, and reading what is there without
 * waiting finds them, so the next statement goes to a new connection
 * instead of failing on the old one.
 */
static bool closed_while_idle(PGconn *conn)
{
    /* one read takes the goodbye, the next finds the end of the stream */
    for (int i = 0; i < 2; i++)
        if (!PQconsumeInput(conn))
            return true;
    return PQstatus(conn) != CONNECTION_OK;
}

/*
 * Reopens a lost connection (outside a transaction only: a transaction
 * dies with its connection, and its statements must fail), with its
 * session settings; its statements are prepared again on first use.
 */
static enum nd_err reconnect(struct nd_pg *st)
{
    if (st->in_transaction)
        return st->lost ? ND_ERR_BUSY : ND_OK;
    if (!st->lost && PQstatus(st->conn) == CONNECTION_OK && !closed_while_idle(st->conn))
        return ND_OK;
    if (!st->lost)
        nd_log(ND_LOG_WARN, "store: the PostgreSQL connection was closed by the server");
    st->lost = true;
    if (!nd_pg_may_connect(st->conninfo))
        return ND_ERR_BUSY;
    PQreset(st->conn);
    forget_statements(st);
    if (PQstatus(st->conn) != CONNECTION_OK) {
        nd_pg_connect_failed(st->conninfo, st->conn);
        return ND_ERR_BUSY;
    }
    st->lost = false;
    if (!st->replica) { /* a standby's backends never notify: none is this process's */
        int pid = PQbackendPID(st->conn);
        nd_pg_own_backend(st->backend_pid, pid);
        st->backend_pid = pid;
    }
    enum nd_err err = nd_pg_configure(st);
    if (err != ND_OK) {
        st->lost = true; /* not usable unconfigured: the next call starts again */
        return err;
    }
    nd_pg_connect_succeeded(st->conninfo);
    nd_log(ND_LOG_INFO, "store: reconnected to PostgreSQL");
    return ND_OK;
}

enum nd_err nd_pg_ready(struct nd_pg *st)
{
    return reconnect(st);
}

enum nd_err nd_pg_bind(struct nd_pg *st, struct nd_pg_stmt *slot, const char *sql,
                       const struct nd_param *params, const char *what, struct nd_pg_bound *b)
{
    enum nd_err err = reconnect(st);
    if (err == ND_OK && slot->oneshot &&
        !number_params(sql, b->numbered, sizeof b->numbered, slot)) {
        nd_log(ND_LOG_ERROR, "store: %s: the statement is too long or has too many parameters",
               what);
        err = ND_ERR_DB;
    }
    if (err == ND_OK && !slot->oneshot && !slot->prepared)
        err = prepare(st, slot, sql, what);
    if (err != ND_OK)
        return err;
    for (unsigned i = 0; i < slot->nparams; i++) {
        const struct nd_param *p = find_param(params, slot->params[i]);
        b->values[i] = NULL;
        b->lengths[i] = 0;
        b->formats[i] = 0;
        if (!p)
            continue;
        switch (p->type) {
        case ND_PARAM_INT:
            snprintf(b->numbers[i], sizeof b->numbers[i], "%" PRId64, p->integer);
            b->values[i] = b->numbers[i];
            break;
        case ND_PARAM_REAL:
            snprintf(b->numbers[i], sizeof b->numbers[i], "%.17g", p->real);
            b->values[i] = b->numbers[i];
            break;
        case ND_PARAM_TEXT:
            b->values[i] = p->text;
            break;
        case ND_PARAM_BLOB:
            b->values[i] = p->blob;
            b->lengths[i] = p->blob_len;
            b->formats[i] = 1;
            break;
        case ND_PARAM_SKIP:
            break;
        }
    }
    return ND_OK;
}

enum nd_err nd_pg_run(struct nd_pg *st, struct nd_pg_stmt *slot, const char *sql,
                      const struct nd_param *params, const char *what, PGresult **res)
{
    struct nd_pg_bound b;
    enum nd_err err = nd_pg_bind(st, slot, sql, params, what, &b);
    if (err != ND_OK)
        return err;
    PGresult *r = slot->oneshot ? PQexecParams(st->conn, b.numbered, (int)slot->nparams, NULL,
                                               b.values, b.lengths, b.formats, 0)
                                : PQexecPrepared(st->conn, slot->name, (int)slot->nparams, b.values,
                                                 b.lengths, b.formats, 0);
    ExecStatusType status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        err = nd_pg_err(st, r, what);
        PQclear(r);
        return err;
    }
    if (res)
        *res = r;
    else
        PQclear(r);
    return ND_OK;
}

enum nd_err nd_pg_exec(struct nd_pg *st, unsigned slot, const char *sql,
                       const struct nd_param *params, bool changes, const char *what)
{
    PGresult *res = NULL;
    enum nd_err err = nd_pg_run(st, &st->stmts[slot], sql, params, what, &res);
    if (err == ND_OK && changes && strcmp(PQcmdTuples(res), "0") == 0)
        err = ND_ERR_NOT_FOUND;
    PQclear(res);
    return err;
}

/* ---- rows --------------------------------------------------------------- */

static bool pg_is_null(const void *row, int col)
{
    const struct nd_pg_row *r = row;
    return PQgetisnull(r->res, r->row, col) != 0;
}

/* Integers, and booleans as 1 and 0 ("t" and "f" in text). */
static int64_t pg_int(const void *row, int col)
{
    const struct nd_pg_row *r = row;
    const char *text = PQgetvalue(r->res, r->row, col);
    if (text[0] == 't' && text[1] == '\0')
        return 1;
    return strtoll(text, NULL, 10);
}

static double pg_real(const void *row, int col)
{
    const struct nd_pg_row *r = row;
    return strtod(PQgetvalue(r->res, r->row, col), NULL);
}

static const char *pg_text(const void *row, int col, size_t *len)
{
    const struct nd_pg_row *r = row;
    *len = (size_t)PQgetlength(r->res, r->row, col);
    return PQgetvalue(r->res, r->row, col);
}

static const struct nd_row_reader pg_rows = {pg_is_null, pg_int, pg_real, pg_text};

struct nd_row nd_pg_row(const struct nd_pg_row *row)
{
    struct nd_row out = {&pg_rows, row};
    return out;
}

/* ---- runners ------------------------------------------------------------ */

enum nd_err nd_pg_each(struct nd_pg *st, struct nd_pg_stmt *slot, const char *sql,
                       const struct nd_param *params, nd_pg_read_fn read, void *ctx,
                       const char *what)
{
    PGresult *res = NULL;
    enum nd_err err = nd_pg_run(st, slot, sql, params, what, &res);
    int n = err == ND_OK ? PQntuples(res) : 0;
    for (int i = 0; i < n && err == ND_OK; i++) {
        struct nd_pg_row r = {res, i};
        struct nd_row row = nd_pg_row(&r);
        err = read(&row, ctx);
    }
    PQclear(res);
    return err;
}

enum nd_err nd_pg_row_one(struct nd_pg *st, unsigned slot, const char *sql,
                          const struct nd_param *params, nd_pg_read_fn read, void *ctx,
                          const char *what)
{
    PGresult *res = NULL;
    enum nd_err err = nd_pg_run(st, &st->stmts[slot], sql, params, what, &res);
    if (err == ND_OK && PQntuples(res) == 0)
        err = ND_ERR_NOT_FOUND;
    if (err == ND_OK && read) {
        struct nd_pg_row r = {res, 0};
        struct nd_row row = nd_pg_row(&r);
        err = read(&row, ctx);
    }
    PQclear(res);
    return err;
}

enum nd_err nd_pg_read_int(const struct nd_row *row, void *ctx)
{
    *(int64_t *)ctx = nd_row_int(row, 0);
    return ND_OK;
}

/* Where nd_pg_get puts its row. */
struct shape_into {
    const struct nd_shape *shape;
    json_t **out;
};

static enum nd_err read_shape(const struct nd_row *row, void *ctx)
{
    const struct shape_into *into = ctx;
    return nd_row_map_shape(row, into->shape, into->out);
}

enum nd_err nd_pg_get(struct nd_pg *st, unsigned slot, const char *sql,
                      const struct nd_param *params, const struct nd_shape *shape, json_t **out,
                      const char *what)
{
    struct shape_into into = {shape, out};
    return nd_pg_row_one(st, slot, sql, params, read_shape, &into, what);
}

/* What nd_pg_list's rows are mapped with and appended to. */
struct list_into {
    nd_row_map_fn map;
    const void *how;
    json_t *items;
};

static enum nd_err append_row(const struct nd_row *row, void *ctx)
{
    struct list_into *into = ctx;
    json_t *item = NULL;
    enum nd_err err = into->map(row, into->how, &item);
    if (err == ND_OK && json_array_append_new(into->items, item) != 0)
        err = ND_ERR_NOMEM;
    return err;
}

enum nd_err nd_pg_list(struct nd_pg *st, struct nd_pg_stmt *slot, const char *sql,
                       const struct nd_param *params, nd_row_map_fn map, const void *how,
                       json_t **out, const char *what)
{
    struct list_into into = {map, how, json_array()};
    if (!into.items)
        return ND_ERR_NOMEM;
    enum nd_err err = nd_pg_each(st, slot, sql, params, append_row, &into, what);
    if (err != ND_OK) {
        json_decref(into.items);
        return err;
    }
    *out = into.items;
    return ND_OK;
}

enum nd_err nd_pg_page(struct nd_pg *st, struct nd_pg_stmt *slot, const char *sql,
                       const struct nd_param *params, const struct nd_page *page, json_t *items,
                       char **next, const char *what)
{
    struct nd_param all[ND_PG_MAX_PARAMS + 2];
    size_t n = 0;
    for (const struct nd_param *p = params; p && p->name && n < ND_PG_MAX_PARAMS; p++)
        all[n++] = *p;
    all[n++] = (struct nd_param)ND_INT(":limit", (int64_t)page->limit + 1);
    all[n] = (struct nd_param){.name = NULL};
    PGresult *res = NULL;
    enum nd_err err = nd_pg_run(st, slot, sql, all, what, &res);
    if (err != ND_OK)
        return err;
    int rows = PQntuples(res);
    int64_t last[ND_PAGE_KEYS_MAX] = {0, 0, 0};
    for (int i = 0; i < rows && (unsigned)i < page->limit && err == ND_OK; i++) {
        struct nd_pg_row r = {res, i};
        struct nd_row row = nd_pg_row(&r);
        if ((unsigned)i + 1 == page->limit)
            nd_page_row_keys(page, &row, last);
        err = nd_page_add_row(page, &row, (unsigned)i, items);
    }
    char *cursor = NULL;
    if (err == ND_OK && (unsigned)rows > page->limit) {
        cursor = nd_page_cursor(page, last);
        if (!cursor)
            err = ND_ERR_NOMEM;
    }
    PQclear(res);
    if (err == ND_OK)
        *next = cursor;
    return err;
}

/* ---- transactions ------------------------------------------------------- */

static enum nd_err run_fixed(struct nd_pg *st, unsigned slot, const char *sql)
{
    return nd_pg_exec(st, slot, sql, NULL, false, sql);
}

static enum nd_err open_savepoint(struct nd_pg *st)
{
    enum nd_err err = run_fixed(st, PG_SAVEPOINT, "SAVEPOINT nd_write");
    st->savepoint_open = err == ND_OK;
    return err;
}

/*
 * Batches take turns on one transaction-scoped advisory lock (migration
 * 0001's newsd_write_lock): two imports side by side would each hold many
 * rows the other wants. Single writes run side by side (migration 0005),
 * so that PostgreSQL flushes their commits together. On failure the
 * transaction is rolled back.
 */
static enum nd_err take_write_lock(struct nd_pg *st)
{
    enum nd_err err =
        nd_pg_exec(st, PG_WRITE_LOCK, "SELECT newsd_write_lock()", NULL, false, "write lock");
    if (err != ND_OK)
        nd_pg_rollback(st);
    return err;
}

/*
 * Gives the change rows that committed writes left unpublished their ids
 * (migration 0005's newsd_publish_changes) when a store opens: a write
 * publishes inside its own transaction (nd_pg_publish_commit), but a write
 * of psql or a tool does not. A failure is logged; the change listener
 * publishes again every few seconds.
 */
static void publish_changes(struct nd_pg *st)
{
    if (nd_pg_exec(st, PG_PUBLISH, "SELECT newsd_publish_changes()", NULL, false,
                   "change log publication") != ND_OK)
        nd_log(ND_LOG_WARN, "store: the change log's pending entries wait for the next "
                            "publication");
}

enum nd_err nd_pg_begin(struct nd_pg *st)
{
    if (st->replica)
        return ND_ERR_READONLY;
    if (st->batch_depth > 0 && !st->in_transaction) {
        if (st->lost) /* the batch died with its connection: try again later */
            return ND_ERR_BUSY;
        nd_log(ND_LOG_ERROR, "store: a write after its batch was rolled back is refused");
        return ND_ERR_DB;
    }
    if (st->batch_depth > 0)
        return open_savepoint(st);
    if (st->in_transaction)
        nd_pg_rollback(st);
    enum nd_err err = run_fixed(st, PG_BEGIN, "BEGIN");
    st->in_transaction = err == ND_OK;
    st->writing = err == ND_OK;
    return err;
}

enum nd_err nd_pg_begin_read(struct nd_pg *st)
{
    if (st->batch_depth > 0)
        return open_savepoint(st);
    if (st->in_transaction)
        nd_pg_rollback(st);
    enum nd_err err =
        run_fixed(st, PG_BEGIN_READ, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    st->in_transaction = err == ND_OK;
    st->writing = false;
    return err;
}

/* Notes a transaction that the server ended on its own (an error inside a batch). */
static void transaction_gone(struct nd_pg *st)
{
    if (PQtransactionStatus(st->conn) == PQTRANS_IDLE || st->lost)
        st->in_transaction = false;
}

enum nd_err nd_pg_commit(struct nd_pg *st)
{
    enum nd_err err;
    if (st->batch_depth > 0) {
        err = run_fixed(st, PG_RELEASE, "RELEASE nd_write");
    } else {
        err = st->writing ? nd_pg_publish_commit(st) : run_fixed(st, PG_COMMIT, "COMMIT");
        /* COMMIT ends the transaction whatever its outcome */
        st->in_transaction = false;
        st->writing = false;
    }
    if (err != ND_OK)
        nd_pg_rollback(st);
    else
        st->savepoint_open = false;
    return err;
}

void nd_pg_rollback(struct nd_pg *st)
{
    transaction_gone(st);
    if (!st->in_transaction) {
        st->savepoint_open = false;
        return;
    }
    if (st->batch_depth == 0) {
        run_fixed(st, PG_ROLLBACK, "ROLLBACK");
        st->in_transaction = false;
        st->writing = false;
        return;
    }
    if (!st->savepoint_open)
        return;
    run_fixed(st, PG_ROLLBACK_TO, "ROLLBACK TO nd_write");
    run_fixed(st, PG_RELEASE, "RELEASE nd_write");
    st->savepoint_open = false;
}

enum nd_err nd_pg_finish(struct nd_pg *st, enum nd_err err)
{
    if (err == ND_OK)
        return nd_pg_commit(st);
    nd_pg_rollback(st);
    return err;
}

enum nd_err nd_pg_finish_with(struct nd_pg *st, enum nd_err err, json_t *value, json_t **out)
{
    err = nd_pg_finish(st, err);
    if (err != ND_OK) {
        json_decref(value);
        return err;
    }
    *out = value;
    return ND_OK;
}

static enum nd_err pg_batch_begin(struct nd_store *store)
{
    struct nd_pg *st = nd_pg_of(store);
    if (st->batch_depth > 0) {
        st->batch_depth++;
        return ND_OK;
    }
    if (st->in_transaction)
        return ND_ERR_INVALID;
    if (st->replica)
        return ND_ERR_READONLY;
    enum nd_err err = run_fixed(st, PG_BEGIN, "BEGIN");
    st->in_transaction = err == ND_OK;
    if (err == ND_OK)
        err = take_write_lock(st);
    if (err == ND_OK) {
        st->writing = true;
        st->batch_depth = 1;
        st->batch_doomed = false;
        st->savepoint_open = false;
    }
    return err;
}

static enum nd_err pg_batch_end(struct nd_store *store, bool commit)
{
    struct nd_pg *st = nd_pg_of(store);
    if (st->batch_depth == 0)
        return ND_ERR_INVALID;
    if (!commit)
        st->batch_doomed = true;
    if (--st->batch_depth > 0)
        return ND_OK;
    bool doomed = st->batch_doomed;
    st->batch_doomed = false;
    st->savepoint_open = false;
    transaction_gone(st);
    if (!st->in_transaction) /* a batch that died with its connection is a 503, not a 500 */
        return doomed ? ND_OK : st->lost ? ND_ERR_BUSY : ND_ERR_DB;
    if (doomed) {
        nd_pg_rollback(st);
        return ND_OK;
    }
    if (PQtransactionStatus(st->conn) == PQTRANS_INERROR) {
        /* a statement failed outside any write's savepoint: PostgreSQL would
         * answer the COMMIT of the aborted transaction with a rollback, not
         * an error, and the batch's writes would be answered as stored */
        nd_log(ND_LOG_ERROR, "store: the batch's transaction failed; it is rolled back");
        nd_pg_rollback(st);
        return ND_ERR_DB;
    }
    return nd_pg_commit(st);
}

/*
 * PostgreSQL keeps nothing after a failed transaction but the transaction
 * itself, when its ROLLBACK could not be sent: that is rolled back now.
 */
static enum nd_err pg_settle(struct nd_store *store)
{
    struct nd_pg *st = nd_pg_of(store);
    if (st->batch_depth > 0)
        return ND_ERR_INVALID;
    PGTransactionStatusType status = PQtransactionStatus(st->conn);
    if (status != PQTRANS_INTRANS && status != PQTRANS_INERROR) {
        st->in_transaction = false;
        st->savepoint_open = false;
        return ND_OK;
    }
    nd_log(ND_LOG_WARN, "store: a transaction was left open; rolling it back");
    st->in_transaction = true;
    nd_pg_rollback(st);
    status = PQtransactionStatus(st->conn);
    return status == PQTRANS_INTRANS || status == PQTRANS_INERROR ? ND_ERR_DB : ND_OK;
}

/* ---- opening ------------------------------------------------------------ */

enum nd_err nd_pg_script(struct nd_pg *st, const char *sql, const char *what)
{
    PGresult *res = PQexec(st->conn, sql);
    ExecStatusType status = PQresultStatus(res);
    enum nd_err err = ND_OK;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        err = nd_pg_err(st, res, what);
    PQclear(res);
    return err;
}

/* The longest a statement may run when nobody set statement_timeout. */
#define DEFAULT_STATEMENT_TIMEOUT "30s"

/*
 * The session settings: durability, how long to wait for a lock, how long
 * a transaction may stay open idle, and, unless the URI's options or the
 * role set one, how long one statement may run (PostgreSQL's default is
 * forever): a request is never held longer than that by the database.
 */
enum nd_err nd_pg_configure(struct nd_pg *st)
{
    char sql[512];
    /* a replica's sessions cannot write, even when --db-replica names a primary */
    snprintf(sql, sizeof sql,
             "SET synchronous_commit = %s; SET lock_timeout = %u; "
             "SET idle_in_transaction_session_timeout = 60000; SET client_min_messages = warning; "
             "%sSELECT set_config('statement_timeout', '" DEFAULT_STATEMENT_TIMEOUT "', false) "
             "WHERE current_setting('statement_timeout') = '0'",
             st->opts.synchronous == ND_SYNC_OFF ? "off" : "on", st->opts.busy_timeout_ms,
             st->replica ? "SET default_transaction_read_only = on; " : "");
    return nd_pg_script(st, sql, "session settings");
}

void nd_pg_close(struct nd_store *store)
{
    struct nd_pg *st = nd_pg_of(store);
    if (!st)
        return;
    if (st->backend_pid != 0)
        nd_pg_own_backend(st->backend_pid, 0);
    if (st->listening)
        nd_pg_listen_stop();
    PQfinish(st->conn);
    for (size_t i = 0; i < PG_SLOT_COUNT; i++)
        free(st->stmts[i].names);
    for (size_t o = 0; o < ND_ORDER_COUNT; o++)
        for (size_t m = 0; m < ND_LIST_VARIANTS; m++)
            free(st->lists[o][m].names);
    free(st->conninfo);
    free(st);
}

static const struct nd_store_ops pg_ops;

enum nd_err nd_pg_open_common(const char *db, const struct nd_store_options *opts, bool replica,
                              struct nd_pg **out)
{
    struct nd_pg *st = calloc(1, sizeof *st);
    enum nd_err err = ND_OK;
    if (!st)
        return ND_ERR_NOMEM;
    st->base.ops = &pg_ops;
    st->opts = *opts;
    st->replica = replica;
    st->conninfo = strdup(db);
    if (!st->conninfo) {
        free(st);
        return ND_ERR_NOMEM;
    }
    char *why = NULL;
    PQconninfoOption *parsed = PQconninfoParse(db, &why);
    PQconninfoFree(parsed);
    PQfreemem(why); /* it may quote a piece of the URI: a password perhaps */
    if (!parsed) {
        nd_log(ND_LOG_ERROR, "store: the PostgreSQL URI cannot be parsed (check its "
                             "percent-encoding and parameter names)");
        err = ND_ERR_INVALID;
        goto out;
    }
    if (!nd_pg_may_connect(st->conninfo)) {
        err = ND_ERR_BUSY;
        goto out;
    }
    st->conn = nd_pg_connect(st->conninfo);
    if (!st->conn || PQstatus(st->conn) != CONNECTION_OK) {
        nd_pg_connect_failed(st->conninfo, st->conn);
        err = st->conn ? ND_ERR_BUSY : ND_ERR_NOMEM;
        goto out;
    }
    if (!replica) {
        st->backend_pid = PQbackendPID(st->conn);
        nd_pg_own_backend(0, st->backend_pid);
    }
    err = nd_pg_configure(st);
out:
    if (err != ND_OK) {
        nd_pg_close(&st->base);
        return err;
    }
    *out = st;
    return ND_OK;
}

enum nd_err nd_pg_open(const char *db, const struct nd_store_options *opts, struct nd_store **out)
{
    struct nd_pg *st = NULL;
    enum nd_err err = nd_pg_open_common(db, opts, false, &st);
    if (err != ND_OK)
        return err;
    err = nd_pg_migrate(st);
    if (err == ND_OK)
        publish_changes(st); /* what a process that died after its commit left */
    if (err == ND_OK)
        err = nd_pg_listen_start(st->conninfo);
    st->listening = err == ND_OK;
    if (err == ND_OK)
        nd_pg_connect_succeeded(st->conninfo);
    if (err != ND_OK) {
        nd_pg_close(&st->base);
        return err;
    }
    *out = &st->base;
    return ND_OK;
}

/* ---- the small operations ----------------------------------------------- */

static enum nd_err pg_ping(struct nd_store *store)
{
    struct nd_pg *st = nd_pg_of(store);
    return nd_pg_row_one(st, PG_PING, "SELECT max(version) FROM schema_migrations", NULL, NULL,
                         NULL, "ping");
}

static enum nd_err pg_size(struct nd_store *store, int64_t *bytes)
{
    struct nd_pg *st = nd_pg_of(store);
    return nd_pg_row_one(st, PG_SIZE, "SELECT pg_database_size(current_database())", NULL,
                         nd_pg_read_int, bytes, "database size");
}

/* Commits of other processes (another instance, psql): the change listener counts them. */
static enum nd_err pg_foreign_commits(struct nd_store *store, uint64_t *epoch)
{
    (void)store;
    *epoch = nd_pg_foreign_epoch();
    return ND_OK;
}

static const struct nd_store_ops pg_ops = {
    .name = "postgresql",
    .batch_rows_max = 60, /* below the 64 subtransactions a backend keeps track of cheaply */
    .close = nd_pg_close,
    .ping = pg_ping,
    .foreign_commits = pg_foreign_commits,
    .batch_begin = pg_batch_begin,
    .batch_end = pg_batch_end,
    .settle = pg_settle,
    .article_create = nd_pg_article_create,
    .article_get = nd_pg_article_get,
    .article_get_by_slug = nd_pg_article_get_by_slug,
    .article_update = nd_pg_article_update,
    .article_delete = nd_pg_article_delete,
    .article_find_import = nd_pg_article_find_import,
    .article_is_draft = nd_pg_article_is_draft,
    .article_list_sorted = nd_pg_article_list_sorted,
    .category_list = nd_pg_category_list,
    .tag_list = nd_pg_tag_list,
    .author_list = nd_pg_author_list,
    .comment_post = nd_pg_comment_post,
    .comment_get = nd_pg_comment_get,
    .comment_delete = nd_pg_comment_delete,
    .comment_set_status = nd_pg_comment_set_status,
    .comment_list_filtered = nd_pg_comment_list_filtered,
    .article_text = nd_pg_article_text,
    .comment_import = nd_pg_comment_import,
    .comment_find_import = nd_pg_comment_find_import,
    .changes_bounds = nd_pg_changes_bounds,
    .changes_read = nd_pg_changes_read,
    .changes_prune = nd_pg_changes_prune,
    .search = nd_pg_search,
    .key_insert = nd_pg_key_insert,
    .key_lookup = nd_pg_key_lookup,
    .key_list = nd_pg_key_list,
    .key_delete = nd_pg_key_delete,
    .export_records = nd_pg_export,
    .article_restore = nd_pg_article_restore,
    .comment_restore = nd_pg_comment_restore,
    .size = pg_size,
    .position = nd_pg_position,
    .rate_take = nd_pg_rate_take,
};
