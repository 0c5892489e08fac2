/*
 * test_store.c: opening the store against real SQLite with the real embedded
 * migrations (":memory:", files in a temporary directory where re-opening,
 * concurrent openers or a second connection matter), API keys, and the
 * mapping of SQLite's errors. Articles are in test_store_articles.c,
 * comments in test_store_comments.c.
 *
 * White-box where the public interface cannot reach: a few cases include
 * the store's private header to hold a transaction open or make the
 * connection read-only, so the error mapping is exercised for real.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../server/store_internal.h"
#include "check.h"
#include "newsd/log.h"
#include "newsd/migrate.h"
#include "newsd/store.h"
#include "newsd/text.h"
#include "newsd/util.h"
#include "store_fixture.h"

/* ---- opening and migrations ------------------------------------------- */

static void test_open_memory(void)
{
    struct nd_store *st = open_memory();
    CHECK(st != NULL);
    CHECK(nd_migrations_count >= 1);
    CHECK_INT(nd_store_migrations_applied(st), nd_migrations_count);
    CHECK_INT(nd_store_ping(st), ND_OK);
    nd_store_close(st);
    nd_store_close(NULL);
}

static void test_open_bad_path(void)
{
    struct nd_store *st = (struct nd_store *)&st; /* must stay untouched */
    struct nd_store *const before = st;
    CHECK(nd_store_open("/nonexistent-dir/sub/newsd.db", &options, &st) != ND_OK);
    CHECK(st == before);
    CHECK_INT(nd_store_open(NULL, &options, &st), ND_ERR_INVALID);
    CHECK_INT(nd_store_open("", &options, &st), ND_ERR_INVALID);
    CHECK(st == before);
}

/* A fresh directory for file databases; path gets "DIR/newsd.db". */
static void test_migrations_rerun(void)
{
    struct temp_db file;
    temp_db(&file);
    struct nd_store *st = NULL;
    CHECK_INT(nd_store_open(file.path, &options, &st), ND_OK);
    CHECK_INT(nd_store_migrations_applied(st), nd_migrations_count);
    CHECK(create_at(st, T0, "", "", false) > 0);
    nd_store_close(st);

    st = NULL;
    CHECK_INT(nd_store_open(file.path, &options, &st), ND_OK);
    CHECK_INT(nd_store_migrations_applied(st), 0);
    json_t *art = NULL;
    CHECK_INT(nd_store_article_get(st, 1, &art), ND_OK); /* the data survived */
    json_decref(art);
    nd_store_close(st);

    /* The file is in WAL mode and records each migration once. */
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(file.path, &db), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    CHECK_INT(sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_migrations", -1, &stmt, NULL),
              SQLITE_OK);
    CHECK_INT(sqlite3_step(stmt), SQLITE_ROW);
    CHECK_INT(sqlite3_column_int(stmt, 0), nd_migrations_count);
    sqlite3_finalize(stmt);
    CHECK_INT(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_step(stmt), SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    unsigned applied = 99;
    CHECK_INT(nd_migrate(db, &applied), ND_OK);
    CHECK_INT(applied, 0);
    sqlite3_close(db);
    remove_db(&file);
}

struct opener {
    const char *path;
    enum nd_err err;
    unsigned applied;
};

static void *open_concurrently(void *arg)
{
    struct opener *o = arg;
    struct nd_store *st = NULL;
    o->err = nd_store_open(o->path, &options, &st);
    if (o->err == ND_OK) {
        o->applied = nd_store_migrations_applied(st);
        o->err = nd_store_ping(st);
    }
    nd_store_close(st);
    return NULL;
}

static void test_concurrent_openers(void)
{
    enum { THREADS = 8 };
    struct temp_db file;
    temp_db(&file);
    struct opener openers[THREADS];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        openers[i] = (struct opener){file.path, ND_ERR_DB, 0};
        CHECK_INT(pthread_create(&threads[i], NULL, open_concurrently, &openers[i]), 0);
    }
    unsigned total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        CHECK_INT(openers[i].err, ND_OK);
        total += openers[i].applied;
    }
    /* Each migration ran exactly once, whoever won the race. */
    CHECK_INT(total, nd_migrations_count);
    remove_db(&file);
}

/* ---- keys ------------------------------------------------------------- */

static void test_keys(void)
{
    struct nd_store *st = open_memory();
    unsigned char hash1[32], hash2[32], got[32];
    memset(hash1, 0x11, sizeof hash1);
    memset(hash2, 0x22, sizeof hash2);
    CHECK_INT(nd_store_key_insert(st, "ci", "AAAAAAAAAAAA", hash1, sizeof hash1), ND_OK);
    CHECK_INT(nd_store_key_insert(st, "admin", "BBBBBBBBBBBB", hash2, sizeof hash2), ND_OK);
    CHECK_INT(nd_store_key_insert(st, "ci", "CCCCCCCCCCCC", hash2, sizeof hash2), ND_ERR_CONFLICT);

    CHECK_INT(nd_store_key_lookup(st, "BBBBBBBBBBBB", got, sizeof got), ND_OK);
    CHECK(memcmp(got, hash2, sizeof got) == 0);
    CHECK_INT(nd_store_key_lookup(st, "AAAAAAAAAAAA", got, sizeof got), ND_OK);
    CHECK(memcmp(got, hash1, sizeof got) == 0);
    CHECK_INT(nd_store_key_lookup(st, "CCCCCCCCCCCC", got, sizeof got), ND_ERR_NOT_FOUND);
    CHECK_INT(nd_store_key_lookup(st, "AAAAAAAAAAAA", got, 16), ND_ERR_DB);

    json_t *list = NULL;
    CHECK_INT(nd_store_key_list(st, &list), ND_OK);
    CHECK_INT(json_array_size(list), 2);
    json_t *first = json_array_get(list, 0);
    CHECK_STR(str_of(first, "name"), "ci");
    CHECK_STR(str_of(first, "key_id"), "AAAAAAAAAAAA");
    CHECK(str_of(first, "created_at") != NULL);
    CHECK_INT(json_object_size(first), 3); /* never the hash */
    json_decref(list);

    CHECK_INT(nd_store_key_delete(st, "ci"), ND_OK);
    CHECK_INT(nd_store_key_delete(st, "ci"), ND_ERR_NOT_FOUND);
    CHECK_INT(nd_store_key_lookup(st, "AAAAAAAAAAAA", got, sizeof got), ND_ERR_NOT_FOUND);
    CHECK_INT(nd_store_key_list(st, &list), ND_OK);
    CHECK_INT(json_array_size(list), 1);
    json_decref(list);
    /* The name is free again. */
    CHECK_INT(nd_store_key_insert(st, "ci", "DDDDDDDDDDDD", hash1, sizeof hash1), ND_OK);
    nd_store_close(st);
}

/* ---- error mapping ---------------------------------------------------- */

static void test_readonly(void)
{
    struct nd_store *st = open_memory();
    int64_t a = create_at(st, T0, "", "", false);
    CHECK_INT(sqlite3_exec(nd_sqlite_of(st)->db, "PRAGMA query_only=ON", NULL, NULL, NULL),
              SQLITE_OK);
    struct nd_article_fields f = fields("blocked", T0);
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_ERR_READONLY);
    CHECK_INT(nd_store_article_delete(st, a), ND_ERR_READONLY);
    /* Reads still work, and the failed writes left no transaction open. */
    CHECK_INT(nd_store_article_get(st, a, &art), ND_OK);
    json_decref(art);
    CHECK(sqlite3_get_autocommit(nd_sqlite_of(st)->db));
    nd_store_close(st);
}

static void test_busy(void)
{
    struct temp_db file;
    temp_db(&file);
    struct nd_store_options quick = {ND_SYNC_NORMAL, 50, 0, 0};
    struct nd_store *holder = NULL, *waiter = NULL;
    CHECK_INT(nd_store_open(file.path, &quick, &holder), ND_OK);
    CHECK_INT(nd_store_open(file.path, &quick, &waiter), ND_OK);
    CHECK_INT(nd_store_begin(nd_sqlite_of(holder)), ND_OK);
    struct nd_article_fields f = fields("waiting", T0);
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(waiter, &f, &art), ND_ERR_BUSY);
    CHECK_INT(nd_store_key_insert(waiter, "k", "KKKKKKKKKKKK", (const unsigned char *)"h", 1),
              ND_ERR_BUSY);
    /* Readers are not blocked by a writer in WAL mode. */
    CHECK_INT(nd_store_ping(waiter), ND_OK);
    nd_store_rollback(nd_sqlite_of(holder));
    CHECK_INT(nd_store_article_create(waiter, &f, &art), ND_OK);
    json_decref(art);
    nd_store_close(holder);
    nd_store_close(waiter);
    remove_db(&file);
}

/*
 * When SQLite rolls a batch's transaction back on its own (disk full, out of
 * memory), the batch is over: a later write of the batch must fail rather
 * than run in a transaction of its own and commit, since the batch's end
 * reports the whole batch as not committed (a bulk write answers each of
 * its lines 503). The ROLLBACK below stands in for SQLite's own.
 */
static void test_batch_rolled_back_by_sqlite(void)
{
    struct nd_store *st = open_memory();
    struct nd_article_fields first = fields("before the failure", T0);
    struct nd_article_fields second = fields("after the failure", T0);
    json_t *art = NULL;
    CHECK_INT(nd_store_batch_begin(st), ND_OK);
    CHECK_INT(nd_store_article_create(st, &first, &art), ND_OK);
    json_decref(art);
    art = NULL;
    CHECK_INT(sqlite3_exec(nd_sqlite_of(st)->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    CHECK_INT(nd_store_article_create(st, &second, &art), ND_ERR_DB);
    CHECK(art == NULL);
    CHECK_INT(nd_store_batch_end(st, true), ND_ERR_DB);
    CHECK(sqlite3_get_autocommit(nd_sqlite_of(st)->db));
    sqlite3_stmt *count = NULL;
    CHECK_INT(
        sqlite3_prepare_v2(nd_sqlite_of(st)->db, "SELECT count(*) FROM articles", -1, &count, NULL),
        SQLITE_OK);
    CHECK_INT(sqlite3_step(count), SQLITE_ROW);
    CHECK_INT(sqlite3_column_int(count, 0), 0);
    sqlite3_finalize(count);
    /* the store writes as usual once the batch has ended */
    CHECK_INT(nd_store_article_create(st, &second, &art), ND_OK);
    json_decref(art);
    nd_store_close(st);
}

int main(void)
{
    /* Expected failures log at error level; keep the test output readable. */
    nd_log_set_level(ND_LOG_ERROR);
    return CHECK_RUN(CHECK_CASE(test_open_memory), CHECK_CASE(test_open_bad_path),
                     CHECK_CASE(test_migrations_rerun), CHECK_CASE(test_concurrent_openers),
                     CHECK_CASE(test_keys), CHECK_CASE(test_readonly), CHECK_CASE(test_busy),
                     CHECK_CASE(test_batch_rolled_back_by_sqlite));
}
