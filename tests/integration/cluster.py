"""cluster.py: several newsd instances over a PostgreSQL primary and replica, behind haproxy.

The cluster tests (issue #13) run every piece as a real process on loopback,
in temporary folders of the cluster's own:

- a PostgreSQL 15 primary and, optionally, a streaming replica of it
  (scripts/pg-cluster start / replica; the replica may lag by an apply
  delay, and may be synchronous, so that the primary answers no commit the
  replica lacks);
- N newsd instances (the binary under test), each on a port of its own,
  each given one multi-host URI naming the primary and the replica with
  target_session_attrs=read-write, so that libpq finds whichever server
  takes writes, --trusted-proxies 127.0.0.1 for haproxy and a
  per-ip-connection-limit of 1000 (every connection comes from haproxy);
- haproxy (Debian's) on one port: round robin, health checks on /ready
  when newsd has it (else /health), L7 retries and redispatch, the client's
  address in X-Forwarded-For, and a header X-Served-By naming the instance
  that answered. config/haproxy/newsd.cfg is the same configuration for a
  real deployment; test_cluster_config.py checks that they agree.

    with Cluster(binary, instances=3, replica=True) as c:
        c.request("GET", "/v1/articles")            # through haproxy
        c.instance(0).request("GET", "/health")     # one instance directly
        c.instance(1).kill()                        # kill -9 ...
        c.instance(1).start()                       # ... and again, same port
        c.stop_primary(); c.start_primary(); c.promote_replica()
        c.stop_replica(); c.start_replica(); c.wait_replayed()

Instances are numbered from 0; c.key is an API key every instance takes
(made with `newsd key create` against the primary, which also applies the
migrations). Everything is torn down on leaving the with-block, by any path:
an exception, or a SIGTERM (harness.py makes that an exit, which unwinds the
block); each step of the teardown is tried whatever the others did.

skip_reason(binary) says why the cluster cannot run here (no NEWSD_TEST_PG,
which is how the suite says PostgreSQL tests are wanted; no PostgreSQL 15
server programs; no haproxy; a newsd without the PostgreSQL backend);
binary_or_skip() prints the one TAP skip line and exits.
"""

import http.client
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.parse

import pg
from environment import SLOWDOWN, START_TIMEOUT, STOP_TIMEOUT, free_port, source_root, wait_until
from http_client import http_request
from server import Server, Stream, create_key, post_article

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
HAPROXY = os.environ.get("ND_HAPROXY") or shutil.which("haproxy") or "/usr/sbin/haproxy"
SUPERUSER = "newsd_test"  # scripts/pg-cluster's bootstrap superuser
DBNAME = "newsd"

# haproxy's health checks in the tests: every 300 ms, down after 2 failures,
# up after 1 success, so that a killed or draining instance leaves the
# rotation within a second (slower under a wrapper such as valgrind).
# config/haproxy/newsd.cfg uses calmer figures.
CHECK = f"inter {300 * SLOWDOWN}ms fall 2 rise 1"


def skip_reason(binary):
    """Why a cluster cannot run here, or None."""
    if not pg.base_conninfo():
        return "no PostgreSQL for the tests (NEWSD_TEST_PG unset; scripts/test starts one)"
    for prog in ("initdb", "pg_ctl", "pg_basebackup", "psql"):
        if not os.access(os.path.join(PG_BIN, prog), os.X_OK):
            return f"no PostgreSQL 15 {prog} in {PG_BIN} (install postgresql-15)"
    if not os.access(HAPROXY, os.X_OK):
        return "no haproxy (apt-get install haproxy; scripts/test installs it)"
    if not pg.binary_supports_postgres(binary):
        return "this newsd has no PostgreSQL backend (newsd --version names no postgresql)"
    return None


def binary_or_skip():
    """The newsd binary of argv[1], or one TAP skip line and exit 0."""
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        print("1..0 # SKIP no newsd binary given (usage: test_X.py /path/to/newsd)")
        sys.exit(0)
    binary = os.path.abspath(sys.argv[1])
    reason = skip_reason(binary)
    if reason:
        print(f"1..0 # SKIP {reason}")
        sys.exit(0)
    return binary


def has_option(binary, option):
    """Whether newsd --help names option (a feature another branch may add)."""
    proc = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)
    return option in proc.stdout + proc.stderr


def uri(hosts, ports, **params):
    """The URI of database DBNAME on the servers whose sockets are in hosts
    (folders) under ports: libpq tries them in order."""
    query = urllib.parse.urlencode({"host": ",".join(hosts), "port": ",".join(ports), **params},
                                   quote_via=urllib.parse.quote, safe=",")
    return f"postgresql://{SUPERUSER}@/{DBNAME}?{query}"


def as_owner(argv):
    """argv run as the user the PostgreSQL servers run as (scripts/pg-cluster's rule)."""
    return (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) + argv


class PgServer:
    """One PostgreSQL server made by scripts/pg-cluster in folder dir, or
    (PgServer.shared) a server the cluster did not start and must not stop,
    whose database dbname the cluster uses."""

    def __init__(self, dir, port, dbname=DBNAME):
        self.dir = dir
        self.port = port
        self.dbname = dbname
        self.owned = True
        self.conninfo = f"host={dir} port={port} user={SUPERUSER} dbname=postgres"

    @classmethod
    def shared(cls, conninfo, dbname):
        """The server of conninfo (the suite's NEWSD_TEST_PG), database dbname."""
        pairs = pg.parse_conninfo(conninfo)
        server = cls(pairs.get("host"), pairs.get("port"), dbname)
        server.owned = False
        server.conninfo = pg.conninfo_for("postgres", conninfo)
        return server

    def ctl(self, *args):
        if not self.owned:
            raise RuntimeError("this cluster runs over a shared PostgreSQL server: "
                               "it neither stops nor starts it")
        proc = subprocess.run(as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D",
                                        os.path.join(self.dir, "data"), *args]),
                              cwd=self.dir, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)} in {self.dir}: "
                               f"{proc.stdout}{proc.stderr}{self.log_tail()}")

    def stop(self, mode="fast"):
        self.ctl("-m", mode, "-w", "-t", "60", "stop")

    def start(self):
        self.ctl("-l", os.path.join(self.dir, "server.log"), "-w", "-t", "60", "start")

    def running(self):
        return os.path.exists(os.path.join(self.dir, "data", "postmaster.pid"))

    def rows(self, sql, dbname=None):
        return pg.rows(pg.conninfo_for(dbname or self.dbname, self.conninfo), sql)

    def log_tail(self, n=20):
        try:
            with open(os.path.join(self.dir, "server.log"), encoding="utf-8",
                      errors="replace") as f:
                return "\n" + "".join(f.readlines()[-n:])
        except OSError:
            return ""


class Instance(Server):
    """One newsd of the cluster, on a fixed port so that haproxy finds it
    again after a restart. Server's methods work (request, stop, stderr_tail);
    kill(sig) sends a signal (SIGKILL by default) and waits for the exit;
    start() starts it again on the same port. quiet: --log-level warn (no
    access log, which under the benchmark's load would cost as much as the
    answers), so start() waits for /health to answer instead of the
    "listening" line."""

    def __init__(self, binary, db, name, port, args=(), env=None, quiet=False):
        self.name = name
        self.quiet = quiet
        super().__init__(binary, db=db, key=False, port_flag=False, env=env,
                         wait_listening=not quiet,
                         args=["--bind", "127.0.0.1", "--port", str(port),
                               "--trusted-proxies", "127.0.0.1",
                               "--per-ip-connection-limit", "1000",
                               *(["--log-level", "warn"] if quiet else []), *args])
        self.fixed_port = port

    def start(self):
        super().start()
        if self.quiet:
            def answers():
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n"
                                       f"{self.stderr_tail()}")
                try:
                    return http_request(self.fixed_port, "GET", "/health", timeout=2).status == 200
                except OSError:
                    return False

            if not wait_until(answers, START_TIMEOUT, 0.02):
                self.kill()
                raise RuntimeError(f"{self.name} did not answer /health:\n{self.stderr_tail()}")
            self.port = self.fixed_port
        if self.port != self.fixed_port:
            raise RuntimeError(f"{self.name} listens on {self.port}, not {self.fixed_port}")

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def kill(self, sig=signal.SIGKILL, timeout=None):
        """Sends sig and waits for the process to end (timeout seconds, by
        default STOP_TIMEOUT; then SIGKILL); returns its exit status
        (negative: the signal that ended it)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout or STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.returncode = self.proc.returncode
        self._close_pipes()
        self.proc = None
        return self.returncode


class Haproxy:
    """haproxy in the foreground with a configuration written for the cluster.
    name names its files in dir (a second haproxy beside the cluster's, as the
    benchmark runs one in front of a single instance); quiet logs only the
    requests that failed, not one line per request (under the benchmark's load
    the log would cost as much as the proxying)."""

    def __init__(self, dir, port, servers, check_path, name="haproxy", quiet=False):
        self.dir = dir
        self.port = port
        self.servers = servers  # [(name, port)]
        self.check_path = check_path
        self.quiet = quiet
        self.conf = os.path.join(dir, f"{name}.cfg")
        self.sock = os.path.join(dir, f"{name}.sock")
        self.proc = None
        self.err = None
        self.out = None

    def config(self):
        """The configuration: the settings of config/haproxy/newsd.cfg with the
        tests' ports, a stats socket and faster health checks."""
        servers = "\n".join(f"    server {name} 127.0.0.1:{port}" for name, port in self.servers)
        dontlog = "\n    option dontlog-normal" if self.quiet else ""
        problem = ('{"type":"about:blank","title":"Service Unavailable","status":503,'
                   '"detail":"no newsd instance can take the request; try again shortly"}')
        return f"""global
    log stdout format raw local0 info
    stats socket {self.sock} mode 600 level admin
    maxconn 2000

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 10s
    timeout check 2s

frontend newsd_public
    bind 127.0.0.1:{self.port}{dontlog}
    default_backend newsd

backend newsd
    balance roundrobin
    option forwardfor
    option httpchk GET {self.check_path}
    http-check expect status 200
    retries 3
    retry-on all-retryable-errors
    option redispatch 1
    http-request disable-l7-retry if METH_POST
    http-response set-header X-Served-By %[srv_name]
    http-error status 503 content-type application/problem+json hdr Retry-After 1 string '{problem}'
    default-server check {CHECK}
{servers}
"""

    def start(self):
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(self.config())
        check = subprocess.run([HAPROXY, "-c", "-f", self.conf], capture_output=True, text=True,
                               timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy -c refused the configuration:\n{check.stdout}"
                               f"{check.stderr}\n{self.config()}")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.err = Stream(self.proc.stderr)
        self.out = Stream(self.proc.stdout)

        def accepting():
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited {self.proc.returncode}:\n{self.log_tail()}")
            try:  # a whole request: a bare connection is logged as a bad one
                return http_request(self.port, "GET", "/health", timeout=2).status == 200
            except OSError:
                return False

        if not wait_until(accepting, START_TIMEOUT):
            raise RuntimeError("no healthy answer through haproxy:\n" + self.log_tail())

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.err, self.out):
            stream.thread.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.proc = None

    def command(self, line):
        """A command on the stats socket; its answer as text."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.sock)
            s.sendall(line.encode() + b"\n")
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode("utf-8", "replace")

    def server_states(self):
        """name -> haproxy's status of each server (UP, DOWN, "UP 1/2", ...)."""
        lines = self.command("show stat").splitlines()
        if not lines:
            return {}
        head = lines[0].lstrip("# ").split(",")
        states = {}
        for line in lines[1:]:
            row = dict(zip(head, line.split(",")))
            if row.get("pxname") == "newsd" and row.get("svname") not in ("BACKEND", None):
                states[row["svname"]] = row.get("status", "")
        return states

    def log_lines(self):
        return (self.out.snapshot() if self.out else []) + (self.err.snapshot() if self.err else [])

    def log_tail(self, n=30):
        return "\n".join(self.log_lines()[-n:])


class Cluster:
    """A PostgreSQL primary (+ replica), N newsd instances and haproxy.

    Cluster(binary, instances=3, replica=True, delay_ms=0, sync=False,
            args=(), env=None, replica_reads="auto", database=None, durable=False,
            quiet=False, prepare=None)
    args and env go to every instance; "{primary_uri}" and "{replica_uri}" in
    an argument become the URI of that server alone. delay_ms: the replica's
    apply delay; sync: the primary waits for the replica at every commit
    (PG_SYNC=1). replica_reads: give every instance --db-replica with the
    replica's URI; "auto" does when there is a replica and newsd --help
    names the option. database: the URI of an existing database on the
    suite's PostgreSQL server (NEWSD_TEST_PG) to run over instead of a
    primary of the cluster's own, which saves the seconds of initdb (the
    integration suite's cluster topology, see topology.py); no replica then,
    and the server is neither stopped nor started. durable: PostgreSQL keeps
    its durable defaults (fsync, synchronous commit; PG_CLUSTER_DURABLE=1),
    as the benchmark wants; quiet: haproxy logs failed requests only and the
    instances run with --log-level warn; prepare(cluster): called once the
    database is migrated (c.db and c.key set) and before any instance starts,
    e.g. to load a corpus. After start: c.db (the
    multi-host URI every instance has), c.primary_uri, c.replica_uri (None
    without a replica),
    c.replica_reads (whether the instances read from the replica),
    c.check_path (haproxy's health check: /ready or /health).
    """

    def __init__(self, binary, instances=3, replica=True, delay_ms=0, sync=False, args=(),
                 env=None, replica_reads="auto", database=None, durable=False, quiet=False,
                 prepare=None):
        self.binary = binary
        self.database = database
        self.durable = durable
        self.quiet = quiet
        self.prepare = prepare
        self.count = instances
        self.want_replica = replica
        self.delay_ms = delay_ms
        self.sync = sync
        self.args = list(args)
        self.env = dict(env or {})
        self.script = os.path.join(source_root(), "scripts", "pg-cluster")
        self.dir = None
        self.primary = None
        self.replica = None
        self.instances = []
        self.haproxy = None
        self.key = None
        self.db = None
        self.check_path = None
        self.pg_dirs = []  # the servers' folders, stopped in reverse order
        self.replica_reads = replica_reads
        self.primary_uri = None
        self.replica_uri = None

    # -- life ------------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def start(self):
        # Short: the sockets DIR/p/.s.PGSQL.5432 must fit 107 bytes. Others may
        # enter (the servers run as postgres when the tests run as root).
        self.dir = tempfile.mkdtemp(prefix="ndc", dir="/tmp")
        os.chmod(self.dir, 0o755)
        if self.database is not None:
            if self.want_replica:
                raise ValueError("a cluster over an existing database has no replica")
            dbname = urllib.parse.unquote(urllib.parse.urlsplit(self.database).path.lstrip("/"))
            self.primary = PgServer.shared(pg.base_conninfo(), dbname)
            self.db = self.primary_uri = self.database
            self.replica_reads = False
            self._start_newsd(list(self.args))
            return
        pdir, rdir = os.path.join(self.dir, "p"), os.path.join(self.dir, "r")
        os.mkdir(pdir)
        self.pg_dirs.append(pdir)  # before it starts: a stop mid-way must find it
        self._pg("start", pdir, "5432",
                 env={"PG_CLUSTER_DURABLE": "1" if self.durable else "0"})
        self.primary = PgServer(pdir, 5432)
        pg.psql(self.primary.conninfo, f'CREATE DATABASE "{DBNAME}"')
        hosts, ports = [pdir], ["5432"]
        if self.want_replica:
            os.mkdir(rdir)
            self.pg_dirs.append(rdir)
            env = {"PG_REPLICA_DELAY_MS": str(self.delay_ms), "PG_SYNC": "1" if self.sync else "0"}
            self._pg("replica", rdir, pdir, "5433", env=env)
            self.replica = PgServer(rdir, 5433)
            hosts.append(rdir)
            ports.append("5433")
        self.db = uri(hosts, ports, target_session_attrs="read-write")
        self.primary_uri = uri(hosts[:1], ports[:1])
        self.replica_uri = uri(hosts[1:], ports[1:]) if self.replica else None
        if self.replica_reads == "auto":
            self.replica_reads = self.replica is not None and has_option(self.binary,
                                                                         "--db-replica")
        args = [a.format(primary_uri=self.primary_uri, replica_uri=self.replica_uri)
                for a in self.args]
        if self.replica_reads:
            args += ["--db-replica", self.replica_uri]
        self._start_newsd(args)

    def _start_newsd(self, args):
        """The instances (each given args) and haproxy in front of them."""
        # Migrates the database on the primary too, before any instance starts.
        # A name of its own: a cluster may start again over the same database.
        self.key = create_key(self.binary, self.db, "cluster-" + secrets.token_hex(4), self.env)
        if self.prepare is not None:
            self.prepare(self)
        ports = [free_port() for _ in range(self.count)]
        for i, port in enumerate(ports):
            inst = Instance(self.binary, self.db, f"newsd{i + 1}", port, args, self.env,
                            quiet=self.quiet)
            self.instances.append(inst)
            inst.start()
        first = self.instances[0]
        self.check_path = "/ready" if first.request("GET", "/ready").status == 200 else "/health"
        self.haproxy = Haproxy(self.dir, free_port(), [(i.name, i.port) for i in self.instances],
                               self.check_path, quiet=self.quiet)
        self.haproxy.start()

    def close(self):
        """Stops everything that runs, each part whatever the others did. A
        SIGTERM or Ctrl-C meanwhile waits until the teardown is over."""
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        try:
            errors = []
            steps = [("haproxy", lambda: self.haproxy and self.haproxy.stop())]
            steps += [(inst.name, inst.kill) for inst in self.instances]
            steps += [(f"PostgreSQL in {d}", lambda d=d: self._pg("stop", d))
                      for d in reversed(self.pg_dirs)]
            for what, step in steps:
                try:
                    step()
                except Exception as exc:  # noqa: BLE001 - the rest must still be stopped
                    errors.append(f"{what}: {exc}")
            self.haproxy = None
            self.instances = []
            self.pg_dirs = []
            self.primary = self.replica = None
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None
            if errors:
                print("# cluster teardown: " + "; ".join(errors), file=sys.stderr)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def _pg(self, *args, env=None):
        """scripts/pg-cluster args. In a session of its own: when the test is
        stopped meanwhile, the script and what it started (pg_basebackup,
        pg_ctl) are killed together, not the script alone."""
        proc = subprocess.Popen([self.script, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                env={**os.environ, **(env or {})}, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=180)
        except BaseException:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            raise
        if proc.returncode != 0:
            raise RuntimeError(f"pg-cluster {args[0]} failed:\n{err}")
        return out.strip()

    # -- the pieces -------------------------------------------------------------

    @property
    def haproxy_port(self):
        return self.haproxy.port

    @property
    def url(self):
        return f"http://127.0.0.1:{self.haproxy.port}"

    def instance(self, i):
        """The i-th newsd (from 0)."""
        return self.instances[i]

    def stop_primary(self, mode="fast"):
        self.primary.stop(mode)

    def start_primary(self):
        self.primary.start()

    def stop_replica(self, mode="fast"):
        self.replica.stop(mode)

    def start_replica(self):
        self.replica.start()

    def promote_replica(self):
        """The replica becomes a primary (stop the old one first, or it will
        still take writes beside it)."""
        self._pg("promote", self.replica.dir)

    def sql(self, statement, on=None):
        """The rows statement answers on the newsd database of the primary
        (or of on: cluster.replica), as tuples of text."""
        return (on or self.primary).rows(statement)

    def wait_replayed(self, timeout=10):
        """Waits until the replica has applied everything the primary wrote so far."""
        lsn = self.primary.rows("SELECT pg_current_wal_lsn()")[0][0]
        return wait_until(lambda: self.replica.rows(
            f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn")[0][0] == "t", timeout)

    def server_states(self):
        """haproxy's view: instance name -> status."""
        return self.haproxy.server_states()

    # -- talking to it -----------------------------------------------------------

    def request(self, method, path, body=None, headers=None, auth=False, conn=None, timeout=None):
        """A request through haproxy, like Server.request: auth=True adds the
        cluster's key, a string adds that Authorization header value."""
        hdrs = dict(headers or {})
        if auth is True:
            hdrs.setdefault("Authorization", "Bearer " + self.key)
        elif isinstance(auth, str):
            hdrs.setdefault("Authorization", auth)
        extra = {} if timeout is None else {"timeout": timeout}
        return http_request(self.haproxy.port, method, path, body, hdrs, conn, **extra)

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.haproxy.port, timeout=15)

    def create_article(self, **fields):
        """POSTs an article through haproxy; returns its JSON."""
        return post_article(self.request, **fields)

    def logs(self):
        """Every instance's stderr tail and haproxy's log, for a failure message."""
        parts = [f"{i.name} {i.stderr_tail(15)}" for i in self.instances]
        if self.haproxy:
            parts.append("haproxy:\n" + self.haproxy.log_tail(15))
        return "\n".join(parts)


def wait_streaming(cluster, timeout=10):
    """Waits until the primary lists the replica as streaming again."""
    return wait_until(lambda: cluster.primary.rows(
        "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
        "postgres")[0][0] == "1", timeout)

