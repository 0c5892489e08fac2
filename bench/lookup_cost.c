/*
 * lookup_cost.c: the cost of one lookup in the response cache and in the
 * rate-limit table, for keys of typical lengths, to be counted in
 * instructions under callgrind rather than timed (the figures then do not
 * depend on what else the machine is doing).
 *
 * `lookup_cost SCENARIO N` puts one key in a table, then looks it up N
 * times. Running it with N and with 0 and dividing the difference of the two
 * instruction counts by N gives the cost of one lookup, setup excluded:
 * bench/lookup-cost does exactly that for every scenario. Built against
 * server/cache.c and server/ratelimit.c alone (they need nothing else of
 * newsd), optimised as a release build is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsd/cache.h"
#include "newsd/ratelimit.h"

/* A 30-byte path, a 200-byte search query, a 15-byte client address. */
static const char PATH[] = "/v1/articles/123456/comments?x";
static const char ADDRESS[] = "192.168.100.200";

static char query[201];

static void make_query(void)
{
    static const char words[] = "climate summit europe budget election vote ";
    size_t n = strlen("/v1/search?q=");
    memcpy(query, "/v1/search?q=", n);
    for (size_t i = n; i < sizeof query - 1; i++)
        query[i] =
            words[(i - n) % (sizeof words - 1)] == ' ' ? '+' : words[(i - n) % (sizeof words - 1)];
    query[sizeof query - 1] = '\0';
}

/*
 * N hits on key, the only entry of the cache. Other entries would make the
 * count depend on how many share its set, which with a random hash key
 * changes from run to run; alone, it is found in the first slot it looks at,
 * so the figure is the fixed cost of a lookup, hash included.
 */
static int run_cache(const char *key, size_t keylen, unsigned long n)
{
    struct nd_cache *c = nd_cache_create(16u << 20, 4096);
    if (c == NULL)
        return 1;
    nd_cache_put(c, key, keylen, nd_cache_generation(c), "{}", 2, "\"e\"", NULL);
    unsigned long hits = 0;
    for (unsigned long i = 0; i < n; i++) {
        const struct nd_cache_entry *e = nd_cache_get(c, key, keylen);
        hits += e != NULL;
        nd_cache_release(e);
    }
    nd_cache_destroy(c);
    return hits == n ? 0 : 1;
}

/* N takes for one address, alone in a limiter that never refuses it (see run_cache). */
static int run_ratelimit(unsigned long n)
{
    struct nd_ratelimit *rl = nd_ratelimit_create(60000, 1000000);
    if (rl == NULL)
        return 1;
    unsigned retry;
    unsigned long allowed = 0;
    for (unsigned long i = 0; i < n; i++)
        allowed += nd_ratelimit_take(rl, ADDRESS, 1000, &retry);
    nd_ratelimit_destroy(rl);
    return allowed == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s path|query|address N\n", argv[0]);
        return 2;
    }
    unsigned long n = strtoul(argv[2], NULL, 10);
    make_query();
    if (strcmp(argv[1], "path") == 0)
        return run_cache(PATH, strlen(PATH), n);
    if (strcmp(argv[1], "query") == 0)
        return run_cache(query, strlen(query), n);
    if (strcmp(argv[1], "address") == 0)
        return run_ratelimit(n);
    fprintf(stderr, "%s: unknown scenario %s\n", argv[0], argv[1]);
    return 2;
}
