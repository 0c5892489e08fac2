/*
 * store.h: all persistence of newsd. Every SQL statement lives behind this
 * interface; nothing outside store*.c and migrate.c includes sqlite3.h.
 *
 * A struct nd_store is one database connection with its prepared
 * statements. It is not thread-safe: each thread opens its own. A PostgreSQL
 * store would implement this same header.
 *
 * Values come back as Jansson values already shaped like the contract's
 * resources (see API.md), each a new reference owned by the caller:
 *   article: id, slug, title, summary, body, author, category, tags,
 *            source_url (string or null), status, published_at, created_at,
 *            updated_at, comment_count
 *   comment: id, article_id, parent_id (integer or null), author, body,
 *            status, created_at
 * Out-parameters are written only on ND_OK.
 */
#ifndef NEWSD_STORE_H
#define NEWSD_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "newsd/config.h"
#include "newsd/err.h"

struct nd_store;

struct nd_store_options {
    enum nd_sync_mode synchronous;
    unsigned busy_timeout_ms;
};

/*
 * Opens (creating when missing) the database at path (":memory:" works) with
 * SQLITE_OPEN_NOMUTEX, WAL journal, foreign_keys=ON, the given synchronous
 * mode and busy timeout, and applies pending migrations. On failure *out is
 * untouched and nothing stays open.
 */
enum nd_err nd_store_open(const char *path, const struct nd_store_options *opts,
                          struct nd_store **out);

/* Finalizes every statement and closes the connection. Accepts NULL. */
void nd_store_close(struct nd_store *store);

/* How many migrations nd_store_open applied (0 when the schema was current). */
unsigned nd_store_migrations_applied(const struct nd_store *store);

/*
 * SQLite's data_version of this connection: it changes whenever another
 * connection (another thread's, another process's) has committed since the
 * last call. A cache of rendered answers uses it to notice foreign writes.
 */
enum nd_err nd_store_data_version(struct nd_store *store, int64_t *version);

/* ND_OK when the database answers a trivial query. */
enum nd_err nd_store_ping(struct nd_store *store);

/* ---- batches ----------------------------------------------------------- */

/*
 * A batch runs many writes in one transaction, for bulk loading (newsd import
 * --jsonl): a commit per row would cost one WAL sync each. nd_store_batch_begin
 * opens a write transaction (BEGIN IMMEDIATE); until the matching
 * nd_store_batch_end, each write of this store (create, update, delete, key
 * insert...) runs inside it as a savepoint instead of its own transaction, so
 * a write that fails (a slug conflict, a missing article) still undoes only
 * its own changes and the batch goes on. Reads work as usual and see the
 * batch's writes.
 *
 * Batches nest: an inner begin/end pair only counts; the outermost end
 * commits (commit true) or rolls everything back (commit false, or when any
 * inner end asked for a rollback). While a batch is open no other connection
 * can write: keep batches short (a few thousand rows). A store is closed with
 * its batch rolled back when nd_store_batch_end was never called.
 *
 * nd_store_batch_begin: ND_OK, ND_ERR_BUSY when another writer held the lock
 * past busy_timeout, or another store error. nd_store_batch_end without an
 * open batch is ND_ERR_INVALID; a failed COMMIT rolls back and returns the
 * error; when SQLite itself already rolled the transaction back (disk full),
 * the end reports ND_ERR_DB.
 */
enum nd_err nd_store_batch_begin(struct nd_store *store);
enum nd_err nd_store_batch_end(struct nd_store *store, bool commit);

/* ---- articles ---------------------------------------------------------- */

/* Fields of an article as written by create and update. All strings borrowed. */
struct nd_article_fields {
    const char *slug;  /* never NULL */
    bool slug_derived; /* true: on a clash add "-2", "-3", ...; false: clash = CONFLICT */
    const char *title;
    const char *summary;
    const char *body;
    const char *author;   /* "" when none */
    const char *category; /* "" when none */
    const char *const *tags;
    size_t ntags;
    const char *source_url; /* NULL when none */
    bool draft;
    int64_t published_at;   /* seconds since the epoch */
    const char *import_key; /* NULL unless created by the importer */
};

/* Creates an article. ND_ERR_CONFLICT: the slug is taken and not derived. */
enum nd_err nd_store_article_create(struct nd_store *store, const struct nd_article_fields *f,
                                    json_t **out);

/* One article, drafts included (the caller decides visibility). */
enum nd_err nd_store_article_get(struct nd_store *store, int64_t id, json_t **out);
enum nd_err nd_store_article_get_by_slug(struct nd_store *store, const char *slug, json_t **out);

/*
 * Replaces every field of article id with f (its slug too; f->slug_derived
 * applies as in create) and bumps updated_at. ND_ERR_NOT_FOUND,
 * ND_ERR_CONFLICT.
 */
enum nd_err nd_store_article_update(struct nd_store *store, int64_t id,
                                    const struct nd_article_fields *f, json_t **out);

/* Deletes article id and all its comments. ND_ERR_NOT_FOUND. */
enum nd_err nd_store_article_delete(struct nd_store *store, int64_t id);

/* Finds the article made by the importer from the text with this key. */
enum nd_err nd_store_article_find_import(struct nd_store *store, const char *import_key,
                                         int64_t *id);

enum nd_status_filter {
    ND_STATUS_PUBLISHED = 0,
    ND_STATUS_DRAFT,
    ND_STATUS_ANY,
};

struct nd_article_filter {
    const char *category; /* NULL = any; exact match */
    const char *tag;      /* NULL = any; exact match on one tag */
    const char *author;   /* NULL = any; exact match */
    bool has_since;       /* published_at >= since */
    int64_t since;
    bool has_until; /* published_at < until */
    int64_t until;
    enum nd_status_filter status;
};

/*
 * One page of articles, newest published_at first, ties by id descending,
 * each item without "body". cursor is NULL for the first page or a value of
 * a previous *next_cursor. *items gets a new array; *next_cursor a malloc'd
 * opaque cursor, or NULL on the last page. A cursor that does not decode is
 * ND_ERR_INVALID. limit is 1..100.
 */
enum nd_err nd_store_article_list(struct nd_store *store, const struct nd_article_filter *filter,
                                  unsigned limit, const char *cursor, json_t **items,
                                  char **next_cursor);

/* ---- comments ---------------------------------------------------------- */

struct nd_comment_fields {
    int64_t article_id;
    bool has_parent;
    int64_t parent_id;
    const char *author;
    const char *body;
};

/*
 * Adds a comment. ND_ERR_NOT_FOUND: no such article. ND_ERR_INVALID: the
 * parent is not a comment of the same article.
 */
enum nd_err nd_store_comment_create(struct nd_store *store, const struct nd_comment_fields *f,
                                    json_t **out);

enum nd_err nd_store_comment_get(struct nd_store *store, int64_t id, json_t **out);

/*
 * Removes comment id. Its replies are kept and re-attached to its parent (a
 * reply to a removed top-level comment becomes top-level). ND_ERR_NOT_FOUND.
 */
enum nd_err nd_store_comment_delete(struct nd_store *store, int64_t id);

/*
 * One page of the comments of an article, oldest first. Flat: every comment
 * is an item. Tree: items are top-level comments, each with "replies", an
 * array of its replies (recursively, oldest first); the page counts only
 * top-level comments. Cursor semantics as for articles. The caller checks the
 * article exists. Every comment, whatever its status: see
 * nd_store_comment_list_filtered.
 */
enum nd_err nd_store_comment_list(struct nd_store *store, int64_t article_id, bool tree,
                                  unsigned limit, const char *cursor, json_t **items,
                                  char **next_cursor);

/* ---- comment moderation ------------------------------------------------ */

/*
 * A comment's status is "visible" or "pending" (waiting for approval, or
 * hidden by a moderator). comment_count counts visible comments only.
 */

/* Which comments a list holds. */
enum nd_comment_filter {
    ND_COMMENTS_VISIBLE = 0, /* what readers see */
    ND_COMMENTS_PENDING,     /* the moderation queue */
    ND_COMMENTS_ANY,
};

/* How nd_store_comment_post stores a comment. */
enum nd_comment_post_flags {
    ND_COMMENT_PENDING = 1 << 0, /* store it pending instead of visible */
    /* a parent that is not visible counts as absent (ND_ERR_INVALID): readers
       may reply only to what they can see */
    ND_COMMENT_VISIBLE_PARENT = 1 << 1,
};

/*
 * nd_store_comment_create with flags (a mask of enum nd_comment_post_flags);
 * nd_store_comment_create is this with no flag.
 */
enum nd_err nd_store_comment_post(struct nd_store *store, const struct nd_comment_fields *f,
                                  unsigned flags, json_t **out);

/*
 * Sets the status of comment id to "pending" (pending true) or "visible";
 * *out gets the comment afterwards. ND_ERR_NOT_FOUND.
 */
enum nd_err nd_store_comment_set_status(struct nd_store *store, int64_t id, bool pending,
                                        json_t **out);

/*
 * nd_store_comment_list holding only the comments which selects. A flat list
 * simply leaves the others out. In a tree, a comment hangs under its nearest
 * ancestor that the list holds, and is top-level when it has none: a visible
 * reply to a pending comment shows under the visible comment above that (or
 * at the top), the way a reply to a deleted comment moves up. Its parent_id
 * stays what it is. A cursor of a list with another filter is ND_ERR_INVALID.
 */
enum nd_err nd_store_comment_list_filtered(struct nd_store *store, int64_t article_id,
                                           enum nd_comment_filter which, bool tree, unsigned limit,
                                           const char *cursor, json_t **items, char **next_cursor);

/* ---- search ------------------------------------------------------------ */

struct nd_search_params {
    const char *match;               /* an FTS5 expression made by nd_search_translate */
    bool comments;                   /* search comments instead of articles */
    struct nd_article_filter filter; /* articles: every filter; comments: only the
                                        status of the article they belong to */
    unsigned limit;                  /* 1..100 */
    const char *cursor;              /* NULL for the first page */
    unsigned time_limit_ms;          /* 0 = none */
};

/*
 * One page of search results, best first (BM25, title weighted above
 * summary above body), ties by recency. Items: articles {id, slug, title,
 * published_at, snippet, score}; comments {id, article_id, created_at,
 * snippet, score}. snippet is raw text with ND_SNIPPET_OPEN/CLOSE (search.h)
 * around matches; score is positive, higher is better. ND_ERR_INVALID: bad
 * cursor; ND_ERR_LIMIT: the search ran past time_limit_ms.
 */
enum nd_err nd_store_search(struct nd_store *store, const struct nd_search_params *p,
                            json_t **items, char **next_cursor);

/* ---- API keys ---------------------------------------------------------- */

/* Stores a key: its public id and the hash of the whole secret. ND_ERR_CONFLICT: name taken. */
enum nd_err nd_store_key_insert(struct nd_store *store, const char *name, const char *key_id,
                                const unsigned char *hash, size_t hash_len);

/* Copies the stored hash of the key with this public id into hash (hash_len bytes). */
enum nd_err nd_store_key_lookup(struct nd_store *store, const char *key_id, unsigned char *hash,
                                size_t hash_len);

/* *out: array of {"name","key_id","created_at"}, oldest first. */
enum nd_err nd_store_key_list(struct nd_store *store, json_t **out);

/* Deletes the key called name. ND_ERR_NOT_FOUND. */
enum nd_err nd_store_key_delete(struct nd_store *store, const char *name);

#endif
