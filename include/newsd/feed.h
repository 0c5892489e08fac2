/*
 * feed.h: the syndication feeds of newsd, rendered from a list of articles:
 * Atom 1.0 (RFC 4287), RSS 2.0 and JSON Feed 1.1.
 *
 * Everything here is pure: no I/O, no clock. The handler (handler_feeds.c)
 * reads the articles from the store and decides the base URL; this module
 * turns them into bytes, so every rule is unit-tested on its own
 * (tests/unit/test_feeds.c).
 *
 * Text rules, the same in every format:
 *   - XML text and attribute values escape & < > " ', so "]]>" and markup in
 *     a title arrive as the characters they are; a carriage return is
 *     written as &#13; (and in attributes tab and line feed as &#9; &#10;),
 *     which an XML parser would otherwise normalise away;
 *   - characters XML 1.0 forbids (C0 controls but tab, line feed and
 *     carriage return; U+FFFE, U+FFFF) are dropped, and a byte that is not
 *     part of valid UTF-8 becomes U+FFFD, so every feed is well-formed;
 *   - article bodies are plain text. Where a format carries HTML (Atom
 *     content type="html", RSS description and content:encoded, JSON Feed
 *     content_html) each paragraph (text between blank lines) becomes
 *     <p>...</p>, a single line break <br>, and the text is HTML-escaped
 *     first, then XML-escaped: a <script> in an article is text everywhere.
 */
#ifndef NEWSD_FEED_H
#define NEWSD_FEED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "newsd/err.h"

enum nd_feed_format {
    ND_FEED_ATOM = 0,
    ND_FEED_RSS,
    ND_FEED_JSON,
};

/* The Content-Type of each format. */
#define ND_FEED_ATOM_TYPE "application/atom+xml; charset=utf-8"
#define ND_FEED_RSS_TYPE "application/rss+xml; charset=utf-8"
#define ND_FEED_JSON_TYPE "application/feed+json; charset=utf-8"

/* What a feed is made of; everything borrowed. */
struct nd_feed {
    /* Absolute base URL without a trailing slash: "https://news.example".
       Links: BASE/ (the reader page), BASE/v1/feed.atom (self),
       BASE/#/articles/{slug} (an entry's page, see page), BASE/v1/articles/{id}
       (an entry's permanent id). */
    const char *base;
    const char *title; /* plain text */
    const char *query; /* the feed URL's query with its '?', percent-encoded; "" for none */
    /* The article-url setting: the page an entry links to, a URL template
       with {slug} (percent-encoded) and {id} filled in per article; "" (or
       NULL) for the reader page's view BASE/#/articles/{slug}. */
    const char *page;
    /* Articles as the store returns them, in feed order. One without a
       "body" member gets no content (Atom content, RSS content:encoded,
       JSON Feed content_html; its content_text is the summary). */
    const json_t *articles;
};

/*
 * Renders feed in format. Returns a malloc'd, NUL-terminated document with
 * its length (without the NUL) in *len, or NULL when out of memory. An
 * article member that is missing or of the wrong type counts as empty.
 */
char *nd_feed_render(enum nd_feed_format format, const struct nd_feed *feed, size_t *len);

/*
 * text (len bytes) escaped for XML 1.0 character data, or for a quoted
 * attribute value when attribute is true, by the rules above. Returns a
 * malloc'd string, NULL when out of memory.
 */
char *nd_feed_xml_escape(const char *text, size_t len, bool attribute);

/*
 * text (len bytes) as valid UTF-8 holding only characters XML 1.0 allows:
 * invalid bytes become U+FFFD, forbidden characters are dropped. For text
 * that does not come from the store (query values in a feed's title).
 * Returns a malloc'd string, NULL when out of memory.
 */
char *nd_feed_clean_text(const char *text, size_t len);

/*
 * Plain text as HTML paragraphs (see above): "a\n\nb<c" gives
 * "<p>a</p>\n<p>b&lt;c</p>". CR LF and CR count as line breaks; blank
 * lines are those holding only spaces and tabs. Empty text gives "".
 * Returns a malloc'd string, NULL when out of memory.
 */
char *nd_feed_html(const char *text);

/* Room for "Sat, 12 Jul 2025 09:30:00 +0000" and its NUL. */
#define ND_RFC822_BUF 32

/*
 * Writes t (seconds since the epoch, 0..253402300799) as an RFC 822 date
 * with a four-digit year, as RSS 2.0 wants it, in UTC: "Sat, 12 Jul 2025
 * 09:30:00 +0000". Returns buf.
 */
char *nd_feed_rfc822(int64_t t, char buf[ND_RFC822_BUF]);

/*
 * The base URL of a request's feed: public_url without its trailing
 * slashes when it is set (non-empty), else "http://HOST" ("https://" when
 * tls) from the request's Host header. NULL when neither is known (a
 * request without Host) or out of memory; otherwise malloc'd.
 */
char *nd_feed_base_url(const char *public_url, const char *host, bool tls);

/*
 * Checks a public-url setting (config.h): "" or an absolute http:// or
 * https:// URL with a host, an optional port and path, and no query,
 * fragment, user name, white space or non-ASCII character. ND_ERR_INVALID
 * writes a sentence saying what is wrong to why (whylen bytes).
 */
enum nd_err nd_feed_check_public_url(const char *text, char *why, size_t whylen);

/*
 * Checks an article-url setting (config.h): "" or an absolute http:// or
 * https:// URL with a host, of printable ASCII without spaces (a query and a
 * fragment are allowed: a frontend may route by either), holding {slug} or
 * {id} or both and no other brace. ND_ERR_INVALID writes a sentence saying
 * what is wrong to why (len bytes).
 */
enum nd_err nd_feed_check_page(const char *text, char *why, size_t whylen);

#endif
