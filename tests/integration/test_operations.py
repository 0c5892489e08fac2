#!/usr/bin/env python3
"""test_operations.py: running newsd in production, checked for real.

- The json log format: the real binary with --log-format json; every line it
  writes to stderr parses as one JSON object, access lines carry the
  request's fields, and a path with quotes, backslashes, %0A and invalid
  UTF-8 stays inside its line. The text format is unchanged.
- The systemd unit config/newsd.service: `systemd-analyze verify` accepts it
  (a copy whose ExecStart names the built binary, since verify wants the
  binary to exist), its hardening directives are there, and `systemd-analyze
  security --offline=yes` rates its exposure at most EXPOSURE_MAX. No test
  starts it: this machine's PID 1 is not systemd.
- The nginx example config/nginx/newsd.conf, as it is (only its ports
  changed), in front of a real newsd with trusted-proxies = 127.0.0.1 and
  json logs: every method, Location and Link, ETag and 304 with and without
  gzip, HEAD, bodies up to max-body and 413 past it, the real client address
  and the request id in newsd's log, rate limits per real client, upstream
  connections reused, a problem document when newsd is down. Test clients
  connect from 127.0.0.2 and up, so that they are not the trusted proxy.
- The Caddy example config/Caddyfile, when the caddy command is installed.
"""

import gzip
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    HTTP_TIMEOUT, START_TIMEOUT, Re, Server, Tap, binary_from_argv, expect, free_port,
    http_request, raw_exchange, run_cli, source_root, target_path, wait_until,
)

BIN = binary_from_argv(
    single="one process's log format and the nginx and Caddy examples in front of it")
ROOT = source_root()
tap = Tap()

NGINX = "/usr/sbin/nginx"
UNIT = os.path.join(ROOT, "config", "newsd.service")
NGINX_SITE = os.path.join(ROOT, "config", "nginx", "newsd.conf")
CADDYFILE = os.path.join(ROOT, "config", "Caddyfile")

# systemd-analyze security rated config/newsd.service 1.1 ("OK") when this was
# written (systemd 252); what it still counts is network access, the rtc
# device ProtectClock= leaves readable and the host's root directory. A unit
# that loses a hardening directive rises above this.
EXPOSURE_MAX = 1.5

TIME_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (error|warn|info|debug) ")
NGINX_ID = Re(r"^[0-9a-f]{32}$")
LEVELS = {"error", "warn", "info", "debug"}
ACCESS_FIELDS = {"time": str, "level": str, "msg": str, "type": str, "method": str, "path": str,
                 "status": int, "bytes": int, "duration_us": int, "client": str,
                 "request_id": str}


# ---- the json log ---------------------------------------------------------


def parsed_lines(lines):
    """(line, object or None) for each line."""
    out = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        out.append((line, obj if isinstance(obj, dict) else None))
    return out


def check_json_lines(lines, what):
    """Every line is one JSON object with time (ms, UTC), level and msg."""
    tap.check(lines, f"{what}: no log lines at all")
    for line, obj in parsed_lines(lines):
        if not tap.check(obj is not None, f"{what}: not a JSON object: {line!r}"):
            continue
        tap.check(isinstance(obj.get("time"), str) and TIME_MS.match(obj["time"]),
                  f"{what}: time is not RFC 3339 UTC with ms: {line}")
        tap.check(obj.get("level") in LEVELS, f"{what}: bad level: {line}")
        tap.check(isinstance(obj.get("msg"), str), f"{what}: msg is not a string: {line}")


def access_entry(srv, request_id, timeout=START_TIMEOUT):
    """newsd's json access entry for request_id (it is written once the answer is sent)."""
    pattern = re.compile('"request_id":' + re.escape(json.dumps(request_id)) + "[,}]")
    if srv.err.wait_for(pattern, timeout) is None:
        return None
    for line, obj in parsed_lines(srv.stderr_lines()):
        if obj and obj.get("type") == "access" and obj.get("request_id") == request_id:
            return obj
    return None


def check_access(entry, what, **want):
    if not tap.check(entry is not None, f"{what}: no access-log entry"):
        return
    for field, kind in ACCESS_FIELDS.items():
        tap.check(isinstance(entry.get(field), kind) and not isinstance(entry.get(field), bool),
                  f"{what}: field {field} missing or not {kind.__name__}: {entry}")
    tap.eq(entry.get("msg"), "access", f"{what}: msg")
    tap.eq(entry.get("type"), "access", f"{what}: type")
    tap.eq(entry.get("level"), "info", f"{what}: level")
    tap.check(isinstance(entry.get("duration_us"), int) and entry["duration_us"] >= 0,
              f"{what}: duration_us {entry.get('duration_us')!r}")
    for field, value in want.items():
        tap.eq(entry.get(field), value, f"{what}: {field}")


# Requests whose access entries are checked: method, target, expected logged path.
HOSTILE = [
    ("GET", "/health", "/health", "ops-health"),
    ("GET", "/v1/a%22b%5Cc%0Ad%09e%0D", '/v1/a"b\\c\nd\te\r', "ops-hostile"),
    ("GET", "/v1/x%FFy%C3", "/v1/x\ufffdy\ufffd", "ops-bad-utf8"),
    ("GET", "/v1/%7B%22level%22:%22error%22%7D", '/v1/{"level":"error"}', "ops-forged"),
    ("GET", "/v1/articles?limit=1&q=secret-query", "/v1/articles", "ops-query"),
    ("HEAD", "/v1/articles", "/v1/articles", "ops-head"),
    ("DELETE", "/v1/articles/999999", "/v1/articles/999999", "ops-delete"),
]


def test_json_log(srv):
    for method, target, logged, rid in HOSTILE:
        resp = srv.request(method, target, headers={"X-Request-Id": rid},
                           auth=method == "DELETE")
        check_access(access_entry(srv, rid), f"{method} {target}", method=method, path=logged,
                     status=resp.status, client="127.0.0.1", request_id=rid)
        if method == "GET" and resp.status == 200:
            tap.eq(access_entry(srv, rid)["bytes"], len(resp.body), f"{target}: bytes")
    resp = srv.request("POST", "/v1/articles", {"title": "Logged", "body": "text"}, auth=True,
                       headers={"X-Request-Id": "ops-post"})
    tap.eq(resp.status, 201, "POST")
    check_access(access_entry(srv, "ops-post"), "POST", method="POST", path="/v1/articles",
                 status=201, bytes=len(resp.body))
    # An X-Request-Id newsd does not accept is replaced; the log has the replacement.
    resp = srv.request("GET", "/health", headers={"X-Request-Id": 'bad "id"'})
    rid = resp.headers.get("X-Request-Id", "")
    tap.check(re.fullmatch(r"[0-9a-f]{16}", rid), f"generated request id {rid!r}")
    check_access(access_entry(srv, rid), "replaced request id", request_id=rid)
    # generated ids never repeat (they are drawn in blocks: cross a few)
    ids = [srv.request("GET", "/health").headers.get("X-Request-Id", "") for _ in range(200)]
    tap.check(all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids), "200 generated ids")
    tap.eq(len(set(ids + [rid])), 201, "no generated id repeats")
    lines = srv.stderr_lines()
    check_json_lines(lines, "json log")
    objs = [obj for _, obj in parsed_lines(lines) if obj]
    tap.check(any(o.get("level") == "warn" and "cors-credentials" in o.get("msg", "")
                  for o in objs), "the cors-credentials warning is a json line too")
    tap.check(any(o.get("msg", "").startswith("listening on http://127.0.0.1:") for o in objs),
              "the listening line is a json line")
    tap.check(not any("secret-query" in line for line in lines), "a query string was logged")


def test_json_log_shutdown(srv):
    rc = srv.stop(signal.SIGTERM)
    tap.eq(rc, 0, "exit status")
    check_json_lines(srv.stderr_lines(), "json log through shutdown")


def test_text_log(srv):
    srv.request("GET", "/v1/a%0Ab", headers={"X-Request-Id": "ops-text"})
    m = srv.err.wait_for(r"id=ops-text$", START_TIMEOUT)
    tap.require(m is not None, "no text access line:\n" + srv.stderr_tail())
    line = m.string
    tap.check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ info access GET /v1/a\?b 404 \d+ "
                           r"\d+ client=127\.0\.0\.1 id=ops-text", line),
              f"text access line changed: {line!r}")
    for line in srv.stderr_lines():
        tap.check(TEXT_LINE.match(line), f"not a text log line: {line!r}")


def test_log_format_setting():
    with tempfile.TemporaryDirectory(prefix="newsd-ops-") as tmp:
        db = os.path.join(tmp, "newsd.db")
        proc = run_cli(BIN, ["--db", db, "migrate"], env={"NEWSD_LOG_FORMAT": "json"})
        tap.eq(proc.returncode, 0, "migrate with NEWSD_LOG_FORMAT=json")
        check_json_lines(proc.stderr.splitlines(), "migrate's log")
        proc = run_cli(BIN, ["--db", db, "--log-format", "xml", "migrate"])
        tap.eq(proc.returncode, 2, "--log-format xml exit status")
        tap.check("log-format" in proc.stderr, f"the error names the setting: {proc.stderr!r}")


# ---- systemd --------------------------------------------------------------


def unit_directives(text):
    """(section, key) -> list of values, in order."""
    out = {}
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault((section, key.strip()), []).append(value.strip())
    return out


HARDENING = [
    ("DynamicUser", "yes"), ("StateDirectory", "newsd"), ("ProtectSystem", "strict"),
    ("NoNewPrivileges", "yes"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"), ("PrivateUsers", "yes"), ("CapabilityBoundingSet", ""),
    ("RestrictSUIDSGID", "yes"), ("MemoryDenyWriteExecute", "yes"), ("LockPersonality", "yes"),
    ("RestrictNamespaces", "yes"), ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"), ("ProtectControlGroups", "yes"),
    ("SystemCallArchitectures", "native"), ("SystemCallFilter", "@system-service"),
    ("RestrictAddressFamilies", "AF_INET AF_INET6"), ("UMask", "0077"),
]


def installed_path():
    """Where `meson install` puts newsd in this build, or None when unknown."""
    build = os.environ.get("ND_BUILD_ROOT")
    if not build or not shutil.which("meson"):
        return None
    proc = subprocess.run(["meson", "introspect", build, "--installed"], capture_output=True,
                          text=True, timeout=60)
    if proc.returncode != 0:
        return None
    for built, dest in json.loads(proc.stdout).items():
        if os.path.basename(built) == "newsd":
            return dest
    return None


def unit_copy(tmp, text, name="newsd.service"):
    """text with ExecStart's binary replaced by the built one, written into tmp."""
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace("/usr/local/bin/newsd", BIN))
    return path


def verify(path):
    return subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True,
                          timeout=60)


def test_unit_directives(text):
    d = unit_directives(text)
    for key, value in HARDENING:
        tap.check(value in d.get(("Service", key), []),
                  f"[Service] {key}={value} missing (have {d.get(('Service', key))})")
    exec_start = d.get(("Service", "ExecStart"), [""])[-1].split()
    tap.eq(exec_start[:4], ["/usr/local/bin/newsd", "serve", "--config", "/etc/newsd/newsd.conf"],
           "ExecStart")


def unit_install_suite(text):
    """ExecStart names where `meson install` puts newsd, when the build says where."""
    name = "newsd.service: ExecStart is where meson install puts newsd"
    dest = installed_path()
    if dest is None:
        tap.skip(name, "no build directory (ND_BUILD_ROOT) or no meson to ask")
    elif not dest.startswith("/usr/local/"):
        tap.skip(name, f"this build installs newsd to {dest}, not under the default /usr/local")
    else:
        exec_start = unit_directives(text).get(("Service", "ExecStart"), [""])[-1].split()
        tap.run(name, lambda: tap.eq(exec_start[:1], [dest], "ExecStart"))


def test_unit_verify(text):
    with tempfile.TemporaryDirectory(prefix="newsd-unit-") as tmp:
        proc = verify(unit_copy(tmp, text))
        tap.eq(proc.returncode, 0, "systemd-analyze verify exit status")
        tap.check(not proc.stderr.strip() and not proc.stdout.strip(),
                  f"systemd-analyze verify said:\n{proc.stdout}{proc.stderr}")
        # verify does catch a mistake (so the check above means something).
        broken = unit_copy(tmp, text.replace("ProtectSystem=strict", "ProtectSystem=strikt"),
                           "broken.service")
        proc = verify(broken)
        tap.check("strikt" in proc.stderr,
                  f"verify did not notice ProtectSystem=strikt: {proc.stderr!r}")


def exposure(path):
    proc = subprocess.run(["systemd-analyze", "security", "--offline=yes", path],
                          capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", proc.stdout)
    return (float(m.group(1)) if m else None), proc


def test_unit_security(text):
    with tempfile.TemporaryDirectory(prefix="newsd-unit-") as tmp:
        level, proc = exposure(unit_copy(tmp, text))
        tap.require(level is not None, f"no exposure level in:\n{proc.stdout}\n{proc.stderr}")
        tap.diag(f"systemd-analyze security: exposure {level}")
        tap.check(level <= EXPOSURE_MAX, f"exposure {level} above {EXPOSURE_MAX}")
        # Without its hardening the same unit rates far worse.
        bare = "\n".join(l for l in text.splitlines()
                         if l.split("=")[0] not in {k for k, _ in HARDENING} | {
                             "PrivateMounts", "ProtectProc", "ProcSubset", "ProtectClock",
                             "ProtectHostname", "ProtectKernelLogs", "RestrictRealtime",
                             "SystemCallErrorNumber", "AmbientCapabilities", "RemoveIPC"})
        worse, _ = exposure(unit_copy(tmp, bare, "bare.service"))
        tap.check(worse is not None and worse > EXPOSURE_MAX + 3,
                  f"the unit without hardening rates {worse}: the measure does not bite")


# ---- nginx ----------------------------------------------------------------


def render_site(text, listen_port, upstream_port):
    """The example with its listen and upstream ports changed; each must be there once.
    The small send buffer stands in for a slow client far away: on the loopback
    interface the kernel would otherwise take a whole answer off nginx's hands."""
    for old, new in (("listen 80;", f"listen 127.0.0.1:{listen_port} sndbuf=8k;"),
                     ("listen [::]:80;", ""),
                     ("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream_port};")):
        tap.require(text.count(old) == 1, f"{old!r} appears {text.count(old)} times in the example")
        text = text.replace(old, new)
    return text


MAIN_CONF = """\
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    # Debian's nginx.conf turns gzip on for every server; the example must undo it.
    gzip on;
    gzip_min_length 1;
    gzip_proxied any;
    gzip_types application/json application/problem+json;
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/newsd.conf;
}}
"""


class Nginx:
    """Debian's nginx with the example site in a temporary directory."""

    def __init__(self, upstream_port):
        self.tmp = tempfile.TemporaryDirectory(prefix="newsd-nginx-")
        self.port = free_port()
        with open(NGINX_SITE, encoding="utf-8") as f:
            site = render_site(f.read(), self.port, upstream_port)
        with open(os.path.join(self.tmp.name, "newsd.conf"), "w", encoding="utf-8") as f:
            f.write(site)
        self.conf = os.path.join(self.tmp.name, "nginx.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            # As root nginx would run its workers as nobody, who cannot enter this directory.
            f.write(MAIN_CONF.format(tmp=self.tmp.name,
                                     user="user root;" if os.geteuid() == 0 else ""))
        self.proc = None

    def argv(self, *extra):
        return [NGINX, "-c", self.conf, "-e", self.error_log(), *extra]

    def error_log(self):
        return os.path.join(self.tmp.name, "error.log")

    def errors(self):
        try:
            with open(self.error_log(), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def start(self):
        check = subprocess.run(self.argv("-t"), capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t refused the example:\n{check.stderr}")
        self.proc = subprocess.Popen(self.argv("-g", "daemon off;"), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def accepting():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return self.proc.poll() is not None  # stop waiting for a dead nginx

        wait_until(accepting, START_TIMEOUT)
        if self.proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {self.proc.returncode}:\n{self.errors()}")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.tmp.cleanup()


def via(port, source, method, path, body=None, headers=None):
    """One request to port from the loopback address source, on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT,
                                      source_address=(source, 0))
    try:
        return http_request(port, method, path, body, headers, conn=conn)
    finally:
        conn.close()


def upstream_connections(newsd_port):
    """The client-side ports of the TCP connections to newsd (any state but LISTEN)."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as f:
                rows = f.readlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local = int(fields[1].rsplit(":", 1)[1], 16)
            remote = int(fields[2].rsplit(":", 1)[1], 16)
            if fields[3] == "0A":
                continue
            if local == newsd_port:
                ports.add(remote)
            elif remote == newsd_port:
                ports.add(local)
    return ports


def test_proxy_crud(srv, ngx, auth):
    port = ngx.port
    created = via(port, "127.0.0.2", "POST", "/v1/articles",
                  {"title": "Through the proxy", "body": "Proxied body."}, auth)
    expect(tap, created, 201, {"title": "Through the proxy"}, what="POST via nginx")
    aid = created.json["id"]
    tap.eq(created.headers.get("Location"), f"/v1/articles/{aid}", "Location")
    tap.eq(created.headers.get("Server"), "nginx", "Server header without a version")
    got = via(port, "127.0.0.2", "GET", created.headers.get("Location", "/"))
    expect(tap, got, 200, {"id": aid, "body": "Proxied body."}, what="GET Location")
    patched = via(port, "127.0.0.2", "PATCH", f"/v1/articles/{aid}", {"title": "Patched"}, auth)
    expect(tap, patched, 200, {"id": aid, "title": "Patched"}, what="PATCH via nginx")
    gone = srv.create_article(title="To be deleted")
    deleted = via(port, "127.0.0.2", "DELETE", f"/v1/articles/{gone['id']}", headers=auth)
    expect(tap, deleted, 204, empty_body=True, what="DELETE via nginx")
    # newsd's own problem documents pass through untouched.
    missing = via(port, "127.0.0.2", "GET", f"/v1/articles/{gone['id']}")
    expect(tap, missing, 404, {"detail": f"no article with id {gone['id']}"},
           what="GET deleted via nginx")
    hidden = via(port, "127.0.0.2", "GET", "/metrics")
    expect(tap, hidden, 404, {"status": 404}, what="GET /metrics via nginx")
    unauthorized = via(port, "127.0.0.2", "POST", "/v1/articles", {"title": "x", "body": "y"})
    expect(tap, unauthorized, 401, headers={"WWW-Authenticate": Re("^Bearer")},
           what="POST without key via nginx")


def test_proxy_links(srv, ngx):
    ids = {srv.create_article(title=f"Paged {i}")["id"] for i in range(3)}
    seen, target, pages = [], "/v1/articles?limit=1", 0
    while target and pages < 50:
        resp = via(ngx.port, "127.0.0.2", "GET", target)
        tap.require(resp.status == 200, f"GET {target}: {resp}")
        seen += [a["id"] for a in resp.json["data"]]
        nxt = resp.links().get("next")
        if nxt is not None:
            tap.check(nxt.startswith("/v1/articles?") and "limit=1" in nxt,
                      f"Link target {nxt!r} is not newsd's own path")
        target = target_path(nxt) if nxt else None
        pages += 1
    tap.check(ids <= set(seen), f"following Link missed {ids - set(seen)}")
    tap.eq(len(seen), len(set(seen)), "each article once")


def test_proxy_etags(srv, ngx):
    art = srv.create_article(title="Tagged", body="A paragraph long enough to compress. " * 80)
    path = f"/v1/articles/{art['id']}"
    plain = via(ngx.port, "127.0.0.2", "GET", path)
    direct = srv.request("GET", path)
    etag = plain.headers.get("ETag", "")
    tap.check(re.fullmatch(r'"[^"]+"', etag), f"identity ETag {etag!r} is not strong")
    tap.eq(etag, direct.headers.get("ETag"), "ETag via nginx = ETag from newsd")
    tap.eq(plain.body, direct.body, "body via nginx")
    same = via(ngx.port, "127.0.0.2", "GET", path, headers={"If-None-Match": etag})
    expect(tap, same, 304, headers={"ETag": etag}, empty_body=True, what="304 identity")

    gz = {"Accept-Encoding": "gzip"}
    packed = via(ngx.port, "127.0.0.2", "GET", path, headers=gz)
    tap.eq(packed.headers.get("Content-Encoding"), "gzip", "Content-Encoding")
    tap.check("accept-encoding" in packed.headers.get("Vary", "").lower(),
              f"Vary {packed.headers.get('Vary')!r}")
    gz_etag = packed.headers.get("ETag", "")
    tap.eq(gz_etag, etag[:-1] + '-gz6"', "gzip ETag (strong, newsd's -gz6)")
    tap.eq(gzip.decompress(packed.body) if packed.body else b"", plain.body, "gunzipped body")
    same = via(ngx.port, "127.0.0.2", "GET", path,
               headers={"If-None-Match": gz_etag, "Accept-Encoding": "gzip"})
    expect(tap, same, 304, headers={"ETag": gz_etag}, empty_body=True, what="304 gzip")
    stale = via(ngx.port, "127.0.0.2", "GET", path, headers={"If-None-Match": '"other"'})
    tap.eq(stale.status, 200, "a different ETag is 200")

    # Answers newsd leaves unencoded (under 1 KiB) stay so: nginx's gzip is off here.
    small = via(ngx.port, "127.0.0.2", "GET", "/health", headers=gz)
    tap.eq(small.headers.get("Content-Encoding"), None, "nginx compressed a small answer")

    head = via(ngx.port, "127.0.0.2", "HEAD", path)
    expect(tap, head, 200, headers={"ETag": etag}, empty_body=True, what="HEAD via nginx")
    tap.eq(head.headers.get("Content-Length"), str(len(plain.body)), "HEAD Content-Length")


def slow_read(port, source, path):
    """GET path from source with a tiny receive buffer, reading only after a
    pause: nginx has to hold the answer meanwhile. Returns the raw answer."""
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.bind((source, 0))
        sock.settimeout(HTTP_TIMEOUT)
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: news.example.com\r\n"
                     "Connection: close\r\n\r\n".encode())
        time.sleep(1.0)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        sock.close()


def test_proxy_large_list(srv, ngx):
    for i in range(100):
        srv.create_article(title=f"Listed {i}", summary=("Long summary text. " * 53)[:1000])
    direct = srv.request("GET", "/v1/articles?limit=100")
    tap.check(len(direct.body) > 100 * 1024,
              f"the list is {len(direct.body)} bytes, want > 100 KiB")
    raw = slow_read(ngx.port, "127.0.0.2", "/v1/articles?limit=100")
    head, _, body = raw.partition(b"\r\n\r\n")
    tap.check(head.startswith(b"HTTP/1.1 200"), f"answer: {head[:200]!r}")
    tap.check(direct.body in body, "the list via nginx (to a slow reader) differs from newsd's")
    tap.check("buffered to a temporary file" not in ngx.errors(),
              "nginx buffered a list to a temporary file:\n" + ngx.errors())


def test_proxy_body_limits(srv, ngx, auth):
    # Up to max-body (1 MiB here and in newsd) reaches newsd.
    big = via(ngx.port, "127.0.0.2", "POST", "/v1/articles",
              {"title": "Nearly a megabyte", "body": "x" * 1000000}, auth)
    tap.eq(big.status, 201, f"a 1,000,000-byte body via nginx: {big}")
    # Past it nginx answers itself, before reading the body, with a problem document.
    body = b'{"title":"too large","body":"' + b"x" * (2 * 1024 * 1024) + b'"}'
    head = (f"POST /v1/articles HTTP/1.1\r\nHost: news.example.com\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Request-Id: ops-too-large\r\n{auth_line(auth)}\r\n").encode()
    resp = raw_exchange(ngx.port, head, [body[i:i + 65536] for i in range(0, len(body), 65536)])
    tap.require(resp is not None, "no answer to a 2 MiB body")
    expect(tap, resp, 413, {"status": 413, "request_id": "ops-too-large"},
           headers={"X-Request-Id": "ops-too-large"}, what="2 MiB body via nginx")
    # newsd never saw it: its log has the next request but not this one.
    via(ngx.port, "127.0.0.2", "GET", "/health", headers={"X-Request-Id": "ops-after-413"})
    tap.check(access_entry(srv, "ops-after-413") is not None, "no log entry after the 413")
    tap.check(not any("ops-too-large" in l for l in srv.stderr_lines()),
              "the refused body reached newsd")


def auth_line(auth):
    return "".join(f"{k}: {v}\r\n" for k, v in auth.items())


def test_proxy_client_and_ids(srv, ngx):
    resp = via(ngx.port, "127.0.0.2", "GET", "/health", headers={"X-Request-Id": "ops-ngx-1"})
    tap.eq(resp.headers.get("X-Request-Id"), "ops-ngx-1", "the client's request id is echoed")
    check_access(access_entry(srv, "ops-ngx-1"), "client id", client="127.0.0.2",
                 request_id="ops-ngx-1", method="GET", path="/health", status=200)
    # A forged X-Forwarded-For is left of nginx's entry and never believed.
    resp = via(ngx.port, "127.0.0.3", "GET", "/health",
               headers={"X-Forwarded-For": "203.0.113.9", "X-Request-Id": "ops-ngx-2"})
    check_access(access_entry(srv, "ops-ngx-2"), "forged XFF", client="127.0.0.3")
    # No id, or one newsd would refuse: nginx's $request_id, the same in both places.
    for sent in (None, "not a valid id!"):
        resp = via(ngx.port, "127.0.0.2", "GET", "/health", headers={"X-Request-Id": sent})
        rid = resp.headers.get("X-Request-Id", "")
        tap.check(NGINX_ID(rid), f"request id {rid!r} for {sent!r} is not nginx's")
        check_access(access_entry(srv, rid), f"nginx id for {sent!r}", client="127.0.0.2",
                     request_id=rid)


def test_proxy_rate_limit(srv, ngx):
    aid = srv.create_article(title="Commented")["id"]
    path = f"/v1/articles/{aid}/comments"
    comment = {"author": "reader", "body": "Through the proxy."}
    codes = [via(ngx.port, "127.0.0.4", "POST", path, comment).status for _ in range(3)]
    tap.eq(codes, [201, 201, 201], "the burst of 127.0.0.4")
    refused = via(ngx.port, "127.0.0.4", "POST", path, comment)
    expect(tap, refused, 429, headers={"Retry-After": Re(r"^\d+$")}, what="over the burst")
    forged = via(ngx.port, "127.0.0.4", "POST", path, comment,
                 headers={"X-Forwarded-For": "198.51.100.1"})
    tap.eq(forged.status, 429, "a forged X-Forwarded-For does not escape the limit")
    other = via(ngx.port, "127.0.0.5", "POST", path, comment)
    tap.eq(other.status, 201, "another client is not limited")


def test_proxy_keepalive(srv, ngx):
    via(ngx.port, "127.0.0.2", "GET", "/health")
    before = upstream_connections(srv.port)
    for i in range(30):
        resp = via(ngx.port, "127.0.0.2", "GET", "/health")  # a new client connection each
        tap.require(resp.status == 200, f"request {i}: {resp}")
    new = upstream_connections(srv.port) - before
    tap.check(len(new) <= 2,
              f"30 requests opened {len(new)} connections to newsd: keepalive is not reused")


def test_proxy_newsd_down(srv, ngx):
    tap.eq(srv.stop(signal.SIGTERM), 0, "newsd exit status")
    check_json_lines(srv.stderr_lines(), "newsd's log behind nginx")
    resp = via(ngx.port, "127.0.0.2", "GET", "/health", headers={"X-Request-Id": "ops-down"})
    expect(tap, resp, 503, {"status": 503, "request_id": "ops-down"},
           headers={"Retry-After": "5", "X-Request-Id": "ops-down"}, what="newsd down")
    bad = [l for l in ngx.errors().splitlines() if re.search(r"\[(emerg|alert|crit)\]", l)]
    tap.check(not bad, "nginx errors:\n" + "\n".join(bad))


def nginx_suite():
    if not os.access(NGINX, os.X_OK):
        tap.run("nginx is installed (scripts/test installs it)",
                lambda: tap.require(False, f"{NGINX} is missing: apt-get install nginx"))
        return
    args = ["--trusted-proxies", "127.0.0.1", "--log-format", "json",
            "--comment-rate", "1", "--comment-burst", "3"]
    with Server(BIN, args=args) as srv:
        ngx = Nginx(srv.port)
        try:
            tap.run("nginx starts with the example config", ngx.start)
            if ngx.proc is None or ngx.proc.poll() is not None:
                return
            auth = {"Authorization": "Bearer " + srv.key}
            tap.run("via nginx: POST, GET Location, PATCH, DELETE, problems",
                    test_proxy_crud, srv, ngx, auth)
            tap.run("via nginx: Link pagination", test_proxy_links, srv, ngx)
            tap.run("via nginx: ETag and 304, identity and gzip; HEAD", test_proxy_etags, srv,
                    ngx)
            tap.run("via nginx: a 100-article list, not spilled to disk", test_proxy_large_list,
                    srv, ngx)
            tap.run("via nginx: max-body passes, 2 MiB is 413 from nginx",
                    test_proxy_body_limits, srv, ngx, auth)
            tap.run("via nginx: real client address and request id in newsd's log",
                    test_proxy_client_and_ids, srv, ngx)
            tap.run("via nginx: comment rate limit per real client", test_proxy_rate_limit, srv,
                    ngx)
            tap.run("via nginx: upstream connections are reused", test_proxy_keepalive, srv, ngx)
            if caddy_command():
                tap.run("via Caddy: the example Caddyfile proxies", test_caddy, srv)
            else:
                tap.skip("via Caddy: the example Caddyfile proxies",
                         "the caddy command is not installed")
            tap.run("via nginx: newsd down is a 503 problem document", test_proxy_newsd_down,
                    srv, ngx)
        finally:
            ngx.stop()


# ---- Caddy ----------------------------------------------------------------


def caddy_command():
    return shutil.which("caddy")


def test_caddy(srv):
    with tempfile.TemporaryDirectory(prefix="newsd-caddy-") as tmp:
        env = dict(os.environ, HOME=tmp, XDG_DATA_HOME=tmp, XDG_CONFIG_HOME=tmp)
        check = subprocess.run([caddy_command(), "validate", "--config", CADDYFILE,
                                "--adapter", "caddyfile"], capture_output=True, text=True,
                               env=env, timeout=60)
        tap.eq(check.returncode, 0, f"caddy validate: {check.stderr[-2000:]}")
        with open(CADDYFILE, encoding="utf-8") as f:
            text = f.read()
        port = free_port()
        for old, new in (("news.example.com {", f"http://127.0.0.1:{port} {{"),
                         ("reverse_proxy 127.0.0.1:8080", f"reverse_proxy 127.0.0.1:{srv.port}")):
            tap.require(text.count(old) == 1, f"{old!r} not once in the Caddyfile")
            text = text.replace(old, new)
        text = "{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}\n\n" + text
        conf = os.path.join(tmp, "Caddyfile")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(text)
        log = open(os.path.join(tmp, "caddy.log"), "wb")
        proc = subprocess.Popen([caddy_command(), "run", "--config", conf, "--adapter",
                                 "caddyfile"], env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log)
        try:
            def up():
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return True
                except OSError:
                    return proc.poll() is not None
            wait_until(up, START_TIMEOUT)
            if proc.poll() is not None:
                with open(log.name, encoding="utf-8", errors="replace") as f:
                    tap.require(False, "caddy exited:\n" + f.read()[-3000:])
            resp = via(port, "127.0.0.6", "GET", "/health",
                       headers={"X-Request-Id": "ops-caddy", "X-Forwarded-For": "192.0.2.1"})
            expect(tap, resp, 200, {"status": "ok"}, what="GET via Caddy")
            check_access(access_entry(srv, "ops-caddy"), "via Caddy", client="127.0.0.6")
            page = via(port, "127.0.0.6", "GET", "/v1/articles?limit=50",
                       headers={"Accept-Encoding": "gzip"})
            tap.check(page.headers.get("ETag", "").endswith('-gz6"'),
                      f"Caddy changed the gzip ETag: {page.headers.get('ETag')!r}")
            large = via(port, "127.0.0.6", "POST", "/v1/articles", b"x" * (2 * 1024 * 1024),
                        {"Authorization": "Bearer " + srv.key})
            expect(tap, large, 413, {"status": 413}, what="2 MiB via Caddy")
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


# ---- the run ----------------------------------------------------------------


def json_log_suite():
    with Server(BIN, args=["--log-format", "json", "--cors-credentials", "true"]) as srv:
        tap.run("json log: every line one object; access fields; hostile paths escaped",
                test_json_log, srv)
        tap.run("json log: still json through shutdown", test_json_log_shutdown, srv)
    with Server(BIN) as srv:
        tap.run("text log: the access line is unchanged", test_text_log, srv)
        tap.stop_server(srv)
    tap.run("log-format from the environment; a bad value is exit 2", test_log_format_setting)


def systemd_suite():
    with open(UNIT, encoding="utf-8") as f:
        text = f.read()
    tap.run("newsd.service: hardening directives and ExecStart", test_unit_directives, text)
    unit_install_suite(text)
    if not shutil.which("systemd-analyze"):
        tap.run("systemd-analyze is installed (scripts/test installs systemd)",
                lambda: tap.require(False, "systemd-analyze is missing"))
        return
    tap.run("newsd.service: systemd-analyze verify", test_unit_verify, text)
    tap.run(f"newsd.service: systemd-analyze security exposure <= {EXPOSURE_MAX}",
            test_unit_security, text)


json_log_suite()
systemd_suite()
nginx_suite()
tap.done()
