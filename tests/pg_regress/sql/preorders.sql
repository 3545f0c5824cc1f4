-- Preorders (issue 20): a channel allowed to preorder holds units still on their way, the hold
-- says so and when they are due, a put-away turns it into an ordinary hold without a second
-- reservation, and a cancelled or short receipt breaks the preorders it cannot serve. Dates
-- are shown as days from today. (The notifications' preorderable field is tested with a real
-- listener in client/tests/notify.rs.)
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
RESET client_min_messages;
SET search_path = inventory_truth, public;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never

SELECT add_location('DC1'), add_location('DC2');
SELECT add_channel('web', priority => 20), add_channel('pos', priority => 10, kind => 'pos');
-- The shops keep 3 units of everything at each location.
SELECT set_ringfence('pos', NULL, units => 3);
CREATE VIEW pg_temp.holds AS
    SELECT ref, location, qty, open_qty AS held, preorder_qty AS awaited,
           preorder_broken AS broken, preorder_eta - current_date AS due_in_days, status
      FROM inventory_truth.hold ORDER BY id;

-- 1. A launch: 10 consoles due at DC1 in 10 days, 4 at DC2 in 3 days. Nothing is on a shelf,
-- so nothing is available to promise.
SELECT count(*) FROM expect('CONSOLE', 'DC1', 10, 'PO-1', current_date + 10);
SELECT count(*) FROM expect('CONSOLE', 'DC2', 4, 'PO-2', current_date + 3);
SELECT atp('CONSOLE', 'web') AS atp;
-- A channel must be allowed to preorder (55000 until a manager allows it).
SELECT * FROM preorder('web', 'CONSOLE', 1, 'ORD-0');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT allow_preorders('web');
-- What may be preordered is everything on its way (in all, or arriving by a day), for the
-- channels that take preorders; ATP stays 0.
SELECT preorderable('CONSOLE', 'web') AS web, preorderable('CONSOLE', 'web', current_date + 5) AS web_by_day_5,
       preorderable('CONSOLE', 'pos') AS pos, atp('CONSOLE', 'web') AS atp;

-- 2. A preorder is a hold that awaits its units: served whole from the location that has them
-- soonest, due when the last of them arrives. It moves no stock. 3 are due at DC2 in 3 days.
SELECT ref, location, qty, preorder_qty, preorder_eta - current_date AS due_in_days, status
  FROM preorder('web', 'CONSOLE', 3, 'ORD-1');
-- DC2 has 1 left: 6 more come from DC1, in 10 days.
SELECT ref, location, preorder_qty, preorder_eta - current_date AS due_in_days
  FROM preorder('web', 'CONSOLE', 6, 'ORD-2');
-- The same call again returns the same holds; another quantity under the reference is IT004.
SELECT ref, location, preorder_qty FROM preorder('web', 'CONSOLE', 6, 'ORD-2');
SELECT * FROM preorder('web', 'CONSOLE', 7, 'ORD-2');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The timeline: what arrives, what reaches the shelf for sale once the preorders have their
-- units (the shops' fence first: DC2's 1 left over, then 3 of DC1's 4), and what may still be
-- preordered of what has arrived by each day.
SELECT day - current_date AS in_days, inbound, in_building, atp, preorderable
  FROM atp_timeline('CONSOLE', 'web');
SELECT day - current_date AS in_days, atp, preorderable FROM atp_timeline('CONSOLE', 'pos');
-- Never past what is expected and not already promised: 5 left, 6 asked.
SELECT * FROM preorder('web', 'CONSOLE', 6, 'ORD-3');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- No location has 5: they are split, soonest first (1 at DC2, 4 at DC1).
SELECT ref, location, preorder_qty, preorder_eta - current_date AS due_in_days
  FROM preorder('web', 'CONSOLE', 5, 'ORD-3');
SELECT * FROM pg_temp.holds;
SELECT preorderable('CONSOLE', 'web') AS web, atp('CONSOLE', 'web') AS atp;

-- 3. A preorder's size is what was preordered and it never expires: while units are on their
-- way it cannot be resized or given an expiry (55000).
SELECT resize_hold('web', 'ORD-1', 'CONSOLE', 2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT extend_hold('web', 'ORD-1', '1 hour');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 4. DC1's delivery arrives and 7 are put away: the oldest preorders there take them first
-- (available -> committed, past the fences): ORD-2 all 6, now an ordinary hold, and ORD-3's
-- DC1 part 1 of its 4. Nothing reaches the shelf for sale.
SELECT count(*) FROM receive('CONSOLE', 'DC1', 10, 'PO-1');
SELECT from_stage, to_stage, qty, channel, ref, reason FROM put_away('CONSOLE', 'DC1', 7);
SELECT * FROM pg_temp.holds;
SELECT atp('CONSOLE', 'web') AS web, atp('CONSOLE', 'pos') AS pos;
-- The rest: ORD-3's DC1 part has its 4 units.
SELECT from_stage, to_stage, qty, channel, ref FROM put_away('CONSOLE', 'DC1', 3);
SELECT ref, location, held, awaited, status FROM pg_temp.holds WHERE location = 'DC1';
-- An ordinary hold now: the pick scan takes it.
SELECT from_stage, to_stage, qty, ref FROM pick('CONSOLE', 'DC1', 6, 'ORD-2');

-- 5. DC2's supplier ships 2 of the 4 and cancels the rest: the preorders at DC2 await 4 and
-- only 2 are coming, so the newest lose units first: ORD-3's DC2 part (1, nothing left: lost),
-- then 1 of ORD-1's 3. broken_preorders lists them for the ERP.
SELECT count(*) FROM receive('CONSOLE', 'DC2', 2, 'PO-2');
SELECT count(*) FROM cancel_expected('CONSOLE', 'DC2', 'PO-2');
SELECT channel, ref, location, broken, still_awaited, held, status FROM broken_preorders ORDER BY hold;
-- Damage before put-away breaks them too: 2 go to QC, 1 fails.
SELECT count(*) FROM put_away('CONSOLE', 'DC2', 2, qc => true);
SELECT count(*) FROM qc_fail('CONSOLE', 'DC2', 1);
SELECT ref, location, broken, still_awaited, status FROM broken_preorders ORDER BY hold;
-- The unit that passed QC goes to ORD-1, which now holds 1 and awaits nothing.
SELECT from_stage, to_stage, qty, channel, ref FROM qc_pass('CONSOLE', 'DC2', 1);
SELECT * FROM pg_temp.holds WHERE location = 'DC2';

-- 6. Releasing a preorder: what it awaited may be preordered again.
SELECT count(*) FROM expect('CONSOLE', 'DC1', 5, 'PO-4', current_date + 20);
SELECT ref, location, preorder_qty, preorder_eta - current_date AS due_in_days
  FROM preorder('web', 'CONSOLE', 2, 'ORD-5');
SELECT preorderable('CONSOLE', 'web') AS before;
SELECT release('web', 'ORD-5') AS released;
SELECT preorderable('CONSOLE', 'web') AS after;
SELECT ref, location, awaited, status FROM pg_temp.holds WHERE ref = 'ORD-5';

-- 7. Storefronts hear of it: while a channel takes preorders, stock on its way advances the
-- SKU's version like an ATP change, and what may be preordered is published beside ATP.
SELECT version AS before FROM sku WHERE code = 'CONSOLE' \gset
SELECT count(*) FROM expect('CONSOLE', 'DC2', 3, 'PO-5', current_date + 7);
SELECT version - :before AS advanced, change_cause FROM sku WHERE code = 'CONSOLE';
SELECT atp, preorderable FROM atp_published WHERE sku = 'CONSOLE';

-- 8. A channel no longer allowed takes no new preorders; those it took stay.
SELECT ref, preorder_qty FROM preorder('web', 'CONSOLE', 1, 'ORD-6');
SELECT allow_preorders('web', false);
SELECT * FROM preorder('web', 'CONSOLE', 1, 'ORD-7');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT ref, location, awaited, status FROM pg_temp.holds WHERE ref = 'ORD-6';

-- Every unit still adds up.
SELECT * FROM verify();
