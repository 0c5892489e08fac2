/*
 * store_internal.h: what the store*.c files (and migrate.c, for the error
 * mapping) share and nobody else sees: the connection struct, the statement
 * cache, transactions, the SQLite error mapping, and the few helpers every
 * store function is written with.
 *
 * Statements are prepared on first use with SQLITE_PREPARE_PERSISTENT into a
 * slot of struct nd_sqlite and kept until nd_store_close. A store function
 * says what SQL, which parameters (a list of struct nd_param) and which
 * mapper, and hands that to one runner: nd_store_exec (no rows),
 * nd_store_row / nd_store_get (one row or ND_ERR_NOT_FOUND), nd_store_list
 * (every row into an array), nd_store_each (every row to a callback) or
 * nd_store_page (a keyset page and its next cursor). The runners check every
 * sqlite3_step result, map failures once with nd_store_sqlite_err, and reset
 * the statement and clear its bindings on every path. A row becomes JSON
 * through a struct nd_shape: one table of members per resource.
 */
#ifndef NEWSD_STORE_INTERNAL_H
#define NEWSD_STORE_INTERNAL_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "newsd/err.h"
#include "newsd/store.h"
#include "store_backend.h"
#include "store_rows.h"

/* One slot per fixed statement; the SQL text lives next to its one user. */
enum nd_stmt {
    ND_STMT_BEGIN,
    ND_STMT_BEGIN_READ,
    ND_STMT_COMMIT,
    ND_STMT_ROLLBACK,
    ND_STMT_SAVEPOINT,
    ND_STMT_RELEASE,
    ND_STMT_ROLLBACK_TO,
    ND_STMT_SETTLE,
    ND_STMT_PING,
    ND_STMT_DATA_VERSION,
    ND_STMT_CHANGE_HEAD,
    ND_STMT_ARTICLE_EXISTS,
    ND_STMT_ARTICLE_IS_DRAFT,
    ND_STMT_ARTICLE_GET,
    ND_STMT_ARTICLE_GET_BY_SLUG,
    ND_STMT_ARTICLE_SLUG_OWNER,
    ND_STMT_ARTICLE_INSERT,
    ND_STMT_ARTICLE_UPDATE,
    ND_STMT_ARTICLE_DELETE,
    ND_STMT_ARTICLE_FIND_IMPORT,
    ND_STMT_TAGS_DELETE,
    ND_STMT_TAG_INSERT,
    ND_STMT_CATEGORY_LIST,
    ND_STMT_TAG_LIST,
    ND_STMT_AUTHOR_LIST,
    ND_STMT_COMMENT_GET,
    ND_STMT_COMMENT_LINKS,
    ND_STMT_COMMENT_INSERT,
    ND_STMT_COMMENT_REATTACH,
    ND_STMT_COMMENT_DELETE,
    ND_STMT_COMMENT_LIST_FLAT,
    ND_STMT_COMMENT_LIST_TOP,
    ND_STMT_COMMENT_LIST_REPLIES,
    ND_STMT_COMMENT_LIST_FLAT_STATUS,
    ND_STMT_COMMENT_LIST_TOP_STATUS,
    ND_STMT_COMMENT_LIST_REPLIES_STATUS,
    ND_STMT_COMMENT_HAS_PENDING,
    ND_STMT_COMMENT_SET_STATUS,
    ND_STMT_KEY_INSERT,
    ND_STMT_KEY_LOOKUP,
    ND_STMT_KEY_LIST,
    ND_STMT_KEY_DELETE,
    ND_STMT_SEARCH_ARTICLE_SNIPPET,
    ND_STMT_SEARCH_COMMENT_SNIPPET,
    ND_STMT_RESTORE_ARTICLE_TAKEN,
    ND_STMT_RESTORE_ARTICLE,
    ND_STMT_RESTORE_TAG,
    ND_STMT_RESTORE_COMMENT_CHECK,
    ND_STMT_RESTORE_COMMENT,
    ND_STMT_CHANGES_BOUNDS,
    ND_STMT_CHANGES_ALL,
    ND_STMT_CHANGES_PUBLIC,
    ND_STMT_CHANGES_OLDEST,
    ND_STMT_CHANGES_DELETE,
    ND_STMT_CHANGES_PRUNED,
    ND_STMT_COMMENT_FIND_IMPORT,
    ND_STMT_SEARCH_DEFER,
    ND_STMT_SEARCH_INDEX_ARTICLES,
    ND_STMT_SEARCH_INDEX_COMMENTS,
    ND_STMT_SEARCH_UNDEFER,
    ND_STMT_COUNT
};

#define ND_SEARCH_COMMENT_VARIANTS 4

/* The words of SQLite's WAL-index header: 48 bytes (see store.c, wal_index_map). */
#define ND_WAL_INDEX_WORDS 12

/* A SQLite connection: the store's head first (store_backend.h). */
struct nd_sqlite {
    struct nd_store base;
    sqlite3 *db;
    sqlite3_stmt *stmts[ND_STMT_COUNT];
    sqlite3_stmt *article_lists[ND_ORDER_COUNT][ND_LIST_VARIANTS];
    /* article search: filters and cursor as for lists; comment search: status, cursor;
       [0] best first, [1] newest first */
    sqlite3_stmt *article_searches[2][ND_LIST_VARIANTS];
    sqlite3_stmt *comment_searches[2][ND_SEARCH_COMMENT_VARIANTS];
    /* nd_store_batch_begin depth; inside a batch each write is a savepoint */
    unsigned batch_depth;
    bool batch_doomed;      /* an inner batch end asked for a rollback */
    enum nd_err batch_lost; /* why SQLite rolled the open batch back on its own; ND_OK */
    bool savepoint_open;
    bool holds_writer;    /* this connection holds the process's writer mutex (store.c) */
    int64_t change_head;  /* the change-log head this write saw after BEGIN; -1 unknown */
    int64_t data_version; /* what nd_store_foreign_commits last read; -1 before */
    unsigned busy_timeout_ms;
    /* the WAL index's header as SQLite maps it, and its words at the last full look
       of nd_store_foreign_commits (store.c); NULL: not known (yet, or ever) */
    const volatile uint32_t *wal_index;
    uint32_t wal_index_seen[ND_WAL_INDEX_WORDS];
    bool wal_index_known;    /* wal_index_seen holds a look */
    bool wal_index_tried;    /* the mapping was attempted */
    bool checkpoints_joined; /* its commits leave checkpoints to the thread (store_checkpoint.c) */
};

/*
 * store_checkpoint.c: hands st's checkpoints to the process's checkpoint
 * thread for the database at path (started on first use), in place of
 * SQLite's own in the commit. False when st keeps SQLite's: the thread
 * serves another path, or could not be started (logged).
 */
bool nd_sqlite_checkpoints_join(struct nd_sqlite *st, const char *path);

/* Takes st back from the thread (the last store to leave stops it). Accepts any st. */
void nd_sqlite_checkpoints_leave(struct nd_sqlite *st);

/* WAL pages (of the page size plus 24 bytes each) a write finds at most before it
   waits for the checkpoint thread and starts the WAL again (store_checkpoint.c). */
#define ND_WAL_CEILING_PAGES 8000

/* Called by a write of st holding the writer mutex, before its BEGIN: makes the WAL
   start again when the thread says it is due or the WAL reached its ceiling
   (store_checkpoint.c). */
void nd_sqlite_checkpoints_before_write(struct nd_sqlite *st);

/*
 * Maps the SQLite result rc (extended codes are on) of an operation on db to
 * an nd_err, logging the SQLite message once at error level (warn for
 * ND_ERR_BUSY). A UNIQUE or PRIMARY KEY violation is ND_ERR_CONFLICT and is
 * not logged: it is the client's doing. what names the operation in the log.
 */
enum nd_err nd_store_sqlite_err(sqlite3 *db, int rc, const char *what);

/*
 * Returns the statement in *slot, preparing sql into it on first use. On
 * failure returns NULL with *err set (already logged).
 */
sqlite3_stmt *nd_store_prepare(struct nd_sqlite *st, sqlite3_stmt **slot, const char *sql,
                               enum nd_err *err);

/* nd_store_prepare for a fixed statement slot. */
sqlite3_stmt *nd_store_stmt(struct nd_sqlite *st, enum nd_stmt id, const char *sql,
                            enum nd_err *err);

/* Resets stmt and clears its bindings for the next user. Accepts NULL. */
void nd_store_release(sqlite3_stmt *stmt);

/* Binds params (a list ending in a NULL name; NULL for none) to stmt. Returns the SQLite result. */
int nd_store_bind(sqlite3_stmt *stmt, const struct nd_param *params);

/*
 * Steps a statement that returns no row (or whose rows are not wanted) to
 * completion. ND_OK on SQLITE_DONE, the mapped (and logged) error otherwise.
 * Does not release stmt.
 */
enum nd_err nd_store_step_done(struct nd_sqlite *st, sqlite3_stmt *stmt, const char *what);

/* Reads the current row of stmt into ctx: ND_OK or the error that stops the read. */
typedef enum nd_err (*nd_store_row_fn)(sqlite3_stmt *stmt, void *ctx);

/* The current row of stmt as a struct nd_row (store_rows.h), valid until stmt moves on. */
struct nd_row nd_sqlite_row(sqlite3_stmt *stmt);

/*
 * The runners: each takes the cached statement of slot id (prepared from sql
 * on first use), binds params, steps it and releases it on every path. A
 * failed preparation returns its error; a failed bind or step returns
 * nd_store_sqlite_err's, logged once under what (so a unique violation is
 * ND_ERR_CONFLICT, a locked database ND_ERR_BUSY).
 */

/* Runs a statement whose rows are not wanted to completion. */
enum nd_err nd_store_exec(struct nd_sqlite *st, enum nd_stmt id, const char *sql,
                          const struct nd_param *params, const char *what);

/* nd_store_exec, then ND_ERR_NOT_FOUND when the statement changed no row. */
enum nd_err nd_store_exec_change(struct nd_sqlite *st, enum nd_stmt id, const char *sql,
                                 const struct nd_param *params, const char *what);

/*
 * Steps once: on a row, read (when not NULL) reads it into ctx and its
 * result is returned; without a row, ND_ERR_NOT_FOUND.
 */
enum nd_err nd_store_row(struct nd_sqlite *st, enum nd_stmt id, const char *sql,
                         const struct nd_param *params, nd_store_row_fn read, void *ctx,
                         const char *what);

struct nd_shape;

/* nd_store_row that maps the row with shape (below) into *out. */
enum nd_err nd_store_get(struct nd_sqlite *st, enum nd_stmt id, const char *sql,
                         const struct nd_param *params, const struct nd_shape *shape, json_t **out,
                         const char *what);

/* An nd_store_row_fn: column 0 of the row into the int64_t at ctx. */
enum nd_err nd_store_read_int(sqlite3_stmt *stmt, void *ctx);

/* Every row, mapped with map and how, into a new array in *out (written on ND_OK only). */
enum nd_err nd_store_list(struct nd_sqlite *st, enum nd_stmt id, const char *sql,
                          const struct nd_param *params, nd_row_map_fn map, const void *how,
                          json_t **out, const char *what);

/*
 * Binds params to stmt (a cached statement, or one the caller finalizes),
 * calls read for every row until the first error and releases stmt.
 */
enum nd_err nd_store_each(struct nd_sqlite *st, sqlite3_stmt *stmt, const struct nd_param *params,
                          nd_store_row_fn read, void *ctx, const char *what);

/* ---- keyset pages (struct nd_page: store_rows.h) ---------------------- */

/*
 * Binds params and :limit (page->limit + 1: one row more tells of a next
 * page), appends up to page->limit mapped rows to items and releases stmt.
 * *next gets the malloc'd cursor of the next page, or NULL when there is
 * none; it is written on ND_OK only (items may then hold some rows).
 */
enum nd_err nd_store_page(struct nd_sqlite *st, sqlite3_stmt *stmt, const struct nd_param *params,
                          const struct nd_page *page, json_t *items, char **next, const char *what);

/*
 * The checks of a comment written with its own values (store_backup.c; an
 * export's record, or with rec->id 0 a WordPress comment, store_import.c),
 * inside the caller's transaction. ND_ERR_INVALID when rec's parent is not a
 * comment of rec's article or, when rec->id is set, is not older (a smaller
 * id). ND_ERR_CONFLICT when rec's id or import key is taken, *taken naming
 * which ("id" or "import_key").
 */
enum nd_err nd_store_comment_record_check(struct nd_sqlite *st, const struct nd_comment_record *rec,
                                          const char **taken);

/*
 * Inserts the comment row of rec as given, the next id when rec->id is 0;
 * *id (may be NULL) gets its id. The caller checked it first.
 */
enum nd_err nd_store_comment_record_insert(struct nd_sqlite *st,
                                           const struct nd_comment_record *rec, int64_t *id);

/* ND_OK when article id exists, ND_ERR_NOT_FOUND when not, or the failure. */
enum nd_err nd_store_article_exists(struct nd_sqlite *st, int64_t id);

/*
 * BEGIN IMMEDIATE: every write transaction starts here. Inside a batch
 * (nd_store_batch_begin) it opens a savepoint instead, and commit and
 * rollback below release it or roll back to it, so the same code runs both
 * ways.
 */
enum nd_err nd_store_begin(struct nd_sqlite *st);

/* BEGIN (deferred): a consistent snapshot for reads spanning statements. */
enum nd_err nd_store_begin_read(struct nd_sqlite *st);

/*
 * Raises the count nd_store_foreign_commits reports, as for another
 * process's commit: for a write of this process that no HTTP write request
 * accounts for (the change log's pruning), so caches forget everything.
 */
void nd_store_count_foreign(struct nd_sqlite *st);

/* COMMIT. On failure the transaction is rolled back before returning. */
enum nd_err nd_store_commit(struct nd_sqlite *st);

/*
 * Ends a write transaction by its outcome: commits when err is ND_OK (and
 * returns the commit's result), otherwise rolls back and returns err.
 */
enum nd_err nd_store_finish(struct nd_sqlite *st, enum nd_err err);

/*
 * nd_store_finish for a write that read its result back into value (NULL
 * when the write failed before): on ND_OK *out takes value, otherwise value
 * is released.
 */
enum nd_err nd_store_finish_with(struct nd_sqlite *st, enum nd_err err, json_t *value,
                                 json_t **out);

/* ROLLBACK when a transaction is open; a no-op otherwise. */
void nd_store_rollback(struct nd_sqlite *st);

/*
 * Opens the write transaction of an article write (nd_store_begin), with f's
 * tags rendered first as the compact JSON array text the articles table
 * keeps, malloc'd into *tags for the caller to free. ND_ERR_INVALID for a
 * NULL or non-UTF-8 tag, ND_ERR_NOMEM, or nd_store_begin's error; on
 * failure there is nothing to free or to end.
 */
enum nd_err nd_store_article_begin(struct nd_sqlite *st, const struct nd_article_fields *f,
                                   char **tags);

/* The struct nd_sqlite that store is (the caller knows it is one). Accepts NULL. */
static inline struct nd_sqlite *nd_sqlite_of(struct nd_store *store)
{
    return (struct nd_sqlite *)store;
}

/*
 * Applies every migration of migrations/sqlite the database has not
 * recorded, in version order, also one older than the newest it has
 * (migrations of parallel branches meet in any order; each must then not
 * depend on a later one). *applied (may be NULL) gets how many ran. On
 * failure the failing migration is rolled back, the earlier ones stay, and
 * the error is logged once here (migrate.c).
 */
enum nd_err nd_migrate(sqlite3 *db, unsigned *applied);

/* SQLite's data_version of this connection (see nd_store_foreign_commits). */
enum nd_err nd_sqlite_data_version(struct nd_sqlite *st, int64_t *version);

/*
 * ---- the operations of the SQLite backend ------------------------------
 * Each is the store.h function of the same name (nd_store_<op>) for a
 * struct nd_sqlite; store.c lists them in its struct nd_store_ops.
 */

void nd_sqlite_close(struct nd_store *store);

enum nd_err nd_sqlite_ping(struct nd_store *store);

enum nd_err nd_sqlite_foreign_commits(struct nd_store *store, uint64_t *epoch);

enum nd_err nd_sqlite_batch_begin(struct nd_store *store);

enum nd_err nd_sqlite_batch_end(struct nd_store *store, bool commit);
enum nd_err nd_sqlite_settle(struct nd_store *store);

enum nd_err nd_sqlite_size(struct nd_store *store, int64_t *bytes);

enum nd_err nd_sqlite_article_create(struct nd_store *store, const struct nd_article_fields *f,
                                     json_t **out);

enum nd_err nd_sqlite_article_get(struct nd_store *store, int64_t id, json_t **out);

enum nd_err nd_sqlite_article_get_by_slug(struct nd_store *store, const char *slug, json_t **out);

enum nd_err nd_sqlite_article_update(struct nd_store *store, int64_t id,
                                     const struct nd_article_fields *f, json_t **out);

enum nd_err nd_sqlite_article_delete(struct nd_store *store, int64_t id);

enum nd_err nd_sqlite_article_find_import(struct nd_store *store, const char *import_key,
                                          int64_t *id);

enum nd_err nd_sqlite_article_is_draft(struct nd_store *store, int64_t id, bool *draft);

enum nd_err nd_sqlite_article_list_sorted(struct nd_store *store,
                                          const struct nd_article_filter *filter,
                                          enum nd_article_order order, unsigned limit,
                                          const char *cursor, json_t **items, char **next_cursor);

enum nd_err nd_sqlite_category_list(struct nd_store *store, bool drafts, json_t **out);

enum nd_err nd_sqlite_export(struct nd_store *store, nd_store_export_fn emit, void *ctx,
                             struct nd_export_stats *stats);

enum nd_err nd_sqlite_article_restore(struct nd_store *store, const struct nd_article_record *rec,
                                      const char **taken);

enum nd_err nd_sqlite_comment_restore(struct nd_store *store, const struct nd_comment_record *rec,
                                      const char **taken);

enum nd_err nd_sqlite_changes_bounds(struct nd_store *store, int64_t *pruned_through,
                                     int64_t *last);

enum nd_err nd_sqlite_changes_read(struct nd_store *store, int64_t since, bool all, unsigned limit,
                                   nd_change_fn fn, void *ctx, struct nd_change_page *page);

enum nd_err nd_sqlite_changes_prune(struct nd_store *store, int64_t before, unsigned long *removed);

enum nd_err nd_sqlite_comment_post(struct nd_store *store, const struct nd_comment_fields *f,
                                   unsigned flags, json_t **out);

enum nd_err nd_sqlite_comment_get(struct nd_store *store, int64_t id, json_t **out);

enum nd_err nd_sqlite_comment_delete(struct nd_store *store, int64_t id);

enum nd_err nd_sqlite_comment_set_status(struct nd_store *store, int64_t id, bool pending,
                                         json_t **out);

enum nd_err nd_sqlite_article_text(struct nd_store *store, int64_t id, const char *slug,
                                   struct nd_article_text *t);
enum nd_err nd_sqlite_comment_list_filtered(struct nd_store *store, int64_t article_id,
                                            enum nd_comment_filter which, bool tree, unsigned limit,
                                            const char *cursor, struct nd_buf *text, json_t **items,
                                            char **next_cursor);

enum nd_err nd_sqlite_comment_import(struct nd_store *store, const struct nd_comment_import *c,
                                     int64_t *id);

enum nd_err nd_sqlite_comment_find_import(struct nd_store *store, const char *import_key,
                                          int64_t *id);

enum nd_err nd_sqlite_key_insert(struct nd_store *store, const char *name, const char *key_id,
                                 const unsigned char *hash, size_t hash_len);

enum nd_err nd_sqlite_key_lookup(struct nd_store *store, const char *key_id, unsigned char *hash,
                                 size_t hash_len);

enum nd_err nd_sqlite_key_list(struct nd_store *store, json_t **out);

enum nd_err nd_sqlite_key_delete(struct nd_store *store, const char *name);

enum nd_err nd_sqlite_search(struct nd_store *store, const struct nd_search_params *p,
                             json_t **items, char **next_cursor);

enum nd_err nd_sqlite_tag_list(struct nd_store *store, bool drafts, json_t **out);

enum nd_err nd_sqlite_author_list(struct nd_store *store, bool drafts, json_t **out);

#endif
