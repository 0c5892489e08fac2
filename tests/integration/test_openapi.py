#!/usr/bin/env python3
"""test_openapi.py: the OpenAPI document against the real tools and the real server.

The document a running newsd serves at /openapi.json must be the source file
byte for byte, pass the Redocly linter (tests/node, installed by scripts/test)
without a single complaint, and describe what the server really does: every
operation is driven here (writes, lists, pages, the comment tree, search,
moderation, feeds, metrics, the web page, and the 400, 401, 404, 405, 409,
413, 415, 422 and 429 answers), and each answer's status must be listed for
its operation, its Content-Type must be one the operation lists, its body
must validate against the schema given for it (JSON Schema 2020-12, "$ref"s
resolved in the whole document) and the headers it declares required must be
there. Query parameters sent must be documented, and the request bodies the
server accepted must fit the request schema.
"""

import gzip
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import urllib.parse
import warnings
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    CLUSTER, LIMITS_PER_PROCESS, Client, Headers, Response, Server, Tap, binary_from_argv,
    raw_exchange, short, source_root,
)

warnings.simplefilter("ignore", DeprecationWarning)  # RefResolver, in newer jsonschema
from jsonschema import Draft202012Validator, RefResolver  # noqa: E402

BIN = binary_from_argv()
tap = Tap()

DOC_FILE = os.path.join(source_root(), "server", "assets", "openapi.json")
NODE_TOOLS = os.environ.get("ND_NODE_TOOLS") or os.path.join(
    source_root(), "tests", "node", "node_modules")
REDOCLY = os.path.join(NODE_TOOLS, ".bin", "redocly")
REDOCLY_CONFIG = os.path.join(source_root(), "tests", "node", "redocly.yaml")
MAX_BODY = 16384  # --max-body of the main server
BULK_MAX_BODY = 16384  # --bulk-max-body of the main server
LINT_PROBLEM = re.compile(r"^\s*\d+:\d+\s+(error|warning)\s")

OPERATION_KEYS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ATOM = "{http://www.w3.org/2005/Atom}feed"
# Headers whose presence means something the document must say; on an error
# answer the rate-limit headers may come with any status, so they are not
# asked of those.
MEANINGFUL = ("ETag", "Link", "Location", "Retry-After", "WWW-Authenticate", "Allow",
              "Content-Encoding", "Cache-Control", "Vary", "RateLimit-Limit",
              "RateLimit-Remaining", "RateLimit-Reset")
MEANINGFUL_ON_ERRORS = ("ETag", "Link", "Location", "Retry-After", "WWW-Authenticate", "Allow")


# ---- the document -----------------------------------------------------------


class Spec:
    """The OpenAPI document: finding a request's operation, checking an answer."""

    def __init__(self, doc):
        self.doc = doc
        self.resolver = RefResolver.from_schema(doc)
        self.templates = [(t, t.strip("/").split("/") if t != "/" else [])
                          for t in doc["paths"]]
        self.seen = set()  # (template, operation key, status)

    def deref(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            node = self.doc
            for token in obj["$ref"][2:].split("/"):
                node = node[token.replace("~1", "/").replace("~0", "~")]
            obj = node
        return obj

    def issues(self, method, path, resp, body=None):
        """Every way the exchange disagrees with the document (Client's judge)."""
        return check_exchange(self, method, path, resp, body)

    def errors(self, schema, instance):
        validator = Draft202012Validator(schema, resolver=self.resolver)
        return [f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}"[:400]
                for e in validator.iter_errors(instance)]

    def template(self, path):
        """(template, {name: value}) of the document path that path is, or (None, {})."""
        segments = path.strip("/").split("/") if path != "/" else []
        for template, parts in self.templates:
            if len(parts) != len(segments):
                continue
            params = {}
            for part, seg in zip(parts, segments):
                if part.startswith("{") and part.endswith("}"):
                    params[part[1:-1]] = urllib.parse.unquote(seg)
                elif part != seg:
                    break
            else:
                return template, params
        return None, {}

    def parameters(self, template, op):
        params = {}
        for p in self.doc["paths"][template].get("parameters", []) + op.get("parameters", []):
            p = self.deref(p)
            params[(p["in"], p["name"])] = p
        return params


def value_fits(spec, schema, text):
    """A parameter value fits when it validates as the text or as its integer reading."""
    if not spec.errors(schema, text):
        return True
    return bool(re.fullmatch(r"-?[0-9]+", text)) and not spec.errors(schema, int(text))


def media_key(content, ctype):
    """The key of content (a media type, maybe with parameters) that ctype is, or None."""
    def split(text):
        parts = [p.strip().lower() for p in text.split(";")]
        return parts[0], {p.replace(" ", "") for p in parts[1:] if p}
    base, params = split(ctype or "")
    for key in content:
        kbase, kparams = split(key)
        if kbase == base and kparams <= params:
            return key
    return None


def is_json_type(media):
    base = media.split(";")[0].strip()
    return base == "application/json" or base.endswith("+json")


# ---- checking one exchange ----------------------------------------------------


def check_exchange(spec, method, path, resp, body=None):
    """Every way resp, the answer to method path (with the JSON body sent), departs
    from the document, as a list of messages."""
    what = f"{method} {path} -> {resp.status}"
    split = urllib.parse.urlsplit(path)
    template, path_params = spec.template(split.path)
    if template is None:
        return [f"{what}: the path is not in the document"]
    item = spec.doc["paths"][template]
    key = "get" if method == "HEAD" else method.lower()
    if key not in item:
        return check_not_allowed(spec, item, what, resp)
    op = item[key]
    spec.seen.add((template, key, resp.status))
    issues = check_request(spec, template, op, split.query, path_params, body, resp.status, what)
    answer = op["responses"].get(str(resp.status))
    if answer is None:
        return issues + [f"{what}: status {resp.status} is not documented for {key} {template}: "
                         f"{short(resp.body)}"]
    answer = spec.deref(answer)
    issues += check_headers(spec, answer.get("headers", {}), resp, what)
    return issues + check_body(spec, answer.get("content"), method, resp, what)


def check_not_allowed(spec, item, what, resp):
    """An operation the path does not have: 405 with the path's methods in Allow."""
    issues = [] if resp.status == 405 else [f"{what}: the document has no such operation"]
    answer = spec.deref({"$ref": "#/components/responses/MethodNotAllowed"})
    issues += check_headers(spec, answer["headers"], resp, what)
    issues += check_body(spec, answer["content"], "GET", resp, what)
    methods = {k.upper() for k in item if k in OPERATION_KEYS} | {"OPTIONS"}
    if "GET" in methods:
        methods.add("HEAD")
    allow = {m.strip() for m in resp.headers.get("Allow", "").split(",") if m.strip()}
    if allow != methods:
        issues.append(f"{what}: Allow {sorted(allow)}, the document lists {sorted(methods)}")
    spec.seen.add(("*", "*", resp.status))
    return issues


def check_request(spec, template, op, query, path_params, body, status, what):
    """Query names sent are documented; on success, the values and the body fit."""
    issues = []
    params = spec.parameters(template, op)
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        p = params.get(("query", name))
        if p is None:
            issues.append(f"{what}: query parameter {name!r} is not documented")
        elif status < 300 and not value_fits(spec, p["schema"], value):
            issues.append(f"{what}: {name}={value!r} does not fit its schema")
    for name, value in path_params.items():
        p = params.get(("path", name))
        if p is None:
            issues.append(f"{what}: path parameter {name!r} is not documented")
        elif status < 300 and not value_fits(spec, p["schema"], value):
            issues.append(f"{what}: path {name}={value!r} does not fit its schema")
    if body is not None and status < 300:
        schema = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        if "schema" not in schema:
            issues.append(f"{what}: a body was accepted but none is documented")
        else:
            issues += [f"{what}: the accepted request body: {e}"
                       for e in spec.errors(schema["schema"], body)]
    return issues


def check_headers(spec, declared, resp, what):
    issues = []
    for name, header in declared.items():
        header = spec.deref(header)
        value = resp.headers.get(name)
        if value is None:
            if header.get("required"):
                issues.append(f"{what}: required header {name} is missing")
            continue
        schema = header.get("schema", {})
        if not value_fits(spec, schema, value):
            issues.append(f"{what}: header {name}: {value!r} does not fit its schema")
    ask = MEANINGFUL if resp.status < 400 else MEANINGFUL_ON_ERRORS
    lowered = {n.lower() for n in declared}
    for name in ask:
        if name in resp.headers and name.lower() not in lowered:
            issues.append(f"{what}: header {name} is sent but not documented")
    return issues


def check_body(spec, content, method, resp, what):
    """The answer's Content-Type and body against the response's content map."""
    if not content:
        return [] if resp.body == b"" else [f"{what}: a body where none is documented"]
    ctype = resp.headers.get("Content-Type")
    key = media_key(content, ctype)
    if key is None:
        return [f"{what}: Content-Type {ctype!r} is not one of {sorted(content)}"]
    if method == "HEAD":
        return [] if resp.body == b"" else [f"{what}: HEAD answered with a body"]
    data = resp.body
    if resp.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    schema = content[key].get("schema", {})
    if is_json_type(key):
        try:
            instance = json.loads(data.decode("utf-8"))
        except ValueError as e:
            return [f"{what}: the body is not JSON: {e}"]
        return [f"{what}: body: {e}" for e in spec.errors(schema, instance)]
    text = data.decode("utf-8")
    issues = [f"{what}: body: {e}" for e in spec.errors(schema, text)]
    return issues + check_text_body(key, text, what)


def check_text_body(media, text, what):
    """The bodies that are not JSON: XML feeds parse, with the right root."""
    base = media.split(";")[0].strip()
    if base in ("application/atom+xml", "application/rss+xml"):
        try:
            root = ET.fromstring(text.encode("utf-8"))
        except ET.ParseError as e:
            return [f"{what}: the feed is not well-formed XML: {e}"]
        if base.endswith("atom+xml") and root.tag != ATOM:
            return [f"{what}: the Atom feed's root is {root.tag}"]
        if base.endswith("rss+xml") and (root.tag != "rss" or root.get("version") != "2.0"):
            return [f"{what}: the RSS feed's root is {root.tag} {root.attrib}"]
    if base == "text/html" and "<html" not in text.lower():
        return [f"{what}: the page holds no <html>"]
    return []


# ---- driving the server -----------------------------------------------------------


def refused(c, method, path, status, body, schema, auth=False):
    """c.call(), and the request schema named schema (ArticleCreate...) must refuse body."""
    resp = c.call(method, path, status, body, auth=auth)
    tap.check(c.judge.errors({"$ref": f"#/components/schemas/{schema}"}, body),
              f"{method} {path}: {schema} accepts {short(body)}, answered {resp.status}")
    return resp


def article(n, **fields):
    body = {"title": f"Harbour report {n}", "body": f"The harbour lamps, part {n}.\n\nMore text."}
    body.update(fields)
    return body


def scenario_articles(c, ids):
    resp = c.call("POST", "/v1/articles", 201, article(
        1, author="Ann", category="World", tags=["russia", "north-korea"],
        source_url="https://example.com/lavrov", published_at="2025-07-12T09:30:00Z",
        summary="A hand-written summary."), auth=True)
    a = resp.json
    tap.eq(resp.headers.get("Location"), f"/v1/articles/{a['id']}", "Location of the article")
    ids["article"] = a["id"]
    ids["slug"] = a["slug"]
    for n in range(2, 8):
        c.call("POST", "/v1/articles", 201, article(n, body="x " * 700 + str(n)), auth=True)
    ids["draft"] = c.call("POST", "/v1/articles", 201, article(
        8, status="draft", slug="a-draft", tags=None, author=None), auth=True).json["id"]
    c.call("POST", "/v1/articles", 401, article(9))
    c.call("POST", "/v1/articles", 401, article(9), auth="Bearer nd_AAAAAAAAAAAA_wrong")
    c.call("POST", "/v1/articles", 400, raw=b'{"title":', auth=True)
    c.call("POST", "/v1/articles", 400, raw=b"", auth=True)
    c.call("POST", "/v1/articles", 415, article(9), headers={"Content-Type": "text/plain"},
           auth=True)
    refused(c, "POST", "/v1/articles", 422, {"body": 5, "id": 3, "extra": True}, "ArticleCreate",
            auth=True)
    refused(c, "POST", "/v1/articles", 422, [], "ArticleCreate", auth=True)
    c.call("POST", "/v1/articles", 409, article(10, slug=a["slug"]), auth=True)


def scenario_article_reads(c, ids):
    page = c.revalidate("/v1/articles?limit=3")
    link = page.links().get("next")
    tap.require(link is not None and page.json["next_cursor"], "a first page with a next link")
    nxt = urllib.parse.urlsplit(link)
    c.call("GET", nxt.path + "?" + nxt.query, 200)
    c.call("GET", "/v1/articles", 200, headers={"Accept-Encoding": "gzip"})
    c.call("GET", "/v1/articles?category=World&tag=russia&author=Ann"
                  "&since=2025-07-01T00:00:00Z&until=2025-08-01T00:00:00Z", 200)
    c.call("GET", "/v1/articles?status=draft", 200, auth=True)
    c.call("GET", "/v1/articles?status=any&limit=100", 200, auth=True)
    c.call("GET", "/v1/articles?status=draft", 401)
    for bad in ("limit=0", "limit=abc", "limit=101", "cursor=zzzz", "since=yesterday",
                "status=bogus"):
        c.call("GET", "/v1/articles?" + bad, 400)
    c.revalidate(f"/v1/articles/{ids['article']}")
    c.call("GET", f"/v1/articles/{ids['slug']}", 200)
    c.call("GET", "/v1/articles/99999", 404)
    c.call("GET", "/v1/articles/no-such-slug", 404)
    c.call("GET", f"/v1/articles/{ids['draft']}", 404)
    c.call("GET", f"/v1/articles/{ids['draft']}", 200, auth=True)
    cats = c.revalidate("/v1/categories")
    tap.eq(cats.json["data"], [{"name": "World", "count": 1}], "the categories in use")
    c.call("GET", "/v1/categories", 200, auth=True)
    c.call("GET", "/v1/categories", 200, headers={"Accept-Encoding": "gzip"})
    for path in ("/v1/tags", "/v1/authors"):
        c.revalidate(path)
        c.call("GET", path, 200, auth=True)
        c.call("GET", path, 200, headers={"Accept-Encoding": "gzip"})
    for order in ("newest", "oldest", "updated", "commented"):
        first = c.call("GET", f"/v1/articles?sort={order}&limit=1", 200)
        nxt = urllib.parse.urlsplit(first.links()["next"])
        c.call("GET", nxt.path + "?" + nxt.query, 200)
    c.revalidate("/v1/articles?fields=id,title,tags&limit=2")
    c.call("GET", "/v1/articles?fields=title&sort=commented&status=any", 200, auth=True)
    c.revalidate(f"/v1/articles/{ids['article']}?fields=body,source_url")
    for bad in ("sort=popular", "fields=body", "fields=", "fields=id,,title"):
        c.call("GET", "/v1/articles?" + bad, 400)
    c.call("GET", f"/v1/articles/{ids['article']}?fields=headline", 400)


def scenario_article_writes(c, ids):
    path = f"/v1/articles/{ids['article']}"
    c.call("PATCH", path, 200, {"title": "Harbour report, revised"}, auth=True)
    resp = c.call("PATCH", path, 200, {"tags": None, "author": None, "source_url": None},
                  auth=True)
    tap.eq(resp.json.get("tags"), [], "tags reset by null")
    c.call("PATCH", path, 200, {}, auth=True)
    resp = c.call("PATCH", path, 200, {"body": "Long. " * 400}, auth=True,
                  headers={"Accept-Encoding": "gzip"})
    tap.eq(resp.headers.get("Content-Encoding"), "gzip", "a large PATCH answer gzip-encoded")
    refused(c, "PATCH", path, 422, {"title": None, "id": 5}, "ArticlePatch", auth=True)
    refused(c, "PATCH", path, 422, [1], "ArticlePatch", auth=True)
    c.call("PATCH", path, 409, {"slug": "a-draft"}, auth=True)
    c.call("PATCH", path, 415, {"title": "x"}, headers={"Content-Type": "text/plain"},
           auth=True)
    c.call("PATCH", path, 400, raw=b"{,}", auth=True)
    c.call("PATCH", path, 401, {"title": "x"})
    c.call("PATCH", "/v1/articles/99999", 404, {"title": "x"}, auth=True)
    c.call("PATCH", "/v1/articles/x", 400, {"title": "x"}, auth=True)
    gone = c.call("POST", "/v1/articles", 201, article(20), auth=True).json["id"]
    c.call("DELETE", f"/v1/articles/{gone}", 401)
    c.call("DELETE", f"/v1/articles/{gone}", 204, auth=True)
    c.call("DELETE", f"/v1/articles/{gone}", 404, auth=True)
    c.call("DELETE", "/v1/articles/007", 400, auth=True)


def scenario_comments(c, ids):
    base = f"/v1/articles/{ids['article']}/comments"
    resp = c.call("POST", base, 201, {"author": "reader", "body": "First."})
    top = resp.json
    tap.eq(resp.headers.get("Location"), f"/v1/comments/{top['id']}", "Location of the comment")
    reply = c.call("POST", base, 201, {"author": "other", "body": "Reply.",
                                       "parent_id": top["id"]}).json
    c.call("POST", base, 201, {"author": "third", "body": "Deeper.\n\tIndented.",
                               "parent_id": reply["id"]})
    c.call("POST", base, 201, {"author": "editor", "body": "With a key.", "parent_id": None},
           auth=True)
    for n in range(3):
        c.call("POST", base, 201, {"author": f"r{n}", "body": f"Comment {n}"})
    ids["comment"], ids["reply"] = top["id"], reply["id"]
    other = c.call("POST", f"/v1/articles/{ids['draft']}/comments", 201,
                   {"author": "a", "body": "On the draft."}, auth=True).json
    c.call("POST", base, 422, {"author": "x", "body": "y", "parent_id": other["id"]})
    refused(c, "POST", base, 422, {"author": "", "body": 3, "status": "visible"},
            "CommentCreate")
    c.call("POST", base, 415, {"author": "x", "body": "y"},
           headers={"Content-Type": "application/xml"})
    c.call("POST", base, 400, raw=b"[")
    c.call("POST", "/v1/articles/99999/comments", 404, {"author": "x", "body": "y"})
    c.call("POST", f"/v1/articles/{ids['draft']}/comments", 404, {"author": "x", "body": "y"})
    c.call("POST", "/v1/articles/abc/comments", 400, {"author": "x", "body": "y"})


def scenario_comment_reads(c, ids):
    base = f"/v1/articles/{ids['article']}/comments"
    c.revalidate(base)
    c.revalidate(base + "?view=tree")
    first = c.call("GET", base + "?limit=2", 200)
    link = first.links().get("next")
    tap.require(link is not None, f"a next link on the comment list: {first}")
    nxt = urllib.parse.urlsplit(link)
    c.call("GET", nxt.path + "?" + nxt.query, 200)
    c.call("GET", base + "?view=tree&limit=1", 200)
    c.call("GET", base + "?view=flat&status=visible", 200)
    c.call("GET", base + "?status=any", 200, auth=True)
    c.call("GET", base + "?status=pending", 401)
    c.call("GET", base + "?view=bogus", 400)
    c.call("GET", base + "?status=gone", 400)
    c.call("GET", base + "?cursor=zzzz", 400)
    c.call("GET", "/v1/articles/99999/comments", 404)
    c.call("GET", f"/v1/articles/{ids['draft']}/comments", 404)
    c.call("GET", "/v1/articles/0/comments", 400)
    c.revalidate(f"/v1/comments/{ids['comment']}")
    c.call("GET", "/v1/comments/99999", 404)
    c.call("GET", "/v1/comments/x", 400)
    c.revalidate(base + "?fields=id,parent_id")
    c.revalidate(base + "?view=tree&fields=author")
    c.revalidate(f"/v1/comments/{ids['comment']}?fields=body")
    c.call("GET", base + "?fields=replies", 400)
    c.call("GET", f"/v1/comments/{ids['comment']}?fields=title", 400)


def scenario_moderation(c, ids):
    one = f"/v1/comments/{ids['comment']}"
    base = f"/v1/articles/{ids['article']}/comments"
    c.call("PATCH", one, 200, {"status": "pending"}, auth=True)
    c.call("GET", one, 404)
    c.call("GET", one, 200, auth=True)
    c.call("GET", base + "?status=pending", 200, auth=True)
    c.call("GET", base + "?status=pending&view=tree", 200, auth=True)
    tree = c.call("GET", base + "?view=tree", 200).json
    tap.check(any(n["id"] == ids["reply"] for n in tree["data"]),
              "the visible reply of a pending comment is top-level in the tree")
    c.call("PATCH", one, 200, {"status": "visible"}, auth=True)
    c.call("PATCH", one, 200, {}, auth=True)
    refused(c, "PATCH", one, 422, {"body": "x", "status": "gone", "color": 1},
            "CommentModeration", auth=True)
    c.call("PATCH", one, 401, {"status": "visible"})
    c.call("PATCH", one, 415, {"status": "visible"}, headers={"Content-Type": "text/json"},
           auth=True)
    c.call("PATCH", "/v1/comments/99999", 404, {"status": "visible"}, auth=True)
    c.call("PATCH", "/v1/comments/x", 400, {"status": "visible"}, auth=True)
    c.call("DELETE", f"/v1/comments/{ids['reply']}", 401)
    c.call("DELETE", f"/v1/comments/{ids['reply']}", 204, auth=True)
    c.call("DELETE", f"/v1/comments/{ids['reply']}", 404, auth=True)
    c.call("DELETE", "/v1/comments/-1", 400, auth=True)


def scenario_search(c, ids):
    c.revalidate("/v1/search?q=harbour")
    c.call("GET", "/v1/search?q=harbour&limit=2&category=World&tag=russia&author=Ann"
                          "&since=2025-01-01T00:00:00Z&until=2030-01-01T00:00:00Z&status=any",
           200, auth=True)
    first = c.call("GET", "/v1/search?q=harb*%20-nothing&limit=2", 200)
    link = first.links().get("next")
    tap.require(link is not None, f"a next link on the search results: {first}")
    nxt = urllib.parse.urlsplit(link)
    c.call("GET", nxt.path + "?" + nxt.query, 200)
    c.call("GET", "/v1/search?q=%22harbour%20report%22%20OR%20lamps&type=articles", 200)
    c.call("GET", "/v1/search?q=comment&type=comments", 200)
    c.call("GET", "/v1/search?q=draft&status=draft", 200, auth=True)
    c.call("GET", "/v1/search?q=harbour&status=draft", 401)
    c.revalidate("/v1/search?q=harbour&sort=newest&fields=id,snippet")
    c.call("GET", "/v1/search?q=comment&type=comments&sort=newest&fields=article_id", 200)
    first = c.call("GET", "/v1/search?q=harb*&limit=1&sort=newest", 200)
    nxt = urllib.parse.urlsplit(first.links()["next"])
    c.call("GET", nxt.path + "?" + nxt.query, 200)
    for bad in ("", "?q=", "?q=-only", "?q=a*", "?q=x&type=bogus", "?q=x&type=comments&tag=a",
                "?q=x&limit=0", "?q=x&cursor=zzzz", "?q=x&sort=oldest",
                "?q=x&type=comments&fields=title"):
        c.call("GET", "/v1/search" + bad, 400)


def scenario_changes(c, ids):
    page = c.revalidate("/v1/changes?limit=2")
    link = page.links().get("next")
    tap.require(link is not None and page.json["next_cursor"],
                "a first page of changes with a next link")
    nxt = urllib.parse.urlsplit(link)
    c.call("GET", nxt.path + "?" + nxt.query, 200)
    c.call("GET", "/v1/changes?since=0&limit=100", 200, auth=True)
    c.call("GET", "/v1/changes?since=0&limit=100", 200, headers={"Accept-Encoding": "gzip"})
    last = c.call("GET", "/v1/changes?since=0&limit=100", 200).json["next_since"]
    c.call("GET", f"/v1/changes?since={last}", 200)
    c.call("GET", f"/v1/changes?since={last + 1}", 410)
    for bad in ("since=-1", "since=01", "since=x", "limit=0", "limit=101"):
        c.call("GET", "/v1/changes?" + bad, 400)


def open_stream(port, extra=""):
    """GET /v1/events on a raw socket: the Response of its head and first bytes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode())
    data = b""
    while b"retry: 3000\n\n" not in data and b"}" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    pairs = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
    status = int(lines[0].split()[1])
    body = rest.split(b"\r\n", 1)[1][:-2] if status == 200 else rest
    return sock, Response(status, Headers(pairs), body, "GET")


def scenario_events(c, ids):
    c.call("HEAD", "/v1/events", 200)
    c.call("GET", "/v1/events?since=-3", 400)
    c.call("GET", "/v1/events", 400, headers={"Last-Event-ID": "abc"})
    socks = []
    for _ in range(8):  # events-per-client
        sock, resp = open_stream(c.srv.port)
        socks.append(sock)
        c.check("GET", "/v1/events", resp, 200)
        tap.eq(resp.body, b"retry: 3000\n\n", "the stream's first bytes")
    sock = None
    if not CLUSTER:  # LIMITS_PER_PROCESS: each instance would take 8 more
        sock, resp = open_stream(c.srv.port)
        c.check("GET", "/v1/events", resp, 429)
    for s in socks + [sock] if sock else socks:
        s.close()


def scenario_feeds(c, ids):
    for path in ("/v1/feed.atom", "/v1/feed.rss", "/v1/feed.json"):
        c.revalidate(path)
        c.call("GET", path + "?category=World&tag=russia&author=Ann&status=published", 200)
        c.call("GET", path + "?since=2025-01-01T00:00:00Z&until=2030-01-01T00:00:00Z&limit=2",
               200)
        c.call("GET", path, 200, headers={"Accept-Encoding": "gzip"})
        for bad in ("status=draft", "limit=0", "since=soon"):
            c.call("GET", path + "?" + bad, 400)
        # HTTP/1.0 without Host: no base for the feed's absolute links.
        resp = raw_exchange(c.srv.port, f"GET {path} HTTP/1.0\r\n\r\n".encode(), method="GET")
        tap.require(resp is not None, f"GET {path} without Host: no answer")
        c.check("GET", path, resp, 400)


def scenario_operations(c, ids):
    c.revalidate("/health")
    resp = c.call("GET", "/health", 200, headers={"X-Request-Id": "openapi-test.1"})
    tap.eq(resp.headers.get("X-Request-Id"), "openapi-test.1", "X-Request-Id echoed")
    # Ambiguous framing is refused on any route, before routing.
    head = (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    # (haproxy resolves that framing itself, dropping Content-Length, so no
    # instance behind it ever sees the ambiguity)
    if not CLUSTER:
        resp = raw_exchange(c.srv.port, head, [b"0\r\n\r\n"], method="GET")
        tap.require(resp is not None, "no answer to an ambiguous request")
        c.check("GET", "/health", resp, 400)
    c.revalidate("/ready")
    if not CLUSTER:
        resp = raw_exchange(c.srv.port, head.replace(b"/health", b"/ready"), [b"0\r\n\r\n"],
                            method="GET")
        tap.require(resp is not None, "no answer to an ambiguous request")
        c.check("GET", "/ready", resp, 400)
    c.call("GET", "/metrics", 200)
    c.call("HEAD", "/metrics", 200)
    c.revalidate("/openapi.json")
    c.revalidate("/")
    # Every file of the page (a new kind of file needs its Content-Type documented).
    for name in sorted(os.listdir(os.path.join(source_root(), "server", "assets"))):
        if name not in ("index.html", "openapi.json"):
            c.revalidate("/assets/" + name)
            c.call("GET", "/assets/" + name, 200, headers={"Accept-Encoding": "gzip"})
    c.call("GET", "/assets/nothing.js", 404)
    c.call("GET", "/assets/openapi.json", 404)
    c.call("GET", "/assets/index.html", 404)


def scenario_not_allowed(c, ids):
    """PUT (which no operation uses) on every path, and a few other methods."""
    for template in c.judge.doc["paths"]:
        path = re.sub(r"\{[^}/]+\}", str(ids["article"]), template)
        if template == "/assets/{name}":
            path = "/assets/app.js"
        c.call("PUT", path, 405, {"title": "x"}, auth=True)
    c.call("POST", "/health", 405)
    c.call("DELETE", "/v1/search", 405, auth=True)
    c.call("PATCH", "/v1/articles", 405, {}, auth=True)


def oversized(c, method, path, auth=False):
    """method path with a JSON body over max-body, sent raw: the server may answer
    before the body is read, and close. The answer must be a documented 413."""
    big = json.dumps({"body": "z" * (MAX_BODY + 1000)}).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
    if auth:
        head += b"Authorization: Bearer " + c.srv.key.encode() + b"\r\n"
    head += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(big)
    resp = raw_exchange(c.srv.port, head, [big[i:i + 4096] for i in range(0, len(big), 4096)],
                        method=method)
    tap.require(resp is not None, f"{method} {path}: no answer to an oversized body")
    c.check(method, path, resp, 413)


def scenario_bulk(c, ids):
    """POST /v1/articles/bulk: its NDJSON answer, 401, 415, 413 over bulk-max-body."""
    ndjson = {"Content-Type": "application/x-ndjson"}
    lines = (json.dumps(article(60)) + "\n{not json\n" + json.dumps(article(61))).encode()
    resp = c.call("POST", "/v1/articles/bulk", 200, headers=ndjson, raw=lines, auth=True)
    results = [json.loads(line) for line in resp.body.decode().splitlines()]
    tap.eq([r["status"] for r in results], [201, 400, 201], "bulk results")
    c.call("POST", "/v1/articles/bulk", 401, headers=ndjson, raw=lines)
    c.call("POST", "/v1/articles/bulk", 415, raw=lines, auth=True)
    big = (json.dumps(article(62)) + "\n").encode() * (BULK_MAX_BODY // 50)
    tap.require(len(big) > BULK_MAX_BODY, "the bulk body is over bulk-max-body")
    head = (b"POST /v1/articles/bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
            c.srv.key.encode() + b"\r\nContent-Type: application/x-ndjson\r\n"
            b"Content-Length: %d\r\n\r\n" % len(big))
    resp = raw_exchange(c.srv.port, head, [big[i:i + 4096] for i in range(0, len(big), 4096)])
    tap.require(resp is not None, "no answer to an oversized bulk body")
    c.check("POST", "/v1/articles/bulk", resp, 413)


def scenario_too_large(c, ids):
    """A body over max-body is 413 on every operation that takes one."""
    oversized(c, "POST", "/v1/articles", auth=True)
    oversized(c, "PATCH", f"/v1/articles/{ids['article']}", auth=True)
    oversized(c, "POST", f"/v1/articles/{ids['article']}/comments")
    oversized(c, "PATCH", f"/v1/comments/{ids['comment']}", auth=True)


def scenario_limited(spec):
    """A server with tiny rate limits and metrics off: 429 with Retry-After, 404 metrics."""
    env = {"NEWSD_COMMENT_RATE": "1", "NEWSD_COMMENT_BURST": "1", "NEWSD_WRITE_RATE": "1",
           "NEWSD_WRITE_BURST": "1"}
    with Server(BIN, ["--metrics=false"], env=env) as srv:
        c = Client(srv, tap, judge=spec, keep_alive=False)
        created = c.call("POST", "/v1/articles", 201, article(40), auth=True)
        for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
            tap.check(name in created.headers, f"limited write without {name}")
        c.call("POST", "/v1/articles", 429, article(41), auth=True)
        c.call("DELETE", "/v1/articles/1", 429, auth=True)
        base = f"/v1/articles/{created.json['id']}/comments"
        c.call("POST", base, 201, {"author": "x", "body": "one"})
        c.call("POST", base, 429, {"author": "x", "body": "two"})
        c.call("GET", "/metrics", 404)
        tap.stop_server(srv, name="the rate-limited server exits 0 on SIGTERM")


# ---- the points ---------------------------------------------------------------


def test_lint(served):
    tap.require(os.access(REDOCLY, os.X_OK),
                f"{REDOCLY} is missing: scripts/test installs it (npm ci in tests/node)")
    with tempfile.TemporaryDirectory(prefix="newsd-openapi-") as tmp:
        path = os.path.join(tmp, "openapi.json")
        with open(path, "wb") as f:
            f.write(served)
        env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true",
                   NO_COLOR="1")
        proc = subprocess.run(
            [REDOCLY, "lint", "--format=stylish", "--config", REDOCLY_CONFIG, path],
            cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    problems = [line for line in output.splitlines() if LINT_PROBLEM.match(line)]
    tap.check(proc.returncode == 0, f"redocly lint exit status {proc.returncode}:\n{output}")
    tap.check(not problems, "redocly lint complains:\n" + "\n".join(problems))


def test_served_document(srv):
    resp = srv.request("GET", "/openapi.json")
    tap.require(resp.status == 200, f"GET /openapi.json: {resp}")
    with open(DOC_FILE, "rb") as f:
        source = f.read()
    tap.check(resp.body == source, "the served document differs from server/assets/openapi.json")
    tap.check(resp.headers.get("Content-Type", "").startswith("application/json"),
              f"Content-Type {resp.headers.get('Content-Type')!r}")
    packed = srv.request("GET", "/openapi.json", headers={"Accept-Encoding": "gzip"})
    tap.check(packed.headers.get("Content-Encoding") == "gzip" and
              gzip.decompress(packed.body) == source, "the gzip-encoded document differs")
    doc = json.loads(resp.body.decode("utf-8"))
    tap.eq(doc.get("openapi"), "3.1.0", "openapi version")
    Draft202012Validator.check_schema({"$defs": doc["components"]["schemas"]})
    return resp.body


def test_components_used(doc):
    text = json.dumps(doc)
    refs = set(re.findall(r'"\$ref": "(#/components/[^"]+)"', text))
    for section, members in doc["components"].items():
        for name in members:
            if section == "securitySchemes":
                used = f'"{name}": []' in text
            else:
                used = f"#/components/{section}/{name}" in refs
            if (section, name) == ("responses", "MethodNotAllowed"):
                continue  # used by the 405 checks of this test; no operation answers it
            tap.check(used, f"components/{section}/{name} is never used")


def test_coverage(spec):
    """Every operation was answered with a 2xx; the error statuses were all met."""
    for template, item in spec.doc["paths"].items():
        for key in item:
            if key not in OPERATION_KEYS:
                continue
            statuses = {s for t, k, s in spec.seen if t == template and k == key}
            tap.check(any(200 <= s < 300 for s in statuses),
                      f"{key} {template} never answered 2xx (saw {sorted(statuses)})")
            unseen = set(item[key]["responses"]) - {str(s) for s in statuses} - {"500", "503"}
            if unseen:
                tap.diag(f"{key} {template}: documented but not met here: {sorted(unseen)}")
    met = {s for _, _, s in spec.seen}
    for status in (304, 400, 401, 404, 405, 409, 413, 415, 422) + (() if CLUSTER else (429,)):
        tap.check(status in met, f"no answer with status {status} was checked")


def main():
    served = None
    spec = None
    ids = {}
    with Server(BIN, ["--max-body", str(MAX_BODY), "--bulk-max-body", str(BULK_MAX_BODY)]) as srv:
        served = tap.run("GET /openapi.json is the source file, byte for byte, and parses",
                         test_served_document, srv)
        if served is None:
            tap.stop_server(srv)
            tap.done()
        spec = Spec(json.loads(served.decode("utf-8")))
        c = Client(srv, tap, judge=spec, keep_alive=False)
        for name, fn in (
                ("articles: create, 401, 400, 415, 422, 409", scenario_articles),
                ("articles: list, pages, filters, drafts, get by id and slug, 304, categories",
                 scenario_article_reads),
                ("articles: merge patch and delete, with their errors", scenario_article_writes),
                ("articles: bulk NDJSON create, 401, 415, 413", scenario_bulk),
                ("comments: post, replies, errors", scenario_comments),
                ("comments: flat and tree lists, pages, get, errors", scenario_comment_reads),
                ("comments: moderation patch and delete", scenario_moderation),
                ("search: articles, comments, pages, refusals", scenario_search),
                ("changes: pages, keys, 304, 410, refusals", scenario_changes),
                ("events: a stream's head, HEAD, 400, 429", scenario_events),
                ("feeds: Atom, RSS and JSON Feed, filtered, 304", scenario_feeds),
                ("health, metrics, this document, the web page and its files",
                 scenario_operations),
                ("405 with the documented methods in Allow, on every path", scenario_not_allowed),
                ("413 over max-body on every operation with a body", scenario_too_large),
        ):
            tap.run(name + " agree with the document", fn, c, ids)
        tap.stop_server(srv)
    tap.run_single("429 with Retry-After, RateLimit-*, and /metrics 404 when off, agree with the "
                   "document", LIMITS_PER_PROCESS, scenario_limited, spec)
    tap.run("redocly lint passes on the served document without a complaint", test_lint, served)
    tap.run("every component of the document is used", test_components_used, spec.doc)
    tap.run("every operation was driven to a 2xx, every error status was met", test_coverage,
            spec)
    tap.done()


if __name__ == "__main__":
    main()
