-- Escrow for a hot SKU (issue 18, docs/design.md §12): its pool is lent to independently locked
-- parts, a reservation from the pool takes a part instead of the SKU's row, and every read
-- sees the parts' sales at once. A channel's sale from its own fence leaves the parts out; every
-- other change folds them back into stock first, and the next exact sale lends the pool out
-- again, within the fences and buffers as they are then.
-- (Concurrency: tests/isolation/specs/escrow_*.spec; throughput: bench/suite.sh.)
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
RESET client_min_messages;
SET search_path = inventory_truth, public;
\set SHOW_CONTEXT never
-- Buyers here do not notify, as under the relay: a buyer that notifies itself (direct mode)
-- takes the SKU's row to order its version, so it never sells from a part (section 5).
SET inventory_truth.notify_mode = off;

SELECT add_location('DC1');
SELECT add_channel('web', priority => 20), add_channel('amazon', priority => 10, buffer => 2);
SELECT count(*) FROM receive('SNEAKER', 'DC1', 100);
SELECT count(*) FROM put_away('SNEAKER', 'DC1', 100);
SELECT set_ringfence('amazon', 'SNEAKER', units => 10);
CREATE VIEW pg_temp.parts AS
    SELECT count(*) AS parts, sum(lent) AS lent, sum(sold) AS sold, sum(left_to_sell) AS left_to_sell
      FROM inventory_truth.escrow WHERE sku = 'SNEAKER';
CREATE VIEW pg_temp.now AS
    SELECT atp('SNEAKER', 'web') AS web, atp('SNEAKER', 'amazon') AS amazon,
           (SELECT version FROM atp_snapshot('web') WHERE sku = 'SNEAKER') AS version,
           (SELECT count(*) FROM verify()) AS verify_problems;

-- 1. Four parts lend the pool: 100 available less amazon's fence of 10. Amazon's buffer of 2 is
-- within its fence, so nothing more is kept back.
SELECT set_escrow('SNEAKER', 4) AS lent;
SELECT part, lent, sold, left_to_sell FROM escrow ORDER BY part;
SELECT * FROM pg_temp.now;

-- 2. Three web sales of one unit: each from a part, nothing written to the SKU's row or stock
-- (its row still says 100 available), yet ATP, stock(), the snapshot and verify() see them, and
-- the version rose by one per sale.
SELECT reserve('web', 'SNEAKER', 1, 'W-' || g) > 0 AS held FROM generate_series(1, 3) g;
SELECT * FROM pg_temp.parts;
SELECT available, committed FROM stock WHERE sku = 'SNEAKER';
SELECT stage, channel, qty FROM stock('SNEAKER') ORDER BY stage, channel;
SELECT * FROM pg_temp.now;

-- 3. Amazon sells from its own fence, which covers the sale and its buffer: that sale takes the
-- SKU's row but leaves the parts out (they never lend fenced units), so they keep their three
-- sales and the row shows one committed unit; ATP and the version count all four.
SELECT reserve('amazon', 'SNEAKER', 1, 'A-1') > 0 AS held;
SELECT * FROM pg_temp.parts;
SELECT available, committed FROM stock WHERE sku = 'SNEAKER';
SELECT * FROM pg_temp.now;

-- 4. A release folds and leaves the parts empty; the units go back to the pool, and the
-- next sale (exact: no part has units) lends them out again.
SELECT reserve('web', 'SNEAKER', 2, 'W-4') > 0 AS held;
SELECT release('web', 'W-1');
SELECT * FROM pg_temp.parts;
SELECT reserve('web', 'SNEAKER', 1, 'W-5') > 0 AS held;
SELECT * FROM pg_temp.parts;
SELECT * FROM pg_temp.now;

-- 5. A buyer that notifies itself takes the SKU's row: the parts are folded and lent again.
SET inventory_truth.notify_mode = direct;
SELECT reserve('web', 'SNEAKER', 1, 'W-6') > 0 AS held;
SELECT * FROM pg_temp.parts;
SET inventory_truth.notify_mode = off;

-- 6. A web buffer of 5 keeps 5 units of the pool with the SKU's row: after the next exact sale
-- the parts lend all but those.
SELECT set_buffer('web', 'SNEAKER', 5);
SELECT * FROM pg_temp.parts;
SELECT reserve('web', 'SNEAKER', 1, 'W-7') > 0 AS held;
SELECT * FROM pg_temp.parts;
SELECT * FROM pg_temp.now;

-- 7. One transaction: an exact sale (amazon's, from its fence) lends the pool out again, then
-- damage in the same transaction takes 10 units of the pool. The parts are emptied before the
-- damage is applied, so at commit they lend nothing that is gone; the next exact sale lends
-- what is left.
BEGIN;
SELECT reserve('amazon', 'SNEAKER', 1, 'A-TX') > 0 AS held;
SELECT * FROM pg_temp.parts;
SELECT count(*) FROM report_damage('SNEAKER', 'DC1', 10);
SELECT * FROM pg_temp.parts;
COMMIT;
SELECT * FROM pg_temp.now;
SELECT reserve('web', 'SNEAKER', 1, 'W-7B') > 0 AS held;
SELECT * FROM pg_temp.parts;

-- A sale from amazon's fence leaves the parts out (one of them sold a unit just before); a call
-- inside a savepoint folds them, then fails, and the rollback undoes that fold: the next change
-- in the transaction folds them again, so the damage acts on stock with the parts' sales in it.
SELECT reserve('web', 'SNEAKER', 1, 'W-7C') > 0 AS held;
BEGIN;
SELECT reserve('amazon', 'SNEAKER', 1, 'A-SP') > 0 AS held;
SELECT * FROM pg_temp.parts;
SAVEPOINT before_the_big_order;
SELECT reserve('web', 'SNEAKER', 1000, 'W-SP');
ROLLBACK TO SAVEPOINT before_the_big_order;
SELECT count(*) FROM report_damage('SNEAKER', 'DC1', 1);
SELECT * FROM pg_temp.parts;
COMMIT;
SELECT * FROM pg_temp.now;

-- 8. An order bigger than any part has left is sold exactly. A retry of a hold sold from a part
-- returns that hold: it takes the SKU's row to see whether the first call committed, and so
-- folds the parts.
SELECT reserve('web', 'SNEAKER', 30, 'W-8') > 0 AS held;
SELECT * FROM pg_temp.parts;
SELECT reserve('web', 'SNEAKER', 1, 'W-9') AS first_call \gset
SELECT * FROM pg_temp.parts;
SELECT reserve('web', 'SNEAKER', 1, 'W-9') = :first_call AS same_hold;
SELECT * FROM pg_temp.parts;

-- 9. The last units, one buyer's transaction each (a statement a unit, not echoed): web sells down
-- to its buffer, from the parts, one version each; then it is refused (IT001) while amazon,
-- whose fence the parts never lent, still sells.
CREATE TEMP TABLE sold (hold bigint);
SELECT reserve('web', 'SNEAKER', 1, 'W-10') > 0 AS held;
SELECT * FROM pg_temp.parts;
\set ECHO none
SELECT format('INSERT INTO pg_temp.sold SELECT reserve(%L, %L, 1, %L)', 'web', 'SNEAKER', 'LAST-' || g)
  FROM generate_series(1, (SELECT atp('SNEAKER', 'web'))::int) g \gexec
\set ECHO all
SELECT count(*) AS sold FROM pg_temp.sold;
SELECT * FROM pg_temp.parts;
SELECT * FROM pg_temp.now;
SELECT reserve('web', 'SNEAKER', 1, 'ONE-MORE');
\echo SQLSTATE :SQLSTATE
SELECT reserve('amazon', 'SNEAKER', 3, 'A-2') > 0 AS held;
SELECT * FROM pg_temp.now;

-- 10. clear_escrow folds and removes the parts; once more it has nothing to clear.
SELECT clear_escrow('SNEAKER'), clear_escrow('SNEAKER');
SELECT * FROM pg_temp.parts;
SELECT stage, channel, qty FROM stock('SNEAKER') ORDER BY stage, channel;
SELECT * FROM pg_temp.now;
