-- Stages and the movements allowed between them (docs/design.md §2).
-- Every file starts from a fresh install.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
RESET client_min_messages;

-- The stage type lives in the extension's fixed schema, its eleven labels in spec order.
\dT+ inventory_truth.stage

-- What each stage means, and whether it counts as on-hand or sellable.
SELECT stage, in_on_hand, sellable, meaning FROM inventory_truth.stages();

-- The allowed movements; NULL is outside the system (supplier, customer, lost for good).
SELECT coalesce(from_stage::text, '(outside)') AS from_stage,
       coalesce(to_stage::text, '(outside)') AS to_stage,
       event
  FROM inventory_truth.allowed_movements();

-- movement_allowed answers for any pair.
SELECT inventory_truth.movement_allowed('picked', 'shipped')       AS ship_after_pick,
       inventory_truth.movement_allowed('available', 'shipped')    AS ship_without_pick,
       inventory_truth.movement_allowed('quarantine', 'available') AS resale_after_inspection,
       inventory_truth.movement_allowed('shipped', 'available')    AS resale_without_inspection,
       inventory_truth.movement_allowed(NULL, 'inbound')           AS expected_receipt,
       inventory_truth.movement_allowed('written_off', NULL)       AS back_from_write_off,
       inventory_truth.movement_allowed(NULL, NULL)                AS nothing_to_nothing;

-- Where stock can go from each stage (outside = NULL), as a reader checks it against the spec.
SELECT coalesce(f.stage::text, '(outside)') AS from_stage,
       coalesce(string_agg(coalesce(t.stage::text, '(outside)'), ', ' ORDER BY t.stage NULLS FIRST)
                  FILTER (WHERE inventory_truth.movement_allowed(f.stage, t.stage)), '-') AS may_move_to
  FROM (SELECT NULL::inventory_truth.stage AS stage UNION ALL SELECT stage FROM inventory_truth.stages()) f
 CROSS JOIN (SELECT NULL::inventory_truth.stage AS stage UNION ALL SELECT stage FROM inventory_truth.stages()) t
 GROUP BY f.stage
 ORDER BY f.stage NULLS FIRST;

-- A label that is not a stage is refused by the type itself.
SELECT inventory_truth.movement_allowed('sold', 'available');

-- The functions work for an application whose search_path leaves out the extension's schema.
SET search_path = public;
SELECT count(*) AS allowed_movements FROM inventory_truth.allowed_movements();
SELECT count(*) AS stages FROM inventory_truth.stages();
RESET search_path;
