#!/usr/bin/env bash
# A dump and restore keeps the ledger and everything it depends on.
# The extension's tables hold user data, so they are registered with pg_extension_config_dump;
# without that, pg_dump writes CREATE EXTENSION and nothing else, and a restore loses the ledger.
#
# Needs a running cluster in PGHOST/PGPORT/PGUSER with the extension installed (test.sh passes
# the scratch cluster's). Loads tests/pg_regress/sql/ledger.sql as data (every kind of movement,
# expected receipts, direct inserts), then checks, for a custom-format dump through pg_restore
# (serial, and -j 2, which loads tables in parallel) and a plain dump through psql:
#   - every table of the extension comes back row for row, identical;
#   - verify() finds nothing wrong after the restore;
#   - the ledger carries on: the next movement gets the next id and is applied;
#   - holds carry on: a retried reserve finds its hold, a release returns units to the fence;
#   - counts carry on: a retried short pick finds its task, open tasks can be counted.
# Prints one line per check; exits non-zero when any check fails.
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/../../scripts/common.sh"

: "${PGHOST:?run through scripts/test.sh, or export a cluster with scripts/cluster.sh env}"
PGBIN=$(pg_bindir)
psql_q() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

failures=0
ok() { echo "ok - $1"; }
not_ok() {
    echo "not ok - $1"
    failures=$((failures + 1))
}

work=$(mktemp -d "${TMPDIR:-/tmp}/inventory_truth-dump.XXXXXX")
trap 'rm -rf "$work"' EXIT

for db in it_dump_source it_dump_custom it_dump_parallel it_dump_plain; do
    PGOPTIONS="-c client_min_messages=warning" psql_q -d postgres \
        -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done

# The ledger regress file is the richest data there is: every allowed movement, expected
# receipts, direct inserts. Its output does not matter here (pg_regress checks it).
psql_q -d it_dump_source -f "$REPO_ROOT/tests/pg_regress/sql/ledger.sql" >/dev/null
# An open expected receipt and a second SKU on top; channels with a buffer and fences; open,
# released and picked holds.
psql_q -d it_dump_source -c "
    SELECT count(*) FROM inventory_truth.expect('PLATE', 'DC1', 5, 'PO-9', '2027-01-15');
    SELECT count(*) FROM inventory_truth.receive('PLATE', 'DC1', 12, 'PO-9');
    SELECT count(*) FROM inventory_truth.put_away('PLATE', 'DC1', 10);
    SELECT inventory_truth.add_channel('amazon', 10, kind => 'marketplace');
    SELECT inventory_truth.set_buffer('web', 'PLATE', 1);
    SELECT inventory_truth.set_ringfence('amazon', 'PLATE', percent => 30);
    SELECT inventory_truth.reserve('amazon', 'PLATE', 2, 'AMZ-1', ttl => '1 day');
    SELECT inventory_truth.reserve('web', 'PLATE', 2, 'WEB-1');
    SELECT inventory_truth.reserve('web', 'PLATE', 1, 'WEB-2');
    SELECT inventory_truth.release('web', 'WEB-2');
    SELECT count(*) FROM inventory_truth.pick('PLATE', 'DC1', 1, 'WEB-1');" >/dev/null
# Counts: a short pick that broke a hold and its count, submitted; another bin's task left open
# (a short pick that found more than the books: nothing moves).
psql_q -d it_dump_source -c "
    SELECT count(*) FROM inventory_truth.receive('BOWL', 'DC1', 6);
    SELECT count(*) FROM inventory_truth.put_away('BOWL', 'DC1', 6);
    SELECT inventory_truth.reserve('web', 'BOWL', 4, 'WEB-3');
    SELECT inventory_truth.short_pick('BOWL', 'DC1', 3, ref => 'PICK-1');
    SELECT count(*) FROM inventory_truth.submit_count(
        (SELECT id FROM inventory_truth.count_task WHERE sku = 'BOWL'), 4);
    SELECT inventory_truth.short_pick('PLATE', 'DC1', 100, ref => 'PICK-2');" >/dev/null

# Every table the extension registers for pg_dump (its user data); the other (atp_published) is
# derived, and rebuilt after a restore.
mapfile -t tables < <(psql_q -At -d it_dump_source -c "
    SELECT c.relname FROM pg_extension e CROSS JOIN LATERAL unnest(e.extconfig) t(oid)
      JOIN pg_class c ON c.oid = t.oid
     WHERE e.extname = 'inventory_truth' AND c.relkind = 'r' ORDER BY 1")
[ "${#tables[@]}" -ge 12 ] || not_ok "only ${#tables[@]} tables registered for pg_dump: ${tables[*]}"
snapshot() {
    local db=$1 t
    for t in "${tables[@]}"; do
        echo "-- $t"
        psql_q -d "$db" -c "COPY (SELECT * FROM inventory_truth.$t r ORDER BY r::text) TO STDOUT"
    done
}
snapshot it_dump_source >"$work/source.txt"
movements=$(psql_q -At -d it_dump_source -c "SELECT count(*) FROM inventory_truth.movement")
next_id=$(psql_q -At -d it_dump_source -c "SELECT max(id) + 1 FROM inventory_truth.movement")
amz_hold=$(psql_q -At -d it_dump_source -c "SELECT id FROM inventory_truth.hold WHERE ref = 'AMZ-1'")
next_hold=$(psql_q -At -d it_dump_source -c "SELECT max(id) + 1 FROM inventory_truth.hold")
plate_task=$(psql_q -At -d it_dump_source -c "SELECT task FROM inventory_truth.short_pick WHERE ref = 'PICK-2'")
next_task=$(psql_q -At -d it_dump_source -c "SELECT max(id) + 1 FROM inventory_truth.count_task")
if [ "$movements" -gt 20 ]; then ok "source ledger has $movements movements"; else not_ok "source ledger has only $movements movements"; fi

"$PGBIN/pg_dump" -Fc -d it_dump_source -f "$work/dump.custom"
if "$PGBIN/pg_restore" --exit-on-error -d it_dump_custom "$work/dump.custom" 2>"$work/restore.err"; then
    ok "pg_restore of a custom-format dump"
else
    not_ok "pg_restore of a custom-format dump: $(head -c 2000 "$work/restore.err")"
fi
if "$PGBIN/pg_restore" --exit-on-error -j 2 -d it_dump_parallel "$work/dump.custom" 2>"$work/parallel.err"; then
    ok "pg_restore -j 2 (tables loaded in parallel)"
else
    not_ok "pg_restore -j 2: $(head -c 2000 "$work/parallel.err")"
fi
"$PGBIN/pg_dump" -d it_dump_source -f "$work/dump.sql"
if psql_q -d it_dump_plain -f "$work/dump.sql" >/dev/null 2>"$work/plain.err"; then
    ok "psql restore of a plain dump"
else
    not_ok "psql restore of a plain dump: $(head -c 2000 "$work/plain.err")"
fi

for db in it_dump_custom it_dump_parallel it_dump_plain; do
    snapshot "$db" >"$work/$db.txt"
    if cmp -s "$work/source.txt" "$work/$db.txt"; then
        ok "$db: ${tables[*]} identical to the source"
    else
        not_ok "$db: tables differ from the source: $(diff "$work/source.txt" "$work/$db.txt" | head -20)"
    fi
    problems=$(psql_q -At -d "$db" -c "SELECT count(*) FROM inventory_truth.verify()")
    if [ "$problems" = 0 ]; then ok "$db: verify() is clean"; else not_ok "$db: verify() reports $problems problems"; fi
    after=$(psql_q -At -d "$db" -c "
        SELECT id FROM inventory_truth.receive('MUG', 'DC1', 1);
        " 2>&1)
    available=$(psql_q -At -d "$db" -c "SELECT qty FROM inventory_truth.stock('MUG') WHERE stage = 'receiving'" 2>&1)
    if [ "$after" = "$next_id" ] && [ -n "$available" ]; then
        ok "$db: the ledger carries on at id $next_id and applies it"
    else
        not_ok "$db: the next movement got id '$after' (wanted $next_id), receiving '$available'"
    fi
    # Holds carry on too: a retry finds its hold, a new one gets the next id, a release
    # returns the fenced units to the fence.
    # (One statement each: a query does not see what the functions it calls change.)
    holds=$(psql_q -At -d "$db" \
        -c "SELECT inventory_truth.reserve('amazon', 'PLATE', 2, 'AMZ-1', ttl => '1 day') = $amz_hold" \
        -c "SELECT inventory_truth.reserve('amazon', 'PLATE', 1, 'AMZ-2') = $next_hold" \
        -c "SELECT inventory_truth.release('amazon', 'AMZ-1') = 1" \
        -c "SELECT qty = 2 FROM inventory_truth.fence WHERE sku = 'PLATE' AND channel = 'amazon'" \
        -c "SELECT count(*) = 0 FROM inventory_truth.verify()" 2>&1 | tr '\n' ' ')
    if [ "$holds" = "t t t t t " ]; then
        ok "$db: holds carry on (retry, next id $next_hold, release back to the fence)"
    else
        not_ok "$db: holds after restore: $holds"
    fi
    # Counts carry on: a retried short pick finds its task, the open task can be counted, a
    # new task gets the next id.
    counts=$(psql_q -At -d "$db" \
        -c "SELECT inventory_truth.short_pick('PLATE', 'DC1', 100, ref => 'PICK-2') = $plate_task" \
        -c "SELECT count(*) > 0 FROM inventory_truth.submit_count($plate_task, 1)" \
        -c "SELECT inventory_truth.short_pick('BOWL', 'DC1', 0) = $next_task" \
        -c "SELECT count(*) = 0 FROM inventory_truth.verify()" 2>&1 | tr '\n' ' ')
    if [ "$counts" = "t t t t " ]; then
        ok "$db: counts carry on (retried short pick, open task counted, next task id $next_task)"
    else
        not_ok "$db: counts after restore: $counts"
    fi
done

if [ "$failures" -eq 0 ]; then
    for db in it_dump_source it_dump_custom it_dump_parallel it_dump_plain; do
        psql_q -d postgres -c "DROP DATABASE $db"
    done
fi
exit "$failures"
