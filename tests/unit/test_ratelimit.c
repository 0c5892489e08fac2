/*
 * test_ratelimit.c: token buckets over simulated time (the clock is a
 * parameter, so nothing here sleeps), and the keyed placement of buckets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "newsd/ratelimit.h"

/* Takes n tokens at time now; returns how many were granted. */
static unsigned take_n(struct nd_ratelimit *rl, const char *key, uint64_t now, unsigned n)
{
    unsigned granted = 0;
    unsigned retry;
    for (unsigned i = 0; i < n; i++)
        granted += nd_ratelimit_take(rl, key, now, &retry);
    return granted;
}

static void test_burst(void)
{
    struct nd_ratelimit *rl = nd_ratelimit_create(10, 5);
    unsigned retry = 0;

    CHECK(rl != NULL);
    CHECK_INT(take_n(rl, "10.0.0.1", 1000, 5), 5);
    CHECK(!nd_ratelimit_take(rl, "10.0.0.1", 1000, &retry));
    /* 10 per minute: one token every 6 s. */
    CHECK_INT(retry, 6);
    /* Another address has its own bucket. */
    CHECK_INT(take_n(rl, "10.0.0.2", 1000, 6), 5);
    nd_ratelimit_destroy(rl);
}

static void test_refill(void)
{
    struct nd_ratelimit *rl = nd_ratelimit_create(60, 3); /* one token per second */
    unsigned retry = 0;

    CHECK_INT(take_n(rl, "a", 0, 3), 3);
    CHECK(!nd_ratelimit_take(rl, "a", 0, &retry));
    CHECK_INT(retry, 1);
    CHECK(!nd_ratelimit_take(rl, "a", 999, &retry));
    CHECK_INT(retry, 1);
    CHECK(nd_ratelimit_take(rl, "a", 1000, &retry));
    CHECK(!nd_ratelimit_take(rl, "a", 1000, &retry));
    /* A long pause refills to the burst, not beyond. */
    CHECK_INT(take_n(rl, "a", 3600 * 1000, 10), 3);
    /* Time going backwards (a caller's bug) neither refills nor crashes. */
    CHECK(!nd_ratelimit_take(rl, "a", 5, &retry));
    nd_ratelimit_destroy(rl);
}

static void test_retry_after_rounds_up(void)
{
    struct nd_ratelimit *rl = nd_ratelimit_create(1, 1); /* one per minute */
    unsigned retry = 0;

    CHECK(nd_ratelimit_take(rl, "b", 0, &retry));
    CHECK(!nd_ratelimit_take(rl, "b", 0, &retry));
    CHECK_INT(retry, 60);
    CHECK(!nd_ratelimit_take(rl, "b", 30000, &retry));
    CHECK_INT(retry, 30);
    CHECK(!nd_ratelimit_take(rl, "b", 59500, &retry));
    CHECK_INT(retry, 1);
    CHECK(nd_ratelimit_take(rl, "b", 60000, &retry));
    nd_ratelimit_destroy(rl);
}

static void test_eviction(void)
{
    struct nd_ratelimit *rl = nd_ratelimit_create(1, 1);
    unsigned retry;
    char key[32];

    CHECK(nd_ratelimit_take(rl, "victim", 0, &retry));
    CHECK(!nd_ratelimit_take(rl, "victim", 0, &retry));
    /* A few other addresses cannot push it out of the table... */
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "other-%d", i);
        CHECK(nd_ratelimit_take(rl, key, 0, &retry));
    }
    CHECK(!nd_ratelimit_take(rl, "victim", 0, &retry));
    /* ...but a flood of new ones does: memory stays bounded, and the evicted
     * address starts over with a full bucket. */
    for (int i = 0; i < 200000; i++) {
        snprintf(key, sizeof key, "flood-%d", i);
        CHECK(nd_ratelimit_take(rl, key, 0, &retry));
    }
    CHECK(nd_ratelimit_take(rl, "victim", 0, &retry));
    nd_ratelimit_destroy(rl);
}

static void test_unlimited(void)
{
    struct nd_ratelimit *rl = nd_ratelimit_create(0, 1);
    CHECK_INT(take_n(rl, "c", 0, 1000), 1000);
    nd_ratelimit_destroy(rl);
    nd_ratelimit_destroy(NULL);
}

static void test_long_keys(void)
{
    struct nd_ratelimit *rl = nd_ratelimit_create(1, 1);
    unsigned retry;
    const char *v6 = "2001:0db8:85a3:0000:0000:8a2e:0370:7334";

    CHECK(nd_ratelimit_take(rl, v6, 0, &retry));
    CHECK(!nd_ratelimit_take(rl, v6, 0, &retry));
    CHECK(nd_ratelimit_take(rl, "2001:0db8:85a3:0000:0000:8a2e:0370:7335", 0, &retry));
    nd_ratelimit_destroy(rl);
}

static void test_result_counts(void)
{
    struct nd_ratelimit *rl = nd_ratelimit_create(60, 3); /* one token per second */
    struct nd_ratelimit_result r;

    CHECK(nd_ratelimit_acquire(rl, "k", 0, &r));
    CHECK(r.allowed);
    CHECK_INT(r.limit, 3);
    CHECK_INT(r.remaining, 2);
    CHECK_INT(r.reset_s, 1); /* one token short of full: one second */
    CHECK_INT(r.retry_after_s, 0);
    CHECK(nd_ratelimit_acquire(rl, "k", 0, &r));
    CHECK(nd_ratelimit_acquire(rl, "k", 0, &r));
    CHECK_INT(r.remaining, 0);
    CHECK_INT(r.reset_s, 3);
    CHECK(!nd_ratelimit_acquire(rl, "k", 500, &r));
    CHECK(!r.allowed);
    CHECK_INT(r.remaining, 0);
    CHECK_INT(r.retry_after_s, 1);
    CHECK_INT(r.reset_s, 3); /* 2.5 s, rounded up */
    /* Half a minute later the bucket is full: a take leaves burst - 1. */
    CHECK(nd_ratelimit_acquire(rl, "k", 30000, &r));
    CHECK_INT(r.remaining, 2);
    CHECK_INT(r.limit, 3);
    nd_ratelimit_destroy(rl);
}

static void test_result_unlimited(void)
{
    struct nd_ratelimit *rl = nd_ratelimit_create(0, 5);
    struct nd_ratelimit_result r = {.limit = 99};

    CHECK(nd_ratelimit_acquire(rl, "k", 0, &r));
    CHECK(r.allowed);
    CHECK_INT(r.limit, 0); /* no limit: no RateLimit headers */
    nd_ratelimit_destroy(rl);
}

static void test_result_slow_refill(void)
{
    struct nd_ratelimit *rl = nd_ratelimit_create(10, 20); /* a token every 6 s */
    struct nd_ratelimit_result r;

    for (int i = 0; i < 20; i++)
        CHECK(nd_ratelimit_acquire(rl, "k", 1000, &r));
    CHECK(!nd_ratelimit_acquire(rl, "k", 1000, &r));
    CHECK_INT(r.retry_after_s, 6);
    CHECK_INT(r.reset_s, 120); /* 20 tokens at 10 a minute */
    nd_ratelimit_destroy(rl);
}

#define WAYS 8 /* buckets per set (server/ratelimit.c) */

/*
 * Writes into addrs WAYS addresses that rl places in the set of victim;
 * returns how many it found.
 */
static unsigned find_colliders(const struct nd_ratelimit *rl, const char *victim, char addrs[][16])
{
    unsigned set = nd_ratelimit_set_index(rl, victim);
    unsigned found = 0;
    for (unsigned i = 0; i < (1u << 22) && found < WAYS; i++) {
        snprintf(addrs[found], 16, "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        if (nd_ratelimit_set_index(rl, addrs[found]) == set)
            found++;
    }
    return found;
}

/*
 * Each table draws its own hash key, as each process does. Addresses that
 * share the victim's set in one table push its bucket out there (it starts
 * again full: its limit is defeated); in another table the same addresses
 * are spread out and the victim stays limited.
 */
static void test_keyed_placement(void)
{
    struct nd_ratelimit *a = nd_ratelimit_create(1, 1);
    struct nd_ratelimit *b = nd_ratelimit_create(1, 1);
    unsigned retry;
    CHECK(a != NULL && b != NULL);

    CHECK_INT(nd_ratelimit_set_index(a, "192.0.2.7"), nd_ratelimit_set_index(a, "192.0.2.7"));
    /* 64 addresses agree by chance about never (1/1024 each), not always. */
    unsigned same = 0;
    for (int i = 0; i < 64; i++) {
        char addr[16];
        snprintf(addr, sizeof addr, "192.0.2.%d", i);
        unsigned set = nd_ratelimit_set_index(a, addr);
        CHECK(set < 1024);
        same += set == nd_ratelimit_set_index(b, addr);
    }
    CHECK(same < 8);

    const char *victim = "192.0.2.1";
    char addrs[WAYS][16];
    CHECK_INT(find_colliders(a, victim, addrs), WAYS);
    CHECK(nd_ratelimit_take(a, victim, 0, &retry));
    CHECK(nd_ratelimit_take(b, victim, 0, &retry));
    CHECK(!nd_ratelimit_take(a, victim, 0, &retry));
    CHECK(!nd_ratelimit_take(b, victim, 0, &retry));
    for (unsigned i = 0; i < WAYS; i++) {
        CHECK(nd_ratelimit_take(a, addrs[i], 0, &retry));
        CHECK(nd_ratelimit_take(b, addrs[i], 0, &retry));
    }
    CHECK(nd_ratelimit_take(a, victim, 0, &retry)); /* evicted: a full bucket again */
    CHECK(!nd_ratelimit_take(b, victim, 0, &retry));
    CHECK_INT(retry, 60);
    nd_ratelimit_destroy(a);
    nd_ratelimit_destroy(b);
}

/* Shared bucket names: fixed length, the same in every process, apart per limiter and key. */
static void test_bucket_name(void)
{
    char a[ND_RATELIMIT_BUCKET_LEN + 1], b[ND_RATELIMIT_BUCKET_LEN + 1];

    nd_ratelimit_bucket_name("comment", "203.0.113.7", a);
    CHECK_INT(strlen(a), ND_RATELIMIT_BUCKET_LEN);
    CHECK(strspn(a, "0123456789abcdef") == ND_RATELIMIT_BUCKET_LEN);
    /* BLAKE2b-128 of "comment", NUL, "203.0.113.7", as Python's hashlib computes it too
       (test_cluster_limits.py finds the rows by these names) */
    CHECK_STR(a, "0663c1888261c38cffdcdbc1f12a6193");
    nd_ratelimit_bucket_name("comment", "203.0.113.7", b);
    CHECK(strcmp(a, b) == 0);
    nd_ratelimit_bucket_name("write", "203.0.113.7", b);
    CHECK(strcmp(a, b) != 0);
    nd_ratelimit_bucket_name("comment", "203.0.113.8", b);
    CHECK(strcmp(a, b) != 0);
    /* The NUL between the parts: ("ab", "c") is not ("a", "bc"). */
    nd_ratelimit_bucket_name("ab", "c", a);
    nd_ratelimit_bucket_name("a", "bc", b);
    CHECK(strcmp(a, b) != 0);
}

/* A shared take's verdict in the figures of a local one. */
static void test_result_of(void)
{
    struct nd_ratelimit_result r;

    nd_ratelimit_result_of(60, 10, true, 9.0, &r); /* one token a second */
    CHECK(r.allowed);
    CHECK_INT(r.limit, 10);
    CHECK_INT(r.remaining, 9);
    CHECK_INT(r.reset_s, 1);
    CHECK_INT(r.retry_after_s, 0);

    nd_ratelimit_result_of(60, 10, false, 0.25, &r);
    CHECK(!r.allowed);
    CHECK_INT(r.remaining, 0);
    CHECK_INT(r.retry_after_s, 1); /* 0.75 s, rounded up */
    CHECK_INT(r.reset_s, 10);      /* 9.75 s */

    nd_ratelimit_result_of(10, 5, false, 0.0, &r); /* a token every 6 s */
    CHECK_INT(r.retry_after_s, 6);
    CHECK_INT(r.reset_s, 30);

    /* Figures out of range (a bucket made under other settings) are clamped. */
    nd_ratelimit_result_of(60, 3, true, 7.5, &r);
    CHECK_INT(r.remaining, 3);
    CHECK_INT(r.reset_s, 0);
    nd_ratelimit_result_of(60, 3, false, -2.0, &r);
    CHECK_INT(r.remaining, 0);
    CHECK_INT(r.retry_after_s, 1);
}

int main(void)
{
    return CHECK_RUN(CHECK_CASE(test_burst), CHECK_CASE(test_refill),
                     CHECK_CASE(test_retry_after_rounds_up), CHECK_CASE(test_eviction),
                     CHECK_CASE(test_unlimited), CHECK_CASE(test_long_keys),
                     CHECK_CASE(test_result_counts), CHECK_CASE(test_result_unlimited),
                     CHECK_CASE(test_result_slow_refill), CHECK_CASE(test_keyed_placement),
                     CHECK_CASE(test_bucket_name), CHECK_CASE(test_result_of));
}
