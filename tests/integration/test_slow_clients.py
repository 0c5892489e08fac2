#!/usr/bin/env python3
"""test_slow_clients.py: clients that send one byte at a time.

Two hundred connections (spread over four loopback addresses, so that the
per-address limit does not turn them away) send their headers or their
bodies one byte every half second. While they do, a normal client gets
every answer in well under a second, and slow clients that finish get their
answer too. Once they fall silent, --connection-timeout 2 cuts every one of
them off: each socket sees the connection closed within the timeout plus a
little slack, and none is cut while it still sends.
"""

import os
import select
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOWDOWN, Server, Tap, binary_from_argv, expect, http_request  # noqa: E402
from rawhttp import (  # noqa: E402
    Closed, Reader, Timeout, connect, is_open, request_bytes, send_all, socket_count,
)

BIN = binary_from_argv(single="slow clients and the sockets of one process (haproxy buffers them)")
tap = Tap()

TIMEOUT = 2            # --connection-timeout
SLACK = 4.0 * SLOWDOWN  # how late past the timeout a silent client may be cut
TICK = 0.5             # seconds between two bytes of a slow client
TRICKLE_FOR = 4.0      # seconds the slow clients keep sending (two timeouts)
ADDRESSES = [f"127.0.0.{20 + i}" for i in range(4)]
# Under valgrind (SLOWDOWN > 1) fewer, and more patience: what is measured
# there is memory safety, not speed.
PER_ADDRESS = 50 if SLOWDOWN == 1 else 10  # under the per-address limit of 64
PROMPT = 1.0 * SLOWDOWN  # seconds a normal request may take meanwhile


class Slow:
    """One slow connection: its socket and what it still has to send."""

    def __init__(self, sock, rest, kind):
        self.sock = sock
        self.rest = rest
        self.kind = kind
        self.last_sent = time.monotonic()
        self.cut_at = None  # when a send failed: cut while still sending


def open_slow_clients(srv, art):
    clients = []
    comment = b'{"author":"slow","body":"' + b"s" * 400 + b'"}'
    for n in range(len(ADDRESSES) * PER_ADDRESS):
        sock = connect(srv.port, source=ADDRESSES[n % len(ADDRESSES)])
        if n % 2 == 0:
            # Headers that never end: one more byte of a header value per tick.
            head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
            send_all(sock, head)
            clients.append(Slow(sock, b"a" * 1000, "header"))
        else:
            head = request_bytes("POST", f"/v1/articles/{art['id']}/comments",
                                 [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(comment)))])
            send_all(sock, head)
            clients.append(Slow(sock, comment, "body"))
    return clients


def trickle(clients, stop):
    """Sends one byte to every client each TICK until stop is set."""
    while not stop.wait(TICK):
        for c in clients:
            if c.cut_at is not None or not c.rest:
                continue
            if send_all(c.sock, c.rest[:1]):
                c.rest = c.rest[1:]
                c.last_sent = time.monotonic()
            else:
                c.cut_at = time.monotonic()


def finishing_client(srv, art, results):
    """A client slow but steady (one byte every 0.1 s) that finishes its body."""
    body = b'{"author":"tortoise","body":"arrives"}'
    sock = connect(srv.port, source="127.0.0.30", timeout=30)
    try:
        send_all(sock, request_bytes("POST", f"/v1/articles/{art['id']}/comments",
                                     [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))]))
        for i in range(len(body)):
            time.sleep(0.1)
            if not send_all(sock, body[i:i + 1]):
                results.append(f"cut after {i} body bytes")
                return
        results.append(Reader(sock).response("POST", timeout=10))
    except (Closed, Timeout, OSError) as e:
        results.append(repr(e))
    finally:
        sock.close()


def normal_traffic(srv, art, deadline):
    """Requests from 127.0.0.1 until deadline: (latency, status, what) each."""
    plan = [("GET", "/health", None, 200), ("GET", f"/v1/articles/{art['id']}", None, 200),
            ("POST", f"/v1/articles/{art['id']}/comments", {"author": "n", "body": "quick"}, 201),
            ("GET", "/v1/articles?limit=5", None, 200)]
    out = []
    i = 0
    while time.monotonic() < deadline and i < 100:
        method, path, body, want = plan[i % len(plan)]
        started = time.monotonic()
        try:
            resp = http_request(srv.port, method, path, body, timeout=10)
            out.append((time.monotonic() - started, resp.status, want, f"{method} {path}"))
        except OSError as e:
            out.append((time.monotonic() - started, repr(e), want, f"{method} {path}"))
        i += 1
        time.sleep(0.1)
    return out


def test_trickle(srv, art, clients):
    base = socket_count(srv.proc.pid)
    stop = threading.Event()
    sender = threading.Thread(target=trickle, args=(clients, stop), daemon=True)
    finished = []
    tortoise = threading.Thread(target=finishing_client, args=(srv, art, finished), daemon=True)
    sender.start()
    tortoise.start()
    try:
        time.sleep(0.3)
        held = socket_count(srv.proc.pid)
        tap.check(held is not None and held >= len(clients),
                  f"the server holds {held} sockets (before: {base}); the {len(clients)} slow "
                  "clients are not all connected")
        results = normal_traffic(srv, art, time.monotonic() + TRICKLE_FOR)
    finally:
        stop.set()
        sender.join(10)
    tortoise.join(15)
    bad = [r for r in results if r[1] != r[2]]
    tap.check(not bad, f"normal requests failed: {bad[:5]}")
    slow = [r for r in results if r[0] > PROMPT]
    worst = max((r[0] for r in results), default=0)
    tap.check(len(results) >= 10 and not slow,
              f"{len(slow)} of {len(results)} normal requests took over {PROMPT} s "
              f"(worst {worst:.2f} s): {slow[:5]}")
    tap.diag(f"{len(results)} normal requests beside {len(clients)} slow clients, "
             f"worst {worst * 1000:.0f} ms")
    cut = [c for c in clients if c.cut_at is not None or not is_open(c.sock)]
    tap.check(not cut, f"{len(cut)} slow clients were cut off while still sending every "
              f"{TICK} s (timeout {TIMEOUT} s)")
    tap.check(len(finished) == 1 and getattr(finished[0], "status", None) == 201,
              f"the slow client that finished its body: {finished}")


def test_cut_off(clients):
    """Silent from now on: every slow client is closed within TIMEOUT + SLACK."""
    open_set = {c.sock: c for c in clients}
    closed_after = {}
    deadline = time.monotonic() + TIMEOUT + SLACK + TICK
    while open_set and time.monotonic() < deadline:
        readable, _, _ = select.select(list(open_set), [], [], 0.2)
        for sock in readable:
            try:
                data = sock.recv(4096)
            except (ConnectionResetError, ConnectionAbortedError):
                data = b""
            if not data:
                c = open_set.pop(sock)
                closed_after[c] = time.monotonic() - c.last_sent
    tap.check(not open_set, f"{len(open_set)} of {len(clients)} silent clients still open "
              f"{TIMEOUT + SLACK:.0f} s after their last byte (timeout {TIMEOUT} s)")
    if closed_after:
        early = [t for t in closed_after.values() if t < TIMEOUT * 0.5]
        tap.check(not early, f"{len(early)} clients cut off sooner than half the timeout after "
                  f"their last byte: {sorted(early)[:5]}")
        tap.diag(f"silent clients cut off {min(closed_after.values()):.1f}.."
                 f"{max(closed_after.values()):.1f} s after their last byte")


def test_after(srv, art):
    expect(tap, srv.request("GET", "/health"), 200, {"status": "ok"}, what="health")
    resp = srv.request("GET", f"/v1/articles/{art['id']}/comments?limit=100")
    authors = [c["author"] for c in resp.json["data"]] if resp.status == 200 else []
    tap.check("slow" not in authors, "a comment whose body never finished was stored")
    tap.check("tortoise" in authors, "the slow comment that finished is not stored")


def session():
    args = ["--connection-timeout", str(TIMEOUT), "--per-ip-connection-limit", "64",
            "--connection-limit", "1000"]
    with Server(BIN, args=args) as srv:
        art = srv.create_article(title="Slowly read", body="x")
        clients = open_slow_clients(srv, art)
        try:
            tap.run(f"{len(clients)} clients trickling one byte per {TICK} s: normal requests "
                    f"answered within {PROMPT} s", test_trickle, srv, art, clients)
            tap.run(f"silent slow clients are cut off by --connection-timeout {TIMEOUT}",
                    test_cut_off, clients)
        finally:
            for c in clients:
                c.sock.close()
        tap.run("healthy afterwards; unfinished bodies stored nothing", test_after, srv, art)
        tap.stop_server(srv)


tap.run("slow clients session", session)
tap.done()
