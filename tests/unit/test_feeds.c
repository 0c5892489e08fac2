/*
 * test_feeds.c: the feed renderer (newsd/feed.h): XML escaping and cleaning
 * with hostile text, HTML paragraphs, RFC 822 dates, query strings, base
 * URLs, the public-url check, and the three documents themselves.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "newsd/feed.h"
#include "newsd/util.h"

/* nd_feed_xml_escape of a C string; the result is checked and freed. */
static void check_escape(const char *in, size_t len, bool attribute, const char *want)
{
    char *got = nd_feed_xml_escape(in, len, attribute);
    CHECK_STR(got, want);
    free(got);
}

static void check_clean(const char *in, size_t len, const char *want)
{
    char *got = nd_feed_clean_text(in, len);
    CHECK_STR(got, want);
    free(got);
}

static void check_html(const char *in, const char *want)
{
    char *got = nd_feed_html(in);
    CHECK_STR(got, want);
    free(got);
}

#define S(lit) lit, sizeof lit - 1 /* a literal and its length, NULs included */

static void test_escape_markup(void)
{
    check_escape(S("<script>alert('x')</script>"), false,
                 "&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;");
    check_escape(S("AT&T &amp; \"quotes\""), false, "AT&amp;T &amp;amp; &quot;quotes&quot;");
    check_escape(S("a]]>b ]] > ]]]>"), false, "a]]&gt;b ]] &gt; ]]]&gt;");
    check_escape(S("<![CDATA[x]]>"), false, "&lt;![CDATA[x]]&gt;");
    check_escape(S("&#65; &lt;"), false, "&amp;#65; &amp;lt;");
    check_escape(S(""), false, "");
}

static void test_escape_white_space(void)
{
    /* text keeps tab and line feed; a CR must be a reference or a parser drops it */
    check_escape(S("a\tb\nc\r\nd\re"), false, "a\tb\nc&#13;\nd&#13;e");
    /* an attribute value normalises literal white space: all three become references */
    check_escape(S("a\tb\nc\rd"), true, "a&#9;b&#10;c&#13;d");
    check_escape(S("x=\"1\" & y='2'"), true, "x=&quot;1&quot; &amp; y=&apos;2&apos;");
}

static void test_escape_forbidden_characters(void)
{
    /* C0 controls other than tab, LF, CR are not XML characters at all */
    check_escape(S("a\x01"
                   "b\x08\x0b\x0c\x1f"
                   "c\x1b[31m"),
                 false, "abc[31m");
    check_escape(S("a\0b"), false, "ab");
    /* U+FFFE and U+FFFF are excluded by XML 1.0; U+FFFD and U+10FFFF are fine */
    check_escape(S("x\xef\xbf\xbey\xef\xbf\xbfz"), false, "xyz");
    check_escape(S("\xef\xbf\xbd\xf4\x8f\xbf\xbf"), false, "\xef\xbf\xbd\xf4\x8f\xbf\xbf");
    /* DEL and C1 controls are XML characters: kept */
    check_escape(S("\x7f\xc2\x85"), false, "\x7f\xc2\x85");
}

static void test_escape_invalid_utf8(void)
{
#define FFFD "\xef\xbf\xbd"
    check_escape(S("a\xff"
                   "b"),
                 false, "a" FFFD "b");
    check_escape(S("\xc0\xaf"), false, FFFD FFFD);                   /* overlong '/' */
    check_escape(S("\xe0\x80\xbc"), false, FFFD FFFD FFFD);          /* overlong '<' */
    check_escape(S("\xed\xa0\x80"), false, FFFD FFFD FFFD);          /* a surrogate */
    check_escape(S("\xf4\x90\x80\x80"), false, FFFD FFFD FFFD FFFD); /* past U+10FFFF */
    check_escape(S("ab\xe2\x82"), false, "ab" FFFD FFFD);            /* cut short */
    check_escape(S("\xe2\x82<"), false, FFFD FFFD "&lt;");
#undef FFFD
}

static void test_escape_keeps_unicode(void)
{
    const char *text = "Café – “quoted” 🎉 日本語 Ωμέγα";
    check_escape(text, strlen(text), false, text);
    check_escape(text, strlen(text), true, text);
}

static void test_clean_text(void)
{
    check_clean(S("<b>&amp;</b> \"'"), "<b>&amp;</b> \"'");
    check_clean(S("a\x01"
                  "b\0c\xef\xbf\xbf"
                  "d"),
                "abcd");
    check_clean(S("a\xff"
                  "b\r\n"),
                "a\xef\xbf\xbd"
                "b\r\n");
    check_clean(S(""), "");
}

static void test_html_paragraphs(void)
{
    check_html("a\n\nb<c", "<p>a</p>\n<p>b&lt;c</p>");
    check_html("one\ntwo", "<p>one<br>\ntwo</p>");
    check_html("x\r\ny\rz\r\n\r\nw", "<p>x<br>\ny<br>\nz</p>\n<p>w</p>");
    check_html("\n\n  \t\n a \n\n\n", "<p> a </p>");
    check_html("'\"&<>", "<p>&#39;&quot;&amp;&lt;&gt;</p>");
    check_html("<script>alert(1)</script>\n\n]]>",
               "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n<p>]]&gt;</p>");
    check_html("", "");
    check_html(" \t ", "");
    check_html("only", "<p>only</p>");
}

static void test_rfc822(void)
{
    static const struct {
        int64_t at;
        const char *want;
    } cases[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 +0000"},
        {1752312600, "Sat, 12 Jul 2025 09:30:00 +0000"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 +0000"},
        {1700000000, "Tue, 14 Nov 2023 22:13:20 +0000"},
        {253402300799, "Fri, 31 Dec 9999 23:59:59 +0000"},
    };
    char buf[ND_RFC822_BUF];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK_STR(nd_feed_rfc822(cases[i].at, buf), cases[i].want);
}

static void check_base(const char *public_url, const char *host, bool tls, const char *want)
{
    char *got = nd_feed_base_url(public_url, host, tls);
    CHECK_STR(got, want);
    free(got);
}

static void test_base_url(void)
{
    check_base("", "news.example:8080", false, "http://news.example:8080");
    check_base(NULL, "[::1]:8443", true, "https://[::1]:8443");
    check_base("https://news.example/site//", "evil.example", false, "https://news.example/site");
    check_base("http://a.example", NULL, false, "http://a.example");
    check_base("", NULL, false, NULL);
    check_base("", "", true, NULL);
}

/*
 * Every text in good passes check; every one in bad is refused as invalid
 * with a reason that names the setting key.
 */
static void check_verdicts(enum nd_err (*check)(const char *, char *, size_t),
                           const char *const *good, size_t ngood, const char *const *bad,
                           size_t nbad, const char *key)
{
    char why[200];
    for (size_t i = 0; i < ngood; i++) {
        if (check(good[i], why, sizeof why) != ND_OK)
            printf("# refused \"%s\": %s\n", good[i], why);
        CHECK(check(good[i], why, sizeof why) == ND_OK);
    }
    for (size_t i = 0; i < nbad; i++) {
        why[0] = '\0';
        if (check(bad[i], why, sizeof why) != ND_ERR_INVALID)
            printf("# accepted \"%s\"\n", bad[i]);
        CHECK(check(bad[i], why, sizeof why) == ND_ERR_INVALID);
        CHECK(strstr(why, key) != NULL);
    }
}

static void test_public_url_check(void)
{
    static const char *const good[] = {
        "", "http://a", "https://news.example:8443/path/", "https://[::1]:8080", "http://x/a%20b",
    };
    static const char *const bad[] = {
        "ftp://news.example", "https://",           "https:///path", "http://:80",
        "http://a?b=1",       "http://a#top",       "http://user@a", "http://a b",
        "http://a\x01",       "http://caf\xc3\xa9", "news.example",  "HTTP//x",
        "http://a:65536",     "http://[::g]/",      "http://a:b/",
    };
    check_verdicts(nd_feed_check_public_url, good, sizeof good / sizeof *good, bad,
                   sizeof bad / sizeof *bad, "public-url");
}

static void test_page_check(void)
{
    static const char *const good[] = {
        "",
        "https://example.org/news/{slug}",
        "http://a/{id}",
        "https://example.org/#/story/{id}/{slug}?from=feed",
        "https://example.org:8443/a%20b/{slug}.html",
    };
    static const char *const bad[] = {
        "https://example.org/news/", "https://example.org/{title}",
        "https://example.org/{slug", "https://example.org/}{id}",
        "ftp://example.org/{slug}",  "/news/{slug}",
        "https:///{slug}",           "https://{slug}.example.org/",
        "https://a/ {slug}",         "https://a/caf\xc3\xa9/{id}",
        "https://a/\x01{id}",        "https://a/\"{id}\"",
    };
    char why[200];
    check_verdicts(nd_feed_check_page, good, sizeof good / sizeof *good, bad,
                   sizeof bad / sizeof *bad, "article-url");
    nd_feed_check_page("https://example.org/news/", why, sizeof why);
    CHECK_STR(why, "article-url must hold {slug} or {id}, or every entry would link to the same "
                   "page (such as https://news.example/story/{slug})");
}

/* ---- documents ----------------------------------------------------------- */

/* Two articles, newest first; the second is hostile in every field it can be. */
static json_t *sample_articles(void)
{
    return json_pack(
        "[{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:[s,s], s:n, s:s, s:s, s:s, s:s},"
        " {s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:[s,s,s], s:s, s:s, s:s, s:s, s:s}]",
        "id", 7, "slug", "plain-news", "title", "Plain news", "summary", "A summary.", "body",
        "First paragraph.\n\nSecond paragraph.", "author", "", "category", "", "tags", "one", "two",
        "source_url", "status", "published", "published_at", "2025-07-12T09:30:00Z", "created_at",
        "2025-07-12T09:30:00Z", "updated_at", "2025-07-12T09:30:00Z", /* */
        "id", 3, "slug", "hostile", "title", "<script>alert(1)</script> & ]]> \xf0\x9f\x8e\x89",
        "summary", "Sum \"q\" 'a' <b>", "body", "Line <i>one</i>\r\nline\x01 two\n\n]]> &amp; end",
        "author", "Ann <ann@example.com>", "category", "Tech & Science", "tags", "a&b",
        "Tech & Science", "\xef\xbf\xbfodd", "source_url", "https://example.com/x?a=1&b=2",
        "status", "published", "published_at", "2025-07-10T08:00:00Z", "created_at",
        "2025-07-10T08:00:00Z", "updated_at", "2025-07-13T10:00:00Z");
}

static char *render(enum nd_feed_format format, const json_t *articles, const char *query)
{
    struct nd_feed feed = {.base = "https://news.example",
                           .title = "newsd: category A&B",
                           .query = query,
                           .articles = articles};
    size_t len = 0;
    char *text = nd_feed_render(format, &feed, &len);
    CHECK(text != NULL);
    if (text != NULL)
        CHECK_INT(len, strlen(text));
    return text;
}

static size_t count(const char *haystack, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* What every XML feed must never hold, whatever the articles say. */
static void check_xml_safe(const char *doc)
{
    CHECK(strstr(doc, "<script") == NULL);
    CHECK(strstr(doc, "]]>") == NULL);
    CHECK(strstr(doc, "\xef\xbf\xbf") == NULL);
    CHECK(nd_utf8_valid(doc, strlen(doc)));
    size_t controls = 0;
    for (const unsigned char *p = (const unsigned char *)doc; *p; p++)
        controls += *p < 0x20 && *p != '\n';
    CHECK_INT(controls, 0);
}

/* render, then check_xml_safe on what it gave. */
static char *render_xml(enum nd_feed_format format, const json_t *articles, const char *query)
{
    char *doc = render(format, articles, query);
    if (doc != NULL)
        check_xml_safe(doc);
    return doc;
}

static void test_atom_document(void)
{
    json_t *articles = sample_articles();
    char *doc = render_xml(ND_FEED_ATOM, articles, "?category=A%26B");
    if (doc == NULL)
        goto out;
    CHECK(strncmp(doc, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"", 52) == 0);
    CHECK(strstr(doc, "<id>https://news.example/v1/feed.atom?category=A%26B</id>") != NULL);
    CHECK(strstr(doc, "<link rel=\"self\" type=\"application/atom+xml\" "
                      "href=\"https://news.example/v1/feed.atom?category=A%26B\"/>") != NULL);
    CHECK(strstr(doc, "<title type=\"text\">newsd: category A&amp;B</title>") != NULL);
    /* the feed's updated is the newest updated_at, not the first entry's */
    CHECK(strstr(doc, "  <updated>2025-07-13T10:00:00Z</updated>\n  <author>") != NULL);
    CHECK_INT(count(doc, "<entry>"), 2);
    CHECK_INT(count(doc, "<id>"), 3);
    const char *first = strstr(doc, "<id>https://news.example/v1/articles/7</id>");
    const char *second = strstr(doc, "<id>https://news.example/v1/articles/3</id>");
    CHECK(first != NULL && second != NULL && first < second);
    CHECK(strstr(doc, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt; \xf0\x9f\x8e\x89") !=
          NULL);
    CHECK(
        strstr(doc, "<summary type=\"text\">Sum &quot;q&quot; &apos;a&apos; &lt;b&gt;</summary>") !=
        NULL);
    /* the body as HTML (escaped), then escaped again for XML; the control character dropped */
    CHECK(strstr(doc, "<content type=\"html\">&lt;p&gt;Line &amp;lt;i&amp;gt;one&amp;lt;/i&amp;gt;"
                      "&lt;br&gt;\nline two&lt;/p&gt;\n&lt;p&gt;]]&amp;gt; &amp;amp;amp; "
                      "end&lt;/p&gt;</content>") != NULL);
    CHECK(strstr(doc, "<name>Ann &lt;ann@example.com&gt;</name>") != NULL);
    CHECK_INT(count(doc, "<author>"), 2); /* the feed's, and the one article with an author */
    /* category and tags, without the repeated one; U+FFFF dropped */
    CHECK_INT(count(doc, "<category term=\"Tech &amp; Science\"/>"), 1);
    CHECK(strstr(doc, "<category term=\"a&amp;b\"/>") != NULL);
    CHECK(strstr(doc, "<category term=\"odd\"/>") != NULL);
    CHECK(strstr(doc, "<link rel=\"via\" href=\"https://example.com/x?a=1&amp;b=2\"/>") != NULL);
    CHECK_INT(count(doc, "rel=\"via\""), 1);
    /* an entry links to the reader page's view, the page a person reads */
    CHECK(strstr(doc, "<link rel=\"alternate\" type=\"text/html\" "
                      "href=\"https://news.example/#/articles/hostile\"/>") != NULL);
    CHECK(strstr(doc, "application/json") == NULL);
    CHECK(strstr(doc, "<published>2025-07-10T08:00:00Z</published>") != NULL);
out:
    free(doc);
    json_decref(articles);
}

static void test_atom_exact(void)
{
    json_t *articles =
        json_pack("[{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:[], s:s, s:s}]", "id", 1, "slug", "s",
                  "title", "T", "summary", "S", "body", "B", "author", "", "category", "", "tags",
                  "published_at", "2025-01-02T03:04:05Z", "updated_at", "2025-01-02T03:04:06Z");
    struct nd_feed feed = {.base = "http://h", .title = "newsd", .query = "", .articles = articles};
    size_t len;
    char *doc = nd_feed_render(ND_FEED_ATOM, &feed, &len);
    CHECK_STR(doc, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                   "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n"
                   "  <id>http://h/v1/feed.atom</id>\n"
                   "  <title type=\"text\">newsd</title>\n"
                   "  <updated>2025-01-02T03:04:06Z</updated>\n"
                   "  <author>\n    <name>newsd</name>\n  </author>\n"
                   "  <link rel=\"self\" type=\"application/atom+xml\" "
                   "href=\"http://h/v1/feed.atom\"/>\n"
                   "  <link rel=\"alternate\" type=\"text/html\" href=\"http://h/\"/>\n"
                   "  <generator version=\"" ND_VERSION "\">newsd</generator>\n"
                   "  <entry>\n"
                   "    <id>http://h/v1/articles/1</id>\n"
                   "    <title type=\"text\">T</title>\n"
                   "    <link rel=\"alternate\" type=\"text/html\" "
                   "href=\"http://h/#/articles/s\"/>\n"
                   "    <published>2025-01-02T03:04:05Z</published>\n"
                   "    <updated>2025-01-02T03:04:06Z</updated>\n"
                   "    <summary type=\"text\">S</summary>\n"
                   "    <content type=\"html\">&lt;p&gt;B&lt;/p&gt;</content>\n"
                   "  </entry>\n"
                   "</feed>\n");
    free(doc);
    json_decref(articles);
}

static void test_rss_document(void)
{
    json_t *articles = sample_articles();
    char *doc = render_xml(ND_FEED_RSS, articles, "");
    if (doc == NULL)
        goto out;
    CHECK(strstr(doc, "<rss version=\"2.0\"") != NULL);
    CHECK_INT(count(doc, "<channel>"), 1);
    CHECK_INT(count(doc, "<item>"), 2);
    CHECK(strstr(doc, "<link>https://news.example/</link>") != NULL);
    CHECK(strstr(doc, "<lastBuildDate>Sun, 13 Jul 2025 10:00:00 +0000</lastBuildDate>") != NULL);
    CHECK(strstr(doc, "<atom:link rel=\"self\" type=\"application/rss+xml\" "
                      "href=\"https://news.example/v1/feed.rss\"/>") != NULL);
    const char *first = strstr(doc, "<pubDate>Sat, 12 Jul 2025 09:30:00 +0000</pubDate>");
    const char *second = strstr(doc, "<pubDate>Thu, 10 Jul 2025 08:00:00 +0000</pubDate>");
    CHECK(first != NULL && second != NULL && first < second);
    CHECK(strstr(doc, "<guid isPermaLink=\"false\">https://news.example/v1/articles/3</guid>") !=
          NULL);
    CHECK(strstr(doc, "<link>https://news.example/#/articles/hostile</link>") != NULL);
    CHECK(strstr(doc, "<link>https://news.example/#/articles/plain-news</link>") != NULL);
    /* the title is plain text, escaped once; description and content are escaped HTML */
    CHECK(strstr(doc, "<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt; ") != NULL);
    CHECK(strstr(doc, "<description>&lt;p&gt;Sum &amp;quot;q&amp;quot; &amp;#39;a&amp;#39; "
                      "&amp;lt;b&amp;gt;&lt;/p&gt;</description>") != NULL);
    CHECK_INT(count(doc, "<content:encoded>"), 2);
    CHECK(strstr(doc, "<dc:creator>Ann &lt;ann@example.com&gt;</dc:creator>") != NULL);
    CHECK_INT(count(doc, "<dc:creator>"), 1);
    CHECK_INT(count(doc, "<category>Tech &amp; Science</category>"), 1);
    CHECK(strstr(doc, "<category>odd</category>") != NULL);
out:
    free(doc);
    json_decref(articles);
}

static void test_json_document(void)
{
    json_t *articles = sample_articles(), *root = NULL;
    char *doc = render(ND_FEED_JSON, articles, "?tag=x");
    if (doc == NULL)
        goto out;
    root = json_loads(doc, JSON_REJECT_DUPLICATES, NULL);
    CHECK(root != NULL);
    json_t *items = json_object_get(root, "items");
    CHECK_INT(json_array_size(items), 2);
    json_t *plain = json_array_get(items, 0), *hostile = json_array_get(items, 1);
    /* The string members: of the feed (item -1) or of items[item]. */
    static const struct {
        int item;
        const char *key, *want;
    } members[] = {
        {-1, "version", "https://jsonfeed.org/version/1.1"},
        {-1, "title", "newsd: category A&B"},
        {-1, "home_page_url", "https://news.example/"},
        {-1, "feed_url", "https://news.example/v1/feed.json?tag=x"},
        {0, "id", "https://news.example/v1/articles/7"},
        {1, "url", "https://news.example/#/articles/hostile"},
        {0, "url", "https://news.example/#/articles/plain-news"},
        {1, "title", "<script>alert(1)</script> & ]]> \xf0\x9f\x8e\x89"},
        {1, "content_text", "Line <i>one</i>\r\nline\x01 two\n\n]]> &amp; end"},
        {1, "content_html",
         "<p>Line &lt;i&gt;one&lt;/i&gt;<br>\nline\x01 two</p>\n<p>]]&gt; &amp;amp; end</p>"},
        {1, "date_modified", "2025-07-13T10:00:00Z"},
        {1, "external_url", "https://example.com/x?a=1&b=2"},
    };
    for (size_t i = 0; i < sizeof members / sizeof *members; i++) {
        const json_t *obj = members[i].item < 0 ? root : json_array_get(items, members[i].item);
        CHECK_STR(json_string_value(json_object_get(obj, members[i].key)), members[i].want);
    }
    CHECK(json_object_get(plain, "external_url") == NULL);
    CHECK(json_object_get(plain, "authors") == NULL);
    CHECK_STR(json_string_value(
                  json_object_get(json_array_get(json_object_get(hostile, "authors"), 0), "name")),
              "Ann <ann@example.com>");
    json_t *tags = json_object_get(hostile, "tags");
    CHECK_INT(json_array_size(tags), 3);
    CHECK_STR(json_string_value(json_array_get(tags, 0)), "Tech & Science");
    CHECK_STR(json_string_value(json_array_get(tags, 1)), "a&b");
out:
    json_decref(root);
    free(doc);
    json_decref(articles);
}

/* article-url: every format's entry links to the template's page, filled in. */
static void test_page_template(void)
{
    json_t *articles =
        json_pack("[{s:i, s:s, s:s, s:s, s:s, s:s, s:s}]", "id", 42, "slug", "rail-timetable",
                  "title", "T", "summary", "S", "body", "B", "published_at", "2025-01-02T03:04:05Z",
                  "updated_at", "2025-01-02T03:04:06Z");
    struct nd_feed feed = {.base = "http://h",
                           .title = "t",
                           .query = "",
                           .page = "https://example.org/news/{slug}?id={id}&x={id}",
                           .articles = articles};
    size_t len;
    char *atom = nd_feed_render(ND_FEED_ATOM, &feed, &len);
    char *rss = nd_feed_render(ND_FEED_RSS, &feed, &len);
    char *text = nd_feed_render(ND_FEED_JSON, &feed, &len);
    json_t *doc = text != NULL ? json_loads(text, 0, NULL) : NULL;
    CHECK(atom != NULL && rss != NULL && doc != NULL);
    if (atom == NULL || rss == NULL || doc == NULL)
        goto out;
    CHECK(strstr(atom, "<link rel=\"alternate\" type=\"text/html\" href=\"https://example.org/"
                       "news/rail-timetable?id=42&amp;x=42\"/>") != NULL);
    CHECK(strstr(atom, "<id>http://h/v1/articles/42</id>") != NULL); /* ids do not move */
    CHECK(strstr(rss, "<link>https://example.org/news/rail-timetable?id=42&amp;x=42</link>") !=
          NULL);
    CHECK(strstr(rss, "<guid isPermaLink=\"false\">http://h/v1/articles/42</guid>") != NULL);
    json_t *item = json_array_get(json_object_get(doc, "items"), 0);
    CHECK_STR(json_string_value(json_object_get(item, "url")),
              "https://example.org/news/rail-timetable?id=42&x=42");
    CHECK_STR(json_string_value(json_object_get(item, "id")), "http://h/v1/articles/42");
out:
    free(atom);
    free(rss);
    free(text);
    json_decref(doc);
    json_decref(articles);
}

/* Every URL is escaped where it goes: a Host may hold '&' and '\''. */
static void test_urls_escaped(void)
{
    json_t *articles = sample_articles();
    struct nd_feed feed = {
        .base = "http://x:1&2'3", .title = "t", .query = "?a=1", .articles = articles};
    for (int f = ND_FEED_ATOM; f <= ND_FEED_RSS; f++) {
        size_t len;
        char *doc = nd_feed_render((enum nd_feed_format)f, &feed, &len);
        CHECK(doc != NULL);
        if (doc == NULL)
            continue;
        CHECK(strstr(doc, "x:1&2") == NULL);
        CHECK(strstr(doc, "http://x:1&amp;2&apos;3/v1/articles/3<") != NULL);
        /* The site's own link: an attribute in Atom, an element in RSS. */
        const char *home = f == ND_FEED_ATOM ? "href=\"http://x:1&amp;2&apos;3/\""
                                             : "<link>http://x:1&amp;2&apos;3/</link>";
        CHECK(strstr(doc, home) != NULL);
        free(doc);
    }
    json_decref(articles);
}

static void test_empty_feeds(void)
{
    json_t *none = json_array();
    char *atom = render(ND_FEED_ATOM, none, ""), *rss = render(ND_FEED_RSS, none, "");
    char *feed = render(ND_FEED_JSON, none, "");
    CHECK(atom != NULL && strstr(atom, "<updated>1970-01-01T00:00:00Z</updated>") != NULL);
    CHECK(atom != NULL && strstr(atom, "<entry>") == NULL);
    CHECK(rss != NULL &&
          strstr(rss, "<lastBuildDate>Thu, 01 Jan 1970 00:00:00 +0000</lastBuildDate>") != NULL);
    CHECK(rss != NULL && strstr(rss, "<item>") == NULL);
    CHECK(feed != NULL && strstr(feed, "\"items\":[]") != NULL);
    free(atom);
    free(rss);
    free(feed);
    json_decref(none);
}

static void test_malformed_articles(void)
{
    /* members missing or of the wrong type count as empty: still a document */
    json_t *odd = json_pack("[{}, {s:i, s:[i], s:s}]", "title", 5, "tags", 1, "updated_at", "x");
    for (int f = ND_FEED_ATOM; f <= ND_FEED_JSON; f++) {
        char *doc = render((enum nd_feed_format)f, odd, "");
        CHECK(doc != NULL);
        free(doc);
    }
    json_decref(odd);
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_escape_markup), CHECK_CASE(test_escape_white_space),
                     CHECK_CASE(test_escape_forbidden_characters),
                     CHECK_CASE(test_escape_invalid_utf8), CHECK_CASE(test_escape_keeps_unicode),
                     CHECK_CASE(test_clean_text), CHECK_CASE(test_html_paragraphs),
                     CHECK_CASE(test_rfc822), CHECK_CASE(test_base_url),
                     CHECK_CASE(test_public_url_check), CHECK_CASE(test_page_check),
                     CHECK_CASE(test_page_template), CHECK_CASE(test_atom_document),
                     CHECK_CASE(test_atom_exact), CHECK_CASE(test_rss_document),
                     CHECK_CASE(test_json_document), CHECK_CASE(test_urls_escaped),
                     CHECK_CASE(test_empty_feeds), CHECK_CASE(test_malformed_articles));
}
