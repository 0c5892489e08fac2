/*
 * test_import_wxr.c: the WordPress importer (server/import_wxr.c,
 * import_wxr_post.c), the text it makes of HTML (import_html.c) and the
 * detection of a file's format (import_detect.c).
 *
 * HTML and detection cases are data; imports run on an in-memory database,
 * from the fixture tests/fixtures/wxr/harbour-gazette-1.2.xml (found through
 * ND_SOURCE_ROOT) and from small exports written here.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "import_fixture.h"
#include "newsd/import.h"
#include "newsd/store.h"
#include "store_fixture.h"

/* The whole fixture in a new string, or NULL. */
static char *read_fixture(const char *name, size_t *len)
{
    const char *root = getenv("ND_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/wxr/%s", root ? root : ".", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    *len = fread(buf, 1, (size_t)size, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static enum nd_err import_text(struct nd_store *st, const char *xml, struct refusals *r,
                               struct nd_import_wxr_stats *stats, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    err[0] = '\0';
    return nd_import_wxr(st, xml, strlen(xml), collect, r, stats, err, errlen);
}

static json_t *article_by_slug(struct nd_store *st, const char *slug)
{
    json_t *article = NULL;
    CHECK_INT(nd_store_article_get_by_slug(st, slug, &article), ND_OK);
    return article;
}

static long long count_articles(struct nd_store *st)
{
    struct nd_article_filter filter = {.status = ND_STATUS_ANY};
    json_t *items = NULL;
    char *next = NULL;
    CHECK_INT(nd_store_article_list(st, &filter, 100, NULL, &items, &next), ND_OK);
    long long n = (long long)json_array_size(items);
    json_decref(items);
    free(next);
    return n;
}

/* ---- HTML to text ------------------------------------------------------ */

static const struct {
    const char *html;
    bool one_line;
    const char *text;
} html_cases[] = {
    {"<!-- wp:paragraph -->\n<p>One\ntwo</p>\n<!-- /wp:paragraph -->\n\n<!-- wp:paragraph "
     "-->\n<p>Three</p>\n<!-- /wp:paragraph -->",
     false, "One two\n\nThree"},
    {"First para\nsame para, new line.\n\n\nSecond &amp; last.", false,
     "First para\nsame para, new line.\n\nSecond & last."},
    {"<p>&ldquo;Quoted&rdquo; &hellip; &#8217; &#x2014; caf&eacute;</p>", false,
     "\xE2\x80\x9CQuoted\xE2\x80\x9D \xE2\x80\xA6 \xE2\x80\x99 \xE2\x80\x94 caf\xC3\xA9"},
    {"<p>a<br>b<br/>c</p><p>&nbsp;</p><p>d</p>", false, "a\nb\nc\n\nd"},
    {"<ul><li>one</li><li>two</li></ul><ol><li>x</li><li><p>y</p></li></ol>", false,
     "- one\n- two\n\n1. x\n2. y"},
    {"<p>keep</p><script>alert(1)</script><style>p{}</style><p>this</p>", false, "keep\n\nthis"},
    {"<h2>Head</h2>text <em>in</em> <a href=x>line</a>", false, "Head\n\ntext in line"},
    {"Caf&eacute; <b>owners</b>\n\nwelcome", true, "Caf\xC3\xA9 owners welcome"},
    {"Fish &amp; chips", true, "Fish & chips"},
    {"", false, ""},
    {"<p>   </p><!-- only a comment -->", false, ""},
    {"a\x01"
     "b\x7F"
     "c",
     false, "abc"},
};

static void test_html_text(void)
{
    for (size_t i = 0; i < sizeof html_cases / sizeof html_cases[0]; i++) {
        char *text = NULL;
        const char *html = html_cases[i].html;
        CHECK_INT(nd_import_html_text(html, strlen(html), html_cases[i].one_line, 1 << 20, &text),
                  ND_OK);
        CHECK_STR(text, html_cases[i].text);
        free(text);
    }
}

static void test_html_limit_and_depth(void)
{
    char *text = NULL;
    CHECK_INT(nd_import_html_text("<p>0123456789</p>", 17, false, 5, &text), ND_ERR_LIMIT);
    CHECK(text == NULL);
    /* 250 nested elements are read; 100,000 are refused, not read as "" */
    size_t len = 0;
    char *html = malloc(100000 * 6 + 16);
    for (size_t i = 0; i < 250; i++)
        len += (size_t)sprintf(html + len, "<span>");
    size_t deep = len + (size_t)sprintf(html + len, "deep");
    CHECK_INT(nd_import_html_text(html, deep, false, 1 << 20, &text), ND_OK);
    CHECK_STR(text, "deep");
    free(text);
    text = NULL;
    for (size_t i = 250; i < 100000; i++)
        len += (size_t)sprintf(html + len, "<span>");
    len += (size_t)sprintf(html + len, "deep");
    CHECK_INT(nd_import_html_text(html, len, false, 1 << 20, &text), ND_ERR_INVALID);
    CHECK(text == NULL);
    free(html);
}

/*
 * Lists nested deeper than the 16 levels whose numbers are kept: their items
 * are marked "- ", and the counters of the outer lists are left alone.
 */
static void test_html_deep_lists(void)
{
    char html[18 * 9 + 1] = "", want[18 * 6 + 1] = "";
    for (int i = 0; i < 18; i++)
        strcat(html, "<ol><li>x");
    for (int i = 0; i < 18; i++)
        strcat(want, i == 0 ? "1. x" : i < 16 ? "\n\n1. x" : "\n\n- x");
    char *text = NULL;
    CHECK_INT(nd_import_html_text(html, strlen(html), false, 1 << 20, &text), ND_OK);
    CHECK_STR(text, want);
    free(text);
}

/* ---- detection --------------------------------------------------------- */

static const struct {
    const char *head;
    enum nd_err rc;
    enum nd_import_format format;
    const char *says; /* part of the error */
} detect_cases[] = {
    {"Harbour lights\n\nThe lights are back.\n", ND_OK, ND_IMPORT_TEXT, NULL},
    {"[Updated] Ferry returns\n\nBody.\n", ND_OK, ND_IMPORT_TEXT, NULL},
    {"<3 stories\n\nBody.\n", ND_OK, ND_IMPORT_TEXT, NULL},
    {"\xEF\xBB\xBF  \n<?xml version=\"1.0\"?>\n<rss/>", ND_OK, ND_IMPORT_XML, NULL},
    {"<rss version=\"2.0\">", ND_OK, ND_IMPORT_XML, NULL},
    {"<!DOCTYPE html>", ND_OK, ND_IMPORT_XML, NULL},
    {"{\"type\":\"newsd-export\",\"version\":1}\n{\"type\":\"article\"}\n", ND_OK, ND_IMPORT_JSONL,
     NULL},
    {"{\"type\":\"article\",\"title\":\"t\",\"body\":\"b\"}", ND_OK, ND_IMPORT_JSONL, NULL},
    {"{\"type\":\"comment\"}\n", ND_OK, ND_IMPORT_JSONL, NULL},
    {"{\"title\":\"t\"}\n", ND_ERR_INVALID, ND_IMPORT_TEXT, "whose \"type\" is not"},
    {"{\"type\":\"article\"}garbage\n", ND_ERR_INVALID, ND_IMPORT_TEXT, "is not a JSON object"},
    {"{\n  \"type\": \"article\"\n}\n", ND_ERR_INVALID, ND_IMPORT_TEXT, "JSON lines"},
    {"[1, 2, 3]\n", ND_ERR_INVALID, ND_IMPORT_TEXT, "JSON array"},
    {"[\n  {\"a\": 1}\n]\n", ND_ERR_INVALID, ND_IMPORT_TEXT, "JSON array"},
};

static void test_detect(void)
{
    for (size_t i = 0; i < sizeof detect_cases / sizeof detect_cases[0]; i++) {
        enum nd_import_format format = ND_IMPORT_TEXT;
        char err[512] = "";
        const char *head = detect_cases[i].head;
        CHECK_INT(nd_import_detect(head, strlen(head), true, &format, err, sizeof err),
                  detect_cases[i].rc);
        CHECK_INT(format, detect_cases[i].format);
        if (detect_cases[i].says)
            CHECK(strstr(err, detect_cases[i].says) != NULL);
    }
    /* a first line longer than the head: the JSON-lines importer judges it */
    enum nd_import_format format = ND_IMPORT_TEXT;
    char err[512] = "";
    CHECK_INT(nd_import_detect("{\"type\":\"article\",\"body\":\"lo", 28, false, &format, err,
                               sizeof err),
              ND_OK);
    CHECK_INT(format, ND_IMPORT_JSONL);
}

/* ---- importing the fixture ---------------------------------------------- */

static void check_harbour(struct nd_store *st)
{
    json_t *a = article_by_slug(st, "harbour-wall-repairs-to-start-in-may");
    CHECK_STR(str_of(a, "title"), "Harbour wall repairs to start in May");
    CHECK_STR(str_of(a, "author"), "Maria Hollis");
    CHECK_STR(str_of(a, "category"), "Local News, Politics & Council");
    CHECK_STR(str_of(a, "status"), "published");
    CHECK_STR(str_of(a, "published_at"), "2024-02-20T09:15:00Z");
    CHECK_STR(str_of(a, "source_url"),
              "https://harbourgazette.example/2024/02/20/harbour-wall-repairs-to-start-in-may/");
    CHECK_STR(json_string_value(json_array_get(json_object_get(a, "tags"), 1)), "council");
    CHECK(strncmp(str_of(a, "body"),
                  "The council has approved \xC2\xA3"
                  "2.4 million",
                  37) == 0);
    CHECK(strstr(str_of(a, "body"), "\n\nWhat happens next\n\n") != NULL);
    CHECK(strstr(str_of(a, "body"), "- The north car park closes from 1 May.\n- Fishing") != NULL);
    CHECK_INT(json_integer_value(json_object_get(a, "comment_count")), 3);

    json_t *items = NULL;
    char *next = NULL;
    int64_t id = (int64_t)json_integer_value(json_object_get(a, "id"));
    CHECK_INT(nd_store_comment_list(st, id, false, 100, NULL, &items, &next), ND_OK);
    CHECK_INT(json_array_size(items), 4);
    const json_t *ann = json_array_get(items, 0), *master = json_array_get(items, 1);
    const json_t *held = json_array_get(items, 2), *lena = json_array_get(items, 3);
    CHECK_STR(str_of(ann, "author"), "Ann Baker");
    CHECK_STR(str_of(ann, "created_at"), "2024-02-20T10:02:00Z");
    CHECK(json_is_null(json_object_get(ann, "parent_id")));
    CHECK_STR(str_of(master, "body"), "Yes & the slipway: both are in the contract.");
    CHECK_INT(json_integer_value(json_object_get(master, "parent_id")),
              json_integer_value(json_object_get(ann, "id")));
    CHECK_STR(str_of(held, "author"), "Anonymous");
    CHECK_STR(str_of(held, "status"), "pending");
    CHECK_STR(str_of(lena, "body"), "No need for that, Rob.");
    CHECK(json_is_null(json_object_get(lena, "parent_id"))); /* its parent was trashed */
    json_decref(items);
    free(next);
    json_decref(a);
}

static void test_fixture_and_twice(void)
{
    size_t len = 0;
    char *xml = read_fixture("harbour-gazette-1.2.xml", &len);
    CHECK(xml != NULL);
    if (!xml)
        return;
    struct nd_store *st = open_memory();
    struct nd_import_wxr_stats s;
    struct refusals r = {0};
    char err[512] = "";
    CHECK_INT(nd_import_wxr(st, xml, len, collect, &r, &s, err, sizeof err), ND_OK);
    CHECK_INT(r.n, 0);
    CHECK_INT(s.version, 2);
    CHECK_INT(s.posts_created, 3);
    CHECK_INT(s.comments_created, 4);
    CHECK_INT(s.pages + s.attachments + s.menu_items, 3);
    CHECK_INT(s.private_posts + s.trashed_posts, 2);
    CHECK_INT(s.spam_comments + s.trashed_comments + s.pingbacks, 3);
    check_harbour(st);

    json_t *cafe = article_by_slug(st, "cafe-owners-welcome-longer-summer-hours");
    CHECK_STR(str_of(cafe, "title"), "Caf\xC3\xA9 owners welcome \xE2\x80\x9Clonger\xE2\x80\x9D "
                                     "summer hours");
    CHECK_STR(str_of(cafe, "summary"), "Caf\xC3\xA9s on the quay may open until 11pm & hire more "
                                       "staff.");
    CHECK_STR(str_of(cafe, "author"), "Tom O\xE2\x80\x99Neil");
    json_decref(cafe);
    json_t *draft = article_by_slug(st, "budget-vote-delayed");
    CHECK_STR(str_of(draft, "status"), "draft");
    CHECK_STR(str_of(draft, "category"), "");
    CHECK_STR(str_of(draft, "published_at"), "2024-02-28T16:30:00Z");
    json_decref(draft);

    CHECK_INT(nd_import_wxr(st, xml, len, collect, &r, &s, err, sizeof err), ND_OK);
    CHECK_INT(s.posts_created, 0);
    CHECK_INT(s.posts_existing, 3);
    CHECK_INT(s.comments_created, 0);
    CHECK_INT(s.comments_existing, 4);
    CHECK_INT(count_articles(st), 3);
    check_harbour(st);
    nd_store_close(st);
    free(xml);
}

/* ---- refusals of whole files --------------------------------------------- */

#define HEAD                                                                                       \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                                 \
    "<rss version=\"2.0\" xmlns:wp=\"http://wordpress.org/export/1.2/\" "                          \
    "xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\n<channel>\n"                     \
    "<wp:wxr_version>1.2</wp:wxr_version>\n"
#define POST(id, title)                                                                            \
    "<item><title>" title "</title><wp:post_id>" #id "</wp:post_id>"                               \
    "<content:encoded><![CDATA[<p>Body of " #id ".</p>]]></content:encoded>"                       \
    "<wp:status>publish</wp:status><wp:post_type>post</wp:post_type></item>\n"
#define TAIL "</channel>\n</rss>\n"

static const struct {
    const char *xml;
    const char *says;
} refused_files[] = {
    {HEAD POST(1, "One") "<item><title>Two</wp:title></item>" TAIL,
     "line 6: the file is not well-formed XML"},
    {"<?xml version=\"1.0\"?>\n<feed><entry/></feed>", "line 2: this XML is not a WordPress"},
    {"<?xml version=\"1.0\"?>\n<rss><channel>\n<item><title>a</title></item></channel></rss>",
     "line 3: this is not a WordPress export: an <item> comes before"},
    {"<rss xmlns:wp=\"http://wordpress.org/export/2.0/\"><channel>\n<wp:wxr_version>2.0"
     "</wp:wxr_version></channel></rss>",
     "line 2: this is WXR version \"2.0\""},
    {"<rss><channel><title>x</title></channel></rss>", "has no <wp:wxr_version>"},
    {"<?xml version=\"1.0\"?>\n<!DOCTYPE rss [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
     "<rss><channel>&x;</channel></rss>",
     "declares a document type"},
    {"<?xml version=\"1.0\"?>\n<!DOCTYPE rss SYSTEM \"http://192.0.2.1/wxr.dtd\">\n<rss/>",
     "declares a document type"},
    {"<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n<!ENTITY a \"aaaaaaaaaa\">\n"
     "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n<!ENTITY c "
     "\"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
     "\n<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n<!ENTITY e "
     "\"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
     "\n<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n<!ENTITY g "
     "\"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">"
     "\n<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n<!ENTITY i "
     "\"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">"
     "\n]>\n<rss><channel><title>&i;</title></channel></rss>",
     "line "},
};

static void test_refused_files(void)
{
    for (size_t i = 0; i < sizeof refused_files / sizeof refused_files[0]; i++) {
        struct nd_store *st = open_memory();
        struct nd_import_wxr_stats s;
        struct refusals r;
        char err[512];
        CHECK_INT(import_text(st, refused_files[i].xml, &r, &s, err, sizeof err), ND_ERR_INVALID);
        if (!strstr(err, refused_files[i].says))
            printf("# case %zu: %s\n", i, err);
        CHECK(strstr(err, refused_files[i].says) != NULL);
        CHECK_INT(s.posts_created, 0);
        CHECK_INT(count_articles(st), 0); /* the post before the error was rolled back */
        nd_store_close(st);
    }
}

/* ---- refusals of posts and comments --------------------------------------- */

static void test_refused_post_and_comment(void)
{
    const char *xml = HEAD POST(1, "Kept") POST(
        2,
        "") "<item><title>Many tags</title><wp:post_id>3</wp:post_id>"
            "<content:encoded>x</content:encoded><wp:status>publish</wp:status>"
            "<category domain=\"post_tag\">t1</category><category domain=\"post_tag\">t2</category>"
            "<category domain=\"post_tag\">t3</category><category domain=\"post_tag\">t4</category>"
            "<category domain=\"post_tag\">t5</category><category domain=\"post_tag\">t6</category>"
            "<category domain=\"post_tag\">t7</category><category domain=\"post_tag\">t8</category>"
            "<category domain=\"post_tag\">t9</category><category "
            "domain=\"post_tag\">t10</category>"
            "<category domain=\"post_tag\">t11</category><category "
            "domain=\"post_tag\">t12</category>"
            "<category domain=\"post_tag\">t13</category><category "
            "domain=\"post_tag\">t14</category>"
            "<category domain=\"post_tag\">t15</category><category "
            "domain=\"post_tag\">t16</category>"
            "<category domain=\"post_tag\">t17</category><category "
            "domain=\"post_tag\">t18</category>"
            "<category domain=\"post_tag\">t19</category><category "
            "domain=\"post_tag\">t20</category>"
            "<category domain=\"post_tag\">t21</category></item>\n"
            "<item><title>With comments</title><wp:post_id>4</wp:post_id>"
            "<content:encoded>y</content:encoded><wp:status>publish</wp:status>\n"
            "<wp:comment><wp:comment_id>10</wp:comment_id><wp:comment_author>A</wp:comment_author>"
            "<wp:comment_content></wp:comment_content><wp:comment_approved>1</wp:comment_approved>"
            "</wp:comment>\n"
            "<wp:comment><wp:comment_id>11</wp:comment_id><wp:comment_author>B</wp:comment_author>"
            "<wp:comment_content>reply</wp:comment_content><wp:comment_approved>1"
            "</wp:comment_approved><wp:comment_parent>10</wp:comment_parent></wp:comment>\n"
            "</item>\n"
            "<item><title>Protected</title><wp:post_id>5</wp:post_id><content:encoded>z"
            "</content:encoded><wp:status>publish</wp:status><wp:post_password>s3cret"
            "</wp:post_password></item>\n" TAIL;
    struct nd_store *st = open_memory();
    struct nd_import_wxr_stats s;
    struct refusals r;
    char err[512];
    CHECK_INT(import_text(st, xml, &r, &s, err, sizeof err), ND_OK);
    CHECK_INT(s.posts_created, 2);
    CHECK_INT(s.private_posts, 1); /* protected by a password: not made public */
    CHECK_INT(s.comments_created, 1);
    CHECK_INT(s.refused, 3);
    CHECK_INT(r.n, 3);
    CHECK_INT(r.line[0], 6);
    CHECK_STR(r.why[0], "post 2: title: must not be empty");
    CHECK_INT(r.line[1], 7);
    CHECK_STR(r.why[1], "post 3: tags: must hold at most 20 distinct tags");
    CHECK_INT(r.line[2], 9);
    CHECK_STR(r.why[2], "comment 10: body: must not be empty");
    json_t *a = article_by_slug(st, "with-comments");
    json_t *items = NULL;
    char *next = NULL;
    int64_t id = (int64_t)json_integer_value(json_object_get(a, "id"));
    CHECK_INT(nd_store_comment_list(st, id, false, 100, NULL, &items, &next), ND_OK);
    CHECK_INT(json_array_size(items), 1);
    CHECK(json_is_null(json_object_get(json_array_get(items, 0), "parent_id")));
    json_decref(items);
    json_decref(a);
    nd_store_close(st);
}

/* HTML nested past the parser's 256 levels: the post or comment refused, saying why. */
static void test_refused_deep_html(void)
{
    char deep[300 * 6 + 8] = "";
    for (int i = 0; i < 300; i++)
        strcat(deep, "<span>");
    strcat(deep, "deep");
    char *xml = malloc(4096 + 2 * sizeof deep);
    snprintf(xml, 4096 + 2 * sizeof deep,
             HEAD POST(1, "Kept") "<item><title>Deep body</title><wp:post_id>2</wp:post_id>"
                                  "<content:encoded><![CDATA[%s]]></content:encoded>"
                                  "<wp:status>publish</wp:status></item>\n"
                                  "<item><title>Deep comment</title><wp:post_id>3</wp:post_id>"
                                  "<content:encoded>z</content:encoded><wp:status>publish"
                                  "</wp:status>\n<wp:comment><wp:comment_id>10</wp:comment_id>"
                                  "<wp:comment_content><![CDATA[%s]]></wp:comment_content>"
                                  "<wp:comment_approved>1</wp:comment_approved></wp:comment>\n"
                                  "</item>\n" TAIL,
             deep, deep);
    struct nd_store *st = open_memory();
    struct nd_import_wxr_stats s;
    struct refusals r;
    char err[512];
    CHECK_INT(import_text(st, xml, &r, &s, err, sizeof err), ND_OK);
    CHECK_INT(s.posts_created, 2);
    CHECK_INT(s.comments_created, 0);
    CHECK_INT(s.refused, 2);
    CHECK_INT(r.n, 2);
    CHECK_INT(r.line[0], 6);
    CHECK_STR(r.why[0], "post 2: its HTML nests elements deeper than the 256 levels newsd reads");
    CHECK_INT(r.line[1], 8);
    CHECK_STR(r.why[1],
              "comment 10: its HTML nests elements deeper than the 256 levels newsd reads");
    nd_store_close(st);
    free(xml);
}

int main(void)
{
    return STORE_CHECK_RUN(CHECK_CASE(test_html_text), CHECK_CASE(test_html_limit_and_depth),
                           CHECK_CASE(test_html_deep_lists), CHECK_CASE(test_detect),
                           CHECK_CASE(test_fixture_and_twice), CHECK_CASE(test_refused_files),
                           CHECK_CASE(test_refused_post_and_comment),
                           CHECK_CASE(test_refused_deep_html));
}
