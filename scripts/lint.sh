#!/usr/bin/env bash
# Formatting and clippy, as CI checks them.
. "$(dirname "$0")/common.sh"
"$REPO_ROOT/scripts/setup.sh"
cd "$REPO_ROOT"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --features "pg15 pg_test" -- -D warnings
