/*
 * json.h: parsing JSON with Jansson when memory may run out.
 *
 * Jansson 2.14 does not always survive a failed allocation while it parses:
 * some are reported as syntax errors, and when the buffer that holds the
 * token being read cannot grow, the lexer drops that byte and goes on
 * (load.c, lex_save ignores the failure), so a parse can succeed with
 * altered text ("a\n\nb" read as "a\nnb"), or, when the byte dropped was a
 * string's closing quote, read and write past its buffers. Nothing outside
 * Jansson can prevent the latter; what newsd can do is never trust a parse
 * that met a failed allocation. So every allocation of Jansson goes through
 * a watch that remembers, per thread, that one failed.
 *
 * Encoding has a like flaw: while Jansson 2.14 writes an object's key it
 * ignores a failure (its own allocation, or the output callback's) and goes
 * on, so a dump can report success with a key missing. A dump is trusted
 * only when the watch saw no failed allocation and its output never failed.
 */
#ifndef NEWSD_JSON_H
#define NEWSD_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "newsd/buf.h"

/*
 * Puts the watch on Jansson's allocator, keeping whatever allocator was
 * installed underneath. Call once, before any thread uses Jansson; calling
 * again does nothing.
 */
void nd_json_watch(void);

/*
 * json_loadb that tells a failed allocation apart: *nomem is true (and NULL
 * returned, whatever Jansson made) when an allocation failed during the
 * parse, false otherwise. Without nd_json_watch it is json_loadb.
 */
json_t *nd_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err, bool *nomem);

/* Forgets any failed allocation this thread's watch saw (before a dump). */
void nd_json_watch_reset(void);

/* True when one of Jansson's allocations failed on this thread since the reset. */
bool nd_json_watch_failed(void);

/*
 * json_dumps that is never half right: NULL (and nothing to free) when an
 * allocation failed during the dump. The text is malloc'd.
 */
char *nd_json_dumps(const json_t *value, size_t flags);

/*
 * True when len bytes of text are UTF-8 by Jansson's rules (what
 * json_stringn accepts: no overlong forms, surrogates or code points past
 * U+10FFFF; NUL allowed), checked eight ASCII bytes at a time.
 */
bool nd_json_utf8_valid(const char *text, size_t len);

/*
 * json_stringn, with the text checked by nd_json_utf8_valid instead of
 * Jansson's character-by-character decoder: the same strings are accepted
 * and refused (NULL; NULL too when out of memory), several times faster
 * for a long text that is mostly ASCII, such as an article's body.
 */
json_t *nd_json_stringn(const char *text, size_t len);

/* Nesting nd_json_render follows before it gives up (a cycle, or a tree no answer has). */
#define ND_JSON_RENDER_DEPTH 2048

/*
 * Appends value to out as compact JSON: the very bytes of
 * json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY), objects in insertion
 * order, written straight into out, without Jansson's per-container cycle
 * check (a "%p" key formatted, stored and removed for each object and
 * array) and without decoding strings character by character. Every string
 * of value must be valid UTF-8, which Jansson's constructors (all but the
 * _nocheck ones, which newsd does not use) guarantee. False when out failed
 * (its err says why: the bytes are gone), a real could not be written, or
 * value nests deeper than ND_JSON_RENDER_DEPTH; out may then hold part of
 * the text. Resets this thread's watch (see nd_json_watch_reset).
 */
bool nd_json_render(const json_t *value, struct nd_buf *out);

/*
 * Appends the JSON string of the n bytes at s (valid UTF-8, which the
 * caller checked: nd_json_utf8_valid) as nd_json_render writes a string.
 * For answers written without a tree (nd_row_render_shape).
 */
void nd_json_render_string(struct nd_buf *out, const char *s, size_t n);

/* Appends v in decimal, as nd_json_render writes an integer. */
void nd_json_render_integer(struct nd_buf *out, int64_t v);

#endif
