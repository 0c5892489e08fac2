/*
 * import.h: importing articles. Two formats:
 *   - plain text (the format of shared samples: a title line, possibly
 *     repeated once, body paragraphs separated by blank lines, and trailing
 *     page furniture: "Source link", "Posted in", a category line, "Leave a
 *     Comment"), one article per file (import.c);
 *   - JSON lines, articles and comments in bulk (import_jsonl.c), below.
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
 * Parses len bytes of text. ND_ERR_INVALID (why says what: not UTF-8, no
 * title, no body) leaves *out untouched.
 */
enum nd_err nd_import_parse(const char *text, size_t len, struct nd_import_article *out, char *why,
                            size_t whylen);

/* Frees what a parse stored. Accepts NULL and a zeroed struct. */
void nd_import_article_fini(struct nd_import_article *art);

/* Hex characters of an import key. */
#define ND_IMPORT_KEY_LEN 64

/*
 * Writes the import key of an article (hex BLAKE2b-256 of title, "\n\n" and
 * body) into key. Both importers use it, so the same text imported either
 * way is found again. Needs libsodium initialised (sodium_init).
 */
void nd_import_key(const char *title, const char *body, char key[ND_IMPORT_KEY_LEN + 1]);

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
                           enum nd_import_outcome *outcome, int64_t *id, char *why, size_t whylen);

/* ---- JSON lines ------------------------------------------------------- */

/*
 * One JSON object per line (blank lines are skipped):
 *   {"type":"article", ...the fields POST /v1/articles takes...}
 *   {"type":"comment", "article_slug":"..." | "article_id":N,
 *    "parent_index"?:I | "parent_id"?:N, "author":"...", "body":"..."}
 * Each line is checked with the API's own rules (nd_validate_article,
 * nd_validate_comment). An article's published_at defaults to the time of
 * the import. Articles carry an import key (a hash of title and body, as
 * plain-text imports do), so a line whose title and body were imported
 * before creates nothing. A comment names its article by slug (an article of
 * this file or one already stored) or by id; parent_index is the 0-based
 * position, among the comments of the same article earlier in this file, of
 * the comment it replies to. Comments are not deduplicated: importing a file
 * twice adds its comments twice.
 *
 * Lines run in batches of batch_rows (nd_store_batch_begin), one transaction
 * each. A line that is refused (invalid JSON or fields, a taken slug, an
 * unknown article or parent) is reported and skipped; the rest of the batch
 * goes on. A database failure stops the import: the unfinished batch is
 * rolled back, earlier batches stay.
 *
 * Exports (newsd export; the format is in store.h): a text whose first line
 * is {"type":"newsd-export","version":1} holds records, restored exactly as
 * written, ids and times included (nd_store_article_restore,
 * nd_store_comment_restore). Every member of a record is required
 * (import_key may be left out); each is checked for what the store needs
 * (types, a valid slug, a known status, RFC 3339 times, a parent older than
 * its reply), not by the API's rules for new text. A record whose id, slug
 * or import key is taken is refused, and so are the comments of an article
 * record that was refused. The header again later in an export (two exports
 * joined) changes nothing; a header anywhere else, or of another version,
 * is refused and stops the import with ND_ERR_INVALID.
 */

#define ND_IMPORT_JSONL_LINE_MAX (4 * 1024 * 1024) /* bytes per line */
#define ND_IMPORT_JSONL_BATCH_DEFAULT 2000         /* rows per transaction */

struct nd_import_jsonl_stats {
    unsigned long articles_created;
    unsigned long articles_existing;
    unsigned long comments_created;
    unsigned long lines_refused;
};

/*
 * Called once per refused line with its 1-based number and a sentence
 * saying why ("title: is required; tags[2]: is too long").
 */
typedef void (*nd_import_refusal_fn)(void *ctx, unsigned long line, const char *why);

/*
 * Imports len bytes of JSON lines (text, borrowed) into store, in batches of
 * batch_rows lines (0 = ND_IMPORT_JSONL_BATCH_DEFAULT). refused (may be
 * NULL) hears of every refused line; *stats (may be NULL) is zeroed first
 * and then counts. Returns ND_OK when the database took every line that
 * was not refused; a store error otherwise (logged by the store), with
 * *stats counting what was done before it.
 */
enum nd_err nd_import_jsonl(struct nd_store *store, const char *text, size_t len,
                            unsigned batch_rows, nd_import_refusal_fn refused, void *ctx,
                            struct nd_import_jsonl_stats *stats);

/*
 * nd_import_jsonl on the file at path, mapped into memory rather than read.
 * ND_ERR_IO (why says what) when the file cannot be opened or mapped.
 */
enum nd_err nd_import_jsonl_file(struct nd_store *store, const char *path, unsigned batch_rows,
                                 nd_import_refusal_fn refused, void *ctx,
                                 struct nd_import_jsonl_stats *stats, char *why, size_t whylen);

#endif
