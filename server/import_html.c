/*
 * import_html.c: the text of the HTML that WordPress stores (post bodies,
 * excerpts, comments, and titles and names, which WordPress also prints as
 * HTML), for the WordPress importer.
 *
 * The HTML is parsed by libxml2's HTML parser, not by a second library and
 * not by hand. libxml2 is already linked for the export's XML, so it costs
 * no new dependency; it decodes the HTML 4 named entities (every one
 * WordPress writes: &nbsp; &hellip; &rsquo; &mdash;...) and numeric ones,
 * and it recovers from broken markup. Google's gumbo (a full HTML5 parser,
 * Debian's libgumbo-dev) was the other choice: its HTML5-only entity names
 * and tree-building fine points change nothing in the text of a WordPress
 * post, and its upstream is no longer maintained. The parser never touches
 * the network (HTML_PARSE_NONET) and HTML declares no entities of its own,
 * so a body cannot make it fetch or expand anything.
 *
 * The tree is walked without recursion (next, children and parent links),
 * so no nesting depth can exhaust the stack; libxml2 itself gives up on
 * elements nested deeper than 256 levels, which is refused rather than
 * taken as an empty text. Blocks (p, div, h1..h6, li,
 * blockquote, figure...) become paragraphs separated by a blank line; br a
 * line break; list items start with "- " or their number; script, style and
 * similar are left out, and so are comments (the block editor's
 * <!-- wp:paragraph --> markers). White space runs fold to one space, and
 * U+00A0 counts as white space (a lone &nbsp; in a <p> is how WordPress
 * writes an empty paragraph). Content written without block markers is read
 * the way WordPress shows it (its wpautop filter): a blank line in the text
 * starts a paragraph and a single line break is kept.
 */
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "newsd/buf.h"
#include "newsd/import.h"

/* What separates the next word from the text before it; the strongest wins. */
enum gap { GAP_NONE, GAP_SPACE, GAP_LINE, GAP_PARAGRAPH };

#define LIST_DEPTH_MAX 16

struct html_text {
    struct nd_buf out;
    enum gap gap;
    bool one_line; /* every gap is a space */
    bool autop;    /* line breaks in text are breaks (no block markers) */
    bool at_mark;  /* a list item's mark was just written: its text follows on the line */
    /* the next number of each open <ol> (0 for <ul>), innermost last */
    unsigned lists[LIST_DEPTH_MAX];
    unsigned nlists;
};

/* Elements that are paragraphs (or hold them). */
static const char *const block_names[] = {
    "address", "article",    "aside",   "blockquote", "dd",    "details", "div", "dl",
    "dt",      "figcaption", "figure",  "footer",     "h1",    "h2",      "h3",  "h4",
    "h5",      "h6",         "header",  "hr",         "li",    "main",    "nav", "ol",
    "p",       "pre",        "section", "summary",    "table", "tr",      "ul",
};

/* Elements whose content is no text of the post. */
static const char *const skipped_names[] = {
    "audio",  "button", "canvas", "embed", "head",     "iframe",   "noscript", "object",
    "script", "select", "style",  "svg",   "template", "textarea", "title",    "video",
};

static bool named(const xmlNode *node, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp((const char *)node->name, names[i]) == 0)
            return true;
    return false;
}

static bool is_block(const xmlNode *node)
{
    return named(node, block_names, sizeof block_names / sizeof block_names[0]);
}

static bool is_skipped(const xmlNode *node)
{
    return named(node, skipped_names, sizeof skipped_names / sizeof skipped_names[0]);
}

static void want_gap(struct html_text *ht, enum gap gap)
{
    if (ht->at_mark)
        return;
    if (ht->one_line && gap > GAP_SPACE)
        gap = GAP_SPACE;
    if (gap > ht->gap)
        ht->gap = gap;
}

/* Writes the gap owed before a word; none at the very start. */
static enum nd_err put_gap(struct html_text *ht)
{
    static const char *const seps[] = {"", " ", "\n", "\n\n"};
    enum gap gap = ht->gap;
    ht->gap = GAP_NONE;
    if (ht->out.len == 0)
        return ND_OK;
    return nd_buf_append_str(&ht->out, seps[gap]);
}

static enum nd_err put_word(struct html_text *ht, const char *word, size_t len)
{
    enum nd_err err = put_gap(ht);
    ht->at_mark = false;
    return err == ND_OK ? nd_buf_append(&ht->out, word, len) : err;
}

/*
 * The length of the white space at s (n bytes left): ASCII white space or
 * U+00A0. *newlines counts the line breaks in it (CRLF once).
 */
static size_t space_at(const char *s, size_t n, unsigned *newlines)
{
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c == '\n' || (c == '\r' && (i + 1 == n || s[i + 1] != '\n')))
            ++*newlines;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
            i++;
        else if (n - i >= 2 && memcmp(s + i, "\xC2\xA0", 2) == 0)
            i += 2;
        else
            break;
    }
    return i;
}

/* Control characters that text may not hold; white space is handled before. */
static bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7F;
}

/* Adds the text of a text node: words, and gaps for its white space. */
static enum nd_err put_text(struct html_text *ht, const char *s)
{
    size_t n = strlen(s), i = 0;
    enum nd_err err = ND_OK;
    while (i < n && err == ND_OK) {
        unsigned newlines = 0;
        size_t space = space_at(s + i, n - i, &newlines);
        if (space > 0) {
            enum gap gap = GAP_SPACE;
            if (ht->autop && newlines >= 2)
                gap = GAP_PARAGRAPH;
            else if (ht->autop && newlines == 1)
                gap = GAP_LINE;
            want_gap(ht, gap);
            i += space;
            continue;
        }
        size_t start = i;
        unsigned ignored = 0;
        while (i < n && space_at(s + i, n - i, &ignored) == 0 && !is_control((unsigned char)s[i]))
            i++;
        if (i > start)
            err = put_word(ht, s + start, i - start);
        else
            i++; /* a control character: dropped */
    }
    return err;
}

/* Starts a list item: "- ", or its number in an ordered list. */
static enum nd_err put_item_mark(struct html_text *ht)
{
    char mark[16] = "- ";
    /* lists nested past LIST_DEPTH_MAX are counted but not tracked: their items get "- " */
    if (ht->nlists > 0 && ht->nlists <= LIST_DEPTH_MAX && ht->lists[ht->nlists - 1] > 0)
        snprintf(mark, sizeof mark, "%u. ", ht->lists[ht->nlists - 1]++);
    enum nd_err err = put_gap(ht);
    if (err == ND_OK)
        err = nd_buf_append_str(&ht->out, mark);
    ht->at_mark = err == ND_OK;
    return err;
}

/* Entering node. *descend: whether its children are read. */
static enum nd_err enter(struct html_text *ht, const xmlNode *node, bool *descend)
{
    *descend = false;
    if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE)
        return node->content ? put_text(ht, (const char *)node->content) : ND_OK;
    if (node->type != XML_ELEMENT_NODE || is_skipped(node))
        return ND_OK;
    *descend = true;
    const char *name = (const char *)node->name;
    if (strcasecmp(name, "br") == 0) {
        want_gap(ht, GAP_LINE);
        return ND_OK;
    }
    if (strcasecmp(name, "td") == 0 || strcasecmp(name, "th") == 0) {
        want_gap(ht, GAP_SPACE);
        return ND_OK;
    }
    if (strcasecmp(name, "ol") == 0 || strcasecmp(name, "ul") == 0) {
        if (ht->nlists < LIST_DEPTH_MAX)
            ht->lists[ht->nlists] = strcasecmp(name, "ol") == 0 ? 1 : 0;
        ht->nlists++;
    }
    if (!is_block(node))
        return ND_OK;
    /* items of one list are lines of one paragraph; the list is a paragraph */
    bool item = strcasecmp(name, "li") == 0 && ht->nlists > 0;
    want_gap(ht, item && ht->gap != GAP_PARAGRAPH && ht->out.len > 0 ? GAP_LINE : GAP_PARAGRAPH);
    return item && !ht->one_line ? put_item_mark(ht) : ND_OK;
}

/* Leaving an element whose children were read. */
static void leave(struct html_text *ht, const xmlNode *node)
{
    if (node->type != XML_ELEMENT_NODE)
        return;
    const char *name = (const char *)node->name;
    if ((strcasecmp(name, "ol") == 0 || strcasecmp(name, "ul") == 0) && ht->nlists > 0)
        ht->nlists--;
    if (strcasecmp(name, "li") == 0) {
        ht->at_mark = false; /* an empty item: the next starts a line of its own */
        want_gap(ht, GAP_LINE);
    } else if (is_block(node))
        want_gap(ht, GAP_PARAGRAPH);
}

/* Walks the tree under top, in document order, without recursion. */
static enum nd_err walk(struct html_text *ht, const xmlNode *top)
{
    const xmlNode *node = top->children;
    enum nd_err err = ND_OK;
    while (node && err == ND_OK) {
        bool descend = false;
        err = enter(ht, node, &descend);
        if (descend && node->children) {
            node = node->children;
            continue;
        }
        while (node) {
            if (descend)
                leave(ht, node);
            descend = true; /* every ancestor was entered with its children */
            if (node->next) {
                node = node->next;
                break;
            }
            node = node->parent;
            if (node == top)
                node = NULL;
        }
    }
    return err;
}

enum nd_err nd_import_html_text(const char *html, size_t len, bool one_line, size_t max, char **out)
{
    struct html_text ht = {.one_line = one_line};
    htmlParserCtxtPtr ctxt = NULL;
    htmlDocPtr doc = NULL;
    enum nd_err err = ND_ERR_NOMEM;
    nd_buf_init(&ht.out, max);
    if (len > INT_MAX) {
        err = ND_ERR_LIMIT;
        goto out;
    }
    if (len > 0) {
        /* block markers mean the block editor wrote it: no wpautop */
        ht.autop = memmem(html, len, "<!-- wp:", 8) == NULL;
        ctxt = htmlNewParserCtxt();
        if (!ctxt)
            goto out;
        doc = htmlCtxtReadMemory(ctxt, html, (int)len, NULL, "UTF-8",
                                 HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                     HTML_PARSE_NODEFDTD);
        if (!doc)
            goto out;
        /* past 256 levels libxml2 stops and keeps nothing: say so, lose nothing silently */
        if (ctxt->errNo == XML_ERR_INTERNAL_ERROR) {
            err = ND_ERR_INVALID;
            goto out;
        }
        err = walk(&ht, (const xmlNode *)doc);
        if (err != ND_OK)
            goto out;
    }
    char *text = nd_buf_take(&ht.out, NULL);
    if (!text) {
        err = ND_ERR_NOMEM;
        goto out;
    }
    *out = text;
    err = ND_OK;
out:
    xmlFreeDoc(doc);
    if (ctxt)
        htmlFreeParserCtxt(ctxt);
    nd_buf_free(&ht.out);
    return err;
}
