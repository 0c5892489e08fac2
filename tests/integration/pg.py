"""pg.py: the PostgreSQL side of the integration tests.

scripts/test starts a throwaway PostgreSQL 15 server (scripts/pg-cluster)
and exports its conninfo as NEWSD_TEST_PG, e.g.
"host=/tmp/ndpg.AbC123 port=5432 user=newsd_test dbname=postgres": a Unix
socket only, a superuser that needs no password. Each test makes its own
database (Database, named newsd_<random>) and drops it at the end, so tests
that run at the same time never see each other's rows.

NEWSD_TEST_BACKEND (sqlite, the default, or postgres) says which backend the
integration tests run against; meson registers every integration test once
for each (the postgres ones are named pg_<name>, suite integration-pg). On
postgres, Server gives newsd `--db postgresql://...` for a new database
instead of a file. skip_reason() tells why the postgres variant of a test
cannot run here: no server, or a newsd built without the backend.

Talks to the server with psql (postgresql-client-15), so the tests need no
Python driver.
"""

import contextlib
import json
import os
import re
import secrets
import subprocess
import time
import urllib.parse

BACKENDS = ("sqlite", "postgres")
BACKEND = os.environ.get("NEWSD_TEST_BACKEND", "sqlite")
# single, or cluster: see environment.py and topology.py
TOPOLOGY = os.environ.get("NEWSD_TEST_TOPOLOGY", "single")
CLUSTER = TOPOLOGY == "cluster"
CLUSTER_INSTANCES = 2  # newsd instances behind haproxy in the cluster topology
PSQL = os.environ.get("ND_PSQL", "psql")


def base_conninfo():
    """The conninfo of the test server (NEWSD_TEST_PG), or None."""
    return os.environ.get("NEWSD_TEST_PG") or None


def parse_conninfo(conninfo):
    """A key=value conninfo as a dict. Values are taken as written: the
    conninfo of scripts/pg-cluster has no spaces or quotes in them."""
    pairs = {}
    for item in conninfo.split():
        key, _, value = item.partition("=")
        pairs[key] = value
    return pairs


def conninfo_for(dbname, base=None):
    """The base conninfo with dbname instead of its database."""
    pairs = parse_conninfo(base or base_conninfo())
    pairs["dbname"] = dbname
    return " ".join(f"{k}={v}" for k, v in pairs.items())


def uri_for(dbname, base=None):
    """The URI newsd --db takes for dbname on the test server:
    postgresql://USER@/DBNAME?host=%2Fsocket%2Fdir&port=PORT."""
    pairs = parse_conninfo(base or base_conninfo())
    user = urllib.parse.quote(pairs.get("user", ""), safe="")
    query = {k: pairs[k] for k in ("host", "port") if k in pairs}
    return (f"postgresql://{user + '@' if user else ''}/{urllib.parse.quote(dbname, safe='')}"
            f"?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote, safe='')}")


def psql(conninfo, sql=None, file=None, single_transaction=False, check=True, timeout=60):
    """Runs sql (a string) or file with psql against conninfo; stops at the
    first error. Returns the CompletedProcess; stdout holds unaligned rows,
    fields separated by "|". check: raise RuntimeError on failure."""
    argv = [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo]
    if single_transaction:
        argv.append("--single-transaction")
    if sql is not None:
        argv += ["-c", sql]
    if file is not None:
        argv += ["-f", file]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        what = sql if sql is not None else file
        raise RuntimeError(f"psql failed ({proc.returncode}) on {what!r}:\n{proc.stderr}")
    return proc


def rows(conninfo, sql):
    """The rows sql answers, each a tuple of strings ("" for NULL)."""
    out = psql(conninfo, sql).stdout
    return [tuple(line.split("|")) for line in out.splitlines() if line != ""]


def literal(value):
    """value as an SQL literal: None, bool, int, float, str or bytes."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, bytes):
        return "'\\x" + value.hex() + "'::bytea"
    # standard_conforming_strings is on: only the quote is special
    return "'" + str(value).replace("'", "''") + "'"


def bind(statement, args):
    """statement with each ? replaced by the next of args as a literal (the
    tests' SQL has no ? of its own)."""
    args = list(args)
    parts = statement.split("?")
    if len(parts) - 1 != len(args):
        raise ValueError(f"{len(args)} values for {len(parts) - 1} ?s in {statement!r}")
    out = parts[0]
    for value, part in zip(args, parts[1:]):
        out += literal(value) + part
    return out


def query(db, statements, args=()):
    """Runs statements (one SQL string, or a list run in one transaction;
    ? marks args, which go with the first) on db (a conninfo or URI), as
    another client of the database would. Returns the rows of the last
    statement when it is a SELECT (or WITH), each a tuple of Python values
    typed as sqlite3 would give them (numbers as int or float, text as str,
    NULL as None, booleans as bool), else []."""
    if isinstance(statements, str):
        statements = [statements]
    sql = [bind(statements[0], args)] + list(statements[1:])
    last = sql[-1].strip().rstrip(";")
    select = re.match(r"(select|with)\b", last, re.I) is not None
    if select:
        # json keeps the types and any text intact; pairs keep duplicate names
        sql[-1] = f"SELECT coalesce(json_agg(row_to_json(r)), '[]') FROM ({last}) AS r"
    # psql -c sends the statements as one string: one transaction, the
    # last statement's rows printed
    out = psql(db, ";\n".join(sql)).stdout
    if not select:
        return []
    return json.loads(out, object_pairs_hook=lambda pairs: tuple(v for _, v in pairs))


@contextlib.contextmanager
def holding_locks(db, tables, mode):
    """A with-block during which a psql session (another process, as an
    administrator's or a migration's) holds tables (names) locked in mode
    ("EXCLUSIVE": reads go on, writes wait; "ACCESS EXCLUSIVE": both wait).
    Entered once the server shows every lock granted; rolled back on exit."""
    proc = subprocess.Popen([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write(f"BEGIN;\nLOCK TABLE {', '.join(tables)} IN {mode} MODE;\n")
        proc.stdin.flush()
        # psql's output to a pipe is buffered: ask the server who holds the locks
        lock_mode = "".join(w.capitalize() for w in mode.split()) + "Lock"
        names = ", ".join(f"{literal(t)}::regclass" for t in tables)
        held = ("SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND granted "
                f"AND mode = {literal(lock_mode)} AND pid <> pg_backend_pid() "
                f"AND relation IN ({names})")
        deadline = time.monotonic() + 30
        while query(db, held) != [(len(tables),)]:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"psql did not lock {tables}: {proc.stderr.read()}")
            time.sleep(0.05)
        yield
    finally:
        try:
            proc.communicate("ROLLBACK;\n\\q\n", timeout=30)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            proc.kill()
            proc.wait()


def create_database(base=None):
    """A new empty database on the test server; returns its name."""
    name = "newsd_" + secrets.token_hex(6)
    psql(base or base_conninfo(), f'CREATE DATABASE "{name}"')
    return name


def drop_database(name, base=None):
    """Drops database name, disconnecting whoever is still connected to it."""
    psql(base or base_conninfo(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Database:
    """A database of its own on the test server for the length of a with-block.

    with Database() as db: db.name, db.conninfo (key=value, for psql),
    db.uri (for newsd --db). Dropped on exit, connections or not."""

    def __init__(self, base=None):
        self.base = base or base_conninfo()
        if not self.base:
            raise RuntimeError("NEWSD_TEST_PG is not set: no PostgreSQL server for the tests")
        self.name = None

    def create(self):
        self.name = create_database(self.base)
        self.conninfo = conninfo_for(self.name, self.base)
        self.uri = uri_for(self.name, self.base)
        return self

    def drop(self):
        if self.name is not None:
            drop_database(self.name, self.base)
            self.name = None

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.drop()
        return False


def sql_rows(db, sql):
    """Runs one statement on db, the value newsd was given as --db (a
    postgresql:// URI or a SQLite file), in a transaction of its own, as
    another process would; returns its rows as tuples of text, None for
    NULL (SQLite's numbers as their text too, so both backends compare
    alike). For tests that write behind newsd's back or read what it
    stored, whichever backend it runs on."""
    if db.startswith(("postgres://", "postgresql://")):
        proc = subprocess.run(
            [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-P", "null=\\N",
             "-F", "\x1f", "-R", "\x1e", "-d", db, "-c", sql],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise RuntimeError(f"psql failed ({proc.returncode}) on {sql!r}:\n{proc.stderr}")
        out = proc.stdout.rstrip("\n")
        return [tuple(None if v == "\\N" else v for v in rec.split("\x1f"))
                for rec in out.split("\x1e") if rec != ""]
    import sqlite3  # only the SQLite branch needs it

    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        rows = [tuple(None if v is None else str(v) for v in row) for row in conn.execute(sql)]
        conn.execute("COMMIT")
        return rows
    finally:
        conn.close()


def binary_supports_postgres(binary):
    """Whether newsd --version names the postgresql backend."""
    try:
        proc = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and "postgresql" in proc.stdout.lower()


def skip_reason(binary, backends=BACKENDS):
    """Why this test cannot run against BACKEND here, or None when it can.
    backends: the backends the test is meant for (a test about SQLite's
    files alone passes ("sqlite",))."""
    if BACKEND not in BACKENDS:
        return f"unknown NEWSD_TEST_BACKEND {BACKEND!r} (want sqlite or postgres)"
    if BACKEND not in backends:
        return f"this test is about the {' and '.join(backends)} backend only"
    if BACKEND != "postgres":
        return None
    if not base_conninfo():
        return "no PostgreSQL server for the tests (NEWSD_TEST_PG unset; scripts/test starts one)"
    if not binary_supports_postgres(binary):
        return "this newsd has no PostgreSQL backend (newsd --version names no postgresql)"
    return None


# On PostgreSQL another process's commit reaches newsd's response cache as a
# notification, a few milliseconds after the commit returns (docs/postgresql.md);
# on SQLite the next read sees it. A foreign write is given this long before a
# test calls it unseen; newsd's own writes never wait.
FOREIGN_NOTICE_S = 1.0 if BACKEND == "postgres" else 0.0


def _until(read, ok, allowance):
    """read() until ok(value) or allowance seconds passed; its last value. In
    the cluster topology ok must hold for as many reads in a row as there
    are instances: haproxy takes turns, so each instance has answered so,
    and the test's next read finds it whichever instance answers."""
    deadline = time.monotonic() + allowance
    need = CLUSTER_INSTANCES if CLUSTER else 1
    value = read()
    good = 1 if ok(value) else 0
    while good < need and time.monotonic() < deadline:
        if not good:
            time.sleep(0.02)
        value = read()
        good = good + 1 if ok(value) else 0
    return value


def soon(read):
    """read() now, or (on PostgreSQL) again until it is true or FOREIGN_NOTICE_S
    passed; its last value."""
    return _until(read, bool, FOREIGN_NOTICE_S)


# In the cluster topology a test's own write went through one instance and
# its next read may reach another, which learns of the write as of a foreign
# one: the same allowance. One process sees its own writes at once.
OWN_NOTICE_S = FOREIGN_NOTICE_S if CLUSTER else 0.0


def settled(read, ok):
    """read() now, or (in the cluster topology) again until ok(value) or
    OWN_NOTICE_S passed; its last value. For a read right after the test's
    own write that must see it."""
    return _until(read, ok, OWN_NOTICE_S)
