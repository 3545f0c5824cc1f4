-- The stock ledger (SPEC §2, §7, §8): SKUs, locations, the append-only movement ledger and the
-- per-bucket balances it keeps, all in one transaction.
--
-- Every path that moves stock goes through the triggers on `movement`: the floor functions
-- insert into the ledger like an ERP does, so a row written directly is validated and applied
-- exactly as the functions' rows are. A row trigger validates each row; a statement trigger
-- applies the whole statement's rows to expected receipts and balances. One exception, the
-- hot path: reserve checks and applies its own row under the same locks and marks it as
-- applied (src/applied.rs); the triggers then only store it. Balances are never
-- negative once a transaction commits; a deferred constraint trigger checks the buckets a
-- transaction drove below zero, so an ERP may insert one transaction's movements in any order.
--
-- Lock order, the same on every path: SKU by SKU and location by location in code order, each
-- SKU's row first (for every statement, whatever stages it touches; its version advances
-- there when the statement touches available stock, so its ATP may change). Functions that
-- lock something of a SKU before writing the ledger lock its row first too. Within one
-- SKU and location: the holds the rows name (id order), its expected-receipt lines (id order,
-- which never changes), then its balance buckets (stage order); the available bucket guards
-- the location's fences and holds. So a statement of many rows, whatever their order, never
-- waits for another in the opposite order.

-- The internal helpers (names starting with _) run only inside the SECURITY DEFINER functions
-- and triggers, which pin search_path; they carry no SET clause of their own, which would cost
-- a setting save and restore on every call and keep the SQL ones from being inlined.

-- Codes are what ERPs and scanners know; they are the keys.
CREATE FUNCTION _check_code(kind text, code text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
#variable_conflict use_column
BEGIN
    IF code IS NULL THEN
        RAISE EXCEPTION '% code must not be NULL', kind USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF code = '' OR length(code) > 100 OR code ~ '[[:cntrl:]]' OR code <> btrim(code) THEN
        RAISE EXCEPTION 'invalid % code %', kind, left(to_json(code)::text, 120)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Codes are 1 to 100 characters, without control characters or surrounding spaces.';
    END IF;
    RETURN code;
END
$$;

CREATE TABLE sku (
    code text PRIMARY KEY CHECK (code = _check_code('SKU', code)),
    created_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 0,
    changed_at timestamptz,
    change_cause text
);
COMMENT ON TABLE sku IS
    'Stock keeping units. Created by expect, receive and count gains; elsewhere an unknown SKU is an error.';
COMMENT ON COLUMN sku.version IS
    'Advances with every transaction that may change the SKU''s ATP, in commit order; notifications and atp_snapshot carry it.';
COMMENT ON COLUMN sku.changed_at IS 'When the last change of its ATP was recorded.';
COMMENT ON COLUMN sku.change_cause IS 'What that change was: a movement (from->to) or a rule change.';

CREATE TABLE location (
    code text PRIMARY KEY CHECK (code = _check_code('location', code)),
    name text,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE location IS 'Warehouses, stores and other places that hold stock; see add_location.';

-- The ledger. Columns up to occurred_at are what a caller writes; the rest the extension fills.
CREATE TABLE movement (
    id bigserial PRIMARY KEY,
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
    actor name NOT NULL,
    txid xid8 NOT NULL
);
-- The ledger is appended in time order: a block-range index finds a recent window (lag_stats,
-- readiness) without a scan of all history, at almost no cost per insert.
CREATE INDEX movement_recorded_at ON movement USING brin (recorded_at);
-- Physical times follow the same order, give or take scanner lag: counts look up a bin's
-- movements since the count.
CREATE INDEX movement_occurred_at ON movement USING brin (occurred_at);
COMMENT ON TABLE movement IS
    'The append-only stock ledger: one row per movement of qty units of a SKU at a location from one stage to another (NULL = outside the system). Rows inserted directly are validated and applied like the functions'' rows.';
COMMENT ON COLUMN movement.occurred_at IS 'When the physical event happened (scanner clock); defaults to now().';
COMMENT ON COLUMN movement.recorded_at IS 'When the database recorded the movement (filled in).';
COMMENT ON COLUMN movement.actor IS 'The role that recorded the movement (filled in; SET ROLE is honoured).';
COMMENT ON COLUMN movement.txid IS 'The recording transaction (filled in).';

-- One row per bucket: a SKU at a location in a stage.
CREATE TABLE balance (
    sku text NOT NULL,
    location text NOT NULL,
    stage stage NOT NULL,
    qty bigint NOT NULL,
    PRIMARY KEY (sku, location, stage)
);
COMMENT ON TABLE balance IS
    'Units per SKU, location and stage; always equal to the ledger''s sum (see verify()).';

-- Expected receipts (PO/ASN lines): inbound stock keeps its reference and ETA here.
CREATE TABLE expected_receipt (
    id bigserial PRIMARY KEY,
    ref text NOT NULL,
    sku text NOT NULL,
    location text NOT NULL,
    eta date,
    expected bigint NOT NULL DEFAULT 0,
    open_qty bigint NOT NULL DEFAULT 0 CHECK (open_qty >= 0),
    first_movement bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ref, sku, location)
);
CREATE INDEX expected_receipt_open ON expected_receipt (sku, location, eta, id) WHERE open_qty > 0;
COMMENT ON TABLE expected_receipt IS
    'Expected receipts (PO/ASN lines) with their ETA; open_qty is still inbound.';

-- When each transaction that wrote the ledger committed: the commit side of the warehouse lag.
CREATE TABLE movement_commit (
    txid xid8 PRIMARY KEY,
    committed_at timestamptz NOT NULL
);
COMMENT ON TABLE movement_commit IS
    'When each transaction that recorded movements committed (join movement on txid): committed_at - occurred_at is the warehouse lag.';

-- No foreign keys: only the ledger's triggers write balance and expected_receipt, after checking
-- the SKU and location, and keys between these tables would make pg_restore -j fail (it loads
-- tables in parallel) and put a key-share lock on the SKU row of every movement.

-- A dump keeps the user's data; the extension's objects come from CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('sku', '');
SELECT pg_catalog.pg_extension_config_dump('location', '');
SELECT pg_catalog.pg_extension_config_dump('movement', '');
SELECT pg_catalog.pg_extension_config_dump('movement_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('balance', '');
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

-- Takes a SKU's row lock, first in the lock order of every path that changes its stock. With
-- p_create (the paths that may introduce a SKU), the row is created first if needed: a row
-- another transaction is still creating would otherwise not be locked, and what this one
-- locks next (receipt lines) would come before the SKU's row.
CREATE FUNCTION _lock_sku(p_sku text, p_create boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF p_create THEN
        INSERT INTO sku (code) VALUES (p_sku) ON CONFLICT DO NOTHING;
    END IF;
    PERFORM FROM sku WHERE code = p_sku FOR NO KEY UPDATE;
END
$$;

-- Adds delta to a bucket, creating it when needed; returns the new quantity. Locks the row.
CREATE FUNCTION _add_to_bucket(p_sku text, p_location text, p_stage stage, delta bigint)
RETURNS bigint
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    new_qty bigint;
BEGIN
    UPDATE balance SET qty = qty + delta
     WHERE sku = p_sku AND location = p_location AND stage = p_stage
    RETURNING qty INTO new_qty;
    IF NOT FOUND THEN
        INSERT INTO balance AS b (sku, location, stage, qty)
        VALUES (p_sku, p_location, p_stage, delta)
        ON CONFLICT (sku, location, stage) DO UPDATE SET qty = b.qty + excluded.qty
        RETURNING qty INTO new_qty;
    END IF;
    RETURN new_qty;
END
$$;

-- Keeps expected receipts in step with one inbound movement; returns the line a movement into
-- inbound added to. A movement out of inbound with a reference draws from that line; without
-- one, from the open lines in ETA order, among the lines _movement_apply locked: a line
-- committed since then would be locked out of order.
CREATE FUNCTION _track_expected_receipt(m movement, locked_lines bigint[]) RETURNS bigint
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    line expected_receipt;
    line_id bigint;
    left_to_draw bigint := m.qty;
    drawn bigint;
BEGIN
    IF m.to_stage = 'inbound' THEN
        INSERT INTO expected_receipt AS e (ref, sku, location, expected, open_qty, first_movement)
        VALUES (m.ref, m.sku, m.location, m.qty, m.qty, m.id)
        ON CONFLICT (ref, sku, location) DO UPDATE
            SET expected = e.expected + excluded.expected,
                open_qty = e.open_qty + excluded.open_qty,
                first_movement = coalesce(e.first_movement, excluded.first_movement)
        RETURNING id INTO line_id;
        RETURN line_id;
    ELSIF m.from_stage = 'inbound' THEN
        IF m.ref IS NOT NULL THEN
            SELECT * INTO line FROM expected_receipt
             WHERE ref = m.ref AND sku = m.sku AND location = m.location;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'no expected receipt % for %', _q(m.ref), _describe(m.sku, m.location)
                    USING ERRCODE = 'undefined_object';
            END IF;
            IF line.open_qty < m.qty THEN
                RAISE EXCEPTION 'insufficient stock: expected receipt % for % has % open, % asked',
                        _q(m.ref), _describe(m.sku, m.location), _units(line.open_qty), m.qty
                    USING ERRCODE = 'IT001';
            END IF;
            UPDATE expected_receipt SET open_qty = open_qty - m.qty WHERE id = line.id;
        ELSE
            FOR line IN
                SELECT * FROM expected_receipt
                 WHERE id = ANY (locked_lines) AND sku = m.sku AND location = m.location
                   AND open_qty > 0
                 ORDER BY eta NULLS LAST, id
            LOOP
                drawn := least(line.open_qty, left_to_draw);
                UPDATE expected_receipt SET open_qty = open_qty - drawn WHERE id = line.id;
                left_to_draw := left_to_draw - drawn;
                EXIT WHEN left_to_draw = 0;
            END LOOP;
            -- Open receipts and the inbound bucket must stay equal, so what they cannot cover
            -- is refused now rather than at commit.
            IF left_to_draw > 0 THEN
                RAISE EXCEPTION 'insufficient stock: the expected receipts of % have % open, % asked',
                        _describe(m.sku, m.location), _units(m.qty - left_to_draw), m.qty
                    USING ERRCODE = 'IT001';
            END IF;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

-- True for a ledger row recorded by this transaction (the row trigger fills txid and a
-- recorded_at no earlier than the transaction's start); restored history never is.
CREATE FUNCTION _recorded_now(m movement) RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT m.txid = pg_current_xact_id() AND m.recorded_at >= transaction_timestamp() $$;

-- Validates one ledger row and fills in the extension's columns. Runs for the functions' rows
-- and for direct inserts alike; _movement_apply then applies the statement's rows.
CREATE FUNCTION _movement_validate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
BEGIN
    -- Rows that arrive with the filled-in columns set are history being restored (pg_dump,
    -- pg_restore): only the table's owner can write those columns. Their balances are restored
    -- from the balance table's own dump, so they are stored as they are, and _movement_apply
    -- leaves them alone: it applies only rows recorded by this transaction since it began,
    -- which history cannot be.
    IF NEW.recorded_at IS NOT NULL AND NEW.actor IS NOT NULL AND NEW.txid IS NOT NULL THEN
        IF _recorded_now(NEW) THEN
            RAISE EXCEPTION 'a restored movement cannot carry this transaction''s txid and a time since it began'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'New movements leave recorded_at, actor and txid out.';
        END IF;
        RETURN NEW;
    END IF;
    -- A row its inserting function checked and applied itself (reserve): stored, not re-applied.
    IF _row_was_applied(NEW.sku, NEW.location, NEW.from_stage::text, NEW.to_stage::text, NEW.qty,
                        NEW.channel, NEW.ref) THEN
        NEW.recorded_at := greatest(clock_timestamp(), transaction_timestamp());
        NEW.actor := _actor();
        NEW.txid := pg_current_xact_id();
        RETURN NEW;
    END IF;

    IF NEW.sku IS NULL OR NEW.location IS NULL OR NEW.qty IS NULL OR NEW.occurred_at IS NULL THEN
        RAISE EXCEPTION 'a movement needs %', array_to_string(ARRAY[
                CASE WHEN NEW.sku IS NULL THEN 'a sku' END,
                CASE WHEN NEW.location IS NULL THEN 'a location' END,
                CASE WHEN NEW.qty IS NULL THEN 'a qty' END,
                CASE WHEN NEW.occurred_at IS NULL THEN 'an occurred_at' END], ' and ')
            USING ERRCODE = 'not_null_violation';
    END IF;
    IF NEW.qty <= 0 THEN
        RAISE EXCEPTION 'quantity must be positive: % of %', _units(NEW.qty), _describe(NEW.sku, NEW.location)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.qty > _max_units() THEN
        RAISE EXCEPTION 'quantity too large: % of %', _units(NEW.qty), _describe(NEW.sku, NEW.location)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('A movement is at most %s units.', _max_units());
    END IF;
    IF NOT isfinite(NEW.occurred_at) THEN
        RAISE EXCEPTION 'occurred_at must be a real time, not %', NEW.occurred_at
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT movement_allowed(NEW.from_stage, NEW.to_stage) THEN
        RAISE EXCEPTION 'movement from % to % is not allowed (% of %)',
                coalesce(NEW.from_stage::text, 'outside'), coalesce(NEW.to_stage::text, 'outside'),
                _units(NEW.qty), _describe(NEW.sku, NEW.location)
            USING ERRCODE = 'IT002',
                  HINT = 'inventory_truth.allowed_movements() lists the allowed movements.';
    END IF;
    IF NOT EXISTS (SELECT FROM location WHERE code = NEW.location) THEN
        PERFORM _check_code('location', NEW.location);  -- not a code at all: 22023
        RAISE EXCEPTION 'unknown location %', _q(NEW.location)
            USING ERRCODE = 'undefined_object', HINT = 'Add it with inventory_truth.add_location().';
    END IF;
    IF NOT EXISTS (SELECT FROM sku WHERE code = NEW.sku) THEN
        -- Only stock arriving from outside into inbound, receiving or available (an expected
        -- receipt, an arrival, a count gain) may introduce a SKU. _movement_apply creates it
        -- for such rows and refuses a statement with rows of a SKU that none of them introduced.
        PERFORM _check_code('SKU', NEW.sku);
    END IF;
    IF NEW.ref IS NOT NULL THEN
        PERFORM _check_code('reference', NEW.ref);
    ELSIF NEW.to_stage = 'inbound' THEN
        RAISE EXCEPTION 'an expected receipt of % needs a reference', _describe(NEW.sku, NEW.location)
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Give the purchase order or ASN line as ref.';
    END IF;
    IF NEW.channel IS NOT NULL AND NOT EXISTS (SELECT FROM channel WHERE code = NEW.channel) THEN
        RAISE EXCEPTION 'unknown channel %', _q(NEW.channel)
            USING ERRCODE = 'undefined_object', HINT = 'Add it with inventory_truth.add_channel().';
    END IF;
    -- Committed stock is always some channel's hold, named by (channel, ref): a reservation
    -- creates or adds to one, a release or a pick against it names it. Losses out of committed
    -- may name one (both channel and ref); without a name they break holds (see
    -- _apply_channel_rows).
    IF (NEW.to_stage = 'committed' OR (NEW.from_stage = 'committed' AND NEW.to_stage IN ('available', 'picked'))
        OR (NEW.from_stage = 'committed' AND (NEW.channel IS NOT NULL OR NEW.ref IS NOT NULL)))
       AND (NEW.channel IS NULL OR NEW.ref IS NULL) THEN
        RAISE EXCEPTION 'a movement % committed needs a channel and a ref naming the hold (% of %)',
                CASE WHEN NEW.to_stage = 'committed' THEN 'into' ELSE 'out of' END,
                _units(NEW.qty), _describe(NEW.sku, NEW.location)
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Reservations are holds of a channel for an order: give the channel and the order reference.';
    END IF;

    -- Never before the transaction began, even if the clock steps back: _recorded_now needs it.
    NEW.recorded_at := greatest(clock_timestamp(), transaction_timestamp());
    NEW.actor := _actor();
    NEW.txid := pg_current_xact_id();
    RETURN NEW;
END
$$;

-- Applies a statement's new rows (restored history is left as it is): creates new SKUs, keeps
-- expected receipts in step, and adds each bucket's net change to balance, all in the lock
-- order above. A source bucket may go below zero inside the transaction;
-- balance_never_negative refuses that at commit.
CREATE FUNCTION _movement_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
DECLARE
    place record;
    m movement;
    bucket record;
    locked_lines bigint[];
    line_id bigint;
    unknown text;
    available_delta bigint;
    available_after bigint;
    locked_holds bigint[];
BEGIN
    IF _statement_was_applied() THEN
        -- reserve's own row, which it applied under these same locks. A mark covers exactly one
        -- row: a statement of more rows is never let through unapplied.
        IF (SELECT count(*) FROM new_rows) <> 1 THEN
            RAISE EXCEPTION 'a ledger statement of % rows carries a row marked as applied', (SELECT count(*) FROM new_rows)
                USING ERRCODE = 'internal_error';
        END IF;
        RETURN NULL;
    END IF;
    -- A SKU that no row of the statement introduces must exist; new ones are created below, in
    -- the lock order.
    SELECT n.sku INTO unknown FROM new_rows n
     WHERE _recorded_now(n) AND NOT EXISTS (SELECT FROM sku WHERE sku.code = n.sku)
       AND NOT EXISTS (SELECT FROM new_rows i
                        WHERE i.sku = n.sku AND _recorded_now(i) AND i.from_stage IS NULL
                          AND i.to_stage IN ('inbound', 'receiving', 'available'))
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown SKU %', _q(unknown)
            USING ERRCODE = 'undefined_object',
                  HINT = 'Only an expected receipt, an arrival or a count gain introduces a SKU.';
    END IF;

    FOR place IN
        SELECT p.*,
               bool_or(p.changes_atp) OVER (PARTITION BY p.sku) AS sku_changes_atp,
               bool_or(p.introduces) OVER (PARTITION BY p.sku) AS sku_introduced,
               min(p.cause) OVER (PARTITION BY p.sku) AS sku_cause,
               lag(p.sku) OVER (ORDER BY p.sku, p.location) IS DISTINCT FROM p.sku AS first_of_sku
          FROM (SELECT n.sku, n.location,
                       coalesce(bool_or('inbound' IN (n.from_stage, n.to_stage)), false) AS inbound,
                       coalesce(bool_or(n.from_stage = 'inbound' AND n.ref IS NULL), false) AS draws_in_eta_order,
                       coalesce(bool_or('available' IN (n.from_stage, n.to_stage)
                                        OR 'committed' IN (n.from_stage, n.to_stage)), false) AS channels,
                       coalesce(bool_or('committed' IN (n.from_stage, n.to_stage)), false) AS holds,
                       coalesce(bool_or('available' IN (n.from_stage, n.to_stage)), false) AS changes_atp,
                       coalesce(bool_or(n.from_stage IS NULL
                                        AND n.to_stage IN ('inbound', 'receiving', 'available')), false) AS introduces,
                       (array_agg(coalesce(n.from_stage::text, 'outside') || '->' || coalesce(n.to_stage::text, 'outside')
                                  ORDER BY n.id)
                            FILTER (WHERE 'available' IN (n.from_stage, n.to_stage)))[1] AS cause,
                       -- In the order they apply to fences and holds, whatever the order of
                       -- the statement's rows: into available (inflows, releases), into
                       -- committed (reservations), out of committed (picks and losses against
                       -- holds), out of available (sales, losses); ledger order within each.
                       array_agg(ROW(n.*)::movement
                                 ORDER BY CASE WHEN n.to_stage = 'available' THEN 0
                                               WHEN n.to_stage = 'committed' THEN 1
                                               WHEN n.from_stage = 'committed' THEN 2
                                               ELSE 3 END, n.id)
                           FILTER (WHERE 'available' IN (n.from_stage, n.to_stage)
                                      OR 'committed' IN (n.from_stage, n.to_stage)) AS channel_rows
                  FROM new_rows n WHERE _recorded_now(n)
                 GROUP BY n.sku, n.location) p
         ORDER BY p.sku, p.location
    LOOP
        -- Every statement takes turns on the SKU's row, first thing (creating it if a row
        -- introduces it); whatever may change its ATP advances its version there: a sale is
        -- checked against the channel's stock at every location (the buffer counts them all),
        -- and versions follow commit order.
        IF place.first_of_sku THEN
            IF place.sku_introduced AND NOT EXISTS (SELECT FROM sku WHERE code = place.sku) THEN
                INSERT INTO sku (code) VALUES (place.sku) ON CONFLICT DO NOTHING;
            END IF;
            IF place.sku_changes_atp THEN
                PERFORM _atp_changed(place.sku, place.sku_cause);
            ELSE
                PERFORM _lock_sku(place.sku);
            END IF;
        END IF;
        locked_holds := '{}';
        IF place.holds THEN
            locked_holds := _lock_place_holds(place.sku, place.location, place.channel_rows);
        END IF;
        IF place.inbound THEN
            -- The receipt lines these rows name, and every open one if a row draws without a
            -- reference: all of them, in id order, before any bucket. Only those, so that a
            -- function that locked the line it names first keeps the same order.
            SELECT array_agg(locked.id) INTO locked_lines
              FROM (SELECT e.id FROM expected_receipt e
                     WHERE e.sku = place.sku AND e.location = place.location
                       AND (e.ref IN (SELECT n.ref FROM new_rows n
                                       WHERE n.sku = place.sku AND n.location = place.location
                                         AND 'inbound' IN (n.from_stage, n.to_stage))
                            OR (place.draws_in_eta_order AND e.open_qty > 0))
                     ORDER BY e.id
                       FOR UPDATE) locked;
            locked_lines := coalesce(locked_lines, '{}');
            -- Into inbound first, then out of it, each in ledger order: a row may name a
            -- receipt that a later row of the same statement creates.
            FOR m IN
                SELECT * FROM new_rows n
                 WHERE _recorded_now(n) AND n.sku = place.sku AND n.location = place.location
                   AND 'inbound' IN (n.from_stage, n.to_stage)
                 ORDER BY n.to_stage IS NOT DISTINCT FROM 'inbound' DESC, n.id
            LOOP
                line_id := _track_expected_receipt(m, locked_lines);
                IF line_id IS NOT NULL THEN
                    locked_lines := locked_lines || line_id;
                END IF;
            END LOOP;
        END IF;
        -- The available bucket is locked whenever fences or holds may change: it guards them.
        available_delta := NULL;
        FOR bucket IN
            SELECT d.stage, sum(d.delta)::bigint AS delta
              FROM (SELECT n.from_stage, n.to_stage, n.qty FROM new_rows n
                     WHERE _recorded_now(n) AND n.sku = place.sku AND n.location = place.location
                    UNION ALL
                    SELECT 'available', NULL, 0 WHERE place.channels) n
             CROSS JOIN LATERAL (VALUES (n.from_stage, -n.qty), (n.to_stage, n.qty)) AS d(stage, delta)
             WHERE d.stage IS NOT NULL
             GROUP BY d.stage
             ORDER BY d.stage
        LOOP
            IF bucket.stage = 'available' AND place.channels THEN
                available_delta := bucket.delta;
                available_after := _add_to_bucket(place.sku, place.location, bucket.stage, bucket.delta);
            ELSIF bucket.delta <> 0 THEN
                PERFORM _add_to_bucket(place.sku, place.location, bucket.stage, bucket.delta);
            END IF;
        END LOOP;
        IF place.channels THEN
            PERFORM _apply_channel_rows(place.sku, place.location, place.channel_rows,
                                        available_after - available_delta, locked_holds);
        END IF;
        -- Only units from outside add to what a location holds of a SKU; capped, so that no
        -- bucket or sum of them can overflow.
        IF EXISTS (SELECT FROM new_rows n
                    WHERE n.sku = place.sku AND n.location = place.location AND n.from_stage IS NULL
                      AND _recorded_now(n))
           AND (SELECT sum(b.qty) FROM balance b
                 WHERE b.sku = place.sku AND b.location = place.location) > _max_units() THEN
            RAISE EXCEPTION '% would hold more than % units', _describe(place.sku, place.location), _max_units()
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'A location holds at most that many units of one SKU, over all stages.';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

-- Fires first (triggers fire in name order) and, unlike the others, with the inserting role's
-- rights: that role is what it judges. Column privileges alone do not keep the filled-in
-- columns the extension's: an INSERT through a view fills the view's column defaults without
-- checking them, and any role may create a temporary view. So only the table's owner (and
-- superusers) may supply recorded_at, actor or txid (restoring history), and everyone else's
-- rows get their id from the sequence, whatever the insert said.
CREATE FUNCTION _movement_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_has_role(current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid = TG_RELID), 'MEMBER') THEN
        RETURN NEW;
    END IF;
    IF NEW.recorded_at IS NOT NULL OR NEW.actor IS NOT NULL OR NEW.txid IS NOT NULL THEN
        RAISE EXCEPTION 'recorded_at, actor and txid are filled in by the extension'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Insert sku, location, from_stage, to_stage, qty, channel, ref, reason and occurred_at only.';
    END IF;
    NEW.id := nextval('inventory_truth.movement_id_seq');
    RETURN NEW;
END
$$;

CREATE TRIGGER movement_guard BEFORE INSERT ON movement
    FOR EACH ROW EXECUTE FUNCTION _movement_guard();
CREATE TRIGGER movement_validate BEFORE INSERT ON movement
    FOR EACH ROW EXECUTE FUNCTION _movement_validate();
CREATE TRIGGER movement_apply AFTER INSERT ON movement
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION _movement_apply();

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

-- Balances and open receipts are the ledger's sums, and SKUs and locations are what it names:
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
CREATE TRIGGER balance_no_truncate BEFORE TRUNCATE ON balance
    FOR EACH STATEMENT EXECUTE FUNCTION _ledger_tables_no_truncate();
CREATE TRIGGER expected_receipt_no_truncate BEFORE TRUNCATE ON expected_receipt
    FOR EACH STATEMENT EXECUTE FUNCTION _ledger_tables_no_truncate();
CREATE TRIGGER sku_no_truncate BEFORE TRUNCATE ON sku
    FOR EACH STATEMENT EXECUTE FUNCTION _ledger_tables_no_truncate();
CREATE TRIGGER location_no_truncate BEFORE TRUNCATE ON location
    FOR EACH STATEMENT EXECUTE FUNCTION _ledger_tables_no_truncate();
CREATE TRIGGER movement_commit_no_truncate BEFORE TRUNCATE ON movement_commit
    FOR EACH STATEMENT EXECUTE FUNCTION _ledger_tables_no_truncate();

-- Records, as the transaction commits, when it did: deferred triggers run in the commit itself,
-- after every statement. The first of a transaction's rows records it; the others find it
-- there. Restored rows (another transaction's txid) are left out: their commits come back from
-- movement_commit's own dump.
CREATE FUNCTION _movement_committed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
BEGIN
    INSERT INTO movement_commit (txid, committed_at) VALUES (NEW.txid, clock_timestamp())
    ON CONFLICT (txid) DO NOTHING;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER movement_committed AFTER INSERT ON movement
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.txid = pg_current_xact_id())
    EXECUTE FUNCTION _movement_committed();

-- Fires at commit only for buckets a transaction drove below zero (the WHEN clause keeps it
-- off every other write), and looks at the bucket as it finally stands. SECURITY DEFINER: a
-- deferred trigger runs as whoever commits, who may not read balance or call _describe.
CREATE FUNCTION _balance_never_negative() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
DECLARE
    final_qty bigint;
BEGIN
    SELECT qty INTO final_qty FROM balance
     WHERE sku = NEW.sku AND location = NEW.location AND stage = NEW.stage;
    IF final_qty < 0 THEN
        RAISE EXCEPTION 'insufficient stock: this transaction moves % more out of stage % than % holds',
                _units(-final_qty), NEW.stage, _describe(NEW.sku, NEW.location)
            USING ERRCODE = 'IT001',
                  DETAIL = format('The bucket would end the transaction at %s.', _units(final_qty));
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER balance_never_negative AFTER INSERT OR UPDATE ON balance
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.qty < 0) EXECUTE FUNCTION _balance_never_negative();

-- Records one movement for the functions below and checks the source bucket at once, so a
-- function call fails at the call, not at commit. Returns the ledger row.
CREATE FUNCTION _move(p_sku text, p_location text, p_from stage, p_to stage, p_qty bigint,
                      p_ref text, p_reason text, p_occurred_at timestamptz,
                      p_channel text DEFAULT NULL)
RETURNS movement
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    m movement;
    left_in_source bigint;
BEGIN
    INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref, reason, occurred_at)
    VALUES (p_sku, p_location, p_from, p_to, p_qty, p_channel, p_ref, p_reason, p_occurred_at)
    RETURNING * INTO m;
    IF p_from IS NOT NULL THEN
        SELECT qty INTO left_in_source FROM balance
         WHERE sku = p_sku AND location = p_location AND stage = p_from;
        IF left_in_source < 0 THEN
            RAISE EXCEPTION 'insufficient stock: % has % in stage %, % asked',
                    _describe(p_sku, p_location), _units(left_in_source + p_qty), p_from, p_qty
                USING ERRCODE = 'IT001';
        END IF;
    END IF;
    RETURN m;
END
$$;

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

CREATE FUNCTION _check_qty(qty bigint, p_sku text, p_location text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF qty IS NULL THEN
        RAISE EXCEPTION 'qty must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF qty <= 0 THEN
        RAISE EXCEPTION 'quantity must be positive: % of %', _units(qty), _describe(p_sku, p_location)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF qty > _max_units() THEN
        RAISE EXCEPTION 'quantity too large: % of %', _units(qty), _describe(p_sku, p_location)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('A movement is at most %s units.', _max_units());
    END IF;
    RETURN qty;
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

CREATE FUNCTION _known_sku(p_sku text) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
#variable_conflict use_column
BEGIN
    IF p_sku IS NULL THEN
        RAISE EXCEPTION 'sku must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM sku WHERE code = p_sku) THEN
        PERFORM _check_code('SKU', p_sku);  -- not a code at all: 22023
        RAISE EXCEPTION 'unknown SKU %', _q(p_sku) USING ERRCODE = 'undefined_object';
    END IF;
    RETURN p_sku;
END
$$;

CREATE FUNCTION _known_location(p_location text) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
#variable_conflict use_column
BEGIN
    IF p_location IS NULL THEN
        RAISE EXCEPTION 'location must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM location WHERE code = p_location) THEN
        PERFORM _check_code('location', p_location);  -- not a code at all: 22023
        RAISE EXCEPTION 'unknown location %', _q(p_location)
            USING ERRCODE = 'undefined_object', HINT = 'Add it with inventory_truth.add_location().';
    END IF;
    RETURN p_location;
END
$$;

