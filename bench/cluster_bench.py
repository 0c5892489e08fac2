"""cluster_bench.py: bench/run --cluster, newsd instances behind haproxy (issue #13).

Runs the benchmark's read and write scenarios against the cluster of
tests/integration/cluster.py (its Cluster class, not a copy): a durable
PostgreSQL 15 primary with a synchronous streaming replica, three newsd
instances of the release build and haproxy in front of them. The corpus is
loaded once into the primary (newsd import --jsonl) before any instance
starts. Each scenario is measured three ways with the same wrk settings:

- direct: wrk against the first instance, no proxy;
- one: through a second haproxy whose only server is that instance, so
  one/direct is the proxy's own cost;
- three: through the cluster's haproxy, round robin over three instances.

Reads run with each instance's response cache and again against three more
instances with --cache-size 0 (and haproxys of their own), the three ways
of a scenario one after the other; writes with the cache, so that every
write empties the other instances' caches as in production. Instances not
in the way measured stay up, idle (stopping and starting them again would
give their ports away to the clients' connections meanwhile). During each measured run the
CPU time of every process is read from /proc before and after (newsd
instances, haproxy, the PostgreSQL primary's and replica's processes), which
gives the CPU milliseconds each piece spends per request: on this machine
they all share two cores, so the per-request costs, not the throughput of
three instances, say what a deployment of several machines would carry.
During the write scenarios a thread samples the replica's lag on the primary
(pg_stat_replication). At the end, the cross-instance invalidation delay is
measured: a PATCH through one instance, then the time until both others
serve the new title, over TRIALS trials, the writing instance in turn.

bench.py calls run(opts, bench) with itself as bench (its helpers: corpus,
URL lists, warming, wrk); report.py prints the result (kind "cluster").
"""

import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import cluster as harness  # noqa: E402  tests/integration/cluster.py
import pg as testpg  # noqa: E402  tests/integration/pg.py
import urls as urllists  # noqa: E402

WAYS = ("direct", "one", "three")
TRIALS = 200  # invalidation trials (the issue asks for at least 100)
TRIAL_LIMIT_S = 5.0  # a trial not seen by then counts as late
LAG_SAMPLE_S = 0.25


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def missing(binary):
    """Why the cluster cannot run here, or None."""
    for prog in ("initdb", "pg_ctl", "pg_basebackup", "psql"):
        if not os.access(os.path.join(harness.PG_BIN, prog), os.X_OK):
            return f"no PostgreSQL 15 {prog} in {harness.PG_BIN} (install postgresql-15)"
    if not os.access(harness.HAPROXY, os.X_OK):
        return "no haproxy (apt-get install haproxy)"
    if not testpg.binary_supports_postgres(binary):
        return "this newsd has no PostgreSQL backend (newsd --version names no postgresql)"
    return None


# ---- CPU time per process ------------------------------------------------------


from bench import pg_ticks, ticks  # noqa: E402  shared with the single-server runs


class Pieces:
    """Every process of the run: the cluster, the instances without a cache, the proxies."""

    def __init__(self, c, extra_instances, proxies):
        self.c = c
        self.extra = extra_instances
        self.proxies = proxies

    def newsd_pids(self):
        return [i.pid for i in self.c.instances + self.extra if i.pid]

    def proxy_pids(self):
        return [p.proc.pid for p in self.proxies if p.proc]


def cpu_snapshot(pieces):
    """{piece: ticks} now (instances idle in the way measured add next to nothing)."""
    return {"newsd": sum(ticks(p) for p in pieces.newsd_pids()),
            "haproxy": sum(ticks(p) for p in pieces.proxy_pids()),
            "primary": pg_ticks(pieces.c.primary), "replica": pg_ticks(pieces.c.replica)}


# ---- the replica's lag -------------------------------------------------------------


class LagSampler:
    """Samples pg_stat_replication on the primary in a thread: replay_lag (ms)
    and how far the replica's replay is behind the primary's WAL (bytes)."""

    SQL = ("SELECT COALESCE(EXTRACT(epoch FROM replay_lag) * 1000, 0), "
           "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication")

    def __init__(self, c):
        self.conninfo = c.primary.conninfo
        self.lag_ms, self.behind = [], []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stopping.wait(LAG_SAMPLE_S):
            try:
                rows = testpg.rows(self.conninfo, self.SQL)
            except Exception:  # noqa: BLE001 - a missed sample is no failure
                continue
            for lag, behind in rows:
                self.lag_ms.append(float(lag or 0))
                self.behind.append(float(behind or 0))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(10)
        return False

    def summary(self):
        if not self.lag_ms:
            return None
        return {"samples": len(self.lag_ms), "replay_lag_ms_p50": pct(self.lag_ms, 50),
                "replay_lag_ms_max": round(max(self.lag_ms), 1),
                "behind_bytes_p50": pct(self.behind, 50),
                "behind_bytes_max": round(max(self.behind))}


def pct(values, p):
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return round(ordered[k], 2)


# ---- measuring ----------------------------------------------------------------------


def measure(b, port, script, args, opts, pieces):
    """A warm-up run, then the measured run with every piece's CPU time around it."""
    pids = pieces.newsd_pids() + pieces.proxy_pids()
    return b.measure(port, script, args, opts, pids, cpu=lambda: cpu_snapshot(pieces))


def record_pids(run_dir, pieces):
    """The pids bench/run stops should this process die without its teardown."""
    pids = pieces.newsd_pids() + pieces.proxy_pids()
    with open(os.path.join(run_dir, "cluster.pids"), "w") as f:
        f.write("".join(f"{p}\n" for p in pids))


# ---- invalidation across instances ---------------------------------------------------


def get_json(conn, path):
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, (json.loads(body) if resp.status == 200 else None)


def invalidation(c):
    """TRIALS trials: a PATCH of an article's title through instance k % 3 (each
    instance's copy warm), then the time from the PATCH's answer until both
    other instances serve the new title. Returns the figures in ms."""
    conns = [http.client.HTTPConnection("127.0.0.1", i.port, timeout=10) for i in c.instances]
    auth = {"Authorization": "Bearer " + c.key, "Content-Type": "application/json"}
    try:
        conns[0].request("POST", "/v1/articles", json.dumps(
            {"title": "Invalidation trial 0", "body": "A trial."}), auth)
        resp = conns[0].getresponse()
        doc = json.loads(resp.read())
        if resp.status != 201:
            raise SystemExit(f"bench: creating the trial article: {resp.status} {doc}")
        path = f"/v1/articles/{doc['id']}"
        worst, late, wrong = [], 0, 0
        title = "Invalidation trial 0"

        def all_serve(want):
            for conn in conns:
                _, seen = get_json(conn, path)
                if not seen or seen["title"] != want:
                    return False
            return True

        for k in range(1, TRIALS + 1):
            # every instance's copy of the old answer warm (and cached)
            if not harness.wait_until(lambda: all_serve(title), 5, 0.01):
                raise SystemExit(f"bench: trial {k}: the instances do not all serve {title!r}")
            new = f"Invalidation trial {k}"
            writer = k % len(conns)
            conns[writer].request("PATCH", path, json.dumps({"title": new}), auth)
            resp = conns[writer].getresponse()
            resp.read()
            t0 = time.monotonic()
            if resp.status != 200:
                raise SystemExit(f"bench: trial {k}: PATCH answered {resp.status}")
            pending = {i for i in range(len(conns)) if i != writer}
            took = 0.0
            while pending and time.monotonic() - t0 < TRIAL_LIMIT_S:
                for i in sorted(pending):
                    _, seen = get_json(conns[i], path)
                    if seen and seen["title"] == new:
                        took = (time.monotonic() - t0) * 1000
                        pending.discard(i)
                    elif not seen or seen["title"] != title:
                        wrong += 1
            if pending:
                late += 1
            else:
                worst.append(took)
            title = new
        return {"trials": TRIALS, "seen": len(worst), "late": late, "unexpected": wrong,
                "p50_ms": pct(worst, 50), "p99_ms": pct(worst, 99),
                "max_ms": round(max(worst), 2) if worst else None,
                "mean_ms": round(statistics.mean(worst), 2) if worst else None}
    finally:
        for conn in conns:
            conn.close()


# ---- the run -----------------------------------------------------------------------------


def load_corpus(opts, folder, results):
    """Cluster's prepare hook: the corpus into the primary before any instance starts."""

    def prepare(c):
        log("loading the corpus into the PostgreSQL primary (newsd import --jsonl, "
            "synchronous_commit off for the load only)")
        started = time.monotonic()
        proc = subprocess.run([opts.newsd, "--db", c.db, "--log-level", "warn", "import",
                               "--jsonl", os.path.join(folder, "corpus.jsonl")],
                              stdout=subprocess.PIPE, text=True,
                              # commits of the load only: no wait for the disk or the replica
                              env=dict(os.environ, PGOPTIONS="-c synchronous_commit=off"))
        if proc.returncode != 0:
            raise SystemExit(f"bench: newsd import --jsonl failed ({proc.returncode})")
        seconds = time.monotonic() - started
        testpg.psql(testpg.conninfo_for(harness.DBNAME, c.primary.conninfo), "VACUUM ANALYZE",
                    timeout=600)
        c.wait_replayed(60)
        results["pg_import"] = {"seconds": round(seconds, 1), "output": proc.stdout.strip()}
        log(f"loaded in {seconds:.0f} s: {proc.stdout.strip()}")

    return prepare


def scenario_entry(results, key, name, label, kind, cache):
    return results["scenarios"].setdefault(key, {"name": name, "label": label, "kind": kind,
                                                 "cache": cache})


def run(opts, b):
    reason = missing(opts.newsd)
    if reason:
        raise SystemExit(f"bench: --cluster: {reason}")
    n = opts.articles
    folder = b.ensure_corpus(n)
    with open(os.path.join(folder, "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    run_dir = b.empty_run_dir(folder)
    results = {"kind": "cluster", "articles": n, "comments": meta["comments"],
               "connections": opts.connections, "threads": opts.threads,
               "duration_s": opts.duration, "warmup_s": opts.warmup, "cores": os.cpu_count(),
               "scenarios": {}, "command": opts.command, "synchronous_replica": True}
    base_args = [*b.no_rate_limits(opts.newsd), *opts.newsd_flags]
    cold = []  # the instances with --cache-size 0, and their proxies
    proxies = []
    c = harness.Cluster(opts.newsd, instances=3, replica=True, sync=True, durable=True,
                        quiet=True, args=base_args, prepare=load_corpus(opts, folder, results))
    try:
        c.start()
        with open(os.path.join(run_dir, "cluster.dir"), "w") as f:
            f.write(c.dir + "\n")
        results["replica_reads"] = bool(c.replica_reads)
        results["check_path"] = c.check_path
        # what the cluster gave every instance (with --db-replica when it added it)
        extra = base_args + (["--db-replica", c.replica_uri] if c.replica_reads else [])
        for k in range(3):
            inst = harness.Instance(opts.newsd, c.db, f"cold{k + 1}", b.free_port(),
                                    [*extra, "--cache-size", "0"], c.env, quiet=True)
            cold.append(inst)
            inst.start()

        def proxy(name, servers):
            p = harness.Haproxy(c.dir, b.free_port(), [(i.name, i.port) for i in servers],
                                c.check_path, name=name, quiet=True)
            proxies.append(p)
            p.start()
            return p

        first = c.instances[0]
        ports = {"cached": {"direct": first.port, "one": proxy("haproxy-one", [first]).port,
                            "three": c.haproxy.port},
                 "cold": {"direct": cold[0].port, "one": proxy("haproxy-cold-one", cold[:1]).port,
                          "three": proxy("haproxy-cold", cold).port}}
        proxies.append(c.haproxy)
        everyone = Pieces(c, cold, proxies)
        record_pids(run_dir, everyone)
        log("walking the list for deep-page cursors")
        all_lists = urllists.build(meta, b.walk_cursors(first.port, meta["articles"]))
        # only the scenarios run are fetched and warmed: a search missing the cache
        # costs PostgreSQL tens of milliseconds
        lists = {k: v for k, v in all_lists.items() if b.wanted(opts, k)}
        log(f"fetching every URL once from {first.name}")
        info, _static, listdir = b.fetch_and_keep(first.port, lists, run_dir)
        reads = [(name, label) for name, label in urllists.READ_SCENARIOS if b.wanted(opts, name)]
        log(f"fetching every URL once from {', '.join(i.name for i in c.instances[1:])}")
        threads = [threading.Thread(target=b.warm, args=(i.port, lists))
                   for i in c.instances[1:]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # each scenario: one instance directly, through haproxy, three through haproxy
        # (the instances not in the way measured stay up, idle)
        for name, label in reads:
            for cache in ("cached", "cold"):
                key = name if cache == "cached" else f"{name}_cold"
                entry = scenario_entry(results, key, name, label, "read", cache)
                entry.update(info[name])
                for way in WAYS:
                    log(f"{name} ({cache}): {way}")
                    entry[way] = measure(b, ports[cache][way], "read.lua",
                                         [os.path.join(listdir, f"{name}.newsd")], opts,
                                         everyone)
        # writes, with the caches (a write empties every instance's); the cold ones go
        for p in proxies[1:3]:
            p.stop()
        for inst in cold:
            inst.kill(signal.SIGTERM)
        record_pids(run_dir, everyone)
        log(f"invalidation across instances: {TRIALS} trials")
        results["invalidation"] = invalidation(c)
        ids_file = os.path.join(listdir, "comment_targets")
        b.write_lines(ids_file, urllists.comment_targets(meta))
        mixed_file = os.path.join(listdir, "mixed.newsd")
        b.write_lines(mixed_file, urllists.mixed_reads(all_lists))
        for name, label in b.WRITE_SCENARIOS:
            if not b.wanted(opts, name):
                continue
            entry = scenario_entry(results, name, name, label, "write", "cached")
            for way in WAYS:
                tag = {"direct": "Direct", "one": "One", "three": "Three"}[way]
                script, args = {
                    "create_article": ("post.lua", ["article", c.key, "Bench" + tag]),
                    "create_comment": ("post.lua", ["comment", ids_file, "Bench" + tag]),
                    "mix": ("mix.lua", [mixed_file, ids_file, c.key, "Mix" + tag])}[name]
                log(f"{name}: {way}")
                with LagSampler(c) as lag:
                    entry[way] = measure(b, ports["cached"][way], script, args, opts, everyone)
                entry[way]["replica_lag"] = lag.summary()
        for entry in results["scenarios"].values():
            have = lambda a, z: entry.get(a) and entry.get(z)  # noqa: E731
            entry["ratios"] = {
                "three/one": b.ratio(entry["three"], entry["one"]) if have("three", "one")
                else None,
                "one/direct": b.ratio(entry["one"], entry["direct"]) if have("one", "direct")
                else None}
        size = testpg.rows(testpg.conninfo_for(harness.DBNAME, c.primary.conninfo),
                           "SELECT pg_database_size(current_database())")
        results["db_bytes"] = int(size[0][0]) if size else None
    finally:
        for step in [p.stop for p in proxies if p is not c.haproxy] + [i.kill for i in cold]:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - the rest must still be stopped
                log(f"teardown: {exc}")
        c.close()
        for name in ("cluster.dir", "cluster.pids"):
            path = os.path.join(run_dir, name)
            if os.path.exists(path):
                os.remove(path)
    return results
