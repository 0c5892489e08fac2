/*
 * test_store_wal.c: what a SQLite store does with its write-ahead log while
 * others write: checkpoints run by the process's checkpoint thread
 * (background_checkpoints) keep the WAL bounded and bring every page into
 * the database file, while the writer goes on committing; and a reader that
 * looks for other processes' commits (nd_store_foreign_commits) while this
 * process's writer commits as fast as it can never takes those commits for
 * another's.
 *
 * It reaches the store's connection, so it includes store_internal.h. On
 * PostgreSQL it is one skip: the server checkpoints by itself, and foreign
 * commits are told by its notifications.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "db_fixture.h"
#include "newsd/store.h"
#include "store_internal.h"

#define T0 INT64_C(1752312600)

static const struct nd_store_options plain = {ND_SYNC_NORMAL, 2000, 0, 0, false};
static const struct nd_store_options background = {ND_SYNC_NORMAL, 2000, 0, 0, true};

static long file_size(const char *path, const char *suffix)
{
    char name[700];
    struct stat sb;
    snprintf(name, sizeof name, "%s%s", path, suffix);
    return stat(name, &sb) == 0 ? (long)sb.st_size : -1;
}

/* The size of the database file at path once it reaches at_least, or after 5 s. */
static long wait_for_file(const char *path, long at_least)
{
    long size = file_size(path, "");
    for (int i = 0; i < 100 && size < at_least; i++) {
        usleep(50 * 1000);
        size = file_size(path, "");
    }
    return size;
}

static unsigned thread_count(void)
{
    unsigned n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/*
 * Makes a table (unless there) and commits n rows of 100 KB into it through st, each a write
 * as the store makes them (under the process's writer mutex); returns the
 * largest size the WAL file of path had after a commit.
 */
static long write_blobs(struct nd_store *st, const char *path, int n)
{
    sqlite3 *db = nd_sqlite_of(st)->db;
    long wal_max = 0;
    CHECK_INT(sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS filler(x BLOB)", NULL, NULL, NULL),
              SQLITE_OK);
    for (int i = 0; i < n; i++) {
        CHECK_INT(nd_store_begin(nd_sqlite_of(st)), ND_OK);
        CHECK_INT(
            sqlite3_exec(db, "INSERT INTO filler VALUES (randomblob(100000))", NULL, NULL, NULL),
            SQLITE_OK);
        CHECK_INT(nd_store_commit(nd_sqlite_of(st)), ND_OK);
        long wal = file_size(path, "-wal");
        if (wal > wal_max)
            wal_max = wal;
    }
    return wal_max;
}

/*
 * 1,000 commits of 100 KB each (about 25,000 pages of WAL) from one store
 * whose checkpoints are the thread's, written in a tight loop: the WAL file
 * never passes its ceiling (ND_WAL_CEILING_PAGES and the one commit that
 * crosses it: its 25 overflow pages, its leaf, their parents and page 1,
 * given 50 frames), however the thread keeps up, and once the writes stop the
 * thread copies all but the last thousand pages or so into the database
 * file while the store is open; the close copies the rest. The thread lives
 * as long as the store.
 */
static void test_background_checkpoints(void)
{
    struct temp_db t;
    unsigned before = thread_count();
    struct nd_store *st = temp_store(&t, &background);
    if (!st)
        return;
    CHECK_INT(thread_count(), before + 1);
    long wal_max = write_blobs(st, t.path, 1000);
    long written = 1000L * 100000;
    long frame = 4096 + 24, ceiling = 32 + (ND_WAL_CEILING_PAGES + 50L) * frame;
    printf("# WAL at most %ld bytes for %ld written (ceiling %ld)\n", wal_max, written, ceiling);
    CHECK(wal_max > 0);
    CHECK(wal_max <= ceiling);
    long size = wait_for_file(t.path, written - 1100 * frame);
    printf("# database file %ld bytes while open\n", size);
    CHECK(size >= written - 1100 * frame);
    nd_store_close(st);
    CHECK_INT(thread_count(), before);
    CHECK(file_size(t.path, "") >= written);
    remove_db(&t);
}

/*
 * A reader of another connection keeps 60 commits (1,500 pages) from being
 * copied; once it ends, the thread copies them by itself, with no commit
 * after to ask for it.
 */
static void test_reader_held_pages(void)
{
    struct temp_db t;
    struct nd_store *st = temp_store(&t, &background);
    if (!st)
        return;
    write_blobs(st, t.path, 1);
    sqlite3 *reader = NULL;
    CHECK_INT(sqlite3_open_v2(t.path, &reader, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM filler", NULL, NULL, NULL),
              SQLITE_OK);
    long before = file_size(t.path, "");
    write_blobs(st, t.path, 60);
    usleep(300 * 1000);
    long held = file_size(t.path, "");
    printf("# database file %ld bytes before, %ld while the reader holds the WAL\n", before, held);
    CHECK(held < before + 1000000);
    CHECK_INT(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(reader);
    long size = wait_for_file(t.path, before + 6000000);
    printf("# %ld bytes once it ended\n", size);
    CHECK(size >= before + 6000000);
    nd_store_close(st);
    remove_db(&t);
}

/* A store without the option leaves SQLite its own checkpoints and starts no thread. */
static void test_plain_checkpoints(void)
{
    struct temp_db t;
    unsigned before = thread_count();
    struct nd_store *st = temp_store(&t, &plain);
    if (!st)
        return;
    CHECK_INT(thread_count(), before);
    write_blobs(st, t.path, 100);
    /* SQLite checkpointed in the commits themselves, each 1,000 pages */
    CHECK(file_size(t.path, "") >= 4000000);
    nd_store_close(st);
    remove_db(&t);
}

struct writer {
    struct nd_store *st;
    int64_t article;
    int writes;
    int made; /* commits that went through */
    _Atomic bool done;
};

static void *write_comments(void *arg)
{
    struct writer *w = arg;
    struct nd_sqlite *st = nd_sqlite_of(w->st);
    char sql[160];
    snprintf(sql, sizeof sql,
             "INSERT INTO comments (article_id, author, body, created_at) "
             "VALUES (%lld, 'w', 'a comment', 1752312700)",
             (long long)w->article);
    /* small writes as the store makes them (writer mutex, change-log head): one commit
       every few tens of microseconds */
    for (int i = 0; i < w->writes; i++) {
        if (nd_store_begin(st) != ND_OK)
            break;
        int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
        if (nd_store_commit(st) != ND_OK || rc != SQLITE_OK)
            break;
        w->made++;
    }
    atomic_store(&w->done, true);
    return NULL;
}

/*
 * A writer and a reader store on one new database in t, with one article
 * written by the writer; its id, or 0 after a failed check (the stores that
 * opened are in *w and *r all the same, for the caller to close).
 */
static int64_t writer_and_reader(struct temp_db *t, struct nd_store **w, struct nd_store **r)
{
    *w = temp_store(t, &plain);
    *r = *w ? store_at(t->path, &plain) : NULL;
    if (!*w || !*r)
        return 0;
    struct nd_article_fields f = {.slug = "talked-about",
                                  .title = "Talked about",
                                  .summary = "",
                                  .body = "Body.",
                                  .author = "",
                                  .category = "",
                                  .published_at = T0};
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(*w, &f, &art), ND_OK);
    int64_t id = art ? json_integer_value(json_object_get(art, "id")) : 0;
    json_decref(art);
    return id;
}

/*
 * One store writes 3,000 comments, one transaction each, while another
 * store of the same process (a reader, as an I/O thread's is) asks for
 * foreign commits without pause: the count never moves. A reader that reads
 * the change log's head a commit or two after the one it compared with took
 * those for another process's and made every cache forget all it held.
 * Then a commit by another connection (as by another process) moves it.
 */
static void test_own_commits_are_not_foreign(void)
{
    struct temp_db t;
    struct nd_store *w = NULL, *r = NULL;
    struct writer wr = {.article = writer_and_reader(&t, &w, &r), .writes = 3000};
    if (wr.article == 0)
        goto out;
    wr.st = w;
    uint64_t first = 0, now = 0;
    CHECK_INT(nd_store_foreign_commits(r, &first), ND_OK);
    pthread_t th;
    pthread_create(&th, NULL, write_comments, &wr);
    unsigned looks = 0, moved = 0;
    while (!atomic_load(&wr.done)) {
        CHECK_INT(nd_store_foreign_commits(r, &now), ND_OK);
        moved += now != first;
        first = now;
        looks++;
    }
    pthread_join(th, NULL);
    printf("# %u looks, %u of them saw the count move\n", looks, moved);
    CHECK_INT(wr.made, wr.writes);
    CHECK(looks > 100);
    CHECK_INT(moved, 0);
    CHECK(db_exec(t.path, "INSERT INTO comments (article_id, author, body, created_at) "
                          "VALUES (1, 'other', 'from elsewhere', 1752312700)"));
    CHECK_INT(nd_store_foreign_commits(r, &now), ND_OK);
    CHECK(now != first);
out:
    nd_store_close(r);
    nd_store_close(w);
    remove_db(&t);
}

/* Adds a comment to article through st's own interface. */
static void comment_on(struct nd_store *st, int64_t article)
{
    struct nd_comment_fields c = {.article_id = article, .author = "w", .body = "a comment"};
    json_t *out = NULL;
    CHECK_INT(nd_store_comment_create(st, &c, &out), ND_OK);
    json_decref(out);
}

/*
 * The case behind the race above, step by step: a reader whose snapshot
 * shows this process's commit H2 looks after the writer has gone on to H3.
 * H2 is still this process's own: the count does not move.
 */
static void test_lagging_reader(void)
{
    struct temp_db t;
    struct nd_store *w = NULL, *r = NULL;
    int64_t id = writer_and_reader(&t, &w, &r);
    if (id == 0)
        goto out;
    uint64_t first = 0, now = 0;
    CHECK_INT(nd_store_foreign_commits(r, &first), ND_OK);
    comment_on(w, id); /* H2 */
    sqlite3 *rdb = nd_sqlite_of(r)->db;
    CHECK_INT(sqlite3_exec(rdb, "BEGIN; SELECT count(*) FROM comments", NULL, NULL, NULL),
              SQLITE_OK);
    comment_on(w, id); /* H3, which the reader's snapshot does not show */
    CHECK_INT(nd_store_foreign_commits(r, &now), ND_OK);
    CHECK(now == first);
    CHECK_INT(sqlite3_exec(rdb, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    CHECK_INT(nd_store_foreign_commits(r, &now), ND_OK);
    CHECK(now == first);
out:
    nd_store_close(r);
    nd_store_close(w);
    remove_db(&t);
}

int main(void)
{
    if (on_postgres())
        return nd_check_skip_all("the write-ahead log and its checkpoints are SQLite's");
    return CHECK_RUN(CHECK_CASE(test_background_checkpoints), CHECK_CASE(test_reader_held_pages),
                     CHECK_CASE(test_plain_checkpoints),
                     CHECK_CASE(test_own_commits_are_not_foreign), CHECK_CASE(test_lagging_reader));
}
