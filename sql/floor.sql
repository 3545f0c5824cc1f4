-- Floor and ERP functions that move stock between stages (SPEC §7). Each records its movements
-- in the ledger through _move, the same path a direct INSERT takes, and returns the ledger rows
-- it wrote. Each takes occurred_at, the physical event time, last.
--
-- They are SECURITY DEFINER so that roles below management can move stock only through them;
-- search_path is pinned for that reason.

-- What every function that moves stock between two known stages checks before it moves: a
-- known SKU and location, a positive quantity, a physical event time.
CREATE FUNCTION _floor_move(p_sku text, p_location text, p_from stage, p_to stage, p_qty bigint,
                            p_ref text, p_reason text, p_occurred_at timestamptz)
RETURNS movement
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM _known_sku(p_sku),
            _known_location(p_location),
            _check_qty(p_qty, p_sku, p_location),
            _require(p_occurred_at, 'occurred_at');
    RETURN _move(p_sku, p_location, p_from, p_to, p_qty, p_ref, p_reason, p_occurred_at);
END
$$;

CREATE FUNCTION add_location(code text, name text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    INSERT INTO location (code, name) VALUES (_check_code('location', add_location.code), add_location.name)
    ON CONFLICT ON CONSTRAINT location_pkey
    DO UPDATE SET name = coalesce(excluded.name, location.name);
    RETURN add_location.code;
END
$$;
COMMENT ON FUNCTION add_location(text, text) IS
    'Adds a location (warehouse, store) or renames it; returns its code. Safe to repeat.';

CREATE FUNCTION expect(sku text, location text, qty bigint, ref text, eta date,
                       occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    line expected_receipt;
BEGIN
    PERFORM _check_code('SKU', expect.sku),
            _known_location(expect.location),
            _check_qty(expect.qty, expect.sku, expect.location),
            _check_code('reference', expect.ref),
            _check_eta(expect.eta),
            _require(expect.occurred_at, 'occurred_at');
    -- Claiming the line first makes concurrent retries wait for the first call and then see
    -- what it recorded.
    PERFORM _lock_sku(expect.sku, p_create => true);
    INSERT INTO expected_receipt (ref, sku, location, eta)
    VALUES (expect.ref, expect.sku, expect.location, expect.eta)
    ON CONFLICT (ref, sku, location) DO NOTHING;
    IF FOUND THEN
        RETURN NEXT _move(expect.sku, expect.location, NULL, 'inbound', expect.qty, expect.ref,
                          'expected receipt', expect.occurred_at);
        RETURN;
    END IF;
    -- A retried call returns the original movement; other content under the same reference
    -- is a conflict.
    SELECT * INTO line FROM expected_receipt e
     WHERE e.ref = expect.ref AND e.sku = expect.sku AND e.location = expect.location FOR UPDATE;
    IF line.expected = expect.qty AND line.eta IS NOT DISTINCT FROM expect.eta THEN
        RETURN QUERY SELECT * FROM movement WHERE id = line.first_movement;
        RETURN;
    END IF;
    RAISE EXCEPTION 'expected receipt % for % already exists with % due %',
            _q(expect.ref), _describe(expect.sku, expect.location), _units(line.expected),
            coalesce(line.eta::text, '(unknown)')
        USING ERRCODE = 'IT004',
              DETAIL = format('This call asked for %s due %s.', _units(expect.qty), expect.eta),
              HINT = CASE WHEN line.expected = expect.qty
                          THEN 'To move the ETA, use inventory_truth.set_eta().'
                          ELSE 'Cancel the open units with cancel_expected() and expect them under a new reference.'
                     END;
END
$$;
COMMENT ON FUNCTION expect(text, text, bigint, text, date, timestamptz) IS
    'Records an expected receipt (PO/ASN line) of qty units with its ETA: outside -> inbound. Creates an unknown SKU. Repeating the same call returns the original movement; other quantities or ETAs under the same reference fail with IT004.';

CREATE FUNCTION set_eta(sku text, location text, ref text, eta date) RETURNS date
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM _known_sku(set_eta.sku),
            _known_location(set_eta.location),
            _require(set_eta.ref, 'ref'),
            _check_eta(set_eta.eta);
    UPDATE expected_receipt e SET eta = set_eta.eta
     WHERE e.ref = set_eta.ref AND e.sku = set_eta.sku AND e.location = set_eta.location;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no expected receipt % for %', _q(set_eta.ref),
                _describe(set_eta.sku, set_eta.location)
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN set_eta.eta;
END
$$;
COMMENT ON FUNCTION set_eta(text, text, text, date) IS
    'Moves the ETA of an expected receipt (the supplier is late or early), or sets it for one an ERP wrote into the ledger directly. Returns the new ETA.';

CREATE FUNCTION cancel_expected(sku text, location text, ref text, qty bigint DEFAULT NULL,
                                occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    line expected_receipt;
BEGIN
    PERFORM _known_sku(cancel_expected.sku),
            _known_location(cancel_expected.location),
            _require(cancel_expected.ref, 'ref'),
            _require(cancel_expected.occurred_at, 'occurred_at');
    IF cancel_expected.qty IS NOT NULL THEN
        PERFORM _check_qty(cancel_expected.qty, cancel_expected.sku, cancel_expected.location);
    END IF;
    PERFORM _lock_sku(cancel_expected.sku);
    SELECT * INTO line FROM expected_receipt e
     WHERE e.ref = cancel_expected.ref AND e.sku = cancel_expected.sku
       AND e.location = cancel_expected.location
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no expected receipt % for %', _q(cancel_expected.ref),
                _describe(cancel_expected.sku, cancel_expected.location)
            USING ERRCODE = 'undefined_object';
    END IF;
    IF cancel_expected.qty IS NULL AND line.open_qty = 0 THEN
        RETURN;  -- nothing left open: cancelling everything is done
    END IF;
    RETURN NEXT _move(cancel_expected.sku, cancel_expected.location, 'inbound', NULL,
                      coalesce(cancel_expected.qty, line.open_qty), cancel_expected.ref,
                      'expected receipt cancelled', cancel_expected.occurred_at);
END
$$;
COMMENT ON FUNCTION cancel_expected(text, text, text, bigint, timestamptz) IS
    'Cancels qty open units (all of them when qty is NULL) of an expected receipt: inbound -> outside.';

CREATE FUNCTION receive(sku text, location text, qty bigint, ref text DEFAULT NULL,
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
COMMENT ON FUNCTION receive(text, text, bigint, text, timestamptz) IS
    'Records an arrival on the dock. Expected units (the receipt named by ref, else open receipts in ETA order) move inbound -> receiving; any more arrive unplanned: outside -> receiving. A ref that names no expected receipt of this SKU at this location is an error. Creates an unknown SKU.';

CREATE FUNCTION put_away(sku text, location text, qty bigint, qc boolean DEFAULT false,
                         occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM _require(put_away.qc, 'qc');
    RETURN NEXT _floor_move(put_away.sku, put_away.location, 'receiving',
                            CASE WHEN put_away.qc THEN 'quality_control' ELSE 'available' END::stage,
                            put_away.qty, NULL,
                            CASE WHEN put_away.qc THEN 'put-away to QC' ELSE 'put-away' END,
                            put_away.occurred_at);
END
$$;
COMMENT ON FUNCTION put_away(text, text, bigint, boolean, timestamptz) IS
    'Puts received units away: receiving -> available, or receiving -> quality_control when qc is true.';

CREATE FUNCTION qc_pass(sku text, location text, qty bigint, occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN NEXT _floor_move(qc_pass.sku, qc_pass.location, 'quality_control', 'available',
                            qc_pass.qty, NULL, 'QC passed', qc_pass.occurred_at);
END
$$;
COMMENT ON FUNCTION qc_pass(text, text, bigint, timestamptz) IS
    'Units passed inspection: quality_control -> available.';

CREATE FUNCTION qc_fail(sku text, location text, qty bigint, occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN NEXT _floor_move(qc_fail.sku, qc_fail.location, 'quality_control', 'damaged',
                            qc_fail.qty, NULL, 'QC failed', qc_fail.occurred_at);
END
$$;
COMMENT ON FUNCTION qc_fail(text, text, bigint, timestamptz) IS
    'Units failed inspection: quality_control -> damaged. Damage found on the dock before QC is report_damage(..., from_stage => ''receiving'').';

CREATE FUNCTION pick(sku text, location text, qty bigint, ref text DEFAULT NULL,
                     occurred_at timestamptz DEFAULT now(), channel text DEFAULT NULL)
RETURNS SETOF movement
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    hold_row record;
    channels text[];
    sale_channel text := pick.channel;
    left_to_pick bigint := pick.qty;
    drawn bigint;
BEGIN
    PERFORM _known_sku(pick.sku),
            _known_location(pick.location),
            _check_qty(pick.qty, pick.sku, pick.location),
            _require(pick.occurred_at, 'occurred_at');
    IF pick.channel IS NOT NULL THEN
        PERFORM _known_channel(pick.channel);
    END IF;
    IF pick.ref IS NOT NULL THEN
        -- The order's channel: given, or the one whose holds of this SKU carry the reference.
        SELECT array_agg(DISTINCT h.channel ORDER BY h.channel) INTO channels FROM hold h
         WHERE h.ref = pick.ref AND h.sku = pick.sku
           AND (pick.channel IS NULL OR h.channel = pick.channel);
        IF cardinality(channels) > 1 THEN
            RAISE EXCEPTION 'reference % names holds of SKU % for channels %', _q(pick.ref), _q(pick.sku),
                    array_to_string(channels, ', ')
                USING ERRCODE = 'invalid_parameter_value', HINT = 'Name the order''s channel: pick(..., channel => ...).';
        END IF;
        sale_channel := coalesce(sale_channel, channels[1]);
    END IF;
    IF sale_channel IS NOT NULL THEN
        -- A pick for a channel may sell (units beyond its holds): sales of a SKU take turns on
        -- its row, first in the ledger's lock order.
        PERFORM _lock_sku(pick.sku);
        -- The order's open holds here, all locked first, in id order, before any bucket;
        -- committed -> picked, which ends their expiry.
        PERFORM FROM hold h
         WHERE h.ref = pick.ref AND h.sku = pick.sku AND h.location = pick.location
           AND h.channel = sale_channel AND h.status = 'open'
         ORDER BY h.id
           FOR UPDATE;
        FOR hold_row IN
            SELECT h.open_qty FROM hold h
             WHERE h.ref = pick.ref AND h.sku = pick.sku AND h.location = pick.location
               AND h.channel = sale_channel AND h.status = 'open' AND h.open_qty > 0
             ORDER BY h.id
        LOOP
            drawn := least(hold_row.open_qty, left_to_pick);
            RETURN NEXT _move(pick.sku, pick.location, 'committed', 'picked', drawn, pick.ref,
                              'pick scan', pick.occurred_at, sale_channel);
            left_to_pick := left_to_pick - drawn;
            EXIT WHEN left_to_pick = 0;
        END LOOP;
        -- Units scanned for the channel beyond its holds (none left, or they ended) are a sale
        -- for it, checked like a reservation: never from another channel's fence.
        IF left_to_pick > 0 THEN
            PERFORM FROM balance b
             WHERE b.sku = pick.sku AND b.location = pick.location AND b.stage = 'available'
               FOR UPDATE;
            PERFORM _check_sale(sale_channel, pick.sku, pick.location, left_to_pick);
            RETURN NEXT _move(pick.sku, pick.location, 'available', 'picked', left_to_pick, pick.ref,
                              CASE WHEN left_to_pick = pick.qty THEN 'pick scan' ELSE 'pick scan beyond the hold' END,
                              pick.occurred_at, sale_channel);
        END IF;
        RETURN;
    END IF;
    -- A scan for no channel (no hold ever carried this reference): units off the shelf, a loss
    -- to available stock.
    RETURN NEXT _move(pick.sku, pick.location, 'available', 'picked', left_to_pick, pick.ref,
                      'pick scan', pick.occurred_at);
END
$$;
COMMENT ON FUNCTION pick(text, text, bigint, text, timestamptz, text) IS
    'A pick scan; the units stop being sellable at the scan. For an order (ref) whose holds name a channel, or with channel given: its open holds here move committed -> picked (ending their expiry), and units beyond them are a sale for that channel, checked against its ATP like a reservation (IT001). Without either: available -> picked, from the shared pool first, then fences, lowest-priority channel first.';

CREATE FUNCTION put_back(sku text, location text, qty bigint, occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN NEXT _floor_move(put_back.sku, put_back.location, 'picked', 'available', put_back.qty,
                            NULL, 'put back', put_back.occurred_at);
END
$$;
COMMENT ON FUNCTION put_back(text, text, bigint, timestamptz) IS
    'Picked units returned to the shelf: picked -> available.';

CREATE FUNCTION ship(sku text, location text, qty bigint, ref text DEFAULT NULL,
                     occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN NEXT _floor_move(ship.sku, ship.location, 'picked', 'shipped', ship.qty, ship.ref,
                            'shipped', ship.occurred_at);
END
$$;
COMMENT ON FUNCTION ship(text, text, bigint, text, timestamptz) IS
    'Picked units leave the building: picked -> shipped.';

CREATE FUNCTION report_damage(sku text, location text, qty bigint,
                              from_stage stage DEFAULT 'available',
                              occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM _require(report_damage.from_stage, 'from_stage');
    IF report_damage.from_stage = 'quarantine' THEN
        RAISE EXCEPTION 'report_damage does not take returns out of quarantine: a manager''s inspection does'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A manager records it with inventory_truth.inspect_return(..., resale => false).';
    END IF;
    RETURN NEXT _floor_move(report_damage.sku, report_damage.location, report_damage.from_stage,
                            'damaged', report_damage.qty, NULL, 'damage found',
                            report_damage.occurred_at);
END
$$;
COMMENT ON FUNCTION report_damage(text, text, bigint, stage, timestamptz) IS
    'Damage found: from_stage (available by default; also receiving, quality_control, committed, picked) -> damaged.';

CREATE FUNCTION receive_return(sku text, location text, qty bigint, ref text DEFAULT NULL,
                               occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    from_shipped bigint;
BEGIN
    PERFORM _known_sku(receive_return.sku),
            _known_location(receive_return.location),
            _check_qty(receive_return.qty, receive_return.sku, receive_return.location),
            _require(receive_return.occurred_at, 'occurred_at');
    -- Units this location shipped come back from shipped; any others (shipped elsewhere, or
    -- before the ledger began) come from outside.
    -- Locking the shipped bucket (it comes before quarantine in stage order) makes concurrent
    -- returns see each other's draws.
    PERFORM _lock_sku(receive_return.sku);
    SELECT greatest(0, least(b.qty, receive_return.qty)) INTO from_shipped FROM balance b
     WHERE b.sku = receive_return.sku AND b.location = receive_return.location
       AND b.stage = 'shipped'
       FOR UPDATE;
    from_shipped := coalesce(from_shipped, 0);
    IF from_shipped > 0 THEN
        RETURN NEXT _move(receive_return.sku, receive_return.location, 'shipped', 'quarantine',
                          from_shipped, receive_return.ref, 'customer return', receive_return.occurred_at);
    END IF;
    IF receive_return.qty > from_shipped THEN
        RETURN NEXT _move(receive_return.sku, receive_return.location, NULL, 'quarantine',
                          receive_return.qty - from_shipped, receive_return.ref,
                          'customer return', receive_return.occurred_at);
    END IF;
END
$$;
COMMENT ON FUNCTION receive_return(text, text, bigint, text, timestamptz) IS
    'A customer return arrives and waits in quarantine for a manager: shipped -> quarantine for units this location shipped, outside -> quarantine for the rest.';

CREATE FUNCTION inspect_return(sku text, location text, qty bigint, resale boolean,
                               occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM _require(inspect_return.resale, 'resale');
    RETURN NEXT _floor_move(inspect_return.sku, inspect_return.location, 'quarantine',
                            CASE WHEN inspect_return.resale THEN 'available' ELSE 'damaged' END::stage,
                            inspect_return.qty, NULL,
                            CASE WHEN inspect_return.resale THEN 'inspection: ready for resale'
                                 ELSE 'inspection: damaged' END,
                            inspect_return.occurred_at);
END
$$;
COMMENT ON FUNCTION inspect_return(text, text, bigint, boolean, timestamptz) IS
    'A manager''s inspection of returned units: quarantine -> available when resale, else quarantine -> damaged.';

CREATE FUNCTION write_off(sku text, location text, qty bigint, from_stage stage DEFAULT 'damaged',
                          reason text DEFAULT NULL, occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM _require(write_off.from_stage, 'from_stage');
    RETURN NEXT _floor_move(write_off.sku, write_off.location, write_off.from_stage, 'written_off',
                            write_off.qty, NULL,
                            coalesce(write_off.reason,
                                     (SELECT a.event FROM allowed_movements() a
                                       WHERE a.from_stage = write_off.from_stage
                                         AND a.to_stage = 'written_off'),
                                     'write-off'),
                            write_off.occurred_at);
END
$$;
COMMENT ON FUNCTION write_off(text, text, bigint, stage, text, timestamptz) IS
    'Removes units for good: from_stage (damaged by default; also missing, available) -> written_off, with a reason.';
