/*
 * store_ops.c: the functions of store.h, each a call through the table of
 * operations of the backend the store was opened with (store_backend.h).
 * What every backend would otherwise repeat lives here once: choosing the
 * backend from the --db value, the shorthand forms (article_list,
 * comment_create, comment_list), and "not supported" for an optional
 * operation a backend leaves out.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "newsd/log.h"
#include "newsd/util.h"
#include "store_backend.h"

#include "store_pg.h"

bool nd_store_is_postgres(const char *db)
{
    return db != NULL &&
           (strncasecmp(db, "postgres://", 11) == 0 || strncasecmp(db, "postgresql://", 13) == 0);
}

/* The value of keyword among libpq's parsed options, or "" when not given. */
static const char *option(const PQconninfoOption *opts, const char *keyword)
{
    for (const PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0)
            return o->val ? o->val : "";
    return "";
}

/*
 * libpq parses the URI (percent-decoding, every spelling it accepts) and
 * the printable parts are rebuilt from what it found; its own message on a
 * URI it cannot parse may quote a piece of the URI, a password perhaps,
 * so it is not printed.
 */
const char *nd_store_describe(const char *db, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    if (!nd_store_is_postgres(db)) {
        snprintf(buf, len, "%s", db ? db : "");
        return buf;
    }
    const char *scheme = strncasecmp(db, "postgres://", 11) == 0 ? "postgres" : "postgresql";
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(db, &err);
    PQfreemem(err);
    if (!opts) {
        snprintf(buf, len, "%s://(a URI that cannot be parsed)", scheme);
        return buf;
    }
    const char *host = option(opts, "host");
    const char *port = option(opts, "port");
    const char *dbname = option(opts, "dbname");
    if (!*host)
        host = option(opts, "hostaddr");
    bool socket = *host == '/' || *host == '@';
    bool query_port = *port && (socket || strchr(port, ','));
    snprintf(buf, len, "%s://%s%s%s/%s%s%s%s%s", scheme, socket ? "" : host,
             *port && !query_port ? ":" : "", *port && !query_port ? port : "", dbname,
             socket ? "?host=" : "", socket ? host : "",
             query_port ? (socket ? "&port=" : "?port=") : "", query_port ? port : "");
    PQconninfoFree(opts);
    return buf;
}

enum nd_err nd_store_open(const char *db, const struct nd_store_options *opts,
                          struct nd_store **out)
{
    if (!db || !*db || !opts || !out)
        return ND_ERR_INVALID;
    if (!nd_store_is_postgres(db))
        return nd_sqlite_open(db, opts, out);
    return nd_pg_open(db, opts, out);
}

enum nd_err nd_store_open_replica(const char *db, const struct nd_store_options *opts,
                                  struct nd_store **out)
{
    if (!db || !opts || !out || !nd_store_is_postgres(db))
        return ND_ERR_INVALID;
    return nd_pg_open_replica(db, opts, out);
}

void nd_store_close(struct nd_store *st)
{
    if (st)
        st->ops->close(st);
}

const char *nd_store_backend(const struct nd_store *st)
{
    return st->ops->name;
}

unsigned nd_store_migrations_applied(const struct nd_store *st)
{
    return st->migrations_applied;
}

enum nd_err nd_store_foreign_commits(struct nd_store *st, uint64_t *epoch)
{
    return st->ops->foreign_commits(st, epoch);
}

enum nd_err nd_store_ping(struct nd_store *st)
{
    return st->ops->ping(st);
}

enum nd_err nd_store_size(struct nd_store *st, int64_t *bytes)
{
    if (st->ops->size == NULL)
        return ND_ERR_UNSUPPORTED;
    return st->ops->size(st, bytes);
}

enum nd_err nd_store_position(struct nd_store *st, enum nd_position which, uint64_t *out)
{
    if (!st || !out)
        return ND_ERR_INVALID;
    if (st->ops->position == NULL)
        return ND_ERR_UNSUPPORTED;
    return st->ops->position(st, which, out);
}

const char *nd_store_position_format(uint64_t pos, char buf[ND_POSITION_TEXT_MAX])
{
    snprintf(buf, ND_POSITION_TEXT_MAX, "%X/%X", (unsigned)(pos >> 32), (unsigned)pos);
    return buf;
}

/* 1 to 8 hexadecimal digits at *p into *half, *p moved past them; false when there are none. */
static bool parse_half(const char **p, uint64_t *half)
{
    static const char digits[] = "0123456789abcdef";
    uint64_t v = 0;
    size_t n = 0;
    for (; n < 9; n++) {
        const char *d = (*p)[n] != '\0' ? strchr(digits, tolower((unsigned char)(*p)[n])) : NULL;
        if (d == NULL)
            break;
        v = v << 4 | (uint64_t)(d - digits);
    }
    if (n == 0 || n > 8)
        return false;
    *p += n;
    *half = v;
    return true;
}

uint64_t nd_store_position_parse(const char *text)
{
    uint64_t hi, lo;
    if (text == NULL || !parse_half(&text, &hi) || *text++ != '/' || !parse_half(&text, &lo) ||
        *text != '\0')
        return 0;
    return hi << 32 | lo;
}

enum nd_err nd_store_rate_take(struct nd_store *st, const char *bucket, unsigned per_minute,
                               unsigned burst, bool *allowed, double *tokens)
{
    if (!st || !bucket || !*bucket || per_minute == 0 || burst == 0 || !allowed || !tokens)
        return ND_ERR_INVALID;
    if (st->ops->rate_take == NULL)
        return ND_ERR_UNSUPPORTED;
    return st->ops->rate_take(st, bucket, per_minute, burst, allowed, tokens);
}

enum nd_err nd_store_batch_begin(struct nd_store *st)
{
    if (!st)
        return ND_ERR_INVALID;
    return st->ops->batch_begin(st);
}

enum nd_err nd_store_batch_end(struct nd_store *st, bool commit)
{
    if (!st)
        return ND_ERR_INVALID;
    return st->ops->batch_end(st, commit);
}

enum nd_err nd_store_settle(struct nd_store *st)
{
    if (!st)
        return ND_ERR_INVALID;
    return st->ops->settle(st);
}

unsigned nd_store_batch_rows(const struct nd_store *st, unsigned want)
{
    unsigned most = st ? st->ops->batch_rows_max : 0;
    return most > 0 && most < want ? most : want;
}

/* ---- articles ---------------------------------------------------------- */

enum nd_err nd_store_article_create(struct nd_store *st, const struct nd_article_fields *f,
                                    json_t **out)
{
    return st->ops->article_create(st, f, out);
}

enum nd_err nd_store_article_get(struct nd_store *st, int64_t id, json_t **out)
{
    return st->ops->article_get(st, id, out);
}

enum nd_err nd_store_article_get_by_slug(struct nd_store *st, const char *slug, json_t **out)
{
    return st->ops->article_get_by_slug(st, slug, out);
}

enum nd_err nd_store_article_update(struct nd_store *st, int64_t id,
                                    const struct nd_article_fields *f, json_t **out)
{
    return st->ops->article_update(st, id, f, out);
}

enum nd_err nd_store_article_delete(struct nd_store *st, int64_t id)
{
    return st->ops->article_delete(st, id);
}

enum nd_err nd_store_article_find_import(struct nd_store *st, const char *import_key, int64_t *id)
{
    return st->ops->article_find_import(st, import_key, id);
}

enum nd_err nd_store_article_text(struct nd_store *st, int64_t id, const char *slug,
                                  struct nd_article_text *t)
{
    if (!st->ops->article_text)
        return ND_ERR_UNSUPPORTED;
    return st->ops->article_text(st, id, slug, t);
}

enum nd_err nd_store_article_is_draft(struct nd_store *st, int64_t id, bool *draft)
{
    return st->ops->article_is_draft(st, id, draft);
}

enum nd_err nd_store_article_list(struct nd_store *st, const struct nd_article_filter *filter,
                                  unsigned limit, const char *cursor, json_t **items,
                                  char **next_cursor)
{
    return st->ops->article_list_sorted(st, filter, ND_ORDER_NEWEST, limit, cursor, items,
                                        next_cursor);
}

enum nd_err nd_store_article_list_sorted(struct nd_store *st,
                                         const struct nd_article_filter *filter,
                                         enum nd_article_order order, unsigned limit,
                                         const char *cursor, json_t **items, char **next_cursor)
{
    return st->ops->article_list_sorted(st, filter, order, limit, cursor, items, next_cursor);
}

enum nd_err nd_store_category_list(struct nd_store *st, bool drafts, json_t **out)
{
    return st->ops->category_list(st, drafts, out);
}

enum nd_err nd_store_tag_list(struct nd_store *st, bool drafts, json_t **out)
{
    return st->ops->tag_list(st, drafts, out);
}

enum nd_err nd_store_author_list(struct nd_store *st, bool drafts, json_t **out)
{
    return st->ops->author_list(st, drafts, out);
}

/* ---- comments ---------------------------------------------------------- */

enum nd_err nd_store_comment_create(struct nd_store *st, const struct nd_comment_fields *f,
                                    json_t **out)
{
    return st->ops->comment_post(st, f, 0, out);
}

enum nd_err nd_store_comment_post(struct nd_store *st, const struct nd_comment_fields *f,
                                  unsigned flags, json_t **out)
{
    return st->ops->comment_post(st, f, flags, out);
}

enum nd_err nd_store_comment_get(struct nd_store *st, int64_t id, json_t **out)
{
    return st->ops->comment_get(st, id, out);
}

enum nd_err nd_store_comment_delete(struct nd_store *st, int64_t id)
{
    return st->ops->comment_delete(st, id);
}

enum nd_err nd_store_comment_set_status(struct nd_store *st, int64_t id, bool pending, json_t **out)
{
    return st->ops->comment_set_status(st, id, pending, out);
}

enum nd_err nd_store_comment_list(struct nd_store *st, int64_t article_id, bool tree,
                                  unsigned limit, const char *cursor, json_t **items,
                                  char **next_cursor)
{
    return st->ops->comment_list_filtered(st, article_id, ND_COMMENTS_ANY, tree, limit, cursor,
                                          NULL, items, next_cursor);
}

enum nd_err nd_store_comment_list_filtered(struct nd_store *st, int64_t article_id,
                                           enum nd_comment_filter which, bool tree, unsigned limit,
                                           const char *cursor, json_t **items, char **next_cursor)
{
    return st->ops->comment_list_filtered(st, article_id, which, tree, limit, cursor, NULL, items,
                                          next_cursor);
}

enum nd_err nd_store_comment_list_text(struct nd_store *st, int64_t article_id,
                                       enum nd_comment_filter which, unsigned limit,
                                       const char *cursor, struct nd_buf *out, char **next_cursor)
{
    json_t *none = NULL;
    return st->ops->comment_list_filtered(st, article_id, which, false, limit, cursor, out, &none,
                                          next_cursor);
}

enum nd_err nd_store_comment_import(struct nd_store *st, const struct nd_comment_import *c,
                                    int64_t *id)
{
    return st->ops->comment_import(st, c, id);
}

enum nd_err nd_store_comment_find_import(struct nd_store *st, const char *import_key, int64_t *id)
{
    return st->ops->comment_find_import(st, import_key, id);
}

/* ---- the change log ---------------------------------------------------- */

enum nd_err nd_store_changes_bounds(struct nd_store *st, int64_t *pruned_through, int64_t *last)
{
    return st->ops->changes_bounds(st, pruned_through, last);
}

enum nd_err nd_store_changes_read(struct nd_store *st, int64_t since, bool all, unsigned limit,
                                  nd_change_fn fn, void *ctx, struct nd_change_page *page)
{
    return st->ops->changes_read(st, since, all, limit, fn, ctx, page);
}

enum nd_err nd_store_changes_prune(struct nd_store *st, int64_t before, unsigned long *removed)
{
    return st->ops->changes_prune(st, before, removed);
}

/* ---- search and keys --------------------------------------------------- */

enum nd_err nd_store_search(struct nd_store *st, const struct nd_search_params *p, json_t **items,
                            char **next_cursor)
{
    return st->ops->search(st, p, items, next_cursor);
}

enum nd_err nd_store_key_insert(struct nd_store *st, const char *name, const char *key_id,
                                const unsigned char *hash, size_t hash_len)
{
    return st->ops->key_insert(st, name, key_id, hash, hash_len);
}

enum nd_err nd_store_key_lookup(struct nd_store *st, const char *key_id, unsigned char *hash,
                                size_t hash_len)
{
    return st->ops->key_lookup(st, key_id, hash, hash_len);
}

enum nd_err nd_store_key_list(struct nd_store *st, json_t **out)
{
    return st->ops->key_list(st, out);
}

enum nd_err nd_store_key_delete(struct nd_store *st, const char *name)
{
    return st->ops->key_delete(st, name);
}

/* ---- backup, export and restore ---------------------------------------- */

enum nd_err nd_store_backup(const char *db, const char *dest_path,
                            const struct nd_backup_options *opts, unsigned *pages, char *why,
                            size_t whylen)
{
    if (nd_store_is_postgres(db)) {
        nd_why(why, whylen,
               "newsd backup copies a SQLite file; a PostgreSQL database is backed up with "
               "PostgreSQL's own tools (pg_dump for a copy, pg_basebackup with WAL archiving "
               "for point-in-time recovery), or moved with newsd export");
        return ND_ERR_UNSUPPORTED;
    }
    return nd_sqlite_backup(db, dest_path, opts, pages, why, whylen);
}

enum nd_err nd_store_export(struct nd_store *st, nd_store_export_fn emit, void *ctx,
                            struct nd_export_stats *stats)
{
    return st->ops->export_records(st, emit, ctx, stats);
}

enum nd_err nd_store_article_restore(struct nd_store *st, const struct nd_article_record *rec,
                                     const char **taken)
{
    return st->ops->article_restore(st, rec, taken);
}

enum nd_err nd_store_comment_restore(struct nd_store *st, const struct nd_comment_record *rec,
                                     const char **taken)
{
    return st->ops->comment_restore(st, rec, taken);
}
