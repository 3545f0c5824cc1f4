-- inventory_truth demo, part 4: live stock notifications. A storefront LISTENs, reads the
-- snapshot, then hears every ATP change of a committed transaction, from the relay worker (the
-- demo cluster preloads the extension), never from a rolled-back one.
-- Run by `make tour` (scripts/tour.sh) in the same session as parts 2 and 3.
\pset border 2
\set ON_ERROR_STOP on
\set VERBOSITY terse
SET search_path = inventory_truth, public;

\echo
\echo '== The mode in force: relay (the library is preloaded), and the storefront''s first steps =='
SELECT _notify_mode() AS mode, current_setting('inventory_truth.notify_channel') AS listen_on;
LISTEN inventory_truth;
SELECT pg_sleep(0.5);  -- anything the relay still had to publish from parts 2 and 3 arrives here
SELECT * FROM atp_snapshot() WHERE sku = 'CAP';

\echo
\echo '== Amazon sells 1 cap from its own fence: only Amazon''s ATP changes, so only Amazon hears it =='
SELECT reserve('amazon', 'CAP', 1, 'AMZ-2001') > 0 AS held;
SELECT pg_sleep(0.3);  -- psql prints the notifications that arrived meanwhile

\echo
\echo '== A wholesale order that rolls back: nothing is published =='
BEGIN;
SELECT reserve('wholesale', 'CAP', 1, 'WHS-2002') > 0 AS held;
ROLLBACK;
SELECT pg_sleep(0.3);

\echo
\echo '== Four more caps put away: every channel''s ATP changes, one notification each, one version =='
SELECT count(*) AS movements FROM receive('CAP', 'DC1', 4);
SELECT count(*) AS movements FROM put_away('CAP', 'DC1', 4);
SELECT pg_sleep(0.3);
SELECT * FROM atp_snapshot() WHERE sku = 'CAP';
