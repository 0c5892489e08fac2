/*
 * feed.c: Atom 1.0, RSS 2.0 and JSON Feed 1.1 documents from a list of
 * articles (see newsd/feed.h for the rules on text).
 *
 * The XML is written by hand into a buffer (newsd/buf.h): the documents have a
 * fixed shape, and every piece of text that is not a literal of this file
 * passes through one escaping function, buf_xml, which also decodes UTF-8
 * and drops what XML 1.0 cannot carry. The JSON Feed is built with Jansson.
 * A buffer that failed remembers it, so writers run to the end without
 * checking each append and the failure is reported once.
 */
#include "newsd/feed.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/buf.h"
#include "newsd/json.h"
#include "newsd/text.h"
#include "newsd/url.h"
#include "newsd/util.h"

#ifndef ND_VERSION
#define ND_VERSION "unknown"
#endif

#define ATOM_NS "http://www.w3.org/2005/Atom"
#define JSON_FEED_VERSION "https://jsonfeed.org/version/1.1"
#define FEED_AUTHOR "newsd"
#define REPLACEMENT_UTF8 "\xEF\xBF\xBD"

/* ---- characters ---------------------------------------------------------- */

/* True for the characters of XML 1.0's Char production. */
static bool xml_char(uint32_t cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* The entity written for cp in XML text (or an attribute), NULL when it goes as it is. */
static const char *xml_entity(uint32_t cp, bool attribute)
{
    switch (cp) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>': /* always: "]]>" may not appear in character data */
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&apos;";
    case '\r': /* a parser turns a literal CR (and CR LF) into LF */
        return "&#13;";
    case '\t': /* in an attribute a parser turns literal white space into spaces */
        return attribute ? "&#9;" : NULL;
    case '\n':
        return attribute ? "&#10;" : NULL;
    default:
        return NULL;
    }
}

/*
 * Appends len bytes of text, escaped for XML text or an attribute value
 * (escape true), or only made valid (escape false): invalid UTF-8 becomes
 * U+FFFD, characters XML forbids are dropped.
 */
static void buf_xml_text(struct nd_buf *b, const char *text, size_t len, bool escape,
                         bool attribute)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = nd_utf8_next(text + i, len - i, &cp);
        const char *entity = escape ? xml_entity(cp, attribute) : NULL;
        if (entity != NULL)
            nd_buf_append_str(b, entity);
        else if (cp == ND_UTF8_REPLACEMENT) /* also for bytes that were not UTF-8 */
            nd_buf_append_str(b, REPLACEMENT_UTF8);
        else if (xml_char(cp))
            nd_buf_append(b, text + i, n); /* the bytes as they are */
        i += n;
    }
}

static void buf_xml(struct nd_buf *b, const char *text)
{
    buf_xml_text(b, text, strlen(text), true, false);
}

static void buf_xml_attr(struct nd_buf *b, const char *text)
{
    buf_xml_text(b, text, strlen(text), true, true);
}

char *nd_feed_xml_escape(const char *text, size_t len, bool attribute)
{
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    buf_xml_text(&b, text, len, true, attribute);
    return nd_buf_take(&b, NULL);
}

char *nd_feed_clean_text(const char *text, size_t len)
{
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    buf_xml_text(&b, text, len, false, false);
    return nd_buf_take(&b, NULL);
}

/* ---- plain text as HTML ----------------------------------------------- */

static bool blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!nd_is_blank(s[i]))
            return false;
    return true;
}

/* Appends text as HTML paragraphs (feed.h, nd_feed_html). */
static void buf_html(struct nd_buf *b, const char *text)
{
    bool open = false, any = false;
    const char *line = text;
    for (;;) {
        size_t n = strcspn(line, "\r\n");
        if (blank_line(line, n)) {
            if (open)
                nd_buf_append_str(b, "</p>");
            open = false;
        } else {
            nd_buf_append_str(b, open ? "<br>\n" : any ? "\n<p>" : "<p>");
            open = any = true;
            nd_text_append_html(b, line, n);
        }
        if (line[n] == '\0')
            break;
        line += n + (line[n] == '\r' && line[n + 1] == '\n' ? 2 : 1);
    }
    if (open)
        nd_buf_append_str(b, "</p>");
}

char *nd_feed_html(const char *text)
{
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    buf_html(&b, text);
    return nd_buf_take(&b, NULL);
}

/* Appends text rendered as HTML paragraphs, escaped for XML. */
static void buf_xml_html(struct nd_buf *b, const char *text)
{
    struct nd_buf html = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    buf_html(&html, text);
    if (html.err != ND_OK)
        nd_buf_fail(b, html.err);
    else if (html.data != NULL)
        buf_xml_text(b, html.data, html.len, true, false);
    nd_buf_free(&html);
}

/* ---- dates and URLs ------------------------------------------------------ */

char *nd_feed_rfc822(int64_t t, char buf[ND_RFC822_BUF])
{
    static const char *const days[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char iso[ND_TIME_BUF];
    nd_time_format(t, iso);                    /* "YYYY-MM-DDTHH:MM:SSZ" */
    int64_t day = t / 86400 - (t % 86400 < 0); /* 1970-01-01 was a Thursday */
    int weekday = (int)(((day % 7) + 7) % 7);
    int month = (iso[5] - '0') * 10 + (iso[6] - '0');
    if (month < 1 || month > 12)
        month = 1;
    char wide[64]; /* the compiler cannot see that every field fits */
    snprintf(wide, sizeof wide, "%s, %.2s %s %.4s %.8s +0000", days[weekday], iso + 8,
             months[month - 1], iso, iso + 11);
    memcpy(buf, wide, ND_RFC822_BUF - 1);
    buf[ND_RFC822_BUF - 1] = '\0';
    return buf;
}

char *nd_feed_base_url(const char *public_url, const char *host, bool tls)
{
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    if (public_url != NULL && public_url[0] != '\0') {
        size_t n = strlen(public_url);
        while (n > 0 && public_url[n - 1] == '/')
            n--;
        nd_buf_append(&b, public_url, n);
    } else if (host != NULL && host[0] != '\0') {
        nd_buf_append_str(&b, tls ? "https://" : "http://");
        nd_buf_append_str(&b, host);
    } else {
        return NULL;
    }
    return nd_buf_take(&b, NULL);
}

/* True when c may appear in a public-url's host, port and path. */
static bool url_char(unsigned char c)
{
    return nd_url_unreserved(c) || strchr("!$&'()*+,;=:/%[]", c) != NULL;
}

/* What follows "https://" or "http://" at the start of text; NULL for another scheme. */
static const char *after_scheme(const char *text)
{
    if (strncmp(text, "https://", 8) == 0)
        return text + 8;
    if (strncmp(text, "http://", 7) == 0)
        return text + 7;
    return NULL;
}

enum nd_err nd_feed_check_public_url(const char *text, char *why, size_t whylen)
{
    const char *problem = NULL;
    if (text[0] == '\0')
        return ND_OK;
    const char *rest = after_scheme(text);
    if (rest == NULL)
        problem = "must start with http:// or https://";
    else if (rest[0] == '\0' || rest[0] == '/' || rest[0] == ':')
        problem = "must name a host";
    else if (strpbrk(rest, "?#") != NULL)
        problem = "must not have a query or fragment";
    else if (strchr(rest, '@') != NULL)
        problem = "must not hold a user name";
    for (const unsigned char *p = (const unsigned char *)rest; !problem && *p; p++)
        if (!url_char(*p))
            problem = "must be a URL of printable ASCII without spaces";
    struct nd_hostport hp;
    if (problem == NULL && nd_url_parse_hostport(rest, strlen(rest), &hp) == NULL)
        problem = "must name a host and an optional port (1..65535) before its path";
    if (problem == NULL)
        return ND_OK;
    nd_why(why, whylen, "public-url %s (such as https://news.example)", problem);
    return ND_ERR_INVALID;
}

enum nd_err nd_feed_check_page(const char *text, char *why, size_t whylen)
{
    const char *problem = NULL;
    bool placeholder = false;
    if (text[0] == '\0')
        return ND_OK;
    const char *rest = after_scheme(text);
    if (rest == NULL)
        problem = "must start with http:// or https://";
    else if (strchr("/:?#{", rest[0]) != NULL)
        problem = "must name a host";
    for (const char *p = rest; problem == NULL && *p != '\0'; p++) {
        size_t n = strncmp(p, "{slug}", 6) == 0 ? 6 : strncmp(p, "{id}", 4) == 0 ? 4 : 0;
        placeholder = placeholder || n > 0;
        p += n > 0 ? n - 1 : 0;
        if (n == 0 && (*p == '{' || *p == '}'))
            problem = "may hold only the placeholders {slug} and {id}";
        else if (n == 0 && !url_char((unsigned char)*p) && *p != '?' && *p != '#')
            problem = "must be a URL of printable ASCII without spaces";
    }
    if (problem == NULL && !placeholder)
        problem = "must hold {slug} or {id}, or every entry would link to the same page";
    if (problem == NULL)
        return ND_OK;
    nd_why(why, whylen, "article-url %s (such as https://news.example/story/{slug})", problem);
    return ND_ERR_INVALID;
}

/* ---- reading articles ---------------------------------------------------- */

/* The string member key of article, "" when missing or not a string. */
static const char *text_of(const json_t *article, const char *key)
{
    const char *s = json_string_value(json_object_get(article, key));
    return s != NULL ? s : "";
}

static int64_t time_of(const json_t *article, const char *key)
{
    int64_t t = 0;
    if (!nd_time_parse(text_of(article, key), &t))
        t = 0;
    return t;
}

/* The newest updated_at of the articles; 0 (the epoch) when there are none. */
static int64_t feed_updated(const json_t *articles)
{
    int64_t newest = 0;
    size_t i;
    const json_t *article;
    json_array_foreach(articles, i, article)
    {
        int64_t t = time_of(article, "updated_at");
        if (t > newest)
            newest = t;
    }
    return newest;
}

/*
 * The article's category and tags, in this order, without empty or repeated
 * terms: at most 1 + 20 borrowed strings written to terms. Returns how many.
 */
#define TERMS_MAX 32
static size_t article_terms(const json_t *article, const char *terms[TERMS_MAX])
{
    size_t n = 0, i;
    const json_t *tag;
    const char *category = text_of(article, "category");
    if (category[0] != '\0')
        terms[n++] = category;
    json_array_foreach(json_object_get(article, "tags"), i, tag)
    {
        const char *t = json_string_value(tag);
        bool seen = t == NULL || t[0] == '\0' || n == TERMS_MAX;
        for (size_t j = 0; j < n && !seen; j++)
            seen = strcmp(terms[j], t) == 0;
        if (!seen)
            terms[n++] = t;
    }
    return n;
}

static void buf_article_id(struct nd_buf *b, const json_t *article)
{
    nd_buf_append_printf(b, "%lld", (long long)json_integer_value(json_object_get(article, "id")));
}

/*
 * BASE/v1/articles/{id}, an entry's permanent id: a malloc'd URL, still to
 * be escaped where it goes; NULL when out of memory.
 */
static char *article_url(const char *base, const json_t *article)
{
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    nd_buf_append_str(&b, base);
    nd_buf_append_str(&b, "/v1/articles/");
    buf_article_id(&b, article);
    return nd_buf_take(&b, NULL);
}

/*
 * The page a person reads the article on, which every format's entry links
 * to: feed->page with {slug} and {id} filled in, or when that is empty the
 * reader page's view of it, BASE/#/articles/{slug}. Malloc'd, still to be
 * escaped where it goes; NULL when out of memory.
 */
static char *article_page(const struct nd_feed *feed, const json_t *article)
{
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    const char *t = feed->page != NULL ? feed->page : "";
    if (t[0] == '\0') {
        nd_buf_append_str(&b, feed->base);
        nd_buf_append_str(&b, "/#/articles/");
        nd_url_append_encoded(&b, text_of(article, "slug"));
        return nd_buf_take(&b, NULL);
    }
    while (*t != '\0') {
        size_t n = strcspn(t, "{");
        nd_buf_append(&b, t, n);
        t += n;
        if (strncmp(t, "{slug}", 6) == 0) {
            nd_url_append_encoded(&b, text_of(article, "slug"));
            t += 6;
        } else if (strncmp(t, "{id}", 4) == 0) {
            buf_article_id(&b, article);
            t += 4;
        } else if (*t != '\0') { /* nd_feed_check_page refused this */
            nd_buf_append(&b, t++, 1);
        }
    }
    return nd_buf_take(&b, NULL);
}

/* A URL made of the pieces, percent-encoding none of them (they are already). */
static char *join_url(const char *base, const char *path, const char *query)
{
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    nd_buf_append_str(&b, base);
    nd_buf_append_str(&b, path);
    nd_buf_append_str(&b, query);
    return nd_buf_take(&b, NULL);
}

/* ---- Atom 1.0 ------------------------------------------------------------ */

/* Appends "<name>" text "</name>\n" with text escaped; attrs are literal. */
static void xml_element(struct nd_buf *b, const char *indent, const char *name, const char *attrs,
                        const char *text)
{
    nd_buf_append_str(b, indent);
    nd_buf_append_str(b, "<");
    nd_buf_append_str(b, name);
    nd_buf_append_str(b, attrs);
    nd_buf_append_str(b, ">");
    buf_xml(b, text);
    nd_buf_append_str(b, "</");
    nd_buf_append_str(b, name);
    nd_buf_append_str(b, ">\n");
}

/* Appends "<link rel=REL type=TYPE href=HREF/>" (type left out when NULL). */
static void atom_link(struct nd_buf *b, const char *indent, const char *rel, const char *type,
                      const char *href)
{
    nd_buf_append_str(b, indent);
    nd_buf_append_str(b, "<link rel=\"");
    nd_buf_append_str(b, rel);
    if (type != NULL) {
        nd_buf_append_str(b, "\" type=\"");
        nd_buf_append_str(b, type);
    }
    nd_buf_append_str(b, "\" href=\"");
    buf_xml_attr(b, href);
    nd_buf_append_str(b, "\"/>\n");
}

static void atom_entry(struct nd_buf *b, const struct nd_feed *feed, const json_t *article)
{
    const char *terms[TERMS_MAX];
    char *id = article_url(feed->base, article), *page = article_page(feed, article);
    if (id == NULL || page == NULL) {
        nd_buf_fail(b, ND_ERR_NOMEM);
        goto out;
    }
    nd_buf_append_str(b, "  <entry>\n");
    xml_element(b, "    ", "id", "", id);
    xml_element(b, "    ", "title", " type=\"text\"", text_of(article, "title"));
    atom_link(b, "    ", "alternate", "text/html", page);
    if (text_of(article, "source_url")[0] != '\0')
        atom_link(b, "    ", "via", NULL, text_of(article, "source_url"));
    xml_element(b, "    ", "published", "", text_of(article, "published_at"));
    xml_element(b, "    ", "updated", "", text_of(article, "updated_at"));
    if (text_of(article, "author")[0] != '\0') {
        nd_buf_append_str(b, "    <author>\n");
        xml_element(b, "      ", "name", "", text_of(article, "author"));
        nd_buf_append_str(b, "    </author>\n");
    }
    size_t n = article_terms(article, terms);
    for (size_t i = 0; i < n; i++) {
        nd_buf_append_str(b, "    <category term=\"");
        buf_xml_attr(b, terms[i]);
        nd_buf_append_str(b, "\"/>\n");
    }
    xml_element(b, "    ", "summary", " type=\"text\"", text_of(article, "summary"));
    if (json_object_get(article, "body") != NULL) {
        nd_buf_append_str(b, "    <content type=\"html\">");
        buf_xml_html(b, text_of(article, "body"));
        nd_buf_append_str(b, "</content>\n");
    }
    nd_buf_append_str(b, "  </entry>\n");
out:
    free(id);
    free(page);
}

static void render_atom(struct nd_buf *b, const struct nd_feed *feed, const char *self)
{
    char updated[ND_TIME_BUF];
    size_t i;
    const json_t *article;
    nd_buf_append_str(b,
                      "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"" ATOM_NS "\">\n");
    xml_element(b, "  ", "id", "", self);
    xml_element(b, "  ", "title", " type=\"text\"", feed->title);
    xml_element(b, "  ", "updated", "", nd_time_format(feed_updated(feed->articles), updated));
    nd_buf_append_str(b, "  <author>\n    <name>" FEED_AUTHOR "</name>\n  </author>\n");
    atom_link(b, "  ", "self", "application/atom+xml", self);
    nd_buf_append_str(b, "  <link rel=\"alternate\" type=\"text/html\" href=\"");
    buf_xml_attr(b, feed->base);
    nd_buf_append_str(b, "/\"/>\n  <generator version=\"" ND_VERSION "\">newsd</generator>\n");
    json_array_foreach(feed->articles, i, article)
    {
        atom_entry(b, feed, article);
    }
    nd_buf_append_str(b, "</feed>\n");
}

/* ---- RSS 2.0 ------------------------------------------------------------- */

static void rss_item(struct nd_buf *b, const struct nd_feed *feed, const json_t *article)
{
    char date[ND_RFC822_BUF];
    const char *terms[TERMS_MAX];
    char *id = article_url(feed->base, article), *page = article_page(feed, article);
    if (id == NULL || page == NULL) {
        nd_buf_fail(b, ND_ERR_NOMEM);
        goto out;
    }
    xml_element(b, "      ", "title", "", text_of(article, "title"));
    xml_element(b, "      ", "link", "", page);
    nd_buf_append_str(b, "      <description>");
    buf_xml_html(b, text_of(article, "summary"));
    nd_buf_append_str(b, "</description>\n");
    if (json_object_get(article, "body") != NULL) {
        nd_buf_append_str(b, "      <content:encoded>");
        buf_xml_html(b, text_of(article, "body"));
        nd_buf_append_str(b, "</content:encoded>\n");
    }
    if (text_of(article, "author")[0] != '\0')
        xml_element(b, "      ", "dc:creator", "", text_of(article, "author"));
    size_t n = article_terms(article, terms);
    for (size_t i = 0; i < n; i++)
        xml_element(b, "      ", "category", "", terms[i]);
    /* the API's URL: an id, not the page to open (that is the link) */
    xml_element(b, "      ", "guid", " isPermaLink=\"false\"", id);
    xml_element(b, "      ", "pubDate", "", nd_feed_rfc822(time_of(article, "published_at"), date));
out:
    free(id);
    free(page);
}

static void render_rss(struct nd_buf *b, const struct nd_feed *feed, const char *self)
{
    char date[ND_RFC822_BUF];
    size_t i;
    const json_t *article;
    nd_buf_append_str(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                         "<rss version=\"2.0\" xmlns:atom=\"" ATOM_NS "\""
                         " xmlns:content=\"http://purl.org/rss/1.0/modules/content/\""
                         " xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n  <channel>\n");
    xml_element(b, "    ", "title", "", feed->title);
    nd_buf_append_str(b, "    <link>");
    buf_xml(b, feed->base);
    nd_buf_append_str(b, "/</link>\n    <description>The latest articles of ");
    buf_xml(b, feed->title);
    nd_buf_append_str(b, "</description>\n");
    xml_element(b, "    ", "lastBuildDate", "", nd_feed_rfc822(feed_updated(feed->articles), date));
    nd_buf_append_str(b, "    <generator>newsd " ND_VERSION "</generator>\n");
    nd_buf_append_str(b, "    <atom:link rel=\"self\" type=\"application/rss+xml\" href=\"");
    buf_xml_attr(b, self);
    nd_buf_append_str(b, "\"/>\n");
    json_array_foreach(feed->articles, i, article)
    {
        nd_buf_append_str(b, "    <item>\n");
        rss_item(b, feed, article);
        nd_buf_append_str(b, "    </item>\n");
    }
    nd_buf_append_str(b, "  </channel>\n</rss>\n");
}

/* ---- JSON Feed 1.1 ------------------------------------------------------- */

/*
 * Sets key of obj to a new string made from b, which is emptied (its text
 * freed) either way. False when out of memory.
 */
static bool set_buf(json_t *obj, const char *key, struct nd_buf *b)
{
    char *text = nd_buf_take(b, NULL);
    bool ok = text != NULL && json_object_set_new(obj, key, json_string(text)) == 0;
    free(text);
    return ok;
}

static bool set_text(json_t *obj, const char *key, const char *text)
{
    return json_object_set_new(obj, key, json_string(text)) == 0;
}

/* [{"name": name}] */
static json_t *json_authors(const char *name)
{
    return json_pack("[{s:s}]", "name", name);
}

/* The JSON Feed item of article: a new reference, NULL when out of memory. */
static json_t *json_item(const struct nd_feed *feed, const json_t *article)
{
    struct nd_buf html = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    const char *terms[TERMS_MAX];
    json_t *item = json_object(), *tags = json_array();
    char *id = article_url(feed->base, article), *page = article_page(feed, article);
    /* without its body an item still needs content: the summary, as text */
    bool whole = json_object_get(article, "body") != NULL;
    buf_html(&html, text_of(article, "body"));
    /* set_text fails on a NULL text (out of memory) as on a failed set */
    bool ok = item != NULL && tags != NULL && set_text(item, "id", id) &&
              set_text(item, "url", page) &&
              (text_of(article, "source_url")[0] == '\0' ||
               set_text(item, "external_url", text_of(article, "source_url"))) &&
              set_text(item, "title", text_of(article, "title")) &&
              set_text(item, "summary", text_of(article, "summary")) &&
              (!whole || set_buf(item, "content_html", &html)) &&
              set_text(item, "content_text", text_of(article, whole ? "body" : "summary")) &&
              set_text(item, "date_published", text_of(article, "published_at")) &&
              set_text(item, "date_modified", text_of(article, "updated_at"));
    size_t n = article_terms(article, terms);
    for (size_t i = 0; ok && i < n; i++)
        ok = json_array_append_new(tags, json_string(terms[i])) == 0;
    ok = ok && json_object_set(item, "tags", tags) == 0;
    if (ok && text_of(article, "author")[0] != '\0')
        ok = json_object_set_new(item, "authors", json_authors(text_of(article, "author"))) == 0;
    if (!ok) {
        json_decref(item);
        item = NULL;
    }
    nd_buf_free(&html); /* holds bytes only when set_buf was not reached */
    free(id);
    free(page);
    json_decref(tags);
    return item;
}

static char *render_json(const struct nd_feed *feed, const char *self, size_t *len)
{
    char *text = NULL, *home = join_url(feed->base, "/", "");
    struct nd_buf description = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    json_t *items = json_array(), *item;
    size_t i;
    const json_t *article;
    nd_buf_append_str(&description, "The latest articles of ");
    nd_buf_append_str(&description, feed->title);
    json_t *root =
        json_pack("{s:s, s:s, s:s, s:s, s:o}", "version", JSON_FEED_VERSION, "title", feed->title,
                  "home_page_url", home, "feed_url", self, "authors", json_authors(FEED_AUTHOR));
    if (root == NULL || items == NULL || !set_buf(root, "description", &description) ||
        json_object_set(root, "items", items) != 0)
        goto out;
    json_array_foreach(feed->articles, i, article)
    {
        item = json_item(feed, article);
        if (item == NULL || json_array_append_new(items, item) != 0)
            goto out;
    }
    text = nd_json_dumps(root, JSON_COMPACT);
    if (text != NULL)
        *len = strlen(text);
out:
    nd_buf_free(&description); /* holds bytes only when set_buf was not reached */
    json_decref(items);
    json_decref(root);
    free(home);
    return text;
}

/* ---- the three formats --------------------------------------------------- */

char *nd_feed_render(enum nd_feed_format format, const struct nd_feed *feed, size_t *len)
{
    static const char *const paths[] = {"/v1/feed.atom", "/v1/feed.rss", "/v1/feed.json"};
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    char *text = NULL;
    char *self = join_url(feed->base, paths[format], feed->query);
    if (self == NULL)
        return NULL;
    if (format == ND_FEED_JSON) {
        text = render_json(feed, self, len);
    } else {
        if (format == ND_FEED_ATOM)
            render_atom(&b, feed, self);
        else
            render_rss(&b, feed, self);
        text = nd_buf_take(&b, len);
    }
    free(self);
    return text;
}
