-- Privileges (docs/design.md §9): three levels a DBA grants to login roles. Below management, stock moves
-- only through the functions; nobody updates or deletes the ledger.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
DROP ROLE IF EXISTS it_web, it_wms, it_boss, it_nobody;
RESET client_min_messages;
SET search_path = inventory_truth, public;
\set SHOW_CONTEXT never

-- The levels, each including the one before.
SELECT r.rolname AS level, r.rolcanlogin AS can_login,
       array(SELECT m.rolname FROM pg_auth_members a JOIN pg_roles m ON m.oid = a.roleid
              WHERE a.member = r.oid) AS includes
  FROM pg_roles r WHERE r.rolname LIKE 'inventory_truth\_%' ORDER BY r.oid;

-- How a DBA gives them to the login roles of a storefront, a WMS and a manager.
CREATE ROLE it_web LOGIN IN ROLE inventory_truth_storefront;
CREATE ROLE it_wms LOGIN IN ROLE inventory_truth_floor;
CREATE ROLE it_boss LOGIN IN ROLE inventory_truth_manager;
CREATE ROLE it_nobody LOGIN;

SELECT add_location('DC1');
SELECT add_channel('web');
SELECT count(*) FROM receive('MUG', 'DC1', 10);
SELECT count(*) FROM put_away('MUG', 'DC1', 8);

-- A role without a level cannot even see the schema.
SET ROLE it_nobody;
SELECT * FROM inventory_truth.stock('MUG');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;

-- Storefront: reads stock and ATP, moves and holds nothing, reads no table.
SET ROLE it_web;
SELECT * FROM stock('MUG');
SELECT atp('MUG', 'web');
SELECT * FROM atp_snapshot('web');
SELECT * FROM pick('MUG', 'DC1', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('web', 'MUG', 1, 'WEB-1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM hold;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM movement;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;

-- Floor: moves stock through the functions and reads the ledger; cannot write a table, write
-- stock off or release quarantine.
SET ROLE it_wms;
SELECT id, from_stage, to_stage, qty, actor FROM pick('MUG', 'DC1', 2, 'SO-1');
SELECT count(*) AS movements FROM movement;
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC1', 'picked', 'shipped', 2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE stock SET available = 100 WHERE sku = 'MUG';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM write_off('MUG', 'DC1', 1, from_stage => 'available');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM inspect_return('MUG', 'DC1', 1, resale => true);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT add_location('DC2');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Orders are floor work: holds, releases, expiry. Rules are management's.
SELECT reserve('web', 'MUG', 2, 'SO-2') > 0 AS held;
SELECT release('web', 'SO-2') AS released;
SELECT expire_holds() AS expired;
SELECT ref, status FROM hold;
SELECT set_ringfence('web', 'MUG', units => 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_buffer('web', 'MUG', 5);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT add_channel('pos');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT rebalance();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE stock SET fence_channels = '{web}', fence_qty = '{5}', fence_held = '{0}' WHERE sku = 'MUG';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE hold SET open_qty = 0;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;

-- Management: adds locations, writes the ledger directly (an ERP) and writes stock off. The
-- columns the extension fills in stay its own, and balances stay out of reach.
SET ROLE it_boss;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, ref)
VALUES ('MUG', 'DC1', 'picked', 'shipped', 2, 'SO-1');
SELECT id, from_stage, to_stage, qty, actor FROM write_off('MUG', 'DC1', 1, from_stage => 'available', reason => 'scratched');
SELECT add_channel('wholesale', 30, kind => 'wholesale');
SELECT set_ringfence('wholesale', NULL, units => 2);
SELECT set_buffer('web', 'MUG', 1);
SELECT * FROM stock('MUG');
UPDATE channel SET buffer = 0;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO movement (sku, location, from_stage, to_stage, qty, actor)
VALUES ('MUG', 'DC1', 'available', 'picked', 1, 'it_wms');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE stock SET available = 100 WHERE sku = 'MUG';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM movement;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Not even through a view of its own, whose column defaults PostgreSQL writes without checking
-- column privileges: the filled-in columns stay the extension's, and so do the ids.
CREATE TEMP VIEW my_movement AS SELECT * FROM movement;
ALTER VIEW my_movement ALTER COLUMN actor SET DEFAULT 'postgres';
INSERT INTO my_movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC1', 'available', 'picked', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER VIEW my_movement ALTER COLUMN actor DROP DEFAULT;
ALTER VIEW my_movement ALTER COLUMN id SET DEFAULT 1000000;
INSERT INTO my_movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC1', 'available', 'picked', 1) RETURNING id < 1000000 AS id_from_the_sequence, actor;
DROP VIEW my_movement;
-- A direct insert that would leave a bucket below zero is refused at commit with IT001 for a
-- manager too (the check runs with the extension's rights, not the committer's).
BEGIN;
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC1', 'available', 'picked', 50);
COMMIT;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;

-- The ledger names the role that acted.
SELECT id, from_stage, to_stage, qty, actor FROM movement ORDER BY id;
SELECT * FROM stock('MUG');

-- Every SECURITY DEFINER function pins its search_path, so no caller can slip objects of its
-- own in front of the extension's.
SELECT p.oid::regprocedure AS unpinned
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'inventory_truth' AND p.prosecdef
   AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');
-- Nothing is executable by PUBLIC.
SELECT p.oid::regprocedure AS public_can_run
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'inventory_truth' AND has_function_privilege('it_nobody', p.oid, 'EXECUTE');

SELECT * FROM verify();
SET client_min_messages = warning;
DROP OWNED BY it_web, it_wms, it_boss, it_nobody;
DROP ROLE it_web, it_wms, it_boss, it_nobody;
