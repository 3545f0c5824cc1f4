-- Security (docs/design.md §9), exhaustively from the catalog: every table, sequence and function of the
-- extension against every level, and SECURITY DEFINER functions against a planted search_path.
-- privileges.sql shows the levels by example; this file makes sure nothing was forgotten.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
DROP ROLE IF EXISTS it_sec_store, it_sec_floor, it_sec_boss;
DROP SCHEMA IF EXISTS it_sec_planted CASCADE;
RESET client_min_messages;
SET search_path = inventory_truth, public;
\set SHOW_CONTEXT never

CREATE ROLE it_sec_store LOGIN IN ROLE inventory_truth_storefront;
CREATE ROLE it_sec_floor LOGIN IN ROLE inventory_truth_floor;
CREATE ROLE it_sec_boss LOGIN IN ROLE inventory_truth_manager;
SELECT add_location('DC1');
SELECT add_channel('web');
SELECT count(*) FROM receive('MUG', 'DC1', 10);
SELECT count(*) FROM put_away('MUG', 'DC1', 10);
SELECT reserve('web', 'MUG', 1, 'SO-1') > 0 AS held;

-- Runs a statement as a role, then undoes it whatever happened; returns its SQLSTATE, or
-- 'allowed' when it succeeded.
CREATE FUNCTION pg_temp.as_role(who text, stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE format('SET LOCAL ROLE %I', who);
        EXECUTE stmt;
        RAISE EXCEPTION 'allowed' USING ERRCODE = 'P0001';
    EXCEPTION WHEN OTHERS THEN
        RETURN CASE WHEN SQLSTATE = 'P0001' AND SQLERRM = 'allowed' THEN 'allowed' ELSE SQLSTATE END;
    END;
END
$$;
-- Every way to write each table, as a statement (an UPDATE sets its first ordinary column to
-- itself).
CREATE TEMP TABLE write_paths AS
SELECT c.relname AS tbl, w.how,
       format(w.sql, 'inventory_truth.' || quote_ident(c.relname),
              (SELECT quote_ident(a.attname) FROM pg_attribute a
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                  AND a.attidentity = '' AND a.attgenerated = ''
                ORDER BY a.attnum LIMIT 1)) AS stmt
  FROM pg_class c
 CROSS JOIN (VALUES ('INSERT', 'INSERT INTO %1$s DEFAULT VALUES'),
                    ('UPDATE', 'UPDATE %1$s SET %2$s = %2$s'),
                    ('DELETE', 'DELETE FROM %1$s'),
                    ('TRUNCATE', 'TRUNCATE %1$s')) AS w(how, sql)
 WHERE c.relnamespace = 'inventory_truth'::regnamespace AND c.relkind = 'r';
SELECT count(DISTINCT tbl) AS tables, count(*) AS write_paths FROM write_paths;

-- 1. No level writes any table directly, but for the manager's INSERT into the ledger: every
-- attempt is refused with 42501. (A manager's `INSERT ... DEFAULT VALUES` into movement gets
-- past the privilege check and fails on the missing columns instead: 23502.)
SELECT r.who, p.how, count(*) AS tried,
       count(*) FILTER (WHERE r.outcome = '42501') AS refused_42501,
       string_agg(DISTINCT p.tbl || ' ' || r.outcome, ', ') FILTER (WHERE r.outcome <> '42501') AS otherwise
  FROM write_paths p
 CROSS JOIN LATERAL (SELECT who, pg_temp.as_role(who, p.stmt) AS outcome
                       FROM unnest(ARRAY['it_sec_store', 'it_sec_floor', 'it_sec_boss']) who) r
 GROUP BY r.who, p.how
 ORDER BY r.who, p.how;

-- 2. Sequences: nobody below the owner advances or resets one, except the manager's use of the
-- ledger's (the ledger takes its ids from it; the guard trigger overrides any other id).
SELECT r.who, c.relname AS seq,
       pg_temp.as_role(r.who, format('SELECT nextval(%L)', 'inventory_truth.' || c.relname)) AS nextval,
       pg_temp.as_role(r.who, format('SELECT setval(%L, 1)', 'inventory_truth.' || c.relname)) AS setval
  FROM pg_class c
 CROSS JOIN unnest(ARRAY['it_sec_store', 'it_sec_floor', 'it_sec_boss']) r(who)
 WHERE c.relnamespace = 'inventory_truth'::regnamespace AND c.relkind = 'S'
 ORDER BY 1, 2;

-- 3. Reading: storefronts read no table (only through functions); the floor and management read
-- the tables and the count views.
SELECT r.who, count(*) AS relations,
       count(*) FILTER (WHERE has_table_privilege(r.who, c.oid, 'SELECT')) AS readable
  FROM pg_class c
 CROSS JOIN unnest(ARRAY['it_sec_store', 'it_sec_floor', 'it_sec_boss']) r(who)
 WHERE c.relnamespace = 'inventory_truth'::regnamespace AND c.relkind IN ('r', 'v')
 GROUP BY r.who ORDER BY r.who;

-- 4. Functions: what each level may call, from the catalog. Internal helpers (names with _)
-- are callable by nobody but the owner.
SELECT p.proname AS function,
       has_function_privilege('it_sec_store', p.oid, 'EXECUTE') AS storefront,
       has_function_privilege('it_sec_floor', p.oid, 'EXECUTE') AS floor,
       has_function_privilege('it_sec_boss', p.oid, 'EXECUTE') AS manager
  FROM pg_proc p
 WHERE p.pronamespace = 'inventory_truth'::regnamespace AND p.proname NOT LIKE '\_%'
 ORDER BY 2 DESC, 3 DESC, 4 DESC, 1;
SELECT count(*) AS helpers,
       count(*) FILTER (WHERE has_function_privilege('it_sec_boss', p.oid, 'EXECUTE')) AS callable_by_a_manager
  FROM pg_proc p
 WHERE p.pronamespace = 'inventory_truth'::regnamespace AND p.proname LIKE '\_%'
   AND p.prokind = 'f';
-- An operator (floor) cannot release quarantine, write off, approve a count or change rules.
SELECT pg_temp.as_role('it_sec_floor', 'SELECT inventory_truth.inspect_return(''MUG'', ''DC1'', 1, true)') AS inspect_return,
       pg_temp.as_role('it_sec_floor', 'SELECT inventory_truth.write_off(''MUG'', ''DC1'', 1, ''available'')') AS write_off,
       pg_temp.as_role('it_sec_floor', 'SELECT inventory_truth.submit_count(1, 1)') AS submit_count,
       pg_temp.as_role('it_sec_floor', 'SELECT inventory_truth.set_buffer(''web'', ''MUG'', 2)') AS set_buffer,
       pg_temp.as_role('it_sec_floor', 'SELECT inventory_truth.set_ringfence(''web'', NULL, 1)') AS set_ringfence;

-- 5. Every SECURITY DEFINER function pins its search_path, starting with pg_catalog.
SELECT count(*) AS security_definer,
       count(*) FILTER (WHERE p.proconfig IS NULL
                           OR NOT ('search_path=pg_catalog, inventory_truth, pg_temp' = ANY (p.proconfig))) AS unpinned
  FROM pg_proc p
 WHERE p.pronamespace = 'inventory_truth'::regnamespace AND p.prosecdef;

-- 6. A planted search_path: a schema earlier in the caller's path with functions named like the
-- extension's helpers and like built-ins the functions use; they are never called.
CREATE SCHEMA it_sec_planted;
GRANT USAGE ON SCHEMA it_sec_planted TO PUBLIC;
CREATE FUNCTION it_sec_planted._known_sku(text) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'hijacked: _known_sku'; END $$;
CREATE FUNCTION it_sec_planted._check_code(text, text) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'hijacked: _check_code'; END $$;
CREATE FUNCTION it_sec_planted.now() RETURNS timestamptz LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'hijacked: now'; END $$;
CREATE FUNCTION it_sec_planted.btrim(text) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'hijacked: btrim'; END $$;
CREATE FUNCTION it_sec_planted.text_eq_planted(text, text) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'hijacked: ='; END $$;
CREATE OPERATOR it_sec_planted.= (LEFTARG = text, RIGHTARG = text, FUNCTION = it_sec_planted.text_eq_planted);
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA it_sec_planted TO PUBLIC;
SET ROLE it_sec_floor;
SET search_path = it_sec_planted, inventory_truth, public;
SELECT count(*) AS received FROM inventory_truth.receive('MUG', 'DC1', 1);
SELECT count(*) AS put_away FROM inventory_truth.put_away('MUG', 'DC1', 1);
SELECT inventory_truth.reserve('web', 'MUG', 1, 'SO-2') > 0 AS held;
SELECT inventory_truth.short_pick('MUG', 'DC1', 9) > 0 AS short_pick_task;
SELECT inventory_truth.atp('MUG', 'web') AS atp;
-- A function in the session's temporary schema is never found either.
CREATE FUNCTION pg_temp._known_location(text) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'hijacked: pg_temp'; END $$;
SELECT count(*) AS picked FROM inventory_truth.pick('MUG', 'DC1', 1, 'SO-2');
DROP FUNCTION pg_temp._known_location(text);
RESET ROLE;
SET search_path = inventory_truth, public;
SELECT count(*) AS problems FROM verify();

SET client_min_messages = warning;
DROP SCHEMA it_sec_planted CASCADE;
DROP ROLE it_sec_store, it_sec_floor, it_sec_boss;
