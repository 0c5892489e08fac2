/*
 * text.c: text derived from an article's own words: the URL slug made from
 * its title and the default summary made from its body; and HTML escaping.
 *
 * Both read UTF-8 with newsd's one decoder (newsd/util.h) and their own
 * tables, so the result never depends on the process locale (iconv's //TRANSLIT does,
 * and differs between C libraries). Slugs keep only [a-z0-9] and hyphens:
 * Latin letters with diacritics are folded to their base letters through one
 * table covering U+00C0..U+017F, everything else outside ASCII separates
 * words.
 */
#include "newsd/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/util.h"

/*
 * Base letters of U+00C0..U+017F (Latin-1 Supplement letters and Latin
 * Extended-A), eight code points a row. A digit stands for two letters
 * (see expansions below); a space marks a code point that separates words
 * (the signs U+00D7 and U+00F7).
 */
static const char latin_fold[] = "aaaaaa1c"
                                 "eeeeiiii"
                                 "dnooooo "
                                 "ouuuuy23" /* U+00D8..U+00DF: ... Þ ß */
                                 "aaaaaa1c"
                                 "eeeeiiii"
                                 "dnooooo "
                                 "ouuuuy2y"
                                 "aaaaaacc" /* U+0100 */
                                 "ccccccdd"
                                 "ddeeeeee"
                                 "eeeegggg"
                                 "gggghhhh"
                                 "iiiiiiii"
                                 "ii55jjkk" /* U+0130..U+0137: İ ı Ĳ ĳ ... */
                                 "klllllll"
                                 "lllnnnnn"
                                 "nnnnoooo"
                                 "oo44rrrr" /* U+0150..U+0157: ... Œ œ ... */
                                 "rrssssss"
                                 "sstttttt"
                                 "uuuuuuuu"
                                 "uuuuwwyy"
                                 "yzzzzzzs"; /* U+0178..U+017F, ſ (long s) is s */

/* The two-letter folds named by the digits in latin_fold. */
static const char *const expansions[] = {"ae", "th", "ss", "oe", "ij"};

#define LATIN_FOLD_FIRST 0xC0
#define LATIN_FOLD_LAST 0x17F
_Static_assert(sizeof(latin_fold) - 1 == LATIN_FOLD_LAST - LATIN_FOLD_FIRST + 1,
               "latin_fold covers U+00C0..U+017F");

/* Apostrophes join the letters around them: "Russia’s" is one word. */
static int is_apostrophe(uint32_t cp)
{
    return cp == '\'' || cp == 0x2018 || cp == 0x2019 || cp == 0x02BC;
}

/*
 * Combining diacritical marks (U+0300..U+036F) vanish, so a title typed in
 * decomposed form ("e" + U+0301) folds exactly like the precomposed one.
 */
static int is_combining_mark(uint32_t cp)
{
    return cp >= 0x300 && cp <= 0x36F;
}

/*
 * The ASCII letters cp folds to, or NULL when cp separates words. "&"
 * separates words like any other sign, as in WordPress and Ghost: spelling
 * it "and" would put English into slugs of titles in any language.
 */
static const char *fold(uint32_t cp, char one[2])
{
    if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
        one[0] = (char)cp;
        return one;
    }
    if (cp >= 'A' && cp <= 'Z') {
        one[0] = (char)(cp - 'A' + 'a');
        return one;
    }
    if (cp >= LATIN_FOLD_FIRST && cp <= LATIN_FOLD_LAST) {
        char c = latin_fold[cp - LATIN_FOLD_FIRST];
        if (c == ' ')
            return NULL;
        if (c >= '1' && c <= '5')
            return expansions[c - '1'];
        one[0] = c;
        return one;
    }
    return NULL;
}

/*
 * Shortens the slug in buf (len bytes) to at most ND_SLUG_MAX bytes, at the
 * last hyphen that keeps it within the limit; a first word longer than the
 * limit is cut inside the word. Returns the new length.
 */
static size_t cut_slug(char *buf, size_t len)
{
    if (len <= ND_SLUG_MAX)
        return len;
    size_t cut = ND_SLUG_MAX;
    while (cut > 0 && buf[cut] != '-')
        cut--;
    if (cut == 0)
        cut = ND_SLUG_MAX;
    buf[cut] = '\0';
    return cut;
}

static int all_digits(const char *s)
{
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/*
 * Every input byte yields at most two output bytes (a hyphen and a letter,
 * or a two-letter fold of a two-byte character), so 2 * strlen + 1 bytes
 * always suffice. The caller owns the result; NULL means out of memory.
 */
char *nd_slug_from_title(const char *title)
{
    size_t cap = 2 * strlen(title) + sizeof("article-");
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    size_t len = 0;
    int pending_hyphen = 0;
    /* a stray byte is one U+FFFD, which separates words (nd_utf8_next) */
    const char *p = title, *end = title + strlen(title);
    while (p < end) {
        uint32_t cp;
        p += nd_utf8_next(p, (size_t)(end - p), &cp);
        if (is_apostrophe(cp) || is_combining_mark(cp))
            continue;
        char one[2] = {0, 0};
        const char *letters = fold(cp, one);
        if (letters == NULL) {
            pending_hyphen = len > 0;
            continue;
        }
        if (pending_hyphen)
            buf[len++] = '-';
        pending_hyphen = 0;
        for (; *letters; letters++)
            buf[len++] = *letters;
    }
    buf[len] = '\0';
    len = cut_slug(buf, len);
    if (len == 0) {
        strcpy(buf, "article");
    } else if (all_digits(buf)) {
        /* "article-" plus the digits, the digits shortened to stay in bounds */
        size_t keep = len < ND_SLUG_MAX - 8 ? len : ND_SLUG_MAX - 8;
        memmove(buf + 8, buf, keep);
        memcpy(buf, "article-", 8);
        buf[8 + keep] = '\0';
    } else if (strcmp(buf, ND_SLUG_RESERVED) == 0) {
        strcpy(buf, "article-" ND_SLUG_RESERVED); /* cap holds 2 * 4 + 9 bytes */
    }
    return buf;
}

bool nd_slug_valid(const char *slug)
{
    size_t len = strlen(slug);
    if (len == 0 || len > ND_SLUG_MAX)
        return false;
    if (slug[0] == '-' || slug[len - 1] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = slug[i];
        if (c == '-') {
            if (slug[i + 1] == '-')
                return false;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            return false;
        }
    }
    return !all_digits(slug) && strcmp(slug, ND_SLUG_RESERVED) != 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Copies the first paragraph of body into out with every run of ASCII white
 * space folded to one space and none at either end. The paragraph ends at
 * the first run of white space holding two or more line feeds (a blank
 * line). out has room for strlen(body) + 1 bytes. Returns the length.
 */
static size_t first_paragraph(const char *body, char *out)
{
    size_t len = 0;
    const char *p = body;
    while (*p) {
        if (!is_space(*p)) {
            out[len++] = *p++;
            continue;
        }
        unsigned newlines = 0;
        for (; is_space(*p); p++)
            newlines += *p == '\n';
        if (len > 0 && newlines >= 2)
            break;
        if (len > 0 && *p)
            out[len++] = ' ';
    }
    out[len] = '\0';
    return len;
}

/*
 * Shortens text (valid UTF-8, no double spaces) to ND_SUMMARY_MAX - 1
 * characters at the last space that allows, or inside an over-long first
 * word at a character boundary, and appends "…". text has room for 3 more
 * bytes than its length.
 */
static void cut_summary(char *text)
{
    size_t chars = 0, i = 0, last_space = 0;
    while (text[i] && chars < ND_SUMMARY_MAX - 1) {
        if (text[i] == ' ')
            last_space = i;
        i++;
        while (((unsigned char)text[i] & 0xC0) == 0x80)
            i++;
        chars++;
    }
    /* i is the byte just past ND_SUMMARY_MAX - 1 characters; a space there
     * ends the last word cleanly too */
    size_t cut = text[i] == ' ' ? i : last_space;
    if (cut == 0)
        cut = i;
    memcpy(text + cut, "\xE2\x80\xA6", 4);
}

/*
 * The caller owns the result: the first paragraph, or "" for a body of only
 * white space. NULL means out of memory.
 */
char *nd_summary_from_body(const char *body)
{
    char *out = malloc(strlen(body) + 4);
    if (out == NULL)
        return NULL;
    first_paragraph(body, out);
    if (nd_utf8_len(out) > ND_SUMMARY_MAX)
        cut_summary(out);
    return out;
}

void nd_text_append_html(struct nd_buf *b, const char *text, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *entity;
        switch (text[i]) {
        case '&':
            entity = "&amp;";
            break;
        case '<':
            entity = "&lt;";
            break;
        case '>':
            entity = "&gt;";
            break;
        case '"':
            entity = "&quot;";
            break;
        case '\'':
            entity = "&#39;";
            break;
        default:
            continue;
        }
        nd_buf_append(b, text + start, i - start);
        nd_buf_append_str(b, entity);
        start = i + 1;
    }
    nd_buf_append(b, text + start, n - start);
}
