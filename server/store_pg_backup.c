/*
 * store_pg_backup.c: the export and the restore of articles in PostgreSQL,
 * record for record the SQLite backend's (store_backup.c): the same header,
 * the same members in the same order, read in one snapshot, so an export
 * of either backend imports into the other and exports again the same
 * bytes. A copy of the whole database is PostgreSQL's own tools' work
 * (pg_dump, pg_basebackup): nd_store_backup says so (store_ops.c).
 */
#include <stdlib.h>

#include "newsd/log.h"
#include "store_pg.h"

enum {
    S_ARTICLE_TAKEN = PG_SLOT_BACKUP,
    S_RESTORE_ARTICLE,
    S_RESTORE_TAG,
    S_ARTICLE_ID,
    S_EXPORT_ARTICLES,
    S_EXPORT_COMMENTS,
    S_END
};
_Static_assert((int)S_END <= (int)PG_SLOT_SEARCH, "backup statements overflow their slots");

/* An export under way: where records go and how many went. */
struct export_run {
    const struct nd_shape *shape;
    nd_store_export_fn emit;
    void *ctx;
    unsigned long *count;
};

static enum nd_err emit_row(const struct nd_row *row, void *ctx)
{
    const struct export_run *run = ctx;
    json_t *rec = NULL;
    enum nd_err err = nd_row_map_shape(row, run->shape, &rec);
    if (err == ND_OK)
        err = run->emit(run->ctx, rec);
    if (err == ND_OK)
        (*run->count)++;
    json_decref(rec);
    return err;
}

/*
 * Reads a table in chunks of CHUNK rows by id (keyset), so that the export
 * of a large site never holds more than one chunk in memory, all inside
 * the caller's snapshot.
 */
#define CHUNK 1000

struct chunk_run {
    struct export_run run;
    int64_t last_id;
    unsigned rows;
};

static enum nd_err emit_chunk_row(const struct nd_row *row, void *ctx)
{
    struct chunk_run *c = ctx;
    c->last_id = nd_row_int(row, 0);
    c->rows++;
    return emit_row(row, &c->run);
}

static enum nd_err export_table(struct nd_pg *st, int slot, const char *sql,
                                const struct nd_shape *shape, nd_store_export_fn emit, void *ctx,
                                unsigned long *count)
{
    struct chunk_run c = {{shape, emit, ctx, count}, 0, CHUNK};
    enum nd_err err = ND_OK;
    while (err == ND_OK && c.rows == CHUNK) {
        c.rows = 0;
        err = nd_pg_each(st, &st->stmts[slot], sql,
                         ND_PARAMS(ND_INT(":after", c.last_id), ND_INT(":limit", CHUNK)),
                         emit_chunk_row, &c, "export");
    }
    return err;
}

enum nd_err nd_pg_export(struct nd_store *store, nd_store_export_fn emit, void *ctx,
                         struct nd_export_stats *stats)
{
    struct nd_pg *st = nd_pg_of(store);
    struct nd_export_stats counted = {0, 0};
    enum nd_err err = ND_ERR_INVALID;
    if (!emit)
        goto out;
    err = nd_pg_begin_read(st);
    if (err != ND_OK)
        goto out;
    err = nd_export_header(emit, ctx);
    if (err == ND_OK)
        err = export_table(st, S_EXPORT_ARTICLES,
                           "SELECT " ND_EXPORT_ARTICLE_COLUMNS " FROM articles WHERE id > :after "
                           "ORDER BY id LIMIT :limit",
                           &nd_export_article_shape, emit, ctx, &counted.articles);
    if (err == ND_OK)
        err = export_table(st, S_EXPORT_COMMENTS,
                           "SELECT " ND_COMMENT_EXPORT_COLUMNS " FROM comments WHERE id > :after "
                           "ORDER BY id LIMIT :limit",
                           &nd_export_comment_shape, emit, ctx, &counted.comments);
    if (err == ND_OK)
        err = nd_pg_commit(st);
    else
        nd_pg_rollback(st);
out:
    if (stats)
        *stats = counted;
    return err;
}

/* ---- restore ------------------------------------------------------------ */

/* The first of the three taken flags that is set, named into *ctx. */
static enum nd_err read_taken(const struct nd_row *row, void *ctx)
{
    static const char *const fields[] = {"id", "slug", "import_key"};
    const char **taken = ctx;
    for (int i = 2; i >= 0; i--)
        if (nd_row_int(row, i) != 0)
            *taken = fields[i];
    return ND_OK;
}

static enum nd_err insert_article_record(struct nd_pg *st, const struct nd_article_record *rec,
                                         const char *tags)
{
    const struct nd_article_fields *f = &rec->f;
    const char *status = f->draft ? "draft" : "published";
    enum nd_err err = nd_pg_exec(
        st, S_RESTORE_ARTICLE,
        "INSERT INTO articles (id, slug, title, summary, body, author, category, tags, source_url, "
        "status, published_at, created_at, updated_at, import_key) OVERRIDING SYSTEM VALUE "
        "VALUES (:id, :slug, :title, :summary, :body, :author, :category, :tags, :source_url, "
        ":status, :published_at, :created_at, :updated_at, :import_key)",
        ND_PARAMS(ND_INT(":id", rec->id), ND_TEXT(":slug", f->slug), ND_TEXT(":title", f->title),
                  ND_TEXT(":summary", f->summary), ND_TEXT(":body", f->body),
                  ND_TEXT(":author", f->author), ND_TEXT(":category", f->category),
                  ND_TEXT(":tags", tags), ND_TEXT(":source_url", f->source_url),
                  ND_TEXT(":import_key", f->import_key), ND_TEXT(":status", status),
                  ND_INT(":published_at", f->published_at), ND_INT(":created_at", rec->created_at),
                  ND_INT(":updated_at", rec->updated_at)),
        false, "article restore");
    /* later articles never get this id (SQLite's AUTOINCREMENT does the same) */
    if (err == ND_OK)
        err = nd_pg_row_one(st, S_ARTICLE_ID,
                            "SELECT setval(pg_get_serial_sequence('articles', 'id'), "
                            "greatest(:id, (SELECT last_value FROM articles_id_seq)))",
                            ND_PARAMS(ND_INT(":id", rec->id)), NULL, NULL, "article restore");
    for (size_t i = 0; i < f->ntags && err == ND_OK; i++)
        err = nd_pg_exec(st, S_RESTORE_TAG,
                         "INSERT INTO article_tags (tag, article_id, tagged_at, tagged_status, "
                         "tagged_category) VALUES (:tag, :id, :tagged_at, :tagged_status, "
                         ":tagged_category) ON CONFLICT DO NOTHING",
                         ND_PARAMS(ND_TEXT(":tag", f->tags[i]), ND_INT(":id", rec->id),
                                   ND_INT(":tagged_at", f->published_at),
                                   ND_TEXT(":tagged_status", status),
                                   ND_TEXT(":tagged_category", f->category)),
                         false, "tag restore");
    return err;
}

enum nd_err nd_pg_article_restore(struct nd_store *store, const struct nd_article_record *rec,
                                  const char **taken)
{
    struct nd_pg *st = nd_pg_of(store);
    const struct nd_article_fields *f = rec ? &rec->f : NULL;
    const char *clash = NULL;
    char *tags = NULL;
    if (!f || rec->id < 1 || !f->slug || !f->title || !f->summary || !f->body || !f->author ||
        !f->category || (f->ntags > 0 && !f->tags))
        return ND_ERR_INVALID;
    enum nd_err err = nd_tags_text(f, &tags);
    if (err != ND_OK)
        return err;
    err = nd_pg_begin(st);
    if (err == ND_OK) {
        err = nd_pg_row_one(st, S_ARTICLE_TAKEN,
                            "SELECT EXISTS (SELECT 1 FROM articles WHERE id = :id), "
                            "EXISTS (SELECT 1 FROM articles WHERE slug = :slug), "
                            "EXISTS (SELECT 1 FROM articles WHERE import_key = :import_key)",
                            ND_PARAMS(ND_INT(":id", rec->id), ND_TEXT(":slug", f->slug),
                                      ND_TEXT(":import_key", f->import_key)),
                            read_taken, &clash, "article restore");
        if (err == ND_OK && clash)
            err = ND_ERR_CONFLICT;
        if (err == ND_OK)
            err = insert_article_record(st, rec, tags);
        err = nd_pg_finish(st, err);
    }
    if (err == ND_ERR_CONFLICT && taken)
        *taken = clash ? clash : "slug";
    free(tags);
    return err;
}
