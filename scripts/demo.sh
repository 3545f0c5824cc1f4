#!/usr/bin/env bash
# The main job: set everything up, start the demo scratch cluster with the extension installed,
# and show what inventory_truth does. The cluster keeps running for a look around; `make stop`
# stops it.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

"$REPO_ROOT/scripts/setup.sh"
cluster() { "$REPO_ROOT/scripts/cluster.sh" "$@"; }
hold_install_lock
cluster install
# Preloaded, so the relay publishes the notifications (part 4). A demo cluster started by an
# older script without it is restarted.
cluster stop demo
IT_PRELOAD=1 cluster start demo
exports=$(cluster env demo)
eval "$exports"
PGBIN=$(pg_bindir)

PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -d postgres -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS inventory_truth_demo WITH (FORCE)" \
    -c "CREATE DATABASE inventory_truth_demo"
"$PGBIN/psql" -X -q -d inventory_truth_demo -v ON_ERROR_STOP=1 -c "CREATE EXTENSION inventory_truth"
# One session for all parts: later parts use what earlier ones defined (pg_temp.attempt).
"$PGBIN/psql" -X -q -d inventory_truth_demo \
    -f "$REPO_ROOT/demo/stages.sql" -f "$REPO_ROOT/demo/ledger.sql" -f "$REPO_ROOT/demo/channels.sql" \
    -f "$REPO_ROOT/demo/notify.sql"

cat <<MSG

The demo cluster is still running. Look around with:
    scripts/cluster.sh psql demo -d inventory_truth_demo
or, from a shell of yours:
    $exports
    psql -d inventory_truth_demo
Follow live ATP like a storefront backend (LISTEN, snapshot, newer versions only, reconnects):
    cargo run -p inventory_truth_client --example storefront -- "\$(scripts/cluster.sh dsn demo) dbname=inventory_truth_demo" web
Stop it with: make stop
MSG
