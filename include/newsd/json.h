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

#endif
