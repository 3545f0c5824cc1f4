-- The stock ledger (docs/design.md §2, §7, §8): SKUs, locations, the append-only movement ledger and the
-- stock it keeps, all in one transaction.
--
-- Every path that moves stock goes through one engine, in Rust (src/engine.rs, with the rules in
-- src/place.rs): the floor and ERP functions apply their rows with it and then record them; a
-- row an ERP inserts directly is checked by the ledger's row trigger (what a row alone can tell)
-- and applied by its statement trigger, which calls the same engine. So a direct insert is
-- checked and applied exactly as the functions' rows are.
--
-- Stock is one row per SKU and location (`stock`): a column per stage, and the fenced channels'
-- shares of the available units. The views `balance` (a row per stage with units) and `fence`
-- (a row per fenced channel) show it as buckets. Balances are never negative once a transaction
-- commits: the functions refuse at the call; a direct insert may drive a bucket below zero
-- within its transaction, and the commit refuses that (_at_commit, called just before the
-- transaction commits), so an ERP may insert one transaction's movements in any order.
--
-- Lock order: every statement takes each SKU's row first (in code order, byte by byte), before
-- anything else of that SKU; its version advances there, once per transaction, when the
-- transaction first touches available stock (its ATP may change). Every writer of a SKU's
-- stock, holds and expected receipts (set_eta included) holds that row, so nothing below it
-- needs a lock order of its own.

-- The internal helpers (names starting with _) run only inside the SECURITY DEFINER functions
-- and triggers, which pin search_path; they carry no SET clause of their own, which would cost
-- a setting save and restore on every call and keep the SQL ones from being inlined.

-- Codes are what ERPs and scanners know; they are the keys (_check_code, src/ledger.rs).
-- No CHECK on the code: PostgreSQL evaluates CHECK constraints at every UPDATE, and every sale
-- updates the SKU's version. The engine checks a code before it creates the SKU.
-- Half empty pages, so that version updates stay on their page (HOT, no index entries).
CREATE TABLE sku (
    code text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 0,
    changed_at timestamptz,
    change_cause text,
    escrow_parts integer NOT NULL DEFAULT 0
) WITH (fillfactor = 50);
COMMENT ON TABLE sku IS
    'Stock keeping units. Created by expect, receive and count gains; elsewhere an unknown SKU is an error.';
COMMENT ON COLUMN sku.version IS
    'Advances in every transaction that may change the SKU''s ATP, in commit order; notifications and atp_snapshot carry it.';
COMMENT ON COLUMN sku.changed_at IS 'When the transaction that last advanced the version first changed the SKU''s ATP.';
COMMENT ON COLUMN sku.change_cause IS 'What that first change was: a movement (from->to) or a rule change.';
COMMENT ON COLUMN sku.escrow_parts IS
    'Parts its pool is lent to at each location (set_escrow; 0: none): buyers sell from them side by side. Its ATP version is version plus the parts'' sales.';

CREATE TABLE location (
    code text PRIMARY KEY CHECK (code = _check_code('location', code)),
    name text,
    created_at timestamptz NOT NULL DEFAULT now(),
    priority int NOT NULL DEFAULT 100
);
COMMENT ON TABLE location IS 'Warehouses, stores and other places that hold stock; see add_location.';
COMMENT ON COLUMN location.priority IS 'Lower first: the order of the locations a reservation with split => ''priority'' is served from (then code).';

-- Every backend remembers the channel and location codes it has found (src/known.rs): an
-- update or delete of a row of either table tells every backend to forget them (this one at
-- the end of the command, the others when it commits), in a replica or a logical replication
-- apply worker too (ENABLE ALWAYS; DISABLE TRIGGER ALL would silence it). A new code needs no word:
-- a code not remembered is looked up. TRUNCATE gives a table new storage, which tells them
-- by itself.
CREATE FUNCTION _codes_changed() RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'inventory_truth_codes_changed';
CREATE TRIGGER location_codes_changed AFTER UPDATE OR DELETE ON location
    FOR EACH ROW EXECUTE FUNCTION _codes_changed();
ALTER TABLE location ENABLE ALWAYS TRIGGER location_codes_changed;

-- The ledger. Columns up to occurred_at are what a caller writes; the rest the extension fills.
CREATE TABLE movement (
    id bigserial NOT NULL,
    sku text NOT NULL,
    location text NOT NULL,
    from_stage stage,
    to_stage stage,
    qty bigint NOT NULL,
    channel text,
    ref text,
    reason text,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    recorded_at timestamptz NOT NULL,
    actor text NOT NULL,
    txid xid8 NOT NULL,
    -- The id (from its sequence) identifies a row; the key also carries the SKU so that the table
    -- can be distributed by SKU (docs/scale-out.md: Citus wants the distribution column in every
    -- unique key). The id leads, so a look-up by id is still one index range.
    PRIMARY KEY (id, sku)
);
-- The ledger is appended in time order: a block-range index finds a recent window (lag_stats,
-- readiness; physical times follow the same order, give or take scanner lag: counts look up a
-- bin's movements since the count) without a scan of all history. One index for both times:
-- each insert updates at most one summary, not two.
CREATE INDEX movement_times ON movement USING brin (recorded_at, occurred_at);
COMMENT ON TABLE movement IS
    'The append-only stock ledger: one row per movement of qty units of a SKU at a location from one stage to another (NULL = outside the system). Rows inserted directly are validated and applied like the functions'' rows.';
COMMENT ON COLUMN movement.occurred_at IS 'When the physical event happened (scanner clock); defaults to now().';
COMMENT ON COLUMN movement.recorded_at IS 'When the database recorded the movement (filled in).';
COMMENT ON COLUMN movement.actor IS 'The role that recorded the movement (filled in; SET ROLE is honoured).';
COMMENT ON COLUMN movement.txid IS 'The recording transaction (filled in).';

-- One row per SKU and location: units per stage (the stage enum's order), and the fenced
-- channels' shares of the available units (parallel arrays, in channel code order): fence_qty
-- units fenced for each, fence_held units its open holds here took from its fence (they count
-- against its target). The rest of the available units is the shared pool. A sale changes
-- available and committed (and its channel's fence): one row, one update, kept on its page
-- (HOT) by the free space fillfactor leaves.
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
COMMENT ON TABLE stock IS
    'Units of a SKU at a location per stage, and the fenced channels'' shares of its available units; always equal to the ledger''s sum (see verify()) but, for an escrowed SKU, for what its parts sold since they were last folded (stock_part.sold: still in available here, already committed). The views balance and fence show it as buckets, balance with the parts applied.';

-- Escrow (docs/design.md §12): a hot SKU's pool at a location lent to independently locked
-- parts, so that buyers sell side by side instead of queueing on the SKU's row. A sale from a
-- part writes the part (sold), its hold and its ledger row, not stock nor the SKU's row: until
-- the next writer under the SKU's row folds the parts back (_escrow_fold), the truth is stock
-- less what the parts sold (available) and plus it (committed), as _stock_now shows it.
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
COMMENT ON TABLE stock_part IS
    'Escrow parts of a SKU''s pool at a location (set_escrow): units lent to the part, units it sold since the last fold, how many sales (they advance the SKU''s ATP version) and when the last one was recorded (a notification of the sales gives it as changed_at: they do not write the SKU''s row).';

-- Stock as it is: the parts' sales taken out of available and into committed.
CREATE VIEW _stock_now AS
    SELECT s.sku, s.location, s.inbound, s.receiving, s.quality_control,
           s.available - coalesce(p.sold, 0) AS available, s.committed + coalesce(p.sold, 0) AS committed,
           s.picked, s.shipped, s.quarantine, s.damaged, s.missing, s.written_off,
           s.fence_channels, s.fence_qty, s.fence_held
      FROM stock s
      LEFT JOIN (SELECT t.sku, t.location, sum(t.sold)::bigint AS sold
                   FROM stock_part t GROUP BY t.sku, t.location) p
        ON p.sku = s.sku AND p.location = s.location;
COMMENT ON VIEW _stock_now IS
    'Stock as it is: what escrow parts sold since their last fold taken out of available and into committed. Internal: the reading views and functions read it.';

-- The buckets as rows: a SKU at a location in a stage, for every stage with units.
CREATE VIEW balance AS
    SELECT s.sku, s.location, b.stage, b.qty
      FROM _stock_now s
     CROSS JOIN LATERAL (VALUES ('inbound'::stage, s.inbound), ('receiving', s.receiving),
                                ('quality_control', s.quality_control), ('available', s.available),
                                ('committed', s.committed), ('picked', s.picked),
                                ('shipped', s.shipped), ('quarantine', s.quarantine),
                                ('damaged', s.damaged), ('missing', s.missing),
                                ('written_off', s.written_off)) AS b(stage, qty)
     WHERE b.qty <> 0;
COMMENT ON VIEW balance IS
    'Units per SKU, location and stage (buckets with units; read from stock): always equal to the ledger''s sum (see verify()).';

-- Expected receipts (PO/ASN lines): inbound stock keeps its reference and ETA here.
CREATE TABLE expected_receipt (
    id bigserial NOT NULL,
    ref text NOT NULL,
    sku text NOT NULL,
    location text NOT NULL,
    eta date,
    expected bigint NOT NULL DEFAULT 0,
    open_qty bigint NOT NULL DEFAULT 0 CHECK (open_qty >= 0),
    first_movement bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ref, sku, location),
    PRIMARY KEY (id, sku) -- as movement's
);
CREATE INDEX expected_receipt_open ON expected_receipt (sku, location, eta, id) WHERE open_qty > 0;
COMMENT ON TABLE expected_receipt IS
    'Expected receipts (PO/ASN lines) with their ETA; open_qty is still inbound.';

-- When each transaction that wrote the ledger committed: the commit side of the warehouse lag.
-- Written once per transaction, just before it commits. No key: it is read by time window (a
-- movement commits after it is recorded), which the block-range index serves as the table
-- grows in commit order.
CREATE TABLE movement_commit (
    txid xid8 NOT NULL,
    committed_at timestamptz NOT NULL
);
CREATE INDEX movement_commit_at ON movement_commit USING brin (committed_at);
COMMENT ON TABLE movement_commit IS
    'When each transaction that recorded movements committed (join movement on txid): committed_at - occurred_at is the warehouse lag.';

-- No foreign keys: only the engine writes stock and expected_receipt, after checking the SKU and
-- location, and keys between these tables would make pg_restore -j fail (it loads tables in
-- parallel) and put a key-share lock on the SKU row of every movement.

-- A dump keeps the user's data; the extension's objects come from CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('sku', '');
SELECT pg_catalog.pg_extension_config_dump('location', '');
SELECT pg_catalog.pg_extension_config_dump('movement', '');
SELECT pg_catalog.pg_extension_config_dump('movement_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock', '');
SELECT pg_catalog.pg_extension_config_dump('stock_part', '');
SELECT pg_catalog.pg_extension_config_dump('expected_receipt', '');
SELECT pg_catalog.pg_extension_config_dump('expected_receipt_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('movement_commit', '');

-- The role that acts: the SET ROLE role, else the login. SECURITY DEFINER functions change
-- current_user, not these.
CREATE FUNCTION _actor() RETURNS name
LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN current_setting('role') = 'none' THEN session_user
                ELSE current_setting('role')::name END
$$;

-- A quantity as messages show it: "1 unit", "5 units".
CREATE FUNCTION _units(n bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT n || CASE WHEN n IN (1, -1) THEN ' unit' ELSE ' units' END $$;

-- The most units a movement, a count, a buffer or a fence may name, and the most one location
-- may hold of one SKU (over all stages): 10^12, far beyond any store, and far enough below
-- bigint's range that no sum over locations, stages or channels can overflow.
CREATE FUNCTION _max_units() RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 1000000000000::bigint $$;

-- A code as messages show it: in double quotes, like PostgreSQL's own object names.
CREATE FUNCTION _q(code text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '"' || code || '"' $$;

CREATE FUNCTION _describe(sku text, location text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT format('SKU %s at location %s', _q(sku), _q(location)) $$;

-- The ledger's triggers (src/ledger.rs). The row trigger runs with the inserting role's rights:
-- that role is what it judges. Only the table's owner (and superusers) may supply recorded_at,
-- actor or txid (restoring history), and everyone else's rows get their id from the sequence,
-- whatever the insert said: column privileges alone would not do, since an INSERT through a view
-- fills the view's column defaults without checking them, and any role may create a temporary
-- view. It then checks what a row alone must be (nothing missing, a positive quantity, a real
-- time, a movement the stage rules allow) and fills in the extension's columns; a function's row
-- (applied by the function already) it only fills in.
CREATE FUNCTION _movement_row() RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'inventory_truth_movement_row';

-- The statement trigger applies a statement's new rows (restored history is left as it is):
-- what they name is looked up, then the engine applies them, SKU by SKU in code order. A
-- source bucket may go below zero inside the transaction, and a direct sale may breach a fence
-- or a buffer: both are noted in the transaction's memory (src/xact.rs) and judged again just
-- before the commit (_at_commit), as the transaction finally stands.
CREATE FUNCTION _movement_statement() RETURNS trigger
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_movement_statement';

CREATE TRIGGER movement_row BEFORE INSERT ON movement
    FOR EACH ROW EXECUTE FUNCTION _movement_row();
CREATE TRIGGER movement_apply AFTER INSERT ON movement
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION _movement_statement();

CREATE FUNCTION _movement_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'the movement ledger is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a correcting movement instead.';
END
$$;

CREATE TRIGGER movement_append_only BEFORE UPDATE OR DELETE ON movement
    FOR EACH ROW EXECUTE FUNCTION _movement_append_only();
CREATE TRIGGER movement_no_truncate BEFORE TRUNCATE ON movement
    FOR EACH STATEMENT EXECUTE FUNCTION _movement_append_only();

-- Stock and open receipts are the ledger's sums, and SKUs and locations are what it names:
-- emptying any of them would make the ledger lie.
CREATE FUNCTION _ledger_tables_no_truncate() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'inventory_truth.% belongs to the ledger: TRUNCATE is refused', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER stock_no_truncate BEFORE TRUNCATE ON stock
    FOR EACH STATEMENT EXECUTE FUNCTION _ledger_tables_no_truncate();
CREATE TRIGGER expected_receipt_no_truncate BEFORE TRUNCATE ON expected_receipt
    FOR EACH STATEMENT EXECUTE FUNCTION _ledger_tables_no_truncate();
CREATE TRIGGER sku_no_truncate BEFORE TRUNCATE ON sku
    FOR EACH STATEMENT EXECUTE FUNCTION _ledger_tables_no_truncate();
CREATE TRIGGER location_no_truncate BEFORE TRUNCATE ON location
    FOR EACH STATEMENT EXECUTE FUNCTION _ledger_tables_no_truncate();
CREATE TRIGGER movement_commit_no_truncate BEFORE TRUNCATE ON movement_commit
    FOR EACH STATEMENT EXECUTE FUNCTION _ledger_tables_no_truncate();

-- Records one movement and applies it, checking the source bucket at once, for the SQL
-- functions that decide their movements themselves (counts); returns the ledger row.
CREATE FUNCTION _move(p_sku text, p_location text, p_from stage, p_to stage, p_qty bigint,
                      p_ref text, p_reason text, p_occurred_at timestamptz,
                      p_channel text DEFAULT NULL)
RETURNS movement
LANGUAGE c
AS 'MODULE_PATHNAME', 'inventory_truth_move';

-- Checks shared by the functions' arguments.
CREATE FUNCTION _require(value anyelement, what text) RETURNS anyelement
LANGUAGE plpgsql IMMUTABLE
AS $$
#variable_conflict use_column
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN value;
END
$$;

CREATE FUNCTION _check_eta(eta date) RETURNS date
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF eta IS NULL THEN
        RAISE EXCEPTION 'eta must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT isfinite(eta) THEN
        RAISE EXCEPTION 'eta must be a real date, not %', eta USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN eta;
END
$$;


-- SKUs ahead of stock: a catalogue import declares them, so that buffers and fences can be set
-- before the first receipt. Besides this, only expect, receive and a count gain create a SKU;
-- everywhere else an unknown code stays 42704, so a typo in a rule cannot create one.
CREATE FUNCTION declare_skus(skus text[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
DECLARE
    created bigint;
BEGIN
    PERFORM _require(declare_skus.skus, 'skus');
    -- Every code first, so that a bad one changes nothing (22004 for NULL, 22023 otherwise).
    PERFORM _check_code('SKU', s) FROM unnest(declare_skus.skus) s;
    -- In byte order, the engine's lock order: two imports of overlapping catalogues wait for
    -- each other's new rows in the same order, never in a cycle.
    INSERT INTO sku (code)
    SELECT DISTINCT s COLLATE "C" FROM unnest(declare_skus.skus) s ORDER BY 1
        ON CONFLICT (code) DO NOTHING;
    GET DIAGNOSTICS created = ROW_COUNT;
    RETURN created;
END
$$;
COMMENT ON FUNCTION declare_skus(text[]) IS
    'Declares SKUs ahead of their first receipt (a catalogue import), so that their buffers and fences can be set before stock arrives. Returns how many were new; codes that exist already are left alone. A declared SKU has no stock and an ATP of 0 until stock arrives. Floor level.';

CREATE FUNCTION declare_sku(sku text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$ SELECT declare_skus(ARRAY[_require(sku, 'sku')]) = 1 $$;
COMMENT ON FUNCTION declare_sku(text) IS
    'Declares one SKU ahead of its first receipt (see declare_skus). Returns true if it was new, false if it existed. Floor level.';
