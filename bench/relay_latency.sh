#!/usr/bin/env bash
# The relay's commit-to-receipt latency alone, round after round on one growing store: the
# suite's listened relay runs (bench/suite.sh) without the rest of the suite, on a fresh
# preloaded cluster, so that what changes as the tables grow shows. Prints one line per round:
# reservations/s, then notify_latency's fields (probes p50 p95 p99 max missing pending_max
# pending_first pending_second behind_max).
#
#   ROUNDS=5 DURATION=8 CLIENTS=16 bench/relay_latency.sh
#
# VACUUM_BETWEEN="inventory_truth.hold" vacuums those tables before each round.
# COALESCE_MS="2 1 0" runs each round once per value of inventory_truth.relay_coalesce (set with
# ALTER SYSTEM and a reload before the run), interleaved.
# CPUS="0 0,1" runs each round once per CPU list (taskset: the server's processes, the listener
# and the load all on those CPUs), interleaved: how the tail scales with cores.
# RATES="max 4000" runs each round once per load: max, the closed loop (each client sends its next
# reservation when the last returns); a number, that many attempts per second in all, paced
# (reserve_load's IT_LOAD_RATE), so that the CPU has idle time between arrivals.
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8}
CLIENTS=${CLIENTS:-16}

bench_cluster relaylat reserve_load notify_latency
dsn="$dsn options='-c inventory_truth.notify_mode=relay'"
"${psql[@]}" -d bench >/dev/null <<'SQL'
SET inventory_truth.notify_mode = off;
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT 'S' || g, 'DC1', NULL, 'available', 1000000000 FROM generate_series(1, 10000) g;
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT 'PROBE' || g, 'DC1', NULL, 'available', 1000000000 FROM generate_series(0, 49) g;
VACUUM ANALYZE;
SQL
examples=$REPO_ROOT/target/release/examples
listened=$work/listened
for round in $(seq 1 "$ROUNDS"); do
    for rate in ${RATES:-max}; do
    for cpus in ${CPUS:-all}; do
    for coalesce in ${COALESCE_MS:-default}; do
        pin=()
        if [ "$cpus" != all ]; then
            # Backends fork from the postmaster and inherit its mask; the rest are set one by one.
            postmaster=$(as_owner head -n 1 "$IT_SCRATCH_DIR/relaylat/data/postmaster.pid")
            for pid in $postmaster $(pgrep -P "$postmaster"); do
                taskset -a -p -c "$cpus" "$pid" >/dev/null
            done
            pin=(taskset -c "$cpus")
        fi
        if [ "$coalesce" != default ]; then
            "${psql[@]}" -d postgres -c "ALTER SYSTEM SET inventory_truth.relay_coalesce = '${coalesce}ms'" \
                -c "SELECT pg_reload_conf()" >/dev/null
            sleep 1
        fi
        if [ -n "${VACUUM_BETWEEN:-}" ]; then
            "${psql[@]}" -d bench -c "VACUUM $VACUUM_BETWEEN"
        fi
        "${pin[@]}" "$examples/notify_latency" "$dsn" "$DURATION" PROBE >"$listened" &
        pace=()
        [ "$rate" = max ] || pace=(env IT_LOAD_RATE="$rate")
        line=$("${pace[@]}" "${pin[@]}" "$examples/reserve_load" "$dsn" ext "$CLIENTS" "$DURATION" uniform:10000 "lat$round-$coalesce-$cpus-$rate-$$")
        wait
        echo "round $round, load $rate, cpus $cpus, relay_coalesce $coalesce: $(awk '{ printf "%.0f reservations/s", $2 / $8 }' <<<"$line"); listener: $(cat "$listened")"
    done
    done
    done
done
