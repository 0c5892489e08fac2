/*
 * fuzz_html.c: the HTML-to-text reader of the WordPress importer
 * (server/import_html.c, libxml2's HTML parser) on arbitrary bytes.
 *
 * The first byte chooses the mode: bit 0 one_line, bit 1 a cap of 64 bytes
 * (else 1 MiB); the rest, up to a NUL byte, is the HTML: the importer hands
 * it strings (XML text holds no NUL), and libxml2 reads no document at all
 * from some HTML that starts with one.
 *
 * Invariants: the result is ND_OK, ND_ERR_LIMIT or ND_ERR_INVALID (depth),
 * and *out is written only on ND_OK. On ND_OK the text is at most the cap,
 * holds no control character but the line feed (none at all in one_line
 * mode), never three line feeds in a row, and does not start or end with a
 * line feed. No entity is expanded but HTML's own, whatever a DOCTYPE in
 * the body declares (seeds declare some): the text is at most twice as long
 * as the HTML plus a little (a list item's mark and its line break are the
 * most text a tag makes; an entity's text is shorter than its reference).
 * Which text an undeclared reference (&xxe;) gives is a unit test's point
 * (tests/unit/test_import_wxr.c): dropped tags may join the letters of a
 * marker here.
 */
#include <stdbool.h>

#include "fuzz.h"
#include "newsd/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool one_line = (data[0] & 1) != 0;
    size_t max = (data[0] & 2) ? 64 : 1024 * 1024;
    const char *html = (const char *)data + 1;
    size_t len = strnlen(html, size - 1);
    char *const untouched = (char *)"untouched";
    char *text = untouched;
    enum nd_err rc = nd_import_html_text(html, len, one_line, max, &text);
    FUZZ_REQUIRE(rc == ND_OK || rc == ND_ERR_LIMIT || rc == ND_ERR_INVALID);
    if (rc != ND_OK) {
        FUZZ_REQUIRE(text == untouched);
        return 0;
    }
    FUZZ_REQUIRE(text != NULL && text != untouched);
    size_t n = strlen(text);
    FUZZ_REQUIRE(n <= max);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        FUZZ_REQUIRE((*p >= 0x20 && *p != 0x7F) || (*p == '\n' && !one_line));
    FUZZ_REQUIRE(strstr(text, "\n\n\n") == NULL);
    FUZZ_REQUIRE(n == 0 || (text[0] != '\n' && text[n - 1] != '\n'));
    FUZZ_REQUIRE(n <= 2 * len + 16);
    free(text);
    return 0;
}
