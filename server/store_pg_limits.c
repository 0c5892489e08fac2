/*
 * store_pg_limits.c: rate limits shared by every newsd process of one
 * PostgreSQL database (nd_store_rate_take).
 *
 * A take is one statement, SELECT * FROM newsd_rate_take(...) (migration
 * 0006): the token bucket's refill and take happen in one INSERT ... ON
 * CONFLICT DO UPDATE whose row lock orders concurrent takes of one key, from
 * whichever process. About once a minute one take of the process also
 * deletes the buckets that are full again, which keeps the table to the
 * clients limited right now.
 *
 * Inside a batch (a bulk write takes a token per line) the take runs in a
 * savepoint of its own, so that a take that fails (a lock timeout) rolls
 * back alone and the batch goes on; its row stays locked until the batch
 * commits, so another write with the same key waits for that (a batch is
 * at most a few hundred lines).
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "newsd/util.h"
#include "store_pg.h"

_Static_assert((int)PG_RATE_PRUNE < (int)PG_SLOT_COMMENTS, "rate limit statements overflow");

/* How often, at most, one process deletes the full buckets. */
#define PRUNE_INTERVAL_US (60 * 1000000ull)

/* The next time this process prunes: 0 at start, so the first take does. */
static atomic_uint_least64_t next_prune_us;

struct verdict {
    bool allowed;
    double tokens;
};

/* An nd_pg_read_fn: newsd_rate_take's (allowed, tokens) into the struct verdict at ctx. */
static enum nd_err read_verdict(const struct nd_row *row, void *ctx)
{
    struct verdict *v = ctx;
    if (nd_row_is_null(row, 0) || nd_row_is_null(row, 1))
        return ND_ERR_DB;
    v->allowed = nd_row_int(row, 0) != 0;
    v->tokens = nd_row_real(row, 1);
    return ND_OK;
}

/*
 * Deletes the full buckets when this process has not for PRUNE_INTERVAL_US.
 * Only outside a transaction: inside a batch the deleted rows would stay
 * locked until it commits. A failure is logged by nd_pg_exec and otherwise
 * ignored: the next interval tries again.
 */
static void maybe_prune(struct nd_pg *st)
{
    uint64_t now = nd_monotonic_us();
    uint64_t due = atomic_load(&next_prune_us);
    if (st->in_transaction || now < due)
        return;
    if (!atomic_compare_exchange_strong(&next_prune_us, &due, now + PRUNE_INTERVAL_US))
        return; /* another thread prunes */
    nd_pg_exec(st, PG_RATE_PRUNE, "SELECT newsd_rate_prune()", NULL, false, "rate limit pruning");
}

enum nd_err nd_pg_rate_take(struct nd_store *store, const char *bucket, unsigned per_minute,
                            unsigned burst, bool *allowed, double *tokens)
{
    struct nd_pg *st = nd_pg_of(store);
    struct verdict v = {0};
    bool own_savepoint = st->batch_depth > 0 && !st->savepoint_open;
    enum nd_err err = own_savepoint ? nd_pg_begin(st) : ND_OK;
    if (err == ND_OK)
        err = nd_pg_row_one(st, PG_RATE_TAKE,
                            "SELECT allowed, tokens FROM newsd_rate_take(:bucket, "
                            ":per_minute::double precision, :burst::double precision)",
                            ND_PARAMS(ND_TEXT(":bucket", bucket), ND_INT(":per_minute", per_minute),
                                      ND_INT(":burst", burst)),
                            read_verdict, &v, "rate limit");
    if (own_savepoint)
        err = nd_pg_finish(st, err);
    if (err != ND_OK)
        return err;
    maybe_prune(st);
    *allowed = v.allowed;
    *tokens = v.tokens;
    return ND_OK;
}
