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
