"""http_client.py: HTTP/1.1 to newsd with the standard library.

Answers as Response objects (headers looked up case-insensitively, the body
parsed as JSON when it is JSON, and every way a 4xx/5xx fails to be an RFC
9457 problem document); one request on its own connection (http_request),
raw bytes on a socket (raw_exchange), and Client, a series of requests to one
server on one kept-alive connection whose answers it checks.
"""

import http.client
import json
import re
import select
import socket
import urllib.parse

from environment import HTTP_TIMEOUT
from match import short

# The reason phrases a problem's title may use (RFC 9110, and older names).
REASONS = {
    400: {"Bad Request"}, 401: {"Unauthorized"}, 403: {"Forbidden"}, 404: {"Not Found"},
    405: {"Method Not Allowed"}, 409: {"Conflict"}, 410: {"Gone"},
    413: {"Content Too Large", "Payload Too Large", "Request Entity Too Large"},
    414: {"URI Too Long", "Request-URI Too Long"}, 415: {"Unsupported Media Type"},
    422: {"Unprocessable Content", "Unprocessable Entity"}, 429: {"Too Many Requests"},
    500: {"Internal Server Error"}, 503: {"Service Unavailable"},
}


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


class Client:
    """Requests to one server on one kept-alive connection, reopened when the
    server closed it (a POST is not sent twice).

    call() also checks each answer: its status, and whatever judge finds
    wrong with the exchange (judge.issues(method, path, resp, body) returns
    a list of messages; the OpenAPI test's judge is the document). Pass
    keep_alive=False for a new connection per request.

    Like a browser with its newsd_pos cookie, the client sends back the
    last Newsd-Position a write answered (PostgreSQL only): behind haproxy
    its next read may reach another instance, which must then not answer
    from a cache that has not yet heard of the write.
    """

    def __init__(self, srv, tap=None, judge=None, keep_alive=True):
        self.srv = srv
        self.tap = tap
        self.judge = judge
        self.conn = srv.connection() if keep_alive else None
        self.position = None

    def request(self, method, path, body=None, headers=None, raw=None, auth=False):
        hdrs = dict(headers or {})
        if self.position:
            hdrs.setdefault("Newsd-Position", self.position)
        resp = self._send(method, path, body, hdrs, raw, auth)
        if resp is not None and resp.headers.get("Newsd-Position"):
            self.position = resp.headers["Newsd-Position"]
        return resp

    def _send(self, method, path, body, headers, raw, auth):
        if self.conn is None:
            return self.srv.request(method, path, body, headers, raw, auth)
        for attempt in (1, 2):
            try:
                return self.srv.request(method, path, body, headers, raw, auth, conn=self.conn)
            except (http.client.RemoteDisconnected, http.client.CannotSendRequest,
                    ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = self.srv.connection()
                if attempt == 2 or method == "POST":
                    raise
        return None

    def call(self, method, path, status, body=None, headers=None, auth=False, raw=None):
        """One request whose answer must have status and satisfy the judge."""
        resp = self.request(method, path, body, headers, raw, auth)
        self.check(method, path, resp, status, body if raw is None else None)
        return resp

    def check(self, method, path, resp, status, body=None):
        """Checks an answer got some other way (raw bytes) like call() does."""
        self.tap.check(resp.status == status,
                       f"{method} {path}: status {resp.status}, want {status}: "
                       f"{short(resp.body)}")
        for issue in self.judge.issues(method, path, resp, body) if self.judge else ():
            self.tap.check(False, issue)

    def revalidate(self, path, auth=False):
        """GET path, then the same with its ETag: 304, then HEAD: 200."""
        resp = self.call("GET", path, 200, auth=auth)
        etag = resp.headers.get("ETag")
        self.tap.require(etag is not None, f"GET {path}: no ETag")
        self.call("GET", path, 304, headers={"If-None-Match": etag}, auth=auth)
        self.call("HEAD", path, 200, auth=auth)
        return resp

    def close(self):
        if self.conn is not None:
            self.conn.close()
