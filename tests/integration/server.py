"""server.py: running the real newsd for a test.

Server starts newsd on an ephemeral port of 127.0.0.1 with a database in a
temporary directory, or a database of its own on the test PostgreSQL server
when NEWSD_TEST_BACKEND is postgres (and an API key made with the CLI), reads its stderr
and stdout in threads, stops it on a signal and kills it when a test
leaves it running. run_cli runs the CLI; check_stop is the test point that
a server stops cleanly with no sanitizer report; serve runs a list of test
points against one server and stops it.

In the cluster topology (NEWSD_TEST_TOPOLOGY=cluster) Server(...) is a
topology.ClusterServer: haproxy in front of several instances, with the
same interface.

db_sql, hold_write_lock and scratch_db reach a server's database as another
process would, on either backend: Python's sqlite3 for a file, psql for a
PostgreSQL URI; tests that write behind newsd's back use them, so the same
test runs on both.
"""

import http.client
import os
import re
import atexit
import contextlib
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.parse

import pg
from environment import CLUSTER, HTTP_TIMEOUT, SLOWDOWN, START_TIMEOUT, STOP_TIMEOUT, WRAPPER
from http_client import http_request, target_path

LISTENING = re.compile(r"listening on http://([0-9.]+):(\d+)")
SANITIZER = re.compile(
    r"runtime error:|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer")


def check_stop(tap, srv, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
    started = time.monotonic()
    rc = srv.stop(sig, timeout)
    took = time.monotonic() - started
    tap.check(rc == 0, f"exit status {rc} after {took:.1f} s (want 0)\n{srv.stderr_tail()}")
    bad = [l for l in srv.stderr_lines() if SANITIZER.search(l)]
    tap.check(not bad, "sanitizer report in stderr:\n" + "\n".join(bad[:20]))
    return rc


def clean_env(extra=None):
    """The environment for newsd: no inherited NEWSD_* setting, the comment
    and write rate limits off, and extra on top (a None value removes a variable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSD_")}
    env["NEWSD_COMMENT_RATE"] = "0"
    env["NEWSD_WRITE_RATE"] = "0"
    for name, value in (extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_cli(binary, args, env=None, timeout=30, stdin=None):
    """Runs newsd with args; returns the CompletedProcess (text)."""
    return subprocess.run(
        [*WRAPPER, binary, *args],
        env=clean_env(env),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout * SLOWDOWN,
    )


def create_key(binary, db, name, env=None):
    """A new API key from `newsd --db DB key create NAME` (its last stdout line)."""
    proc = run_cli(binary, ["--db", db, "key", "create", name], env)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"key create {name} failed: status {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return lines[-1].strip()


def is_postgres(db):
    return db.startswith(("postgres://", "postgresql://"))


def db_sql(db, statements, args=(), readonly=False):
    """Runs statements (one SQL string, or a list run in one transaction; ?
    marks args, which go with the first) on database db (a SQLite path or a
    PostgreSQL URI) as another process would. Returns the rows of the last
    statement as tuples (int, float, str, bool on PostgreSQL, None). Write
    SQL both dialects share; readonly opens a SQLite file read-only (it then
    makes no -wal or -shm file of its own)."""
    if isinstance(statements, str):
        statements = [statements]
    if is_postgres(db):
        return pg.query(db, statements, args)
    uri = f"file:{db}?mode=ro" if readonly else f"file:{db}"
    con = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        rows = con.execute(statements[0], tuple(args)).fetchall()
        for statement in statements[1:]:
            rows = con.execute(statement).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def post_article(request, **fields):
    """POSTs an article (defaults for title/body) through request (a
    Server's or a Cluster's, with the key); returns its JSON."""
    body = {"title": "An article", "body": "Some text."}
    body.update(fields)
    resp = request("POST", "/v1/articles", body, auth=True)
    if resp.status != 201:
        raise RuntimeError(f"creating {body.get('title')!r} failed: {resp}")
    return resp.json


@contextlib.contextmanager
def hold_write_lock(db):
    """A with-block during which another process holds db's write lock, as
    a long write transaction would: SQLite's BEGIN IMMEDIATE, or on
    PostgreSQL (where writers run side by side and only a table lock stops
    them all) a psql session holding the articles and comments tables in
    EXCLUSIVE mode, as maintenance would: reads go on, writes wait.
    Rolled back on exit."""
    if not is_postgres(db):
        other = sqlite3.connect(db, isolation_level=None, timeout=5)
        try:
            other.execute("BEGIN IMMEDIATE")
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    with pg.holding_locks(db, ["articles", "comments"], "EXCLUSIVE"):
        yield


def scratch_db(folder, name):
    """Another, empty database of the backend under test: a SQLite file
    folder/name.db, or a new PostgreSQL database dropped when the test
    exits. Returns what --db takes."""
    if pg.BACKEND != "postgres":
        return os.path.join(folder, name + ".db")
    db = pg.Database().create()
    atexit.register(db.drop)
    return db.uri


class Stream:
    """Collects the lines of a pipe in a thread, so the pipe never fills."""

    def __init__(self, pipe):
        self.lines = []
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._drain, args=(pipe,), daemon=True)
        self.thread.start()

    def _drain(self, pipe):
        for raw in iter(pipe.readline, b""):
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wait_for(self, pattern, timeout, start=0):
        """The first match of pattern in a line from index start on, or None
        after timeout or when the pipe closes."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return m
                    i += 1
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    return None
                self.cond.wait(left)

    def snapshot(self):
        with self.cond:
            return list(self.lines)


class Server:
    """A running newsd on 127.0.0.1 with its own temporary database.

    Server(binary, args=[...], env={...}, db=None, key=True, port_flag=True)
    as a context manager: starts on enter (after creating an API key when key
    is true), kills a server still running on exit (a test point should have
    stopped it with Tap.stop_server). db: an existing path or URI to reuse
    (restart tests); default a file in a new temporary directory, or on the
    postgres backend a new database (srv.db its URI) dropped on exit.
    """

    started = 0

    def __new__(cls, *args, **kwargs):
        # In the cluster topology "the server" is haproxy in front of several
        # instances (topology.py); a subclass (cluster.Instance) is one process.
        if cls is Server and CLUSTER:
            from topology import ClusterServer  # here: it imports cluster.py, which imports us

            return super().__new__(ClusterServer)
        return super().__new__(cls)

    def __init__(self, binary, args=(), env=None, db=None, key=True, port_flag=True,
                 command=("serve",), wait_listening=True):
        self.binary = binary
        self.args = list(args)
        self.env = dict(env or {})
        self.tmp = None
        self.pgdb = None
        if db is None:
            # a folder for the test's files beside the database, on both backends
            self.tmp = tempfile.TemporaryDirectory(prefix="newsd-it-")
        if db is None and pg.BACKEND == "postgres":
            self.pgdb = pg.Database().create()
            db = self.pgdb.uri
        elif db is None:
            db = os.path.join(self.tmp.name, "newsd.db")
        self.db = db
        self.want_key = key
        self.key = None
        self.port_flag = port_flag
        self.command = list(command)
        self.wait_listening = wait_listening
        self.proc = None
        self.port = None
        self.err = None
        self.out = None
        self.returncode = None

    def __enter__(self):
        try:
            if self.want_key:
                Server.started += 1  # a database may be reused: one key name per start
                name = f"integration-{Server.started}"
                self.key = create_key(self.binary, self.db, name, self.env)
            self.start()
        except BaseException:
            self.kill()
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc):
        self.kill()
        self.cleanup()
        return False

    def argv(self):
        argv = [*WRAPPER, self.binary, "--db", self.db]
        if self.port_flag:
            argv += ["--port", "0", "--bind", "127.0.0.1"]
        return argv + self.args + self.command

    def start(self):
        self.returncode = None
        self.proc = subprocess.Popen(
            self.argv(),
            env=clean_env(self.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.err = Stream(self.proc.stderr)
        self.out = Stream(self.proc.stdout)
        if not self.wait_listening:
            return
        m = self.err.wait_for(LISTENING, START_TIMEOUT)
        if not m:
            self.kill()
            raise RuntimeError(f"newsd did not report listening:\n{self.stderr_tail()}")
        self.port = int(m.group(2))

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends sig (None: none, the process is already stopping) and waits;
        returns the exit status (None: it had to be killed)."""
        if self.proc is None:
            return self.returncode
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.returncode = None
        self._close_pipes()
        self.proc = None
        return self.returncode

    def kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._close_pipes()
        self.returncode = self.proc.returncode
        self.proc = None

    def _close_pipes(self):
        for stream in (self.err, self.out):
            if stream is not None:
                stream.thread.join(5)
        for pipe in (self.proc.stderr, self.proc.stdout):
            if pipe:
                pipe.close()

    def cleanup(self):
        if self.pgdb is not None:
            self.pgdb.drop()
            self.pgdb = None
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_lines(self):
        return self.err.snapshot() if self.err else []

    def stderr_tail(self, n=40):
        return "stderr:\n" + "\n".join(self.stderr_lines()[-n:])

    # -- talking to it ------------------------------------------------------

    def request(self, method, path, body=None, headers=None, raw=None, auth=False, conn=None):
        """A request; auth=True adds this server's key, a string adds that
        Authorization header value. raw: bytes sent as the body as is."""
        hdrs = dict(headers or {})
        if auth is True and self.key:
            hdrs.setdefault("Authorization", "Bearer " + self.key)
        elif isinstance(auth, str):
            hdrs.setdefault("Authorization", auth)
        return http_request(self.port, method, path, raw if raw is not None else body, hdrs, conn)

    def sql(self, statements, args=(), readonly=False):
        """db_sql on this server's database."""
        return db_sql(self.db, statements, args, readonly)

    def cache_hits(self):
        """newsd_response_cache_hits_total from /metrics, an int. Raises
        RuntimeError when /metrics does not answer 200 or lacks the counter."""
        resp = self.request("GET", "/metrics")
        if resp.status != 200:
            raise RuntimeError(f"GET /metrics: {resp}")
        m = re.search(r"^newsd_response_cache_hits_total (\d+)$", resp.body.decode(), re.M)
        if m is None:
            raise RuntimeError("no newsd_response_cache_hits_total in /metrics")
        return int(m.group(1))

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)

    def create_article(self, **fields):
        """POSTs an article (defaults for title/body) with the key; returns its JSON."""
        return post_article(self.request, **fields)

    def create_comment(self, article_id, **fields):
        body = {"author": "reader", "body": "A comment."}
        body.update(fields)
        resp = self.request("POST", f"/v1/articles/{article_id}/comments", body)
        if resp.status != 201:
            raise RuntimeError(f"creating a comment failed: {resp}")
        return resp.json

    def walk(self, path, via="cursor", between=None, max_pages=200):
        """Follows a paginated list from path to its last page, via next_cursor
        or the Link header. Returns (items, pages); between(page_no) runs
        after each page is fetched. Raises on any non-200 page."""
        items, pages = [], []
        target = path
        while target is not None and len(pages) < max_pages:
            resp = self.request("GET", target, auth=True)
            if resp.status != 200:
                raise RuntimeError(f"GET {target} answered {resp}")
            pages.append(resp)
            items += resp.json["data"]
            if between:
                between(len(pages))
            if via == "cursor":
                cur = resp.json.get("next_cursor")
                if cur is None:
                    target = None
                else:
                    sep = "&" if "?" in path else "?"
                    target = path + sep + "cursor=" + urllib.parse.quote(cur, safe="")
            else:
                nxt = resp.links().get("next")
                target = target_path(nxt) if nxt else None
        return items, pages


def serve(tap, binary, points, args=(), setup=None, **server_args):
    """Starts binary with args (Server's other arguments in server_args), runs
    setup(srv) when given, then each (name, fn) of points as one test point
    fn(srv), and last the point that the server stops cleanly."""
    with Server(binary, args, **server_args) as srv:
        if setup is not None:
            setup(srv)
        for name, fn in points:
            tap.run(name, fn, srv)
        tap.stop_server(srv)
