#!/usr/bin/env python3
"""test_postgres_faults.py: newsd on PostgreSQL when the database fails.

The test runs a PostgreSQL server of its own (scripts/pg-cluster in a short
temporary folder, a port of its own), which it stops, kills and starts
again under the real newsd binary:

- down when newsd starts: newsd serves anyway, every request is a 503 with
  Retry-After, /health says the database is away, one clear log line; once
  the server is up, writes succeed without a restart of newsd;
- stopped and started again, and killed (-m immediate, recovery from the
  WAL), under concurrent writers: every write answered 201 is in the
  database afterwards, every other answer was a 503 with Retry-After, none
  hung, and newsd recovers by itself;
- newsd's connections cut mid-transaction (pg_terminate_backend) under the
  same writers, with the same promises;
- a full disk on the database side (a tablespace on a small tmpfs, when the
  test runs as root): 503 with Retry-After, the SQLSTATE logged, reads go
  on, and writes succeed again once the tmpfs grows;
- a write whose change-log publication fails (the log's table locked past
  the lock timeout): a 503, and neither the row nor its change is stored;
- a wrong password (a role that needs one, PGPASSWORD wrong): a log line
  that says so without the password, `newsd migrate` exits nonzero, serve
  answers 503 until the password is right and then recovers by itself;
- no password and no full URI in any log line, error, /health or /metrics
  answer, `newsd backup` on a URI refused with what to use instead.

Registered for the PostgreSQL suite only (pg_postgres_faults); it needs
PostgreSQL 15's server programs, not the shared test server.
"""

import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pg  # noqa: E402
from harness import (  # noqa: E402
    SANITIZER, Server, Tap, Workers, run_cli, source_root, wait_until,
)

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")


def skip_all(reason):
    print(f"1..0 # SKIP {reason}")
    sys.exit(0)


if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
    skip_all("no newsd binary given (usage: test_postgres_faults.py /path/to/newsd)")
BIN = os.path.abspath(sys.argv[1])
if not pg.binary_supports_postgres(BIN):
    skip_all("this newsd has no PostgreSQL backend")
if not os.access(os.path.join(PG_BIN, "pg_ctl"), os.X_OK):
    skip_all(f"no PostgreSQL 15 server programs in {PG_BIN} (install postgresql-15)")

tap = Tap()
SECRET = "s3cret-" + secrets.token_hex(8)  # in the URI of the main server
WRONG = "wr0ng-" + secrets.token_hex(8)  # the wrong password given to newsd
RIGHT = "r1ght-" + secrets.token_hex(8)  # the password of the role newsd_pw
SECRETS = (SECRET, WRONG, RIGHT)
seen = []  # (what, text) of every log, error and answer, checked for secrets at the end


def as_owner(argv):
    """argv run as the user the test server runs as (scripts/pg-cluster's rule)."""
    return (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) + argv


class Cluster:
    """A PostgreSQL server of this test's own that it may stop and start."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ndf", dir="/tmp")
        self.port = 20000 + secrets.randbelow(20000)
        self.script = os.path.join(source_root(), "scripts", "pg-cluster")
        proc = subprocess.run([self.script, "start", self.dir, str(self.port)],
                              capture_output=True, text=True, timeout=180)
        if proc.returncode != 0:
            raise RuntimeError(f"pg-cluster start failed:\n{proc.stderr}")
        self.conninfo = proc.stdout.strip()

    def ctl(self, *args):
        proc = subprocess.run(as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D",
                                        os.path.join(self.dir, "data"), *args]),
                              cwd=self.dir, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)}: {proc.stdout}{proc.stderr}")

    def stop(self, mode="fast"):
        self.ctl("-m", mode, "-w", "-t", "60", "stop")

    def start(self):
        self.ctl("-l", os.path.join(self.dir, "server.log"), "-w", "-t", "60", "start")

    def sql(self, text, dbname="postgres"):
        return pg.rows(pg.conninfo_for(dbname, self.conninfo), text)

    def uri(self, dbname, user="newsd_test", password=None):
        """The URI of dbname on this server, the socket folder as a parameter."""
        auth = urllib.parse.quote(user, safe="")
        if password is not None:
            auth += ":" + urllib.parse.quote(password, safe="")
        query = urllib.parse.urlencode({"host": self.dir, "port": self.port},
                                       quote_via=urllib.parse.quote, safe="")
        return f"postgresql://{auth}@/{dbname}?{query}"

    def destroy(self):
        subprocess.run([self.script, "stop", self.dir], capture_output=True, timeout=120)


def remember(what, text):
    seen.append((what, text))


def remember_cli(what, proc):
    remember(what + " stdout", proc.stdout)
    remember(what + " stderr", proc.stderr)


def new_key(db, name, env=None):
    proc = run_cli(BIN, ["--db", db, "key", "create", name], env=env)
    remember_cli("key create", proc)
    if proc.returncode != 0:
        raise RuntimeError(f"key create: {proc.stderr}")
    return proc.stdout.strip().splitlines()[-1]


def check_503(resp, what):
    """resp is a 503 with a Retry-After of whole seconds."""
    ok = tap.check(resp.status == 503, f"{what}: want 503, got {resp}")
    ra = resp.headers.get("Retry-After")
    return tap.check(ok and ra is not None and ra.isdigit() and int(ra) >= 1,
                     f"{what}: Retry-After {ra!r}") and ok


def health(srv):
    resp = srv.request("GET", "/health")
    remember("/health", resp.body.decode("utf-8", "replace"))
    return resp


def log_lines(srv, pattern):
    return [l for l in srv.stderr_lines() if pattern in l]


# ---- the writers -------------------------------------------------------------


class Writers(Workers):
    """N threads posting articles until stopped, every answer recorded:
    (title, status, Retry-After, id or None, error text or None)."""

    def __init__(self, srv, n=4):
        super().__init__(n)
        self.srv = srv
        self.n = n
        self.tag = secrets.token_hex(3)

    def run(self, me):
        i = 0
        while not self.stop_flag.is_set():
            title = f"load {self.tag} {me}-{i}"
            i += 1
            try:
                resp = self.srv.request("POST", "/v1/articles",
                                        {"title": title, "body": "Written under load."},
                                        auth=True)
                aid = resp.json.get("id") if resp.status == 201 else None
                rec = (title, resp.status, resp.headers.get("Retry-After"), aid, None)
            except Exception as exc:  # noqa: BLE001 - a hang or a cut is a finding
                rec = (title, None, None, None, repr(exc))
            self.record(rec)
            if rec[1] != 201:
                time.sleep(0.05)

    def ok_count(self):
        return self.count(lambda r: r[1] == 201)


def wait_for_writes(writers, more, timeout=30):
    goal = writers.ok_count() + more
    return wait_until(lambda: writers.ok_count() >= goal, timeout)


def check_writes(cluster, dbname, srv, writers, want_503=True):
    """Every 201 is stored with its title; every other answer a 503 with
    Retry-After; nothing hung or was cut."""
    results = writers.results
    statuses = {}
    for r in results:
        statuses[r[1]] = statuses.get(r[1], 0) + 1
    tap.diag(f"answers under load: {statuses}")
    errors = [r for r in results if r[1] is None]
    tap.check(not errors, f"{len(errors)} requests hung or were cut: {errors[:3]}")
    other = [r for r in results if r[1] not in (201, 503, None)]
    tap.check(not other, f"answers other than 201 and 503: {other[:5]}\n{srv.stderr_tail()}")
    bad_ra = [r for r in results if r[1] == 503 and not (r[2] or "").isdigit()]
    tap.check(not bad_ra, f"503s without Retry-After: {bad_ra[:3]}")
    if want_503:
        tap.check(statuses.get(503, 0) > 0, "no write was refused: the fault was not seen")
    acked = {r[3]: r[0] for r in results if r[1] == 201}
    stored = dict((int(i), t) for i, t in cluster.sql(
        f"SELECT id, title FROM articles WHERE title LIKE 'load {writers.tag} %'", dbname))
    lost = {i: t for i, t in acked.items() if stored.get(i) != t}
    tap.check(not lost, f"{len(lost)} acknowledged writes are not in the database: "
                        f"{list(lost.items())[:5]}")
    tap.check(len(acked) > 0, "no write succeeded")
    refused_stored = len(stored) - len(acked)
    tap.diag(f"{len(acked)} acknowledged, all stored; {refused_stored} refused writes were "
             "committed before their connection died")
    # a few over HTTP as well, through the server that acknowledged them
    for aid in list(acked)[:: max(1, len(acked) // 5)]:
        resp = srv.request("GET", f"/v1/articles/{aid}", auth=True)
        tap.check(resp.status == 200 and resp.json.get("title") == acked[aid],
                  f"GET /v1/articles/{aid}: {resp}")


# ---- the test points -----------------------------------------------------------


def down_at_start(cluster, srv):
    """srv was started while the cluster was stopped."""
    tap.require(srv.running(), "newsd did not keep serving:\n" + srv.stderr_tail())
    tap.check(log_lines(srv, "cannot be reached; serving anyway"),
              "no log line that the database is away at start:\n" + srv.stderr_tail())
    check_503(health(srv), "GET /health while down")
    check_503(srv.request("GET", "/v1/articles"), "GET /v1/articles while down")
    check_503(srv.request("POST", "/v1/articles", {"title": "x", "body": "y"}, auth=True),
              "POST /v1/articles while down")
    check_503(srv.request("GET", "/v1/search?q=harbour"), "GET /v1/search while down")
    lines = log_lines(srv, "cannot connect to PostgreSQL")
    tap.check(len(lines) == 1, f"want one line saying PostgreSQL is away, got {len(lines)}:\n"
                               + srv.stderr_tail())
    tap.check(any("No such file" in l or "could not connect" in l or "failed" in l
                  for l in lines), "the line does not say why: " + repr(lines))
    cluster.start()
    up = wait_until(lambda: health(srv).status == 200, 15)
    tap.require(up, "/health did not come back:\n" + srv.stderr_tail())
    tap.eq(health(srv).json, {"status": "ok"}, "/health once up")
    resp = srv.request("POST", "/v1/articles", {"title": "After the start", "body": "b"},
                       auth=True)
    tap.require(resp.status == 201, f"the first write once up: {resp}\n{srv.stderr_tail()}")
    tap.eq(srv.request("GET", f"/v1/articles/{resp.json['id']}").status, 200, "reading it")
    tap.check(log_lines(srv, "PostgreSQL is reachable again"),
              "no log line that the database is back:\n" + srv.stderr_tail())


def restart_under_load(cluster, dbname, srv, mode):
    with Writers(srv) as writers:
        tap.require(wait_for_writes(writers, 20), "the writers made no progress:\n"
                    + srv.stderr_tail())
        cluster.stop(mode)
        down = time.monotonic()
        refused = wait_until(lambda: any(r[1] == 503 for r in writers.results), 10)
        tap.check(refused, "no 503 while the database was down")
        check_503(health(srv), "GET /health while the database is down")
        time.sleep(max(0.0, 1.5 - (time.monotonic() - down)))
        cluster.start()
        tap.check(wait_until(lambda: health(srv).status == 200, 15),
                  "/health did not come back after the restart")
        tap.check(wait_for_writes(writers, 20), "the writes did not resume by themselves:\n"
                  + srv.stderr_tail())
    check_writes(cluster, dbname, srv, writers)


def cut_under_load(cluster, dbname, srv):
    with Writers(srv) as writers:
        tap.require(wait_for_writes(writers, 10), "the writers made no progress")
        for _ in range(6):
            cluster.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                        f"datname = '{dbname}' AND application_name = 'newsd'")
            time.sleep(0.3)
        tap.check(wait_for_writes(writers, 20), "the writes did not resume by themselves:\n"
                  + srv.stderr_tail())
    # a connection killed while idle is reopened before use: the cut may cost no request
    check_writes(cluster, dbname, srv, writers, want_503=False)
    tap.eq(health(srv).status, 200, "/health after the cuts")


def failed_publication(cluster, dbname, key):
    """A write whose change-log publication fails (here: the log's table
    locked by another session past the lock timeout) is a 503 and leaves
    nothing behind: the publication is part of the write's transaction
    (store_pg_write.c), so a comment and an article are stored with their
    change rows or not at all. The next writes after the lock are stored."""
    db = cluster.uri(dbname)
    with Server(BIN, db=db, key=False, args=["--busy-timeout", "500"]) as srv:
        srv.key = key
        publication_fails(db, srv)


def publication_fails(db, srv):
    aid = srv.request("POST", "/v1/articles", {"title": "Published before the lock",
                                               "body": "b"}, auth=True).json["id"]
    count = "SELECT (SELECT count(*) FROM comments) + (SELECT count(*) FROM articles)"
    before = pg.query(db, count)[0][0]
    pending = "SELECT count(*) FROM changes_pending"
    with pg.holding_locks(db, ["changes"], "EXCLUSIVE"):
        comment = srv.request("POST", f"/v1/articles/{aid}/comments",
                              {"author": "a", "body": "never stored"})
        check_503(comment, "a comment whose publication waits past the lock timeout")
        article = srv.request("POST", "/v1/articles", {"title": "Never stored", "body": "b"},
                              auth=True)
        check_503(article, "an article whose publication waits past the lock timeout")
        tap.eq(pg.query(db, count)[0][0], before, "no comment or article of the failed writes")
        tap.eq(pg.query(db, pending)[0][0], 0, "no change row waiting for a publication")
    last = pg.query(db, "SELECT coalesce(max(id), 0) FROM changes")[0][0]
    comment = srv.request("POST", f"/v1/articles/{aid}/comments", {"author": "a", "body": "kept"})
    tap.eq(comment.status, 201, f"a comment once the lock is gone: {comment}")
    changes = srv.request("GET", f"/v1/changes?since={last}").json["data"]
    tap.check(any(c.get("comment_id") == comment.json.get("id") for c in changes),
              "the stored comment is in /v1/changes at once")


def wrong_password(cluster):
    cluster.sql(f"CREATE ROLE newsd_pw LOGIN PASSWORD '{RIGHT}'")
    cluster.sql("CREATE DATABASE faults_pw OWNER newsd_pw")
    hba = os.path.join(cluster.dir, "data", "pg_hba.conf")
    with open(hba, encoding="utf-8") as f:
        rules = f.read()
    with open(hba, "w", encoding="utf-8") as f:  # first match wins: before "trust"
        f.write("local all newsd_pw scram-sha-256\n" + rules)
    cluster.sql("SELECT pg_reload_conf()")
    uri = cluster.uri("faults_pw", user="newsd_pw")
    bad = {"PGPASSWORD": WRONG}

    proc = run_cli(BIN, ["--db", uri, "migrate"], env=bad)
    remember_cli("migrate with a wrong PGPASSWORD", proc)
    tap.check(proc.returncode != 0, f"migrate with a wrong password exited {proc.returncode}")
    tap.check("password authentication failed" in proc.stderr,
              "migrate does not say the password was refused:\n" + proc.stderr)
    tap.check("cannot open the database postgresql:///faults_pw" in proc.stderr,
              "migrate does not name the database (redacted):\n" + proc.stderr)

    inline = cluster.uri("faults_pw", user="newsd_pw", password=WRONG)
    proc = run_cli(BIN, ["--db", inline, "migrate"])
    remember_cli("migrate with a wrong password in the URI", proc)
    tap.check(proc.returncode != 0, f"migrate with a wrong URI password exited {proc.returncode}")

    with Server(BIN, db=uri, env=bad, key=False) as srv:
        check_503(srv.request("GET", "/v1/articles"), "GET /v1/articles, wrong password")
        check_503(health(srv), "GET /health, wrong password")
        tap.check(log_lines(srv, "password authentication failed"),
                  "serve does not log that the password was refused:\n" + srv.stderr_tail())
        metrics = srv.request("GET", "/metrics")
        tap.eq(metrics.status, 200, "GET /metrics while the database refuses newsd")
        remember("/metrics, wrong password", metrics.body.decode("utf-8", "replace"))
        # the administrator mends the password: newsd finds it on its own
        cluster.sql(f"ALTER ROLE newsd_pw PASSWORD '{WRONG}'")
        tap.check(wait_until(lambda: health(srv).status == 200, 15),
                  "newsd did not recover once the password was right:\n" + srv.stderr_tail())
        tap.eq(srv.request("GET", "/v1/articles").status, 200, "GET /v1/articles once right")
        tap.stop_server(srv, name="the server of the wrong password stops cleanly")
        remember("serve stderr (wrong password)", "\n".join(srv.stderr_lines()))
        remember("serve stdout (wrong password)", "\n".join(srv.out.snapshot()))

    proc = run_cli(BIN, ["--db", uri, "migrate"], env=bad)
    remember_cli("migrate once the password is right", proc)
    tap.eq(proc.returncode, 0, "migrate with the right password: " + proc.stderr)


def can_mount():
    return os.geteuid() == 0 and os.path.exists("/proc/filesystems") and \
        "tmpfs" in open("/proc/filesystems", encoding="ascii").read()


def full_disk(cluster):
    """The database's files on a small tmpfs of their own (a tablespace): writes until
    PostgreSQL cannot extend a file, then room is added while newsd serves."""
    small = tempfile.mkdtemp(prefix="ndfd", dir="/tmp")
    mounted = False
    try:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", small],
                              capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            tap.diag("no tmpfs of the test's own (" + proc.stderr.strip() + "): not run")
            return
        mounted = True
        subprocess.run(["chown", "postgres:", small] if os.geteuid() == 0 else ["true"],
                       check=True, timeout=30)
        cluster.sql(f"CREATE TABLESPACE small LOCATION '{small}'")
        cluster.sql("CREATE DATABASE faults_disk TABLESPACE small")
        uri = cluster.uri("faults_disk")
        key = new_key(uri, "disk")
        with Server(BIN, db=uri, key=False, args=["--max-body", "2M"]) as srv:
            srv.key = key
            acked, refused = {}, []
            words = " ".join(secrets.token_hex(6) for _ in range(40000))  # ~520 KB, unindexable
            for i in range(200):
                title = f"disk filler {i}"
                resp = srv.request("POST", "/v1/articles", {"title": title, "body": words},
                                   auth=True)
                if resp.status == 201:
                    acked[resp.json["id"]] = title
                    continue
                refused.append(resp)
                if len(refused) >= 3:
                    break
            tap.require(refused, "16 MB never filled up")
            for resp in refused:
                check_503(resp, "a write on a full disk")
            tap.check(log_lines(srv, "SQLSTATE 53100"),
                      "no log line with the full disk's SQLSTATE:\n" + srv.stderr_tail())
            tap.eq(srv.request("GET", "/v1/articles?limit=1").status, 200, "reads on a full disk")
            tap.eq(health(srv).status, 200, "/health on a full disk (the database answers)")
            # the administrator adds room: no restart of newsd
            subprocess.run(["mount", "-o", "remount,size=64m", small], check=True, timeout=30)
            resp = srv.request("POST", "/v1/articles", {"title": "after the room", "body": "b"},
                               auth=True)
            tap.eq(resp.status, 201, "a write once there is room")
            stored = dict((int(i), t) for i, t in cluster.sql(
                "SELECT id, title FROM articles WHERE title LIKE 'disk filler %'", "faults_disk"))
            lost = [i for i, t in acked.items() if stored.get(i) != t]
            tap.check(not lost, f"acknowledged writes lost: {lost}")
            tap.diag(f"{len(acked)} writes before the disk was full")
            tap.stop_server(srv, name="the server of the full disk stops cleanly")
            remember("serve stderr (full disk)", "\n".join(srv.stderr_lines()))
        cluster.sql("DROP DATABASE faults_disk WITH (FORCE)")
        cluster.sql("DROP TABLESPACE small")
    finally:
        if mounted:
            subprocess.run(["umount", "-l", small], capture_output=True, timeout=30)
        os.rmdir(small)


def cli_faults(cluster, uri):
    """backup refused with what to use; export and key create while down exit nonzero."""
    proc = run_cli(BIN, ["--db", uri, "backup", os.path.join(cluster.dir, "copy.db")])
    remember_cli("backup", proc)
    tap.check(proc.returncode != 0, f"backup on PostgreSQL exited {proc.returncode}")
    tap.check("pg_dump" in proc.stderr and "newsd export" in proc.stderr,
              "backup does not say what to use instead:\n" + proc.stderr)
    tap.check(not os.path.exists(os.path.join(cluster.dir, "copy.db")),
              "backup left a file behind")
    cluster.stop()
    try:
        for args in (["export"], ["key", "create", "while-down"], ["migrate"]):
            started = time.monotonic()
            proc = run_cli(BIN, ["--db", uri, *args])
            remember_cli(" ".join(args) + " while down", proc)
            tap.check(proc.returncode == 1, f"{args[0]} while down exited {proc.returncode}")
            tap.check("cannot connect to PostgreSQL" in proc.stderr,
                      f"{args[0]} while down does not say why:\n{proc.stderr}")
            tap.check(time.monotonic() - started < 20, f"{args[0]} while down hung")
    finally:
        cluster.start()


def no_secrets():
    leaks = []
    for what, text in seen:
        for secret in SECRETS:
            if secret in text:
                leaks.append(f"{what} holds a password")
        if "postgresql://newsd" in text or "%2F" in text:
            leaks.append(f"{what} holds a full URI")
        bad = [l for l in text.splitlines() if SANITIZER.search(l)]
        if bad:
            leaks.append(f"{what}: sanitizer report: {bad[:3]}")
    tap.check(not leaks, "\n".join(sorted(set(leaks))))
    tap.check(len(seen) > 10, f"only {len(seen)} outputs were looked at")


def main():
    cluster = Cluster()
    try:
        cluster.sql("CREATE DATABASE faults_a")
        # trust authentication ignores the password in the URI, but newsd must not print it
        uri = cluster.uri("faults_a", password=SECRET)
        key = new_key(uri, "faults")  # migrates the database
        cluster.stop()
        with Server(BIN, db=uri, key=False) as srv:
            srv.key = key
            tap.run("down at start: newsd serves 503 with Retry-After, then recovers",
                    down_at_start, cluster, srv)
            tap.run("stopped and started under write load: acknowledged writes kept, "
                    "refusals are 503",
                    restart_under_load, cluster, "faults_a", srv, "fast")
            tap.run("killed (immediate stop) under write load: acknowledged writes kept",
                    restart_under_load, cluster, "faults_a", srv, "immediate")
            tap.run("connections cut mid-transaction under write load",
                    cut_under_load, cluster, "faults_a", srv)
            metrics = srv.request("GET", "/metrics")
            remember("/metrics", metrics.body.decode("utf-8", "replace"))
            tap.stop_server(srv)
            remember("serve stderr", "\n".join(srv.stderr_lines()))
            remember("serve stdout", "\n".join(srv.out.snapshot()))
        tap.run("a write whose change-log publication fails is a 503 and stores nothing",
                failed_publication, cluster, "faults_a", key)
        tap.run("CLI on PostgreSQL: backup refused with what to use, clear failures while down",
                cli_faults, cluster, uri)
        tap.run("a wrong password: a clear line, migrate fails, serve answers 503 and recovers",
                wrong_password, cluster)
        if can_mount():
            tap.run("a full disk on the database side: 503 with Retry-After, then room again",
                    full_disk, cluster)
        else:
            tap.skip("a full disk on the database side", "needs root to mount a small tmpfs")
        tap.run("no password and no full URI in logs, errors, /health or /metrics", no_secrets)
    finally:
        cluster.destroy()
    tap.done()


main()
