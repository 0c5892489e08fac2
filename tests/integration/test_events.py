#!/usr/bin/env python3
"""test_events.py: live updates through the real binary.

GET /v1/events (Server-Sent Events) and GET /v1/changes (JSON pages) over the
change log: every kind of change arrives within a second (local writes, and
another process's import through polling); drafts and pending comments only
with a key; Last-Event-ID and ?since= replay exactly what was missed, in
order; a position the log no longer holds gets "event: reset" (and 410 from
/v1/changes); idle streams get ": ping" heartbeats; the per-address and
overall stream limits answer 429 and 503 with Retry-After; 200 idle streams
hold no worker thread (other requests stay fast, and every stream still gets
the next event); SIGTERM with open streams exits 0 at once, ending them
cleanly; /v1/changes pages with next_cursor, Link and next_since.
"""

import http.client
import json
import os
import socket
import sys
import tempfile
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CLUSTER, HTTP_TIMEOUT, LIMITS_PER_PROCESS, SLOWDOWN,  # noqa: E402
                     Server, Tap, binary_from_argv, run_cli)

BIN = binary_from_argv()
tap = Tap()
ARRIVAL = 1.0 * SLOWDOWN  # the promise: an event within a second of its write


class EventStream:
    """One GET /v1/events over a raw socket: parses the head, then the chunked
    body as Server-Sent Events in a thread (events, comments, and whether the
    body ended with its last chunk)."""

    def __init__(self, port, headers=None, path="/v1/events", read=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT)
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        self.events = []  # (id, event, data, arrival time)
        self.comments = []  # (text, arrival time)
        self.ended = False  # the last chunk arrived
        self.closed = False  # the connection closed
        self.cond = threading.Condition()
        head = self._read_until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.body = b""
        if self.status != 200:
            length = int(self.headers.get("content-length", "0"))
            while len(self.buf) < length:
                self._fill()
            self.body = self.buf[:length]
            self.sock.close()
            return
        if read:
            self.thread = threading.Thread(target=self._pump, daemon=True)
            self.thread.start()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def _read_until(self, mark):
        while mark not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(mark)
        return head

    def _pump(self):
        text = ""
        try:
            while True:
                size = int(self._read_until(b"\r\n").split(b";")[0], 16)
                while len(self.buf) < size + 2:
                    self._fill()
                chunk, self.buf = self.buf[:size], self.buf[size + 2:]
                if size == 0:
                    with self.cond:
                        self.ended = True
                    break
                text += chunk.decode("utf-8")
                while "\n\n" in text:
                    block, text = text.split("\n\n", 1)
                    self._dispatch(block)
        except (EOFError, OSError, ValueError):
            pass
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _dispatch(self, block):
        now = time.monotonic()
        fields = {}
        with self.cond:
            for line in block.split("\n"):
                if line.startswith(":"):
                    self.comments.append((line[1:].strip(), now))
                    continue
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value
            if "data" in fields:
                self.events.append((int(fields["id"]), fields.get("event"), fields["data"], now))
            self.cond.notify_all()

    def wait(self, pred, timeout):
        """Waits until pred(self) holds; returns whether it did."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self):
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    return pred(self)
                self.cond.wait(left)
            return True

    def ids(self):
        with self.cond:
            return [e[0] for e in self.events]

    def event(self, change_id):
        with self.cond:
            return next((e for e in self.events if e[0] == change_id), None)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def changes(srv, since=0, auth=False):
    """Every change after since from /v1/changes, following next_cursor."""
    out = []
    path = f"/v1/changes?since={since}&limit=100"
    while True:
        resp = srv.request("GET", path, auth=auth)
        tap.require(resp.status == 200, f"GET {path}: {resp}")
        out += resp.json["data"]
        if resp.json["next_cursor"] is None:
            return out, resp.json["next_since"]
        path = f"/v1/changes?since={resp.json['next_cursor']}&limit=100"


def newest(srv):
    return changes(srv, 0, auth=True)[1]


def test_every_kind(srv):
    """Each write's event reaches the key holder's stream within a second;
    the public stream gets exactly the public ones, in order."""
    public = EventStream(srv.port)
    keyed = EventStream(srv.port, {"Authorization": "Bearer " + srv.key})
    tap.eq(public.status, 200, "status of the stream")
    tap.eq(public.headers.get("content-type"), "text/event-stream", "Content-Type")
    tap.eq(public.headers.get("cache-control"), "no-store", "Cache-Control")
    tap.eq(public.headers.get("transfer-encoding"), "chunked", "sent as it comes")
    tap.check("content-encoding" not in public.headers, "never gzipped")
    start = newest(srv)

    def write(what, method, path, body=None, auth=True, want=(200, 201, 204)):
        before = newest(srv)
        t0 = time.monotonic()
        resp = srv.request(method, path, body, auth=auth)
        tap.require(resp.status in want, f"{what}: {resp}")
        change = before + 1
        ok = keyed.wait(lambda s: s.event(change) is not None, ARRIVAL + 1)
        ev = keyed.event(change)
        tap.require(ok, f"{what}: no event {change} on the key holder's stream")
        tap.check(ev[3] - t0 <= ARRIVAL, f"{what}: the event took {ev[3] - t0:.3f} s")
        return resp, ev

    _, ev = write("publish", "POST", "/v1/articles", {"title": "Live one", "body": "Text."})
    aid = int(ev[2].split('"article_id":')[1].split(",")[0])
    tap.eq(ev[1], "article.published", "a new published article")
    tap.check('"title":"Live one"' in ev[2] and '"slug":"live-one"' in ev[2],
              f"the event names the article: {ev[2]}")
    _, ev = write("draft", "POST", "/v1/articles",
                  {"title": "Secret plan", "body": "Text.", "status": "draft"})
    draft = int(ev[2].split('"article_id":')[1].split(",")[0])
    tap.eq(ev[1], "article.drafted", "a new draft")
    tap.eq(write("edit", "PATCH", f"/v1/articles/{aid}", {"title": "Live two"})[1][1],
           "article.updated", "an edit")
    tap.eq(write("publish draft", "PATCH", f"/v1/articles/{draft}",
                 {"status": "published", "title": "Public plan"})[1][1],
           "article.published", "a draft published")
    tap.eq(write("unpublish", "PATCH", f"/v1/articles/{draft}", {"status": "draft"})[1][1],
           "article.unpublished", "back to draft")
    resp, ev = write("pending comment", "POST", f"/v1/articles/{aid}/comments",
                     {"author": "ann", "body": "First!"}, auth=False)
    cid = resp.json["id"]
    tap.eq((ev[1], '"status":"pending"' in ev[2]), ("comment.added", True), "a pending comment")
    tap.eq(write("approve", "PATCH", f"/v1/comments/{cid}", {"status": "visible"})[1][1],
           "comment.moderated", "a comment approved")
    tap.eq(write("remove", "DELETE", f"/v1/comments/{cid}")[1][1], "comment.removed",
           "a comment removed")
    srv.request("POST", f"/v1/articles/{aid}/comments", {"author": "bo", "body": "Hi"},
                auth=True)
    tap.eq(write("delete", "DELETE", f"/v1/articles/{aid}")[1][1], "article.deleted",
           "an article deleted (with its comment: one change)")
    last = newest(srv)
    tap.eq(keyed.ids(), list(range(start + 1, last + 1)), "the key holder saw every change")
    want_public = [c["id"] for c in changes(srv, start)[0]]
    tap.check(public.wait(lambda s: s.ids() == want_public, ARRIVAL + 1),
              f"public stream {public.ids()}, want {want_public}")
    tap.check(all('"title":"Secret plan"' not in e[2] for e in public.events),
              "the draft's title never reached the public stream")
    tap.check(any('"title":"Secret plan"' in e[2] for e in keyed.events),
              "the key holder saw the draft's title")
    kinds = [e[1] for e in public.events]
    tap.eq(kinds, ["article.published", "article.updated", "article.published",
                   "article.unpublished", "comment.moderated", "comment.removed",
                   "article.deleted"], "the public kinds, in order")
    public.close()
    keyed.close()


def test_foreign_writes(srv):
    """A change committed by another process (newsd import) is seen by polling."""
    stream = EventStream(srv.port)
    before = newest(srv)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "story.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("Harbour lights return\n\nThe harbour lights are back.\n")
        t0 = time.monotonic()
        proc = run_cli(BIN, ["--db", srv.db, "import", path])
        tap.require(proc.returncode == 0, f"import failed: {proc.stderr}")
        took = time.monotonic() - t0
    ok = stream.wait(lambda s: s.event(before + 1) is not None, ARRIVAL + 1)
    tap.require(ok, "no event for the imported article")
    ev = stream.event(before + 1)
    tap.eq(ev[1], "article.published", "the import's event")
    tap.check(ev[3] - t0 <= took + ARRIVAL,
              f"the event came {ev[3] - t0 - took:.3f} s after the import ended")
    stream.close()


def test_replay(srv):
    """Last-Event-ID (and ?since=) replays exactly the changes after it, in order."""
    every, last = changes(srv, 0, auth=True)
    public_ids = [c["id"] for c in changes(srv, 0)[0]]
    tap.require(len(every) >= 8, f"too few changes to replay: {len(every)}")
    mid = every[len(every) // 2]["id"]
    for headers, path, want, what in (
            ({"Last-Event-ID": str(mid), "Authorization": "Bearer " + srv.key}, "/v1/events",
             [c["id"] for c in every if c["id"] > mid], "Last-Event-ID with a key"),
            ({"Last-Event-ID": "0"}, "/v1/events", public_ids, "Last-Event-ID 0 without a key"),
            ({}, f"/v1/events?since={mid}", [i for i in public_ids if i > mid], "?since="),
            ({"Last-Event-ID": str(last)}, "/v1/events?since=1", [], "the header wins")):
        stream = EventStream(srv.port, headers, path)
        stream.wait(lambda s: len(s.ids()) >= len(want), ARRIVAL)
        time.sleep(0.3)  # nothing more may come
        tap.eq(stream.ids(), want, what)
        stream.close()
    # The events' data are the changes of /v1/changes, byte for byte as JSON.
    stream = EventStream(srv.port, {"Last-Event-ID": "0", "Authorization": "Bearer " + srv.key})
    stream.wait(lambda s: len(s.ids()) >= len(every), ARRIVAL)
    tap.eq([json.loads(e[2]) for e in stream.events], every, "event data = /v1/changes items")
    tap.eq([e[1] for e in stream.events], [c["kind"] for c in every], "event: the kind")
    stream.close()
    # haproxy trims the blank off "1 ": no instance behind it can see it
    for bad in ("-1", "x", "01") + (() if CLUSTER else ("1 ",)):
        resp = EventStream(srv.port, {"Last-Event-ID": bad})
        tap.eq(resp.status, 400, f"Last-Event-ID {bad!r}")
    resp = srv.request("GET", "/v1/events?since=abc")
    tap.eq((resp.status, "since must be" in resp.json.get("detail", "")), (400, True),
           "?since=abc")


def test_changes_pages(srv):
    """/v1/changes: pages by next_cursor and Link, next_since, visibility, 410."""
    every, last = changes(srv, 0, auth=True)
    public_ids = [c["id"] for c in changes(srv, 0)[0]]
    tap.check(set(public_ids) <= {c["id"] for c in every}, "public changes are a subset")
    tap.check(all(c["kind"] != "article.drafted" for c in changes(srv, 0)[0]),
              "no draft without a key")
    tap.check(len(public_ids) < len(every), "some changes are for key holders only")
    seen, path, pages = [], "/v1/changes?limit=2", 0
    while path:
        resp = srv.request("GET", path)
        tap.require(resp.status == 200, f"{path}: {resp}")
        pages += 1
        seen += [c["id"] for c in resp.json["data"]]
        link = resp.links().get("next")
        if resp.json["next_cursor"] is None:
            tap.eq(link, None, "no Link on the last page")
            tap.eq(resp.json["next_since"], last, "next_since on the last page: the newest change")
            path = None
        else:
            tap.eq(resp.json["next_since"], resp.json["data"][-1]["id"], "next_since mid-way")
            tap.eq(link, f"/v1/changes?limit=2&since={resp.json['next_cursor']}", "Link")
            path = link
    tap.eq(seen, public_ids, "pages of 2 visit every public change once, in order")
    tap.eq(pages, (len(public_ids) + 1) // 2, "pages of 2, the last one full or not")
    resp = srv.request("GET", f"/v1/changes?since={last}")
    tap.eq((resp.status, resp.json["data"], resp.json["next_cursor"], resp.json["next_since"]),
           (200, [], None, last), "nothing new")
    resp = srv.request("GET", f"/v1/changes?since={last + 1}")
    tap.eq(resp.status, 410, "a position newer than the log")
    tap.check(f"since={last}" in resp.json["detail"], f"the 410 says where to go on: {resp}")
    for bad in ("since=-1", "since=1.5", "since=", "limit=0", "limit=101"):
        tap.eq(srv.request("GET", "/v1/changes?" + bad).status, 400, bad)


def test_heartbeat_and_reset(binary):
    """Heartbeats on idle streams; a position older than the log gets a reset."""
    with Server(binary, ["--events-heartbeat", "1", "--change-log-days", "1"]) as srv:
        for n in range(4):
            srv.create_article(title=f"Old news {n}")
        stream = EventStream(srv.port)
        tap.check(stream.wait(lambda s: len(s.comments) >= 2, 3.5 * SLOWDOWN),
                  f"two heartbeats within 3.5 s: {stream.comments}")
        tap.check(all(c[0] == "ping" for c in stream.comments), f"{stream.comments}")
        stream.close()
        tap.stop_server(srv)
        srv.sql("UPDATE changes SET at = at - 3 * 86400 WHERE id <= 3")
        srv.start()  # the log is pruned when the server starts
        srv.create_article(title="Fresh news")
        deadline = time.monotonic() + 3 * SLOWDOWN
        resp = srv.request("GET", "/v1/changes?since=1")
        while resp.status == 200 and time.monotonic() < deadline:
            time.sleep(0.1)
            resp = srv.request("GET", "/v1/changes?since=1")
        tap.eq(resp.status, 410, "/v1/changes after a pruned position")
        tap.check("no longer kept" in resp.json["detail"] and "since=5" in resp.json["detail"],
                  f"the 410 names where to go on: {resp.json}")
        tap.eq([c["id"] for c in srv.request("GET", "/v1/changes").json["data"]], [4, 5],
               "without since: from the oldest change kept")
        tap.eq(srv.request("GET", "/v1/changes?since=3").status, 200, "right after the prune")
        stream = EventStream(srv.port, {"Last-Event-ID": "1"})
        tap.require(stream.wait(lambda s: s.events, ARRIVAL + 1), "no reset event")
        ev = stream.events[0]
        tap.eq((ev[0], ev[1]), (5, "reset"), "event: reset with the newest id")
        tap.check('"next_since":5' in ev[2], f"reset data: {ev[2]}")
        srv.create_article(title="After the reset")
        tap.check(stream.wait(lambda s: s.ids() == [5, 6], ARRIVAL + 1),
                  f"the stream goes on after the reset: {stream.ids()}")
        stream.close()
        stream = EventStream(srv.port, {"Last-Event-ID": "99"})
        tap.check(stream.wait(lambda s: [e[1] for e in s.events] == ["reset"], ARRIVAL + 1),
                  f"a position newer than the log: reset ({stream.events})")
        stream.close()
        tap.stop_server(srv)


def test_limits(binary):
    """events-per-client (429) and events-limit (503), with Retry-After."""
    args = ["--events-per-client", "2", "--events-limit", "3", "--events-heartbeat", "1",
            "--trusted-proxies", "127.0.0.1"]
    with Server(binary, args) as srv:
        a = [EventStream(srv.port, {"X-Forwarded-For": "192.0.2.1"}) for _ in range(2)]
        tap.eq([s.status for s in a], [200, 200], "two streams for one address")
        over = EventStream(srv.port, {"X-Forwarded-For": "192.0.2.1"})
        tap.eq((over.status, over.headers.get("retry-after")), (429, "1"),
               "a third for the same address")
        tap.check(b"events-per-client" in over.body, f"429 detail: {over.body!r}")
        b = EventStream(srv.port, {"X-Forwarded-For": "192.0.2.2"})
        tap.eq(b.status, 200, "another address")
        full = EventStream(srv.port, {"X-Forwarded-For": "192.0.2.3"})
        tap.eq((full.status, full.headers.get("retry-after")), (503, "1"), "over events-limit")
        tap.check(b"events-limit" in full.body, f"503 detail: {full.body!r}")
        tap.eq(srv.request("GET", "/health").status, 200, "other requests still answered")
        a[0].close()
        deadline = time.monotonic() + 4 * SLOWDOWN
        again = None
        while time.monotonic() < deadline:
            again = EventStream(srv.port, {"X-Forwarded-For": "192.0.2.1"})
            if again.status == 200:
                break
            time.sleep(0.25)
        tap.eq(again.status, 200, "a closed stream's place is free again within a heartbeat")
        for s in (a[1], b, again):
            s.close()
        tap.stop_server(srv)


def test_limit_ipv6_block(binary):
    """events-per-client counts an IPv6 client by its /64, like the other
    per-address limits: other addresses of the same block are the same client."""
    args = ["--events-per-client", "2", "--trusted-proxies", "127.0.0.1"]
    with Server(binary, args) as srv:
        a = [EventStream(srv.port, {"X-Forwarded-For": f"2001:db8:1:2::{n}"}) for n in (1, 2)]
        tap.eq([s.status for s in a], [200, 200], "two streams from one /64")
        over = EventStream(srv.port, {"X-Forwarded-For": "2001:db8:1:2:ffff::3"})
        tap.eq((over.status, over.headers.get("retry-after")), (429, "15"),
               "a third address of the same /64")
        other = EventStream(srv.port, {"X-Forwarded-For": "2001:db8:1:3::1"})
        tap.eq(other.status, 200, "an address of another /64")
        for s in a + [other]:
            s.close()
        tap.stop_server(srv)


def test_idle_streams(binary):
    """200 idle streams hold no worker thread: requests stay fast, and each
    stream still gets the next event."""
    args = ["--threads", "2", "--per-ip-connection-limit", "0", "--events-per-client", "300",
            "--events-limit", "300"]
    with Server(binary, args) as srv:
        streams = [EventStream(srv.port, read=False) for _ in range(200)]
        tap.eq(sum(s.status == 200 for s in streams), 200, "200 streams open")
        slowest = 0.0
        for i in range(40):
            t0 = time.monotonic()
            path = "/health" if i % 2 else "/v1/articles"
            tap.require(srv.request("GET", path).status == 200, f"GET {path}")
            slowest = max(slowest, time.monotonic() - t0)
        tap.diag(f"slowest of 40 requests beside 200 idle streams: {slowest * 1000:.1f} ms")
        tap.check(slowest < 0.5 * SLOWDOWN, f"a request took {slowest:.3f} s")
        srv.create_article(title="For everyone")
        deadline = time.monotonic() + 3 * SLOWDOWN
        got = 0
        for s in streams:
            s.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                while b"event: article.published" not in s.buf:
                    s._fill()
                got += 1
            except (OSError, EOFError):
                pass
        tap.eq(got, 200, "every idle stream got the new article within 3 s")
        t0 = time.monotonic()
        rc = srv.stop()
        took = time.monotonic() - t0
        tap.eq(rc, 0, "exit status on SIGTERM with 200 open streams")
        tap.check(took < 3 * SLOWDOWN, f"SIGTERM took {took:.2f} s")
        tap.diag(f"SIGTERM with 200 open streams: exited in {took:.2f} s")
        for s in streams:
            s.close()


def test_sigterm(binary):
    """SIGTERM with open streams: each ends with its last chunk, exit 0 at once."""
    with Server(binary) as srv:
        streams = [EventStream(srv.port) for _ in range(5)]
        t0 = time.monotonic()
        rc = srv.stop()
        took = time.monotonic() - t0
        tap.eq(rc, 0, "exit status")
        tap.check(took < 2 * SLOWDOWN, f"stopping took {took:.2f} s (shutdown-grace is 10)")
        tap.check(all(s.wait(lambda x: x.closed, 2) and s.ended for s in streams),
                  "every stream ended with the last chunk of its body")


def main():
    with Server(BIN, ["--comment-moderation", "pre"]) as srv:
        tap.run("every kind of change arrives within a second; public streams see only "
                "public changes", test_every_kind, srv)
        tap.run("another process's write is seen by polling", test_foreign_writes, srv)
        tap.run("Last-Event-ID and ?since= replay exactly, in order", test_replay, srv)
        tap.run("/v1/changes pages, next_since, visibility and 410", test_changes_pages, srv)
        tap.stop_server(srv)
    tap.run("heartbeats; reset and 410 after pruning", test_heartbeat_and_reset, BIN)
    tap.run_single("stream limits per address (429) and in all (503)", LIMITS_PER_PROCESS,
                   test_limits, BIN)
    tap.run_single("an IPv6 client's streams count by its /64", LIMITS_PER_PROCESS,
                   test_limit_ipv6_block, BIN)
    tap.run("200 idle streams hold no worker thread", test_idle_streams, BIN)
    tap.run("SIGTERM with open streams exits 0 promptly", test_sigterm, BIN)
    tap.done()


if __name__ == "__main__":
    main()
