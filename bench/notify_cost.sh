#!/usr/bin/env bash
# What notifications cost the buyers (SPEC §6, issue "real-time delivery"): reservations per
# second through the extension with notifications off, in direct mode and in relay mode, beside
# the hand-written baselines, all on one scratch cluster that preloads the extension, in
# interleaved rounds; and commit-to-receipt latency measured by a real listener during the
# direct and relay runs.
#   b1       UPDATE stock ... WHERE available >= 1, plus an INSERT of a hold row
#   b1n      b1 plus pg_notify() in each transaction (the cluster-wide notify lock at commit)
#   off      SELECT inventory_truth.reserve(...) with inventory_truth.notify_mode = off
#   direct   the same, notify_mode = direct: the buyer's transaction sends NOTIFY at commit
#   relay    the same, notify_mode = relay: the relay worker publishes after commit
# Each reservation changes the ATP of two channels (web, amazon): two notifications.
# Usage: bench/notify_cost.sh   (CLIENTS=16 DURATION=10 ROUNDS=2; IT_PROFILE=release for an
#        optimised build of the extension)
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/../scripts/common.sh"

CLIENTS=${CLIENTS:-16}
SECONDS_PER_RUN=${DURATION:-10}
ROUNDS=${ROUNDS:-2}

"$REPO_ROOT/scripts/setup.sh"
cluster() { "$REPO_ROOT/scripts/cluster.sh" "$@"; }
hold_install_lock
cluster install
cluster stop bench-relay
IT_PRELOAD=1 cluster start bench-relay
eval "$(cluster env bench-relay)"
DSN="$(cluster dsn bench-relay) dbname=inventory_truth_bench"
PGBIN=$(pg_bindir)
cargo build -q --manifest-path "$REPO_ROOT/Cargo.toml" -p inventory_truth_client --example notify_latency
LISTENER="$REPO_ROOT/target/debug/examples/notify_latency"

PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -d postgres -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS inventory_truth_bench WITH (FORCE)" \
    -c "CREATE DATABASE inventory_truth_bench"
"$PGBIN/psql" -X -q -d inventory_truth_bench -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION inventory_truth;
SET inventory_truth.notify_mode = off;
SELECT inventory_truth.add_location('DC1');
SELECT inventory_truth.add_channel('web'), inventory_truth.add_channel('amazon', 20);
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT 'S' || g, 'DC1', NULL, 'available', 1000000000 FROM generate_series(1, 10000) g;
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT 'PROBE' || g, 'DC1', NULL, 'available', 1000000000 FROM generate_series(0, 49) g;
CREATE TABLE stock_b0 (sku text PRIMARY KEY, available bigint NOT NULL);
INSERT INTO stock_b0 SELECT 'S' || g, 1000000000 FROM generate_series(1, 10000) g;
CREATE TABLE hold_b1 (id bigserial PRIMARY KEY, sku text NOT NULL, ref text NOT NULL,
                      qty bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
VACUUM ANALYZE;
SQL
# Publish the set-up once, so the runs measure only their own changes.
"$PGBIN/psql" -X -q -d inventory_truth_bench -c "SELECT inventory_truth._relay_resync()" >/dev/null
sleep 3

work=$(mktemp -d "${TMPDIR:-/tmp}/inventory_truth-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat >"$work/b1.sql" <<'SQL'
\set n random(1, 10000)
\set r random(1, 1000000000000)
BEGIN;
UPDATE stock_b0 SET available = available - 1 WHERE sku = 'S' || :n AND available >= 1;
INSERT INTO hold_b1 (sku, ref, qty) VALUES ('S' || :n, 'R' || :r, 1);
COMMIT;
SQL
cat >"$work/b1n.sql" <<'SQL'
\set n random(1, 10000)
\set r random(1, 1000000000000)
BEGIN;
UPDATE stock_b0 SET available = available - 1 WHERE sku = 'S' || :n AND available >= 1;
INSERT INTO hold_b1 (sku, ref, qty) VALUES ('S' || :n, 'R' || :r, 1);
SELECT pg_notify('bench', 'S' || :n);
COMMIT;
SQL
cat >"$work/reserve.sql" <<'SQL'
\set n random(1, 10000)
\set r random(1, 1000000000000)
SELECT inventory_truth.reserve('web', 'S' || :n, 1, 'R' || :r);
SQL

variants="b1 b1n off direct relay"
declare -A total latency
for round in $(seq 1 "$ROUNDS"); do
    for variant in $variants; do
        script=$work/$variant.sql mode=off
        case $variant in off | direct | relay) script=$work/reserve.sql mode=$variant ;; esac
        listener_out=$work/latency-$variant-$round
        if [ "$variant" = direct ] || [ "$variant" = relay ]; then
            "$LISTENER" "$DSN options='-c inventory_truth.notify_mode=$mode'" "$SECONDS_PER_RUN" PROBE \
                >"$listener_out" &
        fi
        tps=$(PGOPTIONS="-c inventory_truth.notify_mode=$mode" "$PGBIN/pgbench" -n -c "$CLIENTS" -j 2 \
            -T "$SECONDS_PER_RUN" -f "$script" inventory_truth_bench 2>&1 \
            | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
        wait
        [ -n "$tps" ] || die "pgbench gave no result for $variant"
        note=""
        [ -s "$listener_out" ] && note="  listener: $(cat "$listener_out") (probes p50 p95 p99 max ms, missing)"
        say "round $round  $variant  $tps tps$note"
        total[$variant]=$(awk -v a="${total[$variant]:-0}" -v b="$tps" 'BEGIN { print a + b }')
        [ -s "$listener_out" ] && latency[$variant]="${latency[$variant]:-}$(cat "$listener_out");"
    done
done
problems=$("$PGBIN/psql" -X -At -d inventory_truth_bench -c "SELECT count(*) FROM inventory_truth.verify()")
[ "$problems" = 0 ] || die "verify() reports $problems problems after the run"
sleep 2
unpublished=$("$PGBIN/psql" -X -At -d inventory_truth_bench -c "SELECT count(*) FROM inventory_truth.atp_dirty")

echo
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), $(nproc) cores, $CLIENTS clients," \
     "${SECONDS_PER_RUN}s x $ROUNDS rounds, extension build: ${IT_PROFILE:-debug}"
printf '%-8s %10s %8s %8s %10s\n' variant "mean tps" "vs b1" "vs off" "vs direct"
for variant in $variants; do
    awk -v v="$variant" -v t="${total[$variant]}" -v b1="${total[b1]}" -v off="${total[off]}" \
        -v d="${total[direct]}" -v r="$ROUNDS" \
        'BEGIN { printf "%-8s %10.0f %8.2f %8.2f %10.2f\n", v, t / r, t / b1, t / off, t / d }'
done
for variant in direct relay; do
    echo "commit-to-receipt, $variant (per round: probes p50 p95 p99 max ms, missing): ${latency[$variant]}"
done
echo "verify(): clean; changes left unpublished 2 s after the last run: $unpublished"
cluster stop bench-relay
