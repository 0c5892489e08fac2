# Shared by scripts/run and scripts/test: make sure Debian packages are there.
# Sourced, not run.

# ensure_packages PKG...: installs the missing ones with apt-get when root;
# otherwise prints the one command needed and exits 1.
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "newsd needs these Debian packages; install them with:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q "${missing[@]}" >&2; then
        apt-get update -q >&2
        apt-get install -y -q "${missing[@]}" >&2
    fi
}

# What building newsd needs on Debian 12.
BUILD_PACKAGES=(gcc meson ninja-build pkg-config
    libmicrohttpd-dev libjansson-dev libsqlite3-dev libsodium-dev zlib1g-dev libxml2-dev
    libgnutls28-dev libpq-dev)

# What the tests' PostgreSQL server needs: the server itself (its contrib
# modules, unaccent among them, are in the same package) and psql.
PG_TEST_PACKAGES=(postgresql-15 postgresql-client-15)

# What a cluster on one machine needs beside those (scripts/cluster, and the
# cluster tests): Debian's haproxy in front of the instances, curl to ask
# them whether they are up.
CLUSTER_PACKAGES=(haproxy curl)

# start_test_postgres: starts a throwaway PostgreSQL server (scripts/pg-cluster)
# in a new short folder under /tmp, stopped and removed when this shell exits
# by any path (an error, the end, Ctrl-C, a SIGTERM from CI), and exports its
# conninfo as NEWSD_TEST_PG for the tests, which make a database each.
# Replaces any EXIT, INT, TERM and HUP trap of the calling shell.
start_test_postgres() {
    ND_PG_DIR=$(mktemp -d /tmp/ndpg.XXXXXX)
    trap 'scripts/pg-cluster stop "$ND_PG_DIR"' EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    NEWSD_TEST_PG=$(scripts/pg-cluster start "$ND_PG_DIR")
    export NEWSD_TEST_PG
}
