/*
 * test_validate.c: the request-body rules of validate.c, as data.
 *
 * Most cases are a JSON text and the fields the validator must name, in the
 * order it names them (NULL: the body is valid); the harness runs each table
 * once. Length limits are tested at the boundary with multibyte characters
 * built in code, since they are too long to write out.
 */
#include <stdlib.h>

#include "check.h"
#include "newsd/validate.h"

#define NOW 1752312600 /* 2025-07-12T09:30:00Z */

struct body_case {
    const char *json;
    const char *fields; /* bad fields joined by ',', or NULL when valid */
};

/* The "field" members of errors joined by ','; malloc'd. */
static char *join_fields(const json_t *errors)
{
    size_t cap = 1;
    for (size_t i = 0; i < json_array_size(errors); i++)
        cap += strlen(json_string_value(json_object_get(json_array_get(errors, i), "field"))) + 1;
    char *out = calloc(cap, 1);
    for (size_t i = 0; out && i < json_array_size(errors); i++) {
        if (i > 0)
            strcat(out, ",");
        strcat(out, json_string_value(json_object_get(json_array_get(errors, i), "field")));
    }
    return out;
}

/* The message given for field, or NULL. */
static const char *message_for(const json_t *errors, const char *field)
{
    for (size_t i = 0; i < json_array_size(errors); i++) {
        const json_t *e = json_array_get(errors, i);
        if (strcmp(json_string_value(json_object_get(e, "field")), field) == 0)
            return json_string_value(json_object_get(e, "message"));
    }
    return NULL;
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *value = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!value)
        printf("# bad test JSON %s: %s\n", text, jerr.text);
    return value;
}

/* Compares the verdict and the error list with c; reports the case on failure. */
static void expect(const struct body_case *c, enum nd_err err, const json_t *errors)
{
    char *got = join_fields(errors);
    bool ok = c->fields ? err == ND_ERR_INVALID && got && strcmp(got, c->fields) == 0
                        : err == ND_OK && json_array_size(errors) == 0;
    if (!ok) {
        printf("# case %s: err %d, fields \"%s\", want \"%s\"\n", c->json, (int)err,
               got ? got : "?", c->fields ? c->fields : "(valid)");
        nd_check_failures++;
    }
    free(got);
}

static const struct body_case article_cases[] = {
    {"{\"title\":\"Hello\",\"body\":\"World\"}", NULL},
    {"[]", ""},
    {"\"title\"", ""},
    {"{}", "title,body"},
    {"{\"title\":null,\"body\":null}", "title,body"},
    {"{\"title\":5,\"body\":[\"x\"]}", "title,body"},
    {"{\"title\":\" \\t\\n \",\"body\":\"b\"}", "title"},
    {"{\"title\":\"a\\u0007b\",\"body\":\"b\"}", "title"},
    {"{\"title\":\"two\\nlines\",\"body\":\"b\"}", "title"},
    {"{\"title\":\"c1 \\u0085 control\",\"body\":\"b\"}", "title"},
    {"{\"title\":\"t\",\"body\":\" \\n\\t \"}", "body"},
    {"{\"title\":\"t\",\"body\":\"bell\\u0007\"}", "body"},
    {"{\"title\":\"t\",\"body\":\"para one\\n\\n\\tpara two\\r\\n\"}", NULL},
    {"{\"title\":\"t\",\"body\":\"b\",\"slug\":\"Bad Slug\"}", "slug"},
    {"{\"title\":\"t\",\"body\":\"b\",\"slug\":\"2024\"}", "slug"},
    {"{\"title\":\"t\",\"body\":\"b\",\"slug\":\"-x\"}", "slug"},
    {"{\"title\":\"t\",\"body\":\"b\",\"slug\":7}", "slug"},
    {"{\"title\":\"t\",\"body\":\"b\",\"slug\":\"good-slug-2\"}", NULL},
    {"{\"title\":\"t\",\"body\":\"b\",\"slug\":null}", NULL},
    {"{\"title\":\"t\",\"body\":\"b\",\"summary\":3}", "summary"},
    {"{\"title\":\"t\",\"body\":\"b\",\"summary\":\"\"}", NULL},
    {"{\"title\":\"t\",\"body\":\"b\",\"author\":\"a\\tb\"}", "author"},
    {"{\"title\":\"t\",\"body\":\"b\",\"author\":false}", "author"},
    {"{\"title\":\"t\",\"body\":\"b\",\"category\":\"x\\u001b\"}", "category"},
    {"{\"title\":\"t\",\"body\":\"b\",\"tags\":\"x\"}", "tags"},
    {"{\"title\":\"t\",\"body\":\"b\",\"tags\":{}}", "tags"},
    {"{\"title\":\"t\",\"body\":\"b\",\"tags\":[1,\"ok\",null]}", "tags[0],tags[2]"},
    {"{\"title\":\"t\",\"body\":\"b\",\"tags\":[\"ok\",\"  \"]}", "tags[1]"},
    {"{\"title\":\"t\",\"body\":\"b\",\"tags\":[\"a\\nb\"]}", "tags[0]"},
    {"{\"title\":\"t\",\"body\":\"b\",\"tags\":[]}", NULL},
    {"{\"title\":\"t\",\"body\":\"b\",\"tags\":null}", NULL},
    {"{\"title\":\"t\",\"body\":\"b\",\"status\":\"archived\"}", "status"},
    {"{\"title\":\"t\",\"body\":\"b\",\"status\":\"Draft\"}", "status"},
    {"{\"title\":\"t\",\"body\":\"b\",\"status\":true}", "status"},
    {"{\"title\":\"t\",\"body\":\"b\",\"status\":\"draft\"}", NULL},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"ftp://example.com/\"}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"https://\"}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"https:///path\"}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"http://exa mple.com/\"}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"http://a.com/\\u0001\"}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"http://user@:80/\"}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"http://host:http/\"}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"http://[]/\"}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"http://host:65536/\"}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"http://host:/\"}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"http://[not:v6]/\"}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"http://a<b>.com/\"}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"example.com\"}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"\"}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":42}", "source_url"},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"https://example.com/a?b=c#d\"}", NULL},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"HTTP://Example.COM\"}", NULL},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":\"http://u:p@[::1]:8080/x\"}", NULL},
    {"{\"title\":\"t\",\"body\":\"b\",\"source_url\":null}", NULL},
    {"{\"title\":\"t\",\"body\":\"b\",\"published_at\":\"yesterday\"}", "published_at"},
    {"{\"title\":\"t\",\"body\":\"b\",\"published_at\":\"2025-02-30T00:00:00Z\"}", "published_at"},
    {"{\"title\":\"t\",\"body\":\"b\",\"published_at\":\"2025-07-12\"}", "published_at"},
    {"{\"title\":\"t\",\"body\":\"b\",\"published_at\":1752312600}", "published_at"},
    {"{\"title\":\"t\",\"body\":\"b\",\"published_at\":\"2025-07-12T09:30:00.5+02:00\"}", NULL},
    {"{\"title\":\"t\",\"body\":\"b\",\"id\":1,\"created_at\":\"x\"}", "id,created_at"},
    {"{\"title\":\"t\",\"body\":\"b\",\"updated_at\":null,\"comment_count\":0}",
     "updated_at,comment_count"},
    {"{\"title\":\"t\",\"body\":\"b\",\"Title\":\"x\",\"import_key\":\"k\"}", "Title,import_key"},
    /* every kind of mistake at once, each reported */
    {"{\"id\":1,\"title\":\"\",\"body\":5,\"slug\":\"X\",\"summary\":[],\"author\":1,"
     "\"category\":{},\"tags\":[1],\"status\":\"x\",\"source_url\":\"nope\","
     "\"published_at\":\"x\",\"extra\":true}",
     "title,body,slug,summary,author,category,tags[0],status,source_url,published_at,id,extra"},
};

static void test_article_table(void)
{
    for (size_t i = 0; i < sizeof article_cases / sizeof *article_cases; i++) {
        json_t *obj = parse(article_cases[i].json);
        json_t *errors = json_array();
        struct nd_article_input in = {0};
        CHECK(obj != NULL);
        enum nd_err err = nd_validate_article(obj, NOW, &in, errors);
        expect(&article_cases[i], err, errors);
        nd_article_input_fini(&in);
        json_decref(errors);
        json_decref(obj);
    }
}

/* Validates text, which must be valid, into *in. */
static void valid_article(const char *text, struct nd_article_input *in)
{
    json_t *obj = parse(text);
    json_t *errors = json_array();
    CHECK_INT(nd_validate_article(obj, NOW, in, errors), ND_OK);
    CHECK_INT(json_array_size(errors), 0);
    json_decref(errors);
    json_decref(obj);
}

static void test_article_defaults(void)
{
    struct nd_article_input in = {0};
    valid_article("{\"title\":\"  Hello, World!  \",\"body\":\"\\n First para.\\n\\nSecond.\\n\"}",
                  &in);
    CHECK_STR(in.title, "Hello, World!");
    CHECK_STR(in.body, "First para.\n\nSecond.");
    CHECK_STR(in.slug, "hello-world");
    CHECK(in.slug_derived);
    CHECK_STR(in.summary, "First para.");
    CHECK_STR(in.author, "");
    CHECK_STR(in.category, "");
    CHECK_INT(in.ntags, 0);
    CHECK(in.source_url == NULL);
    CHECK(!in.draft);
    CHECK_INT(in.published_at, NOW);

    struct nd_article_fields f;
    nd_article_input_fields(&in, &f);
    CHECK_STR(f.slug, "hello-world");
    CHECK_STR(f.body, in.body);
    CHECK(f.import_key == NULL);
    CHECK(f.slug_derived);
    nd_article_input_fini(&in);
    CHECK(in.title == NULL);
    nd_article_input_fini(NULL);
}

static void test_article_given_values(void)
{
    struct nd_article_input in = {0};
    valid_article(
        "{\"title\":\"T\",\"body\":\"B\",\"slug\":\"my-slug\",\"summary\":\"  S  \","
        "\"author\":\" Ann \",\"category\":\"World\",\"tags\":[\" a \",\"b\",\"a\",\"B\"],"
        "\"status\":\"draft\",\"source_url\":\" https://example.com/x \","
        "\"published_at\":\"2025-07-12T11:30:00+02:00\"}",
        &in);
    CHECK_STR(in.slug, "my-slug");
    CHECK(!in.slug_derived);
    CHECK_STR(in.summary, "S");
    CHECK_STR(in.author, "Ann");
    CHECK_STR(in.category, "World");
    CHECK_INT(in.ntags, 3);
    if (in.ntags == 3) {
        CHECK_STR(in.tags[0], "a");
        CHECK_STR(in.tags[1], "b");
        CHECK_STR(in.tags[2], "B");
    }
    CHECK(in.draft);
    CHECK_STR(in.source_url, "https://example.com/x");
    CHECK_INT(in.published_at, NOW);
    nd_article_input_fini(&in);
}

/* Surrounding Unicode spaces (no-break, ideographic, em, BOM) are trimmed too. */
static void test_unicode_trim(void)
{
    struct nd_article_input in = {0};
    valid_article("{\"title\":\"\\u00a0\\u3000Caf\\u00e9\\u2003\\ufeff\",\"body\":\"x\\u202f\","
                  "\"tags\":[\"\\u00a0t\\u00a0\"]}",
                  &in);
    CHECK_STR(in.title, "Caf\xc3\xa9");
    CHECK_STR(in.body, "x");
    CHECK_INT(in.ntags, 1);
    if (in.ntags == 1)
        CHECK_STR(in.tags[0], "t");
    nd_article_input_fini(&in);
}

/* A string of n copies of unit. */
static char *repeat(const char *unit, size_t n)
{
    size_t len = strlen(unit);
    char *s = malloc(len * n + 1);
    for (size_t i = 0; s && i < n; i++)
        memcpy(s + i * len, unit, len);
    if (s)
        s[len * n] = '\0';
    return s;
}

/* Validates {"title":"t","body":"b",field:(value)} and returns the verdict. */
static enum nd_err article_with(const char *field, json_t *value, json_t *errors)
{
    json_t *obj = json_pack("{s:s, s:s}", "title", "t", "body", "b");
    json_object_set_new(obj, field, value);
    struct nd_article_input in = {0};
    enum nd_err err = nd_validate_article(obj, NOW, &in, errors);
    nd_article_input_fini(&in);
    json_decref(obj);
    return err;
}

/* field accepts n copies of unit and refuses n + 1 (naming field in the error). */
static void check_limit(const char *field, const char *unit, size_t n)
{
    char *ok = repeat(unit, n), *over = repeat(unit, n + 1);
    json_t *errors = json_array();
    CHECK_INT(article_with(field, json_string(ok), errors), ND_OK);
    CHECK_INT(article_with(field, json_string(over), errors), ND_ERR_INVALID);
    CHECK_INT(json_array_size(errors), 1);
    CHECK(message_for(errors, field) != NULL);
    json_decref(errors);
    free(ok);
    free(over);
}

static void test_character_limits(void)
{
    check_limit("title", "\xc3\xa9", 300);         /* é: 2 bytes, 1 character */
    check_limit("title", "\xe2\x80\x99", 300);     /* ’: 3 bytes */
    check_limit("author", "\xf0\x9f\x93\xb0", 80); /* 📰: 4 bytes */
    check_limit("category", "x", 100);
    check_limit("summary", "\xc3\xa9", 1000);
    check_limit("body", "x", ND_BODY_MAX_BYTES); /* bytes, not characters */
    check_limit("slug", "a", 120);
    json_t *errors = json_array();
    char *title = repeat("t", 300);
    char *padded = malloc(310);
    snprintf(padded, 310, "  %s  ", title);
    CHECK_INT(article_with("title", json_string(padded), errors), ND_OK);
    json_decref(errors);
    free(title);
    free(padded);
}

static void test_tag_limits(void)
{
    json_t *errors = json_array();
    char *tag50 = repeat("\xc3\xa9", 50), *tag51 = repeat("\xc3\xa9", 51);
    CHECK_INT(article_with("tags", json_pack("[s]", tag50), errors), ND_OK);
    CHECK_INT(article_with("tags", json_pack("[s]", tag51), errors), ND_ERR_INVALID);
    CHECK_STR(message_for(errors, "tags[0]"), "must be 1 to 50 characters");
    json_array_clear(errors);

    json_t *tags = json_array();
    for (int i = 0; i < 20; i++)
        json_array_append_new(tags, json_sprintf("tag%d", i));
    json_array_append_new(tags, json_string("tag3")); /* a repeat does not count */
    CHECK_INT(article_with("tags", json_deep_copy(tags), errors), ND_OK);
    json_array_append_new(tags, json_string("tag20"));
    CHECK_INT(article_with("tags", tags, errors), ND_ERR_INVALID);
    CHECK_STR(message_for(errors, "tags"), "must hold at most 20 distinct tags");
    CHECK_INT(json_array_size(errors), 1);
    json_decref(errors);
    free(tag50);
    free(tag51);
}

static void test_url_limit(void)
{
    json_t *errors = json_array();
    char *path = repeat("a", ND_URL_MAX - strlen("https://x.io/"));
    char url[ND_URL_MAX + 2];
    snprintf(url, sizeof url, "https://x.io/%s", path);
    CHECK_INT(article_with("source_url", json_string(url), errors), ND_OK);
    strcat(url, "a");
    CHECK_INT(article_with("source_url", json_string(url), errors), ND_ERR_INVALID);
    CHECK_STR(message_for(errors, "source_url"), "must be at most 2048 characters");
    json_decref(errors);
    free(path);
}

static void test_messages(void)
{
    json_t *obj = parse("{\"body\":3,\"title\":\"\",\"id\":1,\"nope\":1,\"status\":\"x\"}");
    json_t *errors = json_array();
    struct nd_article_input in = {0};
    CHECK_INT(nd_validate_article(obj, NOW, &in, errors), ND_ERR_INVALID);
    CHECK_STR(message_for(errors, "title"), "must not be empty");
    CHECK_STR(message_for(errors, "body"), "must be a string");
    CHECK_STR(message_for(errors, "id"), "is read-only");
    CHECK_STR(message_for(errors, "nope"), "is not allowed");
    CHECK_STR(message_for(errors, "status"), "must be \"published\" or \"draft\"");
    CHECK(in.title == NULL); /* untouched on failure */
    json_decref(obj);
    json_array_clear(errors);
    obj = parse("[1]");
    CHECK_INT(nd_validate_article(obj, NOW, &in, errors), ND_ERR_INVALID);
    CHECK_STR(message_for(errors, ""), "must be a JSON object");
    json_decref(obj);
    json_array_clear(errors);
    obj = parse("{}");
    CHECK_INT(nd_validate_article(obj, NOW, &in, errors), ND_ERR_INVALID);
    CHECK_STR(message_for(errors, "title"), "is required");
    json_decref(obj);
    json_decref(errors);
}

/* ---- merge patch ------------------------------------------------------- */

/* A stored article as the store returns it; its summary is the derived one. */
static const char current_text[] =
    "{\"id\":4,\"slug\":\"old-title\",\"title\":\"Old title\",\"summary\":\"Old body.\","
    "\"body\":\"Old body.\\n\\nMore.\",\"author\":\"Ann\",\"category\":\"World\","
    "\"tags\":[\"x\",\"y\"],\"source_url\":\"https://example.com/\",\"status\":\"draft\","
    "\"published_at\":\"2025-07-12T09:30:00Z\",\"created_at\":\"2025-07-12T09:30:00Z\","
    "\"updated_at\":\"2025-07-12T09:30:00Z\",\"comment_count\":3}";

static const struct body_case patch_cases[] = {
    {"{}", NULL},
    {"[]", ""},
    {"null", ""},
    {"{\"title\":null}", "title"},
    {"{\"body\":null}", "body"},
    {"{\"status\":null}", "status"},
    {"{\"published_at\":null}", "published_at"},
    {"{\"slug\":null,\"summary\":null,\"author\":null,\"category\":null,\"tags\":null,"
     "\"source_url\":null}",
     NULL},
    {"{\"title\":\"\"}", "title"},
    {"{\"slug\":\"Nope\"}", "slug"},
    {"{\"tags\":[\"a\",5]}", "tags[1]"},
    {"{\"id\":5,\"comment_count\":0,\"wat\":1}", "id,comment_count,wat"},
    {"{\"title\":null,\"body\":\"\",\"id\":1,\"wat\":1}", "title,body,id,wat"},
};

static void test_patch_table(void)
{
    json_t *current = parse(current_text);
    for (size_t i = 0; i < sizeof patch_cases / sizeof *patch_cases; i++) {
        json_t *patch = parse(patch_cases[i].json);
        json_t *errors = json_array();
        struct nd_article_input in = {0};
        enum nd_err err = nd_validate_article_patch(current, patch, NOW, &in, errors);
        expect(&patch_cases[i], err, errors);
        nd_article_input_fini(&in);
        json_decref(errors);
        json_decref(patch);
    }
    json_decref(current);
}

/* Applies patch text to current_text, which must give a valid article. */
static void patched(const char *text, struct nd_article_input *in)
{
    json_t *current = parse(current_text);
    json_t *patch = parse(text);
    json_t *errors = json_array();
    CHECK_INT(nd_validate_article_patch(current, patch, NOW, in, errors), ND_OK);
    CHECK_INT(json_array_size(errors), 0);
    json_t *again = parse(current_text); /* the borrowed article is left alone */
    CHECK(json_equal(current, again));
    json_decref(again);
    json_decref(errors);
    json_decref(patch);
    json_decref(current);
}

static void test_patch_keeps_fields(void)
{
    struct nd_article_input in = {0};
    patched("{}", &in);
    CHECK_STR(in.slug, "old-title");
    CHECK(!in.slug_derived);
    CHECK_STR(in.title, "Old title");
    CHECK_STR(in.summary, "Old body.");
    CHECK_STR(in.body, "Old body.\n\nMore.");
    CHECK_STR(in.author, "Ann");
    CHECK_STR(in.category, "World");
    CHECK_INT(in.ntags, 2);
    CHECK_STR(in.source_url, "https://example.com/");
    CHECK(in.draft);
    CHECK_INT(in.published_at, NOW);
    nd_article_input_fini(&in);

    patched("{\"title\":\"New title\",\"status\":\"published\",\"tags\":[\"z\",\"z\"]}", &in);
    CHECK_STR(in.title, "New title");
    CHECK_STR(in.slug, "old-title"); /* a slug stays put when the title changes */
    CHECK(!in.draft);
    CHECK_INT(in.ntags, 1);
    nd_article_input_fini(&in);
}

static void test_patch_null_resets(void)
{
    struct nd_article_input in = {0};
    patched("{\"title\":\"Brand New\",\"slug\":null,\"author\":null,\"category\":null,"
            "\"tags\":null,\"source_url\":null,\"summary\":null}",
            &in);
    CHECK_STR(in.slug, "brand-new");
    CHECK(in.slug_derived);
    CHECK_STR(in.author, "");
    CHECK_STR(in.category, "");
    CHECK_INT(in.ntags, 0);
    CHECK(in.source_url == NULL);
    CHECK_STR(in.summary, "Old body.");
    nd_article_input_fini(&in);

    patched("{\"slug\":\"given\"}", &in);
    CHECK_STR(in.slug, "given");
    CHECK(!in.slug_derived);
    nd_article_input_fini(&in);
}

static void test_patch_summary_rule(void)
{
    struct nd_article_input in = {0};
    /* the derived summary follows a new body */
    patched("{\"body\":\"Fresh start.\\n\\nRest.\"}", &in);
    CHECK_STR(in.summary, "Fresh start.");
    nd_article_input_fini(&in);
    /* unless the patch gives a summary */
    patched("{\"body\":\"Fresh start.\",\"summary\":\"Mine\"}", &in);
    CHECK_STR(in.summary, "Mine");
    nd_article_input_fini(&in);

    /* a hand-written summary is kept */
    json_t *current = parse(current_text);
    json_object_set_new(current, "summary", json_string("Written by hand"));
    json_t *patch = parse("{\"body\":\"Fresh start.\"}");
    json_t *errors = json_array();
    CHECK_INT(nd_validate_article_patch(current, patch, NOW, &in, errors), ND_OK);
    CHECK_STR(in.summary, "Written by hand");
    CHECK_STR(in.body, "Fresh start.");
    nd_article_input_fini(&in);
    json_decref(errors);
    json_decref(patch);
    json_decref(current);
}

/* ---- comments ---------------------------------------------------------- */

static const struct body_case comment_cases[] = {
    {"{\"author\":\"ann\",\"body\":\"hi\"}", NULL},
    {"{\"author\":\"ann\",\"body\":\"line one\\n\\tline two\"}", NULL},
    {"{\"author\":\"ann\",\"body\":\"hi\",\"parent_id\":null}", NULL},
    {"{\"author\":\"ann\",\"body\":\"hi\",\"parent_id\":7}", NULL},
    {"[\"author\"]", ""},
    {"{}", "author,body"},
    {"{\"author\":\"  \",\"body\":\"\\n\"}", "author,body"},
    {"{\"author\":\"a\\u001bb\",\"body\":\"ok\"}", "author"},
    {"{\"author\":\"a\\nb\",\"body\":\"ok\"}", "author"},
    {"{\"author\":\"a\",\"body\":\"del\\u007f\"}", "body"},
    {"{\"author\":1,\"body\":true}", "author,body"},
    {"{\"author\":\"a\",\"body\":\"b\",\"parent_id\":0}", "parent_id"},
    {"{\"author\":\"a\",\"body\":\"b\",\"parent_id\":-3}", "parent_id"},
    {"{\"author\":\"a\",\"body\":\"b\",\"parent_id\":1.0}", "parent_id"},
    {"{\"author\":\"a\",\"body\":\"b\",\"parent_id\":\"3\"}", "parent_id"},
    {"{\"author\":\"a\",\"body\":\"b\",\"id\":1,\"article_id\":2,\"status\":\"x\","
     "\"created_at\":\"y\",\"replies\":[]}",
     "id,article_id,status,created_at,replies"},
    {"{\"author\":\"\",\"body\":\"\",\"parent_id\":false,\"status\":\"x\",\"email\":\"e\"}",
     "author,body,parent_id,status,email"},
};

static void test_comment_table(void)
{
    for (size_t i = 0; i < sizeof comment_cases / sizeof *comment_cases; i++) {
        json_t *obj = parse(comment_cases[i].json);
        json_t *errors = json_array();
        struct nd_comment_input in = {0};
        enum nd_err err = nd_validate_comment(obj, &in, errors);
        expect(&comment_cases[i], err, errors);
        nd_comment_input_fini(&in);
        json_decref(errors);
        json_decref(obj);
    }
}

static void test_comment_values(void)
{
    json_t *obj = parse("{\"author\":\" reader \",\"body\":\" Nice.\\n\",\"parent_id\":12}");
    json_t *errors = json_array();
    struct nd_comment_input in = {0};
    CHECK_INT(nd_validate_comment(obj, &in, errors), ND_OK);
    CHECK_STR(in.author, "reader");
    CHECK_STR(in.body, "Nice.");
    CHECK(in.has_parent);
    CHECK_INT(in.parent_id, 12);
    struct nd_comment_fields f;
    nd_comment_input_fields(&in, 9, &f);
    CHECK_INT(f.article_id, 9);
    CHECK_INT(f.parent_id, 12);
    CHECK_STR(f.author, "reader");
    nd_comment_input_fini(&in);
    nd_comment_input_fini(NULL);
    json_decref(obj);

    char *body = repeat("\xc3\xa9", 10000), *over = repeat("\xc3\xa9", 10001);
    char *author = repeat("a", 81);
    obj = json_pack("{s:s, s:s}", "author", "a", "body", body);
    CHECK_INT(nd_validate_comment(obj, &in, errors), ND_OK);
    nd_comment_input_fini(&in);
    json_decref(obj);
    obj = json_pack("{s:s, s:s}", "author", author, "body", over);
    CHECK_INT(nd_validate_comment(obj, &in, errors), ND_ERR_INVALID);
    CHECK_STR(message_for(errors, "body"), "must be at most 10000 characters");
    CHECK_STR(message_for(errors, "author"), "must be at most 80 characters");
    json_decref(obj);
    json_decref(errors);
    free(body);
    free(over);
    free(author);
}

/* ---- query parameters -------------------------------------------------- */

static void test_limit(void)
{
    static const struct {
        const char *text;
        int want; /* -1: refused */
    } cases[] = {
        {NULL, 20}, {"1", 1},    {"20", 20},   {"100", 100},
        {"0", -1},  {"101", -1}, {"abc", -1},  {"", -1},
        {"-1", -1}, {"+5", -1},  {"05", -1},   {" 5", -1},
        {"5 ", -1}, {"1e2", -1}, {"1000", -1}, {"99999999999999999999", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unsigned limit = 777;
        bool ok = nd_validate_limit(cases[i].text, &limit);
        int got = ok ? (int)limit : -1;
        if (got != cases[i].want || (!ok && limit != 777)) {
            printf("# limit \"%s\": got %d, want %d\n", cases[i].text ? cases[i].text : "(null)",
                   got, cases[i].want);
            nd_check_failures++;
        }
    }
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_article_table), CHECK_CASE(test_article_defaults),
                     CHECK_CASE(test_article_given_values), CHECK_CASE(test_unicode_trim),
                     CHECK_CASE(test_character_limits), CHECK_CASE(test_tag_limits),
                     CHECK_CASE(test_url_limit), CHECK_CASE(test_messages),
                     CHECK_CASE(test_patch_table), CHECK_CASE(test_patch_keeps_fields),
                     CHECK_CASE(test_patch_null_resets), CHECK_CASE(test_patch_summary_rule),
                     CHECK_CASE(test_comment_table), CHECK_CASE(test_comment_values),
                     CHECK_CASE(test_limit));
}
