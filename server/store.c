/*
 * store.c: the store's connection: opening with the pragmas newsd relies
 * on, the statement cache, transactions and the mapping of SQLite results
 * to enum nd_err. The helpers the resource files are written with
 * (parameter lists, runners, keyset pages, rows as JSON) are in
 * store_query.c; the resource-specific SQL lives in store_articles.c,
 * store_comments.c, store_keys.c, store_search.c, store_taxonomy.c,
 * store_changes.c, store_import.c and store_backup.c.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "newsd/json.h"
#include "newsd/log.h"
#include "newsd/migrate.h"
#include "newsd/util.h"
#include "store_internal.h"
#include "store_search_fts.h"

static const struct nd_store_ops sqlite_ops;

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

sqlite3_stmt *nd_store_prepare(struct nd_sqlite *st, sqlite3_stmt **slot, const char *sql,
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

sqlite3_stmt *nd_store_stmt(struct nd_sqlite *st, enum nd_stmt id, const char *sql,
                            enum nd_err *err)
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

enum nd_err nd_store_step_done(struct nd_sqlite *st, sqlite3_stmt *stmt, const char *what)
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
    /* any read of a table: see nd_sqlite_settle */
    [ND_STMT_SETTLE] = "SELECT 1 FROM sqlite_master LIMIT 1",
};

static enum nd_err prepare_fixed(struct nd_sqlite *st)
{
    enum nd_err err = ND_OK;
    for (size_t i = 0; i < sizeof fixed_sql / sizeof fixed_sql[0] && err == ND_OK; i++)
        if (fixed_sql[i] != NULL)
            nd_store_stmt(st, (enum nd_stmt)i, fixed_sql[i], &err);
    return err;
}

/* Runs one of the fixed transaction-control statements. */
static enum nd_err run_fixed(struct nd_sqlite *st, enum nd_stmt id)
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
static enum nd_err writer_acquire(struct nd_sqlite *st)
{
    if (st->holds_writer)
        return ND_OK;
    struct timespec until = nd_time_after_ms(CLOCK_REALTIME, st->busy_timeout_ms);
    if (pthread_mutex_timedlock(&writer_lock, &until) != 0) {
        nd_log(ND_LOG_WARN, "store: another write of this process held the lock for %u ms",
               st->busy_timeout_ms);
        return ND_ERR_BUSY;
    }
    st->holds_writer = true;
    nd_sqlite_checkpoints_before_write(st);
    return ND_OK;
}

/*
 * Commits this process did not make, told apart from its own by the change
 * log (migration 0006), whose triggers give every write of articles and
 * comments, by any process or tool, a row with a growing id (and by the
 * count of applied migrations, which another process may add). The head (the
 * newest id, pruned or not) is read by each writer of this process under the
 * writer mutex and SQLite's write lock, where nobody else can commit:
 * before COMMIT, the head the commit will leave joins the ring of the
 * process's last OWN_HEADS heads; after BEGIN, a head the ring does not hold
 * means someone else wrote since this process last did (foreign_epoch is
 * raised, and the head joins the ring). A reader whose connection reports a
 * commit (data_version) reads the head its snapshot shows: one of the ring's
 * means that the newest commit it sees is this process's (and a foreign one
 * before it was counted by the writer after it), anything else raises
 * foreign_epoch and joins the ring, so the other readers do not raise it
 * again. Whatever cannot be told (a failed read or commit) raises it too: a
 * raise costs the cache all its entries, a missed one would serve a stale
 * answer.
 *
 * A ring and not only the last head: a reader's snapshot may be a commit or
 * two behind the last head by the time it reads the head (the committer commits
 * a group every fraction of a millisecond under load); comparing with the
 * last head alone took those for foreign commits and emptied the whole
 * cache a few times a second in the comment benchmark.
 */
#define OWN_HEADS 64

static _Atomic int64_t own_heads[OWN_HEADS]; /* 0 is no head: one migration at least counts */
static _Atomic unsigned own_next;
static _Atomic uint64_t foreign_epoch = 1;

/*
 * The change log's head (the newest id it has held) and the number of
 * applied migrations, which write no change row, as one number: head * 1024
 * + migrations mod 1024. -1 when it cannot be read.
 */
static int64_t change_head(struct nd_sqlite *st)
{
    int64_t head = -1;
    if (nd_store_row(st, ND_STMT_CHANGE_HEAD,
                     "SELECT max(through, coalesce((SELECT max(id) FROM changes), 0)) * 1024 + "
                     "(SELECT count(*) FROM schema_migrations) % 1024 FROM changes_pruned",
                     NULL, nd_store_read_int, &head, "change log head") != ND_OK)
        return -1;
    return head;
}

static void own_heads_add(int64_t head)
{
    atomic_store(&own_heads[atomic_fetch_add(&own_next, 1) % OWN_HEADS], head);
}

/* Forgets every head: after a failed commit its head may yet be another process's. */
static void own_heads_clear(void)
{
    for (unsigned i = 0; i < OWN_HEADS; i++)
        atomic_store(&own_heads[i], -1);
}

static bool own_heads_hold(int64_t head)
{
    for (unsigned i = 0; i < OWN_HEADS; i++)
        if (atomic_load(&own_heads[i]) == head)
            return true;
    return false;
}

/* After BEGIN IMMEDIATE: notes foreign commits made since this process last wrote. */
static void head_after_begin(struct nd_sqlite *st)
{
    st->change_head = change_head(st);
    if (st->change_head < 0 || !own_heads_hold(st->change_head)) {
        atomic_fetch_add(&foreign_epoch, 1);
        if (st->change_head >= 0)
            own_heads_add(st->change_head); /* accounted for */
    }
}

/* Before COMMIT: announces the head the commit leaves. */
static void head_before_commit(struct nd_sqlite *st)
{
    st->change_head = change_head(st);
    if (st->change_head >= 0)
        own_heads_add(st->change_head);
}

/* After COMMIT: on failure (or a head that could not be read) nothing is known any more. */
static void head_after_commit(struct nd_sqlite *st, bool committed)
{
    if (!committed || st->change_head < 0) {
        own_heads_clear();
        atomic_fetch_add(&foreign_epoch, 1);
    }
}

void nd_store_count_foreign(struct nd_sqlite *st)
{
    (void)st;
    atomic_fetch_add(&foreign_epoch, 1);
}

/*
 * A cheaper first look for nd_sqlite_foreign_commits. PRAGMA data_version
 * opens a read transaction (two fcntl locks and an fstat): a third of the
 * CPU of an answer from the response cache, which looks before every hit.
 * Every commit, by any process, rewrites the header of the WAL index (the
 * shared memory beside the database, whose layout SQLite documents as part
 * of its file format: a change counter that grows with each transaction,
 * the frame count, salts and a checksum), and a commit is acknowledged only
 * after that. So while the header's bytes are those seen at this
 * connection's last full look, nobody has committed since, and the answer
 * is the last one.
 *
 * The header is SQLite's own mapping of the WAL index, asked of the
 * connection's file through the VFS (xShmMap of region 0, without
 * extending it) once the connection has read the database, so it is open:
 * no file of newsd's own (closing one would drop the process's POSIX locks
 * on it, SQLite's among them), valid until the connection closes. A
 * connection without one (":memory:", another VFS) makes a full look each
 * time.
 */
#define WAL_INDEX_REGION 32768 /* SQLite's size of a WAL-index region */

static void wal_index_map(struct nd_sqlite *st)
{
    st->wal_index_tried = true;
    sqlite3_file *file = NULL;
    if (sqlite3_file_control(st->db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
        file == NULL || file->pMethods == NULL || file->pMethods->iVersion < 2 ||
        file->pMethods->xShmMap == NULL)
        return;
    void volatile *region = NULL;
    if (file->pMethods->xShmMap(file, 0, WAL_INDEX_REGION, 0, &region) == SQLITE_OK)
        st->wal_index = (const volatile uint32_t *)region;
}

/* The header's words now (another process may be writing them: a torn read only differs). */
static void wal_index_read(const struct nd_sqlite *st, uint32_t words[ND_WAL_INDEX_WORDS])
{
    for (size_t i = 0; i < ND_WAL_INDEX_WORDS; i++)
        words[i] = __atomic_load_n(&st->wal_index[i], __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
}

enum nd_err nd_sqlite_foreign_commits(struct nd_store *store, uint64_t *epoch)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    uint32_t header[ND_WAL_INDEX_WORDS];
    if (st->wal_index != NULL) {
        wal_index_read(st, header);
        if (st->wal_index_known && memcmp(header, st->wal_index_seen, sizeof header) == 0) {
            *epoch = atomic_load(&foreign_epoch);
            return ND_OK;
        }
    }
    int64_t version;
    enum nd_err err = nd_sqlite_data_version(st, &version);
    if (err != ND_OK)
        return err;
    if (version != st->data_version) {
        int64_t head = change_head(st);
        if (head < 0 || !own_heads_hold(head)) {
            nd_log(ND_LOG_DEBUG, "store: the change log reached %lld, not by this process",
                   (long long)head);
            atomic_fetch_add(&foreign_epoch, 1);
            /* every cache now forgets all it holds: the changes through head are accounted */
            if (head >= 0)
                own_heads_add(head);
        }
        st->data_version = version;
    }
    if (st->wal_index != NULL) {
        /* read before this look: a commit since then is seen by the next one */
        memcpy(st->wal_index_seen, header, sizeof header);
        st->wal_index_known = true;
    } else if (!st->wal_index_tried) {
        wal_index_map(st);
    }
    *epoch = atomic_load(&foreign_epoch);
    return ND_OK;
}

static void writer_release(struct nd_sqlite *st)
{
    if (st->holds_writer) {
        st->holds_writer = false;
        pthread_mutex_unlock(&writer_lock);
    }
}

/* Opens the savepoint that stands for a write's transaction inside a batch. */
static enum nd_err open_savepoint(struct nd_sqlite *st)
{
    enum nd_err err = run_fixed(st, ND_STMT_SAVEPOINT);
    st->savepoint_open = err == ND_OK;
    return err;
}

enum nd_err nd_store_begin(struct nd_sqlite *st)
{
    if (st->batch_depth > 0 && sqlite3_get_autocommit(st->db)) {
        /* SQLite rolled the batch back on its own (disk full, out of memory):
         * a savepoint now would start a transaction of its own and commit
         * this write, while the batch's end reports it lost */
        nd_log(ND_LOG_ERROR, "store: a write after its batch was rolled back is refused");
        return ND_ERR_DB;
    }
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
    else
        head_after_begin(st);
    return err;
}

enum nd_err nd_store_begin_read(struct nd_sqlite *st)
{
    if (st->batch_depth > 0)
        return open_savepoint(st);
    return run_fixed(st, ND_STMT_BEGIN_READ);
}

enum nd_err nd_store_commit(struct nd_sqlite *st)
{
    enum nd_err err = ND_OK;
    if (st->batch_depth > 0) {
        err = run_fixed(st, ND_STMT_RELEASE);
    } else {
        /* only a write transaction (BEGIN IMMEDIATE, the writer mutex held) moves the head:
         * a read snapshot's COMMIT must not pass another process's changes as this one's */
        bool writing = st->holds_writer;
        if (writing)
            head_before_commit(st);
        err = run_fixed(st, ND_STMT_COMMIT);
        if (writing)
            head_after_commit(st, err == ND_OK);
    }
    if (err != ND_OK)
        nd_store_rollback(st);
    else
        st->savepoint_open = false;
    if (st->batch_depth == 0)
        writer_release(st);
    return err;
}

enum nd_err nd_store_finish(struct nd_sqlite *st, enum nd_err err)
{
    if (err == ND_OK)
        return nd_store_commit(st);
    /* The first write of a batch whose error made SQLite roll the whole batch
     * back (disk full) names the batch's failure: its end reports that error
     * (a 503 for a full disk) rather than a bare ND_ERR_DB. */
    if (st->batch_depth > 0 && st->batch_lost == ND_OK && sqlite3_get_autocommit(st->db))
        st->batch_lost = err;
    nd_store_rollback(st);
    return err;
}

enum nd_err nd_store_finish_with(struct nd_sqlite *st, enum nd_err err, json_t *value, json_t **out)
{
    err = nd_store_finish(st, err);
    if (err != ND_OK) {
        json_decref(value);
        return err;
    }
    *out = value;
    return ND_OK;
}

void nd_store_rollback(struct nd_sqlite *st)
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
    enum nd_err err = run_fixed(st, ND_STMT_ROLLBACK_TO);
    if (err != ND_OK && st->batch_lost == ND_OK) {
        /* the write's changes could not be undone: committing the batch would
         * store half of it, so the whole batch is rolled back and fails */
        st->batch_doomed = true;
        st->batch_lost = err;
    }
    run_fixed(st, ND_STMT_RELEASE);
    st->savepoint_open = false;
}

/*
 * A batch indexes its new rows for search once, at its end (migration 0014
 * says why and how): defer_search after its BEGIN marks the largest ids,
 * index_deferred before its COMMIT indexes every row above them and removes
 * the marks. Both run outside any write's savepoint, in the batch's
 * transaction: a failure of either fails the whole batch.
 */
static enum nd_err defer_search(struct nd_sqlite *st)
{
    return nd_store_exec(st, ND_STMT_SEARCH_DEFER,
                         "INSERT INTO search_deferred (articles_above, comments_above) "
                         "SELECT (SELECT coalesce(max(id), 0) FROM articles), "
                         "(SELECT coalesce(max(id), 0) FROM comments)",
                         NULL, "marking the batch's new rows");
}

static enum nd_err index_deferred(struct nd_sqlite *st)
{
    enum nd_err err = nd_store_exec(st, ND_STMT_SEARCH_INDEX_ARTICLES,
                                    "INSERT INTO articles_fts (rowid, title, summary, body) "
                                    "SELECT id, title, summary, body FROM articles "
                                    "WHERE id > (SELECT articles_above FROM search_deferred)",
                                    NULL, "indexing the batch's articles");
    if (err == ND_OK)
        err = nd_store_exec(st, ND_STMT_SEARCH_INDEX_COMMENTS,
                            "INSERT INTO comments_fts (rowid, body) "
                            "SELECT id, body FROM comments "
                            "WHERE id > (SELECT comments_above FROM search_deferred)",
                            NULL, "indexing the batch's comments");
    if (err == ND_OK)
        err = nd_store_exec(st, ND_STMT_SEARCH_UNDEFER, "DELETE FROM search_deferred", NULL,
                            "ending the batch's marks");
    return err;
}

/*
 * Only the outermost begin touches the database. A batch cannot start while
 * a transaction of another kind is open on this connection (ND_ERR_INVALID).
 */
enum nd_err nd_sqlite_batch_begin(struct nd_store *store)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
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
        err = defer_search(st);
        if (err != ND_OK) {
            nd_store_rollback(st); /* releases the writer mutex too */
            return err;
        }
    }
    if (err == ND_OK) {
        head_after_begin(st);
        st->batch_depth = 1;
        st->batch_doomed = false;
        st->batch_lost = ND_OK;
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
enum nd_err nd_sqlite_batch_end(struct nd_store *store, bool commit)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    if (!st || st->batch_depth == 0)
        return ND_ERR_INVALID;
    if (!commit)
        st->batch_doomed = true;
    if (--st->batch_depth > 0)
        return ND_OK;
    bool doomed = st->batch_doomed;
    /* a batch doomed by a write that could not be undone fails; one asked to roll back does not */
    enum nd_err lost_err = st->batch_lost;
    enum nd_err lost = st->batch_lost != ND_OK ? st->batch_lost : ND_ERR_DB;
    st->batch_doomed = false;
    st->batch_lost = ND_OK;
    st->savepoint_open = false;
    if (sqlite3_get_autocommit(st->db)) {
        writer_release(st);
        return doomed ? lost_err : lost;
    }
    if (doomed) {
        nd_store_rollback(st);
        return lost_err;
    }
    enum nd_err err = index_deferred(st);
    if (err != ND_OK) {
        nd_store_rollback(st);
        return err;
    }
    return nd_store_commit(st);
}

/*
 * After an out-of-memory error in a write transaction SQLite may leave the
 * connection's pager in its error state, still holding its lock on the
 * write-ahead log although no transaction is open (sqlite3_get_autocommit
 * says so): no checkpoint can empty the WAL until the connection is used
 * again, which its next statement that reads a table does. A connection
 * used all the time never shows it; the committer of group commits may sit
 * idle after a failed group, so it settles its connection with one small
 * read (prepared at open). A transaction a failed ROLLBACK left open is
 * rolled back first.
 */
enum nd_err nd_sqlite_settle(struct nd_store *store)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    if (!st || st->batch_depth > 0)
        return ND_ERR_INVALID;
    if (!sqlite3_get_autocommit(st->db)) {
        nd_log(ND_LOG_WARN, "store: a transaction was left open; rolling it back");
        nd_store_rollback(st);
        if (!sqlite3_get_autocommit(st->db))
            return ND_ERR_DB; /* the ROLLBACK failed again (logged): try later */
    }
    return run_fixed(st, ND_STMT_SETTLE);
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
    if (err == ND_OK)
        err = nd_store_search_functions(db);
    /*
     * A page cache above SQLite's 2 MB keeps the pages a worker reads most
     * (recent articles, their comments, the list's index); the memory map
     * serves the rest without a pread system call and a copy per page
     * (measured in bench/RESULTS.md, "Cold reads"). Pages still in the WAL
     * are read with pread either way.
     */
    char sql[64];
    if (err == ND_OK && opts->cache_size > 0) {
        snprintf(sql, sizeof sql, "PRAGMA cache_size=-%zu", (opts->cache_size + 1023) / 1024);
        err = pragma(db, sql);
    }
    if (err == ND_OK && opts->mmap_size > 0 && strcmp(path, ":memory:") != 0) {
        snprintf(sql, sizeof sql, "PRAGMA mmap_size=%zu", opts->mmap_size);
        err = pragma(db, sql);
    }
    return err;
}

/*
 * Statement journals (a savepoint's originals of the pages it changes) keep
 * SQLite's default: in memory up to 64 KiB, then a temporary file. Raising
 * that threshold (SQLITE_CONFIG_STMTJRNL_SPILL) saved the temporary-file
 * writes of group commits, but with it at 256 KiB or more SQLite 3.40.1
 * failed statements whose journal grew past it with SQLITE_FULL ("database
 * or disk is full") on a nearly empty disk: with 4 MiB, migration 0011's
 * DROP TABLE of the benchmark's 100,000 articles failed so, and an UPDATE of
 * 20,000 rows of 1 KB in a transaction failed at 256 KiB, 1 MiB and 4 MiB
 * alike (and passed at 64 and 128 KiB). Journals only in memory
 * (temp_store=MEMORY on the connections that run batches) bought group
 * commits 24% while FTS5 wrote its index at every savepoint; once a batch
 * indexed its rows at its end (migration 0014) they bought nothing
 * measurable, and they held a whole statement's journal in memory: an
 * import of 20,000 articles peaked 63 MB higher (bench/RESULTS.md, Run 11).
 */

/*
 * SQLite keeps statistics of its allocations (sqlite3_memory_used and the
 * like) by default, under one mutex of the process taken around every
 * sqlite3_malloc and sqlite3_free; newsd reads none of them, and with several
 * threads searching at once the lock's waits showed in their profiles.
 * SQLite takes the setting only before it initializes itself, so it is made
 * before the process's first connection; it fails harmlessly (SQLITE_MISUSE)
 * when something initialized SQLite earlier.
 */
static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

enum nd_err nd_sqlite_open(const char *path, const struct nd_store_options *opts,
                           struct nd_store **out)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    enum nd_err err = ND_OK;
    struct nd_sqlite *st = NULL;
    if (!path || !*path || !opts)
        return ND_ERR_INVALID;
    pthread_once(&configured, configure_sqlite);
    st = calloc(1, sizeof *st);
    if (!st)
        return ND_ERR_NOMEM;
    st->base.ops = &sqlite_ops;
    st->change_head = -1;
    st->data_version = -1;
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
    err = nd_migrate(st->db, &st->base.migrations_applied);
    if (err == ND_OK)
        err = prepare_fixed(st);
    if (err == ND_OK && opts->background_checkpoints && strcmp(path, ":memory:") != 0)
        nd_sqlite_checkpoints_join(st, path);
out:
    if (err != ND_OK) {
        nd_sqlite_close(&st->base);
        return err;
    }
    *out = &st->base;
    return ND_OK;
}

void nd_sqlite_close(struct nd_store *store)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    if (!st)
        return;
    /* a write left open (a bug) must not keep every other writer waiting */
    if (!sqlite3_get_autocommit(st->db))
        nd_store_rollback(st);
    nd_sqlite_checkpoints_leave(st);
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

enum nd_err nd_sqlite_ping(struct nd_store *store)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
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
enum nd_err nd_sqlite_size(struct nd_store *store, int64_t *bytes)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
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

enum nd_err nd_sqlite_data_version(struct nd_sqlite *st, int64_t *version)
{
    return nd_store_row(st, ND_STMT_DATA_VERSION, "PRAGMA data_version", NULL, nd_store_read_int,
                        version, "data version");
}

static const struct nd_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = nd_sqlite_close,
    .ping = nd_sqlite_ping,
    .foreign_commits = nd_sqlite_foreign_commits,
    .batch_begin = nd_sqlite_batch_begin,
    .batch_end = nd_sqlite_batch_end,
    .settle = nd_sqlite_settle,
    .article_create = nd_sqlite_article_create,
    .article_get = nd_sqlite_article_get,
    .article_get_by_slug = nd_sqlite_article_get_by_slug,
    .article_update = nd_sqlite_article_update,
    .article_delete = nd_sqlite_article_delete,
    .article_find_import = nd_sqlite_article_find_import,
    .article_is_draft = nd_sqlite_article_is_draft,
    .article_list_sorted = nd_sqlite_article_list_sorted,
    .category_list = nd_sqlite_category_list,
    .tag_list = nd_sqlite_tag_list,
    .author_list = nd_sqlite_author_list,
    .comment_post = nd_sqlite_comment_post,
    .comment_get = nd_sqlite_comment_get,
    .comment_delete = nd_sqlite_comment_delete,
    .comment_set_status = nd_sqlite_comment_set_status,
    .comment_list_filtered = nd_sqlite_comment_list_filtered,
    .article_text = nd_sqlite_article_text,
    .comment_import = nd_sqlite_comment_import,
    .comment_find_import = nd_sqlite_comment_find_import,
    .changes_bounds = nd_sqlite_changes_bounds,
    .changes_read = nd_sqlite_changes_read,
    .changes_prune = nd_sqlite_changes_prune,
    .search = nd_sqlite_search,
    .key_insert = nd_sqlite_key_insert,
    .key_lookup = nd_sqlite_key_lookup,
    .key_list = nd_sqlite_key_list,
    .key_delete = nd_sqlite_key_delete,
    .export_records = nd_sqlite_export,
    .article_restore = nd_sqlite_article_restore,
    .comment_restore = nd_sqlite_comment_restore,
    .size = nd_sqlite_size,
};
