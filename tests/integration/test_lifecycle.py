#!/usr/bin/env python3
"""test_lifecycle.py: starting, stopping and restarting newsd.

A SIGTERM while requests are in flight lets them finish and exits 0; every
write answered 201 is there after a restart (also after SIGKILL); SIGINT
exits 0; clients that stall or idle do not hold the server past its grace
period; a database locked by another process makes writes 503 (revealing
nothing inside) until the lock is gone; --port 0 logs the port really bound.

Readiness and the drain: GET /ready is 200 until a SIGTERM, then 503 with
Retry-After while the server goes on serving for --drain-seconds (new
connections and requests answered as before); a request begun during the
drain and still in flight when it ends completes; the exit status is 0; a
second SIGTERM cuts the drain short; without --drain-seconds the stop is
as quick as ever.
"""

import http.client
import json
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    SLOWDOWN, Server, Tap, binary_from_argv, check_stop, expect, hold_write_lock,
    http_request, run_cli, scratch_db,
)

BIN = binary_from_argv(single="one process's signals, shutdown and restart")
tap = Tap()


def raw_post_head(srv, path, length):
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {srv.key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def read_response(sock):
    resp = http.client.HTTPResponse(sock, method="POST")
    resp.begin()
    return resp.status, resp.read()


def test_slow_upload(srv, acked):
    """A body arriving slowly across the SIGTERM still gets its 201."""
    body = b'{"title":"Slow upload","body":"' + b"s" * 2000 + b'"}'
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
    try:
        sock.sendall(raw_post_head(srv, "/v1/articles", len(body)))
        sock.sendall(body[:1000])
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.7)
        tap.check(srv.running(), "the server exited with a request in flight")
        sock.sendall(body[1000:])
        status, payload = read_response(sock)
    finally:
        sock.close()
    tap.eq(status, 201, f"in-flight request answered {payload[:200]!r}")
    if status == 201:
        acked.append(json.loads(payload)["id"])


def writers(srv, stop, acked, attempted, lock, n_threads=8):
    """Threads posting articles until stop is set or the server goes away."""

    def work(t):
        i = 0
        while not stop.is_set():
            title = f"Writer {t}-{i}"
            i += 1
            with lock:
                attempted.add(title)
            try:
                resp = http_request(srv.port, "POST", "/v1/articles",
                                    {"title": title, "body": "Durable text."},
                                    {"Authorization": "Bearer " + srv.key}, timeout=5)
            except OSError:
                return
            if resp.status == 201:
                with lock:
                    acked[resp.json["id"]] = title
            elif resp.status != 503:
                with lock:
                    acked.setdefault("errors", []).append(resp.status)

    threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(n_threads)]
    for th in threads:
        th.start()
    return threads


def test_term_under_load(srv, acked, attempted):
    stop, lock = threading.Event(), threading.Lock()
    threads = writers(srv, stop, acked, attempted, lock)
    time.sleep(1.0 * SLOWDOWN)  # long enough for 10 writes, under valgrind too
    check_stop(tap, srv)
    stop.set()
    for th in threads:
        th.join(10)
    errors = acked.pop("errors", [])
    tap.check(not errors, f"writers got unexpected statuses: {errors[:10]}")
    tap.check(len(acked) >= 10, f"only {len(acked)} writes acknowledged before the stop")
    tap.diag(f"{len(acked)} writes acknowledged, {len(attempted)} attempted")


def test_restart(binary, db, acked, attempted, slow_ids):
    proc = run_cli(binary, ["--db", db, "migrate"])
    tap.check(proc.returncode == 0 and re.search(r"applied 0\b", proc.stdout),
              f"migrate after the stop: {proc.returncode} {proc.stdout!r} {proc.stderr!r}")
    with Server(binary, db=db, key=False) as srv:
        missing = []
        for art_id, title in acked.items():
            resp = srv.request("GET", f"/v1/articles/{art_id}")
            if resp.status != 200 or resp.json.get("title") != title:
                missing.append((art_id, title, resp.status))
        tap.check(not missing, f"{len(missing)} acknowledged writes lost: {missing[:10]}")
        for art_id in slow_ids:
            expect(tap, srv.request("GET", f"/v1/articles/{art_id}"), 200,
                   {"title": "Slow upload"}, what="the slow upload")
        items, _ = srv.walk("/v1/articles?limit=100")
        titles = [a["title"] for a in items]
        tap.check(len(set(a["id"] for a in items)) == len(items), "the list repeats items")
        strays = [t for t in titles if t not in attempted and t != "Slow upload"]
        tap.check(not strays, f"articles nobody wrote: {strays[:10]}")
        tap.check(len(items) >= len(acked) + len(slow_ids),
                  f"{len(items)} listed, {len(acked) + len(slow_ids)} acknowledged")
        for art_id in list(acked)[:20]:
            expect(tap, srv.request("GET", f"/v1/articles/{art_id}"), 200,
                   {"body": "Durable text."}, what=f"article {art_id} body")
        tap.stop_server(srv, name="restarted server exits 0 on SIGTERM")


def test_sigkill_durability(binary, folder):
    db = scratch_db(folder, "killed")
    acked = {}
    with Server(binary, db=db) as srv:
        for i in range(20):
            art = srv.create_article(title=f"Before kill {i}", body="x")
            acked[art["id"]] = art["title"]
            c = srv.create_comment(art["id"], body=f"comment {i}")
            acked[("c", c["id"])] = art["id"]
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
    with Server(binary, db=db, key=False) as srv:
        lost = []
        for k, v in acked.items():
            if isinstance(k, tuple):
                resp = srv.request("GET", f"/v1/comments/{k[1]}")
                ok = resp.status == 200 and resp.json.get("article_id") == v
            else:
                resp = srv.request("GET", f"/v1/articles/{k}")
                ok = resp.status == 200 and resp.json.get("title") == v
            if not ok:
                lost.append((k, resp.status))
        tap.check(not lost, f"writes lost after SIGKILL: {lost[:10]}")
        tap.stop_server(srv, name="server restarted after SIGKILL exits 0")


def test_sigint():
    with Server(BIN) as srv:
        expect(tap, srv.request("GET", "/health"), 200, what="health")
        srv.create_article(title="Before SIGINT", body="x")
        check_stop(tap, srv, signal.SIGINT)


def test_port_zero():
    with Server(BIN) as one, Server(BIN) as two:
        for srv in (one, two):
            tap.check(srv.port and srv.port > 0, f"port {srv.port}")
            expect(tap, http_request(srv.port, "GET", "/health"), 200, {"status": "ok"},
                   what=f"health on the logged port {srv.port}")
        tap.check(one.port != two.port, "two servers with --port 0 logged the same port")
        line = [l for l in one.stderr_lines() if "listening on" in l]
        tap.check(line and line[0].endswith(f"http://127.0.0.1:{one.port}"),
                  f"listening line: {line}")
        check_stop(tap, one)
        check_stop(tap, two)


def test_stalled_clients():
    with Server(BIN, args=["--shutdown-grace", "2"]) as srv:
        idle = srv.connection()
        expect(tap, srv.request("GET", "/health", conn=idle), 200, what="keep-alive request")
        stalled = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        stalled.sendall(raw_post_head(srv, "/v1/articles", 5000) + b'{"title":"never finished"')
        time.sleep(0.3)
        started = time.monotonic()
        rc = check_stop(tap, srv, timeout=10)
        took = time.monotonic() - started
        tap.check(rc is not None and took < 6,
                  f"stop took {took:.1f} s with a stalled and an idle client (grace 2 s)")
        idle.close()
        stalled.close()


def test_locked_database():
    """Another process holding the write lock past busy-timeout: writes are
    503 problems that reveal nothing inside, reads go on, writes recover."""
    with Server(BIN, args=["--busy-timeout", "300"]) as srv:
        art = srv.create_article(title="Before the lock", body="x")
        with hold_write_lock(srv.db):
            writes = [srv.request("POST", "/v1/articles", {"title": "Locked", "body": "x"},
                                  auth=True),
                      srv.request("POST", f"/v1/articles/{art['id']}/comments",
                                  {"author": "a", "body": "locked"}),
                      srv.request("PATCH", f"/v1/articles/{art['id']}", {"title": "Locked"},
                                  auth=True)]
            for resp in writes:
                expect(tap, resp, 503, what="a write while the database is locked")
                text = resp.body.decode("utf-8", "replace").lower()
                for leak in ("select", "insert", "update ", "sqlite", "postgres", "newsd_",
                             srv.db.lower(), "0x"):
                    tap.check(leak not in text, f"the 503 reveals {leak!r}: {text}")
            expect(tap, srv.request("GET", "/health"), 200, what="health while locked")
            expect(tap, srv.request("GET", f"/v1/articles/{art['id']}"), 200,
                   {"title": "Before the lock"}, what="reading while locked")
        expect(tap, srv.request("POST", "/v1/articles", {"title": "After", "body": "x"},
                                auth=True), 201, what="a write after the lock is gone")
        tap.eq(srv.request("GET", "/v1/articles?limit=100").json["data"][0]["title"], "After",
               "nothing from the refused writes was stored")
        check_stop(tap, srv)


def test_ready():
    with Server(BIN) as srv:
        expect(tap, srv.request("GET", "/ready"), 200, {"status": "ready"}, what="ready")
        expect(tap, srv.request("HEAD", "/ready"), 200, what="HEAD /ready")
        expect(tap, srv.request("POST", "/ready"), 405, what="POST /ready")
        check_stop(tap, srv)


def test_drain():
    """SIGTERM with --drain-seconds 2: /ready 503 at once, everything else
    served for the drain; a slow upload begun in the drain outlives it."""
    drain_s = 2 * SLOWDOWN
    with Server(BIN, args=["--drain-seconds", str(drain_s), "--shutdown-grace", "10"]) as srv:
        art = srv.create_article(title="Drained", body="x")
        keep = srv.connection()
        expect(tap, srv.request("GET", "/ready", conn=keep), 200, what="ready before the signal")
        started = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        resp = srv.request("GET", "/ready", conn=keep)
        expect(tap, resp, 503, what="/ready after SIGTERM (kept-alive connection)")
        tap.check(resp.headers.get("Retry-After"), f"/ready 503 without Retry-After: {resp}")
        expect(tap, srv.request("GET", "/ready"), 503, what="/ready on a new connection")
        expect(tap, srv.request("GET", "/health"), 200, what="/health during the drain")
        expect(tap, srv.request("GET", f"/v1/articles/{art['id']}"), 200, {"title": "Drained"},
               what="a read during the drain")
        expect(tap, srv.request("POST", "/v1/articles", {"title": "In the drain", "body": "x"},
                                auth=True), 201, what="a write during the drain")
        # A request that starts in the drain and is still arriving when it ends.
        body = b'{"title":"Across the drain end","body":"' + b"d" * 2000 + b'"}'
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
        try:
            sock.sendall(raw_post_head(srv, "/v1/articles", len(body)) + body[:1000])
            tap.check(srv.running(), "the server exited before its drain ended")
            left = started + drain_s + 0.7 - time.monotonic()
            time.sleep(max(left, 0.1))
            tap.check(srv.running(), "the server exited with a request in flight")
            refused = None
            try:
                socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
            except OSError as e:
                refused = e
            tap.check(refused is not None, "a new connection was accepted after the drain ended")
            sock.sendall(body[1000:])
            status, payload = read_response(sock)
        finally:
            sock.close()
            keep.close()
        tap.eq(status, 201, f"the request in flight at the drain's end: {payload[:200]!r}")
        rc = check_stop(tap, srv, None)
        took = time.monotonic() - started
        tap.check(rc == 0 and took >= drain_s, f"stopped {took:.1f} s after SIGTERM "
                  f"(drain {drain_s} s), status {rc}")
        lines = srv.stderr_lines()
        tap.check(any(f"draining for {drain_s} s" in l for l in lines),
                  "no log line about the drain\n" + "\n".join(lines[-10:]))


def test_drain_cut_short():
    """A second SIGTERM ends a long drain at once."""
    with Server(BIN, args=["--drain-seconds", "60"]) as srv:
        started = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        expect(tap, srv.request("GET", "/ready"), 503, what="/ready in the drain")
        expect(tap, srv.request("GET", "/v1/articles"), 200, what="a list in the drain")
        rc = check_stop(tap, srv, signal.SIGTERM, timeout=30)
        took = time.monotonic() - started
        tap.check(rc == 0 and took < 30, f"the second SIGTERM did not end the drain: {took:.1f} s")
        tap.check(any("during the drain: stopping now" in l for l in srv.stderr_lines()),
                  "no log line about the second signal")


def test_no_drain_by_default():
    """Without --drain-seconds a SIGTERM stops at once, as it always did."""
    with Server(BIN) as srv:
        expect(tap, srv.request("GET", "/ready"), 200, what="ready")
        started = time.monotonic()
        rc = check_stop(tap, srv)
        took = time.monotonic() - started
        tap.check(took < 3 * SLOWDOWN, f"the stop took {took:.1f} s without a drain")
        tap.diag(f"stop without a drain: {took:.2f} s")
        tap.check(not any("draining" in l for l in srv.stderr_lines()),
                  "a drain was logged without drain-seconds")
        tap.eq(rc, 0, "exit status")


def session():
    with tempfile.TemporaryDirectory(prefix="newsd-life-") as folder:
        db = scratch_db(folder, "life")
        slow_ids = []
        acked, attempted = {}, set()
        with Server(BIN, db=db) as srv:
            tap.run("SIGTERM during a slow upload: it completes, exit 0",
                    test_slow_upload, srv, slow_ids)
            tap.run("server with the slow upload exits 0", check_stop, tap, srv, None)
        with Server(BIN, db=db) as srv:
            tap.run("SIGTERM under concurrent writes: exit 0", test_term_under_load, srv,
                    acked, attempted)
        tap.run("after a restart every acknowledged write is there", test_restart, BIN, db,
                acked, attempted, slow_ids)
        tap.run("acknowledged writes survive SIGKILL", test_sigkill_durability, BIN, folder)
    tap.run("a locked database: 503 without internals, then recovery", test_locked_database)
    tap.run("SIGINT exits 0", test_sigint)
    tap.run("--port 0 logs the real port", test_port_zero)
    tap.run("stalled and idle clients do not outlast the grace period", test_stalled_clients)
    tap.run("GET /ready answers 200 while serving", test_ready)
    tap.run("SIGTERM with --drain-seconds: /ready 503, served until the drain ends",
            test_drain)
    tap.run("a second SIGTERM cuts the drain short", test_drain_cut_short)
    tap.run("without --drain-seconds the stop is immediate", test_no_drain_by_default)


tap.run("lifecycle session", session)
tap.done()
