/*
 * test_store.c: opening the store against real SQLite (and, in unit-pg, a
 * real PostgreSQL server: backend_fixture.h) with the real embedded
 * migrations (":memory:", files in a temporary directory where re-opening,
 * concurrent openers or a second connection matter), API keys, and the
 * mapping of SQLite's errors. Articles are in test_store_articles.c,
 * comments in test_store_comments.c.
 *
 * White-box where the public interface cannot reach: a few cases include
 * the store's private headers to hold a transaction open or make the
 * connection read-only (SQLite's handle, or PostgreSQL's connection), so
 * the error mapping is exercised for real.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../server/store_internal.h"
#include "../../server/store_pg.h"
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
    CHECK(backend_migrations_count() >= 1);
    /* on PostgreSQL a copy of a migrated template: test_migrations_rerun counts them there */
    CHECK_INT(nd_store_migrations_applied(st), on_postgres() ? 0 : backend_migrations_count());
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
    if (on_postgres()) {
        /* a server that is not there: busy (503), as a server that went away */
        CHECK_INT(nd_store_open("postgresql://nobody@/nothing?host=%2Fnonexistent-dir&port=1",
                                &options, &st),
                  ND_ERR_BUSY);
        CHECK(st == before);
    }
}

/* A fresh directory for file databases; path gets "DIR/newsd.db". */
static void test_migrations_rerun(void)
{
    struct temp_db file;
    temp_db(&file);
    struct nd_store *st = NULL;
    CHECK_INT(nd_store_open(file.path, &options, &st), ND_OK);
    CHECK_INT(nd_store_migrations_applied(st), backend_migrations_count());
    CHECK(create_at(st, T0, "", "", false) > 0);
    nd_store_close(st);

    st = NULL;
    CHECK_INT(nd_store_open(file.path, &options, &st), ND_OK);
    CHECK_INT(nd_store_migrations_applied(st), 0);
    json_t *art = NULL;
    CHECK_INT(nd_store_article_get(st, 1, &art), ND_OK); /* the data survived */
    json_decref(art);
    nd_store_close(st);
    if (on_postgres())
        return; /* the rest reads the SQLite file */

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
    CHECK_INT(total, backend_migrations_count());
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

/* Runs sql on the PostgreSQL connection of st behind the store's back. */
static void pg_behind(struct nd_store *st, const char *sql)
{
    PGresult *res = PQexec(nd_pg_of(st)->conn, sql);
    CHECK_INT(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
}

/* A read-only PostgreSQL session: writes are ND_ERR_READONLY (SQLSTATE 25006). */
static void readonly_pg(void)
{
    struct nd_store *st = open_memory();
    int64_t a = create_at(st, T0, "", "", false);
    pg_behind(st, "SET default_transaction_read_only = on");
    struct nd_article_fields f = fields("blocked", T0);
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_ERR_READONLY);
    CHECK_INT(nd_store_article_delete(st, a), ND_ERR_READONLY);
    CHECK_INT(nd_store_key_insert(st, "k", "KKKKKKKKKKKK", (const unsigned char *)"h", 1),
              ND_ERR_READONLY);
    /* Reads still work, and the failed writes left no transaction open. */
    CHECK_INT(nd_store_article_get(st, a, &art), ND_OK);
    json_decref(art);
    CHECK(!nd_pg_of(st)->in_transaction);
    CHECK_INT(PQtransactionStatus(nd_pg_of(st)->conn), PQTRANS_IDLE);
    nd_store_close(st);
}

static void test_readonly(void)
{
    if (on_postgres()) {
        readonly_pg();
        return;
    }
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

/*
 * On PostgreSQL writers take turns through an advisory lock held to the end
 * of each write's transaction: one waiting longer than busy_timeout
 * (lock_timeout) is ND_ERR_BUSY, readers are not blocked.
 */
static void busy_pg(void)
{
    struct temp_db db;
    struct nd_store_options quick = {ND_SYNC_NORMAL, 50, 0, 0, false};
    struct nd_store *holder = NULL, *waiter = NULL;
    if (!temp_db(&db))
        return;
    CHECK_INT(nd_store_open(db.path, &quick, &holder), ND_OK);
    CHECK_INT(nd_store_open(db.path, &quick, &waiter), ND_OK);
    if (!holder || !waiter)
        goto out;
    /* writers run side by side on PostgreSQL: what stops them all is a table lock */
    CHECK_INT(nd_pg_begin(nd_pg_of(holder)), ND_OK);
    pg_behind(holder, "LOCK TABLE articles, comments IN EXCLUSIVE MODE");
    struct nd_article_fields f = fields("waiting", T0);
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(waiter, &f, &art), ND_ERR_BUSY);
    CHECK(art == NULL);
    CHECK_INT(nd_store_ping(waiter), ND_OK);
    CHECK_INT(nd_store_article_get(waiter, 1, &art), ND_ERR_NOT_FOUND);
    nd_pg_rollback(nd_pg_of(holder));
    CHECK_INT(nd_store_article_create(waiter, &f, &art), ND_OK);
    json_decref(art);
out:
    nd_store_close(holder);
    nd_store_close(waiter);
}

static void test_busy(void)
{
    if (on_postgres()) {
        busy_pg();
        return;
    }
    struct temp_db file;
    temp_db(&file);
    struct nd_store_options quick = {ND_SYNC_NORMAL, 50, 0, 0, false};
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
/* The same on PostgreSQL: the ROLLBACK stands in for a transaction the server aborted. */
static void batch_rolled_back_pg(void)
{
    struct nd_store *st = open_memory();
    struct nd_article_fields first = fields("before the failure", T0);
    struct nd_article_fields second = fields("after the failure", T0);
    json_t *art = NULL;
    int64_t ids[128];
    char *next = NULL;
    struct nd_article_filter any = {.status = ND_STATUS_ANY};
    CHECK_INT(nd_store_batch_begin(st), ND_OK);
    CHECK_INT(nd_store_article_create(st, &first, &art), ND_OK);
    json_decref(art);
    art = NULL;
    pg_behind(st, "ROLLBACK");
    CHECK_INT(nd_store_article_create(st, &second, &art), ND_ERR_DB);
    CHECK(art == NULL);
    CHECK_INT(nd_store_batch_end(st, true), ND_ERR_DB);
    CHECK_INT(PQtransactionStatus(nd_pg_of(st)->conn), PQTRANS_IDLE);
    CHECK_INT(list_ids(st, &any, 10, NULL, ids, &next), 0);
    /* the store writes as usual once the batch has ended */
    CHECK_INT(nd_store_article_create(st, &second, &art), ND_OK);
    json_decref(art);
    CHECK_INT(list_ids(st, &any, 10, NULL, ids, &next), 1);
    nd_store_close(st);
}

static void test_batch_rolled_back_by_sqlite(void)
{
    if (on_postgres()) {
        batch_rolled_back_pg();
        return;
    }
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

/* ---- the --db value as it is printed ------------------------------------ */

static void test_describe(void)
{
    char buf[256];
    CHECK_STR(nd_store_describe("./data/newsd.db", buf, sizeof buf), "./data/newsd.db");
    CHECK_STR(nd_store_describe("postgresql://newsd:s3cret@db.example:5433/news?sslmode=require"
                                "&password=other",
                                buf, sizeof buf),
              "postgresql://db.example:5433/news");
    CHECK_STR(nd_store_describe("postgres://u@/news?host=%2Frun%2Fpostgresql&port=5432&"
                                "passfile=%2Fsecret",
                                buf, sizeof buf),
              "postgres:///news?host=/run/postgresql&port=5432");
    CHECK_STR(nd_store_describe("postgresql://h1,h2/news?port=5432,5433", buf, sizeof buf),
              "postgresql://h1,h2/news?port=5432,5433");
    CHECK_STR(nd_store_describe("postgresql://", buf, sizeof buf), "postgresql:///");
    /* libpq's message on a bad escape would quote the password; nothing of it is shown */
    CHECK_STR(nd_store_describe("postgresql://u:pa%zzss@h/db", buf, sizeof buf),
              "postgresql://(a URI that cannot be parsed)");
    CHECK(strstr(nd_store_describe("postgresql://u:pw@h/db", buf, 12), "pw") == NULL);
    CHECK_INT(strlen(buf), 11);
}

/* A URI libpq cannot parse is refused; a server that is not there is "busy", at once. */
static void test_open_postgres_unreachable(void)
{
    struct nd_store *st = NULL;
    CHECK_INT(nd_store_open("postgresql://u:pa%zz@h/db", &options, &st), ND_ERR_INVALID);
    CHECK(st == NULL);
    CHECK_INT(nd_store_open("postgresql:///db?host=/nonexistent-newsd-socket-dir", &options, &st),
              ND_ERR_BUSY);
    CHECK(st == NULL);
}

/*
 * Write-ahead log positions as text: PostgreSQL's spelling out, and only
 * that spelling in (a client's Newsd-Position), anything else 0; SQLite
 * has none to give, and a replica beside a SQLite file is refused.
 */
static void test_positions(void)
{
    char buf[ND_POSITION_TEXT_MAX];
    CHECK_STR(nd_store_position_format(0x16B374D848ULL, buf), "16/B374D848");
    CHECK_STR(nd_store_position_format(UINT64_MAX, buf), "FFFFFFFF/FFFFFFFF");
    CHECK(nd_store_position_parse("16/B374D848") == 0x16B374D848ULL);
    CHECK(nd_store_position_parse("16/b374d848") == 0x16B374D848ULL);
    CHECK(nd_store_position_parse("FFFFFFFF/FFFFFFFF") == UINT64_MAX);
    CHECK(nd_store_position_parse("0/1") == 1);
    static const char *const bad[] = {
        "",      "0/0",  "/",    "1/",          "/1",          "1//2",       "1/2/3", " 1/2",
        "1/2 ",  "-1/2", "+1/2", "0x1/2",       "1/-2",        "1/2x",       "g/1",   "1.5/2",
        "1/2;3", "1/+2", "1 /2", "123456789/1", "1/123456789", "000000001/1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (nd_store_position_parse(bad[i]) != 0)
            CHECK(!"an invalid position was taken");
    }
    CHECK(nd_store_position_parse(NULL) == 0);
    if (!on_postgres()) {
        struct temp_db file;
        struct nd_store *st = NULL;
        uint64_t pos = 0;
        temp_db(&file);
        CHECK_INT(nd_store_open(file.path, &options, &st), ND_OK);
        CHECK_INT(nd_store_position(st, ND_POSITION_WRITE, &pos), ND_ERR_UNSUPPORTED);
        CHECK_INT(nd_store_position(st, ND_POSITION_KNOWN, &pos), ND_ERR_UNSUPPORTED);
        nd_store_close(st);
        remove_db(&file);
        st = NULL;
        CHECK_INT(nd_store_open_replica(file.path, &options, &st), ND_ERR_INVALID);
        CHECK(st == NULL);
    }
}

/*
 * Shared rate limits: SQLite has none (the caller counts in memory); on
 * PostgreSQL a bucket starts full, refuses when empty, keeps buckets apart,
 * and a take inside a batch leaves the batch alive.
 */
static void test_rate_take(void)
{
    struct nd_store *st = open_memory();
    bool allowed = false;
    double tokens = -1;
    CHECK(st != NULL);
    CHECK_INT(nd_store_rate_take(st, "", 60, 2, &allowed, &tokens), ND_ERR_INVALID);
    CHECK_INT(nd_store_rate_take(st, "b", 0, 2, &allowed, &tokens), ND_ERR_INVALID);
    if (!on_postgres()) {
        CHECK_INT(nd_store_rate_take(st, "b", 60, 2, &allowed, &tokens), ND_ERR_UNSUPPORTED);
        nd_store_close(st);
        return;
    }
    /* one token a minute, burst 2: two takes, then a refusal well within the minute */
    CHECK_INT(nd_store_rate_take(st, "b", 1, 2, &allowed, &tokens), ND_OK);
    CHECK(allowed);
    CHECK(tokens >= 1.0 && tokens < 1.01);
    CHECK_INT(nd_store_rate_take(st, "b", 1, 2, &allowed, &tokens), ND_OK);
    CHECK(allowed);
    CHECK_INT(nd_store_rate_take(st, "b", 1, 2, &allowed, &tokens), ND_OK);
    CHECK(!allowed);
    CHECK(tokens >= 0.0 && tokens < 0.5);
    CHECK_INT(nd_store_rate_take(st, "other", 1, 2, &allowed, &tokens), ND_OK);
    CHECK(allowed);
    /* in a batch: the take is a savepoint of its own, the batch commits */
    CHECK_INT(nd_store_batch_begin(st), ND_OK);
    CHECK_INT(nd_store_rate_take(st, "c", 1, 1, &allowed, &tokens), ND_OK);
    CHECK(allowed);
    CHECK_INT(nd_store_rate_take(st, "c", 1, 1, &allowed, &tokens), ND_OK);
    CHECK(!allowed);
    unsigned char hash[32], got[32];
    memset(hash, 0x33, sizeof hash);
    CHECK_INT(nd_store_key_insert(st, "in-batch", "DDDDDDDDDDDD", hash, sizeof hash), ND_OK);
    CHECK_INT(nd_store_batch_end(st, true), ND_OK);
    CHECK_INT(nd_store_key_lookup(st, "DDDDDDDDDDDD", got, sizeof got), ND_OK);
    CHECK_INT(nd_store_rate_take(st, "c", 1, 1, &allowed, &tokens), ND_OK);
    CHECK(!allowed); /* the batch's takes were committed with it */
    nd_store_close(st);
}

int main(void)
{
    /* Expected failures log at error level; keep the test output readable. */
    nd_log_set_level(ND_LOG_ERROR);
    return STORE_CHECK_RUN(CHECK_CASE(test_open_memory), CHECK_CASE(test_open_bad_path),
                           CHECK_CASE(test_migrations_rerun), CHECK_CASE(test_concurrent_openers),
                           CHECK_CASE(test_keys), CHECK_CASE(test_readonly), CHECK_CASE(test_busy),
                           CHECK_CASE(test_batch_rolled_back_by_sqlite), CHECK_CASE(test_describe),
                           CHECK_CASE(test_open_postgres_unreachable), CHECK_CASE(test_positions),
                           CHECK_CASE(test_rate_take));
}
