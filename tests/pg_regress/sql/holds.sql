-- Holds (docs/design.md §4): reserve, retries, release, expiry, pick scans against holds, baskets, and
-- the checks at commit for an ERP writing the ledger directly.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
RESET client_min_messages;
SET search_path = inventory_truth, public;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never
-- A hold as a reader checks it, without the columns that differ from run to run.
\set held 'channel, ref, sku, location, qty, open_qty, fence_qty, picked_qty, released_qty, lost_qty, status, expires_at IS NOT NULL AS expires'

SELECT add_location('DC1'), add_location('DC2');
SELECT add_channel('amazon', priority => 10, kind => 'marketplace'),
       add_channel('web', priority => 20, buffer => 1),
       add_channel('wholesale', priority => 30, kind => 'wholesale');
CREATE FUNCTION pg_temp.shelve(sku text, location text, qty bigint) RETURNS void
LANGUAGE sql AS $$
    SELECT count(*) FROM inventory_truth.receive(sku, location, qty);
    SELECT count(*) FROM inventory_truth.put_away(sku, location, qty);
$$;

-- 10 tees, Amazon fenced 4. The web (buffer 1) can promise 10 - 4 - 1 = 5.
SELECT pg_temp.shelve('TEE', 'DC1', 10);
SELECT set_ringfence('amazon', 'TEE', units => 4);
SELECT atp('TEE', 'web') AS web, atp('TEE', 'amazon') AS amazon;

-- 1. reserve returns the hold id; the units move available -> committed at once.
SELECT reserve('web', 'TEE', 3, 'W-100', ttl => '15 minutes') AS w100 \gset
SELECT :held FROM hold WHERE id = :w100;
SELECT * FROM stock('TEE');
SELECT atp('TEE', 'web') AS web;
-- A retry (lost acknowledgement) returns the same hold and moves nothing.
SELECT reserve('web', 'TEE', 3, 'W-100', ttl => '15 minutes') = :w100 AS same_hold;
SELECT count(*) AS ledger_rows FROM movement WHERE to_stage = 'committed';
-- The same reference with another quantity is a conflict.
SELECT reserve('web', 'TEE', 2, 'W-100');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- More than the channel's ATP (2 now) is refused, and so is going into the buffer.
SELECT reserve('web', 'TEE', 3, 'W-101');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('web', 'TEE', 2, 'W-101') > 0 AS reserved;
SELECT atp('TEE', 'web') AS web, atp('TEE', 'wholesale') AS wholesale;

-- 2. Left: Amazon's fence of 4 and a pool of 1. Amazon's hold of 5 takes its fence first,
-- then the pool's unit.
SELECT * FROM stock('TEE');
SELECT reserve('amazon', 'TEE', 6, 'A-1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('amazon', 'TEE', 5, 'A-1') AS a1 \gset
SELECT :held FROM hold WHERE id = :a1;
SELECT * FROM stock('TEE');
-- Releasing it returns each unit to the bucket it came from: 4 to Amazon's fence, 1 to the pool.
SELECT release('amazon', 'A-1') AS holds_released;
SELECT :held FROM hold WHERE id = :a1;
SELECT * FROM stock('TEE');
-- Releasing again is a no-op; an unknown reference is an error.
SELECT release('amazon', 'A-1') AS holds_released;
SELECT release('amazon', 'A-404');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 3. Expiry. A hold with a ttl of 10 ms; expire_holds() releases it once it is past.
SELECT reserve('amazon', 'TEE', 1, 'A-2', ttl => '10 milliseconds') AS a2 \gset
SELECT pg_sleep(0.05);
SELECT expire_holds() AS expired;
SELECT :held FROM hold WHERE id = :a2;
SELECT * FROM stock('TEE');
-- Nothing else was due (W-100 has 15 minutes, W-101 no expiry).
SELECT expire_holds() AS expired;

-- 4. A pick scan against a hold consumes it and ends its expiry. W-100 held 3; the picker
-- scans 2 now and the last one later.
SELECT from_stage, to_stage, qty, channel, ref FROM pick('TEE', 'DC1', 2, 'W-100');
SELECT :held FROM hold WHERE id = :w100;
-- Scanning 2 more for W-100: one is held, the other would be a web sale beyond the hold, and
-- the web can promise none (1 in the pool, its buffer is 1). The scan is refused whole.
SELECT from_stage, to_stage, qty, channel, ref FROM pick('TEE', 'DC1', 2, 'W-100');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT from_stage, to_stage, qty, channel, ref FROM pick('TEE', 'DC1', 1, 'W-100');
SELECT :held FROM hold WHERE id = :w100;
SELECT * FROM stock('TEE');

-- 5. Damage found among committed units: the holds there lose them, lowest-priority channel
-- first, newest first. W-101 (web, 2) loses 1.
SELECT reserve('amazon', 'TEE', 1, 'A-3') AS a3 \gset
SELECT count(*) FROM report_damage('TEE', 'DC1', 1, from_stage => 'committed');
SELECT :held FROM hold WHERE ref IN ('W-101', 'A-3') ORDER BY id;
SELECT * FROM stock('TEE');

-- 6. Baskets: reserve_order holds every line or none. Mugs 2, caps 1.
SELECT pg_temp.shelve('MUG', 'DC1', 2);
SELECT pg_temp.shelve('CAP', 'DC2', 1);
-- The cap line cannot be met (web buffer 1): nothing is held, not even the mugs.
SELECT * FROM reserve_order('web', 'O-1', '[{"sku": "MUG", "qty": 1}, {"sku": "CAP", "qty": 1}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS holds_of_o1 FROM hold WHERE ref = 'O-1';
-- Wholesale has no buffer: both lines are held, in SKU order, each where it is.
SELECT * FROM reserve_order('wholesale', 'O-2', '[{"sku": "MUG", "qty": 1}, {"sku": "CAP", "qty": 1}]');
-- A retry returns the same holds.
SELECT * FROM reserve_order('wholesale', 'O-2', '[{"sku": "CAP", "qty": 1}, {"sku": "MUG", "qty": 1}]');
SELECT release('wholesale', 'O-2') AS holds_released;
-- A reservation at no real time is refused like any movement's (22023), by reserve and by
-- reserve_order alike: reserve records its ledger row itself.
SELECT reserve('wholesale', 'MUG', 1, 'O-INF', occurred_at => 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM reserve_order('wholesale', 'O-INF', '[{"sku": "MUG", "qty": 1}]', occurred_at => '-infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS holds_of_o_inf FROM hold WHERE ref = 'O-INF';
-- Lines are checked before anything is held.
SELECT * FROM reserve_order('web', 'O-3', '[]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM reserve_order('web', 'O-3', '{"sku": "MUG", "qty": 1}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM reserve_order('web', 'O-3', '[{"sku": "MUG", "qty": 1.5}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM reserve_order('web', 'O-3', '[{"sku": "MUG", "qty": "1"}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM reserve_order('web', 'O-3', '[{"sku": "MUG", "qty": 1, "colour": "red"}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM reserve_order('web', 'O-3', '[{"sku": "MUG", "qty": 1, "location": "DC1"}, {"sku": "MUG", "qty": 1, "location": "DC2"}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM reserve_order('web', 'O-3', '[{"sku": "MUG", "qty": 0}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM reserve_order('web', 'O-3', '[{"sku": "SPOON", "qty": 1}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS holds_of_o3 FROM hold WHERE ref = 'O-3';

-- 7. Bad input to reserve: a specific SQLSTATE, and nothing held or moved.
SELECT count(*) AS movements_before FROM movement \gset
SELECT reserve('web', 'TEE', 0, 'W-200');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('web', 'TEE', -1, 'W-200');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('web', 'TEE', 1, 'W-200', ttl => '-5 minutes');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('web', 'TEE', 1, 'W-200', ttl => '0');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('web', 'TEE', 1, 'W-200', ttl => '100000000 years');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('ebay', 'TEE', 1, 'W-200');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('web', 'SPOON', 1, 'W-200');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('web', 'TEE', 1, 'W-200', location => 'DC9');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('web', 'TEE', 1, NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('web', 'TEE', NULL, 'W-200');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('web', 'TEE', 1, 'W-200' || chr(10));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('web', 'TEE', 9223372036854775807, 'W-200');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT release('ebay', 'W-100');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM movement) = :movements_before AS nothing_moved,
       (SELECT count(*) FROM hold WHERE ref = 'W-200') = 0 AS nothing_held;

-- 8. An ERP writing the ledger directly names the hold by channel and ref; the hold follows.
-- 5 more tees first. Amazon's fence has 3: its target of 4 less the unit its hold A-3 took
-- from it (held units count against the target), so the pool gets all 5 (6 in all).
SELECT pg_temp.shelve('TEE', 'DC1', 5);
SELECT * FROM stock('TEE');
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('TEE', 'DC1', 'available', 'committed', 1, 'web', 'ERP-1');
SELECT :held FROM hold WHERE ref = 'ERP-1';
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('TEE', 'DC1', 'committed', 'available', 1, 'web', 'ERP-1');
SELECT :held FROM hold WHERE ref = 'ERP-1';
-- Committed stock is always a hold's: a movement into or out of it without one is refused.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel)
VALUES ('TEE', 'DC1', 'available', 'committed', 1, 'web');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('TEE', 'DC1', 'committed', 'picked', 1, 'web', 'NO-SUCH-ORDER');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('TEE', 'DC1', 'committed', 'available', 5, 'web', 'W-101');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- IT004: a reference whose hold for this SKU has ended is not reused.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('CAP', 'DC2', 'available', 'committed', 1, 'wholesale', 'O-2');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 9. IT003 at commit: the checks that span rows wait for the end of the transaction.
SELECT * FROM stock('TEE');
SELECT atp('TEE', 'web') AS web;
-- The web sells 7 directly: 1 more than the pool's 6, so it took one of Amazon's fenced units.
BEGIN;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('TEE', 'DC1', 'available', 'committed', 7, 'web', 'ERP-2');
SELECT * FROM stock('TEE');
COMMIT;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The web sells the pool's 6 directly: within its fence and pool, but into its buffer of 1.
BEGIN;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('TEE', 'DC1', 'available', 'committed', 6, 'web', 'ERP-3');
COMMIT;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The same sale, with 5 more units put away later in the transaction: Amazon's fence is
-- full, so they go to the pool and the web ends above its buffer. It commits.
BEGIN;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('TEE', 'DC1', 'available', 'committed', 6, 'web', 'ERP-3');
SELECT count(*) FROM receive('TEE', 'DC1', 5);
SELECT count(*) FROM put_away('TEE', 'DC1', 5);
COMMIT;
SELECT * FROM stock('TEE');
-- A pick scan for a channel is a sale too: wholesale picks 6, one of them Amazon's.
BEGIN;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('TEE', 'DC1', 'available', 'picked', 6, 'wholesale', 'ERP-4');
COMMIT;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Without any fence, the buffer still holds: mugs (2 on the shelf, no fence rule), the web
-- picks both for an order directly, leaving 0 below its buffer of 1.
BEGIN;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('MUG', 'DC1', 'available', 'picked', 2, 'web', 'ERP-6');
COMMIT;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Nothing of the refused transactions stayed.
SELECT count(*) AS refused_holds FROM hold WHERE ref IN ('ERP-2', 'ERP-4');
-- A breaching sale rolled back to a savepoint goes with it: nothing is left to judge, the
-- buffer may change again (refused while a breach waits, see below), and the transaction commits.
BEGIN;
SAVEPOINT first_try;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('MUG', 'DC1', 'available', 'picked', 2, 'web', 'ERP-7');
ROLLBACK TO SAVEPOINT first_try;
SELECT set_buffer('web', 'MUG', 1);
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('MUG', 'DC1', 'available', 'picked', 1, 'web', 'ERP-7');
COMMIT;
SELECT sku, location, stage, qty FROM balance WHERE sku = 'MUG' ORDER BY stage;

-- Through all of it, the ledger, fences and holds agree.
SELECT * FROM verify();

-- 10. Retries, references and order.
-- A retry after the hold ended is a conflict: its units are no longer held.
SELECT reserve('amazon', 'TEE', 1, 'A-2');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A basket retried with other lines is a conflict, and holds nothing new.
SELECT * FROM reserve_order('amazon', 'O-4', '[{"sku": "TEE", "qty": 1.0}]');
SELECT * FROM reserve_order('amazon', 'O-4', '[{"sku": "TEE", "qty": 1}, {"sku": "MUG", "qty": 1}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM reserve_order('amazon', 'O-4', '[{"sku": "MUG", "qty": 1}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT sku, qty FROM hold WHERE ref = 'O-4';
-- Two channels with the same order reference: a pick must say which.
SELECT reserve('web', 'TEE', 1, 'O-4') > 0 AS reserved;
SELECT * FROM pick('TEE', 'DC1', 1, 'O-4');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT from_stage, to_stage, qty, channel, ref FROM pick('TEE', 'DC1', 1, 'O-4', channel => 'web');
-- A scan for an order whose hold has expired is that channel's sale: checked like a
-- reservation, never taken from another channel's fence. A-2 (Amazon) expired in section 3.
SELECT from_stage, to_stage, qty, channel, ref FROM pick('TEE', 'DC1', 1, 'A-2');
-- A released hold gives its fence units back in full: units a channel holds from its fence
-- count against its target, so neither an inflow nor rebalance() refills the fence meanwhile.
-- Amazon's target is 4 and A-3 and O-4 hold 1 each from the fence: rebalance() leaves the
-- fence at 2, and releasing O-4 makes it 3.
SELECT ref, fence_qty FROM hold WHERE channel = 'amazon' AND sku = 'TEE' AND status = 'open' ORDER BY ref;
SELECT rebalance('TEE') AS locations_changed;
SELECT * FROM stock('TEE') WHERE stage = 'available';
SELECT release('amazon', 'O-4') AS holds_released;
SELECT * FROM stock('TEE') WHERE stage = 'available';
-- Under a percent fence too: socks, 10 on the shelf, Amazon 50%. Amazon holds its 5 fenced
-- units, wholesale buys the pool's 5; the target (50% of what is on the shelf) is now 0, yet
-- releasing Amazon's hold gives its 5 back to its fence, not to the pool.
SELECT pg_temp.shelve('SOCK', 'DC1', 10);
SELECT set_ringfence('amazon', 'SOCK', percent => 50);
SELECT reserve('amazon', 'SOCK', 5, 'A-SOCK') > 0 AS reserved;
SELECT reserve('wholesale', 'SOCK', 5, 'W-SOCK') > 0 AS reserved;
SELECT release('amazon', 'A-SOCK') AS holds_released;
SELECT * FROM stock('SOCK');
SELECT atp('SOCK', 'web') AS web, atp('SOCK', 'amazon') AS amazon;
-- One statement may list a release and a new reservation in any order: releases apply first.
SELECT reserve('wholesale', 'TEE', 2, 'WH-1') > 0 AS reserved;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('TEE', 'DC1', 'available', 'committed', 2, 'wholesale', 'WH-2'),
       ('TEE', 'DC1', 'committed', 'available', 2, 'wholesale', 'WH-1');
SELECT ref, open_qty, status FROM hold WHERE ref IN ('WH-1', 'WH-2') ORDER BY ref;
-- A loss out of committed names its hold with both channel and ref, or neither.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, ref)
VALUES ('TEE', 'DC1', 'committed', 'damaged', 1, 'WH-2');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A rule change or rebalance() cannot hide a direct sale's breach within its transaction.
BEGIN;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('TEE', 'DC1', 'available', 'committed', 7, 'web', 'ERP-5');
SELECT rebalance('TEE');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('TEE', 'DC1', 'available', 'committed', 3, 'web', 'ERP-5');
SELECT set_buffer('web', 'TEE', 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT * FROM verify();
-- Holds carry no CHECK constraints (only the engine writes them); verify() says what is wrong
-- with a hold damaged by hand, one row per hold. Rolled back.
BEGIN;
UPDATE hold SET fence_qty = open_qty + 1 WHERE ref = 'WH-2';
UPDATE hold SET status = 'gone' WHERE ref = 'W-SOCK';
UPDATE hold SET lost_qty = lost_qty - 1, open_qty = open_qty + 1 WHERE ref = 'A-SOCK';
SELECT * FROM verify() WHERE problem LIKE 'hold %';
ROLLBACK;
