#!/usr/bin/env bash
# What one ledger movement and one reservation cost, against what a user would write by hand
# on the same data.
# A first look, not the benchmark suite: one scratch cluster (`bench`), 10,000 SKUs, pgbench
# with CLIENTS clients (default 16) for DURATION seconds (default 10) per variant, ROUNDS rounds
# (default 2) interleaved, so the ratios compare runs made side by side.
#   b0       UPDATE stock SET available = available - 1 WHERE sku = $1 AND available >= 1
#   b1       b0 plus an INSERT of a hold row, in one transaction
#   pick     SELECT FROM inventory_truth.pick(sku, 'DC1', 1)        (a function call)
#   direct   INSERT INTO inventory_truth.movement ... available -> picked  (an ERP's own insert)
#   reserve  SELECT inventory_truth.reserve('web', sku, 1, <new ref>)  (a hold, checked against ATP)
# Usage: bench/ledger_cost.sh   (builds and installs a debug build like `make demo`;
#        IT_PROFILE=release bench/ledger_cost.sh for an optimised one)
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/../scripts/common.sh"

CLIENTS=${CLIENTS:-16}
SECONDS_PER_RUN=${DURATION:-10}
ROUNDS=${ROUNDS:-2}

"$REPO_ROOT/scripts/setup.sh"
cluster() { "$REPO_ROOT/scripts/cluster.sh" "$@"; }
hold_install_lock
cluster install
cluster start bench
eval "$(cluster env bench)"
PGBIN=$(pg_bindir)

PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -d postgres -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS inventory_truth_bench WITH (FORCE)" \
    -c "CREATE DATABASE inventory_truth_bench"
"$PGBIN/psql" -X -q -d inventory_truth_bench -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION inventory_truth;
SELECT inventory_truth.add_location('DC1');
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT 'S' || g, 'DC1', NULL, 'available', 1000000000 FROM generate_series(1, 10000) g;
SELECT inventory_truth.add_channel('web');
CREATE TABLE stock_b0 (sku text PRIMARY KEY, available bigint NOT NULL);
INSERT INTO stock_b0 SELECT 'S' || g, 1000000000 FROM generate_series(1, 10000) g;
CREATE TABLE hold_b1 (id bigserial PRIMARY KEY, sku text NOT NULL, ref text NOT NULL,
                      qty bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
VACUUM ANALYZE;
SQL

work=$(mktemp -d "${TMPDIR:-/tmp}/inventory_truth-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat >"$work/b0.sql" <<'SQL'
\set n random(1, 10000)
UPDATE stock_b0 SET available = available - 1 WHERE sku = 'S' || :n AND available >= 1;
SQL
cat >"$work/b1.sql" <<'SQL'
\set n random(1, 10000)
\set r random(1, 1000000000000)
BEGIN;
UPDATE stock_b0 SET available = available - 1 WHERE sku = 'S' || :n AND available >= 1;
INSERT INTO hold_b1 (sku, ref, qty) VALUES ('S' || :n, 'R' || :r, 1);
COMMIT;
SQL
cat >"$work/reserve.sql" <<'SQL'
\set n random(1, 10000)
\set r random(1, 1000000000000)
SELECT inventory_truth.reserve('web', 'S' || :n, 1, 'R' || :r);
SQL
cat >"$work/pick.sql" <<'SQL'
\set n random(1, 10000)
SELECT FROM inventory_truth.pick('S' || :n, 'DC1', 1);
SQL
cat >"$work/direct.sql" <<'SQL'
\set n random(1, 10000)
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
VALUES ('S' || :n, 'DC1', 'available', 'picked', 1);
SQL

variants="b0 b1 pick direct reserve"
declare -A total
for round in $(seq 1 "$ROUNDS"); do
    for variant in $variants; do
        tps=$("$PGBIN/pgbench" -n -c "$CLIENTS" -j 2 -T "$SECONDS_PER_RUN" -f "$work/$variant.sql" \
            inventory_truth_bench 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
        [ -n "$tps" ] || die "pgbench gave no result for $variant"
        say "round $round  $variant  $tps tps"
        total[$variant]=$(awk -v a="${total[$variant]:-0}" -v b="$tps" 'BEGIN { print a + b }')
    done
done
problems=$("$PGBIN/psql" -X -At -d inventory_truth_bench -c "SELECT count(*) FROM inventory_truth.verify()")
[ "$problems" = 0 ] || die "verify() reports $problems problems after the run"

echo
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), $(nproc) cores, $CLIENTS clients," \
     "${SECONDS_PER_RUN}s x $ROUNDS rounds, extension build: ${IT_PROFILE:-debug}"
printf '%-8s %10s %8s %8s\n' variant "mean tps" "vs b0" "vs b1"
for variant in $variants; do
    awk -v v="$variant" -v t="${total[$variant]}" -v b="${total[b0]}" -v b1="${total[b1]}" -v r="$ROUNDS" \
        'BEGIN { printf "%-8s %10.0f %8.2f %8.2f\n", v, t / r, t / b, t / b1 }'
done
echo "verify(): clean"
cluster stop bench
