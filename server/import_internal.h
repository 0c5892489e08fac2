/*
 * import_internal.h: what the JSON-lines importer (import_jsonl.c) shares
 * with its reader of export records (import_record.c), and nobody else sees
 * (but nd_import_join_errors and nd_import_vrefuse, which the WordPress
 * importer uses too).
 */
#ifndef NEWSD_IMPORT_INTERNAL_H
#define NEWSD_IMPORT_INTERNAL_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "newsd/import.h"
#include "newsd/store.h"

#define WHY_MAX 512

struct importer {
    struct nd_store *store;
    int64_t now;
    json_t *slugs;          /* slug -> article id */
    json_t *comments;       /* article id as text -> [comment id, ...] */
    json_t *errors;         /* the field errors of the current line */
    json_t *refused;        /* export records: ids (as text) of article records refused */
    bool records;           /* the file began with an export header: lines are records */
    unsigned long nonblank; /* non-blank lines read so far */
    nd_import_refusal_fn refusal;
    void *ctx;
    struct nd_import_jsonl_stats done;    /* counted in committed batches */
    struct nd_import_jsonl_stats pending; /* counted in the open batch */
};

/*
 * What every importer does with a refusal: counts it in *count, formats its
 * sentence (fmt and ap, cut at WHY_MAX bytes) and hands it with its line to
 * refusal (may be NULL, then only the count changes).
 */
void nd_import_vrefuse(nd_import_refusal_fn refusal, void *ctx, unsigned long *count,
                       unsigned long line, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* Counts a refused line and tells the caller why, in one sentence. */
void nd_import_refuse(struct importer *im, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Writes the validator's field errors (an array of {"field","message"},
 * borrowed) into why as one sentence, "field: message; field: message",
 * cut at whylen bytes (whylen > 0). The WordPress importer's refusals say
 * it the same way.
 */
void nd_import_join_errors(const json_t *errors, char *why, size_t whylen);

/* Refuses the line with every entry of im->errors: "field: message; ...". */
void nd_import_refuse_fields(struct importer *im, unsigned long line);

/* Adds one {"field","message"} entry to im->errors. False when out of memory. */
bool nd_import_add_error(struct importer *im, const char *field, const char *message);

/* Records an article of this import: its slug, and an empty comment list. */
enum nd_err nd_import_remember_article(struct importer *im, const char *slug, int64_t id);

/*
 * Restore the article or comment record obj (the line without "type",
 * borrowed) as written. ND_OK also when the record was refused (counted and
 * reported); another error stops the import.
 */
enum nd_err nd_import_article_record(struct importer *im, unsigned long line, const json_t *obj);
enum nd_err nd_import_comment_record(struct importer *im, unsigned long line, const json_t *obj);

#endif
