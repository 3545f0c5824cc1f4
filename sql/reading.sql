-- Reading the ledger: stock per bucket, open expected receipts, and verify(), the check that
-- every sum the extension keeps agrees with the ledger.

CREATE FUNCTION stock(sku text)
RETURNS TABLE (location text, stage stage, channel text, qty bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM _known_sku(stock.sku);
    -- Available stock by fenced channel plus the pool (channel NULL); committed stock by the
    -- channel whose holds it is; every other stage whole.
    RETURN QUERY
        SELECT s.location, s.stage, s.channel, s.qty FROM (
            SELECT b.location, b.stage, NULL::text AS channel,
                   b.qty - coalesce(CASE b.stage
                       WHEN 'available' THEN (SELECT sum(f.qty) FROM fence f
                                               WHERE f.sku = b.sku AND f.location = b.location)
                       WHEN 'committed' THEN (SELECT sum(h.open_qty) FROM hold h
                                               WHERE h.sku = b.sku AND h.location = b.location
                                                 AND h.status = 'open')
                   END, 0)::bigint AS qty
              FROM balance b WHERE b.sku = stock.sku
            UNION ALL
            SELECT f.location, 'available', f.channel, f.qty
              FROM fence f WHERE f.sku = stock.sku
            UNION ALL
            SELECT h.location, 'committed', h.channel, sum(h.open_qty)::bigint
              FROM hold h WHERE h.sku = stock.sku AND h.status = 'open'
             GROUP BY h.location, h.channel
        ) s
         WHERE s.qty <> 0
         ORDER BY s.location, s.stage, s.channel NULLS FIRST;
END
$$;
COMMENT ON FUNCTION stock(text) IS
    'Units of a SKU per location and stage (empty buckets left out). Available stock is split into each fenced channel''s units and the shared pool (channel NULL); committed stock by the channel holding it.';

CREATE FUNCTION expected_receipts()
RETURNS TABLE (ref text, sku text, location text, eta date, expected bigint, open_qty bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
    SELECT e.ref, e.sku, e.location, e.eta, e.expected, e.open_qty
      FROM expected_receipt e
     WHERE e.open_qty > 0
     ORDER BY e.eta NULLS LAST, e.sku, e.location, e.ref
$$;
COMMENT ON FUNCTION expected_receipts() IS
    'Open expected receipts (stock still inbound): reference, SKU, location, ETA, units expected and still open.';

CREATE FUNCTION verify()
RETURNS TABLE (sku text, location text, stage stage, ledger_qty bigint, balance_qty bigint, problem text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
    WITH ledger AS (
        SELECT m.sku, m.location, m.to_stage AS stage, sum(m.qty)::bigint AS qty
          FROM movement m WHERE m.to_stage IS NOT NULL GROUP BY 1, 2, 3
        UNION ALL
        SELECT m.sku, m.location, m.from_stage, -sum(m.qty)::bigint
          FROM movement m WHERE m.from_stage IS NOT NULL GROUP BY 1, 2, 3
    ), ledger_sum AS (
        SELECT l.sku, l.location, l.stage, sum(l.qty)::bigint AS qty FROM ledger l GROUP BY 1, 2, 3
    ), buckets AS (
        SELECT coalesce(l.sku, b.sku) AS sku, coalesce(l.location, b.location) AS location,
               coalesce(l.stage, b.stage) AS stage, coalesce(l.qty, 0) AS ledger_qty,
               coalesce(b.qty, 0) AS balance_qty
          FROM ledger_sum l
          FULL JOIN balance b ON b.sku = l.sku AND b.location = l.location AND b.stage = l.stage
    ), inbound_lines AS (
        SELECT e.sku, e.location, sum(e.open_qty)::bigint AS qty
          FROM expected_receipt e GROUP BY 1, 2
    )
    SELECT k.sku, k.location, k.stage, k.ledger_qty, k.balance_qty,
           CASE WHEN k.ledger_qty <> k.balance_qty THEN 'balance differs from the ledger'
                ELSE 'balance is negative' END
      FROM buckets k
     WHERE k.ledger_qty <> k.balance_qty OR k.balance_qty < 0
    UNION ALL
    SELECT coalesce(i.sku, b.sku), coalesce(i.location, b.location), 'inbound'::stage,
           coalesce(i.qty, 0), coalesce(b.qty, 0), 'open expected receipts differ from inbound stock'
      FROM inbound_lines i
      FULL JOIN (SELECT * FROM balance WHERE balance.stage = 'inbound') b
        ON b.sku = i.sku AND b.location = i.location
     WHERE coalesce(i.qty, 0) <> coalesce(b.qty, 0)
    UNION ALL
    SELECT f.sku, f.location, 'available'::stage, coalesce(b.qty, 0), f.qty,
           'fenced units exceed available stock'
      FROM (SELECT fence.sku, fence.location, sum(fence.qty)::bigint AS qty FROM fence GROUP BY 1, 2) f
      LEFT JOIN balance b ON b.sku = f.sku AND b.location = f.location AND b.stage = 'available'
     WHERE f.qty > coalesce(b.qty, 0)
    UNION ALL
    SELECT coalesce(h.sku, b.sku), coalesce(h.location, b.location), 'committed'::stage,
           coalesce(h.qty, 0), coalesce(b.qty, 0), 'open holds differ from committed stock'
      FROM (SELECT hold.sku, hold.location, sum(hold.open_qty)::bigint AS qty FROM hold
             WHERE hold.status = 'open' GROUP BY 1, 2) h
      FULL JOIN (SELECT * FROM balance WHERE balance.stage = 'committed') b
        ON b.sku = h.sku AND b.location = h.location
     WHERE coalesce(h.qty, 0) <> coalesce(b.qty, 0)
    UNION ALL
    SELECT coalesce(h.sku, f.sku), coalesce(h.location, f.location), 'available'::stage,
           coalesce(h.qty, 0), coalesce(f.held, 0),
           format('channel %s: units its open holds took from its fence differ from what the fence counts as held',
                  _q(coalesce(h.channel, f.channel)))
      FROM (SELECT hold.sku, hold.location, hold.channel, sum(hold.fence_qty)::bigint AS qty FROM hold
             WHERE hold.status = 'open' AND hold.fence_qty > 0 GROUP BY 1, 2, 3) h
      FULL JOIN (SELECT s.sku, s.location, x.channel, x.held
                   FROM stock s CROSS JOIN LATERAL unnest(s.fence_channels, s.fence_held) AS x(channel, held)
                  WHERE x.held <> 0) f
        ON f.sku = h.sku AND f.location = h.location AND f.channel = h.channel
     WHERE coalesce(h.qty, 0) <> coalesce(f.held, 0)
    UNION ALL
    SELECT s.sku, s.location, 'available'::stage, 0, x.qty, format('channel %s: negative fenced units', _q(x.channel))
      FROM stock s CROSS JOIN LATERAL unnest(s.fence_channels, s.fence_qty) AS x(channel, qty)
     WHERE x.qty < 0
    UNION ALL
    SELECT t.sku, t.location, 'available'::stage, t.lent, t.sold,
           format('escrow part %s: %s', t.part,
                  CASE WHEN least(t.lent, t.sold, t.sales) < 0 THEN 'negative units'
                       ELSE 'sold more than it was lent' END)
      FROM stock_part t
     WHERE t.sold > t.lent OR least(t.lent, t.sold, t.sales) < 0
    UNION ALL
    SELECT p.sku, p.location, 'available'::stage, s.available - coalesce((SELECT sum(q) FROM unnest(s.fence_qty) AS q), 0),
           p.left_to_sell, 'escrow parts have more left to sell than the pool'
      FROM (SELECT t.sku, t.location, sum(t.lent - t.sold)::bigint AS left_to_sell FROM stock_part t
             GROUP BY 1, 2) p
      JOIN _stock_now s ON s.sku = p.sku AND s.location = p.location
     WHERE p.left_to_sell > s.available - coalesce((SELECT sum(q) FROM unnest(s.fence_qty) AS q), 0)
    UNION ALL
    SELECT h.sku, h.location, 'committed'::stage, h.qty,
           h.open_qty + h.picked_qty + h.released_qty + h.lost_qty,
           format('hold %s of channel %s: %s', _q(h.ref), _q(h.channel),
                  CASE WHEN h.qty <> h.open_qty + h.picked_qty + h.released_qty + h.lost_qty
                       THEN 'units held, picked, released and lost do not add up to its quantity'
                       WHEN least(h.open_qty, h.picked_qty, h.released_qty, h.lost_qty,
                                  h.preorder_qty, h.preorder_broken) < 0
                       THEN 'negative units'
                       WHEN h.fence_qty < 0 OR h.fence_qty > h.open_qty
                       THEN format('%s of its open units from the fence, of %s', h.fence_qty, h.open_qty)
                       WHEN h.status NOT IN ('open', 'picked', 'released', 'expired', 'lost')
                       THEN 'unknown status ' || h.status
                       ELSE 'status ' || h.status || ' disagrees with its open units' END)
      FROM hold h
     WHERE h.qty <> h.open_qty + h.picked_qty + h.released_qty + h.lost_qty
        OR least(h.open_qty, h.picked_qty, h.released_qty, h.lost_qty, h.preorder_qty, h.preorder_broken) < 0
        OR h.fence_qty < 0 OR h.fence_qty > h.open_qty
        OR h.status NOT IN ('open', 'picked', 'released', 'expired', 'lost')
        -- Open while it holds units or (a preorder) awaits them.
        OR (h.status = 'open') <> (h.open_qty > 0 OR coalesce(h.preorder_qty, 0) > 0)
     ORDER BY 1, 2, 3
$$;
COMMENT ON FUNCTION verify() IS
    'Returns no rows when every balance equals the sum of the ledger, none is negative, open expected receipts match inbound stock, fenced units fit in available stock and match what open holds took from each fence, open holds match committed stock and every hold''s units add up (none negative, its fenced units within its open ones, a known status, open while it holds or awaits units) and escrow parts sold no more than they were lent nor have more left than the pool; otherwise one row per discrepancy, with the two quantities compared.';
