-- The tables of 0.1.0 made into the tables of 0.2.0, with their data (hand-written; the
-- functions, views, triggers, comments and grants around it are generated: see
-- scripts/upgrade_script.sh). Runs after the old triggers, views and changed functions are
-- dropped, before the new ones are created.

-- Stock is one row per SKU and location (a column per stage, the fences' shares as arrays)
-- instead of a row per bucket and a row per fence. What a fence counts as held is the sum of
-- the open holds' fence_qty, which 0.1.0 computed when it needed it.
CREATE TABLE stock (
    sku text NOT NULL,
    location text NOT NULL,
    inbound bigint NOT NULL DEFAULT 0,
    receiving bigint NOT NULL DEFAULT 0,
    quality_control bigint NOT NULL DEFAULT 0,
    available bigint NOT NULL DEFAULT 0,
    committed bigint NOT NULL DEFAULT 0,
    picked bigint NOT NULL DEFAULT 0,
    shipped bigint NOT NULL DEFAULT 0,
    quarantine bigint NOT NULL DEFAULT 0,
    damaged bigint NOT NULL DEFAULT 0,
    missing bigint NOT NULL DEFAULT 0,
    written_off bigint NOT NULL DEFAULT 0,
    fence_channels text[] NOT NULL DEFAULT '{}',
    fence_qty bigint[] NOT NULL DEFAULT '{}',
    fence_held bigint[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (sku, location)
) WITH (fillfactor = 50);

WITH held AS (
    SELECT h.sku, h.location, h.channel, sum(h.fence_qty)::bigint AS held
      FROM hold h
     WHERE h.status = 'open' AND h.fence_qty > 0
     GROUP BY 1, 2, 3
), entries AS (
    SELECT coalesce(f.sku, h.sku) AS sku, coalesce(f.location, h.location) AS location,
           coalesce(f.channel, h.channel) AS channel, coalesce(f.qty, 0) AS qty,
           coalesce(h.held, 0) AS held
      FROM fence f
      FULL JOIN held h ON h.sku = f.sku AND h.location = f.location AND h.channel = f.channel
), fences AS (
    SELECT e.sku, e.location,
           array_agg(e.channel ORDER BY e.channel COLLATE "C") AS channels,
           array_agg(e.qty ORDER BY e.channel COLLATE "C") AS qty,
           array_agg(e.held ORDER BY e.channel COLLATE "C") AS held
      FROM entries e
     GROUP BY 1, 2
), buckets AS (
    SELECT b.sku, b.location,
           coalesce(sum(b.qty) FILTER (WHERE b.stage = 'inbound'), 0) AS inbound,
           coalesce(sum(b.qty) FILTER (WHERE b.stage = 'receiving'), 0) AS receiving,
           coalesce(sum(b.qty) FILTER (WHERE b.stage = 'quality_control'), 0) AS quality_control,
           coalesce(sum(b.qty) FILTER (WHERE b.stage = 'available'), 0) AS available,
           coalesce(sum(b.qty) FILTER (WHERE b.stage = 'committed'), 0) AS committed,
           coalesce(sum(b.qty) FILTER (WHERE b.stage = 'picked'), 0) AS picked,
           coalesce(sum(b.qty) FILTER (WHERE b.stage = 'shipped'), 0) AS shipped,
           coalesce(sum(b.qty) FILTER (WHERE b.stage = 'quarantine'), 0) AS quarantine,
           coalesce(sum(b.qty) FILTER (WHERE b.stage = 'damaged'), 0) AS damaged,
           coalesce(sum(b.qty) FILTER (WHERE b.stage = 'missing'), 0) AS missing,
           coalesce(sum(b.qty) FILTER (WHERE b.stage = 'written_off'), 0) AS written_off
      FROM balance b
     GROUP BY 1, 2
)
INSERT INTO stock (sku, location, inbound, receiving, quality_control, available, committed,
                   picked, shipped, quarantine, damaged, missing, written_off,
                   fence_channels, fence_qty, fence_held)
SELECT coalesce(b.sku, f.sku), coalesce(b.location, f.location),
       coalesce(b.inbound, 0), coalesce(b.receiving, 0), coalesce(b.quality_control, 0),
       coalesce(b.available, 0), coalesce(b.committed, 0), coalesce(b.picked, 0),
       coalesce(b.shipped, 0), coalesce(b.quarantine, 0), coalesce(b.damaged, 0),
       coalesce(b.missing, 0), coalesce(b.written_off, 0),
       coalesce(f.channels, '{}'), coalesce(f.qty, '{}'), coalesce(f.held, '{}')
  FROM buckets b
  FULL JOIN fences f ON f.sku = b.sku AND f.location = b.location;
SELECT pg_catalog.pg_extension_config_dump('stock', '');

-- A member table dropped by an update script stays in the list of what pg_dump dumps of the
-- extension (PostgreSQL removes it from there only on ALTER EXTENSION ... DROP): taken out here.
UPDATE pg_catalog.pg_extension e
   SET extconfig = kept.config, extcondition = kept.condition
  FROM (SELECT array_agg(u.config ORDER BY u.n) AS config, array_agg(u.condition ORDER BY u.n) AS condition
          FROM pg_catalog.pg_extension x
         CROSS JOIN LATERAL unnest(x.extconfig, x.extcondition) WITH ORDINALITY AS u(config, condition, n)
         WHERE x.extname = 'inventory_truth'
           AND u.config NOT IN ('inventory_truth.balance'::regclass, 'inventory_truth.fence'::regclass)) kept
 WHERE e.extname = 'inventory_truth';
DROP TABLE balance;
DROP TABLE fence;

-- SKU codes are checked by the engine before it creates a SKU: a CHECK would run at every
-- version update. Half-empty pages keep those updates on their page.
ALTER TABLE sku DROP CONSTRAINT sku_code_check;
ALTER TABLE sku SET (fillfactor = 50);

-- The ledger: the acting role as text (a name took 64 bytes of every row); one block-range index
-- for both times.
ALTER TABLE movement ALTER COLUMN actor TYPE text;
DROP INDEX movement_recorded_at;
DROP INDEX movement_occurred_at;
CREATE INDEX movement_times ON movement USING brin (recorded_at, occurred_at);

-- Every table that grows with the SKUs has the SKU in its primary key, so that it can be
-- distributed by SKU (docs/scale-out.md); the id still leads. Each key is rebuilt once. A user's
-- foreign key to one of these ids alone depends on the old key: the update then fails with
-- nothing changed (drop that key first, or make it reference (id, sku)).
ALTER TABLE movement DROP CONSTRAINT movement_pkey, ADD PRIMARY KEY (id, sku);
ALTER TABLE expected_receipt DROP CONSTRAINT expected_receipt_pkey, ADD PRIMARY KEY (id, sku);
ALTER TABLE count_task DROP CONSTRAINT count_task_pkey, ADD PRIMARY KEY (id, sku);
ALTER TABLE short_pick DROP CONSTRAINT short_pick_pkey, ADD PRIMARY KEY (id, sku);

-- Commit times are read by time window, not by transaction.
ALTER TABLE movement_commit DROP CONSTRAINT movement_commit_pkey;
ALTER TABLE movement_commit ALTER COLUMN txid SET NOT NULL;
CREATE INDEX movement_commit_at ON movement_commit USING brin (committed_at);

-- Holds are keyed by what a caller knows: order reference, SKU, channel, and the location, as a
-- reservation may be served from several (a hold per location). Existing holds keep their rows.
ALTER TABLE hold DROP CONSTRAINT hold_pkey;
ALTER TABLE hold DROP CONSTRAINT hold_channel_ref_sku_key;
DROP INDEX hold_by_ref;
ALTER TABLE hold ADD PRIMARY KEY (ref, sku, channel, location);
-- Only the engine writes holds; verify() checks what the CHECKs said (sql/holds.sql).
ALTER TABLE hold DROP CONSTRAINT hold_open_qty_check;
ALTER TABLE hold DROP CONSTRAINT hold_check;
ALTER TABLE hold DROP CONSTRAINT hold_status_check;

-- Preorders (src/preorder.rs): a channel may take them, and a hold may await units on their
-- way. Existing holds were never preorders (NULL); existing channels take none.
ALTER TABLE hold ADD COLUMN preorder_qty bigint;
ALTER TABLE hold ADD COLUMN preorder_broken bigint;
ALTER TABLE hold ADD COLUMN preorder_eta date;
CREATE INDEX hold_awaiting ON hold (sku, location) WHERE status = 'open' AND preorder_qty > 0;
ALTER TABLE channel ADD COLUMN preorders boolean NOT NULL DEFAULT false;

-- Locations have a priority: the order a reservation with split => 'priority' is served in.
ALTER TABLE location ADD COLUMN priority int NOT NULL DEFAULT 100;

-- Changed SKUs reach the relay through shared memory now; the relay finds what a crash left
-- unpublished by version.
DROP TABLE atp_dirty;

-- The relay reads a SKU's buffers for every channel: SKU first.
ALTER TABLE sku_buffer DROP CONSTRAINT sku_buffer_pkey;
ALTER TABLE sku_buffer ADD PRIMARY KEY (sku, channel);

-- The engine reads a SKU's rules by SKU (its own, and those for every SKU: NULL).
CREATE INDEX ringfence_sku ON ringfence (sku);

-- Direct sales that breached a fence or a buffer wait for their judgement at commit in the
-- transaction's memory (src/xact.rs), not in a table.
DROP TABLE channel_check;

-- What was last published is derived: unlogged, so that publishing costs no WAL. Its row of SKU
-- '' says a crash has not emptied it (see _relay_baseline).
ALTER TABLE atp_published SET UNLOGGED;
ALTER TABLE atp_published ADD COLUMN preorderable bigint;
INSERT INTO atp_published (sku, version, atp, published_at) VALUES ('', 0, '{}', now())
ON CONFLICT DO NOTHING;

-- Escrow for a hot SKU (sql/escrow.sql): parts its pool is lent to. No SKU is escrowed yet.
ALTER TABLE sku ADD COLUMN escrow_parts integer NOT NULL DEFAULT 0;
CREATE TABLE stock_part (
    sku text NOT NULL,
    location text NOT NULL,
    part bigint NOT NULL,
    lent bigint NOT NULL DEFAULT 0,
    sold bigint NOT NULL DEFAULT 0,
    sales bigint NOT NULL DEFAULT 0,
    sold_at timestamptz,
    PRIMARY KEY (sku, location, part)
) WITH (fillfactor = 50);
SELECT pg_catalog.pg_extension_config_dump('stock_part', '');
