#!/usr/bin/env bash
# receive() + put_away() against b0 on a store whose places hold many open holds (as the suite's
# floor step meets them after its reservation workloads): 10,000 SKUs at DC1, HOLDS open holds
# each (default 50), pgbench with 16 clients in relay mode, interleaved rounds. Prints
# transactions/s per round (a receive.sql transaction is two calls).
#
#   ROUNDS=2 DURATION=6 HOLDS=50 bench/floor_with_holds.sh
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/../scripts/common.sh"
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-6}
HOLDS=${HOLDS:-50}
export IT_PROFILE=${IT_PROFILE:-release}
cluster() { "$REPO_ROOT/scripts/cluster.sh" "$@"; }

"$REPO_ROOT/scripts/setup.sh"
hold_install_lock
cluster install >/dev/null
cluster destroy floorholds >/dev/null
IT_PRELOAD=1 cluster start floorholds
trap 'cluster destroy floorholds >/dev/null' EXIT
eval "$(cluster env floorholds)"
psql=("$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1)
"${psql[@]}" -d postgres -c "CREATE DATABASE bench"
"${psql[@]}" -d bench -v holds="$HOLDS" >/dev/null <<'SQL'
CREATE EXTENSION inventory_truth;
SET inventory_truth.notify_mode = off;
SELECT inventory_truth.add_location('DC1');
SELECT inventory_truth.add_channel('web'), inventory_truth.add_channel('amazon', 20);
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT 'S' || g, 'DC1', NULL, 'available', 1000000000 FROM generate_series(1, 10000) g;
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty, channel, ref)
SELECT 'S' || g, 'DC1', 'available', 'committed', 1, 'web', 'R' || g || '-' || k
  FROM generate_series(1, 10000) g, generate_series(1, :holds) k;
CREATE TABLE bench_stock (sku text PRIMARY KEY, available bigint NOT NULL);
INSERT INTO bench_stock SELECT 'S' || g, 1000000000 FROM generate_series(1, 10000) g;
VACUUM ANALYZE;
SQL
work=$(mktemp -d "${TMPDIR:-/tmp}/inventory_truth-floorholds.XXXXXX")
trap 'rm -rf "$work"; cluster destroy floorholds >/dev/null' EXIT
cat >"$work/b0.sql" <<'SQL'
\set n random(1, 10000)
UPDATE bench_stock SET available = available - 1 WHERE sku = 'S' || :n AND available >= 1;
SQL
cat >"$work/receive.sql" <<'SQL'
\set n random(1, 10000)
SELECT count(*) FROM inventory_truth.receive('S' || :n, 'DC1', 1);
SELECT count(*) FROM inventory_truth.put_away('S' || :n, 'DC1', 1);
SQL
for round in $(seq 1 "$ROUNDS"); do
    for op in b0 receive; do
        tps=$(PGOPTIONS="-c inventory_truth.notify_mode=relay" "$(pg_bindir)/pgbench" -n -M prepared \
            -c 16 -j 2 -T "$DURATION" -f "$work/$op.sql" bench 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
        echo "round $round $op: $tps transactions/s"
    done
done
echo "verify() problems: $("${psql[@]}" -At -d bench -c "SELECT count(*) FROM inventory_truth.verify()")"
