/*
 * test_store_articles.c: articles in the store on ":memory:" with the real
 * migrations: create and get, drafts, given and derived slugs, updates,
 * deletes, the import lookup, and the article list's order, filters and
 * keyset pages (stable under inserts).
 */
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "newsd/buf.h"
#include "newsd/cursor.h"
#include "newsd/json.h"
#include "newsd/log.h"
#include "newsd/store.h"
#include "newsd/text.h"
#include "newsd/util.h"
#include "store_fixture.h"

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
    int64_t draft_id = json_integer_value(json_object_get(art, "id"));
    json_decref(art);
    /* the draft flag alone, as the comment handlers read it */
    f = fields("published-one", T0);
    CHECK_INT(nd_store_article_create(st, &f, &art), ND_OK);
    int64_t published_id = json_integer_value(json_object_get(art, "id"));
    json_decref(art);
    bool draft = false;
    CHECK_INT(nd_store_article_is_draft(st, draft_id, &draft), ND_OK);
    CHECK(draft);
    CHECK_INT(nd_store_article_is_draft(st, published_id, &draft), ND_OK);
    CHECK(!draft);
    CHECK_INT(nd_store_article_is_draft(st, published_id + 100, &draft), ND_ERR_NOT_FOUND);
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
    char slug[16];
    CHECK(create(st, &f) > 0);
    /* "same-2" ... "same-1000" given, one write each (deriving them costs 1000 lookups per write)
     */
    for (int i = 2; i <= 1000; i++) {
        snprintf(slug, sizeof slug, "same-%d", i);
        f.slug = slug;
        create(st, &f);
    }
    f.slug = "same";
    f.slug_derived = true;
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
    int64_t a, b;
    struct nd_store *st = open_two(&a, &b);
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

/* nd_store_article_text of id (slug NULL) or slug into t, its text rendered anew in out. */
static enum nd_err article_text(struct nd_store *st, int64_t id, const char *slug,
                                struct nd_buf *out, struct nd_article_text *t)
{
    nd_buf_free(out);
    *t = (struct nd_article_text){.out = out};
    return nd_store_article_text(st, id, slug, t);
}

/*
 * An article read as text is the very bytes of the article read as an
 * object and rendered, by id and by slug: text with quotes, backslashes,
 * control characters, non-ASCII and markup, tags, a source URL and none, a
 * draft (flagged) and a published one; an id or slug nobody has is
 * ND_ERR_NOT_FOUND.
 */
static void test_article_text(void)
{
    struct nd_store *st = open_memory();
    const char *tags[] = {"zo\xc3\xab", "a \"b\"", "</x>"};
    struct nd_article_fields f = fields("odd-one", 1700000000);
    f.title = "Quote \" backslash \\ tab\t ctl \x01 \xe6\xbc\xa2 \xf0\x9f\x98\x80";
    f.summary = "<script>alert(1)</script> &amp;";
    f.body = "line\nline\r\n\x1f end";
    f.author = "Zo\xc3\xab";
    f.tags = tags;
    f.ntags = 3;
    f.source_url = "https://example.org/a?b=c&d=\"e\"";
    int64_t odd = create(st, &f);
    struct nd_article_fields d = fields("plain-draft", 1700000100);
    d.draft = true;
    int64_t draft = create(st, &d);
    const int64_t ids[] = {odd, draft};
    const char *slugs[] = {"odd-one", "plain-draft"};
    struct nd_buf out = ND_BUF_INIT(1 << 20), want = ND_BUF_INIT(1 << 20);
    struct nd_article_text t;
    for (int i = 0; i < 2; i++) {
        json_t *a = NULL;
        CHECK_INT(nd_store_article_get(st, ids[i], &a), ND_OK);
        nd_buf_free(&want);
        CHECK(a && nd_json_render(a, &want));
        json_decref(a);
        CHECK_INT(article_text(st, ids[i], NULL, &out, &t), ND_OK);
        CHECK_STR(nd_buf_str(&out), nd_buf_str(&want));
        CHECK(t.id == ids[i] && t.draft == (i == 1));
        CHECK_INT(article_text(st, 0, slugs[i], &out, &t), ND_OK);
        CHECK_STR(nd_buf_str(&out), nd_buf_str(&want));
        CHECK(t.id == ids[i] && t.draft == (i == 1));
    }
    CHECK_INT(article_text(st, draft + 100, NULL, &out, &t), ND_ERR_NOT_FOUND);
    CHECK_INT(article_text(st, 0, "nobody-has-this", &out, &t), ND_ERR_NOT_FOUND);
    nd_buf_free(&out);
    nd_buf_free(&want);
    nd_store_close(st);
}

int main(void)
{
    /* Expected failures log at error level; keep the test output readable. */
    nd_log_set_level(ND_LOG_ERROR);
    return STORE_CHECK_RUN(
        CHECK_CASE(test_article_create_get), CHECK_CASE(test_article_draft_and_source),
        CHECK_CASE(test_slug_conflict_given), CHECK_CASE(test_slug_derived),
        CHECK_CASE(test_slug_derived_long), CHECK_CASE(test_slug_derived_exhausted),
        CHECK_CASE(test_article_update), CHECK_CASE(test_article_delete),
        CHECK_CASE(test_find_import), CHECK_CASE(test_list_order_ties),
        CHECK_CASE(test_list_filters), CHECK_CASE(test_list_pagination_with_inserts),
        CHECK_CASE(test_list_exact_page), CHECK_CASE(test_list_bad_input),
        CHECK_CASE(test_article_text));
}
