-- Real-time delivery (SPEC §6): every change of a SKU's ATP reaches listeners after commit, as
-- one notification per (SKU, channel) whose ATP changed, carrying the SKU's version.
--
-- A transaction that may change a SKU's ATP advances sku.version under the SKU's row lock,
-- once (the engine, _atp_changed), so versions follow commit order and a snapshot's atp and
-- version always agree. Then, by notify mode (src/xact.rs, src/notify.rs):
--   direct  the committing transaction publishes just before it commits, after its deferred
--           triggers (_at_commit), and then takes PostgreSQL's cluster-wide notify lock until
--           its commit is flushed;
--   relay   after commit the SKUs go to the relay through shared memory (src/relay.rs), and
--           the relay publishes them from its own transactions, coalescing many buyers' changes;
--   off     nothing.
-- Publishing compares the SKU's ATP per channel now with what was last published
-- (atp_published) and notifies the differences. A notification lost to a crash is never a lost
-- truth: consumers resync from atp_snapshot(), and the relay republishes at start every SKU
-- whose version moved past what it last published (_relay_stale).

-- What was last published per SKU: the version and each channel's ATP.
CREATE TABLE atp_published (
    sku text PRIMARY KEY,
    version bigint NOT NULL,
    atp jsonb NOT NULL,
    published_at timestamptz NOT NULL
);
COMMENT ON TABLE atp_published IS
    'The last published ATP of each SKU per channel ({"channel": atp}) and the SKU version it was read at: the previous_atp of the next notification.';

-- Each channel's ATP of some SKUs now, with the SKU's version and last change, all read in one
-- snapshot. The arithmetic of atp_snapshot(), looked up per SKU.
CREATE FUNCTION _atp_rows(p_skus text[])
RETURNS TABLE (sku text, channel text, atp bigint, version bigint, changed_at timestamptz, cause text)
LANGUAGE sql STABLE
AS $$
    SELECT s.code, c.code, _atp_of(a.qty, f.fenced, f.own, coalesce(sb.units, c.buffer)),
           s.version, s.changed_at, s.change_cause
      FROM sku s
     CROSS JOIN channel c
     CROSS JOIN LATERAL (SELECT sum(st.available)::bigint AS qty FROM stock st
                          WHERE st.sku = s.code) a
     CROSS JOIN LATERAL (SELECT sum(fe.qty)::bigint AS fenced,
                                sum(fe.qty) FILTER (WHERE fe.channel = c.code)::bigint AS own
                           FROM stock st
                          CROSS JOIN LATERAL unnest(st.fence_channels, st.fence_qty) AS fe(channel, qty)
                          WHERE st.sku = s.code) f
      LEFT JOIN sku_buffer sb ON sb.channel = c.code AND sb.sku = s.code
     WHERE s.code = ANY (p_skus)
$$;

-- Publishes the SKUs' ATP changes since their last publication: one notification per (SKU,
-- channel) whose ATP differs, or per channel when several commits were coalesced (see below),
-- then remembers what it published. Returns the notifications sent. A SKU never published
-- counts as 0 for every channel.
CREATE FUNCTION _publish(p_skus text[]) RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
DECLARE
    listen_channel text := current_setting('inventory_truth.notify_channel', true);
    sent int;
BEGIN
    -- NOTIFY takes channel names of 1 to 63 bytes; a bad setting must not fail every commit
    -- (direct mode) or stop the relay.
    IF listen_channel IS NULL OR listen_channel = '' OR octet_length(listen_channel) > 63 THEN
        RAISE WARNING 'inventory_truth.notify_channel % is not a channel name (1 to 63 bytes); using inventory_truth',
            coalesce(to_json(listen_channel)::text, 'NULL');
        listen_channel := 'inventory_truth';
    END IF;
    WITH now_atp AS (
        SELECT * FROM _atp_rows(p_skus)
    ), published AS (
        SELECT p.sku, p.version, p.atp FROM atp_published p WHERE p.sku = ANY (p_skus)
    ), fresh AS (
        -- Only SKUs whose version moved past the last publication: another publisher (a direct
        -- session, a second call) may have published a newer state already.
        SELECT n.*, coalesce(p.version, 0) AS published_version
          FROM now_atp n LEFT JOIN published p ON p.sku = n.sku
         WHERE n.version > coalesce(p.version, 0)
    ), before AS (
        SELECT p.sku, e.key AS channel, e.value::bigint AS atp
          FROM published p CROSS JOIN LATERAL jsonb_each_text(p.atp) e
    ), changed AS (
        SELECT f.*, coalesce(b.atp, 0) AS previous_atp
          FROM fresh f LEFT JOIN before b ON b.sku = f.sku AND b.channel = f.channel
         WHERE f.atp <> coalesce(b.atp, 0)
            -- Several commits since the last publication: a storefront may have read a
            -- snapshot between them, holding a value neither published nor final. Every
            -- channel gets the final value, even one that is back where it was.
            OR f.version - f.published_version > 1
    ), remembered AS (
        INSERT INTO atp_published AS p (sku, version, atp, published_at)
        SELECT f.sku, max(f.version), jsonb_object_agg(f.channel, f.atp), clock_timestamp()
          FROM fresh f GROUP BY f.sku
        ON CONFLICT (sku) DO UPDATE
            SET version = excluded.version, atp = excluded.atp, published_at = excluded.published_at
            WHERE excluded.version > p.version
    )
    SELECT count(*) INTO sent
      FROM (SELECT pg_notify(listen_channel,
                             jsonb_build_object('sku', c.sku, 'channel', c.channel, 'atp', c.atp,
                                               'previous_atp', c.previous_atp, 'version', c.version,
                                               'cause', c.cause, 'changed_at', c.changed_at)::text)
              FROM changed c
             ORDER BY c.sku, c.channel) notified;
    RETURN sent;
END
$$;

-- The SKUs whose version moved past what was last published: what the relay publishes when it
-- starts, when it fell behind the shared log of changes, and while a prepared transaction may
-- commit.
CREATE FUNCTION _relay_stale() RETURNS SETOF text
LANGUAGE sql STABLE
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
    SELECT s.code FROM sku s LEFT JOIN atp_published p ON p.sku = s.code
     WHERE s.version > coalesce(p.version, 0)
$$;
