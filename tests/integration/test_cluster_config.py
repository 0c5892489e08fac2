#!/usr/bin/env python3
"""test_cluster_config.py: the cluster's example configuration files are valid and agree.

- config/haproxy/newsd.cfg: `haproxy -c` accepts it as it is (and refuses a
  copy with a misspelt setting, so the check means something), and its
  defaults and newsd backend carry every setting that tests/integration/
  cluster.py runs in front of real instances, and no other.
- config/systemd/newsd@.service: `systemd-analyze verify` accepts it (a copy
  whose ExecStart names the built binary), it takes the port from an
  environment file of its instance, and `systemd-analyze security` rates it
  no worse than config/newsd.service.
- config/postgresql/primary.conf and replica.conf: PostgreSQL 15 itself reads
  each (`postgres -C` on a new data folder that includes it), so a misspelt
  name or a bad value fails here; the values that matter are checked.

No newsd runs here; each part is one skip line when its tool is missing.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Tap, source_root  # noqa: E402
from cluster import HAPROXY, PG_BIN, Haproxy, as_owner  # noqa: E402

ROOT = source_root()
HAPROXY_CFG = os.path.join(ROOT, "config", "haproxy", "newsd.cfg")
UNIT = os.path.join(ROOT, "config", "systemd", "newsd@.service")
PG_CONF = os.path.join(ROOT, "config", "postgresql")
BIN = os.path.join(os.environ.get("ND_BUILD_ROOT", ""), "server", "newsd")
EXPOSURE_MAX = 1.5  # config/newsd.service's bound (test_operations.py)
tap = Tap()


# ---- haproxy -------------------------------------------------------------------


def haproxy_check(path):
    return subprocess.run([HAPROXY, "-c", "-f", path], capture_output=True, text=True,
                          timeout=30)


def sections(text):
    """(section header) -> list of its directive lines, comments dropped and
    white space folded."""
    out, current = {}, None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()  # no value of these files holds a #
        if not line:
            continue
        if not raw[:1].isspace():
            current = " ".join(line.split())
            out[current] = []
        elif current is not None:
            out[current].append(" ".join(line.split()))
    return out


def test_haproxy_valid():
    proc = haproxy_check(HAPROXY_CFG)
    tap.eq(proc.returncode, 0, f"haproxy -c: {proc.stdout}{proc.stderr}")
    with open(HAPROXY_CFG, encoding="utf-8") as f:
        text = f.read()
    with tempfile.TemporaryDirectory(prefix="ndcfg") as tmp:
        broken = os.path.join(tmp, "broken.cfg")
        with open(broken, "w", encoding="utf-8") as f:
            f.write(text.replace("retry-on all-retryable-errors", "retry-on all-retryable-errorz"))
        proc = haproxy_check(broken)
        tap.check(proc.returncode != 0 and "errorz" in proc.stdout + proc.stderr,
                  f"haproxy -c took a misspelt retry-on: {proc.returncode} {proc.stderr!r}")


def test_haproxy_agrees():
    with open(HAPROXY_CFG, encoding="utf-8") as f:
        example = sections(f.read())
    harness = sections(Haproxy("/tmp", 1, [("newsd1", 2)], "/ready").config())
    for name in ("defaults", "backend newsd"):
        tap.require(name in example, f"no {name!r} section in the example: {list(example)}")
        # the servers and how often they are checked differ on purpose
        own = lambda lines: {l for l in lines  # noqa: E731
                             if not l.startswith(("server ", "default-server "))}
        mine, theirs = own(example[name]), own(harness[name])
        tap.check(mine == theirs, f"{name}: only in the example {sorted(mine - theirs)}, "
                                  f"only in the harness {sorted(theirs - mine)}")
    tap.check("default-server check inter 2s fall 2 rise 2" in example["backend newsd"],
              "the example's servers are not checked")
    servers = [l for l in example["backend newsd"] if l.startswith("server ")]
    tap.check(len(servers) >= 2, f"the example has {len(servers)} servers")


# ---- systemd -------------------------------------------------------------------


def unit_copy(tmp, text, name="newsd@.service"):
    path = os.path.join(tmp, name)
    binary = BIN if os.access(BIN, os.X_OK) else shutil.which("true")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace("/usr/local/bin/newsd", binary))
    return path


def test_unit(text):
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.startswith("#")]
    tap.check("EnvironmentFile=/etc/newsd/instance-%i.env" in lines,
              "the instance's environment file is not named after %i")
    tap.check("ExecStart=/usr/local/bin/newsd serve --config /etc/newsd/newsd.conf" in lines,
              "ExecStart")
    for want in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 "PrivateUsers=yes", "MemoryDenyWriteExecute=yes",
                 "SystemCallFilter=@system-service",
                 "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "CapabilityBoundingSet="):
        tap.check(want in lines, f"{want} missing")
    with tempfile.TemporaryDirectory(prefix="ndunit") as tmp:
        path = unit_copy(tmp, text)
        proc = subprocess.run(["systemd-analyze", "verify", path], capture_output=True,
                              text=True, timeout=60)
        tap.eq(proc.returncode, 0, "systemd-analyze verify exit status")
        tap.check(not proc.stderr.strip(), f"systemd-analyze verify said: {proc.stderr}")
        instance = unit_copy(tmp, text, "newsd@1.service")
        proc = subprocess.run(["systemd-analyze", "security", "--offline=yes", instance],
                              capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", proc.stdout)
        tap.require(m, f"no exposure level:\n{proc.stdout}{proc.stderr}")
        tap.diag(f"newsd@1: exposure {m.group(1)}")
        tap.check(float(m.group(1)) <= EXPOSURE_MAX, f"exposure {m.group(1)} > {EXPOSURE_MAX}")


# ---- PostgreSQL ------------------------------------------------------------------

PRIMARY_WANT = {"wal_level": "replica", "synchronous_commit": "on",
                "synchronous_standby_names": "FIRST 1 (replica1)", "max_wal_senders": "10",
                "shared_buffers": "131072"}  # postgres -C: in 8 kB pages
REPLICA_WANT = {"hot_standby": "on", "hot_standby_feedback": "on",
                "max_standby_streaming_delay": "30000", "primary_slot_name": "replica1"}


def test_postgresql(name, want):
    tmp = tempfile.mkdtemp(prefix="ndpgc", dir="/tmp")
    try:
        if os.geteuid() == 0:
            shutil.chown(tmp, "postgres")
        data = os.path.join(tmp, "data")
        proc = subprocess.run(as_owner([os.path.join(PG_BIN, "initdb"), "-D", data, "-A",
                                        "trust", "--no-sync", "-U", "newsd_test"]),
                              cwd=tmp, capture_output=True, text=True, timeout=120)
        tap.require(proc.returncode == 0, f"initdb: {proc.stderr}")
        conf = os.path.join(data, "newsd.conf")
        shutil.copy(os.path.join(PG_CONF, name), conf)
        if os.geteuid() == 0:
            shutil.chown(conf, "postgres")
        with open(os.path.join(data, "postgresql.conf"), "a", encoding="utf-8") as f:
            f.write("include 'newsd.conf'\n")
        for setting, value in want.items():
            proc = subprocess.run(as_owner([os.path.join(PG_BIN, "postgres"), "-D", data, "-C",
                                            setting]),
                                  cwd=tmp, capture_output=True, text=True, timeout=60)
            tap.check(proc.returncode == 0, f"postgres -C {setting}: {proc.stderr}")
            tap.eq(proc.stdout.strip(), value, f"{name}: {setting}")
        # PostgreSQL does refuse a bad value (so the reading above means something)
        with open(conf, "a", encoding="utf-8") as f:
            f.write("wal_level = replicaa\n")
        proc = subprocess.run(as_owner([os.path.join(PG_BIN, "postgres"), "-D", data, "-C",
                                        "wal_level"]),
                              cwd=tmp, capture_output=True, text=True, timeout=60)
        tap.check(proc.returncode != 0 and "replicaa" in proc.stderr,
                  f"postgres took wal_level = replicaa: {proc.stdout}{proc.stderr}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if os.access(HAPROXY, os.X_OK):
        tap.run("config/haproxy/newsd.cfg: haproxy -c accepts it", test_haproxy_valid)
        tap.run("config/haproxy/newsd.cfg: the harness's settings, no more, no fewer",
                test_haproxy_agrees)
    else:
        tap.skip("config/haproxy/newsd.cfg", "no haproxy (scripts/test installs it)")
    with open(UNIT, encoding="utf-8") as f:
        unit = f.read()
    if shutil.which("systemd-analyze"):
        tap.run("config/systemd/newsd@.service: verify, hardening, exposure", test_unit, unit)
    else:
        tap.skip("config/systemd/newsd@.service", "no systemd-analyze")
    for name, want in (("primary.conf", PRIMARY_WANT), ("replica.conf", REPLICA_WANT)):
        if os.access(os.path.join(PG_BIN, "postgres"), os.X_OK):
            tap.run(f"config/postgresql/{name}: PostgreSQL 15 reads it", test_postgresql, name,
                    want)
        else:
            tap.skip(f"config/postgresql/{name}", f"no PostgreSQL 15 in {PG_BIN}")
    tap.done()


main()
