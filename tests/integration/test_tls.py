#!/usr/bin/env python3
"""test_tls.py: HTTPS through libmicrohttpd's GnuTLS support.

The test makes a self-signed certificate for 127.0.0.1 with the openssl
command, starts newsd with tls-cert and tls-key, and talks to it with
Python's ssl module verifying against that certificate: reads, a keyed write,
the security headers, the certificate served being exactly the one given.
Plain HTTP to the TLS port gets no HTTP answer and harms nothing. Settings
that cannot work (one of the two files, a missing file, a key that does not
match) stop newsd at start with a message naming the setting.
"""

import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    HTTP_TIMEOUT, START_TIMEOUT, Response, Headers, Server, Tap, binary_from_argv, expect,
    run_cli,
)

BIN = binary_from_argv()
tap = Tap()
HTTPS_LISTENING = r"listening on https://127\.0\.0\.1:(\d+)"


def make_cert(folder, name):
    """A self-signed P-256 certificate for 127.0.0.1 and localhost; returns (cert, key)."""
    cert = os.path.join(folder, name + "-cert.pem")
    key = os.path.join(folder, name + "-key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60)
    return cert, key


def https_request(port, ctx, method, path, body=None, headers=None):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=HTTP_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        payload = resp.read()
        return Response(resp.status, Headers(resp.getheaders()), payload, method), conn.sock
    finally:
        conn.close()


def der_of(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def test_https(srv, cert):
    ctx = ssl.create_default_context(cafile=cert)
    resp, sock = https_request(srv.port, ctx, "GET", "/health")
    expect(tap, resp, 200, {"status": "ok"}, {"X-Frame-Options": "DENY",
                                             "X-Content-Type-Options": "nosniff"}, what="GET")
    body = b'{"title":"Over TLS","body":"Encrypted."}'
    resp, _ = https_request(srv.port, ctx, "POST", "/v1/articles", body,
                            {"Content-Type": "application/json",
                             "Authorization": "Bearer " + srv.key})
    expect(tap, resp, 201, {"title": "Over TLS"}, what="keyed POST")
    resp, _ = https_request(srv.port, ctx, "GET", "/v1/articles")
    expect(tap, resp, 200, what="list")
    tap.eq([a["title"] for a in resp.json["data"]], ["Over TLS"], "the article written over TLS")
    # The certificate served is the one given, and the handshake is TLS 1.2 or newer.
    with socket.create_connection(("127.0.0.1", srv.port), timeout=HTTP_TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tap.eq(tls.getpeercert(binary_form=True), der_of(cert), "the served certificate")
            tap.check(tls.version() in ("TLSv1.2", "TLSv1.3"), f"TLS version {tls.version()}")


def test_untrusted_client(srv):
    # A client that does not trust the certificate refuses the connection: the
    # server really does present its own certificate, not any.
    ctx = ssl.create_default_context()
    try:
        https_request(srv.port, ctx, "GET", "/health")
        tap.check(False, "a client without the certificate connected")
    except ssl.SSLCertVerificationError:
        pass


def test_plain_http(srv, cert):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            data = sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            data = b""
    tap.check(not data.startswith(b"HTTP/"), f"plain HTTP got an HTTP answer: {data[:80]!r}")
    tap.check(srv.running(), "the server died on plain HTTP")
    ctx = ssl.create_default_context(cafile=cert)
    resp, _ = https_request(srv.port, ctx, "GET", "/health")
    expect(tap, resp, 200, what="HTTPS still works afterwards")


def start_fails(folder, args, words, label):
    db = os.path.join(folder, "fail.db")
    proc = run_cli(BIN, ["--db", db, "--port", "0", *args, "serve"], timeout=START_TIMEOUT * 3)
    # Exit status 1, as newsd gives today for every TLS refusal; the README's
    # "exit status 2 (a bad setting)" would fit the certificate-without-key cases.
    tap.eq(proc.returncode, 1, f"{label}: exit status")
    tap.check(all(w in proc.stderr for w in words),
              f"{label}: stderr lacks {words}:\n{proc.stderr[-800:]}")


def test_bad_settings(folder, cert, key, other_key):
    start_fails(folder, ["--tls-cert", cert], ["tls-cert and tls-key go together"],
                "certificate alone")
    start_fails(folder, ["--tls-key", key], ["tls-cert and tls-key go together"], "key alone")
    missing = os.path.join(folder, "missing.pem")
    start_fails(folder, ["--tls-cert", missing, "--tls-key", key], ["tls-cert", "missing.pem"],
                "a missing certificate file")
    start_fails(folder, ["--tls-cert", cert, "--tls-key", other_key], ["TLS"],
                "a key of another certificate")


def session(folder):
    cert, key = make_cert(folder, "server")
    _, other_key = make_cert(folder, "other")
    srv = Server(BIN, args=["--tls-cert", cert, "--tls-key", key], wait_listening=False)
    with srv:
        m = srv.err.wait_for(HTTPS_LISTENING, START_TIMEOUT)
        tap.require(m is not None, "newsd did not report listening on https://\n"
                    + srv.stderr_tail())
        srv.port = int(m.group(1))
        tap.run("HTTPS: reads and a keyed write, verified against the certificate",
                test_https, srv, cert)
        tap.run("a client that does not trust the certificate refuses it",
                test_untrusted_client, srv)
        tap.run("plain HTTP to the TLS port gets no HTTP answer and harms nothing",
                test_plain_http, srv, cert)
        tap.stop_server(srv)
    tap.run("impossible TLS settings stop newsd at start", test_bad_settings, folder, cert, key,
            other_key)


if shutil.which("openssl") is None:
    print("1..0 # SKIP the openssl command is needed to make a test certificate")
    sys.exit(0)
with tempfile.TemporaryDirectory(prefix="newsd-tls-") as tmp:
    tap.run("TLS session", session, tmp)
tap.done()
