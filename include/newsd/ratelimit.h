/*
 * ratelimit.h: token buckets per client address, for comment posting.
 *
 * A fixed-size table shared by all worker threads (one mutex); a new
 * address takes the slot of the least recently seen one, so memory stays
 * bounded under any number of addresses.
 */
#ifndef NEWSD_RATELIMIT_H
#define NEWSD_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct nd_ratelimit;

/*
 * per_minute tokens are added per minute up to burst. per_minute 0 means no
 * limit. NULL when out of memory.
 */
struct nd_ratelimit *nd_ratelimit_create(unsigned per_minute, unsigned burst);
void nd_ratelimit_destroy(struct nd_ratelimit *rl);

/*
 * Takes one token for key at time now_ms. Returns true when allowed;
 * otherwise false with *retry_after_s set to the whole seconds until a token
 * is available (at least 1).
 */
bool nd_ratelimit_take(struct nd_ratelimit *rl, const char *key, uint64_t now_ms,
                       unsigned *retry_after_s);

#endif
