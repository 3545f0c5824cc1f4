-- Channels, ringfences, safety buffers and available-to-promise (SPEC §3).
--
-- Available stock at a location is one bucket per fenced channel plus a shared pool: the
-- balance table holds the location's available total, the fence table each fenced channel's
-- share of it, and the pool is the rest. Fences change only under the lock of the location's
-- available bucket, in the ledger's statement trigger (_apply_channel_rows) or in rebalance.
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
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE channel IS
    'Sales channels: priority (lower = served first when fences fill), kind, and default safety buffer; see add_channel.';

-- Per-SKU safety buffers; a channel's own buffer applies to every other SKU.
CREATE TABLE sku_buffer (
    channel text NOT NULL,
    sku text NOT NULL,
    units bigint NOT NULL CHECK (units >= 0),
    PRIMARY KEY (channel, sku)
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
COMMENT ON TABLE ringfence IS
    'Ringfence rules: units (or percent of the available units) that only the channel may sell, at each location, for one SKU or every SKU (sku NULL); see set_ringfence.';

-- Fenced units: each fenced channel's share of a location's available stock.
CREATE TABLE fence (
    sku text NOT NULL,
    location text NOT NULL,
    channel text NOT NULL,
    qty bigint NOT NULL CHECK (qty >= 0),
    PRIMARY KEY (sku, location, channel)
);
COMMENT ON TABLE fence IS
    'Available units fenced for one channel at a location; the rest of the location''s available stock is the shared pool.';

-- Direct ledger writes that sold across a fence or into a buffer at statement time, to be
-- judged at commit (a later statement may still bring units). Empty outside a transaction.
CREATE TABLE channel_check (
    txid xid8 NOT NULL,
    sku text NOT NULL,
    location text NOT NULL,
    channel text NOT NULL,
    PRIMARY KEY (txid, sku, location, channel)
);
COMMENT ON TABLE channel_check IS
    'Direct ledger sales that breached a fence or a buffer when written, judged again at commit (IT003); empty outside a transaction.';

SELECT pg_catalog.pg_extension_config_dump('channel', '');
SELECT pg_catalog.pg_extension_config_dump('sku_buffer', '');
SELECT pg_catalog.pg_extension_config_dump('ringfence', '');
SELECT pg_catalog.pg_extension_config_dump('fence', '');

CREATE TRIGGER fence_no_truncate BEFORE TRUNCATE ON fence
    FOR EACH STATEMENT EXECUTE FUNCTION _ledger_tables_no_truncate();

CREATE FUNCTION _known_channel(p_channel text) RETURNS text
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
    SELECT coalesce(sum(b.qty - coalesce((SELECT sum(f.qty) FROM fence f
                                           WHERE f.sku = b.sku AND f.location = b.location
                                             AND f.channel <> p_channel), 0)), 0)::bigint
      FROM balance b
     WHERE b.sku = p_sku AND b.stage = 'available'
       AND (p_location IS NULL OR b.location = p_location)
$$;

-- The fenced channels at a location, in priority order: those with a rule for the SKU (its
-- own rule, else the every-SKU rule) and those still holding fenced units without one.
CREATE FUNCTION _fence_channels(p_sku text, p_location text)
RETURNS TABLE (channel text, units bigint, percent numeric, qty bigint)
LANGUAGE sql STABLE
AS $$
    SELECT c.code, r.units, r.percent, coalesce(f.qty, 0)
      FROM channel c
      LEFT JOIN LATERAL (SELECT r.units, r.percent FROM ringfence r
                          WHERE r.channel = c.code AND (r.sku = p_sku OR r.sku IS NULL)
                          ORDER BY r.sku NULLS LAST LIMIT 1) r ON true
      LEFT JOIN fence f ON f.sku = p_sku AND f.location = p_location AND f.channel = c.code
     WHERE r.units IS NOT NULL OR r.percent IS NOT NULL OR f.qty IS NOT NULL
     ORDER BY c.priority, c.code
$$;

-- What each fence should hold at a location with `available` units: its target (no rule: no
-- target), less the units its channel holds from it in open holds (held: hold.fence_qty per
-- channel). Those are still the channel's fenced units, only promised: counting them keeps a
-- fence from refilling while its holds are out, so a release can give them back in full.
CREATE FUNCTION _fence_targets(available bigint, units bigint[], percents numeric[], held bigint[])
RETURNS bigint[]
LANGUAGE sql IMMUTABLE
AS $$
    SELECT coalesce(array_agg(greatest(0, CASE WHEN t.u IS NOT NULL THEN t.u
                                               WHEN t.p IS NOT NULL THEN floor(t.p * greatest(available, 0) / 100)::bigint
                                               ELSE 0 END - coalesce(t.h, 0)) ORDER BY t.i), '{}')
      FROM unnest(units, percents, held) WITH ORDINALITY AS t(u, p, h, i)
$$;

-- Units each channel (in the order given) holds from its fence at a location: open holds'
-- fence_qty. Read under the location's available bucket lock, which every change to a hold
-- takes first.
CREATE FUNCTION _held_from_fences(p_sku text, p_location text, channels text[]) RETURNS bigint[]
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(array_agg(coalesce(h.qty, 0) ORDER BY t.i), '{}')
      FROM unnest(channels) WITH ORDINALITY AS t(c, i)
      LEFT JOIN (SELECT hold.channel, sum(hold.fence_qty)::bigint AS qty FROM hold
                  WHERE hold.sku = p_sku AND hold.location = p_location AND hold.status = 'open'
                  GROUP BY hold.channel) h ON h.channel = t.c
$$;

CREATE FUNCTION _write_fences(p_sku text, p_location text, channels text[], before bigint[], after bigint[])
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO fence AS f (sku, location, channel, qty)
    SELECT p_sku, p_location, t.c, t.a
      FROM unnest(channels, before, after) AS t(c, b, a)
     WHERE t.a <> t.b
     ORDER BY t.c
    ON CONFLICT (sku, location, channel) DO UPDATE SET qty = excluded.qty
$$;

-- At commit: a sale registered in channel_check must no longer take fenced units of another
-- channel or leave its own channel below its buffer. SECURITY DEFINER: a deferred trigger runs
-- as whoever commits.
CREATE FUNCTION _channel_check_at_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
DECLARE
    available bigint;
    fenced bigint;
    others bigint;
    sellable bigint;
    buffer bigint;
BEGIN
    DELETE FROM channel_check c
     WHERE c.txid = NEW.txid AND c.sku = NEW.sku AND c.location = NEW.location AND c.channel = NEW.channel;
    SELECT coalesce(sum(b.qty), 0) INTO available FROM balance b
     WHERE b.sku = NEW.sku AND b.location = NEW.location AND b.stage = 'available';
    SELECT coalesce(sum(f.qty), 0), coalesce(sum(f.qty) FILTER (WHERE f.channel <> NEW.channel), 0)
      INTO fenced, others
      FROM fence f
     WHERE f.sku = NEW.sku AND f.location = NEW.location;
    IF available < fenced THEN
        RAISE EXCEPTION 'ringfence breached: this transaction sells % of other channels'' fenced units of % to channel %',
                _units(fenced - available), _describe(NEW.sku, NEW.location), _q(NEW.channel)
            USING ERRCODE = 'IT003',
                  DETAIL = format('%s available there; fenced: %s for other channels, %s for %s.',
                                  _units(available), _units(others), _units(fenced - others), _q(NEW.channel)),
                  HINT = 'A channel sells from its own fence and the shared pool only.';
    END IF;
    sellable := _sellable(NEW.sku, NEW.channel, NULL);
    buffer := _buffer(NEW.channel, NEW.sku);
    IF sellable < buffer THEN
        RAISE EXCEPTION 'safety buffer breached: this transaction leaves channel % with % of SKU %, below its buffer of %',
                _q(NEW.channel), _units(sellable), _q(NEW.sku), _units(buffer)
            USING ERRCODE = 'IT003',
                  HINT = 'A channel may sell only down to its buffer; see inventory_truth.atp().';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER channel_check_at_commit AFTER INSERT ON channel_check
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION _channel_check_at_commit();

-- Changing fences or buffers in a transaction whose direct sales breached them (judged at
-- commit, against the fences and buffers then) would hide the breach: refused, for the SKU
-- (NULL: any) and channel (NULL: any) the change touches.
CREATE FUNCTION _refuse_after_breach(p_sku text, p_channel text, what text) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF EXISTS (SELECT FROM channel_check c
                WHERE c.txid = pg_current_xact_id()
                  AND (p_sku IS NULL OR c.sku = p_sku)
                  AND (p_channel IS NULL OR c.channel = p_channel)) THEN
        RAISE EXCEPTION 'cannot % in a transaction whose direct sales breached a fence or a buffer%', what,
                CASE WHEN p_sku IS NULL THEN '' ELSE ' of SKU ' || _q(p_sku) END
            USING ERRCODE = 'IT003',
                  HINT = 'Commit or roll back the sales first; changing the rules cannot make them right.';
    END IF;
END
$$;

-- Recomputes the fences of one SKU at every location from its rules: the available units go to
-- the fences in priority order, each up to its target, the rest to the pool. Holds keep their
-- units. Returns the number of locations whose fences changed.
CREATE FUNCTION _rebalance_sku(p_sku text) RETURNS int
LANGUAGE plpgsql
AS $$
DECLARE
    place record;
    channels text[];
    units bigint[];
    percents numeric[];
    before bigint[];
    after bigint[];
    available bigint;
    changed int := 0;
BEGIN
    PERFORM _lock_sku(p_sku);
    PERFORM _refuse_after_breach(p_sku, NULL, 'rebalance');
    FOR place IN
        SELECT b.location FROM balance b WHERE b.sku = p_sku AND b.stage = 'available'
        UNION
        SELECT f.location FROM fence f WHERE f.sku = p_sku
        ORDER BY 1
    LOOP
        -- The available bucket guards the location's fences.
        SELECT b.qty INTO available FROM balance b
         WHERE b.sku = p_sku AND b.location = place.location AND b.stage = 'available'
           FOR UPDATE;
        available := coalesce(available, 0);
        SELECT array_agg(f.channel), array_agg(f.units), array_agg(f.percent), array_agg(f.qty)
          INTO channels, units, percents, before
          FROM _fence_channels(p_sku, place.location) f;
        CONTINUE WHEN channels IS NULL;
        after := _fence_allocate(available, _fence_targets(available, units, percents,
                                                           _held_from_fences(p_sku, place.location, channels)));
        IF after IS DISTINCT FROM before THEN
            PERFORM _write_fences(p_sku, place.location, channels, before, after);
            changed := changed + 1;
        END IF;
    END LOOP;
    IF changed > 0 THEN
        PERFORM _atp_changed(p_sku, 'rebalance');
    END IF;
    RETURN changed;
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
        RETURN _rebalance_sku(rebalance.sku);
    END IF;
    FOR one IN
        SELECT DISTINCT b.sku FROM balance b WHERE b.stage = 'available' AND b.qty <> 0
        UNION
        SELECT f.sku FROM fence f
        ORDER BY 1
    LOOP
        changed := changed + _rebalance_sku(one);
    END LOOP;
    RETURN changed;
END
$$;
COMMENT ON FUNCTION rebalance(text) IS
    'Recomputes the fences of a SKU (NULL: every SKU) at every location from the rules: available units fill fences in channel priority order up to their targets, the rest is the pool. Returns the number of SKU-locations whose fences changed.';

------------------------------------------------------------------------------------------------
-- Available to promise (storefronts)

CREATE FUNCTION atp(sku text, channel text, location text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM _known_sku(atp.sku), _known_channel(atp.channel);
    IF atp.location IS NOT NULL THEN
        PERFORM _known_location(atp.location);
    END IF;
    RETURN greatest(0, _sellable(atp.sku, atp.channel, atp.location) - _buffer(atp.channel, atp.sku));
END
$$;
COMMENT ON FUNCTION atp(text, text, text) IS
    'Available to promise: the units of a SKU the channel may sell now, max(0, its fence + the shared pool - its safety buffer), summed over locations or at one location.';

-- atp_snapshot's rows: a composite type, because its output column `channel` and its argument
-- `channel` cannot both be parameter names.
CREATE TYPE channel_atp AS (sku text, channel text, atp bigint, version bigint);
COMMENT ON TYPE channel_atp IS
    'One SKU''s available to promise for one channel, with the SKU''s version (atp_snapshot rows).';

-- ATP from its parts: what the channel may sell before its buffer, never below zero.
CREATE FUNCTION _atp_of(available bigint, fenced bigint, own_fenced bigint, buffer bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT greatest(0, coalesce(available, 0) - coalesce(fenced, 0) + coalesce(own_fenced, 0)
                       - coalesce(buffer, 0))::bigint
$$;

CREATE FUNCTION atp_snapshot(channel text DEFAULT NULL)
RETURNS SETOF channel_atp
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF atp_snapshot.channel IS NOT NULL THEN
        PERFORM _known_channel(atp_snapshot.channel);
    END IF;
    RETURN QUERY
    WITH available AS (
        SELECT b.sku, sum(b.qty)::bigint AS qty FROM balance b
         WHERE b.stage = 'available' AND b.qty <> 0 GROUP BY b.sku
    ), fenced AS (
        SELECT f.sku, f.channel, sum(f.qty)::bigint AS qty FROM fence f
         WHERE f.qty <> 0 GROUP BY f.sku, f.channel
    ), fenced_total AS (
        SELECT f.sku, sum(f.qty)::bigint AS qty FROM fenced f GROUP BY f.sku
    )
    SELECT s.code, c.code, _atp_of(a.qty, t.qty, own.qty, coalesce(sb.units, c.buffer)), s.version
      FROM sku s
     CROSS JOIN channel c
      LEFT JOIN available a ON a.sku = s.code
      LEFT JOIN fenced_total t ON t.sku = s.code
      LEFT JOIN fenced own ON own.sku = s.code AND own.channel = c.code
      LEFT JOIN sku_buffer sb ON sb.channel = c.code AND sb.sku = s.code
     WHERE atp_snapshot.channel IS NULL OR c.code = atp_snapshot.channel
     ORDER BY c.code, s.code;
END
$$;
COMMENT ON FUNCTION atp_snapshot(text) IS
    'ATP of every SKU for one channel (NULL: every channel) at once, as atp() computes it, with each SKU''s version, ordered by channel and SKU. The resync protocol: LISTEN, read this, then apply only notifications of a higher version.';
