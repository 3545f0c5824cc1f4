#!/usr/bin/env bash
# One idempotent set-up path for everything (demo, tests, benchmarks): the Debian packages,
# cargo-pgrx, `cargo pgrx init`, and the unprivileged user PostgreSQL needs when we are root.
# Safe to run again and again: each step is skipped when already done.
. "$(dirname "$0")/common.sh"

need_packages=()
installed_version() { dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'; }

server_version=$(installed_version postgresql-15)
[ -n "$server_version" ] || need_packages+=(postgresql-15)
# The headers must match the running server exactly, or apt would upgrade the server too.
if [ -z "$server_version" ] || [ "$(installed_version postgresql-server-dev-15)" != "$server_version" ]; then
    need_packages+=("postgresql-server-dev-15${server_version:+=$server_version}")
fi
for pkg in sudo; do  # `cargo pgrx test --runas` uses sudo
    [ -n "$(installed_version "$pkg")" ] || need_packages+=("$pkg")
done

if [ ${#need_packages[@]} -gt 0 ]; then
    say "installing Debian packages: ${need_packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Two checkouts setting up at once must not fight over dpkg's lock.
    as_root flock /var/tmp/inventory_truth-apt.lock sh -c '
        apt-get install -y --no-install-recommends "$@" || { apt-get update && apt-get install -y --no-install-recommends "$@"; }
    ' apt "${need_packages[@]}"
    # postgresql-15 may just have arrived: pin the headers to it.
    server_version=$(installed_version postgresql-15)
    if [ "$(installed_version postgresql-server-dev-15)" != "$server_version" ]; then
        as_root apt-get install -y --no-install-recommends "postgresql-server-dev-15=$server_version"
    fi
fi

command -v cargo >/dev/null || die "cargo is not on PATH: install Rust (rustup) first"

if [ "$(cargo pgrx --version 2>/dev/null)" != "cargo-pgrx $PGRX_VERSION" ]; then
    say "installing cargo-pgrx $PGRX_VERSION (takes about 5 minutes on 2 cores)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

pgrx_home=${PGRX_HOME:-$HOME/.pgrx}
if ! grep -qs "^pg15 = \"$PG_CONFIG\"" "$pgrx_home/config.toml"; then
    say "pointing cargo-pgrx at $PG_CONFIG"
    cargo pgrx init --pg15 "$PG_CONFIG"
fi

if [ "$(id -u)" -eq 0 ] && ! id "$IT_RUNAS" >/dev/null 2>&1; then
    say "creating system user $IT_RUNAS to own scratch clusters (PostgreSQL refuses to run as root)"
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$IT_RUNAS"
fi
