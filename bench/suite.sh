#!/usr/bin/env bash
# The benchmark suite: inventory_truth side by side with what a user would write by hand, on
# one scratch cluster that preloads the extension (so the relay runs), every variant
# interleaved in the same session, and the results written to BENCHMARKS.md. Not part of the
# tests: nothing here asserts a time; ratios measured in the same run are the results.
#
#   b0      UPDATE bench_stock SET available = available - 1 WHERE sku = $1 AND available >= 1
#   b1      b0 plus an INSERT of a hold row, in one statement
#   b1n     b1 plus pg_notify(), in one statement
#   off     SELECT inventory_truth.reserve('web', $1, 1, $2), notify_mode = off
#   direct  the same, notify_mode = direct (the buyer's commit sends the notifications)
#   relay   the same, notify_mode = relay (the relay worker publishes after commit)
# Each reservation takes one unit; client/examples/reserve_load.rs runs the buyers (one
# statement per reservation, one connection per client) and counts reservations that
# succeeded, not attempts. Workloads: 10,000 SKUs uniform; 100 SKUs, 80% of demand on 20 of
# them; one hot SKU; a sell-out of SELLOUT_STOCK units with demand far above it (every run
# must sell exactly that stock). Then, in runs of their own: notification latency (commit to receipt, a real
# listener) under the uniform load; floor work (pick(), receive() + put_away(), a direct ledger
# INSERT) against b0, with pgbench; bulk loads (one INSERT ... SELECT and a COPY of new
# SKU-locations into the ledger, against the same rows written by hand) and long transactions of
# floor calls; the flash sale of `make demo` with buyers that do not pause, against the
# extension as it was at FLASH_BASELINE; atp() and atp_snapshot() at 100,000 SKUs x 3 channels;
# reservations with HISTORY_ROWS ledger rows against an empty ledger; and a profile of the
# extension's reservation (pg_stat_statements, wait events, WAL records).
#
# Usage: bench/suite.sh
#   DURATION=10 ROUNDS=2 CLIENT_COUNTS="16 64" WORKLOADS="uniform skewed hot sellout"
#   SELLOUT_STOCK=1000 ATP_SKUS=100000 HISTORY_ROWS=10000000 BULK_ROWS="10000 40000"
#   FLASH_BASELINE=57594a1 IT_PROFILE=release BENCH_OUT=BENCHMARKS.md
#   (FLASH_BASELINE= skips the flash sale against an older build)
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/../scripts/common.sh"

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
CLIENT_COUNTS=${CLIENT_COUNTS:-16 64}
WORKLOADS=${WORKLOADS:-uniform skewed hot sellout}
SELLOUT_STOCK=${SELLOUT_STOCK:-1000}
ATP_SKUS=${ATP_SKUS:-100000}
HISTORY_ROWS=${HISTORY_ROWS:-10000000}
BULK_ROWS=${BULK_ROWS:-10000 40000}
FLASH_BASELINE=${FLASH_BASELINE-57594a1}
export IT_PROFILE=${IT_PROFILE:-release}
OUT=${BENCH_OUT:-$REPO_ROOT/BENCHMARKS.md}
VARIANTS="b0 b1 b1n off direct relay escrow"
command_line="DURATION=$DURATION ROUNDS=$ROUNDS CLIENT_COUNTS=\"$CLIENT_COUNTS\" WORKLOADS=\"$WORKLOADS\" SELLOUT_STOCK=$SELLOUT_STOCK ATP_SKUS=$ATP_SKUS HISTORY_ROWS=$HISTORY_ROWS BULK_ROWS=\"$BULK_ROWS\" FLASH_BASELINE=$FLASH_BASELINE IT_PROFILE=$IT_PROFILE bench/suite.sh"

"$REPO_ROOT/scripts/setup.sh"
cluster() { "$REPO_ROOT/scripts/cluster.sh" "$@"; }
hold_install_lock
cluster install
cluster destroy bench
IT_PRELOAD=1 cluster start bench
eval "$(cluster env bench)"
CLUSTER_DSN=$(cluster dsn bench)
PGBIN=$(pg_bindir)
trap 'cluster stop bench' EXIT
say "building the load generator and the listener"
cargo build -q --release --manifest-path "$REPO_ROOT/Cargo.toml" -p inventory_truth_client \
    --example reserve_load --example notify_latency --example flash_sale --example resync_time
LOAD=$REPO_ROOT/target/release/examples/reserve_load
RESYNC=$REPO_ROOT/target/release/examples/resync_time
LISTENER=$REPO_ROOT/target/release/examples/notify_latency
FLASH_SALE=$REPO_ROOT/target/release/examples/flash_sale

work=$(mktemp -d "${TMPDIR:-/tmp}/inventory_truth-bench.XXXXXX")
trap 'rm -rf "$work"; cluster stop bench' EXIT
q() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
qa() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# A database with the extension and SKUS SKUs of a billion units at DC1 (and the same stock
# in the hand-written tables), channels web and amazon, 50 probe SKUs for the listener.
make_store() {
    local db=$1 skus=$2
    PGOPTIONS="-c client_min_messages=warning" q -d postgres \
        -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    q -d "$db" >/dev/null <<SQL
CREATE EXTENSION inventory_truth;
SET inventory_truth.notify_mode = off;
SELECT inventory_truth.add_location('DC1');
SELECT inventory_truth.add_channel('web'), inventory_truth.add_channel('amazon', 20);
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT 'S' || g, 'DC1', NULL, 'available', 1000000000 FROM generate_series(1, $skus) g;
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT s, 'DC1', NULL, 'available', 1000000000
  FROM unnest(ARRAY['HOT', 'HOTE'] || ARRAY(SELECT 'PROBE' || g FROM generate_series(0, 49) g)) s;
CREATE TABLE bench_stock (sku text PRIMARY KEY, available bigint NOT NULL);
INSERT INTO bench_stock SELECT 'S' || g, 1000000000 FROM generate_series(1, $skus) g;
INSERT INTO bench_stock VALUES ('HOT', 1000000000);
CREATE TABLE bench_hold (id bigserial PRIMARY KEY, sku text NOT NULL, ref text NOT NULL,
                         qty bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
VACUUM ANALYZE;
SQL
}

# One run: prints "succeeded_per_s p50_ms p95_ms p99_ms attempts succeeded refused errors secs
# last_success_s refused_early". Variant escrow is relay on an escrowed SKU.
run_load() {
    local db=$1 variant=$2 clients=$3 workload=$4 tag=$5 kind=ext mode=off
    case $variant in b0 | b1 | b1n) kind=$variant ;; escrow) mode=relay ;; *) mode=$variant ;; esac
    local line
    line=$("$LOAD" "$CLUSTER_DSN dbname=$db options='-c inventory_truth.notify_mode=$mode'" \
        "$kind" "$clients" "$DURATION" "$workload" "$tag") || die "reserve_load failed: $variant $workload"
    awk '{ printf "%.0f %.2f %.2f %.2f %s %s %s %s %s %s %s\n", $2 / $8, $5 / 1000, $6 / 1000, $7 / 1000, $1, $2, $3, $4, $8, $9, $10 }' <<<"$line"
}

say "set-up: 10,000 SKUs"
make_store bench 10000

results=$work/results     # workload clients variant round succeeded/s p50 p95 p99 attempts ok refused errors secs last_ok refused_early
latencies=$work/latency   # variant clients round succeeded/s probes p50 p95 p99 max missing pending_max pending_first pending_second behind_max
: >"$results"
: >"$latencies"
sellout_problems=0
unsold_runs=0
run=0
for round in $(seq 1 "$ROUNDS"); do
    for workload_name in $WORKLOADS; do
        for clients in $CLIENT_COUNTS; do
            for variant in $VARIANTS; do
                # Escrow is for one hot SKU: the hot and sell-out workloads only.
                [ "$variant" = escrow ] && [ "$workload_name" != hot ] && [ "$workload_name" != sellout ] && continue
                run=$((run + 1))
                case $workload_name in
                    uniform) workload=uniform:10000 ;;
                    skewed) workload=skewed:100 ;;
                    hot) workload=one:HOT ;;
                    sellout)
                        workload=one:OUT$run
                        qa -d bench -c "SET inventory_truth.notify_mode = off" \
                            -c "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
                                VALUES ('OUT$run', 'DC1', NULL, 'available', $SELLOUT_STOCK)" \
                            -c "INSERT INTO bench_stock VALUES ('OUT$run', $SELLOUT_STOCK)" >/dev/null
                        ;;
                    *) die "unknown workload $workload_name" ;;
                esac
                if [ "$variant" = escrow ]; then
                    # Its own SKU (escrow stays on it), in as many parts as buyers.
                    [ "$workload_name" = hot ] && workload=one:HOTE
                    qa -d bench -c "SELECT inventory_truth.set_escrow('${workload#one:}', $clients)" >/dev/null
                fi
                line=$(run_load bench "$variant" "$clients" "$workload" "r$run")
                echo "$workload_name $clients $variant $round $line" >>"$results"
                say "round $round  $workload_name  $clients clients  $variant: $line"
                if [ "$workload_name" = sellout ]; then
                    # Never more than the stock, exactly what the clients were told, and all
                    # of it once buyers were refused.
                    succeeded=$(awk '{ print $6 }' <<<"$line")
                    refused=$(awk '{ print $7 }' <<<"$line")
                    case $variant in
                        b0) left=$(qa -d bench -c "SELECT available FROM bench_stock WHERE sku = 'OUT$run'")
                            sold=$((SELLOUT_STOCK - left)) ;;
                        b1 | b1n) sold=$(qa -d bench -c "SELECT sum(qty) FROM bench_hold WHERE sku = 'OUT$run'") ;;
                        *) sold=$(qa -d bench -c "SELECT coalesce(sum(qty), 0) FROM inventory_truth.hold WHERE sku = 'OUT$run'") ;;
                    esac
                    if [ "$sold" -gt "$SELLOUT_STOCK" ] || [ "$succeeded" != "$sold" ] \
                        || { [ "$refused" -gt 0 ] && [ "$sold" != "$SELLOUT_STOCK" ]; }; then
                        say "SELL-OUT WRONG: $variant sold $sold (clients saw $succeeded, $refused refused) of $SELLOUT_STOCK"
                        sellout_problems=$((sellout_problems + 1))
                    fi
                    [ "$sold" = "$SELLOUT_STOCK" ] || unsold_runs=$((unsold_runs + 1))
                fi
            done
        done
    done
done
# Notification latency, in runs of their own (a listener receiving every notification costs
# its backend and its client CPU on these 2 cores, which the runs above leave out for every
# variant alike): the uniform load, direct and relay, with the listener.
for round in $(seq 1 "$ROUNDS"); do
    for clients in $CLIENT_COUNTS; do
        for variant in direct relay; do
            run=$((run + 1))
            "$LISTENER" "$CLUSTER_DSN dbname=bench options='-c inventory_truth.notify_mode=$variant'" \
                "$DURATION" PROBE >"$work/listener" &
            line=$(run_load bench "$variant" "$clients" uniform:10000 "r$run")
            wait
            echo "$variant $clients $round $(awk '{ print $1 }' <<<"$line") $(cat "$work/listener")" >>"$latencies"
            say "round $round  listened  $clients clients  $variant: $line / $(cat "$work/listener")"
        done
    done
done
problems=$(qa -d bench -c "SELECT count(*) FROM inventory_truth.verify()")
sleep 2
unpublished=$(qa -d bench -c "SELECT count(*) FROM inventory_truth._relay_stale()")

say "floor work against b0: pick(), receive() + put_away(), a direct ledger INSERT"
# pgbench, 16 clients, relay mode, on the uniform store; each call in its own transaction (a
# pgbench "transaction" of receive.sql is two calls). Interleaved rounds.
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
# Statements per second of a pgbench script (prepared, 16 clients, relay mode).
pgbench_statements() {
    local db=$1 script=$2 per=$3
    PGOPTIONS="-c inventory_truth.notify_mode=relay" "$PGBIN/pgbench" -n -M prepared -c 16 -j 2 \
        -T "$DURATION" -f "$script" "$db" 2>&1 \
        | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | awk -v per="$per" '{ printf "%.0f", $1 * per }'
}
: >"$work/floor"
for round in $(seq 1 "$ROUNDS"); do
    for op in b0 pick receive insert; do
        per=1
        [ "$op" = receive ] && per=2
        calls=$(pgbench_statements bench "$work/$op.sql" "$per")
        [ -n "$calls" ] || die "pgbench gave no result for $op"
        echo "$op $round $calls" >>"$work/floor"
        say "floor round $round  $op: $calls calls/s"
    done
done
floor_problems=$(qa -d bench -c "SELECT count(*) FROM inventory_truth.verify()")

say "bulk: opening stock through the ledger, against the same rows written by hand"
# A fresh database per measurement: channels web (buffer 2) and amazon, amazon fenced 20% of
# every SKU, so every new place fills a fence as its units arrive.
bulk_db() {
    PGOPTIONS="-c client_min_messages=warning" q -d postgres \
        -c "DROP DATABASE IF EXISTS bench_bulk WITH (FORCE)" -c "CREATE DATABASE bench_bulk"
    q -d bench_bulk >/dev/null <<SQL
CREATE EXTENSION inventory_truth;
SELECT inventory_truth.add_location('DC1');
SELECT inventory_truth.add_channel('web', buffer => 2), inventory_truth.add_channel('amazon', 10);
SELECT inventory_truth.set_ringfence('amazon', NULL, percent => 20);
CREATE TABLE hand_ledger (id bigserial PRIMARY KEY, sku text NOT NULL, location text NOT NULL,
                          qty bigint NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON hand_ledger (recorded_at);
CREATE TABLE hand_balance (sku text, location text, available bigint NOT NULL,
                           PRIMARY KEY (sku, location));
SQL
}
# Milliseconds of a psql script (\timing, summed).
time_script() {
    qa -d "$1" -c "\\timing on" "${@:2}" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' \
        | awk '{ t += $1 } END { printf "%.0f", t }'
}
: >"$work/bulk"
for rows in $BULK_ROWS; do
    bulk_db
    ledger_ms=$(time_script bench_bulk -c "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
        SELECT 'B' || g, 'DC1', NULL, 'available', 100 FROM generate_series(1, $rows) g")
    hand_ms=$(time_script bench_bulk -c "BEGIN" \
        -c "INSERT INTO hand_ledger (sku, location, qty) SELECT 'B' || g, 'DC1', 100 FROM generate_series(1, $rows) g" \
        -c "INSERT INTO hand_balance SELECT 'B' || g, 'DC1', 100 FROM generate_series(1, $rows) g
            ON CONFLICT (sku, location) DO UPDATE SET available = hand_balance.available + excluded.available" \
        -c "COMMIT")
    bulk_check=$(qa -d bench_bulk -c "SELECT count(*) FROM inventory_truth.verify()")
    bulk_db
    seq 1 "$rows" | awk '{ print "C" $1 "\tDC1\t\\N\tavailable\t100" }' >"$work/copy.tsv"
    copy_ms=$(time_script bench_bulk -c "\\copy inventory_truth.movement (sku, location, from_stage, to_stage, qty) FROM '$work/copy.tsv'")
    copy_check=$(qa -d bench_bulk -c "SELECT count(*) FROM inventory_truth.stock WHERE available = 100")
    if [ "$bulk_check" != 0 ] || [ "$copy_check" != "$rows" ]; then
        die "bulk load of $rows rows wrong: verify() $bulk_check, copied places $copy_check"
    fi
    echo "$rows $ledger_ms $hand_ms $copy_ms" >>"$work/bulk"
    say "bulk $rows rows: ledger $ledger_ms ms, by hand $hand_ms ms, COPY $copy_ms ms"
done
# Floor calls in one transaction: receive() + put_away() of new SKUs, 1,000 and 10,000 pairs in
# one statement, on an empty store and on one of 10,000 SKUs (direct mode: the commit publishes).
: >"$work/calls"
for store in 0 10000; do
    for pairs in 1000 10000; do
        bulk_db
        qa -d bench_bulk -c "SET inventory_truth.notify_mode = off" \
            -c "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
                SELECT 'P' || g, 'DC1', NULL, 'available', 50 FROM generate_series(1, $store) g" >/dev/null
        ms=$(time_script bench_bulk -c "SET inventory_truth.notify_mode = direct" \
            -c "SELECT count(*) FROM generate_series(1, $pairs) g,
                       LATERAL inventory_truth.receive('F' || g, 'DC1', 5) r,
                       LATERAL inventory_truth.put_away('F' || g, 'DC1', 5) p")
        echo "$store $pairs $ms" >>"$work/calls"
        say "store of $store SKUs: $pairs receive + put_away pairs in one transaction: $ms ms"
    done
done

: >"$work/flash"
if [ -n "$FLASH_BASELINE" ]; then
    say "the flash sale, buyers without pauses: this build against $FLASH_BASELINE"
    baseline=$(mktemp -d "${TMPDIR:-/tmp}/inventory_truth-baseline.XXXXXX")
    git -C "$REPO_ROOT" worktree add --detach "$baseline" "$FLASH_BASELINE" >/dev/null 2>&1 \
        || die "cannot check out $FLASH_BASELINE"
    flash_round() {
        cluster stop bench
        IT_PRELOAD=1 cluster start bench
        PGOPTIONS="-c client_min_messages=warning" q -d postgres \
            -c "DROP DATABASE IF EXISTS bench_flash WITH (FORCE)" -c "CREATE DATABASE bench_flash"
        q -d bench_flash -c "CREATE EXTENSION inventory_truth"
        FLASH_SALE_THINK_MS=0 "$FLASH_SALE" "$CLUSTER_DSN dbname=bench_flash" >"$work/flash.log" 2>&1 \
            || { tail -20 "$work/flash.log" >&2; die "the flash sale failed on $1"; }
        sed -n 's/^sold out after \([0-9.]*\) s$/\1/p' "$work/flash.log"
    }
    for round in $(seq 1 "$ROUNDS"); do
        (cd "$baseline" && IT_PROFILE=release scripts/cluster.sh install) >"$work/baseline-install.log" 2>&1 \
            || { tail -20 "$work/baseline-install.log" >&2; die "cannot build $FLASH_BASELINE"; }
        echo "$FLASH_BASELINE $round $(flash_round "$FLASH_BASELINE")" >>"$work/flash"
        cluster install >"$work/install.log" 2>&1 || die "cannot reinstall this build"
        echo "this $round $(flash_round this)" >>"$work/flash"
        say "flash sale round $round: $(tail -2 "$work/flash" | tr '\n' ' ')"
    done
    git -C "$REPO_ROOT" worktree remove --force "$baseline"
    cluster stop bench
    IT_PRELOAD=1 cluster start bench
fi

say "ATP reads: $ATP_SKUS SKUs x 3 channels"
PGOPTIONS="-c client_min_messages=warning" q -d postgres \
    -c "DROP DATABASE IF EXISTS bench_atp WITH (FORCE)" -c "CREATE DATABASE bench_atp"
q -d bench_atp >/dev/null <<SQL
CREATE EXTENSION inventory_truth;
SET inventory_truth.notify_mode = off;
SELECT inventory_truth.add_location('DC1'), inventory_truth.add_location('DC2');
SELECT inventory_truth.add_channel('web', 30, buffer => 2), inventory_truth.add_channel('amazon', 10),
       inventory_truth.add_channel('wholesale', 20, kind => 'wholesale');
-- Each SKU put away at both locations through the ledger, in one statement per location; the
-- fences fill as the units arrive (amazon first, 30%; wholesale 5 units).
SELECT inventory_truth.set_ringfence('amazon', NULL, percent => 30);
SELECT inventory_truth.set_ringfence('wholesale', NULL, units => 5);
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT 'S' || g, 'DC1', NULL, 'available', 20 + g % 50 FROM generate_series(1, $ATP_SKUS) g;
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT 'S' || g, 'DC2', NULL, 'available', 20 + g % 50 FROM generate_series(1, $ATP_SKUS) g;
-- Statistics first, so that the reads below are measured in the steady state (without them
-- atp_snapshot() once ran for more than 12 minutes here: see BENCHMARKS.md's analysis).
ANALYZE;
CREATE TABLE bench_atp_flat (sku text, channel text, atp bigint, PRIMARY KEY (sku, channel));
INSERT INTO bench_atp_flat SELECT sku, channel, atp FROM inventory_truth.atp_snapshot();
VACUUM ANALYZE;
SQL
# Median of 5 timed runs, in ms.
time_query() {
    local db=$1 sql=$2 _
    for _ in 1 2 3 4 5; do
        qa -d "$db" -c "\\timing on" -c "$sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
    done | sort -n | sed -n 3p
}
snapshot_all_ms=$(time_query bench_atp "SELECT count(*) FROM inventory_truth.atp_snapshot()")
snapshot_rows=$(qa -d bench_atp -c "SELECT count(*) FROM inventory_truth.atp_snapshot()")
snapshot_web_ms=$(time_query bench_atp "SELECT count(*) FROM inventory_truth.atp_snapshot('web')")
flat_all_ms=$(time_query bench_atp "SELECT count(*) FROM (SELECT sku, channel, atp FROM bench_atp_flat) f")
echo "\\set n random(1, $ATP_SKUS)
SELECT inventory_truth.atp('S' || :n, 'web');" >"$work/atp.sql"
echo "\\set n random(1, $ATP_SKUS)
SELECT atp FROM bench_atp_flat WHERE sku = 'S' || :n AND channel = 'web';" >"$work/flat.sql"
pgbench_tps() {
    "$PGBIN/pgbench" -n -c 16 -j 2 -T "$DURATION" -f "$1" bench_atp 2>&1 \
        | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | awk '{ printf "%.0f", $1 }'
}
atp_problems=$(qa -d bench_atp -c "SELECT count(*) FROM inventory_truth.verify()")
atp_tps=$(pgbench_tps "$work/atp.sql")
flat_tps=$(pgbench_tps "$work/flat.sql")
atp_tps2=$(pgbench_tps "$work/atp.sql")
# A storefront's resync with the Rust client (connect, LISTEN, atp_snapshot, its view built),
# median of 5, every channel and one.
resync_all_ms=$("$RESYNC" "$CLUSTER_DSN dbname=bench_atp" all 5 | sed -n 's/^median \([0-9]*\) ms.*/\1/p')
resync_web_ms=$("$RESYNC" "$CLUSTER_DSN dbname=bench_atp" web 5 | sed -n 's/^median \([0-9]*\) ms.*/\1/p')
flat_tps2=$(pgbench_tps "$work/flat.sql")

say "history: $HISTORY_ROWS ledger rows against an empty ledger"
make_store bench_empty 10000
make_store bench_history 10000
# Restored-history rows (reservations and their releases: net zero per bucket, so verify()
# stays clean) and as many ended holds, loaded with the ledger's row triggers off, as
# pg_restore would load them.
q -d bench_history >/dev/null <<SQL
ALTER TABLE inventory_truth.movement DISABLE TRIGGER USER;
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty, channel, ref, reason,
                                      occurred_at, recorded_at, actor, txid)
SELECT 'S' || (1 + g / 2 % 10000), 'DC1',
       CASE WHEN g % 2 = 0 THEN 'available' ELSE 'committed' END::inventory_truth.stage,
       CASE WHEN g % 2 = 0 THEN 'committed' ELSE 'available' END::inventory_truth.stage,
       1, 'web', 'H' || g / 2, 'history', now() - interval '1 year' + g * interval '1 millisecond',
       now() - interval '1 year' + g * interval '1 millisecond', 'history', '1'::xid8
  FROM generate_series(0, $HISTORY_ROWS - 1) g;
ALTER TABLE inventory_truth.movement ENABLE TRIGGER USER;
INSERT INTO inventory_truth.hold (channel, ref, sku, location, qty, open_qty, released_qty, status, created_at, ended_at)
SELECT 'web', 'H' || g, 'S' || (1 + g % 10000), 'DC1', 1, 0, 1, 'released', now() - interval '1 year', now() - interval '1 year'
  FROM generate_series(0, $HISTORY_ROWS / 2 - 1) g;
VACUUM ANALYZE;
SQL
history_rows=$(qa -d bench_history -c "SELECT count(*) FROM inventory_truth.movement")
: >"$work/history"
# A short warm-up of each, then a checkpoint before every measured run.
for db in bench_empty bench_history; do
    DURATION=2 run_load "$db" relay 16 uniform:10000 "warm" >/dev/null
done
for round in $(seq 1 "$ROUNDS"); do
    for db in bench_empty bench_history; do
        q -d postgres -c CHECKPOINT
        line=$(run_load "$db" relay 16 uniform:10000 "h$round")
        echo "$db $round $line" >>"$work/history"
        say "history round $round  $db: $line"
    done
done
history_problems=$(qa -d bench_history -c "SELECT count(*) FROM inventory_truth.verify()")

say "profile: where a reservation's time goes (pg_stat_statements, wait events)"
cluster stop bench
IT_PRELOAD=1 IT_EXTRA_PRELOAD=pg_stat_statements cluster start bench
q -d bench -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
    -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
q -d bench -c "SELECT pg_stat_statements_reset()" >/dev/null
# Wait events of the buyers, sampled every 20 ms during the run.
(
    end=$((SECONDS + DURATION))
    while [ "$SECONDS" -lt "$end" ]; do
        qa -d bench -c "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU (no wait)')
                          FROM pg_stat_activity
                         WHERE backend_type = 'client backend' AND datname = 'bench' AND state = 'active'
                           AND pid <> pg_backend_pid()"
        sleep 0.02
    done
) >"$work/waits" &
profile_line=$(run_load bench relay 16 uniform:10000 profile)
wait
q -d bench -At -F ' | ' >"$work/statements" -c "
    SELECT round((100 * total_exec_time / sum(total_exec_time) FILTER (WHERE toplevel) OVER ())::numeric, 1),
           round((total_exec_time / greatest(calls, 1) * 1000)::numeric, 1), calls,
           regexp_replace(left(query, 110), '\\s+', ' ', 'g')
      FROM pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bench')
     ORDER BY total_exec_time DESC LIMIT 14"

# WAL written per successful reservation (the relay's publications included), the same load.
wal_per_reservation() {
    local before bytes line
    before=$(qa -d bench -c "SELECT pg_current_wal_lsn()")
    line=$(run_load bench "$1" 16 uniform:10000 "wal-$1")
    bytes=$(qa -d bench -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$before')::bigint")
    awk -v b="$bytes" '{ printf "%.0f", b / ($6 > 0 ? $6 : 1) }' <<<"$line"
}
wal_b1=$(wal_per_reservation b1)
wal_b1n=$(wal_per_reservation b1n)
wal_relay=$(wal_per_reservation relay)
# The records of one reservation, as pg_waldump shows them: what, how many bytes, which relation.
wal_from=$(qa -d bench -c "SELECT pg_current_wal_insert_lsn()")
# Its transaction's records only (pg_waldump -x): the relay and autovacuum commit meanwhile.
wal_xid=$(qa -d bench -c "SET inventory_truth.notify_mode = off" \
    -c "SELECT (pg_current_xact_id()::text::numeric % 4294967296)::bigint
          FROM (SELECT inventory_truth.reserve('web', 'S77', 1, 'wal-one-reservation')) r")
# Up to what is flushed: the reservation's commit is (synchronous_commit), while the relay's
# own commits after it need not be, and pg_waldump fails on a record not yet on disk (a run of
# the suite ended there).
wal_to=$(qa -d bench -c "SELECT pg_current_wal_flush_lsn()")
{ as_owner "$PGBIN/pg_waldump" -p "$(qa -d bench -c "SHOW data_directory")/pg_wal" -s "$wal_from" -e "$wal_to" \
    -x "$wal_xid" 2>/dev/null || true; } \
    | sed -nE '/blkref/{s/^rmgr: ([A-Za-z0-9]+) +len \(rec\/tot\): +[0-9]+\/ *([0-9]+),.*desc: ([A-Z_+0-9]+).*blkref #0: rel [0-9]+\/[0-9]+\/([0-9]+).*$/\1 \2 \3 \4/p;d;};
               s/^rmgr: ([A-Za-z0-9]+) +len \(rec\/tot\): +[0-9]+\/ *([0-9]+),.*desc: ([A-Z_+0-9]+).*$/\1 \2 \3/p' >"$work/walrecords"
relation_of() { qa -d bench -c "SELECT coalesce((SELECT relname FROM pg_class WHERE relfilenode = $1 LIMIT 1), '$1')"; }

say "writing $OUT"
settings=$(qa -d bench -c "SELECT string_agg(name || ' = ' || setting || coalesce(unit, ''), ', ' ORDER BY name)
                             FROM pg_settings
                            WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', 'wal_level',
                                           'max_connections', 'work_mem', 'max_wal_size', 'checkpoint_timeout')")
{
    echo "# Benchmarks"
    echo
    echo "Written by \`bench/suite.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); do not edit by hand. Reproduce with:"
    echo
    echo '```sh'
    echo "$command_line"
    echo '```'
    echo
    echo "Machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/^Mem:/ { print $2 }') GB RAM; PostgreSQL $("$PGBIN/postgres" --version | awk '{ print $3 }'), a scratch cluster with default settings but for the socket ($settings); the extension built \`$IT_PROFILE\`, preloaded (the relay runs in every variant; \`off\` and \`direct\` only set \`notify_mode\` per session). Load: \`client/examples/reserve_load.rs\` (one connection per client, one statement per reservation, back to back) on the same 2 cores as the server. Every variant of a workload runs in the same session, interleaved, $ROUNDS round(s) of ${DURATION} s; figures are means over rounds. These machines are noisy: read ratios measured side by side, not absolute numbers across runs."
    echo
    echo "## Reservations that succeeded per second, and latency"
    echo
    echo "| workload | clients | variant | reservations/s | vs b1 | vs b1n | p50 ms | p95 ms | p99 ms | refused/s | errors |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for workload_name in $WORKLOADS; do
        [ "$workload_name" = sellout ] && continue
        for clients in $CLIENT_COUNTS; do
            awk -v w="$workload_name" -v c="$clients" -v variants="$VARIANTS" '
                $1 == w && $2 == c { n[$3]++; tps[$3] += $5; p50[$3] += $6; p95[$3] += $7; p99[$3] += $8
                                     refused[$3] += $11 / $13; errors[$3] += $12 }
                END {
                    nv = split(variants, order, " ")
                    for (i = 1; i <= nv; i++) {
                        v = order[i]; if (!n[v]) continue
                        printf "| %s | %s | %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %d |\n",
                            w, c, v, tps[v] / n[v], tps[v] / tps["b1"], tps[v] / tps["b1n"],
                            p50[v] / n[v], p95[v] / n[v], p99[v] / n[v], refused[v] / n[v], errors[v]
                    }
                }' "$results"
        done
    done
    echo
    echo "## Sell-out"
    echo
    echo "One SKU of $SELLOUT_STOCK units (a new one per run), every client buying it until the run ends. Sold: units the database holds for the run (holds, or the stock the UPDATE took); every run must sell no more than the stock, exactly what the clients were told, and all of it once buyers were refused. Refusals: the UPDATE took nothing, or \`reserve()\` raised IT001; refused while stock was left: refusals (summed over rounds) that returned before the last successful reservation was even sent, so while the unit it got was still on sale (every variant must have none). \`escrow\` is \`relay\` on a SKU escrowed in one part per client (\`set_escrow\`, docs/design.md §12)."
    echo
    echo "| clients | variant | sold (mean) | sold out after s | vs b1 | attempts/s | refused/s | refused vs b0 | refused while stock was left | p50 ms | p99 ms |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for clients in $CLIENT_COUNTS; do
        awk -v c="$clients" -v variants="$VARIANTS" '
            $1 == "sellout" && $2 == c { n[$3]++; sold[$3] += $10; last[$3] += $14; att[$3] += $9 / $13
                                         ref[$3] += $11 / $13; p50[$3] += $6; p99[$3] += $8; early[$3] += $15 }
            END {
                nv = split(variants, order, " ")
                for (i = 1; i <= nv; i++) {
                    v = order[i]; if (!n[v]) continue
                    printf "| %s | %s | %.0f | %.2f | %.2f | %.0f | %.0f | %.2f | %d | %.2f | %.2f |\n", c, v, sold[v] / n[v], last[v] / n[v],
                        (last["b1"] > 0 ? last[v] / last["b1"] : 0), att[v] / n[v], ref[v] / n[v],
                        (ref["b0"] > 0 ? ref[v] / ref["b0"] : 0), early[v], p50[v] / n[v], p99[v] / n[v]
                }
            }' "$results"
    done
    echo
    echo "No run sold more than its stock or other than what its clients were told: $([ "$sellout_problems" = 0 ] && echo yes || echo "NO ($sellout_problems runs wrong)"). Runs that ended before their stock was gone (too slow to sell it out in ${DURATION} s): $unsold_runs. \`verify()\` after all runs: $([ "$problems" = 0 ] && echo clean || echo "$problems problems"); SKUs whose last change is unpublished 2 s after the last run: $unpublished (the \`off\` variant's changes are never published: that is what off means; a later change in another mode publishes the SKU)."
    echo
    echo "## Notification latency under the uniform load"
    echo
    echo "Commit to receipt, measured by a real listener (\`client/examples/notify_latency.rs\`, LISTENing like a storefront, so it receives every notification): a probe session reserves a probe SKU every 20 ms during the run and notes when its COMMIT returned; the listener notes when the notification with that version arrived. These runs come after the ones above (which have no listener for any variant); reservations/s here is with the listener's backend and client on the same 2 cores. The relay's backlog is sampled every 100 ms from \`notify_status()\` by a third session: SKUs taken from the shared log but not yet published at the end of its last pass (max, and the mean over the first and the second half of the run: a relay that keeps up does not grow), and entries of the shared log it had not read yet (max). In direct mode the buyers publish and the relay has nothing to do."
    echo
    echo "| variant | clients | round | reservations/s | probes | p50 ms | p95 ms | p99 ms | max ms | missing | relay backlog max | first half → second half | log unread max |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    awk '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s → %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 }' "$latencies"
    echo
    echo "## Floor work against b0"
    echo
    echo "pgbench, 16 clients, prepared statements, relay mode, on the uniform store of 10,000 SKUs; each call its own transaction; $ROUNDS interleaved round(s) of ${DURATION} s. b0: \`UPDATE bench_stock SET available = available - 1 WHERE sku = \$1 AND available >= 1\`. receive() + put_away(): the two calls, one after the other, for one unit (calls/s counts both). \`verify()\` after: $([ "$floor_problems" = 0 ] && echo clean || echo "$floor_problems problems")."
    echo
    echo "| work | calls/s | vs b0 |"
    echo "|---|---|---|"
    awk '{ n[$1]++; t[$1] += $3 } END {
        split("b0 pick receive insert", order, " ")
        names["b0"] = "b0 (hand-written UPDATE)"; names["pick"] = "pick()"
        names["receive"] = "receive() + put_away()"; names["insert"] = "INSERT INTO movement (available -> picked)"
        for (i = 1; i <= 4; i++) { v = order[i]; if (n[v]) printf "| %s | %.0f | %.2f |\n", names[v], t[v] / n[v], t[v] / t["b0"] * n["b0"] / n[v] }
    }' "$work/floor"
    echo
    echo "## Bulk loads"
    echo
    echo "Opening stock: one \`INSERT INTO inventory_truth.movement ... SELECT\` of that many new SKU-locations (NULL -> available, 100 units each, amazon fenced 20% of every SKU), against the same rows written by hand: an indexed ledger table plus a balance upsert, in one transaction. And a \`COPY\` of as many rows into the ledger. Fresh database each; \`verify()\` clean after each load."
    echo
    echo "| rows | ledger INSERT ... SELECT ms | by hand ms | ratio | ms per 1,000 rows | COPY into the ledger ms | COPY ms per 1,000 rows |"
    echo "|---|---|---|---|---|---|---|"
    awk '{ printf "| %s | %s | %s | %.1f | %.1f | %s | %.1f |\n", $1, $2, $3, $2 / ($3 > 0 ? $3 : 1), $2 * 1000 / $1, $4, $4 * 1000 / $1 }' "$work/bulk"
    echo
    echo "Floor calls in one transaction: \`receive()\` + \`put_away()\` of new SKUs, in one statement (direct mode: the commit publishes every changed SKU), on an empty store and on a store of 10,000 SKUs:"
    echo
    echo "| SKUs in the store | pairs | ms | µs per pair |"
    echo "|---|---|---|---|"
    awk '{ printf "| %s | %s | %s | %.0f |\n", $1, $2, $3, $3 * 1000 / $2 }' "$work/calls"
    if [ -s "$work/flash" ]; then
        echo
        echo "## The flash sale of \`make demo\`, buyers without pauses"
        echo
        echo "\`client/examples/flash_sale.rs\` (this build's client, release) with \`FLASH_SALE_THINK_MS=0\`: 16 buyers buy back to back instead of thinking 5 to 25 ms, so the time to sell out is the database's. Against this build and against the extension at $FLASH_BASELINE (the same client: the SQL API did not change), both built \`release\`, on a fresh preloaded cluster each run; every run passes the sale's checks. Seconds until the last unit was held:"
        echo
        echo "| build | round | sold out after s |"
        echo "|---|---|---|"
        awk '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$work/flash"
        awk -v base="$FLASH_BASELINE" '{ n[$1]++; t[$1] += $3 } END { if (n["this"] && n[base]) printf "\nThis build sells out %.1f x faster.\n", (t[base] / n[base]) / (t["this"] / n["this"]) }' "$work/flash"
        echo
        echo "With the demo's pauses (\`make demo\` as it runs), both sell out in about the time the buyers take to think: the buyers, not the database, set the pace there."
    fi
    echo
    echo "## ATP reads at $ATP_SKUS SKUs x 3 channels"
    echo
    echo "Two locations, amazon fenced 30% and wholesale 5 units for every SKU, web with a buffer of 2 (\`verify()\`: $([ "$atp_problems" = 0 ] && echo clean || echo "$atp_problems problems")). Median of 5 runs; the hand-written reference reads a table that already holds the answer."
    echo
    echo "| query | rows | ms |"
    echo "|---|---|---|"
    echo "| \`SELECT count(*) FROM inventory_truth.atp_snapshot()\` | $snapshot_rows | $snapshot_all_ms |"
    echo "| \`SELECT count(*) FROM inventory_truth.atp_snapshot('web')\` | $ATP_SKUS | $snapshot_web_ms |"
    echo "| reference: \`SELECT count(*)\` over a precomputed (sku, channel, atp) table | $snapshot_rows | $flat_all_ms |"
    echo
    echo "\`atp(sku, 'web')\` for a random SKU, 16 pgbench clients: $atp_tps and $atp_tps2 calls/s; reference \`SELECT atp FROM bench_atp_flat WHERE ...\`: $flat_tps and $flat_tps2 (interleaved)."
    echo
    echo "A storefront's resync with the Rust client (\`client/examples/resync_time.rs\`: connect, LISTEN, \`atp_snapshot()\`, the view built, as \`follow()\` does after every reconnection), median of 5: every channel ($snapshot_rows rows) $resync_all_ms ms, the web channel ($ATP_SKUS rows) $resync_web_ms ms."
    echo
    echo "## Reservations with $history_rows ledger rows"
    echo
    echo "relay mode, 16 clients, uniform over 10,000 SKUs; \`bench_history\` holds $history_rows restored ledger rows and $((HISTORY_ROWS / 2)) ended holds, \`bench_empty\` none; interleaved. \`verify()\` on the history database: $([ "$history_problems" = 0 ] && echo clean || echo "$history_problems problems")."
    echo
    echo "| database | round | reservations/s | p50 ms | p99 ms |"
    echo "|---|---|---|---|---|"
    awk '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $6 }' "$work/history"
    awk '{ t[$1] += $3 } END { if (t["bench_empty"] > 0) printf "\nWith history: %.2f x the empty ledger.\n", t["bench_history"] / t["bench_empty"] }' "$work/history"
    echo
    echo "## Where a reservation's time goes"
    echo
    echo "One more ${DURATION} s run (relay, 16 clients, uniform) with pg_stat_statements tracking nested statements: $(awk '{ print $1 }' <<<"$profile_line") reservations/s. Statements by total time (share of all top-level time; mean per call):"
    echo
    echo "| % of time | mean µs | calls | statement |"
    echo "|---|---|---|---|"
    awk -F ' [|] ' '{ gsub(/\|/, "\\|", $4); printf "| %s | %s | %s | `%s` |\n", $1, $2, $3, $4 }' "$work/statements"
    echo
    echo "WAL written per successful reservation (16 clients, uniform, everything the cluster wrote meanwhile): b1 $wal_b1 bytes, b1n $wal_b1n bytes, relay $wal_relay bytes. The records of one reservation (notify_mode off, \`pg_waldump\`):"
    echo
    echo "| record | bytes | relation |"
    echo "|---|---|---|"
    while read -r rmgr bytes what relfilenode; do
        echo "| $rmgr $what | $bytes | ${relfilenode:+$(relation_of "$relfilenode")} |"
    done <"$work/walrecords"
    awk '{ t += $2 } END { printf "\nIn all %d bytes.\n", t }' "$work/walrecords"
    echo
    echo "Wait events of the buyers' backends, sampled every 20 ms while active:"
    echo
    echo "| wait | share of samples |"
    echo "|---|---|"
    sort "$work/waits" | uniq -c | sort -rn | head -8 \
        | awk -v total="$(wc -l <"$work/waits")" '{ n = $1; $1 = ""; sub(/^ /, ""); printf "| %s | %.0f%% |\n", $0, 100 * n / total }'
} >"$OUT.tables"
if [ -f "$OUT" ] && grep -q '^<!-- analysis -->' "$OUT"; then
    # Keep the hand-written analysis below the marker.
    sed -n '/^<!-- analysis -->/,$p' "$OUT" >>"$OUT.tables"
fi
mv "$OUT.tables" "$OUT"
say "results in $OUT"
if [ "$sellout_problems" != 0 ] || [ "$problems" != 0 ] || [ "$history_problems" != 0 ] || [ "$atp_problems" != 0 ] || [ "$floor_problems" != 0 ]; then
    die "correctness failed: sell-outs wrong $sellout_problems, verify() $problems / $history_problems"
fi
