-- Counts (docs/design.md §5): short picks, blind counts, the cycle count plan; and the truth checks of
-- docs/design.md §7 and §10 built on them: lag_stats, readiness, atp_timeline.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
DROP ROLE IF EXISTS it_picker, it_supervisor;
RESET client_min_messages;
SET search_path = inventory_truth, public;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never
-- A hold as the ERP sees it.
\set held 'channel, ref, qty, open_qty, lost_qty, status'

SELECT add_location('DC1'), add_location('DC2');
SELECT add_channel('amazon', priority => 10, kind => 'marketplace'),
       add_channel('web', priority => 20, buffer => 1),
       add_channel('wholesale', priority => 30, kind => 'wholesale');
CREATE FUNCTION pg_temp.shelve(sku text, location text, qty bigint) RETURNS void
LANGUAGE sql AS $$
    SELECT count(*) FROM inventory_truth.receive(sku, location, qty);
    SELECT count(*) FROM inventory_truth.put_away(sku, location, qty);
$$;

------------------------------------------------------------------------------------------------
-- 1. A short pick. Bin DC1 holds 10 mugs as far as the system knows: Amazon has a fence of 2
-- and holds 2 of them, the web holds 3, wholesale 1; 4 are available.
SELECT pg_temp.shelve('MUG', 'DC1', 10);
SELECT set_ringfence('amazon', 'MUG', units => 2);
SELECT reserve('amazon', 'MUG', 2, 'A-1'), reserve('web', 'MUG', 3, 'W-1'),
       reserve('wholesale', 'MUG', 1, 'WH-1');
SELECT * FROM stock('MUG');
SELECT atp('MUG', 'web') AS web, atp('MUG', 'amazon') AS amazon, version FROM sku WHERE code = 'MUG';

-- The picker finds 3 in the bin. In the picker's own transaction the 7 missing units leave:
-- the 4 available ones first, so the storefront stops selling at this commit, then 3 held
-- ones (lowest-priority channel first, then the newest hold): wholesale's 1 and 2 of the
-- web's 3. The blind count task is returned. The SKU's version advances: storefronts hear of
-- the new ATP at this commit.
BEGIN;
SELECT short_pick('MUG', 'DC1', 3, ref => 'PICK-77') AS task \gset
SELECT atp('MUG', 'web') AS web, atp('MUG', 'amazon') AS amazon, version FROM sku WHERE code = 'MUG';
COMMIT;
SELECT * FROM stock('MUG');
SELECT from_stage, to_stage, qty, channel, ref, reason FROM movement
 WHERE reason = 'short pick' ORDER BY id;
-- The holds it broke, for the ERP to re-source or cancel.
SELECT event, event_ref, task = :task AS this_task, channel, ref, lost, still_held, hold_status
  FROM broken_holds ORDER BY hold;
SELECT :held FROM hold WHERE sku = 'MUG' ORDER BY id;
-- The blind count, at top priority. The sheet never shows how many the system expects.
SELECT task = :task AS this_task, sku, location, reason, priority FROM count_sheet;
SELECT column_name FROM information_schema.columns
 WHERE table_schema = 'inventory_truth' AND table_name = 'count_sheet' ORDER BY ordinal_position;
-- The scanner retries (lost acknowledgement): the same task, nothing moves.
SELECT short_pick('MUG', 'DC1', 3, ref => 'PICK-77') = :task AS same_task;
SELECT count(*) AS short_pick_rows FROM movement WHERE reason = 'short pick';
-- The same event reference with another count is a conflict.
SELECT short_pick('MUG', 'DC1', 2, ref => 'PICK-77');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Another short pick at the same bin (no reference) gets the same open task. The bin is down
-- to 3 held units (Amazon 2, the web 1): finding 2 takes the web's last one.
SELECT short_pick('MUG', 'DC1', 2) = :task AS same_task;
SELECT count(*) AS open_tasks FROM count_task WHERE status = 'open';
SELECT * FROM verify();

------------------------------------------------------------------------------------------------
-- 2. The blind count. The counter finds 4 mugs: 2 more than the books (Amazon's 2 held), so 2
-- of the 8 missing units are found and go back to available (the fence refills first, up to
-- its target less what Amazon holds from it: nothing here, so the pool); the other 6 are
-- written off. Counting is a manager's approval: it writes stock off.
SELECT id, from_stage, to_stage, qty, ref, reason FROM submit_count(:task, 4) ORDER BY id;
SELECT * FROM stock('MUG');
SELECT status, counted_qty, system_qty, missing_qty, movements IS NOT NULL AS recorded
  FROM count_task WHERE id = :task;
SELECT count(*) AS open_tasks FROM count_sheet;
-- A retry returns what the count did; another number is a conflict.
SELECT count(*) AS same_rows FROM submit_count(:task, 4);
SELECT count(*) FROM submit_count(:task, 5);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM verify();

-- A count below the books: 6 cups in DC2 (web holds 4), the counter finds 1. The 2 available
-- are a count loss, 3 of the web's held ones go missing and are written off: the hold is
-- named in broken_holds.
SELECT pg_temp.shelve('CUP', 'DC2', 6);
SELECT reserve('web', 'CUP', 4, 'W-9');
SELECT short_pick('CUP', 'DC2', 6) AS cup_task \gset
SELECT count(*) AS moved FROM movement WHERE sku = 'CUP' AND reason = 'short pick';
SELECT id, from_stage, to_stage, qty, channel, ref, reason FROM submit_count(:cup_task, 1) ORDER BY id;
SELECT * FROM stock('CUP');
SELECT event, task = :cup_task AS this_task, channel, ref, lost, still_held, hold_status
  FROM broken_holds WHERE sku = 'CUP';
-- A count above the books with nothing missing is a gain.
SELECT short_pick('CUP', 'DC2', 1) AS cup_task \gset
SELECT from_stage, to_stage, qty, reason FROM submit_count(:cup_task, 3);
SELECT * FROM verify();

-- A count is of the bin at the moment it was counted (occurred_at). 4 bolts; the counter counts
-- 4; a picker then scans 1, recorded before the count is submitted: the books say 3, and so
-- does the count once the pick is taken into account. Nothing moves: a pick is not a loss.
SELECT pg_temp.shelve('BOLT', 'DC2', 4);
SELECT short_pick('BOLT', 'DC2', 4) AS bolt_task \gset
SELECT created_at + interval '1 millisecond' AS counted_at FROM count_task WHERE id = :bolt_task \gset
SELECT count(*) FROM pick('BOLT', 'DC2', 1, occurred_at => :'counted_at'::timestamptz + interval '1 second');
-- A count cannot be older than its task, nor fewer than what left the bin after it. (Their
-- DETAIL, left out here, gives the times.)
\set VERBOSITY terse
SELECT submit_count(:bolt_task, 4, occurred_at => :'counted_at'::timestamptz - interval '1 minute');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT submit_count(:bolt_task, 0, occurred_at => :'counted_at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT count(*) AS moved FROM submit_count(:bolt_task, 4, occurred_at => :'counted_at');
SELECT counted_qty, moved_since, system_qty FROM count_task WHERE id = :bolt_task;
SELECT * FROM stock('BOLT');

------------------------------------------------------------------------------------------------
-- 3. The cycle count plan: the bins with the most units pick-scanned in the window, not counted
-- recently, never a second open task. Picks per bin: PEN 9, CAP 7, HAT 5, BAG 3 (all DC1),
-- and 4 SOCKs picked 40 days ago (outside the window).
SELECT pg_temp.shelve(s, 'DC1', 20) FROM unnest(ARRAY['PEN', 'CAP', 'HAT', 'BAG', 'SOCK']) s;
SELECT count(*) FROM (SELECT pick('PEN', 'DC1', 9) UNION ALL SELECT pick('CAP', 'DC1', 7)
                      UNION ALL SELECT pick('HAT', 'DC1', 5) UNION ALL SELECT pick('BAG', 'DC1', 3)) picks;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, occurred_at)
VALUES ('SOCK', 'DC1', 'available', 'picked', 4, now() - interval '40 days');
-- CAP was counted two days ago (a count of 13 at a bin believed to hold 13), HAT twenty days
-- ago: CAP is skipped, HAT is due again. (The test writes that history into count_task.)
SELECT short_pick('CAP', 'DC1', 13) AS cap_task, short_pick('HAT', 'DC1', 15) AS hat_task \gset
SELECT count(*) FROM (SELECT submit_count(:cap_task, 13) UNION ALL SELECT submit_count(:hat_task, 15)) counts;
UPDATE count_task SET created_at = created_at - interval '2 days', counted_at = counted_at - interval '2 days',
                      submitted_at = submitted_at - interval '2 days'
 WHERE id = :cap_task;
UPDATE count_task SET created_at = created_at - interval '20 days', counted_at = counted_at - interval '20 days',
                      submitted_at = submitted_at - interval '20 days'
 WHERE id = :hat_task;
-- MUG and CUP were counted above; of the rest, the top 2 by velocity:
SELECT sku, location, picked FROM plan_cycle_counts(2);
SELECT task IS NOT NULL AS listed, sku, reason, priority FROM count_sheet;
-- Planning again adds the next one and never a second task for a bin.
SELECT sku, location, picked FROM plan_cycle_counts(5);
SELECT sku, count(*) AS open_tasks FROM count_task WHERE status = 'open' GROUP BY sku ORDER BY sku;
-- A wider window reaches SOCK's old pick; a shorter recount interval brings CAP back.
SELECT sku, picked FROM plan_cycle_counts(5, velocity_window => '60 days', recount_after => '1 day');
-- A short pick at a bin with an open cycle count raises that task to the top.
SELECT short_pick('BAG', 'DC1', 17) = (SELECT id FROM count_task WHERE sku = 'BAG' AND status = 'open') AS same_task;
SELECT sku, reason, priority FROM count_sheet LIMIT 1;

------------------------------------------------------------------------------------------------
-- 4. Bad input: a specific SQLSTATE, and nothing changed.
SELECT (SELECT count(*) FROM movement) AS movements_before,
       (SELECT count(*) FROM count_task) AS tasks_before \gset
SELECT short_pick('NOPE', 'DC1', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT short_pick('MUG', 'DC9', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT short_pick('MUG', 'DC1', -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT short_pick('MUG', 'DC1', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT short_pick('MUG', 'DC1', 0, ref => ' bad ref');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT short_pick('MUG', 'DC1', 0, occurred_at => 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT submit_count(987654, 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT submit_count(NULL, 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT submit_count((SELECT min(task) FROM count_sheet), -3);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT plan_cycle_counts(0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT plan_cycle_counts(5, velocity_window => '-1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lag_stats('0 seconds');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT readiness(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT atp_timeline('MUG', 'ebay');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM movement) = :movements_before AS ledger_unchanged,
       (SELECT count(*) FROM count_task) = :tasks_before AS tasks_unchanged;

-- Who may do what: pickers report short picks and plan counts; submitting a count (which
-- writes off) is a manager's.
CREATE ROLE it_picker LOGIN IN ROLE inventory_truth_floor;
CREATE ROLE it_supervisor LOGIN IN ROLE inventory_truth_manager;
SET ROLE it_picker;
SELECT short_pick('PEN', 'DC1', 11) AS pen_task \gset
SELECT count(*) AS sheet_rows FROM count_sheet;
SELECT submit_count(:pen_task, 11);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET ROLE it_supervisor;
SELECT count(*) AS moved FROM submit_count(:pen_task, 11);
RESET ROLE;
SELECT actor, counted_by FROM short_pick s JOIN count_task t ON t.id = s.task WHERE s.task = :pen_task;

------------------------------------------------------------------------------------------------
-- 5. lag_stats: commit time minus physical event time, per kind of event. Ten QC failures
-- scanned 1, 2, ..., 10 minutes before the one transaction that records them: the
-- nearest-rank p50 is the 5th lag (5 minutes), p95 the 10th, max 10 minutes (plus the few
-- milliseconds the transaction took, cut off here).
SELECT count(*) FROM receive('LAMP', 'DC1', 10), put_away('LAMP', 'DC1', 10, qc => true);
SELECT count(*) FROM generate_series(1, 10) n,
       qc_fail('LAMP', 'DC1', 1, occurred_at => now() - n * interval '1 minute');
SELECT event, movements, units, date_trunc('second', p50) AS p50, date_trunc('second', p95) AS p95,
       date_trunc('second', max) AS max
  FROM lag_stats() WHERE to_stage = 'damaged';
-- Every kind of event recorded today is there.
SELECT event, from_stage, to_stage, movements, units FROM lag_stats('1 day');

------------------------------------------------------------------------------------------------
-- 6. readiness() on a crafted store.
--   1. Pick scans: the WMS sends each pick scan (20 s late) just before it ships the order, so
--      the units leave ATP only as they ship: fail.
--   2. Buffers: the best seller (BOX, on the web) has buffer 1 on the web and 3 on Amazon: warn.
--   3. Wholesale: fenced at 20% for every SKU: pass.
--   4. Damage: found 20 minutes before it was recorded: warn (more than 5 minutes).
DROP EXTENSION inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
SELECT add_location('DC1');
SELECT add_channel('amazon', priority => 10, buffer => 3, kind => 'marketplace'),
       add_channel('web', priority => 20, buffer => 1),
       add_channel('wholesale', priority => 30, kind => 'wholesale');
SELECT pg_temp.shelve(s, 'DC1', 50) FROM unnest(ARRAY['BOX', 'TAPE']) s;
SELECT set_ringfence('wholesale', NULL, percent => 20);
SELECT count(*) FROM generate_series(1, 5) n,
       reserve('web', 'BOX', 2, 'W-' || n) r;
SELECT reserve('wholesale', 'BOX', 5, 'B-1'), reserve('wholesale', 'TAPE', 5, 'B-2');
SELECT count(*) FROM generate_series(1, 5) n,
       pick('BOX', 'DC1', 2, 'W-' || n, occurred_at => now() - interval '20 seconds');
SELECT count(*) FROM ship('BOX', 'DC1', 10);
SELECT count(*) FROM report_damage('TAPE', 'DC1', 1, occurred_at => now() - interval '20 minutes');
SELECT item, question, status, evidence FROM readiness();
SELECT item, status, advice FROM readiness() WHERE status <> 'pass';
SELECT figures FROM readiness() WHERE item = 2;
-- A SKU's own rule overrides the every-SKU rule: a 0-unit rule for TAPE leaves it unfenced.
SELECT set_ringfence('wholesale', 'TAPE', units => 0);
SELECT status, evidence FROM readiness() WHERE item = 3;
SELECT clear_ringfence('wholesale', 'TAPE');

------------------------------------------------------------------------------------------------
-- 7. atp_timeline: today's ATP plus what is in the building and what is due, by ETA. BOX now:
-- 35 available, 5 of them in wholesale's fence (20% of the 50 put away, less the 5 it holds),
-- so the web (buffer 1) sees 29.
SELECT * FROM stock('BOX');
SELECT atp('BOX', 'web') AS web, atp('BOX', 'wholesale') AS wholesale;
-- 8 arrive on the dock today, 40 are due in 3 days, 100 in 10 days; 12 more were due
-- yesterday (late: counted today). Wholesale's fence refills to its target (20% of the
-- available units, less the 5 it holds) before the pool gets the rest. Today 55: the target
-- is 11 - 5 = 6 (1 more than it has), the web sees 55 - 6 - 1 = 48. In 3 days 95: 19 - 5 =
-- 14, the web 80. In 10 days 195: 39 - 5 = 34, the web 160.
SELECT count(*) FROM receive('BOX', 'DC1', 8);
SELECT count(*) FROM (SELECT expect('BOX', 'DC1', 40, 'PO-1', current_date + 3)
                      UNION ALL SELECT expect('BOX', 'DC1', 100, 'PO-2', current_date + 10)
                      UNION ALL SELECT expect('BOX', 'DC1', 12, 'PO-0', current_date - 1)) expected;
SELECT day - current_date AS in_days, inbound, in_building, atp FROM atp_timeline('BOX', 'web');
SELECT day - current_date AS in_days, inbound, in_building, atp FROM atp_timeline('BOX', 'wholesale');
-- The projection is what happens: put away what is on the dock, receive the overdue 12 and put
-- them away, and today's ATP is what today's row said; then the 40 due in 3 days.
SELECT atp AS projected_web FROM atp_timeline('BOX', 'web') WHERE day = current_date \gset
SELECT atp AS projected_wholesale FROM atp_timeline('BOX', 'wholesale') WHERE day = current_date \gset
SELECT count(*) FROM put_away('BOX', 'DC1', 8);
SELECT count(*) FROM receive('BOX', 'DC1', 12, 'PO-0');
SELECT count(*) FROM put_away('BOX', 'DC1', 12);
SELECT atp('BOX', 'web') = :projected_web AS web_as_projected,
       atp('BOX', 'wholesale') = :projected_wholesale AS wholesale_as_projected;
SELECT atp AS projected_web FROM atp_timeline('BOX', 'web') WHERE day = current_date + 3 \gset
SELECT count(*) FROM receive('BOX', 'DC1', 40, 'PO-1');
SELECT count(*) FROM put_away('BOX', 'DC1', 40);
SELECT atp('BOX', 'web') = :projected_web AS web_as_projected;
-- A SKU with nothing anywhere: one row, today, zero.
SELECT count(*) FROM expect('NEW', 'DC1', 5, 'PO-3', current_date + 1);
SELECT count(*) FROM cancel_expected('NEW', 'DC1', 'PO-3');
SELECT day = current_date AS today, inbound, in_building, atp FROM atp_timeline('NEW', 'web');

RESET ROLE;
DROP ROLE it_picker, it_supervisor;
