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
 * holds records instead: every stored field of an article or comment, ids
 * and times included, restored exactly as written (nd_store_*_restore).
 * Records are checked for what the store needs (types, slugs, statuses,
 * time stamps), not with the API's rules for new text: they restore what a
 * database held, which may be text the plain-text importer made (a long
 * category line) or an article the API took under other limits.
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

#include "newsd/import.h"
#include "newsd/store.h"
#include "newsd/text.h"
#include "newsd/util.h"
#include "newsd/validate.h"

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

static void refuse(struct importer *im, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Counts a refused line and tells the caller why, in one sentence. */
static void refuse(struct importer *im, unsigned long line, const char *fmt, ...)
{
    char why[WHY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    im->done.lines_refused++;
    if (im->refusal)
        im->refusal(im->ctx, line, why);
}

/* Refuses the line with every entry of im->errors: "field: message; ...". */
static void refuse_fields(struct importer *im, unsigned long line)
{
    char why[WHY_MAX] = "";
    size_t used = 0, i;
    json_t *entry;
    json_array_foreach(im->errors, i, entry)
    {
        const char *field = json_string_value(json_object_get(entry, "field"));
        const char *message = json_string_value(json_object_get(entry, "message"));
        int n = snprintf(why + used, sizeof why - used, "%s%s%s%s", i > 0 ? "; " : "",
                         field && *field ? field : "", field && *field ? ": " : "",
                         message ? message : "is invalid");
        if (n < 0 || (size_t)n >= sizeof why - used)
            break;
        used += (size_t)n;
    }
    refuse(im, line, "%s", why);
}

/* Adds one {"field","message"} entry to im->errors. False when out of memory. */
static bool add_error(struct importer *im, const char *field, const char *message)
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
static enum nd_err remember_article(struct importer *im, const char *slug, int64_t id)
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
        err = remember_article(im, json_string_value(json_object_get(article, "slug")), id);
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
        refuse_fields(im, line);
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
        refuse(im, line, "slug: \"%s\" is taken", in.slug);
        err = ND_OK;
        goto out;
    }
    if (err != ND_OK)
        goto out;
    im->pending.articles_created++;
    err = remember_article(im, json_string_value(json_object_get(created, "slug")),
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
        ok = add_error(im, "article_slug", "is required (or article_id)");
    else if (t->slug && t->id)
        ok = add_error(im, "article_id", "cannot be given with article_slug");
    else if (t->slug && (!json_is_string(t->slug) || json_string_length(t->slug) == 0))
        ok = add_error(im, "article_slug", "must be a non-empty string");
    else if (t->id && (!json_is_integer(t->id) || json_integer_value(t->id) < 1))
        ok = add_error(im, "article_id", "must be a positive integer");
    if (!ok || !t->parent_index)
        return ok;
    if (!json_is_integer(t->parent_index) || json_integer_value(t->parent_index) < 0)
        return add_error(im, "parent_index", "must be a non-negative integer");
    if (t->has_parent_id)
        return add_error(im, "parent_index", "cannot be given with parent_id");
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
        err = remember_article(im, slug, *id);
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
        refuse(im, line, "%s: no such article", t->slug ? "article_slug" : "article_id");
        return ND_OK;
    }
    json_t *list = err == ND_OK ? comment_list(im, article_id) : NULL;
    if (err != ND_OK || !list)
        return err != ND_OK ? err : ND_ERR_NOMEM;
    if (t->parent_index) {
        size_t index = (size_t)json_integer_value(t->parent_index);
        if (index >= json_array_size(list)) {
            refuse(im, line, "parent_index: the article has no comment %zu earlier in the file",
                   index);
            return ND_OK;
        }
        in->has_parent = true;
        in->parent_id = (int64_t)json_integer_value(json_array_get(list, index));
    }
    nd_comment_input_fields(in, article_id, &f);
    err = nd_store_comment_create(im->store, &f, &created);
    if (err == ND_ERR_NOT_FOUND || err == ND_ERR_INVALID) {
        refuse(im, line, "%s",
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
        refuse_fields(im, line);
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

/* ---- export records ---------------------------------------------------- */

/* What a member of a record must hold. */
enum member_kind {
    MEMBER_ID,         /* a positive integer */
    MEMBER_ID_OR_NULL, /* a positive integer or null */
    MEMBER_TEXT,       /* a string, "" allowed */
    MEMBER_NONEMPTY,   /* a string that is not "" */
    MEMBER_TEXT_OR_NULL /* a string or null */,
    MEMBER_SLUG,
    MEMBER_TIME,
    MEMBER_TAGS,
    MEMBER_ARTICLE_STATUS,
    MEMBER_COMMENT_STATUS,
    MEMBER_IMPORT_KEY, /* ND_IMPORT_KEY_LEN lower-case hex digits, or null */
};

struct member {
    const char *key;
    enum member_kind kind;
    bool optional; /* may be left out (then null) */
};

/* The members of the records, each ended by a NULL key. */
static const struct member article_members[] = {{"id", MEMBER_ID, false},
                                                {"slug", MEMBER_SLUG, false},
                                                {"title", MEMBER_NONEMPTY, false},
                                                {"summary", MEMBER_TEXT, false},
                                                {"body", MEMBER_NONEMPTY, false},
                                                {"author", MEMBER_TEXT, false},
                                                {"category", MEMBER_TEXT, false},
                                                {"tags", MEMBER_TAGS, false},
                                                {"source_url", MEMBER_TEXT_OR_NULL, false},
                                                {"status", MEMBER_ARTICLE_STATUS, false},
                                                {"published_at", MEMBER_TIME, false},
                                                {"created_at", MEMBER_TIME, false},
                                                {"updated_at", MEMBER_TIME, false},
                                                {"import_key", MEMBER_IMPORT_KEY, true},
                                                {NULL, MEMBER_ID, false}};

static const struct member comment_members[] = {{"id", MEMBER_ID, false},
                                                {"article_id", MEMBER_ID, false},
                                                {"parent_id", MEMBER_ID_OR_NULL, false},
                                                {"author", MEMBER_NONEMPTY, false},
                                                {"body", MEMBER_NONEMPTY, false},
                                                {"status", MEMBER_COMMENT_STATUS, false},
                                                {"created_at", MEMBER_TIME, false},
                                                {NULL, MEMBER_ID, false}};

static bool is_id(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 1;
}

static bool is_one_of(const json_t *v, const char *a, const char *b)
{
    const char *s = json_string_value(v);
    return s && (strcmp(s, a) == 0 || strcmp(s, b) == 0);
}

/* Tags: an array of distinct non-empty strings. */
_Static_assert(ND_TAGS_MAX == 20, "the message of MEMBER_TAGS names the limit");

static bool tags_fit(const json_t *v)
{
    size_t i, j;
    json_t *tag;
    /* every stored article got its tags through the API's rules: at most ND_TAGS_MAX */
    if (!json_is_array(v) || json_array_size(v) > ND_TAGS_MAX)
        return false;
    json_array_foreach(v, i, tag)
    {
        if (!json_is_string(tag) || json_string_length(tag) == 0)
            return false;
        for (j = 0; j < i; j++)
            if (strcmp(json_string_value(json_array_get(v, j)), json_string_value(tag)) == 0)
                return false;
    }
    return true;
}

static bool import_key_fits(const json_t *v)
{
    const char *s = json_string_value(v);
    if (json_is_null(v))
        return true;
    if (!s || strlen(s) != ND_IMPORT_KEY_LEN)
        return false;
    return strspn(s, "0123456789abcdef") == ND_IMPORT_KEY_LEN;
}

/* Whether v fits kind; *message says what it must be otherwise. */
static bool member_fits(const json_t *v, enum member_kind kind, const char **message)
{
    int64_t when;
    switch (kind) {
    case MEMBER_ID:
        *message = "must be a positive integer";
        return is_id(v);
    case MEMBER_ID_OR_NULL:
        *message = "must be a positive integer or null";
        return json_is_null(v) || is_id(v);
    case MEMBER_TEXT:
        *message = "must be a string";
        return json_is_string(v);
    case MEMBER_NONEMPTY:
        *message = "must be a non-empty string";
        return json_is_string(v) && json_string_length(v) > 0;
    case MEMBER_TEXT_OR_NULL:
        *message = "must be a string or null";
        return json_is_null(v) || json_is_string(v);
    case MEMBER_SLUG:
        *message = "must be lower-case letters and digits in words joined by hyphens";
        return json_is_string(v) && nd_slug_valid(json_string_value(v));
    case MEMBER_TIME:
        *message = "must be an RFC 3339 date-time such as 2025-07-12T09:30:00Z";
        return json_is_string(v) && nd_time_parse(json_string_value(v), &when);
    case MEMBER_TAGS:
        *message = "must be an array of at most 20 distinct non-empty strings";
        return tags_fit(v);
    case MEMBER_ARTICLE_STATUS:
        *message = "must be \"published\" or \"draft\"";
        return is_one_of(v, "published", "draft");
    case MEMBER_COMMENT_STATUS:
        *message = "must be \"visible\" or \"pending\"";
        return is_one_of(v, "visible", "pending");
    case MEMBER_IMPORT_KEY:
        *message = "must be 64 lower-case hex digits or null";
        return import_key_fits(v);
    }
    return false;
}

/*
 * Checks obj (a record without "type") against members, adding an entry to
 * im->errors for every member missing, unfit or unknown. False when out of
 * memory.
 */
static bool check_record(struct importer *im, const json_t *obj, const struct member *members)
{
    bool ok = true;
    const char *key, *message = NULL;
    json_t *value;
    for (const struct member *m = members; m->key && ok; m++) {
        value = json_object_get(obj, m->key);
        if (!value && !m->optional)
            ok = add_error(im, m->key, "is required in an export record");
        else if (value && !member_fits(value, m->kind, &message))
            ok = add_error(im, m->key, message);
    }
    json_object_foreach((json_t *)obj, key, value)
    {
        const struct member *m = members;
        while (m->key && strcmp(m->key, key) != 0)
            m++;
        if (!m->key && ok)
            ok = add_error(im, key, "is not allowed");
    }
    return ok;
}

static int64_t id_of(const json_t *obj, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(obj, key));
}

/* A time member that check_record found fit. */
static int64_t time_of(const json_t *obj, const char *key)
{
    int64_t when = 0;
    nd_time_parse(json_string_value(json_object_get(obj, key)), &when);
    return when;
}

/*
 * Remembers that the article record with id was refused, so that its
 * comments are refused too rather than given to another article with that
 * id. An article this import did restore (a repeated line) stays good.
 */
static enum nd_err remember_refused(struct importer *im, int64_t id)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    if (json_object_get(im->comments, key))
        return ND_OK;
    return json_object_set_new(im->refused, key, json_true()) == 0 ? ND_OK : ND_ERR_NOMEM;
}

static bool was_refused(struct importer *im, int64_t id)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    return json_object_get(im->refused, key) != NULL;
}

/*
 * Fills rec from obj, a record check_record found fit (borrowed: rec points
 * into it). *tags gets a malloc'd array of the tags for rec->f.tags.
 */
static enum nd_err article_record_of(const json_t *obj, struct nd_article_record *rec,
                                     const char ***tags)
{
    const json_t *list = json_object_get(obj, "tags");
    size_t n = json_array_size(list);
    *tags = calloc(n > 0 ? n : 1, sizeof **tags);
    if (!*tags)
        return ND_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        (*tags)[i] = json_string_value(json_array_get(list, i));
    rec->id = id_of(obj, "id");
    rec->f.slug = json_string_value(json_object_get(obj, "slug"));
    rec->f.title = json_string_value(json_object_get(obj, "title"));
    rec->f.summary = json_string_value(json_object_get(obj, "summary"));
    rec->f.body = json_string_value(json_object_get(obj, "body"));
    rec->f.author = json_string_value(json_object_get(obj, "author"));
    rec->f.category = json_string_value(json_object_get(obj, "category"));
    rec->f.tags = *tags;
    rec->f.ntags = n;
    rec->f.source_url = json_string_value(json_object_get(obj, "source_url"));
    rec->f.draft = strcmp(json_string_value(json_object_get(obj, "status")), "draft") == 0;
    rec->f.published_at = time_of(obj, "published_at");
    rec->f.import_key = json_string_value(json_object_get(obj, "import_key"));
    rec->created_at = time_of(obj, "created_at");
    rec->updated_at = time_of(obj, "updated_at");
    return ND_OK;
}

/* Restores the article record obj (without "type"). ND_OK also when refused. */
static enum nd_err import_article_record(struct importer *im, unsigned long line, const json_t *obj)
{
    struct nd_article_record rec = {0};
    const char **tags = NULL, *taken = NULL;
    const json_t *id = json_object_get(obj, "id");
    enum nd_err err = check_record(im, obj, article_members) ? ND_OK : ND_ERR_NOMEM;
    if (err == ND_OK && json_array_size(im->errors) > 0) {
        refuse_fields(im, line);
        return is_id(id) ? remember_refused(im, id_of(obj, "id")) : ND_OK;
    }
    if (err == ND_OK)
        err = article_record_of(obj, &rec, &tags);
    if (err == ND_OK)
        err = nd_store_article_restore(im->store, &rec, &taken);
    if (err == ND_ERR_CONFLICT) {
        if (strcmp(taken, "id") == 0)
            refuse(im, line, "id: %" PRId64 " is taken", rec.id);
        else if (strcmp(taken, "slug") == 0)
            refuse(im, line, "slug: \"%s\" is taken", rec.f.slug);
        else
            refuse(im, line, "import_key: is taken by another article");
        err = remember_refused(im, rec.id);
    } else if (err == ND_OK) {
        im->pending.articles_created++;
        err = remember_article(im, rec.f.slug, rec.id);
    }
    free(tags);
    return err;
}

/* Restores the comment record obj (without "type"). ND_OK also when refused. */
static enum nd_err import_comment_record(struct importer *im, unsigned long line, const json_t *obj)
{
    if (!check_record(im, obj, comment_members))
        return ND_ERR_NOMEM;
    if (json_array_size(im->errors) > 0) {
        refuse_fields(im, line);
        return ND_OK;
    }
    const json_t *parent = json_object_get(obj, "parent_id");
    struct nd_comment_record rec = {
        .id = id_of(obj, "id"),
        .f.article_id = id_of(obj, "article_id"),
        .f.has_parent = !json_is_null(parent),
        .f.parent_id = (int64_t)json_integer_value(parent),
        .f.author = json_string_value(json_object_get(obj, "author")),
        .f.body = json_string_value(json_object_get(obj, "body")),
        .pending = strcmp(json_string_value(json_object_get(obj, "status")), "pending") == 0,
        .created_at = time_of(obj, "created_at"),
    };
    if (was_refused(im, rec.f.article_id)) {
        refuse(im, line, "article_id: the record of article %" PRId64 " was refused",
               rec.f.article_id);
        return ND_OK;
    }
    enum nd_err err = nd_store_comment_restore(im->store, &rec);
    if (err == ND_ERR_CONFLICT)
        refuse(im, line, "id: %" PRId64 " is taken", rec.id);
    else if (err == ND_ERR_NOT_FOUND)
        refuse(im, line, "article_id: no such article");
    else if (err == ND_ERR_INVALID)
        refuse(im, line, "parent_id: is not an earlier comment of the same article");
    else if (err == ND_OK)
        im->pending.comments_created++;
    return err == ND_ERR_CONFLICT || err == ND_ERR_NOT_FOUND || err == ND_ERR_INVALID ? ND_OK : err;
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
        refuse(im, line, "type: an export header must be the first line of its file");
        return ND_ERR_INVALID;
    }
    if (!json_is_integer(version) || json_integer_value(version) != ND_EXPORT_VERSION ||
        json_object_size(obj) != 2) {
        refuse(im, line, "version: this newsd reads export version %d (with no other members)",
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
        refuse(im, line, "longer than %d bytes", ND_IMPORT_JSONL_LINE_MAX);
        return ND_OK;
    }
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        refuse(im, line, "not valid JSON: %s (column %d)", jerr.text, jerr.column);
        return ND_OK;
    }
    const char *type = json_string_value(json_object_get(obj, "type"));
    if (!json_is_object(obj)) {
        refuse(im, line, "must be a JSON object");
    } else if (type && strcmp(type, ND_EXPORT_TYPE) == 0) {
        err = import_header(im, line, obj, first);
    } else if (!type || (strcmp(type, "article") != 0 && strcmp(type, "comment") != 0)) {
        refuse(im, line, "type: must be \"article\" or \"comment\"");
    } else if (strcmp(type, "article") == 0) {
        json_object_del(obj, "type");
        err = im->records ? import_article_record(im, line, obj) : import_article(im, line, obj);
    } else {
        json_object_del(obj, "type");
        err = im->records ? import_comment_record(im, line, obj) : import_comment(im, line, obj);
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
                           batch_rows > 0 ? batch_rows : ND_IMPORT_JSONL_BATCH_DEFAULT);
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
                                 struct nd_import_jsonl_stats *stats, char *err, size_t errlen)
{
    enum nd_err rc = ND_ERR_IO;
    void *map = MAP_FAILED;
    struct stat st;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read: %s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "cannot read: not a regular file");
        goto out;
    }
    len = (size_t)st.st_size;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            snprintf(err, errlen, "cannot map: %s", strerror(errno));
            goto out;
        }
        madvise(map, len, MADV_SEQUENTIAL);
    }
    rc = nd_import_jsonl(store, len > 0 ? map : "", len, batch_rows, refused, ctx, stats);
    if (rc != ND_OK)
        snprintf(err, errlen, "stopped: %s", nd_err_str(rc));
out:
    if (map != MAP_FAILED)
        munmap(map, len);
    if (fd >= 0)
        close(fd);
    return rc;
}
