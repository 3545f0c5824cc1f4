-- The bad input catalogue (docs/design.md §8, docs/reference.md "SQLSTATEs"): bad input gets a clear
-- message naming the problem, a specific SQLSTATE, and changes nothing.
--
-- Every numbered case says what it tries and which SQLSTATE the spec expects, runs it, echoes
-- the SQLSTATE psql saw (:SQLSTATE, so an unexpected success shows as 00000 rather than the
-- previous error), and checks that no row of any of the extension's tables changed. Cases
-- that span a transaction echo the SQLSTATE at the call and at COMMIT: an error that only
-- comes at COMMIT is reported as such. The last query lists every case that did not get the
-- expected SQLSTATE at the call or changed something: it must be empty.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
RESET client_min_messages;
SET search_path = inventory_truth, public;
SET TimeZone = 'UTC';
-- Publish from the committing transaction (the mode without preload), whatever the cluster.
SET inventory_truth.notify_mode = 'direct';
\set SHOW_CONTEXT never
-- Some messages and details carry times, ids or (for a Rust panic) a backtrace.
\set VERBOSITY terse

------------------------------------------------------------------------------------------------
-- A small store: two locations, three channels (wholesale fenced), stock in most stages,
-- holds (one released), an expected receipt, an open count task and a counted one.
SELECT add_location('DC1'), add_location('DC2');
SELECT add_channel('amazon', priority => 10, kind => 'marketplace'),
       add_channel('web', priority => 20, buffer => 1),
       add_channel('wholesale', priority => 30, kind => 'wholesale');
-- MUG at DC1: 10 expected (PO-1), 6 arrived, 4 on the shelf, 1 in QC, 1 on the dock.
SELECT count(*) FROM expect('MUG', 'DC1', 10, 'PO-1', '2030-12-01');
SELECT count(*) FROM receive('MUG', 'DC1', 6, 'PO-1');
SELECT count(*) FROM put_away('MUG', 'DC1', 4);
SELECT count(*) FROM put_away('MUG', 'DC1', 1, qc => true);
SELECT set_ringfence('wholesale', 'MUG', units => 2);
-- MUG at DC2: 6 put away, 3 picked, 2 shipped, 1 of those returned, 1 damaged.
SELECT count(*) FROM receive('MUG', 'DC2', 6);
SELECT count(*) FROM put_away('MUG', 'DC2', 6);
SELECT count(*) FROM pick('MUG', 'DC2', 3, 'P-1');
SELECT count(*) FROM ship('MUG', 'DC2', 2, 'P-1');
SELECT count(*) FROM receive_return('MUG', 'DC2', 1, 'RMA-1');
SELECT count(*) FROM report_damage('MUG', 'DC2', 1);
-- TEE: 6 at DC1, 2 at DC2; the web keeps a buffer of 2 of it.
SELECT count(*) FROM receive('TEE', 'DC1', 6);
SELECT count(*) FROM put_away('TEE', 'DC1', 6);
SELECT count(*) FROM receive('TEE', 'DC2', 2);
SELECT count(*) FROM put_away('TEE', 'DC2', 2);
SELECT set_buffer('web', 'TEE', 2);
-- Holds: the web's W-1 (1 MUG at DC1), Amazon's order A-1 (1 MUG, 1 TEE), the web's W-0 (released).
SELECT reserve('web', 'MUG', 1, 'W-1', location => 'DC1') AS w1;
SELECT * FROM reserve_order('amazon', 'A-1', '[{"sku": "MUG", "qty": 1}, {"sku": "TEE", "qty": 1}]');
SELECT reserve('web', 'TEE', 1, 'W-0') AS w0;
SELECT release('web', 'W-0') AS released;
-- A short pick of TEE at DC1 (4 found of 6 believed) opens a blind count task.
SELECT short_pick('TEE', 'DC1', 4, ref => 'SP-1') AS task \gset
-- CAP: 3 on the shelf, a count task (nothing short) already counted at 3.
SELECT count(*) FROM receive('CAP', 'DC1', 3);
SELECT count(*) FROM put_away('CAP', 'DC1', 3);
SELECT short_pick('CAP', 'DC1', 3, ref => 'SP-2') AS counted_task \gset
SELECT count(*) FROM submit_count(:counted_task, 3);
SELECT * FROM stock('MUG');
SELECT * FROM stock('TEE');
SELECT status, count(*) FROM count_task GROUP BY status ORDER BY status;
SELECT * FROM verify();

-- A fingerprint of every row of every table of the extension's schema, found from the catalog
-- so that no table is forgotten (sequences are left out: a refused movement may use up an id).
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
    rows text;
    parts text[] := '{}';
BEGIN
    FOR t IN SELECT c.oid::regclass FROM pg_class c
              WHERE c.relnamespace = 'inventory_truth'::regnamespace AND c.relkind IN ('r', 'p')
              ORDER BY c.relname
    LOOP
        EXECUTE format('SELECT %L || '': '' || coalesce(string_agg(x::text, '','' ORDER BY x::text), '''') FROM %s x',
                       t::text, t)
           INTO rows;
        parts := parts || rows;
    END LOOP;
    RETURN md5(array_to_string(parts, E'\n'));
END
$$;
CREATE TEMP TABLE baseline AS SELECT pg_temp.state() AS state;
-- One row per case: what the spec expects, what happened, whether anything changed.
CREATE TEMP TABLE cases (n int PRIMARY KEY, expected text NOT NULL, got text NOT NULL, unchanged boolean);
CREATE FUNCTION pg_temp.verdict(n int, expected text, at_call text, at_commit text DEFAULT '00000')
RETURNS boolean LANGUAGE sql AS $$
    INSERT INTO pg_temp.cases (n, expected, got, unchanged)
    VALUES (n, expected,
            CASE WHEN at_call <> '00000' THEN at_call
                 WHEN at_commit <> '00000' THEN at_commit || ' at COMMIT'
                 ELSE '00000' END,
            (SELECT pg_temp.state() = b.state FROM pg_temp.baseline b))
    RETURNING unchanged
$$;
SELECT pg_temp.state() = state AS fingerprint_is_stable FROM baseline;

------------------------------------------------------------------------------------------------
-- A. Zero, negative and overflowing quantities.

-- 1. put_away of 0 units: 22023.
SELECT * FROM put_away('MUG', 'DC1', 0);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(1, '22023', :'SQLSTATE') AS unchanged;
-- 2. pick of -1 unit: 22023.
SELECT * FROM pick('MUG', 'DC1', -1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(2, '22023', :'SQLSTATE') AS unchanged;
-- 3. reserve of 0 units: 22023.
SELECT reserve('web', 'MUG', 0, 'W-9');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(3, '22023', :'SQLSTATE') AS unchanged;
-- 4. expect of -5 units: 22023.
SELECT * FROM expect('MUG', 'DC1', -5, 'PO-9', '2030-12-01');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(4, '22023', :'SQLSTATE') AS unchanged;
-- 5. short_pick that found -1 unit: 22023.
SELECT short_pick('TEE', 'DC1', -1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(5, '22023', :'SQLSTATE') AS unchanged;
-- 6. submit_count of -1 unit: 22023.
SELECT * FROM submit_count(:task, -1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(6, '22023', :'SQLSTATE') AS unchanged;
-- 7. A negative safety buffer for one SKU: 22023.
SELECT set_buffer('web', 'MUG', -1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(7, '22023', :'SQLSTATE') AS unchanged;
-- 8. add_channel with a negative buffer: 22023.
SELECT add_channel('pos', buffer => -1, kind => 'pos');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(8, '22023', :'SQLSTATE') AS unchanged;
-- 9. A ringfence of -1 unit: 22023.
SELECT set_ringfence('amazon', 'MUG', units => -1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(9, '22023', :'SQLSTATE') AS unchanged;
-- 10. An order line of 0 units: 22023.
SELECT * FROM reserve_order('web', 'O-9', '[{"sku": "MUG", "qty": 0}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(10, '22023', :'SQLSTATE') AS unchanged;
-- 11. A direct ledger row of -3 units: 22023.
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC1', 'available', 'picked', -3);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(11, '22023', :'SQLSTATE') AS unchanged;

-- The smallest bigint is a quantity <= 0 like any other (its absolute value is no bigint).
-- 12. put_away of -9223372036854775808: 22023.
SELECT * FROM put_away('MUG', 'DC1', -9223372036854775808);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(12, '22023', :'SQLSTATE') AS unchanged;
-- 13. reserve of -9223372036854775808: 22023.
SELECT reserve('web', 'MUG', -9223372036854775808, 'W-9');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(13, '22023', :'SQLSTATE') AS unchanged;
-- 14. A ringfence of -9223372036854775808 units: 22023.
SELECT set_ringfence('amazon', 'MUG', units => -9223372036854775808);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(14, '22023', :'SQLSTATE') AS unchanged;
-- 15. cancel_expected of -9223372036854775808 units: 22023.
SELECT * FROM cancel_expected('MUG', 'DC1', 'PO-1', -9223372036854775808);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(15, '22023', :'SQLSTATE') AS unchanged;
-- 16. A direct ledger row of -9223372036854775808 units: 22023.
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC1', 'available', 'picked', -9223372036854775808);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(16, '22023', :'SQLSTATE') AS unchanged;

-- Quantities whose sums overflow bigint: refused up front as bad quantities (22023), never a
-- bare "bigint out of range" (22003) from the arithmetic, never an error at COMMIT.
-- 17. receive of 9223372036854775807 MUG at DC1, where 1 is already on the dock: 22023.
SELECT * FROM receive('MUG', 'DC1', 9223372036854775807);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(17, '22023', :'SQLSTATE') AS unchanged;
-- 18. expect of 9223372036854775807 MUG at DC1, where 4 are already inbound: 22023.
SELECT * FROM expect('MUG', 'DC1', 9223372036854775807, 'PO-2', '2030-12-01');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(18, '22023', :'SQLSTATE') AS unchanged;
-- 19. pick of 9223372036854775807 MUG at DC2, which has 2 available: more than any movement
-- may name (10^12 units), 22023, before any stock is looked at.
SELECT * FROM pick('MUG', 'DC2', 9223372036854775807);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(19, '22023', :'SQLSTATE') AS unchanged;
-- 20. ship of 9223372036854775807 MUG at DC2, which has 1 picked: the same, 22023.
SELECT * FROM ship('MUG', 'DC2', 9223372036854775807);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(20, '22023', :'SQLSTATE') AS unchanged;
-- 21. reserve of 9223372036854775807 MUG for the web: above 10^12 units, 22023 (before any
-- question of stock).
SELECT reserve('web', 'MUG', 9223372036854775807, 'W-9');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(21, '22023', :'SQLSTATE') AS unchanged;
-- 22. An order line of 9223372036854775808 units (no bigint): a malformed line, 22023.
SELECT * FROM reserve_order('web', 'O-9', '[{"sku": "MUG", "qty": 9223372036854775808}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(22, '22023', :'SQLSTATE') AS unchanged;
-- 23. A direct count gain of 9223372036854775807 MUG at DC1, which has 2 available: 22023.
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC1', NULL, 'available', 9223372036854775807);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(23, '22023', :'SQLSTATE') AS unchanged;
-- 24. An arrival of 10^12 MUG at DC2 (as many as a movement may name), where MUG has units
-- already: DC2 would hold more than 10^12 MUG over all stages, which no location may (so no
-- sum of stock can overflow): 22023 at the call, not an error at COMMIT.
BEGIN;
SELECT count(*) FROM receive('MUG', 'DC2', 1000000000000);
\set at_call :SQLSTATE
COMMIT;
\echo SQLSTATE at the call :at_call, at COMMIT :SQLSTATE
SELECT pg_temp.verdict(24, '22023', :'at_call', :'SQLSTATE') AS unchanged;
-- 25. A count of 9223372036854775807 TEE at DC1 (TEE also has 2 at DC2): the same, 22023 at
-- submit_count, not an error at COMMIT.
BEGIN;
SELECT count(*) FROM submit_count(:task, 9223372036854775807);
\set at_call :SQLSTATE
COMMIT;
\echo SQLSTATE at the call :at_call, at COMMIT :SQLSTATE
SELECT pg_temp.verdict(25, '22023', :'at_call', :'SQLSTATE') AS unchanged;
-- 26. An expected receipt of 9223372036854775807 MUG at DC2 (none inbound there yet): MUG's
-- projected stock (atp_timeline) would pass bigint, 22023 at expect. Run in a transaction
-- that is rolled back, so that accepting it cannot spoil the cases below; the atp_timeline
-- call shows what accepting it breaks (refused: the transaction is aborted).
BEGIN;
SELECT count(*) FROM expect('MUG', 'DC2', 9223372036854775807, 'PO-H', '2030-12-01');
\set at_call :SQLSTATE
SELECT count(*) AS days FROM atp_timeline('MUG', 'web');
ROLLBACK;
\echo SQLSTATE :at_call
SELECT pg_temp.verdict(26, '22023', :'at_call') AS unchanged;

------------------------------------------------------------------------------------------------
-- B. NULL in every required argument: 22004 (a direct ledger row without sku, location, qty or
-- occurred_at: 23502).

-- 27-31. reserve(channel, sku, qty, ref, ttl, location, occurred_at); ttl and location may be NULL.
SELECT reserve(NULL, 'MUG', 1, 'W-9');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(27, '22004', :'SQLSTATE') AS unchanged;
SELECT reserve('web', NULL, 1, 'W-9');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(28, '22004', :'SQLSTATE') AS unchanged;
SELECT reserve('web', 'MUG', NULL, 'W-9');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(29, '22004', :'SQLSTATE') AS unchanged;
SELECT reserve('web', 'MUG', 1, NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(30, '22004', :'SQLSTATE') AS unchanged;
SELECT reserve('web', 'MUG', 1, 'W-9', occurred_at => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(31, '22004', :'SQLSTATE') AS unchanged;
-- 32-35. reserve_order(channel, ref, lines, ttl, occurred_at); ttl may be NULL.
SELECT * FROM reserve_order(NULL, 'O-9', '[{"sku": "MUG", "qty": 1}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(32, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM reserve_order('web', NULL, '[{"sku": "MUG", "qty": 1}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(33, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM reserve_order('web', 'O-9', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(34, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM reserve_order('web', 'O-9', '[{"sku": "MUG", "qty": 1}]', occurred_at => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(35, '22004', :'SQLSTATE') AS unchanged;
-- 36-38. release(channel, ref, occurred_at).
SELECT release(NULL, 'W-1');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(36, '22004', :'SQLSTATE') AS unchanged;
SELECT release('web', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(37, '22004', :'SQLSTATE') AS unchanged;
SELECT release('web', 'W-1', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(38, '22004', :'SQLSTATE') AS unchanged;
-- 39-42. receive(sku, location, qty, ref, occurred_at); ref may be NULL.
SELECT * FROM receive(NULL, 'DC1', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(39, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM receive('MUG', NULL, 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(40, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM receive('MUG', 'DC1', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(41, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM receive('MUG', 'DC1', 1, occurred_at => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(42, '22004', :'SQLSTATE') AS unchanged;
-- 43-47. put_away(sku, location, qty, qc, occurred_at).
SELECT * FROM put_away(NULL, 'DC1', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(43, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM put_away('MUG', NULL, 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(44, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM put_away('MUG', 'DC1', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(45, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM put_away('MUG', 'DC1', 1, qc => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(46, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM put_away('MUG', 'DC1', 1, occurred_at => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(47, '22004', :'SQLSTATE') AS unchanged;
-- 48-51. pick(sku, location, qty, ref, occurred_at, channel); ref and channel may be NULL.
SELECT * FROM pick(NULL, 'DC1', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(48, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM pick('MUG', NULL, 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(49, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM pick('MUG', 'DC1', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(50, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM pick('MUG', 'DC1', 1, occurred_at => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(51, '22004', :'SQLSTATE') AS unchanged;
-- 52-55. ship(sku, location, qty, ref, occurred_at); ref may be NULL.
SELECT * FROM ship(NULL, 'DC2', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(52, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM ship('MUG', NULL, 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(53, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM ship('MUG', 'DC2', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(54, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM ship('MUG', 'DC2', 1, occurred_at => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(55, '22004', :'SQLSTATE') AS unchanged;
-- 56-61. expect(sku, location, qty, ref, eta, occurred_at).
SELECT * FROM expect(NULL, 'DC1', 1, 'PO-9', '2030-12-01');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(56, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM expect('MUG', NULL, 1, 'PO-9', '2030-12-01');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(57, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM expect('MUG', 'DC1', NULL, 'PO-9', '2030-12-01');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(58, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM expect('MUG', 'DC1', 1, NULL, '2030-12-01');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(59, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM expect('MUG', 'DC1', 1, 'PO-9', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(60, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM expect('MUG', 'DC1', 1, 'PO-9', '2030-12-01', occurred_at => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(61, '22004', :'SQLSTATE') AS unchanged;
-- 62-63. set_ringfence(channel, sku, units, percent): sku NULL is every SKU; units and percent
-- both NULL is not exactly one of them (22023).
SELECT set_ringfence(NULL, 'MUG', units => 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(62, '22004', :'SQLSTATE') AS unchanged;
SELECT set_ringfence('amazon', 'MUG', units => NULL, percent => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(63, '22023', :'SQLSTATE') AS unchanged;
-- 64-65. set_buffer(channel, sku, units): units NULL removes a SKU's own buffer, but a
-- channel's default (sku NULL) cannot be NULL.
SELECT set_buffer(NULL, 'MUG', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(64, '22004', :'SQLSTATE') AS unchanged;
SELECT set_buffer('web', NULL, NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(65, '22004', :'SQLSTATE') AS unchanged;
-- 66-69. add_channel(code, priority, buffer, kind).
SELECT add_channel(NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(66, '22004', :'SQLSTATE') AS unchanged;
SELECT add_channel('pos', priority => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(67, '22004', :'SQLSTATE') AS unchanged;
SELECT add_channel('pos', buffer => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(68, '22004', :'SQLSTATE') AS unchanged;
SELECT add_channel('pos', kind => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(69, '22004', :'SQLSTATE') AS unchanged;
-- 70-73. short_pick(sku, location, found, ref, occurred_at); ref may be NULL.
SELECT short_pick(NULL, 'DC1', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(70, '22004', :'SQLSTATE') AS unchanged;
SELECT short_pick('TEE', NULL, 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(71, '22004', :'SQLSTATE') AS unchanged;
SELECT short_pick('TEE', 'DC1', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(72, '22004', :'SQLSTATE') AS unchanged;
SELECT short_pick('TEE', 'DC1', 1, occurred_at => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(73, '22004', :'SQLSTATE') AS unchanged;
-- 74-76. submit_count(task, counted, occurred_at).
SELECT * FROM submit_count(NULL, 4);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(74, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM submit_count(:task, NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(75, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM submit_count(:task, 4, NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(76, '22004', :'SQLSTATE') AS unchanged;
-- 77-82. The other functions' required arguments.
SELECT add_location(NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(77, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM report_damage('MUG', 'DC1', 1, from_stage => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(78, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM inspect_return('MUG', 'DC2', 1, resale => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(79, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM write_off('MUG', 'DC2', 1, from_stage => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(80, '22004', :'SQLSTATE') AS unchanged;
SELECT * FROM cancel_expected('MUG', 'DC1', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(81, '22004', :'SQLSTATE') AS unchanged;
SELECT atp(NULL, 'web');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(82, '22004', :'SQLSTATE') AS unchanged;
-- 83-86. Direct ledger rows: without sku, qty or occurred_at (23502); into committed without
-- a ref naming the hold (22004).
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES (NULL, 'DC1', 'available', 'picked', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(83, '23502', :'SQLSTATE') AS unchanged;
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC1', 'available', 'picked', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(84, '23502', :'SQLSTATE') AS unchanged;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, occurred_at)
VALUES ('MUG', 'DC1', 'available', 'picked', 1, NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(85, '23502', :'SQLSTATE') AS unchanged;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel)
VALUES ('MUG', 'DC1', 'available', 'committed', 1, 'web');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(86, '22004', :'SQLSTATE') AS unchanged;

------------------------------------------------------------------------------------------------
-- C. Unknown SKU, channel, location, reference, count task: 42704.

-- 87. pick of an unknown SKU.
SELECT * FROM pick('NOPE', 'DC1', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(87, '42704', :'SQLSTATE') AS unchanged;
-- 88. reserve for an unknown channel.
SELECT reserve('ebay', 'MUG', 1, 'E-1');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(88, '42704', :'SQLSTATE') AS unchanged;
-- 89. put_away at an unknown location.
SELECT * FROM put_away('MUG', 'DC9', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(89, '42704', :'SQLSTATE') AS unchanged;
-- 90. release of an unknown hold reference.
SELECT release('web', 'W-404');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(90, '42704', :'SQLSTATE') AS unchanged;
-- 91. submit_count of an unknown task.
SELECT * FROM submit_count(999999, 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(91, '42704', :'SQLSTATE') AS unchanged;
-- 92. set_eta of an unknown expected receipt.
SELECT set_eta('MUG', 'DC1', 'PO-404', '2030-12-02');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(92, '42704', :'SQLSTATE') AS unchanged;
-- 93. An order whose second line (in SKU order) names an unknown SKU: all lines or none (the
-- TEE line, which Amazon could have, is not kept).
SELECT * FROM reserve_order('amazon', 'A-9', '[{"sku": "ZZZ", "qty": 1}, {"sku": "TEE", "qty": 1}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(93, '42704', :'SQLSTATE') AS unchanged;
-- 94. An order line at an unknown location.
SELECT * FROM reserve_order('web', 'O-9', '[{"sku": "MUG", "qty": 1, "location": "DC9"}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(94, '42704', :'SQLSTATE') AS unchanged;
-- 95. set_buffer for an unknown SKU.
SELECT set_buffer('web', 'NOPE', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(95, '42704', :'SQLSTATE') AS unchanged;
-- 96. short_pick of an unknown SKU.
SELECT short_pick('NOPE', 'DC1', 0);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(96, '42704', :'SQLSTATE') AS unchanged;
-- 97. clear_ringfence for an unknown channel.
SELECT clear_ringfence('ebay', 'MUG');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(97, '42704', :'SQLSTATE') AS unchanged;
-- 98. atp_timeline of an unknown SKU.
SELECT * FROM atp_timeline('NOPE', 'web');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(98, '42704', :'SQLSTATE') AS unchanged;
-- 99. A direct ledger row for an unknown channel.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel)
VALUES ('MUG', 'DC1', 'available', 'picked', 1, 'ebay');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(99, '42704', :'SQLSTATE') AS unchanged;
-- 100. A direct release of a hold that does not exist.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('MUG', 'DC1', 'committed', 'available', 1, 'web', 'W-404');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(100, '42704', :'SQLSTATE') AS unchanged;

------------------------------------------------------------------------------------------------
-- D. Stage transitions the rules do not allow: IT002.

-- 101. available -> shipped, skipping the pick scan.
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC1', 'available', 'shipped', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(101, 'IT002', :'SQLSTATE') AS unchanged;
-- 102. shipped -> available (a return goes through quarantine).
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC2', 'shipped', 'available', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(102, 'IT002', :'SQLSTATE') AS unchanged;
-- 103. inbound -> available, skipping the dock.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, ref)
VALUES ('MUG', 'DC1', 'inbound', 'available', 1, 'PO-1');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(103, 'IT002', :'SQLSTATE') AS unchanged;
-- 104. missing -> committed, naming a real hold.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('TEE', 'DC1', 'missing', 'committed', 1, 'web', 'W-1');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(104, 'IT002', :'SQLSTATE') AS unchanged;
-- 105. quarantine -> written_off, skipping the inspection.
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', 'DC2', 'quarantine', 'written_off', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(105, 'IT002', :'SQLSTATE') AS unchanged;
-- 106. available -> inbound.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, ref)
VALUES ('MUG', 'DC1', 'available', 'inbound', 1, 'PO-1');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(106, 'IT002', :'SQLSTATE') AS unchanged;
-- 107. write_off from picked (through the function).
SELECT * FROM write_off('MUG', 'DC2', 1, from_stage => 'picked');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(107, 'IT002', :'SQLSTATE') AS unchanged;
-- 108. write_off from quarantine.
SELECT * FROM write_off('MUG', 'DC2', 1, from_stage => 'quarantine');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(108, 'IT002', :'SQLSTATE') AS unchanged;
-- 109. report_damage from missing.
SELECT * FROM report_damage('TEE', 'DC1', 1, from_stage => 'missing');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(109, 'IT002', :'SQLSTATE') AS unchanged;
-- 110. report_damage from damaged.
SELECT * FROM report_damage('MUG', 'DC2', 1, from_stage => 'damaged');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(110, 'IT002', :'SQLSTATE') AS unchanged;

------------------------------------------------------------------------------------------------
-- E. Ringfence percentages outside 0-100, and rules that are not exactly units or percent: 22023.

-- 111. 100.5 percent.
SELECT set_ringfence('amazon', 'MUG', percent => 100.5);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(111, '22023', :'SQLSTATE') AS unchanged;
-- 112. -0.01 percent, for every SKU.
SELECT set_ringfence('amazon', NULL, percent => -0.01);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(112, '22023', :'SQLSTATE') AS unchanged;
-- 113. NaN percent.
SELECT set_ringfence('amazon', 'MUG', percent => 'NaN');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(113, '22023', :'SQLSTATE') AS unchanged;
-- 114. Infinity percent.
SELECT set_ringfence('amazon', 'MUG', percent => 'Infinity');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(114, '22023', :'SQLSTATE') AS unchanged;
-- 115. Both units and percent.
SELECT set_ringfence('amazon', 'MUG', units => 1, percent => 10);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(115, '22023', :'SQLSTATE') AS unchanged;

------------------------------------------------------------------------------------------------
-- F. A reference reused with other content: IT004.

-- 116. reserve W-1 again with another quantity.
SELECT reserve('web', 'MUG', 2, 'W-1');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(116, 'IT004', :'SQLSTATE') AS unchanged;
-- 117. reserve W-1 again, same quantity, at another location.
SELECT reserve('web', 'MUG', 1, 'W-1', location => 'DC2');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(117, 'IT004', :'SQLSTATE') AS unchanged;
-- 118. reserve W-0 again after it was released.
SELECT reserve('web', 'TEE', 1, 'W-0');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(118, 'IT004', :'SQLSTATE') AS unchanged;
-- 119. reserve_order A-1 again with fewer lines.
SELECT * FROM reserve_order('amazon', 'A-1', '[{"sku": "MUG", "qty": 1}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(119, 'IT004', :'SQLSTATE') AS unchanged;
-- 120. reserve_order A-1 again, same SKUs, another quantity.
SELECT * FROM reserve_order('amazon', 'A-1', '[{"sku": "MUG", "qty": 1}, {"sku": "TEE", "qty": 2}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(120, 'IT004', :'SQLSTATE') AS unchanged;
-- 121. expect PO-1 again with another quantity.
SELECT * FROM expect('MUG', 'DC1', 11, 'PO-1', '2030-12-01');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(121, 'IT004', :'SQLSTATE') AS unchanged;
-- 122. expect PO-1 again with another ETA.
SELECT * FROM expect('MUG', 'DC1', 10, 'PO-1', '2030-12-24');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(122, 'IT004', :'SQLSTATE') AS unchanged;
-- 123. short_pick SP-1 again with another count.
SELECT short_pick('TEE', 'DC1', 3, ref => 'SP-1');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(123, 'IT004', :'SQLSTATE') AS unchanged;
-- 124. short_pick SP-1 again at another location.
SELECT short_pick('TEE', 'DC2', 4, ref => 'SP-1');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(124, 'IT004', :'SQLSTATE') AS unchanged;
-- 125. submit_count of the counted task with another number.
SELECT * FROM submit_count(:counted_task, 2);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(125, 'IT004', :'SQLSTATE') AS unchanged;
-- 126. A direct row into the released hold W-0.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('TEE', 'DC1', 'available', 'committed', 1, 'web', 'W-0');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(126, 'IT004', :'SQLSTATE') AS unchanged;
-- 127. A direct row into hold W-1 (at DC1) at DC2: a part of W-1 at DC2, judged as any direct
-- sale; it takes wholesale's fenced mug there: IT003.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('MUG', 'DC2', 'available', 'committed', 1, 'web', 'W-1');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(127, 'IT003', :'SQLSTATE') AS unchanged;

------------------------------------------------------------------------------------------------
-- G. Codes no scanner sends: over 100 characters, control characters, surrounding spaces:
-- 22023, in the functions and in direct inserts (docs/reference.md, "Codes ...").

-- 128. receive of a 101-character SKU.
SELECT * FROM receive(repeat('S', 101), 'DC1', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(128, '22023', :'SQLSTATE') AS unchanged;
-- 129. add_location with a tab inside.
SELECT add_location(E'DC\t3');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(129, '22023', :'SQLSTATE') AS unchanged;
-- 130. add_channel with a leading space.
SELECT add_channel(' shop');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(130, '22023', :'SQLSTATE') AS unchanged;
-- 131. reserve with a 101-character reference.
SELECT reserve('web', 'MUG', 1, repeat('R', 101));
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(131, '22023', :'SQLSTATE') AS unchanged;
-- 132. expect with a newline in the reference.
SELECT * FROM expect('MUG', 'DC1', 1, E'PO\n2', '2030-12-01');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(132, '22023', :'SQLSTATE') AS unchanged;
-- 133. short_pick with a carriage return in the picker event reference.
SELECT short_pick('TEE', 'DC1', 4, ref => E'SP-1\r');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(133, '22023', :'SQLSTATE') AS unchanged;
-- 134. A direct arrival of a new SKU whose code holds a control character (U+0001).
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES (E'NEW\u0001', 'DC1', NULL, 'receiving', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(134, '22023', :'SQLSTATE') AS unchanged;
-- 135. A direct row with a trailing space in its reference.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, ref)
VALUES ('MUG', 'DC1', 'available', 'picked', 1, 'SO-1 ');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(135, '22023', :'SQLSTATE') AS unchanged;
-- 136. pick of a SKU code ending in a newline (no such code can exist).
SELECT * FROM pick(E'MUG\n', 'DC1', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(136, '22023', :'SQLSTATE') AS unchanged;
-- 137. release with a 101-character reference.
SELECT release('web', repeat('R', 101));
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(137, '22023', :'SQLSTATE') AS unchanged;
-- 138. receive naming an expected receipt with a tab in its reference.
SELECT * FROM receive('MUG', 'DC1', 1, E'PO\t1');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(138, '22023', :'SQLSTATE') AS unchanged;
-- 139. A direct row at a 101-character location.
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', repeat('L', 101), 'available', 'picked', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(139, '22023', :'SQLSTATE') AS unchanged;

------------------------------------------------------------------------------------------------
-- H. SQL-looking strings are data: refused as unknown codes (42704), never executed.

-- 140. pick of the SKU x'); DROP TABLE inventory_truth.movement; --
SELECT * FROM pick($$x'); DROP TABLE inventory_truth.movement; --$$, 'DC1', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(140, '42704', :'SQLSTATE') AS unchanged;
-- 141. reserve for the channel web'; DELETE FROM inventory_truth.hold; --
SELECT reserve($$web'; DELETE FROM inventory_truth.hold; --$$, 'MUG', 1, 'W-9');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(141, '42704', :'SQLSTATE') AS unchanged;
-- 142. release of the reference W-1' OR '1'='1 (W-1 stays held).
SELECT release('web', $$W-1' OR '1'='1$$);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(142, '42704', :'SQLSTATE') AS unchanged;
-- 143. set_buffer for the SKU MUG'); TRUNCATE inventory_truth.balance; --
SELECT set_buffer('web', $$MUG'); TRUNCATE inventory_truth.balance; --$$, 0);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(143, '42704', :'SQLSTATE') AS unchanged;
-- 144. A direct row at the location DC1' --
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('MUG', $$DC1' --$$, 'available', 'picked', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(144, '42704', :'SQLSTATE') AS unchanged;
SELECT to_regclass('inventory_truth.movement') IS NOT NULL AS ledger_still_there,
       (SELECT status FROM hold WHERE channel = 'web' AND ref = 'W-1') AS w1;

------------------------------------------------------------------------------------------------
-- I. NOTIFY payloads. PostgreSQL refuses a payload of 8000 bytes or more, and in direct mode
-- the payload is sent at COMMIT: input that could make one too big must be refused at the
-- call. A payload is the JSON object of sql/notify.sql (_publish): sku, channel, atp,
-- previous_atp, version, cause (a movement or rule name) and changed_at. Only the SKU and
-- channel codes are the caller's, and codes are at most 100 characters (of up to 4 bytes,
-- 2 when JSON escapes them): the largest payload possible is far below the limit.
SELECT octet_length(jsonb_build_object(
           'sku', repeat(U&'\+01D11E', 100), 'channel', repeat(U&'\+01D11E', 100),
           'atp', 9223372036854775807, 'previous_atp', 9223372036854775807,
           'version', 9223372036854775807, 'cause', 'quality_control->available',
           'changed_at', '2026-01-01 00:00:00.123456+00'::timestamptz)::text) AS largest_payload_bytes;
-- 145. A channel code of 8000 characters: refused at add_channel (22023), not at COMMIT.
BEGIN;
SELECT add_channel(repeat('w', 8000));
\set at_call :SQLSTATE
COMMIT;
\echo SQLSTATE at the call :at_call, at COMMIT :SQLSTATE
SELECT pg_temp.verdict(145, '22023', :'at_call', :'SQLSTATE') AS unchanged;
-- 146. A new SKU of 3000 three-byte characters (9000 bytes) arriving: refused at receive (22023).
BEGIN;
SELECT * FROM receive(repeat(U&'\20AC', 3000), 'DC1', 1);
\set at_call :SQLSTATE
COMMIT;
\echo SQLSTATE at the call :at_call, at COMMIT :SQLSTATE
SELECT pg_temp.verdict(146, '22023', :'at_call', :'SQLSTATE') AS unchanged;
-- 147. A direct count gain of a new SKU of 8001 characters: refused at the INSERT (22023).
BEGIN;
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES (repeat('S', 8001), 'DC1', NULL, 'available', 1);
\set at_call :SQLSTATE
COMMIT;
\echo SQLSTATE at the call :at_call, at COMMIT :SQLSTATE
SELECT pg_temp.verdict(147, '22023', :'at_call', :'SQLSTATE') AS unchanged;
-- 148. A channel code of 101 four-byte characters (404 bytes): over 100 characters, 22023.
SELECT add_channel(repeat(U&'\+01D11E', 101));
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(148, '22023', :'SQLSTATE') AS unchanged;

------------------------------------------------------------------------------------------------
-- J. Times, ttls and malformed arguments: 22023.

-- 149. A hold with a negative ttl.
SELECT reserve('web', 'MUG', 1, 'W-9', ttl => '-1 minute');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(149, '22023', :'SQLSTATE') AS unchanged;
-- 150. An order with a ttl of 200 years.
SELECT * FROM reserve_order('web', 'O-9', '[{"sku": "MUG", "qty": 1}]', ttl => '200 years');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(150, '22023', :'SQLSTATE') AS unchanged;
-- 151. A reservation at no real time.
SELECT reserve('web', 'MUG', 1, 'W-9', occurred_at => 'infinity');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(151, '22023', :'SQLSTATE') AS unchanged;
-- 152. An expected receipt due on no real day.
SELECT * FROM expect('MUG', 'DC1', 1, 'PO-9', 'infinity');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(152, '22023', :'SQLSTATE') AS unchanged;
-- 153. A count dated before its task was opened.
SELECT * FROM submit_count(:task, 4, occurred_at => '2000-01-01');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(153, '22023', :'SQLSTATE') AS unchanged;
-- 154. Order lines that are not an array.
SELECT * FROM reserve_order('web', 'O-9', '{"sku": "MUG", "qty": 1}');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(154, '22023', :'SQLSTATE') AS unchanged;
-- 155. An order line of 1.5 units.
SELECT * FROM reserve_order('web', 'O-9', '[{"sku": "MUG", "qty": 1.5}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(155, '22023', :'SQLSTATE') AS unchanged;
-- 156. An order listing a SKU twice at two locations (a hold is at one).
SELECT * FROM reserve_order('web', 'O-9', '[{"sku": "MUG", "qty": 1, "location": "DC1"}, {"sku": "MUG", "qty": 1, "location": "DC2"}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(156, '22023', :'SQLSTATE') AS unchanged;
-- 157. A channel of an unknown kind.
SELECT add_channel('shop', kind => 'ebay');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(157, '22023', :'SQLSTATE') AS unchanged;
-- 158. A cycle count plan of 0 tasks.
SELECT * FROM plan_cycle_counts(0);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(158, '22023', :'SQLSTATE') AS unchanged;

------------------------------------------------------------------------------------------------
-- K. Direct ledger writes are judged at COMMIT (docs/design.md §7): a sale across a fence (IT003), a
-- bucket below zero (IT001).

-- 159. The web sells 1 MUG at DC2, whose 2 available units are all wholesale's fence.
BEGIN;
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel)
VALUES ('MUG', 'DC2', 'available', 'picked', 1, 'web');
\set at_call :SQLSTATE
COMMIT;
\echo SQLSTATE at the call :at_call, at COMMIT :SQLSTATE
SELECT pg_temp.verdict(159, 'IT003 at COMMIT', :'at_call', :'SQLSTATE') AS unchanged;
-- 160. Two direct losses of TEE at DC2 (2 available) of 10^12 (the most a movement may name)
-- and 3 units: the bucket ends the transaction below zero; IT001 at COMMIT.
BEGIN;
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('TEE', 'DC2', 'available', 'damaged', 1000000000000);
INSERT INTO movement (sku, location, from_stage, to_stage, qty)
VALUES ('TEE', 'DC2', 'available', 'written_off', 3);
\set at_call :SQLSTATE
COMMIT;
\echo SQLSTATE at the call :at_call, at COMMIT :SQLSTATE
SELECT pg_temp.verdict(160, 'IT001 at COMMIT', :'at_call', :'SQLSTATE') AS unchanged;

------------------------------------------------------------------------------------------------
-- L. NULL in the required arguments of the remaining functions (added after the sections
-- above, so numbered after them): 22004, the read functions included. atp_snapshot(NULL)
-- means every channel, and is no error.

-- 161. qc_pass(sku NULL): 22004.
SELECT * FROM qc_pass(NULL, 'DC1', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(161, '22004', :'SQLSTATE') AS unchanged;

-- 162. qc_pass(location NULL): 22004.
SELECT * FROM qc_pass('MUG', NULL, 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(162, '22004', :'SQLSTATE') AS unchanged;

-- 163. qc_fail(qty NULL): 22004.
SELECT * FROM qc_fail('MUG', 'DC1', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(163, '22004', :'SQLSTATE') AS unchanged;

-- 164. put_back(sku NULL): 22004.
SELECT * FROM put_back(NULL, 'DC2', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(164, '22004', :'SQLSTATE') AS unchanged;

-- 165. receive_return(qty NULL): 22004.
SELECT * FROM receive_return('MUG', 'DC2', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(165, '22004', :'SQLSTATE') AS unchanged;

-- 166. report_damage(from_stage NULL): 22004.
SELECT * FROM report_damage('MUG', 'DC1', 1, from_stage => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(166, '22004', :'SQLSTATE') AS unchanged;

-- 167. inspect_return(resale NULL): 22004.
SELECT * FROM inspect_return('MUG', 'DC2', 1, NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(167, '22004', :'SQLSTATE') AS unchanged;

-- 168. write_off(from_stage NULL): 22004.
SELECT * FROM write_off('MUG', 'DC2', 1, from_stage => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(168, '22004', :'SQLSTATE') AS unchanged;

-- 169. cancel_expected(ref NULL): 22004.
SELECT * FROM cancel_expected('MUG', 'DC1', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(169, '22004', :'SQLSTATE') AS unchanged;

-- 170. set_eta(eta NULL): 22004.
SELECT set_eta('MUG', 'DC1', 'PO-1', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(170, '22004', :'SQLSTATE') AS unchanged;

-- 171. clear_ringfence(channel NULL): 22004.
SELECT clear_ringfence(NULL, 'MUG');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(171, '22004', :'SQLSTATE') AS unchanged;

-- 172. plan_cycle_counts(max_tasks NULL): 22004.
SELECT * FROM plan_cycle_counts(NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(172, '22004', :'SQLSTATE') AS unchanged;

-- 173. atp(channel NULL): 22004.
SELECT atp('MUG', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(173, '22004', :'SQLSTATE') AS unchanged;

-- 174. atp(sku NULL): 22004.
SELECT atp(NULL, 'web');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(174, '22004', :'SQLSTATE') AS unchanged;

-- 175. stock(sku NULL): 22004.
SELECT * FROM stock(NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(175, '22004', :'SQLSTATE') AS unchanged;

-- 176. atp_timeline(channel NULL): 22004.
SELECT * FROM atp_timeline('MUG', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(176, '22004', :'SQLSTATE') AS unchanged;

-- 177. lag_stats(since NULL): 22004.
SELECT * FROM lag_stats(NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(177, '22004', :'SQLSTATE') AS unchanged;

-- 178. readiness(since NULL): 22004.
SELECT * FROM readiness(NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(178, '22004', :'SQLSTATE') AS unchanged;

-- M. Found by a review (a hostile user): refused as the codes and quantities above are.

-- 179. receive of a SKU code ending in a no-break space (U+00A0): 22023, as a space is.
SELECT * FROM receive(E'MUG\u00A0', 'DC1', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(179, '22023', :'SQLSTATE') AS unchanged;

-- 180. A direct sale naming a channel code with a control character: 22023, not 42704.
INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref)
VALUES ('MUG', 'DC1', 'available', 'picked', 1, E'w\u0001', 'SO-180');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(180, '22023', :'SQLSTATE') AS unchanged;

-- 181. reserve of more than 10^12 units: 22023, not IT001.
SELECT reserve('web', 'MUG', 1000000000001, 'R-181');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(181, '22023', :'SQLSTATE') AS unchanged;

-- N. pick() finds out whether the SKU exists as it takes the SKU's row: the answers stay those
-- of checking its arguments in order.

-- 182. pick of an unknown SKU at an unknown location: 42704 for the SKU.
SELECT * FROM pick('NOPE', 'NOWHERE', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(182, '42704', :'SQLSTATE') AS unchanged;

-- 183. pick of an unknown SKU for a channel: 42704.
SELECT * FROM pick('NOPE', 'DC1', 1, channel => 'web');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(183, '42704', :'SQLSTATE') AS unchanged;

-- 184. pick of an unknown SKU under an order reference: 42704.
SELECT * FROM pick('NOPE', 'DC1', 1, 'SO-184');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(184, '42704', :'SQLSTATE') AS unchanged;

-- 185. pick of an unknown SKU, and zero units: 42704 for the SKU.
SELECT * FROM pick('NOPE', 'DC1', 0);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(185, '42704', :'SQLSTATE') AS unchanged;

------------------------------------------------------------------------------------------------
-- O. SKUs declared ahead of stock, and orders checked or summed line by line.

-- 186. declare_skus(NULL): 22004.
SELECT declare_skus(NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(186, '22004', :'SQLSTATE') AS unchanged;

-- 187. declare_skus with a NULL code among good ones: 22004, and none of them declared.
SELECT declare_skus(ARRAY['NEW-1', NULL, 'NEW-2']);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(187, '22004', :'SQLSTATE') AS unchanged;

-- 188. declare_skus with a code that is not a code among good ones: 22023, none declared.
SELECT declare_skus(ARRAY['NEW-1', 'NEW 2 ', 'NEW-3']);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(188, '22023', :'SQLSTATE') AS unchanged;

-- 189. declare_sku(NULL): 22004.
SELECT declare_sku(NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(189, '22004', :'SQLSTATE') AS unchanged;

-- 190. A buffer for a SKU nobody declared: 42704 (a typo does not create a SKU).
SELECT set_buffer('web', 'MUGG', 2);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(190, '42704', :'SQLSTATE') AS unchanged;

-- 191. A fence for a SKU nobody declared: 42704.
SELECT set_ringfence('web', 'MUGG', units => 2);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(191, '42704', :'SQLSTATE') AS unchanged;

-- 192. check_order for an unknown channel: 42704.
SELECT * FROM check_order('ebay', '[{"sku": "MUG", "qty": 1}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(192, '42704', :'SQLSTATE') AS unchanged;

-- 193. check_order with an unknown SKU on the second line: 42704.
SELECT * FROM check_order('web', '[{"sku": "MUG", "qty": 1}, {"sku": "NOPE", "qty": 1}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(193, '42704', :'SQLSTATE') AS unchanged;

-- 194. check_order with lines that are not an array: 22023.
SELECT * FROM check_order('web', '{"sku": "MUG", "qty": 1}');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(194, '22023', :'SQLSTATE') AS unchanged;

-- 195. check_order(lines NULL): 22004.
SELECT * FROM check_order('web', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(195, '22004', :'SQLSTATE') AS unchanged;

-- 196. Two lines of one SKU, one of them 0 units: 22023, though their sum is positive.
SELECT * FROM reserve_order('web', 'O-9', '[{"sku": "MUG", "qty": 2}, {"sku": "MUG", "qty": 0}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(196, '22023', :'SQLSTATE') AS unchanged;

-- 197. Two lines of one SKU summing to more than 10^12 units: 22023, not IT001.
SELECT * FROM reserve_order('web', 'O-9', '[{"sku": "MUG", "qty": 900000000000}, {"sku": "MUG", "qty": 900000000000}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(197, '22023', :'SQLSTATE') AS unchanged;

-- 198. An order with two short lines: IT001 (the DETAIL lists both), nothing reserved.
SELECT * FROM reserve_order('web', 'O-9', '[{"sku": "MUG", "qty": 1}, {"sku": "MUG", "qty": 99}, {"sku": "TEE", "qty": 99}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(198, 'IT001', :'SQLSTATE') AS unchanged;

-- P. Changing a hold: resize_hold(channel, ref, sku, qty, occurred_at), extend_hold(channel, ref, ttl).

-- 199. resize_hold to a negative quantity: 22023.
SELECT resize_hold('amazon', 'A-1', 'MUG', -1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(199, '22023', :'SQLSTATE') AS unchanged;

-- 200. resize_hold of a hold that does not exist: 42704.
SELECT resize_hold('amazon', 'A-404', 'MUG', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(200, '42704', :'SQLSTATE') AS unchanged;

-- 201. resize_hold of an unknown SKU: 42704.
SELECT resize_hold('amazon', 'A-1', 'NOPE', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(201, '42704', :'SQLSTATE') AS unchanged;

-- 202. resize_hold for an unknown channel: 42704.
SELECT resize_hold('ebay', 'A-1', 'MUG', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(202, '42704', :'SQLSTATE') AS unchanged;

-- 203. resize_hold(qty NULL): 22004.
SELECT resize_hold('amazon', 'A-1', 'MUG', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(203, '22004', :'SQLSTATE') AS unchanged;

-- 204. resize_hold beyond the channel's ATP: IT001.
SELECT resize_hold('amazon', 'A-1', 'MUG', 1000);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(204, 'IT001', :'SQLSTATE') AS unchanged;

-- 205. resize_hold of more than 10^12 units: 22023, not IT001.
SELECT resize_hold('amazon', 'A-1', 'MUG', 1000000000001);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(205, '22023', :'SQLSTATE') AS unchanged;

-- 206. extend_hold with a ttl that is not positive: 22023.
SELECT extend_hold('amazon', 'A-1', '-5 minutes');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(206, '22023', :'SQLSTATE') AS unchanged;

-- 207. extend_hold of an order with no hold: 42704.
SELECT extend_hold('amazon', 'A-404', '5 minutes');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(207, '42704', :'SQLSTATE') AS unchanged;

-- 208. extend_hold(ref NULL): 22004.
SELECT extend_hold('amazon', NULL, '5 minutes');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(208, '22004', :'SQLSTATE') AS unchanged;

-- Q. Reservations over several locations: reserve(..., split), reserve_order(..., split).

-- 209. reserve with an unknown split: 22023.
SELECT reserve('web', 'MUG', 1, 'R-209', split => 'nearest');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(209, '22023', :'SQLSTATE') AS unchanged;

-- 210. reserve(split NULL): 22004.
SELECT reserve('web', 'MUG', 1, 'R-210', split => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(210, '22004', :'SQLSTATE') AS unchanged;

-- 211. reserve_order(split NULL): 22004.
SELECT * FROM reserve_order('web', 'O-211', '[{"sku": "MUG", "qty": 1}]', split => NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(211, '22004', :'SQLSTATE') AS unchanged;

-- 212. reserve_order with an unknown split: 22023.
SELECT * FROM reserve_order('web', 'O-212', '[{"sku": "MUG", "qty": 1}]', split => 'any');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(212, '22023', :'SQLSTATE') AS unchanged;

-- 213. add_location of an existing location with a new priority and a bad code: 22023.
SELECT add_location(' DC1', priority => 5);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(213, '22023', :'SQLSTATE') AS unchanged;

-- 214. check_order with a line at an unknown location: 42704, as reserve_order.
SELECT * FROM check_order('web', '[{"sku": "MUG", "qty": 1, "location": "DC9"}]');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(214, '42704', :'SQLSTATE') AS unchanged;

-- 215. resize_hold with an unknown split: 22023.
SELECT resize_hold('amazon', 'A-1', 'MUG', 2, split => 'nearest');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(215, '22023', :'SQLSTATE') AS unchanged;

-- 216. wait_for_replay(lsn NULL): 22004.
SELECT wait_for_replay(NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(216, '22004', :'SQLSTATE') AS unchanged;

-- 217. wait_for_replay with a negative timeout: 22023.
SELECT wait_for_replay(pg_current_wal_lsn(), '-1 second');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(217, '22023', :'SQLSTATE') AS unchanged;

------------------------------------------------------------------------------------------------
-- Q. Preorders: preorder(channel, sku, qty, ref, location, occurred_at), allow_preorders(channel,
-- allowed), preorderable(sku, channel, through). The cases after 218 start from a preorder of
-- Amazon's for 2 MUG (from the 4 still expected at DC1, 1 in QC and 1 on the dock).

-- 218. preorder for a channel that takes no preorders: 55000.
SELECT * FROM preorder('web', 'MUG', 1, 'PRE-0');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(218, '55000', :'SQLSTATE') AS unchanged;

SELECT allow_preorders('amazon');
SELECT ref, location, preorder_qty FROM preorder('amazon', 'MUG', 2, 'PRE-1');
UPDATE baseline SET state = pg_temp.state();

-- 219. preorder of 0 units: 22023.
SELECT * FROM preorder('amazon', 'MUG', 0, 'PRE-2');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(219, '22023', :'SQLSTATE') AS unchanged;

-- 220. preorder of more than is on its way and not yet preordered (4 left): IT001.
SELECT * FROM preorder('amazon', 'MUG', 5, 'PRE-2');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(220, 'IT001', :'SQLSTATE') AS unchanged;

-- 221. preorder of an unknown SKU: 42704.
SELECT * FROM preorder('amazon', 'NOPE', 1, 'PRE-2');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(221, '42704', :'SQLSTATE') AS unchanged;

-- 222. preorder at an unknown location: 42704.
SELECT * FROM preorder('amazon', 'MUG', 1, 'PRE-2', location => 'DC9');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(222, '42704', :'SQLSTATE') AS unchanged;

-- 223. preorder again under its reference with another quantity: IT004.
SELECT * FROM preorder('amazon', 'MUG', 3, 'PRE-1');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(223, 'IT004', :'SQLSTATE') AS unchanged;

-- 224. preorder under the reference of an ordinary hold: IT004.
SELECT * FROM preorder('amazon', 'MUG', 1, 'A-1');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(224, 'IT004', :'SQLSTATE') AS unchanged;

-- 225. preorder(ref NULL): 22004.
SELECT * FROM preorder('amazon', 'MUG', 1, NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(225, '22004', :'SQLSTATE') AS unchanged;

-- 226. preorder at occurred_at infinity: 22023.
SELECT * FROM preorder('amazon', 'MUG', 1, 'PRE-2', occurred_at => 'infinity');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(226, '22023', :'SQLSTATE') AS unchanged;

-- 227. resize_hold of a preorder still awaiting its units: 55000.
SELECT resize_hold('amazon', 'PRE-1', 'MUG', 1);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(227, '55000', :'SQLSTATE') AS unchanged;

-- 228. extend_hold of a preorder still awaiting its units: 55000.
SELECT extend_hold('amazon', 'PRE-1', '5 minutes');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(228, '55000', :'SQLSTATE') AS unchanged;

-- 229. allow_preorders for an unknown channel: 42704.
SELECT allow_preorders('ebay');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(229, '42704', :'SQLSTATE') AS unchanged;

-- 230. allow_preorders(allowed NULL): 22004.
SELECT allow_preorders('web', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(230, '22004', :'SQLSTATE') AS unchanged;

-- 231. preorderable through an infinite date: 22023.
SELECT preorderable('MUG', 'amazon', 'infinity');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(231, '22023', :'SQLSTATE') AS unchanged;

-- 232. preorderable for an unknown channel: 42704.
SELECT preorderable('MUG', 'ebay');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(232, '42704', :'SQLSTATE') AS unchanged;

------------------------------------------------------------------------------------------------
-- R. Escrow: set_escrow(sku, parts), clear_escrow(sku).

-- 233. set_escrow of 0 parts: 22023.
SELECT set_escrow('MUG', 0);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(233, '22023', :'SQLSTATE') AS unchanged;

-- 234. set_escrow of negative parts: 22023.
SELECT set_escrow('MUG', -2);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(234, '22023', :'SQLSTATE') AS unchanged;

-- 235. set_escrow of too many parts (more than 256): 22023.
SELECT set_escrow('MUG', 257);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(235, '22023', :'SQLSTATE') AS unchanged;

-- 236. set_escrow of an unknown SKU: 42704.
SELECT set_escrow('NOPE', 4);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(236, '42704', :'SQLSTATE') AS unchanged;

-- 237. set_escrow with parts NULL: 22004.
SELECT set_escrow('MUG', NULL);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(237, '22004', :'SQLSTATE') AS unchanged;

-- 238. set_escrow with sku NULL: 22004.
SELECT set_escrow(NULL, 4);
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(238, '22004', :'SQLSTATE') AS unchanged;

-- 239. clear_escrow of an unknown SKU: 42704.
SELECT clear_escrow('NOPE');
\echo SQLSTATE :SQLSTATE
SELECT pg_temp.verdict(239, '42704', :'SQLSTATE') AS unchanged;

------------------------------------------------------------------------------------------------
-- The catalogue: how many cases, and every case that did not get the SQLSTATE the spec
-- expects or changed something (none).
SELECT count(*) AS cases, count(*) FILTER (WHERE got = expected AND unchanged) AS as_specified FROM cases;
SELECT n, expected, got, unchanged FROM cases WHERE got <> expected OR NOT unchanged ORDER BY n;
SELECT * FROM verify();
