/*
 * store_pg.h: the PostgreSQL backend's internals, shared by store_pg*.c and
 * nobody else (store_backend.h is the seam; only store_ops.c calls
 * nd_pg_open).
 *
 * A struct nd_pg is one libpq connection with its prepared statements. SQL
 * is written with the same named parameters as the SQLite backend's
 * (":id"), and with the same struct nd_param lists: on first use in a
 * connection a statement's text is numbered ($1, $2, ...) and prepared
 * under a name of its own, and each call sends the values of the names it
 * has. Values travel as text (bytea in binary), and rows are read as text
 * through struct nd_row, so the shared mappers of store_rows.c make the
 * same JSON as on SQLite.
 *
 * A lost connection (the server restarted, a network cut) is noticed on the
 * failing call, answered ND_ERR_BUSY (503 with Retry-After to clients) and
 * reopened on the next call outside a transaction, which prepares its
 * statements again; a transaction that was open is lost with its
 * connection and was never acknowledged. A connection the server closed
 * while it sat idle is noticed before the next statement is sent, so a
 * restart of PostgreSQL costs no request once the server is back. While
 * the server cannot be reached, the process tries again at most twice a
 * second and answers ND_ERR_BUSY in between (store_pg.c).
 */
#ifndef NEWSD_STORE_PG_H
#define NEWSD_STORE_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_backend.h"
#include "store_rows.h"

struct nd_pg;

/*
 * Connecting (store_pg_connect.c). nd_pg_connect: a new connection to
 * conninfo (a URI) with newsd's defaults for what the URI leaves unsaid (a
 * connect timeout, TCP keepalives, an application name) and the server's
 * notices routed to the log; NULL only when out of memory, check PQstatus.
 * nd_pg_may_connect is false while the database is away and the last
 * attempt is too recent (answer ND_ERR_BUSY without trying);
 * nd_pg_connect_failed (conn may be NULL) and nd_pg_connect_succeeded
 * tell how an attempt went, logging the first failure of an outage and
 * its end. The outage is that of one conninfo: another database (a test
 * opening a bad URI and then a good one) is tried at once.
 */
PGconn *nd_pg_connect(const char *conninfo);
bool nd_pg_may_connect(const char *conninfo);
void nd_pg_connect_failed(const char *conninfo, PGconn *conn);
void nd_pg_connect_succeeded(const char *conninfo);

/* The first line of libpq's message msg (may be NULL) into out: it names no password. */
void nd_pg_first_line(const char *msg, char *out, size_t size);

/* Opens the database of the URI db (see nd_store_open) and applies its migrations. */
enum nd_err nd_pg_open(const char *db, const struct nd_store_options *opts, struct nd_store **out);

/*
 * A hot standby (store_pg_replica.c; see nd_store_open_replica).
 * nd_pg_open_common is what both opens share: a connection to db with
 * newsd's session settings (read-only ones for a replica), not yet
 * migrated; nd_pg_configure sets those settings on st->conn again after a
 * reconnection. nd_pg_replica_check tells whether the standby's schema is
 * this binary's (ND_ERR_BUSY, logged, when it is not).
 */
enum nd_err nd_pg_open_common(const char *db, const struct nd_store_options *opts, bool replica,
                              struct nd_pg **out);
enum nd_err nd_pg_open_replica(const char *db, const struct nd_store_options *opts,
                               struct nd_store **out);
enum nd_err nd_pg_configure(struct nd_pg *st);
void nd_pg_close(struct nd_store *store);

/*
 * Write-ahead log positions (store_pg_write.c, store_pg_replica.c). nd_pg_publish_commit
 * ends a write transaction in one round trip: publishes the change log's
 * pending rows (migration 0005) inside it, commits, and reads the primary's
 * insert position into st->write_position and the process's known
 * position. Returns the publication's or COMMIT's error (the transaction
 * then rolled back: nothing of the write is stored). nd_pg_position is the
 * store's position op.
 */
enum nd_err nd_pg_publish_commit(struct nd_pg *st);
/* The position in the first column of a one-row result, or 0 (NULL, no row, an error). */
uint64_t nd_pg_result_position(const PGresult *res);
/*
 * What a write's commit found its position to be (0: it could not be
 * read): into st->write_position and the known position, or, for 0, the
 * known position made unknown (this commit is not covered by it).
 */
void nd_pg_note_write(struct nd_pg *st, uint64_t pos);
enum nd_err nd_pg_position(struct nd_store *store, enum nd_position which, uint64_t *out);

/* Whether st->conn can be used (reopened when lost): ND_OK, or ND_ERR_BUSY. */
enum nd_err nd_pg_ready(struct nd_pg *st);

/*
 * The change listener (store_pg_listen.c): started with the first open
 * store of the process and stopped with the last; own_backend tells it
 * which server backends are this process's (old 0: a new one; pid 0: gone).
 */
enum nd_err nd_pg_listen_start(const char *conninfo);
void nd_pg_listen_stop(void);
void nd_pg_own_backend(int old, int pid);
/* The process-wide count of foreign commits, and a raise of it. */
uint64_t nd_pg_foreign_epoch(void);
void nd_pg_count_foreign(void);
/*
 * The newest primary position every commit up to which this process has
 * been told of (ND_POSITION_KNOWN): raised by this process's writes
 * (nd_pg_note_position) and by the listener before it counts foreign
 * commits; false while it cannot be known.
 */
void nd_pg_note_position(uint64_t pos);
bool nd_pg_known_position(uint64_t *pos);
/* A write committed without a position: the known one is unknown until the listener asks. */
void nd_pg_forget_position(void);

/* The most parameters one statement takes. */
#define ND_PG_MAX_PARAMS 48

/* A statement of a connection: prepared on first use under name (unless oneshot). */
struct nd_pg_stmt {
    bool oneshot; /* not kept: sent with its text each time (statements of many shapes) */
    bool prepared;
    unsigned nparams;
    char name[16];
    /*
     * The parameter names, ":id", in $ order: into the SQL text while it is
     * numbered, then (once prepared) into names, the slot's own copy, since
     * a list's text is built on the stack of the call that prepared it.
     */
    const char *params[ND_PG_MAX_PARAMS];
    char *names; /* owned; freed when the connection closes */
};

/* The fixed statements (the list's variants have slots of their own). */
enum nd_pg_slot {
    PG_BEGIN,
    PG_COMMIT,
    PG_ROLLBACK,
    PG_SAVEPOINT,
    PG_RELEASE,
    PG_ROLLBACK_TO,
    PG_WRITE_LOCK,
    PG_PING,
    PG_ARTICLE_EXISTS,
    PG_ARTICLE_GET,
    PG_ARTICLE_GET_BY_SLUG,
    PG_ARTICLE_SLUG_OWNER,
    PG_ARTICLE_INSERT,
    PG_ARTICLE_UPDATE,
    PG_ARTICLE_DELETE,
    PG_ARTICLE_FIND_IMPORT,
    PG_ARTICLE_IS_DRAFT,
    PG_TAGS_DELETE,
    PG_TAG_INSERT,
    PG_CATEGORY_LIST,
    PG_TAG_LIST,
    PG_AUTHOR_LIST,
    PG_KEY_INSERT,
    PG_KEY_LOOKUP,
    PG_KEY_LIST,
    PG_KEY_DELETE,
    PG_SIZE,
    PG_BEGIN_READ,
    PG_PUBLISH,
    PG_RATE_TAKE,  /* store_pg_limits.c */
    PG_RATE_PRUNE, /* store_pg_limits.c */
    /* the other files number their statements from their own first slot */
    PG_SLOT_COMMENTS = 32,
    PG_SLOT_CHANGES = 56,
    PG_SLOT_BACKUP = 68,
    PG_SLOT_SEARCH = 80,
    PG_SEARCH_TIMEOUT = PG_SLOT_SEARCH,
    PG_SLOT_COUNT = 112
};

struct nd_pg {
    struct nd_store base;
    PGconn *conn;
    char *conninfo; /* what reopening connects with (never logged) */
    struct nd_store_options opts;
    struct nd_pg_stmt stmts[PG_SLOT_COUNT];
    struct nd_pg_stmt lists[ND_ORDER_COUNT][ND_LIST_VARIANTS];
    unsigned batch_depth;
    bool batch_doomed;
    bool savepoint_open;
    bool in_transaction;
    bool writing;             /* the open transaction writes: publish after its commit */
    bool lost;                /* the connection failed: reopen before the next statement */
    bool listening;           /* counted among the change listener's users */
    bool timeout_is_limit;    /* a statement timeout now is the search's time limit */
    int backend_pid;          /* the server backend of conn, registered as this process's */
    bool replica;             /* a hot standby's read-only store (nd_store_open_replica) */
    uint64_t write_position;  /* after the last committed write, until taken; 0: none */
    uint64_t replay_position; /* a replica's, as last asked ... */
    int64_t replay_asked_us;  /* ... at this monotonic time (0: never) */
};

static inline struct nd_pg *nd_pg_of(struct nd_store *store)
{
    return (struct nd_pg *)store;
}

/* One row of a result, for struct nd_row. */
struct nd_pg_row {
    const PGresult *res;
    int row;
};

/* row as a struct nd_row (valid while row is). */
struct nd_row nd_pg_row(const struct nd_pg_row *row);

/* A statement's parameter values as libpq takes them (text, or binary for blobs). */
struct nd_pg_bound {
    const char *values[ND_PG_MAX_PARAMS];
    int lengths[ND_PG_MAX_PARAMS], formats[ND_PG_MAX_PARAMS];
    char numbers[ND_PG_MAX_PARAMS][32];
    char numbered[8192]; /* a one-shot statement's text with numbered parameters */
};

/*
 * Makes slot ready to run on st's connection (reconnected if need be,
 * prepared once, or numbered for a one-shot statement) and binds params
 * into *b, which points into params. Fails as nd_pg_run does.
 */
enum nd_err nd_pg_bind(struct nd_pg *st, struct nd_pg_stmt *slot, const char *sql,
                       const struct nd_param *params, const char *what, struct nd_pg_bound *b);

/*
 * Runs the statement of slot (prepared from sql on first use in this
 * connection) with params; *res gets the result to PQclear on ND_OK (NULL
 * for none wanted: pass res NULL). Failures are mapped (nd_pg_err) and
 * logged once under what.
 */
enum nd_err nd_pg_run(struct nd_pg *st, struct nd_pg_stmt *slot, const char *sql,
                      const struct nd_param *params, const char *what, PGresult **res);

/* nd_pg_run without a result; ND_ERR_NOT_FOUND when changes is true and no row changed. */
enum nd_err nd_pg_exec(struct nd_pg *st, unsigned slot, const char *sql,
                       const struct nd_param *params, bool changes, const char *what);

/* Reads row 0 of a result with read (may be NULL): ND_ERR_NOT_FOUND when there is none. */
typedef enum nd_err (*nd_pg_read_fn)(const struct nd_row *row, void *ctx);
enum nd_err nd_pg_row_one(struct nd_pg *st, unsigned slot, const char *sql,
                          const struct nd_param *params, nd_pg_read_fn read, void *ctx,
                          const char *what);

/* An nd_pg_read_fn: column 0 into the int64_t at ctx. */
enum nd_err nd_pg_read_int(const struct nd_row *row, void *ctx);

/* nd_pg_row_one mapped with shape into *out. */
enum nd_err nd_pg_get(struct nd_pg *st, unsigned slot, const char *sql,
                      const struct nd_param *params, const struct nd_shape *shape, json_t **out,
                      const char *what);

/* Every row mapped with map into a new array in *out. */
enum nd_err nd_pg_list(struct nd_pg *st, struct nd_pg_stmt *slot, const char *sql,
                       const struct nd_param *params, nd_row_map_fn map, const void *how,
                       json_t **out, const char *what);

/* Every row to read, in order, until the first error. */
enum nd_err nd_pg_each(struct nd_pg *st, struct nd_pg_stmt *slot, const char *sql,
                       const struct nd_param *params, nd_pg_read_fn read, void *ctx,
                       const char *what);

/* A keyset page (store_rows.h) of the statement: :limit is page->limit + 1. */
enum nd_err nd_pg_page(struct nd_pg *st, struct nd_pg_stmt *slot, const char *sql,
                       const struct nd_param *params, const struct nd_page *page, json_t *items,
                       char **next, const char *what);

/*
 * Transactions, as on SQLite (store_internal.h): begin opens one (a
 * savepoint inside a batch), commit and finish end it, rollback undoes it.
 */
enum nd_err nd_pg_begin(struct nd_pg *st);
/* A read-only snapshot for reads that span statements (a savepoint inside a batch). */
enum nd_err nd_pg_begin_read(struct nd_pg *st);
enum nd_err nd_pg_commit(struct nd_pg *st);
void nd_pg_rollback(struct nd_pg *st);
enum nd_err nd_pg_finish(struct nd_pg *st, enum nd_err err);
enum nd_err nd_pg_finish_with(struct nd_pg *st, enum nd_err err, json_t *value, json_t **out);

/*
 * A write that is one statement returning one row (shaped into *out): in a
 * batch, under its savepoint as any write; otherwise in a transaction of
 * its own, ended by nd_pg_publish_commit. ND_ERR_NOT_FOUND when the
 * statement gave no row.
 */
enum nd_err nd_pg_write_one(struct nd_pg *st, unsigned slot, const char *sql,
                            const struct nd_param *params, const struct nd_shape *shape,
                            json_t **out, const char *what);

/*
 * Maps the failed result res (NULL: the call itself failed) to an nd_err
 * and logs it once under what (store_pg.c says how each SQLSTATE maps).
 */
enum nd_err nd_pg_err(struct nd_pg *st, const PGresult *res, const char *what);

/*
 * Runs sql (one or more statements, no parameters) outside the statement
 * cache; a failure is mapped and logged under what.
 */
enum nd_err nd_pg_script(struct nd_pg *st, const char *sql, const char *what);

/* Applies the migrations the database has not recorded (store_pg_migrate.c). */
enum nd_err nd_pg_migrate(struct nd_pg *st);

/* ND_OK when article id exists, ND_ERR_NOT_FOUND when not. */
enum nd_err nd_pg_article_exists(struct nd_pg *st, int64_t id);

/* The operations of store_pg_*.c files, for the table in store_pg.c. */
enum nd_err nd_pg_article_create(struct nd_store *store, const struct nd_article_fields *f,
                                 json_t **out);
enum nd_err nd_pg_article_get(struct nd_store *store, int64_t id, json_t **out);
enum nd_err nd_pg_article_get_by_slug(struct nd_store *store, const char *slug, json_t **out);
enum nd_err nd_pg_article_update(struct nd_store *store, int64_t id,
                                 const struct nd_article_fields *f, json_t **out);
enum nd_err nd_pg_article_delete(struct nd_store *store, int64_t id);
enum nd_err nd_pg_article_find_import(struct nd_store *store, const char *import_key, int64_t *id);
enum nd_err nd_pg_article_is_draft(struct nd_store *store, int64_t id, bool *draft);
enum nd_err nd_pg_article_list_sorted(struct nd_store *store,
                                      const struct nd_article_filter *filter,
                                      enum nd_article_order order, unsigned limit,
                                      const char *cursor, json_t **items, char **next_cursor);
enum nd_err nd_pg_category_list(struct nd_store *store, bool drafts, json_t **out);
enum nd_err nd_pg_tag_list(struct nd_store *store, bool drafts, json_t **out);
enum nd_err nd_pg_author_list(struct nd_store *store, bool drafts, json_t **out);

enum nd_err nd_pg_comment_post(struct nd_store *store, const struct nd_comment_fields *f,
                               unsigned flags, json_t **out);
enum nd_err nd_pg_comment_get(struct nd_store *store, int64_t id, json_t **out);
enum nd_err nd_pg_comment_delete(struct nd_store *store, int64_t id);
enum nd_err nd_pg_comment_set_status(struct nd_store *store, int64_t id, bool pending,
                                     json_t **out);
enum nd_err nd_pg_article_text(struct nd_store *store, int64_t id, const char *slug,
                               struct nd_article_text *t);
enum nd_err nd_pg_comment_list_filtered(struct nd_store *store, int64_t article_id,
                                        enum nd_comment_filter which, bool tree, unsigned limit,
                                        const char *cursor, struct nd_buf *text, json_t **items,
                                        char **next_cursor);
enum nd_err nd_pg_comment_import(struct nd_store *store, const struct nd_comment_import *c,
                                 int64_t *id);
enum nd_err nd_pg_comment_find_import(struct nd_store *store, const char *import_key, int64_t *id);
enum nd_err nd_pg_comment_restore(struct nd_store *store, const struct nd_comment_record *rec,
                                  const char **taken);

enum nd_err nd_pg_changes_bounds(struct nd_store *store, int64_t *pruned_through, int64_t *last);
enum nd_err nd_pg_changes_read(struct nd_store *store, int64_t since, bool all, unsigned limit,
                               nd_change_fn fn, void *ctx, struct nd_change_page *page);
enum nd_err nd_pg_changes_prune(struct nd_store *store, int64_t before, unsigned long *removed);

enum nd_err nd_pg_export(struct nd_store *store, nd_store_export_fn emit, void *ctx,
                         struct nd_export_stats *stats);
enum nd_err nd_pg_article_restore(struct nd_store *store, const struct nd_article_record *rec,
                                  const char **taken);

enum nd_err nd_pg_search(struct nd_store *store, const struct nd_search_params *p, json_t **items,
                         char **next_cursor);

enum nd_err nd_pg_key_insert(struct nd_store *store, const char *name, const char *key_id,
                             const unsigned char *hash, size_t hash_len);
enum nd_err nd_pg_key_lookup(struct nd_store *store, const char *key_id, unsigned char *hash,
                             size_t hash_len);
enum nd_err nd_pg_key_list(struct nd_store *store, json_t **out);
enum nd_err nd_pg_key_delete(struct nd_store *store, const char *name);

enum nd_err nd_pg_rate_take(struct nd_store *store, const char *bucket, unsigned per_minute,
                            unsigned burst, bool *allowed, double *tokens);

#endif
