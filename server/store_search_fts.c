/*
 * store_search_fts.c: a parsed search query (struct nd_search_query) as an
 * FTS5 MATCH expression, for the SQLite store (see store_search_fts.h).
 *
 * Every term becomes a quoted FTS5 string (a quote in it would be doubled;
 * the parser keeps none), so FTS5 reads none of the user's characters as
 * syntax (column filters, NEAR, ^, parentheses) and splits the text into
 * words with the index's own tokenizer. Operators come only from here:
 * groups joined by AND, alternatives by OR in parentheses, excluded terms
 * after one NOT. The expression is bound as a parameter, never pasted into
 * SQL.
 */
#include "store_search_fts.h"

#include <stdlib.h>
#include <string.h>

/* Appends the text of t as the inside of an FTS5 string, quotes doubled. */
static char *emit_text(char *out, const struct nd_search_query *q, const struct nd_search_term *t)
{
    const char *text = nd_search_term_text(q, t);
    for (unsigned i = 0; i < t->len; i++) {
        if (text[i] == '"')
            *out++ = '"';
        *out++ = text[i];
    }
    return out;
}

static char *emit_str(char *out, const char *s)
{
    size_t n = strlen(s);
    memcpy(out, s, n);
    return out + n;
}

/* Appends t quoted for FTS5, '*' after it for a prefix. */
static char *emit_term(char *out, const struct nd_search_query *q, const struct nd_search_term *t)
{
    *out++ = '"';
    out = emit_text(out, q, t);
    *out++ = '"';
    if (t->prefix)
        *out++ = '*';
    return out;
}

/* Appends the positive groups joined by AND, each of alternatives in parentheses. */
static char *emit_positive(char *out, const struct nd_search_query *q)
{
    bool first = true;
    for (unsigned g = 0; g < q->ngroups; g++) {
        const struct nd_search_group *grp = &q->groups[g];
        if (q->terms[grp->first].excluded)
            continue;
        if (!first)
            out = emit_str(out, " AND ");
        if (grp->count > 1)
            *out++ = '(';
        for (unsigned i = 0; i < grp->count; i++) {
            if (i > 0)
                out = emit_str(out, " OR ");
            out = emit_term(out, q, &q->terms[grp->first + i]);
        }
        if (grp->count > 1)
            *out++ = ')';
        first = false;
    }
    return out;
}

/* Appends the excluded terms joined by OR (the NOT before them is the caller's). */
static char *emit_excluded(char *out, const struct nd_search_query *q)
{
    bool first = true;
    for (unsigned i = 0; i < q->nterms; i++) {
        if (!q->terms[i].excluded)
            continue;
        if (!first)
            out = emit_str(out, " OR ");
        out = emit_term(out, q, &q->terms[i]);
        first = false;
    }
    return out;
}

/*
 * Whether the positive terms are two or more plain words (no phrase, prefix
 * or OR): then the words side by side, as typed, are added as an alternative
 * phrase. It matches no document the words alone do not, but BM25 scores
 * each phrase of the expression, so an article holding the exact phrase ranks
 * above one where the words lie scattered.
 */
static bool phrase_bonus(const struct nd_search_query *q)
{
    unsigned words = 0;
    for (unsigned g = 0; g < q->ngroups; g++) {
        const struct nd_search_group *grp = &q->groups[g];
        const struct nd_search_term *t = &q->terms[grp->first];
        if (t->excluded)
            continue;
        if (grp->count > 1 || t->phrase || t->prefix)
            return false;
        words++;
    }
    return words >= 2;
}

/* Appends ") OR \"w1 w2 ...\"" for the positive words; see phrase_bonus. */
static char *emit_phrase_bonus(char *out, const struct nd_search_query *q)
{
    out = emit_str(out, ") OR \"");
    bool first = true;
    for (unsigned i = 0; i < q->nterms; i++) {
        if (q->terms[i].excluded)
            continue;
        if (!first)
            *out++ = ' ';
        out = emit_text(out, q, &q->terms[i]);
        first = false;
    }
    *out++ = '"';
    return out;
}

enum nd_err nd_store_search_fts(const struct nd_search_query *q, char **fts)
{
    /* each term at most twice (the phrase bonus), quotes doubled, with its operators */
    size_t size = 32;
    for (unsigned i = 0; i < q->nterms; i++)
        size += 2 * (2 * (size_t)q->terms[i].len + 12);
    char *buf = malloc(size);
    if (!buf)
        return ND_ERR_NOMEM;
    bool any_excluded = false;
    for (unsigned i = 0; i < q->nterms; i++)
        any_excluded |= q->terms[i].excluded;
    bool bonus = phrase_bonus(q);
    char *out = buf;
    if (any_excluded)
        *out++ = '(';
    if (bonus)
        *out++ = '(';
    out = emit_positive(out, q);
    if (bonus)
        out = emit_phrase_bonus(out, q);
    if (any_excluded) {
        out = emit_str(out, ") NOT (");
        out = emit_excluded(out, q);
        *out++ = ')';
    }
    *out = '\0';
    *fts = buf;
    return ND_OK;
}
