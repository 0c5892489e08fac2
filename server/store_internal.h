/*
 * store_internal.h: what the store*.c files (and migrate.c, for the error
 * mapping) share and nobody else sees: the connection struct, the statement
 * cache, transactions, the SQLite error mapping and the helpers that turn a
 * result row into Jansson values.
 *
 * Statements are prepared on first use with SQLITE_PREPARE_PERSISTENT into a
 * slot of struct nd_store and kept until nd_store_close. A function that uses
 * a cached statement hands it back with nd_store_release() on every path, so
 * the next user finds it reset and without bindings.
 */
#ifndef NEWSD_STORE_INTERNAL_H
#define NEWSD_STORE_INTERNAL_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "newsd/err.h"
#include "newsd/store.h"

/* One slot per fixed statement; the SQL text lives next to its one user. */
enum nd_stmt {
    ND_STMT_BEGIN,
    ND_STMT_BEGIN_READ,
    ND_STMT_COMMIT,
    ND_STMT_ROLLBACK,
    ND_STMT_SAVEPOINT,
    ND_STMT_RELEASE,
    ND_STMT_ROLLBACK_TO,
    ND_STMT_PING,
    ND_STMT_DATA_VERSION,
    ND_STMT_ARTICLE_EXISTS,
    ND_STMT_ARTICLE_GET,
    ND_STMT_ARTICLE_GET_BY_SLUG,
    ND_STMT_ARTICLE_SLUG_OWNER,
    ND_STMT_ARTICLE_INSERT,
    ND_STMT_ARTICLE_UPDATE,
    ND_STMT_ARTICLE_DELETE,
    ND_STMT_ARTICLE_DELETE_COMMENTS,
    ND_STMT_ARTICLE_FIND_IMPORT,
    ND_STMT_TAGS_DELETE,
    ND_STMT_TAG_INSERT,
    ND_STMT_CATEGORY_LIST,
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
    ND_STMT_COUNT
};

/*
 * Article list statements are built from fixed fragments, one per filter
 * present; the set of filters is a bitmask and each mask gets its own cached
 * statement.
 */
enum nd_list_bit {
    ND_LIST_STATUS = 1 << 0,
    ND_LIST_CATEGORY = 1 << 1,
    ND_LIST_TAG = 1 << 2,
    ND_LIST_AUTHOR = 1 << 3,
    ND_LIST_SINCE = 1 << 4,
    ND_LIST_UNTIL = 1 << 5,
    ND_LIST_CURSOR = 1 << 6,
    ND_LIST_VARIANTS = 1 << 7
};

/*
 * Appends to sql (which has room for every fragment) one "AND ..." condition
 * per filter bit in mask, on the unqualified columns of articles, with the
 * named parameters :status, :category, :tag, :author, :since, :until and,
 * for ND_LIST_CURSOR, :cursor_at and :cursor_id.
 */
void nd_store_filter_sql(char *sql, unsigned mask);

/* The filter bits that flt (and a cursor, when has_cursor) needs. */
unsigned nd_store_filter_mask(const struct nd_article_filter *flt, bool has_cursor);

/*
 * Binds :limit (to limit + 1, so one row more tells of a next page) and the
 * parameters of the filters in mask. Returns the SQLite result.
 */
int nd_store_filter_bind(sqlite3_stmt *stmt, unsigned mask, const struct nd_article_filter *flt,
                         int64_t cursor_at, int64_t cursor_id, unsigned limit);

#define ND_SEARCH_COMMENT_VARIANTS 4

struct nd_store {
    sqlite3 *db;
    unsigned migrations_applied;
    sqlite3_stmt *stmts[ND_STMT_COUNT];
    sqlite3_stmt *article_lists[ND_LIST_VARIANTS];
    /* article search: filters and cursor as for lists; comment search: status, cursor */
    sqlite3_stmt *article_searches[ND_LIST_VARIANTS];
    sqlite3_stmt *comment_searches[ND_SEARCH_COMMENT_VARIANTS];
    /* nd_store_batch_begin depth; inside a batch each write is a savepoint */
    unsigned batch_depth;
    bool batch_doomed; /* an inner batch end asked for a rollback */
    bool savepoint_open;
    bool holds_writer; /* this connection holds the process's writer mutex (store.c) */
    unsigned busy_timeout_ms;
};

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
sqlite3_stmt *nd_store_prepare(struct nd_store *st, sqlite3_stmt **slot, const char *sql,
                               enum nd_err *err);

/* nd_store_prepare for a fixed statement slot. */
sqlite3_stmt *nd_store_stmt(struct nd_store *st, enum nd_stmt id, const char *sql,
                            enum nd_err *err);

/* Resets stmt and clears its bindings for the next user. Accepts NULL. */
void nd_store_release(sqlite3_stmt *stmt);

/*
 * Steps a statement that returns no row (or whose rows are not wanted) to
 * completion. ND_OK on SQLITE_DONE, the mapped (and logged) error otherwise.
 * Does not release stmt.
 */
enum nd_err nd_store_step_done(struct nd_store *st, sqlite3_stmt *stmt, const char *what);

/* ND_OK when article id exists, ND_ERR_NOT_FOUND when not, or the failure. */
enum nd_err nd_store_article_exists(struct nd_store *st, int64_t id);

/*
 * BEGIN IMMEDIATE: every write transaction starts here. Inside a batch
 * (nd_store_batch_begin) it opens a savepoint instead, and commit and
 * rollback below release it or roll back to it, so the same code runs both
 * ways.
 */
enum nd_err nd_store_begin(struct nd_store *st);

/* BEGIN (deferred): a consistent snapshot for reads spanning statements. */
enum nd_err nd_store_begin_read(struct nd_store *st);

/* COMMIT. On failure the transaction is rolled back before returning. */
enum nd_err nd_store_commit(struct nd_store *st);

/*
 * Ends a write transaction by its outcome: commits when err is ND_OK (and
 * returns the commit's result), otherwise rolls back and returns err.
 */
enum nd_err nd_store_finish(struct nd_store *st, enum nd_err err);

/* ROLLBACK when a transaction is open; a no-op otherwise. */
void nd_store_rollback(struct nd_store *st);

/*
 * Binds text (NULL binds SQL NULL) to the named parameter of stmt. The text
 * is borrowed until the statement is released. Returns the SQLite result.
 */
int nd_store_bind_text(sqlite3_stmt *stmt, const char *name, const char *text);
int nd_store_bind_int(sqlite3_stmt *stmt, const char *name, int64_t value);

/*
 * f's tags as the compact JSON array text the articles table keeps, malloc'd
 * into *out. ND_ERR_INVALID for a NULL or non-UTF-8 tag, ND_ERR_NOMEM.
 */
enum nd_err nd_store_tags_text(const struct nd_article_fields *f, char **out);

/*
 * Adds key to obj with the value of column col of the current row: text as a
 * string, an integer, a time as RFC 3339 text, or text-or-NULL. Returns ND_OK,
 * ND_ERR_NOMEM, or ND_ERR_DB when stored text is not valid UTF-8 (logged).
 */
enum nd_err nd_store_json_text(json_t *obj, const char *key, sqlite3_stmt *stmt, int col);
enum nd_err nd_store_json_int(json_t *obj, const char *key, sqlite3_stmt *stmt, int col);
enum nd_err nd_store_json_time(json_t *obj, const char *key, sqlite3_stmt *stmt, int col);
enum nd_err nd_store_json_text_or_null(json_t *obj, const char *key, sqlite3_stmt *stmt, int col);

#endif
