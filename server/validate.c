/*
 * validate.c: the rules a request body must meet, applied all at once.
 *
 * Each field is checked by a small function that either stores the field's
 * cleaned value (trimmed, owned) in the input struct or appends one
 * {"field","message"} entry to the error array; nothing stops at the first
 * bad field, so a client learns everything that is wrong in one round trip.
 * Defaults that depend on other fields (slug from title, summary from body)
 * are filled only once every field is known to be good.
 */
#include "newsd/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "newsd/text.h"
#include "newsd/url.h"
#include "newsd/util.h"

/* Where the checks of one body collect what they find. */
struct check {
    json_t *errors;
    bool nomem;
};

enum lines {
    SINGLE_LINE, /* no control character at all */
    MULTI_LINE,  /* tabs and line breaks allowed */
};

/* How one free-text field is checked. */
struct text_rule {
    const char *name;
    bool required;
    bool allow_empty;
    size_t max; /* characters, or bytes when in_bytes */
    bool in_bytes;
    enum lines lines;
};

static const struct text_rule title_rule = {
    .name = "title", .required = true, .max = ND_TITLE_MAX, .lines = SINGLE_LINE};
static const struct text_rule body_rule = {.name = "body",
                                           .required = true,
                                           .max = ND_BODY_MAX_BYTES,
                                           .in_bytes = true,
                                           .lines = MULTI_LINE};
static const struct text_rule summary_rule = {
    .name = "summary", .allow_empty = true, .max = ND_SUMMARY_GIVEN_MAX, .lines = MULTI_LINE};
static const struct text_rule author_rule = {
    .name = "author", .allow_empty = true, .max = ND_AUTHOR_MAX, .lines = SINGLE_LINE};
static const struct text_rule category_rule = {
    .name = "category", .allow_empty = true, .max = ND_CATEGORY_MAX, .lines = SINGLE_LINE};
static const struct text_rule comment_author_rule = {
    .name = "author", .required = true, .max = ND_AUTHOR_MAX, .lines = SINGLE_LINE};
static const struct text_rule comment_body_rule = {
    .name = "body", .required = true, .max = ND_COMMENT_BODY_MAX, .lines = MULTI_LINE};

/* NULL-terminated lists of member names. */
static const char *const article_writable[] = {
    "slug", "title",  "summary",    "body",         "author", "category",
    "tags", "status", "source_url", "published_at", NULL,
};
static const char *const article_readonly[] = {"id", "created_at", "updated_at", "comment_count",
                                               NULL};
/* Fields a merge patch may not reset: they have no default, or none that is safe. */
static const char *const article_never_null[] = {"title", "body", "status", "published_at", NULL};
static const char *const comment_writable[] = {"author", "body", "parent_id", NULL};
static const char *const comment_readonly[] = {"id", "article_id", "status", "created_at", NULL};

static bool in_list(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}

/* Appends {"field","message"}; a failed allocation is remembered in c. */
static void report(struct check *c, const char *field, const char *message)
{
    json_t *entry = json_pack("{s:s, s:s}", "field", field, "message", message);
    if (!entry || json_array_append_new(c->errors, entry) != 0)
        c->nomem = true;
}

/* Byte length of the white-space character that starts s, or 0 (s is valid UTF-8). */
static size_t space_len(const unsigned char *s)
{
    if (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        return 1;
    if (s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) /* NEL, no-break space */
        return 2;
    if ((s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) ||                   /* U+1680 */
        (s[0] == 0xE2 && s[1] == 0x80 &&                                    /* U+2000..U+200A, */
         (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF)) || /* U+2028/9, U+202F */
        (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) ||                   /* U+205F */
        (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) ||                   /* U+3000 */
        (s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF))                     /* U+FEFF */
        return 3;
    return 0;
}

/* A malloc'd copy of s without surrounding white space; NULL when out of memory. */
static char *trim_dup(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t n = space_len(p); n > 0; n = space_len(p))
        p += n;
    const unsigned char *start = p, *end = p;
    while (*p) {
        size_t n = space_len(p);
        if (n > 0) {
            p += n;
            continue;
        }
        p++;
        while ((*p & 0xC0) == 0x80)
            p++;
        end = p;
    }
    return strndup((const char *)start, (size_t)(end - start));
}

/* True when s holds a C0 control, DEL or a C1 control (tab and line breaks allowed if MULTI_LINE).
 */
static bool has_control(const char *s, enum lines lines)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7F) {
            if (lines == MULTI_LINE && (*p == '\t' || *p == '\n' || *p == '\r'))
                continue;
            return true;
        }
        if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
            return true;
    }
    return false;
}

/*
 * Checks the free-text member rule->name of obj. On success *out gets the
 * trimmed value (owned by the caller); absent or null leaves *out NULL
 * (an error when the field is required); otherwise one error is reported.
 */
static void check_text(struct check *c, const json_t *obj, const struct text_rule *rule, char **out)
{
    const json_t *value = json_object_get(obj, rule->name);
    char message[64];
    if (!value || json_is_null(value)) {
        if (rule->required)
            report(c, rule->name, "is required");
        return;
    }
    if (!json_is_string(value)) {
        report(c, rule->name, "must be a string");
        return;
    }
    char *text = trim_dup(json_string_value(value));
    if (!text) {
        c->nomem = true;
        return;
    }
    size_t len = rule->in_bytes ? strlen(text) : nd_utf8_len(text);
    if (!rule->allow_empty && text[0] == '\0') {
        report(c, rule->name, "must not be empty");
    } else if (len > rule->max) {
        snprintf(message, sizeof message, "must be at most %zu %s", rule->max,
                 rule->in_bytes ? "bytes" : "characters");
        report(c, rule->name, message);
    } else if (has_control(text, rule->lines)) {
        report(c, rule->name,
               rule->lines == MULTI_LINE
                   ? "must not contain control characters other than tabs and line breaks"
                   : "must not contain control characters");
    } else {
        *out = text;
        text = NULL;
    }
    free(text);
}

static void check_slug(struct check *c, const json_t *obj, struct nd_article_input *in)
{
    const json_t *value = json_object_get(obj, "slug");
    if (!value || json_is_null(value))
        return;
    if (!json_is_string(value)) {
        report(c, "slug", "must be a string");
        return;
    }
    if (!nd_slug_valid(json_string_value(value))) {
        report(c, "slug",
               "must be lower-case letters and digits in words joined by hyphens, "
               "at most 120 bytes, not only digits, and not \"bulk\"");
        return;
    }
    in->slug = strdup(json_string_value(value));
    if (!in->slug)
        c->nomem = true;
}

/* True when tag is already one of the n tags kept. */
static bool tag_seen(char *const *tags, size_t n, const char *tag)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tags[i], tag) == 0)
            return true;
    return false;
}

/* Checks one tag; keeps it (taking ownership) unless it repeats one kept. */
static void check_tag(struct check *c, const json_t *item, size_t index,
                      struct nd_article_input *in, bool *too_many)
{
    char field[32];
    snprintf(field, sizeof field, "tags[%zu]", index);
    if (!json_is_string(item)) {
        report(c, field, "must be a string");
        return;
    }
    char *tag = trim_dup(json_string_value(item));
    if (!tag) {
        c->nomem = true;
        return;
    }
    size_t len = nd_utf8_len(tag);
    if (len < 1 || len > ND_TAG_MAX) {
        report(c, field, "must be 1 to 50 characters");
    } else if (has_control(tag, SINGLE_LINE)) {
        report(c, field, "must not contain control characters");
    } else if (tag_seen(in->tags, in->ntags, tag)) {
        /* a repeat: dropped */
    } else if (in->ntags == ND_TAGS_MAX) {
        *too_many = true;
    } else {
        in->tags[in->ntags++] = tag;
        tag = NULL;
    }
    free(tag);
}

/*
 * Tags: an array of strings, trimmed, duplicates dropped (the first kept),
 * at most ND_TAGS_MAX distinct ones. Each bad item is reported as "tags[i]".
 */
static void check_tags(struct check *c, const json_t *obj, struct nd_article_input *in)
{
    const json_t *tags = json_object_get(obj, "tags");
    if (!tags || json_is_null(tags))
        return;
    if (!json_is_array(tags)) {
        report(c, "tags", "must be an array of strings");
        return;
    }
    in->tags = calloc(ND_TAGS_MAX, sizeof *in->tags);
    if (!in->tags) {
        c->nomem = true;
        return;
    }
    bool too_many = false;
    for (size_t i = 0; i < json_array_size(tags) && !c->nomem; i++)
        check_tag(c, json_array_get(tags, i), i, in, &too_many);
    if (too_many)
        report(c, "tags", "must hold at most 20 distinct tags");
}

static void check_status(struct check *c, const json_t *obj, struct nd_article_input *in)
{
    const json_t *value = json_object_get(obj, "status");
    if (!value || json_is_null(value))
        return;
    const char *status = json_string_value(value);
    if (status && strcmp(status, "published") == 0)
        in->draft = false;
    else if (status && strcmp(status, "draft") == 0)
        in->draft = true;
    else
        report(c, "status", "must be \"published\" or \"draft\"");
}

/*
 * True when url is "http://" or "https://" (any case) followed by an
 * authority (user info allowed) whose host[:port] nd_url_parse_ihostport
 * accepts (a host name may be written in its own script, as newsd always
 * took it), and no white space or control character anywhere.
 */
static bool url_valid(const char *url)
{
    size_t skip;
    if (strncasecmp(url, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    if (strchr(url, ' ') || has_control(url, SINGLE_LINE))
        return false;
    const char *authority = url + skip;
    size_t alen = strcspn(authority, "/?#");
    const char *host = authority;
    for (size_t i = 0; i < alen; i++)
        if (authority[i] == '@')
            host = authority + i + 1;
    const char *end = authority + alen;
    struct nd_hostport hp;
    /* an empty port ("host:/") is refused, as it always was */
    return nd_url_parse_ihostport(host, (size_t)(end - host), &hp) == end &&
           (hp.port_text == NULL || hp.port_len > 0);
}

static void check_source_url(struct check *c, const json_t *obj, struct nd_article_input *in)
{
    const json_t *value = json_object_get(obj, "source_url");
    if (!value || json_is_null(value))
        return;
    if (!json_is_string(value)) {
        report(c, "source_url", "must be a string or null");
        return;
    }
    char *url = trim_dup(json_string_value(value));
    if (!url) {
        c->nomem = true;
        return;
    }
    if (nd_utf8_len(url) > ND_URL_MAX) {
        report(c, "source_url", "must be at most 2048 characters");
    } else if (!url_valid(url)) {
        report(c, "source_url", "must be an http or https URL with a host");
    } else {
        in->source_url = url;
        url = NULL;
    }
    free(url);
}

static void check_published_at(struct check *c, const json_t *obj, int64_t now,
                               struct nd_article_input *in)
{
    const json_t *value = json_object_get(obj, "published_at");
    in->published_at = now;
    if (!value || json_is_null(value))
        return;
    if (!json_is_string(value) || !nd_time_parse(json_string_value(value), &in->published_at))
        report(c, "published_at", "must be an RFC 3339 date-time such as 2025-07-12T09:30:00Z");
}

/* Reports every member of obj that is read-only or not a field at all. */
static void check_members(struct check *c, const json_t *obj, const char *const *writable,
                          const char *const *readonly)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        if (in_list(writable, key))
            continue;
        report(c, key, in_list(readonly, key) ? "is read-only" : "is not allowed");
    }
}

static void check_article(struct check *c, const json_t *obj, int64_t now,
                          struct nd_article_input *in)
{
    check_text(c, obj, &title_rule, &in->title);
    check_text(c, obj, &body_rule, &in->body);
    check_slug(c, obj, in);
    check_text(c, obj, &summary_rule, &in->summary);
    check_text(c, obj, &author_rule, &in->author);
    check_text(c, obj, &category_rule, &in->category);
    check_tags(c, obj, in);
    check_status(c, obj, in);
    check_source_url(c, obj, in);
    check_published_at(c, obj, now, in);
}

/* Fills the defaults that depend on other fields. False when out of memory. */
static bool fill_defaults(struct nd_article_input *in)
{
    if (!in->slug) {
        in->slug = nd_slug_from_title(in->title);
        in->slug_derived = true;
    }
    if (!in->summary)
        in->summary = nd_summary_from_body(in->body);
    if (!in->author)
        in->author = strdup("");
    if (!in->category)
        in->category = strdup("");
    return in->slug && in->summary && in->author && in->category;
}

/*
 * The verdict on a checked article: moves *checked into *in on ND_OK,
 * frees it otherwise. before is the size of the error array on entry.
 */
static enum nd_err finish_article(struct check *c, size_t before, struct nd_article_input *checked,
                                  struct nd_article_input *in)
{
    enum nd_err err = ND_OK;
    if (!c->nomem && json_array_size(c->errors) == before && !fill_defaults(checked))
        c->nomem = true;
    if (c->nomem)
        err = ND_ERR_NOMEM;
    else if (json_array_size(c->errors) != before)
        err = ND_ERR_INVALID;
    if (err == ND_OK)
        *in = *checked;
    else
        nd_article_input_fini(checked);
    return err;
}

enum nd_err nd_validate_article(const json_t *obj, int64_t now, struct nd_article_input *in,
                                json_t *errors)
{
    struct check c = {errors, false};
    size_t before = json_array_size(errors);
    struct nd_article_input checked = {0};
    if (!json_is_object(obj)) {
        report(&c, "", "must be a JSON object");
    } else {
        check_article(&c, obj, now, &checked);
        check_members(&c, obj, article_writable, article_readonly);
    }
    return finish_article(&c, before, &checked, in);
}

/*
 * True (in *follows) when patch replaces the body, says nothing of the
 * summary, and current's summary is the one derived from its body: then the
 * summary follows the new body. False when out of memory.
 */
static bool summary_follows_body(const json_t *current, const json_t *patch, bool *follows)
{
    const char *old_body = json_string_value(json_object_get(current, "body"));
    const char *old_summary = json_string_value(json_object_get(current, "summary"));
    *follows = false;
    if (!json_is_string(json_object_get(patch, "body")) || json_object_get(patch, "summary") ||
        !old_body || !old_summary)
        return true;
    char *derived = nd_summary_from_body(old_body);
    if (!derived)
        return false;
    *follows = strcmp(derived, old_summary) == 0;
    free(derived);
    return true;
}

/*
 * A new object: current's writable fields with patch's writable members
 * merged in (RFC 7396 at the top level). null removes a member, so that the
 * checks give it its default, except for the fields that may not be null,
 * which are reported and left as they are. NULL when out of memory.
 */
static json_t *merge_patch(struct check *c, const json_t *current, const json_t *patch)
{
    json_t *merged = json_object();
    const char *key;
    json_t *value;
    bool follows = false;
    if (!merged)
        goto nomem;
    for (const char *const *name = article_writable; *name; name++) {
        json_t *field = json_object_get(current, *name);
        if (field && json_object_set(merged, *name, field) != 0)
            goto nomem;
    }
    json_object_foreach((json_t *)patch, key, value)
    {
        if (!in_list(article_writable, key))
            continue;
        if (!json_is_null(value)) {
            if (json_object_set(merged, key, value) != 0)
                goto nomem;
        } else if (in_list(article_never_null, key)) {
            report(c, key, "must not be null");
        } else {
            json_object_del(merged, key);
        }
    }
    if (!summary_follows_body(current, patch, &follows))
        goto nomem;
    if (follows)
        json_object_del(merged, "summary");
    return merged;
nomem:
    c->nomem = true;
    json_decref(merged);
    return NULL;
}

enum nd_err nd_validate_article_patch(const json_t *current, const json_t *patch, int64_t now,
                                      struct nd_article_input *in, json_t *errors)
{
    struct check c = {errors, false};
    size_t before = json_array_size(errors);
    struct nd_article_input checked = {0};
    if (!json_is_object(patch)) {
        report(&c, "", "must be a JSON object");
    } else {
        json_t *merged = merge_patch(&c, current, patch);
        if (merged)
            check_article(&c, merged, now, &checked);
        json_decref(merged);
        check_members(&c, patch, article_writable, article_readonly);
    }
    return finish_article(&c, before, &checked, in);
}

void nd_article_input_fini(struct nd_article_input *in)
{
    if (!in)
        return;
    free(in->slug);
    free(in->title);
    free(in->summary);
    free(in->body);
    free(in->author);
    free(in->category);
    for (size_t i = 0; i < in->ntags; i++)
        free(in->tags[i]);
    free(in->tags);
    free(in->source_url);
    memset(in, 0, sizeof *in);
}

void nd_article_input_fields(const struct nd_article_input *in, struct nd_article_fields *f)
{
    memset(f, 0, sizeof *f);
    f->slug = in->slug;
    f->slug_derived = in->slug_derived;
    f->title = in->title;
    f->summary = in->summary;
    f->body = in->body;
    f->author = in->author;
    f->category = in->category;
    f->tags = (const char *const *)in->tags;
    f->ntags = in->ntags;
    f->source_url = in->source_url;
    f->draft = in->draft;
    f->published_at = in->published_at;
    f->import_key = NULL;
}

static void check_parent(struct check *c, const json_t *obj, struct nd_comment_input *in)
{
    const json_t *value = json_object_get(obj, "parent_id");
    if (!value || json_is_null(value))
        return;
    if (!json_is_integer(value) || json_integer_value(value) < 1) {
        report(c, "parent_id", "must be a positive integer or null");
        return;
    }
    in->has_parent = true;
    in->parent_id = (int64_t)json_integer_value(value);
}

enum nd_err nd_validate_comment(const json_t *obj, struct nd_comment_input *in, json_t *errors)
{
    struct check c = {errors, false};
    size_t before = json_array_size(errors);
    struct nd_comment_input checked = {0};
    enum nd_err err = ND_OK;
    if (!json_is_object(obj)) {
        report(&c, "", "must be a JSON object");
    } else {
        check_text(&c, obj, &comment_author_rule, &checked.author);
        check_text(&c, obj, &comment_body_rule, &checked.body);
        check_parent(&c, obj, &checked);
        check_members(&c, obj, comment_writable, comment_readonly);
    }
    if (c.nomem)
        err = ND_ERR_NOMEM;
    else if (json_array_size(errors) != before)
        err = ND_ERR_INVALID;
    if (err == ND_OK)
        *in = checked;
    else
        nd_comment_input_fini(&checked);
    return err;
}

void nd_comment_input_fini(struct nd_comment_input *in)
{
    if (!in)
        return;
    free(in->author);
    free(in->body);
    memset(in, 0, sizeof *in);
}

void nd_comment_input_fields(const struct nd_comment_input *in, int64_t article_id,
                             struct nd_comment_fields *f)
{
    f->article_id = article_id;
    f->has_parent = in->has_parent;
    f->parent_id = in->parent_id;
    f->author = in->author;
    f->body = in->body;
}

bool nd_validate_limit(const char *text, unsigned *out)
{
    uint64_t value;
    if (!text) {
        *out = ND_LIMIT_DEFAULT;
        return true;
    }
    if (text[0] == '0' || !nd_parse_uint(text, strlen(text), ND_LIMIT_MAX, &value) || value < 1)
        return false;
    *out = (unsigned)value;
    return true;
}
