#!/usr/bin/env bash
# The suite's floor calls against b0 on a store whose places hold many open holds (as the
# suite's floor step meets them after its reservation workloads): 10,000 SKUs at DC1, HOLDS open
# holds each (default 50), pgbench with 16 clients in relay mode, interleaved rounds, each round
# starting one operation later. Prints calls/s per round and the mean ratio of each to b0
# (a receive() + put_away() transaction counts as two calls, as in the suite).
#
#   ROUNDS=2 DURATION=6 HOLDS=50 OPS="b0 pick receive insert" bench/floor_with_holds.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-6}
HOLDS=${HOLDS:-50}
read -r -a ops <<<"${OPS:-b0 pick receive insert}"

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
# The suite's scripts (bench/suite.sh, "floor work against b0").
cat >"$work/b0.sql" <<'SQL'
\set n random(1, 10000)
UPDATE bench_stock SET available = available - 1 WHERE sku = 'S' || :n AND available >= 1;
SQL
cat >"$work/pick.sql" <<'SQL'
\set n random(1, 10000)
SELECT count(*) FROM inventory_truth.pick('S' || :n, 'DC1', 1);
SQL
cat >"$work/receive.sql" <<'SQL'
\set n random(1, 10000)
SELECT count(*) FROM inventory_truth.receive('S' || :n, 'DC1', 1);
SELECT count(*) FROM inventory_truth.put_away('S' || :n, 'DC1', 1);
SQL
cat >"$work/insert.sql" <<'SQL'
\set n random(1, 10000)
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
VALUES ('S' || :n, 'DC1', 'available', 'picked', 1);
SQL
: >"$work/calls"
for round in $(seq 1 "$ROUNDS"); do
    for i in "${!ops[@]}"; do
        op=${ops[$(((i + round - 1) % ${#ops[@]}))]}
        per=1
        [ "$op" = receive ] && per=2
        tps=$(PGOPTIONS="-c inventory_truth.notify_mode=relay" pgbench_tps "$work/$op.sql" 16 "$DURATION")
        [ -n "$tps" ] || die "pgbench gave no result for $op"
        calls=$(awk -v t="$tps" -v per="$per" 'BEGIN { printf "%.0f", t * per }')
        echo "$op $calls" >>"$work/calls"
        echo "round $round $op: $calls calls/s"
    done
done
awk '{ sum[$1] += $2; n[$1]++ } END {
    for (op in sum) if (op != "b0" && n["b0"]) printf "%s: %.2f x b0\n", op, (sum[op] / n[op]) / (sum["b0"] / n["b0"])
}' "$work/calls" | sort
echo "verify() problems: $("${psql[@]}" -At -d bench -c "SELECT count(*) FROM inventory_truth.verify()")"
