# shellcheck shell=bash
# The extension's schema as pg_dump -s writes it, for the upgrade script's generator
# (scripts/upgrade_script.sh) and the upgrade test (tests/scripts/upgrade.sh); sourced, never
# run. Needs PGHOST/PGPORT/PGUSER of a running cluster with the current build installed.

psql_q() { "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

# Puts released version $1's install script (kept in sql/released/) into the server's
# extension directory, next to the current build's scripts.
install_released() {
    local script="$REPO_ROOT/sql/released/inventory_truth--$1.sql"
    [ -f "$script" ] || die "$1 is released but sql/released/inventory_truth--$1.sql is missing"
    if loads_from_checkout; then
        install -m 0644 "$script" "$(checkout_share_dir)/extension/"
    else
        as_root install -m 0644 "$script" "$("$PG_CONFIG" --sharedir)/extension/"
    fi
}

# A fresh database $1 with the extension at version $2 (empty: the current one).
database_at() {
    local db=$1 version=${2:-}
    PGOPTIONS="-c client_min_messages=warning" psql_q -d postgres \
        -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    if [ -n "$version" ]; then
        psql_q -d "$db" -c "CREATE EXTENSION inventory_truth VERSION '$version'"
    else
        psql_q -d "$db" -c "CREATE EXTENSION inventory_truth"
    fi
}

# The schema of database $1's extension as pg_dump -s writes it, from a copy whose extension
# members are detached (pg_dump writes only CREATE EXTENSION for an extension's members), and
# the tables registered for pg_dump.
schema_of() {
    local db=$1 copy="${1}_detached"
    PGOPTIONS="-c client_min_messages=warning" psql_q -d postgres \
        -c "DROP DATABASE IF EXISTS $copy" -c "CREATE DATABASE $copy TEMPLATE $db"
    psql_q -d "$copy" <<'SQL'
DO $$
DECLARE
    member record;
BEGIN
    FOR member IN
        SELECT o.type, o.identity
          FROM pg_depend d
          JOIN pg_extension e ON e.oid = d.refobjid
         CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, 0) o
         WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
           AND e.extname = 'inventory_truth'
           -- PostgreSQL 18 lists a table's row type and array types as members too; they go
           -- with their table or type and cannot be dropped from the extension by themselves.
           AND NOT (d.classid = 'pg_type'::regclass
                    AND EXISTS (SELECT FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
                                 WHERE t.oid = d.objid
                                   AND (c.relkind IS DISTINCT FROM 'c' AND t.typrelid <> 0
                                        OR EXISTS (SELECT FROM pg_type a WHERE a.typarray = t.oid))))
    LOOP
        EXECUTE format('ALTER EXTENSION inventory_truth DROP %s %s',
                       replace(member.type, 'composite type', 'type'), member.identity);
    END LOOP;
END
$$;
SQL
    # pg_dump from 15.14 on writes a random \restrict key.
    "$(pg_bindir)/pg_dump" -s -d "$copy" | grep -v '^\\\(un\)\?restrict '
    psql_q -At -d "$copy" -c "SELECT 'registered for pg_dump: ' || extconfig::regclass[]::text || ' ' || coalesce(extcondition::text, '')
                                FROM pg_extension WHERE extname = 'inventory_truth'"
    PGOPTIONS="-c client_min_messages=warning" psql_q -d postgres -c "DROP DATABASE $copy"
}
