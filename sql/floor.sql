-- Floor and ERP functions that move stock between stages (docs/design.md §7), in Rust (src/ledger.rs,
-- src/floor.rs): each checks its arguments, applies its movements with the engine a direct
-- INSERT goes through, records them in the ledger and returns the ledger rows it wrote. Each
-- takes occurred_at, the physical event time, last.
--
-- They are SECURITY DEFINER so that roles below management can move stock only through them;
-- search_path is pinned for that reason.

CREATE FUNCTION add_location(code text, name text DEFAULT NULL, priority int DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    INSERT INTO location (code, name, priority)
    VALUES (_check_code('location', add_location.code), add_location.name,
            coalesce(add_location.priority, 100))
    ON CONFLICT ON CONSTRAINT location_pkey
    DO UPDATE SET name = coalesce(add_location.name, location.name),
                  priority = coalesce(add_location.priority, location.priority);
    RETURN add_location.code;
END
$$;
COMMENT ON FUNCTION add_location(text, text, int) IS
    'Adds a location (warehouse, store), or renames it or changes its priority (NULL keeps what it has); returns its code. priority (lower first, 100 by default) orders the locations a reservation with split => ''priority'' is served from. Safe to repeat.';

CREATE FUNCTION expect(sku text, location text, qty bigint, ref text, eta date,
                       occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_expect';
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
    -- The ledger's lock order: the SKU's row before anything of the SKU (receipts are drawn in
    -- ETA order under it).
    PERFORM _lock_sku(set_eta.sku);
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
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_cancel_expected';
COMMENT ON FUNCTION cancel_expected(text, text, text, bigint, timestamptz) IS
    'Cancels qty open units (all of them when qty is NULL) of an expected receipt: inbound -> outside.';

CREATE FUNCTION receive(sku text, location text, qty bigint, ref text DEFAULT NULL,
                        occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_receive';
COMMENT ON FUNCTION receive(text, text, bigint, text, timestamptz) IS
    'Records an arrival on the dock. Expected units (the receipt named by ref, else open receipts in ETA order) move inbound -> receiving; any more arrive unplanned: outside -> receiving. A ref that names no expected receipt of this SKU at this location is an error. Creates an unknown SKU.';

CREATE FUNCTION put_away(sku text, location text, qty bigint, qc boolean DEFAULT false,
                         occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_put_away';
COMMENT ON FUNCTION put_away(text, text, bigint, boolean, timestamptz) IS
    'Puts received units away: receiving -> available, or receiving -> quality_control when qc is true.';

CREATE FUNCTION qc_pass(sku text, location text, qty bigint, occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_qc_pass';
COMMENT ON FUNCTION qc_pass(text, text, bigint, timestamptz) IS
    'Units passed inspection: quality_control -> available.';

CREATE FUNCTION qc_fail(sku text, location text, qty bigint, occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_qc_fail';
COMMENT ON FUNCTION qc_fail(text, text, bigint, timestamptz) IS
    'Units failed inspection: quality_control -> damaged. Damage found on the dock before QC is report_damage(..., from_stage => ''receiving'').';

CREATE FUNCTION pick(sku text, location text, qty bigint, ref text DEFAULT NULL,
                     occurred_at timestamptz DEFAULT now(), channel text DEFAULT NULL)
RETURNS SETOF movement
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_pick';
COMMENT ON FUNCTION pick(text, text, bigint, text, timestamptz, text) IS
    'A pick scan; the units stop being sellable at the scan. For an order (ref) whose holds name a channel, or with channel given: its open holds here move committed -> picked (ending their expiry), and units beyond them are a sale for that channel, checked against its ATP like a reservation (IT001). Without either: available -> picked, from the shared pool first, then fences, lowest-priority channel first.';

CREATE FUNCTION put_back(sku text, location text, qty bigint, occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_put_back';
COMMENT ON FUNCTION put_back(text, text, bigint, timestamptz) IS
    'Picked units returned to the shelf: picked -> available.';

CREATE FUNCTION ship(sku text, location text, qty bigint, ref text DEFAULT NULL,
                     occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_ship';
COMMENT ON FUNCTION ship(text, text, bigint, text, timestamptz) IS
    'Picked units leave the building: picked -> shipped.';

CREATE FUNCTION report_damage(sku text, location text, qty bigint,
                              from_stage stage DEFAULT 'available',
                              occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_report_damage';
COMMENT ON FUNCTION report_damage(text, text, bigint, stage, timestamptz) IS
    'Damage found: from_stage (available by default; also receiving, quality_control, committed, picked) -> damaged.';

CREATE FUNCTION receive_return(sku text, location text, qty bigint, ref text DEFAULT NULL,
                               occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_receive_return';
COMMENT ON FUNCTION receive_return(text, text, bigint, text, timestamptz) IS
    'A customer return arrives and waits in quarantine for a manager: shipped -> quarantine for units this location shipped, outside -> quarantine for the rest.';

CREATE FUNCTION inspect_return(sku text, location text, qty bigint, resale boolean,
                               occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_inspect_return';
COMMENT ON FUNCTION inspect_return(text, text, bigint, boolean, timestamptz) IS
    'A manager''s inspection of returned units: quarantine -> available when resale, else quarantine -> damaged.';

CREATE FUNCTION write_off(sku text, location text, qty bigint, from_stage stage DEFAULT 'damaged',
                          reason text DEFAULT NULL, occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_write_off';
COMMENT ON FUNCTION write_off(text, text, bigint, stage, text, timestamptz) IS
    'Removes units for good: from_stage (damaged by default; also missing, available) -> written_off, with a reason.';
