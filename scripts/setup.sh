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
    cargo pgrx init "--pg$pg_major" "$PG_CONFIG"
fi

if [ "$(id -u)" -eq 0 ] && ! id "$IT_RUNAS" >/dev/null 2>&1; then
    say "creating system user $IT_RUNAS to own scratch clusters (PostgreSQL refuses to run as root)"
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$IT_RUNAS"
fi
