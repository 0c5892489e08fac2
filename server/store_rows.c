/*
 * store_rows.c: rows of any backend made into the contract's JSON, the
 * resources' shapes, keyset cursors, slug suffixing, the tags' stored text
 * and the export's header (store_rows.h). Nothing here knows which
 * database read the row.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/cursor.h"
#include "newsd/json.h"
#include "newsd/log.h"
#include "newsd/text.h"
#include "newsd/util.h"
#include "store_rows.h"

/* ---- rows as JSON ------------------------------------------------------- */

/* Sets key to value (stolen, may be NULL after a failed allocation). */
static enum nd_err set_value(json_t *obj, const char *key, json_t *value)
{
    return json_object_set_new(obj, key, value) == 0 ? ND_OK : ND_ERR_NOMEM;
}

/*
 * Where the members of a shaped row go: into a new object (obj), or as JSON
 * text straight into out, the very bytes nd_json_render would write for
 * that object. One reading of the row serves both.
 */
struct sink {
    json_t *obj;
    struct nd_buf *out; /* when obj is NULL */
    bool first;         /* no member written to out yet */
};

/* Starts member key: its key and colon in out (nothing for an object). */
static void sink_key(struct sink *s, const char *key)
{
    if (s->obj)
        return;
    nd_buf_append(s->out, s->first ? "" : ",", s->first ? 0 : 1);
    s->first = false;
    nd_json_render_string(s->out, key, strlen(key));
    nd_buf_append(s->out, ":", 1);
}

/* Member key holding value (stolen): set, or rendered and released. */
static enum nd_err sink_value(struct sink *s, const char *key, json_t *value)
{
    if (s->obj)
        return set_value(s->obj, key, value);
    sink_key(s, key);
    bool ok = value != NULL && nd_json_render(value, s->out);
    json_decref(value);
    return ok ? ND_OK : ND_ERR_NOMEM;
}

static enum nd_err sink_int(struct sink *s, const char *key, int64_t v)
{
    if (s->obj)
        return set_value(s->obj, key, json_integer(v));
    sink_key(s, key);
    nd_json_render_integer(s->out, v);
    return s->out->err;
}

static enum nd_err sink_null(struct sink *s, const char *key)
{
    if (s->obj)
        return set_value(s->obj, key, json_null());
    sink_key(s, key);
    return nd_buf_append(s->out, "null", 4);
}

/* Text known to be UTF-8. */
static enum nd_err sink_string(struct sink *s, const char *key, const char *text, size_t len)
{
    if (s->obj)
        return set_value(s->obj, key, json_stringn(text, len));
    sink_key(s, key);
    nd_json_render_string(s->out, text, len);
    return s->out->err;
}

/* The text of column col, refused (ND_ERR_DB, logged) when it is not UTF-8. */
static enum nd_err sink_text(struct sink *s, const char *key, const struct nd_row *row, int col)
{
    size_t len = 0;
    const char *text = nd_row_text(row, col, &len);
    if (!nd_json_utf8_valid(text, len)) {
        nd_log(ND_LOG_ERROR, "store: column %s holds text that is not UTF-8", key);
        return ND_ERR_DB;
    }
    if (s->obj)
        return set_value(s->obj, key, json_stringn_nocheck(text, len));
    return sink_string(s, key, text, len);
}

enum nd_err nd_row_json_text(json_t *obj, const char *key, const struct nd_row *row, int col)
{
    struct sink s = {.obj = obj};
    return sink_text(&s, key, row, col);
}

/* Adds the stored JSON array text of column col as the array key. */
static enum nd_err sink_tags(struct sink *s, const char *key, const struct nd_row *row, int col)
{
    json_error_t jerr;
    bool nomem = false;
    size_t len = 0;
    const char *text = nd_row_is_null(row, col) ? NULL : nd_row_text(row, col, &len);
    json_t *tags = text ? nd_json_loadb(text, len, 0, &jerr, &nomem) : NULL;
    if (nomem)
        return ND_ERR_NOMEM;
    if (!json_is_array(tags)) {
        json_decref(tags);
        nd_log(ND_LOG_ERROR, "store: article %lld has malformed tags",
               (long long)nd_row_int(row, 0));
        return ND_ERR_DB;
    }
    return sink_value(s, key, tags);
}

static enum nd_err sink_column(struct sink *s, const struct nd_col *c, const struct nd_row *row)
{
    char buf[ND_TIME_BUF];
    switch (c->kind) {
    case ND_COL_INT_OR_NULL:
        if (nd_row_is_null(row, c->col))
            return sink_null(s, c->key);
        return sink_int(s, c->key, nd_row_int(row, c->col));
    case ND_COL_INT:
        return sink_int(s, c->key, nd_row_int(row, c->col));
    case ND_COL_TEXT_OR_NULL:
        if (nd_row_is_null(row, c->col))
            return sink_null(s, c->key);
        return sink_text(s, c->key, row, c->col);
    case ND_COL_TEXT_OR_ABSENT:
        if (nd_row_is_null(row, c->col))
            return ND_OK;
        return sink_text(s, c->key, row, c->col);
    case ND_COL_TEXT:
        return sink_text(s, c->key, row, c->col);
    case ND_COL_TIME:
        nd_time_format(nd_row_int(row, c->col), buf);
        return sink_string(s, c->key, buf, strlen(buf));
    case ND_COL_TAGS:
        return sink_tags(s, c->key, row, c->col);
    }
    return ND_ERR_DB;
}

/* The members of shape from row into s. */
static enum nd_err sink_shape(struct sink *s, const struct nd_shape *shape,
                              const struct nd_row *row)
{
    enum nd_err err = ND_OK;
    if (shape->type)
        err = sink_string(s, "type", shape->type, strlen(shape->type));
    for (size_t i = 0; i < shape->ncols && err == ND_OK; i++)
        err = sink_column(s, &shape->cols[i], row);
    return err;
}

enum nd_err nd_row_map_shape(const struct nd_row *row, const void *how, json_t **out)
{
    struct sink s = {.obj = json_object()};
    enum nd_err err = s.obj ? sink_shape(&s, how, row) : ND_ERR_NOMEM;
    if (err != ND_OK) {
        json_decref(s.obj);
        return err;
    }
    *out = s.obj;
    return ND_OK;
}

enum nd_err nd_row_render_shape(const struct nd_row *row, const struct nd_shape *shape,
                                struct nd_buf *out)
{
    struct sink s = {.out = out, .first = true};
    nd_buf_append(out, "{", 1);
    enum nd_err err = sink_shape(&s, shape, row);
    if (err == ND_OK)
        err = nd_buf_append(out, "}", 1);
    return err;
}

/* ---- the resources' shapes ---------------------------------------------- */

static const struct nd_col article_cols[] = {
    {"id", ND_ACOL_ID, ND_COL_INT},
    {"slug", ND_ACOL_SLUG, ND_COL_TEXT},
    {"title", ND_ACOL_TITLE, ND_COL_TEXT},
    {"summary", ND_ACOL_SUMMARY, ND_COL_TEXT},
    {"body", ND_ACOL_BODY, ND_COL_TEXT_OR_ABSENT},
    {"author", ND_ACOL_AUTHOR, ND_COL_TEXT},
    {"category", ND_ACOL_CATEGORY, ND_COL_TEXT},
    {"tags", ND_ACOL_TAGS, ND_COL_TAGS},
    {"source_url", ND_ACOL_SOURCE_URL, ND_COL_TEXT_OR_NULL},
    {"status", ND_ACOL_STATUS, ND_COL_TEXT},
    {"published_at", ND_ACOL_PUBLISHED_AT, ND_COL_TIME},
    {"created_at", ND_ACOL_CREATED_AT, ND_COL_TIME},
    {"updated_at", ND_ACOL_UPDATED_AT, ND_COL_TIME},
    {"comment_count", ND_ACOL_COMMENT_COUNT, ND_COL_INT},
};
const struct nd_shape nd_article_shape = ND_SHAPE(NULL, article_cols);

static const struct nd_col comment_cols[] = {
    {"id", ND_CCOL_ID, ND_COL_INT},
    {"article_id", ND_CCOL_ARTICLE_ID, ND_COL_INT},
    {"parent_id", ND_CCOL_PARENT_ID, ND_COL_INT_OR_NULL},
    {"author", ND_CCOL_AUTHOR, ND_COL_TEXT},
    {"body", ND_CCOL_BODY, ND_COL_TEXT},
    {"status", ND_CCOL_STATUS, ND_COL_TEXT},
    {"created_at", ND_CCOL_CREATED_AT, ND_COL_TIME},
    {"import_key", ND_CCOL_IMPORT_KEY, ND_COL_TEXT_OR_NULL},
};
const struct nd_shape nd_comment_shape = {NULL, comment_cols, ND_COMMENT_MEMBERS};
const struct nd_shape nd_export_comment_shape = ND_SHAPE("comment", comment_cols);

static const struct nd_col name_count_cols[] = {
    {"name", 0, ND_COL_TEXT},
    {"count", 1, ND_COL_INT},
};
const struct nd_shape nd_name_count_shape = ND_SHAPE(NULL, name_count_cols);

static const struct nd_col key_cols[] = {
    {"name", 0, ND_COL_TEXT},
    {"key_id", 1, ND_COL_TEXT},
    {"created_at", 2, ND_COL_TIME},
};
const struct nd_shape nd_key_shape = ND_SHAPE(NULL, key_cols);

/* The members of a change (store.h), by what it changed. */
static const struct nd_col article_change_cols[] = {
    {"id", ND_XCOL_ID, ND_COL_INT},          {"kind", ND_XCOL_KIND, ND_COL_TEXT},
    {"at", ND_XCOL_AT, ND_COL_TIME},         {"article_id", ND_XCOL_ARTICLE_ID, ND_COL_INT},
    {"status", ND_XCOL_STATUS, ND_COL_TEXT}, {"slug", ND_XCOL_SLUG, ND_COL_TEXT},
    {"title", ND_XCOL_TITLE, ND_COL_TEXT},   {"published_at", ND_XCOL_PUBLISHED_AT, ND_COL_TIME},
};
static const struct nd_col comment_change_cols[] = {
    {"id", ND_XCOL_ID, ND_COL_INT},
    {"kind", ND_XCOL_KIND, ND_COL_TEXT},
    {"at", ND_XCOL_AT, ND_COL_TIME},
    {"article_id", ND_XCOL_ARTICLE_ID, ND_COL_INT},
    {"comment_id", ND_XCOL_COMMENT_ID, ND_COL_INT},
    {"status", ND_XCOL_STATUS, ND_COL_TEXT},
};
static const struct nd_shape article_change = ND_SHAPE(NULL, article_change_cols);
static const struct nd_shape comment_change = ND_SHAPE(NULL, comment_change_cols);

enum nd_err nd_row_change(const struct nd_row *row, json_t **out)
{
    bool article = nd_row_is_null(row, ND_XCOL_COMMENT_ID);
    return nd_row_map_shape(row, article ? &article_change : &comment_change, out);
}

/* ---- the export --------------------------------------------------------- */

/* Every stored field of an article; column i of the query is member i. */
static const struct nd_col export_article_cols[] = {
    {"id", 0, ND_COL_INT},
    {"slug", 1, ND_COL_TEXT},
    {"title", 2, ND_COL_TEXT},
    {"summary", 3, ND_COL_TEXT},
    {"body", 4, ND_COL_TEXT},
    {"author", 5, ND_COL_TEXT},
    {"category", 6, ND_COL_TEXT},
    {"tags", 7, ND_COL_TAGS},
    {"source_url", 8, ND_COL_TEXT_OR_NULL},
    {"status", 9, ND_COL_TEXT},
    {"published_at", 10, ND_COL_TIME},
    {"created_at", 11, ND_COL_TIME},
    {"updated_at", 12, ND_COL_TIME},
    {"import_key", 13, ND_COL_TEXT_OR_NULL},
};
const struct nd_shape nd_export_article_shape = ND_SHAPE("article", export_article_cols);

enum nd_err nd_export_header(nd_store_export_fn emit, void *ctx)
{
    json_t *header = json_object();
    enum nd_err err = ND_ERR_NOMEM;
    if (header && json_object_set_new(header, "type", json_string(ND_EXPORT_TYPE)) == 0 &&
        json_object_set_new(header, "version", json_integer(ND_EXPORT_VERSION)) == 0)
        err = emit(ctx, header);
    json_decref(header);
    return err;
}

enum nd_err nd_row_render_article(const struct nd_row *row, void *ctx)
{
    struct nd_article_text *t = ctx;
    size_t len = 0;
    t->id = nd_row_int(row, ND_ACOL_ID);
    t->draft = strcmp(nd_row_text(row, ND_ACOL_STATUS, &len), "draft") == 0;
    return nd_row_render_shape(row, &nd_article_shape, t->out);
}

/* ---- keyset pages ------------------------------------------------------- */

enum nd_err nd_page_add_row(const struct nd_page *page, const struct nd_row *row, unsigned n,
                            json_t *items)
{
    if (page->text) {
        if (n > 0)
            nd_buf_append(page->text, ",", 1);
        return nd_row_render_shape(row, page->how, page->text);
    }
    json_t *item = NULL;
    enum nd_err err = page->map(row, page->how, &item);
    if (err == ND_OK && json_array_append_new(items, item) != 0)
        err = ND_ERR_NOMEM;
    return err;
}

double nd_page_key_double(int64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* A NaN is no position (every comparison with it is false), so such a cursor is refused. */
enum nd_err nd_page_start(const struct nd_page *page, const char *cursor,
                          int64_t keys[ND_PAGE_KEYS_MAX])
{
    enum nd_err err = ND_OK;
    for (unsigned i = 0; i < ND_PAGE_KEYS_MAX; i++)
        keys[i] = 0;
    if (!cursor)
        return ND_OK;
    if (page->nkeys == 3)
        err = nd_cursor_decode3(cursor, page->kind, &keys[0], &keys[1], &keys[2]);
    else
        err = nd_cursor_decode(cursor, page->kind, &keys[0], &keys[1]);
    for (unsigned i = 0; i < page->nkeys && err == ND_OK; i++)
        if ((page->keys[i].kind == ND_KEY_FIXED && keys[i] != page->keys[i].value) ||
            (page->keys[i].kind == ND_KEY_REAL && isnan(nd_page_key_double(keys[i]))))
            err = ND_ERR_INVALID;
    return err == ND_OK ? ND_OK : ND_ERR_INVALID;
}

void nd_page_row_keys(const struct nd_page *page, const struct nd_row *row,
                      int64_t keys[ND_PAGE_KEYS_MAX])
{
    for (unsigned i = 0; i < page->nkeys; i++) {
        const struct nd_page_key *k = &page->keys[i];
        double real;
        switch (k->kind) {
        case ND_KEY_INT:
            keys[i] = nd_row_int(row, k->col);
            break;
        case ND_KEY_REAL:
            real = nd_row_real(row, k->col);
            memcpy(&keys[i], &real, sizeof keys[i]);
            break;
        case ND_KEY_FIXED:
            keys[i] = k->value;
            break;
        }
    }
}

char *nd_page_cursor(const struct nd_page *page, const int64_t keys[ND_PAGE_KEYS_MAX])
{
    if (page->nkeys == 3)
        return nd_cursor_encode3(page->kind, keys[0], keys[1], keys[2]);
    return nd_cursor_encode(page->kind, keys[0], keys[1]);
}

/*
 * Oldest first: the cursor holds the last comment's id and, so that it
 * cannot be used on a list of another status, the list's filter (kind 'c').
 */
struct nd_page nd_comment_page(enum nd_comment_filter which, unsigned limit)
{
    struct nd_page page = {'c',
                           2,
                           {{ND_KEY_INT, ND_CCOL_ID, 0}, {ND_KEY_FIXED, 0, (int64_t)which}},
                           limit,
                           nd_row_map_shape,
                           &nd_comment_shape,
                           NULL};
    return page;
}

/* ---- search results ----------------------------------------------------- */

static const struct nd_col article_hit_cols[] = {
    {"id", 0, ND_COL_INT},
    {"slug", 1, ND_COL_TEXT},
    {"title", 2, ND_COL_TEXT},
    {"published_at", 3, ND_COL_TIME},
};
static const struct nd_col comment_hit_cols[] = {
    {"id", 0, ND_COL_INT},
    {"article_id", 1, ND_COL_INT},
    {"created_at", 2, ND_COL_TIME},
};

/* How a ranked row of one kind becomes a result item. */
struct hit_shape {
    struct nd_shape shape;
    int score_col;
};

static const struct hit_shape article_hit = {ND_SHAPE(NULL, article_hit_cols), 4};
static const struct hit_shape comment_hit = {ND_SHAPE(NULL, comment_hit_cols), 3};

/* An nd_row_map_fn (how: a struct hit_shape): the ranked row as an item without its snippet. */
static enum nd_err map_hit(const struct nd_row *row, const void *how, json_t **out)
{
    const struct hit_shape *hit = how;
    json_t *item = NULL;
    enum nd_err err = nd_row_map_shape(row, &hit->shape, &item);
    /* the rank column is negated so that better sorts first; clients get it positive */
    double score = -nd_row_real(row, hit->score_col);
    if (err == ND_OK && json_object_set_new(item, "score", json_real(score)) != 0)
        err = ND_ERR_NOMEM;
    if (err != ND_OK) {
        json_decref(item);
        return err;
    }
    *out = item;
    return ND_OK;
}

json_t *nd_items_find(json_t *items, int64_t id)
{
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        if (json_integer_value(json_object_get(item, "id")) == id)
            return item;
    }
    return NULL;
}

struct nd_page nd_search_page(bool comments, bool newest, unsigned limit)
{
    /* ranked: best score, then the newest; newest: a fixed 0 where the score was */
    static const struct nd_page pages[2][2] = {
        {{'s',
          3,
          {{ND_KEY_REAL, 4, 0}, {ND_KEY_INT, 3, 0}, {ND_KEY_INT, 0, 0}},
          0,
          map_hit,
          &article_hit,
          NULL},
         {'n',
          3,
          {{ND_KEY_FIXED, 0, 0}, {ND_KEY_INT, 3, 0}, {ND_KEY_INT, 0, 0}},
          0,
          map_hit,
          &article_hit,
          NULL}},
        {{'t',
          3,
          {{ND_KEY_REAL, 3, 0}, {ND_KEY_INT, 2, 0}, {ND_KEY_INT, 0, 0}},
          0,
          map_hit,
          &comment_hit,
          NULL},
         {'k',
          3,
          {{ND_KEY_FIXED, 0, 0}, {ND_KEY_INT, 2, 0}, {ND_KEY_INT, 0, 0}},
          0,
          map_hit,
          &comment_hit,
          NULL}},
    };
    struct nd_page page = pages[comments][newest];
    page.limit = limit;
    return page;
}

/* ---- slugs and tags ----------------------------------------------------- */

/*
 * Writes base plus "-n" into buf, keeping the result within ND_SLUG_MAX
 * bytes: a base too long for the suffix is cut back to its last hyphen that
 * fits (or hard at the limit when a single word is that long), so the result
 * is still a valid slug.
 */
static void suffixed_slug(const char *base, unsigned n, char buf[ND_SLUG_BUF])
{
    char suffix[16];
    int slen = snprintf(suffix, sizeof suffix, "-%u", n);
    size_t keep = strnlen(base, ND_SLUG_MAX);
    size_t room = ND_SLUG_MAX - (size_t)slen;
    if (keep > room) {
        keep = room;
        size_t cut = keep;
        while (cut > 0 && base[cut] != '-')
            cut--;
        if (cut > 0)
            keep = cut;
    }
    while (keep > 0 && base[keep - 1] == '-')
        keep--;
    memcpy(buf, base, keep);
    memcpy(buf + keep, suffix, (size_t)slen + 1);
}

enum nd_err nd_slug_choose(const struct nd_article_fields *f, int64_t self, char buf[ND_SLUG_BUF],
                           const char **slug, nd_slug_taken_fn taken_fn, void *ctx)
{
    bool taken = false;
    enum nd_err err = taken_fn(ctx, f->slug, self, &taken);
    if (err != ND_OK || !taken) {
        *slug = f->slug;
        return err;
    }
    if (!f->slug_derived)
        return ND_ERR_CONFLICT;
    for (unsigned n = 2; n <= ND_SLUG_TRIES; n++) {
        suffixed_slug(f->slug, n, buf);
        err = taken_fn(ctx, buf, self, &taken);
        if (err != ND_OK)
            return err;
        if (!taken) {
            *slug = buf;
            return ND_OK;
        }
    }
    return ND_ERR_CONFLICT;
}

enum nd_err nd_tags_text(const struct nd_article_fields *f, char **out)
{
    enum nd_err err = ND_OK;
    json_t *arr = json_array();
    if (!arr)
        return ND_ERR_NOMEM;
    for (size_t i = 0; i < f->ntags && err == ND_OK; i++) {
        if (!f->tags[i] || !nd_utf8_valid(f->tags[i], strlen(f->tags[i])))
            err = ND_ERR_INVALID;
        else if (json_array_append_new(arr, json_string(f->tags[i])) != 0)
            err = ND_ERR_NOMEM;
    }
    char *text = err == ND_OK ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (err == ND_OK && !text)
        err = ND_ERR_NOMEM;
    if (err == ND_OK)
        *out = text;
    return err;
}
