#!/usr/bin/env bash
# Runs every test layer and fails if any layer fails:
#   unit     Rust unit tests (pure rules) and #[pg_test] (in-database), through `cargo pgrx test`
#   regress    pg_regress files under tests/pg_regress, against a fresh scratch cluster
#   isolation  isolation specs under tests/isolation (pg_isolation_regress), same cluster
#   client     real-client tests (client/tests, tokio-postgres) against the same cluster, and
#              the relay's against a second one that preloads the extension
#   restore    pg_dump / pg_restore round trip (tests/scripts/dump_restore.sh), same cluster
#   upgrade    ALTER EXTENSION UPDATE from every released version: the fresh install's schema, and
#              the data carries on under load (tests/scripts/upgrade.sh), same cluster
#   docs       every example in README.md and docs/*.md runs as written (tests/scripts/
#              doc_examples.sh), the storefront guide's Python and Node programs included (psycopg
#              and pg are installed from PyPI and npm into $IT_DOCS_ENV, outside the tree), on a
#              preloaded cluster of its own
#   faults     randomized stress, kill -9 of the postmaster and of the relay mid-load, a full
#              notify queue (client/tests/faults.rs), on a preloaded cluster of their own that they
#              crash, then pg_amcheck over it. INVENTORY_TRUTH_STRESS_SECONDS (default 20) sets
#              the length of the load; and a commit publishing more pages than the server has
#              shared buffers (tests/scripts/small_buffers.sh, a cluster of its own with 2 MB)
#   scripts    the scratch-cluster helper's promises (tests/scripts/cluster_helper.sh) and the
#              lock on released SQL (tests/scripts/released_lock.sh)
# After the layers, the git tree must be as it was: tests write nothing into it.
#
# Every layer runs on each PostgreSQL major built here, 15 then 18 (IT_TEST_MAJORS="15 18"),
# and the summary reports each layer per major; IT_PG=18 scripts/test.sh runs one major.
# `scripts/test.sh regress client` runs only the named layers.
# IT_REGRESS_ACCEPT=1 copies pg_regress and isolation results over the expected files (review
# the diff!).
if [ -z "${IT_PG:-}" ]; then
    # shellcheck source=scripts/common.sh
    . "$(dirname "$0")/common.sh"
    summaries=$(mktemp "${TMPDIR:-/tmp}/inventory_truth-test-summary.XXXXXX")
    trap 'rm -f "$summaries"' EXIT
    status=0
    for major in ${IT_TEST_MAJORS:-15 18}; do
        say "PostgreSQL $major"
        IT_PG=$major IT_TEST_SUMMARY=$summaries "$0" "$@" || status=1
    done
    echo
    say "test summary, every major"
    sed 's/^/  /' "$summaries"
    exit "$status"
fi
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

all_layers=(unit regress isolation client restore upgrade docs faults scripts)
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=("${all_layers[@]}")
for layer in "${wanted[@]}"; do
    [[ " ${all_layers[*]} " == *" $layer "* ]] || die "unknown test layer '$layer' (layers: ${all_layers[*]})"
done
wants() { [[ " ${wanted[*]} " == *" $1 "* ]]; }

"$REPO_ROOT/scripts/setup.sh"
cluster() { "$REPO_ROOT/scripts/cluster.sh" "$@"; }
PGBIN=$(pg_bindir)
hold_install_lock

results=()
failed=0
# Layers run inside `if`, where bash ignores `set -e`: each layer returns its own status.
run_layer() {
    local name=$1
    shift
    say "test layer: $name"
    if "$@"; then
        results+=("PASS  $name")
    else
        results+=("FAIL  $name")
        failed=1
    fi
}

rust_and_pg_tests() {
    ensure_scratch_dir || return 1
    unlink_installed_library || return 1
    # --runas makes cargo-pgrx install with sudo (the system PostgreSQL's directories are
    # root's) and run the test server as the scratch area's owner.
    local features=()
    [ "$(pg_major)" = 15 ] || features=(--no-default-features --features "pg$(pg_major)")
    cargo pgrx test "pg$(pg_major)" --manifest-path "$REPO_ROOT/Cargo.toml" "${features[@]}" \
        --runas "$IT_RUNAS" --pgdata "$IT_SCRATCH_DIR/pgrx-test"
}

# Runs pg_regress or pg_isolation_regress ($1: regress or isolation) over every test under
# tests/$2, against a fresh database on the scratch cluster.
run_pg_regress() {
    local kind=$1 dir=$REPO_ROOT/tests/$2 db=inventory_truth_$1 runner
    runner=$(pgxs_test_dir)/regress/pg_regress
    [ "$kind" = isolation ] && runner=$(pgxs_test_dir)/isolation/pg_isolation_regress
    # Kept after a failure for a look, replaced by the next run.
    local out="$IT_SCRATCH_DIR/$kind-output"
    rm -rf "$out" && mkdir -p "$out" || return 1
    local tests=() f
    for f in "$dir"/sql/*.sql "$dir"/specs/*.spec; do
        [ -e "$f" ] || continue
        f=$(basename "$f")
        tests+=("${f%.*}")
    done
    PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -d postgres \
        -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" || return 1
    local status=0
    "$runner" --use-existing --bindir="$PGBIN" \
        --host="$PGHOST" --port="$PGPORT" --user=postgres --dbname="$db" \
        --inputdir="$dir" --outputdir="$out" "${tests[@]}" || status=$?
    if [ "${IT_REGRESS_ACCEPT:-0}" = 1 ]; then
        cp "$out"/results/*.out "$dir/expected/" || return 1
        say "copied $kind results into tests/$2/expected: review with git diff"
    fi
    if [ "$status" -ne 0 ]; then
        [ -f "$out/regression.diffs" ] && head -n 200 "$out/regression.diffs"
        say "$kind output kept in $out"
    fi
    return "$status"
}

# The relay tests need a second cluster that preloads the extension (the relay runs there).
client_tests() {
    local dsn relay_dsn replica_dsn
    dsn=$(cluster dsn test) || return 1
    cluster destroy replica && cluster destroy relay || return 1
    IT_PRELOAD=1 cluster start relay && relay_dsn=$(cluster dsn relay) || return 1
    # A hot standby of the relay's cluster, for the storefront that reads from a replica.
    cluster standby replica relay && replica_dsn=$(cluster dsn replica) || return 1
    INVENTORY_TRUTH_TEST_DSN=$dsn INVENTORY_TRUTH_RELAY_TEST_DSN=$relay_dsn \
        INVENTORY_TRUTH_REPLICA_TEST_DSN=$replica_dsn \
        cargo test --manifest-path "$REPO_ROOT/Cargo.toml" -p inventory_truth_client
    local status=$?
    cluster stop replica
    cluster stop relay
    return "$status"
}

# The storefront guide's programs need psycopg (PyPI) and pg (npm): installed once, outside the
# tree, then every example runs and none may be skipped for want of them.
doc_examples() {
    local env=${IT_DOCS_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/inventory_truth-docs}
    mkdir -p "$env" || return 1
    command -v python3 >/dev/null || apt_install python3 python3-venv || return 1
    if [ ! -x "$env/venv/bin/python" ]; then
        python3 -m venv "$env/venv" 2>/dev/null \
            || { apt_install python3-venv && python3 -m venv "$env/venv"; } || return 1
    fi
    "$env/venv/bin/python" -c 'import psycopg' 2>/dev/null \
        || "$env/venv/bin/python" -m pip install -q 'psycopg[binary]>=3.2.4' || return 1
    command -v npm >/dev/null || apt_install nodejs npm || return 1
    [ -d "$env/node/node_modules/pg" ] \
        || npm install -s --no-audit --no-fund --prefix "$env/node" pg >/dev/null || return 1
        # On a cluster that preloads the extension, as a production server would: the relay
    # publishes, and the examples about it show what they say.
    local exports status=0
    cluster destroy docs && IT_PRELOAD=1 cluster start docs && exports=$(cluster env docs) || return 1
    (eval "$exports" && DOC_TEST_PYTHON="$env/venv/bin/python" NODE_PATH="$env/node/node_modules" \
        DOC_TEST_REQUIRE_ALL=1 "$REPO_ROOT/tests/scripts/doc_examples.sh") || status=$?
    cluster stop docs
    return "$status"
}

# The fault tests crash their cluster; they are #[ignore]d in a plain `cargo test` for that reason
# and run here with --ignored. pg_amcheck then checks every table and index of every database.
fault_tests() {
    local dsn status=0
    cluster destroy faults && IT_PRELOAD=1 cluster start faults && dsn=$(cluster dsn faults) || return 1
        INVENTORY_TRUTH_FAULT_CLUSTER=faults INVENTORY_TRUTH_FAULT_TEST_DSN=$dsn INVENTORY_TRUTH_PG_BINDIR=$PGBIN \
        cargo test --manifest-path "$REPO_ROOT/Cargo.toml" -p inventory_truth_client --test faults \
        -- --ignored --nocapture --test-threads 1 || status=$?
    if [ "$status" -eq 0 ]; then
        say "pg_amcheck over every database of the crashed cluster"
        (eval "$(cluster env faults)" && "$PGBIN/pg_amcheck" --all --install-missing \
            --heapallindexed --parent-check --progress) || status=$?
    fi
    cluster stop faults
    return "$status"
}

tree_before=$(git -C "$REPO_ROOT" status --porcelain 2>/dev/null || true)

wants unit && run_layer "Rust unit tests and #[pg_test]" rust_and_pg_tests

# `cargo pgrx test` installed a build with test functions; the other layers (and the demo)
# need the plain build, on one fresh scratch cluster.
if ! cluster install; then
    results+=("FAIL  cargo pgrx install")
    failed=1
elif wants regress || wants isolation || wants client || wants restore || wants upgrade; then
    if cluster destroy test && cluster start test && exports=$(cluster env test); then
        trap 'cluster stop test' EXIT
        eval "$exports"
        wants regress && run_layer "pg_regress (tests/pg_regress)" run_pg_regress regress pg_regress
        wants isolation && run_layer "isolation specs (tests/isolation)" run_pg_regress isolation isolation
        wants client && run_layer "real-client tests (client/tests)" client_tests
        wants restore && run_layer "dump and restore (tests/scripts/dump_restore.sh)" \
            "$REPO_ROOT/tests/scripts/dump_restore.sh"
        wants upgrade && run_layer "upgrade from released versions (tests/scripts/upgrade.sh)" \
            "$REPO_ROOT/tests/scripts/upgrade.sh"
        
    else
        results+=("FAIL  scratch cluster 'test' did not start")
        failed=1
    fi
fi

wants docs && run_layer "doc examples (tests/scripts/doc_examples.sh)" doc_examples
wants faults && run_layer "fault tests and pg_amcheck (client/tests/faults.rs)" fault_tests
wants faults && run_layer "a publication beyond shared buffers (tests/scripts/small_buffers.sh)" \
    "$REPO_ROOT/tests/scripts/small_buffers.sh"
wants scripts && run_layer "scratch-cluster helper (tests/scripts)" "$REPO_ROOT/tests/scripts/cluster_helper.sh"
wants scripts && run_layer "released SQL lock (tests/scripts/released_lock.sh)" "$REPO_ROOT/tests/scripts/released_lock.sh"

if [ "$(git -C "$REPO_ROOT" status --porcelain 2>/dev/null || true)" != "$tree_before" ]; then
    results+=("FAIL  the tests changed the git tree (git status)")
    failed=1
fi

echo
say "test summary, PostgreSQL $(pg_major)"
printf '  %s\n' "${results[@]}"
if [ -n "${IT_TEST_SUMMARY:-}" ]; then
    printf "%s  PostgreSQL $(pg_major)\n" "${results[@]}" >>"$IT_TEST_SUMMARY"
fi
exit "$failed"
