/*
 * test_store_search.c: nd_store_search on ":memory:" with the real
 * migrations: ranking, matching rules, visibility, filters, pagination and
 * snippets, with queries made by the real query parser.
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "newsd/migrate.h"
#include "newsd/search.h"
#include "newsd/store.h"
#include "store_fixture.h"

static int64_t add(struct nd_store *st, const char *slug, const char *title, const char *body,
                   int64_t at, const char *category, bool draft)
{
    struct nd_article_fields f = {
        .slug = slug,
        .title = title,
        .summary = "",
        .body = body,
        .author = "",
        .category = category,
        .published_at = at,
        .draft = draft,
    };
    return create(st, &f);
}

/* Searches for query (translated) and returns the result array; *next gets the cursor. */
static json_t *search(struct nd_store *st, const char *query, const struct nd_article_filter *flt,
                      bool comments, unsigned limit, const char *cursor, char **next)
{
    char err[256];
    struct nd_search_query q;
    CHECK_INT(nd_search_parse(query, &q, err, sizeof err), ND_OK);
    struct nd_search_params p = {
        .query = &q, .comments = comments, .limit = limit, .cursor = cursor};
    if (flt)
        p.filter = *flt;
    json_t *items = NULL;
    char *nc = NULL;
    CHECK_INT(nd_store_search(st, &p, &items, &nc), ND_OK);
    if (next)
        *next = nc;
    else
        free(nc);
    return items;
}

static int64_t id_at(const json_t *items, size_t i)
{
    return json_integer_value(json_object_get(json_array_get(items, i), "id"));
}

/* How many of the first 10 matches search finds for query (flt may be NULL). */
static size_t hits(struct nd_store *st, const char *query, const struct nd_article_filter *flt,
                   bool comments)
{
    json_t *items = search(st, query, flt, comments, 10, NULL, NULL);
    size_t n = json_array_size(items);
    json_decref(items);
    return n;
}

static void test_title_beats_body(void)
{
    struct nd_store *st = open_memory();
    int64_t body_hit =
        add(st, "b", "Harbour news", "The lighthouse keeper retired.", T0 + 10, "", false);
    int64_t title_hit =
        add(st, "t", "Lighthouse reopens", "Visitors return to the coast.", T0, "", false);
    json_t *items = search(st, "lighthouse", NULL, false, 10, NULL, NULL);
    CHECK_INT(json_array_size(items), 2);
    CHECK_INT(id_at(items, 0), title_hit);
    CHECK_INT(id_at(items, 1), body_hit);
    double s0 = json_real_value(json_object_get(json_array_get(items, 0), "score"));
    double s1 = json_real_value(json_object_get(json_array_get(items, 1), "score"));
    CHECK(s0 > s1 && s1 > 0);
    json_decref(items);
    nd_store_close(st);
}

static void test_matching_rules(void)
{
    struct nd_store *st = open_memory();
    int64_t phrase =
        add(st, "p", "Town meeting", "The north korea delegation arrived.", T0, "", false);
    add(st, "s", "Scattered", "Korea sent aid to the north of the region.", T0, "", false);
    int64_t accent = add(st, "a", "Caf\xc3\xa9 opens", "Elections were held.", T0, "", false);
    json_t *items = search(st, "\"north korea\"", NULL, false, 10, NULL, NULL);
    CHECK_INT(json_array_size(items), 1);
    CHECK_INT(id_at(items, 0), phrase);
    json_decref(items);
    CHECK_INT(hits(st, "north korea", NULL, false), 2);
    items = search(st, "cafe election", NULL, false, 10, NULL, NULL);
    CHECK_INT(json_array_size(items), 1);
    CHECK_INT(id_at(items, 0), accent);
    json_decref(items);
    items = search(st, "korea -delegation", NULL, false, 10, NULL, NULL);
    CHECK_INT(json_array_size(items), 1);
    CHECK(id_at(items, 0) != phrase);
    json_decref(items);
    nd_store_close(st);
}

static void test_drafts_and_filters(void)
{
    struct nd_store *st = open_memory();
    int64_t pub = add(st, "p", "Budget vote", "Council budget.", T0, "Politics", false);
    int64_t draft = add(st, "d", "Budget draft", "Secret budget.", T0, "Politics", true);
    add(st, "o", "Budget sport", "Club budget.", T0, "Sport", false);
    json_t *items = search(st, "budget", NULL, false, 10, NULL, NULL);
    CHECK_INT(json_array_size(items), 2);
    for (size_t i = 0; i < json_array_size(items); i++)
        CHECK(id_at(items, i) != draft);
    json_decref(items);
    struct nd_article_filter flt = {.category = "Politics"};
    items = search(st, "budget", &flt, false, 10, NULL, NULL);
    CHECK_INT(json_array_size(items), 1);
    CHECK_INT(id_at(items, 0), pub);
    json_decref(items);
    flt.status = ND_STATUS_ANY;
    CHECK_INT(hits(st, "budget", &flt, false), 2);
    nd_store_close(st);
}

static void test_pagination(void)
{
    struct nd_store *st = open_memory();
    enum { N = 23 };
    char slug[16];
    for (int i = 0; i < N; i++) {
        snprintf(slug, sizeof slug, "s%d", i);
        /* equal scores for many, so the recency tie-break is paged too */
        add(st, slug, i % 3 ? "River report" : "River river river", "Water levels.", T0 + i % 5, "",
            false);
    }
    int seen[N + 1] = {0};
    char *cursor = NULL;
    int pages = 0, total = 0;
    do {
        char *next = NULL;
        json_t *items = search(st, "river", NULL, false, 4, cursor, &next);
        for (size_t i = 0; i < json_array_size(items); i++) {
            int64_t id = id_at(items, i);
            CHECK(id >= 1 && id <= N);
            if (id >= 1 && id <= N)
                seen[id]++;
            total++;
        }
        json_decref(items);
        free(cursor);
        cursor = next;
        pages++;
    } while (cursor && pages < 50);
    CHECK_INT(total, N);
    for (int i = 1; i <= N; i++)
        CHECK_INT(seen[i], 1);
    CHECK_INT(pages, (N + 3) / 4);
    nd_store_close(st);
}

static void test_bad_cursor(void)
{
    struct nd_store *st = open_memory();
    struct nd_search_query q;
    char err[256];
    CHECK_INT(nd_search_parse("x", &q, err, sizeof err), ND_OK);
    struct nd_search_params p = {.query = &q, .limit = 10, .cursor = "garbage"};
    json_t *items = NULL;
    char *next = NULL;
    CHECK_INT(nd_store_search(st, &p, &items, &next), ND_ERR_INVALID);
    p.cursor = "YQAAAAAAAAABAAAAAAAAAAE"; /* an article-list cursor */
    CHECK_INT(nd_store_search(st, &p, &items, &next), ND_ERR_INVALID);
    CHECK(items == NULL);
    nd_store_close(st);
}

static void test_snippet_and_comments(void)
{
    struct nd_store *st = open_memory();
    int64_t art = add(st, "a", "Plain title", "Before <b>the</b> harbour & after.", T0, "", false);
    int64_t hidden = add(st, "h", "Hidden", "Draft text.", T0, "", true);
    json_t *items = search(st, "harbour", NULL, false, 10, NULL, NULL);
    const char *snippet = json_string_value(json_object_get(json_array_get(items, 0), "snippet"));
    CHECK(snippet && strstr(snippet, ND_SNIPPET_OPEN "harbour" ND_SNIPPET_CLOSE));
    char *html = nd_search_snippet_html(snippet ? snippet : "");
    CHECK(strstr(html, "&lt;b&gt;the&lt;/b&gt; <mark>harbour</mark> &amp; after") != NULL);
    free(html);
    json_decref(items);

    struct nd_comment_fields c = {.article_id = art, .author = "r", .body = "Lovely harbour view"};
    json_t *com = NULL;
    CHECK_INT(nd_store_comment_create(st, &c, &com), ND_OK);
    int64_t cid = json_integer_value(json_object_get(com, "id"));
    json_decref(com);
    c.article_id = hidden;
    c.body = "Harbour comment on a draft";
    CHECK_INT(nd_store_comment_create(st, &c, &com), ND_OK);
    json_decref(com);
    items = search(st, "harbour", NULL, true, 10, NULL, NULL);
    CHECK_INT(json_array_size(items), 1);
    CHECK_INT(id_at(items, 0), cid);
    CHECK_INT(json_integer_value(json_object_get(json_array_get(items, 0), "article_id")), art);
    json_decref(items);
    struct nd_article_filter any = {.status = ND_STATUS_ANY};
    CHECK_INT(hits(st, "harbour", &any, true), 2);
    nd_store_close(st);
}

static void test_index_follows_writes(void)
{
    struct nd_store *st = open_memory();
    int64_t id = add(st, "a", "Old words", "Nothing here.", T0, "", false);
    struct nd_article_fields f = {.slug = "a",
                                  .title = "New headline",
                                  .summary = "",
                                  .body = "Fresh text.",
                                  .author = "",
                                  .category = "",
                                  .published_at = T0};
    json_t *art = NULL;
    CHECK_INT(nd_store_article_update(st, id, &f, &art), ND_OK);
    json_decref(art);
    CHECK_INT(hits(st, "old", NULL, false), 0);
    CHECK_INT(hits(st, "headline", NULL, false), 1);
    CHECK_INT(nd_store_article_delete(st, id), ND_OK);
    CHECK_INT(hits(st, "headline", NULL, false), 0);
    nd_store_close(st);
}

/* Migration 0002 indexes the rows that were stored before it existed. */
static void test_migration_indexes_existing_rows(void)
{
    SQLITE_ONLY("SQLite's migration 0002 over a database of 0001");
    struct temp_db file;
    CHECK_INT(nd_migrations[0].version, 1);
    struct nd_store *st =
        legacy_store(&file, 1,
                     "INSERT INTO articles (slug, title, body, published_at, created_at, "
                     "updated_at) VALUES ('old', 'Old lighthouse', 'Stored before search.', "
                     "1, 1, 1);"
                     "INSERT INTO comments (article_id, author, body, created_at) "
                     "VALUES (1, 'r', 'An old harbour comment', 1);",
                     &options);
    if (st) {
        CHECK_INT(nd_store_migrations_applied(st), nd_migrations_count - 1);
        CHECK_INT(hits(st, "lighthouse", NULL, false), 1);
        CHECK_INT(hits(st, "harbour", NULL, true), 1);
        nd_store_close(st);
    }
    remove_db(&file);
}

/* Only the ND_SEARCH_WINDOW newest matches are ranked: the cost is bounded. */
static void test_window(void)
{
    struct nd_store *st = open_memory();
    char slug[32];
    int64_t oldest = add(st, "oldest", "River river river", "The river.", T0, "", false);
    for (int i = 0; i < ND_SEARCH_WINDOW + 4; i++) {
        snprintf(slug, sizeof slug, "w%d", i);
        add(st, slug, "Plain", "A river runs here.", T0 + 1 + i, "", false);
    }
    unsigned total = 0;
    bool oldest_seen = false;
    char *cursor = NULL;
    for (int pages = 0; pages < 20; pages++) {
        char *next = NULL;
        json_t *items = search(st, "river", NULL, false, 100, cursor, &next);
        for (size_t i = 0; i < json_array_size(items); i++)
            oldest_seen |= id_at(items, i) == oldest;
        total += (unsigned)json_array_size(items);
        json_decref(items);
        free(cursor);
        cursor = next;
        if (!cursor)
            break;
    }
    free(cursor);
    CHECK_INT(total, ND_SEARCH_WINDOW);
    CHECK(!oldest_seen);
    nd_store_close(st);
}

int main(void)
{
    return STORE_CHECK_RUN(CHECK_CASE(test_title_beats_body), CHECK_CASE(test_matching_rules),
                           CHECK_CASE(test_drafts_and_filters), CHECK_CASE(test_pagination),
                           CHECK_CASE(test_bad_cursor), CHECK_CASE(test_snippet_and_comments),
                           CHECK_CASE(test_index_follows_writes),
                           CHECK_CASE(test_migration_indexes_existing_rows),
                           CHECK_CASE(test_window));
}
