#!/usr/bin/env python3
"""test_compression.py: gzip of answers over 1 KiB, through the real server.

A client that accepts gzip gets answers over 1 KiB gzip-encoded, with
Vary: Accept-Encoding and an ETag of their own ("...-gz6", the level), also when the
answer comes from the response cache; one that does not gets the same
bytes unencoded, with Vary too. Small answers are never encoded and do not
vary. Conditional requests match the ETag of the encoding they ask for.
"""

import gzip
import hashlib
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Tap, binary_from_argv, serve, settled  # noqa: E402

BIN = binary_from_argv()
tap = Tap()
LIST = "/v1/articles?limit=50"
GZ = {"Accept-Encoding": "gzip"}


def seed(srv, n=12):
    for i in range(n):
        srv.create_article(title=f"Compressed article {i}",
                           summary="A summary long enough to make the list page large. " * 3,
                           body="Body text of a compressed article. " * 40)


def get(srv, path, headers=None, method="GET"):
    return srv.request(method, path, headers=headers)


def test_gzip_answer(srv):
    plain = get(srv, LIST)
    packed = get(srv, LIST, GZ)
    tap.eq(plain.status, 200, "identity GET")
    tap.check(len(plain.body) > 1024, f"the list page is over 1 KiB ({len(plain.body)} bytes)")
    tap.eq(packed.headers.get("Content-Encoding"), "gzip", "gzip accepted: Content-Encoding gzip")
    tap.eq(gzip.decompress(packed.body), plain.body, "it inflates to the identity bytes")
    tap.check(len(packed.body) < len(plain.body) / 2,
              f"and is much smaller ({len(packed.body)} of {len(plain.body)} bytes)")
    tap.eq(int(packed.headers.get("Content-Length")), len(packed.body),
           "Content-Length is the encoded length")
    tap.eq(plain.headers.get("Content-Encoding"), None, "no Content-Encoding without gzip")
    for resp, what in ((plain, "identity"), (packed, "gzip")):
        tap.eq(resp.headers.get("Vary"), "Accept-Encoding", f"{what} answer has Vary")
    ident_tag, gz_tag = plain.headers.get("ETag"), packed.headers.get("ETag")
    tap.eq(gz_tag, ident_tag[:-1] + '-gz6"', "the gzip ETag is the identity one with -gz6")
    tap.eq(packed.headers.get("Content-Type"), plain.headers.get("Content-Type"),
           "the Content-Type does not change")


def test_conditional(srv):
    plain, packed = get(srv, LIST), get(srv, LIST, GZ)
    ident_tag, gz_tag = plain.headers.get("ETag"), packed.headers.get("ETag")
    r = get(srv, LIST, {"Accept-Encoding": "gzip", "If-None-Match": gz_tag})
    tap.eq(r.status, 304, "the gzip ETag with gzip accepted: 304")
    tap.eq(r.headers.get("ETag"), gz_tag, "the 304 names the gzip ETag")
    tap.eq(r.headers.get("Vary"), "Accept-Encoding", "the 304 carries Vary")
    tap.eq(r.body, b"", "and no body")
    tap.eq(get(srv, LIST, {"If-None-Match": ident_tag}).status, 304,
           "the identity ETag without gzip: 304")
    r = get(srv, LIST, {"If-None-Match": gz_tag})
    tap.eq(r.status, 200, "the gzip ETag when asking for identity: 200")
    tap.eq(r.body, plain.body, "with the identity bytes")
    r = get(srv, LIST, {"Accept-Encoding": "gzip", "If-None-Match": ident_tag})
    tap.eq((r.status, r.headers.get("Content-Encoding")), (200, "gzip"),
           "the identity ETag when asking for gzip: a 200 in gzip")
    r = get(srv, LIST, {"Accept-Encoding": "gzip", "If-None-Match": f'"x", {gz_tag}'})
    tap.eq(r.status, 304, "a list of tags naming the gzip one: 304")


def test_cache_variants(srv):
    """Both encodings of one URL are cached apart and never served to the other."""
    order = [GZ, None, GZ, None, {"Accept-Encoding": "br"}, GZ]
    want = gzip.decompress(get(srv, LIST, GZ).body)
    for i, hdrs in enumerate(order):
        r = get(srv, LIST, hdrs)
        coded = r.headers.get("Content-Encoding")
        body = gzip.decompress(r.body) if coded == "gzip" else r.body
        tap.eq((coded, body), ("gzip" if hdrs is GZ else None, want),
               f"read {i} ({hdrs}) answers its own encoding of the same page")
    srv.create_article(title="A new first article", body="x " * 600)
    r = settled(lambda: get(srv, LIST, GZ),
                lambda r: b"A new first article" in gzip.decompress(r.body))
    tap.check(b"A new first article" in gzip.decompress(r.body),
              "after a write the gzip variant is fresh too")


def test_accept_encoding_forms(srv):
    cases = [
        ("gzip", True), ("GZIP", True), ("x-gzip", True), ("deflate, gzip;q=0.5", True),
        ("*", True), ("gzip;q=0", False), ("identity", False), ("br", False),
        ("gzip;q=0, *", False), ("*;q=0", False), ("", False),
    ]
    for value, coded in cases:
        r = get(srv, LIST, {"Accept-Encoding": value})
        tap.eq(r.headers.get("Content-Encoding"), "gzip" if coded else None,
               f"Accept-Encoding: {value!r}")


def test_small_and_head(srv):
    r = get(srv, "/health", GZ)
    tap.eq((r.status, r.headers.get("Content-Encoding"), r.headers.get("Vary")),
           (200, None, None), "a small answer is neither encoded nor varies")
    full = get(srv, LIST, GZ)
    head = get(srv, LIST, GZ, method="HEAD")
    tap.eq(head.body, b"", "HEAD has no body")
    tap.eq(head.headers.get("Content-Length"), full.headers.get("Content-Length"),
           "HEAD announces the encoded length")
    tap.eq(head.headers.get("ETag"), full.headers.get("ETag"), "and the gzip ETag")


def test_other_answers(srv):
    r = get(srv, "/openapi.json", GZ)
    plain = get(srv, "/openapi.json")
    if len(plain.body) > 1024:
        tap.eq(r.headers.get("Content-Encoding"), "gzip", "the OpenAPI document is gzipped")
        tap.eq(gzip.decompress(r.body), plain.body, "and inflates to the document")
    else:
        tap.check(False, "the OpenAPI document is over 1 KiB")
    # a problem document over 1 KiB (422 listing many bad fields)
    bad = {"title": 5, "body": 6, "summary": 7, "category": 8, "tags": "x" * 2000, "status": 9}
    r = srv.request("POST", "/v1/articles", bad, auth=True,
                    headers={"Accept-Encoding": "gzip"})
    tap.eq(r.status, 422, "a bad article: 422")
    body = gzip.decompress(r.body) if r.headers.get("Content-Encoding") == "gzip" else r.body
    tap.check(b'"errors"' in body, "the problem document arrives whole, encoded or not")


def test_embedded_files(srv):
    """Files made at build time: the ETag the server would make, gzip at level 9, 304s."""
    for path in ("/", "/assets/app.js", "/assets/style.css", "/openapi.json"):
        plain, packed = get(srv, path), get(srv, path, GZ)
        tag = '"' + hashlib.blake2b(plain.body, digest_size=16).hexdigest() + '"'
        tap.eq(plain.headers.get("ETag"), tag, f"{path}: the ETag is the hash of its bytes")
        tap.eq((packed.headers.get("Content-Encoding"), packed.headers.get("ETag")),
               ("gzip", tag[:-1] + '-gz9"'), f"{path}: gzip at level 9 with its own ETag")
        tap.eq(gzip.decompress(packed.body), plain.body, f"{path}: the gzip bytes inflate to it")
        tap.eq(packed.headers.get("Vary"), "Accept-Encoding", f"{path}: Vary")
        for hdrs, etag in ((GZ, packed.headers.get("ETag")), (None, tag)):
            r = get(srv, path, dict(hdrs or {}, **{"If-None-Match": etag}))
            tap.eq(r.status, 304, f"{path}: 304 for {etag}")
            tap.eq(r.headers.get("Cache-Control"), "no-cache", f"{path}: the 304 keeps Cache-Control")
        head = get(srv, path, GZ, method="HEAD")
        tap.eq((head.body, head.headers.get("Content-Length")),
               (b"", str(len(packed.body))), f"{path}: HEAD announces the gzip length")


def test_encoded_request(srv):
    raw = gzip.compress(json.dumps({"title": "Zipped", "body": "x"}).encode())
    r = srv.request("POST", "/v1/articles", raw=raw, auth=True,
                    headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    tap.eq(r.status, 415, "a gzip-encoded request body: 415")
    tap.eq(r.headers.get("Accept-Encoding"), "identity", "naming the coding newsd takes")
    tap.check("Zipped" not in [a["title"] for a in get(srv, LIST).json["data"]],
              "and nothing was stored")


def test_level_zero():
    with Server(BIN, ["--gzip-level", "0"]) as srv:
        seed(srv)
        r = get(srv, LIST, GZ)
        tap.eq((r.status, r.headers.get("Content-Encoding"), r.headers.get("Vary")),
               (200, None, None), "gzip-level 0: never encoded, never varies")
        tap.stop_server(srv)


def main():
    serve(tap, BIN, [
        ("gzip answer, Vary and its ETag", test_gzip_answer),
        ("If-None-Match per encoding", test_conditional),
        ("the cache keeps both encodings apart", test_cache_variants),
        ("forms of Accept-Encoding", test_accept_encoding_forms),
        ("small answers and HEAD", test_small_and_head),
        ("documents and problems", test_other_answers),
        ("an encoded request body", test_encoded_request),
        ("embedded files: build-time ETags and gzip", test_embedded_files),
    ], setup=seed)
    tap.run("gzip-level 0", test_level_zero)
    tap.done()


if __name__ == "__main__":
    main()
