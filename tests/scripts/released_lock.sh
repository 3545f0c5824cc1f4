#!/usr/bin/env bash
# scripts/check_released.sh, checked for real on a copy of the checkout: it passes as the
# checkout is, and fails when a released install script is edited, when one is deleted, and when
# a version is dated in CHANGELOG.md without its install script recorded.
# Prints one line per check; exits non-zero when any check fails.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/../../scripts/common.sh"

failures=0
work=$(mktemp -d "${TMPDIR:-/tmp}/inventory_truth-released.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A fresh copy of what the check reads.
copy() {
    rm -rf "$work/c" && mkdir -p "$work/c/sql" "$work/c/scripts"
    cp -r "$REPO_ROOT/sql/released" "$work/c/sql/"
    cp "$REPO_ROOT"/sql/inventory_truth--*.sql "$work/c/sql/"
    cp "$REPO_ROOT/CHANGELOG.md" "$work/c/"
    cp "$REPO_ROOT/scripts/check_released.sh" "$work/c/scripts/"
}
expect() {
    local what=$1 want=$2 got=0
    "$work/c/scripts/check_released.sh" "$work/c" >/dev/null 2>&1 || got=1
    if [ "$got" = "$want" ]; then
        echo "ok - $what"
    else
        echo "not ok - $what"
        failures=$((failures + 1))
    fi
}

copy
expect "the checkout's released scripts are as released" 0
copy
echo "-- a late fix" >>"$work/c/sql/released/inventory_truth--0.1.0.sql"
expect "an edited released install script fails the check" 1
copy
rm "$work/c/sql/released/inventory_truth--0.1.0.sql"
expect "a deleted released install script fails the check" 1
copy
printf '## [9.9.9] - 2030-01-01\n' >>"$work/c/CHANGELOG.md"
expect "a dated version without its recorded install script fails the check" 1
[ "$failures" = 0 ]
