#!/usr/bin/env bash
# The hot SKU alone: b1 (the hand-written UPDATE + INSERT on one row), reserve() in relay mode,
# and reserve() in relay mode on a SKU escrowed in one part per client, interleaved, ROUNDS
# rounds of DURATION s at each of CLIENTS, on a fresh preloaded scratch cluster (release
# build). A quicker check of the suite's hot workload (bench/suite.sh) after a change to the
# escrow path. Prints reserve_load's line per run (succeeded = its second field).
#
#   ROUNDS=2 DURATION=6 CLIENTS="16 64" bench/escrow_hot.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-6}
CLIENTS=${CLIENTS:-16 64}

bench_cluster escrowhot reserve_load
"${psql[@]}" -d bench >/dev/null <<'SQL'
SET inventory_truth.notify_mode = off;
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT s, 'DC1', NULL, 'available', 1000000000 FROM unnest(ARRAY['HOT', 'HOTE']) s;
CREATE TABLE bench_stock (sku text PRIMARY KEY, available bigint NOT NULL);
INSERT INTO bench_stock VALUES ('HOT', 1000000000);
CREATE TABLE bench_hold (id bigserial PRIMARY KEY, sku text NOT NULL, ref text NOT NULL,
                         qty bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
VACUUM ANALYZE;
SQL
load=$REPO_ROOT/target/release/examples/reserve_load
relay="options='-c inventory_truth.notify_mode=relay'"
for round in $(seq 1 "$ROUNDS"); do
    for clients in $CLIENTS; do
        echo "round $round  $clients clients  b1: $("$load" "$dsn" b1 "$clients" "$DURATION" one:HOT "b$round-$clients")"
        echo "round $round  $clients clients  relay: $("$load" "$dsn $relay" ext "$clients" "$DURATION" one:HOT "r$round-$clients")"
        "${psql[@]}" -At -d bench -c "SELECT inventory_truth.set_escrow('HOTE', $clients)" >/dev/null
        echo "round $round  $clients clients  escrow: $("$load" "$dsn $relay" ext "$clients" "$DURATION" one:HOTE "e$round-$clients")"
    done
done
echo "verify() problems: $("${psql[@]}" -At -d bench -c "SELECT count(*) FROM inventory_truth.verify()")"
