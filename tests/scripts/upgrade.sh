#!/usr/bin/env bash
# ALTER EXTENSION inventory_truth UPDATE from every released version (CHANGELOG.md headings with
# a date) gives what a fresh install of the current version gives, and an upgraded database
# keeps its truth and carries on under load.
#
# A released version's install script is kept as it was released, in sql/released/; this copies
# those into the server's extension directory (the current version's script and the upgrade
# scripts are installed by cargo pgrx install). For each released version:
#   - schema: a database created at the old version and updated, and one created fresh, dump the
#     same `pg_dump -s` once the extension's members are detached (pg_dump writes only CREATE
#     EXTENSION for an extension's members), and register the same tables for pg_dump;
#   - data and load: client/tests/upgrade.rs creates the old version, loads a random mix of every
#     operation, updates, checks every invariant and the units against what clients were told,
#     loads again and checks again.
# Needs a running cluster in PGHOST/PGPORT/PGUSER with the extension installed (test.sh passes
# the scratch cluster's). Prints one line per check; exits non-zero when any check fails.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/../../scripts/common.sh"

: "${PGHOST:?run through scripts/test.sh, or export a cluster with scripts/cluster.sh env}"
# shellcheck source=scripts/schema.sh
. "$REPO_ROOT/scripts/schema.sh"

failures=0
ok() { echo "ok - $1"; }
not_ok() {
    echo "not ok - $1"
    failures=$((failures + 1))
}

current=$(sed -nE 's/^version = "([^"]+)"/\1/p' "$REPO_ROOT/Cargo.toml" | head -n 1)
mapfile -t released < <(sed -nE 's/^## \[([0-9]+\.[0-9]+\.[0-9]+)\] - [0-9]{4}-[0-9]{2}-[0-9]{2}.*/\1/p' \
    "$REPO_ROOT/CHANGELOG.md" | grep -vxF "$current")
if [ ${#released[@]} -eq 0 ]; then
    echo "ok - no version before $current was released (CHANGELOG.md): nothing to upgrade from"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/inventory_truth-upgrade.XXXXXX")
trap 'rm -rf "$work"' EXIT

PGOPTIONS="-c client_min_messages=warning" psql_q -d postgres \
    -c "DROP DATABASE IF EXISTS it_upgrade_fresh" -c "CREATE DATABASE it_upgrade_fresh"
psql_q -d it_upgrade_fresh -c "CREATE EXTENSION inventory_truth"
schema_of it_upgrade_fresh >"$work/fresh.sql"

for version in "${released[@]}"; do
    script="$REPO_ROOT/sql/released/inventory_truth--$version.sql"
    if [ ! -f "$script" ]; then
        not_ok "$version is released but sql/released/inventory_truth--$version.sql is missing"
        continue
    fi
    install_released "$version"
    # The committed upgrade script is what the generator writes now: nobody edits it by hand, and
    # a change of the SQL without regenerating it fails here. It is generated from PostgreSQL
    # 15's pg_dump (18 deparses views differently); on 18 the rest of this test runs it.
    if [ -f "$REPO_ROOT/sql/upgrade/inventory_truth--$version--$current.sql" ] && [ "$(pg_major)" = 15 ]; then
        if "$REPO_ROOT/scripts/upgrade_script.sh" "$version" >"$work/generated.sql" 2>"$work/generated.err" \
            && diff -u "$REPO_ROOT/sql/inventory_truth--$version--$current.sql" "$work/generated.sql" >"$work/generated.diff"; then
            ok "sql/inventory_truth--$version--$current.sql is what scripts/upgrade_script.sh generates"
        else
            not_ok "sql/inventory_truth--$version--$current.sql is not current: run scripts/upgrade_script.sh $version --write"
            head -n 40 "$work/generated.err" "$work/generated.diff"
        fi
    fi
    db="it_upgrade_from_${version//./_}"
    PGOPTIONS="-c client_min_messages=warning" psql_q -d postgres \
        -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    psql_q -d "$db" -c "CREATE EXTENSION inventory_truth VERSION '$version'"
    if ! psql_q -d "$db" -c "ALTER EXTENSION inventory_truth UPDATE" 2>"$work/update.err"; then
        not_ok "ALTER EXTENSION inventory_truth UPDATE from $version: $(cat "$work/update.err")"
        continue
    fi
    now=$(psql_q -At -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'inventory_truth'")
    if [ "$now" = "$current" ]; then
        ok "ALTER EXTENSION inventory_truth UPDATE takes $version to $current"
    else
        not_ok "ALTER EXTENSION inventory_truth UPDATE from $version stopped at $now, not $current"
    fi
    schema_of "$db" >"$work/upgraded.sql"
    if diff -u "$work/fresh.sql" "$work/upgraded.sql" >"$work/schema.diff"; then
        ok "the schema updated from $version is the fresh install's ($(grep -c '' "$work/fresh.sql") lines of pg_dump -s)"
    else
        not_ok "the schema updated from $version differs from a fresh install (- fresh, + upgraded):"
        head -n 100 "$work/schema.diff"
    fi
    # An update that cannot go through leaves the database as it was: here a user's foreign key
    # to the ledger's id alone (possible up to 0.1.0; the update keys the ledger by (id, sku)).
    blocked="${db}_blocked"
    PGOPTIONS="-c client_min_messages=warning" psql_q -d postgres \
        -c "DROP DATABASE IF EXISTS $blocked" -c "CREATE DATABASE $blocked"
    psql_q -d "$blocked" -c "CREATE EXTENSION inventory_truth VERSION '$version'"
    if psql_q -d "$blocked" -c "CREATE TABLE erp_link (movement bigint REFERENCES inventory_truth.movement (id))" 2>/dev/null; then
        if psql_q -d "$blocked" -c "ALTER EXTENSION inventory_truth UPDATE" 2>"$work/blocked.err"; then
            not_ok "an update from $version went through a foreign key to movement(id) alone"
        elif grep -q 'movement_pkey' "$work/blocked.err" \
            && [ "$(psql_q -At -d "$blocked" -c "SELECT extversion FROM pg_extension WHERE extname = 'inventory_truth'")" = "$version" ] \
            && [ "$(psql_q -At -d "$blocked" -c "SELECT count(*) FROM pg_constraint WHERE conname = 'erp_link_movement_fkey'")" = 1 ]; then
            ok "an update from $version blocked by a foreign key to movement(id) names the key and leaves $version as it was"
        else
            not_ok "an update from $version blocked by a foreign key to movement(id): $(cat "$work/blocked.err")"
        fi
    fi
    PGOPTIONS="-c client_min_messages=warning" psql_q -d postgres -c "DROP DATABASE $blocked"
    if INVENTORY_TRUTH_UPGRADE_FROM=$version INVENTORY_TRUTH_TEST_DSN="host='$PGHOST' port=$PGPORT user=${PGUSER:-postgres}" \
        cargo test --manifest-path "$REPO_ROOT/Cargo.toml" -p inventory_truth_client --test upgrade \
        -- --ignored --nocapture; then
        ok "a database updated from $version keeps its truth and carries on under load"
    else
        not_ok "a database updated from $version under load (client/tests/upgrade.rs)"
    fi
done

[ "$failures" -eq 0 ] || { echo "$failures upgrade checks failed"; exit 1; }
