#!/usr/bin/env bash
# What the writes a reservation must make cost, written the cheapest way SQL can, against the
# hand-written baseline and reserve() itself. Side by side, interleaved, ROUNDS rounds of
# DURATION s for each workload in WORKLOADS at each of CLIENTS (pgbench, prepared statements,
# a fresh preloaded scratch cluster, release build):
#   b1            the hand-written one statement: UPDATE the stock row, INSERT a hold (the
#                 suite's b1);
#   sql_lock      PL/pgSQL writing what reserve() writes, to copies of the extension's tables
#                 (CREATE TABLE ... LIKE ... INCLUDING ALL: same columns, keys, indexes and
#                 fillfactors), locking first: the SKU's version, the place, the hold, the
#                 ledger row, the commit time; no reads, no rules;
#   sql_inserts   the same writes with the hold and the ledger row inserted before the locks;
#   off, relay    reserve() with notify_mode off and relay.
# Workloads: hot, one SKU (throughput is one over the time its row stays locked); uniform,
# SKUS (2,000) SKUs chosen at random (the CPU is the limit). Each round starts the variants one later
# than the round before (b1 first in round 1, sql_lock first in round 2, ...), so that no variant
# always follows the same one. EXTRA_PGOPTIONS is added to every session's options (e.g.
# "-c synchronous_commit=off"). Prints transactions/s per run, then each variant's mean and its
# ratio to b1's.
#
#   ROUNDS=3 DURATION=6 CLIENTS="16 64" WORKLOADS="hot uniform" SKUS=2000 bench/same_writes.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-6}
CLIENTS=${CLIENTS:-16}
WORKLOADS=${WORKLOADS:-hot uniform}
SKUS=${SKUS:-2000}

bench_cluster samewrites
"${psql[@]}" -d bench -v skus="$SKUS" >/dev/null <<'SQL'
SET inventory_truth.notify_mode = off;
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT s, 'DC1', NULL, 'available', 1000000000
  FROM unnest(ARRAY['HOT'] || ARRAY(SELECT 'S' || g FROM generate_series(1, :skus) g)) s;
CREATE TABLE bench_stock (sku text PRIMARY KEY, available bigint NOT NULL);
INSERT INTO bench_stock SELECT code, 1000000000 FROM inventory_truth.sku;
CREATE TABLE bench_hold (id bigserial PRIMARY KEY, sku text NOT NULL, ref text NOT NULL,
                         qty bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE w_sku (LIKE inventory_truth.sku INCLUDING ALL);
CREATE TABLE w_stock (LIKE inventory_truth.stock INCLUDING ALL);
CREATE TABLE w_hold (LIKE inventory_truth.hold INCLUDING ALL);
CREATE TABLE w_movement (LIKE inventory_truth.movement INCLUDING ALL);
CREATE TABLE w_commit (LIKE inventory_truth.movement_commit INCLUDING ALL);
DO $$ -- LIKE copies no storage parameters: the fillfactors that keep the updates HOT
DECLARE t record;
BEGIN
    FOR t IN SELECT CASE c.relname WHEN 'movement_commit' THEN 'w_commit'
                                   ELSE 'w_' || c.relname END AS copy, c.reloptions
               FROM pg_catalog.pg_class c
              WHERE c.relnamespace = 'inventory_truth'::regnamespace AND c.reloptions IS NOT NULL
                AND c.relname IN ('sku', 'stock', 'hold', 'movement', 'movement_commit') LOOP
        EXECUTE format('ALTER TABLE %I SET (%s)', t.copy, array_to_string(t.reloptions, ', '));
    END LOOP;
END $$;
INSERT INTO w_sku SELECT * FROM inventory_truth.sku;
INSERT INTO w_stock SELECT * FROM inventory_truth.stock;
CREATE FUNCTION w_lock(p_sku text, p_ref text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE w_sku SET version = version + 1, changed_at = now(),
                     change_cause = 'available->committed' WHERE code = p_sku;
    UPDATE w_stock SET available = available - 1, committed = committed + 1
     WHERE sku = p_sku AND location = 'DC1' AND available >= 1;
    INSERT INTO w_hold (channel, ref, sku, location, qty, open_qty)
    VALUES ('web', p_ref, p_sku, 'DC1', 1, 1);
    INSERT INTO w_movement (sku, location, from_stage, to_stage, qty, channel, ref, reason,
                            recorded_at, actor, txid)
    VALUES (p_sku, 'DC1', 'available', 'committed', 1, 'web', p_ref, 'reservation', now(),
            current_user, pg_current_xact_id());
    INSERT INTO w_commit VALUES (pg_current_xact_id(), clock_timestamp());
END $$;
CREATE FUNCTION w_inserts(p_sku text, p_ref text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO w_hold (channel, ref, sku, location, qty, open_qty)
    VALUES ('web', p_ref, p_sku, 'DC1', 1, 1);
    INSERT INTO w_movement (sku, location, from_stage, to_stage, qty, channel, ref, reason,
                            recorded_at, actor, txid)
    VALUES (p_sku, 'DC1', 'available', 'committed', 1, 'web', p_ref, 'reservation', now(),
            current_user, pg_current_xact_id());
    UPDATE w_sku SET version = version + 1, changed_at = now(),
                     change_cause = 'available->committed' WHERE code = p_sku;
    UPDATE w_stock SET available = available - 1, committed = committed + 1
     WHERE sku = p_sku AND location = 'DC1' AND available >= 1;
    INSERT INTO w_commit VALUES (pg_current_xact_id(), clock_timestamp());
END $$;
VACUUM ANALYZE;
SQL
# The SKU: HOT, or one of S1..S$SKUS at random.
echo "\\set n random(1, $SKUS)" >"$work/uniform.head"
echo "\\set n 0" >"$work/hot.head"
sku="CASE WHEN :n = 0 THEN 'HOT' ELSE 'S' || :n END"
ref=":client_id || '-' || random()::text"
for workload in hot uniform; do
    {
        cat "$work/$workload.head"
        echo "WITH u AS (UPDATE bench_stock SET available = available - 1"
        echo "           WHERE sku = $sku AND available >= 1 RETURNING sku)"
        echo "INSERT INTO bench_hold (sku, ref, qty) SELECT sku, $ref, 1 FROM u;"
    } >"$work/$workload-b1.sql"
    { cat "$work/$workload.head"; echo "SELECT w_lock($sku, $ref);"; } >"$work/$workload-sql_lock.sql"
    { cat "$work/$workload.head"; echo "SELECT w_inserts($sku, $ref);"; } >"$work/$workload-sql_inserts.sql"
    { cat "$work/$workload.head"; echo "SELECT inventory_truth.reserve('web', $sku, 1, $ref);"; } >"$work/$workload-ext.sql"
done
variants=(b1 sql_lock sql_inserts off relay)
results=$work/results
for round in $(seq 1 "$ROUNDS"); do
    shift_by=$(((round - 1) % ${#variants[@]}))
    order=("${variants[@]:shift_by}" "${variants[@]:0:shift_by}")
    for workload in $WORKLOADS; do
        for clients in $CLIENTS; do
            for variant in "${order[@]}"; do
                case $variant in
                    off | relay) script=ext mode=$variant ;;
                    *) script=$variant mode=off ;;
                esac
                tps=$(PGOPTIONS="-c inventory_truth.notify_mode=$mode ${EXTRA_PGOPTIONS:-}" \
                    pgbench_tps "$work/$workload-$script.sql" "$clients" "$DURATION")
                echo "round $round  $workload  $clients clients  $variant: $tps transactions/s"
                echo "$workload $clients $variant $tps" >>"$results"
            done
        done
    done
done
echo "means over $ROUNDS round(s):"
awk '{ k = $1 " " $2 " " $3; sum[k] += $4; n[k]++ }
     END { for (k in sum) { split(k, f, " "); base[k] = f[1] " " f[2] " b1" }
           for (k in sum) { split(k, f, " ")
               printf "%-8s %3s clients  %-12s %7.0f/s  %.2f x b1\n", f[1], f[2], f[3],
                   sum[k] / n[k], (sum[k] / n[k]) / (sum[base[k]] / n[base[k]]) } }' \
    "$results" | sort -k1,1 -k2,2n -k6,6nr
echo "verify() problems: $("${psql[@]}" -At -d bench -c "SELECT count(*) FROM inventory_truth.verify()")"
