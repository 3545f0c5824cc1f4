#!/usr/bin/env bash
# A commit that publishes every SKU on a server whose shared buffers are fewer than the pages it
# writes: the publication must let go of each row's page as it goes. Direct mode (a cluster
# that does not preload the library), 40,000 SKUs (atp_published: about 400 pages), shared
# buffers 2 MB (256 pages); a channel's default buffer set three times, each commit publishing
# every SKU (the second and third update every atp_published row). Before this was checked,
# the second commit failed with "no unpinned buffers available" (XX000).
# Prints one line per check; exits non-zero when any check fails.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/../../scripts/common.sh"

cluster() { "$REPO_ROOT/scripts/cluster.sh" "$@"; }
name=smallbuf
trap 'cluster destroy $name >/dev/null 2>&1 || true' EXIT
cluster destroy "$name" >/dev/null 2>&1 || true
cluster start "$name" >/dev/null || exit 1
eval "$(cluster env "$name")"
psql_q() { "$(pg_bindir)/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
psql_q -d postgres -c "ALTER SYSTEM SET shared_buffers = '2MB'" || exit 1
cluster stop "$name" >/dev/null && cluster start "$name" >/dev/null || exit 1

failures=0
check() {
    local what=$1 expected=$2 got=$3
    if [ "$got" = "$expected" ]; then
        echo "ok - $what"
    else
        echo "not ok - $what: expected '$expected', got '$got'"
        failures=$((failures + 1))
    fi
}

check "the server runs with 2 MB of shared buffers" 2MB "$(psql_q -d postgres -c 'SHOW shared_buffers')"
psql_q -d postgres -c "CREATE DATABASE small" || exit 1
psql_q -d small >/dev/null <<'SQL' || exit 1
CREATE EXTENSION inventory_truth;
SELECT inventory_truth.add_location('DC1');
SELECT inventory_truth.add_channel('web');
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT 'S' || g, 'DC1', NULL, 'available', 10 FROM pg_catalog.generate_series(1, 40000) g;
SQL
check "notifications are direct: the commit publishes" direct \
    "$(psql_q -d small -c 'SELECT inventory_truth._notify_mode()')"
for units in 1 2 3; do
    out=$(psql_q -d small -c "SELECT inventory_truth.set_buffer('web', NULL, $units)" 2>&1 | head -n 1) || true
    check "a commit publishing all 40,000 SKUs (web's buffer $units)" "" "$out"
done
check "every SKU was published at its last version" 40000 \
    "$(psql_q -d small -c "SELECT count(*) FROM inventory_truth.atp_published p
                             JOIN inventory_truth.sku s ON s.code = p.sku
                            WHERE p.version = s.version AND (p.atp->>'web')::bigint = 7")"
[ "$failures" -eq 0 ]
