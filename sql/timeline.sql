-- ATP by date (docs/design.md §5): what a channel will be able to promise as stock in the building
-- (receiving, QC) and inbound stock (by ETA) becomes available.

CREATE FUNCTION atp_timeline(sku text, channel text)
RETURNS TABLE (day date, inbound bigint, in_building bigint, atp bigint, preorderable bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    p_sku text := _known_sku(atp_timeline.sku);
    p_channel text := _known_channel(atp_timeline.channel);
    p_preorders boolean := (SELECT c.preorders FROM channel c WHERE c.code = p_channel);
BEGIN
    -- Each location's arrivals are put away on their day, one put-away per location and day,
    -- in day order: each fills the fences like a real put-away (channel priority order, up to
    -- the targets at the new available total) and the rest goes to the pool (_fence_project).
    -- The channel's ATP on a day is then its fence plus the pool at every location, less its
    -- buffer. Stock in the building and inbound already due or overdue arrive today; the
    -- projection assumes nothing is sold meanwhile. Open preorders take the first arrivals at
    -- their location before any of it reaches the shelf (as put_away gives them the units).
    RETURN QUERY
    WITH arrival AS (
        SELECT e.location, greatest(e.eta, current_date) AS day, sum(e.open_qty)::bigint AS inbound,
               0::bigint AS in_building
          FROM expected_receipt e
         WHERE e.sku = p_sku AND e.open_qty > 0 AND e.eta IS NOT NULL
         GROUP BY 1, 2
        UNION ALL
        SELECT st.location, current_date, 0, (st.receiving + st.quality_control)::bigint
          FROM stock st
         WHERE st.sku = p_sku AND st.receiving + st.quality_control > 0
    ), unclaimed AS (
        -- What reaches the shelf for sale: preorders take the first arrivals (src/preorder.rs).
        SELECT u.location, u.day, u.qty FROM _unclaimed_arrivals(p_sku) u
    ), days AS (
        SELECT array_agg(d.day ORDER BY d.day) AS days
          FROM (SELECT current_date AS day UNION SELECT a.day FROM arrival a) d
    ), place AS (
        SELECT st.location, st.available FROM _stock_now st
         WHERE st.sku = p_sku AND (st.available <> 0 OR cardinality(st.fence_channels) > 0)
        UNION
        SELECT a.location, 0 FROM arrival a
         WHERE NOT EXISTS (SELECT FROM _stock_now st
                            WHERE st.sku = p_sku AND st.location = a.location
                              AND (st.available <> 0 OR cardinality(st.fence_channels) > 0))
    ), fenced AS (
        SELECT p.location, p.available,
               coalesce(array_agg(f.channel ORDER BY f.n) FILTER (WHERE f.channel IS NOT NULL), '{}') AS channels,
               coalesce(array_agg(f.units ORDER BY f.n) FILTER (WHERE f.channel IS NOT NULL), '{}') AS units,
               coalesce(array_agg(f.percent ORDER BY f.n) FILTER (WHERE f.channel IS NOT NULL), '{}') AS percents,
               coalesce(array_agg(f.qty ORDER BY f.n) FILTER (WHERE f.channel IS NOT NULL), '{}') AS fences,
               coalesce(array_agg(f.held ORDER BY f.n) FILTER (WHERE f.channel IS NOT NULL), '{}') AS held
          FROM place p
          LEFT JOIN LATERAL _fence_channels(p_sku, p.location) WITH ORDINALITY AS f(channel, units, percent, qty, held, n)
            ON true
         GROUP BY p.location, p.available
    ), projected AS (
        SELECT step.n, step.sellable
          FROM fenced p
         CROSS JOIN days d
         CROSS JOIN LATERAL unnest(_fence_project(
                    p.available,
                    ARRAY(SELECT coalesce((SELECT sum(u.qty) FROM unclaimed u
                                            WHERE u.location = p.location AND u.day = x.day), 0)::bigint
                            FROM unnest(d.days) WITH ORDINALITY AS x(day, n) ORDER BY x.n),
                    p.units, p.percents, p.held, p.fences,
                    array_position(p.channels, p_channel))) WITH ORDINALITY AS step(sellable, n)
    )
    SELECT x.day,
           coalesce((SELECT sum(a.inbound) FROM arrival a WHERE a.day = x.day), 0)::bigint,
           coalesce((SELECT sum(a.in_building) FROM arrival a WHERE a.day = x.day), 0)::bigint,
           greatest(0, coalesce((SELECT sum(pr.sellable) FROM projected pr WHERE pr.n = x.n), 0)
                       - _buffer(p_channel, p_sku))::bigint,
           CASE WHEN p_preorders
                THEN coalesce((SELECT sum(u.qty) FROM unclaimed u WHERE u.day <= x.day), 0)
                ELSE 0 END::bigint
      FROM days d
     CROSS JOIN LATERAL unnest(d.days) WITH ORDINALITY AS x(day, n)
     WHERE EXISTS (SELECT FROM fenced)
     ORDER BY x.day;
    IF NOT FOUND THEN
        -- No stock here, in the building or on its way.
        day := current_date; inbound := 0; in_building := 0; atp := 0; preorderable := 0;
        RETURN NEXT;
    END IF;
END
$$;
COMMENT ON FUNCTION atp_timeline(text, text) IS
    'ATP of a SKU for a channel projected by date: today''s row adds the stock in receiving and QC and inbound stock due today or overdue, each later row the inbound stock due that day (ETA), as if put away on arrival and nothing sold meanwhile; open preorders take the first arrivals at their location, then fences fill as they would. preorderable: what the channel may still preorder of the stock arriving by the end of the day (0 unless it takes preorders; see preorderable()). inbound and in_building are the units arriving that day, atp the projection at the end of it: each day''s arrivals at a location are one put-away, in day order. Inbound without an ETA is left out (set one with set_eta).';
