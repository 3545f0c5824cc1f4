-- inventory_truth demo, part 2: the stock ledger. One T-shirt from purchase order to customer
-- and back, with the database refusing what did not happen.
-- Run by `make tour` (scripts/tour.sh) on its scratch cluster, after part 1.
\pset border 2
\pset null '-'
\set ON_ERROR_STOP on
\set VERBOSITY terse
SET search_path = inventory_truth, public;
\echo '(In stages, - is outside the building: a supplier, a customer, lost for good.)'

\echo
\echo '== A warehouse, and a purchase order line: 24 red T-shirts due on 1 December =='
SELECT add_location('DC1', 'Main distribution centre') AS location;
SELECT from_stage, to_stage, qty, ref, reason FROM expect('TEE-RED-M', 'DC1', 24, 'PO-1001', '2026-12-01');
SELECT * FROM expected_receipts();

\echo
\echo '== The truck brings 20; 18 go to the shelf, 2 to quality control; a picker scans 3 =='
SELECT from_stage, to_stage, qty, ref, reason FROM receive('TEE-RED-M', 'DC1', 20, 'PO-1001');
SELECT from_stage, to_stage, qty, reason FROM put_away('TEE-RED-M', 'DC1', 18);
SELECT from_stage, to_stage, qty, reason FROM put_away('TEE-RED-M', 'DC1', 2, qc => true);
SELECT from_stage, to_stage, qty, ref, reason FROM pick('TEE-RED-M', 'DC1', 3, 'SO-501');
SELECT * FROM stock('TEE-RED-M');

\echo
\echo '== What did not happen is refused, and changes nothing =='
-- Runs a statement and reports how it was refused. With at_commit, the checks that wait for
-- COMMIT run at the end of the statement instead, so that they fire here and are caught; for a
-- one-statement transaction that is the same moment. (Part 3 uses it too.)
CREATE FUNCTION pg_temp.attempt(statement text, at_commit boolean DEFAULT false,
                                OUT code text, OUT refusal text)
LANGUAGE plpgsql AS $$
BEGIN
    IF at_commit THEN
        SET CONSTRAINTS ALL IMMEDIATE;
    END IF;
    EXECUTE statement;
    code := '00000';
    refusal := 'accepted?!';
EXCEPTION WHEN OTHERS THEN
    code := SQLSTATE;
    refusal := SQLERRM;
END
$$;
SELECT what, a.code AS sqlstate, a.refusal
  FROM (VALUES
    ('ship 5 when 3 are on the cart',
     $a$SELECT * FROM inventory_truth.ship('TEE-RED-M', 'DC1', 5, 'SO-501')$a$),
    ('an ERP ships straight from the shelf',
     $a$INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
        VALUES ('TEE-RED-M', 'DC1', 'available', 'shipped', 1)$a$),
    ('put away nothing',
     $a$SELECT * FROM inventory_truth.put_away('TEE-RED-M', 'DC1', 0)$a$),
    ('rewrite history',
     $a$UPDATE inventory_truth.movement SET qty = 99$a$)
  ) AS t(what, statement), pg_temp.attempt(t.statement) AS a;

\echo
\echo '== The 3 scanned units ship; a customer sends 1 back: it waits in quarantine =='
SELECT from_stage, to_stage, qty, ref FROM ship('TEE-RED-M', 'DC1', 3, 'SO-501');
SELECT from_stage, to_stage, qty, ref FROM receive_return('TEE-RED-M', 'DC1', 1, 'RMA-77');
SELECT * FROM stock('TEE-RED-M');

\echo
\echo '== The ledger: who did what, when it happened, when the database heard of it =='
SELECT id, from_stage, to_stage, qty, ref, reason, actor FROM movement ORDER BY id;

\echo
\echo '== verify(): every balance equals the sum of the ledger (no rows = all true) =='
SELECT * FROM verify();
