-- Channels, ringfences, safety buffers and available-to-promise (docs/design.md §3).
--
-- Available stock at a location is one bucket per fenced channel plus a shared pool: the stock
-- row holds the location's available total and each fenced channel's share of it (the fence
-- view shows them as rows), and the pool is the rest. Fences change only in the engine
-- (src/engine.rs, the rules in src/place.rs and src/fence.rs), under the SKU's lock: when
-- movements apply, and when rebalance recomputes them.
--
--   inflow to available  fences fill in channel priority order up to their targets; the rest
--                        goes to the pool (a released hold goes back where it came from)
--   sale for channel c   c's fence first, then the pool; never another channel's fence
--   loss                 the pool first, then the fences, lowest priority first
--
-- ATP(s, c) = max(0, sum over locations of (fence_c + pool) - buffer(c, s)).

CREATE TABLE channel (
    code text PRIMARY KEY CHECK (code = _check_code('channel', code)),
    priority int NOT NULL,
    buffer bigint NOT NULL CHECK (buffer >= 0),
    kind text NOT NULL CHECK (kind IN ('web', 'marketplace', 'wholesale', 'pos', 'other')),
    created_at timestamptz NOT NULL DEFAULT now(),
    preorders boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE channel IS
    'Sales channels: priority (lower = served first when fences fill), kind, and default safety buffer; see add_channel.';
COMMENT ON COLUMN channel.preorders IS 'Whether the channel may preorder units on their way (see allow_preorders and preorder).';
-- Every backend remembers the channel codes it has found (_codes_changed, sql/ledger.sql).
CREATE TRIGGER channel_codes_changed AFTER UPDATE OR DELETE ON channel
    FOR EACH ROW EXECUTE FUNCTION _codes_changed();
ALTER TABLE channel ENABLE ALWAYS TRIGGER channel_codes_changed;

-- Per-SKU safety buffers; a channel's own buffer applies to every other SKU.
CREATE TABLE sku_buffer (
    channel text NOT NULL,
    sku text NOT NULL,
    units bigint NOT NULL CHECK (units >= 0),
    -- SKU first: the relay reads a SKU's buffers for every channel.
    PRIMARY KEY (sku, channel)
);
COMMENT ON TABLE sku_buffer IS 'Safety buffers of one channel for one SKU, overriding the channel''s default; see set_buffer.';

-- Ringfence rules: a fixed number of units or a percentage of the available units, at each
-- location, for one SKU or (sku NULL) every SKU. A SKU's own rule overrides the every-SKU rule.
CREATE TABLE ringfence (
    channel text NOT NULL,
    sku text,
    units bigint CHECK (units >= 0),
    percent numeric CHECK (percent >= 0 AND percent <= 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((units IS NULL) <> (percent IS NULL))
);
CREATE UNIQUE INDEX ringfence_rule ON ringfence (channel, (coalesce(sku, '')));
-- The rules the engine reads for a SKU: its own (sku = the code) and those for every SKU (NULL).
CREATE INDEX ringfence_sku ON ringfence (sku);
COMMENT ON TABLE ringfence IS
    'Ringfence rules: units (or percent of the available units) that only the channel may sell, at each location, for one SKU or every SKU (sku NULL); see set_ringfence.';

-- Fenced units: each fenced channel's share of a location's available stock, as rows (from the
-- stock table's arrays).
CREATE VIEW fence AS
    SELECT s.sku, s.location, f.channel, f.qty
      FROM stock s
     CROSS JOIN LATERAL unnest(s.fence_channels, s.fence_qty) AS f(channel, qty);
COMMENT ON VIEW fence IS
    'Available units fenced for one channel at a location (read from stock); the rest of the location''s available stock is the shared pool.';

SELECT pg_catalog.pg_extension_config_dump('channel', '');
SELECT pg_catalog.pg_extension_config_dump('sku_buffer', '');
SELECT pg_catalog.pg_extension_config_dump('ringfence', '');

-- The units a channel hides of a SKU.
CREATE FUNCTION _buffer(p_channel text, p_sku text) RETURNS bigint
LANGUAGE sql STABLE
AS $$
    SELECT coalesce((SELECT b.units FROM sku_buffer b WHERE b.channel = p_channel AND b.sku = p_sku),
                    (SELECT c.buffer FROM channel c WHERE c.code = p_channel), 0)
$$;

-- What channel p_channel may sell of a SKU before its buffer: its fence plus the pool, at one
-- location or (NULL) summed over all of them.
CREATE FUNCTION _sellable(p_sku text, p_channel text, p_location text) RETURNS bigint
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(sum(s.available - coalesce((SELECT sum(f.qty)
                                                   FROM unnest(s.fence_channels, s.fence_qty) AS f(channel, qty)
                                                  WHERE f.channel <> p_channel), 0)), 0)::bigint
      FROM _stock_now s
     WHERE s.sku = p_sku AND (p_location IS NULL OR s.location = p_location)
$$;

-- The fenced channels at a location, in fill order (priority, then code): those with a rule for
-- the SKU (its own rule, else the every-SKU rule) and those with fenced units there without
-- one; with their fenced units and what their open holds there took from the fence.
CREATE FUNCTION _fence_channels(p_sku text, p_location text)
RETURNS TABLE (channel text, units bigint, percent numeric, qty bigint, held bigint)
LANGUAGE sql STABLE
AS $$
    SELECT c.code, r.units, r.percent, coalesce(f.qty, 0), coalesce(f.held, 0)
      FROM channel c
      LEFT JOIN LATERAL (SELECT r.units, r.percent FROM ringfence r
                          WHERE r.channel = c.code AND (r.sku = p_sku OR r.sku IS NULL)
                          ORDER BY r.sku NULLS LAST LIMIT 1) r ON true
      LEFT JOIN LATERAL (SELECT x.qty, x.held
                           FROM stock s
                          CROSS JOIN LATERAL unnest(s.fence_channels, s.fence_qty, s.fence_held) AS x(channel, qty, held)
                          WHERE s.sku = p_sku AND s.location = p_location AND x.channel = c.code) f ON true
     WHERE r.units IS NOT NULL OR r.percent IS NOT NULL OR f.qty IS NOT NULL
     ORDER BY c.priority, c.code COLLATE "C"
$$;

-- Changing fences or buffers in a transaction whose direct sales breached them (judged at
-- commit, against the fences and buffers then) would hide the breach: refused, for the SKU
-- (NULL: any) and channel (NULL: any) the change touches.
CREATE FUNCTION _refuse_after_breach(p_sku text, p_channel text, what text) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF _breached(p_sku, p_channel) THEN
        RAISE EXCEPTION 'cannot % in a transaction whose direct sales breached a fence or a buffer%', what,
                CASE WHEN p_sku IS NULL THEN '' ELSE ' of SKU ' || _q(p_sku) END
            USING ERRCODE = 'IT003',
                  HINT = 'Commit or roll back the sales first; changing the rules cannot make them right.';
    END IF;
END
$$;

------------------------------------------------------------------------------------------------
-- Setting up channels and rules (management)

CREATE FUNCTION add_channel(code text, priority int DEFAULT 100, buffer bigint DEFAULT 0,
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
COMMENT ON FUNCTION add_channel(text, int, bigint, text) IS
    'Adds a sales channel (or updates its priority, default safety buffer and kind); returns its code. Lower priority numbers are served first when fences fill. Kinds: web, marketplace, wholesale, pos, other.';

CREATE FUNCTION set_buffer(channel text, sku text, units bigint) RETURNS void
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
COMMENT ON FUNCTION set_buffer(text, text, bigint) IS
    'Sets the safety buffer (units hidden from the channel) for one SKU; sku NULL sets the channel''s default; units NULL removes a SKU''s own buffer.';

CREATE FUNCTION set_ringfence(channel text, sku text, units bigint DEFAULT NULL,
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
COMMENT ON FUNCTION set_ringfence(text, text, bigint, numeric) IS
    'Fences units (a fixed number, or a percent of the available units) of a SKU, or of every SKU when sku is NULL, at each location for one channel; no other channel may sell them. Rebalances at once.';

CREATE FUNCTION clear_ringfence(channel text, sku text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM _known_channel(clear_ringfence.channel);
    IF clear_ringfence.sku IS NOT NULL THEN
        PERFORM _known_sku(clear_ringfence.sku);
    END IF;
    DELETE FROM ringfence r
     WHERE r.channel = clear_ringfence.channel AND r.sku IS NOT DISTINCT FROM clear_ringfence.sku;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM rebalance(clear_ringfence.sku);
    RETURN true;
END
$$;
COMMENT ON FUNCTION clear_ringfence(text, text) IS
    'Removes a channel''s ringfence rule for a SKU (sku NULL: its every-SKU rule) and rebalances: the fenced units go to the pool, or to another rule that now applies. Returns false when there was no such rule.';

CREATE FUNCTION rebalance(sku text DEFAULT NULL) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    one text;
    changed int := 0;
BEGIN
    IF rebalance.sku IS NOT NULL THEN
        PERFORM _known_sku(rebalance.sku);
        PERFORM _refuse_after_breach(rebalance.sku, NULL, 'rebalance');
        RETURN _rebalance_sku(rebalance.sku);
    END IF;
    FOR one IN
        SELECT s.sku FROM stock s
         WHERE s.available <> 0 OR cardinality(s.fence_channels) > 0
         GROUP BY s.sku
         ORDER BY s.sku COLLATE "C"
    LOOP
        PERFORM _refuse_after_breach(one, NULL, 'rebalance');
        changed := changed + _rebalance_sku(one);
    END LOOP;
    RETURN changed;
END
$$;
COMMENT ON FUNCTION rebalance(text) IS
    'Recomputes the fences of a SKU (NULL: every SKU) at every location from the rules: available units fill fences in channel priority order up to their targets, the rest is the pool. Returns the number of SKU-locations whose fences changed.';

------------------------------------------------------------------------------------------------
-- Available to promise (storefronts)

-- In Rust (src/hold.rs, atp_call): the read a reservation starts with, four index lookups.
CREATE FUNCTION atp(sku text, channel text, location text DEFAULT NULL) RETURNS bigint
LANGUAGE c STABLE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_atp';
COMMENT ON FUNCTION atp(text, text, text) IS
    'Available to promise: the units of a SKU the channel may sell now, max(0, its fence + the shared pool - its safety buffer), summed over locations or at one location.';

-- atp_snapshot's rows: a composite type, because its output column `channel` and its argument
-- `channel` cannot both be parameter names.
CREATE TYPE channel_atp AS (sku text, channel text, atp bigint, version bigint);
COMMENT ON TYPE channel_atp IS
    'One SKU''s available to promise for one channel, with the SKU''s version (atp_snapshot rows).';

-- In Rust (src/snapshot.rs): one pass over the SKUs, their places and buffers in key order,
-- into the query's tuplestore. (As a query, it took 1.4 s for 100,000 SKUs x 3 channels, and
-- planned without statistics, right after a bulk load, once more than 12 minutes:
-- BENCHMARKS.md.)
CREATE FUNCTION atp_snapshot(channel text DEFAULT NULL)
RETURNS SETOF channel_atp
LANGUAGE c STABLE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
ROWS 100000
AS 'MODULE_PATHNAME', 'inventory_truth_atp_snapshot';
COMMENT ON FUNCTION atp_snapshot(text) IS
    'ATP of every SKU for one channel (NULL: every channel) at once, as atp() computes it, with each SKU''s version, ordered by channel and SKU. The resync protocol: LISTEN, read this, then apply only notifications of a higher version.';
