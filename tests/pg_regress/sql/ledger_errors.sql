-- Refused movements and bad input (docs/design.md §8): each fails with its SQLSTATE, names what is
-- wrong, and changes nothing.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
RESET client_min_messages;
SET search_path = inventory_truth, public;
\set SHOW_CONTEXT never

SELECT add_location('DC1');
SELECT count(*) FROM expect('MUG', 'DC1', 10, 'PO-1', '2026-12-01');
SELECT count(*) FROM receive('MUG', 'DC1', 6, 'PO-1');
SELECT count(*) FROM put_away('MUG', 'DC1', 5);
SELECT * FROM stock('MUG');

-- Everything the ledger holds, as one line, to compare after each refused call.
CREATE FUNCTION pg_temp.ledger_state() RETURNS text LANGUAGE sql AS $$
    SELECT format('%s movements; SKUs %s; balances %s; receipts %s',
        (SELECT count(*) FROM inventory_truth.movement),
        (SELECT string_agg(code, ',' ORDER BY code) FROM inventory_truth.sku),
        (SELECT string_agg(format('%s/%s/%s=%s', sku, location, stage, qty), ',' ORDER BY sku, location, stage)
           FROM inventory_truth.balance),
        (SELECT string_agg(format('%s/%s open %s', ref, sku, open_qty), ',' ORDER BY ref, sku)
           FROM inventory_truth.expected_receipt))
$$;
CREATE TEMP TABLE before AS SELECT pg_temp.ledger_state() AS state;
CREATE FUNCTION pg_temp.unchanged() RETURNS boolean LANGUAGE sql AS $$
    SELECT pg_temp.ledger_state() = state FROM before
$$;
SELECT state FROM before;

-- 22023 invalid_parameter_value: a quantity that is not positive.
SELECT * FROM put_away('MUG', 'DC1', 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();
SELECT * FROM pick('MUG', 'DC1', -2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC1', 'available', 'picked', 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();

-- 22023: a code no scanner could have sent, as a SKU or as a reference.
SELECT * FROM receive('', 'DC1', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM receive(E'MUG\n', 'DC1', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM receive(repeat('M', 101), 'DC1', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM pick('MUG', 'DC1', 1, ' SO-1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO movement (sku, location, from_stage, to_stage, qty, ref)
VALUES ('MUG', 'DC1', 'available', 'picked', 1, '');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();
-- 22023: a physical event at no real time, a delivery on no real day.
SELECT * FROM pick('MUG', 'DC1', 1, occurred_at => 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_eta('MUG', 'DC1', 'PO-1', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();
-- 22023: report_damage does not release returns from quarantine; a manager's inspection does.
SELECT * FROM report_damage('MUG', 'DC1', 1, from_stage => 'quarantine');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();

-- 22004 null_value_not_allowed: a required argument is NULL.
SELECT * FROM receive(NULL, 'DC1', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM put_away('MUG', 'DC1', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM ship('MUG', 'DC1', 1, occurred_at => NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM expect('MUG', 'DC1', 1, NULL, '2026-12-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();
-- 23502 not_null_violation: a direct insert without a SKU.
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES (NULL, 'DC1', 'available', 'picked', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();

-- 42704 undefined_object: unknown SKU, location, reference, channel.
SELECT * FROM put_away('CUP', 'DC1', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM receive('MUG', 'DC9', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM cancel_expected('MUG', 'DC1', 'PO-404');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM receive('MUG', 'DC1', 1, 'PO-404');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO movement (sku, location, from_stage, to_stage, qty, ref)
VALUES ('MUG', 'DC1', 'inbound', 'receiving', 1, 'PO-404');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Only arrivals (expected, received, counted) introduce a SKU; a return of an unknown one fails.
SELECT * FROM receive_return('CUP', 'DC1', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('CUP', 'DC1', NULL, 'quarantine', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel)
VALUES ('MUG', 'DC1', 'available', 'committed', 1, 'web');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();

-- IT001: more units than the source stage holds. A function refuses at the call.
SELECT * FROM put_away('MUG', 'DC1', 2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM ship('MUG', 'DC1', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM cancel_expected('MUG', 'DC1', 'PO-1', 5);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Expected receipts and inbound stock stay equal: a direct arrival without a reference draws
-- from the open receipts, and one they cannot cover is refused at once.
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC1', 'inbound', 'receiving', 5);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();

-- A direct insert is checked at commit, so one transaction may record its movements in any
-- order: shipping before the pick scan is fine when both are in it...
BEGIN;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, ref)
VALUES ('MUG', 'DC1', 'picked', 'shipped', 2, 'SO-1');
SELECT * FROM stock('MUG');
INSERT INTO movement (sku, location, from_stage, to_stage, qty, ref)
VALUES ('MUG', 'DC1', 'available', 'picked', 2, 'SO-1');
COMMIT;
SELECT * FROM stock('MUG');
UPDATE before SET state = pg_temp.ledger_state();
-- ...but a transaction that ends with a bucket below zero fails at COMMIT.
BEGIN;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, ref)
VALUES ('MUG', 'DC1', 'available', 'picked', 4, 'SO-2');
COMMIT;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();

-- IT002: a movement the stage rules do not allow.
SELECT * FROM write_off('MUG', 'DC1', 1, from_stage => 'picked');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM report_damage('MUG', 'DC1', 1, from_stage => 'shipped');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC1', 'available', 'shipped', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC1', 'written_off', 'available', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC1', NULL, NULL, 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();

-- IT004: a reference reused with other content.
SELECT * FROM expect('MUG', 'DC1', 12, 'PO-1', '2026-12-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM expect('MUG', 'DC1', 10, 'PO-1', '2026-12-24');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();

-- 42501 insufficient_privilege: the ledger is append-only, even for its owner.
UPDATE movement SET qty = 50 WHERE id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM movement;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE movement;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The tables the ledger sums into or names cannot be emptied either.
TRUNCATE stock;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE sku;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();

-- 22023: only history being restored (pg_dump writes recorded_at, actor and txid; only the
-- owner can) may carry the filled-in columns, and history cannot come from this transaction.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, recorded_at, actor, txid)
VALUES ('MUG', 'DC1', NULL, 'receiving', 1, now(), 'postgres', pg_current_xact_id());
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged();

SELECT * FROM verify();
