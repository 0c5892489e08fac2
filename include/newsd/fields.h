/*
 * fields.h: sparse fieldsets (?fields=id,title,slug): a client names the
 * members it wants and every resource of the answer keeps only those.
 *
 * A selection is made against a vocabulary, the member names a resource of
 * one endpoint can have (an article, a list item, a comment, a search hit);
 * a name outside it is refused, so a typo is a clear 400 instead of a
 * silently empty object. Selecting is pure JSON work after the store has
 * answered: the store and the SQL are the same with or without fields, and
 * the HTTP layer's cache key (path and query), ETag and gzip follow the
 * bytes each variant renders to.
 */
#ifndef NEWSD_FIELDS_H
#define NEWSD_FIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "newsd/err.h"

/* A vocabulary holds at most this many names. */
#define ND_FIELDS_MAX 32

/* The longest name echoed back in a refusal. */
#define ND_FIELD_NAME_MAX 32

struct nd_fields {
    const char *const *names; /* the vocabulary (borrowed, lives as long as the process) */
    size_t count;
    bool all;        /* no selection given: every member stays */
    uint32_t chosen; /* bit i: names[i] stays */
};

/*
 * Parses text, a comma-separated list of names (NULL: absent, every member
 * stays), against the vocabulary names[0..count), the members of what (a
 * noun phrase for messages: "an article"). Names are matched exactly; one
 * given twice counts once. On ND_OK *out holds the selection. On
 * ND_ERR_INVALID (an empty list or an empty name, a name not in the
 * vocabulary) why gets a sentence for the client that names the offending
 * entry when it is short printable ASCII and lists the names there are, and
 * *out is untouched.
 */
enum nd_err nd_fields_parse(const char *text, const char *const *names, size_t count,
                            const char *what, struct nd_fields *out, char *why, size_t whylen);

/*
 * Removes from obj every member that is in the vocabulary but not chosen;
 * members outside the vocabulary stay. When nested is not NULL and obj has
 * an array member of that name (a comment's "replies"), each object in it is
 * trimmed the same way, to any depth (without recursion: a reply chain may
 * be long). Does nothing when f->all. ND_OK, or ND_ERR_NOMEM with obj
 * partly trimmed (the caller answers 500, never obj).
 */
enum nd_err nd_fields_apply(const struct nd_fields *f, json_t *obj, const char *nested);

/* nd_fields_apply to each object of the array items. */
enum nd_err nd_fields_apply_all(const struct nd_fields *f, json_t *items, const char *nested);

#endif
