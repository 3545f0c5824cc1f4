-- Orders as a storefront's checkout sends them (issue 20): SKUs declared before their first
-- receipt, baskets that list a SKU on several lines, an order checked before it is reserved,
-- and a refusal that names every short line in a form a program reads.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
RESET client_min_messages;
SET search_path = inventory_truth, public;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never

SELECT add_location('DC1'), add_location('DC2');
SELECT add_channel('amazon', priority => 10, kind => 'marketplace'),
       add_channel('web', priority => 20, buffer => 1);
CREATE FUNCTION pg_temp.shelve(sku text, location text, qty bigint) RETURNS void
LANGUAGE sql AS $$
    SELECT count(*) FROM inventory_truth.receive(sku, location, qty);
    SELECT count(*) FROM inventory_truth.put_away(sku, location, qty);
$$;

-- 1. A launch is prepared before the truck arrives: the catalogue import declares its SKUs,
-- and their rules are set at once. declare_skus returns how many were new.
SELECT declare_skus(ARRAY['BOOT-41', 'BOOT-42', 'BOOT-43']) AS declared;
SELECT declare_skus(ARRAY['BOOT-42', 'BOOT-44']) AS declared;
SELECT declare_sku('BOOT-44') AS new, declare_sku('BOOT-45') AS new;
SELECT set_ringfence('amazon', 'BOOT-42', units => 3);
SELECT set_buffer('web', 'BOOT-42', 2);
-- Declared SKUs have no stock and nothing to promise; a storefront's snapshot lists them.
SELECT * FROM stock('BOOT-42');
SELECT sku, channel, atp FROM atp_snapshot('web') ORDER BY sku;
-- A rule on a code nobody declared is still an error: a typo does not create a SKU.
SELECT set_buffer('web', 'BOOT-4Z', 2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The first receipt fills the prepared fence, and the buffer holds.
SELECT pg_temp.shelve('BOOT-42', 'DC1', 10);
SELECT * FROM stock('BOOT-42');
SELECT atp('BOOT-42', 'amazon') AS amazon, atp('BOOT-42', 'web') AS web;

-- 2. Stock for the baskets: mugs 5 at DC1 and 4 at DC2, caps 2 at DC1.
SELECT pg_temp.shelve('MUG', 'DC1', 5), pg_temp.shelve('MUG', 'DC2', 4), pg_temp.shelve('CAP', 'DC1', 2);

-- 3. check_order says what each line could get now, without reserving: the channel's ATP
-- and the most one reservation of the line is granted (a hold is at one location, so 5 mugs
-- of the web's 8). Lines naming the same SKU are summed.
SELECT * FROM check_order('web', '[{"sku": "MUG", "qty": 2}, {"sku": "CAP", "qty": 2},
                                   {"sku": "MUG", "qty": 3}, {"sku": "BOOT-41", "qty": 1}]');
-- A line naming a location is judged there: 4 mugs at DC2 (within the web's ATP of 8).
SELECT * FROM check_order('web', '[{"sku": "MUG", "qty": 5, "location": "DC2"}]');

-- 4. A basket with a SKU on two lines (two kits sharing a component) is one hold of their sum.
SELECT * FROM reserve_order('web', 'SO-1', '[{"sku": "MUG", "qty": 2}, {"sku": "CAP", "qty": 1},
                                             {"sku": "MUG", "qty": 1}]');
-- A retry that splits the lines differently is the same order: the same holds, nothing moved.
SELECT * FROM reserve_order('web', 'SO-1', '[{"sku": "CAP", "qty": 1}, {"sku": "MUG", "qty": 3}]');
SELECT count(*) AS reservations FROM movement WHERE to_stage = 'committed';
-- Lines of one SKU may name its location once; two locations are refused (a hold is at one).
SELECT * FROM reserve_order('web', 'SO-2', '[{"sku": "MUG", "qty": 1, "location": "DC2"}, {"sku": "MUG", "qty": 1}]');
SELECT * FROM reserve_order('web', 'SO-3', '[{"sku": "MUG", "qty": 1, "location": "DC2"}, {"sku": "MUG", "qty": 1, "location": "DC1"}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 5. An order that cannot be served is refused whole (IT001), naming every short line with
-- what it could get, and reserving nothing. The web can promise 3 more mugs at one location
-- (2 at DC1, 3 at DC2, buffer 1: 4 in all) and no cap (1 left, its buffer).
SELECT * FROM reserve_order('web', 'SO-4', '[{"sku": "CAP", "qty": 1}, {"sku": "MUG", "qty": 4},
                                             {"sku": "BOOT-42", "qty": 1}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS holds FROM hold WHERE ref = 'SO-4';
-- A program reads the short lines from the error's DETAIL, a JSON array.
DO $$
DECLARE
    detail text;
    line json;
BEGIN
    PERFORM * FROM inventory_truth.reserve_order('web', 'SO-4',
        '[{"sku": "CAP", "qty": 1}, {"sku": "MUG", "qty": 4}, {"sku": "BOOT-42", "qty": 1}]');
EXCEPTION WHEN SQLSTATE 'IT001' THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    FOR line IN SELECT * FROM json_array_elements(detail::json) LOOP
        RAISE NOTICE 'short: % wants %, can have %', line ->> 'sku', line ->> 'qty', line ->> 'reservable';
    END LOOP;
END
$$;
-- 6. A buyer changes the cart: resize_hold sets a hold's quantity under the same reference.
-- Amazon holds 4 tees (its fence of 3, then 1 of the pool) for AZ-1, expiring in 15 minutes.
\set held 'channel, ref, sku, location, qty, open_qty, fence_qty, picked_qty, released_qty, status, expires_at IS NOT NULL AS expires'
SELECT pg_temp.shelve('TEE', 'DC1', 10);
SELECT set_ringfence('amazon', 'TEE', units => 3);
SELECT reserve('amazon', 'TEE', 4, 'AZ-1', ttl => '15 minutes') AS az1 \gset
-- Growing to 6 reserves 2 more at the hold's location, checked like a reservation.
SELECT resize_hold('amazon', 'AZ-1', 'TEE', 6) = :az1 AS same_hold;
SELECT :held FROM hold WHERE id = :az1;
-- The same call again (a retry) changes nothing.
SELECT resize_hold('amazon', 'AZ-1', 'TEE', 6) = :az1 AS same_hold;
SELECT count(*) AS ledger_rows FROM movement WHERE ref = 'AZ-1';
-- Beyond what the channel can promise: IT001, nothing changed.
SELECT resize_hold('amazon', 'AZ-1', 'TEE', 11);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Shrinking to 2 releases 4: back where they came from, the fence's units first.
SELECT resize_hold('amazon', 'AZ-1', 'TEE', 2) = :az1 AS same_hold;
SELECT :held FROM hold WHERE id = :az1;
SELECT * FROM stock('TEE');
-- After a pick scan of 1, the hold still asks for 2 (picked units count), so a late retry of
-- resize_hold(2) changes nothing; it can grow again, but not shrink below what was picked.
SELECT count(*) FROM pick('TEE', 'DC1', 1, 'AZ-1');
SELECT resize_hold('amazon', 'AZ-1', 'TEE', 2) = :az1 AS same_hold;
SELECT resize_hold('amazon', 'AZ-1', 'TEE', 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT resize_hold('amazon', 'AZ-1', 'TEE', 3) = :az1 AS same_hold;
SELECT :held FROM hold WHERE id = :az1;
-- Shrinking to what was picked releases the rest; the hold has then ended, and a change is
-- a conflict (IT004), as a reserve retry of an ended hold is. Asking for what it has is not.
SELECT resize_hold('amazon', 'AZ-1', 'TEE', 1) = :az1 AS same_hold;
SELECT :held FROM hold WHERE id = :az1;
SELECT resize_hold('amazon', 'AZ-1', 'TEE', 1) = :az1 AS same_hold;
SELECT resize_hold('amazon', 'AZ-1', 'TEE', 3);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A line dropped from an order: resize it to 0 (the hold is released).
SELECT reserve('web', 'TEE', 2, 'W-9') AS w9 \gset
SELECT resize_hold('web', 'W-9', 'TEE', 0) = :w9 AS same_hold;
SELECT :held FROM hold WHERE id = :w9;

-- 7. A checkout that needs more time: extend_hold sets the expiry of every open hold of the
-- order to ttl from now (NULL: never). It moves no stock and changes no ATP.
SELECT * FROM reserve_order('web', 'SO-9', '[{"sku": "MUG", "qty": 1}, {"sku": "TEE", "qty": 1}]', ttl => '1 minute');
SELECT extend_hold('web', 'SO-9', '2 hours') AS holds;
SELECT sku, expires_at - now() BETWEEN '119 minutes' AND '2 hours' AS in_two_hours FROM hold WHERE ref = 'SO-9' ORDER BY sku;
SELECT extend_hold('web', 'SO-9', NULL) AS holds;
SELECT sku, expires_at FROM hold WHERE ref = 'SO-9' ORDER BY sku;
SELECT extend_hold('web', 'SO-404', '1 hour');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 8. A reservation no single location can serve is split over several, all or nothing: a
-- hold per location under the same reference. Kettles: 4 at DC1, 3 at DC2, 2 at DC3 (the web's
-- ATP is 8 with its buffer of 1). DC3 is the preferred location (priority 10).
SELECT add_location('DC3', priority => 10);
SELECT pg_temp.shelve('KETTLE', 'DC1', 4), pg_temp.shelve('KETTLE', 'DC2', 3), pg_temp.shelve('KETTLE', 'DC3', 2);
SELECT atp('KETTLE', 'web') AS web;
-- 6 kettles: by default where the web can sell the most first (the fewest parts), 4 at DC1
-- and 2 at DC2. The id returned is the first part's.
SELECT reserve('web', 'KETTLE', 6, 'K-1', ttl => '15 minutes') AS k1 \gset
SELECT :held FROM hold WHERE ref = 'K-1' ORDER BY id;
SELECT min(id) = :k1 AS first_part FROM hold WHERE ref = 'K-1';
-- A retry is the same reservation: the same id, nothing moved.
SELECT reserve('web', 'KETTLE', 6, 'K-1', ttl => '15 minutes') = :k1 AS same_hold;
SELECT count(*) AS reservations FROM movement WHERE ref = 'K-1';
-- An order that fits one location still goes to one: the first in the order that can serve it.
SELECT reserve('web', 'KETTLE', 1, 'K-2') AS k2 \gset
SELECT location, qty FROM hold WHERE ref = 'K-2';
SELECT release('web', 'K-2') AS released;
-- A merchant's order instead: split => 'priority' serves from DC3 first (priority 10), then the
-- rest by location priority (100 both: by code): 2 at DC3, 4 at DC1 (the parts' ids follow
-- location code order).
SELECT release('web', 'K-1') AS released;
SELECT reserve('web', 'KETTLE', 6, 'K-3', split => 'priority') > 0 AS reserved;
SELECT :held FROM hold WHERE ref = 'K-3' ORDER BY id;
-- split => 'none' keeps a reservation at one location: refused when none can serve it whole.
SELECT release('web', 'K-3') AS released;
SELECT reserve('web', 'KETTLE', 5, 'K-4', split => 'none');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Never beyond the channel's ATP, however it splits.
SELECT reserve('web', 'KETTLE', 9, 'K-4');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The parts are one reservation: a pick scan takes the part at its location, resize_hold
-- shrinks the newest part first, release and expiry take every part.
SELECT * FROM reserve_order('web', 'K-5', '[{"sku": "KETTLE", "qty": 5}]', ttl => '15 minutes');
SELECT count(*) FROM pick('KETTLE', 'DC2', 1, 'K-5');
SELECT resize_hold('web', 'K-5', 'KETTLE', 4) > 0 AS resized;
SELECT :held FROM hold WHERE ref = 'K-5' AND sku = 'KETTLE' ORDER BY id;
UPDATE hold SET expires_at = now() - interval '1 second' WHERE ref = 'K-5' AND status = 'open';
SELECT expire_holds() AS expired;
SELECT :held FROM hold WHERE ref = 'K-5' ORDER BY id;
SELECT atp('KETTLE', 'web') AS web;

-- 9. A reservation's parts live and end together. Lamps: 4 at DC1, 3 at DC2; the web
-- reserves 6 (4 at DC1, 2 at DC2) for 15 minutes.
SELECT pg_temp.shelve('LAMP', 'DC1', 4), pg_temp.shelve('LAMP', 'DC2', 3);
SELECT reserve('web', 'LAMP', 6, 'L-1', ttl => '15 minutes') AS l1 \gset
-- A pick scan of one part ends the expiry of the whole reservation: the rest is not sent back
-- to the shelf while the order is being picked.
SELECT count(*) FROM pick('LAMP', 'DC1', 3, 'L-1');
SELECT location, open_qty, status, expires_at IS NOT NULL AS expires FROM hold WHERE ref = 'L-1' ORDER BY id;
-- ... and extend_hold leaves it so.
SELECT extend_hold('web', 'L-1', '1 minute') AS reservations;
-- A direct ledger row at a new location adds a part that expires with the reservation.
-- Vases: 5 at DC1, 5 at DC2.
SELECT pg_temp.shelve('VASE', 'DC1', 5), pg_temp.shelve('VASE', 'DC2', 5);
SELECT reserve('web', 'VASE', 1, 'V-1', location => 'DC2', ttl => '15 minutes') > 0 AS reserved;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('VASE', 'DC1', 'available', 'committed', 1, 'web', 'V-1');
SELECT location, open_qty, expires_at IS NOT NULL AS expires FROM hold WHERE ref = 'V-1' ORDER BY location;
-- Once every part has ended, the reservation takes nothing more, at any location (IT004).
SELECT release('web', 'V-1') AS released;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('VASE', 'DC2', 'available', 'committed', 1, 'web', 'V-1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('VASE', 'DC3', 'available', 'committed', 1, 'web', 'V-1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A shrink that ends a part leaves the reservation open, and a grow may take that location
-- again. Bowls: 2 at DC1, 2 at DC2, 3 at DC3 (the web's ATP is 6): 5 are served from DC3
-- (most stock) and DC1.
SELECT pg_temp.shelve('BOWL', 'DC1', 2), pg_temp.shelve('BOWL', 'DC2', 2), pg_temp.shelve('BOWL', 'DC3', 3);
SELECT reserve('web', 'BOWL', 5, 'B-1') > 0 AS reserved;
SELECT location, open_qty, status FROM hold WHERE ref = 'B-1' ORDER BY id;
-- Shrinking to 2 releases the newest part (DC3) whole.
SELECT resize_hold('web', 'B-1', 'BOWL', 2) > 0 AS resized;
SELECT location, open_qty, status FROM hold WHERE ref = 'B-1' ORDER BY id;
-- Growing to 4: nothing left at DC1, so DC3 again (most stock), its part reopened.
SELECT resize_hold('web', 'B-1', 'BOWL', 4) > 0 AS resized;
SELECT location, open_qty, status FROM hold WHERE ref = 'B-1' ORDER BY id;
-- With split => 'none' it grows only where it is served from: 1 more at DC3, not 2, though
-- the web could promise 2 (DC2).
SELECT atp('BOWL', 'web') AS web;
SELECT resize_hold('web', 'B-1', 'BOWL', 6, split => 'none');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

SELECT * FROM verify();
