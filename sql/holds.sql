-- Holds (docs/design.md §4): reservations of a channel for an order. A hold is one SKU at one location
-- for one (channel, ref); committed stock at a location is exactly its open holds.
--
-- Every change to a hold goes with a ledger row, applied by the engine (src/engine.rs, the rules
-- in src/place.rs): reserve records available -> committed, release and expiry committed ->
-- available, a pick against it committed -> picked. An ERP writing those movements directly
-- names the hold by channel and ref and gets the same. reserve, release and expiry are Rust
-- (src/hold.rs); reserve_order checks a basket in SQL and reserves its lines with reserve.

-- The key is what a caller knows: the order reference, the SKU, the channel and the location
-- (in that order, so that a pick scan finds an order's holds of a SKU by ref and SKU, and a
-- reservation's parts at several locations by ref, SKU and channel). The id that reserve
-- returns comes from a sequence and is not indexed: no function takes it, and every hold costs
-- one index entry fewer for it.
CREATE TABLE hold (
    id bigserial NOT NULL,
    channel text NOT NULL,
    ref text NOT NULL,
    sku text NOT NULL,
    location text NOT NULL,
    qty bigint NOT NULL DEFAULT 0,
    open_qty bigint NOT NULL DEFAULT 0,
    fence_qty bigint NOT NULL DEFAULT 0,
    picked_qty bigint NOT NULL DEFAULT 0,
    released_qty bigint NOT NULL DEFAULT 0,
    lost_qty bigint NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'open',
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    preorder_qty bigint,
    preorder_broken bigint,
    preorder_eta date,
    PRIMARY KEY (ref, sku, channel, location)
);
-- No CHECK constraints: only the engine writes holds, and every statement that writes a table
-- parses its CHECK expressions again (ExecRelCheck), a twentieth of a reservation. verify()
-- checks what they said: units that add up, 0 <= fence_qty <= open_qty, a known status.
-- The open holds of a place: losses out of committed that name no hold, short picks, counts.
CREATE INDEX hold_open_at ON hold (sku, location) WHERE status = 'open';
-- Preorders still awaiting units (src/preorder.rs): every put-away and QC pass looks them up to
-- give them the arriving units first, so they have an index of their own instead of a walk over
-- every open hold of the place. Only preorders have entries.
CREATE INDEX hold_awaiting ON hold (sku, location) WHERE status = 'open' AND preorder_qty > 0;
-- What the relay and expire_holds() expire.
CREATE INDEX hold_expiry ON hold (expires_at) WHERE status = 'open' AND expires_at IS NOT NULL;
COMMENT ON TABLE hold IS
    'Reservations: qty units of a SKU at a location held for a channel''s order (ref). open_qty is still committed, fence_qty of it came from the channel''s fence; status is open until the hold is picked, released, expired or lost. A preorder (preorder_qty not NULL) also awaits units on their way and stays open while it does.';
COMMENT ON COLUMN hold.fence_qty IS 'Open units that came from the channel''s fence: a release returns them there, the rest to the pool.';
COMMENT ON COLUMN hold.lost_qty IS 'Units the hold lost to damage or a short pick out of committed stock.';
COMMENT ON COLUMN hold.preorder_qty IS 'A preorder''s units still on their way (not in qty until a put-away here brings them); NULL for a hold that was never a preorder.';
COMMENT ON COLUMN hold.preorder_broken IS 'A preorder''s units that a cancelled or short receipt (or damage before put-away) left without stock; see broken_preorders.';
COMMENT ON COLUMN hold.preorder_eta IS 'When a preorder''s units were expected to arrive, as promised when it was taken.';

SELECT pg_catalog.pg_extension_config_dump('hold', '');
SELECT pg_catalog.pg_extension_config_dump('hold_id_seq', '');

CREATE TRIGGER hold_no_truncate BEFORE TRUNCATE ON hold
    FOR EACH STATEMENT EXECUTE FUNCTION _ledger_tables_no_truncate();

CREATE FUNCTION reserve(channel text, sku text, qty bigint, ref text, ttl interval DEFAULT NULL,
                        location text DEFAULT NULL, occurred_at timestamptz DEFAULT now(),
                        split text DEFAULT 'most_stock')
RETURNS bigint
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_reserve';
COMMENT ON FUNCTION reserve(text, text, bigint, text, interval, text, timestamptz, text) IS
    'Reserves qty units of a SKU for a channel''s order (ref): available -> committed, at the given location, else at the first location (in the split order) that can serve it whole, else, unless split is ''none'', over several locations in that order, one hold per location under the same reference. split: ''most_stock'' (the default: where the channel can sell the most first, so the fewest parts), ''priority'' (by location priority), ''none'' (one location or a refusal). Refused with IT001 when qty exceeds the channel''s ATP or what it can sell where it must be served. Returns the hold id (the first part''s); a retry with the same channel, ref, SKU and qty returns it while every part is open; another qty, or a retry after a part ended, fails with IT004. ttl: the hold expires after it (see expire_holds).';

-- An order's lines, checked, one per SKU in byte order (the engine's lock order): lines that
-- name the same SKU (two kits sharing a component) are summed into one line, which must not
-- name two locations (a hold is at one). Errors in the order of reserve's: the shape of the
-- array (22004, 22023), every SKU known (42704, whatever the other lines), then quantities and
-- locations (22023).
CREATE FUNCTION _order_lines(p_lines jsonb) RETURNS TABLE (sku text, location text, qty bigint)
LANGUAGE plpgsql STABLE
AS $$
#variable_conflict use_column
DECLARE
    bad record;
BEGIN
    PERFORM _require(p_lines, 'lines');
    IF jsonb_typeof(p_lines) <> 'array' OR jsonb_array_length(p_lines) = 0 THEN
        RAISE EXCEPTION 'lines must be a non-empty JSON array of {"sku": ..., "qty": ...}'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM jsonb_array_elements(p_lines) l
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
    -- Every SKU must exist: an unknown one is 42704 whichever line it is on, before anything
    -- else is judged: not the refusal of a line that happens to come first, nor a retry's
    -- conflict with the lines held already.
    PERFORM _known_sku(l ->> 'sku') FROM jsonb_array_elements(p_lines) l;
    PERFORM _known_location(l ->> 'location') FROM jsonb_array_elements(p_lines) l
      WHERE l ->> 'location' IS NOT NULL;
    SELECT l ->> 'sku' AS sku, (l -> 'qty')::numeric AS qty INTO bad
      FROM jsonb_array_elements(p_lines) l WHERE (l -> 'qty')::numeric <= 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'quantity must be positive: % of SKU %', _units(bad.qty::bigint), _q(bad.sku)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT l ->> 'sku' AS sku,
           string_agg(DISTINCT _q(l ->> 'location'), ', ' ORDER BY _q(l ->> 'location')) AS locations
      INTO bad
      FROM jsonb_array_elements(p_lines) l
     GROUP BY l ->> 'sku'
    HAVING count(DISTINCT l ->> 'location') > 1
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'the lines of SKU % name two locations: %', _q(bad.sku), bad.locations
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A hold is at one location: name one, or none and let the reservation choose.';
    END IF;
    SELECT l ->> 'sku' AS sku, sum((l -> 'qty')::numeric) AS qty INTO bad
      FROM jsonb_array_elements(p_lines) l
     GROUP BY l ->> 'sku'
    HAVING sum((l -> 'qty')::numeric) > _max_units()
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'quantity too large: % units of SKU % over its lines', bad.qty, _q(bad.sku)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('A movement is at most %s units.', _max_units());
    END IF;
    RETURN QUERY
    SELECT l ->> 'sku', max(l ->> 'location'), sum((l -> 'qty')::numeric)::bigint
      FROM jsonb_array_elements(p_lines) l
     GROUP BY l ->> 'sku'
     ORDER BY (l ->> 'sku') COLLATE "C";
END
$$;

-- What each line of an order could get now, from committed state: the channel's ATP of the SKU
-- and the most one reservation of the line would be granted, which is what reserve checks:
-- within the ATP and, at the line's location, within what the channel can sell there; without
-- one, within the ATP when it may split (p_split), else within what it can sell at the one
-- location where it can sell the most.
CREATE FUNCTION _order_reach(p_channel text, p_lines jsonb, p_split text)
RETURNS TABLE (sku text, location text, qty bigint, atp bigint, reservable bigint)
LANGUAGE sql STABLE
AS $$
    SELECT l.sku, l.location, l.qty, greatest(0, a.atp),
           greatest(0, CASE WHEN l.location IS NULL AND p_split <> 'none' THEN a.atp
                            ELSE least(a.atp, coalesce((SELECT max(_sellable(l.sku, p_channel, s.location)) FROM stock s
                                                         WHERE s.sku = l.sku AND (l.location IS NULL OR s.location = l.location)), 0))
                       END)
      FROM _order_lines(p_lines) l
     CROSS JOIN LATERAL (SELECT _sellable(l.sku, p_channel, NULL) - _buffer(p_channel, l.sku) AS atp) a
$$;

CREATE FUNCTION check_order(channel text, lines jsonb, split text DEFAULT 'most_stock')
RETURNS TABLE (sku text, location text, qty bigint, atp bigint, reservable bigint, short boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
BEGIN
    PERFORM _known_channel(check_order.channel), _check_split(check_order.split);
    RETURN QUERY
    SELECT r.sku, r.location, r.qty, r.atp, r.reservable, r.qty > r.reservable
      FROM _order_reach(check_order.channel, check_order.lines, check_order.split) r;
END
$$;
COMMENT ON FUNCTION check_order(text, jsonb, text) IS
    'Checks an order''s lines (as reserve_order takes them) against what the channel can promise now, without reserving: one row per SKU (repeated lines summed) with the quantity asked, the channel''s ATP of the SKU, the most one reservation of the line would be granted now (with split as reserve''s: the ATP when it may split, else the most at one location; at its location, if it names one), and whether the line is short. Read from committed state: a later reserve_order decides again under the SKUs'' locks. Storefront level.';

-- IT004 unless the SKUs held under (channel, ref) are none, or exactly the SKUs of lines.
CREATE FUNCTION _same_order_lines(p_channel text, p_ref text, p_lines jsonb) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    held text[];
    asked text[];
BEGIN
    SELECT array_agg(DISTINCT h.sku COLLATE "C" ORDER BY h.sku COLLATE "C") INTO held FROM hold h
     WHERE h.channel = p_channel AND h.ref = p_ref;
    SELECT array_agg(DISTINCT (l ->> 'sku') COLLATE "C" ORDER BY (l ->> 'sku') COLLATE "C") INTO asked
      FROM jsonb_array_elements(p_lines) l;
    IF held IS NOT NULL AND held IS DISTINCT FROM asked THEN
        RAISE EXCEPTION 'order % of channel % already holds other lines: %', _q(p_ref), _q(p_channel),
                array_to_string(held, ', ')
            USING ERRCODE = 'IT004',
                  DETAIL = format('This call lists %s.', array_to_string(asked, ', ')),
                  HINT = 'A retry lists the same lines; a changed order goes under another reference.';
    END IF;
END
$$;

-- IT001 for an order that cannot be served, naming every short line: those the committed state
-- cannot serve now, and the line whose reservation was refused (p_refused) whatever the state
-- says now (another buyer may have taken the units between the two).
CREATE FUNCTION _refuse_order(p_channel text, p_ref text, p_lines jsonb, p_refused text,
                              p_split text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    short json;
    summary text;
BEGIN
    SELECT json_agg(json_build_object('sku', r.sku, 'location', r.location, 'qty', r.qty,
                                        'atp', r.atp, 'reservable', r.reservable)
                     ORDER BY r.sku COLLATE "C"),
           string_agg(format('%s (%s asked, %s can be reserved)', _q(r.sku), r.qty, r.reservable), ', '
                      ORDER BY r.sku COLLATE "C")
      INTO short, summary
      FROM _order_reach(p_channel, p_lines, p_split) r
     WHERE r.qty > r.reservable OR r.sku = p_refused;
    RAISE EXCEPTION 'insufficient stock: order % of channel % has % short: %', _q(p_ref), _q(p_channel),
            CASE json_array_length(short) WHEN 1 THEN '1 line' ELSE json_array_length(short) || ' lines' END,
            summary
        USING ERRCODE = 'IT001',
              DETAIL = short::text,
              HINT = 'DETAIL lists every short line as JSON (sku, location, qty, atp, reservable); check_order() gives the same without reserving.';
END
$$;

CREATE FUNCTION reserve_order(channel text, ref text, lines jsonb, ttl interval DEFAULT NULL,
                              occurred_at timestamptz DEFAULT now(), split text DEFAULT 'most_stock')
RETURNS TABLE (sku text, location text, qty bigint, hold bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    line record;
    order_lines jsonb;
BEGIN
    PERFORM _known_channel(reserve_order.channel),
            _check_code('reference', reserve_order.ref),
            _check_ttl(reserve_order.ttl),
            _check_split(reserve_order.split);
    order_lines := (SELECT jsonb_agg(l ORDER BY l.sku COLLATE "C") FROM _order_lines(reserve_order.lines) l);
    -- Calls for one order take turns, first thing (before any SKU: the ledger's order), so a
    -- retry always sees what an earlier call held, even with no SKU in common.
    PERFORM pg_advisory_xact_lock(hashtext('inventory_truth order ' || reserve_order.channel),
                                  hashtext(reserve_order.ref));
    -- A retry must be the same order: lines under this reference that the call does not list,
    -- or lines it adds, are a conflict.
    PERFORM _same_order_lines(reserve_order.channel, reserve_order.ref, reserve_order.lines);
    -- SKU order (byte order, the engine's lock order), whatever the basket's order: two baskets,
    -- or a basket and a statement of several SKUs, never wait for each other in a cycle. A
    -- refused line undoes the lines before it (the block's subtransaction: one per call, not per
    -- line) and the call names every short line.
    BEGIN
        FOR line IN
            SELECT * FROM jsonb_to_recordset(order_lines) AS l(sku text, location text, qty bigint)
        LOOP
            PERFORM reserve(reserve_order.channel, line.sku, line.qty, reserve_order.ref,
                            reserve_order.ttl, line.location, reserve_order.occurred_at,
                            reserve_order.split);
            -- A row per hold: a line served from several locations has one at each.
            RETURN QUERY
            SELECT h.sku, h.location, h.qty, h.id FROM inventory_truth.hold h
             WHERE h.ref = reserve_order.ref AND h.sku = line.sku AND h.channel = reserve_order.channel
             ORDER BY h.id;
        END LOOP;
    EXCEPTION WHEN SQLSTATE 'IT001' THEN
        PERFORM _refuse_order(reserve_order.channel, reserve_order.ref, reserve_order.lines, line.sku,
                              reserve_order.split);
    END;
    -- Checked again after the lines: a reserve() under the same reference may have added one
    -- (the call fails whole, undoing the lines reserved above).
    PERFORM _same_order_lines(reserve_order.channel, reserve_order.ref, reserve_order.lines);
END
$$;
COMMENT ON FUNCTION reserve_order(text, text, jsonb, interval, timestamptz, text) IS
    'Reserves every line of an order, [{"sku": ..., "qty": ..., "location": ... (optional)}], for a channel under one reference, or none of them. Lines naming the same SKU are summed into one reservation; a line without a location is served like reserve''s, from several locations if no single one can (split, as reserve''s). A refused order fails with IT001 naming every short line, as JSON in the error''s DETAIL (see check_order). Returns one row per hold (a line served from several locations has one per location); a retry must list the same SKUs (IT004 otherwise) and behaves as reserve''s.';

CREATE FUNCTION release(channel text, ref text, occurred_at timestamptz DEFAULT now()) RETURNS int
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_release';
COMMENT ON FUNCTION release(text, text, timestamptz) IS
    'Releases every open hold of a channel''s order (ref): committed -> available, each unit back to the bucket it came from (the channel''s fence or the pool). Returns the number of holds released; 0 when they had all ended already.';

CREATE FUNCTION resize_hold(channel text, ref text, sku text, qty bigint,
                            occurred_at timestamptz DEFAULT now(), split text DEFAULT 'most_stock')
RETURNS bigint
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_resize_hold';
COMMENT ON FUNCTION resize_hold(text, text, text, bigint, timestamptz, text) IS
    'Changes the quantity of a channel''s reservation of a SKU for an order (ref) to qty, under the same reference: growing reserves the difference (available -> committed, checked like reserve: IT001 beyond the channel''s ATP) at the locations it is served from first, then, unless split is ''none'', at the others in the split order (as reserve''s: a grow may add a part); shrinking releases it (committed -> available, newest part first, fence units first, like a release); 0 releases it. qty counts what the reservation asked for less what was released, picked and lost units included, so the same call again changes nothing. Returns the hold id (the first part''s). A reservation that ended cannot change (IT004); none is 42704.';

CREATE FUNCTION extend_hold(channel text, ref text, ttl interval) RETURNS int
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_extend_hold';
COMMENT ON FUNCTION extend_hold(text, text, interval) IS
    'Sets the expiry of every open reservation of a channel''s order (ref), all its parts, to ttl from now (a checkout that needs more time, or less); NULL: they no longer expire. A reservation a pick scan has scanned no longer expires and is left alone. Returns how many reservations (SKUs) it set. Moves no stock and changes no ATP. No hold with that reference for the channel is 42704.';

-- Expires one hold past its expiry: its SKU's row first (skipped when another transaction holds
-- it and p_skip_busy), then the hold, read again (picked or released meanwhile: not expired).
CREATE FUNCTION _expire_hold(p_ref text, p_sku text, p_channel text, p_skip_busy boolean)
RETURNS boolean
LANGUAGE c
AS 'MODULE_PATHNAME', 'inventory_truth_expire_hold';

-- Expires up to p_limit due holds (NULL: all). The relay calls it in small transactions, so
-- that it never keeps many SKUs locked at once, with p_skip_busy: a hold whose SKU another
-- transaction holds is left for the next pass, rather than stalling publishing.
CREATE FUNCTION _expire_due_holds(p_limit int, p_skip_busy boolean) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
DECLARE
    due record;
    expired int := 0;
BEGIN
    -- Each hold under its own SKU's lock, in SKU order. With lock_timeout set, a SKU busy for
    -- longer is left for the next run; with p_skip_busy, a busy SKU is.
    -- Planned at each run (EXECUTE), not once per session: a plan the relay made when the table
    -- was empty (a sequential scan) would otherwise stay until something invalidates it, and
    -- read every hold every wake interval as the table grows, the relay publishing nothing
    -- meanwhile. Planned now, it takes hold_expiry (only the holds with an expiry).
    FOR due IN EXECUTE
        'SELECT h.ref, h.sku, h.channel FROM inventory_truth.hold h
          WHERE h.status = ''open'' AND h.expires_at <= pg_catalog.now()
          ORDER BY h.sku COLLATE "C", h.location COLLATE "C", h.id'
    LOOP
        EXIT WHEN expired >= p_limit;  -- counts holds expired, not looked at: skipped ones don't
        BEGIN
            IF _expire_hold(due.ref, due.sku, due.channel, p_skip_busy) THEN
                expired := expired + 1;
            END IF;
        EXCEPTION WHEN lock_not_available THEN
            NULL;
        END;
    END LOOP;
    RETURN expired;
END
$$;
CREATE FUNCTION expire_holds() RETURNS int
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$ SELECT _expire_due_holds(NULL, false) $$;
COMMENT ON FUNCTION expire_holds() IS
    'Releases every open hold past its expiry (committed -> available, back to the buckets the units came from) and returns how many. The relay does the same every relay_wake_interval when the library is preloaded; safe to run from pg_cron too, at any frequency and concurrently with itself. It waits for a buyer of the same SKU to commit; with lock_timeout set, holds of a SKU busy for longer are left for the next run.';
