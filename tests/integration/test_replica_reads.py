#!/usr/bin/env python3
"""test_replica_reads.py: public reads from a PostgreSQL replica (--db-replica), safely.

Real processes only (cluster.py): a PostgreSQL 15 primary, a streaming
replica that applies each commit 2 s after it was made
(recovery_min_apply_delay), and two newsd instances with --db-replica,
asked directly (haproxy runs too, unused here). The points:

- the settings: --db-replica is refused beside a SQLite --db, and a value
  that is not a PostgreSQL URI is refused;
- a write answers its write-ahead log position (Newsd-Position header and
  the newsd_pos cookie);
- without a position a public read is answered from the replica: an
  article just written through the primary is not there yet (404), the
  replica read counter moves, and the same read with the position is 200;
- read-after-write, 100 of 100 with the header (an article created or
  updated through one instance, read at once through the other, whose
  cache held the old answer for the updates) and 100 of 100 with the
  cookie (a comment posted anonymously, the comment list read at once);
- a stale answer is never cached: the second instance keeps serving the
  old title while its replica lags, and once the replica has replayed the
  update it serves the new one (never the old one again);
- invalid Newsd-Position values (header or cookie) are ignored: 200 from
  the replica, never an error;
- the replica stopped: every read is still 200 (from the primary), /health
  is 200 and says the replica is unreachable, the outage is logged once,
  the fallbacks are counted, and once the replica is back it is read again.

Registered in the postgres-only suite (pg_replica_reads); one TAP skip line
when NEWSD_TEST_PG is unset or PostgreSQL's server programs or haproxy are
missing.
"""

import os
import re
import secrets
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import Cluster, binary_or_skip  # noqa: E402
from harness import Tap, clean_env, http_request, wait_until  # noqa: E402

BIN = binary_or_skip()
tap = Tap()
DELAY_MS = 2000
TRIALS = 100
POSITION = re.compile(r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$")


def metric(inst, name):
    """The value of the series name (no labels) in inst's /metrics."""
    resp = inst.request("GET", "/metrics")
    for line in resp.body.decode().splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    raise AssertionError(f"no {name} in /metrics:\n{resp.body.decode()[-2000:]}")


def create(inst, key, title):
    resp = inst.request("POST", "/v1/articles", {"title": title, "body": "Text of " + title},
                        auth="Bearer " + key)
    if resp.status != 201:
        raise AssertionError(f"create {title!r} on {inst.name}: {resp}")
    return resp


def get(inst, path, position=None, cookie=None):
    headers = {}
    if position is not None:
        headers["Newsd-Position"] = position
    if cookie is not None:
        headers["Cookie"] = cookie
    return inst.request("GET", path, headers=headers)


# ---- the settings ----------------------------------------------------------------


def settings_refused():
    with tempfile.TemporaryDirectory(prefix="newsd-rr-") as tmp:
        db = os.path.join(tmp, "newsd.db")
        for args, why in (
            (["--db", db, "--db-replica", "postgresql:///newsd?host=/nowhere"], "PostgreSQL db"),
            (["--db", db, "--db-replica", "replica.example:5432"], "postgresql:// URI"),
        ):
            proc = subprocess.run([BIN, *args, "--port", "0"], capture_output=True, text=True,
                                  timeout=30, env=clean_env(), stdin=subprocess.DEVNULL)
            tap.check(proc.returncode == 2, f"{args}: exit {proc.returncode}, want 2\n"
                                            f"{proc.stderr[-800:]}")
            tap.check(why in proc.stderr, f"{args}: stderr does not say {why!r}:\n"
                                          f"{proc.stderr[-800:]}")


# ---- positions and where reads go ------------------------------------------------------


def write_answers_position(c):
    a, key = c.instance(0), c.key
    resp = create(a, key, "Positioned")
    pos = resp.headers.get("Newsd-Position")
    tap.require(pos is not None and POSITION.match(pos), f"Newsd-Position of a write: {resp}")
    cookies = [v for n, v in resp.headers.pairs if n.lower() == "set-cookie"]
    tap.check(f"newsd_pos={pos}; Path=/; Max-Age=300; HttpOnly; SameSite=Lax" in cookies,
              f"Set-Cookie of a write: {cookies}")
    read = get(a, f"/v1/articles/{resp.json['id']}")
    tap.check(read.headers.get("Newsd-Position") is None and not any(
        n.lower() == "set-cookie" for n, _ in read.headers.pairs),
        f"a read hands out a position: {read}")


def reads_from_replica(c):
    a, b = c.instance(0), c.instance(1)
    before = metric(b, "newsd_replica_reads_total")
    before_primary = metric(b, "newsd_replica_position_primary_reads_total")
    resp = create(a, c.key, "Only on the primary " + secrets.token_hex(3))
    path = f"/v1/articles/{resp.json['id']}"
    plain = get(b, path)
    tap.check(plain.status == 404,
              f"an article 0 s old read without a position: {plain.status}, want 404 "
              f"(the replica applies commits {DELAY_MS} ms late)")
    tap.check(metric(b, "newsd_replica_reads_total") > before,
              "newsd_replica_reads_total did not move")
    with_pos = get(b, path, position=resp.headers["Newsd-Position"])
    tap.check(with_pos.status == 200, f"the same read with Newsd-Position: {with_pos}")
    tap.check(metric(b, "newsd_replica_position_primary_reads_total") > before_primary,
              "newsd_replica_position_primary_reads_total did not move")
    health = b.request("GET", "/health")
    tap.check(health.status == 200 and re.match(r"^(ok|lagging \d+ bytes)$",
                                                str(health.json.get("replica"))),
              f"/health with a lagging replica: {health}")
    tap.diag(f"/health right after a write: {health.json}")
    tap.require(c.wait_replayed(15), "the replica does not catch up")
    tap.check(get(b, path).status == 200, "the article is not read from the replica once replayed")


def read_after_write_header(c):
    a, b, key = c.instance(0), c.instance(1), c.key
    seen = 0
    misses = []
    art = create(a, key, "Trial 0").json
    start = time.monotonic()
    for i in range(TRIALS):
        writer, reader = (a, b) if i % 2 == 0 else (b, a)
        if i % 4 < 2:  # a new article: absent on the lagging replica
            title = f"New {i} {secrets.token_hex(2)}"
            resp = create(writer, key, title)
            path = f"/v1/articles/{resp.json['id']}"
        else:  # an update of an article the reader has cached
            path = f"/v1/articles/{art['id']}"
            get(reader, path)
            title = f"Updated {i} {secrets.token_hex(2)}"
            resp = writer.request("PATCH", path, {"title": title}, auth="Bearer " + key)
            if resp.status != 200:
                raise AssertionError(f"PATCH on {writer.name}: {resp}")
        read = get(reader, path, position=resp.headers.get("Newsd-Position"))
        if read.status == 200 and read.json.get("title") == title:
            seen += 1
        else:
            misses.append(f"trial {i}: {read.status} {read.json and read.json.get('title')!r}"
                          f" want {title!r}")
    tap.diag(f"read-after-write with Newsd-Position: {seen} of {TRIALS} saw their write "
             f"({time.monotonic() - start:.1f} s, replica delay {DELAY_MS} ms)")
    tap.check(seen == TRIALS, "\n".join(misses[:10]))


def read_after_write_cookie(c):
    a, b, key = c.instance(0), c.instance(1), c.key
    aid = create(a, key, "Discussed").json["id"]
    tap.require(c.wait_replayed(15), "the replica does not catch up")
    path = f"/v1/articles/{aid}/comments?limit=100"
    seen, misses = 0, []
    for i in range(TRIALS):
        writer, reader = (a, b) if i % 2 == 0 else (b, a)
        get(reader, path)  # the old list, cached where it may be
        posted = writer.request("POST", f"/v1/articles/{aid}/comments",
                                {"author": "reader", "body": f"Comment {i}"})
        if posted.status != 201:
            raise AssertionError(f"POST comment on {writer.name}: {posted}")
        cookie = next((v.split(";")[0] for n, v in posted.headers.pairs
                       if n.lower() == "set-cookie" and v.startswith("newsd_pos=")), None)
        tap.require(cookie, f"no newsd_pos cookie on a comment: {posted}")
        read = get(reader, path, cookie=cookie + "; other=1")
        ids = [x["id"] for x in (read.json or {}).get("data", [])]
        if read.status == 200 and posted.json["id"] in ids:
            seen += 1
        else:
            misses.append(f"trial {i}: {read.status}, comment {posted.json['id']} not in {ids}")
    tap.diag(f"read-after-write with the newsd_pos cookie: {seen} of {TRIALS} saw their comment")
    tap.check(seen == TRIALS, "\n".join(misses[:10]))


def never_cached_stale(c):
    a, b, key = c.instance(0), c.instance(1), c.key
    aid = create(a, key, "Old title").json["id"]
    path = f"/v1/articles/{aid}"
    tap.require(c.wait_replayed(15), "the replica does not catch up")
    # cached on b: the replica had replayed everything b knows of
    warm = [get(b, path) for _ in range(3)]
    tap.require(all(r.status == 200 and r.json["title"] == "Old title" for r in warm),
                f"warm reads on b: {warm}")
    patched = a.request("PATCH", path, {"title": "New title"}, auth="Bearer " + key)
    tap.require(patched.status == 200, f"PATCH on a: {patched}")
    titles = []
    deadline = time.monotonic() + DELAY_MS / 1000 + 10
    while time.monotonic() < deadline:
        resp = get(b, path)
        tap.require(resp.status == 200, f"GET on b: {resp}")
        titles.append(resp.json["title"])
        if len(titles) > 5 and titles[-5:] == ["New title"] * 5:
            break
        time.sleep(0.05)
    old = titles.count("Old title")
    first_new = titles.index("New title") if "New title" in titles else None
    tap.diag(f"b answered the old title {old} times while its replica lagged, then the new one")
    tap.check(old > 0, "b never answered from its lagging replica: the point proves nothing")
    tap.check(first_new is not None, f"b never served the new title: {titles[-10:]}\n{c.logs()}")
    if first_new is not None:
        tap.check("Old title" not in titles[first_new:],
                  f"the old title came back after the new one: {titles}")
    tap.require(c.wait_replayed(15), "the replica does not catch up")
    time.sleep(0.2)
    final = [get(b, path).json["title"] for _ in range(5)]
    tap.check(final == ["New title"] * 5, f"b's answers once the replica caught up: {final}")


def invalid_positions_ignored(c):
    b = c.instance(1)
    tap.require(c.wait_replayed(15), "the replica does not catch up")
    # (blanks around a header's value are HTTP's, not the value's: "1/2 " is 1/2;
    # in a Cookie header a comma ends a cookie, as libmicrohttpd reads it)
    bad = ["", "0/0", "abc", "1/", "/1", "1//2", "123456789/1", "1/123456789", "1/2/3", "1 /2",
           "1/ 2", "-1/2", "+1/2", "0x1/2", "1/-2", "1/2x", "g/1", "1.5/2", "1/2,3",
           "FFFFFFFFF/0", "9" * 5000, "1/2, 3/4", "\u00e9/1"]
    before = metric(b, "newsd_replica_reads_total")
    to_primary = []
    for value in bad:
        for how in ("header", "cookie") if "," not in value else ("header",):
            primary = metric(b, "newsd_replica_position_primary_reads_total")
            try:
                if how == "header":
                    resp = get(b, "/v1/articles?limit=5", position=value)
                else:
                    resp = get(b, "/v1/articles?limit=5", cookie=f"newsd_pos={value}")
            except (UnicodeEncodeError, ValueError):
                continue  # a value the client library will not send
            tap.check(resp.status == 200 and resp.json.get("data") is not None,
                      f"Newsd-Position {value[:40]!r} as {how}: {resp}")
            if metric(b, "newsd_replica_position_primary_reads_total") != primary:
                to_primary.append((how, value[:40]))
    tap.check(b.proc.poll() is None, "b died")
    tap.check(not to_primary, f"invalid positions sent reads to the primary: {to_primary}")
    before_primary = metric(b, "newsd_replica_position_primary_reads_total")
    tap.check(metric(b, "newsd_replica_reads_total") > before,
              "reads with invalid positions did not go to the replica")
    # the largest valid position is never replayed: to the primary, and 200
    far = get(b, "/v1/articles?limit=5", position="FFFFFFFF/FFFFFFFF")
    tap.check(far.status == 200, f"the largest position: {far}")
    tap.eq(metric(b, "newsd_replica_position_primary_reads_total"), before_primary + 1,
           "reads sent to the primary for FFFFFFFF/FFFFFFFF")


def replica_down(c):
    a, b = c.instance(0), c.instance(1)
    fallbacks = metric(b, "newsd_replica_fallbacks_total")
    outages = len([line for line in b.stderr_lines() if "replica (db-replica) cannot" in line])
    c.replica.stop("immediate")
    paths = ["/v1/articles?limit=5", "/v1/categories", "/v1/tags", "/v1/authors",
             "/v1/search?q=title", "/v1/changes", "/v1/feed.atom"]
    statuses = []
    for round_ in range(5):
        for inst in (a, b):
            for p in paths:
                statuses.append((inst.name, p, get(inst, p + ("&" if "?" in p else "?")
                                                   + f"r={round_}").status))
    failed = [s for s in statuses if s[2] != 200]
    tap.check(not failed, f"reads with the replica down: {failed[:10]}")
    health = b.request("GET", "/health")
    tap.check(health.status == 200 and health.json.get("replica") == "unreachable",
              f"/health with the replica down: {health}")
    tap.check(metric(b, "newsd_replica_fallbacks_total") > fallbacks,
              "newsd_replica_fallbacks_total did not move")
    logged = [line for line in b.stderr_lines() if "replica (db-replica) cannot" in line]
    tap.check(len(logged) == outages + 1,
              f"the outage is logged {len(logged) - outages} times, want once")
    c.replica.start()
    reads = metric(b, "newsd_replica_reads_total")
    back = wait_until(lambda: get(b, "/v1/articles?limit=3&back=" + secrets.token_hex(2))
                      .status == 200 and metric(b, "newsd_replica_reads_total") > reads, 20)
    tap.check(back, "the replica is not read again once it is back")
    tap.check(any("replica (db-replica) is used again" in line for line in b.stderr_lines()),
              "the end of the outage is not logged")
    health = b.request("GET", "/health")
    tap.check(health.status == 200 and health.json.get("replica") != "unreachable",
              f"/health once the replica is back: {health}")


tap.run("--db-replica is refused without a PostgreSQL --db", settings_refused)
with Cluster(BIN, instances=2, replica=True, delay_ms=DELAY_MS, replica_reads=True,
             args=["--comment-rate", "0"]) as cluster:
    # the replica is used once it has replayed the schema's migrations
    if not cluster.wait_replayed(15):
        raise RuntimeError("the replica does not catch up")
    tap.run("a write answers its position (header and cookie)", write_answers_position, cluster)
    tap.run("without a position, public reads come from the replica", reads_from_replica,
            cluster)
    tap.run(f"read-after-write with Newsd-Position, {TRIALS} of {TRIALS}",
            read_after_write_header, cluster)
    tap.run(f"read-after-write with the newsd_pos cookie, {TRIALS} of {TRIALS}",
            read_after_write_cookie, cluster)
    tap.run("an answer older than a known commit is never cached", never_cached_stale, cluster)
    tap.run("invalid Newsd-Position values are ignored", invalid_positions_ignored, cluster)
    tap.run("the replica down: reads still 200, /health says so", replica_down, cluster)
tap.done()
