-- Channels, safety buffers, ringfences and available to promise (docs/design.md §3), with numbers to
-- check by hand. ATP(s, c) = max(0, sum over locations of (c's fence + pool) - buffer(c, s)).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
RESET client_min_messages;
SET search_path = inventory_truth, public;
\set SHOW_CONTEXT never

SELECT add_location('DC1'), add_location('DC2');
-- Lower priority numbers are served first when fences fill.
SELECT add_channel('amazon', priority => 10, kind => 'marketplace'),
       add_channel('web', priority => 20),
       add_channel('wholesale', priority => 30, kind => 'wholesale');
SELECT code, priority, buffer, kind FROM channel ORDER BY priority;

-- Shelves: a helper that receives and puts away.
CREATE FUNCTION pg_temp.shelve(sku text, location text, qty bigint) RETURNS void
LANGUAGE sql AS $$
    SELECT count(*) FROM inventory_truth.receive(sku, location, qty);
    SELECT count(*) FROM inventory_truth.put_away(sku, location, qty);
$$;

-- 1. The seed's buffer example: three mugs on the shelf, the web hides 3, wholesale hides none.
SELECT pg_temp.shelve('MUG', 'DC1', 3);
SELECT set_buffer('web', 'MUG', 3);
SELECT atp('MUG', 'web') AS web, atp('MUG', 'wholesale') AS wholesale, atp('MUG', 'amazon') AS amazon;
-- The web cannot reserve what it cannot see.
SELECT reserve('web', 'MUG', 1, 'WEB-1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A channel's default buffer covers every SKU without one of its own; a SKU's own wins.
SELECT set_buffer('amazon', NULL, 1);
SELECT atp('MUG', 'amazon') AS amazon;
SELECT set_buffer('amazon', 'MUG', 0);
SELECT atp('MUG', 'amazon') AS amazon;
-- units NULL removes the SKU's own buffer: the default (1) applies again.
SELECT set_buffer('amazon', 'MUG', NULL);
SELECT atp('MUG', 'amazon') AS amazon;
SELECT set_buffer('amazon', NULL, 0);

-- 2. Amazon ringfenced at 50%: 10 tees on the shelf, 5 become Amazon's, 5 stay in the pool.
SELECT pg_temp.shelve('TEE', 'DC1', 10);
SELECT set_ringfence('amazon', 'TEE', percent => 50);
SELECT * FROM stock('TEE');
SELECT atp('TEE', 'amazon') AS amazon, atp('TEE', 'web') AS web, atp('TEE', 'wholesale') AS wholesale;
-- The web cannot touch Amazon's half: 6 is refused, 5 empties the pool.
SELECT reserve('web', 'TEE', 6, 'WEB-2');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT reserve('web', 'TEE', 5, 'WEB-2') > 0 AS reserved;
SELECT atp('TEE', 'amazon') AS amazon, atp('TEE', 'web') AS web;
SELECT * FROM stock('TEE');
-- Amazon sells its own fence first: 2 units leave the fence, the pool is empty anyway.
SELECT reserve('amazon', 'TEE', 2, 'AMZ-1') > 0 AS reserved;
SELECT * FROM stock('TEE');

-- 3. Wholesale walled off: 4 boxes of every SKU at each location are wholesale's alone.
SELECT set_ringfence('wholesale', NULL, units => 4);
SELECT pg_temp.shelve('BOX', 'DC1', 10);
SELECT * FROM stock('BOX');
SELECT atp('BOX', 'web') AS web, atp('BOX', 'amazon') AS amazon, atp('BOX', 'wholesale') AS wholesale;
-- The rule reached the SKUs already on the shelf too: a rule change rebalances at once, every
-- fence recomputed in priority order. Mugs: all 3 fenced (fewer than 4). Tees: 3 left on the
-- shelf. Amazon's 50% of 3 is 1, but it already holds 2 units from its fence (AMZ-1): units a
-- channel holds from its fence count against its target, so its fence stays empty and
-- wholesale takes all 3.
SELECT * FROM stock('MUG');
SELECT * FROM stock('TEE');
SELECT atp('MUG', 'wholesale') AS wholesale, atp('MUG', 'web') AS web, atp('MUG', 'amazon') AS amazon;

-- 4. Fence refill order. Caps: Amazon fenced 3, wholesale 2 (the every-SKU rule of 4 is
-- overridden by a rule for the SKU). Fences fill from inflows in priority order.
SELECT pg_temp.shelve('CAP', 'DC1', 1);
SELECT set_ringfence('amazon', 'CAP', units => 3);
SELECT set_ringfence('wholesale', 'CAP', units => 2);
SELECT * FROM stock('CAP');
-- 3 more arrive: Amazon fills to 3 first, then wholesale gets 1.
SELECT pg_temp.shelve('CAP', 'DC1', 3);
SELECT * FROM stock('CAP');
-- 4 more: wholesale fills to 2, the other 3 go to the pool.
SELECT pg_temp.shelve('CAP', 'DC1', 4);
SELECT * FROM stock('CAP');
-- Amazon sells 2 of its fence (a hold); its sale does not refill the fence from the pool.
SELECT reserve('amazon', 'CAP', 2, 'AMZ-2') > 0 AS reserved;
SELECT * FROM stock('CAP');
-- While the hold is open its 2 units still count as Amazon's fenced units (a release would
-- give them back): a returned unit passing inspection goes to the pool.
SELECT count(*) FROM receive_return('CAP', 'DC1', 1);
SELECT count(*) FROM inspect_return('CAP', 'DC1', 1, resale => true);
SELECT * FROM stock('CAP');
-- Once the order is picked, Amazon's fence has room again: the next inflow refills it first.
SELECT count(*) FROM pick('CAP', 'DC1', 2, 'AMZ-2');
SELECT count(*) FROM receive_return('CAP', 'DC1', 1);
SELECT count(*) FROM inspect_return('CAP', 'DC1', 1, resale => true);
SELECT * FROM stock('CAP');

-- 5. Loss order: the pool pays first, then the fences, lowest priority (wholesale) first.
-- Now: Amazon 2, wholesale 2, pool 4. Damage of 5: pool 4, then 1 of wholesale's.
SELECT count(*) FROM report_damage('CAP', 'DC1', 5);
SELECT * FROM stock('CAP');
-- Damage of 2 more: wholesale's last unit, then one of Amazon's.
SELECT count(*) FROM report_damage('CAP', 'DC1', 2);
SELECT * FROM stock('CAP');
-- An unplanned pick scan (no hold) is a loss to the shelf as well.
SELECT count(*) FROM pick('CAP', 'DC1', 1);
SELECT * FROM stock('CAP');

-- 6. Rule changes rebalance at once. Percent targets round down: 50% of 7 is 3.
SELECT pg_temp.shelve('PEN', 'DC1', 7);
SELECT set_ringfence('web', 'PEN', percent => 50);
SELECT * FROM stock('PEN');
-- Raising the web's fence to 5 rebalances in priority order: the web (20) is served before
-- wholesale (30), which keeps the 2 units left.
SELECT set_ringfence('web', 'PEN', units => 5);
SELECT * FROM stock('PEN');
-- Clearing it returns the units to the pool.
SELECT clear_ringfence('web', 'PEN');
SELECT * FROM stock('PEN');
SELECT clear_ringfence('web', 'PEN') AS cleared_again;
-- rebalance() recomputes targets on demand, which sales never do. Hats: 10 on the shelf,
-- Amazon 50% (5), wholesale 4, pool 1. Amazon sells 3 of its fence and the order is picked;
-- rebalance() then gives it 50% of the 7 left (3), taking the pool's unit.
SELECT set_ringfence('amazon', 'HAT', percent => 50);
\echo SQLSTATE :LAST_ERROR_SQLSTATE (rules name known SKUs; a rule for every SKU covers new ones)
SELECT pg_temp.shelve('HAT', 'DC1', 10);
SELECT set_ringfence('amazon', 'HAT', percent => 50);
SELECT * FROM stock('HAT');
SELECT reserve('amazon', 'HAT', 3, 'AMZ-5') > 0 AS reserved;
SELECT count(*) FROM pick('HAT', 'DC1', 3, 'AMZ-5');
SELECT * FROM stock('HAT');
SELECT rebalance('HAT') AS locations_changed;
SELECT * FROM stock('HAT');
SELECT rebalance() AS locations_changed_again;

-- 7. Locations. ATP sums the locations; atp(..., location) is one location's, with the buffer
-- applied to it alone. Mugs at DC2: 3 more, of which wholesale fences 3 (its rule is 4).
SELECT pg_temp.shelve('MUG', 'DC2', 3);
SELECT * FROM stock('MUG');
SELECT atp('MUG', 'wholesale') AS wholesale, atp('MUG', 'wholesale', 'DC2') AS wholesale_dc2,
       atp('MUG', 'amazon') AS amazon;
-- A reservation is at one location: without one, where the channel can sell the most.
SELECT pg_temp.shelve('MUG', 'DC2', 5);
SELECT reserve('amazon', 'MUG', 2, 'AMZ-3') AS hold_id \gset
SELECT h.location, h.qty FROM hold h WHERE h.id = :hold_id;
SELECT atp('MUG', 'amazon', 'DC1') AS amazon_dc1, atp('MUG', 'amazon', 'DC2') AS amazon_dc2;
-- A location that cannot cover the reservation refuses it, even when the total could.
SELECT reserve('amazon', 'MUG', 1, 'AMZ-4', location => 'DC1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 8. Every SKU at once, as a storefront reads it after LISTEN.
SELECT * FROM atp_snapshot('web');
SELECT count(*) AS rows, count(DISTINCT channel) AS channels FROM atp_snapshot();
-- The snapshot and atp() agree everywhere.
SELECT count(*) AS disagreements FROM atp_snapshot() s WHERE s.atp <> atp(s.sku, s.channel);

-- 9. Bad input: a specific SQLSTATE, and nothing changes.
CREATE FUNCTION pg_temp.rules() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat((SELECT string_agg(concat_ws(',', code, priority, buffer, kind), ';' ORDER BY code) FROM inventory_truth.channel),
                      (SELECT string_agg(concat_ws(',', channel, sku, units, percent), ';' ORDER BY channel, sku) FROM inventory_truth.ringfence),
                      (SELECT string_agg(concat_ws(',', channel, sku, units), ';' ORDER BY channel, sku) FROM inventory_truth.sku_buffer),
                      (SELECT string_agg(concat_ws(',', sku, location, channel, qty), ';' ORDER BY sku, location, channel) FROM inventory_truth.fence)))
$$;
SELECT pg_temp.rules() AS rules_before \gset
SELECT set_ringfence('amazon', 'TEE');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_ringfence('amazon', 'TEE', units => 1, percent => 10);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_ringfence('amazon', 'TEE', percent => 101);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_ringfence('amazon', 'TEE', percent => -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_ringfence('amazon', 'TEE', units => -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_ringfence('ebay', 'TEE', units => 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_ringfence('amazon', 'NO-SUCH-SKU', units => 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT clear_ringfence('ebay', 'TEE');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT clear_ringfence('web', 'NO-SUCH-SKU');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_buffer('web', 'TEE', -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_buffer('web', NULL, NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_buffer('ebay', 'TEE', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT add_channel('web', buffer => -2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT add_channel('web', kind => 'carrier pigeon');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT add_channel(' web');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT add_channel('web', priority => NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT rebalance('NO-SUCH-SKU');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT atp('TEE', 'ebay');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT atp('NO-SUCH-SKU', 'web');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT atp('TEE', 'web', 'DC9');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM atp_snapshot('ebay');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.rules() = :'rules_before' AS rules_unchanged;

-- Through all of it, the ledger and every sum agree.
SELECT * FROM verify();
