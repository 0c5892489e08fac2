/*
 * test_import.c: the plain-text importer (server/import.c).
 *
 * Parser cases run on the project's fixtures (tests/fixtures, found through
 * ND_SOURCE_ROOT), on the demo articles (config/demo), on the shared samples
 * (the folder ND_SAMPLES names) and on small texts written here. Store
 * cases import into an in-memory database and read the articles back.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "db_fixture.h"
#include "newsd/import.h"
#include "newsd/store.h"
#include "newsd/text.h"
#include "newsd/util.h"

#define ERR_LEN 256

static const char *const furniture[] = {"Source link", "Posted in", "Leave a Comment"};

/* A new string "dir/name". */
static char *path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *p = malloc(dl + nl + 2);
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    return p;
}

/* The folder under the source root, e.g. "tests/fixtures" (a new string). */
static char *source_path(const char *sub)
{
    const char *root = getenv("ND_SOURCE_ROOT");
    return path_join(root ? root : ".", sub);
}

/* The whole file at path in a new buffer (*len bytes), or NULL. */
static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static size_t count_paragraphs(const char *body)
{
    size_t n = 1;
    for (const char *p = strstr(body, "\n\n"); p != NULL; p = strstr(p + 2, "\n\n"))
        n++;
    return n;
}

/* Checks that no furniture label is left anywhere in body. */
static void check_no_furniture(const char *body)
{
    for (size_t i = 0; i < sizeof(furniture) / sizeof(furniture[0]); i++) {
        if (strstr(body, furniture[i]) != NULL) {
            printf("# body holds \"%s\"\n", furniture[i]);
            CHECK(false);
        }
    }
}

/* Parses the file dir/name into *art; returns the parse result. */
static enum nd_err parse_file(const char *dir, const char *name, struct nd_import_article *art,
                              char *err)
{
    char *path = path_join(dir, name);
    size_t len = 0;
    char *text = read_whole(path, &len);
    enum nd_err rc = ND_ERR_IO;
    if (text == NULL)
        printf("# cannot read %s\n", path);
    else
        rc = nd_import_parse(text, len, art, err, ERR_LEN);
    free(text);
    free(path);
    return rc;
}

/* ---- fixtures ---------------------------------------------------------- */

#define CLEAN_TITLE "Ashcombe ferry returns to its summer schedule"
#define CLEAN_BODY                                                                                 \
    "The passenger ferry between Ashcombe and Pellow Point resumes hourly crossings on "           \
    "Monday.\n\nTickets bought for the winter service remain valid until the end of the "          \
    "month.\n\nThe operator thanked passengers for their patience during the repairs to the "      \
    "landing stage."

struct fixture_case {
    const char *file;
    const char *title; /* NULL: the parse must fail with error */
    const char *category;
    const char *body;
    const char *error;
};

static const struct fixture_case fixture_cases[] = {
    {"clean.txt", CLEAN_TITLE, "Transport", CLEAN_BODY, NULL},
    {"crlf.txt", CLEAN_TITLE, "Transport", CLEAN_BODY, NULL},
    {"lone-cr.txt", CLEAN_TITLE, "Transport", CLEAN_BODY, NULL},
    {"bom.txt", CLEAN_TITLE, "Transport", CLEAN_BODY, NULL},
    {"no-repeat.txt", "Pellow Point lighthouse open for guided tours", "Heritage",
     "Guided tours of the Pellow Point lighthouse start again this weekend.\n\nVisitors climb "
     "the 112 steps to the lamp room in groups of eight.",
     NULL},
    {"no-furniture.txt", "Cycle path along the canal resurfaced", "",
     "The towpath between the two locks has a new smooth surface.\n\nCyclists are asked to give "
     "way to walkers near the moorings.",
     NULL},
    {"posted-only.txt", "Allotment society shares its seed library", "Parks & Gardens",
     "The allotment society now lends seeds as a library lends books.\n\nMembers return seeds "
     "saved from their own plants at the end of the season.",
     NULL},
    {"inline-category.txt", "Bandstand concerts move to Sunday afternoons", "Arts",
     "The brass band plays on Sunday afternoons from next month.", NULL},
    {"source-and-comment.txt", "Town forum asks readers about the new market square", "",
     "Residents who posted in the town forum this week asked the council to leave a comment box "
     "at the market.\n\nThe source link to the consultation is on the council noticeboard.",
     NULL},
    {"several-categories.txt", "Rowing club welcomes junior members", "Sport, Youth",
     "The rowing club opens its doors to juniors aged twelve and up.", NULL},
    {"multiline.txt", "Market hall roof repairs finish early", "",
     "The repairs to the market hall roof finished a week ahead of plan. Traders can move back "
     "into the hall on Friday morning.\n\nThe hall will host a reopening fair on Saturday.",
     NULL},
    {"accents-title.txt",
     "Caf\u00e9 \u2018Zur M\u00fchle\u2019 reopens after the Stra\u00dfe works", "Food & Drink",
     "The caf\u00e9 by the mill pond reopens on Thursday after six weeks of road works outside.",
     NULL},
    {"empty.txt", NULL, NULL, NULL, "empty file"},
    {"blank.txt", NULL, NULL, NULL, "empty file"},
    {"title-only.txt", NULL, NULL, NULL, "no body paragraphs"},
    {"invalid-utf8.txt", NULL, NULL, NULL, "not valid UTF-8"},
};

/*
 * One parse's outcome: with title NULL a refusal whose reason holds error
 * and art left untouched; otherwise art holds title, category and body.
 * Frees what art holds.
 */
static void check_outcome(enum nd_err rc, struct nd_import_article *art, const char *err,
                          const char *title, const char *category, const char *body,
                          const char *error)
{
    if (title == NULL) {
        CHECK_INT(rc, ND_ERR_INVALID);
        CHECK(strstr(err, error) != NULL);
        CHECK(art->title == NULL && art->body == NULL && art->category == NULL);
        return;
    }
    CHECK_INT(rc, ND_OK);
    CHECK_STR(art->title, title);
    CHECK_STR(art->category, category);
    CHECK_STR(art->body, body);
    nd_import_article_fini(art);
}

static void test_fixtures(void)
{
    char *dir = source_path("tests/fixtures");
    for (size_t i = 0; i < sizeof(fixture_cases) / sizeof(fixture_cases[0]); i++) {
        const struct fixture_case *c = &fixture_cases[i];
        struct nd_import_article art = {0};
        char err[ERR_LEN] = "";
        enum nd_err rc = parse_file(dir, c->file, &art, err);
        printf("# %s\n", c->file);
        check_outcome(rc, &art, err, c->title, c->category, c->body, c->error);
    }
    free(dir);
}

static void test_fixture_accented_slug(void)
{
    char *dir = source_path("tests/fixtures");
    struct nd_import_article art = {0};
    char err[ERR_LEN] = "";
    CHECK_INT(parse_file(dir, "accents-title.txt", &art, err), ND_OK);
    char *slug = nd_slug_from_title(art.title ? art.title : "");
    CHECK_STR(slug, "cafe-zur-muhle-reopens-after-the-strasse-works");
    free(slug);
    nd_import_article_fini(&art);
    free(dir);
}

/* ---- texts written here ------------------------------------------------ */

struct text_case {
    const char *name;
    const char *text;
    size_t len;        /* 0: strlen(text) */
    const char *title; /* NULL: the parse must fail with error */
    const char *category;
    const char *body;
    const char *error;
};

static const struct text_case text_cases[] = {
    {"NUL byte", "Title\n\nBo\0dy\n", 13, NULL, NULL, NULL, "NUL"},
    {"control character", "Title\n\nBody\x01 text\n", 0, NULL, NULL, NULL,
     "line 3 holds a control character"},
    {"truncated UTF-8", "Title \xc3\n\nBody\n", 0, NULL, NULL, NULL, "not valid UTF-8"},
    {"only furniture", "Title\n\nSource link\n\nPosted in\n\nNews\n\nLeave a Comment", 0, NULL,
     NULL, NULL, "no body paragraphs"},
    {"labels in any case, with colons",
     "Title\n\nBody.\n\nsource link:\n\nPOSTED IN::\n\nlocal news\n\nleave a comment", 0, "Title",
     "local news", "Body.", NULL},
    {"posted in with no category", "Title\n\nBody.\n\nPosted in\n\nLeave a Comment", 0, "Title", "",
     "Body.", NULL},
    {"labels only count at the end",
     "Title\n\nFirst.\n\nPosted in\n\nLeave a Comment\n\nThe news desk said so today.\n", 0,
     "Title", "", "First.\n\nPosted in\n\nLeave a Comment\n\nThe news desk said so today.", NULL},
    {"a sentence is not a category", "Title\n\nFirst.\n\nPosted in\n\nA closing sentence.", 0,
     "Title", "", "First.\n\nPosted in\n\nA closing sentence.", NULL},
    {"words around a label", "Title\n\nBody.\n\nPosted in News", 0, "Title", "",
     "Body.\n\nPosted in News", NULL},
    {"furniture out of order", "Title\n\nBody.\n\nPosted in\n\nNews\n\nSource link", 0, "Title",
     "News", "Body.", NULL},
    {"trailing white space and NBSP",
     "Title \t\n\nTitle\u00a0\n\u00a0\n  Body  starts\there. \n\u00a0 \n", 0, "Title", "",
     "Body starts here.", NULL},
    {"a different second line is body", "Title A\n\nTitle B\n\nBody", 0, "Title A", "",
     "Title B\n\nBody", NULL},
    {"title without blank line", "Title\nBody line one\nline two\n\n\n\nNext", 0, "Title", "",
     "Body line one line two\n\nNext", NULL},
    {"mixed line endings", "Title\r\n\r\nTitle\r\rOne\ntwo\r\n\nThree\r", 0, "Title", "",
     "One two\n\nThree", NULL},
};

static void test_texts(void)
{
    for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
        const struct text_case *c = &text_cases[i];
        struct nd_import_article art = {0};
        char err[ERR_LEN] = "";
        size_t len = c->len ? c->len : strlen(c->text);
        enum nd_err rc = nd_import_parse(c->text, len, &art, err, sizeof(err));
        printf("# %s\n", c->name);
        check_outcome(rc, &art, err, c->title, c->category, c->body, c->error);
    }
}

/* A text whose title is n copies of "\u00e9" (two bytes, one character). */
static char *long_title_text(size_t n)
{
    char *text = malloc(2 * n + 16);
    for (size_t i = 0; i < n; i++)
        memcpy(text + 2 * i, "\u00e9", 2);
    strcpy(text + 2 * n, "\n\nBody.\n");
    return text;
}

static void test_title_length(void)
{
    struct nd_import_article art = {0};
    char err[ERR_LEN] = "";
    char *text = long_title_text(300);
    CHECK_INT(nd_import_parse(text, strlen(text), &art, err, sizeof(err)), ND_OK);
    CHECK(art.title != NULL && nd_utf8_len(art.title) == 300);
    nd_import_article_fini(&art);
    free(text);
    text = long_title_text(301);
    CHECK_INT(nd_import_parse(text, strlen(text), &art, err, sizeof(err)), ND_ERR_INVALID);
    CHECK(strstr(err, "300") != NULL);
    free(text);
}

static void test_failure_leaves_out_untouched(void)
{
    char title[] = "kept";
    struct nd_import_article art = {title, NULL, NULL};
    char err[ERR_LEN] = "";
    CHECK_INT(nd_import_parse("", 0, &art, err, sizeof(err)), ND_ERR_INVALID);
    CHECK(art.title == title);
    CHECK_STR(err, "empty file");
    /* a NULL err buffer is allowed */
    CHECK_INT(nd_import_parse("T\n\n", 3, &art, NULL, 0), ND_ERR_INVALID);
    CHECK(art.title == title);
    nd_import_article_fini(NULL);
}

/* ---- samples and demo articles ----------------------------------------- */

static bool is_txt(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".txt") == 0;
}

static void check_lavrov(const struct nd_import_article *art)
{
    CHECK_STR(art->title, "Russia\u2019s Lavrov praises Pyongyang\u2019s \u2018unequivocal "
                          "support\u2019 on Ukraine");
    CHECK_STR(art->category, "Billboard Lifestyle");
    const char *start = "Russian Foreign Minister Sergei Lavrov praised";
    const char *end = "There has been no official confirmation of this.";
    CHECK(strncmp(art->body, start, strlen(start)) == 0);
    size_t bl = strlen(art->body), el = strlen(end);
    CHECK(bl > el && strcmp(art->body + bl - el, end) == 0);
    /* the sample's body has 14 paragraphs between the title and "Source link" */
    CHECK_INT(count_paragraphs(art->body), 14);
    CHECK(strstr(art->body, "Billboard Lifestyle") == NULL);
    CHECK(strstr(art->body, "Russia\u2019s Lavrov praises") == NULL);
}

/*
 * Parses every .txt file in the folder dir (label names them in the log),
 * checking that each has a category and no page furniture, then hands each
 * article to check with ctx. Returns how many parsed, -1 when dir cannot be
 * opened.
 */
static int each_text(const char *dir, const char *label,
                     void (*check)(const char *name, const struct nd_import_article *art,
                                   void *ctx),
                     void *ctx)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (!is_txt(e->d_name))
            continue;
        struct nd_import_article art = {0};
        char err[ERR_LEN] = "";
        printf("# %s %s\n", label, e->d_name);
        CHECK_INT(parse_file(dir, e->d_name, &art, err), ND_OK);
        if (art.body == NULL)
            continue;
        n++;
        check_no_furniture(art.body);
        CHECK(art.category[0] != '\0');
        check(e->d_name, &art, ctx);
        nd_import_article_fini(&art);
    }
    closedir(d);
    return n;
}

/* Counts the Lavrov sample into *(unsigned *)seen, checking it in detail. */
static void check_sample(const char *name, const struct nd_import_article *art, void *seen)
{
    if (strcmp(name, "lavrov-pyongyang.txt") == 0) {
        check_lavrov(art);
        (*(unsigned *)seen)++;
    }
}

static void test_samples(void)
{
    const char *dir = getenv("ND_SAMPLES");
    unsigned seen_lavrov = 0;
    if (dir == NULL || each_text(dir, "sample", check_sample, &seen_lavrov) < 0) {
        CHECK_SKIP("no samples folder");
        return;
    }
    CHECK_INT(seen_lavrov, 1);
}

struct demo_counts {
    unsigned with_apostrophe, with_accent;
};

/* A demo article has 4 to 8 paragraphs and a valid slug; counts its typography. */
static void check_demo(const char *name, const struct nd_import_article *art, void *counts)
{
    struct demo_counts *c = counts;
    (void)name;
    size_t paragraphs = count_paragraphs(art->body);
    CHECK(paragraphs >= 4 && paragraphs <= 8);
    char *slug = nd_slug_from_title(art->title);
    CHECK(nd_slug_valid(slug));
    c->with_apostrophe += strstr(art->title, "\u2019") != NULL;
    c->with_accent += strstr(slug, "cafe") != NULL && strstr(art->title, "Caf\u00e9") != NULL;
    free(slug);
}

static void test_demo_articles(void)
{
    char *dir = source_path("config/demo");
    struct demo_counts counts = {0};
    CHECK_INT(each_text(dir, "demo", check_demo, &counts), 5);
    CHECK(counts.with_apostrophe >= 1);
    CHECK(counts.with_accent >= 1);
    free(dir);
}

/* ---- through the store ------------------------------------------------- */

static struct nd_store *open_store(void)
{
    struct nd_store_options opts = {.synchronous = ND_SYNC_OFF, .busy_timeout_ms = 1000};
    return fresh_store(&opts); /* ":memory:", or a new PostgreSQL database (unit-pg) */
}

/*
 * Writes len bytes of text to a new temporary file and returns its path (a
 * new string), or NULL.
 */
static char *write_temp(const char *text, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    char *path = path_join(tmp && tmp[0] ? tmp : "/tmp", "newsd-import-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        free(path);
        return NULL;
    }
    bool ok = write(fd, text, len) == (ssize_t)len;
    close(fd);
    if (!ok) {
        unlink(path);
        free(path);
        return NULL;
    }
    return path;
}

/* Imports the file at path, checking the outcome; returns the id (0 on failure). */
static int64_t import_expect(struct nd_store *store, const char *path, enum nd_import_outcome want)
{
    enum nd_import_outcome outcome = ND_IMPORT_CREATED;
    int64_t id = 0;
    char err[ERR_LEN] = "";
    enum nd_err rc = nd_import_file(store, path, &outcome, &id, err, sizeof(err));
    if (rc != ND_OK)
        printf("# import %s: %s\n", path, err);
    CHECK_INT(rc, ND_OK);
    CHECK_INT(outcome, want);
    return id;
}

/* import_expect on dir/name. */
static int64_t import_in(struct nd_store *store, const char *dir, const char *name,
                         enum nd_import_outcome want)
{
    char *path = path_join(dir, name);
    int64_t id = import_expect(store, path, want);
    free(path);
    return id;
}

static const char *article_str(json_t *article, const char *field)
{
    return json_string_value(json_object_get(article, field));
}

/* The stored article id (a new reference; NULL after a failed check). */
static json_t *stored(struct nd_store *store, int64_t id)
{
    json_t *article = NULL;
    CHECK_INT(nd_store_article_get(store, id, &article), ND_OK);
    return article;
}

/* A store on ":memory:" and the folder of the fixture texts, for the cases that store imports. */
struct store_env {
    struct nd_store *store;
    char *fixtures;
};

/* Opens env's store and names its fixtures folder; false (a failed check) without a store. */
static bool env_open(struct store_env *env)
{
    env->store = open_store();
    env->fixtures = source_path("tests/fixtures");
    return env->store != NULL;
}

static void env_close(struct store_env *env)
{
    free(env->fixtures);
    nd_store_close(env->store);
}

static void test_store_reimport(void)
{
    struct store_env env;
    if (!env_open(&env))
        goto out;
    struct nd_store *store = env.store;
    const char *dir = env.fixtures;
    int64_t id = import_in(store, dir, "clean.txt", ND_IMPORT_CREATED);
    CHECK(id > 0);
    CHECK_INT(import_in(store, dir, "clean.txt", ND_IMPORT_EXISTING), id);
    /* the same text with other line endings or a BOM is the same article */
    CHECK_INT(import_in(store, dir, "crlf.txt", ND_IMPORT_EXISTING), id);
    CHECK_INT(import_in(store, dir, "lone-cr.txt", ND_IMPORT_EXISTING), id);
    CHECK_INT(import_in(store, dir, "bom.txt", ND_IMPORT_EXISTING), id);

    json_t *article = stored(store, id);
    CHECK_STR(article_str(article, "slug"), "ashcombe-ferry-returns-to-its-summer-schedule");
    CHECK_STR(article_str(article, "title"), CLEAN_TITLE);
    CHECK_STR(article_str(article, "body"), CLEAN_BODY);
    CHECK_STR(article_str(article, "category"), "Transport");
    CHECK_STR(article_str(article, "status"), "published");
    CHECK_STR(article_str(article, "author"), "");
    CHECK_STR(article_str(article, "summary"), "The passenger ferry between Ashcombe and Pellow "
                                               "Point resumes hourly crossings on Monday.");
    json_decref(article);
out:
    env_close(&env);
}

static void test_store_changed_body(void)
{
    struct store_env env;
    bool opened = env_open(&env);
    const char *text = CLEAN_TITLE "\n\n" CLEAN_TITLE "\n\nThe ferry timetable changed again.\n\n"
                                   "Posted in\n\nTransport\n";
    char *path = write_temp(text, strlen(text));
    CHECK(path != NULL);
    if (!opened || path == NULL)
        goto out;
    struct nd_store *store = env.store;
    const char *dir = env.fixtures;
    int64_t first = import_in(store, dir, "clean.txt", ND_IMPORT_CREATED);
    int64_t second = import_expect(store, path, ND_IMPORT_CREATED);
    CHECK(second > 0 && second != first);
    json_t *article = stored(store, second);
    CHECK_STR(article_str(article, "slug"), "ashcombe-ferry-returns-to-its-summer-schedule-2");
    CHECK_STR(article_str(article, "body"), "The ferry timetable changed again.");
    json_decref(article);
    /* and the changed text, once stored, is recognised too */
    CHECK_INT(import_expect(store, path, ND_IMPORT_EXISTING), second);
out:
    if (path != NULL)
        unlink(path);
    free(path);
    env_close(&env);
}

static void test_store_sample(void)
{
    const char *dir = getenv("ND_SAMPLES");
    char *path = dir ? path_join(dir, "lavrov-pyongyang.txt") : NULL;
    if (path == NULL || access(path, R_OK) != 0) {
        CHECK_SKIP("no samples folder");
        free(path);
        return;
    }
    struct nd_store *store = open_store();
    if (store == NULL)
        goto out;
    int64_t id = import_in(store, dir, "lavrov-pyongyang.txt", ND_IMPORT_CREATED);
    json_t *article = stored(store, id);
    CHECK_STR(article_str(article, "slug"),
              "russias-lavrov-praises-pyongyangs-unequivocal-support-on-ukraine");
    CHECK_STR(article_str(article, "category"), "Billboard Lifestyle");
    const char *body = article_str(article, "body");
    CHECK(body != NULL);
    if (body != NULL) {
        check_no_furniture(body);
        CHECK(strstr(body, "Billboard Lifestyle") == NULL);
    }
    const char *summary = article_str(article, "summary");
    CHECK(summary != NULL && strncmp(summary, "Russian Foreign Minister", 24) == 0);
    CHECK(summary != NULL && nd_utf8_len(summary) <= ND_SUMMARY_MAX);
    json_decref(article);
    CHECK_INT(import_in(store, dir, "lavrov-pyongyang.txt", ND_IMPORT_EXISTING), id);
out:
    free(path);
    nd_store_close(store);
}

static void test_store_file_errors(void)
{
    struct store_env env;
    bool opened = env_open(&env);
    struct nd_store *store = env.store;
    char *missing = source_path("tests/fixtures/no-such-file.txt");
    char *empty = source_path("tests/fixtures/empty.txt");
    size_t len = 2 * 1024 * 1024 + 1;
    char *text = malloc(len);
    memset(text, 'a', len);
    char *big = write_temp(text, len);
    free(text);
    CHECK(big != NULL);
    enum nd_import_outcome outcome = ND_IMPORT_CREATED;
    int64_t id = -1;
    char err[ERR_LEN] = "";
    if (!opened || big == NULL)
        goto out;
    CHECK_INT(nd_import_file(store, missing, &outcome, &id, err, sizeof(err)), ND_ERR_IO);
    CHECK(strstr(err, "No such file") != NULL);
    CHECK_INT(nd_import_file(store, env.fixtures, &outcome, &id, err, sizeof(err)), ND_ERR_IO);
    CHECK(strstr(err, "directory") != NULL);
    CHECK_INT(nd_import_file(store, empty, &outcome, &id, err, sizeof(err)), ND_ERR_INVALID);
    CHECK_STR(err, "empty file");
    CHECK_INT(nd_import_file(store, big, &outcome, &id, err, sizeof(err)), ND_ERR_INVALID);
    CHECK(strstr(err, "too large") != NULL);
    /* nothing written on failure */
    CHECK_INT(outcome, ND_IMPORT_CREATED);
    CHECK_INT(id, -1);
out:
    if (big != NULL)
        unlink(big);
    free(big);
    free(missing);
    free(empty);
    env_close(&env);
}

int main(void)
{
    return STORE_CHECK_RUN(CHECK_CASE(test_fixtures), CHECK_CASE(test_fixture_accented_slug),
                           CHECK_CASE(test_texts), CHECK_CASE(test_title_length),
                           CHECK_CASE(test_failure_leaves_out_untouched), CHECK_CASE(test_samples),
                           CHECK_CASE(test_demo_articles), CHECK_CASE(test_store_reimport),
                           CHECK_CASE(test_store_changed_body), CHECK_CASE(test_store_sample),
                           CHECK_CASE(test_store_file_errors));
}
