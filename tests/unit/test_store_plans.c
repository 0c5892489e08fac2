/*
 * test_store_plans.c: every order of the article list reads its first page
 * (and a page after a cursor) from an index in its own order: SQLite's
 * EXPLAIN QUERY PLAN of the very statement the store prepared must hold no
 * full scan of articles and no temporary b-tree for the ORDER BY. Without
 * migration 0007 "recently updated" and "most commented" sorted every
 * published article for each page (about 2 s at 100,000 articles).
 *
 * It reads the store's statement cache, so it includes store_internal.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend_fixture.h"
#include "check.h"
#include "newsd/store.h"
#include "store_internal.h"

static const struct nd_store_options options = {ND_SYNC_OFF, 1000, 0, 0, false};

static const char *const order_names[ND_ORDER_COUNT] = {"newest", "oldest", "updated", "commented"};

/*
 * Checks the plan of the statement st prepared for order and mask: false
 * (with a diagnostic naming what) when it scans articles without an index or
 * sorts in a temporary b-tree.
 */
static bool plan_is_indexed(struct nd_store *st, enum nd_article_order order, unsigned mask,
                            const char *what)
{
    sqlite3_stmt *listed = nd_sqlite_of(st)->article_lists[order][mask];
    char sql[2048];
    sqlite3_stmt *explain = NULL;
    bool ok = listed != NULL;
    if (!ok) {
        printf("# %s: no statement was prepared\n", what);
        return false;
    }
    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", sqlite3_sql(listed));
    CHECK_INT(sqlite3_prepare_v2(nd_sqlite_of(st)->db, sql, -1, &explain, NULL), SQLITE_OK);
    while (explain && sqlite3_step(explain) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(explain, 3);
        bool full_scan = strcmp(detail, "SCAN articles") == 0;
        bool sorts = strstr(detail, "TEMP B-TREE") != NULL;
        if (full_scan || sorts) {
            printf("# %s: %s\n#   in %s\n", what, detail, sqlite3_sql(listed));
            ok = false;
        }
    }
    sqlite3_finalize(explain);
    return ok;
}

/* Lists one page of order with filter (and a cursor when given); ND_OK expected. */
static char *page(struct nd_store *st, const struct nd_article_filter *filter,
                  enum nd_article_order order, const char *cursor)
{
    json_t *items = NULL;
    char *next = NULL;
    CHECK_INT(nd_store_article_list_sorted(st, filter, order, 2, cursor, &items, &next), ND_OK);
    json_decref(items);
    return next;
}

static void seed(struct nd_store *st)
{
    static const char *const tags[] = {"ice"};
    for (int i = 0; i < 5; i++) {
        char slug[16];
        snprintf(slug, sizeof slug, "a%d", i);
        struct nd_article_fields f = {.slug = slug,
                                      .title = "T",
                                      .body = "B",
                                      .author = "",
                                      .category = "",
                                      .tags = tags,
                                      .ntags = 1,
                                      .published_at = 1700000000 + i};
        json_t *art = NULL;
        CHECK_INT(nd_store_article_create(st, &f, &art), ND_OK);
        json_decref(art);
    }
}

static void test_unfiltered_orders(void)
{
    struct nd_store *st = NULL;
    CHECK_INT(nd_store_open(":memory:", &options, &st), ND_OK);
    seed(st);
    const struct nd_article_filter published = {.status = ND_STATUS_PUBLISHED};
    const struct nd_article_filter any = {.status = ND_STATUS_ANY};
    const struct nd_article_filter *filters[] = {&published, &any};
    for (unsigned o = 0; o < ND_ORDER_COUNT; o++)
        for (size_t f = 0; f < 2; f++) {
            char what[96];
            char *next = page(st, filters[f], o, NULL);
            CHECK(next != NULL);
            char *after = page(st, filters[f], o, next);
            snprintf(what, sizeof what, "%s, %s, first page", order_names[o],
                     f == 0 ? "published" : "status any");
            CHECK(plan_is_indexed(st, o, nd_store_filter_mask(filters[f], false), what));
            snprintf(what, sizeof what, "%s, %s, after a cursor", order_names[o],
                     f == 0 ? "published" : "status any");
            CHECK(plan_is_indexed(st, o, nd_store_filter_mask(filters[f], true), what));
            free(after);
            free(next);
        }
    nd_store_close(st);
}

/* A tag reads newest and oldest from the tag's index rows. */
static void test_tag_orders(void)
{
    struct nd_store *st = NULL;
    CHECK_INT(nd_store_open(":memory:", &options, &st), ND_OK);
    seed(st);
    const struct nd_article_filter tagged = {.status = ND_STATUS_PUBLISHED, .tag = "ice"};
    const enum nd_article_order from_index[] = {ND_ORDER_NEWEST, ND_ORDER_OLDEST};
    for (size_t i = 0; i < 2; i++) {
        char what[64];
        char *next = page(st, &tagged, from_index[i], NULL);
        free(page(st, &tagged, from_index[i], next));
        free(next);
        snprintf(what, sizeof what, "tag, %s", order_names[from_index[i]]);
        CHECK(plan_is_indexed(st, from_index[i], nd_store_filter_mask(&tagged, false), what));
        CHECK(plan_is_indexed(st, from_index[i], nd_store_filter_mask(&tagged, true), what));
    }
    nd_store_close(st);
}

/* A cursor belongs to its order: each other order refuses it. */
static void test_cursor_of_another_order(void)
{
    struct nd_store *st = NULL;
    CHECK_INT(nd_store_open(":memory:", &options, &st), ND_OK);
    seed(st);
    const struct nd_article_filter published = {.status = ND_STATUS_PUBLISHED};
    for (unsigned o = 0; o < ND_ORDER_COUNT; o++) {
        char *next = page(st, &published, o, NULL);
        for (unsigned other = 0; other < ND_ORDER_COUNT; other++) {
            json_t *items = NULL;
            char *more = NULL;
            enum nd_err err =
                nd_store_article_list_sorted(st, &published, other, 2, next, &items, &more);
            CHECK_INT(err, other == o ? ND_OK : ND_ERR_INVALID);
            json_decref(items);
            free(more);
        }
        free(next);
    }
    nd_store_close(st);
}

/* The value PRAGMA name answers on st's connection. */
static long long pragma_value(struct nd_store *st, const char *name)
{
    char sql[64];
    sqlite3_stmt *stmt = NULL;
    long long v = -1;
    snprintf(sql, sizeof sql, "PRAGMA %s", name);
    if (sqlite3_prepare_v2(nd_sqlite_of(st)->db, sql, -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return v;
}

/* db-cache-size and db-mmap-size reach the connection; 0 leaves SQLite's defaults. */
static void test_cache_and_mmap_settings(void)
{
    char path[] = "/tmp/newsd-plans-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    struct nd_store_options tuned = {ND_SYNC_OFF, 1000, 8u << 20, 64u << 20, false};
    struct nd_store *st = NULL;
    CHECK_INT(nd_store_open(path, &tuned, &st), ND_OK);
    CHECK_INT(pragma_value(st, "cache_size"), -8192);
    CHECK_INT(pragma_value(st, "mmap_size"), 64LL << 20);
    nd_store_close(st);
    CHECK_INT(nd_store_open(path, &options, &st), ND_OK);
    CHECK_INT(pragma_value(st, "cache_size"), -2000);
    CHECK_INT(pragma_value(st, "mmap_size"), 0);
    nd_store_close(st);
    char side[sizeof path + 8];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/*
 * A page of an article's visible comments runs the prepared statement
 * again, not a new preparation of it: a status bound where a partial index
 * could be weighed against it made SQLite prepare the statement again at
 * every bind (sqlite3Reprepare under each page; store_comments.c).
 */
static void test_comment_page_prepared_once(void)
{
    struct nd_store *st = NULL;
    CHECK_INT(nd_store_open(":memory:", &options, &st), ND_OK);
    seed(st);
    for (int i = 0; i < 3; i++) {
        struct nd_comment_fields c = {.article_id = 1, .author = "r", .body = "Hello."};
        json_t *made = NULL;
        CHECK_INT(nd_store_comment_create(st, &c, &made), ND_OK);
        json_decref(made);
    }
    for (int round = 0; round < 4; round++) {
        json_t *items = NULL;
        char *next = NULL;
        CHECK_INT(nd_store_comment_list_filtered(st, 1, ND_COMMENTS_VISIBLE, false, 2, NULL, &items,
                                                 &next),
                  ND_OK);
        CHECK_INT((int)json_array_size(items), 2);
        json_decref(items);
        free(next);
    }
    sqlite3_stmt *stmt = nd_sqlite_of(st)->stmts[ND_STMT_COMMENT_LIST_FLAT_STATUS];
    CHECK(stmt != NULL);
    if (stmt != NULL)
        CHECK_INT(sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_REPREPARE, 0), 0);
    nd_store_close(st);
}

int main(void)
{
    if (on_postgres())
        return nd_check_skip_all("about SQLite alone: the query plans of its statement cache");
    return CHECK_RUN(CHECK_CASE(test_unfiltered_orders), CHECK_CASE(test_tag_orders),
                     CHECK_CASE(test_cursor_of_another_order),
                     CHECK_CASE(test_cache_and_mmap_settings),
                     CHECK_CASE(test_comment_page_prepared_once));
}
