/*
 * store_pg_write.c: how a write ends on PostgreSQL. Every write transaction
 * publishes its change log rows (migration 0005's newsd_publish_changes)
 * before its COMMIT, in the same transaction, so that a client that was
 * answered finds its change in /v1/changes and each write costs one commit;
 * then the primary's insert position is read for reads from a replica
 * (store_pg_replica.c). A write that is one statement (a new comment) sends
 * its BEGIN (in a group commit, its SAVEPOINT) and the statement as one
 * pipeline, then the query string that ends it: two round trips where it
 * took four (three in a group).
 *
 * The publication takes the publications' lock until the transaction ends,
 * so change ids still become visible in the order they were given; the
 * work of the write before it runs side by side with other writers.
 */
#include <string.h>

#include "newsd/log.h"
#include "store_pg.h"

enum nd_err nd_pg_publish_commit(struct nd_pg *st)
{
    enum { R_PUBLISH, R_COMMIT, R_POSITION }; /* the results, in order */
    enum nd_err err = ND_OK;
    uint64_t pos = 0;
    unsigned n = 0;
    PGresult *res;
    st->write_position = 0;
    /* the simple protocol runs a statement of the string only when those before it succeeded */
    if (!PQsendQuery(st->conn, "SELECT newsd_publish_changes(); COMMIT; "
                               "SELECT pg_current_wal_insert_lsn()"))
        return nd_pg_err(st, NULL, "commit");
    while ((res = PQgetResult(st->conn)) != NULL) {
        ExecStatusType status = PQresultStatus(res);
        if (err == ND_OK && status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
            err = nd_pg_err(st, res, n == R_PUBLISH ? "change log publication" : "commit");
        else if (n == R_POSITION)
            pos = nd_pg_result_position(res);
        PQclear(res);
        n++;
    }
    if (err == ND_OK && n <= R_COMMIT)
        err = nd_pg_err(st, NULL, "commit");
    if (err != ND_OK) {
        if (PQtransactionStatus(st->conn) == PQTRANS_INERROR)
            PQclear(PQexec(st->conn, "ROLLBACK"));
        return err;
    }
    nd_pg_note_write(st, pos);
    return ND_OK;
}

/*
 * A pipelined write sends two queries: what opens it (alone, the BEGIN of
 * its own transaction; in a batch, a group commit, its SAVEPOINT), then its
 * statement. Its row is made JSON before the write is ended (the
 * publication, COMMIT and position in one query string, or RELEASE), so
 * that a failure there still undoes it.
 */
enum { P_OPEN, P_WRITE, P_COUNT };
#define OPEN_ALONE "BEGIN"
#define OPEN_IN_BATCH "SAVEPOINT nd_write"

/*
 * Sends open_sql and the statement of slot (bound in b) in pipeline mode
 * and collects the first result of each into results (NULL where none
 * came: a lost connection). Returns false when they could not be sent.
 */
static bool run_pipeline(struct nd_pg *st, const char *open_sql, const struct nd_pg_stmt *slot,
                         const struct nd_pg_bound *b, PGresult *results[P_COUNT])
{
    PGconn *conn = st->conn;
    if (!PQenterPipelineMode(conn))
        return false;
    bool sent = PQsendQueryParams(conn, open_sql, 0, NULL, NULL, NULL, NULL, 0) &&
                PQsendQueryPrepared(conn, slot->name, (int)slot->nparams, b->values, b->lengths,
                                    b->formats, 0) &&
                PQpipelineSync(conn);
    /* each query's results end with a NULL; after a failure the rest come as "aborted" */
    for (unsigned i = 0; i < P_COUNT && sent; i++) {
        PGresult *res;
        while ((res = PQgetResult(conn)) != NULL) {
            if (!results[i] && PQresultStatus(res) != PGRES_PIPELINE_SYNC)
                results[i] = res;
            else
                PQclear(res);
        }
    }
    if (sent) {
        PGresult *sync = PQgetResult(conn); /* the pipeline's end */
        PQclear(sync);
    }
    PQexitPipelineMode(conn);
    return sent;
}

/*
 * The error of a pipelined write: the first query that failed, mapped by
 * nd_pg_err (an "aborted" result only follows a failure, so it is skipped).
 */
static enum nd_err pipeline_error(struct nd_pg *st, const char *open_sql,
                                  PGresult *results[P_COUNT], const char *what)
{
    for (unsigned i = 0; i < P_COUNT; i++) {
        ExecStatusType status = results[i] ? PQresultStatus(results[i]) : PGRES_FATAL_ERROR;
        if (status != PGRES_PIPELINE_ABORTED && status != PGRES_COMMAND_OK &&
            status != PGRES_TUPLES_OK)
            return nd_pg_err(st, results[i], i == P_WRITE ? what : open_sql);
    }
    return ND_OK;
}

/*
 * Runs the pipeline for the statement of slot, makes its row into *out and
 * ends the write as the long way does (nd_pg_finish_with: alone, the
 * publication, COMMIT and position; in a batch, RELEASE; on any failure,
 * what was opened is rolled back).
 */
static enum nd_err write_pipelined(struct nd_pg *st, bool batch, struct nd_pg_stmt *stmt,
                                   const struct nd_pg_bound *b, const struct nd_shape *shape,
                                   json_t **out, const char *what)
{
    const char *open_sql = batch ? OPEN_IN_BATCH : OPEN_ALONE;
    PGresult *results[P_COUNT] = {NULL};
    json_t *value = NULL;
    enum nd_err err = run_pipeline(st, open_sql, stmt, b, results)
                          ? pipeline_error(st, open_sql, results, what)
                          : nd_pg_err(st, NULL, what);
    bool opened = results[P_OPEN] && PQresultStatus(results[P_OPEN]) == PGRES_COMMAND_OK;
    if (batch) {
        st->savepoint_open = opened;
    } else {
        st->in_transaction = opened;
        st->writing = opened;
    }
    if (err == ND_OK && PQntuples(results[P_WRITE]) == 0)
        err = ND_ERR_NOT_FOUND;
    if (err == ND_OK) {
        struct nd_pg_row r = {results[P_WRITE], 0};
        struct nd_row row = nd_pg_row(&r);
        err = nd_row_map_shape(&row, shape, &value);
    }
    for (unsigned i = 0; i < P_COUNT; i++)
        PQclear(results[i]);
    return nd_pg_finish_with(st, err, value, out);
}

enum nd_err nd_pg_write_one(struct nd_pg *st, unsigned slot, const char *sql,
                            const struct nd_param *params, const struct nd_shape *shape,
                            json_t **out, const char *what)
{
    json_t *value = NULL;
    struct nd_pg_stmt *stmt = &st->stmts[slot];
    bool batch = st->batch_depth > 0;
    /* a batch whose transaction is gone, or a write inside another's transaction, goes the
       long way, which knows how to refuse it; so does a batch's first use of the statement:
       preparing it could fail (a lock timeout) outside the savepoint, failing the batch */
    if ((batch ? !st->in_transaction || st->savepoint_open || !stmt->prepared
               : st->in_transaction) ||
        stmt->oneshot) {
        enum nd_err err = nd_pg_begin(st);
        if (err == ND_OK)
            err = nd_pg_get(st, slot, sql, params, shape, &value, what);
        return nd_pg_finish_with(st, err, value, out);
    }
    if (st->replica)
        return ND_ERR_READONLY;
    struct nd_pg_bound b;
    enum nd_err err = nd_pg_bind(st, stmt, sql, params, what, &b);
    if (err != ND_OK)
        return err;
    return write_pipelined(st, batch, stmt, &b, shape, out, what);
}
