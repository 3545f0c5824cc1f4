-- The stock ledger (docs/design.md §2, §7): one SKU walks through every allowed movement, and stock()
-- shows where its units are after each step.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
RESET client_min_messages;
SET search_path = inventory_truth, public;
SET TimeZone = 'UTC';
-- The ledger rows each call wrote, without the columns that differ from run to run.
\set moved 'id, from_stage, to_stage, qty, ref, reason'

SELECT add_location('DC1', 'Main distribution centre');
SELECT add_channel('web');

-- A purchase order line: 20 units due on 1 December. The SKU is new, so expect() creates it.
SELECT :moved FROM expect('TEE-RED-M', 'DC1', 20, 'PO-1', '2026-12-01');
SELECT * FROM stock('TEE-RED-M');
SELECT * FROM expected_receipts();

-- Retrying the same call (a lost acknowledgement) returns the original movement, nothing new.
SELECT :moved FROM expect('TEE-RED-M', 'DC1', 20, 'PO-1', '2026-12-01');

-- The supplier will be a day late.
SELECT set_eta('TEE-RED-M', 'DC1', 'PO-1', '2026-12-02');

-- The supplier cancels 3 units of the line: inbound -> outside.
SELECT :moved FROM cancel_expected('TEE-RED-M', 'DC1', 'PO-1', 3);
SELECT * FROM expected_receipts();

-- 19 units arrive against PO-1, which has 17 open: 17 planned (inbound -> receiving), 2 extra
-- unplanned (outside -> receiving).
SELECT :moved FROM receive('TEE-RED-M', 'DC1', 19, 'PO-1');
SELECT * FROM stock('TEE-RED-M');
SELECT count(*) AS open_receipts FROM expected_receipts();

-- Put-away: 10 straight to the shelf, 7 to quality control; 2 found crushed on the dock.
SELECT :moved FROM put_away('TEE-RED-M', 'DC1', 10);
SELECT :moved FROM put_away('TEE-RED-M', 'DC1', 7, qc => true);
SELECT :moved FROM report_damage('TEE-RED-M', 'DC1', 2, from_stage => 'receiving');
SELECT * FROM stock('TEE-RED-M');

-- Inspection: 6 pass, 1 fails.
SELECT :moved FROM qc_pass('TEE-RED-M', 'DC1', 6);
SELECT :moved FROM qc_fail('TEE-RED-M', 'DC1', 1);
SELECT * FROM stock('TEE-RED-M');

-- Holds (reserve() does this; tests/pg_regress/sql/holds.sql): here an ERP records one in the
-- ledger directly, naming it by channel and order: 5 units committed to web order SO-7, 1
-- released, 2 picked against it.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref, reason)
VALUES ('TEE-RED-M', 'DC1', 'available', 'committed', 5, 'web', 'SO-7', 'reservation');
SELECT * FROM stock('TEE-RED-M');
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref, reason)
VALUES ('TEE-RED-M', 'DC1', 'committed', 'available', 1, 'web', 'SO-7', 'release');
SELECT * FROM stock('TEE-RED-M');
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref, reason)
VALUES ('TEE-RED-M', 'DC1', 'committed', 'picked', 2, 'web', 'SO-7', 'pick scan against a hold');
SELECT * FROM stock('TEE-RED-M');

-- An unplanned pick scan takes 3 straight from the shelf; one goes back; three ship.
SELECT :moved FROM pick('TEE-RED-M', 'DC1', 3, 'SO-8');
SELECT :moved FROM put_back('TEE-RED-M', 'DC1', 1);
SELECT :moved FROM ship('TEE-RED-M', 'DC1', 3, 'SO-8');
SELECT * FROM stock('TEE-RED-M');

-- Damage found on the shelf, in a committed unit (the hold loses it), and on the pick cart.
SELECT :moved FROM report_damage('TEE-RED-M', 'DC1', 1);
SELECT :moved FROM report_damage('TEE-RED-M', 'DC1', 1, from_stage => 'committed');
SELECT :moved FROM report_damage('TEE-RED-M', 'DC1', 1, from_stage => 'picked');
SELECT * FROM stock('TEE-RED-M');

-- A short pick (short_pick() comes with counts): 2 shelf units and the last committed unit are
-- not in the bin. A count finds one; the other two are lost.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, ref, reason)
VALUES ('TEE-RED-M', 'DC1', 'available', 'missing', 2, 'SO-9', 'short pick');
SELECT * FROM stock('TEE-RED-M');
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref, reason)
VALUES ('TEE-RED-M', 'DC1', 'committed', 'missing', 1, 'web', 'SO-7', 'short pick');
SELECT * FROM stock('TEE-RED-M');
INSERT INTO movement (sku, location, from_stage, to_stage, qty, reason)
VALUES ('TEE-RED-M', 'DC1', 'missing', 'available', 1, 'count: found');
SELECT * FROM stock('TEE-RED-M');
SELECT :moved FROM write_off('TEE-RED-M', 'DC1', 2, from_stage => 'missing', reason => 'count: lost');
SELECT * FROM stock('TEE-RED-M');

-- Returns wait in quarantine. DC1 shipped 3: the first return of 2 comes from shipped; the
-- next return of 2 finds 1 shipped unit left, so 1 unit comes from outside (shipped elsewhere).
SELECT :moved FROM receive_return('TEE-RED-M', 'DC1', 2, 'RMA-1');
SELECT :moved FROM receive_return('TEE-RED-M', 'DC1', 2, 'RMA-2');
SELECT * FROM stock('TEE-RED-M');

-- A manager inspects them: 3 ready for resale, 1 damaged. Damaged stock is written off.
SELECT :moved FROM inspect_return('TEE-RED-M', 'DC1', 3, resale => true);
SELECT :moved FROM inspect_return('TEE-RED-M', 'DC1', 1, resale => false);
SELECT :moved FROM write_off('TEE-RED-M', 'DC1', 4, reason => 'crushed');
SELECT * FROM stock('TEE-RED-M');

-- A count finds 2 more on the shelf than recorded (gain), another bin 1 fewer (loss).
INSERT INTO movement (sku, location, from_stage, to_stage, qty, reason)
VALUES ('TEE-RED-M', 'DC1', NULL, 'available', 2, 'count gain');
SELECT :moved FROM write_off('TEE-RED-M', 'DC1', 1, from_stage => 'available', reason => 'count loss');
SELECT * FROM stock('TEE-RED-M');

-- Every one of the 29 allowed movements is now in the ledger.
SELECT count(DISTINCT (from_stage, to_stage)) AS kinds_of_movement FROM movement;
SELECT a.from_stage, a.to_stage
  FROM allowed_movements() a
 WHERE NOT EXISTS (SELECT FROM movement m
                    WHERE m.from_stage IS NOT DISTINCT FROM a.from_stage
                      AND m.to_stage IS NOT DISTINCT FROM a.to_stage);

-- The ledger records who and when. occurred_at is the scanner's clock (a scan sent 10 minutes
-- late); recorded_at is the database's, so the warehouse lag is measurable.
BEGIN;
SELECT :moved FROM pick('TEE-RED-M', 'DC1', 1, 'SO-10', occurred_at => now() - interval '10 minutes');
SELECT actor = current_user AS actor_is_me,
       recorded_at - occurred_at >= interval '10 minutes' AS lag_recorded,
       txid = pg_current_xact_id() AS this_transaction
  FROM movement ORDER BY id DESC LIMIT 1;
SELECT pg_sleep(0.2);
COMMIT;
-- The commit side: movement_commit says when the recording transaction committed, here after
-- the 0.2 s it stayed open.
SELECT c.committed_at - m.recorded_at >= interval '0.2 seconds' AS committed_after_recording,
       c.committed_at - m.occurred_at >= interval '10 minutes' AS warehouse_lag_measurable
  FROM movement m JOIN movement_commit c USING (txid)
 ORDER BY m.id DESC LIMIT 1;
-- Every transaction that wrote the ledger has its commit time.
SELECT count(*) AS movements_without_commit_time
  FROM movement m LEFT JOIN movement_commit c USING (txid) WHERE c.txid IS NULL;

-- Units are conserved: what came in is on hand, shipped, written off, or still inbound.
SELECT stage, sum(qty) AS units FROM balance WHERE qty <> 0 GROUP BY stage ORDER BY stage;
SELECT sum(qty) FILTER (WHERE from_stage IS NULL) AS came_in,
       sum(qty) FILTER (WHERE to_stage IS NULL) AS went_out,
       (SELECT sum(qty) FROM balance) AS in_the_stages
  FROM movement;

-- One statement may record rows in any order: here a new SKU is expected, arrives without a
-- reference (drawing from the receipt the first row creates) and is put away, all at once.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, ref, reason)
VALUES ('SOCK-BLK', 'DC1', 'receiving', 'available', 4, NULL, 'put-away'),
       ('SOCK-BLK', 'DC1', 'inbound', 'receiving', 4, NULL, 'arrival'),
       ('SOCK-BLK', 'DC1', NULL, 'inbound', 6, 'PO-2', 'expected receipt');
SELECT * FROM stock('SOCK-BLK');
SELECT ref, sku, expected, open_qty FROM expected_receipts() WHERE sku = 'SOCK-BLK';

-- Balances equal the ledger: verify() returns no rows.
SELECT * FROM verify();
