/*
 * cache.h: rendered responses of public GET requests, shared by all worker
 * threads; a write invalidates what it changed.
 *
 * An entry is the exact bytes of a 200 answer with its ETag and Link, keyed
 * by the request's path and query. Every entry carries the generation read
 * before it was rendered and one dependency: an article (the article's own
 * answers: by id, by slug, its comments, one of its comments), the
 * collections built from articles alone (ND_CACHE_ARTICLES_ONLY: article
 * search, categories, tags, authors, feeds) or the other collections (0:
 * lists, which show comment_count, comment search, the change log).
 * nd_cache_invalidate_article(N) makes stale, at once and without touching
 * them, the answers of article N and every collection;
 * nd_cache_invalidate_comments(N) those of N and the collections that show
 * comments; nd_cache_invalidate() every entry. The HTTP layer invalidates
 * after each write request (what it wrote, or everything when it cannot
 * tell) and whenever the database reports a commit this process did
 * not make (another process; see nd_store_foreign_commits), so a cached
 * answer is never older than the last commit the server could have seen
 * before the request arrived.
 *
 * Memory is bounded: entries live in a fixed table of slots (a new entry
 * replaces whatever its slot held), and their bytes in all never pass the
 * size given at creation. When they are full, what goes first is what was
 * neither read again lately nor costly to make (see cache.c).
 *
 * Keys come from clients, so where a key lands is kept from them: the slot is
 * chosen by a keyed hash (SipHash-2-4) under a random key each cache draws at
 * creation. Two caches, in one process or in two, place the same keys
 * differently, and no client can compute a batch of URLs that fall on
 * another's entry to evict it.
 */
#ifndef NEWSD_CACHE_H
#define NEWSD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nd_cache;

/* A cached answer: immutable once published, shared by reference. */
struct nd_cache_entry {
    const char *body;
    size_t len;
    char etag[48];    /* quoted */
    const char *link; /* NULL when none */
    const char *type; /* Content-Type, a string living as long as the process; NULL = JSON */
    bool gzip;        /* body is gzip-encoded (Content-Encoding: gzip) */
    int64_t article;  /* the article the answer shows alone; 0 or ND_CACHE_ARTICLES_ONLY */
    /* PostgreSQL: every commit up to this write-ahead log position shows in the answer
       (0: unknown); a client that wrote at a later one is not answered from here */
    uint64_t position;
    /* microseconds the answer took to make (given to nd_cache_put_answer): when the
       bytes are full, an answer costly to make again is kept longer than a cheap one */
    uint32_t cost_us;
};

/* nd_cache_entry.article of a collection answer no comment can change. */
#define ND_CACHE_ARTICLES_ONLY (-1)

/*
 * A cache of at most max_bytes of entries in slots slots (rounded up to a
 * power of two), with a fresh random hash key. Initialises libsodium if
 * nobody has yet (sodium_init may be called any number of times). NULL when
 * out of memory, when libsodium cannot be initialised, or when max_bytes is 0
 * (no cache).
 */
struct nd_cache *nd_cache_create(size_t max_bytes, unsigned slots);

/* Frees every entry. Call it only once no reference taken by nd_cache_get is held. */
void nd_cache_destroy(struct nd_cache *cache);

/* Makes every entry stale. Thread-safe, lock-free. */
void nd_cache_invalidate(struct nd_cache *cache);

/*
 * Makes stale the entries of article (id > 0; articles may share a stamp, so
 * a few others' too) and every collection entry; article <= 0 makes every
 * entry stale. Call it after the write committed and before it is answered.
 * Thread-safe, lock-free.
 */
void nd_cache_invalidate_article(struct nd_cache *cache, int64_t article);

/*
 * For a write of article's comments: nd_cache_invalidate_article but for
 * the ND_CACHE_ARTICLES_ONLY entries, which stay fresh.
 */
void nd_cache_invalidate_comments(struct nd_cache *cache, int64_t article);

/* The current generation: read it before rendering, give it to nd_cache_put. */
uint64_t nd_cache_generation(const struct nd_cache *cache);

/*
 * The fresh entry for key (keylen bytes), with a reference the caller
 * releases with nd_cache_release, or NULL.
 */
const struct nd_cache_entry *nd_cache_get(struct nd_cache *cache, const char *key, size_t keylen);

/* Drops a reference taken by nd_cache_get. Accepts NULL. */
void nd_cache_release(const struct nd_cache_entry *entry);

/*
 * Stores a copy of a collection answer rendered under generation (read
 * before the handler ran). Nothing is stored when its dependency was
 * invalidated since, or when the bytes would not fit. Returns true when stored.
 */
bool nd_cache_put(struct nd_cache *cache, const char *key, size_t keylen, uint64_t generation,
                  const char *body, size_t len, const char *etag, const char *link);

/*
 * nd_cache_put for an answer described by a (its body, len, etag, link,
 * type, gzip and article dependency; everything but type copied).
 */
bool nd_cache_put_answer(struct nd_cache *cache, const char *key, size_t keylen,
                         uint64_t generation, const struct nd_cache_entry *a);

/*
 * The set (0 to slots / 4 - 1) in which key would be stored: it depends on
 * the cache's random hash key. For tests; nothing else needs it.
 */
unsigned nd_cache_set_index(const struct nd_cache *cache, const char *key, size_t keylen);

/* Counters for tests and metrics. */
struct nd_cache_stats {
    uint64_t hits;
    uint64_t misses;
    uint64_t stores;
    size_t bytes;
};
void nd_cache_stats(const struct nd_cache *cache, struct nd_cache_stats *out);

#endif
