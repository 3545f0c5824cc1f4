#!/usr/bin/env bash
# The main job: set everything up, start the demo scratch cluster with the extension installed,
# and run a flash sale on it (client/examples/flash_sale.rs): a small store, buyers on three
# channels, pickers, a short pick, a return, damage, live ATP from LISTEN, and a report whose
# checks decide the exit status. The cluster keeps running for a look around; `make stop` stops
# it. `make tour` walks through the stages, the ledger, channels and notifications in SQL.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

"$REPO_ROOT/scripts/setup.sh"
cluster() { "$REPO_ROOT/scripts/cluster.sh" "$@"; }
hold_install_lock
cluster install
# Preloaded, so the relay publishes the notifications and expires holds. A demo cluster started
# by an older script without it is restarted.
cluster stop demo
IT_PRELOAD=1 cluster start demo
exports=$(cluster env demo)
eval "$exports"
PGBIN=$(pg_bindir)

PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -d postgres -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS inventory_truth_demo WITH (FORCE)" \
    -c "CREATE DATABASE inventory_truth_demo"
"$PGBIN/psql" -X -q -d inventory_truth_demo -v ON_ERROR_STOP=1 -c "CREATE EXTENSION inventory_truth"

# The flash sale: sets up the store, runs the sale with a live view, and ends with the report;
# it exits non-zero when a check fails (and so does this script).
say "building the flash sale (client/examples/flash_sale.rs)"
cargo build -q --manifest-path "$REPO_ROOT/Cargo.toml" -p inventory_truth_client --example flash_sale
"$REPO_ROOT/target/debug/examples/flash_sale" "$(cluster dsn demo) dbname=inventory_truth_demo"
