/*
 * fuzz_wxr.c: the WordPress export reader (server/import_wxr.c,
 * import_wxr_post.c, with import_html.c for the HTML in it) on arbitrary
 * bytes, importing into newsd's real schema on :memory:.
 *
 * Invariants: the result is ND_OK or ND_ERR_INVALID (a store error or
 * ND_ERR_NOMEM would be a defect on a fresh in-memory database); a refusal
 * says why, zeroes the statistics and leaves no article and no comment
 * behind (one transaction per file); on ND_OK the database holds exactly the
 * articles and comments the statistics say were created (an id given twice
 * in one file is found again, counted as existing), and every refused
 * post or comment was reported with a reason (a refused post with comments
 * is followed by one more, uncounted report that they go with it).
 *
 * The store is opened once per process; after each successful import its
 * articles and comments are deleted so the next input starts empty.
 */
#include <sqlite3.h>

#include "fuzz.h"
#include "newsd/import.h"
#include "newsd/log.h"
#include "newsd/store.h"
#include "store_internal.h"

static struct nd_store *store;

static void close_store(void)
{
    nd_store_close(store);
    store = NULL;
}

static int64_t count_rows(const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    FUZZ_REQUIRE(sqlite3_prepare_v2(nd_sqlite_of(store)->db, sql, -1, &stmt, NULL) == SQLITE_OK);
    FUZZ_REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    int64_t n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
}

struct refusals {
    unsigned long n;
};

static void on_refusal(void *ctx, unsigned long line, const char *why)
{
    struct refusals *r = ctx;
    (void)line;
    FUZZ_REQUIRE(why != NULL && why[0] != '\0');
    r->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store) {
        static const struct nd_store_options options = {ND_SYNC_OFF, 0, 0, 0, false};
        nd_log_set_level(ND_LOG_ERROR); /* not a line per applied migration */
        FUZZ_REQUIRE(nd_store_open(":memory:", &options, &store) == ND_OK);
        atexit(close_store);
    }
    struct refusals refused = {0};
    struct nd_import_wxr_stats stats;
    memset(&stats, 0xA5, sizeof stats);
    char why[512] = "";
    enum nd_err rc = nd_import_wxr(store, (const char *)data, size, on_refusal, &refused, &stats,
                                   why, sizeof why);
    FUZZ_REQUIRE(rc == ND_OK || rc == ND_ERR_INVALID);
    int64_t articles = count_rows("SELECT count(*) FROM articles");
    int64_t comments = count_rows("SELECT count(*) FROM comments");
    if (rc != ND_OK) {
        static const struct nd_import_wxr_stats zero;
        FUZZ_REQUIRE(why[0] != '\0');
        FUZZ_REQUIRE(memcmp(&stats, &zero, sizeof stats) == 0);
        FUZZ_REQUIRE(articles == 0 && comments == 0);
        return 0;
    }
    FUZZ_REQUIRE(stats.version <= 2);
    FUZZ_REQUIRE(articles == (int64_t)stats.posts_created);
    FUZZ_REQUIRE(comments == (int64_t)stats.comments_created);
    /* each counted refusal is reported; a refused post's comments are said once more */
    FUZZ_REQUIRE(refused.n >= stats.refused);
    FUZZ_REQUIRE(sqlite3_exec(nd_sqlite_of(store)->db, "DELETE FROM comments; DELETE FROM articles",
                              NULL, NULL, NULL) == SQLITE_OK);
    return 0;
}
