-- Rules the specification leaves open, as the extension decides them (docs/reference.md says
-- each where a reader of the function looks), and two answers an independent model of the
-- contract found wrong.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
RESET client_min_messages;
SET search_path = inventory_truth, public;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never
\set held 'ref, qty, open_qty, fence_qty, picked_qty, released_qty, lost_qty, status'

SELECT add_location('L1');
CREATE FUNCTION pg_temp.shelve(sku text, qty bigint) RETURNS void
LANGUAGE sql AS $$
    SELECT count(*) FROM inventory_truth.receive(sku, 'L1', qty);
    SELECT count(*) FROM inventory_truth.put_away(sku, 'L1', qty);
$$;

-- 1. atp_timeline puts each day's arrivals away on their day, one after the other, as real
-- put-aways would. Channels a and b are fenced 50% each; one unit is in the building today
-- and one is due tomorrow.
SELECT add_channel('a', priority => 10), add_channel('b', priority => 20),
       add_channel('web', priority => 30);
SELECT set_ringfence('a', NULL, percent => 50), set_ringfence('b', NULL, percent => 50);
SELECT count(*) FROM receive('X', 'L1', 1);
SELECT count(*) FROM expect('X', 'L1', 1, 'PO-1', current_date + 1);
-- Today's put-away: 50% of 1 unit is 0 for both fences, so the unit is the pool's. Tomorrow's:
-- 50% of 2 is 1 for each; a (first) takes the unit that arrives, b gets nothing, and the pool
-- keeps today's unit: the web can promise 1.
SELECT day - current_date AS days_ahead, inbound, in_building, atp FROM atp_timeline('X', 'web');
-- What really happens when the goods arrive on their ETAs:
SELECT count(*) FROM put_away('X', 'L1', 1);
SELECT atp('X', 'web') AS web_today;
SELECT count(*) FROM receive('X', 'L1', 1, 'PO-1');
SELECT count(*) FROM put_away('X', 'L1', 1);
SELECT atp('X', 'web') AS web_tomorrow, atp('X', 'a') AS a, atp('X', 'b') AS b;
SELECT clear_ringfence('a', NULL), clear_ringfence('b', NULL);

-- 2. An unknown SKU on any line of reserve_order is 42704, whatever the other lines, a retry
-- that adds the line included.
SELECT pg_temp.shelve('A', 5);
SELECT sku, qty FROM reserve_order('web', 'SO-1', '[{"sku": "A", "qty": 1}]');
SELECT * FROM reserve_order('web', 'SO-1', '[{"sku": "A", "qty": 1}, {"sku": "NOPE", "qty": 1}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A known SKU added on a retry is the conflict it was.
SELECT pg_temp.shelve('B', 5);
SELECT * FROM reserve_order('web', 'SO-1', '[{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 3. A hold that holds fenced and pool units and loses some (a partial pick, damage, a short
-- pick) gives up its pool units first: what stays held keeps its claim on the fence, and goes
-- back there if released. Amazon is fenced 4 of 10 tees and holds 6: 4 fenced, 2 from the pool.
SELECT add_channel('amazon', priority => 5);
SELECT pg_temp.shelve('TEE', 10);
SELECT set_ringfence('amazon', 'TEE', units => 4);
SELECT reserve('amazon', 'TEE', 6, 'AMZ-1') > 0 AS reserved;
SELECT :held FROM hold WHERE ref = 'AMZ-1';
-- Picking 3: the 2 pool units and 1 fenced unit; 3 fenced units stay held.
SELECT count(*) FROM pick('TEE', 'L1', 3, 'AMZ-1');
SELECT :held FROM hold WHERE ref = 'AMZ-1';
-- Damage of 1 of the held units, naming the hold: a fenced one now, since no pool unit is left.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('TEE', 'L1', 'committed', 'damaged', 1, 'amazon', 'AMZ-1');
SELECT :held FROM hold WHERE ref = 'AMZ-1';
-- Releasing the rest returns both units to Amazon's fence.
SELECT release('amazon', 'AMZ-1') AS holds_released;
SELECT * FROM stock('TEE') WHERE stage = 'available';

-- 4. A partial release written into the ledger directly returns fenced units first while the
-- channel is fenced there, so the fence is made whole before the pool; once the channel is no
-- longer fenced there, every released unit goes to the pool, and the hold gives up its pool
-- units first, as in 3. Amazon holds 6 socks: its fence of 4 and 2 from the pool.
SELECT pg_temp.shelve('SOCK', 10);
SELECT set_ringfence('amazon', 'SOCK', units => 4);
SELECT reserve('amazon', 'SOCK', 6, 'AMZ-2') > 0 AS reserved;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('SOCK', 'L1', 'committed', 'available', 3, 'amazon', 'AMZ-2');
SELECT :held FROM hold WHERE ref = 'AMZ-2';
SELECT * FROM stock('SOCK') WHERE stage = 'available';
SELECT clear_ringfence('amazon', 'SOCK');
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('SOCK', 'L1', 'committed', 'available', 2, 'amazon', 'AMZ-2');
SELECT :held FROM hold WHERE ref = 'AMZ-2';
SELECT * FROM stock('SOCK') WHERE stage = 'available';
SELECT release('amazon', 'AMZ-2') AS holds_released;

-- 5. clear_ringfence of a rule that does not exist returns false and changes nothing: it does
-- not rebalance. Channels p and q fence 3 mugs each of 4; q moves ahead of p, which orders the
-- fences from the next inflow or rebalance() on.
SELECT add_channel('p', priority => 40), add_channel('q', priority => 50);
SELECT pg_temp.shelve('MUG', 4);
SELECT set_ringfence('p', 'MUG', units => 3), set_ringfence('q', 'MUG', units => 3);
SELECT * FROM stock('MUG') WHERE stage = 'available';
SELECT add_channel('q', priority => 35);
SELECT clear_ringfence('web', 'MUG') AS cleared;
SELECT * FROM stock('MUG') WHERE stage = 'available';
SELECT rebalance('MUG') AS locations_changed;
SELECT * FROM stock('MUG') WHERE stage = 'available';

-- 6. Channels of equal priority are ordered by code: fences fill in code order, and losses
-- (pool first, then the fences, lowest priority first) come out of them in the reverse order.
SELECT add_channel('alpha', priority => 60), add_channel('beta', priority => 60);
SELECT set_ringfence('alpha', 'CAP', units => 3) FROM (SELECT pg_temp.shelve('CAP', 4)) s;
SELECT set_ringfence('beta', 'CAP', units => 3);
SELECT * FROM stock('CAP') WHERE stage = 'available';
SELECT pg_temp.shelve('CAP', 4);
SELECT * FROM stock('CAP') WHERE stage = 'available';
-- Damage of 4: the pool's 2, then 2 of beta's fence (beta sorts after alpha: lower in the order).
SELECT count(*) FROM report_damage('CAP', 'L1', 4);
SELECT * FROM stock('CAP') WHERE stage = 'available';

-- 7. Within one statement, releases apply before reservations (so a statement may release a
-- hold and reserve its units for another order, in any row order). A release cannot take units
-- the same statement reserves under the same hold: it finds none open (IT001). Write the
-- reservation and the release as two statements.
SELECT pg_temp.shelve('PEN', 5);
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('PEN', 'L1', 'available', 'committed', 2, 'web', 'W-7'),
       ('PEN', 'L1', 'committed', 'available', 2, 'web', 'W-7');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('PEN', 'L1', 'available', 'committed', 2, 'web', 'W-7');
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('PEN', 'L1', 'committed', 'available', 2, 'web', 'W-7');
SELECT :held FROM hold WHERE ref = 'W-7';

SELECT * FROM verify();
