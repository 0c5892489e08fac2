/*
 * test_search.c: the search-box language parser and the SQLite store's
 * FTS5 translation of what it parses, case by case; the parsed structure
 * itself; and every translation run through a real FTS5 table to prove that
 * no input, however hostile, yields an FTS5 syntax error.
 */
#include <sqlite3.h>
#include <stdlib.h>

#include "check.h"
#include "newsd/search.h"
#include "store_search_fts.h"

/* Parses query and translates it as the SQLite store does; *fts only on ND_OK. */
static enum nd_err translate(const char *query, char **fts, char *why, size_t whylen)
{
    struct nd_search_query q;
    enum nd_err rc = nd_search_parse(query, &q, why, whylen);
    if (rc != ND_OK)
        return rc;
    return nd_store_search_fts(&q, fts);
}

struct tcase {
    const char *query;
    const char *fts; /* expected expression, or NULL for an error */
    const char *err; /* expected substring of the error */
};

static const struct tcase cases[] = {
    {"lavrov", "\"lavrov\"", NULL},
    {"  lavrov   pyongyang ", "(\"lavrov\" AND \"pyongyang\") OR \"lavrov pyongyang\"", NULL},
    {"\"north korea\"", "\"north korea\"", NULL},
    {"\"north korea\" lavrov", "\"north korea\" AND \"lavrov\"", NULL},
    {"elect*", "\"elect\"*", NULL},
    {"elect***", "\"elect\"*", NULL},
    {"\"north kor\"*", "\"north kor\"*", NULL},
    {"russia -ukraine", "(\"russia\") NOT (\"ukraine\")", NULL},
    {"russia -ukraine -kursk", "(\"russia\") NOT (\"ukraine\" OR \"kursk\")", NULL},
    {"russia -\"north korea\"", "(\"russia\") NOT (\"north korea\")", NULL},
    {"russia --ukraine", "(\"russia\") NOT (\"ukraine\")", NULL},
    {"cats OR dogs", "(\"cats\" OR \"dogs\")", NULL},
    {"cats OR dogs OR birds", "(\"cats\" OR \"dogs\" OR \"birds\")", NULL},
    {"pets cats OR dogs food", "\"pets\" AND (\"cats\" OR \"dogs\") AND \"food\"", NULL},
    {"a OR b c OR d", "(\"a\" OR \"b\") AND (\"c\" OR \"d\")", NULL},
    {"cats or dogs", "(\"cats\" AND \"or\" AND \"dogs\") OR \"cats or dogs\"", NULL},
    {"cats AND dogs", "(\"cats\" AND \"dogs\") OR \"cats dogs\"", NULL},
    {"NOT", "\"NOT\"", NULL},
    {"\"OR\"", "\"OR\"", NULL},
    {"e-mail", "\"e-mail\"", NULL},
    {"title:x", "\"title:x\"", NULL},
    {"NEAR(a b)", "(\"NEAR(a\" AND \"b)\") OR \"NEAR(a b)\"", NULL},
    {"NEAR(", "\"NEAR(\"", NULL},
    {"^start", "\"^start\"", NULL},
    {"say \"hi", "\"say\" AND \"hi\"", NULL},
    {"\"unbalanced", "\"unbalanced\"", NULL},
    {"it\"s", "\"it\" AND \"s\"", NULL},
    {"O'Brien", "\"O'Brien\"", NULL},
    {"caf\xc3\xa9", "\"caf\xc3\xa9\"", NULL},
    {"\xe6\x9d\xb1\xe4\xba\xac", "\"\xe6\x9d\xb1\xe4\xba\xac\"", NULL},
    {"climate \xf0\x9f\x8c\x8d", "\"climate\"", NULL},
    {"tab\tseparated\nwords",
     "(\"tab\" AND \"separated\" AND \"words\") OR \"tab separated words\"", NULL},
    {"\"a\x01phrase\"", "\"a phrase\"", NULL},
    {"x * y", "(\"x\" AND \"y\") OR \"x y\"", NULL},
    {"lone - dash", "(\"lone\" AND \"dash\") OR \"lone dash\"", NULL},
    {"(a)", "\"(a)\"", NULL},
    {"'; DROP TABLE articles; --",
     "(\"DROP\" AND \"TABLE\" AND \"articles;\") OR \"DROP TABLE articles;\"", NULL},
    {"", NULL, "no words"},
    {"   ", NULL, "no words"},
    {"*", NULL, "no words"},
    {"-", NULL, "no words"},
    {"^", NULL, "no words"},
    {"\"\"", NULL, "no words"},
    {"\xf0\x9f\x98\x80", NULL, "no words"},
    {"-ukraine", NULL, "excluded terms alone"},
    {"a*", NULL, "at least 2 letters"},
    {"\"new y\"*", NULL, "at least 2 letters"},
    {"OR", NULL, "OR must stand between"},
    {"OR cats", NULL, "OR must stand between"},
    {"cats OR", NULL, "OR must stand between"},
    {"cats OR OR dogs", NULL, "OR must stand between"},
    {"cats OR -dogs", NULL, "excluded term"},
    {"-cats OR dogs", NULL, "OR must stand between"},
    {"caf\xc3", NULL, "not valid UTF-8"},
    {"\xff\xfe", NULL, "not valid UTF-8"},
    {"a b c d e f g h i j k l m n o p",
     "(\"a\" AND \"b\" AND \"c\" AND \"d\" AND \"e\" AND \"f\" AND \"g\" AND \"h\" AND \"i\" AND "
     "\"j\" AND \"k\" AND \"l\" AND \"m\" AND \"n\" AND \"o\" AND \"p\") OR "
     "\"a b c d e f g h i j k l m n o p\"",
     NULL},
    {"solar harbour -tax", "((\"solar\" AND \"harbour\") OR \"solar harbour\") NOT (\"tax\")",
     NULL},
    {"say \"x\"\"y\" z", "\"say\" AND \"x\" AND \"y\" AND \"z\"", NULL},
    {"a b c d e f g h i j k l m n o p q", NULL, "more than 16"},
};

static void test_cases(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[256] = "";
        char *fts = NULL;
        enum nd_err rc = translate(cases[i].query, &fts, err, sizeof err);
        if (cases[i].fts) {
            CHECK_INT(rc, ND_OK);
            CHECK_STR(fts, cases[i].fts);
        } else {
            CHECK_INT(rc, ND_ERR_INVALID);
            CHECK(fts == NULL);
            const char *want = cases[i].err ? cases[i].err : "";
            if (!strstr(err, want))
                printf("# case %zu: error \"%s\" lacks \"%s\"\n", i, err, want);
            CHECK(strstr(err, want) != NULL);
        }
        free(fts);
    }
}

/* The parsed query itself: terms in the order typed, their flags and their groups. */
static void test_structure(void)
{
    char why[256];
    struct nd_search_query q;
    CHECK_INT(nd_search_parse("pets cats OR dogs -\"north\x01korea\" AND elect** --x", &q, why,
                              sizeof why),
              ND_OK);
    static const struct {
        const char *text;
        bool phrase, prefix, excluded;
    } want[] = {
        {"pets", false, false, false}, {"cats", false, false, false},
        {"dogs", false, false, false}, {"north korea", true, false, true},
        {"elect", false, true, false}, {"x", false, false, true},
    };
    CHECK_INT(q.nterms, 6);
    for (unsigned i = 0; i < q.nterms && i < 6; i++) {
        const struct nd_search_term *t = &q.terms[i];
        CHECK_STR(nd_search_term_text(&q, t), want[i].text);
        CHECK_INT(t->len, strlen(want[i].text));
        CHECK_INT(t->phrase, want[i].phrase);
        CHECK_INT(t->prefix, want[i].prefix);
        CHECK_INT(t->excluded, want[i].excluded);
    }
    static const unsigned groups[][2] = {{0, 1}, {1, 2}, {3, 1}, {4, 1}, {5, 1}};
    CHECK_INT(q.ngroups, 5);
    for (unsigned g = 0; g < q.ngroups && g < 5; g++) {
        CHECK_INT(q.groups[g].first, groups[g][0]);
        CHECK_INT(q.groups[g].count, groups[g][1]);
    }
    /* the struct holds its text: a copy reads the same after the original is reused */
    struct nd_search_query copy = q;
    CHECK_INT(nd_search_parse("other words", &q, why, sizeof why), ND_OK);
    CHECK_STR(nd_search_term_text(&copy, &copy.terms[3]), "north korea");
    /* a phrase with a prefix keeps both flags */
    CHECK_INT(nd_search_parse("\"north kor\"*", &q, why, sizeof why), ND_OK);
    CHECK_INT(q.nterms, 1);
    CHECK(q.terms[0].phrase && q.terms[0].prefix && !q.terms[0].excluded);
    CHECK_STR(nd_search_term_text(&q, &q.terms[0]), "north kor");
}

static void test_limits(void)
{
    char err[256];
    char *fts = NULL;
    /* 10 KB of text */
    char *big = malloc(10241);
    memset(big, 'a', 10240);
    big[10240] = '\0';
    CHECK_INT(translate(big, &fts, err, sizeof err), ND_ERR_INVALID);
    CHECK(strstr(err, "shorten it") != NULL);
    /* exactly at the byte limit, as one long word */
    big[ND_SEARCH_MAX_BYTES] = '\0';
    CHECK_INT(translate(big, &fts, err, sizeof err), ND_OK);
    free(fts);
    fts = NULL;
    /* 1,000 terms */
    char *many = malloc(2001);
    for (int i = 0; i < 1000; i++) {
        many[2 * i] = 'x';
        many[2 * i + 1] = ' ';
    }
    many[2000] = '\0';
    CHECK_INT(translate(many, &fts, err, sizeof err), ND_ERR_INVALID);
    CHECK(fts == NULL);
    free(many);
    free(big);
    /* a query of only quotes, at the limit, never overflows the output */
    char quotes[ND_SEARCH_MAX_BYTES + 1];
    memset(quotes, '"', ND_SEARCH_MAX_BYTES);
    quotes[ND_SEARCH_MAX_BYTES] = '\0';
    quotes[1] = 'q';
    CHECK_INT(translate(quotes, &fts, err, sizeof err), ND_OK);
    free(fts);
}

/* Every translation is valid FTS5: MATCH never fails with a syntax error. */
static void test_fts5_accepts(void)
{
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
    CHECK_INT(
        sqlite3_exec(db,
                     "CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize='porter "
                     "unicode61 remove_diacritics 2', prefix='2 3');"
                     "INSERT INTO t VALUES('Cats and dogs', 'North Korea e-mail caf\xc3\xa9');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CHECK_INT(sqlite3_prepare_v2(db, "SELECT count(*) FROM t WHERE t MATCH ?", -1, &st, NULL),
              SQLITE_OK);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[256];
        char *fts = NULL;
        if (translate(cases[i].query, &fts, err, sizeof err) != ND_OK)
            continue;
        sqlite3_bind_text(st, 1, fts, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
            printf("# \"%s\" -> %s: %s\n", cases[i].query, fts, sqlite3_errmsg(db));
        CHECK_INT(rc, SQLITE_ROW);
        sqlite3_reset(st);
        free(fts);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_matching(void)
{
    sqlite3 *db = NULL;
    sqlite3_open(":memory:", &db);
    sqlite3_exec(db,
                 "CREATE VIRTUAL TABLE t USING fts5(body, tokenize='porter unicode61 "
                 "remove_diacritics 2', prefix='2 3');"
                 "INSERT INTO t(rowid, body) VALUES(1, 'The caf\xc3\xa9 opened in North Korea'),"
                 "(2, 'Korea of the north'), (3, 'Elections were held')",
                 NULL, NULL, NULL);
    static const struct {
        const char *query;
        int count;
    } want[] = {
        {"cafe", 1},
        {"CAF\xc3\x89", 1},
        {"\"north korea\"", 1},
        {"korea north", 2},
        {"korea -cafe", 1},
        {"elect*", 1},
        {"election", 1},
        {"opens", 1},
        {"cafe OR elections", 2},
        {"korea \xf0\x9f\x98\x80", 2},
    };
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM t WHERE t MATCH ?", -1, &st, NULL);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char err[256];
        char *fts = NULL;
        CHECK_INT(translate(want[i].query, &fts, err, sizeof err), ND_OK);
        sqlite3_bind_text(st, 1, fts, -1, SQLITE_TRANSIENT);
        CHECK_INT(sqlite3_step(st), SQLITE_ROW);
        if (sqlite3_column_int(st, 0) != want[i].count)
            printf("# \"%s\" matched %d\n", want[i].query, sqlite3_column_int(st, 0));
        CHECK_INT(sqlite3_column_int(st, 0), want[i].count);
        sqlite3_reset(st);
        free(fts);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Appends a pseudo-random text of n words (sentences, punctuation, accents) at out. */
static void random_text(char *out, size_t size, unsigned n, unsigned *seed)
{
    static const char *const words[] = {
        "harbour",
        "lights",
        "night",
        "rail",
        "tram",
        "caf\xc3\xa9",
        "Caf\xc3\xa9s",
        "north",
        "korea",
        "elections",
        "elected",
        "na\xc3\xafve",
        "\xe6\x9d\xb1\xe4\xba\xac",
        "e-mail",
        "co-op",
        "2024",
        "the",
        "a",
        "of",
        "\xe2\x80\x9cquoted\xe2\x80\x9d",
        "x\xcc\x81"
        "y",
        "stra\xc3\x9f"
        "e",
        "\xf0\x9f\x98\x80",
        "lighthouse",
        "keeper",
        "NEAR",
    };
    static const char *const gaps[] = {" ",   " ",  " ",   ", ",           ". ", ": ", ".\n\n",
                                       " - ", "\t", "...", "\xe2\x80\x94", " (", ") ", ".  "};
    size_t len = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        const char *w = words[(*seed >> 8) % (sizeof words / sizeof *words)];
        *seed = *seed * 1103515245u + 12345u;
        const char *g = i == 0 ? "" : gaps[(*seed >> 8) % (sizeof gaps / sizeof *gaps)];
        int k = snprintf(out + len, size - len, "%s%s", g, w);
        if (k < 0 || (size_t)k >= size - len)
            break;
        len += (size_t)k;
    }
}

/*
 * nd_snippet() gives, row for row, what FTS5's snippet() gives: the same
 * column, window, ellipses and marks, over texts with sentences, accents,
 * CJK, emoji, matches at either end and columns without a match.
 */
static void test_snippet_same(void)
{
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
    CHECK_INT(nd_store_search_functions(db), ND_OK);
    CHECK_INT(sqlite3_exec(db,
                           "CREATE VIRTUAL TABLE t USING fts5(title, summary, body,"
                           " tokenize='porter unicode61 remove_diacritics 2', prefix='2 3 4')",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_stmt *ins = NULL;
    CHECK_INT(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?, ?)", -1, &ins, NULL), SQLITE_OK);
    static char title[4096], summary[4096], body[32768];
    unsigned seed = 7;
    for (int i = 0; i < 300; i++) {
        random_text(title, sizeof title, 1 + seed % 12, &seed);
        random_text(summary, sizeof summary, i % 5 == 0 ? 0 : seed % 40, &seed);
        random_text(body, sizeof body, i % 7 == 0 ? 3 : seed % 900, &seed);
        sqlite3_bind_text(ins, 1, title, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, summary, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, body, -1, SQLITE_STATIC);
        CHECK_INT(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    static const char *const queries[] = {
        "harbour",
        "lights night",
        "\"north korea\"",
        "cafe",
        "elect*",
        "ha*",
        "rail OR tram",
        "korea -cafe",
        "e-mail",
        "\xe6\x9d\xb1\xe4\xba\xac",
        "naive",
        "quoted",
        "xy",
        "strasse",
        "the a of",
        "\"the a\"",
        "lighthouse keeper",
        "2024",
        "co*",
        "near",
    };
    sqlite3_stmt *st = NULL;
    CHECK_INT(
        sqlite3_prepare_v2(db,
                           "SELECT rowid, snippet(t, -1, char(1), char(2), '\xe2\x80\xa6', 24),"
                           " nd_snippet(t, char(1), char(2), '\xe2\x80\xa6', 24)"
                           " FROM t WHERE t MATCH ?",
                           -1, &st, NULL),
        SQLITE_OK);
    unsigned rows = 0, differ = 0;
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
        char err[256];
        char *fts = NULL;
        CHECK_INT(translate(queries[q], &fts, err, sizeof err), ND_OK);
        sqlite3_bind_text(st, 1, fts, -1, SQLITE_TRANSIENT);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *want = (const char *)sqlite3_column_text(st, 1);
            const char *got = (const char *)sqlite3_column_text(st, 2);
            rows++;
            if (strcmp(want ? want : "", got ? got : "") != 0) {
                if (differ++ < 3)
                    printf("# %s, row %lld:\n#  snippet:    %s\n#  nd_snippet: %s\n", fts,
                           sqlite3_column_int64(st, 0), want, got);
            }
        }
        CHECK_INT(rc, SQLITE_DONE);
        sqlite3_reset(st);
        free(fts);
    }
    printf("# %u rows compared\n", rows);
    CHECK(rows > 1000);
    CHECK_INT(differ, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_snippet_html(void)
{
    char *html = nd_search_snippet_html("a \x01word\x02 <script>alert('x&y')</script> \"q\"\x03");
    CHECK_STR(html, "a <mark>word</mark> &lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt; "
                    "&quot;q&quot;");
    free(html);
    html = nd_search_snippet_html("");
    CHECK_STR(html, "");
    free(html);
    html = nd_search_snippet_html("\x01\x02\x01\x02");
    CHECK_STR(html, "<mark></mark><mark></mark>");
    free(html);
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_cases), CHECK_CASE(test_structure), CHECK_CASE(test_limits),
                     CHECK_CASE(test_fts5_accepts), CHECK_CASE(test_matching),
                     CHECK_CASE(test_snippet_same), CHECK_CASE(test_snippet_html));
}
