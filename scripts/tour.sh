#!/usr/bin/env bash
# A walk through inventory_truth in SQL, on the demo cluster (`make demo` starts it): the stages
# and the movements allowed between them, a T-shirt from purchase order to customer and back,
# three channels on one shelf, and the notifications a listening storefront receives; each time
# with what the database refuses. Runs in its own database, inventory_truth_tour.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

"$REPO_ROOT/scripts/setup.sh"
cluster() { "$REPO_ROOT/scripts/cluster.sh" "$@"; }
hold_install_lock
cluster install
IT_PRELOAD=1 cluster start demo
exports=$(cluster env demo)
eval "$exports"
PGBIN=$(pg_bindir)

PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -d postgres -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS inventory_truth_tour WITH (FORCE)" \
    -c "CREATE DATABASE inventory_truth_tour"
"$PGBIN/psql" -X -q -d inventory_truth_tour -v ON_ERROR_STOP=1 -c "CREATE EXTENSION inventory_truth"
# One session for all parts: later parts use what earlier ones defined (pg_temp.attempt).
"$PGBIN/psql" -X -q -d inventory_truth_tour \
    -f "$REPO_ROOT/demo/stages.sql" -f "$REPO_ROOT/demo/ledger.sql" -f "$REPO_ROOT/demo/channels.sql" \
    -f "$REPO_ROOT/demo/notify.sql"
