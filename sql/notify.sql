-- Real-time delivery (SPEC §6): every change of a SKU's ATP reaches listeners after commit, as
-- one notification per (SKU, channel) whose ATP changed, carrying the SKU's version.
--
-- A transaction that may change a SKU's ATP advances sku.version under the SKU's row lock
-- (_atp_changed), so versions follow commit order and a snapshot's atp and version always
-- agree. Then, by notify mode:
--   direct  the committing transaction publishes just before it commits, after its deferred
--           triggers (src/notify.rs), and then takes PostgreSQL's cluster-wide notify lock
--           until its commit is flushed;
--   relay   the SKU is recorded in atp_dirty, and the relay worker, woken at commit, publishes
--           the recorded SKUs from its own transactions, coalescing many buyers' changes;
--   off     nothing.
-- Publishing compares the SKU's ATP per channel now with what was last published
-- (atp_published) and notifies the differences. A notification lost to a crash is never a lost
-- truth: consumers resync from atp_snapshot(), and the relay republishes at start every SKU
-- whose version moved past what it last published.

-- SKUs whose ATP may have changed and are not published yet. Unlogged: after a crash it is
-- empty, and the relay's start-up pass (_relay_resync) finds the same SKUs from the versions.
-- The relay takes them in id order through the index, so dead rows it deleted cost nothing.
CREATE UNLOGGED TABLE atp_dirty (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku text NOT NULL
);
COMMENT ON TABLE atp_dirty IS
    'SKUs whose ATP may have changed, recorded by committed transactions in relay mode, waiting for the relay to publish them.';

-- What was last published per SKU: the version and each channel's ATP.
CREATE TABLE atp_published (
    sku text PRIMARY KEY,
    version bigint NOT NULL,
    atp jsonb NOT NULL,
    published_at timestamptz NOT NULL
);
COMMENT ON TABLE atp_published IS
    'The last published ATP of each SKU per channel ({"channel": atp}) and the SKU version it was read at: the previous_atp of the next notification.';

-- Called under the SKU's row lock, or to take it: advances the version and records the change.
CREATE FUNCTION _atp_changed(p_sku text, p_cause text) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    mode text;
BEGIN
    UPDATE sku SET version = version + 1, changed_at = clock_timestamp(), change_cause = p_cause
     WHERE code = p_sku;
    CASE _notify_mode()
        WHEN 'relay' THEN
            INSERT INTO atp_dirty (sku) VALUES (p_sku);
        WHEN 'direct' THEN
            PERFORM _publish_before_commit(p_sku, '_publish_committed(text[])'::regprocedure);
        ELSE
            NULL;
    END CASE;
END
$$;

-- The same for every SKU (a channel's default buffer, a new channel): rows locked in code
-- order, like every other path that locks several SKUs.
CREATE FUNCTION _atp_changed_everywhere(p_cause text) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE sku s SET version = s.version + 1, changed_at = clock_timestamp(), change_cause = p_cause
      FROM (SELECT l.code FROM sku l ORDER BY l.code FOR NO KEY UPDATE) locked
     WHERE s.code = locked.code;
    CASE _notify_mode()
        WHEN 'relay' THEN
            INSERT INTO atp_dirty (sku) SELECT s.code FROM sku s ORDER BY s.code;
        WHEN 'direct' THEN
            PERFORM _publish_before_commit(s.code, '_publish_committed(text[])'::regprocedure)
               FROM sku s;
        ELSE
            NULL;
    END CASE;
END
$$;

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
     CROSS JOIN LATERAL (SELECT sum(b.qty)::bigint AS qty FROM balance b
                          WHERE b.sku = s.code AND b.stage = 'available') a
     CROSS JOIN LATERAL (SELECT sum(fe.qty)::bigint AS fenced,
                                sum(fe.qty) FILTER (WHERE fe.channel = c.code)::bigint AS own
                           FROM fence fe WHERE fe.sku = s.code) f
      LEFT JOIN sku_buffer sb ON sb.channel = c.code AND sb.sku = s.code
     WHERE s.code = ANY (p_skus)
$$;

-- Publishes the SKUs' ATP changes since their last publication: one notification per (SKU,
-- channel) whose ATP differs, or per channel when several commits were coalesced (see below),
-- then remembers what it published. Returns the notifications sent. A SKU never published
-- counts as 0 for every channel.
CREATE FUNCTION _publish(p_skus text[]) RETURNS int
LANGUAGE plpgsql
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

-- Direct mode: called just before commit with the SKUs the transaction changed (their final
-- values). SECURITY DEFINER: it runs as whoever commits.
CREATE FUNCTION _publish_committed(p_skus text[]) RETURNS int
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$ SELECT _publish(p_skus) $$;

-- The relay's step: takes up to p_batch recorded changes and publishes their SKUs. Returns how
-- many it took (p_batch: call again, more may wait).
CREATE FUNCTION _relay_publish(p_batch int) RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
DECLARE
    skus text[];
    taken int;
BEGIN
    WITH taken AS (
        DELETE FROM atp_dirty d
         WHERE d.id IN (SELECT t.id FROM atp_dirty t ORDER BY t.id LIMIT p_batch)
        RETURNING d.sku)
    SELECT array_agg(DISTINCT t.sku ORDER BY t.sku), count(*) INTO skus, taken FROM taken t;
    IF taken > 0 THEN
        PERFORM _publish(skus);
    END IF;
    RETURN taken;
END
$$;

-- The relay's start: records every SKU whose version moved past what was last published
-- (changes a crash or a stop left unpublished). Returns how many.
CREATE FUNCTION _relay_resync() RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
DECLARE
    found_skus int;
BEGIN
    INSERT INTO atp_dirty (sku)
    SELECT s.code FROM sku s LEFT JOIN atp_published p ON p.sku = s.code
     WHERE s.version > coalesce(p.version, 0);
    GET DIAGNOSTICS found_skus = ROW_COUNT;
    RETURN found_skus;
END
$$;
