/*
 * cache.c: the shared cache of rendered responses (see newsd/cache.h).
 *
 * Slots are grouped into sets of WAYS (a key may sit in any slot of its set;
 * a new one takes an empty or stale slot, else the lowest ranked: see below),
 * and sets into shards, each with its own mutex, so
 * threads serving different URLs rarely meet.
 *
 * What goes when the bytes are full is chosen by what an answer cost to make
 * and how lately it was used (GreedyDual's aging): the cache keeps a floor
 * that only rises, and an entry's rank is the floor at its store or last hit
 * plus its weight. To make room, a sweep from a rotating position compares
 * SAMPLE entries, frees the lowest ranked (the least lately used of equals)
 * and raises the floor to its rank; an entry it passes below the floor goes
 * at once. The weight grows with the logarithm of the time the answer took
 * (1 for an article page made in tens of microseconds, about 10 for a search
 * of tens of milliseconds), so the floor rises about one step each time the
 * cheap pages have all been replaced, and a costly answer outlives many such
 * turns unread, while any answer stored or read since outranks those of
 * equal cost that were not. Before it, an entry's credit was taken down one
 * at each pass of the sweep and set at each hit: answers read once more
 * outranked every answer stored after them, and a cache full of them pushed
 * each new search out again before anyone asked twice (a walk of 1,000
 * search URLs, twice, missed hundreds the second time). Before that, the
 * sweep freed whatever it met, and the few searches of a read mix came back
 * as 30 ms misses as often as any page.
 *
 * An entry is one allocation (the
 * struct, its key, body and link) with a reference count: the slot holds one
 * reference, every reader another, and the last one frees it, so a reader
 * never sees its bytes vanish while libmicrohttpd is still sending them.
 *
 * Staleness is decided by stamps rather than by visiting entries: the cache
 * counts invalidations (seq), and each dependency keeps the count of its
 * last invalidation. An entry remembers the count read before its answer was
 * rendered (born) and its one dependency (an article's bucket, the
 * collections, or the collections built from articles alone); it is fresh while neither that
 * dependency nor "everything" has a stamp above born. Articles share ARTICLE_STAMPS buckets by id:
 * two articles in one bucket invalidate each other's pages, which costs a miss, never a stale
 * answer.
 *
 * Keys are request paths and queries, which clients choose. With a public
 * hash a client could compute many URLs of one set and use them to push out
 * the entries of others; so the set is chosen by SipHash-2-4 (libsodium's
 * crypto_shorthash) under a random key drawn when the cache is created,
 * which nobody outside the process knows.
 */
#include "newsd/cache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 64
/* Slots per set: a key may sit in any slot of its set, so a few keys that
 * hash alike do not keep evicting each other. */
#define WAYS 4
/* Buckets of article stamps: a power of two. */
#define ARTICLE_STAMPS 4096
/* The largest weight: an answer costing 0.13 s or more. */
#define MAX_WEIGHT 12
/* Slots one make_room visits at most (the sweep goes on from there at the next). */
#define SWEEP_VISITS 2048
/* Fresh entries one eviction compares: the lowest ranked of them goes. */
#define SAMPLE 16

struct entry {
    struct nd_cache_entry pub; /* first: nd_cache_release casts back */
    _Atomic unsigned refs;
    uint64_t born; /* nd_cache_generation() before the answer was rendered */
    uint64_t hash;
    size_t keylen;
    size_t size; /* bytes accounted for this entry */
    /* rank (the floor at its store or last hit, plus weight) and the count of stores
       then, which orders equal ranks by use; both under its shard's lock */
    uint64_t rank, used;
    unsigned char weight; /* see cost_weight */
    struct nd_cache *cache;
    char *key;
};

struct shard {
    pthread_mutex_t lock;
};

struct nd_cache {
    _Atomic uint64_t seq;         /* invalidations so far, plus one */
    _Atomic uint64_t all;         /* seq of the last nd_cache_invalidate */
    _Atomic uint64_t collections; /* seq of the last invalidation of any article or comment */
    _Atomic uint64_t article_collections;      /* seq of the last one of an article itself */
    _Atomic uint64_t articles[ARTICLE_STAMPS]; /* seq of the last one of an article of the bucket */
    _Atomic size_t bytes;
    size_t max_bytes;
    unsigned mask; /* slots - 1 */
    struct entry **slots;
    struct shard shards[SHARDS];
    _Atomic uint64_t hits, misses, stores;
    _Atomic unsigned sweep;   /* the next slot make_room looks at */
    _Atomic uint64_t floor;   /* rank of the last entry freed to make room (GreedyDual's L) */
    _Atomic uint64_t inserts; /* stores so far: the clock that orders equal ranks */
    unsigned char hash_key[crypto_shorthash_KEYBYTES]; /* random, set once at creation */
};

/* The keyed hash of key: chooses its set and speeds up comparisons. */
static uint64_t hash_key(const struct nd_cache *c, const char *key, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(out, (const unsigned char *)key, len, c->hash_key);
    memcpy(&h, out, sizeof h);
    return h;
}

/* 1 for an answer made in under 128 µs, then one more for each doubling of its cost. */
static unsigned char cost_weight(uint32_t cost_us)
{
    unsigned char w = 1;
    for (uint32_t t = cost_us / 128; t != 0 && w < MAX_WEIGHT; t >>= 1)
        w++;
    return w;
}

struct nd_cache *nd_cache_create(size_t max_bytes, unsigned slots)
{
    if (max_bytes == 0 || slots == 0 || sodium_init() < 0)
        return NULL;
    unsigned n = SHARDS * WAYS;
    while (n < slots && n < (1u << 24))
        n <<= 1;
    struct nd_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->slots = calloc(n, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    c->max_bytes = max_bytes;
    randombytes_buf(c->hash_key, sizeof c->hash_key);
    atomic_init(&c->seq, 1);
    for (unsigned i = 0; i < SHARDS; i++)
        pthread_mutex_init(&c->shards[i].lock, NULL);
    return c;
}

static void entry_unref(struct entry *e)
{
    if (e && atomic_fetch_sub(&e->refs, 1) == 1) {
        atomic_fetch_sub(&e->cache->bytes, e->size);
        free(e);
    }
}

void nd_cache_destroy(struct nd_cache *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i <= c->mask; i++)
        entry_unref(c->slots[i]);
    for (unsigned i = 0; i < SHARDS; i++)
        pthread_mutex_destroy(&c->shards[i].lock);
    sodium_memzero(c->hash_key, sizeof c->hash_key);
    free(c->slots);
    free(c);
}

/* Raises *stamp to s unless a concurrent invalidation already raised it higher. */
static void stamp_raise(_Atomic uint64_t *stamp, uint64_t s)
{
    uint64_t cur = atomic_load(stamp);
    while (cur < s && !atomic_compare_exchange_weak(stamp, &cur, s))
        ;
}

static _Atomic uint64_t *article_stamp(struct nd_cache *c, int64_t article)
{
    return &c->articles[(uint64_t)article & (ARTICLE_STAMPS - 1)];
}

void nd_cache_invalidate(struct nd_cache *c)
{
    stamp_raise(&c->all, atomic_fetch_add(&c->seq, 1) + 1);
}

/* One invalidation of article's answers and the collections (and of article collections too). */
static void invalidate(struct nd_cache *c, int64_t article, bool article_collections)
{
    uint64_t s = atomic_fetch_add(&c->seq, 1) + 1;
    if (article <= 0) {
        stamp_raise(&c->all, s);
        return;
    }
    stamp_raise(article_stamp(c, article), s);
    stamp_raise(&c->collections, s);
    if (article_collections)
        stamp_raise(&c->article_collections, s);
}

void nd_cache_invalidate_article(struct nd_cache *c, int64_t article)
{
    invalidate(c, article, true);
}

void nd_cache_invalidate_comments(struct nd_cache *c, int64_t article)
{
    invalidate(c, article, false);
}

uint64_t nd_cache_generation(const struct nd_cache *c)
{
    return atomic_load(&((struct nd_cache *)c)->seq);
}

/* Whether an answer of dependency article rendered after born was read is still current. */
static bool is_fresh(struct nd_cache *c, uint64_t born, int64_t article)
{
    if (atomic_load(&c->all) > born)
        return false;
    if (article > 0)
        return atomic_load(article_stamp(c, article)) <= born;
    if (article == ND_CACHE_ARTICLES_ONLY)
        return atomic_load(&c->article_collections) <= born;
    return atomic_load(&c->collections) <= born;
}

/*
 * Ranks e as used now (its shard locked). Written only when that changes
 * something: with no stores and no evictions in between, hot entries are
 * only read, and their cache lines stay clean.
 */
static void touch(struct nd_cache *c, struct entry *e)
{
    uint64_t rank = atomic_load_explicit(&c->floor, memory_order_relaxed) + e->weight;
    uint64_t used = atomic_load_explicit(&c->inserts, memory_order_relaxed);
    if (e->rank != rank)
        e->rank = rank;
    if (e->used != used)
        e->used = used;
}

/* Whether a goes before b: the lower rank, or of equal ranks the one used less lately. */
static bool ranks_below(const struct entry *a, const struct entry *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->used < b->used);
}

/* The shard guarding slot: every slot of a set has the same one. */
static struct shard *shard_of(struct nd_cache *c, unsigned slot)
{
    return &c->shards[(slot / WAYS) % SHARDS];
}

/* The first slot of the set of hash h. */
static unsigned set_of(const struct nd_cache *c, uint64_t h)
{
    return (unsigned)h & c->mask & ~(unsigned)(WAYS - 1);
}

unsigned nd_cache_set_index(const struct nd_cache *c, const char *key, size_t keylen)
{
    return set_of(c, hash_key(c, key, keylen)) / WAYS;
}

const struct nd_cache_entry *nd_cache_get(struct nd_cache *c, const char *key, size_t keylen)
{
    uint64_t h = hash_key(c, key, keylen);
    unsigned set = set_of(c, h);
    struct shard *s = shard_of(c, set);
    struct entry *found = NULL;
    pthread_mutex_lock(&s->lock);
    for (unsigned slot = set; slot < set + WAYS; slot++) {
        struct entry *e = c->slots[slot];
        if (!e || e->hash != h || e->keylen != keylen || memcmp(e->key, key, keylen) != 0)
            continue;
        if (is_fresh(c, e->born, e->pub.article)) {
            atomic_fetch_add(&e->refs, 1);
            touch(c, e);
            found = e;
        } else {
            c->slots[slot] = NULL; /* stale: free its bytes now */
            entry_unref(e);
        }
        break;
    }
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(found ? &c->hits : &c->misses, 1);
    return found ? &found->pub : NULL;
}

void nd_cache_release(const struct nd_cache_entry *pub)
{
    entry_unref((struct entry *)pub);
}

/* One allocation holding the entry and copies of its strings. */
static struct entry *entry_new(struct nd_cache *c, const char *key, size_t keylen, const char *body,
                               size_t len, const char *link)
{
    size_t linklen = link ? strlen(link) + 1 : 0;
    size_t size = sizeof(struct entry) + keylen + len + linklen;
    struct entry *e = malloc(size);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    char *p = (char *)(e + 1);
    e->key = p;
    memcpy(p, key, keylen);
    p += keylen;
    memcpy(p, body, len);
    e->pub.body = p;
    e->pub.len = len;
    p += len;
    if (link) {
        memcpy(p, link, linklen);
        e->pub.link = p;
    }
    e->keylen = keylen;
    e->size = size;
    e->cache = c;
    atomic_init(&e->refs, 1);
    return e;
}

/*
 * Frees entries from the sweep's position on until need more bytes fit or
 * SWEEP_VISITS slots were visited: a stale entry or one ranked below the
 * floor as it is passed, else, for each SAMPLE fresh entries passed, the
 * lowest ranked of them, raising the floor to its rank. Returns whether
 * they fit.
 */
static bool make_room(struct nd_cache *c, size_t need)
{
    unsigned visited = 0;
    while (atomic_load(&c->bytes) + need > c->max_bytes && visited < SWEEP_VISITS) {
        struct entry *least = NULL;
        unsigned least_slot = 0, seen = 0;
        uint64_t least_rank = 0;
        while (seen < SAMPLE && visited < SWEEP_VISITS) {
            visited++;
            unsigned slot = atomic_fetch_add(&c->sweep, 1) & c->mask;
            struct shard *s = shard_of(c, slot);
            pthread_mutex_lock(&s->lock);
            struct entry *e = c->slots[slot];
            if (e && is_fresh(c, e->born, e->pub.article) && e->rank >= atomic_load(&c->floor)) {
                if (!least || ranks_below(e, least)) {
                    least = e;
                    least_slot = slot;
                    least_rank = e->rank;
                }
                seen++;
                e = NULL;
            } else {
                c->slots[slot] = NULL;
            }
            pthread_mutex_unlock(&s->lock);
            if (e) {
                entry_unref(e);
                if (atomic_load(&c->bytes) + need <= c->max_bytes)
                    return true;
            }
        }
        if (!least)
            continue;
        /* still there and unchanged? (only compared: it may have been freed since) */
        struct shard *s = shard_of(c, least_slot);
        pthread_mutex_lock(&s->lock);
        struct entry *e = c->slots[least_slot];
        if (e == least && e->rank == least_rank)
            c->slots[least_slot] = NULL;
        else
            e = NULL;
        pthread_mutex_unlock(&s->lock);
        if (e) {
            stamp_raise(&c->floor, least_rank);
            entry_unref(e);
        }
    }
    return atomic_load(&c->bytes) + need <= c->max_bytes;
}

/*
 * The slot of set for e (its shard locked): the one holding the same key,
 * else an empty or stale one, else the lowest ranked.
 */
static unsigned pick_slot(struct nd_cache *c, unsigned set, const struct entry *e)
{
    unsigned victim = set;
    for (unsigned slot = set; slot < set + WAYS; slot++) {
        const struct entry *cur = c->slots[slot];
        if (cur && cur->hash == e->hash && cur->keylen == e->keylen &&
            memcmp(cur->key, e->key, e->keylen) == 0)
            return slot;
    }
    for (unsigned slot = set; slot < set + WAYS; slot++) {
        const struct entry *cur = c->slots[slot];
        if (!cur || !is_fresh(c, cur->born, cur->pub.article))
            return slot;
        if (ranks_below(cur, c->slots[victim]))
            victim = slot;
    }
    return victim;
}

bool nd_cache_put(struct nd_cache *c, const char *key, size_t keylen, uint64_t generation,
                  const char *body, size_t len, const char *etag, const char *link)
{
    struct nd_cache_entry a = {.body = body, .len = len, .link = link};
    if (strlen(etag) >= sizeof a.etag)
        return false;
    strcpy(a.etag, etag);
    return nd_cache_put_answer(c, key, keylen, generation, &a);
}

bool nd_cache_put_answer(struct nd_cache *c, const char *key, size_t keylen, uint64_t generation,
                         const struct nd_cache_entry *a)
{
    const char *body = a->body, *etag = a->etag, *link = a->link;
    size_t len = a->len;
    size_t need = sizeof(struct entry) + keylen + len + (link ? strlen(link) + 1 : 0);
    if (!is_fresh(c, generation, a->article) || need > c->max_bytes / 4 ||
        strlen(etag) >= sizeof((struct nd_cache_entry *)0)->etag)
        return false;
    if (!make_room(c, need))
        return false;
    atomic_fetch_add(&c->bytes, need);
    struct entry *e = entry_new(c, key, keylen, body, len, link);
    if (!e) {
        atomic_fetch_sub(&c->bytes, need);
        return false;
    }
    strcpy(e->pub.etag, etag);
    e->pub.type = a->type;
    e->pub.gzip = a->gzip;
    e->pub.article = a->article;
    e->pub.position = a->position;
    e->hash = hash_key(c, key, keylen);
    e->born = generation;
    atomic_fetch_add(&c->inserts, 1);
    e->weight = cost_weight(a->cost_us);
    touch(c, e);
    unsigned set = set_of(c, e->hash);
    struct shard *s = shard_of(c, set);
    pthread_mutex_lock(&s->lock);
    unsigned slot = pick_slot(c, set, e);
    struct entry *old = c->slots[slot];
    c->slots[slot] = e;
    pthread_mutex_unlock(&s->lock);
    entry_unref(old);
    atomic_fetch_add(&c->stores, 1);
    return true;
}

void nd_cache_stats(const struct nd_cache *cache, struct nd_cache_stats *out)
{
    struct nd_cache *c = (struct nd_cache *)cache;
    out->hits = atomic_load(&c->hits);
    out->misses = atomic_load(&c->misses);
    out->stores = atomic_load(&c->stores);
    out->bytes = atomic_load(&c->bytes);
}
