/*
 * store_backup.c: copies of the whole database. The online backup into a
 * file (SQLite's backup API, for `newsd backup`), the export of every
 * article and comment as records (for `newsd export`) and the restore of
 * such records (for `newsd import --jsonl` of an export).
 *
 * The backup reads the source through a connection of its own. On a WAL
 * database it keeps one read transaction open from the first page to the
 * last: the copy is then the database at one moment, SQLite never has to
 * restart it however much others write, and writers are not held up (in WAL
 * a reader blocks nobody; only checkpoints wait for it to finish). It copies
 * in steps of a few hundred pages and sleeps briefly whenever the source is
 * busy, so a serving newsd keeps its share of the disk and the locks.
 *
 * Export and restore are the two halves of one format (store.h): what
 * export writes from a row, restore writes back to a row, ids and times
 * included, so an export imported into an empty database exports again to
 * the same bytes.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "newsd/json.h"
#include "newsd/log.h"
#include "newsd/util.h"
#include "store_internal.h"

/* How long the backup sleeps when the source is busy, and how often a
 * rollback-journal copy may restart before it gives up. */
#define BUSY_SLEEP_MS 10
#define MAX_RESTARTS 100

/* ---- backup ------------------------------------------------------------ */

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * Runs sql (fixed text without parameters) on db, reading and discarding
 * any rows; *text (may be NULL) gets a malloc'd copy of the first row's
 * first column. Returns SQLITE_OK or the failing result.
 */
static int run_sql(sqlite3 *db, const char *sql, char **text)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    bool first = true;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW && first && text) {
            const char *col = (const char *)sqlite3_column_text(stmt, 0);
            *text = strdup(col ? col : "");
            if (!*text)
                rc = SQLITE_NOMEM;
        }
        first = false;
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The source of a backup: its connection and whether it holds a snapshot. */
struct source {
    sqlite3 *db;
    bool snapshot; /* a read transaction is open for the whole copy (WAL) */
};

/* Tells why the first read of the source failed, as an error of the backup. */
static enum nd_err source_error(const char *path, sqlite3 *db, int rc, char *why, size_t whylen)
{
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
        nd_why(why, whylen, "%s is not a SQLite database", path);
        return ND_ERR_INVALID;
    case SQLITE_ERROR:
        nd_why(why, whylen, "%s is not a newsd database: %s", path, sqlite3_errmsg(db));
        return ND_ERR_INVALID;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        nd_why(why, whylen, "%s stayed locked: %s", path, sqlite3_errmsg(db));
        return ND_ERR_BUSY;
    default:
        nd_why(why, whylen, "cannot read %s: %s", path, sqlite3_errmsg(db));
        return ND_ERR_DB;
    }
}

/*
 * Opens the existing database at path (never creating it) and checks that
 * newsd made it. On a WAL database the read transaction of that check stays
 * open (src->snapshot). On failure src->db may be set; the caller closes it.
 */
static enum nd_err open_source(const char *path, unsigned busy_ms, struct source *src, char *why,
                               size_t whylen)
{
    struct stat st;
    char *mode = NULL;
    if (stat(path, &st) != 0) {
        nd_why(why, whylen, errno == ENOENT ? "there is no database at %s" : "cannot read %s: %s",
               path, strerror(errno));
        return errno == ENOENT ? ND_ERR_NOT_FOUND : ND_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        nd_why(why, whylen, "%s is not a database file", path);
        return ND_ERR_INVALID;
    }
    int rc = sqlite3_open_v2(path, &src->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        nd_why(why, whylen, "cannot open %s: %s", path,
               src->db ? sqlite3_errmsg(src->db) : sqlite3_errstr(rc));
        return ND_ERR_IO;
    }
    sqlite3_extended_result_codes(src->db, 1);
    sqlite3_busy_timeout(src->db, busy_ms > INT_MAX ? INT_MAX : (int)busy_ms);
    rc = run_sql(src->db, "BEGIN", NULL);
    if (rc == SQLITE_OK)
        rc = run_sql(src->db, "SELECT max(version) FROM schema_migrations", NULL);
    if (rc == SQLITE_OK)
        rc = run_sql(src->db, "PRAGMA journal_mode", &mode);
    if (rc != SQLITE_OK) {
        free(mode);
        return source_error(path, src->db, rc, why, whylen);
    }
    src->snapshot = strcmp(mode, "wal") == 0;
    free(mode);
    /* Without WAL a held read lock would stop every writer: let it go. */
    if (!src->snapshot && run_sql(src->db, "COMMIT", NULL) != SQLITE_OK) {
        nd_why(why, whylen, "cannot read %s: %s", path, sqlite3_errmsg(src->db));
        return ND_ERR_DB;
    }
    /* From here on a busy source answers at once and copy_pages sleeps. */
    sqlite3_busy_timeout(src->db, 0);
    return ND_OK;
}

/* The error of a step or finish that failed with rc. */
static enum nd_err copy_error(int rc, unsigned busy_ms, char *why, size_t whylen)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        nd_why(why, whylen, "the database stayed locked for %u ms", busy_ms);
        return ND_ERR_BUSY;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
        nd_why(why, whylen, "cannot write the copy: %s", sqlite3_errstr(rc));
        return ND_ERR_IO;
    case SQLITE_NOMEM:
        nd_why(why, whylen, "out of memory");
        return ND_ERR_NOMEM;
    default:
        nd_why(why, whylen, "the copy failed: %s", sqlite3_errstr(rc));
        return ND_ERR_DB;
    }
}

/*
 * Copies every page of src into dest, step by step. A busy source is
 * waited for in short sleeps, up to opts->busy_timeout_ms at a stretch.
 * *pages gets the page count of the copy.
 */
static enum nd_err copy_pages(const struct source *src, sqlite3 *dest,
                              const struct nd_backup_options *opts, unsigned *pages, char *why,
                              size_t whylen)
{
    int step = opts->pages_per_step > 0 && opts->pages_per_step <= INT_MAX
                   ? (int)opts->pages_per_step
                   : ND_BACKUP_STEP_PAGES;
    unsigned waited = 0, restarts = 0;
    int last_done = 0, rc;
    sqlite3_backup *bk = sqlite3_backup_init(dest, "main", src->db, "main");
    if (!bk) {
        nd_why(why, whylen, "cannot start the copy: %s", sqlite3_errmsg(dest));
        return ND_ERR_DB;
    }
    for (;;) {
        rc = sqlite3_backup_step(bk, step);
        int code = rc & 0xff;
        if ((code == SQLITE_BUSY || code == SQLITE_LOCKED) && waited < opts->busy_timeout_ms) {
            sleep_ms(BUSY_SLEEP_MS);
            waited += BUSY_SLEEP_MS;
            continue;
        }
        if (rc != SQLITE_OK && rc != SQLITE_DONE)
            break;
        waited = 0;
        int total = sqlite3_backup_pagecount(bk);
        int done = total - sqlite3_backup_remaining(bk);
        /* A step always copies something: no more done than before means that a
         * write elsewhere restarted the copy from its first page. */
        if (rc == SQLITE_OK && done <= last_done && ++restarts > MAX_RESTARTS) {
            rc = SQLITE_BUSY;
            break;
        }
        last_done = done;
        if (opts->progress)
            opts->progress(opts->ctx, (unsigned)done, (unsigned)total);
        if (rc == SQLITE_DONE)
            break;
    }
    *pages = (unsigned)sqlite3_backup_pagecount(bk);
    int finish = sqlite3_backup_finish(bk);
    if (rc == SQLITE_DONE && finish == SQLITE_OK)
        return ND_OK;
    if (restarts > MAX_RESTARTS) {
        nd_why(why, whylen, "the database kept changing: the copy restarted %u times",
               restarts - 1);
        return ND_ERR_BUSY;
    }
    return copy_error(rc == SQLITE_DONE ? finish : rc, opts->busy_timeout_ms, why, whylen);
}

/* PRAGMA integrity_check on the copy: ND_OK when it answers "ok". */
static enum nd_err check_copy(sqlite3 *dest, char *why, size_t whylen)
{
    char *verdict = NULL;
    int rc = run_sql(dest, "PRAGMA integrity_check", &verdict);
    enum nd_err err = ND_OK;
    if (rc != SQLITE_OK) {
        nd_why(why, whylen, "cannot check the copy: %s", sqlite3_errmsg(dest));
        err = ND_ERR_DB;
    } else if (!verdict || strcmp(verdict, "ok") != 0) {
        nd_why(why, whylen, "the copy failed its integrity check: %s", verdict ? verdict : "?");
        err = ND_ERR_DB;
    }
    free(verdict);
    return err;
}

/*
 * Both connections are closed before returning; the source's read
 * transaction ends as soon as the pages are copied, before the (slower)
 * check of the copy, so checkpoints of the live database wait no longer
 * than they must.
 */
enum nd_err nd_sqlite_backup(const char *db_path, const char *dest_path,
                             const struct nd_backup_options *opts, unsigned *pages, char *why,
                             size_t whylen)
{
    struct source src = {NULL, false};
    sqlite3 *dest = NULL;
    unsigned copied = 0;
    enum nd_err err = ND_OK;
    if (!db_path || !dest_path || !opts || !pages) {
        nd_why(why, whylen, "nothing to copy");
        return ND_ERR_INVALID;
    }
    if (strcmp(db_path, ":memory:") == 0) {
        nd_why(why, whylen, "an in-memory database cannot be backed up");
        return ND_ERR_INVALID;
    }
    err = open_source(db_path, opts->busy_timeout_ms, &src, why, whylen);
    if (err == ND_OK) {
        int rc =
            sqlite3_open_v2(dest_path, &dest,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
            nd_why(why, whylen, "cannot write %s: %s", dest_path,
                   dest ? sqlite3_errmsg(dest) : sqlite3_errstr(rc));
            err = ND_ERR_IO;
        } else {
            sqlite3_extended_result_codes(dest, 1);
        }
    }
    if (err == ND_OK)
        err = copy_pages(&src, dest, opts, &copied, why, whylen);
    sqlite3_close_v2(src.db); /* ends the snapshot */
    if (err == ND_OK)
        err = check_copy(dest, why, whylen);
    if (sqlite3_close_v2(dest) != SQLITE_OK && err == ND_OK) {
        nd_why(why, whylen, "cannot close the copy");
        err = ND_ERR_IO;
    }
    if (err == ND_OK)
        *pages = copied;
    return err;
}

/* ---- export ------------------------------------------------------------ */

static const char export_articles_sql[] =
    "SELECT " ND_EXPORT_ARTICLE_COLUMNS " FROM articles ORDER BY id";

static const char export_comments_sql[] =
    "SELECT " ND_COMMENT_EXPORT_COLUMNS " FROM comments ORDER BY id";

/* A table of the export: its query and its records (their type and members). */
struct table {
    const char *sql;
    const struct nd_shape *shape;
};

/* An export under way: where records go and how many went. */
struct export_run {
    const struct table *table;
    nd_store_export_fn emit;
    void *ctx;
    unsigned long *count;
};

/* An nd_store_row_fn: emits the record of the current row. */
static enum nd_err emit_row(sqlite3_stmt *stmt, void *ctx)
{
    const struct export_run *run = ctx;
    json_t *rec = NULL;
    struct nd_row row = nd_sqlite_row(stmt);
    enum nd_err err = nd_row_map_shape(&row, run->table->shape, &rec);
    if (err == ND_OK)
        err = run->emit(run->ctx, rec);
    if (err == ND_OK)
        (*run->count)++;
    json_decref(rec);
    return err;
}

/* Emits a record for every row of t, counting them in *count. */
static enum nd_err export_table(struct nd_sqlite *st, const struct table *t,
                                nd_store_export_fn emit, void *ctx, unsigned long *count)
{
    struct export_run run = {t, emit, ctx, count};
    sqlite3_stmt *stmt = NULL;
    enum nd_err err = ND_OK;
    int rc = sqlite3_prepare_v2(st->db, t->sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        err = nd_store_sqlite_err(st->db, rc, "export");
    else
        err = nd_store_each(st, stmt, NULL, emit_row, &run, "export");
    sqlite3_finalize(stmt);
    return err;
}

/*
 * The statements are prepared once per export, not cached: an export runs
 * once in a process. The read transaction makes every record part of one
 * snapshot; it is ended on every path.
 */
enum nd_err nd_sqlite_export(struct nd_store *store, nd_store_export_fn emit, void *ctx,
                             struct nd_export_stats *stats)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    static const struct table articles = {export_articles_sql, &nd_export_article_shape};
    static const struct table comments = {export_comments_sql, &nd_export_comment_shape};
    struct nd_export_stats counted = {0, 0};
    enum nd_err err = ND_ERR_INVALID;
    if (!st || !emit)
        goto out;
    err = nd_store_begin_read(st);
    if (err != ND_OK)
        goto out;
    err = nd_export_header(emit, ctx);
    if (err == ND_OK)
        err = export_table(st, &articles, emit, ctx, &counted.articles);
    if (err == ND_OK)
        err = export_table(st, &comments, emit, ctx, &counted.comments);
    if (err == ND_OK)
        err = nd_store_commit(st);
    else
        nd_store_rollback(st);
out:
    if (stats)
        *stats = counted;
    return err;
}

/* ---- restore ----------------------------------------------------------- */

/* Which of an article record's unique values are taken, in one look-up. */
static const char article_taken_sql[] =
    "SELECT EXISTS (SELECT 1 FROM articles WHERE id = :id), "
    "EXISTS (SELECT 1 FROM articles WHERE slug = :slug), "
    "EXISTS (SELECT 1 FROM articles WHERE import_key = :import_key)";

static const char restore_article_sql[] =
    "INSERT INTO articles (id, slug, title, summary, body, author, category, tags, source_url, "
    "status, published_at, created_at, updated_at, import_key) VALUES (:id, :slug, :title, "
    ":summary, :body, :author, :category, :tags, :source_url, :status, :published_at, "
    ":created_at, :updated_at, :import_key)";

static const char restore_tag_sql[] =
    "INSERT OR IGNORE INTO article_tags (tag, article_id, tagged_at, tagged_status, "
    "tagged_category) VALUES (:tag, :id, :tagged_at, :tagged_status, :tagged_category)";

/* An nd_store_row_fn: the first of the three taken flags of the row that is set, named into *ctx.
 */
static enum nd_err read_taken(sqlite3_stmt *stmt, void *ctx)
{
    static const char *const fields[] = {"id", "slug", "import_key"};
    const char **taken = ctx;
    for (int i = 2; i >= 0; i--)
        if (sqlite3_column_int(stmt, i) != 0)
            *taken = fields[i];
    return ND_OK;
}

/* Sets *taken to the first unique field of rec that another article has, or NULL. */
static enum nd_err article_taken(struct nd_sqlite *st, const struct nd_article_record *rec,
                                 const char **taken)
{
    *taken = NULL;
    return nd_store_row(st, ND_STMT_RESTORE_ARTICLE_TAKEN, article_taken_sql,
                        ND_PARAMS(ND_INT(":id", rec->id), ND_TEXT(":slug", rec->f.slug),
                                  ND_TEXT(":import_key", rec->f.import_key)),
                        read_taken, taken, "article restore");
}

/* Inserts the row of rec and its tag rows (inside the caller's transaction). */
static enum nd_err insert_article_record(struct nd_sqlite *st, const struct nd_article_record *rec,
                                         const char *tags)
{
    const struct nd_article_fields *f = &rec->f;
    const char *status = f->draft ? "draft" : "published";
    enum nd_err err = nd_store_exec(
        st, ND_STMT_RESTORE_ARTICLE, restore_article_sql,
        ND_PARAMS(ND_INT(":id", rec->id), ND_TEXT(":slug", f->slug), ND_TEXT(":title", f->title),
                  ND_TEXT(":summary", f->summary), ND_TEXT(":body", f->body),
                  ND_TEXT(":author", f->author), ND_TEXT(":category", f->category),
                  ND_TEXT(":tags", tags), ND_TEXT(":source_url", f->source_url),
                  ND_TEXT(":import_key", f->import_key), ND_TEXT(":status", status),
                  ND_INT(":published_at", f->published_at), ND_INT(":created_at", rec->created_at),
                  ND_INT(":updated_at", rec->updated_at)),
        "article restore");
    for (size_t i = 0; i < f->ntags && err == ND_OK; i++)
        err = nd_store_exec(st, ND_STMT_RESTORE_TAG, restore_tag_sql,
                            ND_PARAMS(ND_TEXT(":tag", f->tags[i]), ND_INT(":id", rec->id),
                                      ND_INT(":tagged_at", f->published_at),
                                      ND_TEXT(":tagged_status", status),
                                      ND_TEXT(":tagged_category", f->category)),
                            "tag restore");
    return err;
}

enum nd_err nd_sqlite_article_restore(struct nd_store *store, const struct nd_article_record *rec,
                                      const char **taken)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    const struct nd_article_fields *f = rec ? &rec->f : NULL;
    const char *clash = NULL;
    char *tags = NULL;
    if (!st || !f || rec->id < 1 || !f->slug || !f->title || !f->summary || !f->body ||
        !f->author || !f->category || (f->ntags > 0 && !f->tags))
        return ND_ERR_INVALID;
    enum nd_err err = nd_store_article_begin(st, f, &tags);
    if (err != ND_OK)
        return err;
    err = article_taken(st, rec, &clash);
    if (err == ND_OK && clash)
        err = ND_ERR_CONFLICT;
    if (err == ND_OK)
        err = insert_article_record(st, rec, tags);
    err = nd_store_finish(st, err);
    if (err == ND_ERR_CONFLICT && taken)
        *taken = clash ? clash : "slug";
    free(tags);
    return err;
}

/*
 * Which of a comment record's unique values are taken, and the article of
 * its parent (0: none). A NULL :id or :import_key matches no row.
 */
static const char comment_check_sql[] =
    "SELECT EXISTS (SELECT 1 FROM comments WHERE id = :id), "
    "EXISTS (SELECT 1 FROM comments WHERE import_key = :import_key), "
    "(SELECT article_id FROM comments WHERE id = :parent)";

/* A NULL :id makes SQLite give the row the next id. */
static const char restore_comment_sql[] =
    "INSERT INTO comments (id, article_id, parent_id, author, body, status, created_at, "
    "import_key) VALUES (:id, :article_id, :parent_id, :author, :body, :status, :created_at, "
    ":import_key)";

/* What comment_check_sql says of a comment record. */
struct comment_check {
    bool id_taken;
    bool key_taken;
    int64_t parent_article; /* 0 when the parent does not exist */
};

/* An nd_store_row_fn: the row of comment_check_sql into the struct comment_check at ctx. */
static enum nd_err read_check(sqlite3_stmt *stmt, void *ctx)
{
    struct comment_check *check = ctx;
    check->id_taken = sqlite3_column_int(stmt, 0) != 0;
    check->key_taken = sqlite3_column_int(stmt, 1) != 0;
    check->parent_article = sqlite3_column_int64(stmt, 2);
    return ND_OK;
}

enum nd_err nd_store_comment_record_check(struct nd_sqlite *st, const struct nd_comment_record *rec,
                                          const char **taken)
{
    struct comment_check check = {false, false, 0};
    if (rec->id > 0 && rec->f.has_parent && rec->f.parent_id >= rec->id)
        return ND_ERR_INVALID;
    enum nd_err err = nd_store_row(
        st, ND_STMT_RESTORE_COMMENT_CHECK, comment_check_sql,
        ND_PARAMS(ND_INT_IF(rec->id > 0, ":id", rec->id), ND_TEXT(":import_key", rec->import_key),
                  ND_INT(":parent", rec->f.has_parent ? rec->f.parent_id : 0)),
        read_check, &check, "comment restore");
    if (err == ND_OK && (check.id_taken || check.key_taken)) {
        err = ND_ERR_CONFLICT;
        *taken = check.id_taken ? "id" : "import_key";
    } else if (err == ND_OK && rec->f.has_parent && check.parent_article != rec->f.article_id) {
        err = ND_ERR_INVALID;
    }
    return err;
}

enum nd_err nd_store_comment_record_insert(struct nd_sqlite *st,
                                           const struct nd_comment_record *rec, int64_t *id)
{
    enum nd_err err = nd_store_exec(
        st, ND_STMT_RESTORE_COMMENT, restore_comment_sql,
        ND_PARAMS(ND_INT_IF(rec->id > 0, ":id", rec->id), ND_INT(":article_id", rec->f.article_id),
                  ND_INT_IF(rec->f.has_parent, ":parent_id", rec->f.parent_id),
                  ND_TEXT(":author", rec->f.author), ND_TEXT(":body", rec->f.body),
                  ND_TEXT(":status", rec->pending ? "pending" : "visible"),
                  ND_INT(":created_at", rec->created_at), ND_TEXT(":import_key", rec->import_key)),
        "comment restore");
    if (err == ND_OK && id)
        *id = sqlite3_last_insert_rowid(st->db);
    return err;
}

enum nd_err nd_sqlite_comment_restore(struct nd_store *store, const struct nd_comment_record *rec,
                                      const char **taken)
{
    struct nd_sqlite *st = nd_sqlite_of(store);
    const char *clash = "id";
    if (!st || !rec || rec->id < 1 || !rec->f.author || !rec->f.body)
        return ND_ERR_INVALID;
    enum nd_err err = nd_store_begin(st);
    if (err != ND_OK)
        return err;
    err = nd_store_article_exists(st, rec->f.article_id);
    if (err == ND_OK)
        err = nd_store_comment_record_check(st, rec, &clash);
    if (err == ND_OK)
        err = nd_store_comment_record_insert(st, rec, NULL);
    err = nd_store_finish(st, err);
    if (err == ND_ERR_CONFLICT && taken)
        *taken = clash;
    return err;
}
