-- Holds (SPEC §4): reservations of a channel for an order. A hold is one SKU at one location
-- for one (channel, ref); committed stock at a location is exactly its open holds.
--
-- Every change to a hold goes with a ledger row: reserve records available -> committed,
-- release and expiry committed -> available, a pick against it committed -> picked. The
-- ledger's statement trigger keeps the holds and the fences in step (_apply_channel_rows), so
-- an ERP writing those movements directly names the hold by channel and ref and gets the same.
-- reserve, the hot path, does for its own row exactly what that trigger would, under the same
-- locks, and marks the row as applied (src/applied.rs); client/tests/reserve_stress.rs checks
-- that both ways end in the same state.

CREATE TABLE hold (
    id bigserial PRIMARY KEY,
    channel text NOT NULL,
    ref text NOT NULL,
    sku text NOT NULL,
    location text NOT NULL,
    qty bigint NOT NULL DEFAULT 0,
    open_qty bigint NOT NULL DEFAULT 0 CHECK (open_qty >= 0),
    fence_qty bigint NOT NULL DEFAULT 0 CHECK (fence_qty >= 0 AND fence_qty <= open_qty),
    picked_qty bigint NOT NULL DEFAULT 0,
    released_qty bigint NOT NULL DEFAULT 0,
    lost_qty bigint NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'picked', 'released', 'expired', 'lost')),
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    UNIQUE (channel, ref, sku)
);
CREATE INDEX hold_open_at ON hold (sku, location) WHERE status = 'open';
CREATE INDEX hold_expiry ON hold (expires_at) WHERE status = 'open' AND expires_at IS NOT NULL;
-- pick(ref) finds the order's holds of a SKU without knowing the channel.
CREATE INDEX hold_by_ref ON hold (ref, sku);
COMMENT ON TABLE hold IS
    'Reservations: qty units of a SKU at a location held for a channel''s order (ref). open_qty is still committed, fence_qty of it came from the channel''s fence; status is open until the hold is picked, released, expired or lost.';
COMMENT ON COLUMN hold.fence_qty IS 'Open units that came from the channel''s fence: a release returns them there, the rest to the pool.';
COMMENT ON COLUMN hold.lost_qty IS 'Units the hold lost to damage or a short pick out of committed stock.';

SELECT pg_catalog.pg_extension_config_dump('hold', '');
SELECT pg_catalog.pg_extension_config_dump('hold_id_seq', '');

CREATE TRIGGER hold_no_truncate BEFORE TRUNCATE ON hold
    FOR EACH STATEMENT EXECUTE FUNCTION _ledger_tables_no_truncate();

-- The ledger's statement trigger calls this first for a SKU and location whose rows move
-- committed stock: it locks the holds here that the rows name (id order) and, when a row takes
-- committed units without naming a hold, every open hold here; then it creates the holds that
-- rows into committed name for the first time. All before any bucket: the ledger's lock order.
-- Returns the ids it locked or created: _apply_channel_rows touches no other hold, since
-- locking one later (after the buckets) could deadlock.
CREATE FUNCTION _lock_place_holds(p_sku text, p_location text, p_rows movement[]) RETURNS bigint[]
LANGUAGE plpgsql
AS $$
DECLARE
    locked bigint[];
    created bigint[];
BEGIN
    -- Two index lookups (by name, and the open holds of the place), never a scan of every
    -- hold: the cost of a movement must not grow with history.
    SELECT array_agg(l.id) INTO locked
      FROM (SELECT h.id FROM hold h
             WHERE h.id IN (SELECT named.id FROM hold named
                             WHERE (named.channel, named.ref, named.sku) IN
                                       (SELECT r.channel, r.ref, p_sku FROM unnest(p_rows) r
                                         WHERE 'committed' IN (r.from_stage, r.to_stage)
                                           AND r.channel IS NOT NULL)
                               AND named.location = p_location
                            UNION
                            SELECT open_here.id FROM hold open_here
                             WHERE open_here.sku = p_sku AND open_here.location = p_location
                               AND open_here.status = 'open'
                               AND EXISTS (SELECT FROM unnest(p_rows) r
                                            WHERE r.from_stage = 'committed' AND r.channel IS NULL))
             ORDER BY h.id
               FOR UPDATE OF h) l;
    WITH new_holds AS (
        INSERT INTO hold (channel, ref, sku, location)
        SELECT DISTINCT r.channel, r.ref, p_sku, p_location
          FROM unnest(p_rows) r
         WHERE r.to_stage = 'committed'
           AND NOT EXISTS (SELECT FROM hold h WHERE h.channel = r.channel AND h.ref = r.ref AND h.sku = p_sku)
         ORDER BY 1, 2
        ON CONFLICT (channel, ref, sku) DO NOTHING
        RETURNING id)
    SELECT array_agg(id) INTO created FROM new_holds;
    RETURN coalesce(locked, '{}') || coalesce(created, '{}');
END
$$;

-- The ledger's statement trigger calls this for every SKU and location whose rows touch
-- available or committed stock, after it has applied the buckets (so the available bucket is
-- locked) and with the holds the rows name locked (p_locked_holds). It replays the rows on the
-- fences and the holds, in the order _movement_apply gives them; p_available is the available
-- total before them.
CREATE FUNCTION _apply_channel_rows(p_sku text, p_location text, p_rows movement[], p_available bigint,
                                    p_locked_holds bigint[])
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    channels text[];
    units bigint[];
    percents numeric[];
    before bigint[];
    fences bigint[];
    available bigint := p_available;
    m movement;
    h hold;
    k int;
    from_fence bigint;
    left_to_take bigint;
    taken bigint;
    sold text[] := '{}';
    sale_channel text;
    buffer bigint;
BEGIN
    SELECT array_agg(f.channel), array_agg(f.units), array_agg(f.percent), array_agg(f.qty)
      INTO channels, units, percents, before
      FROM _fence_channels(p_sku, p_location) f;
    IF channels IS NULL AND NOT EXISTS (SELECT FROM unnest(p_rows) r
                                         WHERE 'committed' IN (r.from_stage, r.to_stage)
                                            OR (r.to_stage = 'picked' AND r.channel IS NOT NULL)) THEN
        RETURN;  -- no fences, holds or sales here: the pool is the whole available bucket
    END IF;
    channels := coalesce(channels, '{}');
    fences := coalesce(before, '{}');

    FOREACH m IN ARRAY p_rows LOOP
        k := array_position(channels, m.channel);
        IF m.from_stage = 'committed' AND m.channel IS NOT NULL THEN
            -- A release, or a pick or loss against a named hold.
            SELECT * INTO h FROM hold
             WHERE hold.id = ANY (p_locked_holds)
               AND hold.channel = m.channel AND hold.ref = m.ref AND hold.sku = p_sku
               AND hold.location = p_location AND hold.status = 'open';
            IF NOT FOUND THEN
                RAISE EXCEPTION 'no open hold % of channel % for %', _q(m.ref), _q(m.channel),
                        _describe(p_sku, p_location)
                    USING ERRCODE = 'undefined_object';
            END IF;
            IF h.open_qty < m.qty THEN
                RAISE EXCEPTION 'insufficient stock: hold % of channel % has % of % open, % asked',
                        _q(m.ref), _q(m.channel), _units(h.open_qty), _q(p_sku), m.qty
                    USING ERRCODE = 'IT001';
            END IF;
            IF m.to_stage = 'available' THEN
                -- Units go back to the buckets they came from: the fence part to the fence
                -- (if the channel is still fenced here; it was not refilled meanwhile, since
                -- held units count against its target), the rest to the pool.
                taken := CASE WHEN k IS NOT NULL AND (units[k] IS NOT NULL OR percents[k] IS NOT NULL)
                              THEN least(m.qty, h.fence_qty) ELSE 0 END;
                IF taken > 0 THEN
                    fences[k] := fences[k] + taken;
                END IF;
                available := available + m.qty;
                UPDATE hold SET open_qty = open_qty - m.qty,
                                fence_qty = least(fence_qty - taken, open_qty - m.qty),
                                released_qty = released_qty + m.qty,
                                status = CASE WHEN open_qty = m.qty THEN 'released' ELSE status END,
                                ended_at = CASE WHEN open_qty = m.qty THEN clock_timestamp() END
                 WHERE id = h.id;
            ELSE
                -- Consumed: picked (which ends its expiry) or lost; the pool part goes first,
                -- so what stays held keeps its claim on the fence.
                UPDATE hold SET open_qty = open_qty - m.qty,
                                fence_qty = least(fence_qty, open_qty - m.qty),
                                picked_qty = picked_qty + CASE WHEN m.to_stage = 'picked' THEN m.qty ELSE 0 END,
                                lost_qty = lost_qty + CASE WHEN m.to_stage = 'picked' THEN 0 ELSE m.qty END,
                                expires_at = CASE WHEN m.to_stage = 'picked' THEN NULL ELSE expires_at END,
                                status = CASE WHEN open_qty > m.qty THEN status
                                              WHEN m.to_stage = 'picked' THEN 'picked' ELSE 'lost' END,
                                ended_at = CASE WHEN open_qty = m.qty THEN clock_timestamp() END
                 WHERE id = h.id;
            END IF;
        ELSIF m.from_stage = 'committed' THEN
            -- A loss out of committed that names no hold (damage found in a tote): it breaks
            -- holds, lowest-priority channel first, newest first.
            left_to_take := m.qty;
            FOR h IN
                SELECT hold.* FROM hold JOIN channel c ON c.code = hold.channel
                 WHERE hold.id = ANY (p_locked_holds)
                   AND hold.sku = p_sku AND hold.location = p_location
                   AND hold.status = 'open' AND hold.open_qty > 0
                 ORDER BY c.priority DESC, c.code DESC, hold.id DESC
            LOOP
                taken := least(h.open_qty, left_to_take);
                UPDATE hold SET open_qty = open_qty - taken,
                                fence_qty = least(fence_qty, open_qty - taken),
                                lost_qty = lost_qty + taken,
                                status = CASE WHEN open_qty = taken THEN 'lost' ELSE status END,
                                ended_at = CASE WHEN open_qty = taken THEN clock_timestamp() END
                 WHERE id = h.id;
                left_to_take := left_to_take - taken;
                EXIT WHEN left_to_take = 0;
            END LOOP;
            IF left_to_take > 0 THEN
                RAISE EXCEPTION 'insufficient stock: the open holds of % cover % of the % asked',
                        _describe(p_sku, p_location), _units(m.qty - left_to_take), m.qty
                    USING ERRCODE = 'IT001',
                          HINT = 'Holds made after this statement began are not counted: retry.';
            END IF;
        ELSIF m.to_stage = 'available' THEN
            available := available + m.qty;
            IF cardinality(channels) > 0 THEN
                fences := _fence_fill(m.qty,
                                      _fence_targets(available, units, percents,
                                                     _held_from_fences(p_sku, p_location, channels)),
                                      fences);
            END IF;
        ELSIF m.to_stage = 'committed' OR (m.to_stage = 'picked' AND m.channel IS NOT NULL) THEN
            -- A sale for m.channel: its own fence first, then the pool. Taking more than both
            -- drives the pool below zero: a direct write's breach, judged at commit.
            from_fence := CASE WHEN k IS NULL THEN 0 ELSE least(m.qty, fences[k]) END;
            IF from_fence > 0 THEN
                fences[k] := fences[k] - from_fence;
            END IF;
            available := available - m.qty;
            sold := sold || m.channel;
            IF m.to_stage = 'committed' THEN
                -- _lock_place_holds created or locked the hold, unless it is elsewhere, has
                -- ended, or another transaction created it meanwhile.
                SELECT * INTO h FROM hold
                 WHERE hold.channel = m.channel AND hold.ref = m.ref AND hold.sku = p_sku;
                IF NOT (h.id = ANY (p_locked_holds)) OR h.location <> p_location OR h.status <> 'open' THEN
                    RAISE EXCEPTION 'hold % of channel % for SKU % already exists (% at location %, %)',
                            _q(m.ref), _q(m.channel), _q(p_sku), _units(h.qty), _q(h.location), h.status
                        USING ERRCODE = 'IT004',
                              HINT = 'A hold is one SKU at one location for one order reference of a channel.';
                END IF;
                UPDATE hold SET qty = qty + m.qty, open_qty = open_qty + m.qty,
                                fence_qty = fence_qty + from_fence
                 WHERE id = h.id;
            END IF;
        ELSIF m.from_stage = 'available' THEN
            -- A loss (damage, short pick, count loss, an unplanned pick for no channel).
            IF cardinality(channels) > 0 THEN
                fences := _fence_take_loss(m.qty, available - (SELECT sum(x) FROM unnest(fences) x)::bigint, fences);
            END IF;
            available := available - m.qty;
        END IF;
    END LOOP;

    IF cardinality(channels) > 0 THEN
        PERFORM _write_fences(p_sku, p_location, channels, before, fences);
    END IF;

    -- A sale beyond the channel's fence and the pool, or into its buffer, can only be a direct
    -- ledger write (the functions check first). A later statement may still bring units, so
    -- it is judged at commit.
    -- (With no buffer, only this location's pool can be short: another location's shortfall
    -- in this transaction is registered by its own rows.)
    FOREACH sale_channel IN ARRAY ARRAY(SELECT DISTINCT s FROM unnest(sold) s ORDER BY 1) LOOP
        buffer := _buffer(sale_channel, p_sku);
        IF available < coalesce((SELECT sum(x) FROM unnest(fences) x), 0)
           OR (buffer > 0 AND _sellable(p_sku, sale_channel, NULL) < buffer) THEN
            INSERT INTO channel_check (txid, sku, location, channel)
            VALUES (pg_current_xact_id(), p_sku, p_location, sale_channel)
            ON CONFLICT DO NOTHING;
        END IF;
    END LOOP;
END
$$;

CREATE FUNCTION _check_ttl(ttl interval) RETURNS interval
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF ttl IS NULL THEN
        RETURN NULL;
    END IF;
    IF ttl <= interval '0' THEN
        RAISE EXCEPTION 'a hold''s ttl must be positive, not %', ttl
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Leave ttl NULL for a hold that does not expire.';
    END IF;
    -- Far enough for any hold, and short of timestamp overflow (22008) in now() + ttl below.
    IF ttl > interval '100 years' THEN
        RAISE EXCEPTION 'a hold''s ttl must be at most 100 years, not %', ttl
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Leave ttl NULL for a hold that does not expire.';
    END IF;
    -- As a time from now: '1 month -29 days' is positive among intervals (months of 30 days),
    -- but not from the end of February.
    IF now() + ttl <= now() THEN
        RAISE EXCEPTION 'a hold''s ttl must be positive, not %', ttl
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Leave ttl NULL for a hold that does not expire.';
    END IF;
    RETURN ttl;
END
$$;

-- Whether channel p_channel may sell p_qty units of a SKU at a location now: within its ATP
-- (fence + pool at every location, less its buffer) and within its fence and the pool there.
-- IT001 otherwise. The caller holds the SKU's row and the location's available bucket.
CREATE FUNCTION _check_sale(p_channel text, p_sku text, p_location text, p_qty bigint) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    buffer bigint := _buffer(p_channel, p_sku);
    sellable bigint;
    here bigint;
BEGIN
    -- _sellable's arithmetic, for every location in one query.
    SELECT coalesce(sum(s.qty), 0), coalesce(sum(s.qty) FILTER (WHERE s.location = p_location), 0)
      INTO sellable, here
      FROM (SELECT b.location, b.qty - coalesce(sum(f.qty), 0) AS qty
              FROM balance b
              LEFT JOIN fence f ON f.sku = b.sku AND f.location = b.location AND f.channel <> p_channel
             WHERE b.sku = p_sku AND b.stage = 'available'
             GROUP BY b.location, b.qty) s;
    IF p_qty > sellable - buffer THEN
        RAISE EXCEPTION 'insufficient stock: channel % can promise % of SKU %, % asked',
                _q(p_channel), _units(greatest(0, sellable - buffer)), _q(p_sku), p_qty
            USING ERRCODE = 'IT001',
                  DETAIL = format('Its fence and the shared pool hold %s; its safety buffer is %s.',
                                  _units(sellable), _units(buffer));
    END IF;
    IF p_qty > here THEN
        RAISE EXCEPTION 'insufficient stock: channel % can promise % of SKU % at location %, % asked',
                _q(p_channel), _units(here), _q(p_sku), _q(p_location), p_qty
            USING ERRCODE = 'IT001',
                  HINT = 'A hold is at one location: reserve the rest at another location under another reference.';
    END IF;
END
$$;

-- One reservation, for reserve and reserve_order: checks, then in the ledger's lock order the
-- SKU (sales of a SKU take turns: the buffer counts every location), the hold, the bucket.
CREATE FUNCTION _reserve(p_channel text, p_sku text, p_qty bigint, p_ref text, p_ttl interval,
                         p_location text, p_occurred_at timestamptz)
RETURNS hold
LANGUAGE plpgsql
AS $$
DECLARE
    h hold;
    from_fence bigint;
BEGIN
    PERFORM _known_channel(p_channel),
            _known_sku(p_sku),
            _require(p_qty, 'qty'),
            _check_code('reference', p_ref),
            _check_ttl(p_ttl),
            _require(p_occurred_at, 'occurred_at');
    IF p_qty <= 0 THEN
        RAISE EXCEPTION 'quantity must be positive: % of SKU %', _units(p_qty), _q(p_sku)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Every check _movement_validate makes of a row, made here: the ledger row this function
    -- records is marked as applied, and the trigger only stores it.
    IF NOT isfinite(p_occurred_at) THEN
        RAISE EXCEPTION 'occurred_at must be a real time, not %', p_occurred_at
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_location IS NOT NULL THEN
        PERFORM _known_location(p_location);
    END IF;
    -- _lock_sku's lock, written out: this is the hot path, and a call costs. When another
    -- transaction has the SKU's turn (a busy SKU: a flash sale), a sale the committed stock
    -- cannot serve is refused at once instead of queueing for the lock only to be refused
    -- there: a sold-out SKU refuses buyers side by side. The check under the lock below stays,
    -- so nothing can oversell; a retry of an open hold still waits and gets its hold back.
    PERFORM FROM sku WHERE code = p_sku FOR NO KEY UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        IF NOT EXISTS (SELECT FROM hold WHERE hold.channel = p_channel AND hold.ref = p_ref AND hold.sku = p_sku)
           AND (_sellable(p_sku, p_channel, NULL) - _buffer(p_channel, p_sku) < p_qty
                OR (p_location IS NOT NULL AND _sellable(p_sku, p_channel, p_location) < p_qty)) THEN
            PERFORM _check_sale(p_channel, p_sku, p_location, p_qty);
        END IF;
        PERFORM FROM sku WHERE code = p_sku FOR NO KEY UPDATE;
    END IF;

    -- A retry (same channel, ref, SKU and qty) of a hold still open gets it back; anything
    -- else under that reference is a conflict, including a retry after the hold ended: its
    -- units are no longer held, and saying otherwise would promise them twice.
    SELECT * INTO h FROM hold
     WHERE hold.channel = p_channel AND hold.ref = p_ref AND hold.sku = p_sku
       FOR UPDATE;
    IF FOUND THEN
        IF h.status = 'open' AND h.qty = p_qty AND (p_location IS NULL OR p_location = h.location) THEN
            RETURN h;
        END IF;
        RAISE EXCEPTION 'hold % of channel % for SKU % already exists with % at location %',
                _q(p_ref), _q(p_channel), _q(p_sku), _units(h.qty),
                _q(h.location) || CASE WHEN h.status = 'open' THEN ''
                                       ELSE format(' and has ended (%s)', h.status) END
            USING ERRCODE = 'IT004',
                  DETAIL = format('This call asked for %s%s.', _units(p_qty),
                                  CASE WHEN p_location IS NULL THEN '' ELSE ' at location ' || _q(p_location) END),
                  HINT = CASE WHEN h.status = 'open' THEN 'Release it first, or reserve under another reference.'
                              ELSE 'Reserve under another reference.' END;
    END IF;

    IF p_location IS NULL THEN
        -- Deterministic: the location where this channel can sell the most, then by code.
        SELECT b.location INTO p_location
          FROM balance b
          LEFT JOIN fence f ON f.sku = b.sku AND f.location = b.location AND f.channel <> p_channel
         WHERE b.sku = p_sku AND b.stage = 'available'
         GROUP BY b.location, b.qty
         ORDER BY b.qty - coalesce(sum(f.qty), 0) DESC, b.location
         LIMIT 1;
    END IF;
    IF p_location IS NOT NULL THEN
        PERFORM FROM balance b
         WHERE b.sku = p_sku AND b.location = p_location AND b.stage = 'available'
           FOR UPDATE;
    END IF;
    PERFORM _check_sale(p_channel, p_sku, p_location, p_qty);

    -- Applied here exactly as the ledger's trigger would apply the row (a sale for the channel:
    -- its own fence first, then the pool), in the same lock order: the SKU's row and the
    -- available bucket are locked above, then the new hold, the committed bucket, the fence.
    -- Then the ledger row, marked as applied so that the trigger only stores it. A few
    -- statements instead of the trigger's general replay: reservations are the hot path.
    from_fence := coalesce((SELECT least(p_qty, f.qty) FROM fence f
                             WHERE f.sku = p_sku AND f.location = p_location AND f.channel = p_channel), 0);
    PERFORM _atp_changed(p_sku, 'available->committed');
    INSERT INTO hold (channel, ref, sku, location, expires_at, qty, open_qty, fence_qty)
    VALUES (p_channel, p_ref, p_sku, p_location, now() + p_ttl, p_qty, p_qty, from_fence)
    RETURNING * INTO h;
    UPDATE balance b SET qty = b.qty - p_qty
     WHERE b.sku = p_sku AND b.location = p_location AND b.stage = 'available';
    INSERT INTO balance AS b (sku, location, stage, qty)
    VALUES (p_sku, p_location, 'committed', p_qty)
    ON CONFLICT (sku, location, stage) DO UPDATE SET qty = b.qty + excluded.qty;
    IF from_fence > 0 THEN
        UPDATE fence f SET qty = f.qty - from_fence
         WHERE f.sku = p_sku AND f.location = p_location AND f.channel = p_channel;
    END IF;
    PERFORM _row_applied_next(p_sku, p_location, 'available', 'committed', p_qty, p_channel, p_ref);
    INSERT INTO movement (sku, location, from_stage, to_stage, qty, channel, ref, reason, occurred_at)
    VALUES (p_sku, p_location, 'available', 'committed', p_qty, p_channel, p_ref, 'reservation',
            p_occurred_at);
    RETURN h;
END
$$;

CREATE FUNCTION reserve(channel text, sku text, qty bigint, ref text, ttl interval DEFAULT NULL,
                        location text DEFAULT NULL, occurred_at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
BEGIN
    RETURN (_reserve(reserve.channel, reserve.sku, reserve.qty, reserve.ref, reserve.ttl,
                     reserve.location, reserve.occurred_at)).id;
END
$$;
COMMENT ON FUNCTION reserve(text, text, bigint, text, interval, text, timestamptz) IS
    'Reserves qty units of a SKU for a channel''s order (ref): available -> committed, at the given location or else where the channel can sell the most. Refused with IT001 when qty exceeds the channel''s ATP or what it can sell at that location. Returns the hold id; a retry with the same channel, ref, SKU and qty returns the same hold while it is open; another qty, or a retry after the hold ended, fails with IT004. ttl: the hold expires after it (see expire_holds).';

-- IT004 unless the SKUs held under (channel, ref) are none, or exactly the SKUs of lines.
CREATE FUNCTION _same_order_lines(p_channel text, p_ref text, p_lines jsonb) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    held text[];
    asked text[];
BEGIN
    SELECT array_agg(h.sku ORDER BY h.sku) INTO held FROM hold h
     WHERE h.channel = p_channel AND h.ref = p_ref;
    SELECT array_agg(l ->> 'sku' ORDER BY l ->> 'sku') INTO asked FROM jsonb_array_elements(p_lines) l;
    IF held IS NOT NULL AND held IS DISTINCT FROM asked THEN
        RAISE EXCEPTION 'order % of channel % already holds other lines: %', _q(p_ref), _q(p_channel),
                array_to_string(held, ', ')
            USING ERRCODE = 'IT004',
                  DETAIL = format('This call lists %s.', array_to_string(asked, ', ')),
                  HINT = 'A retry lists the same lines; a changed order goes under another reference.';
    END IF;
END
$$;

CREATE FUNCTION reserve_order(channel text, ref text, lines jsonb, ttl interval DEFAULT NULL,
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
COMMENT ON FUNCTION reserve_order(text, text, jsonb, interval, timestamptz) IS
    'Reserves every line of an order, [{"sku": ..., "qty": ..., "location": ... (optional)}], for a channel under one reference, or none of them: the first line refused fails the call. Returns one hold per line; a retry must list the same lines (IT004 otherwise) and behaves as reserve''s.';

CREATE FUNCTION release(channel text, ref text, occurred_at timestamptz DEFAULT now()) RETURNS int
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
COMMENT ON FUNCTION release(text, text, timestamptz) IS
    'Releases every open hold of a channel''s order (ref): committed -> available, each unit back to the bucket it came from (the channel''s fence or the pool). Returns the number of holds released; 0 when they had all ended already.';

-- Expires up to p_limit due holds (NULL: all). The relay calls it in small transactions, so
-- that it never keeps many SKUs locked at once, with p_skip_busy: a hold whose SKU another
-- transaction holds is left for the next pass, rather than stalling publishing.
CREATE FUNCTION _expire_due_holds(p_limit int, p_skip_busy boolean) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
DECLARE
    hold_id bigint;
    h record;
    expired int := 0;
BEGIN
    -- Each hold is locked just before its own movement, in the ledger's order: its SKU's row
    -- first (waiting for a buyer of the SKU to commit), then the hold itself; one that is being
    -- picked or released right now is skipped, its owner decides its fate. With lock_timeout
    -- set, a SKU busy for longer is left for the next run; with p_skip_busy, a busy SKU is.
    FOR hold_id IN
        SELECT hold.id FROM hold
         WHERE hold.status = 'open' AND hold.expires_at <= now()
         ORDER BY hold.sku, hold.location, hold.id
    LOOP
        EXIT WHEN expired >= p_limit;  -- counts holds expired, not looked at: skipped ones don't
        BEGIN
            IF p_skip_busy THEN
                PERFORM FROM sku WHERE sku.code = (SELECT hold.sku FROM hold WHERE hold.id = hold_id)
                    FOR NO KEY UPDATE SKIP LOCKED;
                CONTINUE WHEN NOT FOUND;
            ELSE
                PERFORM _lock_sku((SELECT hold.sku FROM hold WHERE hold.id = hold_id));
            END IF;
            SELECT hold.id, hold.channel, hold.ref, hold.sku, hold.location, hold.open_qty INTO h
              FROM hold
             WHERE hold.id = hold_id AND hold.status = 'open' AND hold.expires_at <= now()
               FOR UPDATE SKIP LOCKED;
            IF FOUND THEN
                PERFORM _move(h.sku, h.location, 'committed', 'available', h.open_qty, h.ref,
                              'hold expired', now(), h.channel);
                UPDATE hold SET status = 'expired' WHERE hold.id = h.id;
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
