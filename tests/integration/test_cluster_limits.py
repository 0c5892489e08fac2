#!/usr/bin/env python3
"""test_cluster_limits.py: rate limits that hold for several newsd instances.

Three newsd processes over one PostgreSQL database (what a cluster behind a
load balancer is, without the balancer: the test spreads the requests over
the instances itself, round robin, from several threads):

- comments from one address spread over the instances are allowed the
  configured burst plus the configured rate over the time of the test,
  within 10%, not three times that (each instance's own bucket would give
  three bursts and three rates);
- the same for writes with one API key;
- X-Forwarded-For from a peer that is not a trusted proxy changes nothing:
  every such request counts against the peer's bucket (the bucket rows
  are looked up by the name newsd gives them); from a trusted proxy each
  forwarded client has a bucket of its own;
- the buckets table locked (so the database cannot count): comments still
  go through, limited by each instance's own buckets, the switch logged
  once each way;
- the database gone (no connection allowed): a comment is a 503 with
  Retry-After, since it cannot be stored, never a 500; when it is back,
  comments are accepted again without a restart.

The figures (allowed, expected, the window) are printed as TAP comments.
Registered for the PostgreSQL suite only: on SQLite one process is the
whole server and its buckets are in its memory.
"""

import hashlib
import http.client
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg  # noqa: E402
from harness import (  # noqa: E402
    HTTP_TIMEOUT, Server, Tap, binary_from_argv, check_stop, create_key, expect, wait_until,
)

BIN = binary_from_argv(("postgres",), "limits shared by instances are kept in PostgreSQL")
tap = Tap()

INSTANCES = 3
RATE, BURST = 120, 10  # per minute, per bucket: comments per address and writes per key
WINDOW = 10.0  # seconds of each flood
THREADS = 6
TRUSTED = "127.0.0.2"  # the proxy the instances trust; 127.0.0.1 and the others are clients


def bucket_name(limiter, key):
    """The name newsd gives a shared bucket (ratelimit.h): BLAKE2b-128 of
    the limiter's name, a NUL and the key, in hex."""
    return hashlib.blake2b(limiter.encode() + b"\0" + key.encode(), digest_size=16).hexdigest()


def bucket_rows(db, names):
    """The names among names that have a row in rate_buckets."""
    listed = ", ".join(pg.literal(n) for n in names)
    return {r[0] for r in pg.query(db, f"SELECT key FROM rate_buckets WHERE key IN ({listed})")}


def hold_table_lock(db, table):
    """A with-block during which a psql session holds table in ACCESS
    EXCLUSIVE mode (nobody reads or writes it); rolled back on exit."""
    return pg.holding_locks(db, [table], "ACCESS EXCLUSIVE")


def request_from(srv, source, method, path, body=None, headers=None, auth=None):
    """One request over a new connection from the local address source."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=HTTP_TIMEOUT,
                                      source_address=(source, 0))
    try:
        return srv.request(method, path, body, headers, auth=auth or False, conn=conn)
    finally:
        conn.close()


def flood(servers, send):
    """THREADS threads call send(srv, conn) for WINDOW seconds, spreading
    over the servers round robin, each on keep-alive connections of its
    own. Returns (statuses, seconds from the first request sent to the
    last answer)."""
    statuses, lock = [], threading.Lock()
    started = time.monotonic()
    stop_at = started + WINDOW

    def work(t):
        conns = {}
        i = t
        try:
            while time.monotonic() < stop_at:
                srv = servers[i % len(servers)]
                i += 1
                conn = conns.get(srv.port)
                if conn is None:
                    conn = conns[srv.port] = srv.connection()
                try:
                    status = send(srv, conn).status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conns.pop(srv.port, None)
                    status = "error"
                with lock:
                    statuses.append(status)
        finally:
            for conn in conns.values():
                conn.close()

    threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(WINDOW + 60)
    return statuses, time.monotonic() - started


def check_flood(what, statuses, took):
    """The 201s against what one bucket allows in took seconds, within 10%."""
    allowed = statuses.count(201)
    expected = BURST + RATE * took / 60
    others = sorted({s for s in statuses if s not in (201, 429)}, key=str)
    tap.diag(f"{what}: {allowed} allowed of {len(statuses)} requests over {INSTANCES} "
             f"instances in {took:.2f} s; the limit allows {expected:.1f} (burst {BURST} + "
             f"{RATE}/min); instances counting alone would allow up to "
             f"{INSTANCES * expected:.0f}")
    tap.check(not others, f"{what}: statuses other than 201 and 429: {others}")
    tap.check(len(statuses) > 2 * expected,
              f"{what}: only {len(statuses)} requests: the limit was never tested")
    tap.check(abs(allowed - expected) <= 0.1 * expected,
              f"{what}: {allowed} allowed, want {expected:.1f} within 10%")


def test_comments(servers, aid):
    body = {"author": "flood", "body": "One of many."}

    def send(srv, conn):
        return srv.request("POST", f"/v1/articles/{aid}/comments", body, conn=conn)

    statuses, took = flood(servers, send)
    check_flood("comments from one address", statuses, took)


def test_writes(servers, key):
    counter = iter(range(10 ** 9))

    def send(srv, conn):
        return srv.request("POST", "/v1/articles",
                           {"title": f"Flood {next(counter)}", "body": "x"},
                           auth="Bearer " + key, conn=conn)

    statuses, took = flood(servers, send)
    check_flood("writes with one API key", statuses, took)


def test_forwarded(servers, db, aid):
    """An untrusted peer's X-Forwarded-For names no bucket; a trusted
    proxy's does, one per forwarded client."""
    path = f"/v1/articles/{aid}/comments"
    comment = {"author": "r", "body": "x"}
    claimed = [f"198.51.100.{i}" for i in range(1, 2 * BURST + 1)]
    untrusted = "127.0.0.3"
    started = time.monotonic()
    codes = [request_from(servers[i % INSTANCES], untrusted, "POST", path, comment,
                          {"X-Forwarded-For": xff}).status for i, xff in enumerate(claimed)]
    took = time.monotonic() - started
    names = {bucket_name("comment", a): a for a in claimed}
    tap.eq(bucket_rows(db, list(names)), set(), "buckets named after an untrusted X-Forwarded-For")
    tap.eq(bucket_rows(db, [bucket_name("comment", untrusted)]),
           {bucket_name("comment", untrusted)}, "the untrusted peer's own bucket")
    most = BURST + RATE * took / 60 + 1
    tap.check(codes.count(201) <= most,
              f"{codes.count(201)} comments allowed from one untrusted peer claiming "
              f"{len(claimed)} addresses in {took:.1f} s; its bucket allows {most:.1f}")
    tap.diag(f"untrusted peer, {len(claimed)} X-Forwarded-For values: "
             f"{codes.count(201)} allowed, {codes.count(429)} refused")

    forwarded = [f"203.0.113.{i}" for i in range(1, 2 * BURST + 1)]
    codes = [request_from(servers[i % INSTANCES], TRUSTED, "POST", path, comment,
                          {"X-Forwarded-For": xff}).status for i, xff in enumerate(forwarded)]
    tap.eq(codes, [201] * len(forwarded), "each client behind the trusted proxy has its bucket")
    names = [bucket_name("comment", a) for a in forwarded]
    tap.eq(bucket_rows(db, names), set(names), "buckets named after the forwarded clients")
    tap.eq(bucket_rows(db, [bucket_name("comment", TRUSTED)]), set(),
           "no bucket for the trusted proxy itself")


def test_table_locked(servers, db, aid):
    """The database cannot count (its buckets table locked past
    busy-timeout): the instance's own buckets decide, once logged."""
    srv = servers[0]
    path = f"/v1/articles/{aid}/comments"
    comment = {"author": "r", "body": "while the limits table is locked"}
    source = "127.0.0.4"
    before = len(srv.stderr_lines())
    with hold_table_lock(db, "rate_buckets"):
        started = time.monotonic()
        codes = [request_from(srv, source, "POST", path, comment).status
                 for _ in range(3 * BURST)]
        took = time.monotonic() - started
    tap.eq(codes[:BURST], [201] * BURST, "the first burst of comments while locked")
    most = BURST + RATE * took / 60 + 1
    tap.check(codes.count(201) <= most and set(codes) <= {201, 429},
              f"while locked: {codes.count(201)} allowed in {took:.1f} s, the instance's own "
              f"bucket allows {most:.1f}; statuses {sorted(set(codes))}")
    tap.diag(f"buckets table locked: {codes.count(201)} of {len(codes)} comments allowed in "
             f"{took:.1f} s by the instance's own bucket")
    expect(tap, request_from(srv, "127.0.0.5", "POST", path, comment), 201,
           what="a comment once the lock is gone")
    lines = srv.stderr_lines()[before:]
    down = [l for l in lines if "rate limits: the database cannot count them" in l]
    back = [l for l in lines if "rate limits: counted in the database again" in l]
    tap.eq(len(down), 1, "the fallback is logged once")
    tap.eq(len(back), 1, "its end is logged once")


def test_database_gone(servers, db, aid):
    """No connection to the database at all: a comment cannot be stored,
    so 503 with Retry-After (the limiter does not refuse it all the same);
    back when the database is."""
    path = f"/v1/articles/{aid}/comments"
    comment = {"author": "r", "body": "while the database is away"}
    name = pg.query(db, "SELECT current_database()")[0][0]
    admin = pg.base_conninfo()
    pg.psql(admin, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    try:
        pg.psql(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
        for i, srv in enumerate(servers):
            resp = request_from(srv, "127.0.0.6", "POST", path, comment)
            expect(tap, resp, 503, what=f"a comment on instance {i} with the database away")
            tap.check(resp.headers.get("Retry-After"), f"503 without Retry-After: {resp}")
    finally:
        pg.psql(admin, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    for i, srv in enumerate(servers):
        ok = wait_until(lambda s=srv: request_from(s, "127.0.0.7", "POST", path,
                                                   comment).status == 201, 15)
        tap.check(ok, f"instance {i}: no comment accepted after the database came back")


def session():
    with pg.Database() as db:
        setup_key = create_key(BIN, db.uri, "cluster-setup")
        flood_key = create_key(BIN, db.uri, "cluster-flood")
        env = {"NEWSD_COMMENT_RATE": str(RATE), "NEWSD_COMMENT_BURST": str(BURST),
               "NEWSD_WRITE_RATE": str(RATE), "NEWSD_WRITE_BURST": str(BURST),
               "NEWSD_TRUSTED_PROXIES": TRUSTED, "NEWSD_BUSY_TIMEOUT": "200"}
        servers = []
        try:
            for _ in range(INSTANCES):
                srv = Server(BIN, db=db.uri, key=False, env=env)
                srv.__enter__()
                servers.append(srv)
            art = servers[0].request("POST", "/v1/articles", {"title": "Limits", "body": "x"},
                                     auth="Bearer " + setup_key)
            tap.require(art.status == 201, f"creating the article: {art}")
            aid = art.json["id"]
            tap.run("comments from one address over 3 instances: one bucket, within 10%",
                    test_comments, servers, aid)
            tap.run("writes with one key over 3 instances: one bucket, within 10%",
                    test_writes, servers, flood_key)
            tap.run("X-Forwarded-For names the bucket only from a trusted proxy",
                    test_forwarded, servers, db.uri, aid)
            tap.run("the buckets table locked: each instance's own buckets decide",
                    test_table_locked, servers, db.uri, aid)
            tap.run("the database gone: 503 with Retry-After, then back by itself",
                    test_database_gone, servers, db.uri, aid)
            for i, srv in enumerate(servers):
                tap.run(f"instance {i} exits 0 on SIGTERM", check_stop, tap, srv)
        finally:
            for srv in servers:
                srv.__exit__(None, None, None)


tap.run("three instances over one database", session)
tap.done()
