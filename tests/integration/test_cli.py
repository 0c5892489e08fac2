#!/usr/bin/env python3
"""test_cli.py: the newsd command line.

--help and --version, usage errors (exit 2), migrate, the key commands
(create, list, revoke), and where settings come from: a config file,
overridden by NEWSD_* variables, overridden by flags, each layer shown to win
over the one below it through something observable (the port and address
in the "listening on" line, which log lines appear, which database file is
created). Bad setting values exit 2 naming the setting.
"""

import os
import re
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    BACKEND, LISTENING, Re, Server, Tap, binary_from_argv, expect, free_port, http_request,
    run_cli, scratch_db, source_root, wait_until,
)

BIN = binary_from_argv(
    single="the command line and startup of one process (flags, config files, exit statuses)")
tap = Tap()

KEY = re.compile(r"^nd_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]+$")
UNAUTHORIZED = Re(r"^Bearer\b")
is_pg = BACKEND == "postgres"


def project_version():
    try:
        with open(os.path.join(source_root(), "meson.build"), encoding="utf-8") as f:
            m = re.search(r"version:\s*'([^']+)'", f.read())
        return m.group(1) if m else None
    except OSError:
        return None


def describe(proc):
    return f"exit {proc.returncode}\nstdout: {proc.stdout[-800:]!r}\nstderr: {proc.stderr[-800:]!r}"


def write_config(folder, name, lines):
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write("# written by test_cli.py\n\n" + "\n".join(lines) + "\n")
    return path


# ---- plain commands -------------------------------------------------------


def test_help():
    proc = run_cli(BIN, ["--help"])
    tap.eq(proc.returncode, 0, "--help exit status; " + describe(proc))
    for word in ("serve", "migrate", "import", "key", "--db", "--port", "--bind", "--log-level",
                 "--config", "NEWSD_DB", "NEWSD_PORT"):
        tap.check(word in proc.stdout, f"--help does not mention {word}")


def test_version():
    proc = run_cli(BIN, ["--version"])
    tap.eq(proc.returncode, 0, "--version exit status; " + describe(proc))
    version = project_version()
    if version:
        tap.check(version in proc.stdout, f"--version does not print {version}: {proc.stdout!r}")
    else:
        tap.check(re.search(r"\d+\.\d+\.\d+", proc.stdout), f"no version: {proc.stdout!r}")
    tap.check(len(proc.stdout.strip().splitlines()) <= 3, "--version prints more than a line or so")


def test_usage_errors(folder):
    db = os.path.join(folder, "usage.db")
    for args in (["frobnicate"], ["--frobnicate"], ["--db", db, "--frobnicate", "migrate"],
                 ["--db", db, "frobnicate"], ["--db", db, "--port"], ["--db", db, "key"],
                 ["--db", db, "key", "frobnicate"], ["--db", db, "key", "create"],
                 ["--db", db, "import"], ["--db", db, "serve", "extra"],
                 ["--db", db, "migrate", "extra"], ["--db", db, "key", "revoke"]):
        proc = run_cli(BIN, args)
        tap.check(proc.returncode == 2, f"{' '.join(args[2:] if args[0] == '--db' else args)}: "
                  + describe(proc))
        tap.check(proc.stderr.strip(), f"{args}: nothing on stderr")


def test_migrate(folder):
    # on SQLite a file in folders that do not exist yet; on PostgreSQL a new database
    db = os.path.join(folder, "a", "b", "c", "fresh.db") if not is_pg else scratch_db(folder, "m")
    proc = run_cli(BIN, ["--db", db, "migrate"])
    tap.eq(proc.returncode, 0, "first migrate; " + describe(proc))
    m = re.search(r"applied (\d+)", proc.stdout)
    tap.check(m and int(m.group(1)) >= 1, "first migrate applies at least one: " + describe(proc))
    if not is_pg:
        tap.check(os.path.isfile(db), "the database (and its parent folders) was not created")
    proc = run_cli(BIN, ["--db", db, "migrate"])
    tap.eq(proc.returncode, 0, "second migrate; " + describe(proc))
    m = re.search(r"applied (\d+)", proc.stdout)
    tap.check(m and int(m.group(1)) == 0, "second migrate applies 0: " + describe(proc))


def test_keys(folder):
    db = os.path.join(folder, "keys", "k.db") if not is_pg else scratch_db(folder, "k")
    proc = run_cli(BIN, ["--db", db, "key", "create", "editor"])
    tap.eq(proc.returncode, 0, "key create; " + describe(proc))
    lines = proc.stdout.strip().splitlines()
    tap.require(lines and KEY.match(lines[-1].strip()), "key alone on the last line: "
                + describe(proc))
    key = lines[-1].strip()
    again = run_cli(BIN, ["--db", db, "key", "create", "editor"])
    tap.check(again.returncode != 0, "a second key named editor: " + describe(again))
    tap.check(not any(KEY.match(l.strip()) for l in again.stdout.splitlines()),
              "a refused key create printed a key")
    for bad in ("", "x" * 65):
        proc = run_cli(BIN, ["--db", db, "key", "create", bad])
        tap.check(proc.returncode != 0, f"key create {bad[:10]!r}...: " + describe(proc))
    other = run_cli(BIN, ["--db", db, "key", "create", "second"]).stdout.strip().splitlines()[-1]
    proc = run_cli(BIN, ["--db", db, "key", "list"])
    tap.eq(proc.returncode, 0, "key list; " + describe(proc))
    tap.check("editor" in proc.stdout and "second" in proc.stdout, "key list lacks names: "
              + describe(proc))
    for k in (key, other):
        tap.check(k not in proc.stdout and k[16:] not in proc.stdout, "key list shows a key")
    return db, key, other


def test_revoke(db, key, other):
    proc = run_cli(BIN, ["--db", db, "key", "revoke", "editor"])
    tap.eq(proc.returncode, 0, "key revoke; " + describe(proc))
    listing = run_cli(BIN, ["--db", db, "key", "list"]).stdout
    tap.check("editor" not in listing and "second" in listing,
              f"key list after revoke: {listing!r}")
    proc = run_cli(BIN, ["--db", db, "key", "revoke", "editor"])
    tap.check(proc.returncode != 0, "revoking a missing key: " + describe(proc))
    with Server(BIN, db=db, key=False) as srv:
        body = {"title": "Key test", "body": "x"}
        expect(tap, srv.request("POST", "/v1/articles", body, auth="Bearer " + key), 401,
               headers={"WWW-Authenticate": UNAUTHORIZED}, what="revoked key")
        expect(tap, srv.request("POST", "/v1/articles", body, auth="Bearer " + other), 201,
               what="the other key")
        tap.stop_server(srv)


# ---- settings -------------------------------------------------------------


def listening(srv):
    m = srv.err.wait_for(LISTENING, 10)
    return (m.group(1), int(m.group(2))) if m else (None, None)


def serve(folder, name, args=(), env=None, wait=True):
    db = scratch_db(folder, name)
    return Server(BIN, args=list(args), env=env, db=db, key=False, port_flag=False,
                  wait_listening=wait)


def test_layers(folder):
    p1, p2, p3 = free_port(), free_port(), free_port()
    conf = write_config(folder, "layers.conf", [
        f"port = {p1}", "bind = 127.0.0.2", "log-level = error", "  # an indented comment",
    ])
    info = {"NEWSD_LOG_LEVEL": "info"}
    # The file alone sets port and address (the variable turns on info lines).
    with serve(folder, "l1", ["--config", conf], info) as srv:
        tap.eq(listening(srv), ("127.0.0.2", p1), "config file port and bind (env log-level)")
        tap.stop_server(srv, name="server from the config file exits 0")
    # Variables beat the file.
    with serve(folder, "l2", ["--config", conf],
               dict(info, NEWSD_PORT=str(p2), NEWSD_BIND="127.0.0.1")) as srv:
        tap.eq(listening(srv), ("127.0.0.1", p2), "NEWSD_PORT and NEWSD_BIND beat the file")
        expect(tap, srv.request("GET", "/health"), 200, what="health on the env port")
        tap.stop_server(srv, name="server from env exits 0")
    # Flags beat variables and the file.
    with serve(folder, "l3", ["--config", conf, "--port", str(p3), "--bind", "127.0.0.1"],
               dict(NEWSD_PORT=str(p2), NEWSD_BIND="127.0.0.3", NEWSD_LOG_LEVEL="error"),
               wait=False) as srv:
        srv.port = p3
        tap.check(wait_until(lambda: health_ok(p3), 10), "no server on the --port port")
        tap.check(not srv.err.wait_for(LISTENING, 0.5), "log-level error still logs info lines")
        tap.stop_server(srv, name="server with log-level error exits 0")
    with serve(folder, "l4", ["--config", conf, "--port", "0", "--log-level", "info"],
               {"NEWSD_PORT": str(p2), "NEWSD_LOG_LEVEL": "error", "NEWSD_BIND": "127.0.0.1"}) \
            as srv:
        addr, port = listening(srv)
        tap.check(addr == "127.0.0.1" and port not in (0, p1, p2),
                  f"--port 0 and --log-level info beat env and file: {addr}:{port}")
        tap.stop_server(srv, name="server from flags exits 0")


def health_ok(port):
    try:
        return http_request(port, "GET", "/health", timeout=1).status == 200
    except OSError:
        return False


def test_log_level_file(folder):
    port = free_port()
    conf = write_config(folder, "quiet.conf", [f"port = {port}", "log-level = warn",
                                               "bind = 127.0.0.1"])
    with serve(folder, "quiet", ["--config", conf], wait=False) as srv:
        tap.require(wait_until(lambda: health_ok(port), 10), "no server on the file's port\n"
                    + srv.stderr_tail())
        srv.port = port
        http_request(port, "GET", "/nope")
        tap.check(not srv.err.wait_for(r" (info|debug) ", 0.5),
                  "log-level warn from the file still logs info lines\n" + srv.stderr_tail())
        tap.stop_server(srv, name="quiet server exits 0")
    # The same file named by NEWSD_CONFIG, with a variable turning info back on.
    with serve(folder, "quiet2", [], {"NEWSD_CONFIG": conf, "NEWSD_LOG_LEVEL": "info"}) as srv:
        tap.eq(listening(srv), ("127.0.0.1", port), "NEWSD_CONFIG names the config file")
        tap.stop_server(srv, name="server from NEWSD_CONFIG exits 0")


def test_db_layers(folder):
    base = os.path.join(folder, "dbs")
    a, b, c = (os.path.join(base, n, "news.db") for n in ("file", "env", "flag"))
    conf = write_config(folder, "db.conf", [f"db = {a}"])
    proc = run_cli(BIN, ["--config", conf, "migrate"])
    tap.check(proc.returncode == 0 and os.path.isfile(a), "db from the file: " + describe(proc))
    proc = run_cli(BIN, ["--config", conf, "migrate"], {"NEWSD_DB": b})
    tap.check(proc.returncode == 0 and os.path.isfile(b), "NEWSD_DB beats the file: "
              + describe(proc))
    proc = run_cli(BIN, ["--config", conf, "--db", c, "key", "create", "layerkey"], {"NEWSD_DB": b})
    tap.check(proc.returncode == 0 and os.path.isfile(c), "--db beats NEWSD_DB: " + describe(proc))
    listed = run_cli(BIN, ["--db", c, "key", "list"]).stdout
    tap.check("layerkey" in listed, "the key did not go to the --db database")
    article = os.path.join(folder, "env-import.txt")
    with open(article, "w", encoding="utf-8") as f:
        f.write("Env import\n\nA body.\n")
    d = os.path.join(base, "import", "news.db")
    proc = run_cli(BIN, ["import", article], {"NEWSD_DB": d})
    tap.check(proc.returncode == 0 and os.path.isfile(d), "import honours NEWSD_DB: "
              + describe(proc))
    listed = run_cli(BIN, ["--db", b, "key", "list"])
    tap.check(listed.returncode == 0 and "layerkey" not in listed.stdout,
              "the key went to the NEWSD_DB database too: " + describe(listed))


def test_bad_values(folder):
    db = os.path.join(folder, "bad.db")
    cases = [
        (["--port", "abc"], {}, "port"),
        (["--port", "70000"], {}, "port"),
        (["--port", "-1"], {}, "port"),
        ([], {"NEWSD_PORT": "abc"}, "port"),
        (["--log-level", "loud"], {}, "log-level"),
        ([], {"NEWSD_LOG_LEVEL": "loud"}, "log"),
        ([], {"NEWSD_SYNCHRONOUS": "sometimes"}, "synchronous"),
        (["--max-body", "lots"], {}, "max-body"),
        (["--threads", "many"], {}, "threads"),
        (["--config", write_config(folder, "badport.conf", ["port = x"])], {}, "port"),
        (["--config", write_config(folder, "unknown.conf", ["colour = blue"])], {}, "colour"),
        (["--config", write_config(folder, "noeq.conf", ["port 8080"])], {}, "noeq.conf"),
    ]
    for args, env, word in cases:
        proc = run_cli(BIN, ["--db", db, *args, "migrate"], env)
        label = " ".join(args) or " ".join(f"{k}={v}" for k, v in env.items())
        tap.check(proc.returncode == 2, f"{label}: want exit 2; " + describe(proc))
        tap.check(word.lower() in proc.stderr.lower(), f"{label}: stderr does not name {word}: "
                  f"{proc.stderr!r}")
    missing = os.path.join(folder, "missing.conf")
    proc = run_cli(BIN, ["--db", db, "--config", missing, "migrate"])
    tap.check(proc.returncode != 0 and "missing.conf" in proc.stderr,
              "a missing config file: " + describe(proc))


def test_default_command(folder):
    with Server(BIN, db=os.path.join(folder, "default.db"), command=(), key=False) as srv:
        expect(tap, srv.request("GET", "/health"), 200, {"status": "ok"},
               what="serve is the default command")
        tap.stop_server(srv, name="default-command server exits 0")


def session():
    with tempfile.TemporaryDirectory(prefix="newsd-cli-") as folder:
        tap.run("--help", test_help)
        tap.run("--version", test_version)
        tap.run("usage errors exit 2", test_usage_errors, folder)
        tap.run("migrate: applied N, then applied 0; parent folders created", test_migrate,
                folder)
        keys = tap.run("key create and key list", test_keys, folder)
        if keys:
            tap.run("key revoke: the key gets 401", test_revoke, *keys)
        tap.run("settings: file < environment < flags", test_layers, folder)
        tap.run("log-level from the file; NEWSD_CONFIG", test_log_level_file, folder)
        tap.run("db: file < environment < flags, on every subcommand", test_db_layers, folder)
        tap.run("bad setting values exit 2 naming the setting", test_bad_values, folder)
        tap.run("serve is the default command", test_default_command, folder)


tap.run("cli session", session)
tap.done()
