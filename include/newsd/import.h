/*
 * import.h: importing articles. Three formats:
 *   - plain text (the format of shared samples: a title line, possibly
 *     repeated once, body paragraphs separated by blank lines, and trailing
 *     page furniture: "Source link", "Posted in", a category line, "Leave a
 *     Comment"), one article per file (import.c);
 *   - JSON lines, articles and comments in bulk (import_jsonl.c), below;
 *   - WordPress exports (WXR), posts and their comments (import_wxr.c),
 *     below.
 * nd_import_detect tells them apart (import_detect.c).
 */
#ifndef NEWSD_IMPORT_H
#define NEWSD_IMPORT_H

#include <stdbool.h>
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

/* ---- telling the formats apart ----------------------------------------- */

enum nd_import_format {
    ND_IMPORT_TEXT,  /* a plain-text article (nd_import_file) */
    ND_IMPORT_JSONL, /* newsd JSON lines or an export (nd_import_jsonl_file) */
    ND_IMPORT_XML,   /* XML, which newsd reads only as a WordPress export (nd_import_wxr_file) */
};

/* How much of the start of a file nd_import_detect_file looks at. */
#define ND_IMPORT_HEAD_MAX 65536

/*
 * Tells from the start of a file (head, len bytes, borrowed; whole: true
 * when that is all of the file) which importer reads it. After a UTF-8 byte
 * order mark and white space: "<?xml", "<!" or "<" and a letter is XML;
 * "{" is JSON lines when its first line is an object whose "type" is
 * "article", "comment" or the export header ("newsd-export"), or when that
 * line does not end within head (the JSON-lines importer then judges each
 * line); anything else is text, "[Updated] ..." included, unless the first
 * line is a JSON array. ND_ERR_INVALID (why says what the file looks like
 * and which files newsd imports) for JSON that newsd does not read: a first
 * line that is not valid JSON, a JSON array, an object without such a type.
 * *format is written only on ND_OK.
 */
enum nd_err nd_import_detect(const char *head, size_t len, bool whole,
                             enum nd_import_format *format, char *why, size_t whylen);

/*
 * nd_import_detect on the first ND_IMPORT_HEAD_MAX bytes of the file at
 * path. ND_ERR_IO (why says what) when it cannot be read.
 */
enum nd_err nd_import_detect_file(const char *path, enum nd_import_format *format, char *why,
                                  size_t whylen);

/* ---- WordPress exports (WXR) ------------------------------------------- */

/*
 * A WordPress export (WXR 1.0, 1.1 or 1.2: the XML of Tools -> Export) is
 * read as a stream with libxml2 (xmlTextReader), with no network access, no
 * entity expansion and no DTD loading; a file that declares a document type
 * (<!DOCTYPE ...>) is refused, as no WordPress export has one.
 *
 * Items of post type "post" become articles: "publish" published, "draft",
 * "pending" and "future" drafts; "private" posts and posts protected by a
 * password (counted as private), "trash" and other statuses ("auto-draft",
 * "inherit") are skipped and counted, and so are pages,
 * attachments, menu items and other post types. An article gets: the title
 * and the body (content:encoded) as text (nd_import_html_text); the excerpt
 * as summary when there is one, else a summary derived from the body; the
 * display name of its dc:creator (from the channel's wp:author list; the
 * login when none is listed) as author; its categories' names joined with
 * ", " (as the plain-text importer joins a page's category lines), leaving
 * out WordPress's default "uncategorized", as category; its post_tag (WXR
 * 1.0: tag) names as tags; wp:post_date_gmt as published_at (wp:post_date
 * read as UTC when the GMT date is zero, as WordPress writes it for
 * drafts; the time of the import when both are); wp:post_name as slug when
 * it is a valid slug (refused when another article has it), else a slug made
 * of it, percent-decoded, or of the title; its <link> as source_url. Each is
 * checked with the API's rules (nd_validate_article): a post that fails them
 * is refused, with its comments.
 *
 * Comments (wp:comment) of an imported post: comment_approved "1" visible,
 * "0" pending, "spam" and "trash" (and "post-trashed") skipped and counted,
 * and so are pingbacks and trackbacks; the author (WordPress's "Anonymous"
 * when empty), the content as text and comment_date_gmt are kept (the
 * e-mail, URL and IP address are not: newsd has no such fields). Comments
 * are stored in WordPress id order; comment_parent threads them, and a reply
 * whose parent was skipped or refused hangs under the nearest ancestor that
 * was stored (the top level when none was), as replies of a deleted comment
 * do. A comment that fails nd_validate_comment is refused.
 *
 * Posts and comments carry import keys made of the blog's URL
 * (wp:base_blog_url, else the channel's link) and their WordPress ids, so a
 * second import of the same export (or of a newer one) finds what was
 * imported before and creates only what is new: twice changes nothing.
 *
 * The whole file is one transaction (nd_store_batch_begin): a file that is
 * not well-formed XML, is not a WordPress export, or is of another WXR
 * version is refused with ND_ERR_INVALID and why saying what and on which
 * line, and nothing of it is stored. Refused posts and comments (each
 * reported through refused, with the line of its <item> or <wp:comment>) do
 * not stop the import. While it runs no other connection can write.
 */

struct nd_import_wxr_stats {
    unsigned version; /* the WXR version's minor number: 0, 1 or 2 */
    unsigned long posts_created;
    unsigned long posts_existing; /* imported before: nothing created */
    unsigned long comments_created;
    unsigned long comments_existing;
    /* items skipped for their post type */
    unsigned long pages;
    unsigned long attachments;
    unsigned long menu_items;
    unsigned long other_types;
    /* posts skipped for their status */
    unsigned long private_posts; /* password-protected ones too */
    unsigned long trashed_posts;
    unsigned long other_statuses;
    /* comments skipped */
    unsigned long spam_comments;
    unsigned long trashed_comments;
    unsigned long pingbacks;
    unsigned long refused; /* posts and comments refused, each reported */
};

/*
 * Imports the WordPress export of len bytes at xml (borrowed) into store.
 * refused (may be NULL) hears of every refused post and comment. Returns
 * ND_OK with *stats (may be NULL) filled once the file is committed;
 * ND_ERR_INVALID (see above), a store error (logged by the store) or
 * ND_ERR_NOMEM, with why saying what, nothing stored and *stats zeroed.
 */
enum nd_err nd_import_wxr(struct nd_store *store, const char *xml, size_t len,
                          nd_import_refusal_fn refused, void *ctx,
                          struct nd_import_wxr_stats *stats, char *why, size_t whylen);

/* nd_import_wxr on the file at path, read as a stream. ND_ERR_IO: cannot open it. */
enum nd_err nd_import_wxr_file(struct nd_store *store, const char *path,
                               nd_import_refusal_fn refused, void *ctx,
                               struct nd_import_wxr_stats *stats, char *why, size_t whylen);

/*
 * The text of the HTML fragment html (len bytes, borrowed), as import_html.c
 * describes: paragraphs separated by a blank line, line breaks kept, tags
 * left out, entities decoded, white space folded; one_line makes every
 * break a space (for titles and names). *out gets a new string ("" when the
 * HTML holds no text). ND_ERR_LIMIT when the text would pass max bytes,
 * ND_ERR_INVALID when elements nest deeper than libxml2's HTML parser goes
 * (256 levels), ND_ERR_NOMEM; *out is written only on ND_OK.
 */
enum nd_err nd_import_html_text(const char *html, size_t len, bool one_line, size_t max,
                                char **out);

#endif
