/*
 * test_store_categories.c: nd_store_category_list on the real migrations:
 * names and exact counts, empty categories left out, drafts counted only
 * when asked, the order (ASCII case ignored, then bytes), answers that
 * follow every kind of write at once, and a stored name that is not UTF-8
 * (written behind the store's back) refused without touching *out. The same
 * for the tags and authors in use (nd_store_tag_list, nd_store_author_list).
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "newsd/store.h"
#include "store_fixture.h"

/* Creates an article in category (published unless draft); returns its id, 0 on failure. */
static int64_t article(struct nd_store *st, const char *slug, const char *category, bool draft)
{
    struct nd_article_fields f = fields(slug, 1700000000);
    f.category = category;
    f.draft = draft;
    return create(st, &f);
}

/* Changes the category and status of article id (keeping its slug). */
static void recategorize(struct nd_store *st, int64_t id, const char *slug, const char *category,
                         bool draft)
{
    struct nd_article_fields f = {.slug = slug,
                                  .title = "A title",
                                  .summary = "A summary",
                                  .body = "The body.",
                                  .author = "",
                                  .category = category,
                                  .draft = draft,
                                  .published_at = 1700000000};
    json_t *art = NULL;
    CHECK_INT(nd_store_article_update(st, id, &f, &art), ND_OK);
    json_decref(art);
}

/*
 * The category list as compact JSON text ("[...]"), malloc'd, or a copy of
 * "error" when the store failed; the caller frees it.
 */
static char *categories(struct nd_store *st, bool drafts)
{
    json_t *list = NULL;
    enum nd_err err = nd_store_category_list(st, drafts, &list);
    CHECK_INT(err, ND_OK);
    char *text = err == ND_OK ? json_dumps(list, JSON_COMPACT) : strdup("error");
    json_decref(list);
    return text;
}

/* CHECK_STR of the list against want, freeing what it made. */
#define CHECK_LIST(st, drafts, want)                                                               \
    do {                                                                                           \
        char *got_list_ = categories((st), (drafts));                                              \
        CHECK_STR(got_list_, (want));                                                              \
        free(got_list_);                                                                           \
    } while (0)

static void test_empty_store(void)
{
    struct nd_store *st = open_memory();
    CHECK_LIST(st, false, "[]");
    CHECK_LIST(st, true, "[]");
    /* Articles without a category make no entry. */
    article(st, "plain", "", false);
    article(st, "plain-draft", "", true);
    CHECK_LIST(st, false, "[]");
    CHECK_LIST(st, true, "[]");
    nd_store_close(st);
}

static void test_names_counts_order(void)
{
    struct nd_store *st = open_memory();
    article(st, "w1", "World", false);
    article(st, "w2", "World", false);
    article(st, "w3", "World", false);
    article(st, "w4", "World", true);
    article(st, "lw", "world", false);
    article(st, "s1", "Science", false);
    article(st, "s2", "Science", false);
    article(st, "a1", "art", false);
    article(st, "z1", "Zebra crossings", false);
    article(st, "e1", "Économie", false);
    article(st, "d1", "Drafts only", true);
    article(st, "n1", "", false);
    /* ASCII case ignored, then bytes: "World" before "world"; "É" after all ASCII. */
    CHECK_LIST(st, false,
               "[{\"name\":\"art\",\"count\":1},{\"name\":\"Science\",\"count\":2},"
               "{\"name\":\"World\",\"count\":3},{\"name\":\"world\",\"count\":1},"
               "{\"name\":\"Zebra crossings\",\"count\":1},{\"name\":\"Économie\",\"count\":1}]");
    CHECK_LIST(st, true,
               "[{\"name\":\"art\",\"count\":1},{\"name\":\"Drafts only\",\"count\":1},"
               "{\"name\":\"Science\",\"count\":2},{\"name\":\"World\",\"count\":4},"
               "{\"name\":\"world\",\"count\":1},{\"name\":\"Zebra crossings\",\"count\":1},"
               "{\"name\":\"Économie\",\"count\":1}]");
    /* The cached statement is handed back clean: asking again gives the same. */
    CHECK_LIST(st, false,
               "[{\"name\":\"art\",\"count\":1},{\"name\":\"Science\",\"count\":2},"
               "{\"name\":\"World\",\"count\":3},{\"name\":\"world\",\"count\":1},"
               "{\"name\":\"Zebra crossings\",\"count\":1},{\"name\":\"Économie\",\"count\":1}]");
    nd_store_close(st);
}

static void test_follows_writes(void)
{
    struct nd_store *st = open_memory();
    int64_t a = article(st, "a", "Sport", false);
    int64_t b = article(st, "b", "Sport", false);
    int64_t c = article(st, "c", "Travel", true);
    CHECK_LIST(st, false, "[{\"name\":\"Sport\",\"count\":2}]");
    /* Publishing a draft lists its category. */
    recategorize(st, c, "c", "Travel", false);
    CHECK_LIST(st, false, "[{\"name\":\"Sport\",\"count\":2},{\"name\":\"Travel\",\"count\":1}]");
    /* Moving an article moves its count; a category left empty disappears. */
    recategorize(st, c, "c", "Sport", false);
    CHECK_LIST(st, false, "[{\"name\":\"Sport\",\"count\":3}]");
    /* Back to a draft: counted only with drafts. */
    recategorize(st, a, "a", "Sport", true);
    CHECK_LIST(st, false, "[{\"name\":\"Sport\",\"count\":2}]");
    CHECK_LIST(st, true, "[{\"name\":\"Sport\",\"count\":3}]");
    /* Clearing a category, deleting an article. */
    recategorize(st, b, "b", "", false);
    CHECK_LIST(st, false, "[{\"name\":\"Sport\",\"count\":1}]");
    CHECK_INT(nd_store_article_delete(st, c), ND_OK);
    CHECK_LIST(st, false, "[]");
    CHECK_LIST(st, true, "[{\"name\":\"Sport\",\"count\":1}]");
    nd_store_close(st);
}

/* A category that is not valid UTF-8 (another program wrote it) is a store error. */
static void test_invalid_utf8(void)
{
    SQLITE_ONLY("PostgreSQL refuses text that is not UTF-8 on the way in");
    struct temp_db file;
    struct nd_store *st = temp_store(&file, &options);
    if (st == NULL)
        goto out;
    article(st, "good", "Good", false);
    article(st, "bad", "Bad", false);
    db_exec(file.path, "UPDATE articles SET category = CAST(x'ff41' AS TEXT) WHERE slug = 'bad'");
    json_t *sentinel = json_true(), *list = sentinel;
    CHECK_INT(nd_store_category_list(st, false, &list), ND_ERR_DB);
    CHECK(list == sentinel);
    /* The statement was handed back: a repaired row is listed again. */
    db_exec(file.path, "UPDATE articles SET category = 'Bad' WHERE slug = 'bad'");
    CHECK_LIST(st, false, "[{\"name\":\"Bad\",\"count\":1},{\"name\":\"Good\",\"count\":1}]");
out:
    nd_store_close(st);
    remove_db(&file);
}

/* Creates an article by author with tags (published unless draft); returns its id. */
static int64_t tagged(struct nd_store *st, const char *slug, const char *author,
                      const char *const *tags, size_t ntags, bool draft)
{
    struct nd_article_fields f = {.slug = slug,
                                  .title = "A title",
                                  .body = "The body.",
                                  .author = author,
                                  .category = "",
                                  .tags = tags,
                                  .ntags = ntags,
                                  .draft = draft,
                                  .published_at = 1700000000};
    json_t *art = NULL;
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_OK);
    int64_t id = art ? json_integer_value(json_object_get(art, "id")) : 0;
    json_decref(art);
    return id;
}

/* The answer of list as compact JSON text, malloc'd ("error" when it failed). */
static char *counts(struct nd_store *st, enum nd_err (*list)(struct nd_store *, bool, json_t **),
                    bool drafts)
{
    json_t *arr = NULL;
    enum nd_err err = list(st, drafts, &arr);
    CHECK_INT(err, ND_OK);
    char *text = err == ND_OK ? json_dumps(arr, JSON_COMPACT) : strdup("error");
    json_decref(arr);
    return text;
}

#define CHECK_COUNTS(st, list, drafts, want)                                                       \
    do {                                                                                           \
        char *got_counts_ = counts((st), (list), (drafts));                                        \
        CHECK_STR(got_counts_, (want));                                                            \
        free(got_counts_);                                                                         \
    } while (0)

static void test_tags_and_authors(void)
{
    struct nd_store *st = open_memory();
    CHECK_COUNTS(st, nd_store_tag_list, false, "[]");
    CHECK_COUNTS(st, nd_store_author_list, true, "[]");
    static const char *const ice_alps[] = {"ice", "Alps"};
    static const char *const ice_twice[] = {"ice", "ice", "snow"};
    static const char *const wet[] = {"rain", "\xc3\xa9t\xc3\xa9"};
    tagged(st, "a1", "Ines", ice_alps, 2, false);
    tagged(st, "a2", "ines", ice_twice, 3, false);
    int64_t draft = tagged(st, "a3", "Zoe", wet, 2, true);
    tagged(st, "a4", "", wet, 1, false);
    tagged(st, "a5", "Ines", NULL, 0, false);
    CHECK_COUNTS(st, nd_store_tag_list, false,
                 "[{\"name\":\"Alps\",\"count\":1},{\"name\":\"ice\",\"count\":2},"
                 "{\"name\":\"rain\",\"count\":1},{\"name\":\"snow\",\"count\":1}]");
    CHECK_COUNTS(st, nd_store_tag_list, true,
                 "[{\"name\":\"Alps\",\"count\":1},{\"name\":\"ice\",\"count\":2},"
                 "{\"name\":\"rain\",\"count\":2},{\"name\":\"snow\",\"count\":1},"
                 "{\"name\":\"\u00e9t\u00e9\",\"count\":1}]");
    CHECK_COUNTS(st, nd_store_author_list, false,
                 "[{\"name\":\"Ines\",\"count\":2},{\"name\":\"ines\",\"count\":1}]");
    CHECK_COUNTS(st, nd_store_author_list, true,
                 "[{\"name\":\"Ines\",\"count\":2},{\"name\":\"ines\",\"count\":1},"
                 "{\"name\":\"Zoe\",\"count\":1}]");
    /* deleting the draft takes its tags and its author away */
    CHECK_INT(nd_store_article_delete(st, draft), ND_OK);
    CHECK_COUNTS(st, nd_store_tag_list, true,
                 "[{\"name\":\"Alps\",\"count\":1},{\"name\":\"ice\",\"count\":2},"
                 "{\"name\":\"rain\",\"count\":1},{\"name\":\"snow\",\"count\":1}]");
    CHECK_COUNTS(st, nd_store_author_list, true,
                 "[{\"name\":\"Ines\",\"count\":2},{\"name\":\"ines\",\"count\":1}]");
    nd_store_close(st);
}

int main(void)
{
    return STORE_CHECK_RUN(CHECK_CASE(test_empty_store), CHECK_CASE(test_names_counts_order),
                           CHECK_CASE(test_follows_writes), CHECK_CASE(test_invalid_utf8),
                           CHECK_CASE(test_tags_and_authors));
}
