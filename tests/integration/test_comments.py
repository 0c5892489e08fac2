#!/usr/bin/env python3
"""test_comments.py: the comment endpoints of a running newsd.

Posting (public), reading one and the list (oldest first, flat and as a
tree, paginated), validation, parents of other articles, drafts, deletion
with re-attachment of replies, cascade with the article, comment_count and
the per-address rate limit (429 + Retry-After).
"""

import http.client
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    CLUSTER, INT, LIMITS_PER_PROCESS, TIMESTAMP, Re, Server, Tap, binary_from_argv, case, contains,
    expect, settled,
)

BIN = binary_from_argv()
tap = Tap()

UNAUTHORIZED = Re(r"^Bearer\b")
STRONG_ETAG = Re(r'^"[^"]+"$')


def ids(items):
    return [item["id"] for item in items]


def shape(nodes):
    """A tree of comments as nested (id, [children]) pairs, for comparison."""
    return [(n["id"], shape(n.get("replies", "missing")) if isinstance(n.get("replies"), list)
             else "no replies array") for n in nodes]


def tree(srv, article_id, query="", auth=False):
    resp = srv.request("GET", f"/v1/articles/{article_id}/comments?view=tree{query}", auth=auth)
    tap.require(resp.status == 200, f"tree view: {resp}")
    return resp.json


def test_create_get(srv, art):
    path = f"/v1/articles/{art['id']}/comments"
    resp = srv.request("POST", path, {"author": "reader", "body": "First!"})
    want = {"id": INT, "article_id": art["id"], "parent_id": None, "author": "reader",
            "body": "First!", "status": "visible", "created_at": TIMESTAMP}
    expect(tap, resp, 201, want, what="POST comment")
    tap.require(resp.status == 201, "comment not created")
    c = resp.json
    tap.eq(set(c), set(want), "comment members")
    tap.eq(resp.headers.get("Location"), f"/v1/comments/{c['id']}", "Location")
    got = srv.request("GET", f"/v1/comments/{c['id']}")
    expect(tap, got, 200, headers={"ETag": STRONG_ETAG}, what="GET comment")
    tap.eq(got.json, c, "GET comment equals the POST answer")
    tag = got.headers.get("ETag") or '"x"'
    expect(tap, srv.request("GET", f"/v1/comments/{c['id']}", headers={"If-None-Match": tag}),
           304, empty_body=True, what="comment If-None-Match")
    expect(tap, srv.request("HEAD", f"/v1/comments/{c['id']}"), 200, empty_body=True,
           what="HEAD comment")
    trimmed = srv.request("POST", path, {"author": "  spaced  ", "body": "  text  "})
    expect(tap, trimmed, 201, {"author": "spaced"}, what="author trimmed")
    edge = srv.request("POST", path, {"author": "a" * 80, "body": "b" * 10000})
    expect(tap, edge, 201, what="author of 80 and body of 10000 characters")
    wide = srv.request("POST", path, {"author": "é" * 80, "body": "ü" * 10000})
    expect(tap, wide, 201, what="limits count characters, not bytes")
    emoji = srv.request("POST", path, {"author": "😀" * 80, "body": "🦀" * 10000})
    expect(tap, emoji, 201, {"author": "😀" * 80}, what="four-byte characters count as one")
    over = srv.request("POST", path, {"author": "😀" * 81, "body": "🦀" * 10001})
    expect(tap, over, 422, errors=["author", "body"], what="81 and 10001 four-byte characters")
    lst = srv.request("GET", path)
    ltag = lst.headers.get("ETag") or '"x"'
    expect(tap, srv.request("GET", path, headers={"If-None-Match": ltag}), 304, empty_body=True,
           what="comment list If-None-Match")
    srv.create_comment(art["id"], body="one more")
    expect(tap, settled(lambda: srv.request("GET", path, headers={"If-None-Match": ltag}),
                        lambda r: r.status == 200), 200,
           what="comment list ETag changes with a new comment")
    child = srv.request("POST", path, {"author": "r", "body": "reply", "parent_id": c["id"]})
    expect(tap, child, 201, {"parent_id": c["id"]}, what="reply")


def test_tree(srv):
    art = srv.create_article(title="Threaded", body="x")
    aid = art["id"]
    c1 = srv.create_comment(aid, body="c1")["id"]
    c2 = srv.create_comment(aid, body="c2", parent_id=c1)["id"]
    c3 = srv.create_comment(aid, body="c3", parent_id=c2)["id"]
    c4 = srv.create_comment(aid, body="c4")["id"]
    c5 = srv.create_comment(aid, body="c5", parent_id=c1)["id"]
    c6 = srv.create_comment(aid, body="c6", parent_id=c3)["id"]
    flat = srv.request("GET", f"/v1/articles/{aid}/comments")
    expect(tap, flat, 200, {"next_cursor": None}, headers={"ETag": STRONG_ETAG}, what="flat list")
    tap.eq(ids(flat.json["data"]), [c1, c2, c3, c4, c5, c6], "flat list oldest first")
    tap.eq([c.get("parent_id") for c in flat.json["data"]], [None, c1, c2, None, c1, c3],
           "flat list parent_id")
    got = tree(srv, aid)
    tap.eq(shape(got["data"]), [(c1, [(c2, [(c3, [(c6, [])])]), (c5, [])]), (c4, [])],
           "tree nests replies of replies, oldest first")
    tap.eq(got.get("next_cursor", "missing"), None, "tree next_cursor")
    # limit counts top-level comments in the tree view.
    page = tree(srv, aid, "&limit=1")
    tap.eq(shape(page["data"]), [(c1, [(c2, [(c3, [(c6, [])])]), (c5, [])])],
           "tree page of one top-level comment carries all its replies")
    tap.check(page.get("next_cursor"), "tree page of one has no next_cursor")
    return aid, (c1, c2, c3, c4, c5, c6)


def test_delete_reattach(srv, aid, cs):
    c1, c2, c3, c4, c5, c6 = cs
    expect(tap, srv.request("DELETE", f"/v1/comments/{c2}"), 401,
           headers={"WWW-Authenticate": UNAUTHORIZED}, what="DELETE comment without key")
    expect(tap, srv.request("DELETE", f"/v1/comments/{c2}", auth="Bearer nope"), 401,
           headers={"WWW-Authenticate": UNAUTHORIZED}, what="DELETE comment with a bad key")
    expect(tap, srv.request("DELETE", f"/v1/comments/{c2}", auth=True), 204, empty_body=True,
           what="DELETE comment")
    expect(tap, srv.request("GET", f"/v1/comments/{c2}"), 404, what="GET deleted comment")
    expect(tap, srv.request("DELETE", f"/v1/comments/{c2}", auth=True), 404,
           what="DELETE again")
    expect(tap, srv.request("GET", f"/v1/comments/{c3}"), 200, {"parent_id": c1},
           what="reply re-attached to the grandparent")
    tap.eq(shape(tree(srv, aid)["data"]), [(c1, [(c3, [(c6, [])]), (c5, [])]), (c4, [])],
           "tree after deleting a middle comment")
    expect(tap, srv.request("DELETE", f"/v1/comments/{c1}", auth=True), 204,
           what="DELETE top-level")
    expect(tap, srv.request("GET", f"/v1/comments/{c3}"), 200, {"parent_id": None},
           what="reply of a deleted top-level comment becomes top-level")
    tap.eq(shape(tree(srv, aid)["data"]), [(c3, [(c6, [])]), (c4, []), (c5, [])],
           "tree after deleting a top-level comment")
    expect(tap, srv.request("GET", f"/v1/articles/{aid}"), 200, {"comment_count": 4},
           what="comment_count after two deletions")


def test_pagination(srv):
    art = srv.create_article(title="Many comments", body="x")
    aid = art["id"]
    made = [srv.create_comment(aid, body=f"n{i}")["id"] for i in range(7)]
    path = f"/v1/articles/{aid}/comments?limit=3"
    items, pages = srv.walk(path)
    tap.eq(ids(items), made, "walk via next_cursor")
    tap.eq([len(p.json["data"]) for p in pages], [3, 3, 1], "page sizes")
    items, pages = srv.walk(path, via="link")
    tap.eq(ids(items), made, "walk via Link")
    link = pages[0].links().get("next", "")
    tap.check("limit=3" in link and "cursor=" in link, f"Link next: {link!r}")
    tap.check("next" not in pages[-1].links(), "last page has a Link next")
    # New comments arrive while a reader pages on: the old ones are seen once.
    added = []
    items, _ = srv.walk(path, between=lambda n: added.append(
        srv.create_comment(aid, body=f"late{n}")["id"]))
    seen = ids(items)
    tap.eq([i for i in seen if i in made], made, "each comment once while others are added")
    tap.check(len(seen) == len(set(seen)), f"repeated comments: {seen}")
    # Tree pagination: every top-level comment once, with its replies.
    for top in made[:4]:
        srv.create_comment(aid, body="r", parent_id=top)
    roots, _ = srv.walk(f"/v1/articles/{aid}/comments?view=tree&limit=2")
    tap.eq(ids(roots), made + added, "tree walk visits every top-level comment once")
    linked, _ = srv.walk(f"/v1/articles/{aid}/comments?view=tree&limit=2", via="link")
    tap.eq(linked, roots, "tree walk via Link (the Link keeps view=tree)")
    tap.eq([len(r["replies"]) for r in roots[:4]], [1, 1, 1, 1], "replies kept across pages")
    # A cursor of the comments list is not an articles cursor and vice versa.
    ccur = pages[0].json["next_cursor"]
    expect(tap, srv.request("GET", "/v1/articles?cursor=" + ccur), 400,
           what="comments cursor on the articles list")
    acur = srv.request("GET", "/v1/articles?limit=1").json["next_cursor"]
    if acur:
        expect(tap, srv.request("GET", f"/v1/articles/{aid}/comments?cursor={acur}"), 400,
               what="articles cursor on the comments list")


def error_cases(ctx):
    post = "/v1/articles/{aid}/comments"
    ok = {"author": "reader", "body": "text"}
    return [
        case("view=bogus: 400", "GET", post + "?view=bogus", status=400),
        case("limit=0: 400", "GET", post + "?limit=0", status=400),
        case("limit=101: 400", "GET", post + "?limit=101", status=400),
        case("bad cursor: 400", "GET", post + "?cursor=%21%21", status=400),
        case("comments of a missing article: 404", "GET", "/v1/articles/999999/comments",
             status=404),
        case("post to a missing article: 404", "POST", "/v1/articles/999999/comments", ok,
             status=404),
        case("comments of a draft without key: 404", "GET", "/v1/articles/{draft}/comments",
             status=404),
        case("post to a draft without key: 404", "POST", "/v1/articles/{draft}/comments", ok,
             status=404),
        case("comments of a draft with key: 200", "GET", "/v1/articles/{draft}/comments",
             status=200, auth=True, json={"data": []}),
        case("parent of another article: 422", "POST", post, dict(ok, parent_id=ctx["other_c"]),
             status=422, errors=["parent_id"]),
        case("missing parent: 422", "POST", post, dict(ok, parent_id=999999), status=422,
             errors=["parent_id"]),
        case("every bad field at once: 422", "POST", post,
             {"author": "a" * 81, "body": "b" * 10001, "bogus": 1, "parent_id": "abc"},
             status=422, errors=["author", "body", "bogus", "parent_id"]),
        case("wrong types: 422", "POST", post, {"author": 123, "body": ["x"]}, status=422,
             errors=["author", "body"]),
        case("missing author and body: 422", "POST", post, {}, status=422,
             errors=["author", "body"]),
        case("blank author, empty body: 422", "POST", post, {"author": "  ", "body": ""},
             status=422, errors=["author", "body"]),
        case("read-only fields: 422", "POST", post,
             dict(ok, article_id=1, status="hidden", id=3, created_at="2025-01-01T00:00:00Z"),
             status=422, errors=["article_id", "status", "id", "created_at"]),
        case("control character in author: 422", "POST", post, dict(ok, author="a\u0001b"),
             status=422, errors=["author"]),
        case("fractional parent_id: 422", "POST", post, dict(ok, parent_id=1.5), status=422,
             errors=["parent_id"]),
        case("boolean parent_id: 422", "POST", post, dict(ok, parent_id=True), status=422,
             errors=["parent_id"]),
        case("zero parent_id: 422", "POST", post, dict(ok, parent_id=0), status=422,
             errors=["parent_id"]),
        case("negative parent_id: 422", "POST", post, dict(ok, parent_id=-3), status=422,
             errors=["parent_id"]),
        case("null parent_id: top-level", "POST", post, dict(ok, parent_id=None), status=201,
             json={"parent_id": None}),
        case("array body: 422", "POST", post, [ok], status=422, errors=[""]),
        case("malformed JSON: 400", "POST", post, raw=b'{"author":', status=400),
        case("duplicate keys: 400", "POST", post,
             raw=b'{"author":"a","author":"b","body":"c"}', status=400),
        case("text/plain: 415", "POST", post, raw=b'{"author":"a","body":"b"}', status=415,
             headers={"Content-Type": "text/plain"}),
        case("GET /v1/comments/abc: 400", "GET", "/v1/comments/abc", status=400),
        case("GET /v1/comments/0: 400", "GET", "/v1/comments/0", status=400),
        case("DELETE /v1/comments/abc: 400", "DELETE", "/v1/comments/abc", status=400,
             auth=True),
        case("GET missing comment: 404", "GET", "/v1/comments/999999", status=404),
        case("DELETE missing comment: 404", "DELETE", "/v1/comments/999999", status=404,
             auth=True),
    ]


def run_error_cases(srv):
    base = srv.create_article(title="Errors", body="x")
    other = srv.create_article(title="Other article", body="x")
    draft = srv.create_article(title="Draft article", body="x", status="draft")
    ctx = {"aid": base["id"], "draft": draft["id"],
           "other_c": srv.create_comment(other["id"])["id"]}
    tap.cases(srv, error_cases(ctx), ctx)
    tap.run("rejected comments are not stored", lambda: expect(
        tap, srv.request("GET", f"/v1/articles/{base['id']}"), 200, {"comment_count": 1},
        what="only the top-level comment with a null parent_id counts"))

    # Only an id names the article of a comment list (a slug does not): a
    # malformed id where only an id is allowed is 400, as for PATCH/DELETE.
    tap.run("comments under a non-id path: 400", lambda: expect(
        tap, srv.request("GET", "/v1/articles/x-y/comments"), 400,
        {"detail": contains("positive decimal integer")}, what="comments under a non-id path"))


def test_draft_visible_with_key(srv):
    draft = srv.create_article(title="Draft with comments", body="x", status="draft")
    resp = srv.request("POST", f"/v1/articles/{draft['id']}/comments",
                       {"author": "editor", "body": "note"}, auth=True)
    expect(tap, resp, 201, what="posting to a draft with a key")
    if resp.status == 201:
        expect(tap, srv.request("GET", f"/v1/comments/{resp.json['id']}"), 404,
               what="a draft's comment is hidden without a key")
        expect(tap, srv.request("GET", f"/v1/comments/{resp.json['id']}", auth=True), 200,
               what="a draft's comment with a key")


def test_cascade(srv):
    art = srv.create_article(title="Doomed", body="x")
    c1 = srv.create_comment(art["id"])["id"]
    c2 = srv.create_comment(art["id"], parent_id=c1)["id"]
    expect(tap, srv.request("GET", f"/v1/articles/{art['id']}"), 200, {"comment_count": 2})
    expect(tap, srv.request("DELETE", f"/v1/articles/{art['id']}", auth=True), 204)
    for cid in (c1, c2):
        expect(tap, srv.request("GET", f"/v1/comments/{cid}"), 404,
               what=f"comment {cid} of a deleted article")
    expect(tap, srv.request("GET", f"/v1/articles/{art['id']}/comments"), 404,
           what="comment list of a deleted article")


def test_rate_limit(srv):
    art = srv.create_article(title="Limited", body="x")
    path = f"/v1/articles/{art['id']}/comments"
    for i in range(2):
        expect(tap, srv.request("POST", path, {"author": "a", "body": f"b{i}"}), 201,
               what=f"comment {i + 1} within the burst")
    resp = srv.request("POST", path, {"author": "a", "body": "over"})
    expect(tap, resp, 429, headers={"Retry-After": Re(r"^\d+$")}, what="over the limit")
    ra = resp.headers.get("Retry-After")
    if ra and ra.isdigit():
        tap.check(1 <= int(ra) <= 60, f"Retry-After {ra} for one comment a minute")
    expect(tap, srv.request("GET", path), 200, {"data": [{}, {}]},
           what="reading is not limited, the refused comment was not stored")
    # The bucket is per client address: another loopback address may still post.
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10,
                                      source_address=("127.0.0.2", 0))
    try:
        resp = srv.request("POST", path, {"author": "b", "body": "elsewhere"}, conn=conn)
    finally:
        conn.close()
    expect(tap, resp, 201, what="a comment from another address")
    expect(tap, srv.request("POST", path, {"author": "a", "body": "still over"}), 429,
           what="the first address is still limited")
    expect(tap, srv.request("GET", f"/v1/articles/{art['id']}"), 200, {"comment_count": 3})


def main_session():
    with Server(BIN) as srv:
        art = srv.create_article(title="Commented", body="x")
        tap.run("create, get, If-None-Match, reply", test_create_get, srv, art)
        result = tap.run("flat and tree views", test_tree, srv)
        if result:
            tap.run("DELETE re-attaches replies", test_delete_reattach, srv, *result)
        tap.run("pagination with cursors", test_pagination, srv)
        run_error_cases(srv)
        tap.run("drafts' comments with a key", test_draft_visible_with_key, srv)
        tap.run("deleting the article deletes its comments", test_cascade, srv)
        tap.stop_server(srv)


def rate_session():
    env = {"NEWSD_COMMENT_RATE": "1", "NEWSD_COMMENT_BURST": "2"}
    if CLUSTER:
        tap.run_single("rate limit: 429 with Retry-After", LIMITS_PER_PROCESS, None)
        return
    with Server(BIN, env=env) as srv:
        tap.run("rate limit: 429 with Retry-After", test_rate_limit, srv)
        tap.stop_server(srv)


tap.run("comments session", main_session)
tap.run("rate-limited session", rate_session)
tap.done()
