#!/usr/bin/env python3
"""The throwaway PostgreSQL server of the tests (scripts/pg-cluster, started
by scripts/test as NEWSD_TEST_PG) and the harness's helpers for it (pg.py):
it answers on its Unix socket and nowhere else, runs the settings the suite
relies on, has the unaccent module the schema needs, and a test's database
is made, reached by the URI newsd is given, and dropped even while a
connection holds it. No newsd is involved.
"""

import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pg  # noqa: E402
from environment import wait_until  # noqa: E402
from tap import Tap  # noqa: E402

if not pg.base_conninfo():
    print("1..0 # SKIP no PostgreSQL server for the tests "
          "(NEWSD_TEST_PG unset; scripts/test starts one)")
    sys.exit(0)

tap = Tap()
BASE = pg.base_conninfo()


@tap.point("the server answers on its socket as a superuser")
def answers():
    got = pg.rows(BASE, "SELECT current_setting('server_version_num')::int / 10000, "
                        "rolsuper FROM pg_roles WHERE rolname = current_user")
    tap.eq(got, [("15", "t")], "major version and superuser")


@tap.point("no TCP listener, fsync off, room for the suite's connections")
def settings():
    got = dict(pg.rows(BASE, "SELECT name, setting FROM pg_settings WHERE name IN "
                             "('listen_addresses', 'fsync', 'max_connections')"))
    tap.eq(got.get("listen_addresses"), "", "listen_addresses")
    tap.eq(got.get("fsync"), "off", "fsync")
    tap.check(int(got.get("max_connections", "0")) >= 200,
              f"max_connections {got.get('max_connections')} < 200")
    host = pg.parse_conninfo(BASE).get("host", "")
    tap.check(host.startswith("/") and os.path.isdir(host),
              f"host {host!r} is not a socket folder")


@tap.point("unaccent is available to CREATE EXTENSION")
def unaccent():
    got = pg.rows(BASE, "SELECT name FROM pg_available_extensions WHERE name = 'unaccent'")
    tap.eq(got, [("unaccent",)], "available extensions")


@tap.point("a test database: made, reached by its URI, dropped with a connection open")
def database():
    db = pg.Database().create()
    try:
        tap.require(pg.rows(BASE, f"SELECT 1 FROM pg_database WHERE datname = '{db.name}'")
                    == [("1",)], f"{db.name} was not created")
        tap.check(db.uri.startswith("postgresql://"), f"uri {db.uri!r}")
        # The URI newsd --db will be given reaches the same database.
        tap.eq(pg.rows(db.uri, "SELECT current_database()"), [(db.name,)], "database by URI")
        tap.eq(pg.rows(db.conninfo, "SELECT current_database()"), [(db.name,)],
               "database by conninfo")
        # A client still connected (a server a test killed) does not stop the drop.
        holder = subprocess.Popen([pg.PSQL, "-X", "-q", "-d", db.conninfo],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, text=True)
        holder.stdin.write("SELECT 1;\n")
        holder.stdin.flush()
        try:
            arrived = wait_until(lambda: pg.rows(BASE, "SELECT 1 FROM pg_stat_activity "
                                                       f"WHERE datname = '{db.name}'"), 10)
            tap.check(arrived, "the holding connection never arrived")
            name = db.name
            db.drop()
            tap.eq(pg.rows(BASE, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"), [],
                   "database left after the drop")
        finally:
            holder.stdin.close()
            holder.wait(30)
    finally:
        db.drop()


@tap.point("two test databases never share a name")
def distinct():
    with pg.Database() as a, pg.Database() as b:
        tap.check(a.name != b.name, f"both named {a.name}")
        pg.psql(a.conninfo, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
        tap.eq(pg.rows(b.conninfo, "SELECT to_regclass('t') IS NULL"), [("t",)],
               "a table of one database seen in the other")


@tap.point("sql_rows: the same rows from a postgresql:// URI and a SQLite file")
def sql_rows():
    statements = ["CREATE TABLE t (n integer, s text)",
                  "INSERT INTO t VALUES (1, 'a|b'), (2, NULL), (3, 'two\nlines\\N')",
                  "SELECT n, s FROM t ORDER BY n"]
    want = [("1", "a|b"), ("2", None), ("3", "two\nlines\\N")]
    with pg.Database() as db, tempfile.TemporaryDirectory(prefix="newsd-pg-") as tmp:
        for where in (db.uri, os.path.join(tmp, "newsd.db")):
            for sql in statements[:-1]:
                tap.eq(pg.sql_rows(where, sql), [], f"{sql} on {where}")
            tap.eq(pg.sql_rows(where, statements[-1]), want, f"rows from {where}")


tap.done()
