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
    libgnutls28-dev)
