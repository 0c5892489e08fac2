/*
 * import_fixture.h: what the importers' unit tests share: a refusal
 * callback (nd_import_refusal_fn) that keeps the line and the reason of
 * the first MAX_REFUSALS refusals, for the tests to check each one.
 */
#ifndef NEWSD_TEST_IMPORT_FIXTURE_H
#define NEWSD_TEST_IMPORT_FIXTURE_H

#include <stddef.h>
#include <stdio.h>

#define MAX_REFUSALS 32

struct refusals {
    size_t n;
    unsigned long line[MAX_REFUSALS];
    char why[MAX_REFUSALS][512];
};

/* An nd_import_refusal_fn whose ctx is a struct refusals. */
static inline void collect(void *ctx, unsigned long line, const char *why)
{
    struct refusals *r = ctx;
    if (r->n == MAX_REFUSALS)
        return;
    r->line[r->n] = line;
    snprintf(r->why[r->n], sizeof r->why[r->n], "%s", why);
    r->n++;
}

#endif
