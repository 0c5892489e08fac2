/*
 * store_backend.h: the seam between the store's public interface (store.h)
 * and the backends that implement it (SQLite: store.c and the store_*.c
 * files; PostgreSQL: store_pg*.c). Handlers and the CLI never see it.
 *
 * Every backend fills one struct nd_store_ops and makes its connections
 * begin with a struct nd_store whose ops point there. The functions of
 * store.h (store_ops.c) check their arguments once and call through the
 * table; a backend that leaves an optional operation NULL is answered
 * ND_ERR_UNSUPPORTED there, so callers see one error for "this backend does
 * not do that" whichever operation it is. The backend is chosen once, at
 * open, from the --db value: a postgres:// or postgresql:// URI names
 * PostgreSQL, anything else is a SQLite file path.
 *
 * Each operation has the contract of the store.h function of the same name
 * (nd_store_<name>), which documents it; the arguments are already checked
 * where store.h says a NULL or an out-of-range value is refused.
 */
#ifndef NEWSD_STORE_BACKEND_H
#define NEWSD_STORE_BACKEND_H

#include "newsd/store.h"

struct nd_store_ops {
    const char *name;        /* "sqlite" or "postgresql", for logs and /health */
    unsigned batch_rows_max; /* writes a batch should hold at most; 0: no limit */

    /* ---- required ---- */
    void (*close)(struct nd_store *st);
    enum nd_err (*ping)(struct nd_store *st);
    enum nd_err (*foreign_commits)(struct nd_store *st, uint64_t *epoch);
    enum nd_err (*batch_begin)(struct nd_store *st);
    enum nd_err (*batch_end)(struct nd_store *st, bool commit);
    enum nd_err (*settle)(struct nd_store *st);

    enum nd_err (*article_create)(struct nd_store *st, const struct nd_article_fields *f,
                                  json_t **out);
    enum nd_err (*article_get)(struct nd_store *st, int64_t id, json_t **out);
    enum nd_err (*article_get_by_slug)(struct nd_store *st, const char *slug, json_t **out);
    /* optional */
    enum nd_err (*article_text)(struct nd_store *st, int64_t id, const char *slug,
                                struct nd_article_text *t);
    enum nd_err (*article_update)(struct nd_store *st, int64_t id,
                                  const struct nd_article_fields *f, json_t **out);
    enum nd_err (*article_delete)(struct nd_store *st, int64_t id);
    enum nd_err (*article_find_import)(struct nd_store *st, const char *import_key, int64_t *id);
    enum nd_err (*article_is_draft)(struct nd_store *st, int64_t id, bool *draft);
    enum nd_err (*article_list_sorted)(struct nd_store *st, const struct nd_article_filter *filter,
                                       enum nd_article_order order, unsigned limit,
                                       const char *cursor, json_t **items, char **next_cursor);
    enum nd_err (*category_list)(struct nd_store *st, bool drafts, json_t **out);
    enum nd_err (*tag_list)(struct nd_store *st, bool drafts, json_t **out);
    enum nd_err (*author_list)(struct nd_store *st, bool drafts, json_t **out);

    enum nd_err (*comment_post)(struct nd_store *st, const struct nd_comment_fields *f,
                                unsigned flags, json_t **out);
    enum nd_err (*comment_get)(struct nd_store *st, int64_t id, json_t **out);
    enum nd_err (*comment_delete)(struct nd_store *st, int64_t id);
    enum nd_err (*comment_set_status)(struct nd_store *st, int64_t id, bool pending, json_t **out);
    enum nd_err (*comment_list_filtered)(struct nd_store *st, int64_t article_id,
                                         enum nd_comment_filter which, bool tree, unsigned limit,
                                         const char *cursor, struct nd_buf *text, json_t **items,
                                         char **next_cursor);
    enum nd_err (*comment_import)(struct nd_store *st, const struct nd_comment_import *c,
                                  int64_t *id);
    enum nd_err (*comment_find_import)(struct nd_store *st, const char *import_key, int64_t *id);

    enum nd_err (*changes_bounds)(struct nd_store *st, int64_t *pruned_through, int64_t *last);
    enum nd_err (*changes_read)(struct nd_store *st, int64_t since, bool all, unsigned limit,
                                nd_change_fn fn, void *ctx, struct nd_change_page *page);
    enum nd_err (*changes_prune)(struct nd_store *st, int64_t before, unsigned long *removed);

    enum nd_err (*search)(struct nd_store *st, const struct nd_search_params *p, json_t **items,
                          char **next_cursor);

    enum nd_err (*key_insert)(struct nd_store *st, const char *name, const char *key_id,
                              const unsigned char *hash, size_t hash_len);
    enum nd_err (*key_lookup)(struct nd_store *st, const char *key_id, unsigned char *hash,
                              size_t hash_len);
    enum nd_err (*key_list)(struct nd_store *st, json_t **out);
    enum nd_err (*key_delete)(struct nd_store *st, const char *name);

    enum nd_err (*export_records)(struct nd_store *st, nd_store_export_fn emit, void *ctx,
                                  struct nd_export_stats *stats);
    enum nd_err (*article_restore)(struct nd_store *st, const struct nd_article_record *rec,
                                   const char **taken);
    enum nd_err (*comment_restore)(struct nd_store *st, const struct nd_comment_record *rec,
                                   const char **taken);

    /* ---- optional (NULL: ND_ERR_UNSUPPORTED) ---- */
    enum nd_err (*size)(struct nd_store *st, int64_t *bytes);
    enum nd_err (*position)(struct nd_store *st, enum nd_position which, uint64_t *out);
    enum nd_err (*rate_take)(struct nd_store *st, const char *bucket, unsigned per_minute,
                             unsigned burst, bool *allowed, double *tokens);
};

/*
 * The head of every backend's connection struct (its first member, so a
 * pointer to the one is a pointer to the other).
 */
struct nd_store {
    const struct nd_store_ops *ops;
    unsigned migrations_applied; /* set by the backend's open */
};

/* SQLite (store.c): opens the file database at path. */
enum nd_err nd_sqlite_open(const char *path, const struct nd_store_options *opts,
                           struct nd_store **out);

/* nd_store_backup of a SQLite file (store_backup.c). */
enum nd_err nd_sqlite_backup(const char *db_path, const char *dest_path,
                             const struct nd_backup_options *opts, unsigned *pages, char *why,
                             size_t whylen);

#endif
