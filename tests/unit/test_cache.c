/*
 * test_cache.c: the response cache: hits, staleness after writes (of one
 * article or of everything), refusal of answers rendered before a write, the
 * byte bound, many threads at once, and the keyed placement of entries (URLs aimed at one cache's
 * set miss another's), and what the byte bound evicts first.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "newsd/cache.h"

static bool put(struct nd_cache *c, const char *key, const char *body)
{
    return nd_cache_put(c, key, strlen(key), nd_cache_generation(c), body, strlen(body), "\"tag\"",
                        NULL);
}

static void test_hit_and_miss(void)
{
    struct nd_cache *c = nd_cache_create(1 << 20, 256);
    CHECK(c != NULL);
    CHECK(nd_cache_get(c, "/a", 2) == NULL);
    CHECK(nd_cache_put(c, "/a", 2, nd_cache_generation(c), "{\"x\":1}", 7, "\"e1\"",
                       "</a?cursor=x>; rel=\"next\""));
    const struct nd_cache_entry *e = nd_cache_get(c, "/a", 2);
    CHECK(e != NULL);
    if (e) {
        CHECK_INT(e->len, 7);
        CHECK(memcmp(e->body, "{\"x\":1}", 7) == 0);
        CHECK_STR(e->etag, "\"e1\"");
        CHECK_STR(e->link, "</a?cursor=x>; rel=\"next\"");
    }
    nd_cache_release(e);
    /* a key that is a prefix of another is another key */
    CHECK(nd_cache_get(c, "/a", 1) == NULL);
    CHECK(nd_cache_get(c, "/ab", 3) == NULL);
    struct nd_cache_stats st;
    nd_cache_stats(c, &st);
    CHECK_INT(st.hits, 1);
    CHECK_INT(st.misses, 3);
    CHECK_INT(st.stores, 1);
    nd_cache_destroy(c);
}

/* An entry keeps the answer's type and encoding: a cached feed is not JSON. */
static void test_type_and_encoding(void)
{
    struct nd_cache *c = nd_cache_create(1 << 20, 256);
    struct nd_cache_entry a = {.body = "\x1f\x8b..",
                               .len = 4,
                               .etag = "\"t-gz\"",
                               .type = "application/atom+xml",
                               .gzip = true};
    CHECK(nd_cache_put_answer(c, "g/feed", 6, nd_cache_generation(c), &a));
    CHECK(put(c, "i/feed", "<feed/>"));
    const struct nd_cache_entry *e = nd_cache_get(c, "g/feed", 6);
    CHECK(e != NULL);
    if (e) {
        CHECK_STR(e->type, "application/atom+xml");
        CHECK(e->gzip);
        CHECK_STR(e->etag, "\"t-gz\"");
        CHECK(memcmp(e->body, "\x1f\x8b..", 4) == 0);
    }
    nd_cache_release(e);
    e = nd_cache_get(c, "i/feed", 6);
    CHECK(e != NULL && e->type == NULL && !e->gzip);
    nd_cache_release(e);
    nd_cache_destroy(c);
}

static void test_invalidate(void)
{
    struct nd_cache *c = nd_cache_create(1 << 20, 256);
    CHECK(put(c, "/a", "old"));
    uint64_t before = nd_cache_generation(c);
    nd_cache_invalidate(c);
    CHECK(nd_cache_generation(c) != before);
    CHECK(nd_cache_get(c, "/a", 2) == NULL);
    /* an answer rendered before the write must not be stored after it */
    CHECK(!nd_cache_put(c, "/a", 2, before, "old", 3, "\"e\"", NULL));
    CHECK(nd_cache_get(c, "/a", 2) == NULL);
    CHECK(put(c, "/a", "new"));
    const struct nd_cache_entry *e = nd_cache_get(c, "/a", 2);
    CHECK(e && memcmp(e->body, "new", 3) == 0);
    nd_cache_release(e);
    nd_cache_destroy(c);
}

/* Stores body under key as an answer of article (0: a collection answer) rendered at generation. */
static bool put_of(struct nd_cache *c, const char *key, int64_t article, uint64_t generation)
{
    struct nd_cache_entry a = {.body = "body", .len = 4, .etag = "\"e\"", .article = article};
    return nd_cache_put_answer(c, key, strlen(key), generation, &a);
}

static bool cached(struct nd_cache *c, const char *key)
{
    const struct nd_cache_entry *e = nd_cache_get(c, key, strlen(key));
    nd_cache_release(e);
    return e != NULL;
}

static void test_invalidate_article(void)
{
    struct nd_cache *c = nd_cache_create(1 << 20, 256);
    uint64_t before = nd_cache_generation(c);
    CHECK(put_of(c, "/articles/7", 7, before));
    CHECK(put_of(c, "/articles/7/comments", 7, before));
    CHECK(put_of(c, "/articles/8", 8, before));
    CHECK(put_of(c, "/articles", 0, before));
    nd_cache_invalidate_article(c, 7);
    CHECK(!cached(c, "/articles/7"));
    CHECK(!cached(c, "/articles/7/comments"));
    CHECK(!cached(c, "/articles"));
    CHECK(cached(c, "/articles/8"));
    /* rendered before the write: refused for article 7 and collections, not for 8 */
    CHECK(!put_of(c, "/articles/7", 7, before));
    CHECK(!put_of(c, "/articles", 0, before));
    CHECK(put_of(c, "/articles/8?fields=id", 8, before));
    uint64_t after = nd_cache_generation(c);
    CHECK(put_of(c, "/articles/7", 7, after));
    CHECK(cached(c, "/articles/7"));
    /* a comment's write leaves the collections of articles alone */
    uint64_t now = nd_cache_generation(c);
    CHECK(put_of(c, "/search", ND_CACHE_ARTICLES_ONLY, now));
    CHECK(put_of(c, "/articles", 0, now));
    nd_cache_invalidate_comments(c, 7);
    CHECK(cached(c, "/search"));
    CHECK(!cached(c, "/articles") && !cached(c, "/articles/7") && cached(c, "/articles/8"));
    CHECK(!put_of(c, "/articles/7", 7, now));
    CHECK(put_of(c, "/articles/7", 7, nd_cache_generation(c)));
    nd_cache_invalidate_article(c, 9);
    CHECK(!cached(c, "/search"));
    /* 0 (a write that cannot tell) and nd_cache_invalidate forget everything */
    nd_cache_invalidate_article(c, 0);
    CHECK(!cached(c, "/articles/7") && !cached(c, "/articles/8"));
    CHECK(put_of(c, "/articles/8", 8, nd_cache_generation(c)));
    nd_cache_invalidate(c);
    CHECK(!cached(c, "/articles/8"));
    nd_cache_destroy(c);
}

static void test_reference_outlives_replacement(void)
{
    struct nd_cache *c = nd_cache_create(1 << 20, 64);
    CHECK(put(c, "/a", "first"));
    const struct nd_cache_entry *e = nd_cache_get(c, "/a", 2);
    CHECK(put(c, "/a", "second"));
    nd_cache_invalidate(c);
    CHECK(nd_cache_get(c, "/a", 2) == NULL);
    /* the reader's bytes are still there (ASan would catch a use after free) */
    CHECK(e && memcmp(e->body, "first", 5) == 0);
    nd_cache_release(e);
    nd_cache_destroy(c);
}

static void test_bounded(void)
{
    size_t max = 64 * 1024;
    struct nd_cache *c = nd_cache_create(max, 1024);
    char body[3000];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    struct nd_cache_stats st;
    unsigned stored = 0;
    for (int i = 0; i < 2000; i++) {
        char key[32];
        snprintf(key, sizeof key, "/k/%d", i);
        stored += put(c, key, body);
        if (i % 300 == 0)
            nd_cache_invalidate(c);
        nd_cache_stats(c, &st);
        CHECK(st.bytes <= max);
    }
    /* eviction makes room: the cache keeps taking entries after it is full */
    CHECK(stored > 1900);
    /* an answer over a quarter of the cache is never stored */
    char *big = malloc(max / 2);
    memset(big, 'y', max / 2);
    CHECK(!nd_cache_put(c, "/big", 4, nd_cache_generation(c), big, max / 2, "\"b\"", NULL));
    free(big);
    CHECK(nd_cache_create(0, 16) == NULL);
    nd_cache_destroy(c);
}

#define WAYS 4 /* slots per set (server/cache.c) */

/*
 * Writes into keys WAYS search URLs that c places in the set of victim;
 * returns how many it found.
 */
static unsigned find_colliders(const struct nd_cache *c, const char *victim, char keys[][48])
{
    unsigned set = nd_cache_set_index(c, victim, strlen(victim));
    unsigned found = 0;
    for (unsigned i = 0; i < 1000000 && found < WAYS; i++) {
        int len = snprintf(keys[found], 48, "/v1/search?q=w%u", i);
        if (nd_cache_set_index(c, keys[found], (size_t)len) == set)
            found++;
    }
    return found;
}

/*
 * Each cache draws its own hash key, as each process does: the same keys
 * land in other sets, so URLs computed to crowd out an entry of one cache
 * (here found by asking it, as a client could if the hash were public) do
 * nothing to it in another.
 */
static void test_keyed_placement(void)
{
    struct nd_cache *a = nd_cache_create(1 << 20, 256); /* 64 sets of 4 */
    struct nd_cache *b = nd_cache_create(1 << 20, 256);
    CHECK(a != NULL && b != NULL);

    /* One key, one set, every time, in one cache. */
    CHECK_INT(nd_cache_set_index(a, "/v1/articles/7", 14),
              nd_cache_set_index(a, "/v1/articles/7", 14));
    /* Across the two, 64 keys agree by chance about once (1/64 each), not always. */
    unsigned same = 0;
    for (int i = 0; i < 64; i++) {
        char key[32];
        int len = snprintf(key, sizeof key, "/v1/articles/%d", i);
        unsigned set = nd_cache_set_index(a, key, (size_t)len);
        CHECK(set < 64);
        same += set == nd_cache_set_index(b, key, (size_t)len);
    }
    CHECK(same < 16);

    const char *victim = "/v1/articles/1";
    char keys[WAYS][48];
    CHECK_INT(find_colliders(a, victim, keys), WAYS);
    CHECK(put(a, victim, "victim"));
    CHECK(put(b, victim, "victim"));
    for (unsigned i = 0; i < WAYS; i++) {
        CHECK(put(a, keys[i], "attacker"));
        CHECK(put(b, keys[i], "attacker"));
    }
    /* In a the set is full of the attacker's URLs and the oldest went... */
    CHECK(nd_cache_get(a, victim, strlen(victim)) == NULL);
    for (unsigned i = 0; i < WAYS; i++) {
        const struct nd_cache_entry *e = nd_cache_get(a, keys[i], strlen(keys[i]));
        CHECK(e != NULL);
        nd_cache_release(e);
    }
    /* ...in b the same URLs are spread over its sets and the victim stays. */
    const struct nd_cache_entry *e = nd_cache_get(b, victim, strlen(victim));
    CHECK(e != NULL && e->len == 6 && memcmp(e->body, "victim", 6) == 0);
    nd_cache_release(e);
    nd_cache_destroy(a);
    nd_cache_destroy(b);
}

static struct nd_cache *shared;

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        char key[16];
        int n = snprintf(key, sizeof key, "/u/%u", seed % 50);
        if (seed % 97 == 0) {
            nd_cache_invalidate(shared);
        } else if (seed % 3 == 0) {
            char body[64];
            int len = snprintf(body, sizeof body, "body of %s", key);
            nd_cache_put(shared, key, (size_t)n, nd_cache_generation(shared), body, (size_t)len,
                         "\"t\"", NULL);
        } else {
            const struct nd_cache_entry *e = nd_cache_get(shared, key, (size_t)n);
            if (e) {
                char want[64];
                int len = snprintf(want, sizeof want, "body of %s", key);
                CHECK(e->len == (size_t)len && memcmp(e->body, want, e->len) == 0);
            }
            nd_cache_release(e);
        }
    }
    return NULL;
}

static void test_threads(void)
{
    shared = nd_cache_create(16 * 1024, 64);
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, (void *)(i + 1));
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct nd_cache_stats st;
    nd_cache_stats(shared, &st);
    CHECK(st.hits > 0);
    CHECK(st.bytes <= 16 * 1024);
    nd_cache_destroy(shared);
}

/* Stores body under key as an answer that took cost_us to make. */
static bool put_costly(struct nd_cache *c, const char *key, const char *body, uint32_t cost_us)
{
    struct nd_cache_entry a = {.body = body, .len = strlen(body), .cost_us = cost_us};
    strcpy(a.etag, "\"t\"");
    return nd_cache_put_answer(c, key, strlen(key), nd_cache_generation(c), &a);
}

static bool holds(struct nd_cache *c, const char *key)
{
    const struct nd_cache_entry *e = nd_cache_get(c, key, strlen(key));
    nd_cache_release(e);
    return e != NULL;
}

/*
 * When the bytes are full, what goes is what was neither read again nor
 * costly to make: a flood of cheap pages (each read once, about five times
 * what the cache holds) leaves a search that took 40 ms and a page read all
 * along, and pushes out a cheap page stored with them and never read again.
 */
static void test_eviction_weighs_cost(void)
{
    struct nd_cache *c = nd_cache_create(64 * 1024, 1024); /* about 20 answers of 3 KB */
    char body[3000];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    CHECK(put_costly(c, "/v1/search?q=harbour", body, 40000));
    CHECK(put_costly(c, "/v1/articles/7", body, 30));
    CHECK(put_costly(c, "/v1/articles/8", body, 30));
    for (int i = 0; i < 100; i++) {
        char key[32];
        snprintf(key, sizeof key, "/v1/articles/%d", 1000 + i);
        CHECK(put_costly(c, key, body, 30));
        if (i % 5 == 0)
            CHECK(holds(c, "/v1/articles/7"));
    }
    CHECK(holds(c, "/v1/search?q=harbour"));
    CHECK(holds(c, "/v1/articles/7"));
    CHECK(!holds(c, "/v1/articles/8"));
    struct nd_cache_stats st;
    nd_cache_stats(c, &st);
    CHECK(st.bytes <= 64 * 1024);
    nd_cache_destroy(c);
}

/*
 * Answers stored last outlive older ones of the same cost that were read
 * once: 500 searches stored and read, then 400 more stored into a cache
 * that holds about 680 of them; all 400 are there when read. (With a credit
 * per entry that only hits raise, the old ones, read once more, outranked
 * the new and the new pushed each other out.)
 */
static void test_newer_outlive_older(void)
{
    struct nd_cache *c = nd_cache_create(4 << 20, 16384); /* enough slots that sets never fill */
    static char body[6000];
    memset(body, 'x', sizeof body - 1);
    char key[48];
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "/v1/search?q=old%d", i);
        CHECK(put_costly(c, key, body, 20000));
        CHECK(holds(c, key));
    }
    for (int i = 0; i < 400; i++) {
        snprintf(key, sizeof key, "/v1/search?q=new%d", i);
        CHECK(put_costly(c, key, body, 20000));
    }
    unsigned kept = 0;
    for (int i = 0; i < 400; i++) {
        snprintf(key, sizeof key, "/v1/search?q=new%d", i);
        kept += holds(c, key);
    }
    CHECK(kept == 400);
    struct nd_cache_stats st;
    nd_cache_stats(c, &st);
    CHECK(st.bytes <= 4 << 20);
    nd_cache_destroy(c);
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_hit_and_miss), CHECK_CASE(test_invalidate),
                     CHECK_CASE(test_invalidate_article), CHECK_CASE(test_type_and_encoding),
                     CHECK_CASE(test_reference_outlives_replacement), CHECK_CASE(test_bounded),
                     CHECK_CASE(test_threads), CHECK_CASE(test_keyed_placement),
                     CHECK_CASE(test_eviction_weighs_cost), CHECK_CASE(test_newer_outlive_older));
}
