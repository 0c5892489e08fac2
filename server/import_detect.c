/*
 * import_detect.c: which importer reads a file, told from its first bytes,
 * so that `newsd import FILE` restores an export, reads a WordPress export,
 * or takes a plain-text article, and never stores JSON or XML as the text
 * of an article.
 *
 * Only the start is looked at: XML announces itself in its first
 * characters, and a JSON-lines file by its first line. The importer picked
 * then reads the whole file with its own checks (a non-WordPress XML file is
 * refused by the WordPress importer, a bad JSON line by the JSON-lines one).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "newsd/import.h"
#include "newsd/store.h"
#include "newsd/util.h"

#define READS_ONLY                                                                                 \
    "newsd import reads plain-text articles, JSON lines of articles and comments, exports of "     \
    "newsd export, and WordPress exports (WXR)"

/* White space before the first character that tells the format: blanks and line ends. */
static bool is_space(char c)
{
    return nd_is_blank(c) || c == '\r' || c == '\n';
}

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

/* Whether the JSON object obj is a line of newsd's JSON lines. */
static bool is_newsd_line(const json_t *obj)
{
    const char *type = json_string_value(json_object_get(obj, "type"));
    return type && (strcmp(type, "article") == 0 || strcmp(type, "comment") == 0 ||
                    strcmp(type, ND_EXPORT_TYPE) == 0);
}

/* A text beginning with "{": JSON lines, or refused. */
static enum nd_err detect_json_object(const char *line, size_t len, bool complete,
                                      enum nd_import_format *format, char *why, size_t whylen)
{
    json_error_t jerr;
    if (!complete) {
        *format = ND_IMPORT_JSONL;
        return ND_OK;
    }
    json_t *value = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    enum nd_err rc = ND_ERR_INVALID;
    if (!value)
        nd_why(why, whylen,
               "the file looks like JSON (it begins with \"{\"), but line 1 is not a JSON "
               "object (%s, column %d); newsd reads JSON only as JSON lines, one object per "
               "line; " READS_ONLY,
               jerr.text, jerr.column);
    else if (!is_newsd_line(value))
        nd_why(why, whylen,
               "line 1 is a JSON object whose \"type\" is not \"article\", \"comment\" or "
               "\"" ND_EXPORT_TYPE "\"; " READS_ONLY);
    else
        rc = ND_OK;
    if (rc == ND_OK)
        *format = ND_IMPORT_JSONL;
    json_decref(value);
    return rc;
}

/* A text beginning with "[": a JSON array is refused, anything else is text. */
static enum nd_err detect_bracket(const char *line, size_t len, enum nd_import_format *format,
                                  char *why, size_t whylen)
{
    json_error_t jerr;
    size_t end = len;
    while (end > 0 && is_space(line[end - 1]))
        end--;
    json_t *value = json_loadb(line, len, JSON_DECODE_ANY, &jerr);
    bool array = value != NULL || end == 1; /* "[" alone: an indented array */
    json_decref(value);
    if (array) {
        nd_why(why, whylen,
               "the file looks like a JSON array; newsd reads JSON only as JSON lines, one "
               "object per line; " READS_ONLY);
        return ND_ERR_INVALID;
    }
    *format = ND_IMPORT_TEXT;
    return ND_OK;
}

enum nd_err nd_import_detect(const char *head, size_t len, bool whole,
                             enum nd_import_format *format, char *why, size_t whylen)
{
    size_t i = 0;
    if (len >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && is_space(head[i]))
        i++;
    const char *start = head + i;
    size_t rest = len - i;
    const char *nl = memchr(start, '\n', rest);
    size_t line = nl ? (size_t)(nl - start) : rest;
    if (rest >= 2 && start[0] == '<' &&
        (start[1] == '?' || start[1] == '!' || is_name_start(start[1]))) {
        *format = ND_IMPORT_XML;
        return ND_OK;
    }
    if (rest > 0 && start[0] == '{')
        return detect_json_object(start, line, nl != NULL || whole, format, why, whylen);
    if (rest > 0 && start[0] == '[')
        return detect_bracket(start, line, format, why, whylen);
    *format = ND_IMPORT_TEXT;
    return ND_OK;
}

enum nd_err nd_import_detect_file(const char *path, enum nd_import_format *format, char *why,
                                  size_t whylen)
{
    enum nd_err rc = ND_ERR_IO;
    char *head = malloc(ND_IMPORT_HEAD_MAX);
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!head) {
        rc = ND_ERR_NOMEM;
        nd_why(why, whylen, "out of memory");
        goto out;
    }
    if (fd < 0) {
        nd_why(why, whylen, "cannot open: %s", strerror(errno));
        goto out;
    }
    while (got < ND_IMPORT_HEAD_MAX) {
        ssize_t r = read(fd, head + got, ND_IMPORT_HEAD_MAX - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            nd_why(why, whylen, "cannot read: %s", strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    rc = nd_import_detect(head, got, got < ND_IMPORT_HEAD_MAX, format, why, whylen);
out:
    free(head);
    if (fd >= 0)
        close(fd);
    return rc;
}
