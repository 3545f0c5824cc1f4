#!/usr/bin/env bash
# Generates the upgrade script from released version FROM to the current version and writes it
# to stdout (or, with --write, to sql/inventory_truth--FROM--CURRENT.sql):
#
#   scripts/upgrade_script.sh 0.1.0 --write
#
# From the schemas of a database created at FROM and of a fresh install (pg_dump -s), around
# the hand-written tables part sql/upgrade/inventory_truth--FROM--CURRENT.sql (scripts/
# upgrade_script.py says what is generated). Uses the `test` scratch cluster, with the current
# build installed (scripts/cluster.sh install). tests/scripts/upgrade.sh runs it to check that
# the committed script is current.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=scripts/schema.sh
. "$REPO_ROOT/scripts/schema.sh"

from=${1:?usage: scripts/upgrade_script.sh FROM [--write]}
current=$(sed -nE 's/^version = "([^"]+)"/\1/p' "$REPO_ROOT/Cargo.toml" | head -n 1)
tables="$REPO_ROOT/sql/upgrade/inventory_truth--$from--$current.sql"
[ -f "$tables" ] || die "no hand-written tables part $tables"
if [ -z "${PGHOST:-}" ]; then
    "$REPO_ROOT/scripts/cluster.sh" start test >&2
    eval "$("$REPO_ROOT/scripts/cluster.sh" env test)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/inventory_truth-upgrade-script.XXXXXX")
trap 'rm -rf "$work"' EXIT
install_released "$from"
database_at it_upgrade_gen_old "$from"
database_at it_upgrade_gen_new
schema_of it_upgrade_gen_old >"$work/old.sql"
schema_of it_upgrade_gen_new >"$work/new.sql"
for db in it_upgrade_gen_old it_upgrade_gen_new; do
    PGOPTIONS="-c client_min_messages=warning" psql_q -d postgres -c "DROP DATABASE $db"
done
python3 "$REPO_ROOT/scripts/upgrade_script.py" "$work/old.sql" "$work/new.sql" "$tables" \
    "$from" "$current" >"$work/script.sql"
if [ "${2:-}" = --write ]; then
    cp "$work/script.sql" "$REPO_ROOT/sql/inventory_truth--$from--$current.sql"
    say "wrote sql/inventory_truth--$from--$current.sql"
else
    cat "$work/script.sql"
fi
