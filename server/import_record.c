/*
 * import_record.c: the records of an export (newsd export, store.h), read
 * back by import --jsonl when a file begins with the export header. Each
 * record holds every stored field of an article or comment, ids and times
 * included, and is restored exactly as written (nd_store_*_restore).
 * Records are checked for what the store needs (types, slugs, statuses,
 * time stamps), not with the API's rules for new text: they restore what a
 * database held, which may be text the plain-text importer made (a long
 * category line) or an article the API took under other limits.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_internal.h"
#include "newsd/text.h"
#include "newsd/util.h"
#include "newsd/validate.h"

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
                                                {"import_key", MEMBER_IMPORT_KEY, true},
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
            ok = nd_import_add_error(im, m->key, "is required in an export record");
        else if (value && !member_fits(value, m->kind, &message))
            ok = nd_import_add_error(im, m->key, message);
    }
    json_object_foreach((json_t *)obj, key, value)
    {
        const struct member *m = members;
        while (m->key && strcmp(m->key, key) != 0)
            m++;
        if (!m->key && ok)
            ok = nd_import_add_error(im, key, "is not allowed");
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
enum nd_err nd_import_article_record(struct importer *im, unsigned long line, const json_t *obj)
{
    struct nd_article_record rec = {0};
    const char **tags = NULL, *taken = NULL;
    const json_t *id = json_object_get(obj, "id");
    enum nd_err err = check_record(im, obj, article_members) ? ND_OK : ND_ERR_NOMEM;
    if (err == ND_OK && json_array_size(im->errors) > 0) {
        nd_import_refuse_fields(im, line);
        return is_id(id) ? remember_refused(im, id_of(obj, "id")) : ND_OK;
    }
    if (err == ND_OK)
        err = article_record_of(obj, &rec, &tags);
    if (err == ND_OK)
        err = nd_store_article_restore(im->store, &rec, &taken);
    if (err == ND_ERR_CONFLICT) {
        if (strcmp(taken, "id") == 0)
            nd_import_refuse(im, line, "id: %" PRId64 " is taken", rec.id);
        else if (strcmp(taken, "slug") == 0)
            nd_import_refuse(im, line, "slug: \"%s\" is taken", rec.f.slug);
        else
            nd_import_refuse(im, line, "import_key: is taken by another article");
        err = remember_refused(im, rec.id);
    } else if (err == ND_OK) {
        im->pending.articles_created++;
        err = nd_import_remember_article(im, rec.f.slug, rec.id);
    }
    free(tags);
    return err;
}

/* Restores the comment record obj (without "type"). ND_OK also when refused. */
enum nd_err nd_import_comment_record(struct importer *im, unsigned long line, const json_t *obj)
{
    if (!check_record(im, obj, comment_members))
        return ND_ERR_NOMEM;
    if (json_array_size(im->errors) > 0) {
        nd_import_refuse_fields(im, line);
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
        .import_key = json_string_value(json_object_get(obj, "import_key")),
    };
    const char *taken = "id";
    if (was_refused(im, rec.f.article_id)) {
        nd_import_refuse(im, line, "article_id: the record of article %" PRId64 " was refused",
                         rec.f.article_id);
        return ND_OK;
    }
    enum nd_err err = nd_store_comment_restore(im->store, &rec, &taken);
    if (err == ND_ERR_CONFLICT && strcmp(taken, "import_key") == 0)
        nd_import_refuse(im, line, "import_key: is taken by another comment");
    else if (err == ND_ERR_CONFLICT)
        nd_import_refuse(im, line, "id: %" PRId64 " is taken", rec.id);
    else if (err == ND_ERR_NOT_FOUND)
        nd_import_refuse(im, line, "article_id: no such article");
    else if (err == ND_ERR_INVALID)
        nd_import_refuse(im, line, "parent_id: is not an earlier comment of the same article");
    else if (err == ND_OK)
        im->pending.comments_created++;
    return err == ND_ERR_CONFLICT || err == ND_ERR_NOT_FOUND || err == ND_ERR_INVALID ? ND_OK : err;
}
