/*
 * import.h: importing plain-text articles (the format of shared samples:
 * a title line, possibly repeated once, body paragraphs separated by blank
 * lines, and trailing page furniture: "Source link", "Posted in", a category
 * line, "Leave a Comment").
 */
#ifndef NEWSD_IMPORT_H
#define NEWSD_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "newsd/err.h"

struct nd_store;

/* One parsed article; every string malloc'd and owned by the struct. */
struct nd_import_article {
    char *title;    /* trimmed, never empty */
    char *body;     /* paragraphs joined by "\n\n", never empty */
    char *category; /* "" when the text names none */
};

/*
 * Parses len bytes of text. ND_ERR_INVALID (err says why: not UTF-8, no
 * title, no body) leaves *out untouched.
 */
enum nd_err nd_import_parse(const char *text, size_t len, struct nd_import_article *out, char *err,
                            size_t errlen);

/* Frees what a parse stored. Accepts NULL and a zeroed struct. */
void nd_import_article_fini(struct nd_import_article *art);

enum nd_import_outcome {
    ND_IMPORT_CREATED,  /* a new article */
    ND_IMPORT_EXISTING, /* the same text was imported before: nothing created */
};

/*
 * Reads, parses and stores the article in the file at path, published now.
 * The import key is a hash of the parsed title and body, so re-importing the
 * same text creates nothing. *id gets the article's id either way.
 */
enum nd_err nd_import_file(struct nd_store *store, const char *path,
                           enum nd_import_outcome *outcome, int64_t *id, char *err, size_t errlen);

#endif
