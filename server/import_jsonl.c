/*
 * import_jsonl.c: bulk import of articles and comments from JSON lines, for
 * loading a large corpus (the benchmark's 100,000 articles) in minutes
 * rather than hours.
 *
 * Every line goes through the same validation as a request body of the API
 * (validate.h), so nothing reaches the database that POST would refuse. Speed
 * comes from the store's batches: a few thousand rows share one transaction
 * and one WAL sync, while each row still runs in its own savepoint, so a
 * refused row undoes only itself.
 *
 * Two maps of this import (Jansson objects, used as hash tables) let
 * comments find their article and parent without a query: slug -> article
 * id, and article id (decimal text) -> array of the ids of its comments made
 * so far, in file order, which parent_index indexes.
 *
 * A file that begins with the header of an export (newsd export, store.h)
 * holds records instead, read by import_record.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import_internal.h"
#include "newsd/text.h"
#include "newsd/util.h"
#include "newsd/validate.h"

void nd_import_vrefuse(nd_import_refusal_fn refusal, void *ctx, unsigned long *count,
                       unsigned long line, const char *fmt, va_list ap)
{
    char why[WHY_MAX];
    vsnprintf(why, sizeof why, fmt, ap);
    (*count)++;
    if (refusal)
        refusal(ctx, line, why);
}

/* Counts a refused line and tells the caller why, in one sentence. */
void nd_import_refuse(struct importer *im, unsigned long line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nd_import_vrefuse(im->refusal, im->ctx, &im->done.lines_refused, line, fmt, ap);
    va_end(ap);
}

void nd_import_join_errors(const json_t *errors, char *why, size_t whylen)
{
    size_t used = 0, i;
    json_t *entry;
    why[0] = '\0';
    json_array_foreach(errors, i, entry)
    {
        const char *field = json_string_value(json_object_get(entry, "field"));
        const char *message = json_string_value(json_object_get(entry, "message"));
        int n = snprintf(why + used, whylen - used, "%s%s%s%s", i > 0 ? "; " : "",
                         field && *field ? field : "", field && *field ? ": " : "",
                         message ? message : "is invalid");
        if (n < 0 || (size_t)n >= whylen - used)
            break;
        used += (size_t)n;
    }
}

/* Refuses the line with every entry of im->errors: "field: message; ...". */
void nd_import_refuse_fields(struct importer *im, unsigned long line)
{
    char why[WHY_MAX];
    nd_import_join_errors(im->errors, why, sizeof why);
    nd_import_refuse(im, line, "%s", why);
}

/* Adds one {"field","message"} entry to im->errors. False when out of memory. */
bool nd_import_add_error(struct importer *im, const char *field, const char *message)
{
    json_t *entry = json_object();
    if (!entry || json_object_set_new(entry, "field", json_string(field)) != 0 ||
        json_object_set_new(entry, "message", json_string(message)) != 0) {
        json_decref(entry);
        return false;
    }
    return json_array_append_new(im->errors, entry) == 0;
}

/* Records an article of this import: its slug, and an empty comment list. */
enum nd_err nd_import_remember_article(struct importer *im, const char *slug, int64_t id)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    if (json_object_set_new(im->slugs, slug, json_integer(id)) != 0)
        return ND_ERR_NOMEM;
    if (json_object_get(im->comments, key))
        return ND_OK;
    return json_object_set_new(im->comments, key, json_array()) == 0 ? ND_OK : ND_ERR_NOMEM;
}

/* The slug of stored article id (found by its import key), into im->slugs. */
static enum nd_err remember_existing(struct importer *im, int64_t id)
{
    json_t *article = NULL;
    enum nd_err err = nd_store_article_get(im->store, id, &article);
    if (err == ND_OK)
        err =
            nd_import_remember_article(im, json_string_value(json_object_get(article, "slug")), id);
    json_decref(article);
    return err;
}

/*
 * Creates the article of obj (the line without "type", borrowed) unless its
 * title and body were imported before. Returns ND_OK also for a refused
 * line; another error stops the import.
 */
static enum nd_err import_article(struct importer *im, unsigned long line, const json_t *obj)
{
    struct nd_article_input in = {0};
    struct nd_article_fields f;
    char key[ND_IMPORT_KEY_LEN + 1];
    int64_t id = 0;
    json_t *created = NULL;
    enum nd_err err = nd_validate_article(obj, im->now, &in, im->errors);
    if (err == ND_ERR_INVALID) {
        nd_import_refuse_fields(im, line);
        return ND_OK;
    }
    if (err != ND_OK)
        return err;
    nd_import_key(in.title, in.body, key);
    err = nd_store_article_find_import(im->store, key, &id);
    if (err == ND_OK) {
        im->pending.articles_existing++;
        err = remember_existing(im, id);
        goto out;
    }
    if (err != ND_ERR_NOT_FOUND)
        goto out;
    nd_article_input_fields(&in, &f);
    f.import_key = key;
    err = nd_store_article_create(im->store, &f, &created);
    if (err == ND_ERR_CONFLICT) {
        nd_import_refuse(im, line, "slug: \"%s\" is taken", in.slug);
        err = ND_OK;
        goto out;
    }
    if (err != ND_OK)
        goto out;
    im->pending.articles_created++;
    err = nd_import_remember_article(im, json_string_value(json_object_get(created, "slug")),
                                     (int64_t)json_integer_value(json_object_get(created, "id")));
out:
    json_decref(created);
    nd_article_input_fini(&in);
    return err;
}

/* Where a comment goes: its article and, by parent_index, its parent. */
struct comment_target {
    const json_t *slug; /* article_slug member or NULL */
    const json_t *id;   /* article_id member or NULL */
    const json_t *parent_index;
    bool has_parent_id;
};

/*
 * Checks the members that only the import knows (article_slug, article_id,
 * parent_index), adding to im->errors. False when out of memory.
 */
static bool check_target(struct importer *im, const struct comment_target *t)
{
    bool ok = true;
    if (!t->slug && !t->id)
        ok = nd_import_add_error(im, "article_slug", "is required (or article_id)");
    else if (t->slug && t->id)
        ok = nd_import_add_error(im, "article_id", "cannot be given with article_slug");
    else if (t->slug && (!json_is_string(t->slug) || json_string_length(t->slug) == 0))
        ok = nd_import_add_error(im, "article_slug", "must be a non-empty string");
    else if (t->id && (!json_is_integer(t->id) || json_integer_value(t->id) < 1))
        ok = nd_import_add_error(im, "article_id", "must be a positive integer");
    if (!ok || !t->parent_index)
        return ok;
    if (!json_is_integer(t->parent_index) || json_integer_value(t->parent_index) < 0)
        return nd_import_add_error(im, "parent_index", "must be a non-negative integer");
    if (t->has_parent_id)
        return nd_import_add_error(im, "parent_index", "cannot be given with parent_id");
    return true;
}

/*
 * The id of the comment's article: from this import's map, else from the
 * store by slug (then remembered). ND_ERR_NOT_FOUND when there is none.
 */
static enum nd_err find_article(struct importer *im, const struct comment_target *t, int64_t *id)
{
    if (t->id) {
        *id = (int64_t)json_integer_value(t->id);
        return ND_OK;
    }
    const char *slug = json_string_value(t->slug);
    json_t *known = json_object_get(im->slugs, slug);
    if (known) {
        *id = (int64_t)json_integer_value(known);
        return ND_OK;
    }
    json_t *article = NULL;
    enum nd_err err = nd_store_article_get_by_slug(im->store, slug, &article);
    if (err == ND_OK) {
        *id = (int64_t)json_integer_value(json_object_get(article, "id"));
        err = nd_import_remember_article(im, slug, *id);
    }
    json_decref(article);
    return err;
}

/* The comment list of article id in this import, made when missing. */
static json_t *comment_list(struct importer *im, int64_t id)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    json_t *list = json_object_get(im->comments, key);
    if (list)
        return list;
    list = json_array();
    if (json_object_set_new(im->comments, key, list) != 0)
        return NULL;
    return list;
}

/* Stores a checked comment for its target. ND_OK also when refused. */
static enum nd_err store_comment(struct importer *im, unsigned long line,
                                 const struct comment_target *t, struct nd_comment_input *in)
{
    struct nd_comment_fields f;
    int64_t article_id = 0;
    json_t *created = NULL;
    enum nd_err err = find_article(im, t, &article_id);
    if (err == ND_ERR_NOT_FOUND) {
        nd_import_refuse(im, line, "%s: no such article", t->slug ? "article_slug" : "article_id");
        return ND_OK;
    }
    json_t *list = err == ND_OK ? comment_list(im, article_id) : NULL;
    if (err != ND_OK || !list)
        return err != ND_OK ? err : ND_ERR_NOMEM;
    if (t->parent_index) {
        size_t index = (size_t)json_integer_value(t->parent_index);
        if (index >= json_array_size(list)) {
            nd_import_refuse(im, line,
                             "parent_index: the article has no comment %zu earlier in the file",
                             index);
            return ND_OK;
        }
        in->has_parent = true;
        in->parent_id = (int64_t)json_integer_value(json_array_get(list, index));
    }
    nd_comment_input_fields(in, article_id, &f);
    err = nd_store_comment_create(im->store, &f, &created);
    if (err == ND_ERR_NOT_FOUND || err == ND_ERR_INVALID) {
        nd_import_refuse(im, line, "%s",
                         err == ND_ERR_NOT_FOUND ? "article_id: no such article"
                                                 : "parent_id: is not a comment of "
                                                   "the same article");
        return ND_OK;
    }
    if (err == ND_OK) {
        im->pending.comments_created++;
        json_int_t id = json_integer_value(json_object_get(created, "id"));
        if (json_array_append_new(list, json_integer(id)) != 0)
            err = ND_ERR_NOMEM;
    }
    json_decref(created);
    return err;
}

/* The comment of obj (the line without "type", owned by the caller, edited). */
static enum nd_err import_comment(struct importer *im, unsigned long line, json_t *obj)
{
    struct nd_comment_input in = {0};
    struct comment_target t = {
        .slug = json_incref(json_object_get(obj, "article_slug")),
        .id = json_incref(json_object_get(obj, "article_id")),
        .parent_index = json_incref(json_object_get(obj, "parent_index")),
        .has_parent_id = json_object_get(obj, "parent_id") != NULL,
    };
    enum nd_err err = check_target(im, &t) ? ND_OK : ND_ERR_NOMEM;
    json_object_del(obj, "article_slug");
    json_object_del(obj, "article_id");
    json_object_del(obj, "parent_index");
    if (err == ND_OK)
        err = nd_validate_comment(obj, &in, im->errors);
    if (err == ND_OK && json_array_size(im->errors) > 0)
        err = ND_ERR_INVALID;
    if (err == ND_ERR_INVALID) {
        nd_import_refuse_fields(im, line);
        err = ND_OK;
    } else if (err == ND_OK) {
        err = store_comment(im, line, &t, &in);
    }
    nd_comment_input_fini(&in);
    json_decref((json_t *)t.slug);
    json_decref((json_t *)t.id);
    json_decref((json_t *)t.parent_index);
    return err;
}

/*
 * The export header: on the first line it makes every later line a record;
 * again later in a file of records (exports joined end to end) it changes
 * nothing. Anywhere else, or of a version this newsd does not read, it is
 * refused and stops the import (ND_ERR_INVALID): the lines after it cannot
 * be read as meant.
 */
static enum nd_err import_header(struct importer *im, unsigned long line, const json_t *obj,
                                 bool first)
{
    const json_t *version = json_object_get(obj, "version");
    if (!first && !im->records) {
        nd_import_refuse(im, line, "type: an export header must be the first line of its file");
        return ND_ERR_INVALID;
    }
    if (!json_is_integer(version) || json_integer_value(version) != ND_EXPORT_VERSION ||
        json_object_size(obj) != 2) {
        nd_import_refuse(im, line,
                         "version: this newsd reads export version %d (with no other members)",
                         ND_EXPORT_VERSION);
        return ND_ERR_INVALID;
    }
    im->records = true;
    return ND_OK;
}

/* Imports one non-blank line. ND_OK also when the line was refused. */
static enum nd_err import_line(struct importer *im, unsigned long line, const char *text,
                               size_t len)
{
    json_error_t jerr;
    enum nd_err err = ND_OK;
    bool first = im->nonblank++ == 0;
    json_array_clear(im->errors);
    if (len > ND_IMPORT_JSONL_LINE_MAX) {
        nd_import_refuse(im, line, "longer than %d bytes", ND_IMPORT_JSONL_LINE_MAX);
        return ND_OK;
    }
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        nd_import_refuse(im, line, "not valid JSON: %s (column %d)", jerr.text, jerr.column);
        return ND_OK;
    }
    const char *type = json_string_value(json_object_get(obj, "type"));
    if (!json_is_object(obj)) {
        nd_import_refuse(im, line, "must be a JSON object");
    } else if (type && strcmp(type, ND_EXPORT_TYPE) == 0) {
        err = import_header(im, line, obj, first);
    } else if (!type || (strcmp(type, "article") != 0 && strcmp(type, "comment") != 0)) {
        nd_import_refuse(im, line, "type: must be \"article\" or \"comment\"");
    } else if (strcmp(type, "article") == 0) {
        json_object_del(obj, "type");
        err = im->records ? nd_import_article_record(im, line, obj) : import_article(im, line, obj);
    } else {
        json_object_del(obj, "type");
        err = im->records ? nd_import_comment_record(im, line, obj) : import_comment(im, line, obj);
    }
    json_decref(obj);
    return err;
}

static void add_stats(struct nd_import_jsonl_stats *to, const struct nd_import_jsonl_stats *from)
{
    to->articles_created += from->articles_created;
    to->articles_existing += from->articles_existing;
    to->comments_created += from->comments_created;
    to->lines_refused += from->lines_refused;
}

/* Ends the open batch, committing when ok; counts its rows once committed. */
static enum nd_err end_batch(struct importer *im, bool ok)
{
    enum nd_err err = nd_store_batch_end(im->store, ok);
    if (ok && err == ND_OK)
        add_stats(&im->done, &im->pending);
    memset(&im->pending, 0, sizeof im->pending);
    return ok ? err : ND_OK;
}

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* Walks the lines of text, batch_rows non-blank lines per transaction. */
static enum nd_err import_lines(struct importer *im, const char *text, size_t len,
                                unsigned batch_rows)
{
    enum nd_err err = ND_OK;
    unsigned in_batch = 0;
    unsigned long line = 0;
    size_t pos = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* a UTF-8 byte order mark */
    while (pos < len && err == ND_OK) {
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;
        pos += n + 1;
        line++;
        if (n > 0 && start[n - 1] == '\r')
            n--;
        if (blank(start, n))
            continue;
        if (in_batch == 0)
            err = nd_store_batch_begin(im->store);
        if (err != ND_OK)
            break;
        err = import_line(im, line, start, n);
        if (++in_batch == batch_rows || err != ND_OK) {
            enum nd_err end = end_batch(im, err == ND_OK);
            err = err == ND_OK ? end : err;
            in_batch = 0;
        }
    }
    if (in_batch > 0) {
        enum nd_err end = end_batch(im, err == ND_OK);
        err = err == ND_OK ? end : err;
    }
    return err;
}

/*
 * text is borrowed; *stats is written whatever the result, with what was
 * committed. Store errors were logged by the store.
 */
enum nd_err nd_import_jsonl(struct nd_store *store, const char *text, size_t len,
                            unsigned batch_rows, nd_import_refusal_fn refused, void *ctx,
                            struct nd_import_jsonl_stats *stats)
{
    struct importer im = {
        .store = store,
        .now = nd_time_now(),
        .slugs = json_object(),
        .comments = json_object(),
        .errors = json_array(),
        .refused = json_object(),
        .refusal = refused,
        .ctx = ctx,
    };
    enum nd_err err = ND_ERR_NOMEM;
    if (!store || (!text && len > 0))
        err = ND_ERR_INVALID;
    else if (im.slugs && im.comments && im.errors && im.refused && sodium_init() >= 0)
        err = import_lines(&im, text, len,
                           batch_rows > 0
                               ? batch_rows
                               : nd_store_batch_rows(store, ND_IMPORT_JSONL_BATCH_DEFAULT));
    json_decref(im.slugs);
    json_decref(im.comments);
    json_decref(im.errors);
    json_decref(im.refused);
    if (stats)
        *stats = im.done;
    return err;
}

/*
 * Maps the file read-only so that a file of gigabytes costs no heap; the
 * mapping is private and undone before returning.
 */
enum nd_err nd_import_jsonl_file(struct nd_store *store, const char *path, unsigned batch_rows,
                                 nd_import_refusal_fn refused, void *ctx,
                                 struct nd_import_jsonl_stats *stats, char *why, size_t whylen)
{
    enum nd_err rc = ND_ERR_IO;
    void *map = MAP_FAILED;
    struct stat st;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (fd < 0 || fstat(fd, &st) != 0) {
        nd_why(why, whylen, "cannot read: %s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        nd_why(why, whylen, "cannot read: not a regular file");
        goto out;
    }
    len = (size_t)st.st_size;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            nd_why(why, whylen, "cannot map: %s", strerror(errno));
            goto out;
        }
        madvise(map, len, MADV_SEQUENTIAL);
    }
    rc = nd_import_jsonl(store, len > 0 ? map : "", len, batch_rows, refused, ctx, stats);
    if (rc != ND_OK)
        nd_why(why, whylen, "stopped: %s", nd_err_str(rc));
out:
    if (map != MAP_FAILED)
        munmap(map, len);
    if (fd >= 0)
        close(fd);
    return rc;
}
