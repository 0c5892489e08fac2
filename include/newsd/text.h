/*
 * text.h: text derived from article text: URL slugs, default summaries,
 * and text escaped for HTML. Pure functions, shared by the article
 * handlers, the importer, feeds and search snippets.
 */
#ifndef NEWSD_TEXT_H
#define NEWSD_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "newsd/buf.h"

/* Longest slug, in bytes. */
#define ND_SLUG_MAX 120

/*
 * A slug for title: lower-case ASCII letters and digits joined by single
 * hyphens, at most ND_SLUG_MAX bytes, cut at a hyphen. Typographic and ASCII
 * apostrophes vanish ("Russia’s" -> "russias"), accented Latin letters lose
 * their accents ("Café" -> "cafe", "Straße" -> "strasse"), anything else
 * separates words. A title that leaves nothing, or only digits, gets the
 * prefix "article" ("article", "article-2024"). Returns a malloc'd string,
 * NULL when out of memory.
 */
char *nd_slug_from_title(const char *title);

/* The one word that is not a slug: /v1/articles/bulk names the bulk write. */
#define ND_SLUG_RESERVED "bulk"

/*
 * True when slug is a valid slug: 1..ND_SLUG_MAX bytes of [a-z0-9] in
 * hyphen-separated words, not only digits (an all-digit path segment is an id),
 * and not "bulk" (/v1/articles/bulk is the bulk write, ND_SLUG_RESERVED).
 */
bool nd_slug_valid(const char *slug);

/* Longest derived summary, in characters (an ellipsis included). */
#define ND_SUMMARY_MAX 200

/*
 * The default summary of body: its first paragraph, whitespace folded, cut at
 * a word boundary to at most ND_SUMMARY_MAX characters with "…" when cut.
 * Returns a malloc'd string, NULL when out of memory.
 */
char *nd_summary_from_body(const char *body);

/*
 * Appends n bytes of text to b escaped for HTML text and quoted attribute
 * values: & < > " ' become &amp; &lt; &gt; &quot; &#39;; every other byte
 * goes as it is (the text's UTF-8 is not checked here). The one HTML
 * escaper of newsd.
 */
void nd_text_append_html(struct nd_buf *b, const char *text, size_t n);

#endif
