/*
 * fuzz_import.c: the plain-text article parser (server/import.c) on
 * arbitrary bytes.
 *
 * Invariants: the result is ND_OK or ND_ERR_INVALID; a refusal says why and
 * leaves the output untouched. On ND_OK the title and body are non-empty,
 * valid UTF-8 (so without NUL), trimmed, free of control characters (the
 * body's paragraphs are joined by exactly one blank line, its only line
 * breaks), the title at most 300 characters and the body at most 1 MiB; the
 * category is valid UTF-8 on one line; and the body does not end with a
 * furniture label ("Source link", "Posted in", "Leave a Comment", any case,
 * colons allowed) standing alone as a paragraph.
 *
 * Labels are lines, so a label the text splits over two lines ("Source" /
 * "link"), which the parser folds into one paragraph, is not furniture; a
 * last paragraph that equals a label is an error only when it can only have
 * been one line of the text. Labels in the middle of the body are body by
 * design (docs/import-export.md, "Plain-text import").
 */
#include <ctype.h>
#include <stdbool.h>
#include <strings.h>

#include "fuzz.h"
#include "newsd/import.h"
#include "newsd/util.h"

static const char *const labels[] = {"source link", "posted in", "leave a comment"};

/* Whether s is a label alone: any case, then optionally a space and colons. */
static bool bare_label(const char *s)
{
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        size_t n = strlen(labels[i]);
        if (strncasecmp(s, labels[i], n) != 0)
            continue;
        const char *p = s + n;
        if (*p == ' ')
            p++;
        while (*p == ':')
            p++;
        if (*p == ' ')
            p++;
        if (*p == '\0')
            return true;
    }
    return false;
}

/* The lines of a text, tidied as the parser tidies them (the strings share buf). */
struct tidy_lines {
    char *buf;
    char **v;
    size_t n;
};

static bool nbsp_at(const char *s, size_t len)
{
    return len >= 2 && memcmp(s, "\xC2\xA0", 2) == 0;
}

/*
 * Cuts text at LF, CRLF and lone CR, trims each line of spaces, tabs and
 * U+00A0 and folds inner runs of spaces and tabs to one space.
 */
static void tidy_split(const uint8_t *text, size_t size, struct tidy_lines *ls)
{
    ls->buf = malloc(size + 1);
    ls->v = calloc(size + 1, sizeof *ls->v);
    ls->n = 0;
    FUZZ_REQUIRE(ls->buf != NULL && ls->v != NULL);
    char *out = ls->buf;
    for (size_t i = 0; i <= size;) {
        size_t end = i;
        while (end < size && text[end] != '\n' && text[end] != '\r')
            end++;
        const char *s = (const char *)text + i;
        size_t len = end - i;
        while (len > 0 && (*s == ' ' || *s == '\t' || nbsp_at(s, len))) {
            size_t n = nbsp_at(s, len) ? 2 : 1;
            s += n;
            len -= n;
        }
        while (len > 0 &&
               (s[len - 1] == ' ' || s[len - 1] == '\t' || (len >= 2 && nbsp_at(s + len - 2, 2))))
            len -= s[len - 1] == ' ' || s[len - 1] == '\t' ? 1 : 2;
        ls->v[ls->n++] = out;
        for (size_t k = 0; k < len; k++) {
            bool blank = s[k] == ' ' || s[k] == '\t';
            if (!(blank && out > ls->v[ls->n - 1] && out[-1] == ' '))
                *out++ = blank ? ' ' : s[k];
        }
        *out++ = '\0';
        if (end == size)
            break;
        i = end + (text[end] == '\r' && end + 1 < size && text[end + 1] == '\n' ? 2 : 1);
    }
}

/* Whether the lines [from, to] joined by single spaces read want. */
static bool folds_to(const struct tidy_lines *ls, size_t from, size_t to, const char *want)
{
    for (size_t i = from; i <= to; i++) {
        size_t n = strlen(ls->v[i]);
        if (strncmp(want, ls->v[i], n) != 0)
            return false;
        want += n;
        if (i < to && *want++ != ' ')
            return false;
    }
    return *want == '\0';
}

/*
 * Whether the paragraph para can only have been one line of the text: some
 * single line reads so, and no run of lines that ends a group of non-empty
 * lines' prefix (the body may start after a title line, in the same group)
 * folds into it.
 */
static bool single_line_only(const uint8_t *text, size_t size, const char *para)
{
    struct tidy_lines ls;
    tidy_split(text, size, &ls);
    bool single = false, folded = false;
    size_t group = 0;
    for (size_t j = 0; j < ls.n; j++) {
        if (ls.v[j][0] == '\0') {
            group = j + 1;
            continue;
        }
        for (size_t from = group; from <= j && from <= group + 1; from++) {
            if (folds_to(&ls, from, j, para)) {
                single |= from == j;
                folded |= from < j;
            }
        }
    }
    free(ls.v);
    free(ls.buf);
    return single && !folded;
}

/* Valid UTF-8 without control characters (line breaks allowed when multi_line). */
static void check_text(const char *s, bool multi_line)
{
    FUZZ_REQUIRE(s != NULL && nd_utf8_valid(s, strlen(s)));
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        FUZZ_REQUIRE((*p >= 0x20 && *p != 0x7F) || (multi_line && *p == '\n'));
}

static void check_body(const char *body, const uint8_t *data, size_t size)
{
    size_t len = strlen(body);
    check_text(body, true);
    FUZZ_REQUIRE(len > 0 && len <= 1024 * 1024);
    FUZZ_REQUIRE(!isspace((unsigned char)body[0]) && !isspace((unsigned char)body[len - 1]));
    for (const char *p = strchr(body, '\n'); p; p = strchr(p + 2, '\n'))
        FUZZ_REQUIRE(p[1] == '\n' && p[2] != '\n' && p[2] != '\0');
    const char *last = body;
    for (const char *p = strstr(body, "\n\n"); p; p = strstr(p + 2, "\n\n"))
        last = p + 2;
    if (bare_label(last) && single_line_only(data, size, last)) {
        fprintf(stderr, "the body ends with the furniture label \"%s\"\n", last);
        FUZZ_REQUIRE(!"furniture left as the last body paragraph");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct nd_import_article untouched;
    struct nd_import_article art = {0};
    char err[256] = "";
    enum nd_err rc = nd_import_parse((const char *)data, size, &art, err, sizeof err);
    FUZZ_REQUIRE(rc == ND_OK || rc == ND_ERR_INVALID);
    if (rc != ND_OK) {
        FUZZ_REQUIRE(err[0] != '\0');
        FUZZ_REQUIRE(memcmp(&art, &untouched, sizeof art) == 0);
        return 0;
    }
    check_text(art.title, false);
    FUZZ_REQUIRE(art.title[0] != '\0' && nd_utf8_len(art.title) <= 300);
    FUZZ_REQUIRE(art.title[0] != ' ' && art.title[strlen(art.title) - 1] != ' ');
    check_body(art.body, data, size);
    check_text(art.category, false);
    nd_import_article_fini(&art);
    return 0;
}
