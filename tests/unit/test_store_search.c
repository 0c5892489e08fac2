/*
 * test_store_search.c: nd_store_search on ":memory:" with the real
 * migrations: ranking, matching rules, visibility, filters, pagination and
 * snippets, with queries made by the real query parser.
 */
#include <dirent.h>
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

/* Every id search finds for query, page after page of 100, into ids (at most max); how many. */
static size_t every_found(struct nd_store *st, const char *query, int64_t *ids, size_t max)
{
    size_t n = 0;
    char *cursor = NULL;
    for (int pages = 0; pages < 20; pages++) {
        char *next = NULL;
        json_t *items = search(st, query, NULL, false, 100, cursor, &next);
        for (size_t i = 0; i < json_array_size(items) && n < max; i++)
            ids[n++] = id_at(items, i);
        json_decref(items);
        free(cursor);
        cursor = next;
        if (!cursor)
            break;
    }
    free(cursor);
    return n;
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
    int64_t ids[ND_SEARCH_WINDOW + 8];
    size_t total = every_found(st, "river", ids, sizeof ids / sizeof ids[0]);
    bool oldest_seen = false;
    for (size_t i = 0; i < total; i++)
        oldest_seen |= ids[i] == oldest;
    CHECK_INT(total, ND_SEARCH_WINDOW);
    CHECK(!oldest_seen);
    nd_store_close(st);
}

/* The next article st creates gets an id above next (SQL of the backend, on the file t). */
static void skip_ids(const struct temp_db *t, int64_t next)
{
    char sql[128];
    if (on_postgres())
        snprintf(sql, sizeof sql, "SELECT setval('articles_id_seq', %lld)", (long long)next);
    else
        snprintf(sql, sizeof sql, "UPDATE sqlite_sequence SET seq = %lld WHERE name = 'articles'",
                 (long long)next);
    CHECK(db_exec(t->path, sql));
}

/*
 * The window holds the newest matches by id however far apart the ids lie.
 * PostgreSQL looks for it in ranges of ids (the newest 2,000, the 18,000
 * before, the rest): here 150 matches far back, 40 in the middle range and
 * 30 among the newest; the window is those 30 and 40 and the newest 130 of
 * the 150, on every page, and none of the 20 oldest.
 */
static void test_window_across_ids(void)
{
    struct temp_db t;
    struct nd_store *st = temp_store(&t, &options);
    if (!st)
        return;
    static const int64_t starts[] = {0, 30000, 45000};
    static const int counts[] = {150, 40, 30};
    int64_t oldest_kept = 0;
    char slug[32];
    for (int r = 0; r < 3; r++) {
        if (starts[r] > 0)
            skip_ids(&t, starts[r]);
        for (int i = 0; i < counts[r]; i++) {
            snprintf(slug, sizeof slug, "r%d-%d", r, i);
            int64_t id = add(st, slug, "Plain", "A river runs here.", T0 + r * 1000 + i, "", false);
            if (r == 0 && i == 20)
                oldest_kept = id;
        }
    }
    int64_t ids[ND_SEARCH_WINDOW + 8];
    size_t total = every_found(st, "river", ids, sizeof ids / sizeof ids[0]);
    unsigned below = 0, far = 0, near = 0;
    for (size_t i = 0; i < total; i++) {
        below += ids[i] < oldest_kept;
        far += ids[i] > 30000 && ids[i] <= 30040;
        near += ids[i] > 45000;
    }
    CHECK_INT(total, ND_SEARCH_WINDOW);
    CHECK_INT(below, 0);
    CHECK_INT(far, 40);
    CHECK_INT(near, 30);
    nd_store_close(st);
    remove_db(&t);
}

/*
 * The ids search finds for query (first page of 100), ascending, as text:
 * "1 3"; "" for none, "refused" when the parser refuses the query.
 */
static void found(struct nd_store *st, const char *query, char *out, size_t len)
{
    char why[256];
    struct nd_search_query q;
    size_t used = 0;
    out[0] = '\0';
    if (nd_search_parse(query, &q, why, sizeof why) != ND_OK) {
        snprintf(out, len, "refused");
        return;
    }
    struct nd_search_params p = {.query = &q, .limit = 100};
    json_t *items = NULL;
    char *next = NULL;
    enum nd_err err = nd_store_search(st, &p, &items, &next);
    if (err != ND_OK) {
        snprintf(out, len, "error %d", (int)err);
        return;
    }
    int64_t ids[100];
    size_t n = json_array_size(items);
    for (size_t i = 0; i < n && i < 100; i++)
        ids[i] = id_at(items, i);
    for (size_t i = 1; i < n && i < 100; i++) /* insertion sort: a handful of ids */
        for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            int64_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    for (size_t i = 0; i < n && i < 100 && used + 24 < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%lld", i ? " " : "", (long long)ids[i]);
    json_decref(items);
    free(next);
}

#define CHECK_FOUND(st, query, want)                                                               \
    do {                                                                                           \
        char found_[256];                                                                          \
        found((st), (query), found_, sizeof found_);                                               \
        if (strcmp(found_, (want)) != 0)                                                           \
            printf("# query %s\n", (query));                                                       \
        CHECK_STR(found_, (want));                                                                 \
    } while (0)

/*
 * Every shape of the query language reaches the backend's own query
 * (FTS5 MATCH; on PostgreSQL a tsquery built of newsd_term_query calls)
 * with the same matches: phrases in order, prefixes, OR groups, exclusions
 * of words, phrases and prefixes, 16 terms, text in other scripts, case
 * and diacritics, and input full of either engine's operators taken as
 * words.
 */
static void test_query_shapes(void)
{
    struct nd_store *st = open_memory();
    add(st, "a1", "Harbour lights return", "The north korea delegation arrived at the harbour.", T0,
        "", false);
    add(st, "a2", "Election results", "Voters elected a new council. Caf\xc3\xa9 owners cheered.",
        T0, "", false);
    add(st, "a3", "Rail line reopens", "Trains run again; the harbour station is open.", T0, "",
        false);
    add(st, "a4", "\xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0 news",
        "Snow fell in Z\xc3\xbcrich and \xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0.", T0, "",
        false);
    add(st, "a5", "Greek letters",
        "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi", T0,
        "", false);
    CHECK_FOUND(st, "harbour", "1 3");
    CHECK_FOUND(st, "HARBOUR Lights", "1");
    /* phrases: the words side by side, in order */
    CHECK_FOUND(st, "\"north korea\"", "1");
    CHECK_FOUND(st, "\"korea north\"", "");
    CHECK_FOUND(st, "\"north delegation\"", "");
    /* prefixes */
    CHECK_FOUND(st, "elect*", "2");
    CHECK_FOUND(st, "el*", "2");
    CHECK_FOUND(st, "har* rail", "3");
    CHECK_FOUND(st, "zz*", "");
    /* OR groups, ANDed with the other terms */
    CHECK_FOUND(st, "rail OR election", "2 3");
    CHECK_FOUND(st, "rail OR lights harbour", "1 3");
    CHECK_FOUND(st, "harbour rail OR nothing", "3");
    CHECK_FOUND(st, "\"north korea\" OR elect*", "1 2");
    CHECK_FOUND(st, "nothing OR nowhere", "");
    /* exclusions of a word, a phrase, a prefix */
    CHECK_FOUND(st, "harbour -trains", "1");
    CHECK_FOUND(st, "harbour -\"north korea\"", "3");
    CHECK_FOUND(st, "harbour -tra*", "1");
    CHECK_FOUND(st, "harbour -nothing", "1 3");
    CHECK_FOUND(st, "-harbour", "refused");
    /* 16 terms, the most: all of them, one missing, one excluded, 15 alternatives */
    CHECK_FOUND(
        st, "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi",
        "5");
    CHECK_FOUND(
        st, "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron rho",
        "");
    CHECK_FOUND(
        st, "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron -pi",
        "");
    CHECK_FOUND(st,
                "q1 OR q2 OR q3 OR q4 OR q5 OR q6 OR q7 OR q8 OR q9 OR q10 OR q11 OR q12 OR q13 "
                "OR q14 OR rail OR harbour",
                "1 3");
    CHECK_FOUND(st, "a b c d e f g h i j k l m n o p q", "refused");
    /* other scripts, case and diacritics */
    CHECK_FOUND(st, "\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0", "4");
    CHECK_FOUND(st, "\xd0\xbc\xd0\xbe\xd1\x81*", "4");
    CHECK_FOUND(st, "zurich", "4");
    CHECK_FOUND(st, "Z\xc3\x9cRICH", "4");
    CHECK_FOUND(st, "cafe", "2");
    CHECK_FOUND(st, "caf\xc3\xa9 OR \xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0", "2 4");
    /* either engine's operators are only text between words */
    CHECK_FOUND(st, "harbour & !lights", "1");
    CHECK_FOUND(st, "rail | harbour:", "3");
    CHECK_FOUND(st, "'north' <-> (korea)", "1");
    CHECK_FOUND(st, "harbour:lights", "1");
    CHECK_FOUND(st, "NEAR(north korea)", ""); /* "near" is a word to find */
    CHECK_FOUND(st, "north.korea", "1");
    nd_store_close(st);
}

/*
 * Every query of the search fuzzer's corpus (tests/fuzz/corpus/search), as
 * far as its first NUL, is refused by the parser or searched without an
 * error by the backend, articles and comments, with snippets that render:
 * the corpus holds the odd inputs the fuzzer found, and here they reach the
 * backend's own query (on PostgreSQL the tsquery of newsd_term_query calls).
 */
static void test_fuzz_corpus_queries(void)
{
    const char *root = getenv("ND_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/search", root ? root : ".");
    DIR *dir = opendir(path);
    if (!dir) {
        CHECK_SKIP("no fuzz corpus (ND_SOURCE_ROOT unset)");
        return;
    }
    struct nd_store *st = open_memory();
    add(st, "d1", "Caf\xc3\xa9 owners & e-mail: <b>elections</b> \"quoted\"",
        "Elected officials met at the caf\xc3\xa9; AND OR NOT NEAR title:x {a b}: ^start", T0, "",
        false);
    add(st, "d2", "Harbour lights", "Harbour lights shine over the harbour at night.", T0, "",
        false);
    struct nd_comment_fields c = {.article_id = 2, .author = "r", .body = "Night rail OR tram"};
    json_t *com = NULL;
    CHECK_INT(nd_store_comment_create(st, &c, &com), ND_OK);
    json_decref(com);
    unsigned searched = 0;
    for (struct dirent *e = readdir(dir); e; e = readdir(dir)) {
        char file[1400], text[4096], why[256];
        if (e->d_name[0] == '.')
            continue;
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        FILE *f = fopen(file, "rb");
        if (!f)
            continue;
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        struct nd_search_query q;
        if (nd_search_parse(text, &q, why, sizeof why) != ND_OK)
            continue;
        for (int comments = 0; comments < 2; comments++) {
            struct nd_search_params p = {.query = &q, .comments = comments, .limit = 10};
            json_t *items = NULL, *item;
            char *next = NULL;
            size_t i;
            enum nd_err err = nd_store_search(st, &p, &items, &next);
            if (err != ND_OK)
                printf("# %s: %d\n", e->d_name, (int)err);
            CHECK_INT(err, ND_OK);
            json_array_foreach(items, i, item)
            {
                const char *snippet = str_of(item, "snippet");
                char *html = nd_search_snippet_html(snippet ? snippet : "");
                CHECK(snippet && html && !strchr(html, '\x01') && !strchr(html, '\x03'));
                free(html);
            }
            json_decref(items);
            free(next);
        }
        searched++;
    }
    closedir(dir);
    CHECK(searched >= 10);
    nd_store_close(st);
}

int main(void)
{
    return STORE_CHECK_RUN(CHECK_CASE(test_title_beats_body), CHECK_CASE(test_matching_rules),
                           CHECK_CASE(test_drafts_and_filters), CHECK_CASE(test_pagination),
                           CHECK_CASE(test_bad_cursor), CHECK_CASE(test_snippet_and_comments),
                           CHECK_CASE(test_index_follows_writes),
                           CHECK_CASE(test_migration_indexes_existing_rows),
                           CHECK_CASE(test_window), CHECK_CASE(test_window_across_ids),
                           CHECK_CASE(test_query_shapes), CHECK_CASE(test_fuzz_corpus_queries));
}
