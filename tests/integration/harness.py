"""harness.py: the integration-test harness of newsd, written once.

Every integration test starts the real newsd binary (argv[1]) on an ephemeral
port with a database in a temporary directory, talks HTTP to it with the
standard library only, and reports in TAP, which Meson reads. A test file is
mostly data: tables of requests with the status, JSON subset and headers each
one must answer with (curl/jq style), run by run_cases().

    tap = Tap()
    with Server(binary) as srv:
        tap.cases(srv, [
            case("health", "GET", "/health", status=200, json={"status": "ok"}),
        ])
        tap.stop_server(srv)
    tap.done()

Every answer with a status of 400 or more is checked to be an RFC 9457 problem
document (application/problem+json with type, title, status and detail, status
equal to the HTTP status), whatever the test itself looks at.
"""

import http.client
import json
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

# A SIGTERM to the test (a Meson timeout) unwinds the with-blocks, so that no
# server outlives its test.
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

# ND_SERVER_WRAPPER: a command put in front of every newsd process the tests
# start, e.g. "valgrind --leak-check=full --error-exitcode=99" (the
# 'valgrind' test setup sets it). A wrapped newsd runs many times slower, so
# the harness then waits that much longer.
WRAPPER = shlex.split(os.environ.get("ND_SERVER_WRAPPER", ""))
SLOWDOWN = 10 if WRAPPER else 1

START_TIMEOUT = 10.0 * SLOWDOWN
STOP_TIMEOUT = 15.0 * SLOWDOWN
HTTP_TIMEOUT = 15.0 * SLOWDOWN

LISTENING = re.compile(r"listening on http://([0-9.]+):(\d+)")
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SANITIZER = re.compile(
    r"runtime error:|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer")


# The reason phrases a problem's title may use (RFC 9110, and older names).
REASONS = {
    400: {"Bad Request"}, 401: {"Unauthorized"}, 403: {"Forbidden"}, 404: {"Not Found"},
    405: {"Method Not Allowed"}, 409: {"Conflict"},
    413: {"Content Too Large", "Payload Too Large", "Request Entity Too Large"},
    414: {"URI Too Long", "Request-URI Too Long"}, 415: {"Unsupported Media Type"},
    422: {"Unprocessable Content", "Unprocessable Entity"}, 429: {"Too Many Requests"},
    500: {"Internal Server Error"}, 503: {"Service Unavailable"},
}


# ---- TAP ------------------------------------------------------------------


class Failure(Exception):
    """Raised by Tap.require to end the current test point at once."""


class Tap:
    """A tiny TAP producer: one "ok"/"not ok" line per test point, the plan last.

    Inside a test point, check() records a failure and goes on; require()
    records it and ends the point. An exception escaping a point fails it
    with its traceback as diagnostics.
    """

    def __init__(self):
        self.count = 0
        self.failed = 0
        self.current = None

    def run(self, name, fn, *args, **kwargs):
        """Runs fn(*args, **kwargs) as one test point. Returns fn's result or None.
        Points nest: a point run inside another reports on its own line first."""
        saved, self.current = self.current, []
        result = None
        try:
            result = fn(*args, **kwargs)
        except Failure:
            pass
        except Exception:  # noqa: BLE001 - any escape is a failed point
            self.current.append("unexpected exception:\n" + traceback.format_exc())
        failures, self.current = self.current, saved
        self._report(name, failures)
        return result

    def point(self, name):
        """Decorator form of run(): the function runs at once as a test point."""

        def wrap(fn):
            self.run(name, fn)
            return fn

        return wrap

    def _report(self, name, failures):
        self.count += 1
        if failures:
            self.failed += 1
            print(f"not ok {self.count} - {name}")
            for message in failures:
                for line in str(message).splitlines() or [""]:
                    print(f"# {line}")
        else:
            print(f"ok {self.count} - {name}")
        sys.stdout.flush()

    def skip(self, name, reason):
        self.count += 1
        print(f"ok {self.count} - {name} # SKIP {reason}")
        sys.stdout.flush()

    def diag(self, message):
        for line in str(message).splitlines():
            print(f"# {line}")
        sys.stdout.flush()

    def check(self, cond, message):
        """Records message as a failure of the current point when cond is false."""
        if not cond:
            if self.current is None:
                raise RuntimeError("check() outside a test point: " + message)
            self.current.append(message)
        return bool(cond)

    def require(self, cond, message):
        """Like check(), but ends the current point when cond is false."""
        if not self.check(cond, message):
            raise Failure(message)

    def eq(self, got, want, what):
        return self.check(got == want, f"{what}: got {got!r}, want {want!r}")

    def done(self):
        """Prints the plan and exits 1 when any point failed."""
        print(f"1..{self.count}")
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)

    # -- tables -------------------------------------------------------------

    def cases(self, srv, table, ctx=None):
        """Runs every case of table (see case()) against srv, one point each."""
        for c in table:
            self.run(c["name"], run_case, self, srv, c, ctx or {})

    def stop_server(self, srv, sig=signal.SIGTERM, name=None):
        """A test point: srv stops on sig within STOP_TIMEOUT with status 0."""
        label = name or f"server exits 0 on {signal.Signals(sig).name if sig else 'its signal'}"
        self.run(label, check_stop, self, srv, sig)


def check_stop(tap, srv, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
    started = time.monotonic()
    rc = srv.stop(sig, timeout)
    took = time.monotonic() - started
    tap.check(rc == 0, f"exit status {rc} after {took:.1f} s (want 0)\n{srv.stderr_tail()}")
    bad = [l for l in srv.stderr_lines() if SANITIZER.search(l)]
    tap.check(not bad, "sanitizer report in stderr:\n" + "\n".join(bad[:20]))
    return rc


# ---- matching -------------------------------------------------------------


class Re:
    """Matches a string against a regular expression (search)."""

    def __init__(self, pattern, flags=0):
        self.rx = re.compile(pattern, flags)

    def __call__(self, value):
        return isinstance(value, str) and self.rx.search(value) is not None

    def __repr__(self):
        return f"Re({self.rx.pattern!r})"


class Pred:
    """Matches when fn(value) is true; label names it in messages."""

    def __init__(self, fn, label):
        self.fn = fn
        self.label = label

    def __call__(self, value):
        try:
            return bool(self.fn(value))
        except Exception:  # noqa: BLE001 - a predicate that throws does not match
            return False

    def __repr__(self):
        return self.label


ANY = Pred(lambda v: True, "ANY")
ABSENT = object()  # in header checks: the header must not be there
PRESENT = Pred(lambda v: v is not None, "PRESENT")
TIMESTAMP = Pred(lambda v: isinstance(v, str) and RFC3339_Z.match(v), "TIMESTAMP")
INT = Pred(lambda v: isinstance(v, int) and not isinstance(v, bool), "INT")


def contains(*parts):
    return Pred(lambda v: all(p in v for p in parts), f"contains{parts!r}")


def mismatches(want, got, where="$"):
    """Paths where got does not match want: dicts match as subsets, lists
    element-wise with equal length, Re/Pred/callables as predicates."""
    if isinstance(want, (Re, Pred)):
        return [] if want(got) else [f"{where}: {got!r} does not match {want!r}"]
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{where}: want an object, got {got!r}"]
        out = []
        for key, sub in want.items():
            if sub is ABSENT:
                if key in got:
                    out.append(f"{where}.{key}: should be absent, got {got[key]!r}")
            elif key not in got:
                out.append(f"{where}.{key}: missing")
            else:
                out += mismatches(sub, got[key], f"{where}.{key}")
        return out
    if isinstance(want, list):
        if not isinstance(got, list):
            return [f"{where}: want an array, got {got!r}"]
        if len(want) != len(got):
            return [f"{where}: want {len(want)} items, got {len(got)}: {short(got)}"]
        out = []
        for i, (w, g) in enumerate(zip(want, got)):
            out += mismatches(w, g, f"{where}[{i}]")
        return out
    if isinstance(want, bool) or isinstance(got, bool):
        ok = type(want) is type(got) and want == got
    else:
        ok = want == got and type(want) is type(got)
    return [] if ok else [f"{where}: got {short(got)}, want {short(want)}"]


def short(value, limit=300):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# ---- HTTP -----------------------------------------------------------------


class Headers:
    """Response headers, looked up case-insensitively; repeated ones joined by ", "."""

    def __init__(self, pairs):
        self.pairs = list(pairs)
        self.map = {}
        for name, value in self.pairs:
            key = name.lower()
            self.map[key] = value if key not in self.map else self.map[key] + ", " + value

    def get(self, name, default=None):
        return self.map.get(name.lower(), default)

    def __getitem__(self, name):
        return self.map[name.lower()]

    def __contains__(self, name):
        return name.lower() in self.map

    def __repr__(self):
        return repr(self.pairs)


class Response:
    def __init__(self, status, headers, body, method="GET"):
        self.status = status
        self.headers = headers
        self.body = body
        self.method = method
        self.json = None
        self.json_error = None
        if body:
            try:
                self.json = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                self.json_error = str(e)

    def problem_issues(self):
        """Ways this answer fails to be a proper problem document (status >= 400)."""
        if self.status < 400:
            return []
        ctype = self.headers.get("Content-Type", "")
        issues = []
        if not ctype.startswith("application/problem+json"):
            issues.append(f"problem Content-Type is {ctype!r}")
        if self.method == "HEAD":
            return issues
        doc = self.json
        if not isinstance(doc, dict):
            return issues + [f"problem body is not a JSON object: {short(self.body)}"]
        for field, kind in (("type", str), ("title", str), ("detail", str), ("status", int)):
            if not isinstance(doc.get(field), kind):
                issues.append(
                    f"problem field {field!r} missing or not {kind.__name__}: {short(doc)}")
        if doc.get("status") != self.status:
            issues.append(f"problem status {doc.get('status')!r} != HTTP status {self.status}")
        if doc.get("type") != "about:blank":
            issues.append(f"problem type {doc.get('type')!r}, want 'about:blank'")
        reasons = REASONS.get(self.status)
        if reasons and doc.get("title") not in reasons:
            issues.append(f"problem title {doc.get('title')!r} is not the reason phrase {reasons}")
        return issues

    def links(self):
        """rel -> target of the Link header(s)."""
        out = {}
        for name, value in self.headers.pairs:
            if name.lower() != "link":
                continue
            for m in re.finditer(r'<([^>]*)>\s*((?:;\s*[^;,]+)*)', value):
                rel = re.search(r'rel="?([^";]+)"?', m.group(2))
                if rel:
                    out[rel.group(1)] = m.group(1)
        return out

    def __repr__(self):
        return f"<{self.status} {short(self.headers)} {short(self.body)}>"


def target_path(url):
    """The path and query of an absolute or relative URL."""
    parts = urllib.parse.urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def http_request(port, method, path, body=None, headers=None, conn=None, timeout=HTTP_TIMEOUT):
    """One request. body: dict/list (sent as JSON), bytes or str (sent as is).
    headers: a None value removes a default header (Content-Type). conn: an
    open http.client.HTTPConnection to reuse (keep-alive)."""
    hdrs = {}
    data = None
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode("utf-8")
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = body
        hdrs["Content-Type"] = "application/json"
    for name, value in (headers or {}).items():
        for existing in [k for k in hdrs if k.lower() == name.lower()]:
            del hdrs[existing]
        if value is not None:
            hdrs[name] = value
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        return Response(resp.status, Headers(resp.getheaders()), payload, method)
    finally:
        if own:
            conn.close()


def raw_exchange(port, head, body_parts=(), timeout=HTTP_TIMEOUT, method="POST"):
    """Sends head (bytes) and then body_parts (an iterable of bytes) on a new
    socket, stopping early when the server answers first, and parses the
    answer. Returns a Response, or None when the connection ended without one."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(head)
        sock.settimeout(min(timeout, 5.0))  # a server that stopped reading must not hang us
        for part in body_parts:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                break
        sock.settimeout(timeout)
        try:
            resp = http.client.HTTPResponse(sock, method=method)
            resp.begin()
            payload = resp.read()
        except (http.client.HTTPException, ConnectionResetError, socket.timeout):
            return None
        return Response(resp.status, Headers(resp.getheaders()), payload, method)
    finally:
        sock.close()


def chunked(data, size=256):
    """data as the parts of a chunked transfer encoding."""
    parts = []
    for i in range(0, len(data), size):
        piece = data[i : i + size]
        parts.append(b"%x\r\n" % len(piece) + piece + b"\r\n")
    parts.append(b"0\r\n\r\n")
    return parts


# ---- the server -----------------------------------------------------------


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
    stopped it with Tap.stop_server). db: an existing path to reuse (restart
    tests); default a file in a new temporary directory.
    """

    started = 0

    def __init__(self, binary, args=(), env=None, db=None, key=True, port_flag=True,
                 command=("serve",), wait_listening=True):
        self.binary = binary
        self.args = list(args)
        self.env = dict(env or {})
        self.tmp = None
        if db is None:
            self.tmp = tempfile.TemporaryDirectory(prefix="newsd-it-")
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

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)

    def create_article(self, **fields):
        """POSTs an article (defaults for title/body) with the key; returns its JSON."""
        body = {"title": "An article", "body": "Some text."}
        body.update(fields)
        resp = self.request("POST", "/v1/articles", body, auth=True)
        if resp.status != 201:
            raise RuntimeError(f"creating {body.get('title')!r} failed: {resp}")
        return resp.json

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


# ---- case tables ----------------------------------------------------------


def case(name, method, path, body=None, status=200, json=None, headers=None, expect_headers=None,
         raw=None, auth=False, errors=None, empty_body=False, check=None):
    """One row of a case table.

    path may hold {name} fields filled from the run's context dict. json is
    the expected subset of the answer; expect_headers maps a header name to a
    value (exact), an Re/Pred, or ABSENT. errors lists the fields a 422 must
    name (all of them, each once). empty_body: the answer must have no body.
    check(tap, resp, ctx) adds free-form checks.
    """
    return dict(name=name, method=method, path=path, body=body, status=status, json=json,
                headers=headers, expect_headers=expect_headers, raw=raw, auth=auth,
                errors=errors, empty_body=empty_body, check=check)


def run_case(tap, srv, c, ctx):
    path = c["path"].format(**ctx) if ctx else c["path"]
    resp = srv.request(c["method"], path, c["body"], c["headers"], c["raw"], c["auth"])
    expect(tap, resp, c["status"], c["json"], c["expect_headers"], c["errors"], c["empty_body"],
           what=f"{c['method']} {path}")
    if c["check"]:
        c["check"](tap, resp, ctx)
    return resp


def expect(tap, resp, status, body=None, headers=None, errors=None, empty_body=False, what=""):
    """Checks one answer; returns True when everything matched."""
    prefix = (what + ": ") if what else ""
    ok = tap.check(resp.status == status,
                   f"{prefix}status {resp.status}, want {status}; body {short(resp.body, 600)}")
    for issue in resp.problem_issues():
        ok = tap.check(False, prefix + issue) and ok
    if body is not None:
        if resp.json is None:
            ok = tap.check(False,
                           f"{prefix}body is not JSON ({resp.json_error}): {short(resp.body)}")
        else:
            for m in mismatches(body, resp.json):
                ok = tap.check(False, prefix + m) and ok
    for name, want in (headers or {}).items():
        got = resp.headers.get(name)
        if want is ABSENT:
            ok = tap.check(got is None,
                           f"{prefix}header {name} should be absent, is {got!r}") and ok
        elif isinstance(want, (Re, Pred)):
            ok = tap.check(got is not None and want(got),
                           f"{prefix}header {name} = {got!r}, want {want!r}") and ok
        else:
            ok = tap.check(got == want, f"{prefix}header {name} = {got!r}, want {want!r}") and ok
    if errors is not None:
        ok = check_errors(tap, resp, errors, prefix) and ok
    if empty_body:
        ok = tap.check(resp.body == b"", f"{prefix}body should be empty: {short(resp.body)}") and ok
    return ok


def check_errors(tap, resp, fields, prefix=""):
    """A 422 lists every field of fields, each exactly once, with a message.
    A field of an array ("tags") may be named by the bad element ("tags[0]")."""
    doc = resp.json if isinstance(resp.json, dict) else {}
    errs = doc.get("errors")
    if not tap.check(isinstance(errs, list), f"{prefix}no errors array: {short(resp.body)}"):
        return False
    ok = True
    named = []
    for e in errs:
        good = isinstance(e, dict) and isinstance(e.get("field"), str) and \
            isinstance(e.get("message"), str) and e.get("message")
        ok = tap.check(good, f"{prefix}malformed errors entry {e!r}") and ok
        if isinstance(e, dict):
            named.append(e.get("field"))
    for f in fields:
        # An array member may be named by its index: "tags" matches "tags[3]".
        hit = any(n == f or (isinstance(n, str) and n.startswith(f + "[")) for n in named)
        ok = tap.check(hit, f"{prefix}errors do not name {f!r}: {short(errs, 800)}") and ok
    dup = sorted({f for f in named if named.count(f) > 1})
    ok = tap.check(not dup,
                   f"{prefix}fields listed more than once: {dup}: {short(errs, 800)}") and ok
    return ok


# ---- miscellany -----------------------------------------------------------


def binary_from_argv():
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        print("1..0 # SKIP no newsd binary given (usage: test_X.py /path/to/newsd)")
        sys.exit(0)
    return os.path.abspath(sys.argv[1])


def source_root():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("ND_SOURCE_ROOT") or os.path.dirname(os.path.dirname(here))


def samples_dir():
    """The shared samples folder, or None when this checkout has none."""
    path = os.environ.get("ND_SAMPLES")
    return path if path and os.path.isdir(path) else None


def free_port():
    """A port that was free a moment ago (for config tests that need a fixed one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(fn, timeout=10.0, interval=0.05):
    """Polls fn until it returns a true value; returns that value or None."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)
