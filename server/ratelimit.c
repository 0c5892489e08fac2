/*
 * ratelimit.c: token buckets per key (client address, API key id) in a
 * fixed-size table.
 *
 * The table is set-associative: a key hashes to one set of WAYS slots, and a
 * new key takes the least recently seen slot of its set. Lookups cost at most
 * WAYS string comparisons, memory is fixed at creation, and a flood of new
 * addresses can only evict buckets, never grow the table. An evicted address
 * starts again with a full bucket, which is the price of bounded memory.
 * The set is chosen by SipHash-2-4 (libsodium's crypto_shorthash) under a
 * random key drawn when the table is created: an address or key id says
 * nothing to an outsider about its set, so nobody can gather keys of one set
 * to push a bucket out on purpose (it comes back full) or to make the table
 * thrash.
 *
 * Tokens are counted in 1/60000 of a token, so that refilling per_minute
 * tokens per 60000 ms is integer arithmetic: every millisecond adds
 * per_minute units. One mutex guards the table; the critical section is a
 * few dozen instructions.
 *
 * Over PostgreSQL the buckets live in the database instead, shared by every
 * process (nd_store_rate_take); this file names them and turns their
 * verdicts into the same figures, and its own table is the fallback while
 * the database cannot answer.
 */
#include "newsd/ratelimit.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SETS 1024
#define WAYS 8
#define KEY_MAX 64               /* longer keys are compared on their first 63 bytes */
#define UNITS_PER_TOKEN 60000ULL /* milliseconds per minute */

struct bucket {
    char key[KEY_MAX];
    uint64_t units;   /* tokens * UNITS_PER_TOKEN */
    uint64_t last_ms; /* time of the last refill */
    uint64_t seen;    /* LRU stamp from rl->clock; 0 = empty slot */
};

struct nd_ratelimit {
    pthread_mutex_t lock;
    unsigned per_minute;
    uint64_t capacity; /* burst * UNITS_PER_TOKEN */
    uint64_t clock;    /* counts takes, orders buckets by last use */
    unsigned char hash_key[crypto_shorthash_KEYBYTES]; /* random, set once at creation */
    struct bucket slots[SETS][WAYS];
};

struct nd_ratelimit *nd_ratelimit_create(unsigned per_minute, unsigned burst)
{
    if (sodium_init() < 0)
        return NULL;
    struct nd_ratelimit *rl = calloc(1, sizeof *rl);
    if (rl == NULL)
        return NULL;
    if (pthread_mutex_init(&rl->lock, NULL) != 0) {
        free(rl);
        return NULL;
    }
    rl->per_minute = per_minute;
    rl->capacity = (uint64_t)(burst > 0 ? burst : 1) * UNITS_PER_TOKEN;
    randombytes_buf(rl->hash_key, sizeof rl->hash_key);
    return rl;
}

void nd_ratelimit_destroy(struct nd_ratelimit *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_destroy(&rl->lock);
    sodium_memzero(rl->hash_key, sizeof rl->hash_key);
    free(rl);
}

/*
 * The set of key under the table's hash key. A client picks its address from
 * whatever range it holds (a whole IPv6 /64, say), so this must not be a
 * public hash.
 */
static size_t set_of(const struct nd_ratelimit *rl, const char *key)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(out, (const unsigned char *)key, strlen(key), rl->hash_key);
    memcpy(&h, out, sizeof h);
    return (size_t)(h % SETS);
}

unsigned nd_ratelimit_set_index(const struct nd_ratelimit *rl, const char *key)
{
    return (unsigned)set_of(rl, key);
}

/*
 * The bucket of key, or the slot it takes over (filled, stamped now_ms).
 * Called with the lock held.
 */
static struct bucket *find_bucket(struct nd_ratelimit *rl, const char *key, uint64_t now_ms)
{
    struct bucket *set = rl->slots[set_of(rl, key)];
    struct bucket *victim = &set[0];

    for (size_t i = 0; i < WAYS; i++) {
        if (set[i].seen != 0 && strncmp(set[i].key, key, KEY_MAX - 1) == 0)
            return &set[i];
        if (set[i].seen < victim->seen)
            victim = &set[i];
    }
    memset(victim, 0, sizeof *victim);
    strncpy(victim->key, key, KEY_MAX - 1);
    victim->units = rl->capacity;
    victim->last_ms = now_ms;
    return victim;
}

/* Whole seconds (rounded up) until units more units have been refilled. */
static unsigned seconds_for(const struct nd_ratelimit *rl, uint64_t units)
{
    uint64_t wait_ms = (units + rl->per_minute - 1) / rl->per_minute;
    uint64_t wait_s = (wait_ms + 999) / 1000;
    return wait_s > UINT32_MAX ? UINT32_MAX : (unsigned)wait_s;
}

/* Adds the tokens earned since the bucket's last refill. Called with the lock held. */
static void refill(const struct nd_ratelimit *rl, struct bucket *b, uint64_t now_ms)
{
    if (now_ms <= b->last_ms)
        return; /* time going backwards (a caller's bug) refills nothing */
    /* Clamp the elapsed time first so the product cannot overflow. */
    uint64_t elapsed = now_ms - b->last_ms;
    uint64_t full_after = rl->capacity / rl->per_minute + 1;
    uint64_t gained = (elapsed > full_after ? full_after : elapsed) * rl->per_minute;
    b->units = b->units + gained > rl->capacity ? rl->capacity : b->units + gained;
    b->last_ms = now_ms;
}

bool nd_ratelimit_acquire(struct nd_ratelimit *rl, const char *key, uint64_t now_ms,
                          struct nd_ratelimit_result *out)
{
    memset(out, 0, sizeof *out);
    out->allowed = true;
    if (rl->per_minute == 0)
        return true;
    pthread_mutex_lock(&rl->lock);
    struct bucket *b = find_bucket(rl, key, now_ms);
    b->seen = ++rl->clock;
    refill(rl, b, now_ms);
    out->allowed = b->units >= UNITS_PER_TOKEN;
    if (out->allowed)
        b->units -= UNITS_PER_TOKEN;
    else
        out->retry_after_s = seconds_for(rl, UNITS_PER_TOKEN - b->units);
    if (out->retry_after_s == 0 && !out->allowed)
        out->retry_after_s = 1;
    out->limit = (unsigned)(rl->capacity / UNITS_PER_TOKEN);
    out->remaining = (unsigned)(b->units / UNITS_PER_TOKEN);
    out->reset_s = seconds_for(rl, rl->capacity - b->units);
    pthread_mutex_unlock(&rl->lock);
    return out->allowed;
}

bool nd_ratelimit_take(struct nd_ratelimit *rl, const char *key, uint64_t now_ms,
                       unsigned *retry_after_s)
{
    struct nd_ratelimit_result r;
    if (nd_ratelimit_acquire(rl, key, now_ms, &r))
        return true;
    *retry_after_s = r.retry_after_s;
    return false;
}

void nd_ratelimit_bucket_name(const char *limiter, const char *key,
                              char out[ND_RATELIMIT_BUCKET_LEN + 1])
{
    unsigned char hash[ND_RATELIMIT_BUCKET_LEN / 2];
    crypto_generichash_state state;
    /* the NUL between the two keeps ("ab", "c") and ("a", "bc") apart */
    crypto_generichash_init(&state, NULL, 0, sizeof hash);
    crypto_generichash_update(&state, (const unsigned char *)limiter, strlen(limiter) + 1);
    crypto_generichash_update(&state, (const unsigned char *)key, strlen(key));
    crypto_generichash_final(&state, hash, sizeof hash);
    sodium_bin2hex(out, ND_RATELIMIT_BUCKET_LEN + 1, hash, sizeof hash);
}

/* Whole seconds, rounded up, for tokens to be refilled at per_minute (capped). */
static unsigned seconds_to_refill(double tokens, unsigned per_minute)
{
    double s = tokens > 0 ? tokens * 60.0 / per_minute : 0;
    if (s >= (double)UINT32_MAX)
        return UINT32_MAX;
    unsigned whole = (unsigned)s;
    return (double)whole < s ? whole + 1 : whole;
}

void nd_ratelimit_result_of(unsigned per_minute, unsigned burst, bool allowed, double tokens,
                            struct nd_ratelimit_result *out)
{
    if (tokens < 0)
        tokens = 0;
    if (tokens > burst)
        tokens = burst;
    memset(out, 0, sizeof *out);
    out->allowed = allowed;
    out->limit = burst;
    out->remaining = (unsigned)tokens;
    out->reset_s = seconds_to_refill(burst - tokens, per_minute);
    if (!allowed) {
        out->retry_after_s = seconds_to_refill(1.0 - tokens, per_minute);
        if (out->retry_after_s == 0)
            out->retry_after_s = 1;
    }
}
