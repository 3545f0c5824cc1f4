-- inventory_truth 0.1.0 -> 0.2.0 (ALTER EXTENSION inventory_truth UPDATE).
-- tests/scripts/upgrade.sh checks that a database updated with this script has the schema of a
-- fresh 0.2.0 install (pg_dump -s of both, the extension's members detached).
\echo Use "ALTER EXTENSION inventory_truth UPDATE" to load this file. \quit

-- Quantities are capped at 10^12 per movement, count, buffer and fence, and per SKU and
-- location (all stages), so that no sum overflows bigint; codes that are not codes at all are
-- 22023 wherever they are looked up; reserve_order checks every SKU before any line.

-- from sql/ledger.sql
CREATE OR REPLACE FUNCTION _units(n bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT n || CASE WHEN n IN (1, -1) THEN ' unit' ELSE ' units' END $$;

-- from sql/ledger.sql
CREATE OR REPLACE FUNCTION _max_units() RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 1000000000000::bigint $$;

-- from sql/ledger.sql
CREATE OR REPLACE FUNCTION _check_qty(qty bigint, p_sku text, p_location text) RETURNS bigint
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

-- from sql/ledger.sql
CREATE OR REPLACE FUNCTION _movement_validate() RETURNS trigger
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

-- from sql/ledger.sql
CREATE OR REPLACE FUNCTION _known_sku(p_sku text) RETURNS text
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

-- from sql/ledger.sql
CREATE OR REPLACE FUNCTION _known_location(p_location text) RETURNS text
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

-- from sql/ledger.sql
CREATE OR REPLACE FUNCTION _movement_apply() RETURNS trigger
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

-- from sql/channels.sql
CREATE OR REPLACE FUNCTION _known_channel(p_channel text) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_channel IS NULL THEN
        RAISE EXCEPTION 'channel must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM channel c WHERE c.code = p_channel) THEN
        PERFORM _check_code('channel', p_channel);  -- not a code at all: 22023
        RAISE EXCEPTION 'unknown channel %', _q(p_channel)
            USING ERRCODE = 'undefined_object', HINT = 'Add it with inventory_truth.add_channel().';
    END IF;
    RETURN p_channel;
END
$$;

-- from sql/channels.sql
CREATE OR REPLACE FUNCTION add_channel(code text, priority int DEFAULT 100, buffer bigint DEFAULT 0,
                            kind text DEFAULT 'web')
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM _check_code('channel', add_channel.code),
            _require(add_channel.priority, 'priority'),
            _require(add_channel.buffer, 'buffer'),
            _require(add_channel.kind, 'kind');
    IF add_channel.buffer < 0 OR add_channel.buffer > _max_units() THEN
        RAISE EXCEPTION 'a safety buffer is 0 to % units, not %', _max_units(), add_channel.buffer
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF add_channel.kind NOT IN ('web', 'marketplace', 'wholesale', 'pos', 'other') THEN
        RAISE EXCEPTION 'unknown channel kind %', _q(add_channel.kind)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Kinds are web, marketplace, wholesale, pos and other.';
    END IF;
    PERFORM _refuse_after_breach(NULL, add_channel.code, 'change a channel');
    PERFORM _atp_changed_everywhere('add_channel');
    INSERT INTO channel (code, priority, buffer, kind)
    VALUES (add_channel.code, add_channel.priority, add_channel.buffer, add_channel.kind)
    ON CONFLICT ON CONSTRAINT channel_pkey DO UPDATE
        SET priority = excluded.priority, buffer = excluded.buffer, kind = excluded.kind;
    RETURN add_channel.code;
END
$$;

-- from sql/channels.sql
CREATE OR REPLACE FUNCTION set_buffer(channel text, sku text, units bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM _known_channel(set_buffer.channel);
    IF set_buffer.units < 0 OR set_buffer.units > _max_units() THEN
        RAISE EXCEPTION 'a safety buffer is 0 to % units, not %', _max_units(), set_buffer.units
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM _refuse_after_breach(set_buffer.sku, set_buffer.channel, 'change a buffer');
    IF set_buffer.sku IS NULL THEN
        PERFORM _require(set_buffer.units, 'units (the channel''s default buffer)');
        PERFORM _atp_changed_everywhere('set_buffer');
        UPDATE channel SET buffer = set_buffer.units WHERE code = set_buffer.channel;
    ELSE
        PERFORM _known_sku(set_buffer.sku);
        PERFORM _atp_changed(set_buffer.sku, 'set_buffer');
        IF set_buffer.units IS NULL THEN
            DELETE FROM sku_buffer b WHERE b.channel = set_buffer.channel AND b.sku = set_buffer.sku;
        ELSE
            INSERT INTO sku_buffer (channel, sku, units)
            VALUES (set_buffer.channel, set_buffer.sku, set_buffer.units)
            ON CONFLICT ON CONSTRAINT sku_buffer_pkey DO UPDATE SET units = excluded.units;
        END IF;
    END IF;
END
$$;

-- from sql/channels.sql
CREATE OR REPLACE FUNCTION set_ringfence(channel text, sku text, units bigint DEFAULT NULL,
                              percent numeric DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM _known_channel(set_ringfence.channel);
    IF set_ringfence.sku IS NOT NULL THEN
        PERFORM _known_sku(set_ringfence.sku);
    END IF;
    IF (set_ringfence.units IS NULL) = (set_ringfence.percent IS NULL) THEN
        RAISE EXCEPTION 'a ringfence is either units or percent: give exactly one'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF set_ringfence.units < 0 OR set_ringfence.units > _max_units() THEN
        RAISE EXCEPTION 'a ringfence is 0 to % units, not %', _max_units(), set_ringfence.units
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF set_ringfence.percent < 0 OR set_ringfence.percent > 100 OR set_ringfence.percent = 'NaN' THEN
        RAISE EXCEPTION 'a ringfence percent must be between 0 and 100, not %', set_ringfence.percent
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO ringfence AS r (channel, sku, units, percent)
    VALUES (set_ringfence.channel, set_ringfence.sku, set_ringfence.units, set_ringfence.percent)
    ON CONFLICT (channel, (coalesce(sku, ''))) DO UPDATE
        SET units = excluded.units, percent = excluded.percent;
    PERFORM rebalance(set_ringfence.sku);
END
$$;

-- from sql/counts.sql
CREATE OR REPLACE FUNCTION _check_counted(units bigint, what text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF units IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF units < 0 OR units > _max_units() THEN
        RAISE EXCEPTION '% must be 0 to % units, not %', what, _max_units(), units
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN units;
END
$$;

-- from sql/holds.sql
CREATE OR REPLACE FUNCTION reserve_order(channel text, ref text, lines jsonb, ttl interval DEFAULT NULL,
                              occurred_at timestamptz DEFAULT now())
RETURNS TABLE (sku text, location text, qty bigint, hold bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    line record;
    h inventory_truth.hold;
BEGIN
    PERFORM _known_channel(reserve_order.channel),
            _check_code('reference', reserve_order.ref),
            _check_ttl(reserve_order.ttl),
            _require(reserve_order.lines, 'lines');
    IF jsonb_typeof(reserve_order.lines) <> 'array'
       OR jsonb_array_length(reserve_order.lines) = 0 THEN
        RAISE EXCEPTION 'lines must be a non-empty JSON array of {"sku": ..., "qty": ...}'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM jsonb_array_elements(reserve_order.lines) l
                WHERE CASE WHEN jsonb_typeof(l) <> 'object' THEN true
                           WHEN jsonb_typeof(l -> 'sku') IS DISTINCT FROM 'string' THEN true
                           WHEN jsonb_typeof(l -> 'qty') IS DISTINCT FROM 'number' THEN true
                           WHEN (l -> 'qty')::numeric <> trunc((l -> 'qty')::numeric) THEN true
                           WHEN abs((l -> 'qty')::numeric) > 9223372036854775807 THEN true
                           WHEN l ? 'location' AND jsonb_typeof(l -> 'location') NOT IN ('string', 'null') THEN true
                           ELSE EXISTS (SELECT FROM jsonb_object_keys(l) k WHERE k NOT IN ('sku', 'qty', 'location'))
                      END) THEN
        RAISE EXCEPTION 'every line must be {"sku": text, "qty": whole number, "location": text (optional)}'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT count(DISTINCT l ->> 'sku') <> count(*) FROM jsonb_array_elements(reserve_order.lines) l) THEN
        RAISE EXCEPTION 'an order lists each SKU once'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Add up the quantities of repeated lines.';
    END IF;
    -- Every SKU must exist: an unknown one is 42704 whichever line it is on, before anything
    -- else is judged: not the refusal of a line that happens to come first, nor a retry's
    -- conflict with the lines held already.
    PERFORM _known_sku(l ->> 'sku') FROM jsonb_array_elements(reserve_order.lines) l;
    -- Calls for one order take turns, first thing (before any SKU: the ledger's order), so a
    -- retry always sees what an earlier call held, even with no SKU in common.
    PERFORM pg_advisory_xact_lock(hashtext('inventory_truth order ' || reserve_order.channel),
                                  hashtext(reserve_order.ref));
    -- A retry must be the same order: lines under this reference that the call does not list,
    -- or lines it adds, are a conflict.
    PERFORM _same_order_lines(reserve_order.channel, reserve_order.ref, reserve_order.lines);
    -- SKU order, whatever the basket's order: two baskets never wait for each other in a cycle.
    FOR line IN
        SELECT l ->> 'sku' AS sku, (l -> 'qty')::numeric::bigint AS qty, l ->> 'location' AS location
          FROM jsonb_array_elements(reserve_order.lines) l
         ORDER BY 1
    LOOP
        h := _reserve(reserve_order.channel, line.sku, line.qty, reserve_order.ref, reserve_order.ttl,
                      line.location, reserve_order.occurred_at);
        sku := h.sku;
        location := h.location;
        qty := h.qty;
        hold := h.id;
        RETURN NEXT;
    END LOOP;
    -- Checked again after the lines: a reserve() under the same reference may have added one
    -- (the call fails whole, undoing the lines reserved above).
    PERFORM _same_order_lines(reserve_order.channel, reserve_order.ref, reserve_order.lines);
END
$$;

-- from sql/holds.sql
CREATE OR REPLACE FUNCTION release(channel text, ref text, occurred_at timestamptz DEFAULT now()) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    hold_id bigint;
    h record;
    released int := 0;
BEGIN
    PERFORM _known_channel(release.channel),
            _require(release.ref, 'ref'),
            _require(release.occurred_at, 'occurred_at');
    IF NOT EXISTS (SELECT FROM hold WHERE hold.channel = release.channel AND hold.ref = release.ref) THEN
        PERFORM _check_code('reference', release.ref);  -- not a code at all: 22023
        RAISE EXCEPTION 'no hold % for channel %', _q(release.ref), _q(release.channel)
            USING ERRCODE = 'undefined_object';
    END IF;
    -- One hold per SKU under a reference, each locked just before its own movement, in the
    -- ledger's SKU order. (A FOR loop with FOR UPDATE would lock rows ahead of the loop, out of
    -- that order.)
    FOR hold_id IN
        SELECT hold.id FROM hold
         WHERE hold.channel = release.channel AND hold.ref = release.ref AND hold.status = 'open'
         ORDER BY hold.sku, hold.location
    LOOP
        -- The SKU's row before its hold, as on every path that changes ATP.
        PERFORM _lock_sku((SELECT hold.sku FROM hold WHERE hold.id = hold_id));
        SELECT hold.sku, hold.location, hold.open_qty INTO h FROM hold
         WHERE hold.id = hold_id AND hold.status = 'open'
           FOR UPDATE;
        CONTINUE WHEN NOT FOUND;  -- picked or lost meanwhile
        PERFORM _move(h.sku, h.location, 'committed', 'available', h.open_qty, release.ref,
                      'hold released', release.occurred_at, release.channel);
        released := released + 1;
    END LOOP;
    RETURN released;
END
$$;

-- from sql/floor.sql
CREATE OR REPLACE FUNCTION receive(sku text, location text, qty bigint, ref text DEFAULT NULL,
                        occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    line_ids bigint[];
    line record;
    drawn bigint;
    unplanned bigint := receive.qty;
BEGIN
    PERFORM _check_code('SKU', receive.sku),
            _known_location(receive.location),
            _check_qty(receive.qty, receive.sku, receive.location),
            _require(receive.occurred_at, 'occurred_at');
    IF receive.ref IS NOT NULL AND NOT EXISTS (
            SELECT FROM expected_receipt e
             WHERE e.ref = receive.ref AND e.sku = receive.sku AND e.location = receive.location) THEN
        PERFORM _check_code('reference', receive.ref);  -- not a code at all: 22023
        RAISE EXCEPTION 'no expected receipt % for %', _q(receive.ref),
                _describe(receive.sku, receive.location)
            USING ERRCODE = 'undefined_object',
                  HINT = 'Leave ref out for an unplanned arrival.';
    END IF;
    -- Expected units arrive from inbound: from the named receipt, or without a reference from
    -- the open receipts in ETA order, one movement per receipt so the ledger says which. All
    -- of them are locked first, in id order, after the SKU's row and before any bucket: the
    -- lock order of every path.
    PERFORM _lock_sku(receive.sku, p_create => true);
    SELECT array_agg(locked.id) INTO line_ids
      FROM (SELECT e.id FROM expected_receipt e
             WHERE e.sku = receive.sku AND e.location = receive.location AND e.open_qty > 0
               AND (receive.ref IS NULL OR e.ref = receive.ref)
             ORDER BY e.id
               FOR UPDATE) locked;
    FOR line IN
        SELECT e.ref, e.open_qty FROM expected_receipt e
         WHERE e.id = ANY (line_ids) ORDER BY e.eta NULLS LAST, e.id
    LOOP
        drawn := least(line.open_qty, unplanned);
        RETURN NEXT _move(receive.sku, receive.location, 'inbound', 'receiving', drawn,
                          line.ref, 'arrival (planned)', receive.occurred_at);
        unplanned := unplanned - drawn;
        EXIT WHEN unplanned = 0;
    END LOOP;
    -- The rest arrived all the same: the dock has it.
    IF unplanned > 0 THEN
        RETURN NEXT _move(receive.sku, receive.location, NULL, 'receiving', unplanned,
                          receive.ref, 'arrival (unplanned)', receive.occurred_at);
    END IF;
END
$$;

-- from sql/readiness.sql: item 1 with no shipment yet is a warn that says so (was a pass on
-- "n/a of 0 units").
CREATE OR REPLACE FUNCTION readiness(since interval DEFAULT '30 days')
RETURNS TABLE (item int, question text, status text, evidence text, advice text, figures jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    window_start timestamptz := now() - _check_window(readiness.since, 'since');
    shipped bigint;
    shipped_scanned_first bigint;
    scanned_first numeric;
    picks bigint;
    pick_p50 interval;
    pick_p95 interval;
    worst jsonb;
    pairs bigint;
    unbuffered bigint;
    outside_range bigint;
    sellers bigint;
    unfenced jsonb;
    partly_fenced jsonb;
    wholesale_channels bigint;
    damages bigint;
    damage_p50 interval;
    damage_p95 interval;
    damage_max interval;
BEGIN
    ----------------------------------------------------------------------------------------
    -- 1. Stock leaves ATP at the pick scan, not at shipping: shipped units whose pick scan
    -- was committed at least 30 s before their shipment (the order's own pick when both carry
    -- its reference, else the SKU's last pick there), and how late scans arrive. A WMS that
    -- records the pick only when it ships, in one transaction or two, fails this.
    item := 1;
    question := 'Does stock leave ATP when a picker scans, or only at shipping?';
    WITH scan AS (
        SELECT m.sku, m.location, coalesce(m.ref, '') AS ref, m.qty, c.committed_at,
               m.to_stage = 'shipped' AS is_ship
          FROM movement m JOIN movement_commit c ON c.txid = m.txid
         WHERE m.recorded_at >= window_start - interval '1 day' AND m.to_stage IN ('picked', 'shipped')
    ), paired AS (
        -- Ships sort before picks committed at the same moment (the same transaction), so
        -- "before" means an earlier transaction.
        SELECT s.*,
               max(s.committed_at) FILTER (WHERE NOT s.is_ship)
                   OVER (PARTITION BY s.sku, s.location, s.ref ORDER BY s.committed_at, NOT s.is_ship
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS own_pick,
               max(s.committed_at) FILTER (WHERE NOT s.is_ship)
                   OVER (PARTITION BY s.sku, s.location ORDER BY s.committed_at, NOT s.is_ship
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS any_pick
          FROM scan s
    )
    SELECT coalesce(sum(p.qty), 0),
           coalesce(sum(p.qty) FILTER (WHERE p.committed_at - coalesce(CASE WHEN p.ref <> '' THEN p.own_pick END, p.any_pick)
                                             >= interval '30 seconds'), 0)
      INTO shipped, shipped_scanned_first
      FROM paired p
     WHERE p.is_ship AND p.committed_at >= window_start;
    SELECT count(*),
           percentile_disc(0.5) WITHIN GROUP (ORDER BY c.committed_at - m.occurred_at),
           percentile_disc(0.95) WITHIN GROUP (ORDER BY c.committed_at - m.occurred_at)
      INTO picks, pick_p50, pick_p95
      FROM movement m JOIN movement_commit c ON c.txid = m.txid
     WHERE m.recorded_at >= window_start AND m.to_stage = 'picked';
    SELECT jsonb_agg(w) INTO worst FROM (
        SELECT m.sku, _lag_text(max(c.committed_at - m.occurred_at)) AS worst_scan_lag
          FROM movement m JOIN movement_commit c ON c.txid = m.txid
         WHERE m.recorded_at >= window_start AND m.to_stage = 'picked'
         GROUP BY m.sku ORDER BY max(c.committed_at - m.occurred_at) DESC, m.sku LIMIT 3) w;
    scanned_first := CASE WHEN shipped > 0 THEN shipped_scanned_first::numeric / shipped END;
    figures := jsonb_build_object('shipped_units', shipped, 'scanned_first_share', round(scanned_first, 3),
                                  'pick_scans', picks, 'scan_lag_p50', pick_p50, 'scan_lag_p95', pick_p95,
                                  'worst_skus', coalesce(worst, '[]'));
    IF shipped = 0 AND picks = 0 THEN
        status := 'warn';
        evidence := 'No pick scans or shipments recorded in the window: nothing to judge.';
        advice := 'Record pick scans with pick() as pickers scan, and shipments with ship().';
    ELSE
        -- No shipment yet: the share cannot be judged, so at best a warn.
        status := CASE WHEN coalesce(scanned_first, 1) < 0.80 OR pick_p95 > interval '15 minutes' THEN 'fail'
                       WHEN coalesce(scanned_first, 0) < 0.95 OR pick_p95 > interval '1 minute' THEN 'warn'
                       ELSE 'pass' END;
        evidence := CASE WHEN shipped = 0 THEN 'No shipments in the window yet; '
                         ELSE format('%s of %s shipped were pick-scanned at least 30 s before their shipment was recorded; ',
                                     round(100 * scanned_first) || '%', _units(shipped)) END
                 || format('%s pick scans reached the database p50 %s, p95 %s after the scan.',
                           picks, _lag_text(pick_p50), _lag_text(pick_p95));
        advice := CASE status
            WHEN 'pass' THEN 'Nothing to do: stock leaves ATP at the scan.'
            ELSE 'Send each pick scan to pick() as it happens (not in a batch with the shipment): until then the storefront sells units already on a cart. Aim for 95% scanned first and a p95 under a minute.'
        END;
    END IF;
    RETURN NEXT;

    ----------------------------------------------------------------------------------------
    -- 2. Safety buffers of 2-5 units on public channels for the best sellers (the ten SKUs
    -- with the most units sold on public channels in the window).
    item := 2;
    question := 'Do the most popular SKUs have a safety buffer of 2-5 units on public channels?';
    WITH best AS (
        -- Units sold on public channels: reserved or scanned for them, less releases.
        SELECT m.sku, sum(CASE WHEN m.from_stage = 'available' THEN m.qty ELSE -m.qty END) AS sold
          FROM movement m JOIN channel ch ON ch.code = m.channel
         WHERE m.recorded_at >= window_start AND ch.kind IN ('web', 'marketplace', 'pos')
           AND ((m.from_stage = 'available' AND m.to_stage IN ('committed', 'picked'))
                OR (m.from_stage = 'committed' AND m.to_stage = 'available'))
         GROUP BY m.sku
        HAVING sum(CASE WHEN m.from_stage = 'available' THEN m.qty ELSE -m.qty END) > 0
         ORDER BY 2 DESC, m.sku LIMIT 10
    ), pair AS (
        SELECT b.sku, b.sold, ch.code AS channel, _buffer(ch.code, b.sku) AS buffer
          FROM best b CROSS JOIN channel ch
         WHERE ch.kind IN ('web', 'marketplace', 'pos')
    )
    SELECT (SELECT count(*) FROM best), count(*),
           count(*) FILTER (WHERE p.buffer = 0),
           count(*) FILTER (WHERE p.buffer NOT BETWEEN 2 AND 5),
           jsonb_agg(jsonb_build_object('sku', p.sku, 'channel', p.channel, 'buffer', p.buffer)
                     ORDER BY p.buffer, p.sold DESC, p.sku, p.channel)
               FILTER (WHERE p.buffer NOT BETWEEN 2 AND 5)
      INTO sellers, pairs, unbuffered, outside_range, worst
      FROM pair p;
    figures := jsonb_build_object('best_sellers', sellers, 'sku_channel_pairs', pairs,
                                  'without_buffer', unbuffered, 'outside_2_to_5', outside_range,
                                  'worst', coalesce(worst, '[]'));
    IF sellers = 0 OR pairs = 0 THEN
        status := 'warn';
        evidence := CASE WHEN sellers = 0 THEN 'No sales recorded in the window: no best sellers to judge.'
                         ELSE 'No public channel (web, marketplace, pos) to judge.' END;
        advice := 'Once sales flow, give the best sellers a buffer of 2-5 units on public channels with set_buffer().';
    ELSE
        status := CASE WHEN unbuffered > 0 THEN 'fail' WHEN outside_range > 0 THEN 'warn' ELSE 'pass' END;
        evidence := format('%s of %s best-seller/public-channel pairs have a buffer of 2-5 units; %s without any buffer.%s',
                           pairs - outside_range, pairs, unbuffered,
                           CASE WHEN worst IS NULL THEN ''
                                ELSE ' Worst: ' || (SELECT string_agg(format('%s on %s (%s)', w->>'sku', w->>'channel', w->>'buffer'), ', ')
                                                      FROM (SELECT w FROM jsonb_array_elements(worst) w LIMIT 5) x) END);
        advice := CASE status
            WHEN 'pass' THEN 'Nothing to do.'
            WHEN 'fail' THEN 'A best seller without a buffer sells its last unit blind: give it 2-5 units with set_buffer(channel, sku, units) or a channel default with add_channel(..., buffer => 3).'
            ELSE 'Bring the buffers into 2-5 units: 1 barely absorbs a miscount, more than 5 hides sellable stock.'
        END;
    END IF;
    RETURN NEXT;

    ----------------------------------------------------------------------------------------
    -- 3. Wholesale walled off: every wholesale channel has a ringfence covering every SKU it
    -- sold in the window (an every-SKU rule covers all).
    item := 3;
    question := 'Is wholesale stock walled off (a ringfence on wholesale channels)?';
    SELECT count(*) INTO wholesale_channels FROM channel ch WHERE ch.kind = 'wholesale';
    SELECT jsonb_agg(ch.code ORDER BY ch.code) INTO unfenced
      FROM channel ch
     WHERE ch.kind = 'wholesale'
       AND NOT EXISTS (SELECT FROM ringfence r WHERE r.channel = ch.code
                          AND coalesce(r.units, 0) + coalesce(r.percent, 0) > 0);
    SELECT jsonb_agg(jsonb_build_object('channel', s.channel, 'sku', s.sku) ORDER BY s.channel, s.sku)
      INTO partly_fenced
      FROM (SELECT DISTINCT m.channel, m.sku FROM movement m JOIN channel ch ON ch.code = m.channel
             WHERE ch.kind = 'wholesale' AND m.recorded_at >= window_start
               AND m.from_stage = 'available' AND m.to_stage IN ('committed', 'picked')) s
     WHERE NOT (unfenced ? s.channel) IS TRUE
       -- The rule in force: the SKU's own, else the every-SKU rule (as fences fill).
       AND NOT EXISTS (SELECT FROM (SELECT r.units, r.percent FROM ringfence r
                                     WHERE r.channel = s.channel AND (r.sku = s.sku OR r.sku IS NULL)
                                     ORDER BY r.sku NULLS LAST LIMIT 1) rule
                        WHERE coalesce(rule.units, 0) + coalesce(rule.percent, 0) > 0);
    figures := jsonb_build_object('wholesale_channels', wholesale_channels,
                                  'without_ringfence', coalesce(unfenced, '[]'),
                                  'skus_sold_without_ringfence', coalesce(partly_fenced, '[]'));
    IF wholesale_channels = 0 THEN
        status := 'pass';
        evidence := 'No wholesale channel: there is nothing to wall off.';
        advice := 'When wholesale sells here, add it with add_channel(..., kind => ''wholesale'') and a ringfence.';
    ELSE
        status := CASE WHEN unfenced IS NOT NULL THEN 'fail' WHEN partly_fenced IS NOT NULL THEN 'warn' ELSE 'pass' END;
        evidence := CASE status
            WHEN 'fail' THEN format('Wholesale channel(s) without any ringfence: %s.',
                                    (SELECT string_agg(c, ', ') FROM jsonb_array_elements_text(unfenced) c))
            WHEN 'warn' THEN format('SKUs wholesale sold without a ringfence for them: %s, e.g. %s.',
                                    jsonb_array_length(partly_fenced),
                                    (SELECT string_agg(format('%s on %s', w->>'sku', w->>'channel'), ', ')
                                       FROM (SELECT w FROM jsonb_array_elements(partly_fenced) w LIMIT 5) x))
            ELSE format('All %s wholesale channel(s) are ringfenced for every SKU they sold.', wholesale_channels)
        END;
        advice := CASE status
            WHEN 'pass' THEN 'Nothing to do.'
            ELSE 'Wall wholesale promises off from the storefront: set_ringfence(channel, NULL, percent => ...) for every SKU, or per SKU.'
        END;
    END IF;
    RETURN NEXT;

    ----------------------------------------------------------------------------------------
    -- 4. Damage found on the shelf reaches ATP quickly: commit time minus discovery time of
    -- available -> damaged movements.
    item := 4;
    question := 'How long from a damage discovery to the commit that removed it from ATP?';
    SELECT count(*),
           percentile_disc(0.5) WITHIN GROUP (ORDER BY c.committed_at - m.occurred_at),
           percentile_disc(0.95) WITHIN GROUP (ORDER BY c.committed_at - m.occurred_at),
           max(c.committed_at - m.occurred_at)
      INTO damages, damage_p50, damage_p95, damage_max
      FROM movement m JOIN movement_commit c ON c.txid = m.txid
     WHERE m.recorded_at >= window_start AND m.from_stage = 'available' AND m.to_stage = 'damaged';
    SELECT jsonb_agg(w) INTO worst FROM (
        SELECT m.sku, _lag_text(max(c.committed_at - m.occurred_at)) AS worst_lag
          FROM movement m JOIN movement_commit c ON c.txid = m.txid
         WHERE m.recorded_at >= window_start AND m.from_stage = 'available' AND m.to_stage = 'damaged'
         GROUP BY m.sku ORDER BY max(c.committed_at - m.occurred_at) DESC, m.sku LIMIT 3) w;
    figures := jsonb_build_object('damage_reports', damages, 'lag_p50', damage_p50, 'lag_p95', damage_p95,
                                  'lag_max', damage_max, 'worst_skus', coalesce(worst, '[]'));
    IF damages = 0 THEN
        status := 'warn';
        evidence := 'No damage of available stock recorded in the window.';
        advice := 'Damage nobody records stays on sale: report it with report_damage() when it is found.';
    ELSE
        status := CASE WHEN damage_p95 > interval '1 hour' THEN 'fail'
                       WHEN damage_p95 > interval '5 minutes' THEN 'warn' ELSE 'pass' END;
        evidence := format('Damage reports: %s. Removed from ATP p50 %s, p95 %s, at worst %s after discovery.%s',
                           damages, _lag_text(damage_p50), _lag_text(damage_p95), _lag_text(damage_max),
                           CASE WHEN worst IS NULL THEN ''
                                ELSE ' Slowest: ' || (SELECT string_agg(format('%s (%s)', w->>'sku', w->>'worst_lag'), ', ')
                                                        FROM jsonb_array_elements(worst) w) END);
        advice := CASE status
            WHEN 'pass' THEN 'Nothing to do.'
            ELSE 'Report damage from the floor as it is found (a scanner calling report_damage), not at the end of a shift: aim for a p95 under 5 minutes.'
        END;
    END IF;
    RETURN NEXT;
END
$$;


-- atp_timeline projects each day's arrivals as one put-away per location, day by day (the fill
-- of a later day sees the targets of that day's total, not all arrivals at once).
-- from src/fence.rs (pgrx)
CREATE  FUNCTION "_fence_project"(
	"available" bigint, /* i64 */
	"inflows" bigint[], /* Vec < i64 > */
	"units" bigint[], /* Vec < Option < i64 > > */
	"percents" NUMERIC[], /* Vec < Option < AnyNumeric > > */
	"held" bigint[], /* Vec < i64 > */
	"fences" bigint[], /* Vec < i64 > */
	"channel" INT /* Option < i32 > */
) RETURNS bigint[] /* Vec < i64 > */
IMMUTABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'fence_project_wrapper';

-- from sql/timeline.sql
CREATE OR REPLACE FUNCTION atp_timeline(sku text, channel text)
RETURNS TABLE (day date, inbound bigint, in_building bigint, atp bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    p_sku text := _known_sku(atp_timeline.sku);
    p_channel text := _known_channel(atp_timeline.channel);
BEGIN
    -- Each location's arrivals are put away on their day, one put-away per location and day,
    -- in day order: each fills the fences like a real put-away (channel priority order, up to
    -- the targets at the new available total) and the rest goes to the pool (_fence_project).
    -- The channel's ATP on a day is then its fence plus the pool at every location, less its
    -- buffer. Stock in the building and inbound already due or overdue arrive today; the
    -- projection assumes nothing is sold meanwhile.
    RETURN QUERY
    WITH arrival AS (
        SELECT e.location, greatest(e.eta, current_date) AS day, sum(e.open_qty)::bigint AS inbound,
               0::bigint AS in_building
          FROM expected_receipt e
         WHERE e.sku = p_sku AND e.open_qty > 0 AND e.eta IS NOT NULL
         GROUP BY 1, 2
        UNION ALL
        SELECT b.location, current_date, 0, sum(b.qty)::bigint
          FROM balance b
         WHERE b.sku = p_sku AND b.stage IN ('receiving', 'quality_control') AND b.qty > 0
         GROUP BY 1
    ), days AS (
        SELECT array_agg(d.day ORDER BY d.day) AS days
          FROM (SELECT current_date AS day UNION SELECT a.day FROM arrival a) d
    ), place AS (
        SELECT b.location, b.qty AS available FROM balance b
         WHERE b.sku = p_sku AND b.stage = 'available'
        UNION
        SELECT a.location, 0 FROM arrival a
         WHERE NOT EXISTS (SELECT FROM balance b
                            WHERE b.sku = p_sku AND b.location = a.location AND b.stage = 'available')
    ), fenced AS (
        SELECT p.location, p.available,
               coalesce(array_agg(f.channel ORDER BY f.n) FILTER (WHERE f.channel IS NOT NULL), '{}') AS channels,
               coalesce(array_agg(f.units ORDER BY f.n) FILTER (WHERE f.channel IS NOT NULL), '{}') AS units,
               coalesce(array_agg(f.percent ORDER BY f.n) FILTER (WHERE f.channel IS NOT NULL), '{}') AS percents,
               coalesce(array_agg(f.qty ORDER BY f.n) FILTER (WHERE f.channel IS NOT NULL), '{}') AS fences
          FROM place p
          LEFT JOIN LATERAL _fence_channels(p_sku, p.location) WITH ORDINALITY AS f(channel, units, percent, qty, n)
            ON true
         GROUP BY p.location, p.available
    ), projected AS (
        SELECT step.n, step.sellable
          FROM fenced p
         CROSS JOIN days d
         CROSS JOIN LATERAL unnest(_fence_project(
                    p.available,
                    ARRAY(SELECT coalesce((SELECT sum(a.inbound + a.in_building) FROM arrival a
                                            WHERE a.location = p.location AND a.day = x.day), 0)::bigint
                            FROM unnest(d.days) WITH ORDINALITY AS x(day, n) ORDER BY x.n),
                    p.units, p.percents, _held_from_fences(p_sku, p.location, p.channels), p.fences,
                    array_position(p.channels, p_channel))) WITH ORDINALITY AS step(sellable, n)
    )
    SELECT x.day,
           coalesce((SELECT sum(a.inbound) FROM arrival a WHERE a.day = x.day), 0)::bigint,
           coalesce((SELECT sum(a.in_building) FROM arrival a WHERE a.day = x.day), 0)::bigint,
           greatest(0, coalesce((SELECT sum(pr.sellable) FROM projected pr WHERE pr.n = x.n), 0)
                       - _buffer(p_channel, p_sku))::bigint
      FROM days d
     CROSS JOIN LATERAL unnest(d.days) WITH ORDINALITY AS x(day, n)
     WHERE EXISTS (SELECT FROM fenced)
     ORDER BY x.day;
    IF NOT FOUND THEN
        -- No stock here, in the building or on its way.
        day := current_date; inbound := 0; in_building := 0; atp := 0;
        RETURN NEXT;
    END IF;
END
$$;
COMMENT ON FUNCTION atp_timeline(text, text) IS
    'ATP of a SKU for a channel projected by date: today''s row adds the stock in receiving and QC and inbound stock due today or overdue, each later row the inbound stock due that day (ETA), as if put away on arrival and nothing sold meanwhile; fences fill first as they would. inbound and in_building are the units arriving that day, atp the projection at the end of it: each day''s arrivals at a location are one put-away, in day order. Inbound without an ETA is left out (set one with set_eta).';

-- Helpers are called by the extension's own functions only (privileges.sql).
REVOKE ALL ON FUNCTION _max_units() FROM PUBLIC;
REVOKE ALL ON FUNCTION _fence_project(bigint, bigint[], bigint[], numeric[], bigint[], bigint[], integer) FROM PUBLIC;

-- Descriptions of every object (sql/comments.sql).
-- Descriptions for the objects whose definition carries no COMMENT ON (\df+, \d+, \dT+ show
-- them): the internal helpers, the tables' and views' columns, the composite type's columns,
-- the sequences. Loaded after every other SQL file (it names objects from all of them). The
-- public functions, tables and views are described next to their definitions.
--
-- Every object of the extension must have a description: a query over pg_depend (deptype 'e')
-- that lists the objects without one must return no rows.

------------------------------------------------------------------------------------------------
-- Internal helpers (names starting with _). Not part of the API: EXECUTE is not granted to any
-- level; they run inside the SECURITY DEFINER functions and the ledger's triggers.

-- ledger.sql
COMMENT ON FUNCTION inventory_truth._check_code(text, text) IS
    'Returns the code of the given kind (SKU, location, channel, reference) if valid: NULL is 22004; empty, over 100 characters, control characters or surrounding spaces are 22023. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._actor() IS
    'The acting role recorded in movement.actor and elsewhere: the SET ROLE role, else the session''s login role (SECURITY DEFINER functions do not change it). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._units(bigint) IS
    'A quantity as messages show it: "1 unit", "5 units". Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._max_units() IS
    'The most units a movement, count, buffer or fence may name, and the most a location may hold of one SKU over all stages (10^12): no sum can overflow bigint. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._q(text) IS
    'A code in double quotes, as messages show it. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._describe(text, text) IS
    'A SKU and location as messages show them: SKU "..." at location "...". Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._lock_sku(text, boolean) IS
    'Takes the SKU''s row lock, first in the ledger''s lock order; with p_create, creates the SKU first when it does not exist. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._add_to_bucket(text, text, inventory_truth.stage, bigint) IS
    'Adds delta units to a balance bucket (SKU, location, stage), creating it when needed, and returns its new quantity; locks the row. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._track_expected_receipt(inventory_truth.movement, bigint[]) IS
    'Keeps expected receipts in step with one ledger row into or out of inbound: into inbound adds to the receipt its ref names (creating it) and returns its id; out of inbound draws from the receipt ref names (42704 if none, IT001 if too few open) or, without ref, from the locked open receipts in ETA order (IT001 if they cannot cover it). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._recorded_now(inventory_truth.movement) IS
    'True for a ledger row recorded by the current transaction, as opposed to restored history. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._movement_validate() IS
    'Row trigger on movement: checks a new row as every function''s row is checked (required columns 23502, qty > 0 and a real occurred_at 22023, allowed transition IT002, known location and channel 42704, codes, a ref into inbound, a channel and ref naming the hold into or out of committed 22004) and fills in recorded_at, actor and txid; restored rows and rows reserve applied itself are stored as they are. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._movement_apply() IS
    'Statement trigger on movement: applies the statement''s new rows in the ledger''s lock order: creates SKUs a row introduces (42704 for other unknown SKUs), advances versions, keeps expected receipts, balances, holds and fences in step. Restored history and a row reserve applied itself are left alone. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._movement_guard() IS
    'First row trigger on movement, run with the inserting role''s rights: only the table''s owner may supply recorded_at, actor or txid (42501 otherwise); everyone else''s rows get their id from the sequence. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._movement_append_only() IS
    'Trigger that refuses UPDATE, DELETE and TRUNCATE of the ledger (42501): a mistake is corrected by a correcting movement. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._ledger_tables_no_truncate() IS
    'Trigger that refuses TRUNCATE (42501) of the tables the ledger sums into or names: balance, expected_receipt, sku, location, movement_commit, fence, hold. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._movement_committed() IS
    'Deferred trigger on movement: records, as the transaction commits, its commit time in movement_commit (the commit side of the warehouse lag). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._balance_never_negative() IS
    'Deferred constraint trigger on balance, fired for buckets driven below zero: at commit, refuses with IT001 a transaction that leaves a bucket negative. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._move(text, text, inventory_truth.stage, inventory_truth.stage, bigint, text, text, timestamp with time zone, text) IS
    'Records one movement in the ledger (through its triggers, like a direct insert) and checks the source bucket at once (IT001), so a function fails at the call rather than at commit; returns the ledger row. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._require(anyelement, text) IS
    'Returns the value, or raises 22004 naming the argument when it is NULL. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._check_qty(bigint, text, text) IS
    'Returns a movement quantity if valid: NULL is 22004, zero or less is 22023. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._check_eta(date) IS
    'Returns an ETA if valid: NULL is 22004, infinity is 22023. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._known_sku(text) IS
    'Returns the SKU code if the SKU exists: NULL is 22004, unknown is 42704. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._known_location(text) IS
    'Returns the location code if the location exists: NULL is 22004, unknown is 42704. Internal: not for direct use.';

-- floor.sql
COMMENT ON FUNCTION inventory_truth._floor_move(text, text, inventory_truth.stage, inventory_truth.stage, bigint, text, text, timestamp with time zone) IS
    'The checks of a floor function that moves stock between two known stages (known SKU and location, positive qty, occurred_at not NULL), then one movement through _move. Internal: not for direct use.';

-- channels.sql
COMMENT ON FUNCTION inventory_truth._known_channel(text) IS
    'Returns the channel code if the channel exists: NULL is 22004, unknown is 42704. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._buffer(text, text) IS
    'The safety buffer of a channel for a SKU: the SKU''s own (sku_buffer), else the channel''s default. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._sellable(text, text, text) IS
    'What a channel may sell of a SKU before its buffer: its fence plus the pool (available units less other channels'' fences), at one location or, location NULL, summed over all. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._fence_channels(text, text) IS
    'The fenced channels of a SKU at a location in priority order: the rule in force for each (the SKU''s own, else the every-SKU rule: units or percent) and its fenced units now; also channels still holding fenced units without a rule. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._fence_targets(bigint, bigint[], numeric[], bigint[]) IS
    'Each fence''s target at a location with the given available units (its units, or floor(percent x available / 100); 0 without a rule), less what its channel holds from its fence in open holds, never below 0. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._held_from_fences(text, text, text[]) IS
    'Units each channel (in the order given) holds from its fence at a location in open holds (the sum of hold.fence_qty). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._write_fences(text, text, text[], bigint[], bigint[]) IS
    'Writes the fences of a SKU at a location whose quantity changed (before -> after). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._channel_check_at_commit() IS
    'Deferred constraint trigger on channel_check: at commit, refuses with IT003 a direct ledger sale that still takes other channels'' fenced units or leaves its channel with less than its safety buffer. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._refuse_after_breach(text, text, text) IS
    'Refuses with IT003 a rule change (rebalance, ringfence, buffer, channel) in a transaction whose direct ledger sales of that SKU or channel (NULL: any) breached a fence or buffer and await their check at commit. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._rebalance_sku(text) IS
    'rebalance() for one SKU: recomputes its fences at every location from the rules (available units fill fences in priority order up to their targets, the rest is the pool; holds keep their units), advances its version when they change, and returns the number of locations changed. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._atp_of(bigint, bigint, bigint, bigint) IS
    'ATP from its parts: max(0, available - fenced + the channel''s own fenced units - buffer), NULLs counting as 0. Internal: not for direct use.';

-- fence.rs (Rust)
COMMENT ON FUNCTION inventory_truth._fence_fill(bigint, bigint[], bigint[]) IS
    'An inflow of qty units to available stock: fills the fences (priority order) up to their targets, the rest goes to the pool; returns the new fence quantities. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._fence_take_loss(bigint, bigint, bigint[]) IS
    'A loss of qty units from available stock: the pool pays first, then the fences, lowest priority first; returns the new fence quantities. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._fence_allocate(bigint, bigint[]) IS
    'Fences recomputed from scratch: the available units go to the fences in priority order, each up to its target, the rest is the pool; returns the fence quantities. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._fence_project(bigint, bigint[], bigint[], numeric[], bigint[], bigint[], integer) IS
    'One location projected over successive daily inflows, each filling the fences like a put-away: the units the channel at the given index may sell after each. atp_timeline sums them over locations. Internal: not for direct use.';

-- holds.sql
COMMENT ON FUNCTION inventory_truth._lock_place_holds(text, text, inventory_truth.movement[]) IS
    'Ledger statement trigger step for a SKU and location: locks the holds its rows name (and every open hold there when a row takes committed units without naming one), creates the holds that rows into committed name for the first time, and returns their ids. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._apply_channel_rows(text, text, inventory_truth.movement[], bigint, bigint[]) IS
    'Ledger statement trigger step for a SKU and location: replays the rows that touch available or committed stock on the fences and holds (inflows fill fences, sales take the channel''s fence then the pool, losses the pool then the fences, releases go back where they came from, picks and losses consume holds) and registers in channel_check any direct sale that breaches a fence or buffer. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._check_ttl(interval) IS
    'Returns a hold''s ttl if valid: NULL (never expires), or positive as a time from now and at most 100 years (22023 otherwise). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._check_sale(text, text, text, bigint) IS
    'Refuses with IT001 a sale of qty units of a SKU for a channel beyond its ATP (fence + pool at every location, less its buffer) or beyond its fence and the pool at the location. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._reserve(text, text, bigint, text, interval, text, timestamp with time zone) IS
    'One reservation, for reserve and reserve_order: checks the arguments, returns an open hold with the same content (idempotent retry; other content is IT004), else picks the location, checks the sale (IT001), applies the hold, buckets and fence itself and records the ledger row marked as applied. Returns the hold. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._same_order_lines(text, text, jsonb) IS
    'Refuses with IT004 order lines whose SKUs differ from those already held under the channel''s reference (none held: accepted). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._expire_due_holds(integer, boolean) IS
    'Releases up to p_limit (NULL: every) open holds past their expiry (committed -> available, status expired) and returns how many; skips holds being picked or released; with p_skip_busy, also those whose SKU another transaction has locked. expire_holds() and the relay call it. Internal: not for direct use.';

-- counts.sql and count.rs (Rust)
COMMENT ON FUNCTION inventory_truth._check_counted(bigint, text) IS
    'Returns a counted or found quantity if valid: NULL is 22004, negative is 22023. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._check_window(interval, text, boolean) IS
    'Returns a look-back window if valid: NULL is 22004; over 100 years, or not positive (negative when allow_zero), is 22023. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._check_event_time(timestamp with time zone) IS
    'Returns occurred_at if valid: NULL is 22004, infinity is 22023. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._lock_bin(text, text) IS
    'Locks a bin in the ledger''s lock order (the SKU''s row, its open holds at the location, its available, committed and missing buckets) and returns those three quantities. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._holds_go_missing(text, text, bigint, text, timestamp with time zone) IS
    'Moves p_qty committed units of a bin to missing, one ledger row per hold naming it, lowest-priority channel first, newest hold first; returns the rows. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._count_shortfall(bigint, bigint, bigint) IS
    'A short pick''s arithmetic: of the units a bin lacks (available + committed - found, never negative), how many leave available (first) and how many leave committed. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._count_reconciliation(bigint, bigint, bigint, bigint) IS
    'A count''s arithmetic: for counted units against a bin''s available + committed and the missing units there, the units found (missing -> available), gained (outside -> available), lost from available (-> written_off), lost from committed (-> missing) and written off from missing. Internal: not for direct use.';

-- applied.rs (Rust)
COMMENT ON FUNCTION inventory_truth._row_applied_next(text, text, text, text, bigint, text, text) IS
    'Marks the next ledger row of the current (sub)transaction, if it has exactly this content, as already applied by the calling function (reserve), so the ledger''s triggers only store it. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._row_was_applied(text, text, text, text, bigint, text, text) IS
    'Called by the ledger''s row trigger for every new row: consumes any mark left by _row_applied_next and says whether it covered this row. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._statement_was_applied() IS
    'Called first by the ledger''s statement trigger: true when the statement''s row was applied by the function that inserted it, so there is nothing left to apply. Internal: not for direct use.';

-- notify.sql and notify.rs (Rust)
COMMENT ON FUNCTION inventory_truth._notify_mode() IS
    'The notification mode in force for this session: off, direct or relay (inventory_truth.notify_mode; auto and relay are relay only when the library is preloaded, else direct). In relay mode it also arranges to wake the relay when the transaction commits. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._publish_before_commit(text, oid) IS
    'Direct mode: remembers a SKU the transaction changed and, just before commit, publishes them all through the given function (_publish_committed); nothing on rollback or PREPARE TRANSACTION. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._atp_changed(text, text) IS
    'Records that a SKU''s ATP may have changed: advances its version (under its row lock) with the time and cause, then by notify mode records it in atp_dirty (relay), queues it for publication before commit (direct), or nothing (off). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._atp_changed_everywhere(text) IS
    '_atp_changed for every SKU (rows locked in code order): a rule change that touches all SKUs (add_channel, a channel''s default buffer). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._atp_rows(text[]) IS
    'Each channel''s ATP of the given SKUs now, as atp_snapshot() computes it, with the SKU''s version, last change time and cause, read in one snapshot. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._publish(text[]) IS
    'Publishes the given SKUs'' ATP changes since their last publication: one NOTIFY on inventory_truth.notify_channel per (SKU, channel) whose ATP differs from atp_published (every channel when the version moved by more than one), then records what it published. Returns the notifications sent. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._publish_committed(text[]) IS
    'Direct mode: _publish run as the extension''s owner, called just before commit with the SKUs the transaction changed. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._relay_publish(integer) IS
    'The relay''s step: takes up to p_batch entries of atp_dirty (id order) and publishes their SKUs; returns how many entries it took. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._relay_resync() IS
    'The relay''s start: records in atp_dirty every SKU whose version moved past what was last published (changes a crash or a stop left unpublished); returns how many. Internal: not for direct use.';

-- readiness.sql
COMMENT ON FUNCTION inventory_truth._lag_text(interval) IS
    'A lag as people read it ("0.3 s", "42 s", "4 min 10 s", "2 h 5 min", "3 days 4 h", cut not rounded; NULL is "n/a"), for readiness(). Internal: not for direct use.';

------------------------------------------------------------------------------------------------
-- Columns of the tables (docs/reference.md, "The ledger" and "Holds").

COMMENT ON COLUMN inventory_truth.sku.code IS 'The SKU code, the key everywhere: 1 to 100 characters, without control characters or surrounding spaces.';
COMMENT ON COLUMN inventory_truth.sku.created_at IS 'When the SKU was created (by an expected receipt, an arrival or a count gain).';

COMMENT ON COLUMN inventory_truth.location.code IS 'The location code, the key everywhere: 1 to 100 characters, without control characters or surrounding spaces.';
COMMENT ON COLUMN inventory_truth.location.name IS 'Display name; add_location with a NULL name keeps the old one.';
COMMENT ON COLUMN inventory_truth.location.created_at IS 'When the location was added.';

COMMENT ON COLUMN inventory_truth.movement.id IS 'Ledger order, with gaps: a refused movement still uses up an id (filled in).';
COMMENT ON COLUMN inventory_truth.movement.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.movement.location IS 'The location code.';
COMMENT ON COLUMN inventory_truth.movement.from_stage IS 'The stage the units leave; NULL = from outside the system.';
COMMENT ON COLUMN inventory_truth.movement.to_stage IS 'The stage the units enter; NULL = out of the system.';
COMMENT ON COLUMN inventory_truth.movement.qty IS 'Units moved, > 0.';
COMMENT ON COLUMN inventory_truth.movement.channel IS 'The sales channel: with ref it names the hold of a movement into or out of committed; on available -> picked it makes the pick a sale for that channel; on other losses it is recorded only.';
COMMENT ON COLUMN inventory_truth.movement.ref IS 'The caller''s reference: order, PO/ASN line, RMA, picker event, count-<task>...';
COMMENT ON COLUMN inventory_truth.movement.reason IS 'Free text; the functions write the business event (put-away, pick scan, count loss, ...).';

COMMENT ON COLUMN inventory_truth.movement_commit.txid IS 'The transaction (movement.txid).';
COMMENT ON COLUMN inventory_truth.movement_commit.committed_at IS 'When it committed (the database clock during the commit, after every statement).';

COMMENT ON COLUMN inventory_truth.balance.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.balance.location IS 'The location code.';
COMMENT ON COLUMN inventory_truth.balance.stage IS 'The stage.';
COMMENT ON COLUMN inventory_truth.balance.qty IS 'Units in the bucket: the ledger''s sum, never negative once a transaction commits; an emptied bucket stays at 0.';

COMMENT ON COLUMN inventory_truth.expected_receipt.id IS 'The receipt line''s id.';
COMMENT ON COLUMN inventory_truth.expected_receipt.ref IS 'The receipt''s reference (PO/ASN line); one line per ref, SKU and location.';
COMMENT ON COLUMN inventory_truth.expected_receipt.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.expected_receipt.location IS 'The location code.';
COMMENT ON COLUMN inventory_truth.expected_receipt.eta IS 'Expected arrival date; NULL for a receipt written into the ledger directly, until set_eta.';
COMMENT ON COLUMN inventory_truth.expected_receipt.expected IS 'Units expected in total (every movement into inbound under this reference).';
COMMENT ON COLUMN inventory_truth.expected_receipt.open_qty IS 'Units still inbound: expected, less received and cancelled.';
COMMENT ON COLUMN inventory_truth.expected_receipt.first_movement IS 'The ledger row (movement id) that opened the receipt: what a repeated expect() returns.';
COMMENT ON COLUMN inventory_truth.expected_receipt.created_at IS 'When the receipt line was created.';

COMMENT ON COLUMN inventory_truth.channel.code IS 'The channel code: 1 to 100 characters, without control characters or surrounding spaces.';
COMMENT ON COLUMN inventory_truth.channel.priority IS 'Lower number = higher priority: its fences fill first and lose units to a loss last.';
COMMENT ON COLUMN inventory_truth.channel.buffer IS 'Default safety buffer: units hidden from the channel for every SKU without its own (sku_buffer).';
COMMENT ON COLUMN inventory_truth.channel.kind IS 'web, marketplace, wholesale, pos or other; readiness() reads it (web, marketplace and pos are public; wholesale should be ringfenced).';
COMMENT ON COLUMN inventory_truth.channel.created_at IS 'When the channel was added (add_channel on an existing channel keeps it).';

COMMENT ON COLUMN inventory_truth.sku_buffer.channel IS 'The channel code.';
COMMENT ON COLUMN inventory_truth.sku_buffer.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.sku_buffer.units IS 'Units of the SKU hidden from the channel (>= 0), instead of the channel''s default buffer.';

COMMENT ON COLUMN inventory_truth.ringfence.channel IS 'The channel whose units the rule fences.';
COMMENT ON COLUMN inventory_truth.ringfence.sku IS 'The SKU the rule is for; NULL = every SKU (a SKU''s own rule overrides it).';
COMMENT ON COLUMN inventory_truth.ringfence.units IS 'Units fenced at each location (NULL when the rule is a percent).';
COMMENT ON COLUMN inventory_truth.ringfence.percent IS 'Percent (0 to 100) of the SKU''s available units at each location, rounded down (NULL when the rule is units).';
COMMENT ON COLUMN inventory_truth.ringfence.created_at IS 'When the rule was first set (replacing it with set_ringfence keeps it).';

COMMENT ON COLUMN inventory_truth.fence.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.fence.location IS 'The location code.';
COMMENT ON COLUMN inventory_truth.fence.channel IS 'The fenced channel.';
COMMENT ON COLUMN inventory_truth.fence.qty IS 'Units of the location''s available stock that only this channel may sell.';

COMMENT ON COLUMN inventory_truth.channel_check.txid IS 'The transaction whose direct sale is checked at its commit.';
COMMENT ON COLUMN inventory_truth.channel_check.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.channel_check.location IS 'The location code.';
COMMENT ON COLUMN inventory_truth.channel_check.channel IS 'The channel that sold.';

COMMENT ON COLUMN inventory_truth.hold.id IS 'The hold id, as reserve returns it.';
COMMENT ON COLUMN inventory_truth.hold.channel IS 'The channel holding the units.';
COMMENT ON COLUMN inventory_truth.hold.ref IS 'The order reference; one hold per channel, ref and SKU.';
COMMENT ON COLUMN inventory_truth.hold.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.hold.location IS 'Where the units are held (a hold is at one location).';
COMMENT ON COLUMN inventory_truth.hold.qty IS 'Units reserved.';
COMMENT ON COLUMN inventory_truth.hold.open_qty IS 'Units still committed to the hold.';
COMMENT ON COLUMN inventory_truth.hold.picked_qty IS 'Units picked against the hold.';
COMMENT ON COLUMN inventory_truth.hold.released_qty IS 'Units released or expired back to available.';
COMMENT ON COLUMN inventory_truth.hold.status IS 'open while units are held; then how it ended: picked, released, expired or lost.';
COMMENT ON COLUMN inventory_truth.hold.expires_at IS 'When expire_holds() releases it (the reserving transaction''s start + ttl); NULL = never; a pick scan clears it.';
COMMENT ON COLUMN inventory_truth.hold.created_at IS 'When the hold was created.';
COMMENT ON COLUMN inventory_truth.hold.ended_at IS 'When its last open unit left it; NULL while open.';

COMMENT ON COLUMN inventory_truth.atp_dirty.id IS 'Recording order: the relay takes entries in id order.';
COMMENT ON COLUMN inventory_truth.atp_dirty.sku IS 'The SKU whose ATP may have changed.';

COMMENT ON COLUMN inventory_truth.atp_published.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.atp_published.version IS 'The SKU''s version the published values were read at.';
COMMENT ON COLUMN inventory_truth.atp_published.atp IS 'Each channel''s ATP as last published: {"channel": atp}.';
COMMENT ON COLUMN inventory_truth.atp_published.published_at IS 'When they were published (the database clock).';

COMMENT ON COLUMN inventory_truth.count_task.id IS 'The task id: count_sheet.task, and submit_count''s task argument.';
COMMENT ON COLUMN inventory_truth.count_task.sku IS 'The SKU to count.';
COMMENT ON COLUMN inventory_truth.count_task.location IS 'The location (bin) to count.';
COMMENT ON COLUMN inventory_truth.count_task.reason IS 'short pick or cycle count: what opened the task (a short pick also raises an open cycle count to its reason and priority).';
COMMENT ON COLUMN inventory_truth.count_task.priority IS '0 for a short pick, 100 for a cycle count; lower is more urgent.';
COMMENT ON COLUMN inventory_truth.count_task.status IS 'open, or counted once submit_count has reconciled it.';
COMMENT ON COLUMN inventory_truth.count_task.created_at IS 'When the task was opened; a count cannot be dated before it.';
COMMENT ON COLUMN inventory_truth.count_task.created_by IS 'The role that opened it (SET ROLE is honoured).';
COMMENT ON COLUMN inventory_truth.count_task.counted_qty IS 'Units counted, as submitted; NULL while open.';
COMMENT ON COLUMN inventory_truth.count_task.submitted_at IS 'When the count was submitted (the database clock).';
COMMENT ON COLUMN inventory_truth.count_task.counted_by IS 'The role that submitted the count (SET ROLE is honoured).';

COMMENT ON COLUMN inventory_truth.short_pick.id IS 'The short pick''s id (broken_holds.event_id).';
COMMENT ON COLUMN inventory_truth.short_pick.ref IS 'The picker event''s reference: a retry with the same ref and SKU returns the same task; NULL when none was given.';
COMMENT ON COLUMN inventory_truth.short_pick.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.short_pick.location IS 'The location (bin) code.';
COMMENT ON COLUMN inventory_truth.short_pick.found IS 'Units the picker found.';
COMMENT ON COLUMN inventory_truth.short_pick.believed IS 'Units the system believed were in the bin (available + committed) when it was reported.';
COMMENT ON COLUMN inventory_truth.short_pick.missing IS 'Units moved to missing: believed less found, never below 0.';
COMMENT ON COLUMN inventory_truth.short_pick.task IS 'The blind count task it opened or raised (count_task.id).';
COMMENT ON COLUMN inventory_truth.short_pick.movements IS 'The ledger rows it wrote (movement ids).';
COMMENT ON COLUMN inventory_truth.short_pick.occurred_at IS 'When the picker found the bin short (scanner clock).';
COMMENT ON COLUMN inventory_truth.short_pick.recorded_at IS 'When it was recorded (the reporting transaction''s start).';
COMMENT ON COLUMN inventory_truth.short_pick.actor IS 'The role that reported it (SET ROLE is honoured).';

------------------------------------------------------------------------------------------------
-- Columns of the views (docs/reference.md, "Counts and short picks").

COMMENT ON COLUMN inventory_truth.count_sheet.task IS 'The count task: pass it to submit_count(task, counted).';
COMMENT ON COLUMN inventory_truth.count_sheet.sku IS 'The SKU to count.';
COMMENT ON COLUMN inventory_truth.count_sheet.location IS 'The location (bin) to count.';
COMMENT ON COLUMN inventory_truth.count_sheet.reason IS 'short pick or cycle count.';
COMMENT ON COLUMN inventory_truth.count_sheet.priority IS '0 for a short pick, 100 for a cycle count; lower is more urgent.';
COMMENT ON COLUMN inventory_truth.count_sheet.created_at IS 'When the task was opened.';

COMMENT ON COLUMN inventory_truth.broken_holds.event IS 'short pick or count.';
COMMENT ON COLUMN inventory_truth.broken_holds.event_id IS 'short_pick.id for a short pick, count_task.id for a count.';
COMMENT ON COLUMN inventory_truth.broken_holds.event_ref IS 'The short pick''s picker event reference; NULL for a count.';
COMMENT ON COLUMN inventory_truth.broken_holds.task IS 'The count task: the one the short pick opened or raised, or the task counted.';
COMMENT ON COLUMN inventory_truth.broken_holds.hold IS 'The hold that lost units (hold.id).';
COMMENT ON COLUMN inventory_truth.broken_holds.channel IS 'The hold''s channel.';
COMMENT ON COLUMN inventory_truth.broken_holds.ref IS 'The hold''s order reference.';
COMMENT ON COLUMN inventory_truth.broken_holds.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.broken_holds.location IS 'The location code.';
COMMENT ON COLUMN inventory_truth.broken_holds.lost IS 'Units the event took from the hold (committed -> missing).';
COMMENT ON COLUMN inventory_truth.broken_holds.still_held IS 'The hold''s open units now.';
COMMENT ON COLUMN inventory_truth.broken_holds.hold_status IS 'The hold''s status now (open, picked, released, expired, lost).';
COMMENT ON COLUMN inventory_truth.broken_holds.occurred_at IS 'The physical time of the event (the movement''s occurred_at).';
COMMENT ON COLUMN inventory_truth.broken_holds.movement IS 'The ledger row that took the units (movement.id).';

------------------------------------------------------------------------------------------------
-- Attributes of the composite type (atp_snapshot's rows).

COMMENT ON COLUMN inventory_truth.channel_atp.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.channel_atp.channel IS 'The channel code.';
COMMENT ON COLUMN inventory_truth.channel_atp.atp IS 'The channel''s available to promise of the SKU, as atp(sku, channel) returns it.';
COMMENT ON COLUMN inventory_truth.channel_atp.version IS 'The SKU''s version this value was read at: apply only notifications with a higher version.';

------------------------------------------------------------------------------------------------
-- Sequences.

COMMENT ON SEQUENCE inventory_truth.movement_id_seq IS 'Ids of movement (ledger order).';
COMMENT ON SEQUENCE inventory_truth.expected_receipt_id_seq IS 'Ids of expected_receipt.';
COMMENT ON SEQUENCE inventory_truth.hold_id_seq IS 'Ids of hold.';
COMMENT ON SEQUENCE inventory_truth.count_task_id_seq IS 'Ids of count_task.';
COMMENT ON SEQUENCE inventory_truth.short_pick_id_seq IS 'Ids of short_pick.';
COMMENT ON SEQUENCE inventory_truth.atp_dirty_id_seq IS 'Ids of atp_dirty (recording order).';
