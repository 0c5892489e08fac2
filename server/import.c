/*
 * import.c: turning a plain-text article (a page saved as text) into a
 * stored article.
 *
 * The text is a title line, often repeated once, body paragraphs separated
 * by blank lines, and page furniture at the very end: "Source link",
 * "Posted in", the category line(s) and "Leave a Comment". Parsing works on
 * lines: the text is copied once, split at LF, CRLF or lone CR, each line
 * trimmed (spaces, tabs, U+00A0) and its inner runs of spaces and tabs folded
 * to one space.
 *
 * Furniture is recognised only by scanning backwards from the end, and only
 * as whole lines (any case, trailing colons allowed; "Posted in: News" on one
 * line names a category too), so a body paragraph that mentions "posted in"
 * stays body. Category lines are short (at most CATEGORY_LINE_MAX_CHARS) and
 * do not end like a sentence; when "Posted in" is followed by prose, nothing
 * there is taken for a category. Several category lines (WordPress lists
 * every category of a post) are joined with ", ", the way the page shows
 * them, so no category is lost.
 *
 * The import key, a BLAKE2b hash of the parsed title and body, makes a
 * re-import of the same text (any file name, any line endings) find the
 * article made the first time instead of creating another.
 */
#include "newsd/import.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "newsd/store.h"
#include "newsd/text.h"
#include "newsd/util.h"

#define TITLE_MAX_CHARS 300
#define BODY_MAX_BYTES (1024 * 1024)
#define FILE_MAX_BYTES (2 * 1024 * 1024)
/* A category line is a few words: a longer line, or more of them, is body. */
#define CATEGORY_LINE_MAX_CHARS 100
#define CATEGORY_LINES_MAX 5

struct line {
    char *text; /* NUL-terminated, trimmed and folded, inside lines.buf */
    size_t len;
};

struct lines {
    char *buf; /* the text, cut into lines in place */
    struct line *v;
    size_t n;
};

/*
 * Trims s (len bytes) of spaces, tabs and U+00A0 at both ends and folds
 * inner runs of spaces and tabs to one space, in place. Returns the new
 * length; s is NUL-terminated afterwards.
 */
static size_t tidy_line(char *s, size_t len)
{
    size_t start = 0;
    while (start < len) {
        if (nd_is_blank(s[start]))
            start++;
        else if (len - start >= 2 && memcmp(s + start, "\xC2\xA0", 2) == 0)
            start += 2;
        else
            break;
    }
    while (len > start) {
        if (nd_is_blank(s[len - 1]))
            len--;
        else if (len - start >= 2 && memcmp(s + len - 2, "\xC2\xA0", 2) == 0)
            len -= 2;
        else
            break;
    }
    size_t out = 0;
    for (size_t i = start; i < len; i++) {
        if (nd_is_blank(s[i]) && out > 0 && s[out - 1] == ' ')
            continue;
        s[out++] = nd_is_blank(s[i]) ? ' ' : s[i];
    }
    s[out] = '\0';
    return out;
}

/* True for the control characters a line may not hold (tab is white space). */
static bool is_control(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7F;
}

/*
 * Copies text (valid UTF-8, len bytes) and cuts it into lines at LF, CRLF
 * and lone CR. On ND_ERR_INVALID (a control character; err says on which
 * line) or ND_ERR_NOMEM nothing is left allocated.
 */
static enum nd_err split_lines(const char *text, size_t len, struct lines *out, char *why,
                               size_t whylen)
{
    enum nd_err rc = ND_ERR_NOMEM;
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += text[i] == '\n' || text[i] == '\r';
    char *buf = malloc(len + 1);
    struct line *v = calloc(cap, sizeof(*v));
    if (buf == NULL || v == NULL)
        goto out;
    memcpy(buf, text, len);
    buf[len] = '\0';
    size_t n = 0, i = 0;
    for (;;) {
        size_t start = i;
        while (i < len && buf[i] != '\n' && buf[i] != '\r') {
            if (is_control((unsigned char)buf[i])) {
                nd_why(why, whylen, "line %zu holds a control character (U+%04X)", n + 1,
                       (unsigned)(unsigned char)buf[i]);
                rc = ND_ERR_INVALID;
                goto out;
            }
            i++;
        }
        size_t end = i;
        if (i < len)
            i += buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n' ? 2 : 1;
        v[n].text = buf + start;
        v[n].len = tidy_line(buf + start, end - start);
        n++;
        if (end == len)
            break;
    }
    out->buf = buf;
    out->v = v;
    out->n = n;
    buf = NULL;
    v = NULL;
    rc = ND_OK;
out:
    free(buf);
    free(v);
    return rc;
}

/*
 * True when line is label, compared without regard to ASCII case, and
 * followed by nothing but optional colons (and spaces before them). When
 * rest is not NULL, "label: more text" also matches and *rest points at the
 * text after the colon.
 */
static bool match_label(const char *line, const char *label, const char **rest)
{
    size_t n = strlen(label);
    if (strncasecmp(line, label, n) != 0)
        return false;
    const char *p = line + n;
    if (*p == ' ')
        p++;
    if (*p != '\0' && *p != ':')
        return false;
    bool colon = *p == ':';
    while (*p == ':')
        p++;
    if (*p == ' ')
        p++;
    if (*p == '\0')
        return true;
    if (rest == NULL || !colon)
        return false;
    *rest = p;
    return true;
}

/* True when the line is one of the furniture labels on its own. */
static bool is_label(const struct line *l)
{
    return match_label(l->text, "source link", NULL) || match_label(l->text, "posted in", NULL) ||
           match_label(l->text, "leave a comment", NULL);
}

/* A line that can name a category: short, and not ending like a sentence. */
static bool category_like(const struct line *l)
{
    char last = l->text[l->len - 1];
    return nd_utf8_len(l->text) <= CATEGORY_LINE_MAX_CHARS && last != '.' && last != '!' &&
           last != '?';
}

/* Index of the last non-empty line in [from, end), or end when there is none. */
static size_t last_nonempty(const struct lines *ls, size_t from, size_t end)
{
    for (size_t i = end; i > from; i--)
        if (ls->v[i - 1].len > 0)
            return i - 1;
    return end;
}

/*
 * Joins the inline category of a "Posted in: X" line (inline, may be NULL)
 * and the non-empty, non-label lines in (posted, end) with ", " into a new
 * string in *category. ND_ERR_NOMEM leaves *category untouched.
 */
static enum nd_err join_categories(const struct lines *ls, const char *inline_cat, size_t posted,
                                   size_t end, char **category)
{
    size_t size = inline_cat ? strlen(inline_cat) + 3 : 1;
    for (size_t i = posted + 1; i < end; i++)
        size += ls->v[i].len + 2;
    char *cat = malloc(size);
    if (cat == NULL)
        return ND_ERR_NOMEM;
    size_t len = 0;
    if (inline_cat) {
        len = strlen(inline_cat);
        memcpy(cat, inline_cat, len);
    }
    for (size_t i = posted + 1; i < end; i++) {
        if (ls->v[i].len == 0 || is_label(&ls->v[i]))
            continue;
        if (len > 0) {
            memcpy(cat + len, ", ", 2);
            len += 2;
        }
        memcpy(cat + len, ls->v[i].text, ls->v[i].len);
        len += ls->v[i].len;
    }
    cat[len] = '\0';
    *category = cat;
    return ND_OK;
}

/*
 * Looks for "Posted in" among the last few non-empty lines of [from, end),
 * passing only category-like lines and other furniture labels. Returns the
 * index of the "Posted in" line (*inline_cat set for "Posted in: X"), or end
 * when there is none.
 */
static size_t find_posted_in(const struct lines *ls, size_t from, size_t end,
                             const char **inline_cat)
{
    unsigned seen = 0;
    size_t i = end;
    for (;;) {
        /* last_nonempty answers its bound when no line is left above: the scan
         * must stop there, or a label just below the title loops for ever */
        size_t prev = last_nonempty(ls, from, i);
        if (prev == i)
            return end;
        i = prev;
        *inline_cat = NULL;
        if (match_label(ls->v[i].text, "posted in", inline_cat))
            return *inline_cat == NULL || category_like(&ls->v[i]) ? i : end;
        if (is_label(&ls->v[i]))
            continue;
        if (++seen > CATEGORY_LINES_MAX || !category_like(&ls->v[i]))
            return end;
    }
}

/*
 * Removes the furniture at the end of the lines [from, *end): lowers *end to
 * where the body stops and sets *category to a new string ("" when the text
 * names none). ND_ERR_NOMEM leaves *category untouched.
 */
static enum nd_err take_furniture(const struct lines *ls, size_t from, size_t *end, char **category)
{
    char *cat = NULL;
    size_t stop = *end;
    for (;;) {
        size_t last = last_nonempty(ls, from, stop);
        if (last == stop)
            break;
        if (is_label(&ls->v[last])) {
            stop = last;
            continue;
        }
        if (cat != NULL)
            break;
        const char *inline_cat = NULL;
        size_t posted = find_posted_in(ls, from, stop, &inline_cat);
        if (posted == stop)
            break;
        if (join_categories(ls, inline_cat, posted, stop, &cat) != ND_OK)
            return ND_ERR_NOMEM;
        stop = posted;
    }
    if (cat == NULL)
        cat = strdup("");
    if (cat == NULL)
        return ND_ERR_NOMEM;
    *end = stop;
    *category = cat;
    return ND_OK;
}

/*
 * Takes the first non-empty line as the title and skips its repetition.
 * *body_from gets the index of the first line after them.
 */
static enum nd_err take_title(const struct lines *ls, char **title, size_t *body_from, char *why,
                              size_t whylen)
{
    size_t t = 0;
    while (t < ls->n && ls->v[t].len == 0)
        t++;
    if (t == ls->n) {
        nd_why(why, whylen, "empty file");
        return ND_ERR_INVALID;
    }
    if (nd_utf8_len(ls->v[t].text) > TITLE_MAX_CHARS) {
        nd_why(why, whylen, "the title is longer than %d characters", TITLE_MAX_CHARS);
        return ND_ERR_INVALID;
    }
    size_t next = t + 1;
    while (next < ls->n && ls->v[next].len == 0)
        next++;
    if (next < ls->n && strcmp(ls->v[next].text, ls->v[t].text) == 0)
        t = next;
    *title = strdup(ls->v[t].text);
    if (*title == NULL)
        return ND_ERR_NOMEM;
    *body_from = t + 1;
    return ND_OK;
}

/*
 * Joins the lines [from, end) into paragraphs: lines of a paragraph with
 * one space, paragraphs with a blank line. *body gets a new string.
 */
static enum nd_err join_paragraphs(const struct lines *ls, size_t from, size_t end, char **body,
                                   char *why, size_t whylen)
{
    size_t size = 1;
    for (size_t i = from; i < end; i++)
        size += ls->v[i].len + 2;
    char *text = malloc(size);
    if (text == NULL)
        return ND_ERR_NOMEM;
    size_t len = 0;
    bool gap = false; /* a blank line since the last text */
    for (size_t i = from; i < end; i++) {
        const struct line *l = &ls->v[i];
        if (l->len == 0) {
            gap = len > 0;
            continue;
        }
        if (len > 0) {
            memcpy(text + len, gap ? "\n\n" : " ", gap ? 2 : 1);
            len += gap ? 2 : 1;
        }
        gap = false;
        memcpy(text + len, l->text, l->len);
        len += l->len;
    }
    text[len] = '\0';
    enum nd_err rc = ND_ERR_INVALID;
    if (len == 0)
        nd_why(why, whylen, "no body paragraphs");
    else if (len > BODY_MAX_BYTES)
        nd_why(why, whylen, "the body is longer than 1 MiB");
    else
        rc = ND_OK;
    if (rc != ND_OK) {
        free(text);
        return rc;
    }
    *body = text;
    return ND_OK;
}

/*
 * Every allocation of the parse is owned by art until it is handed to *out;
 * on any failure it is freed here and *out is untouched.
 */
enum nd_err nd_import_parse(const char *text, size_t len, struct nd_import_article *out, char *why,
                            size_t whylen)
{
    struct lines ls = {0};
    struct nd_import_article art = {0};
    enum nd_err rc = ND_ERR_INVALID;
    if (memchr(text, '\0', len) != NULL) {
        nd_why(why, whylen, "the text holds a NUL byte");
        goto out;
    }
    if (!nd_utf8_valid(text, len)) {
        nd_why(why, whylen, "the text is not valid UTF-8");
        goto out;
    }
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    rc = split_lines(text, len, &ls, why, whylen);
    if (rc != ND_OK)
        goto out;
    size_t from = 0, end = ls.n;
    rc = take_title(&ls, &art.title, &from, why, whylen);
    if (rc != ND_OK)
        goto out;
    rc = take_furniture(&ls, from, &end, &art.category);
    if (rc != ND_OK)
        goto out;
    rc = join_paragraphs(&ls, from, end, &art.body, why, whylen);
    if (rc != ND_OK)
        goto out;
    *out = art;
    memset(&art, 0, sizeof(art));
out:
    if (rc == ND_ERR_NOMEM)
        nd_why(why, whylen, "out of memory");
    nd_import_article_fini(&art);
    free(ls.buf);
    free(ls.v);
    return rc;
}

void nd_import_article_fini(struct nd_import_article *art)
{
    if (art == NULL)
        return;
    free(art->title);
    free(art->body);
    free(art->category);
    memset(art, 0, sizeof(*art));
}

/*
 * Reads the whole file at path into a new buffer (*text, *len; the caller
 * frees it). ND_ERR_IO names the system's reason in err; a file over
 * FILE_MAX_BYTES is ND_ERR_INVALID. Reads at most one byte past the limit,
 * so a huge file or an endless device costs nothing.
 */
static enum nd_err read_file(const char *path, char **text, size_t *len, char *why, size_t whylen)
{
    enum nd_err rc = ND_ERR_IO;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        nd_why(why, whylen, "cannot open: %s", strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        nd_why(why, whylen, "cannot read: %s", strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        nd_why(why, whylen, "cannot read: %s", strerror(EISDIR));
        goto out;
    }
    rc = ND_ERR_NOMEM;
    buf = malloc(FILE_MAX_BYTES + 1);
    if (buf == NULL)
        goto out;
    size_t got = 0;
    while (got <= FILE_MAX_BYTES) {
        ssize_t r = read(fd, buf + got, FILE_MAX_BYTES + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            nd_why(why, whylen, "cannot read: %s", strerror(errno));
            rc = ND_ERR_IO;
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got > FILE_MAX_BYTES) {
        nd_why(why, whylen, "file too large (over %d MiB)", FILE_MAX_BYTES / (1024 * 1024));
        rc = ND_ERR_INVALID;
        goto out;
    }
    *text = buf;
    *len = got;
    buf = NULL;
    rc = ND_OK;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

_Static_assert(ND_IMPORT_KEY_LEN == crypto_generichash_BYTES * 2, "an import key is hex BLAKE2b");

void nd_import_key(const char *title, const char *body, char key[ND_IMPORT_KEY_LEN + 1])
{
    unsigned char hash[crypto_generichash_BYTES];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(hash));
    crypto_generichash_update(&st, (const unsigned char *)title, strlen(title));
    crypto_generichash_update(&st, (const unsigned char *)"\n\n", 2);
    crypto_generichash_update(&st, (const unsigned char *)body, strlen(body));
    crypto_generichash_final(&st, hash, sizeof(hash));
    sodium_bin2hex(key, ND_IMPORT_KEY_LEN + 1, hash, sizeof(hash));
}

/*
 * Creates the article parsed into art with import key key, published now.
 * *id gets its id.
 */
static enum nd_err create_article(struct nd_store *store, const struct nd_import_article *art,
                                  const char *key, int64_t *id)
{
    enum nd_err rc = ND_ERR_NOMEM;
    json_t *created = NULL;
    char *slug = nd_slug_from_title(art->title);
    char *summary = nd_summary_from_body(art->body);
    if (slug == NULL || summary == NULL)
        goto out;
    struct nd_article_fields f = {
        .slug = slug,
        .slug_derived = true,
        .title = art->title,
        .summary = summary,
        .body = art->body,
        .author = "",
        .category = art->category,
        .tags = NULL,
        .ntags = 0,
        .source_url = NULL,
        .draft = false,
        .published_at = nd_time_now(),
        .import_key = key,
    };
    rc = nd_store_article_create(store, &f, &created);
    if (rc != ND_OK)
        goto out;
    *id = (int64_t)json_integer_value(json_object_get(created, "id"));
out:
    json_decref(created);
    free(slug);
    free(summary);
    return rc;
}

/*
 * store is borrowed. *outcome and *id are written only on ND_OK; err says
 * what went wrong otherwise (without the path, which the caller prints).
 * Store failures are logged by the store; nothing is logged here.
 */
enum nd_err nd_import_file(struct nd_store *store, const char *path,
                           enum nd_import_outcome *outcome, int64_t *id, char *why, size_t whylen)
{
    char *text = NULL;
    size_t len = 0;
    struct nd_import_article art = {0};
    char key[ND_IMPORT_KEY_LEN + 1];
    enum nd_import_outcome result = ND_IMPORT_EXISTING;
    int64_t found = 0;
    enum nd_err rc = ND_ERR_NOMEM;
    if (sodium_init() < 0) {
        nd_why(why, whylen, "cannot initialise libsodium");
        goto out;
    }
    rc = read_file(path, &text, &len, why, whylen);
    if (rc != ND_OK)
        goto out;
    /* JSON or XML is never an article's text (nd_import_detect says why) */
    enum nd_import_format format = ND_IMPORT_TEXT;
    rc = nd_import_detect(text, len, true, &format, why, whylen);
    if (rc == ND_OK && format != ND_IMPORT_TEXT) {
        nd_why(why, whylen, "this is %s, not a plain-text article",
               format == ND_IMPORT_XML ? "XML" : "a file of JSON lines");
        rc = ND_ERR_INVALID;
    }
    if (rc != ND_OK)
        goto out;
    rc = nd_import_parse(text, len, &art, why, whylen);
    if (rc != ND_OK)
        goto out;
    nd_import_key(art.title, art.body, key);
    rc = nd_store_article_find_import(store, key, &found);
    if (rc == ND_ERR_NOT_FOUND) {
        result = ND_IMPORT_CREATED;
        rc = create_article(store, &art, key, &found);
        /* another importer may have stored the same text a moment ago */
        if (rc == ND_ERR_CONFLICT && nd_store_article_find_import(store, key, &found) == ND_OK) {
            result = ND_IMPORT_EXISTING;
            rc = ND_OK;
        }
    }
    if (rc != ND_OK) {
        nd_why(why, whylen, "cannot store the article: %s", nd_err_str(rc));
        goto out;
    }
    *outcome = result;
    *id = found;
out:
    free(text);
    nd_import_article_fini(&art);
    return rc;
}
