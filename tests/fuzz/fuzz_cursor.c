/*
 * fuzz_cursor.c: the pagination cursor decoder (server/cursor.c) on
 * arbitrary text.
 *
 * Invariants: decoding never reads past the text; a text that decodes is the
 * one and only encoding of its position (re-encoding the values gives the
 * same text back, so no two texts name one position); a cursor of one kind
 * never decodes as another; and the input's bytes, taken as a position,
 * survive an encode and decode unchanged.
 */
#include "fuzz.h"
#include "newsd/cursor.h"

/* The kinds newsd uses: 'a' articles, 'c' comments (two values); 's', 't' search (three). */
static const char kinds2[] = {'a', 'c'};
static const char kinds3[] = {'s', 't'};

/* Only the characters of URL-safe base64 without padding. */
static int urlsafe(const char *s)
{
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

static void decode_text(const char *text)
{
    for (size_t k = 0; k < sizeof kinds2; k++) {
        int64_t a = 0, b = 0;
        if (nd_cursor_decode(text, kinds2[k], &a, &b) != ND_OK)
            continue;
        char *again = nd_cursor_encode(kinds2[k], a, b);
        FUZZ_REQUIRE(again != NULL && strcmp(again, text) == 0);
        free(again);
        for (size_t other = 0; other < sizeof kinds2; other++)
            FUZZ_REQUIRE(other == k || nd_cursor_decode(text, kinds2[other], &a, &b) != ND_OK);
    }
    for (size_t k = 0; k < sizeof kinds3; k++) {
        int64_t a = 0, b = 0, c = 0;
        if (nd_cursor_decode3(text, kinds3[k], &a, &b, &c) != ND_OK)
            continue;
        char *again = nd_cursor_encode3(kinds3[k], a, b, c);
        FUZZ_REQUIRE(again != NULL && strcmp(again, text) == 0);
        free(again);
        FUZZ_REQUIRE(nd_cursor_decode(text, 'a', &a, &b) != ND_OK);
    }
}

/* The first bytes of the input as a kind and three values: they must round-trip. */
static void round_trip(const uint8_t *data, size_t size)
{
    int64_t v[3];
    if (size < 1 + sizeof v)
        return;
    char kind = (char)data[0];
    memcpy(v, data + 1, sizeof v);

    char *two = nd_cursor_encode(kind, v[0], v[1]);
    FUZZ_REQUIRE(two != NULL && strlen(two) == 23 && urlsafe(two));
    int64_t a = 0, b = 0, c = 0;
    FUZZ_REQUIRE(nd_cursor_decode(two, kind, &a, &b) == ND_OK && a == v[0] && b == v[1]);
    FUZZ_REQUIRE(nd_cursor_decode(two, (char)(kind + 1), &a, &b) == ND_ERR_INVALID);
    FUZZ_REQUIRE(nd_cursor_decode3(two, kind, &a, &b, &c) == ND_ERR_INVALID);
    free(two);

    char *three = nd_cursor_encode3(kind, v[0], v[1], v[2]);
    FUZZ_REQUIRE(three != NULL && strlen(three) == 34 && urlsafe(three));
    FUZZ_REQUIRE(nd_cursor_decode3(three, kind, &a, &b, &c) == ND_OK && a == v[0] && b == v[1] &&
                 c == v[2]);
    FUZZ_REQUIRE(nd_cursor_decode(three, kind, &a, &b) == ND_ERR_INVALID);
    free(three);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    decode_text(text);
    free(text);
    round_trip(data, size);
    return 0;
}
