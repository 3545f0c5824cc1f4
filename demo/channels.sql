-- inventory_truth demo, part 3: sales channels. The seed's examples: a safety buffer that hides
-- the last units from the web, Amazon ringfenced at 50%, wholesale walled off, and two buyers
-- who cannot both get the last unit.
-- Run by `make tour` (scripts/tour.sh) on its scratch cluster, in the same session as part 2
-- (it uses part 2's pg_temp.attempt).
\pset border 2
\pset null '-'
\set ON_ERROR_STOP on
\set VERBOSITY terse
SET search_path = inventory_truth, public;

\echo
\echo '== Three channels: Amazon first, then the web (which hides 1 unit of every SKU), then wholesale =='
SELECT add_channel('amazon', priority => 10, kind => 'marketplace') AS channel;
SELECT add_channel('web', priority => 20, buffer => 1) AS channel;
SELECT add_channel('wholesale', priority => 30, kind => 'wholesale') AS channel;

\echo
\echo '== Three mugs on the shelf, and a web safety buffer of 3 for mugs: the web sees none, wholesale all three =='
SELECT count(*) AS movements FROM receive('MUG', 'DC1', 3);
SELECT count(*) AS movements FROM put_away('MUG', 'DC1', 3);
SELECT set_buffer('web', 'MUG', 3);
SELECT atp('MUG', 'web') AS web, atp('MUG', 'amazon') AS amazon, atp('MUG', 'wholesale') AS wholesale;

\echo
\echo '== 10 caps; Amazon gets 50% for itself, wholesale a wall of 2: only the rest is shared =='
SELECT count(*) AS movements FROM receive('CAP', 'DC1', 10);
SELECT count(*) AS movements FROM put_away('CAP', 'DC1', 10);
SELECT set_ringfence('amazon', 'CAP', percent => 50);
SELECT set_ringfence('wholesale', 'CAP', units => 2);
SELECT * FROM stock('CAP');
SELECT atp('CAP', 'amazon') AS amazon, atp('CAP', 'web') AS web, atp('CAP', 'wholesale') AS wholesale;

\echo
\echo '== The web reserves the 2 it can see; one more is refused: it may not touch the fences =='
SELECT reserve('web', 'CAP', 2, 'WEB-1001', ttl => '15 minutes') AS hold;
SELECT what, a.code AS sqlstate, a.refusal
  FROM (VALUES
    ('the web reserves one more cap',
     $a$SELECT inventory_truth.reserve('web', 'CAP', 1, 'WEB-1002')$a$, false),
    ('an ERP sells 2 caps to the web directly (the pool has 1)',
     $a$INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty, channel, ref)
        VALUES ('CAP', 'DC1', 'available', 'committed', 2, 'web', 'WEB-1003')$a$, true),
    ('the same order retried with another quantity',
     $a$SELECT inventory_truth.reserve('web', 'CAP', 3, 'WEB-1001', ttl => '15 minutes')$a$, false)
  ) AS t(what, statement, at_commit), pg_temp.attempt(t.statement, t.at_commit) AS a;
SELECT * FROM stock('CAP');

\echo
\echo '== The picker scans the web order: the hold is consumed; Amazon and wholesale keep their units =='
SELECT from_stage, to_stage, qty, channel, ref FROM pick('CAP', 'DC1', 2, 'WEB-1001');
SELECT channel, ref, qty, picked_qty, status FROM hold;
SELECT * FROM atp_snapshot() WHERE sku = 'CAP';

\echo
\echo '== verify(): balances equal the ledger, fences fit the shelf, holds equal committed stock =='
SELECT * FROM verify();
