#!/usr/bin/env bash
# receive() + put_away() against b0 on a store whose places hold many open holds (as the suite's
# floor step meets them after its reservation workloads): 10,000 SKUs at DC1, HOLDS open holds
# each (default 50), pgbench with 16 clients in relay mode, interleaved rounds. Prints
# transactions/s per round (a receive.sql transaction is two calls).
#
#   ROUNDS=2 DURATION=6 HOLDS=50 bench/floor_with_holds.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-6}
HOLDS=${HOLDS:-50}

bench_cluster floorholds
"${psql[@]}" -d bench -v holds="$HOLDS" >/dev/null <<'SQL'
SET inventory_truth.notify_mode = off;
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT 'S' || g, 'DC1', NULL, 'available', 1000000000 FROM generate_series(1, 10000) g;
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty, channel, ref)
SELECT 'S' || g, 'DC1', 'available', 'committed', 1, 'web', 'R' || g || '-' || k
  FROM generate_series(1, 10000) g, generate_series(1, :holds) k;
CREATE TABLE bench_stock (sku text PRIMARY KEY, available bigint NOT NULL);
INSERT INTO bench_stock SELECT 'S' || g, 1000000000 FROM generate_series(1, 10000) g;
VACUUM ANALYZE;
SQL
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
        tps=$(PGOPTIONS="-c inventory_truth.notify_mode=relay" pgbench_tps "$work/$op.sql" 16 "$DURATION")
        echo "round $round $op: $tps transactions/s"
    done
done
echo "verify() problems: $("${psql[@]}" -At -d bench -c "SELECT count(*) FROM inventory_truth.verify()")"
