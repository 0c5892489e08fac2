/*
 * test_store.c: the store against real SQLite with the real embedded
 * migrations: mostly on ":memory:", on files in a temporary directory where
 * re-opening, concurrent openers or a second connection matter.
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
#include "newsd/cursor.h"
#include "newsd/log.h"
#include "newsd/migrate.h"
#include "newsd/store.h"
#include "newsd/text.h"
#include "newsd/util.h"

#define T0 INT64_C(1752312600) /* 2025-07-12T09:30:00Z */

static const struct nd_store_options options = {ND_SYNC_NORMAL, 2000};

static struct nd_store *open_memory(void)
{
    struct nd_store *st = NULL;
    CHECK_INT(nd_store_open(":memory:", &options, &st), ND_OK);
    return st;
}

static struct nd_article_fields fields(const char *slug, int64_t published_at)
{
    struct nd_article_fields f = {
        .slug = slug,
        .title = "A title",
        .summary = "A summary",
        .body = "The body.\n\nSecond paragraph.",
        .author = "",
        .category = "",
        .published_at = published_at,
    };
    return f;
}

static int64_t id_of(const json_t *obj)
{
    return json_integer_value(json_object_get(obj, "id"));
}

static const char *str_of(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* Creates an article from f and returns its id (0 after a failed check). */
static int64_t create(struct nd_store *st, const struct nd_article_fields *f)
{
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(st, f, &art), ND_OK);
    int64_t id = art ? id_of(art) : 0;
    json_decref(art);
    return id;
}

/* Creates an article with a unique slug, the given time and category/author. */
static int64_t create_at(struct nd_store *st, int64_t published_at, const char *category,
                         const char *author, bool draft)
{
    static unsigned serial;
    char slug[32];
    snprintf(slug, sizeof slug, "article-%u", ++serial);
    struct nd_article_fields f = fields(slug, published_at);
    f.category = category;
    f.author = author;
    f.draft = draft;
    return create(st, &f);
}

static int64_t comment(struct nd_store *st, int64_t article, int64_t parent)
{
    struct nd_comment_fields f = {article, parent != 0, parent, "reader", "A comment."};
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_create(st, &f, &c), ND_OK);
    int64_t id = c ? id_of(c) : 0;
    json_decref(c);
    return id;
}

/*
 * Lists one page into ids (room for 128); returns how many, with the next
 * cursor (or NULL) in *next. -1 when the list fails (err in *err).
 */
static int list_ids(struct nd_store *st, const struct nd_article_filter *flt, unsigned limit,
                    const char *cursor, int64_t *ids, char **next)
{
    json_t *items = NULL;
    enum nd_err err = nd_store_article_list(st, flt, limit, cursor, &items, next);
    if (err != ND_OK)
        return -1;
    int n = (int)json_array_size(items);
    for (int i = 0; i < n && i < 128; i++)
        ids[i] = id_of(json_array_get(items, (size_t)i));
    json_decref(items);
    return n;
}

/* Every id matching flt, following cursors with pages of 2. */
static int list_all(struct nd_store *st, const struct nd_article_filter *flt, int64_t *ids)
{
    char *cursor = NULL;
    int total = 0;
    do {
        char *next = NULL;
        int n = list_ids(st, flt, 2, cursor, ids + total, &next);
        free(cursor);
        cursor = next;
        if (n < 0)
            return -1;
        total += n;
    } while (cursor && total < 100);
    free(cursor);
    return total;
}

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
static bool temp_db(char *dir, size_t dirlen, char *path, size_t pathlen)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, dirlen, "%s/newsd-store-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir))
        return false;
    snprintf(path, pathlen, "%s/newsd.db", dir);
    return true;
}

static void remove_db(const char *dir, const char *path)
{
    char side[600];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    rmdir(dir);
}

static void test_migrations_rerun(void)
{
    char dir[512], path[600];
    CHECK(temp_db(dir, sizeof dir, path, sizeof path));
    struct nd_store *st = NULL;
    CHECK_INT(nd_store_open(path, &options, &st), ND_OK);
    CHECK_INT(nd_store_migrations_applied(st), nd_migrations_count);
    CHECK(create_at(st, T0, "", "", false) > 0);
    nd_store_close(st);

    st = NULL;
    CHECK_INT(nd_store_open(path, &options, &st), ND_OK);
    CHECK_INT(nd_store_migrations_applied(st), 0);
    json_t *art = NULL;
    CHECK_INT(nd_store_article_get(st, 1, &art), ND_OK); /* the data survived */
    json_decref(art);
    nd_store_close(st);

    /* The file is in WAL mode and records each migration once. */
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
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
    remove_db(dir, path);
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
    char dir[512], path[600];
    CHECK(temp_db(dir, sizeof dir, path, sizeof path));
    struct opener openers[THREADS];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        openers[i] = (struct opener){path, ND_ERR_DB, 0};
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
    remove_db(dir, path);
}

/* ---- articles --------------------------------------------------------- */

static void test_article_create_get(void)
{
    struct nd_store *st = open_memory();
    const char *tags[] = {"russia", "north-korea"};
    struct nd_article_fields f = fields("lavrov-praises", T0);
    f.title = "Russia’s Lavrov praises";
    f.author = "Reporter";
    f.category = "World";
    f.tags = tags;
    f.ntags = 2;
    int64_t before = nd_time_now();
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_OK);
    CHECK_INT(json_object_size(art), 14);
    CHECK_INT(id_of(art), 1);
    CHECK_STR(str_of(art, "slug"), "lavrov-praises");
    CHECK_STR(str_of(art, "title"), "Russia’s Lavrov praises");
    CHECK_STR(str_of(art, "summary"), "A summary");
    CHECK_STR(str_of(art, "body"), "The body.\n\nSecond paragraph.");
    CHECK_STR(str_of(art, "author"), "Reporter");
    CHECK_STR(str_of(art, "category"), "World");
    CHECK_STR(str_of(art, "status"), "published");
    CHECK_STR(str_of(art, "published_at"), "2025-07-12T09:30:00Z");
    CHECK(json_is_null(json_object_get(art, "source_url")));
    CHECK_INT(json_integer_value(json_object_get(art, "comment_count")), 0);
    json_t *tag_arr = json_object_get(art, "tags");
    CHECK_INT(json_array_size(tag_arr), 2);
    CHECK_STR(json_string_value(json_array_get(tag_arr, 1)), "north-korea");
    int64_t created = 0;
    CHECK(nd_time_parse(str_of(art, "created_at"), &created));
    CHECK(created >= before && created <= nd_time_now());
    CHECK_STR(str_of(art, "updated_at"), str_of(art, "created_at"));

    json_t *by_id = NULL, *by_slug = NULL;
    CHECK_INT(nd_store_article_get(st, 1, &by_id), ND_OK);
    CHECK(json_equal(by_id, art));
    CHECK_INT(nd_store_article_get_by_slug(st, "lavrov-praises", &by_slug), ND_OK);
    CHECK(json_equal(by_slug, art));
    json_decref(by_id);
    json_decref(by_slug);
    json_decref(art);

    json_t *none = (json_t *)&none;
    CHECK_INT(nd_store_article_get(st, 2, &none), ND_ERR_NOT_FOUND);
    CHECK_INT(nd_store_article_get_by_slug(st, "nope", &none), ND_ERR_NOT_FOUND);
    CHECK(none == (json_t *)&none);
    nd_store_close(st);
}

static void test_article_draft_and_source(void)
{
    struct nd_store *st = open_memory();
    struct nd_article_fields f = fields("draft-one", T0);
    f.draft = true;
    f.source_url = "https://example.com/x";
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_OK);
    CHECK_STR(str_of(art, "status"), "draft");
    CHECK_STR(str_of(art, "source_url"), "https://example.com/x");
    CHECK_INT(json_array_size(json_object_get(art, "tags")), 0);
    json_decref(art);
    nd_store_close(st);
}

static void test_slug_conflict_given(void)
{
    struct nd_store *st = open_memory();
    struct nd_article_fields f = fields("hello", T0);
    CHECK_INT(create(st, &f), 1);
    json_t *art = (json_t *)&art;
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_ERR_CONFLICT);
    CHECK(art == (json_t *)&art);
    /* Nothing half-written stays behind. */
    int64_t ids[128];
    char *next = NULL;
    struct nd_article_filter any = {.status = ND_STATUS_ANY};
    CHECK_INT(list_ids(st, &any, 10, NULL, ids, &next), 1);
    nd_store_close(st);
}

static void test_slug_derived(void)
{
    struct nd_store *st = open_memory();
    struct nd_article_fields f = fields("hello", T0);
    f.slug_derived = true;
    const char *want[] = {"hello", "hello-2", "hello-3"};
    for (int i = 0; i < 3; i++) {
        json_t *art = NULL;
        CHECK_INT(nd_store_article_create(st, &f, &art), ND_OK);
        CHECK_STR(str_of(art, "slug"), want[i]);
        json_decref(art);
    }
    /* A given slug never gets a suffix. */
    f.slug_derived = false;
    f.slug = "hello-2";
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_ERR_CONFLICT);
    nd_store_close(st);
}

static void test_slug_derived_long(void)
{
    struct nd_store *st = open_memory();
    char base[ND_SLUG_MAX + 1];
    /* 120 bytes: words of nine letters and a hyphen, the last one cut short. */
    for (int i = 0; i < ND_SLUG_MAX; i++)
        base[i] = i % 10 == 9 ? '-' : 'a';
    base[ND_SLUG_MAX] = '\0';
    base[ND_SLUG_MAX - 1] = 'b';
    struct nd_article_fields f = fields(base, T0);
    f.slug_derived = true;
    CHECK(create(st, &f) > 0);
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_OK);
    const char *slug = str_of(art, "slug");
    CHECK(slug && strlen(slug) <= ND_SLUG_MAX);
    /* Cut back to the last whole word that leaves room for "-2". */
    CHECK(slug && strncmp(slug, base, 109) == 0);
    CHECK_STR(slug ? slug + 109 : NULL, "-2");
    json_decref(art);
    nd_store_close(st);
}

static void test_slug_derived_exhausted(void)
{
    struct nd_store *st = open_memory();
    struct nd_article_fields f = fields("same", T0);
    f.slug_derived = true;
    for (int i = 0; i < 1000; i++) /* "same", "same-2" ... "same-1000" */
        create(st, &f);
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_ERR_CONFLICT);
    nd_store_close(st);
}

static void test_article_update(void)
{
    struct nd_store *st = open_memory();
    const char *tags1[] = {"one", "two"};
    const char *tags2[] = {"three"};
    struct nd_article_fields f = fields("first", T0);
    f.tags = tags1;
    f.ntags = 2;
    int64_t id = create(st, &f);
    create_at(st, T0, "", "", false); /* owns "article-N" */

    f.slug = "renamed";
    f.title = "New title";
    f.tags = tags2;
    f.ntags = 1;
    f.source_url = "http://example.com/";
    f.draft = true;
    json_t *art = NULL;
    CHECK_INT(nd_store_article_update(st, id, &f, &art), ND_OK);
    CHECK_INT(id_of(art), id);
    CHECK_STR(str_of(art, "slug"), "renamed");
    CHECK_STR(str_of(art, "title"), "New title");
    CHECK_STR(str_of(art, "status"), "draft");
    CHECK_STR(str_of(art, "source_url"), "http://example.com/");
    CHECK_INT(json_array_size(json_object_get(art, "tags")), 1);
    json_decref(art);

    /* The tag rows were replaced too. */
    int64_t ids[128];
    char *next = NULL;
    struct nd_article_filter flt = {.status = ND_STATUS_ANY, .tag = "one"};
    CHECK_INT(list_ids(st, &flt, 10, NULL, ids, &next), 0);
    flt.tag = "three";
    CHECK_INT(list_ids(st, &flt, 10, NULL, ids, &next), 1);

    /* A derived slug that is the article's own stays as it is. */
    f.slug_derived = true;
    CHECK_INT(nd_store_article_update(st, id, &f, &art), ND_OK);
    CHECK_STR(str_of(art, "slug"), "renamed");
    json_decref(art);

    json_t *untouched = (json_t *)&untouched;
    f.slug_derived = false;
    CHECK_INT(nd_store_article_update(st, 999, &f, &untouched), ND_ERR_NOT_FOUND);
    CHECK_INT(nd_store_article_update(st, 0, &f, &untouched), ND_ERR_NOT_FOUND);
    json_t *other = NULL;
    CHECK_INT(nd_store_article_get(st, id + 1, &other), ND_OK);
    f.slug = str_of(other, "slug");
    CHECK_INT(nd_store_article_update(st, id, &f, &untouched), ND_ERR_CONFLICT);
    CHECK(untouched == (json_t *)&untouched);
    json_decref(other);
    /* The failed update changed nothing. */
    CHECK_INT(nd_store_article_get_by_slug(st, "renamed", &art), ND_OK);
    json_decref(art);
    nd_store_close(st);
}

static void test_article_delete(void)
{
    struct nd_store *st = open_memory();
    int64_t a = create_at(st, T0, "", "", false);
    int64_t b = create_at(st, T0, "", "", false);
    int64_t c1 = comment(st, a, 0);
    int64_t c2 = comment(st, a, c1);
    comment(st, a, c2);
    int64_t other = comment(st, b, 0);
    CHECK_INT(nd_store_article_delete(st, a), ND_OK);
    json_t *j = NULL;
    CHECK_INT(nd_store_article_get(st, a, &j), ND_ERR_NOT_FOUND);
    CHECK_INT(nd_store_comment_get(st, c1, &j), ND_ERR_NOT_FOUND);
    CHECK_INT(nd_store_comment_get(st, c2, &j), ND_ERR_NOT_FOUND);
    CHECK_INT(nd_store_comment_get(st, other, &j), ND_OK);
    json_decref(j);
    CHECK_INT(nd_store_article_delete(st, a), ND_ERR_NOT_FOUND);
    CHECK_INT(nd_store_article_delete(st, 12345), ND_ERR_NOT_FOUND);
    nd_store_close(st);
}

static void test_find_import(void)
{
    struct nd_store *st = open_memory();
    struct nd_article_fields f = fields("imported", T0);
    f.import_key = "abc123";
    int64_t id = create(st, &f);
    int64_t found = 0;
    CHECK_INT(nd_store_article_find_import(st, "abc123", &found), ND_OK);
    CHECK_INT(found, id);
    found = -5;
    CHECK_INT(nd_store_article_find_import(st, "zzz", &found), ND_ERR_NOT_FOUND);
    CHECK_INT(found, -5);
    /* An update without a key keeps the one the importer set. */
    f.import_key = NULL;
    json_t *art = NULL;
    CHECK_INT(nd_store_article_update(st, id, &f, &art), ND_OK);
    json_decref(art);
    CHECK_INT(nd_store_article_find_import(st, "abc123", &found), ND_OK);
    /* The same key twice is a conflict, not a duplicate. */
    f.slug = "imported-again";
    f.import_key = "abc123";
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_ERR_CONFLICT);
    nd_store_close(st);
}

/* ---- the article list ------------------------------------------------- */

static void test_list_order_ties(void)
{
    struct nd_store *st = open_memory();
    int64_t a = create_at(st, T0, "", "", false);
    int64_t b = create_at(st, T0 + 10, "", "", false);
    int64_t c = create_at(st, T0, "", "", false);
    int64_t d = create_at(st, T0 + 10, "", "", false);
    int64_t e = create_at(st, T0 - 10, "", "", false);
    json_t *items = NULL;
    char *next = (char *)"unchanged";
    CHECK_INT(nd_store_article_list(st, NULL, 10, NULL, &items, &next), ND_OK);
    CHECK(next == NULL);
    int64_t want[] = {d, b, c, a, e};
    CHECK_INT(json_array_size(items), 5);
    for (size_t i = 0; i < 5; i++)
        CHECK_INT(id_of(json_array_get(items, i)), want[i]);
    /* Items are the article without its body. */
    json_t *first = json_array_get(items, 0);
    CHECK_INT(json_object_size(first), 13);
    CHECK(json_object_get(first, "body") == NULL);
    CHECK(json_is_array(json_object_get(first, "tags")));
    json_decref(items);
    nd_store_close(st);
}

static void test_list_filters(void)
{
    struct nd_store *st = open_memory();
    const char *tags_x[] = {"x", "common"};
    const char *tags_y[] = {"y", "common"};
    int64_t a = create_at(st, T0, "Sport", "ann", false);
    int64_t b = create_at(st, T0 + 100, "Sport", "bob", false);
    int64_t c = create_at(st, T0 + 200, "World", "ann", false);
    int64_t d = create_at(st, T0 + 300, "World", "ann", true);
    struct nd_article_fields f = fields("tagged-x", T0 + 400);
    f.tags = tags_x;
    f.ntags = 2;
    f.category = "Sport";
    int64_t tx = create(st, &f);
    f = fields("tagged-y", T0 + 500);
    f.tags = tags_y;
    f.ntags = 2;
    int64_t ty = create(st, &f);
    int64_t ids[128];

    struct nd_article_filter flt = {.category = "Sport"};
    CHECK_INT(list_all(st, &flt, ids), 3);
    CHECK(ids[0] == tx && ids[1] == b && ids[2] == a);

    flt = (struct nd_article_filter){.author = "ann"};
    CHECK_INT(list_all(st, &flt, ids), 2); /* the draft d is not published */
    CHECK(ids[0] == c && ids[1] == a);
    flt.status = ND_STATUS_ANY;
    CHECK_INT(list_all(st, &flt, ids), 3);
    CHECK(ids[0] == d);
    flt.status = ND_STATUS_DRAFT;
    CHECK_INT(list_all(st, &flt, ids), 1);
    CHECK(ids[0] == d);

    flt = (struct nd_article_filter){.tag = "common"};
    CHECK_INT(list_all(st, &flt, ids), 2);
    CHECK(ids[0] == ty && ids[1] == tx);
    flt.tag = "x";
    CHECK_INT(list_all(st, &flt, ids), 1);
    flt.tag = "missing";
    CHECK_INT(list_all(st, &flt, ids), 0);

    /* since is inclusive, until exclusive. */
    flt = (struct nd_article_filter){.has_since = true, .since = T0 + 100};
    CHECK_INT(list_all(st, &flt, ids), 4);
    CHECK(ids[3] == b);
    flt = (struct nd_article_filter){.has_until = true, .until = T0 + 200};
    CHECK_INT(list_all(st, &flt, ids), 2);
    CHECK(ids[0] == b && ids[1] == a);
    flt.has_since = true;
    flt.since = T0 + 100;
    CHECK_INT(list_all(st, &flt, ids), 1);
    CHECK(ids[0] == b);

    /* Combinations narrow each other. */
    flt = (struct nd_article_filter){.category = "Sport", .author = "ann"};
    CHECK_INT(list_all(st, &flt, ids), 1);
    CHECK(ids[0] == a);
    flt = (struct nd_article_filter){.category = "Sport",
                                     .tag = "common",
                                     .has_since = true,
                                     .since = T0 + 400,
                                     .has_until = true,
                                     .until = T0 + 401};
    CHECK_INT(list_all(st, &flt, ids), 1);
    CHECK(ids[0] == tx);
    flt = (struct nd_article_filter){
        .category = "World", .author = "ann", .status = ND_STATUS_ANY, .tag = "common"};
    CHECK_INT(list_all(st, &flt, ids), 0);
    flt = (struct nd_article_filter){.category = "World", .status = ND_STATUS_ANY};
    CHECK_INT(list_all(st, &flt, ids), 2);
    CHECK(ids[0] == d && ids[1] == c);
    nd_store_close(st);
}

static void test_list_pagination_with_inserts(void)
{
    enum { ORIGINAL = 30 };
    struct nd_store *st = open_memory();
    int seen[ORIGINAL + 1] = {0};
    /* Ties in threes on published_at. */
    for (int i = 0; i < ORIGINAL; i++)
        create_at(st, T0 + i / 3, "", "", false);
    char *cursor = NULL;
    int pages = 0, newer = 0;
    int64_t prev_at = INT64_MAX, prev_id = INT64_MAX;
    do {
        json_t *items = NULL;
        char *next = NULL;
        CHECK_INT(nd_store_article_list(st, NULL, 4, cursor, &items, &next), ND_OK);
        for (size_t i = 0; i < json_array_size(items); i++) {
            json_t *item = json_array_get(items, i);
            int64_t id = id_of(item), at = 0;
            CHECK(nd_time_parse(str_of(item, "published_at"), &at));
            CHECK(at < prev_at || (at == prev_at && id < prev_id));
            prev_at = at;
            prev_id = id;
            if (id >= 1 && id <= ORIGINAL)
                seen[id]++;
            else
                newer++;
        }
        json_decref(items);
        free(cursor);
        cursor = next;
        /* New articles arrive at the head while the client pages on. */
        create_at(st, T0 + 1000 + pages, "", "", false);
        create_at(st, T0 + 1000 + pages, "", "", false);
        pages++;
    } while (cursor && pages < 50);
    free(cursor);
    CHECK_INT(pages, 8); /* 30 items in pages of 4 */
    CHECK_INT(newer, 0);
    for (int id = 1; id <= ORIGINAL; id++)
        CHECK_INT(seen[id], 1);
    nd_store_close(st);
}

static void test_list_exact_page(void)
{
    struct nd_store *st = open_memory();
    for (int i = 0; i < 4; i++)
        create_at(st, T0 + i, "", "", false);
    int64_t ids[128];
    char *next = NULL;
    /* Exactly a page's worth: no next cursor pointing at an empty page. */
    CHECK_INT(list_ids(st, NULL, 4, NULL, ids, &next), 4);
    CHECK(next == NULL);
    CHECK_INT(list_ids(st, NULL, 3, NULL, ids, &next), 3);
    CHECK(next != NULL);
    char *last = NULL;
    CHECK_INT(list_ids(st, NULL, 3, next, ids, &last), 1);
    CHECK(last == NULL);
    CHECK_INT(ids[0], 1);
    free(next);
    nd_store_close(st);
}

static void test_list_bad_input(void)
{
    struct nd_store *st = open_memory();
    create_at(st, T0, "", "", false);
    json_t *items = (json_t *)&items;
    char *next = NULL;
    CHECK_INT(nd_store_article_list(st, NULL, 10, "garbage", &items, &next), ND_ERR_INVALID);
    CHECK_INT(nd_store_article_list(st, NULL, 10, "", &items, &next), ND_ERR_INVALID);
    char *comment_cursor = nd_cursor_encode('c', 1, 0);
    CHECK_INT(nd_store_article_list(st, NULL, 10, comment_cursor, &items, &next), ND_ERR_INVALID);
    free(comment_cursor);
    CHECK_INT(nd_store_article_list(st, NULL, 0, NULL, &items, &next), ND_ERR_INVALID);
    CHECK_INT(nd_store_article_list(st, NULL, 101, NULL, &items, &next), ND_ERR_INVALID);
    CHECK(items == (json_t *)&items);
    /* Filter text is data, never SQL. */
    struct nd_article_filter flt = {.category = "x' OR '1'='1", .tag = "\"); DROP TABLE x;--"};
    CHECK_INT(nd_store_article_list(st, &flt, 10, NULL, &items, &next), ND_OK);
    CHECK_INT(json_array_size(items), 0);
    json_decref(items);
    nd_store_close(st);
}

/* ---- comments --------------------------------------------------------- */

static void test_comment_create(void)
{
    struct nd_store *st = open_memory();
    int64_t a = create_at(st, T0, "", "", false);
    int64_t b = create_at(st, T0, "", "", false);
    struct nd_comment_fields f = {a, false, 0, "reader", "Hello there."};
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_create(st, &f, &c), ND_OK);
    CHECK_INT(json_object_size(c), 7);
    CHECK_INT(json_integer_value(json_object_get(c, "article_id")), a);
    CHECK(json_is_null(json_object_get(c, "parent_id")));
    CHECK_STR(str_of(c, "author"), "reader");
    CHECK_STR(str_of(c, "body"), "Hello there.");
    CHECK_STR(str_of(c, "status"), "visible");
    CHECK(str_of(c, "created_at") != NULL);
    int64_t top = id_of(c);
    json_t *again = NULL;
    CHECK_INT(nd_store_comment_get(st, top, &again), ND_OK);
    CHECK(json_equal(again, c));
    json_decref(again);
    json_decref(c);

    f.has_parent = true;
    f.parent_id = top;
    CHECK_INT(nd_store_comment_create(st, &f, &c), ND_OK);
    CHECK_INT(json_integer_value(json_object_get(c, "parent_id")), top);
    json_decref(c);

    json_t *none = (json_t *)&none;
    f.article_id = b; /* the parent belongs to article a */
    CHECK_INT(nd_store_comment_create(st, &f, &none), ND_ERR_INVALID);
    f.parent_id = 9999;
    CHECK_INT(nd_store_comment_create(st, &f, &none), ND_ERR_INVALID);
    f.article_id = 9999;
    f.has_parent = false;
    CHECK_INT(nd_store_comment_create(st, &f, &none), ND_ERR_NOT_FOUND);
    CHECK(none == (json_t *)&none);
    CHECK_INT(nd_store_comment_get(st, 9999, &none), ND_ERR_NOT_FOUND);
    nd_store_close(st);
}

static int64_t comment_count(struct nd_store *st, int64_t article)
{
    json_t *art = NULL;
    CHECK_INT(nd_store_article_get(st, article, &art), ND_OK);
    int64_t n = json_integer_value(json_object_get(art, "comment_count"));
    json_decref(art);
    return n;
}

static void test_comment_count(void)
{
    struct nd_store *st = open_memory();
    int64_t a = create_at(st, T0, "", "", false);
    int64_t b = create_at(st, T0, "", "", false);
    int64_t c1 = comment(st, a, 0);
    comment(st, a, c1);
    comment(st, a, 0);
    comment(st, b, 0);
    CHECK_INT(comment_count(st, a), 3);
    CHECK_INT(comment_count(st, b), 1);
    CHECK_INT(nd_store_comment_delete(st, c1), ND_OK);
    CHECK_INT(comment_count(st, a), 2);
    CHECK_INT(comment_count(st, b), 1);
    nd_store_close(st);
}

static int64_t parent_of(struct nd_store *st, int64_t id)
{
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_get(st, id, &c), ND_OK);
    json_t *p = json_object_get(c, "parent_id");
    int64_t parent = json_is_null(p) ? 0 : json_integer_value(p);
    json_decref(c);
    return parent;
}

static void test_comment_delete_reattach(void)
{
    struct nd_store *st = open_memory();
    int64_t a = create_at(st, T0, "", "", false);
    int64_t top = comment(st, a, 0);
    int64_t mid = comment(st, a, top);
    int64_t leaf1 = comment(st, a, mid);
    int64_t leaf2 = comment(st, a, mid);
    CHECK_INT(nd_store_comment_delete(st, mid), ND_OK);
    CHECK_INT(parent_of(st, leaf1), top);
    CHECK_INT(parent_of(st, leaf2), top);
    CHECK_INT(nd_store_comment_delete(st, top), ND_OK);
    CHECK_INT(parent_of(st, leaf1), 0);
    CHECK_INT(parent_of(st, leaf2), 0);
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_get(st, mid, &c), ND_ERR_NOT_FOUND);
    CHECK_INT(nd_store_comment_delete(st, mid), ND_ERR_NOT_FOUND);
    CHECK_INT(comment_count(st, a), 2);
    nd_store_close(st);
}

static void test_comment_list_flat(void)
{
    struct nd_store *st = open_memory();
    int64_t a = create_at(st, T0, "", "", false);
    int64_t b = create_at(st, T0, "", "", false);
    int64_t first = comment(st, a, 0);
    for (int i = 0; i < 6; i++) {
        if (i % 2)
            comment(st, a, i % 3 ? first : 0);
        else
            comment(st, b, 0);
    }
    /* a has first and the three made for i = 1, 3, 5; b's are interleaved */
    char *cursor = NULL;
    int64_t prev = 0;
    int total = 0, pages = 0;
    do {
        json_t *items = NULL;
        char *next = NULL;
        CHECK_INT(nd_store_comment_list(st, a, false, 2, cursor, &items, &next), ND_OK);
        for (size_t i = 0; i < json_array_size(items); i++) {
            json_t *item = json_array_get(items, i);
            CHECK(id_of(item) > prev);
            CHECK_INT(json_integer_value(json_object_get(item, "article_id")), a);
            CHECK(json_object_get(item, "replies") == NULL);
            prev = id_of(item);
            total++;
        }
        json_decref(items);
        free(cursor);
        cursor = next;
        pages++;
    } while (cursor && pages < 10);
    free(cursor);
    CHECK_INT(total, 4);
    CHECK_INT(pages, 2);

    json_t *items = (json_t *)&items;
    char *next = NULL;
    CHECK_INT(nd_store_comment_list(st, a, false, 2, "!!", &items, &next), ND_ERR_INVALID);
    char *wrong = nd_cursor_encode('a', T0, 1);
    CHECK_INT(nd_store_comment_list(st, a, false, 2, wrong, &items, &next), ND_ERR_INVALID);
    free(wrong);
    wrong = nd_cursor_encode('c', 1, 5); /* a comment cursor always has 0 there */
    CHECK_INT(nd_store_comment_list(st, a, true, 2, wrong, &items, &next), ND_ERR_INVALID);
    free(wrong);
    CHECK_INT(nd_store_comment_list(st, a, false, 0, NULL, &items, &next), ND_ERR_INVALID);
    CHECK(items == (json_t *)&items);
    CHECK_INT(nd_store_comment_list(st, 9999, false, 5, NULL, &items, &next), ND_OK);
    CHECK_INT(json_array_size(items), 0);
    CHECK(next == NULL);
    json_decref(items);
    nd_store_close(st);
}

/* Checks that node has the given id and n replies, and returns the array. */
static json_t *expect_node(json_t *node, int64_t id, size_t n)
{
    json_t *replies = json_object_get(node, "replies");
    CHECK_INT(id_of(node), id);
    CHECK(json_is_array(replies));
    CHECK_INT(json_array_size(replies), n);
    return replies;
}

static void test_comment_tree(void)
{
    struct nd_store *st = open_memory();
    int64_t a = create_at(st, T0, "", "", false);
    int64_t b = create_at(st, T0, "", "", false);
    int64_t t1 = comment(st, a, 0);
    int64_t t2 = comment(st, a, 0);
    int64_t r1 = comment(st, a, t1);
    comment(st, b, 0); /* another article's comment in between */
    int64_t r2 = comment(st, a, t1);
    int64_t r1a = comment(st, a, r1);
    int64_t t3 = comment(st, a, 0);
    int64_t r3 = comment(st, a, t3);
    int64_t r1b = comment(st, a, r1);

    json_t *items = NULL;
    char *next = NULL;
    CHECK_INT(nd_store_comment_list(st, a, true, 2, NULL, &items, &next), ND_OK);
    CHECK_INT(json_array_size(items), 2);
    json_t *t1_replies = expect_node(json_array_get(items, 0), t1, 2);
    json_t *r1_replies = expect_node(json_array_get(t1_replies, 0), r1, 2);
    expect_node(json_array_get(r1_replies, 0), r1a, 0);
    expect_node(json_array_get(r1_replies, 1), r1b, 0);
    expect_node(json_array_get(t1_replies, 1), r2, 0);
    expect_node(json_array_get(items, 1), t2, 0);
    CHECK(next != NULL);
    json_decref(items);

    json_t *page2 = NULL;
    char *last = NULL;
    CHECK_INT(nd_store_comment_list(st, a, true, 2, next, &page2, &last), ND_OK);
    CHECK_INT(json_array_size(page2), 1);
    json_t *t3_replies = expect_node(json_array_get(page2, 0), t3, 1);
    expect_node(json_array_get(t3_replies, 0), r3, 0);
    CHECK(last == NULL);
    json_decref(page2);
    free(next);
    nd_store_close(st);
}

static void test_comment_tree_deep(void)
{
    enum { DEPTH = 10000 };
    struct nd_store *st = open_memory();
    int64_t a = create_at(st, T0, "", "", false);
    int64_t parent = 0, middle = 0;
    for (int i = 0; i < DEPTH; i++) {
        parent = comment(st, a, parent);
        if (i == DEPTH / 2)
            middle = parent;
    }
    CHECK_INT(nd_store_comment_delete(st, middle), ND_OK);

    json_t *items = NULL;
    char *next = NULL;
    CHECK_INT(nd_store_comment_list(st, a, true, 10, NULL, &items, &next), ND_OK);
    CHECK_INT(json_array_size(items), 1);
    int depth = 0;
    int64_t prev = 0;
    for (json_t *node = json_array_get(items, 0); node;
         node = json_array_get(json_object_get(node, "replies"), 0)) {
        CHECK(id_of(node) > prev);
        prev = id_of(node);
        depth++;
    }
    CHECK_INT(depth, DEPTH - 1);
    CHECK_INT(prev, parent);
    json_decref(items);

    CHECK_INT(comment_count(st, a), DEPTH - 1);
    CHECK_INT(nd_store_article_delete(st, a), ND_OK);
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_get(st, parent, &c), ND_ERR_NOT_FOUND);
    nd_store_close(st);
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
    CHECK_INT(sqlite3_exec(st->db, "PRAGMA query_only=ON", NULL, NULL, NULL), SQLITE_OK);
    struct nd_article_fields f = fields("blocked", T0);
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_ERR_READONLY);
    CHECK_INT(nd_store_article_delete(st, a), ND_ERR_READONLY);
    /* Reads still work, and the failed writes left no transaction open. */
    CHECK_INT(nd_store_article_get(st, a, &art), ND_OK);
    json_decref(art);
    CHECK(sqlite3_get_autocommit(st->db));
    nd_store_close(st);
}

static void test_busy(void)
{
    char dir[512], path[600];
    CHECK(temp_db(dir, sizeof dir, path, sizeof path));
    struct nd_store_options quick = {ND_SYNC_NORMAL, 50};
    struct nd_store *holder = NULL, *waiter = NULL;
    CHECK_INT(nd_store_open(path, &quick, &holder), ND_OK);
    CHECK_INT(nd_store_open(path, &quick, &waiter), ND_OK);
    CHECK_INT(nd_store_begin(holder), ND_OK);
    struct nd_article_fields f = fields("waiting", T0);
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(waiter, &f, &art), ND_ERR_BUSY);
    CHECK_INT(nd_store_key_insert(waiter, "k", "KKKKKKKKKKKK", (const unsigned char *)"h", 1),
              ND_ERR_BUSY);
    /* Readers are not blocked by a writer in WAL mode. */
    CHECK_INT(nd_store_ping(waiter), ND_OK);
    nd_store_rollback(holder);
    CHECK_INT(nd_store_article_create(waiter, &f, &art), ND_OK);
    json_decref(art);
    nd_store_close(holder);
    nd_store_close(waiter);
    remove_db(dir, path);
}

int main(void)
{
    /* Expected failures log at error level; keep the test output readable. */
    nd_log_set_level(ND_LOG_ERROR);
    return CHECK_RUN(CHECK_CASE(test_open_memory), CHECK_CASE(test_open_bad_path),
                     CHECK_CASE(test_migrations_rerun), CHECK_CASE(test_concurrent_openers),
                     CHECK_CASE(test_article_create_get), CHECK_CASE(test_article_draft_and_source),
                     CHECK_CASE(test_slug_conflict_given), CHECK_CASE(test_slug_derived),
                     CHECK_CASE(test_slug_derived_long), CHECK_CASE(test_slug_derived_exhausted),
                     CHECK_CASE(test_article_update), CHECK_CASE(test_article_delete),
                     CHECK_CASE(test_find_import), CHECK_CASE(test_list_order_ties),
                     CHECK_CASE(test_list_filters), CHECK_CASE(test_list_pagination_with_inserts),
                     CHECK_CASE(test_list_exact_page), CHECK_CASE(test_list_bad_input),
                     CHECK_CASE(test_comment_create), CHECK_CASE(test_comment_count),
                     CHECK_CASE(test_comment_delete_reattach), CHECK_CASE(test_comment_list_flat),
                     CHECK_CASE(test_comment_tree), CHECK_CASE(test_comment_tree_deep),
                     CHECK_CASE(test_keys), CHECK_CASE(test_readonly), CHECK_CASE(test_busy));
}
