/*
 * search.c: the parser of the search-box language into a struct
 * nd_search_query, and HTML rendering of snippets (see newsd/search.h).
 *
 * The parser never trusts the text: it keeps only the characters of each
 * term and how terms are joined; operators of any engine's syntax are made
 * by the store from that. Terms that hold nothing FTS5's unicode61
 * tokenizer would index (a lone '*', '^', an emoji) are dropped rather than
 * left to match nothing, so "climate 🌍" finds what "climate" finds.
 */
#include "newsd/search.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/buf.h"
#include "newsd/text.h"
#include "newsd/util.h"

/* A term as read from the query, before it is kept. */
struct term {
    const char *text; /* borrowed from the query */
    size_t len;
    bool phrase;
    bool prefix;
    bool negated;
};

struct parse {
    struct nd_search_query *query;
    size_t used;        /* bytes of query->chars taken */
    bool pending_or;    /* an OR waits for its right-hand term */
    bool last_positive; /* the last term kept was a positive one */
    char *why;
    size_t whylen;
};

/*
 * Whether unicode61 would keep cp inside a token. ASCII is exact; beyond it
 * the punctuation, symbol and emoji blocks are separators and the rest
 * (letters and digits of every script) are taken as token characters.
 */
static bool token_char(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    if (cp < 0xC0)
        return cp == 0xAA || cp == 0xB2 || cp == 0xB3 || cp == 0xB5 || cp == 0xB9 || cp == 0xBA ||
               (cp >= 0xBC && cp <= 0xBE);
    if (cp == 0xD7 || cp == 0xF7)
        return false;
    if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x2E00 && cp <= 0x2E7F) ||
        (cp >= 0x3000 && cp <= 0x3004) || (cp >= 0x3008 && cp <= 0x303F) ||
        (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
        (cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0x1F000 && cp <= 0x1FAFF) ||
        (cp >= 0xE0000 && cp <= 0xE007F))
        return false;
    return true;
}

/* Token characters in the last word of text (after its last separator). */
static size_t last_word_chars(const char *text, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = nd_utf8_next(text + i, len - i, &cp);
        count = token_char(cp) ? count + 1 : 0;
        i += n;
    }
    return count;
}

static bool has_token(const char *text, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = nd_utf8_next(text + i, len - i, &cp);
        if (token_char(cp))
            return true;
        i += n;
    }
    return false;
}

static bool separator(char c)
{
    return c == ' ' || ((unsigned char)c < 0x20) || c == 0x7f;
}

static enum nd_err fail(struct parse *ps, const char *msg)
{
    nd_why(ps->why, ps->whylen, "%s", msg);
    return ND_ERR_INVALID;
}

/* Copies t's text into the query's own storage, control characters made spaces. */
static unsigned keep_text(struct parse *ps, const struct term *t)
{
    unsigned at = (unsigned)ps->used;
    char *out = ps->query->chars + at;
    for (size_t i = 0; i < t->len; i++)
        out[i] = separator(t->text[i]) ? ' ' : t->text[i];
    out[t->len] = '\0';
    ps->used += t->len + 1;
    return at;
}

/* Records one term, or the OR operator, applying the OR rules. */
static enum nd_err add_term(struct parse *ps, const struct term *t)
{
    struct nd_search_query *q = ps->query;
    if (!t->phrase && !t->negated && t->len == 2 && memcmp(t->text, "OR", 2) == 0) {
        if (!ps->last_positive || ps->pending_or)
            return fail(ps, "OR must stand between two search terms, as in: cats OR dogs");
        ps->pending_or = true;
        return ND_OK;
    }
    if (!t->phrase && !t->negated && t->len == 3 && memcmp(t->text, "AND", 3) == 0)
        return ND_OK; /* words are ANDed anyway */
    if (!has_token(t->text, t->len))
        return ND_OK;
    if (t->prefix && last_word_chars(t->text, t->len) < ND_SEARCH_MIN_PREFIX) {
        nd_why(ps->why, ps->whylen,
               "a prefix search needs at least %d letters before the '*', as in: elect*",
               ND_SEARCH_MIN_PREFIX);
        return ND_ERR_INVALID;
    }
    if (q->nterms == ND_SEARCH_MAX_TERMS) {
        nd_why(ps->why, ps->whylen, "the query has more than %d search terms: use fewer words",
               ND_SEARCH_MAX_TERMS);
        return ND_ERR_INVALID;
    }
    if (ps->pending_or && t->negated)
        return fail(ps, "an excluded term (-word) cannot be part of an OR");
    struct nd_search_term *slot = &q->terms[q->nterms];
    *slot = (struct nd_search_term){.at = keep_text(ps, t),
                                    .len = (unsigned)t->len,
                                    .phrase = t->phrase,
                                    .prefix = t->prefix,
                                    .excluded = t->negated};
    if (ps->pending_or) {
        q->groups[q->ngroups - 1].count++; /* the last group is the positive term before */
        ps->pending_or = false;
    } else {
        q->groups[q->ngroups++] = (struct nd_search_group){.first = q->nterms, .count = 1};
    }
    q->nterms++;
    ps->last_positive = !t->negated;
    return ND_OK;
}

/* Reads the term starting at *pp (not a separator) into t; advances *pp. */
static void read_term(const char **pp, struct term *t)
{
    const char *p = *pp;
    memset(t, 0, sizeof *t);
    if (*p == '-') {
        while (*p == '-')
            p++;
        t->negated = true;
    }
    if (*p == '"') {
        const char *start = ++p;
        while (*p && *p != '"')
            p++;
        t->text = start;
        t->len = (size_t)(p - start);
        t->phrase = true;
        if (*p == '"')
            p++;
        while (*p == '*') {
            t->prefix = true;
            p++;
        }
    } else {
        const char *start = p;
        while (*p && !separator(*p) && *p != '"')
            p++;
        t->text = start;
        t->len = (size_t)(p - start);
        while (t->len > 0 && t->text[t->len - 1] == '*') {
            t->prefix = true;
            t->len--;
        }
    }
    *pp = p;
}

enum nd_err nd_search_parse(const char *text, struct nd_search_query *query, char *why,
                            size_t whylen)
{
    struct parse ps = {.query = query, .why = why, .whylen = whylen};
    size_t qlen = text ? strlen(text) : 0;
    query->nterms = 0;
    query->ngroups = 0;
    if (qlen > ND_SEARCH_MAX_BYTES) {
        nd_why(why, whylen, "the query is %zu bytes long; shorten it to at most %d", qlen,
               ND_SEARCH_MAX_BYTES);
        return ND_ERR_INVALID;
    }
    if (!nd_utf8_valid(text ? text : "", qlen))
        return fail(&ps, "the query is not valid UTF-8 text");
    const char *p = text ? text : "";
    while (*p) {
        if (separator(*p)) {
            p++;
            continue;
        }
        struct term t;
        read_term(&p, &t);
        enum nd_err rc = add_term(&ps, &t);
        if (rc != ND_OK)
            return rc;
    }
    if (ps.pending_or)
        return fail(&ps, "OR must stand between two search terms, as in: cats OR dogs");
    bool any_positive = false, any_negative = false;
    for (unsigned i = 0; i < query->nterms; i++) {
        any_positive |= !query->terms[i].excluded;
        any_negative |= query->terms[i].excluded;
    }
    if (!any_positive)
        return fail(&ps, any_negative
                             ? "excluded terms alone match nothing: add a word to search for"
                             : "the query has no words to search for");
    return ND_OK;
}

char *nd_search_snippet_html(const char *raw)
{
    struct nd_buf html = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    const char *run = raw; /* text not yet written */
    for (const char *p = raw;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 || c == '\t' || c == '\n')
            continue;
        nd_text_append_html(&html, run, (size_t)(p - run));
        run = p + 1;
        if (c == '\0')
            break;
        if (c == 0x01) /* ND_SNIPPET_OPEN */
            nd_buf_append_str(&html, "<mark>");
        else if (c == 0x02) /* ND_SNIPPET_CLOSE */
            nd_buf_append_str(&html, "</mark>");
        /* any other control character is dropped */
    }
    return nd_buf_take(&html, NULL);
}
