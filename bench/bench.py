#!/usr/bin/env python3
"""bench.py: the benchmark's driver (bench/run builds newsd and calls it).

For one corpus size it: makes the corpus and its database once (kept under
build/bench-data/N and reused), copies the database for this run, starts
newsd on loopback timing its start to the first answered request, builds
the URL lists, fetches every URL once (warming newsd and keeping the bytes
it answered), starts nginx serving those bytes as static files, and for each
scenario runs wrk against newsd and, for reads, the same wrk against nginx.
Then it reads newsd's peak resident memory, stops both servers and prints
the tables and the JSON (report.py).

With --scale it runs the read scenarios (newsd only) at several sizes; with
--cluster, the read and write scenarios through haproxy in front of one and
three newsd instances over a PostgreSQL primary and replica (cluster_bench.py).

Everything talks to 127.0.0.1 only. Every server started here is stopped on
the way out, on errors and signals too; their pids are also written under
the run folder so that bench/run can stop them should this process die.
"""

import argparse
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import report  # noqa: E402
import urls as urllists  # noqa: E402

DATA = os.path.join(ROOT, "build", "bench-data")
HOST = "127.0.0.1"
WRITE_SCENARIOS = [
    ("create_article", "create an article (with key)"),
    ("create_comment", "create a comment"),
    ("mix", "90% reads / 10% writes"),
]
STARTUP_LIMIT_S = 30.0
HTTP_TIMEOUT = 30.0


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def on_signal(signum, frame):
    raise SystemExit(128 + signum)  # unwinds every finally: servers stop


# ---- corpus and database ----------------------------------------------------


def run_checked(argv, **kw):
    proc = subprocess.run(argv, **kw)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv[:4])}... failed with status {proc.returncode}")
    return proc


def ensure_corpus(n):
    folder = os.path.join(DATA, str(n))
    if os.path.isfile(os.path.join(folder, "corpus.jsonl")) and \
            os.path.isfile(os.path.join(folder, "meta.json")):
        return folder
    log(f"generating a corpus of {n} articles and {3 * n} comments")
    run_checked([sys.executable, os.path.join(HERE, "gen_corpus.py"), "--articles", str(n),
                 "--out", folder])
    return folder


def ensure_db(newsd, folder):
    """The loaded database of folder (made once: newsd import --jsonl), and how
    long the load took (recorded in import.json)."""
    db = os.path.join(folder, "newsd.db")
    info = os.path.join(folder, "import.json")
    if os.path.isfile(db) and os.path.isfile(info):
        with open(info, encoding="utf-8") as f:
            return db, json.load(f)
    part = os.path.join(folder, "loading.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(part + suffix):
            os.remove(part + suffix)
    log(f"loading {folder}/corpus.jsonl into a new database (newsd import --jsonl)")
    started = time.monotonic()
    proc = run_checked([newsd, "--db", part, "--log-level", "warn", "--synchronous", "off",
                        "import", "--jsonl", os.path.join(folder, "corpus.jsonl")],
                       stdout=subprocess.PIPE, text=True)
    seconds = time.monotonic() - started
    # the last connection's close checkpoints the WAL into the file: one file to copy
    os.replace(part, db)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(part + suffix):
            os.remove(part + suffix)
    result = {"seconds": round(seconds, 1), "output": proc.stdout.strip(),
              "db_bytes": os.path.getsize(db)}
    with open(info, "w", encoding="utf-8") as f:
        json.dump(result, f)
    log(f"loaded in {seconds:.0f} s: {proc.stdout.strip()}")
    return db, result


def fresh_copy(db, run_dir):
    if os.path.isdir(run_dir):
        shutil.rmtree(run_dir)
    os.makedirs(run_dir)
    copy = os.path.join(run_dir, "newsd.db")
    shutil.copyfile(db, copy)
    return copy


def create_key(newsd, db):
    proc = run_checked([newsd, "--db", db, "--log-level", "warn", "key", "create", "bench"],
                       stdout=subprocess.PIPE, text=True)
    return proc.stdout.strip().splitlines()[-1].strip()


# ---- servers ----------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def answers_health(port):
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=1.0)
        conn.request("GET", "/health")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def no_rate_limits(binary):
    """The flags that turn newsd's rate limits off (all traffic comes from one
    address and one key), for those settings this build has."""
    helptext = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, text=True).stdout
    flags = []
    for name in ("comment-rate", "write-rate"):
        if f"--{name}" in helptext:
            flags += [f"--{name}", "0"]
    return flags


def ticks(pid, children=False):
    """utime + stime of pid in clock ticks (with children: also what its reaped
    children used); 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        used = int(fields[11]) + int(fields[12])
        return used + (int(fields[13]) + int(fields[14]) if children else 0)
    except (OSError, IndexError, ValueError):
        return 0


def cpu_per_request(before, after, requests):
    """{piece: CPU milliseconds per request} from {piece: ticks} taken around a run."""
    hz = os.sysconf("SC_CLK_TCK")
    return {piece: round((after[piece] - before[piece]) * 1000 / hz / requests, 4)
            for piece in before}


def postmaster_pid(pgserver):
    try:
        with open(os.path.join(pgserver.dir, "data", "postmaster.pid")) as f:
            return int(f.readline().strip())
    except (OSError, ValueError, TypeError):
        return None


def children_of(ppid):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                    out.append(int(name))
        except (OSError, IndexError, ValueError):
            continue
    return out


def pg_ticks(pgserver):
    """CPU ticks of a PostgreSQL server: the postmaster, the children it has
    reaped, and every process it runs now (backends, WAL sender or receiver,
    startup process, checkpointer...)."""
    pid = postmaster_pid(pgserver) if pgserver else None
    if pid is None:
        return 0
    return ticks(pid, children=True) + sum(ticks(c) for c in children_of(pid))


def wait_idle(pids, limit_s=60.0):
    """Waits until the servers (a pid or a list) have used no CPU for 100 ms: when wrk
    stops, a server may still be working through requests it had taken, which must
    not slow the next run."""
    pids = pids if isinstance(pids, (list, tuple)) else [pids]
    deadline = time.monotonic() + limit_s
    before = sum(ticks(p) for p in pids)
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = sum(ticks(p) for p in pids)
        if now - before <= len(pids):
            return
        before = now
    log("warning: a server was still busy when the next run started")


class Newsd:
    """newsd serve on loopback; start() measures the time to the first 200."""

    def __init__(self, binary, db, run_dir, flags=(), name="newsd"):
        self.argv = [binary, "--db", db, "--bind", HOST, "--port", "0", "--log-level", "warn",
                     "--synchronous", "normal", *no_rate_limits(binary), *flags, "serve"]
        self.run_dir = run_dir
        self.name = name
        self.proc = None
        self.port = None
        self.startup_ms = None

    def start(self):
        self.port = free_port()
        self.argv[self.argv.index("--port") + 1] = str(self.port)
        err = open(os.path.join(self.run_dir, f"{self.name}.log"), "ab")
        started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=err, stderr=err)
        err.close()
        with open(os.path.join(self.run_dir, f"{self.name}.pid"), "w") as f:
            f.write(f"{self.proc.pid}\n")
        deadline = started + STARTUP_LIMIT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: {self.name} exited with status {self.proc.returncode}; "
                                 f"see {self.run_dir}/{self.name}.log")
            if answers_health(self.port):
                self.startup_ms = (time.monotonic() - started) * 1000
                return
            time.sleep(0.001)
        raise SystemExit(f"bench: {self.name} did not answer /health in time")

    def memory_kb(self):
        """(peak RSS, current RSS) in KiB from /proc."""
        peak = cur = 0
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    cur = int(line.split()[1])
        return peak, cur

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        pidfile = os.path.join(self.run_dir, f"{self.name}.pid")
        if os.path.exists(pidfile):
            os.remove(pidfile)


class Peer(Newsd):
    """The comparison server (bench/peer, Node.js) on loopback, over db."""

    def __init__(self, db, run_dir):
        self.argv = ["node", os.path.join(HERE, "peer", "server.js"), "--db", db, "--host", HOST,
                     "--port", "0"]
        self.run_dir = run_dir
        self.name = "peer"
        self.proc = None
        self.port = None
        self.startup_ms = None


class PgServer:
    """A PostgreSQL 15 server of its own for --postgres (scripts/pg-cluster, durable settings:
    fsync and synchronous commit on), loaded once per corpus size by newsd import --jsonl.
    The loaded server is kept halted in the size's folder (pg/, beside newsd.db) and resumed
    by later runs; each run writes to a copy of the loaded database, as newsd's runs do."""

    def __init__(self, folder):
        self.keep = os.path.join(folder, "pg")
        self.marker = os.path.join(folder, "pg_import.json")
        self.dir = None
        if len(os.path.abspath(self.keep)) > 80:  # its socket path would not fit
            self.keep = None

    def _cluster(self, *args, env=None):
        return run_checked(["bash", os.path.join(ROOT, "scripts", "pg-cluster"), *args],
                           stdout=subprocess.PIPE, text=True, env=env)

    def start(self):
        """Resumes the kept server when it holds a loaded database; otherwise starts a new one
        (kept when the folder allows); self.loaded tells which."""
        self.loaded = (self.keep is not None and os.path.exists(self.marker)
                       and os.path.exists(os.path.join(self.keep, "data", "PG_VERSION")))
        if self.loaded:
            out = self._cluster("resume", self.keep)
            self.dir = self.keep
        else:
            if self.keep:
                subprocess.run(["bash", os.path.join(ROOT, "scripts", "pg-cluster"), "stop",
                                self.keep], stdout=subprocess.DEVNULL)
                os.makedirs(self.keep)
                self.dir = self.keep
            else:
                self.dir = tempfile.mkdtemp(prefix="ndbpg.", dir="/tmp")
            out = self._cluster("start", self.dir, "5499",
                                env=dict(os.environ, PG_CLUSTER_DURABLE="1"))
        self.base = dict(kv.split("=", 1) for kv in out.stdout.split())
        return self

    def sql(self, statement):
        run_checked(["psql", "-q", "-X", f"host={self.base['host']} port={self.base['port']} "
                     f"user={self.base['user']} dbname=postgres", "-c", statement],
                    stdout=subprocess.DEVNULL)

    def uri(self, name):
        return (f"postgresql://{self.base['user']}@/{name}?host="
                f"{urllib.parse.quote(self.base['host'], safe='')}&port={self.base['port']}")

    def fresh_copy(self, name, newsd):
        """Database name made anew as a copy of the loaded "bench", migrated by newsd (a
        build newer than the load), before a newsd's start is timed; its uri."""
        self.sql(f"DROP DATABASE IF EXISTS {name}")
        self.sql(f"CREATE DATABASE {name} TEMPLATE bench STRATEGY FILE_COPY")
        uri = self.uri(name)
        run_checked([newsd, "--db", uri, "--log-level", "warn", "migrate"],
                    stdout=subprocess.DEVNULL)
        return uri

    def stop(self):
        if not self.dir:
            return
        if self.dir == self.keep and os.path.exists(self.marker):
            for name in ("run", "lanes"):
                subprocess.run(["psql", "-q", "-X", "-d", self.uri("postgres"), "-c",
                                f"DROP DATABASE IF EXISTS {name}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            subprocess.run(["bash", os.path.join(ROOT, "scripts", "pg-cluster"), "halt",
                            self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            subprocess.run(["bash", os.path.join(ROOT, "scripts", "pg-cluster"), "stop",
                            self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.dir = None


def load_postgres(newsd, pg, folder, copy=True):
    """The database "bench" on pg loaded with folder's corpus (once: a kept server has it
    already), and with copy "run", a copy of it for this run's writes; (run's uri or None,
    load record)."""
    if pg.loaded:
        with open(pg.marker) as f:
            record = json.load(f)
        log(f"PostgreSQL holds the corpus already (loaded in {record['seconds']:.0f} s)")
        # migrations newer than the load go into the template once, not into every copy
        uri = pg.uri("bench")
        proc = run_checked([newsd, "--db", uri, "--log-level", "warn", "migrate"],
                           stdout=subprocess.PIPE, text=True)
        if not re.search(r"applied 0 migrations", proc.stdout):
            log(f"the loaded corpus migrated: {proc.stdout.strip()}")
            run_checked(["psql", "-q", "-X", uri, "-c", "VACUUM ANALYZE"],
                        stdout=subprocess.DEVNULL)
    else:
        pg.sql("CREATE DATABASE bench")
        uri = pg.uri("bench")
        log("loading the corpus into PostgreSQL (newsd import --jsonl)")
        started = time.monotonic()
        proc = run_checked([newsd, "--db", uri, "--log-level", "warn", "--synchronous", "off",
                            "import", "--jsonl", os.path.join(folder, "corpus.jsonl")],
                           stdout=subprocess.PIPE, text=True)
        seconds = time.monotonic() - started
        run_checked(["psql", "-q", "-X", uri, "-c", "VACUUM ANALYZE"], stdout=subprocess.DEVNULL)
        log(f"loaded into PostgreSQL in {seconds:.0f} s: {proc.stdout.strip()}")
        record = {"seconds": round(seconds, 1), "output": proc.stdout.strip()}
        if pg.dir == pg.keep:
            with open(pg.marker, "w") as f:
                json.dump(record, f)
    return (pg.fresh_copy("run", newsd) if copy else None), record


def ensure_peer():
    """Installs the comparison server's npm packages (pinned by its lock file) once."""
    folder = os.path.join(HERE, "peer")
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise SystemExit("bench: --peer needs Node.js 20 or newer and npm")
    major = subprocess.run(["node", "-p", "process.versions.node.split('.')[0]"],
                           stdout=subprocess.PIPE, text=True).stdout.strip()
    if not major.isdigit() or int(major) < 20:
        raise SystemExit(f"bench: --peer needs Node.js 20 or newer (fastify 5), not {major}")
    stamp = os.path.join(folder, "node_modules", ".package-lock.json")
    lock = os.path.join(folder, "package-lock.json")
    if os.path.exists(stamp) and os.path.getmtime(stamp) >= os.path.getmtime(lock):
        return
    log("installing the comparison server's packages (npm ci; better-sqlite3 may compile)")
    run_checked(["npm", "ci", "--no-audit", "--no-fund"], cwd=folder, stdout=subprocess.DEVNULL)


class Nginx:
    """nginx serving root as static files, with every path under prefix."""

    def __init__(self, root, prefix, workers):
        self.root = root
        self.prefix = prefix
        self.workers = workers
        self.port = None
        self.conf = os.path.join(prefix, "nginx.conf")

    def start(self):
        os.makedirs(self.prefix, exist_ok=True)
        self.port = free_port()
        with open(os.path.join(HERE, "nginx.conf"), encoding="utf-8") as f:
            text = f.read()
        # as root, workers would switch to nobody, who may not read the files
        user = "user root root;" if os.geteuid() == 0 else ""
        for name, value in (("@USER_LINE@", user), ("@WORKERS@", str(self.workers)),
                            ("@PREFIX@", self.prefix), ("@ROOT@", self.root),
                            ("@PORT@", str(self.port))):
            text = text.replace(name, value)
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(text)
        run_checked(["nginx", "-p", self.prefix, "-c", self.conf, "-e",
                     os.path.join(self.prefix, "error.log")],
                    stdout=subprocess.DEVNULL)
        for _ in range(2000):
            if answers_static(self.port):
                return
            time.sleep(0.005)
        raise SystemExit("bench: nginx did not start; see " + self.prefix + "/error.log")

    def stop(self):
        pidfile = os.path.join(self.prefix, "nginx.pid")
        if not os.path.exists(pidfile):
            return
        with open(pidfile) as f:
            pid = int(f.read().strip() or 0)
        if pid <= 0:
            return
        try:
            os.kill(pid, signal.SIGQUIT)  # graceful stop of the master and its workers
        except ProcessLookupError:
            return
        for _ in range(400):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.025)
        os.kill(pid, signal.SIGKILL)


def answers_static(port):
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=1.0)
        conn.request("GET", "/nothing-here")
        conn.getresponse().read()
        conn.close()
        return True
    except OSError:
        return False


# ---- URL lists and the bytes behind them -----------------------------------


def walk_cursors(port, n):
    """Every next_cursor of the article list, walked from the first page."""
    limit = max(20, min(100, n // 1000))
    cursors = []
    conn = http.client.HTTPConnection(HOST, port, timeout=HTTP_TIMEOUT)
    path = f"/v1/articles?limit={limit}"
    for _ in range(n // limit + 2):
        conn.request("GET", path)
        resp = conn.getresponse()
        doc = json.loads(resp.read())
        if resp.status != 200:
            raise SystemExit(f"bench: walking the list: {resp.status} at {path}")
        cursor = doc.get("next_cursor")
        if not cursor:
            break
        cursors.append(cursor)
        path = f"/v1/articles?limit={limit}&cursor={urllib.parse.quote(cursor, safe='')}"
    conn.close()
    return cursors


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(str(x) for x in lines) + "\n")


def fetch_and_keep(port, lists, run_dir):
    """GETs every URL once from newsd, keeping the answer as the static file
    that nginx serves in its place. Returns {scenario: {"urls","distinct",
    "non_200","bytes_mean"}} and writes the list files for wrk."""
    static = os.path.join(run_dir, "static")
    listdir = os.path.join(run_dir, "lists")
    os.makedirs(listdir, exist_ok=True)
    conn = http.client.HTTPConnection(HOST, port, timeout=HTTP_TIMEOUT)
    info = {}
    for name, paths in lists.items():
        folder = os.path.join(static, "c", name)
        os.makedirs(folder, exist_ok=True)
        non_200, total = 0, 0
        for i, path in enumerate(paths):
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            non_200 += resp.status != 200
            total += len(body)
            with open(os.path.join(folder, str(i)), "wb") as f:
                f.write(body)
        write_lines(os.path.join(listdir, f"{name}.newsd"), paths)
        write_lines(os.path.join(listdir, f"{name}.nginx"),
                    [f"/c/{name}/{i}" for i in range(len(paths))])
        info[name] = {"urls": len(paths), "distinct": len(set(paths)), "non_200": non_200,
                      "bytes_mean": round(total / max(1, len(paths)))}
        if non_200:
            log(f"warning: {non_200} of the {name} URLs did not answer 200")
    conn.close()
    return info, static, listdir


def warm(port, lists):
    """GETs every URL once, so that a cached server starts a run as warm as the
    first newsd (whose cache fetch_and_keep filled)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=HTTP_TIMEOUT)
    for paths in lists.values():
        for path in paths:
            conn.request("GET", path)
            conn.getresponse().read()
    conn.close()


# ---- wrk --------------------------------------------------------------------


def wrk(port, script, args, seconds, connections, threads):
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
            "-s", os.path.join(HERE, script), f"http://{HOST}:{port}", "--", *args]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=seconds + 120)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line[len("BENCH_RESULT "):])
            result["rps"] = round(result["requests"] / (result["duration_us"] / 1e6), 1)
            return result
    raise SystemExit(f"bench: wrk gave no result (status {proc.returncode}):\n"
                     f"{proc.stdout}\n{proc.stderr}")


def measure(port, script, args, opts, quiet_pid, cpu=None):
    """A warm-up run (discarded), then the measured run, each once quiet_pid (the
    servers: a pid or a list) has finished what an earlier run left it. cpu: a
    function giving {piece: ticks} now; the measured run then records the CPU
    milliseconds of each piece per request (cpu_ms_per_request)."""
    if opts.warmup > 0:
        wait_idle(quiet_pid)
        wrk(port, script, args, opts.warmup, opts.connections, opts.threads)
    wait_idle(quiet_pid)
    before = cpu() if cpu else None
    result = wrk(port, script, args, opts.duration, opts.connections, opts.threads)
    if cpu and result["requests"]:
        result["cpu_ms_per_request"] = cpu_per_request(before, cpu(), result["requests"])
    return result


# ---- one size ---------------------------------------------------------------


def prepare(opts, n):
    folder = ensure_corpus(n)
    db, loaded = ensure_db(opts.newsd, folder)
    # a database made by an older build gets the newer migrations here, so that
    # they are not counted in the start-up time
    run_checked([opts.newsd, "--db", db, "--log-level", "warn", "migrate"],
                stdout=subprocess.DEVNULL)
    with open(os.path.join(folder, "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    return folder, db, loaded, meta


def read_scenarios(srv, meta, run_dir):
    log("walking the list for deep-page cursors")
    cursors = walk_cursors(srv.port, meta["articles"])
    lists = urllists.build(meta, cursors)
    log("fetching every URL once (warm-up, and the bytes for the ceiling)")
    info, static, listdir = fetch_and_keep(srv.port, lists, run_dir)
    return lists, info, static, listdir


def start_others(opts, copy, run_dir, results, pg_uri=None):
    """With --peer: newsd without its response cache and the comparison server, both
    over the same database as newsd; with --postgres: newsd over PostgreSQL with and
    without its cache (and newsd cold over SQLite, to compare with). Returns {column: server}."""
    others = {}
    if opts.peer or opts.postgres:
        others["newsd_cold"] = Newsd(opts.newsd, copy, run_dir,
                                     [*opts.newsd_flags, "--cache-size", "0"], name="newsd-cold")
    if opts.peer:
        ensure_peer()
        others["peer"] = Peer(copy, run_dir)
    if opts.postgres:
        others["pg"] = Newsd(opts.newsd, pg_uri, run_dir, opts.newsd_flags, name="newsd-pg")
        others["pg_cold"] = Newsd(opts.newsd, pg_uri, run_dir,
                                  [*opts.newsd_flags, "--cache-size", "0"], name="newsd-pg-cold")
    for column, srv in others.items():
        srv.start()
        results[f"{column}_startup_ms"] = round(srv.startup_ms, 1)
        log(f"{srv.name} answered after {srv.startup_ms:.1f} ms")
    return others


def check_peer(srv, peer, meta, lists, key, results):
    """Compares a sample of the comparison server's answers with newsd's (peer/check.py)."""
    sys.path.insert(0, os.path.join(HERE, "peer"))
    import check  # noqa: E402
    log("comparing a sample of answers of the comparison server with newsd's")
    outcome = check.run(f"http://{HOST}:{srv.port}", f"http://{HOST}:{peer.port}", meta, key,
                        lists=lists)
    results["peer_check"] = {"checked": outcome["checked"],
                             "differences": outcome["differences"][:50],
                             "difference_count": len(outcome["differences"])}
    for line in outcome["differences"][:20]:
        log(f"peer differs: {line}")
    log(f"peer check: {outcome['checked']} requests compared, "
        f"{len(outcome['differences'])} differences")
    return not outcome["differences"]


def median_run(done):
    """Of the rounds of one server, the run with the median req/s (the lower one of an even
    count), with every round's req/s beside it when there were several: rounds alternate
    between the servers, so a slow spell of a shared machine does not decide a ratio."""
    if len(done) == 1:
        return done[0]
    pick = dict(sorted(done, key=lambda r: r["rps"])[(len(done) - 1) // 2])
    pick["rounds_rps"] = [r["rps"] for r in done]
    return pick


def ratio(a, b):
    return round(a["rps"] / b["rps"], 3) if b and b.get("rps") else None


def ratios(entry):
    """newsd/peer and newsd/nginx for the columns a scenario has."""
    out = {}
    for mine in ("newsd_cold", "newsd"):
        label = "cold" if mine == "newsd_cold" else "cached"
        for other, name in (("peer", "peer"), ("ceiling", "nginx")):
            if mine in entry and other in entry:
                out[f"{label}/{name}"] = ratio(entry[mine], entry[other])
    if "pg" in entry:
        out["pg/sqlite cached"] = ratio(entry["pg"], entry["newsd"])
    if "pg_cold" in entry and "newsd_cold" in entry:
        out["pg/sqlite cold"] = ratio(entry["pg_cold"], entry["newsd_cold"])
    return out


def wanted(opts, name):
    """Whether --scenarios (when given) names the scenario name."""
    return not opts.scenarios or name in opts.scenarios


def run_full(opts):
    n = opts.articles
    folder, db, loaded, meta = prepare(opts, n)
    run_dir = os.path.join(folder, "run")
    copy = fresh_copy(db, run_dir)
    key = create_key(opts.newsd, copy)
    srv = Newsd(opts.newsd, copy, run_dir, opts.newsd_flags)
    nginx = None
    others = {}
    pg = None
    results = {"kind": "full", "articles": n, "comments": meta["comments"],
               "connections": opts.connections, "threads": opts.threads,
               "duration_s": opts.duration, "warmup_s": opts.warmup, "cores": os.cpu_count(),
               "import": loaded, "scenarios": {}, "command": opts.command}
    try:
        srv.start()
        results["startup_ms"] = round(srv.startup_ms, 1)
        log(f"newsd answered after {srv.startup_ms:.1f} ms")
        lists, info, static, listdir = read_scenarios(srv, meta, run_dir)
        pg_uri = None
        if opts.postgres:
            pg = PgServer(folder).start()
            pg_uri, results["pg_import"] = load_postgres(opts.newsd, pg, folder)
        others = start_others(opts, copy, run_dir, results, pg_uri)
        if "pg" in others:
            # only the scenarios to run: each search list is a thousand cold searches, one
            # at a time (minutes at 100,000 articles), and a run fetches its own list again
            log("fetching every URL of the chosen scenarios once from newsd over PostgreSQL "
                "(its cache, as newsd's)")
            warm(others["pg"].port, {name: paths for name, paths in lists.items()
                                     if wanted(opts, name)})
        if opts.peer:
            same = check_peer(srv, others["peer"], meta, lists, key, results)
            if opts.peer_check and not same:
                raise SystemExit("bench: the comparison server's answers differ from newsd's")
            if opts.peer_check:
                return None
        pids = [srv.proc.pid] + [o.proc.pid for o in others.values()]
        nginx = Nginx(static, os.path.join(run_dir, "nginx"), workers=os.cpu_count() or 1)
        nginx.start()
        for name, label in urllists.READ_SCENARIOS:
            if not wanted(opts, name):
                continue
            entry = {"label": label, "kind": "read", **info[name]}
            newsd_list = [os.path.join(listdir, f"{name}.newsd")]
            runs = {}
            for rnd in range(opts.rounds):
                for column, server in (("newsd", srv), *others.items()):
                    log(f"{name}: {server.name}" + (f" (round {rnd + 1})" if opts.rounds > 1
                                                    else ""))
                    if column in ("newsd", "pg"):
                        # every URL of the scenario in the cache (16 MB by default holds
                        # less than all scenarios' answers at 100,000 articles, and the
                        # warm-up would refill only what the cold path answers in its
                        # seconds)
                        warm(server.port, {name: lists[name]})
                    runs.setdefault(column, []).append(
                        measure(server.port, "read.lua", newsd_list, opts, pids))
                log(f"{name}: nginx")
                runs.setdefault("ceiling", []).append(
                    measure(nginx.port, "read.lua", [os.path.join(listdir, f"{name}.nginx")],
                            opts, pids))
            for column, done in runs.items():
                entry[column] = median_run(done)
            if others:
                entry["ratios"] = ratios(entry)
            results["scenarios"][name] = entry
        results["rss_after_reads_kb"] = srv.memory_kb()[0]
        nginx.stop()
        nginx = None
        keys = {"newsd": key, "newsd_cold": key, "peer": key}
        if pg:
            keys["pg"] = keys["pg_cold"] = create_key(opts.newsd, pg_uri)
        ids_file = os.path.join(listdir, "comment_targets")
        write_lines(ids_file, urllists.comment_targets(meta))
        mixed_file = os.path.join(listdir, "mixed.newsd")
        write_lines(mixed_file, urllists.mixed_reads(lists))
        for name, label in WRITE_SCENARIOS:
            if not wanted(opts, name):
                continue
            entry = {"label": label, "kind": "write"}
            for column, server in (("newsd", srv), *others.items()):
                # titles of their own per server: no slug needs a suffix
                tag = {"newsd": "", "newsd_cold": "Cold", "peer": "Peer", "pg": "Pg",
                       "pg_cold": "PgCold"}[column]
                col_key = keys[column]  # a key of the server's own database
                script, args = {"create_article": ("post.lua", ["article", col_key,
                                                                "Bench" + tag]),
                                "create_comment": ("post.lua", ["comment", ids_file,
                                                                "Bench" + tag]),
                                "mix": ("mix.lua", [mixed_file, ids_file, col_key,
                                                    "Mix" + tag])}[name]
                log(f"{name}: {server.name}")
                on_pg = column in ("pg", "pg_cold")
                cpu = (lambda server=server, on_pg=on_pg: {  # noqa: E731
                    "newsd": ticks(server.proc.pid), **({"postgres": pg_ticks(pg)} if on_pg else {})})
                entry[column] = measure(server.port, script, args, opts, pids,
                                        cpu if column != "peer" else None)
            if others:
                entry["ratios"] = ratios(entry)
            results["scenarios"][name] = entry
        peak, cur = srv.memory_kb()
        results["rss_peak_kb"], results["rss_end_kb"] = peak, cur
        for column, server in others.items():
            results[f"{column}_rss_peak_kb"] = server.memory_kb()[0]
    finally:
        if nginx:
            nginx.stop()
        for server in others.values():
            server.stop()
        srv.stop()
        if pg:
            pg.stop()
    return results


def empty_run_dir(folder):
    """FOLDER/run, emptied of what an earlier run left: the folder of one run's files."""
    run_dir = os.path.join(folder, "run")
    if os.path.isdir(run_dir):
        shutil.rmtree(run_dir)
    os.makedirs(run_dir)
    return run_dir


def run_profile(opts):
    """One read scenario under `perf record` (newsd only): where the time goes."""
    n = opts.articles
    folder, db, loaded, meta = prepare(opts, n)
    run_dir = empty_run_dir(folder)
    srv = Newsd(opts.newsd, db, run_dir, opts.newsd_flags)
    perf_data = os.path.join(run_dir, "perf.data")
    try:
        srv.start()
        lists, info, static, listdir = read_scenarios(srv, meta, run_dir)
        if opts.profile not in lists:
            raise SystemExit(f"bench: --profile takes a read scenario: {', '.join(lists)}")
        list_file = os.path.join(listdir, f"{opts.profile}.newsd")
        wait_idle(srv.proc.pid)
        wrk(srv.port, "read.lua", [list_file], opts.warmup or 1, opts.connections, opts.threads)
        wait_idle(srv.proc.pid)
        perf = subprocess.Popen(["perf", "record", "-F", "499", "--call-graph", "dwarf,16384",
                                 "-p", str(srv.proc.pid),
                                 "-o", perf_data], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            result = wrk(srv.port, "read.lua", [list_file], opts.duration, opts.connections,
                         opts.threads)
        finally:
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
    finally:
        srv.stop()
    text = subprocess.run(["perf", "report", "--stdio", "--no-children", "--percent-limit",
                           "0.7", "-g", "none", "-i", perf_data], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True).stdout
    out = os.path.join(run_dir, "perf.txt")
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    lines = [l for l in text.splitlines() if l.strip() and not l.startswith("#")]
    print(f"{opts.profile}: {result['rps']:.0f} req/s, p99 "
          f"{result['latency_us']['p99'] / 1000:.2f} ms under perf; the hottest symbols "
          f"(whole report in {out}, call graphs: perf report -i {perf_data}):")
    print("\n".join(lines[:40]))


def run_scale(opts):
    results = {"kind": "scale", "sizes": opts.sizes, "connections": opts.connections,
               "threads": opts.threads, "duration_s": opts.duration, "warmup_s": opts.warmup,
               "cores": os.cpu_count(), "by_size": {}, "command": opts.command}
    for n in opts.sizes:
        folder, db, loaded, meta = prepare(opts, n)
        run_dir = empty_run_dir(folder)
        # reads only: the loaded database itself is served, not a copy
        srv = Newsd(opts.newsd, db, run_dir, opts.newsd_flags)
        size = {"import": loaded, "scenarios": {}}
        try:
            srv.start()
            size["startup_ms"] = round(srv.startup_ms, 1)
            lists, info, static, listdir = read_scenarios(srv, meta, run_dir)
            for name, label in urllists.READ_SCENARIOS:
                if not wanted(opts, name):
                    continue
                log(f"{n} articles, {name}")
                mine = measure(srv.port, "read.lua", [os.path.join(listdir, f"{name}.newsd")],
                               opts, srv.proc.pid)
                size["scenarios"][name] = {"label": label, "newsd": mine, **info[name]}
            size["rss_peak_kb"] = srv.memory_kb()[0]
        finally:
            srv.stop()
        results["by_size"][str(n)] = size
    return results


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench/run", description="newsd benchmark")
    ap.add_argument("--newsd", required=True, help="the newsd binary (bench/run builds it)")
    ap.add_argument("--articles", type=int, default=100000)
    ap.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per run")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument("--rounds", type=int, default=1,
                    help="read scenarios: measure each server this many times, taking turns, "
                         "and report each one's median run (ratios of medians)")
    ap.add_argument("--scale", action="store_true", help="read scenarios at several sizes")
    ap.add_argument("--sizes", default="10000,100000",
                    help="sizes for --scale (add 1000000 for 1M: ~1 h to make once, ~9 GB)")
    ap.add_argument("--quick", action="store_true", help="2,000 articles, 2 s runs")
    ap.add_argument("--json-out", help="also write the JSON results to this file")
    ap.add_argument("--newsd-flags", default="", metavar="FLAGS",
                    help="more flags for newsd serve, e.g. \"--threads 4\" (for experiments)")
    ap.add_argument("--peer", action="store_true",
                    help="also measure newsd without its cache and the Node.js comparison server")
    ap.add_argument("--postgres", action="store_true",
                    help="also measure newsd over PostgreSQL, with and without its cache")
    ap.add_argument("--cluster", action="store_true",
                    help="the scenarios through haproxy with 1 and 3 instances over a PostgreSQL "
                         "primary and replica, and directly against one instance")
    ap.add_argument("--peer-check", action="store_true",
                    help="only compare the comparison server's answers with newsd's, then stop")
    ap.add_argument("--profile", metavar="SCENARIO",
                    help="run one read scenario under perf record and print the hottest symbols")
    ap.add_argument("--scenarios", default="", metavar="NAMES",
                    help="only these scenarios, comma-separated (e.g. search_rare,search_or)")
    opts = ap.parse_args(argv)
    known = [name for name, _ in urllists.READ_SCENARIOS + WRITE_SCENARIOS]
    opts.scenarios = [s.strip() for s in opts.scenarios.split(",") if s.strip()]
    for name in opts.scenarios:
        if name not in known:
            ap.error(f"--scenarios: no scenario {name}; there are {', '.join(known)}")
    if opts.quick:
        opts.articles, opts.duration, opts.warmup = 2000, 2, 1
        opts.sizes = "1000,2000"
    opts.newsd_flags = shlex.split(opts.newsd_flags)
    if opts.peer_check:
        opts.peer = True
    if (opts.peer or opts.postgres) and opts.scale:
        ap.error("--peer and --postgres go with a full run, not with --scale")
    if opts.cluster and (opts.peer or opts.postgres or opts.scale or opts.profile):
        ap.error("--cluster goes alone (not with --peer, --postgres, --scale or --profile)")
    opts.sizes = [int(s) for s in str(opts.sizes).split(",") if s.strip()]
    for value, what in ((opts.articles, "--articles"), (opts.duration, "--duration"),
                        (opts.connections, "--connections"), (opts.threads, "--threads")):
        if value < 1:
            ap.error(f"{what} must be at least 1")
    if opts.articles < 50 or any(s < 50 for s in opts.sizes):
        ap.error("a corpus needs at least 50 articles")
    opts.command = "bench/run " + " ".join(a for a in argv if not a.startswith("--newsd"))
    return opts


def main(argv):
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    opts = parse_args(argv)
    os.makedirs(DATA, exist_ok=True)
    if opts.profile:
        run_profile(opts)
        return
    load_before = os.getloadavg()
    if opts.cluster:
        import cluster_bench  # noqa: E402  (tests/integration on the path only when wanted)
        results = cluster_bench.run(opts, sys.modules[__name__])
    else:
        results = run_scale(opts) if opts.scale else run_full(opts)
    if results is None:  # --peer-check: the comparison was all
        return
    results["loadavg_before"] = [round(x, 2) for x in load_before]
    results["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    results["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    text = json.dumps(results, indent=1)
    name = ("last-scale.json" if opts.scale else
            "last-cluster.json" if opts.cluster else "last-results.json")
    for path in filter(None, [os.path.join(DATA, name), opts.json_out]):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    report.print_report(results)
    print("\nJSON:")
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
