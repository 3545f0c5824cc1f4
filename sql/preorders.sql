-- Preorders (docs/design.md §11): a channel allowed to preorder holds units on their way, and a
-- put-away turns them into an ordinary hold. The rules are in src/preorder.rs; the engine fills
-- and breaks preorders as stock moves (src/place.rs, src/engine.rs).

CREATE FUNCTION allow_preorders(channel text, allowed boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM _known_channel(allow_preorders.channel), _require(allow_preorders.allowed, 'allowed');
    IF (SELECT c.preorders FROM channel c WHERE c.code = allow_preorders.channel) = allow_preorders.allowed THEN
        RETURN;
    END IF;
    -- Every SKU's notifications for the channel start (or stop) carrying preorderable units.
    PERFORM _atp_changed_everywhere('allow_preorders');
    UPDATE channel c SET preorders = allow_preorders.allowed WHERE c.code = allow_preorders.channel;
END
$$;
COMMENT ON FUNCTION allow_preorders(text, boolean) IS
    'Allows a channel to take preorders (allowed false stops new ones; preorders taken stay). Management.';

CREATE FUNCTION _preorder(channel text, sku text, qty bigint, ref text, location text,
                          occurred_at timestamptz)
RETURNS bigint[]
LANGUAGE c
AS 'MODULE_PATHNAME', 'inventory_truth_preorder';

CREATE FUNCTION preorder(channel text, sku text, qty bigint, ref text, location text DEFAULT NULL,
                         occurred_at timestamptz DEFAULT now())
RETURNS SETOF hold
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
DECLARE
    ids bigint[] := _preorder(channel, sku, qty, ref, location, occurred_at);
BEGIN
    RETURN QUERY SELECT h.* FROM hold h WHERE h.id = ANY (ids) ORDER BY h.id;
END
$$;
COMMENT ON FUNCTION preorder(text, text, bigint, text, text, timestamptz) IS
    'Preorders qty units of a SKU for a channel''s order (ref) from stock on its way: expected receipts with an ETA and stock in receiving and QC, less what earlier preorders await. Returns the holds: one per location it is served from (whole at the location that has it soonest, else split), each with preorder_qty (units awaited) and preorder_eta (when the last of them is due). Moves no stock and does not touch ATP. A put_away or qc_pass at the location moves the units into the hold (available -> committed, before fences fill), oldest preorder first; then it is an ordinary hold (pick, release). A cancelled or short receipt breaks the newest preorders it cannot serve (broken_preorders). 55000 for a channel that does not take preorders (allow_preorders), IT001 beyond what can be preordered, IT004 for the reference reused with other content; the same call again returns the same holds.';

CREATE FUNCTION preorderable(sku text, channel text, through date DEFAULT NULL) RETURNS bigint
LANGUAGE c STABLE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_preorderable';
COMMENT ON FUNCTION preorderable(text, text, date) IS
    'Units of a SKU a channel may still preorder from stock arriving by a day (through NULL: all stock on its way): expected receipts with an ETA (overdue ones count as due today) and stock in receiving and QC, less what open preorders await, at each location. 0 for a channel that does not take preorders. Separate from ATP: atp() never counts them.';

CREATE VIEW broken_preorders AS
    SELECT h.id AS hold, h.channel, h.ref, h.sku, h.location, h.preorder_broken AS broken,
           h.preorder_qty AS still_awaited, h.open_qty AS held, h.preorder_eta, h.status
      FROM hold h
     WHERE h.preorder_broken > 0;
COMMENT ON VIEW broken_preorders IS
    'Preorders that lost units because the stock on its way to their location fell short (a receipt cancelled or short, damage or loss before put-away): the hold, the units it lost, what it still awaits and holds. The ERP re-sources, delays or cancels these orders.';
