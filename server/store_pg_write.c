/*
 * store_pg_write.c: how a write ends on PostgreSQL. Every write transaction
 * publishes its change log rows (migration 0005's newsd_publish_changes)
 * before its COMMIT, in the same transaction, so that a client that was
 * answered finds its change in /v1/changes and each write costs one commit;
 * then the primary's insert position is read for reads from a replica
 * (store_pg_replica.c). A write that is one statement (a new comment) sends
 * all of that, from BEGIN to the position, as one pipeline: one round trip
 * to the server where it took three.
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

/* The queries of a pipelined write, in the order they are sent. */
enum { P_BEGIN, P_WRITE, P_PUBLISH, P_COMMIT, P_POSITION, P_COUNT };

static const char *const pipeline_sql[P_COUNT] = {
    [P_BEGIN] = "BEGIN",
    [P_PUBLISH] = "SELECT newsd_publish_changes()",
    [P_COMMIT] = "COMMIT",
    [P_POSITION] = "SELECT pg_current_wal_insert_lsn()",
};

/*
 * Sends the queries of a write whose statement is slot (bound in b) in
 * pipeline mode and collects the first result of each into results
 * (NULL where none came: a lost connection). Returns false when they could
 * not be sent.
 */
static bool run_pipeline(struct nd_pg *st, const struct nd_pg_stmt *slot,
                         const struct nd_pg_bound *b, PGresult *results[P_COUNT])
{
    PGconn *conn = st->conn;
    if (!PQenterPipelineMode(conn))
        return false;
    bool sent = true;
    for (int i = 0; i < P_COUNT && sent; i++)
        sent = i == P_WRITE ? PQsendQueryPrepared(conn, slot->name, (int)slot->nparams,
                                                  b->values, b->lengths, b->formats, 0)
                            : PQsendQueryParams(conn, pipeline_sql[i], 0, NULL, NULL, NULL,
                                                NULL, 0);
    sent = sent && PQpipelineSync(conn);
    /* each query's results end with a NULL; after a failure the rest come as "aborted" */
    for (int i = 0; i < P_COUNT && sent; i++) {
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
static enum nd_err pipeline_error(struct nd_pg *st, PGresult *results[P_COUNT], const char *what)
{
    static const char *const names[P_COUNT] = {"begin", NULL, "change log publication",
                                               "commit", "write position"};
    for (int i = 0; i < P_COUNT; i++) {
        ExecStatusType status = results[i] ? PQresultStatus(results[i]) : PGRES_FATAL_ERROR;
        if (status == PGRES_PIPELINE_ABORTED)
            continue;
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
            return i == P_POSITION ? ND_OK : nd_pg_err(st, results[i], names[i] ? names[i] : what);
    }
    return ND_OK;
}

enum nd_err nd_pg_write_one(struct nd_pg *st, unsigned slot, const char *sql,
                            const struct nd_param *params, const struct nd_shape *shape,
                            json_t **out, const char *what)
{
    json_t *value = NULL;
    struct nd_pg_stmt *stmt = &st->stmts[slot];
    if (st->batch_depth > 0 || st->in_transaction || stmt->oneshot) {
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
    PGresult *results[P_COUNT] = {NULL};
    st->write_position = 0;
    if (!run_pipeline(st, stmt, &b, results))
        err = nd_pg_err(st, NULL, what);
    else
        err = pipeline_error(st, results, what);
    if (PQtransactionStatus(st->conn) == PQTRANS_INERROR)
        PQclear(PQexec(st->conn, "ROLLBACK"));
    if (err == ND_OK && PQntuples(results[P_WRITE]) == 0)
        err = ND_ERR_NOT_FOUND;
    if (err == ND_OK) {
        struct nd_pg_row r = {results[P_WRITE], 0};
        struct nd_row row = nd_pg_row(&r);
        err = nd_row_map_shape(&row, shape, out);
    }
    if (err == ND_OK)
        nd_pg_note_write(st, nd_pg_result_position(results[P_POSITION]));
    for (int i = 0; i < P_COUNT; i++)
        PQclear(results[i]);
    return err;
}
