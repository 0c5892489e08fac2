/*
 * text.h: text derived from article text: URL slugs and default summaries.
 * Pure functions, shared by the article handlers and the importer.
 */
#ifndef NEWSD_TEXT_H
#define NEWSD_TEXT_H

#include <stdbool.h>
#include <stddef.h>

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

/*
 * True when slug is a valid slug: 1..ND_SLUG_MAX bytes of [a-z0-9] in
 * hyphen-separated words, not only digits (an all-digit path segment is an id).
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

#endif
