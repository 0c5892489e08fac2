/*
 * test_import_jsonl.c: the JSON-lines bulk importer (server/import_jsonl.c)
 * and the store's batches it runs in (nd_store_batch_begin/end).
 *
 * Every case imports into an in-memory database with the real migrations and
 * reads the result back through the store. Refused lines are collected by
 * the refusal callback, so each case checks both which line was refused and
 * the sentence saying why.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "db_fixture.h"
#include "import_fixture.h"
#include "newsd/import.h"
#include "newsd/log.h"
#include "newsd/store.h"

static const struct nd_store_options options = {ND_SYNC_NORMAL, 1000, 0, 0, false};

/* A store of its own (":memory:", or a new PostgreSQL database: db_fixture.h). */
static struct nd_store *open_memory(void)
{
    return fresh_store(&options);
}

/* Imports text (a C string) with batch_rows, collecting refusals into *r. */
static enum nd_err import_text(struct nd_store *st, const char *text, unsigned batch_rows,
                               struct refusals *r, struct nd_import_jsonl_stats *stats)
{
    memset(r, 0, sizeof *r);
    return nd_import_jsonl(st, text, strlen(text), batch_rows, collect, r, stats);
}

/* The id of the article with slug, or 0 (a failed check) when there is none. */
static int64_t article_id(struct nd_store *st, const char *slug)
{
    json_t *article = NULL;
    int64_t id = 0;
    CHECK_INT(nd_store_article_get_by_slug(st, slug, &article), ND_OK);
    if (article)
        id = (int64_t)json_integer_value(json_object_get(article, "id"));
    json_decref(article);
    return id;
}

/* Every comment of article id, oldest first (a new array). */
static json_t *comments_of(struct nd_store *st, int64_t id)
{
    json_t *items = NULL;
    char *next = NULL;
    CHECK_INT(nd_store_comment_list(st, id, false, 100, NULL, &items, &next), ND_OK);
    CHECK(next == NULL);
    free(next);
    return items ? items : json_array();
}

/* How many comments the article with slug has. */
static size_t comment_count(struct nd_store *st, const char *slug)
{
    json_t *comments = comments_of(st, article_id(st, slug));
    size_t n = json_array_size(comments);
    json_decref(comments);
    return n;
}

static const char *string_of(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static long long int_of(const json_t *obj, const char *key)
{
    return (long long)json_integer_value(json_object_get(obj, key));
}

#define HARBOUR                                                                                    \
    "{\"type\":\"article\",\"title\":\"  Harbour lights return  \",\"slug\":\"harbour\","          \
    "\"body\":\"The lights are back.\\n\\nEveryone came.\",\"author\":\"Ann\","                    \
    "\"category\":\"Local\",\"tags\":[\"sea\",\"lights\"],"                                        \
    "\"published_at\":\"2019-05-06T07:08:09Z\"}\n"

static void test_articles_and_threaded_comments(void)
{
    struct nd_store *st = open_memory();
    struct refusals r;
    struct nd_import_jsonl_stats stats;
    const char *text = HARBOUR
        "{\"type\":\"comment\",\"article_slug\":\"harbour\",\"author\":\"bo\",\"body\":\"first\"}\n"
        "{\"type\":\"comment\",\"article_slug\":\"harbour\",\"author\":\"cy\",\"body\":\"second\"}"
        "\n"
        "{\"type\":\"comment\",\"article_slug\":\"harbour\",\"author\":\"di\",\"body\":\"re 2\","
        "\"parent_index\":1}\n";
    CHECK_INT(import_text(st, text, 0, &r, &stats), ND_OK);
    CHECK_INT(r.n, 0);
    CHECK_INT(stats.articles_created, 1);
    CHECK_INT(stats.articles_existing, 0);
    CHECK_INT(stats.comments_created, 3);
    CHECK_INT(stats.lines_refused, 0);

    json_t *article = NULL;
    CHECK_INT(nd_store_article_get_by_slug(st, "harbour", &article), ND_OK);
    CHECK_STR(string_of(article, "title"), "Harbour lights return"); /* trimmed as by the API */
    CHECK_STR(string_of(article, "summary"), "The lights are back.");
    CHECK_STR(string_of(article, "published_at"), "2019-05-06T07:08:09Z");
    CHECK_STR(string_of(article, "category"), "Local");
    CHECK_INT(json_array_size(json_object_get(article, "tags")), 2);
    CHECK_INT(int_of(article, "comment_count"), 3);

    json_t *comments = comments_of(st, int_of(article, "id"));
    CHECK_INT(json_array_size(comments), 3);
    json_t *second = json_array_get(comments, 1), *reply = json_array_get(comments, 2);
    CHECK_STR(string_of(second, "body"), "second");
    CHECK_STR(string_of(reply, "body"), "re 2");
    CHECK_INT(int_of(reply, "parent_id"), int_of(second, "id"));
    CHECK(json_is_null(json_object_get(json_array_get(comments, 0), "parent_id")));
    json_decref(comments);
    json_decref(article);
    nd_store_close(st);
}

struct refusal_case {
    const char *line;
    const char *why; /* a part of the reason */
};

/* One bad line each, between two good ones, so the line numbers are known. */
static const struct refusal_case refusal_cases[] = {
    {"not json", "not valid JSON"},
    {"[1,2]", "must be a JSON object"},
    {"{\"title\":\"x\",\"body\":\"y\"}", "type: must be"},
    {"{\"type\":\"poem\",\"title\":\"x\",\"body\":\"y\"}", "type: must be"},
    {"{\"type\":\"article\",\"body\":\"y\"}", "title: is required"},
    {"{\"type\":\"article\",\"title\":\"x\",\"body\":\"y\",\"id\":4}", "id: is read-only"},
    {"{\"type\":\"article\",\"title\":\"x\",\"body\":\"y\",\"colour\":1}",
     "colour: is not allowed"},
    {"{\"type\":\"article\",\"title\":\"\",\"body\":\"\"}", "title: must not be empty; body:"},
    {"{\"type\":\"article\",\"title\":\"Other\",\"body\":\"z\",\"slug\":\"harbour\"}",
     "slug: \"harbour\" is taken"},
    {"{\"type\":\"article\",\"title\":\"x\",\"body\":\"y\",\"published_at\":\"yesterday\"}",
     "published_at: must be an RFC 3339"},
    {"{\"type\":\"comment\",\"author\":\"a\",\"body\":\"b\"}", "article_slug: is required"},
    {"{\"type\":\"comment\",\"article_slug\":\"nowhere\",\"author\":\"a\",\"body\":\"b\"}",
     "article_slug: no such article"},
    {"{\"type\":\"comment\",\"article_id\":999,\"author\":\"a\",\"body\":\"b\"}",
     "article_id: no such article"},
    {"{\"type\":\"comment\",\"article_slug\":\"harbour\",\"article_id\":1,\"author\":\"a\","
     "\"body\":\"b\"}",
     "article_id: cannot be given with article_slug"},
    {"{\"type\":\"comment\",\"article_slug\":\"harbour\",\"author\":\"a\",\"body\":\"b\","
     "\"parent_index\":7}",
     "parent_index: the article has no comment 7"},
    {"{\"type\":\"comment\",\"article_slug\":\"harbour\",\"author\":\"a\",\"body\":\"b\","
     "\"parent_index\":-1}",
     "parent_index: must be a non-negative integer"},
    {"{\"type\":\"comment\",\"article_slug\":\"harbour\",\"author\":\"a\",\"body\":\"b\","
     "\"parent_index\":0,\"parent_id\":1}",
     "parent_index: cannot be given with parent_id"},
    {"{\"type\":\"comment\",\"article_slug\":\"harbour\",\"author\":\"a\",\"body\":\"b\","
     "\"parent_id\":424242}",
     "parent_id: is not a comment of the same article"},
    {"{\"type\":\"comment\",\"article_slug\":\"harbour\",\"body\":\"b\",\"status\":\"x\"}",
     "author: is required; status: is read-only"},
};

static void test_refused_lines_are_named(void)
{
    size_t ncases = sizeof refusal_cases / sizeof refusal_cases[0];
    for (size_t i = 0; i < ncases; i++) {
        struct nd_store *st = open_memory();
        struct refusals r;
        struct nd_import_jsonl_stats stats;
        char text[2048];
        snprintf(text, sizeof text,
                 HARBOUR "%s\n{\"type\":\"comment\",\"article_slug\":\"harbour\",\"author\":\"ok\","
                         "\"body\":\"kept\"}\n",
                 refusal_cases[i].line);
        /* batches of one row: a refusal must not undo the row before it */
        CHECK_INT(import_text(st, text, 1, &r, &stats), ND_OK);
        CHECK_INT(r.n, 1);
        CHECK_INT(r.line[0], 2);
        if (r.n != 1 || strstr(r.why[0], refusal_cases[i].why) == NULL) {
            printf("# case %zu: why \"%s\", want \"%s\"\n", i, r.n ? r.why[0] : "(none)",
                   refusal_cases[i].why);
            CHECK(false);
        }
        CHECK_INT(stats.lines_refused, 1);
        CHECK_INT(stats.articles_created, 1);
        CHECK_INT(stats.comments_created, 1);
        CHECK_INT(comment_count(st, "harbour"), 1);
        nd_store_close(st);
    }
}

static void test_reimport_finds_articles_and_adds_comments(void)
{
    struct nd_store *st = open_memory();
    struct refusals r;
    struct nd_import_jsonl_stats stats;
    const char *text =
        HARBOUR "{\"type\":\"article\",\"title\":\"No slug given\",\"body\":\"Derived.\"}\n"
                "{\"type\":\"comment\",\"article_slug\":\"no-slug-given\",\"author\":\"a\","
                "\"body\":\"b\"}\n";
    CHECK_INT(import_text(st, text, 0, &r, &stats), ND_OK);
    CHECK_INT(stats.articles_created, 2);
    CHECK_INT(import_text(st, text, 0, &r, &stats), ND_OK);
    CHECK_INT(r.n, 0);
    CHECK_INT(stats.articles_created, 0);
    CHECK_INT(stats.articles_existing, 2);
    CHECK_INT(stats.comments_created, 1);
    /* the derived slug was not suffixed a second time, and the comment found it */
    CHECK_INT(comment_count(st, "no-slug-given"), 2);
    json_t *other = NULL;
    CHECK_INT(nd_store_article_get_by_slug(st, "no-slug-given-2", &other), ND_ERR_NOT_FOUND);
    nd_store_close(st);
}

static void test_comments_of_stored_articles(void)
{
    struct nd_store *st = open_memory();
    struct refusals r;
    struct nd_import_jsonl_stats stats;
    char text[512];
    CHECK_INT(import_text(st, HARBOUR, 0, &r, &stats), ND_OK);
    int64_t id = article_id(st, "harbour");
    /* a later file: by slug (looked up in the store) and by id, with a reply */
    snprintf(text, sizeof text,
             "{\"type\":\"comment\",\"article_slug\":\"harbour\",\"author\":\"a\",\"body\":\"one\"}"
             "\n{\"type\":\"comment\",\"article_id\":%lld,\"author\":\"b\",\"body\":\"two\","
             "\"parent_index\":0}\n",
             (long long)id);
    CHECK_INT(import_text(st, text, 0, &r, &stats), ND_OK);
    CHECK_INT(r.n, 0);
    CHECK_INT(stats.comments_created, 2);
    json_t *comments = comments_of(st, id);
    CHECK_INT(json_array_size(comments), 2);
    CHECK_INT(int_of(json_array_get(comments, 1), "parent_id"),
              int_of(json_array_get(comments, 0), "id"));
    json_decref(comments);
    nd_store_close(st);
}

static void test_blank_lines_crlf_and_bom(void)
{
    struct nd_store *st = open_memory();
    struct refusals r;
    struct nd_import_jsonl_stats stats;
    const char *text = "\xEF\xBB\xBF"
                       "{\"type\":\"article\",\"title\":\"A\",\"body\":\"a\"}\r\n"
                       "\r\n   \n"
                       "{\"type\":\"article\",\"title\":\"B\",\"body\":\"b\"}\r\n"
                       "oops\r\n"
                       "{\"type\":\"article\",\"title\":\"C\",\"body\":\"c\"}"; /* no final LF */
    CHECK_INT(import_text(st, text, 2, &r, &stats), ND_OK);
    CHECK_INT(stats.articles_created, 3);
    CHECK_INT(r.n, 1);
    CHECK_INT(r.line[0], 5);
    CHECK(article_id(st, "c") > 0);
    CHECK_INT(import_text(st, "", 0, &r, &stats), ND_OK);
    CHECK_INT(stats.articles_created + stats.lines_refused, 0);
    nd_store_close(st);
}

static void test_line_too_long(void)
{
    struct nd_store *st = open_memory();
    struct refusals r;
    struct nd_import_jsonl_stats stats;
    size_t len = ND_IMPORT_JSONL_LINE_MAX + 100;
    char *text = malloc(len + 1);
    memset(text, ' ', len);
    memcpy(text, "{\"type\":", 8);
    text[len - 1] = '}';
    text[len] = '\0';
    CHECK_INT(import_text(st, text, 0, &r, &stats), ND_OK);
    CHECK_INT(r.n, 1);
    CHECK(strstr(r.why[0], "longer than") != NULL);
    free(text);
    nd_store_close(st);
}

static void test_file(void)
{
    struct nd_store *st = open_memory();
    struct refusals r = {0};
    struct nd_import_jsonl_stats stats;
    char err[256] = "";
    char path[] = "/tmp/newsd-jsonl-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, HARBOUR, strlen(HARBOUR)) == (ssize_t)strlen(HARBOUR));
    close(fd);
    CHECK_INT(nd_import_jsonl_file(st, path, 0, collect, &r, &stats, err, sizeof err), ND_OK);
    CHECK_INT(stats.articles_created, 1);
    unlink(path);
    CHECK_INT(nd_import_jsonl_file(st, path, 0, collect, &r, &stats, err, sizeof err), ND_ERR_IO);
    CHECK(strstr(err, "cannot read") != NULL);
    CHECK_INT(stats.articles_created, 0);
    CHECK_INT(nd_import_jsonl_file(st, "/", 0, collect, &r, &stats, err, sizeof err), ND_ERR_IO);
    nd_store_close(st);
}

/* ---- the store's batches ----------------------------------------------- */

/* Creates an article with this title (slug derived); returns the result. */
static enum nd_err create(struct nd_store *st, const char *title, const char *slug)
{
    struct nd_article_fields f = {
        .slug = slug,
        .slug_derived = false,
        .title = title,
        .summary = "s",
        .body = "b",
        .author = "",
        .category = "",
        .published_at = 1700000000,
    };
    json_t *out = NULL;
    enum nd_err err = nd_store_article_create(st, &f, &out);
    json_decref(out);
    return err;
}

static bool exists(struct nd_store *st, const char *slug)
{
    json_t *article = NULL;
    enum nd_err err = nd_store_article_get_by_slug(st, slug, &article);
    json_decref(article);
    return err == ND_OK;
}

static void test_batch_commit_and_failed_write(void)
{
    struct nd_store *st = open_memory();
    CHECK_INT(nd_store_batch_begin(st), ND_OK);
    CHECK_INT(create(st, "One", "one"), ND_OK);
    CHECK_INT(create(st, "Clash", "one"), ND_ERR_CONFLICT); /* undoes only itself */
    CHECK_INT(create(st, "Two", "two"), ND_OK);
    CHECK(exists(st, "two")); /* reads see the batch */
    CHECK_INT(nd_store_batch_end(st, true), ND_OK);
    CHECK(exists(st, "one"));
    CHECK(exists(st, "two"));
    /* outside a batch, writes are their own transactions again */
    CHECK_INT(create(st, "Three", "three"), ND_OK);
    CHECK(exists(st, "three"));
    nd_store_close(st);
}

static void test_batch_rollback_and_nesting(void)
{
    struct nd_store *st = open_memory();
    CHECK_INT(nd_store_batch_end(st, true), ND_ERR_INVALID);
    CHECK_INT(nd_store_batch_begin(st), ND_OK);
    CHECK_INT(create(st, "Gone", "gone"), ND_OK);
    CHECK_INT(nd_store_batch_end(st, false), ND_OK);
    CHECK(!exists(st, "gone"));

    CHECK_INT(nd_store_batch_begin(st), ND_OK);
    CHECK_INT(nd_store_batch_begin(st), ND_OK);
    CHECK_INT(create(st, "Kept", "kept"), ND_OK);
    CHECK_INT(nd_store_batch_end(st, true), ND_OK);
    CHECK_INT(nd_store_batch_end(st, true), ND_OK);
    CHECK(exists(st, "kept"));

    /* an inner rollback dooms the whole batch */
    CHECK_INT(nd_store_batch_begin(st), ND_OK);
    CHECK_INT(create(st, "Outer", "outer"), ND_OK);
    CHECK_INT(nd_store_batch_begin(st), ND_OK);
    CHECK_INT(create(st, "Inner", "inner"), ND_OK);
    CHECK_INT(nd_store_batch_end(st, false), ND_OK);
    CHECK_INT(nd_store_batch_end(st, true), ND_OK);
    CHECK(!exists(st, "outer"));
    CHECK(!exists(st, "inner"));
    CHECK_INT(nd_store_batch_end(st, true), ND_ERR_INVALID);
    nd_store_close(st);
}

static void test_batch_left_open_is_rolled_back(void)
{
    struct temp_db db;
    struct nd_store *st = NULL;
    CHECK(temp_db(&db));
    CHECK_INT(nd_store_open(db.path, &options, &st), ND_OK);
    CHECK_INT(nd_store_batch_begin(st), ND_OK);
    CHECK_INT(create(st, "Lost", "lost"), ND_OK);
    nd_store_close(st);
    st = NULL;
    CHECK_INT(nd_store_open(db.path, &options, &st), ND_OK);
    CHECK(!exists(st, "lost"));
    nd_store_close(st);
    remove_db(&db);
}

int main(void)
{
    nd_log_set_level(ND_LOG_ERROR);
    return STORE_CHECK_RUN(
        CHECK_CASE(test_articles_and_threaded_comments), CHECK_CASE(test_refused_lines_are_named),
        CHECK_CASE(test_reimport_finds_articles_and_adds_comments),
        CHECK_CASE(test_comments_of_stored_articles), CHECK_CASE(test_blank_lines_crlf_and_bom),
        CHECK_CASE(test_line_too_long), CHECK_CASE(test_file),
        CHECK_CASE(test_batch_commit_and_failed_write), CHECK_CASE(test_batch_rollback_and_nesting),
        CHECK_CASE(test_batch_left_open_is_rolled_back));
}
