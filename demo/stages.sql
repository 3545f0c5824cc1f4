-- inventory_truth demo, part 1: stages and the movements between them.
-- Run by `make tour` (scripts/tour.sh) on its scratch cluster.
\pset border 2
\pset null '(outside)'
\set ON_ERROR_STOP on

\echo
\echo '== The extension, installed in its own schema =='
SELECT extname AS extension, extversion AS version, extnamespace::regnamespace AS schema
  FROM pg_extension WHERE extname = 'inventory_truth';

\echo
\echo '== Stock lives in stages: only "available" can be sold =='
SELECT stage,
       CASE WHEN in_on_hand THEN 'yes' ELSE 'no' END AS in_on_hand,
       CASE WHEN sellable THEN 'yes' ELSE 'no' END AS sellable,
       meaning
  FROM inventory_truth.stages();

\echo
\echo '== Every physical event is a movement between stages (NULL = outside the building) =='
SELECT from_stage, to_stage, event FROM inventory_truth.allowed_movements();

\echo
\echo '== Everything else is refused: where can stock go from each stage? =='
SELECT f.stage AS from_stage,
       coalesce(string_agg(coalesce(t.stage::text, '(outside)'), ', ' ORDER BY t.stage NULLS FIRST)
                  FILTER (WHERE inventory_truth.movement_allowed(f.stage, t.stage)), '(nowhere: terminal)')
         AS may_move_to
  FROM (SELECT NULL::inventory_truth.stage AS stage UNION ALL SELECT stage FROM inventory_truth.stages()) f
 CROSS JOIN (SELECT NULL::inventory_truth.stage AS stage UNION ALL SELECT stage FROM inventory_truth.stages()) t
 GROUP BY f.stage
 ORDER BY f.stage NULLS FIRST;

\echo
\echo '== A few questions a warehouse asks =='
SELECT question, CASE WHEN inventory_truth.movement_allowed(from_stage, to_stage) THEN 'yes' ELSE 'no' END AS allowed
  FROM (VALUES
    ('Can a picker ship what was never scanned to a cart?', 'available'::inventory_truth.stage, 'shipped'::inventory_truth.stage),
    ('Can a scanned unit be shipped?',                     'picked',     'shipped'),
    ('Can a return go straight back on sale?',            'shipped',    'available'),
    ('Can a manager release an inspected return?',        'quarantine', 'available'),
    ('Can a unit missing at the bin be found by a count?', 'missing',   'available'),
    ('Can written-off stock come back?',                  'written_off', 'available')
  ) AS q(question, from_stage, to_stage);
