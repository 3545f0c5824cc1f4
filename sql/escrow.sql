-- Escrow for a hot SKU (docs/design.md §12). The SKU's pool at each location is lent to
-- `escrow_parts` parts (stock_part, sql/ledger.sql); a buyer that may sell from the pool takes a
-- part no other buyer holds (src/escrow.rs) and writes that part, its hold and its ledger row,
-- so buyers of one SKU commit side by side instead of one after another on the SKU's row.
--
-- Exact by construction: the parts together are lent at most the pool less the largest
-- (buffer - fenced units) of any channel, so no sale from a part can take a channel below its
-- buffer or touch a fence, and a buyer that finds no part with the units takes the SKU's row and
-- decides exactly as without escrow. A channel's sale from its own fence takes the SKU's row and
-- leaves the parts out (src/hold.rs); every other writer under the SKU's row first folds the
-- parts back into stock (_escrow_fold, waiting for the buyers holding them) and empties them;
-- an exact sale lends the pool out again after it (_escrow_lend).

-- Folds the parts' sales into stock and the SKU's version, and empties the parts. The caller
-- holds the SKU's row; this waits for every buyer holding a part and keeps the parts locked to
-- the end of the transaction (buyers then wait for it, and find the parts empty or lent again).
CREATE FUNCTION _escrow_fold(p_sku text) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    sales bigint;
BEGIN
    PERFORM FROM stock_part t WHERE t.sku = p_sku
      ORDER BY t.location COLLATE "C", t.part FOR UPDATE;
    -- A new statement: its snapshot sees what the buyers waited for committed.
    UPDATE stock s SET available = s.available - p.sold, committed = s.committed + p.sold
      FROM (SELECT t.location, sum(t.sold)::bigint AS sold FROM stock_part t
             WHERE t.sku = p_sku GROUP BY t.location) p
     WHERE s.sku = p_sku AND s.location = p.location AND p.sold <> 0;
    SELECT coalesce(sum(t.sales), 0) INTO sales FROM stock_part t WHERE t.sku = p_sku;
    IF sales > 0 THEN
        UPDATE sku s SET version = s.version + sales WHERE s.code = p_sku;
    END IF;
    UPDATE stock_part t SET lent = 0, sold = 0, sales = 0
     WHERE t.sku = p_sku AND (t.lent <> 0 OR t.sold <> 0 OR t.sales <> 0);
END
$$;
COMMENT ON FUNCTION _escrow_fold(text) IS
    'Folds what a SKU''s escrow parts sold into its stock (available to committed) and their sales into its version, and empties the parts, waiting for the buyers holding them; the caller holds the SKU''s row. Internal: not for direct use.';

-- Lends the SKU's pool to its parts at every location, after a fold in this transaction (the
-- caller holds the SKU's row): in all, the pool less the largest (buffer - fenced units) of any
-- channel, place by place in code order, split evenly over the parts of each. Returns the units
-- lent.
CREATE FUNCTION _escrow_lend(p_sku text) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    parts integer;
    keep bigint;
    left_to_lend bigint;
    place record;
    lend bigint;
    lent bigint := 0;
BEGIN
    SELECT s.escrow_parts INTO parts FROM sku s WHERE s.code = p_sku;
    IF coalesce(parts, 0) = 0 THEN
        RETURN 0;
    END IF;
    -- What every channel must still see when the parts have sold all they were lent.
    SELECT coalesce(max(greatest(0, _buffer(c.code, p_sku) - coalesce(f.qty, 0))), 0) INTO keep
      FROM channel c
      LEFT JOIN (SELECT x.channel, sum(x.qty)::bigint AS qty
                   FROM stock s CROSS JOIN LATERAL unnest(s.fence_channels, s.fence_qty) AS x(channel, qty)
                  WHERE s.sku = p_sku GROUP BY x.channel) f ON f.channel = c.code;
    SELECT greatest(0, coalesce(sum(p.pool), 0) - keep) INTO left_to_lend
      FROM (SELECT s.available - coalesce((SELECT sum(q) FROM unnest(s.fence_qty) AS q), 0) AS pool
              FROM stock s WHERE s.sku = p_sku) p;
    FOR place IN
        SELECT s.location, greatest(0, s.available - coalesce((SELECT sum(q) FROM unnest(s.fence_qty) AS q), 0)) AS pool
          FROM stock s WHERE s.sku = p_sku ORDER BY s.location COLLATE "C"
    LOOP
        lend := least(place.pool, left_to_lend);
        left_to_lend := left_to_lend - lend;
        INSERT INTO stock_part (sku, location, part)
        SELECT p_sku, place.location, g FROM generate_series(1, parts) AS g
        ON CONFLICT DO NOTHING;
        UPDATE stock_part t
           SET lent = lend / parts + CASE WHEN t.part <= lend % parts THEN 1 ELSE 0 END
         WHERE t.sku = p_sku AND t.location = place.location AND t.part <= parts;
        lent := lent + lend;
    END LOOP;
    DELETE FROM stock_part t WHERE t.sku = p_sku AND t.part > parts;
    RETURN lent;
END
$$;
COMMENT ON FUNCTION _escrow_lend(text) IS
    'Lends a SKU''s pool to its escrow parts after a fold, under its row: the pool less the largest (buffer - fenced units) of any channel, split evenly over the parts at each location. Returns the units lent. Internal: not for direct use.';

CREATE FUNCTION set_escrow(sku text, parts integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM _known_sku(set_escrow.sku);
    PERFORM _require(set_escrow.parts, 'parts');
    IF set_escrow.parts < 1 OR set_escrow.parts > 256 THEN
        RAISE EXCEPTION 'a SKU is escrowed in 1 to 256 parts, not %', set_escrow.parts
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'clear_escrow ends escrow; about as many parts as buyers commit at once is enough.';
    END IF;
    -- Taking the SKU's row folds the parts it had.
    PERFORM _lock_sku(set_escrow.sku);
    UPDATE sku s SET escrow_parts = set_escrow.parts WHERE s.code = set_escrow.sku;
    RETURN _escrow_lend(set_escrow.sku);
END
$$;
COMMENT ON FUNCTION set_escrow(text, integer) IS
    'Lends a hot SKU''s pool at each location to 1 to 256 independently locked parts, so that concurrent buyers of it do not queue on one row lock (docs/design.md §12). Every rule stays exact: the parts are lent at most the pool less what buffers keep, a channel''s sale from its own fence leaves them out, every other change folds them back first, and a buyer finding no part with the units is decided exactly under the SKU''s row. Returns the units lent.';

CREATE FUNCTION clear_escrow(sku text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    was integer;
BEGIN
    PERFORM _known_sku(clear_escrow.sku);
    PERFORM _lock_sku(clear_escrow.sku);
    SELECT s.escrow_parts INTO was FROM sku s WHERE s.code = clear_escrow.sku;
    IF was = 0 THEN
        RETURN false;
    END IF;
    DELETE FROM stock_part t WHERE t.sku = clear_escrow.sku;
    UPDATE sku s SET escrow_parts = 0 WHERE s.code = clear_escrow.sku;
    RETURN true;
END
$$;
COMMENT ON FUNCTION clear_escrow(text) IS
    'Ends a SKU''s escrow: folds what its parts sold into stock and removes them; its buyers take its row again. Returns false when it had none.';

-- The parts of every escrowed SKU, as a DBA watches a flash sale.
CREATE VIEW escrow AS
    SELECT t.sku, t.location, t.part, t.lent, t.sold, t.lent - t.sold AS left_to_sell
      FROM stock_part t;
COMMENT ON VIEW escrow IS
    'Escrow parts (set_escrow): per SKU, location and part, the units lent to it, sold from it since the SKU was last folded, and left to sell.';
