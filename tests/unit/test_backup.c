/*
 * test_backup.c: whole-database copies (server/store_backup.c) and the
 * import of export records (server/import_jsonl.c).
 *
 * The export is checked record by record, then round-tripped: a store
 * exported, imported into an empty store and exported again gives the same
 * bytes, and every article and comment list reads the same. The online
 * backup runs on files in a temporary directory; its progress callback
 * writes to the source between steps through a second connection, which
 * shows that the copy is the database as it was when the copy began, and
 * that a write elsewhere does not make the copy start over.
 *
 * In unit-pg the export and import run against PostgreSQL
 * (backend_fixture.h); the online backup is SQLite's file copy alone.
 */
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "db_fixture.h"
#include "newsd/import.h"
#include "newsd/store.h"

static const struct nd_store_options options = {ND_SYNC_OFF, 2000, 0, 0, false};

/* A store on path; ":memory:" is a store of its own (a new database on PostgreSQL). */
static struct nd_store *open_db(const char *path)
{
    if (strcmp(path, ":memory:") == 0)
        return fresh_store(&options);
    struct nd_store *st = NULL;
    CHECK_INT(nd_store_open(path, &options, &st), ND_OK);
    return st;
}

static int64_t id_of(const json_t *obj)
{
    return (int64_t)json_integer_value(json_object_get(obj, "id"));
}

static const char *str_of(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* Creates an article; returns its id (0 on failure). */
static int64_t article(struct nd_store *st, const char *slug, const char *title, bool draft,
                       const char *const *tags, size_t ntags)
{
    struct nd_article_fields f = {.slug = slug,
                                  .title = title,
                                  .summary = "A summary",
                                  .body = "The body,\nwith a second line.",
                                  .author = "Ana",
                                  .category = "Harbour",
                                  .tags = tags,
                                  .ntags = ntags,
                                  .source_url = draft ? NULL : "https://example.com/a",
                                  .draft = draft,
                                  .published_at = 1700000000};
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_OK);
    int64_t id = art ? id_of(art) : 0;
    json_decref(art);
    return id;
}

/* Posts a comment (parent 0: none); returns its id. */
static int64_t comment(struct nd_store *st, int64_t art, int64_t parent, bool pending,
                       const char *body)
{
    struct nd_comment_fields f = {art, parent != 0, parent, "reader", body};
    json_t *c = NULL;
    CHECK_INT(nd_store_comment_post(st, &f, pending ? ND_COMMENT_PENDING : 0, &c), ND_OK);
    int64_t id = c ? id_of(c) : 0;
    json_decref(c);
    return id;
}

/*
 * A store with what an export must carry: a draft, tags, unicode, a thread
 * three levels deep whose middle comment was deleted, a pending comment.
 * *thread gets the ids of its comments (top, middle (deleted), reply,
 * pending).
 */
static void fill(struct nd_store *st, int64_t thread[4])
{
    static const char *const tags[] = {"harbour", "nacht", "Ünïcode"};
    int64_t first = article(st, "lighthouse", "Lighthouse “keepers” ☀", false, tags, 3);
    article(st, "draft-plan", "A draft plan", true, NULL, 0);
    thread[0] = comment(st, first, 0, false, "Top comment");
    thread[1] = comment(st, first, thread[0], false, "Middle comment");
    thread[2] = comment(st, first, thread[1], false, "Reply to the middle, ünïcode ✓");
    thread[3] = comment(st, first, thread[2], true, "Waiting for approval");
    CHECK_INT(nd_store_comment_delete(st, thread[1]), ND_OK);
}

/* Collects every exported record into an array (ctx). */
static enum nd_err collect(void *ctx, const json_t *record)
{
    return json_array_append(ctx, (json_t *)record) == 0 ? ND_OK : ND_ERR_NOMEM;
}

/* Appends one record as a compact JSON line to the growing text in ctx. */
struct text {
    char *buf;
    size_t len;
};

static enum nd_err to_text(void *ctx, const json_t *record)
{
    struct text *t = ctx;
    char *line = json_dumps(record, JSON_COMPACT);
    if (!line)
        return ND_ERR_NOMEM;
    size_t n = strlen(line);
    char *grown = realloc(t->buf, t->len + n + 2);
    if (grown) {
        memcpy(grown + t->len, line, n);
        grown[t->len + n] = '\n';
        grown[t->len + n + 1] = '\0';
        t->buf = grown;
        t->len += n + 1;
    }
    free(line);
    return grown ? ND_OK : ND_ERR_NOMEM;
}

static char *export_text(struct nd_store *st, struct nd_export_stats *stats)
{
    struct text t = {NULL, 0};
    CHECK_INT(nd_store_export(st, to_text, &t, stats), ND_OK);
    return t.buf;
}

static void test_export_records(void)
{
    struct nd_store *st = open_db(":memory:");
    int64_t thread[4];
    struct nd_export_stats stats;
    json_t *records = json_array();
    fill(st, thread);
    CHECK_INT(nd_store_export(st, collect, records, &stats), ND_OK);
    CHECK_INT(stats.articles, 2);
    CHECK_INT(stats.comments, 3);
    CHECK_INT(json_array_size(records), 6);
    json_t *header = json_array_get(records, 0);
    CHECK_STR(str_of(header, "type"), "newsd-export");
    CHECK_INT(json_integer_value(json_object_get(header, "version")), 1);

    json_t *first = json_array_get(records, 1), *draft = json_array_get(records, 2);
    CHECK_STR(str_of(first, "type"), "article");
    CHECK_STR(str_of(first, "title"), "Lighthouse “keepers” ☀");
    CHECK_STR(str_of(first, "body"), "The body,\nwith a second line.");
    CHECK_INT(json_array_size(json_object_get(first, "tags")), 3);
    CHECK_STR(json_string_value(json_array_get(json_object_get(first, "tags"), 2)), "Ünïcode");
    CHECK_STR(str_of(first, "source_url"), "https://example.com/a");
    CHECK_STR(str_of(first, "published_at"), "2023-11-14T22:13:20Z");
    CHECK(json_is_null(json_object_get(first, "import_key")));
    CHECK(json_object_get(first, "comment_count") == NULL);
    CHECK_STR(str_of(draft, "status"), "draft");
    CHECK(json_is_null(json_object_get(draft, "source_url")));

    /* The deleted middle comment is gone and its reply hangs under the top. */
    json_t *top = json_array_get(records, 3), *reply = json_array_get(records, 4),
           *pending = json_array_get(records, 5);
    CHECK_INT(id_of(top), thread[0]);
    CHECK(json_is_null(json_object_get(top, "parent_id")));
    CHECK_INT(id_of(reply), thread[2]);
    CHECK_INT(json_integer_value(json_object_get(reply, "parent_id")), thread[0]);
    CHECK_INT(id_of(pending), thread[3]);
    CHECK_STR(str_of(pending, "status"), "pending");
    CHECK_INT(json_integer_value(json_object_get(pending, "parent_id")), thread[2]);
    json_decref(records);
    nd_store_close(st);
}

/* Every comment of article id (status any, flat or tree) as one array. */
static json_t *comments_of(struct nd_store *st, int64_t id, enum nd_comment_filter which, bool tree)
{
    json_t *items = NULL;
    char *next = NULL;
    CHECK_INT(nd_store_comment_list_filtered(st, id, which, tree, 100, NULL, &items, &next), ND_OK);
    CHECK(next == NULL);
    free(next);
    return items ? items : json_array();
}

/* Articles ids 1..n and all their comment views read the same in a and b. */
static void check_same_store(struct nd_store *a, struct nd_store *b, int64_t n)
{
    for (int64_t id = 1; id <= n; id++) {
        json_t *x = NULL, *y = NULL;
        CHECK_INT(nd_store_article_get(a, id, &x), ND_OK);
        CHECK_INT(nd_store_article_get(b, id, &y), ND_OK);
        CHECK(x && y && json_equal(x, y));
        json_decref(x);
        json_decref(y);
        for (int which = ND_COMMENTS_VISIBLE; which <= ND_COMMENTS_ANY; which++) {
            for (int tree = 0; tree <= 1; tree++) {
                x = comments_of(a, id, (enum nd_comment_filter)which, tree);
                y = comments_of(b, id, (enum nd_comment_filter)which, tree);
                CHECK(json_equal(x, y));
                json_decref(x);
                json_decref(y);
            }
        }
    }
}

static void test_round_trip(void)
{
    struct nd_store *a = open_db(":memory:"), *b = open_db(":memory:");
    struct nd_import_jsonl_stats stats;
    int64_t thread[4];
    fill(a, thread);
    /* an edit: the article's updated_at moves away from created_at */
    json_t *edited = NULL;
    static const char *const tags[] = {"changed"};
    struct nd_article_fields f = {.slug = "draft-plan-2",
                                  .title = "An edited plan",
                                  .summary = "",
                                  .body = "New body",
                                  .author = "",
                                  .category = "",
                                  .tags = tags,
                                  .ntags = 1,
                                  .draft = false,
                                  .published_at = 1800000000,
                                  .import_key = "0123456789abcdef0123456789abcdef0123456789abcdef"
                                                "0123456789abcdef"};
    CHECK_INT(nd_store_article_update(a, 2, &f, &edited), ND_OK);
    json_decref(edited);

    char *first = export_text(a, NULL);
    CHECK_INT(nd_import_jsonl(b, first, strlen(first), 0, NULL, NULL, &stats), ND_OK);
    CHECK_INT(stats.articles_created, 2);
    CHECK_INT(stats.comments_created, 3);
    CHECK_INT(stats.lines_refused, 0);
    char *second = export_text(b, NULL);
    CHECK_STR(second, first);
    check_same_store(a, b, 2);

    /* The restored store goes on as the original would: the next ids follow. */
    int64_t next_a = comment(a, 1, 0, false, "after"), next_b = comment(b, 1, 0, false, "after");
    CHECK_INT(next_b, next_a);
    free(first);
    free(second);
    nd_store_close(a);
    nd_store_close(b);
}

struct refusals {
    size_t n;
    char why[16][256];
    unsigned long line[16];
};

static void note(void *ctx, unsigned long line, const char *why)
{
    struct refusals *r = ctx;
    if (r->n < 16) {
        snprintf(r->why[r->n], sizeof r->why[r->n], "%s", why);
        r->line[r->n++] = line;
    }
}

#define HEADER "{\"type\":\"newsd-export\",\"version\":1}\n"
#define ARTICLE(id, slug, extra)                                                                   \
    "{\"type\":\"article\",\"id\":" #id ",\"slug\":\"" slug "\",\"title\":\"T\",\"summary\":"      \
    "\"\",\"body\":\"B\",\"author\":\"\",\"category\":\"\",\"tags\":[],\"source_url\":null,"       \
    "\"status\":\"published\",\"published_at\":\"2024-01-01T00:00:00Z\",\"created_at\":"           \
    "\"2024-01-01T00:00:00Z\",\"updated_at\":\"2024-01-02T00:00:00Z\"" extra "}\n"
#define COMMENT(id, art, parent, extra)                                                            \
    "{\"type\":\"comment\",\"id\":" #id ",\"article_id\":" #art ",\"parent_id\":" #parent          \
    ",\"author\":\"a\",\"body\":\"b\",\"status\":\"visible\",\"created_at\":"                      \
    "\"2024-01-03T00:00:00Z\"" extra "}\n"

struct record_case {
    const char *line;
    const char *why;
};

/* Each line follows HEADER ARTICLE(1, "one") COMMENT(5, 1, null); one refusal each. */
static const struct record_case record_cases[] = {
    {ARTICLE(1, "other", ""), "id: 1 is taken"},
    {ARTICLE(2, "one", ""), "slug: \"one\" is taken"},
    {ARTICLE(2, "two", ",\"comment_count\":3"), "comment_count: is not allowed"},
    {ARTICLE(2, "Two Words", ""), "slug: must be lower-case"},
    {ARTICLE(2, "two", ",\"import_key\":\"xyz\""), "import_key: must be 64"},
    {"{\"type\":\"article\",\"id\":2,\"slug\":\"two\",\"title\":\"T\",\"body\":\"B\"}\n",
     "summary: is required in an export record; author: is required"},
    {"{\"type\":\"article\",\"id\":2,\"slug\":\"two\",\"title\":\"T\",\"summary\":\"\","
     "\"body\":\"B\",\"author\":\"\",\"category\":\"\",\"tags\":[\"t0\",\"t1\",\"t2\",\"t3\","
     "\"t4\",\"t5\",\"t6\",\"t7\",\"t8\",\"t9\",\"t10\",\"t11\",\"t12\",\"t13\",\"t14\",\"t15\","
     "\"t16\",\"t17\",\"t18\",\"t19\",\"t20\"],"
     "\"source_url\":null,\"status\":\"published\",\"published_at\":\"2024-01-01T00:00:00Z\","
     "\"created_at\":\"2024-01-01T00:00:00Z\",\"updated_at\":\"2024-01-02T00:00:00Z\"}\n",
     "tags: must be an array of at most 20"},
    {COMMENT(5, 1, null, ""), "id: 5 is taken"},
    {COMMENT(6, 9, null, ""), "article_id: no such article"},
    {COMMENT(6, 1, 7, ""), "parent_id: is not an earlier comment"},
    {COMMENT(6, 1, 5, ",\"article_slug\":\"one\""), "article_slug: is not allowed"},
    {"{\"type\":\"comment\",\"id\":6,\"article_id\":1,\"parent_id\":null,\"author\":\"a\","
     "\"body\":\"b\",\"status\":\"hidden\",\"created_at\":\"yesterday\"}\n",
     "status: must be \"visible\" or \"pending\"; created_at: must be an RFC 3339"},
};

static void test_record_refusals(void)
{
    size_t ncases = sizeof record_cases / sizeof record_cases[0];
    for (size_t i = 0; i < ncases; i++) {
        struct nd_store *st = open_db(":memory:");
        struct refusals r = {0};
        struct nd_import_jsonl_stats stats;
        char text[4096];
        snprintf(text, sizeof text, "%s%s%s%s%s", HEADER, ARTICLE(1, "one", ""),
                 COMMENT(5, 1, null, ""), record_cases[i].line, COMMENT(8, 1, 5, ""));
        CHECK_INT(nd_import_jsonl(st, text, strlen(text), 1, note, &r, &stats), ND_OK);
        CHECK_INT(r.n, 1);
        CHECK_INT(r.line[0], 4);
        if (r.n != 1 || !strstr(r.why[0], record_cases[i].why)) {
            printf("# case %zu: why \"%s\", want \"%s\"\n", i, r.n ? r.why[0] : "(none)",
                   record_cases[i].why);
            CHECK(false);
        }
        CHECK_INT(stats.articles_created, 1);
        CHECK_INT(stats.comments_created, 2);
        nd_store_close(st);
    }
}

/* Comments of an article record that was refused are refused too, not put elsewhere. */
static void test_comments_of_refused_article(void)
{
    struct nd_store *st = open_db(":memory:");
    struct refusals r = {0};
    struct nd_import_jsonl_stats stats;
    CHECK(article(st, "resident", "Already here", false, NULL, 0) == 1);
    const char *text = HEADER ARTICLE(1, "incoming", "") COMMENT(1, 1, null, "");
    CHECK_INT(nd_import_jsonl(st, text, strlen(text), 0, note, &r, &stats), ND_OK);
    CHECK_INT(r.n, 2);
    CHECK(strstr(r.why[0], "id: 1 is taken") != NULL);
    CHECK(strstr(r.why[1], "article_id: the record of article 1 was refused") != NULL);
    json_t *list = comments_of(st, 1, ND_COMMENTS_ANY, false);
    CHECK_INT(json_array_size(list), 0);
    json_decref(list);
    nd_store_close(st);
}

/* The header: first line only; another version stops the import. */
static void test_header(void)
{
    struct nd_store *st = open_db(":memory:");
    struct refusals r = {0};
    const char *late = "{\"type\":\"article\",\"title\":\"x\",\"body\":\"y\"}\n" HEADER;
    CHECK_INT(nd_import_jsonl(st, late, strlen(late), 0, note, &r, NULL), ND_ERR_INVALID);
    CHECK(r.n == 1 && strstr(r.why[0], "must be the first line") != NULL);
    memset(&r, 0, sizeof r);
    const char *future = "{\"type\":\"newsd-export\",\"version\":2}\n" ARTICLE(5, "five", "");
    CHECK_INT(nd_import_jsonl(st, future, strlen(future), 0, note, &r, NULL), ND_ERR_INVALID);
    CHECK(r.n == 1 && strstr(r.why[0], "reads export version 1") != NULL);
    json_t *art = NULL;
    CHECK_INT(nd_store_article_get(st, 5, &art), ND_ERR_NOT_FOUND);
    /* two exports joined end to end read as one */
    memset(&r, 0, sizeof r);
    const char *joined = HEADER ARTICLE(5, "five", "") HEADER ARTICLE(6, "six", "");
    CHECK_INT(nd_import_jsonl(st, joined, strlen(joined), 0, note, &r, NULL), ND_OK);
    CHECK_INT(r.n, 0);
    CHECK_INT(nd_store_article_get(st, 6, &art), ND_OK);
    CHECK_STR(str_of(art, "updated_at"), "2024-01-02T00:00:00Z");
    json_decref(art);
    nd_store_close(st);
}

/* ---- file databases ---------------------------------------------------- */

static char dir[] = "/tmp/newsd-test-backup-XXXXXX";

static void path_in_dir(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

/* Writes a second article through another connection during the export. */
struct meddler {
    struct nd_store *other;
    json_t *records;
    int calls;
};

static enum nd_err meddle_export(void *ctx, const json_t *record)
{
    struct meddler *m = ctx;
    if (m->calls++ == 1) {
        article(m->other, "written-meanwhile", "Written meanwhile", false, NULL, 0);
        comment(m->other, 1, 0, false, "also meanwhile");
    }
    return collect(m->records, record);
}

/* The export is one snapshot: what others write meanwhile is not in it. */
static void test_export_snapshot(void)
{
    char path[600];
    if (on_postgres())
        pg_new_db(true, path, sizeof path); /* both stores on one database */
    else
        path_in_dir(path, sizeof path, "snapshot.db");
    struct nd_store *st = open_db(path), *other = open_db(path);
    int64_t thread[4];
    fill(st, thread);
    struct meddler m = {other, json_array(), 0};
    struct nd_export_stats stats;
    CHECK_INT(nd_store_export(st, meddle_export, &m, &stats), ND_OK);
    CHECK_INT(stats.articles, 2);
    CHECK_INT(stats.comments, 3);
    CHECK_INT(json_array_size(m.records), 6);
    json_decref(m.records);
    /* the export's read transaction is over: this connection writes again */
    CHECK(article(st, "after-export", "After the export", false, NULL, 0) == 4);
    nd_store_close(other);
    nd_store_close(st);
    unlink(path);
}

static enum nd_err fail_third(void *ctx, const json_t *record)
{
    int *calls = ctx;
    (void)record;
    return ++*calls == 3 ? ND_ERR_IO : ND_OK;
}

static void test_export_stops_on_error(void)
{
    struct nd_store *st = open_db(":memory:");
    int64_t thread[4];
    int calls = 0;
    struct nd_export_stats stats;
    fill(st, thread);
    CHECK_INT(nd_store_export(st, fail_third, &calls, &stats), ND_ERR_IO);
    CHECK_INT(calls, 3);
    CHECK_INT(stats.articles, 1);
    CHECK(article(st, "still-writable", "Still writable", false, NULL, 0) == 3);
    nd_store_close(st);
}

struct backup_watch {
    struct nd_store *other;
    unsigned steps;
    unsigned last_done;
    bool went_back;
};

/* After the first step, writes an article through another connection. */
static void watch_progress(void *ctx, unsigned done, unsigned total)
{
    struct backup_watch *w = ctx;
    (void)total;
    if (done < w->last_done)
        w->went_back = true;
    w->last_done = done;
    if (w->steps++ == 0)
        article(w->other, "written-during-backup", "Written during the backup", false, NULL, 0);
}

static int64_t count_articles(const char *path)
{
    struct nd_store *st = open_db(path);
    json_t *items = NULL;
    char *next = NULL;
    struct nd_article_filter all = {.status = ND_STATUS_ANY};
    CHECK_INT(nd_store_article_list(st, &all, 100, NULL, &items, &next), ND_OK);
    int64_t n = (int64_t)json_array_size(items);
    json_decref(items);
    free(next);
    nd_store_close(st);
    return n;
}

static void test_backup_is_a_snapshot(void)
{
    SQLITE_ONLY("nd_store_backup copies a SQLite file");
    char src[256], copy[256];
    path_in_dir(src, sizeof src, "live.db");
    path_in_dir(copy, sizeof copy, "copy.db");
    struct nd_store *st = open_db(src), *other = open_db(src);
    char slug[64];
    for (int i = 0; i < 40; i++) {
        snprintf(slug, sizeof slug, "article-number-%d", i);
        article(st, slug, "An article", false, NULL, 0);
    }
    struct backup_watch w = {other, 0, 0, false};
    struct nd_backup_options opts = {1, 1000, watch_progress, &w};
    unsigned pages = 0;
    char why[256] = "";
    CHECK_INT(nd_store_backup(src, copy, &opts, &pages, why, sizeof why), ND_OK);
    CHECK(pages > 10);
    CHECK_INT(w.steps, pages); /* one page a step, never started over */
    CHECK(!w.went_back);
    CHECK_INT(count_articles(copy), 40);
    CHECK_INT(count_articles(src), 41);
    nd_store_close(other);
    nd_store_close(st);
    unlink(src);
    unlink(copy);
}

/* A database with n articles in rollback-journal mode, as on a file system without WAL. */
static void make_journal_db(const char *path, int n)
{
    struct nd_store *st = open_db(path);
    char slug[64];
    sqlite3 *db = NULL;
    for (int i = 0; i < n; i++) {
        snprintf(slug, sizeof slug, "journal-article-%d", i);
        article(st, slug, "An article", false, NULL, 0);
    }
    nd_store_close(st);
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* Another process's writer: takes the lock after the first step, lets go hold_ms later. */
struct locker {
    sqlite3 *db;
    pthread_t thread;
    bool started;
    unsigned hold_ms;
};

static void *release_later(void *arg)
{
    struct locker *l = arg;
    usleep(l->hold_ms * 1000);
    sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

static void lock_after_first_step(void *ctx, unsigned done, unsigned total)
{
    struct locker *l = ctx;
    (void)done, (void)total;
    if (l->started)
        return;
    CHECK_INT(sqlite3_exec(l->db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    l->started = pthread_create(&l->thread, NULL, release_later, l) == 0;
}

/* Backs src up while another connection locks it for hold_ms after the first step. */
static enum nd_err backup_with_locker(const char *src, const char *copy, unsigned hold_ms,
                                      unsigned busy_ms, char *why, size_t whylen, double *secs)
{
    struct locker l = {NULL, 0, false, hold_ms};
    struct nd_backup_options opts = {1, busy_ms, lock_after_first_step, &l};
    struct timespec t0, t1;
    unsigned pages = 0;
    CHECK_INT(sqlite3_open(src, &l.db), SQLITE_OK);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    enum nd_err err = nd_store_backup(src, copy, &opts, &pages, why, whylen);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(l.started);
    if (l.started)
        pthread_join(l.thread, NULL);
    sqlite3_close(l.db);
    *secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return err;
}

/* Without WAL: a locked source is waited for in short sleeps, up to busy_timeout_ms. */
static void test_backup_waits_for_a_busy_source(void)
{
    SQLITE_ONLY("nd_store_backup copies a SQLite file");
    char src[256], copy[256], why[256] = "";
    double secs = 0;
    path_in_dir(src, sizeof src, "journal.db");
    path_in_dir(copy, sizeof copy, "journal-copy.db");
    make_journal_db(src, 20);
    CHECK_INT(backup_with_locker(src, copy, 300, 5000, why, sizeof why, &secs), ND_OK);
    CHECK(secs >= 0.25);
    CHECK_INT(count_articles(copy), 20);
    unlink(copy);
    CHECK_INT(backup_with_locker(src, copy, 600, 100, why, sizeof why, &secs), ND_ERR_BUSY);
    CHECK(strstr(why, "stayed locked for 100 ms") != NULL);
    CHECK(secs < 0.6);
    unlink(src);
    unlink(copy);
}

/* Writes to the source through another connection after every step. */
static void write_every_step(void *ctx, unsigned done, unsigned total)
{
    (void)done, (void)total;
    CHECK_INT(sqlite3_exec(ctx, "UPDATE articles SET comment_count = comment_count + 1", NULL, NULL,
                           NULL),
              SQLITE_OK);
}

/* Without WAL every write elsewhere restarts the copy; it does not go on for ever. */
static void test_backup_gives_up_when_restarted_forever(void)
{
    SQLITE_ONLY("nd_store_backup copies a SQLite file");
    char src[256], copy[256], why[256] = "";
    unsigned pages = 0;
    sqlite3 *writer = NULL;
    path_in_dir(src, sizeof src, "restless.db");
    path_in_dir(copy, sizeof copy, "restless-copy.db");
    make_journal_db(src, 5);
    CHECK_INT(sqlite3_open(src, &writer), SQLITE_OK);
    struct nd_backup_options opts = {1, 1000, write_every_step, writer};
    CHECK_INT(nd_store_backup(src, copy, &opts, &pages, why, sizeof why), ND_ERR_BUSY);
    CHECK(strstr(why, "kept changing") != NULL);
    sqlite3_close(writer);
    unlink(src);
    unlink(copy);
}

static void test_backup_errors(void)
{
    SQLITE_ONLY("nd_store_backup copies a SQLite file");
    char missing[256], text[256], plain[256], copy[256], nowhere[256], why[256];
    struct nd_backup_options opts = {0, 100, NULL, NULL};
    unsigned pages = 7;
    path_in_dir(missing, sizeof missing, "missing.db");
    path_in_dir(text, sizeof text, "text.db");
    path_in_dir(plain, sizeof plain, "plain.db");
    path_in_dir(copy, sizeof copy, "copy.db");
    path_in_dir(nowhere, sizeof nowhere, "no/such/dir/copy.db");
    CHECK_INT(nd_store_backup(missing, copy, &opts, &pages, why, sizeof why), ND_ERR_NOT_FOUND);
    CHECK(strstr(why, "there is no database at") != NULL);
    CHECK_INT(access(missing, F_OK), -1); /* not created */

    FILE *f = fopen(text, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("this is not a database, but it is long enough to have a header of sorts\n", f);
        fclose(f);
    }
    CHECK_INT(nd_store_backup(text, copy, &opts, &pages, why, sizeof why), ND_ERR_INVALID);
    CHECK(strstr(why, "not a SQLite database") != NULL);

    struct nd_store *st = open_db(plain);
    nd_store_close(st);
    CHECK_INT(nd_store_backup(plain, nowhere, &opts, &pages, why, sizeof why), ND_ERR_IO);
    CHECK(strstr(why, "cannot write") != NULL);
    CHECK_INT(nd_store_backup(":memory:", copy, &opts, &pages, why, sizeof why), ND_ERR_INVALID);
    CHECK_INT(pages, 7); /* untouched on failure */
    unlink(text);
    unlink(plain);
    unlink(copy);
}

static void test_backup_refuses_other_databases(void)
{
    SQLITE_ONLY("nd_store_backup copies a SQLite file");
    char other[256], copy[256], why[256];
    struct nd_backup_options opts = {0, 100, NULL, NULL};
    unsigned pages = 0;
    sqlite3 *db = NULL;
    path_in_dir(other, sizeof other, "other.db");
    path_in_dir(copy, sizeof copy, "copy2.db");
    CHECK_INT(sqlite3_open(other, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "CREATE TABLE notes (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    CHECK_INT(nd_store_backup(other, copy, &opts, &pages, why, sizeof why), ND_ERR_INVALID);
    CHECK(strstr(why, "is not a newsd database") != NULL);
    unlink(other);
    unlink(copy);
}

int main(void)
{
    const char *skip = backend_setup();
    if (skip)
        return nd_check_skip_all(skip);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int rc =
        CHECK_RUN(CHECK_CASE(test_export_records), CHECK_CASE(test_round_trip),
                  CHECK_CASE(test_record_refusals), CHECK_CASE(test_comments_of_refused_article),
                  CHECK_CASE(test_header), CHECK_CASE(test_export_snapshot),
                  CHECK_CASE(test_export_stops_on_error), CHECK_CASE(test_backup_is_a_snapshot),
                  CHECK_CASE(test_backup_waits_for_a_busy_source),
                  CHECK_CASE(test_backup_gives_up_when_restarted_forever),
                  CHECK_CASE(test_backup_errors), CHECK_CASE(test_backup_refuses_other_databases));
    rmdir(dir);
    return rc;
}
