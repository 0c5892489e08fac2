#!/usr/bin/env python3
"""test_lifecycle.py: starting, stopping and restarting newsd.

A SIGTERM while requests are in flight lets them finish and exits 0; every
write answered 201 is there after a restart (also after SIGKILL); SIGINT
exits 0; clients that stall or idle do not hold the server past its grace
period; a database locked by another process makes writes 503 (revealing
nothing inside) until the lock is gone; --port 0 logs the port really bound.
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


tap.run("lifecycle session", session)
tap.done()
