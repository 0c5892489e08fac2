/*
 * test_text.c: slugs from titles, slug validation and default summaries
 * (server/text.c). Cases are data: an input and the exact expected output.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "newsd/text.h"
#include "newsd/util.h"

struct slug_case {
    const char *title;
    const char *slug;
};

static const struct slug_case slug_cases[] = {
    /* the contract's example */
    {"Russia\u2019s Lavrov praises Pyongyang\u2019s \u2018unequivocal support\u2019 on Ukraine",
     "russias-lavrov-praises-pyongyangs-unequivocal-support-on-ukraine"},
    {"Hello World", "hello-world"},
    {"UPPER CASE Title", "upper-case-title"},
    {"Caf\u00e9 au lait", "cafe-au-lait"},
    {"Cr\u00e8me br\u00fbl\u00e9e", "creme-brulee"},
    {"\u00c0\u00c9\u00ce\u00d5\u00dc", "aeiou"},
    {"\u00c5ngstr\u00f6m", "angstrom"},
    {"Se\u00f1or M\u00fcller\u2019s S\u00e3o Paulo trip", "senor-mullers-sao-paulo-trip"},
    {"Stra\u00dfe", "strasse"},
    {"\u00c6sop\u2019s Fables", "aesops-fables"},
    {"Gar\u00f0ab\u00e6r", "gardabaer"},
    {"\u0152uvre compl\u00e8te", "oeuvre-complete"},
    {"\u00d8rsted and \u0141\u00f3d\u017a", "orsted-and-lodz"},
    {"\u00deingvellir", "thingvellir"},
    {"\u0110akovo \u0111ak", "dakovo-dak"},
    {"\u0132sselmeer", "ijsselmeer"},
    {"\u0160koda \u017delezni\u010dar", "skoda-zeleznicar"},
    {"\u0120gantija", "ggantija"},
    /* decomposed: e + COMBINING ACUTE ACCENT */
    {"Cafe\u0301 society", "cafe-society"},
    {"Rock \U0001F3B8 Festival", "rock-festival"},
    {"\U0001F389\U0001F389", "article"},
    {"\u5317\u4eac", "article"},
    {"\u5317\u4eac 2008", "article-2008"},
    {"2024", "article-2024"},
    {"", "article"},
    {"  ...Hello!!!  ", "hello"},
    {"--Breaking-- news--", "breaking-news"},
    {"a -- b __ c ...d", "a-b-c-d"},
    {"Don't stop", "dont-stop"},
    {"\u2018Quoted\u2019", "quoted"},
    {"Rock \u02bcn\u02bc Roll", "rock-n-roll"},
    {"Salt & Pepper", "salt-pepper"},
    {"C++ & C#", "c-c"},
    {"5 \u00d7 5 \u00f7 5", "5-5-5"},
    {"Top 10 tips for 2025", "top-10-tips-for-2025"},
    {"1 000 000", "1-000-000"},
    {"Hello\u2014world", "hello-world"},
    {"e-mail", "e-mail"},
    {"tab\tand\nnewline", "tab-and-newline"},
    {"\u00a0non\u00a0breaking\u00a0", "non-breaking"},
};

static void test_slug_cases(void)
{
    for (size_t i = 0; i < sizeof(slug_cases) / sizeof(slug_cases[0]); i++) {
        char *slug = nd_slug_from_title(slug_cases[i].title);
        CHECK_STR(slug, slug_cases[i].slug);
        CHECK(slug != NULL && nd_slug_valid(slug));
        free(slug);
    }
}

/* Repeats word, separated by sep, n times into a new string. */
static char *repeat(const char *word, const char *sep, size_t n)
{
    size_t wl = strlen(word), sl = strlen(sep);
    char *s = malloc(n * (wl + sl) + 1);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            memcpy(s + len, sep, sl);
            len += sl;
        }
        memcpy(s + len, word, wl);
        len += wl;
    }
    s[len] = '\0';
    return s;
}

/*
 * A long title, word repeated title_words times, gives slug_word repeated
 * slug_words times: len bytes, cut at a hyphen within ND_SLUG_MAX.
 */
static void check_long_slug(const char *word, size_t title_words, const char *slug_word,
                            size_t slug_words, size_t len)
{
    char *title = repeat(word, " ", title_words);
    char *want = repeat(slug_word, "-", slug_words);
    char *slug = nd_slug_from_title(title);
    CHECK_STR(slug, want);
    CHECK(slug != NULL && strlen(slug) <= ND_SLUG_MAX);
    CHECK_INT(slug ? strlen(slug) : 0, len);
    CHECK(slug != NULL && nd_slug_valid(slug));
    free(title);
    free(want);
    free(slug);
}

static void test_slug_long_cut_at_hyphen(void)
{
    /* "letters-" is 8 bytes: 15 words take 119 bytes, a 16th would pass 120 */
    check_long_slug("Letters", 40, "letters", 15, 119);
}

static void test_slug_long_exact_fit(void)
{
    /* 11 words of 10 letters and 10 hyphens are exactly 120 bytes */
    check_long_slug("abcdefghij", 30, "abcdefghij", 11, ND_SLUG_MAX);
}

static void test_slug_long_accented(void)
{
    /* each "Stra\u00dfe" becomes the 7 bytes "strasse", so the slug ends in 'e' */
    check_long_slug("Stra\u00dfe", 40, "strasse", 15, 15 * 8 - 1);
}

static void test_slug_one_giant_word(void)
{
    char *title = repeat("a", "", 300);
    char *want = repeat("a", "", ND_SLUG_MAX);
    char *slug = nd_slug_from_title(title);
    CHECK_STR(slug, want);
    free(title);
    free(want);
    free(slug);
}

static void test_slug_long_digits(void)
{
    char *title = repeat("7", "", 200);
    char *slug = nd_slug_from_title(title);
    CHECK_INT(strlen(slug), ND_SLUG_MAX);
    CHECK(strncmp(slug, "article-777", 11) == 0);
    CHECK(nd_slug_valid(slug));
    free(title);
    free(slug);
}

struct valid_case {
    const char *slug;
    bool valid;
};

static void test_slug_valid(void)
{
    static const struct valid_case cases[] = {
        {"hello-world", true},  {"a", true},
        {"article-2024", true}, {"2024-25", true},
        {"x1", true},           {"", false},
        {"Hello", false},       {"hello--world", false},
        {"-hello", false},      {"hello-", false},
        {"-", false},           {"2024", false},
        {"0", false},           {"caf\u00e9", false},
        {"a_b", false},         {"a b", false},
        {"a/b", false},         {"bulk", false},
        {"bulk-2", true},       {"article-bulk", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (nd_slug_valid(cases[i].slug) != cases[i].valid) {
            printf("# slug \"%s\" valid should be %d\n", cases[i].slug, cases[i].valid);
            CHECK(false);
        }
    }
    char *reserved = nd_slug_from_title("Bulk");
    CHECK_STR(reserved, "article-bulk"); /* /v1/articles/bulk is the bulk write */
    free(reserved);
    char *longest = repeat("a", "", ND_SLUG_MAX);
    char *too_long = repeat("a", "", ND_SLUG_MAX + 1);
    CHECK(nd_slug_valid(longest));
    CHECK(!nd_slug_valid(too_long));
    free(longest);
    free(too_long);
}

struct summary_case {
    const char *body;
    const char *summary;
};

static void test_summary_cases(void)
{
    static const struct summary_case cases[] = {
        {"Short body.", "Short body."},
        {"First paragraph.\n\nSecond paragraph.", "First paragraph."},
        {"  Lots   of\tspace\nand lines  \n\nnext", "Lots of space and lines"},
        {"\n\n  Leading blank lines\n\nsecond", "Leading blank lines"},
        {"Windows\r\nlines\r\n\r\nsecond", "Windows lines"},
        {"Blank line with spaces\n   \t\nsecond", "Blank line with spaces"},
        {"", ""},
        {" \n\n \t", ""},
        {"Caf\u00e9 \u2018menu\u2019", "Caf\u00e9 \u2018menu\u2019"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = nd_summary_from_body(cases[i].body);
        CHECK_STR(s, cases[i].summary);
        free(s);
    }
}

/* A new string: prefix followed by suffix. */
static char *concat(const char *prefix, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *s = malloc(pl + sl + 1);
    memcpy(s, prefix, pl);
    memcpy(s + pl, suffix, sl + 1);
    return s;
}

static void test_summary_exact_limit(void)
{
    /* 40 words of four letters: 199 characters */
    char *words = repeat("abcd", " ", 40);
    char *words39 = repeat("abcd", " ", 39);
    size_t len = strlen(words);
    CHECK_INT(len, ND_SUMMARY_MAX - 1);

    /* exactly 200 characters: kept whole */
    char *body = concat(words, "x");
    char *s = nd_summary_from_body(body);
    CHECK_STR(s, body);
    free(s);
    free(body);

    /* a space right after character 199: all 40 words fit before the ellipsis */
    body = concat(words, " tail");
    s = nd_summary_from_body(body);
    char *want = concat(words, "\u2026");
    CHECK_STR(s, want);
    CHECK_INT(nd_utf8_len(s), ND_SUMMARY_MAX);
    free(want);
    free(s);
    free(body);

    /* 201 characters ending in a long word: the cut goes before that word */
    body = concat(words, "xy");
    s = nd_summary_from_body(body);
    want = concat(words39, "\u2026");
    CHECK_STR(s, want);
    free(want);
    free(s);
    free(body);
    free(words);
    free(words39);
}

static void test_summary_cut_at_word(void)
{
    /* "abcdef " is 7 characters: 28 words take 195, a 29th would pass 199 */
    char *body = repeat("abcdef", " ", 50);
    char *want_words = repeat("abcdef", " ", 28);
    char *s = nd_summary_from_body(body);
    size_t wl = strlen(want_words);
    CHECK(strncmp(s, want_words, wl) == 0);
    CHECK_STR(s + wl, "\u2026");
    CHECK_INT(nd_utf8_len(s), 196);
    free(body);
    free(want_words);
    free(s);
}

static void test_summary_first_paragraph_only(void)
{
    char *second = repeat("word", " ", 100);
    size_t len = strlen(second);
    char *body = malloc(len + 32);
    strcpy(body, "A short first paragraph.\n\n");
    strcat(body, second);
    char *s = nd_summary_from_body(body);
    CHECK_STR(s, "A short first paragraph.");
    free(s);
    free(body);
    free(second);
}

static void test_summary_giant_word(void)
{
    char *body = repeat("x", "", 300);
    char *want = repeat("x", "", ND_SUMMARY_MAX - 1);
    char *s = nd_summary_from_body(body);
    CHECK(strncmp(s, want, ND_SUMMARY_MAX - 1) == 0);
    CHECK_STR(s + ND_SUMMARY_MAX - 1, "\u2026");
    free(body);
    free(want);
    free(s);
}

static void test_summary_multibyte_cut(void)
{
    /* two- and three-byte characters: the cut must fall between them */
    const char *chars[] = {"\u00e9", "\u20ac", "\U0001F600"};
    for (size_t i = 0; i < 3; i++) {
        char *body = repeat(chars[i], "", 300);
        char *s = nd_summary_from_body(body);
        CHECK(nd_utf8_valid(s, strlen(s)));
        CHECK_INT(nd_utf8_len(s), ND_SUMMARY_MAX);
        CHECK_INT(strlen(s), (ND_SUMMARY_MAX - 1) * strlen(chars[i]) + strlen("\u2026"));
        free(body);
        free(s);
    }
    /* a one-byte prefix shifts every boundary by one byte */
    char *tail = repeat("\u20ac", "", 300);
    char *body = malloc(strlen(tail) + 2);
    body[0] = 'a';
    strcpy(body + 1, tail);
    char *s = nd_summary_from_body(body);
    CHECK(nd_utf8_valid(s, strlen(s)));
    CHECK_INT(nd_utf8_len(s), ND_SUMMARY_MAX);
    free(tail);
    free(body);
    free(s);
}

static void test_html_escape(void)
{
    struct nd_buf b = ND_BUF_INIT(ND_BUF_MAX_DOCUMENT);
    const char text[] = "<a href=\"x\">Tom & Jerry's</a>\0rest";
    nd_text_append_html(&b, text, sizeof text - 1);
    CHECK_INT(b.len, strlen("&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;") + 5);
    CHECK(memcmp(b.data, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;\0rest",
                 b.len) == 0);
    nd_buf_free(&b);
    nd_text_append_html(&b, "caf\xc3\xa9", 5); /* bytes past ASCII go as they are */
    nd_text_append_html(&b, "", 0);
    CHECK_STR(b.data, "caf\xc3\xa9");
    nd_buf_free(&b);
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_slug_cases), CHECK_CASE(test_slug_long_cut_at_hyphen),
                     CHECK_CASE(test_slug_long_exact_fit), CHECK_CASE(test_slug_long_accented),
                     CHECK_CASE(test_slug_one_giant_word), CHECK_CASE(test_slug_long_digits),
                     CHECK_CASE(test_slug_valid), CHECK_CASE(test_summary_cases),
                     CHECK_CASE(test_summary_exact_limit), CHECK_CASE(test_summary_cut_at_word),
                     CHECK_CASE(test_summary_first_paragraph_only),
                     CHECK_CASE(test_summary_giant_word), CHECK_CASE(test_summary_multibyte_cut),
                     CHECK_CASE(test_html_escape));
}
