#!/usr/bin/env python3
"""test_tls.py: HTTPS through libmicrohttpd's GnuTLS support.

The test makes a self-signed certificate for 127.0.0.1 with the openssl
command, starts newsd with tls-cert and tls-key, and talks to it with
Python's ssl module verifying against that certificate: reads, a keyed write,
the security headers, the certificate served being exactly the one given.
Plain HTTP to the TLS port gets no HTTP answer and harms nothing. Settings
that cannot work (one of the two files, a missing file, a key that does not
match, a priority string GnuTLS refuses) stop newsd at start with a message
naming the setting.

The cipher policy (tls-priorities): by default TLS 1.0 and 1.1 are refused
(Python's ssl with its security level lowered to 0, so that the client
offers them), and so are weak suites at TLS 1.2: CBC, 3DES, RC4, NULL and
export suites, each offered alone in a ClientHello written byte by byte, so
that what is offered does not depend on what the client library still
builds. TLS 1.2 and 1.3 work with each strong suite, and the server's order
wins over the client's (the client offers it reversed). A server whose
tls-priorities (from NEWSD_TLS_PRIORITIES) allows the old versions and
suites takes the very same clients and ClientHellos, which shows that the
refusals are the server's; one whose setting (from a config file) puts
AES-128-GCM first chooses it.
"""

import contextlib
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import struct
import sys
import tempfile
import warnings

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    HTTP_TIMEOUT, START_TIMEOUT, Response, Headers, Server, Tap, binary_from_argv, expect,
    run_cli,
)

BIN = binary_from_argv(
    single="newsd's own TLS listener; haproxy speaks plain HTTP to the instances")
tap = Tap()
HTTPS_LISTENING = r"listening on https://127\.0\.0\.1:(\d+)"

# Suites a server's order decides between: (OpenSSL name, TLS 1.3 name), in the
# default order of tls-priorities.
STRONG_TLS12 = ["ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305",
                "ECDHE-ECDSA-AES128-GCM-SHA256"]
STRONG_TLS13 = ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                "TLS_AES_128_GCM_SHA256"]
# Weak TLS 1.2 suites by their IANA numbers, each group offered alone.
WEAK_SUITES = {
    "CBC (ECDHE-ECDSA with AES-CBC)": [0xC009, 0xC00A, 0xC023, 0xC024],
    "3DES": [0xC008],
    "RC4": [0xC007],
    "NULL (no encryption)": [0xC006],
    "export": [0x0003, 0x0006, 0x0008, 0x0014, 0x0017, 0x0019],
}
GOOD_SUITE = 0xC02B  # ECDHE-ECDSA-AES128-GCM-SHA256
# Everything the default refuses, for the server that shows the refusals are policy.
LEGACY_PRIORITIES = ("NORMAL:+VERS-TLS1.1:+VERS-TLS1.0:+3DES-CBC:+ARCFOUR-128:+NULL:+SHA1:"
                     "%SERVER_PRECEDENCE")
AES128_FIRST = ("NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:"
                "+CHACHA20-POLY1305:+AES-256-GCM:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:"
                "%SERVER_PRECEDENCE")


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


# ---- the cipher policy ----------------------------------------------------


def old_client(cert, version, ciphers="ALL"):
    """A client context pinned to one TLS version, offering ciphers at security
    level 0, so that the client itself refuses nothing old."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cert)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1 and TLSv1_1 are, on purpose
        ctx.minimum_version = version
        ctx.maximum_version = version
    ctx.set_ciphers(ciphers + ":@SECLEVEL=0")
    return ctx


def handshake(port, ctx):
    """(TLS version, cipher name) of a completed handshake, or None when refused."""
    with socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                return tls.version(), tls.cipher()[0]
        except (ssl.SSLError, ConnectionResetError):
            return None


def client_hello(suites):
    """A TLS 1.2 ClientHello offering exactly suites (IANA numbers), with the
    extensions an ECDSA P-256 server needs."""
    body = struct.pack(">H", 0x0303) + os.urandom(32) + b"\x00"
    offered = b"".join(struct.pack(">H", s) for s in suites)
    body += struct.pack(">H", len(offered)) + offered + b"\x01\x00"
    groups = struct.pack(">HH", 2, 0x0017)  # secp256r1
    sigs = [0x0403, 0x0503, 0x0603, 0x0203, 0x0401, 0x0201]
    algs = struct.pack(">H", 2 * len(sigs)) + b"".join(struct.pack(">H", a) for a in sigs)
    ext = struct.pack(">HH", 0x000A, len(groups)) + groups
    ext += struct.pack(">HH", 0x000B, 2) + b"\x01\x00"  # uncompressed points
    ext += struct.pack(">HH", 0x000D, len(algs)) + algs
    ext += struct.pack(">HH", 0xFF01, 1) + b"\x00"  # renegotiation_info
    body += struct.pack(">H", len(ext)) + ext
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack(">H", len(message)) + message


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        part = sock.recv(n - len(data))
        if not part:
            break
        data += part
    return data


def chosen_suite(port, suites):
    """The suite of the server's ServerHello to a ClientHello offering suites,
    or None when it answers with an alert or closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(client_hello(suites))
        try:
            head = recv_exact(sock, 5)
        except ConnectionResetError:
            return None
        if len(head) < 5 or head[0] != 0x16:
            return None
        record = recv_exact(sock, struct.unpack(">H", head[3:5])[0])
        if len(record) < 39 or record[0] != 2:
            return None
        sid = record[38]
        return struct.unpack(">H", record[39 + sid:41 + sid])[0]


def s_client_tls13(port, cert, suites):
    """The TLS 1.3 suite openssl s_client ends up with when it offers suites
    in that order, or None when the handshake fails."""
    proc = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3", "-ciphersuites",
         ":".join(suites), "-CAfile", cert, "-verify_return_error", "-brief"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.startswith("Ciphersuite: ") and proc.returncode == 0:
            return line.split(": ", 1)[1].strip()
    return None


def test_old_versions(port, cert, refused):
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        got = handshake(port, old_client(cert, version))
        if refused:
            tap.eq(got, None, f"{version.name} handshake")
        else:
            tap.check(got is not None and got[0] == version.name.replace("_", "."),
                      f"{version.name} handshake with the legacy setting: {got}")
    got = handshake(port, old_client(cert, ssl.TLSVersion.TLSv1_2))
    tap.check(got is not None, "the same client at TLS 1.2 connects")


def test_weak_suites(port, cert, refused):
    tap.eq(chosen_suite(port, [GOOD_SUITE]), GOOD_SUITE, "the hand-made ClientHello works")
    for name, suites in WEAK_SUITES.items():
        got = chosen_suite(port, suites)
        if refused or name == "export":  # GnuTLS has no export suites at all
            tap.eq(got, None, f"{name} suites offered alone: the suite chosen")
        else:
            tap.check(got in suites, f"{name} with the legacy setting: chose {got}")
    # Python's ssl at TLS 1.2, offering only the CBC and NULL suites it still has
    for ciphers in ("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:"
                    "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-NULL-SHA"):
        got = handshake(port, old_client(cert, ssl.TLSVersion.TLSv1_2, ciphers))
        if refused:
            tap.eq(got, None, f"Python's ssl offering {ciphers}")
        else:
            tap.check(got is not None, f"{ciphers} with the legacy setting: {got}")


def test_strong_suites(port, cert):
    for name in STRONG_TLS12:
        got = handshake(port, old_client(cert, ssl.TLSVersion.TLSv1_2, name))
        tap.eq(got, ("TLSv1.2", name), f"TLS 1.2 offering only {name}")
    for name in STRONG_TLS13:
        tap.eq(s_client_tls13(port, cert, [name]), name, f"TLS 1.3 offering only {name}")


def test_server_order(port, cert, first12, first13):
    reversed12 = ":".join(reversed(STRONG_TLS12))
    got = handshake(port, old_client(cert, ssl.TLSVersion.TLSv1_2, reversed12))
    tap.eq(got, ("TLSv1.2", first12), f"TLS 1.2, client offering {reversed12}")
    rev13 = list(reversed(STRONG_TLS13))
    tap.eq(s_client_tls13(port, cert, rev13), first13, f"TLS 1.3, client offering {rev13}")
    forward = ":".join(STRONG_TLS12)
    got = handshake(port, old_client(cert, ssl.TLSVersion.TLSv1_2, forward))
    tap.eq(got, ("TLSv1.2", first12), f"TLS 1.2, client offering {forward}")


@contextlib.contextmanager
def https_server(cert, key, args=(), env=None):
    """A started TLS server for a with-block, which stops it."""
    with Server(BIN, args=["--tls-cert", cert, "--tls-key", key, *args], env=env,
                wait_listening=False) as srv:
        m = srv.err.wait_for(HTTPS_LISTENING, START_TIMEOUT)
        if m is None:
            raise RuntimeError("newsd did not report listening on https://\n" + srv.stderr_tail())
        srv.port = int(m.group(1))
        yield srv


def legacy_session(cert, key):
    with https_server(cert, key, env={"NEWSD_TLS_PRIORITIES": LEGACY_PRIORITIES}) as srv:
        tap.run("legacy NEWSD_TLS_PRIORITIES: TLS 1.0 and 1.1 connect", test_old_versions,
                srv.port, cert, False)
        tap.run("legacy NEWSD_TLS_PRIORITIES: the weak suites are chosen", test_weak_suites,
                srv.port, cert, False)
        tap.stop_server(srv)


def order_session(folder, cert, key):
    conf = os.path.join(folder, "order.conf")
    with open(conf, "w") as f:
        f.write(f"# AES-128-GCM first\ntls-priorities = {AES128_FIRST}\n")
    with https_server(cert, key, args=["--config", conf]) as srv:
        tap.run("tls-priorities from a config file: its order wins", test_server_order, srv.port,
                cert, "ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256")
        tap.stop_server(srv)


def start_fails(folder, args, words, label, status):
    db = os.path.join(folder, "fail.db")
    proc = run_cli(BIN, ["--db", db, "--port", "0", *args, "serve"], timeout=START_TIMEOUT * 3)
    # Exit status 2 for a bad setting (systemd does not restart it).
    tap.eq(proc.returncode, status, f"{label}: exit status")
    tap.check(all(w in proc.stderr for w in words),
              f"{label}: stderr lacks {words}:\n{proc.stderr[-800:]}")


def test_bad_settings(folder, cert, key, other_key):
    start_fails(folder, ["--tls-cert", cert], ["tls-cert and tls-key go together"],
                "certificate alone", status=2)
    start_fails(folder, ["--tls-key", key], ["tls-cert and tls-key go together"], "key alone",
                status=2)
    missing = os.path.join(folder, "missing.pem")
    start_fails(folder, ["--tls-cert", missing, "--tls-key", key], ["tls-cert", "missing.pem"],
                "a missing certificate file", status=2)
    start_fails(folder, ["--tls-cert", cert, "--tls-key", missing], ["tls-key", "missing.pem"],
                "a missing key file", status=2)
    empty = os.path.join(folder, "empty.pem")
    open(empty, "w").close()
    start_fails(folder, ["--tls-cert", empty, "--tls-key", key], ["tls-cert", "empty.pem"],
                "an empty certificate file", status=2)
    start_fails(folder, ["--tls-cert", cert, "--tls-key", other_key],
                ["tls-key is not the key of the tls-cert certificate"],
                "a key of another certificate", status=2)
    start_fails(folder, ["--tls-cert", cert, "--tls-key", cert],
                ["GnuTLS cannot use tls-cert and tls-key"], "a certificate given as the key",
                status=2)
    start_fails(folder, ["--tls-cert", cert, "--tls-key", key, "--tls-priorities",
                         "NORMAL:+TLS-FOO:%SERVER_PRECEDENCE"],
                ["--tls-priorities", "GnuTLS refuses the priority string at \"+TLS-FOO\""],
                "a priority string GnuTLS refuses", status=2)  # a bad setting, as for every one
    start_fails(folder, ["--tls-priorities", "NORMAL:-CIPHER-ALL"],
                ["tls-priorities", "leaves GnuTLS nothing to offer"],
                "a priority string without ciphers", status=2)


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
        tap.run("TLS 1.0 and 1.1 are refused", test_old_versions, srv.port, cert, True)
        tap.run("weak suites at TLS 1.2 are refused", test_weak_suites, srv.port, cert, True)
        tap.run("TLS 1.2 and 1.3 with each strong suite", test_strong_suites, srv.port, cert)
        tap.run("the server's order wins over the client's", test_server_order, srv.port, cert,
                STRONG_TLS12[0], STRONG_TLS13[0])
        tap.stop_server(srv)
    tap.run("legacy session", legacy_session, cert, key)
    tap.run("server order session", order_session, folder, cert, key)
    tap.run("impossible TLS settings stop newsd at start", test_bad_settings, folder, cert, key,
            other_key)


if shutil.which("openssl") is None:
    print("1..0 # SKIP the openssl command is needed to make a test certificate")
    sys.exit(0)
with tempfile.TemporaryDirectory(prefix="newsd-tls-") as tmp:
    tap.run("TLS session", session, tmp)
tap.done()
