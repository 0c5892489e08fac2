/*
 * import_wxr.c: reading a WordPress export (WXR 1.0 to 1.2) as a stream.
 *
 * libxml2's xmlTextReader walks the file node by node and frees what it has
 * passed, so an export of any size costs the memory of one <item> (its
 * fields and comments), never of the file. The parser runs with
 * XML_PARSE_NONET and without XML_PARSE_NOENT or XML_PARSE_DTDLOAD: it loads
 * nothing from the network or the disk and substitutes no entity. WordPress
 * never writes a DOCTYPE, so a file that has one is refused the moment the
 * reader meets it: no declared entity is ever used, and an external subset
 * or a SYSTEM URL is never fetched.
 *
 * Elements are matched by namespace URI and local name, not by prefix: the
 * "wp" namespace is http://wordpress.org/export/1.N/ (the WXR version's),
 * content, dc and excerpt are fixed URIs. The reader knows where it is by
 * the depth of each element: <rss> 0, <channel> 1, the channel's children
 * 2 (wp:wxr_version, wp:base_blog_url, wp:author, item), an item's children
 * 3, a comment's or an author's children 4. The text of an element of
 * interest (text and CDATA nodes) is gathered into a capped buffer per
 * field; at the end of an <item>, import_wxr_post.c stores it.
 *
 * Every write of the file happens inside one batch (one transaction); any
 * error before the end of the document rolls it all back.
 */
#include <errno.h>
#include <fcntl.h>
#include <libxml/parser.h>
#include <libxml/xmlreader.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "import_wxr_internal.h"
#include "newsd/buf.h"
#include "newsd/util.h"

/* A post body's HTML may be this large (libxml2 refuses text nodes over 10 MB). */
#define CONTENT_MAX (8 * 1024 * 1024)
#define FIELD_MAX (64 * 1024)
#define COMMENTS_MAX 100000 /* per post */

#define NS_WP "http://wordpress.org/export/"
#define NS_CONTENT "http://purl.org/rss/1.0/modules/content/"
#define NS_DC "http://purl.org/dc/elements/1.1/"

enum ns { NS_NONE, NS_WP_, NS_EXCERPT_, NS_CONTENT_, NS_DC_, NS_OTHER };

/* Where an element is: what its parent element is. */
enum place { IN_CHANNEL, IN_ITEM, IN_COMMENT, IN_AUTHOR };

enum field {
    F_WXR_VERSION,
    F_BLOG_URL,
    F_CHANNEL_LINK,
    F_AUTHOR_LOGIN,
    F_AUTHOR_NAME,
    F_TITLE,
    F_LINK,
    F_CREATOR,
    F_CONTENT,
    F_EXCERPT,
    F_POST_ID,
    F_POST_DATE,
    F_POST_DATE_GMT,
    F_POST_NAME,
    F_STATUS,
    F_POST_TYPE,
    F_POST_PASSWORD,
    F_CATEGORY,
    F_C_ID,
    F_C_PARENT,
    F_C_AUTHOR,
    F_C_CONTENT,
    F_C_DATE,
    F_C_DATE_GMT,
    F_C_APPROVED,
    F_C_TYPE,
    F_COUNT,
    F_NONE = F_COUNT,
};

/* The elements read, by place, namespace and local name. */
static const struct {
    enum place place;
    enum ns ns;
    const char *name;
    enum field field;
} elements[] = {
    {IN_CHANNEL, NS_WP_, "wxr_version", F_WXR_VERSION},
    {IN_CHANNEL, NS_WP_, "base_blog_url", F_BLOG_URL},
    {IN_CHANNEL, NS_NONE, "link", F_CHANNEL_LINK},
    {IN_AUTHOR, NS_WP_, "author_login", F_AUTHOR_LOGIN},
    {IN_AUTHOR, NS_WP_, "author_display_name", F_AUTHOR_NAME},
    {IN_ITEM, NS_NONE, "title", F_TITLE},
    {IN_ITEM, NS_NONE, "link", F_LINK},
    {IN_ITEM, NS_DC_, "creator", F_CREATOR},
    {IN_ITEM, NS_CONTENT_, "encoded", F_CONTENT},
    {IN_ITEM, NS_EXCERPT_, "encoded", F_EXCERPT},
    {IN_ITEM, NS_WP_, "post_id", F_POST_ID},
    {IN_ITEM, NS_WP_, "post_date", F_POST_DATE},
    {IN_ITEM, NS_WP_, "post_date_gmt", F_POST_DATE_GMT},
    {IN_ITEM, NS_WP_, "post_name", F_POST_NAME},
    {IN_ITEM, NS_WP_, "status", F_STATUS},
    {IN_ITEM, NS_WP_, "post_type", F_POST_TYPE},
    {IN_ITEM, NS_WP_, "post_password", F_POST_PASSWORD},
    {IN_ITEM, NS_NONE, "category", F_CATEGORY},
    {IN_COMMENT, NS_WP_, "comment_id", F_C_ID},
    {IN_COMMENT, NS_WP_, "comment_parent", F_C_PARENT},
    {IN_COMMENT, NS_WP_, "comment_author", F_C_AUTHOR},
    {IN_COMMENT, NS_WP_, "comment_content", F_C_CONTENT},
    {IN_COMMENT, NS_WP_, "comment_date", F_C_DATE},
    {IN_COMMENT, NS_WP_, "comment_date_gmt", F_C_DATE_GMT},
    {IN_COMMENT, NS_WP_, "comment_approved", F_C_APPROVED},
    {IN_COMMENT, NS_WP_, "comment_type", F_C_TYPE},
};

struct reader {
    xmlTextReaderPtr xr;
    struct wxr_import *im;
    struct nd_buf fields[F_COUNT];
    enum field field; /* gathering the text of this field, or F_NONE */
    int field_depth;
    bool in_channel, in_item, in_comment, in_author;
    bool versioned; /* wp:wxr_version was read */
    const char *too_long;
    char *category_domain; /* the attributes of the <category> being read */
    char *category_nicename;
    json_t *categories, *tags, *authors;
    struct wxr_comment *comments;
    size_t ncomments, comments_cap;
    unsigned long item_line, comment_line;
    char *error; /* the first error libxml2 reported, or NULL */
    int error_line;
    char *why; /* the caller's why and whylen */
    size_t whylen;
};

static void fail(struct reader *r, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Says why the import stops, after the line when it is known, in the caller's why. */
static void fail(struct reader *r, unsigned long line, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (line > 0)
        nd_why(r->why, r->whylen, "line %lu: %s", line, reason);
    else
        nd_why(r->why, r->whylen, "%s", reason);
}

/* Keeps the first error libxml2 reports (it would print to stderr otherwise). */
static void on_xml_error(void *arg, xmlErrorPtr error)
{
    struct reader *r = arg;
    if (r->error || !error || error->level < XML_ERR_ERROR)
        return;
    r->error = strdup(error->message ? error->message : "not well-formed");
    r->error_line = error->line;
    size_t len = r->error ? strlen(r->error) : 0;
    while (len > 0 && (r->error[len - 1] == '\n' || r->error[len - 1] == ' '))
        r->error[--len] = '\0';
}

/* The line of the node the reader is on (the parser's line when unknown). */
static unsigned long node_line(struct reader *r)
{
    xmlNodePtr node = xmlTextReaderCurrentNode(r->xr);
    long line = node ? xmlGetLineNo(node) : -1;
    if (line <= 0)
        line = xmlTextReaderGetParserLineNumber(r->xr);
    return line > 0 ? (unsigned long)line : 0;
}

static enum ns ns_of(const char *uri)
{
    size_t len = uri ? strlen(uri) : 0;
    if (!uri || len == 0)
        return NS_NONE;
    if (strncmp(uri, NS_WP, strlen(NS_WP)) == 0)
        return len > 9 && strcmp(uri + len - 9, "/excerpt/") == 0 ? NS_EXCERPT_ : NS_WP_;
    if (strcmp(uri, NS_CONTENT) == 0)
        return NS_CONTENT_;
    if (strcmp(uri, NS_DC) == 0)
        return NS_DC_;
    return NS_OTHER;
}

static enum field field_of(enum place place, enum ns ns, const char *name)
{
    for (size_t i = 0; i < sizeof elements / sizeof elements[0]; i++)
        if (elements[i].place == place && elements[i].ns == ns &&
            strcmp(elements[i].name, name) == 0)
            return elements[i].field;
    return F_NONE;
}

static const char *text_of(struct reader *r, enum field f)
{
    return nd_buf_str(&r->fields[f]);
}

static void clear_fields(struct reader *r, enum field from, enum field to)
{
    for (int f = from; f <= (int)to; f++)
        nd_buf_reset(&r->fields[f]);
}

static void free_comments(struct reader *r)
{
    for (size_t i = 0; i < r->ncomments; i++) {
        struct wxr_comment *c = &r->comments[i];
        free(c->author);
        free(c->content);
        free(c->date_gmt);
        free(c->date);
        free(c->approved);
        free(c->type);
    }
    r->ncomments = 0;
}

/* The WordPress id in text, 0 when it is not one. */
static int64_t wp_id(const char *text)
{
    int64_t id = 0;
    return nd_parse_id(text, &id) ? id : 0;
}

/* Keeps the comment whose fields were just read. */
static enum nd_err end_comment(struct reader *r)
{
    if (r->ncomments == COMMENTS_MAX) {
        r->too_long = "wp:comment (more than 100,000 in one post)";
        return ND_OK;
    }
    if (r->ncomments == r->comments_cap) {
        size_t cap = r->comments_cap ? r->comments_cap * 2 : 16;
        struct wxr_comment *grown = realloc(r->comments, cap * sizeof *grown);
        if (!grown)
            return ND_ERR_NOMEM;
        r->comments = grown;
        r->comments_cap = cap;
    }
    struct wxr_comment c = {
        .line = r->comment_line,
        .id = wp_id(text_of(r, F_C_ID)),
        .parent = wp_id(text_of(r, F_C_PARENT)),
        .author = strdup(text_of(r, F_C_AUTHOR)),
        .content = strdup(text_of(r, F_C_CONTENT)),
        .date_gmt = strdup(text_of(r, F_C_DATE_GMT)),
        .date = strdup(text_of(r, F_C_DATE)),
        .approved = strdup(text_of(r, F_C_APPROVED)),
        .type = strdup(text_of(r, F_C_TYPE)),
    };
    r->comments[r->ncomments++] = c; /* owned now, freed with the others */
    clear_fields(r, F_C_ID, F_C_TYPE);
    if (!c.author || !c.content || !c.date_gmt || !c.date || !c.approved || !c.type)
        return ND_ERR_NOMEM;
    return ND_OK;
}

/* Hands the item just read to the store side, then forgets it. */
static enum nd_err end_item(struct reader *r)
{
    struct wxr_item item = {
        .line = r->item_line,
        .title = text_of(r, F_TITLE),
        .link = text_of(r, F_LINK),
        .creator = text_of(r, F_CREATOR),
        .content = text_of(r, F_CONTENT),
        .excerpt = text_of(r, F_EXCERPT),
        .post_id = text_of(r, F_POST_ID),
        .post_date = text_of(r, F_POST_DATE),
        .post_date_gmt = text_of(r, F_POST_DATE_GMT),
        .post_name = text_of(r, F_POST_NAME),
        .status = text_of(r, F_STATUS),
        .post_type = text_of(r, F_POST_TYPE),
        .post_password = text_of(r, F_POST_PASSWORD),
        .too_long = r->too_long,
        .categories = r->categories,
        .tags = r->tags,
        .comments = r->comments,
        .ncomments = r->ncomments,
    };
    enum nd_err err = nd_wxr_item_import(r->im, &item);
    clear_fields(r, F_TITLE, F_C_TYPE);
    json_array_clear(r->categories);
    json_array_clear(r->tags);
    free_comments(r);
    r->too_long = NULL;
    return err;
}

/* Adds the <category> just read to the item's categories or tags. */
static enum nd_err end_category(struct reader *r)
{
    const char *domain = r->category_domain ? r->category_domain : "";
    const char *name = text_of(r, F_CATEGORY);
    json_t *list = NULL;
    /* WXR 1.0 writes each category twice, once without domain and nicename */
    if (strcmp(domain, "category") == 0 || domain[0] == '\0')
        list = r->categories;
    else if (strcmp(domain, "post_tag") == 0 || strcmp(domain, "tag") == 0)
        list = r->tags;
    /* WordPress's default category: a post "in" it has none */
    if (list == r->categories && r->category_nicename &&
        strcmp(r->category_nicename, "uncategorized") == 0)
        list = NULL;
    enum nd_err err = ND_OK;
    if (list && name[0] != '\0' && json_array_append_new(list, json_string(name)) != 0)
        err = ND_ERR_NOMEM;
    nd_buf_reset(&r->fields[F_CATEGORY]);
    return err;
}

/* Adds the channel's wp:author just read to the login -> name map. */
static enum nd_err end_author(struct reader *r)
{
    const char *login = text_of(r, F_AUTHOR_LOGIN), *name = text_of(r, F_AUTHOR_NAME);
    enum nd_err err = ND_OK;
    if (login[0] != '\0' && name[0] != '\0' &&
        json_object_set_new(r->authors, login, json_string(name)) != 0)
        err = ND_ERR_NOMEM;
    clear_fields(r, F_AUTHOR_LOGIN, F_AUTHOR_NAME);
    return err;
}

/* Checks wp:wxr_version once read: 1.0, 1.1 or 1.2. */
static enum nd_err end_version(struct reader *r)
{
    const char *v = text_of(r, F_WXR_VERSION);
    if (strcmp(v, "1.0") != 0 && strcmp(v, "1.1") != 0 && strcmp(v, "1.2") != 0) {
        fail(r, node_line(r),
             "this is WXR version \"%.20s\"; newsd reads WordPress exports of WXR 1.0, 1.1 and "
             "1.2",
             v);
        return ND_ERR_INVALID;
    }
    r->versioned = true;
    r->im->stats.version = (unsigned)(v[2] - '0');
    return ND_OK;
}

/* The element whose text was gathered ends. */
static enum nd_err end_field(struct reader *r)
{
    enum field f = r->field;
    r->field = F_NONE;
    switch (f) {
    case F_WXR_VERSION:
        return end_version(r);
    case F_BLOG_URL:
    case F_CHANNEL_LINK:
        r->im->site =
            text_of(r, F_BLOG_URL)[0] ? text_of(r, F_BLOG_URL) : text_of(r, F_CHANNEL_LINK);
        return ND_OK;
    case F_CATEGORY:
        return end_category(r);
    default:
        return ND_OK;
    }
}

/* Reads the attributes of a <category> (an item's categories and tags). */
static enum nd_err start_category(struct reader *r)
{
    xmlFree(r->category_domain);
    xmlFree(r->category_nicename);
    r->category_domain = (char *)xmlTextReaderGetAttribute(r->xr, BAD_CAST "domain");
    r->category_nicename = (char *)xmlTextReaderGetAttribute(r->xr, BAD_CAST "nicename");
    return ND_OK;
}

/* An element at the top (<rss>) or just under it (<channel>). */
static enum nd_err start_outer(struct reader *r, int depth, const char *name, enum ns ns)
{
    if (depth == 0 && (ns != NS_NONE || strcmp(name, "rss") != 0)) {
        fail(r, node_line(r),
             "this XML is not a WordPress export: its root element is <%.60s>, where a "
             "WordPress export (WXR) has <rss>",
             name);
        return ND_ERR_INVALID;
    }
    if (depth == 1 && ns == NS_NONE && strcmp(name, "channel") == 0)
        r->in_channel = true;
    return ND_OK;
}

/* An element inside <channel>: starts an item, an author or a field. */
static enum nd_err start_element(struct reader *r, int depth, const char *name, enum ns ns,
                                 bool empty)
{
    enum place place = IN_CHANNEL;
    if (depth <= 1 || !r->in_channel)
        return depth <= 1 ? start_outer(r, depth, name, ns) : ND_OK;
    if (depth == 2 && ns == NS_NONE && strcmp(name, "item") == 0) {
        if (!r->versioned) {
            fail(r, node_line(r),
                 "this is not a WordPress export: an <item> comes before any <wp:wxr_version> "
                 "(an RSS feed is not an export: use Tools -> Export in WordPress)");
            return ND_ERR_INVALID;
        }
        r->in_item = !empty;
        r->item_line = node_line(r);
        return empty ? end_item(r) : ND_OK;
    }
    if (depth == 2 && ns == NS_WP_ && strcmp(name, "author") == 0) {
        r->in_author = !empty;
        return ND_OK;
    }
    if (depth == 3 && r->in_item && ns == NS_WP_ && strcmp(name, "comment") == 0) {
        r->in_comment = !empty;
        r->comment_line = node_line(r);
        return empty ? end_comment(r) : ND_OK;
    }
    if (depth == 3)
        place = r->in_item ? IN_ITEM : r->in_author ? IN_AUTHOR : IN_CHANNEL;
    else if (depth == 4)
        place = r->in_comment ? IN_COMMENT : r->in_author ? IN_AUTHOR : IN_CHANNEL;
    if ((depth == 3 && !r->in_item && !r->in_author) || (depth == 4 && !r->in_comment) || depth > 4)
        return ND_OK;
    if (depth == 4 && !r->in_item)
        return ND_OK;
    enum field f = field_of(place, ns, name);
    if (f == F_NONE)
        return ND_OK;
    nd_buf_reset(&r->fields[f]);
    enum nd_err err = f == F_CATEGORY ? start_category(r) : ND_OK;
    r->field = f;
    r->field_depth = depth;
    return empty && err == ND_OK ? end_field(r) : err;
}

/* An element ends: a field, a comment, an item, an author, the channel. */
static enum nd_err end_element(struct reader *r, int depth)
{
    if (r->field != F_NONE && depth == r->field_depth)
        return end_field(r);
    if (depth == 3 && r->in_comment) {
        r->in_comment = false;
        return end_comment(r);
    }
    if (depth == 2 && r->in_item) {
        r->in_item = false;
        return end_item(r);
    }
    if (depth == 2 && r->in_author) {
        r->in_author = false;
        return end_author(r);
    }
    if (depth == 1)
        r->in_channel = false;
    return ND_OK;
}

/* Text or CDATA inside a field: gathered, up to the field's limit. */
static void add_text(struct reader *r)
{
    const char *value = (const char *)xmlTextReaderConstValue(r->xr);
    if (r->field == F_NONE || !value)
        return;
    enum nd_err err = nd_buf_append_str(&r->fields[r->field], value);
    if (err == ND_ERR_LIMIT && !r->too_long)
        r->too_long = r->field == F_CONTENT ? "content:encoded" : "an element";
    else if (err == ND_ERR_NOMEM)
        r->too_long = "an element (out of memory)";
}

/* Acts on the node the reader is on. */
static enum nd_err on_node(struct reader *r)
{
    int type = xmlTextReaderNodeType(r->xr);
    int depth = xmlTextReaderDepth(r->xr);
    switch (type) {
    case XML_READER_TYPE_DOCUMENT_TYPE:
        /* no line: libxml2 keeps none for a DTD, and its parser is ahead */
        fail(r, 0,
             "the file declares a document type (<!DOCTYPE ...>), which no WordPress export "
             "has; newsd does not read one, so that no entity reaches the network or expands "
             "without bound");
        return ND_ERR_INVALID;
    case XML_READER_TYPE_ELEMENT: {
        const char *name = (const char *)xmlTextReaderConstLocalName(r->xr);
        enum ns ns = ns_of((const char *)xmlTextReaderConstNamespaceUri(r->xr));
        return start_element(r, depth, name ? name : "", ns, xmlTextReaderIsEmptyElement(r->xr));
    }
    case XML_READER_TYPE_END_ELEMENT:
        return end_element(r, depth);
    case XML_READER_TYPE_TEXT:
    case XML_READER_TYPE_CDATA:
    case XML_READER_TYPE_WHITESPACE:
    case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
        add_text(r);
        return ND_OK;
    default:
        return ND_OK;
    }
}

/* Reads every node; ND_ERR_INVALID (r->why set) for a broken or foreign file. */
static enum nd_err read_all(struct reader *r)
{
    enum nd_err err = ND_OK;
    int rc;
    while (err == ND_OK && (rc = xmlTextReaderRead(r->xr)) == 1)
        err = on_node(r);
    if (err != ND_OK)
        return err;
    if (rc < 0 || r->error) {
        fail(r, r->error_line > 0 ? (unsigned long)r->error_line : node_line(r),
             "the file is not well-formed XML: %s", r->error ? r->error : "unreadable");
        return ND_ERR_INVALID;
    }
    if (!r->versioned) {
        fail(r, 0,
             "this XML is not a WordPress export: it has no <wp:wxr_version> in an "
             "<rss><channel>");
        return ND_ERR_INVALID;
    }
    return ND_OK;
}

static void reader_fini(struct reader *r)
{
    for (int f = 0; f < F_COUNT; f++)
        nd_buf_free(&r->fields[f]);
    free_comments(r);
    free(r->comments);
    xmlFree(r->category_domain);
    xmlFree(r->category_nicename);
    json_decref(r->categories);
    json_decref(r->tags);
    json_decref(r->authors);
    free(r->error);
    if (r->xr)
        xmlFreeTextReader(r->xr);
}

/*
 * Runs the import with xr (taken: freed here) inside one batch. why gets
 * the reason of any failure.
 */
static enum nd_err run(struct nd_store *store, xmlTextReaderPtr xr, nd_import_refusal_fn refused,
                       void *ctx, struct nd_import_wxr_stats *stats, char *why, size_t whylen)
{
    struct wxr_import im = {
        .store = store, .now = nd_time_now(), .site = "", .refusal = refused, .ctx = ctx};
    struct reader r = {.xr = xr, .im = &im, .field = F_NONE, .why = why, .whylen = whylen};
    enum nd_err rc = ND_ERR_NOMEM;
    bool batch = false;
    for (int f = 0; f < F_COUNT; f++)
        nd_buf_init(&r.fields[f], f == F_CONTENT ? CONTENT_MAX : FIELD_MAX);
    r.categories = json_array();
    r.tags = json_array();
    r.authors = json_object();
    im.authors = r.authors;
    if (!xr || !r.categories || !r.tags || !r.authors) {
        fail(&r, 0, "out of memory");
        goto out;
    }
    xmlTextReaderSetStructuredErrorHandler(xr, on_xml_error, &r);
    rc = nd_store_batch_begin(store);
    if (rc != ND_OK) {
        fail(&r, 0, "cannot start writing to the database: %s", nd_err_str(rc));
        goto out;
    }
    batch = true;
    rc = read_all(&r);
    if (rc != ND_OK && rc != ND_ERR_INVALID)
        fail(&r, node_line(&r), "stopped: %s", nd_err_str(rc));
out:
    if (batch) {
        enum nd_err end = nd_store_batch_end(store, rc == ND_OK);
        if (rc == ND_OK && end != ND_OK) {
            fail(&r, 0, "cannot commit the import: %s", nd_err_str(end));
            rc = end;
        }
    }
    reader_fini(&r);
    if (stats) {
        memset(stats, 0, sizeof *stats);
        if (rc == ND_OK)
            *stats = im.stats;
    }
    return rc;
}

/* No network, no entity substitution, no DTD loading or validation. */
#define READER_OPTIONS XML_PARSE_NONET

enum nd_err nd_import_wxr(struct nd_store *store, const char *xml, size_t len,
                          nd_import_refusal_fn refused, void *ctx,
                          struct nd_import_wxr_stats *stats, char *why, size_t whylen)
{
    if (len > INT_MAX) {
        nd_why(why, whylen, "the file is too large for one import (over 2 GiB)");
        if (stats)
            memset(stats, 0, sizeof *stats);
        return ND_ERR_INVALID;
    }
    xmlInitParser();
    xmlTextReaderPtr xr = xmlReaderForMemory(xml, (int)len, NULL, NULL, READER_OPTIONS);
    return run(store, xr, refused, ctx, stats, why, whylen);
}

enum nd_err nd_import_wxr_file(struct nd_store *store, const char *path,
                               nd_import_refusal_fn refused, void *ctx,
                               struct nd_import_wxr_stats *stats, char *why, size_t whylen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        nd_why(why, whylen, "cannot open: %s", strerror(errno));
        if (stats)
            memset(stats, 0, sizeof *stats);
        return ND_ERR_IO;
    }
    xmlInitParser();
    /* the reader reads fd but leaves it open: closed here */
    xmlTextReaderPtr xr = xmlReaderForFd(fd, NULL, NULL, READER_OPTIONS);
    enum nd_err rc = run(store, xr, refused, ctx, stats, why, whylen);
    close(fd);
    return rc;
}
