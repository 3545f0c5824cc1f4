#!/usr/bin/env bash
# Formatting, clippy and shellcheck, as CI checks them, and that released SQL is unchanged.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
"$REPO_ROOT/scripts/setup.sh"
[ -n "$(installed_version shellcheck)" ] || apt_install shellcheck
cd "$REPO_ROOT"
shellcheck scripts/*.sh tests/scripts/*.sh bench/*.sh .ci/run
"$REPO_ROOT/scripts/check_released.sh"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --features "pg15 pg_test" -- -D warnings
# The PostgreSQL 18 build's own code paths (scripts/test.sh builds and tests them; setup.sh
# unpacks PostgreSQL 18 for it).
IT_PG=18 "$REPO_ROOT/scripts/setup.sh"
cargo clippy --lib --no-default-features --features pg18 -- -D warnings
