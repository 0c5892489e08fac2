#!/usr/bin/env python3
"""test_malformed.py: a table of malformed requests, each answered cleanly.

Every row is one request that is wrong in one way: broken JSON, deep
nesting, duplicate keys, invalid UTF-8, NUL bytes, huge numbers, a wrong
type or an overlong value for each field, oversized and badly chunked
bodies, bad percent-encoding, path traversal, abused headers, invalid
methods and request lines, conflicting framing headers. Each row names the
one answer newsd gives (measured, and checked against the docs where it
speaks) and why; whatever the row, the answer is never a 500,
the server never dies, and after the table /health is 200 and the stored
articles and comments are exactly as before.

Most rows are answered by newsd with a problem document. Rows marked mhd
are answered by libmicrohttpd itself, before newsd sees the request, with
its own short HTML page (400, 413, 414, 431, 505) instead of a problem
document. "close" as a row's answer means the server closes the connection
without an answer, which HTTP allows for input that is not a request.
"""

import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    SLOWDOWN, Server, Tap, binary_from_argv, check_errors, expect, short,
)
from rawhttp import Closed, Reader, Timeout, connect, send_all, wait_closed  # noqa: E402

BIN = binary_from_argv(
    single="raw malformed requests, which haproxy answers or rejects before any instance")
tap = Tap()

ANSWER_TIMEOUT = 5.0 * SLOWDOWN
FIELDS = ["title", "body", "slug", "summary", "author", "category", "tags", "source_url",
          "status", "published_at"]


def row(name, answer, raw=None, method=None, path=None, body=None, headers=None, auth=False,
        errors=None, mhd=False, close=False, why=""):
    """One request and the one answer newsd gives it.

    raw: the request as bytes, sent on its own socket; otherwise method,
    path, body (bytes, str or a JSON value), headers and auth go through
    http.client. answer: the status newsd answers ("close": no answer, the
    connection closed). errors: the fields a 422 must name. mhd: the answer
    may be libmicrohttpd's own page. close: the connection must be closed
    after the answer. why: the reason for the expectation.
    """
    assert isinstance(answer, int) or answer == "close", f"{name}: one answer, not {answer!r}"
    return dict(name=name, answer=answer, raw=raw, method=method, path=path, body=body,
                headers=headers, auth=auth, errors=errors, mhd=mhd, close=close, why=why)


def jpost(path, body, **kw):
    """A JSON POST through http.client (body as given: bytes/str sent as is)."""
    return dict(method="POST", path=path, body=body, **kw)


def rq(method, path, headers=(), body=b"", version="HTTP/1.1", host=True):
    """Raw request bytes; headers are (name, value) pairs of str or bytes.
    host: True for the usual Host line, False for none, or the value to send."""
    def b(x):
        return x if isinstance(x, bytes) else x.encode("utf-8")
    lines = [b(method) + b" " + b(path) + b" " + b(version)]
    if host:
        lines.append(b"Host: " + b("127.0.0.1" if host is True else host))
    lines += [b(n) + b": " + b(v) for n, v in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + b(body)


def json_bytes(value):
    return json.dumps(value).encode("utf-8")


# ---- the table ---------------------------------------------------------------


def json_syntax_rows(art_path):
    broken = [
        "{", "}", '{"title":', '{"title":"x",}', "{'title':'x'}", '{"title":"x"}}',
        '{"title":"x","body":"y"} {"a":1}', "nul", "[1,2", '{"title":01}', '{"title":.5}',
        '{"title":1e}', '{"title":+1}', '{"title":NaN}', '{"title":Infinity}',
        '{"title":"\\x41"}', '{"title":"\\u12"}', '{"title":"\\ud800","body":"x"}',
        '{"title":"a\tb","body":"x"}', '{"title" "x"}', "{1:2}",
        '/* c */{"title":"x","body":"y"}', '{"title":"x","body":"y"' + " " * 1000, '"open',
        "   \n ",
    ]
    rows = [row(f"broken JSON {short(text, 40)}", 400, **jpost(art_path, text, auth=True),
                why="not JSON: 400") for text in broken]
    rows += [
        row("JSON then a NUL byte", 400,
            **jpost(art_path, b'{"title":"x","body":"y"}\x00', auth=True)),
        row("byte order mark before JSON", 400,
            **jpost(art_path, b'\xef\xbb\xbf{"title":"x","body":"y"}', auth=True),
            why="RFC 8259: a parser may refuse a BOM; newsd does"),
        row("empty body", 400, **jpost(art_path, b"", auth=True)),
    ]
    return rows


def nesting_rows(art_path, comments_path):
    deep = 100_000
    return [
        row("100,000 nested arrays", 400,
            **jpost(art_path, "[" * deep + "]" * deep, auth=True),
            why="Jansson stops at 2048 levels: malformed, and no stack overflow"),
        row("50,000 nested objects", 400,
            **jpost(art_path, '{"a":' * 50_000 + "1" + "}" * 50_000, auth=True)),
        row("100,000 unclosed arrays in a comment", 400,
            **jpost(comments_path, "[" * deep)),
        row("tags nested 100,000 deep, unclosed", 400,
            **jpost(art_path, '{"title":"x","body":"y","tags":' + "[" * deep, auth=True)),
        row("2,000 nested arrays (valid JSON, not an object)", 422,
            **jpost(art_path, "[" * 2000 + "]" * 2000, auth=True)),
        row("title nested 2,000 deep", 422,
            **jpost(art_path, '{"title":' + "[" * 2000 + "]" * 2000 + ',"body":"x"}',
                    auth=True), errors=["title"]),
    ]


def duplicate_rows(art_path, comments_path):
    return [
        row("duplicate title", 400,
            **jpost(art_path, '{"title":"a","title":"b","body":"x"}', auth=True)),
        row("duplicate body, same value", 400,
            **jpost(art_path, '{"title":"a","body":"x","body":"x"}', auth=True)),
        row("duplicate author in a comment", 400,
            **jpost(comments_path, '{"author":"a","author":"a","body":"b"}')),
        row("duplicate key in a nested object", 400,
            **jpost(art_path, '{"title":"a","body":"x","extra":{"k":1,"k":2}}', auth=True)),
    ]


def utf8_rows(art_path, comments_path):
    bad = [(b"\xff", "byte 0xff"), (b"\xc0\xaf", "overlong /"), (b"\xed\xa0\x80", "surrogate"),
           (b"\xe2\x82", "truncated sequence"), (b"\xf8\x88\x80\x80\x80", "5-byte sequence"),
           (b"\xf4\x90\x80\x80", "above U+10FFFF"), (b"caf\xe9", "Latin-1")]
    rows = [row(f"invalid UTF-8 in a title: {what}", 400,
                **jpost(art_path, b'{"title":"' + seq + b'","body":"x"}', auth=True))
            for seq, what in bad]
    rows += [
        row("invalid UTF-8 in a comment body", 400,
            **jpost(comments_path, b'{"author":"a","body":"\xff\xfe"}')),
        row("invalid UTF-8 in a key", 400,
            **jpost(art_path, b'{"\xff":"x","title":"t","body":"b"}', auth=True)),
    ]
    return rows


def nul_rows(ctx):
    a, art_path, comments_path = ctx["a"], ctx["art_path"], ctx["comments_path"]
    esc = "\\u0000"
    rows = [
        row("raw NUL inside a JSON string", 400,
            **jpost(art_path, b'{"title":"a\x00b","body":"x"}', auth=True)),
    ]
    # Jansson refuses an escaped NUL unless asked not to (newsd does not ask):
    # a string with a NUL could be cut short anywhere it goes later.
    for where, path, text in (
            ("a title", art_path, '{"title":"a%sb","body":"x"}'),
            ("a body", art_path, '{"title":"t","body":"a%sb"}'),
            ("a tag", art_path, '{"title":"t","body":"b","tags":["a%s"]}'),
            ("a slug", art_path, '{"title":"t","body":"b","slug":"a%s"}'),
            ("a key", art_path, '{"title":"t","body":"b","a%s":1}'),
            ("a comment author", comments_path, '{"author":"a%s","body":"b"}'),
            ("a comment body", comments_path, '{"author":"a","body":"b%s"}')):
        rows.append(row(f"\\u0000 in {where}", 400, **jpost(path, text % esc,
                                                             auth=path == art_path)))
    rows += [
        row("%00 in the path", 404, method="GET", path=f"/v1/articles/{a}%00",
            why="docs/api.md: a %00 stays encoded, so it names no article"),
        row("%00 in limit", 400, method="GET", path="/v1/articles?limit=1%00"),
        row("%00 in a filter", 200, method="GET", path="/v1/articles?category=%00"),
        row("NUL in a header name", 400, mhd=True,
            raw=rq("GET", "/health", [(b"X\x00A", b"b")])),
        # libmicrohttpd 0.9.75 ends a header value and a request target at a
        # NUL, and its API shows newsd only the part before it: newsd cannot
        # refuse these itself. What is accepted is what the part before the
        # NUL asks for, never more.
        row("NUL in a header value", 200, mhd=True,
            raw=rq("GET", "/health", [("X-Note", b"a\x00b")]),
            why="RFC 9110 5.5 asks to refuse or replace; libmicrohttpd cuts the value"),
        row("NUL in Content-Type", 201, mhd=True,
            raw=rq("POST", comments_path, [("Content-Type", b"application/json\x00text/html"),
                                           ("Content-Length", "25")],
                   b'{"author":"a","body":"b"}')),
        row("NUL in the request target", 404, mhd=True,
            raw=rq("GET", b"/nope\x00/health")),
    ]
    return rows


def number_rows(ctx):
    art_path, comments_path = ctx["art_path"], ctx["comments_path"]
    big = "99999999999999999999999"

    def comment_with_parent(parent):
        return '{"author":"a","body":"b","parent_id":%s}' % parent

    rows = [
        row("title 1e400", 400, **jpost(art_path, '{"title":1e400,"body":"x"}', auth=True),
            why="Jansson refuses a real that overflows"),
        row(f"title {big}", 400, **jpost(art_path, '{"title":%s,"body":"x"}' % big, auth=True),
            why="Jansson refuses an integer over 64 bits"),
        row("published_at 1e400", 400,
            **jpost(art_path, '{"title":"t","body":"x","published_at":1e400}', auth=True)),
        row(f"parent_id {big}", 400, **jpost(comments_path, comment_with_parent(big))),
    ]
    for parent in ("9223372036854775807", "-1", "0", "1.5", "1e2", "-9223372036854775808"):
        rows.append(row(f"parent_id {parent}", 422, **jpost(comments_path,
                                                            comment_with_parent(parent)),
                        errors=["parent_id"]))
    rows += [
        row(f"GET /v1/articles/{big}", 404, method="GET", path=f"/v1/articles/{big}",
            why="not an id, so a slug, and there is none"),
        row(f"PATCH /v1/articles/{big}", 400, method="PATCH", path=f"/v1/articles/{big}",
            body={"title": "x"}, auth=True, why="docs/api.md: a malformed id is 400"),
        row(f"DELETE /v1/comments/{big}", 400, method="DELETE", path=f"/v1/comments/{big}",
            auth=True),
        row(f"GET /v1/comments/{big}", 400, method="GET", path=f"/v1/comments/{big}"),
        row("limit=99999999999999999999", 400, method="GET",
            path="/v1/articles?limit=99999999999999999999"),
        row("limit=-1", 400, method="GET", path="/v1/articles?limit=-1"),
        row("limit=1e2", 400, method="GET", path="/v1/articles?limit=1e2"),
        row("since in the year 99999", 400, method="GET",
            path="/v1/articles?since=99999-01-01T00:00:00Z"),
    ]
    return rows


def type_rows(ctx):
    art_path, comments_path, a = ctx["art_path"], ctx["comments_path"], ctx["a"]
    bad_values = {"number": 42, "array": ["x"], "object": {"k": "v"}, "boolean": True}
    rows = []
    for field in FIELDS:
        for label in ("number", "object", "boolean") if field != "tags" else ("number", "object"):
            body = {"title": "Typed", "body": "x", field: bad_values[label]}
            rows.append(row(f"article {field} as a {label}", 422,
                            **jpost(art_path, json_bytes(body), auth=True), errors=[field]))
    for inner in (1, None, [], {"k": 1}, True):
        body = {"title": "Typed", "body": "x", "tags": ["ok", inner]}
        rows.append(row(f"a tag that is {json.dumps(inner)}", 422,
                        **jpost(art_path, json_bytes(body), auth=True), errors=["tags"]))
    for field, label, value in (("author", "number", 42), ("author", "array", ["a"]),
                                ("author", "null", None), ("body", "number", 1),
                                ("body", "object", {"k": 1}), ("body", "boolean", False),
                                ("parent_id", "string", "1"), ("parent_id", "array", [1]),
                                ("parent_id", "boolean", True)):
        body = {"author": "a", "body": "b", field: value}
        rows.append(row(f"comment {field} as {label}", 422,
                        **jpost(comments_path, json_bytes(body)), errors=[field]))
    everything = {f: bad_values["object"] for f in FIELDS}
    rows.append(row("every article field of the wrong type at once", 422,
                    **jpost(art_path, json_bytes(everything), auth=True), errors=FIELDS))
    for field, value in (("title", 42), ("status", "archived"), ("published_at", "yesterday"),
                         ("tags", "one"), ("id", 7)):
        rows.append(row(f"PATCH {field}={json.dumps(value)}", 422, method="PATCH",
                        path=f"/v1/articles/{a}", body={field: value}, auth=True,
                        errors=[field]))
    return rows


def length_rows(ctx):
    art_path, comments_path = ctx["art_path"], ctx["comments_path"]
    over = [("title", "t" * 301), ("author", "a" * 81), ("category", "c" * 101),
            ("summary", "s" * 1001), ("source_url", "https://example.com/" + "u" * 2040),
            ("slug", "s" * 121)]
    rows = [row(f"article {field} too long", 422,
                **jpost(art_path, json_bytes({"title": "t", "body": "b", field: value}),
                        auth=True), errors=[field]) for field, value in over]
    rows += [
        row("a tag of 51 characters", 422,
            **jpost(art_path, json_bytes({"title": "t", "body": "b", "tags": ["x" * 51]}),
                    auth=True), errors=["tags"]),
        row("21 tags", 422,
            **jpost(art_path, json_bytes({"title": "t", "body": "b",
                                          "tags": [f"t{i}" for i in range(21)]}), auth=True),
            errors=["tags"]),
        row("comment author of 81 characters", 422,
            **jpost(comments_path, json_bytes({"author": "a" * 81, "body": "b"})),
            errors=["author"]),
        row("comment body of 10,001 characters", 422,
            **jpost(comments_path, json_bytes({"author": "a", "body": "b" * 10001})),
            errors=["body"]),
        row("title of blanks only", 422,
            **jpost(art_path, json_bytes({"title": " \u00a0\u2003 ", "body": "b"}), auth=True),
            errors=["title"]),
    ]
    return rows


def chunked_head(path):
    return rq("POST", path, [("Content-Type", "application/json"),
                             ("Transfer-Encoding", "chunked")])


def body_rows(ctx, key):
    comments_path, art_path = ctx["comments_path"], ctx["art_path"]
    comment = b'{"author":"x","body":"chunked"}'
    size = b"%x" % len(comment)
    head = chunked_head(comments_path)
    mib = 1024 * 1024
    big_chunks = b"".join(b"%x\r\n" % 65536 + b" " * 65536 + b"\r\n" for _ in range(18))
    return [
        row("Content-Length of 2 MB with a short body", 413, close=True, raw=rq(
            "POST", art_path, [("Authorization", "Bearer " + key),
                               ("Content-Type", "application/json"),
                               ("Content-Length", str(2 * mib))], b'{"title":"x"}'),
            why="docs/api.md: refused at once, connection closed"),
        row("chunked body of 1.1 MiB", 413, raw=head + big_chunks + b"0\r\n\r\n",
            why="docs/api.md: refused once past max-body, the rest drained"),
        row("Content-Length 99999999999999999999", 413, mhd=True, close=True,
            raw=rq("POST", comments_path, [("Content-Type", "application/json"),
                                           ("Content-Length", "99999999999999999999")], b"{}")),
        row("Content-Length -1", 400, mhd=True, close=True,
            raw=rq("POST", comments_path, [("Content-Type", "application/json"),
                                           ("Content-Length", "-1")], b"{}")),
        row("Content-Length abc", 400, mhd=True, close=True,
            raw=rq("POST", comments_path, [("Content-Type", "application/json"),
                                           ("Content-Length", "abc")], b"{}")),
        row("Content-Length +25", 400, mhd=True, close=True,
            raw=rq("POST", comments_path, [("Content-Type", "application/json"),
                                           ("Content-Length", "+25")],
                   b'{"author":"a","body":"b"}')),
        row("chunk size zz", 400, mhd=True, close=True,
            raw=head + b"zz\r\n" + comment + b"\r\n0\r\n\r\n"),
        row("chunk size -1", 400, mhd=True, close=True, raw=head + b"-1\r\nabc\r\n0\r\n\r\n"),
        row("chunk size of 20 hex digits", 413, mhd=True, close=True,
            raw=head + b"ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
        row("chunk longer than its size", 400, mhd=True, close=True,
            raw=head + b"3\r\nabcdef\r\n0\r\n\r\n"),
        row("chunk size 0x1b", 400, mhd=True, close=True,
            raw=head + b"0x" + size + b"\r\n" + comment + b"\r\n0\r\n\r\n"),
        row("chunk without its CRLF", 400, mhd=True, close=True,
            raw=head + size + b"\r\n" + comment + b"XX0\r\n\r\n"),
        row("chunk extension (valid HTTP)", 201,
            raw=head + size + b";ext=1\r\n" + comment + b"\r\n0\r\n\r\n",
            why="RFC 9112 7.1.1: unknown extensions are ignored"),
        row("chunked trailer field (valid HTTP)", 201,
            raw=head + size + b"\r\n" + comment + b"\r\n0\r\nX-Trailer: y\r\n\r\n"),
    ]


def encoding_rows(ctx):
    a = ctx["a"]
    return [
        row("%zz in an id", 404, method="GET", path="/v1/articles/%zz"),
        row("lone % in an id", 404, method="GET", path="/v1/articles/%"),
        row("%0 in an id", 404, method="GET", path="/v1/articles/%0"),
        row("%ff in an id", 404, method="GET", path="/v1/articles/%ff"),
        row("%zz in limit", 400, method="GET", path="/v1/articles?limit=%zz"),
        row("%zz in a cursor", 400, method="GET", path="/v1/articles?cursor=%zz"),
        row("%ff in a search", 400, method="GET", path="/v1/search?q=%ff",
            why="docs/search.md: a query that is not UTF-8 is 400"),
        row("%zz in a search", 200, method="GET", path="/v1/search?q=%zz"),
        row("%ff in a category filter", 200, method="GET",
            path="/v1/articles?category=%ff"),
        row("%zz in a category filter", 200, method="GET",
            path="/v1/articles?category=%zz"),
        row("%ff%fe in a comment cursor", 400, method="GET",
            path=f"/v1/articles/{a}/comments?cursor=%ff%fe"),
    ]


def traversal_rows(ctx):
    a = ctx["a"]
    paths = ["/v1/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
             "/v1/articles/..%2f..%2fetc%2fpasswd", "/./health", "//health", "/health/",
             "/health;x", f"/v1/articles/{a}/../{a}", "/..\\..\\etc\\passwd",
             "/v1/articles/%2e%2e", "/v1/articles/%2e%2e/%2e%2e/health", "/%2fhealth"]
    return [row(f"path {p}", 404, raw=rq("GET", p)) for p in paths]


def header_rows(ctx, key):
    comments_path, art_path = ctx["comments_path"], ctx["art_path"]
    many = [(f"X-H{i}", "v") for i in range(1000)]
    comment = b'{"author":"a","body":"b"}'
    return [
        row("a header of 100 KB", 431, mhd=True, close=True,
            raw=rq("GET", "/health", [("X-Big", "a" * 100_000)])),
        row("1,000 headers", 431, mhd=True, raw=rq("GET", "/health", many),
            why="legal HTTP; refused only when over connection-memory-limit"),
        row("a request target of 100 KB", 414, mhd=True, close=True,
            raw=rq("GET", "/" + "a" * 100_000)),
        row("a header line without a colon", 400, mhd=True, close=True,
            raw=rq("GET", "/health", [], b"").replace(b"\r\n\r\n", b"\r\nNoColon\r\n\r\n")),
        row("obs-fold continuation line", 200, mhd=True,
            raw=rq("GET", "/health", [("X-A", "a\r\n b")]),
            why="RFC 9112 5.2: refuse, or replace the fold with a space"),
        row("white space before a colon", 400, mhd=True,
            raw=rq("GET", "/health", [("X-A ", "b")]),
            why="RFC 9112 5.1: MUST refuse with 400"),
        row("an empty header name", 200, mhd=True, raw=rq("GET", "/health", [("", "b")]),
            why="not a field line; libmicrohttpd drops it before newsd can see it"),
        row("a bare CR in a header value", 200, mhd=True,
            raw=rq("GET", "/health", [("X-A", "a\rb")]),
            why="RFC 9112 2.2: refuse, or replace it with a space"),
        row("HTTP/1.1 without Host", 400, mhd=True, raw=rq("GET", "/health", host=False),
            why="RFC 9112 3.2: MUST answer 400"),
        row("two Host headers", 400, mhd=True, raw=rq("GET", "/health", [("Host", "other")]),
            why="RFC 9112 3.2: MUST answer 400"),
        *(row(f"a Host {what}", 400, mhd=mhd, raw=rq("GET", "/health", host=value),
              why="RFC 9112 3.2: an invalid Host value MUST be answered 400")
          for what, value, mhd in (("with a space", "a b", True),
                                   ("whose port is past 65535", "a.example:65536", False),
                                   ("with two colons", "a:b:c", False),
                                   ("of a bracketed non-address", "[::g]:80", False))),
        row("a Host with an empty port", 200, raw=rq("GET", "/health", host="a.example:"),
            why="RFC 9110 7.2 and RFC 3986 3.2.3: port = *DIGIT, an empty port is no port"),
        row("a Host of a bracketed IPv6 address and a port", 200,
            raw=rq("GET", "/health", host="[::1]:8080")),
        row("Content-Type text/plain", 415, **jpost(comments_path, comment,
                                                    headers={"Content-Type": "text/plain"})),
        row("no Content-Type", 415, **jpost(comments_path, comment,
                                            headers={"Content-Type": None})),
        row("Content-Type application/jsonx", 415,
            **jpost(comments_path, comment, headers={"Content-Type": "application/jsonx"})),
        row("Content-Type multipart/form-data", 415,
            **jpost(comments_path, comment,
                    headers={"Content-Type": "multipart/form-data; boundary=x"})),
        row("Authorization: Bearer with no key", 401,
            **jpost(art_path, {"title": "t", "body": "b"}, headers={"Authorization": "Bearer"})),
        row("Authorization: Basic", 401,
            **jpost(art_path, {"title": "t", "body": "b"},
                    headers={"Authorization": "Basic YTpi"})),
        row("Authorization: a 10 KB key", 401,
            **jpost(art_path, {"title": "t", "body": "b"},
                    headers={"Authorization": "Bearer nd_" + "k" * 10_000})),
        row("Authorization: the key twice", 401,
            **jpost(art_path, {"title": "t", "body": "b"},
                    headers={"Authorization": f"Bearer {key} {key}"})),
        row("If-None-Match: 10 KB of garbage", 200, method="GET", path="/health",
            headers={"If-None-Match": '"' * 10_000}),
    ]


def request_line_rows(ctx):
    a, port = ctx["a"], ctx["port"]
    return [
        row("lower-case method", 405, raw=rq("get", "/health"),
            why="methods are case-sensitive: get is an unknown method"),
        row("a control character in the method", 405, mhd=True,
            raw=rq(b"G\x01T", "/health")),
        row("a method of 100 letters", 405, mhd=True, raw=rq("A" * 100, "/health")),
        row("a space inside the method", 404, mhd=True,
            raw=rq("GE T", "/health")),
        row("CONNECT", 404, mhd=True, raw=rq("CONNECT", "127.0.0.1:80")),
        row("HTTP/2.0", 505, mhd=True, close=True, raw=rq("GET", "/health", version="HTTP/2.0")),
        row("HTTP/1.10", 400, mhd=True, raw=rq("GET", "/health", version="HTTP/1.10")),
        row("lower-case http/1.1", 400, mhd=True,
            raw=rq("GET", "/health", version="http/1.1")),
        row("HTTP/0.9 request line", 400, mhd=True, raw=b"GET /health\r\n\r\n"),
        row("no version after a space", 400, mhd=True, raw=b"GET /health \r\n\r\n"),
        row("a method alone", "close", mhd=True, raw=b"GET\r\n\r\n"),
        row("a word after the version", 400, mhd=True,
            raw=b"GET /health HTTP/1.1 extra\r\nHost: 127.0.0.1\r\n\r\n"),
        row("tabs between the parts", "close", mhd=True,
            raw=b"GET\t/health\tHTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        row("a space inside the target", 404, mhd=True,
            raw=b"GET /hea lth HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        row("a target without a leading slash", 404, mhd=True, raw=rq("GET", "health")),
        row("GET *", 404, mhd=True, raw=rq("GET", "*")),
        row("OPTIONS *", 404, mhd=True, raw=rq("OPTIONS", "*")),
        row("absolute-form target", 200,
            raw=rq("GET", f"http://127.0.0.1:{port}/v1/articles/{a}"),
            why="RFC 9112 3.2.2: a server MUST accept the absolute form"),
        row("absolute-form /health", 200, raw=rq("GET", f"http://127.0.0.1:{port}/health")),
        row("absolute-form with an empty port", 200,
            raw=rq("GET", "http://127.0.0.1:/health")),
        row("absolute-form with a query", 200,
            raw=rq("GET", f"http://[::1]:{port}/health?x=/nowhere")),
        row("binary garbage", "close", mhd=True, raw=bytes(range(1, 256)) + b"\r\n\r\n"),
        row("a TLS ClientHello", "close", mhd=True,
            raw=bytes.fromhex("16030100a5010000a10303") + b"\x00" * 60 + b"\r\n\r\n"),
    ]


def framing_rows(ctx):
    comments_path = ctx["comments_path"]
    comment = b'{"author":"a","body":"b"}'
    ctype = ("Content-Type", "application/json")
    return [
        row("Content-Length and Transfer-Encoding", 400, mhd=True, close=True,
            raw=rq("POST", comments_path, [ctype, ("Content-Length", "30"),
                                           ("Transfer-Encoding", "chunked")],
                   b"19\r\n" + comment + b"\r\n0\r\n\r\n"),
            why="RFC 9112 6.3: ambiguous framing is refused and the connection closed"),
        row("two different Content-Length", 400, mhd=True, close=True,
            raw=rq("POST", comments_path, [ctype, ("Content-Length", "25"),
                                           ("Content-Length", "26")], comment + b" ")),
        row("Content-Length: 25, 26", 400, mhd=True, close=True,
            raw=rq("POST", comments_path, [ctype, ("Content-Length", "25, 26")], comment + b" ")),
        row("Transfer-Encoding: gzip", 400, mhd=True, close=True,
            raw=rq("POST", comments_path, [ctype, ("Transfer-Encoding", "gzip")], b"abc"),
            why="docs/architecture.md: a transfer coding other than chunked is 400, then close"),
        row("Transfer-Encoding: chunked, gzip", 400, mhd=True, close=True,
            raw=rq("POST", comments_path, [ctype, ("Transfer-Encoding", "chunked, gzip")],
                   b"0\r\n\r\n")),
        row("Transfer-Encoding with a space before the colon", 400, mhd=True,
            raw=rq("POST", comments_path, [ctype, ("Transfer-Encoding ", "chunked"),
                                           ("Content-Length", "25")], comment)),
    ]


def non_object_rows(ctx):
    art_path, comments_path = ctx["art_path"], ctx["comments_path"]
    rows = []
    for text in ("[]", "42", '"x"', "null", "true", "[{}]"):
        rows.append(row(f"article body {text}", 422, **jpost(art_path, text, auth=True),
                        why="docs/api.md: valid JSON that is not an object is 422"))
    for text in ("[]", "0", '""'):
        rows.append(row(f"comment body {text}", 422, **jpost(comments_path, text)))
    return rows


def build_table(ctx, key):
    art_path, comments_path = ctx["art_path"], ctx["comments_path"]
    return (json_syntax_rows(art_path) + nesting_rows(art_path, comments_path) +
            duplicate_rows(art_path, comments_path) + utf8_rows(art_path, comments_path) +
            nul_rows(ctx) + number_rows(ctx) + type_rows(ctx) + length_rows(ctx) +
            body_rows(ctx, key) + encoding_rows(ctx) + traversal_rows(ctx) +
            header_rows(ctx, key) + request_line_rows(ctx) + framing_rows(ctx) +
            non_object_rows(ctx))


# ---- running a row -----------------------------------------------------------


def send_raw(srv, data, want_close):
    """(Response or "close" or "timeout", closed_after) for raw request bytes;
    closed_after is only waited for when want_close."""
    sock = connect(srv.port, timeout=ANSWER_TIMEOUT)
    try:
        send_all(sock, data)
        reader = Reader(sock)
        try:
            resp = reader.response("GET", timeout=ANSWER_TIMEOUT)
        except Closed:
            return "close", True
        except Timeout:
            return "timeout", False
        if reader.eof or not want_close:
            return resp, reader.eof
        return resp, wait_closed(sock, 2.0 * SLOWDOWN) is not None
    finally:
        sock.close()


def run_row(srv, r):
    if r["raw"] is not None:
        outcome, closed = send_raw(srv, r["raw"], r["close"])
    else:
        outcome = srv.request(r["method"], r["path"], r["body"], r["headers"], auth=r["auth"])
        closed = None
    why = f" ({r['why']})" if r["why"] else ""
    if outcome == "timeout":
        tap.check(False, f"no answer within {ANSWER_TIMEOUT} s, connection still open")
    elif outcome == "close":
        tap.check(r["answer"] == "close",
                  f"the connection closed without an answer; want {r['answer']}{why}")
    else:
        check_answer(r, outcome, closed, why)
    tap.require(srv.running(), f"the server died:\n{srv.stderr_tail()}")


def check_answer(r, resp, closed, why):
    status = resp.status
    tap.check(status == r["answer"], f"status {status}, want {r['answer']}{why}: {short(resp)}")
    ctype = resp.headers.get("Content-Type", "")
    if status >= 400 and (ctype.startswith("application/problem+json") or not r["mhd"]):
        for issue in resp.problem_issues():
            tap.check(False, issue)
    if r["errors"] is not None and status == 422:
        check_errors(tap, resp, r["errors"])
    if r["close"]:
        tap.check(closed is not False, "the connection stayed open after the answer")


def snapshot(srv, ctx):
    """The seed article and comment, and every article's id, title and update
    time (comment counts move: some rows post valid comments to the sandbox)."""
    paths = [f"/v1/articles/{ctx['a']}", f"/v1/comments/{ctx['c']}"]
    out = {p: srv.request("GET", p, auth=True).json for p in paths}
    listing = srv.request("GET", "/v1/articles?limit=100&status=any", auth=True).json
    out["articles"] = [(x["id"], x["title"], x["updated_at"]) for x in listing["data"]]
    return out


def test_intact(srv, ctx, before):
    expect(tap, srv.request("GET", "/health"), 200, {"status": "ok"}, what="health")
    after = snapshot(srv, ctx)
    for path, value in before.items():
        tap.eq(after[path], value, f"{path} after the table")


def session():
    with Server(BIN) as srv:
        art = srv.create_article(title="Seed article", body="Seed body.", tags=["seed"])
        sandbox = srv.create_article(title="Sandbox", body="Comments land here.")
        com = srv.create_comment(art["id"], author="seed", body="Seed comment.")
        ctx = {"a": art["id"], "c": com["id"], "port": srv.port, "art_path": "/v1/articles",
               "comments_path": f"/v1/articles/{sandbox['id']}/comments"}
        before = snapshot(srv, ctx)
        table = build_table(ctx, srv.key)
        tap.diag(f"{len(table)} malformed requests")
        started = time.monotonic()
        for i, r in enumerate(table):
            tap.run(f"row {i + 1}: {r['name']}", run_row, srv, r)
            if not srv.running():
                break
        tap.diag(f"table took {time.monotonic() - started:.1f} s")
        tap.run("at least 100 rows", lambda: tap.check(len(table) >= 100, f"{len(table)} rows"))
        tap.run("healthy afterwards, stored data unchanged", test_intact, srv, ctx, before)
        tap.stop_server(srv)


tap.run("malformed requests session", session)
tap.done()
