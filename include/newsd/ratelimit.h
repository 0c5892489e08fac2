/*
 * ratelimit.h: token buckets per key (a client address, an API key id).
 *
 * A fixed-size table shared by all worker threads (one mutex); a new key
 * takes the slot of the least recently seen one, so memory stays bounded
 * under any number of keys. Besides allowed or not, a take reports what the
 * RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset response headers
 * tell a client, so that it can pace itself before it is refused.
 *
 * A key's set of eight slots is chosen by a keyed hash (SipHash-2-4) under a random key
 * each table draws at creation. With a public hash a client holding a few
 * addresses could pick the eight that share a set with its spent bucket and
 * push it out, to come back with a full one; unable to tell sets apart, it
 * needs a flood of new keys on the scale of the whole table.
 */
#ifndef NEWSD_RATELIMIT_H
#define NEWSD_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct nd_ratelimit;

/*
 * per_minute tokens are added per minute up to burst. per_minute 0 means no
 * limit. The table draws its random hash key here, initialising libsodium if
 * nobody has yet. NULL when out of memory or when libsodium cannot be
 * initialised.
 */
struct nd_ratelimit *nd_ratelimit_create(unsigned per_minute, unsigned burst);
void nd_ratelimit_destroy(struct nd_ratelimit *rl);

/* What one take found; every count in whole tokens or whole seconds. */
struct nd_ratelimit_result {
    bool allowed;
    unsigned limit;         /* the bucket's size (burst); 0 when there is no limit */
    unsigned remaining;     /* tokens left after this take */
    unsigned reset_s;       /* seconds until the bucket is full again */
    unsigned retry_after_s; /* when refused: seconds until a token is back (at least 1) */
};

/*
 * Takes one token for key at time now_ms and fills *out. Returns
 * out->allowed. A limiter without a limit (per_minute 0) allows everything
 * and reports limit 0, which means: send no RateLimit headers.
 */
bool nd_ratelimit_acquire(struct nd_ratelimit *rl, const char *key, uint64_t now_ms,
                          struct nd_ratelimit_result *out);

/*
 * nd_ratelimit_acquire reduced to its verdict: true when allowed; otherwise
 * false with *retry_after_s set (at least 1).
 */
bool nd_ratelimit_take(struct nd_ratelimit *rl, const char *key, uint64_t now_ms,
                       unsigned *retry_after_s);

/* ---- buckets shared through the database (nd_store_rate_take) ---- */

/* The length of a shared bucket's name: 32 hex digits. */
#define ND_RATELIMIT_BUCKET_LEN 32

/*
 * The name of key's bucket in the shared limiter called limiter ("comment",
 * "write") into out: a BLAKE2b hash of both, 128 bits in hex. Every process
 * makes the same name (the hash has no secret key), the database never sees
 * a client address in clear, and whatever a client sends makes a name of
 * the same short length.
 */
void nd_ratelimit_bucket_name(const char *limiter, const char *key,
                              char out[ND_RATELIMIT_BUCKET_LEN + 1]);

/*
 * Fills *out from a shared take's verdict, for a bucket refilled at
 * per_minute (at least 1) up to burst that holds tokens after the take: the
 * same figures nd_ratelimit_acquire gives for its own buckets.
 */
void nd_ratelimit_result_of(unsigned per_minute, unsigned burst, bool allowed, double tokens,
                            struct nd_ratelimit_result *out);

/*
 * The set (0 to 1023) in which key's bucket lives: it depends on the table's
 * random hash key. For tests; nothing else needs it.
 */
unsigned nd_ratelimit_set_index(const struct nd_ratelimit *rl, const char *key);

#endif
