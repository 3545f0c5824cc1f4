# shellcheck shell=bash
# What the standalone benchmarks (escrow_hot.sh, floor_with_holds.sh, relay_latency.sh,
# same_writes.sh) share: a fresh preloaded scratch cluster, release build, whose `bench`
# database holds the extension, one location (DC1) and two channels (web; amazon, priority 20).
# bench/suite.sh sets up its own, larger store.
#
#   . "$(dirname "$0")/lib.sh"
#   bench_cluster NAME [EXAMPLE...]
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"
export IT_PROFILE=${IT_PROFILE:-release}
cluster() { "$REPO_ROOT/scripts/cluster.sh" "$@"; }

# Builds and installs the extension (and the client examples named), creates cluster NAME
# afresh (destroyed when the script exits, with the directory in $work), and sets `psql` (an
# array: psql, quiet, stopping at the first error), `dsn` (libpq, database bench) and `work`
# (a private temporary directory).
bench_cluster() {
    local name=$1
    shift
    "$REPO_ROOT/scripts/setup.sh"
    hold_install_lock
    cluster install >/dev/null
    if [ $# -gt 0 ]; then
        local build=() example
        for example in "$@"; do build+=(--example "$example"); done
        cargo build -q --release --manifest-path "$REPO_ROOT/Cargo.toml" \
            -p inventory_truth_client "${build[@]}"
    fi
    cluster destroy "$name" >/dev/null
    IT_PRELOAD=1 cluster start "$name"
    work=$(mktemp -d "${TMPDIR:-/tmp}/inventory_truth-$name.XXXXXX")
    # shellcheck disable=SC2064 # the name and directory are fixed now
    trap "rm -rf $(printf %q "$work"); $(printf %q "$REPO_ROOT/scripts/cluster.sh") destroy $(printf %q "$name") >/dev/null" EXIT
    eval "$(cluster env "$name")"
    # shellcheck disable=SC2034 # for the sourcing script, as are psql and work
    dsn="$(cluster dsn "$name") dbname=bench"
    psql=("$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1)
    "${psql[@]}" -d postgres -c "CREATE DATABASE bench"
    "${psql[@]}" -d bench >/dev/null <<'SQL'
CREATE EXTENSION inventory_truth;
SET inventory_truth.notify_mode = off;
SELECT inventory_truth.add_location('DC1');
SELECT inventory_truth.add_channel('web'), inventory_truth.add_channel('amazon', 20);
SQL
}

# pgbench's transactions per second for script FILE: pgbench_tps FILE CLIENTS SECONDS, with
# prepared statements, against bench (PGOPTIONS as the caller sets it).
pgbench_tps() {
    "$(pg_bindir)/pgbench" -n -M prepared -c "$2" -j 2 -T "$3" -f "$1" bench 2>&1 |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
