/*
 * store.h: all persistence of newsd. Every SQL statement lives behind this
 * interface; nothing outside store*.c and migrate.c includes sqlite3.h.
 *
 * A struct nd_store is one database connection with its prepared
 * statements. It is not thread-safe: each thread opens its own. Two
 * backends implement this header (store_backend.h is the seam): SQLite, the
 * default, over one file, and PostgreSQL 15 through libpq.
 * Handlers and the CLI never know which one answers.
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

struct nd_buf;

struct nd_store;

/* How a store connection behaves, whichever backend it is. */
struct nd_store_options {
    /* when a commit is durable: OFF may lose the last commits on a crash of
       the machine, NORMAL (SQLite) may lose them on a power cut, FULL never */
    enum nd_sync_mode synchronous;
    /* how long a statement may wait for a lock (or, on PostgreSQL, run)
       before it fails with ND_ERR_BUSY */
    unsigned busy_timeout_ms;
    /* memory for the database's pages in this process, for a file database
       (SQLite; a PostgreSQL server keeps its own shared buffers and ignores both):
       a page cache per connection (0 = SQLite's 2 MB) and how much of the file
       is read through a memory map (0 = none: read calls) */
    size_t cache_size;
    size_t mmap_size;
    /* a file database's checkpoints (the WAL copied back into the file) are run by
       a thread of the process instead of by the commit that fills the WAL, which
       then waits for none (SQLite; PostgreSQL's server checkpoints by itself) */
    bool background_checkpoints;
};

/*
 * Opens the database db names and applies its pending migrations. db is a
 * postgres:// or postgresql:// URI (libpq's connection string; PostgreSQL)
 * or else a file path (SQLite, created when missing; ":memory:" works),
 * opened with SQLITE_OPEN_NOMUTEX, WAL journal and foreign_keys=ON. On
 * failure *out is untouched and nothing stays open (ND_ERR_BUSY: the
 * PostgreSQL server cannot be reached now).
 */
enum nd_err nd_store_open(const char *db, const struct nd_store_options *opts,
                          struct nd_store **out);

/* The backend of st: "sqlite" or "postgresql". */
const char *nd_store_backend(const struct nd_store *st);

/* True when db names a PostgreSQL database (a postgres:// or postgresql:// URI). */
bool nd_store_is_postgres(const char *db);

/*
 * The --db value db as it may be printed (log lines, error messages): a
 * file path as it is; of a PostgreSQL URI only the scheme, the host, the
 * port and the database name, never the user, a password or any other
 * parameter ("postgresql://db.example:5432/news", or
 * "postgresql:///news?host=/run/postgresql&port=5432" for a socket folder).
 * A URI libpq cannot parse is "postgresql://(a URI that cannot be parsed)".
 * Writes into buf (len bytes, cut short when it does not fit) and returns buf.
 */
const char *nd_store_describe(const char *db, char *buf, size_t len);

/* Finalizes every statement and closes the connection. Accepts NULL. */
void nd_store_close(struct nd_store *store);

/* How many migrations nd_store_open applied (0 when the schema was current). */
unsigned nd_store_migrations_applied(const struct nd_store *store);

/*
 * Sets *epoch to a process-wide count that grows whenever the database may
 * hold a commit this process's writers did not make: another process's, a
 * tool's, or one this process cannot account for (a failed commit). A cache
 * of rendered answers forgets everything when it sees the count move, and
 * handles its own process's writes itself. Checks this connection's
 * data_version first and reads the change log's head only when it moved,
 * so the usual call is one cheap pragma. ND_ERR_DB (logged) when the
 * database cannot be read; the caller must then not use its cache.
 */
enum nd_err nd_store_foreign_commits(struct nd_store *store, uint64_t *epoch);

/* ND_OK when the database answers a trivial query. */
enum nd_err nd_store_ping(struct nd_store *store);

/*
 * Optional (ND_ERR_UNSUPPORTED where a backend has no such figure).
 * The size of the database in bytes: its page count times its page size, as
 * this connection sees it (committed pages still in the write-ahead log
 * included, free pages too), so it grows with each insert before any
 * checkpoint. The size of the files would not: the main file changes only at
 * a checkpoint, and the WAL file keeps its length after one.
 */
enum nd_err nd_store_size(struct nd_store *store, int64_t *bytes);

/* ---- replicas and write-ahead log positions ----------------------------- */

/*
 * Opens a read-only store on db, a PostgreSQL hot standby of the database
 * nd_store_open opened (--db-replica): no migration runs on it, no change
 * listener starts with it, and every write through it fails ND_ERR_READONLY
 * (its sessions are read-only, and the write paths refuse it first). Its
 * schema must be the one this binary migrates the primary to: a standby
 * that has not replayed the newest migration yet is refused with a log line
 * (ND_ERR_BUSY: try again later). ND_ERR_BUSY as well when the standby
 * cannot be reached; ND_ERR_INVALID for a URI that is not PostgreSQL's or
 * cannot be parsed. *out is the caller's, closed with nd_store_close.
 */
enum nd_err nd_store_open_replica(const char *db, const struct nd_store_options *opts,
                                  struct nd_store **out);

/*
 * Positions in PostgreSQL's write-ahead log (LSNs), as 64-bit numbers that
 * grow with every record: 0 is no position.
 */
enum nd_position {
    /*
     * Of a primary's store: the position right after this connection's last
     * committed write (its change log's publication included), taken: a
     * second call answers ND_ERR_NOT_FOUND until the next write commits.
     * A replica that has replayed to it shows that write.
     */
    ND_POSITION_WRITE,
    /*
     * Of a replica's store: how far the standby has replayed, asked at most
     * every few milliseconds per connection (a cached figure is not older
     * than that). A connection the standby closed is noticed before it is
     * used. ND_ERR_BUSY when the standby cannot be reached. A standby
     * promoted since (a failover) answers just before its own insert
     * position: it is the primary now, and current.
     */
    ND_POSITION_REPLAY,
    /*
     * Process-wide: the newest position of the primary this process knows
     * every commit up to has been told to it (its own writes' positions,
     * and the primary's position each time the change listener heard of
     * another process's commits, recorded before the caches hear of them).
     * ND_ERR_BUSY while it cannot be known (the listener is not connected,
     * or has not asked yet): then nothing read from a replica may be cached.
     */
    ND_POSITION_KNOWN,
    /* Of a primary's store: its current position (one round trip), for /health. */
    ND_POSITION_CURRENT,
};

/*
 * Optional (ND_ERR_UNSUPPORTED on SQLite, which has neither replicas nor
 * positions). The position of kind which into *out; see enum nd_position
 * for each kind's errors. Database errors are logged by the store.
 */
enum nd_err nd_store_position(struct nd_store *store, enum nd_position which, uint64_t *out);

/* The longest text of a position, "FFFFFFFF/FFFFFFFF", with its NUL. */
#define ND_POSITION_TEXT_MAX 18

/* pos as PostgreSQL writes an LSN ("16/B374D848") into buf; returns buf. */
const char *nd_store_position_format(uint64_t pos, char buf[ND_POSITION_TEXT_MAX]);

/*
 * Parses text as an LSN: 1 to 8 hexadecimal digits, '/', 1 to 8 more, and
 * nothing else (no blank, no sign). 0 for anything else, and for "0/0".
 */
uint64_t nd_store_position_parse(const char *text);

/*
 * Optional (ND_ERR_UNSUPPORTED where a backend keeps no shared limits: the
 * caller then counts in its own memory, newsd/ratelimit.h). One take from
 * the token bucket bucket (a short text the caller makes; a hash, so that
 * it never grows with what a client sends), shared by every process that
 * uses the database: refilled at per_minute tokens a minute (at least 1) up
 * to burst (at least 1), full on first use, on the database's clock. On
 * ND_OK *allowed says whether a token was taken and *tokens what the bucket
 * holds afterwards (a fraction of a token perhaps). Inside a batch the take
 * is a savepoint of its own, so that a failure leaves the batch alive.
 * ND_ERR_BUSY when the database cannot answer now, ND_ERR_DB (logged).
 */
enum nd_err nd_store_rate_take(struct nd_store *store, const char *bucket, unsigned per_minute,
                               unsigned burst, bool *allowed, double *tokens);

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
 * every later write of the batch fails with ND_ERR_DB (none runs, let alone
 * commits, on its own) and the end reports the error of the write that
 * caused it (ND_ERR_READONLY for a full disk), or ND_ERR_DB when unknown.
 * A write whose changes cannot be undone (its ROLLBACK TO failed, out of
 * memory) dooms the batch: the end rolls everything back and returns that
 * error, so no half of a write is ever committed.
 */
enum nd_err nd_store_batch_begin(struct nd_store *store);
enum nd_err nd_store_batch_end(struct nd_store *store, bool commit);

/*
 * Makes a store whose last batch failed give back whatever the failure may
 * have left it holding, for a connection that may sit idle afterwards (the
 * committer of group commits): a transaction whose ROLLBACK failed (out of
 * memory) is rolled back, and on SQLite one small read makes the
 * connection let go of the write-ahead log, which SQLite keeps locked after
 * such an error until the connection is next used (no checkpoint could
 * empty the WAL meanwhile, and an open transaction makes every other
 * writer busy). ND_OK, or the error when it cannot be done now (memory
 * still short, the database unreachable): call it again later.
 * ND_ERR_INVALID inside a batch.
 */
enum nd_err nd_store_settle(struct nd_store *store);

/*
 * How many writes a batch of this store should hold at most: want, or less
 * when the backend is slower with more (PostgreSQL: a savepoint per write,
 * and a transaction of more than 64 subtransactions slows every snapshot).
 */
unsigned nd_store_batch_rows(const struct nd_store *store, unsigned want);

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
 * Whether article id is a draft (*draft), without reading the article
 * itself: for callers that only decide who may see it and what hangs on it
 * (its comments), so that no article is built only to be thrown away.
 * ND_ERR_NOT_FOUND when there is no such article.
 */
enum nd_err nd_store_article_is_draft(struct nd_store *store, int64_t id, bool *draft);

/* An article read as JSON text (nd_store_article_text), and what its reader needs of it. */
struct nd_article_text {
    struct nd_buf *out; /* the article's text is appended here */
    int64_t id;
    bool draft;
};

/*
 * nd_store_article_get (slug NULL) or nd_store_article_get_by_slug (id
 * ignored) with the article appended to t->out as JSON text, the bytes
 * nd_json_render writes for that object, without making it; its id and
 * whether it is a draft in t. The same errors; ND_ERR_UNSUPPORTED when the
 * backend has no such reading. On an error t->out may hold part of it.
 */
enum nd_err nd_store_article_text(struct nd_store *store, int64_t id, const char *slug,
                                  struct nd_article_text *t);

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

/* The orders of the article list. */
enum nd_article_order {
    ND_ORDER_NEWEST = 0, /* published_at descending, ties by id descending */
    ND_ORDER_OLDEST,     /* published_at ascending, ties by id ascending */
    ND_ORDER_UPDATED,    /* updated_at descending, ties by id descending */
    ND_ORDER_COMMENTED,  /* comment_count descending, ties by id descending */
    ND_ORDER_COUNT
};

/*
 * nd_store_article_list in the given order (nd_store_article_list is this
 * with ND_ORDER_NEWEST). The cursor holds the last item's sort keys and
 * names its order: a cursor of another order (or of search, or comments)
 * is ND_ERR_INVALID.
 *
 * Cursors are positions, not snapshots: articles inserted or changed while
 * a client pages are placed by their keys at the time of each page. An
 * article whose keys do not change between pages is visited exactly once,
 * in order. New articles (published now, updated now) land at the head of
 * newest and updated, before any cursor, and at the tail of oldest; in
 * commented a new article (no comment) lands among the articles without
 * comments, by id. An article whose key changes meanwhile (an update, a
 * comment, a change of date) may move past the cursor: it is then missed or
 * seen twice.
 *
 * Cost: every order of the unfiltered list is read from an index in its
 * order (migration 0007), so a page stops after limit rows. With a filter
 * (category, author, tag) the orders newest and oldest still walk an index
 * of that filter; updated and commented sort the filter's matches (their
 * cost grows with the size of the category, author or tag).
 */
enum nd_err nd_store_article_list_sorted(struct nd_store *store,
                                         const struct nd_article_filter *filter,
                                         enum nd_article_order order, unsigned limit,
                                         const char *cursor, json_t **items, char **next_cursor);

/*
 * The categories in use, for a menu: *out gets a new array of
 * {"name","count"}, one member per distinct non-empty category with the
 * number of published articles in it (drafts counted too when drafts is
 * true; a category that only drafts use is then listed). Ordered by name
 * ignoring ASCII case, then by bytes, so "world" and "World" (two
 * categories: filters match exactly) stand side by side in a fixed order.
 * One statement, so one consistent snapshot; its cost grows with the number
 * of articles (a scan of an index, about 10 ms for 100,000).
 */
enum nd_err nd_store_category_list(struct nd_store *store, bool drafts, json_t **out);

/*
 * The tags in use, as nd_store_category_list gives the categories: *out gets
 * a new array of {"name","count"}, one member per distinct tag with the
 * number of published articles that carry it (drafts too when drafts is
 * true), in the same order (ASCII case ignored, then bytes). Reads the index
 * of tag rows, not the articles (store_taxonomy.c).
 */
enum nd_err nd_store_tag_list(struct nd_store *store, bool drafts, json_t **out);

/*
 * The authors in use, the same way: one member per distinct non-empty
 * author with the number of published articles (drafts too when drafts is
 * true), in the same order. Reads the covering index on author.
 */
enum nd_err nd_store_author_list(struct nd_store *store, bool drafts, json_t **out);

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

/* A comment as an importer stores it (a WordPress export). Strings borrowed. */
struct nd_comment_import {
    struct nd_comment_fields f;
    bool pending;           /* status "pending" rather than "visible" */
    int64_t created_at;     /* when it was written where it comes from */
    const char *import_key; /* never NULL; unique among comments */
};

/*
 * Adds the comment c with its own time, status and import key; *id gets
 * its id. ND_ERR_NOT_FOUND: no such article. ND_ERR_INVALID: the parent is
 * not a comment of the same article (or c lacks a string).
 * ND_ERR_CONFLICT: another comment has the import key.
 */
enum nd_err nd_store_comment_import(struct nd_store *store, const struct nd_comment_import *c,
                                    int64_t *id);

/* Finds the comment an importer stored with this key. ND_ERR_NOT_FOUND. */
enum nd_err nd_store_comment_find_import(struct nd_store *store, const char *import_key,
                                         int64_t *id);

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

/*
 * The flat list of nd_store_comment_list_filtered written into out as the
 * JSON text of its items, comma-separated (what nd_json_render writes for
 * each), without making them: the cold path of a comment page. On an error
 * out may hold part of the text.
 */
enum nd_err nd_store_comment_list_text(struct nd_store *store, int64_t article_id,
                                       enum nd_comment_filter which, unsigned limit,
                                       const char *cursor, struct nd_buf *out, char **next_cursor);

/* ---- the change log (store_changes.c) ---------------------------------- */

/*
 * Every write to articles and comments adds a change (migration 0006, by
 * triggers, in the write's own transaction). A change as JSON (a new object
 * for each call of the callback below):
 *   {"id", "kind", "at", "article_id", "status",
 *    articles: "slug", "title", "published_at"; comments: "comment_id"}
 * kind is article.published | article.drafted | article.updated |
 * article.unpublished | article.deleted | comment.added | comment.removed |
 * comment.moderated; status is the article's or comment's after the change
 * (before it, for a removal); at is when the change was made.
 */

/* Receives one change (borrowed, valid during the call); public tells
 * whether readers without a key may see it. Not ND_OK stops the read. */
typedef enum nd_err (*nd_change_fn)(void *ctx, int64_t id, bool public, const json_t *change);

/*
 * What the log keeps: *pruned_through is the newest id pruning has removed
 * (0 when none), so every change after it is still there; *last is the
 * newest id ever given (at least *pruned_through; 0 for an empty log).
 */
enum nd_err nd_store_changes_bounds(struct nd_store *store, int64_t *pruned_through, int64_t *last);

/* Where a read of the log ended. */
struct nd_change_page {
    int64_t next; /* read on after this id: the last change handed over when
                     more is waiting, else the newest id of the log */
    bool more;    /* changes that this reader may see follow next right now */
};

/*
 * Hands the changes after since to fn, oldest first: at most limit (1..1000)
 * of them, public ones only unless all is true. since < 0 starts at the
 * oldest change kept. One read transaction, so the page is one snapshot.
 * ND_ERR_NOT_FOUND: changes after since were pruned (since is older than
 * *pruned_through of nd_store_changes_bounds), or since is newer than the
 * newest id: the reader must load everything again. fn's error stops the
 * read and is returned.
 */
enum nd_err nd_store_changes_read(struct nd_store *store, int64_t since, bool all, unsigned limit,
                                  nd_change_fn fn, void *ctx, struct nd_change_page *page);

/*
 * Removes the changes made before the time before (seconds since the
 * epoch), from the oldest on, in transactions of a few thousand rows so
 * that writers never wait long, and moves pruned_through up. *removed (may
 * be NULL) counts the rows removed.
 */
enum nd_err nd_store_changes_prune(struct nd_store *store, int64_t before, unsigned long *removed);

/* ---- search ------------------------------------------------------------ */

struct nd_search_query; /* newsd/search.h */

struct nd_search_params {
    const struct nd_search_query *query; /* what to find (nd_search_parse); borrowed */
    bool comments;                       /* search comments instead of articles */
    bool newest;                         /* newest first instead of best first */
    struct nd_article_filter filter;     /* articles: every filter; comments: only the
                                            status of the article they belong to */
    unsigned limit;                      /* 1..100 */
    const char *cursor;                  /* NULL for the first page */
    unsigned time_limit_ms;              /* 0 = none */
};

/*
 * One page of search results, best first (BM25, title weighted above
 * summary above body), ties by recency; with p->newest, newest first
 * (articles by published_at, comments by created_at, ties by id), the
 * candidates being the same. Items: articles {id, slug, title,
 * published_at, snippet, score}; comments {id, article_id, created_at,
 * snippet, score}. snippet is raw text with ND_SNIPPET_OPEN/CLOSE (search.h)
 * around matches; score is positive, higher is better. ND_ERR_INVALID: bad
 * cursor (one of the other order or type included); ND_ERR_LIMIT: the search ran past
 * time_limit_ms.
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

/* ---- backup, export and restore (store_backup.c) ----------------------- */

/* How nd_store_backup copies. */
struct nd_backup_options {
    unsigned pages_per_step;  /* pages copied per step; 0 = ND_BACKUP_STEP_PAGES */
    unsigned busy_timeout_ms; /* how long the source may stay busy before giving up */
    /* called after every step with the pages copied so far and in all; may be NULL */
    void (*progress)(void *ctx, unsigned done, unsigned total);
    void *ctx;
};

#define ND_BACKUP_STEP_PAGES 256

/*
 * On PostgreSQL this is ND_ERR_UNSUPPORTED with why naming what to use
 * instead (pg_dump, pg_basebackup, newsd export): a copy of a server's
 * database is the server's own tools' work.
 *
 * Copies the SQLite database at db_path (which must exist: it is not created) into
 * the file dest_path with SQLite's online backup API, then runs PRAGMA
 * integrity_check on the copy. dest_path is a new or empty file (the caller
 * picks a temporary name and renames it once this succeeds); whatever it
 * held is replaced. Other connections and processes go on reading and
 * writing meanwhile: on a WAL database the copy is read in one read
 * transaction, so it is the database as it was when the copy began, and
 * writers are never blocked; with a rollback journal each step holds the
 * read lock only while it runs, and a write by someone else restarts the
 * copy (after 100 restarts it gives up with ND_ERR_BUSY).
 *
 * *pages gets the number of pages copied. On failure why (whylen bytes)
 * says what went wrong in a sentence, nothing is logged, and dest_path may
 * hold a partial copy: ND_ERR_NOT_FOUND no database at db_path,
 * ND_ERR_INVALID db_path is not a newsd database, ND_ERR_IO dest_path
 * cannot be written, ND_ERR_BUSY the source stayed locked past
 * busy_timeout_ms, ND_ERR_DB the copy failed (or failed its check).
 */
enum nd_err nd_store_backup(const char *db_path, const char *dest_path,
                            const struct nd_backup_options *opts, unsigned *pages, char *why,
                            size_t whylen);

/*
 * The export format (JSON lines, read back by nd_import_jsonl): a header
 * record {"type":"newsd-export","version":1}, every article in id order,
 * then every comment in id order. Records hold every stored field exactly:
 *   {"type":"article","id","slug","title","summary","body","author",
 *    "category","tags","source_url","status","published_at","created_at",
 *    "updated_at","import_key"}  (source_url and import_key may be null;
 *    comment_count is left out: the comments make it)
 *   {"type":"comment","id","article_id","parent_id","author","body",
 *    "status","created_at","import_key"}  (parent_id and import_key may
 *    be null; import_key is set on comments an importer stored)
 * API keys are never exported.
 */
#define ND_EXPORT_TYPE "newsd-export"
#define ND_EXPORT_VERSION 1

/*
 * Receives one record of an export (borrowed, valid during the call). A
 * result other than ND_OK stops the export, which then returns it.
 */
typedef enum nd_err (*nd_store_export_fn)(void *ctx, const json_t *record);

struct nd_export_stats {
    unsigned long articles;
    unsigned long comments;
};

/*
 * Hands every record of the export format to emit, one at a time (the
 * database is streamed, never held in memory), all read in one read
 * transaction, so the records are one consistent snapshot while others
 * write. *stats (may be NULL) counts what was emitted, also on failure.
 * Returns ND_OK, emit's error, or a store error (logged).
 */
enum nd_err nd_store_export(struct nd_store *store, nd_store_export_fn emit, void *ctx,
                            struct nd_export_stats *stats);

/* An article record of an export: every stored field. Strings borrowed. */
struct nd_article_record {
    int64_t id;
    struct nd_article_fields f; /* f.slug_derived is ignored: the slug is kept */
    int64_t created_at;
    int64_t updated_at;
};

/*
 * Stores rec exactly as given, id and times included (no trimming, no
 * defaults); the search index and tag rows follow as for any article.
 * ND_ERR_CONFLICT when its id, slug or import key is taken, with *taken
 * (may be NULL) naming that field ("id", "slug" or "import_key").
 */
enum nd_err nd_store_article_restore(struct nd_store *store, const struct nd_article_record *rec,
                                     const char **taken);

/* A comment record of an export. Strings borrowed. */
struct nd_comment_record {
    int64_t id;
    struct nd_comment_fields f;
    bool pending; /* status "pending" rather than "visible" */
    int64_t created_at;
    const char *import_key; /* NULL unless an importer stored it */
};

/*
 * Stores rec exactly as given. ND_ERR_CONFLICT: its id or import key is
 * taken, with *taken (may be NULL) naming that field ("id", "import_key").
 * ND_ERR_NOT_FOUND: no such article. ND_ERR_INVALID: the parent is not an
 * earlier comment (a smaller id) of the same article; the threaded lists
 * rely on parents being older than their replies.
 */
enum nd_err nd_store_comment_restore(struct nd_store *store, const struct nd_comment_record *rec,
                                     const char **taken);

#endif
