/*
 * import_wxr_post.c: one <item> of a WordPress export into the store: its
 * post as an article, its comments as comments, or a count of what was
 * skipped (import.h says which items, statuses and comments are kept).
 *
 * A post is turned into the JSON body that POST /v1/articles takes and
 * checked by the same code (nd_validate_article), so an import stores
 * nothing the API would refuse, and a refusal names the field and the rule
 * as the API would.
 *
 * Import keys: BLAKE2b of "wordpress", the blog's URL, "post" or "comment"
 * and the WordPress id, in hex like the plain-text importer's keys. WordPress
 * ids never change, so the same post is found again even when its text was
 * edited between two exports; another blog's post 12 is another article.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_internal.h"
#include "import_wxr_internal.h"
#include "newsd/buf.h"
#include "newsd/text.h"
#include "newsd/util.h"
#include "newsd/validate.h"

#define NAME_MAX_BYTES 4096 /* a title or name as text; the API's limits follow */

static void refuse(struct wxr_import *im, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Counts a refused post or comment and reports it. */
static void refuse(struct wxr_import *im, unsigned long line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nd_import_vrefuse(im->refusal, im->ctx, &im->stats.refused, line, fmt, ap);
    va_end(ap);
}

/* The import key of the post or comment (kind) with WordPress id. */
static void wxr_key(const char *site, const char *kind, int64_t id, char key[ND_IMPORT_KEY_LEN + 1])
{
    unsigned char hash[crypto_generichash_BYTES];
    char text[64];
    crypto_generichash_state st;
    int n = snprintf(text, sizeof text, "\n%s\n%" PRId64, kind, id);
    crypto_generichash_init(&st, NULL, 0, sizeof hash);
    crypto_generichash_update(&st, (const unsigned char *)"wordpress\n", 10);
    crypto_generichash_update(&st, (const unsigned char *)site, strlen(site));
    crypto_generichash_update(&st, (const unsigned char *)text, (size_t)n);
    crypto_generichash_final(&st, hash, sizeof hash);
    sodium_bin2hex(key, ND_IMPORT_KEY_LEN + 1, hash, sizeof hash);
}

/*
 * Sets obj[name] to the text of html; *limit_hit when it passed max bytes
 * (the member is then left out). ND_ERR_INVALID when the HTML nests too deep
 * to be read (see why_refused), ND_ERR_NOMEM.
 */
static enum nd_err set_text(json_t *obj, const char *name, const char *html, bool one_line,
                            size_t max, bool *limit_hit)
{
    char *text = NULL;
    enum nd_err err = nd_import_html_text(html, strlen(html), one_line, max, &text);
    if (err == ND_ERR_LIMIT) {
        *limit_hit = true;
        return ND_OK;
    }
    if (err != ND_OK)
        return err;
    err = json_object_set_new(obj, name, json_string(text)) == 0 ? ND_OK : ND_ERR_NOMEM;
    free(text);
    return err;
}

/*
 * Why a post or comment is refused after ND_ERR_INVALID: the validator's
 * errors, or, when it gave none, the one refusal set_text makes.
 */
static void why_refused(const json_t *errors, char *why, size_t whylen)
{
    if (json_array_size(errors) > 0)
        nd_import_join_errors(errors, why, whylen);
    else
        snprintf(why, whylen, "its HTML nests elements deeper than the 256 levels newsd reads");
}

/* "YYYY-MM-DD HH:MM:SS" (UTC) into seconds; false for WordPress's zero date. */
static bool wp_time(const char *text, int64_t *when)
{
    char rfc[24];
    if (strlen(text) != 19 || text[10] != ' ' || strncmp(text, "0000", 4) == 0)
        return false;
    snprintf(rfc, sizeof rfc, "%.10sT%.8sZ", text, text + 11);
    return nd_time_parse(rfc, when);
}

/* Appends the text of each name (HTML) to out, as strings. */
static enum nd_err names_of(const json_t *names, json_t *out)
{
    size_t i;
    json_t *name;
    json_array_foreach(names, i, name)
    {
        char *text = NULL;
        const char *html = json_string_value(name);
        enum nd_err err = nd_import_html_text(html, strlen(html), true, NAME_MAX_BYTES, &text);
        if (err == ND_ERR_LIMIT)
            continue; /* a name over 4 KiB: the validator would refuse it anyway */
        if (err != ND_OK)
            return err;
        bool seen = false;
        for (size_t j = 0; j < json_array_size(out) && !seen; j++)
            seen = strcmp(json_string_value(json_array_get(out, j)), text) == 0;
        err = text[0] == '\0' || seen || json_array_append_new(out, json_string(text)) == 0
                  ? ND_OK
                  : ND_ERR_NOMEM;
        free(text);
        if (err != ND_OK)
            return err;
    }
    return ND_OK;
}

/* The categories' names joined with ", ". */
static enum nd_err set_category(json_t *obj, const json_t *categories)
{
    struct nd_buf joined = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    json_t *names = json_array();
    size_t i;
    json_t *name;
    enum nd_err err = names ? names_of(categories, names) : ND_ERR_NOMEM;
    json_array_foreach(names, i, name)
    {
        if (i > 0)
            nd_buf_append_str(&joined, ", ");
        nd_buf_append_str(&joined, json_string_value(name));
    }
    if (err == ND_OK)
        err = joined.err;
    if (err == ND_OK && json_object_set_new(obj, "category", json_string(nd_buf_str(&joined))) != 0)
        err = ND_ERR_NOMEM;
    nd_buf_free(&joined);
    json_decref(names);
    return err;
}

/* Decodes %XX escapes in place (WordPress keeps non-ASCII slugs encoded). */
static void percent_decode(char *s)
{
    char *out = s;
    for (const char *p = s; *p; p++) {
        unsigned v;
        if (p[0] == '%' && p[1] && p[2] && sscanf(p + 1, "%2x", &v) == 1 && v > 0) {
            *out++ = (char)v;
            p += 2;
        } else {
            *out++ = *p;
        }
    }
    *out = '\0';
}

/*
 * The slug: wp:post_name when it is a valid slug (*derived false), else one
 * made of it (decoded), or none (the validator derives one from the title).
 */
static enum nd_err set_slug(json_t *obj, const char *post_name, bool *derived)
{
    *derived = false;
    if (post_name[0] == '\0')
        return ND_OK;
    if (nd_slug_valid(post_name))
        return json_object_set_new(obj, "slug", json_string(post_name)) == 0 ? ND_OK : ND_ERR_NOMEM;
    char *decoded = strdup(post_name);
    char *slug = NULL;
    if (decoded) {
        percent_decode(decoded);
        if (nd_utf8_valid(decoded, strlen(decoded)))
            slug = nd_slug_from_title(decoded);
        else
            slug = nd_slug_from_title(post_name);
    }
    enum nd_err err =
        slug && json_object_set_new(obj, "slug", json_string(slug)) == 0 ? ND_OK : ND_ERR_NOMEM;
    *derived = true;
    free(decoded);
    free(slug);
    return err;
}

/*
 * The body of POST /v1/articles for item. *too_long names a field whose
 * text passed the limit (the post is then refused), or stays NULL.
 */
static enum nd_err article_json(const struct wxr_import *im, const struct wxr_item *item,
                                json_t **out, bool *slug_derived, const char **too_long)
{
    json_t *obj = json_object(), *tags = json_array();
    bool over = false;
    int64_t when = 0;
    const char *name = json_string_value(json_object_get(im->authors, item->creator));
    enum nd_err err = obj && tags ? ND_OK : ND_ERR_NOMEM;
    if (err == ND_OK)
        err = set_text(obj, "title", item->title, true, NAME_MAX_BYTES, &over);
    if (err == ND_OK && over && !*too_long)
        *too_long = "title";
    if (err == ND_OK)
        err = set_text(obj, "body", item->content, false, ND_BODY_MAX_BYTES, &over);
    if (err == ND_OK && over && !*too_long)
        *too_long = "content:encoded";
    if (err == ND_OK && item->excerpt[0] != '\0')
        err = set_text(obj, "summary", item->excerpt, false, ND_BODY_MAX_BYTES, &over);
    if (err == ND_OK)
        err = set_text(obj, "author", name ? name : item->creator, true, NAME_MAX_BYTES, &over);
    if (err == ND_OK)
        err = set_category(obj, item->categories);
    if (err == ND_OK)
        err = names_of(item->tags, tags);
    if (err == ND_OK)
        err = json_object_set(obj, "tags", tags) == 0 ? ND_OK : ND_ERR_NOMEM;
    if (err == ND_OK)
        err = set_slug(obj, item->post_name, slug_derived);
    if (err == ND_OK &&
        (strncmp(item->link, "http://", 7) == 0 || strncmp(item->link, "https://", 8) == 0))
        err = json_object_set_new(obj, "source_url", json_string(item->link)) == 0 ? ND_OK
                                                                                   : ND_ERR_NOMEM;
    if (err == ND_OK)
        err = json_object_set_new(
                  obj, "status",
                  json_string(strcmp(item->status, "publish") == 0 ? "published" : "draft")) == 0
                  ? ND_OK
                  : ND_ERR_NOMEM;
    if (err == ND_OK && (wp_time(item->post_date_gmt, &when) || wp_time(item->post_date, &when))) {
        char stamp[ND_TIME_BUF];
        err =
            json_object_set_new(obj, "published_at", json_string(nd_time_format(when, stamp))) == 0
                ? ND_OK
                : ND_ERR_NOMEM;
    }
    json_decref(tags);
    if (err != ND_OK) {
        json_decref(obj);
        return err;
    }
    *out = obj;
    return ND_OK;
}

/* Whether item is a post newsd imports; counts it as skipped otherwise. */
static bool wanted(struct wxr_import *im, const struct wxr_item *item)
{
    const char *type = item->post_type[0] ? item->post_type : "post";
    const char *status = item->status;
    unsigned long *skipped = NULL;
    if (strcmp(type, "page") == 0)
        skipped = &im->stats.pages;
    else if (strcmp(type, "attachment") == 0)
        skipped = &im->stats.attachments;
    else if (strcmp(type, "nav_menu_item") == 0)
        skipped = &im->stats.menu_items;
    else if (strcmp(type, "post") != 0)
        skipped = &im->stats.other_types;
    else if (strcmp(status, "private") == 0 || item->post_password[0] != '\0')
        skipped = &im->stats.private_posts;
    else if (strcmp(status, "trash") == 0)
        skipped = &im->stats.trashed_posts;
    else if (strcmp(status, "publish") != 0 && strcmp(status, "draft") != 0 &&
             strcmp(status, "pending") != 0 && strcmp(status, "future") != 0)
        skipped = &im->stats.other_statuses;
    if (skipped)
        ++*skipped;
    return skipped == NULL;
}

/* Creates the article of a wanted item. ND_OK also when refused (*id stays 0). */
static enum nd_err create_post(struct wxr_import *im, const struct wxr_item *item, const char *key,
                               int64_t post_id, int64_t *id)
{
    struct nd_article_input in = {0};
    struct nd_article_fields f;
    json_t *obj = NULL, *created = NULL, *errors = json_array();
    bool derived = false;
    const char *too_long = item->too_long;
    char why[WHY_MAX];
    enum nd_err err = errors ? article_json(im, item, &obj, &derived, &too_long) : ND_ERR_NOMEM;
    if (err == ND_OK && too_long) {
        refuse(im, item->line, "post %" PRId64 ": <%s> is longer than newsd takes", post_id,
               too_long);
        goto out;
    }
    if (err == ND_OK)
        err = nd_validate_article(obj, im->now, &in, errors);
    if (err == ND_ERR_INVALID) {
        why_refused(errors, why, sizeof why);
        refuse(im, item->line, "post %" PRId64 ": %s", post_id, why);
        err = ND_OK;
        goto out;
    }
    if (err != ND_OK)
        goto out;
    in.slug_derived = in.slug_derived || derived;
    nd_article_input_fields(&in, &f);
    f.import_key = key;
    err = nd_store_article_create(im->store, &f, &created);
    if (err == ND_ERR_CONFLICT) {
        refuse(im, item->line, "post %" PRId64 ": slug: \"%s\" is taken by another article",
               post_id, in.slug);
        err = ND_OK;
        goto out;
    }
    if (err == ND_OK) {
        im->stats.posts_created++;
        *id = (int64_t)json_integer_value(json_object_get(created, "id"));
    }
out:
    nd_article_input_fini(&in);
    json_decref(created);
    json_decref(obj);
    json_decref(errors);
    return err;
}

/* Comments of a post, sorted by WordPress id, with what became of each. */
struct thread {
    const struct wxr_comment **v;
    int64_t *stored; /* newsd id, 0 when skipped or refused */
    size_t n;
};

static int by_wp_id(const void *a, const void *b)
{
    const struct wxr_comment *x = *(const struct wxr_comment *const *)a;
    const struct wxr_comment *y = *(const struct wxr_comment *const *)b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Index of the comment with WordPress id in t, or t->n. */
static size_t find_wp(const struct thread *t, int64_t id)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->v[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->n && t->v[lo]->id == id ? lo : t->n;
}

/* The newsd id of the nearest stored ancestor of comment i (0: top level). */
static int64_t stored_parent(const struct thread *t, size_t i)
{
    int64_t parent = t->v[i]->parent;
    for (size_t steps = 0; parent != 0 && steps < t->n; steps++) {
        size_t j = find_wp(t, parent);
        if (j == t->n)
            return 0;
        if (t->stored[j] != 0)
            return t->stored[j];
        parent = t->v[j]->parent;
    }
    return 0;
}

/* Whether the comment is kept, and pending; counts it as skipped otherwise. */
static bool comment_wanted(struct wxr_import *im, const struct wxr_comment *c, bool *pending)
{
    *pending = strcmp(c->approved, "1") != 0;
    if (strcmp(c->type, "pingback") == 0 || strcmp(c->type, "trackback") == 0)
        im->stats.pingbacks++;
    else if (strcmp(c->approved, "spam") == 0)
        im->stats.spam_comments++;
    else if (strcmp(c->approved, "trash") == 0 || strcmp(c->approved, "post-trashed") == 0)
        im->stats.trashed_comments++;
    else
        return true;
    return false;
}

/* The comment i of t, of article_id: found again, created, skipped or refused. */
static enum nd_err import_comment(struct wxr_import *im, struct thread *t, size_t i,
                                  int64_t article_id, int64_t post_id)
{
    const struct wxr_comment *c = t->v[i];
    struct nd_comment_input in = {0};
    char key[ND_IMPORT_KEY_LEN + 1], why[WHY_MAX];
    bool pending = false, over = false;
    json_t *obj = NULL, *errors = NULL;
    if (!comment_wanted(im, c, &pending))
        return ND_OK;
    if (c->id == 0) {
        refuse(im, c->line, "a comment of post %" PRId64 " has no <wp:comment_id>", post_id);
        return ND_OK;
    }
    wxr_key(im->site, "comment", c->id, key);
    enum nd_err err = nd_store_comment_find_import(im->store, key, &t->stored[i]);
    if (err == ND_OK)
        im->stats.comments_existing++;
    if (err != ND_ERR_NOT_FOUND)
        return err;
    obj = json_object();
    errors = json_array();
    err = obj && errors ? ND_OK : ND_ERR_NOMEM;
    if (err == ND_OK)
        err = set_text(obj, "author", c->author[0] ? c->author : "Anonymous", true, NAME_MAX_BYTES,
                       &over);
    if (err == ND_OK)
        err = set_text(obj, "body", c->content, false, ND_BODY_MAX_BYTES, &over);
    if (err == ND_OK && over) {
        refuse(im, c->line, "comment %" PRId64 ": its text is longer than newsd takes", c->id);
        goto out;
    }
    if (err == ND_OK)
        err = nd_validate_comment(obj, &in, errors);
    if (err == ND_ERR_INVALID) {
        why_refused(errors, why, sizeof why);
        refuse(im, c->line, "comment %" PRId64 ": %s", c->id, why);
        err = ND_OK;
        goto out;
    }
    if (err != ND_OK)
        goto out;
    int64_t when = im->now, parent = stored_parent(t, i);
    if (!wp_time(c->date_gmt, &when) && !wp_time(c->date, &when))
        when = im->now;
    struct nd_comment_import ci = {.pending = pending, .created_at = when, .import_key = key};
    nd_comment_input_fields(&in, article_id, &ci.f);
    ci.f.has_parent = parent != 0;
    ci.f.parent_id = parent;
    err = nd_store_comment_import(im->store, &ci, &t->stored[i]);
    if (err == ND_OK)
        im->stats.comments_created++;
out:
    nd_comment_input_fini(&in);
    json_decref(obj);
    json_decref(errors);
    return err;
}

/* The comments of item, in WordPress id order, for article_id. */
static enum nd_err import_comments(struct wxr_import *im, const struct wxr_item *item,
                                   int64_t article_id, int64_t post_id)
{
    struct thread t = {.n = item->ncomments};
    enum nd_err err = ND_OK;
    if (t.n == 0)
        return ND_OK;
    t.v = calloc(t.n, sizeof *t.v);
    t.stored = calloc(t.n, sizeof *t.stored);
    if (!t.v || !t.stored) {
        err = ND_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < t.n; i++)
        t.v[i] = &item->comments[i];
    qsort(t.v, t.n, sizeof *t.v, by_wp_id);
    for (size_t i = 0; i < t.n && err == ND_OK; i++)
        err = import_comment(im, &t, i, article_id, post_id);
out:
    free(t.v);
    free(t.stored);
    return err;
}

/* Stores the post of item (or finds it again) and its comments. */
enum nd_err nd_wxr_item_import(struct wxr_import *im, const struct wxr_item *item)
{
    int64_t post_id = 0, id = 0;
    char key[ND_IMPORT_KEY_LEN + 1];
    if (!wanted(im, item))
        return ND_OK;
    if (!nd_parse_id(item->post_id, &post_id)) {
        refuse(im, item->line, "a post has no <wp:post_id> (a positive number)");
        return ND_OK;
    }
    wxr_key(im->site, "post", post_id, key);
    enum nd_err err = nd_store_article_find_import(im->store, key, &id);
    if (err == ND_OK)
        im->stats.posts_existing++;
    else if (err == ND_ERR_NOT_FOUND)
        err = create_post(im, item, key, post_id, &id);
    /* said once more, without counting: the refusal of the post counted */
    if (err == ND_OK && id == 0 && item->ncomments > 0 && im->refusal) {
        char why[WHY_MAX];
        snprintf(why, sizeof why, "post %" PRId64 ": its %zu comments are not imported either",
                 post_id, item->ncomments);
        im->refusal(im->ctx, item->line, why);
    }
    if (err != ND_OK || id == 0)
        return err;
    return import_comments(im, item, id, post_id);
}
