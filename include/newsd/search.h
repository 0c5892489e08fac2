/*
 * search.h: the search-box query language, parsed into a backend-neutral
 * query (struct nd_search_query), and the HTML rendering of snippets.
 *
 * The language (what a person types):
 *   words          all must match (AND)
 *   "a phrase"     the words in this order
 *   word*          a prefix (at least ND_SEARCH_MIN_PREFIX characters)
 *   -word -"a b"   must not match
 *   a OR b         either (OR binds tighter than the implied AND)
 * Parsing yields terms and their grouping, never text in any engine's
 * syntax: each store backend turns the parsed query into its own expression
 * (the SQLite store into an FTS5 MATCH with every term a quoted string), so
 * nothing the user types is ever read as a search engine's operators, and
 * the result is bound as a parameter, never pasted into SQL.
 */
#ifndef NEWSD_SEARCH_H
#define NEWSD_SEARCH_H

#include <stdbool.h>
#include <stddef.h>

#include "newsd/err.h"

#define ND_SEARCH_MAX_BYTES 512      /* longest query text */
#define ND_SEARCH_MAX_TERMS 16       /* most terms, excluded ones included */
#define ND_SEARCH_MIN_PREFIX 2       /* shortest word before a '*' */
#define ND_SEARCH_TIME_LIMIT_MS 1000 /* longest one search may run */
#define ND_SEARCH_WINDOW 200         /* newest matches ranked by one search */

/*
 * One term: the text of a word or of a quoted phrase, as typed.
 *
 * The text is the term's characters without its quotes, '-' or '*': valid
 * UTF-8 holding at least one letter or digit and never a double quote,
 * with control characters turned into spaces. It is not split into words
 * here: a backend splits it with the tokenizer it indexes documents with,
 * so that the two always agree. A word term may so hold several words
 * ("e-mail" is e, mail; "O'Brien" is o, brien, or one word, as the
 * tokenizer decides), and then matches them side by side, as a phrase does.
 */
struct nd_search_term {
    unsigned at;   /* the text: query->chars + at, NUL-terminated */
    unsigned len;  /* its length in bytes */
    bool phrase;   /* typed in quotes: its words side by side, in this order */
    bool prefix;   /* typed with '*' after it: its last word is a prefix */
    bool excluded; /* typed with '-' before it: a match must not hold it */
};

/* Terms of which a match needs at least one: one term, or a OR b OR ... */
struct nd_search_group {
    unsigned first; /* its terms are terms[first] to terms[first + count - 1] */
    unsigned count; /* 1, or 2 and more for alternatives joined by OR */
};

/*
 * A parsed query: a document matches when, for every group that is not
 * excluded, it holds at least one of the group's terms, and holds none of
 * the excluded terms.
 *
 * Invariants a backend may rely on: 1 <= nterms <= ND_SEARCH_MAX_TERMS; the
 * groups, in the order typed, cover terms[0..nterms) in order, each term in
 * exactly one group; an excluded term is alone in its group (an OR never
 * joins an excluded term); at least one term is not excluded; a prefix
 * term's last word has at least ND_SEARCH_MIN_PREFIX letters or digits (as
 * search.c counts them). The struct holds its text itself: it may be copied
 * and outlives the query text it was parsed from.
 *
 * For a backend that translates it into another engine's syntax (a future
 * PostgreSQL store: to_tsquery), every term's text is to be quoted as one
 * unit of that syntax (a quoted phrase of its words), a prefix marked on its
 * last word, groups joined by AND, alternatives by OR, excluded terms
 * negated; nothing of the text may be left to that syntax's parser.
 */
struct nd_search_query {
    struct nd_search_term terms[ND_SEARCH_MAX_TERMS];
    unsigned nterms;
    struct nd_search_group groups[ND_SEARCH_MAX_TERMS];
    unsigned ngroups;
    char chars[ND_SEARCH_MAX_BYTES + ND_SEARCH_MAX_TERMS]; /* the terms' texts */
};

/*
 * Parses text (what a person typed; NULL is taken as "") into *query.
 * ND_ERR_INVALID: the query cannot be searched; why (whylen bytes) gets a
 * sentence saying what to change, fit for a 400 problem's detail, and
 * *query is left undefined. Never fails otherwise: nothing is allocated.
 */
enum nd_err nd_search_parse(const char *text, struct nd_search_query *query, char *why,
                            size_t whylen);

/* The text of term t of q. */
static inline const char *nd_search_term_text(const struct nd_search_query *q,
                                              const struct nd_search_term *t)
{
    return q->chars + t->at;
}

/* The bytes FTS5's snippet() is asked to put around each match. */
#define ND_SNIPPET_OPEN "\x01"
#define ND_SNIPPET_CLOSE "\x02"

/*
 * Renders a raw snippet (text with ND_SNIPPET_OPEN/CLOSE around matches) as
 * HTML: matches in <mark>...</mark>, & < > " ' escaped, other control
 * characters but tab and newline dropped. Returns a malloc'd string, NULL
 * when out of memory.
 */
char *nd_search_snippet_html(const char *raw);

#endif
