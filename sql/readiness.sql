-- Truth checks (docs/design.md §7, §10): how late physical events reach the database (lag_stats), and
-- the seed's readiness checklist answered from the data (readiness).
--
-- Warehouse lag is the commit-side time minus the physical event time: movement_commit
-- records when each ledger transaction committed, movement.occurred_at when the scanner saw
-- the event. Percentiles are nearest-rank (percentile_disc): each is a lag that happened.

-- A lag as people read it: "0.3 s", "42 s", "4 min 10 s", "2 h 5 min", "3 days 4 h" (cut, not
-- rounded up: a lag of 30.004 s reads 30 s).
CREATE FUNCTION _lag_text(lag interval) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN lag IS NULL THEN 'n/a'
        WHEN lag < interval '0' THEN '-' || _lag_text(-lag)
        WHEN lag < interval '10 seconds' THEN round(extract(epoch FROM lag), 1) || ' s'
        WHEN lag < interval '1 minute' THEN floor(extract(epoch FROM lag)) || ' s'
        WHEN lag < interval '1 hour' THEN floor(extract(epoch FROM lag) / 60) || ' min '
                                          || floor(extract(epoch FROM lag))::bigint % 60 || ' s'
        WHEN lag < interval '1 day' THEN floor(extract(epoch FROM lag) / 3600) || ' h '
                                         || floor(extract(epoch FROM lag) / 60)::bigint % 60 || ' min'
        ELSE floor(extract(epoch FROM lag) / 86400) || ' days '
             || floor(extract(epoch FROM lag) / 3600)::bigint % 24 || ' h'
    END
$$;

CREATE FUNCTION lag_stats(since interval DEFAULT '1 day')
RETURNS TABLE (event text, from_stage stage, to_stage stage, movements bigint, units bigint,
               p50 interval, p95 interval, max interval)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
    SELECT a.event, m.from_stage, m.to_stage, count(*), sum(m.qty)::bigint,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY c.committed_at - m.occurred_at),
           percentile_disc(0.95) WITHIN GROUP (ORDER BY c.committed_at - m.occurred_at),
           max(c.committed_at - m.occurred_at)
      FROM movement m
      JOIN movement_commit c ON c.txid = m.txid
      JOIN allowed_movements() a ON a.from_stage IS NOT DISTINCT FROM m.from_stage
                                AND a.to_stage IS NOT DISTINCT FROM m.to_stage
     WHERE m.recorded_at >= now() - _check_window(since, 'since')
     GROUP BY a.event, m.from_stage, m.to_stage
     ORDER BY m.from_stage NULLS FIRST, m.to_stage NULLS FIRST
$$;
COMMENT ON FUNCTION lag_stats(interval) IS
    'Warehouse lag per kind of event (movement from -> to) recorded within `since`: movements, units, and the nearest-rank p50, p95 and max of commit time minus physical event time (occurred_at). A negative lag means the scanner''s clock is ahead of the database''s.';

-- readiness(): one function per question, each judged against the thresholds below.

-- A threshold as the advice states it: "30 s", "1 min", "15 min", "1 h".
CREATE FUNCTION _duration_text(d interval) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN extract(epoch FROM d) < 60 THEN floor(extract(epoch FROM d)) || ' s'
        WHEN extract(epoch FROM d) < 3600 AND extract(epoch FROM d)::bigint % 60 = 0
            THEN (extract(epoch FROM d)::bigint / 60) || ' min'
        WHEN extract(epoch FROM d)::bigint % 3600 = 0 THEN (extract(epoch FROM d)::bigint / 3600) || ' h'
        ELSE _lag_text(d)
    END
$$;

-- Every threshold of readiness(), in one place: what passes and what fails.
CREATE FUNCTION _readiness_thresholds(
    OUT pick_before_ship interval,   -- 1: a shipped unit was scanned first if its pick committed this much earlier
    OUT scanned_first_pass numeric,  -- 1: share of shipped units scanned first to pass, and below which it fails
    OUT scanned_first_fail numeric,
    OUT scan_lag_pass interval,      -- 1: pick scan lag p95 to pass, and above which it fails
    OUT scan_lag_fail interval,
    OUT best_sellers int,            -- 2: how many best sellers are judged
    OUT buffer_min bigint,           -- 2: the buffer range that passes
    OUT buffer_max bigint,
    OUT damage_lag_pass interval,    -- 4: damage discovery to ATP p95 to pass, and above which it fails
    OUT damage_lag_fail interval)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT interval '30 seconds', 0.95, 0.80, interval '1 minute', interval '15 minutes',
           10, 2::bigint, 5::bigint, interval '5 minutes', interval '1 hour'
$$;

-- 1. Stock leaves ATP at the pick scan, not at shipping: shipped units whose pick scan was
-- committed at least pick_before_ship before their shipment (the order's own pick when both
-- carry its reference, else the SKU's last pick there), and how late scans arrive. A WMS that
-- records the pick only when it ships, in one transaction or two, fails this.
CREATE FUNCTION _readiness_pick_scans(window_start timestamptz,
    OUT item int, OUT question text, OUT status text, OUT evidence text, OUT advice text, OUT figures jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t record;
    shipped bigint;
    shipped_scanned_first bigint;
    scanned_first numeric;
    picks bigint;
    pick_p50 interval;
    pick_p95 interval;
    worst jsonb;
BEGIN
    SELECT * INTO t FROM _readiness_thresholds();
    item := 1;
    question := 'Does stock leave ATP when a picker scans, or only at shipping?';
    WITH scan AS (
        SELECT m.sku, m.location, coalesce(m.ref, '') AS ref, m.qty, c.committed_at,
               m.to_stage = 'shipped' AS is_ship
          FROM movement m JOIN movement_commit c ON c.txid = m.txid
         WHERE m.recorded_at >= window_start - interval '1 day' AND m.to_stage IN ('picked', 'shipped')
    ), paired AS (
        -- Ships sort before picks committed at the same moment (the same transaction), so
        -- "before" means an earlier transaction.
        SELECT s.*,
               max(s.committed_at) FILTER (WHERE NOT s.is_ship)
                   OVER (PARTITION BY s.sku, s.location, s.ref ORDER BY s.committed_at, NOT s.is_ship
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS own_pick,
               max(s.committed_at) FILTER (WHERE NOT s.is_ship)
                   OVER (PARTITION BY s.sku, s.location ORDER BY s.committed_at, NOT s.is_ship
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS any_pick
          FROM scan s
    )
    SELECT coalesce(sum(p.qty), 0),
           coalesce(sum(p.qty) FILTER (WHERE p.committed_at - coalesce(CASE WHEN p.ref <> '' THEN p.own_pick END, p.any_pick)
                                             >= t.pick_before_ship), 0)
      INTO shipped, shipped_scanned_first
      FROM paired p
     WHERE p.is_ship AND p.committed_at >= window_start;
    SELECT count(*),
           percentile_disc(0.5) WITHIN GROUP (ORDER BY c.committed_at - m.occurred_at),
           percentile_disc(0.95) WITHIN GROUP (ORDER BY c.committed_at - m.occurred_at)
      INTO picks, pick_p50, pick_p95
      FROM movement m JOIN movement_commit c ON c.txid = m.txid
     WHERE m.recorded_at >= window_start AND m.to_stage = 'picked';
    SELECT jsonb_agg(w) INTO worst FROM (
        SELECT m.sku, _lag_text(max(c.committed_at - m.occurred_at)) AS worst_scan_lag
          FROM movement m JOIN movement_commit c ON c.txid = m.txid
         WHERE m.recorded_at >= window_start AND m.to_stage = 'picked'
         GROUP BY m.sku ORDER BY max(c.committed_at - m.occurred_at) DESC, m.sku LIMIT 3) w;
    scanned_first := CASE WHEN shipped > 0 THEN shipped_scanned_first::numeric / shipped END;
    figures := jsonb_build_object('shipped_units', shipped, 'scanned_first_share', round(scanned_first, 3),
                                  'pick_scans', picks, 'scan_lag_p50', pick_p50, 'scan_lag_p95', pick_p95,
                                  'worst_skus', coalesce(worst, '[]'));
    IF shipped = 0 AND picks = 0 THEN
        status := 'warn';
        evidence := 'No pick scans or shipments recorded in the window: nothing to judge.';
        advice := 'Record pick scans with pick() as pickers scan, and shipments with ship().';
    ELSE
        -- No shipment yet: the share cannot be judged, so at best a warn.
        status := CASE WHEN coalesce(scanned_first, 1) < t.scanned_first_fail OR pick_p95 > t.scan_lag_fail THEN 'fail'
                       WHEN coalesce(scanned_first, 0) < t.scanned_first_pass OR pick_p95 > t.scan_lag_pass THEN 'warn'
                       ELSE 'pass' END;
        evidence := CASE WHEN shipped = 0 THEN 'No shipments in the window yet; '
                         ELSE format('%s of %s shipped were pick-scanned at least %s before their shipment was recorded; ',
                                     round(100 * scanned_first) || '%', _units(shipped), _duration_text(t.pick_before_ship)) END
                 || format('%s pick scans reached the database p50 %s, p95 %s after the scan.',
                           picks, _lag_text(pick_p50), _lag_text(pick_p95));
        advice := CASE status
            WHEN 'pass' THEN 'Nothing to do: stock leaves ATP at the scan.'
            ELSE format('Send each pick scan to pick() as it happens (not in a batch with the shipment): until then the storefront sells units already on a cart. Aim for %s scanned first and a p95 under %s.',
                        round(100 * t.scanned_first_pass) || '%', _duration_text(t.scan_lag_pass))
        END;
    END IF;
END
$$;

-- 2. Safety buffers on public channels for the best sellers (the SKUs with the most units
-- sold on public channels in the window).
CREATE FUNCTION _readiness_buffers(window_start timestamptz,
    OUT item int, OUT question text, OUT status text, OUT evidence text, OUT advice text, OUT figures jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t record;
    worst jsonb;
    pairs bigint;
    unbuffered bigint;
    outside_range bigint;
    sellers bigint;
BEGIN
    SELECT * INTO t FROM _readiness_thresholds();
    item := 2;
    question := format('Do the most popular SKUs have a safety buffer of %s-%s units on public channels?',
                       t.buffer_min, t.buffer_max);
    WITH best AS (
        -- Units sold on public channels: reserved or scanned for them, less releases.
        SELECT m.sku, sum(CASE WHEN m.from_stage = 'available' THEN m.qty ELSE -m.qty END) AS sold
          FROM movement m JOIN channel ch ON ch.code = m.channel
         WHERE m.recorded_at >= window_start AND ch.kind IN ('web', 'marketplace', 'pos')
           AND ((m.from_stage = 'available' AND m.to_stage IN ('committed', 'picked'))
                OR (m.from_stage = 'committed' AND m.to_stage = 'available'))
         GROUP BY m.sku
        HAVING sum(CASE WHEN m.from_stage = 'available' THEN m.qty ELSE -m.qty END) > 0
         ORDER BY 2 DESC, m.sku LIMIT t.best_sellers
    ), pair AS (
        SELECT b.sku, b.sold, ch.code AS channel, _buffer(ch.code, b.sku) AS buffer
          FROM best b CROSS JOIN channel ch
         WHERE ch.kind IN ('web', 'marketplace', 'pos')
    )
    SELECT (SELECT count(*) FROM best), count(*),
           count(*) FILTER (WHERE p.buffer = 0),
           count(*) FILTER (WHERE p.buffer NOT BETWEEN t.buffer_min AND t.buffer_max),
           jsonb_agg(jsonb_build_object('sku', p.sku, 'channel', p.channel, 'buffer', p.buffer)
                     ORDER BY p.buffer, p.sold DESC, p.sku, p.channel)
               FILTER (WHERE p.buffer NOT BETWEEN t.buffer_min AND t.buffer_max)
      INTO sellers, pairs, unbuffered, outside_range, worst
      FROM pair p;
    figures := jsonb_build_object('best_sellers', sellers, 'sku_channel_pairs', pairs,
                                  'without_buffer', unbuffered, 'outside_2_to_5', outside_range,
                                  'worst', coalesce(worst, '[]'));
    IF sellers = 0 OR pairs = 0 THEN
        status := 'warn';
        evidence := CASE WHEN sellers = 0 THEN 'No sales recorded in the window: no best sellers to judge.'
                         ELSE 'No public channel (web, marketplace, pos) to judge.' END;
        advice := format('Once sales flow, give the best sellers a buffer of %s-%s units on public channels with set_buffer().',
                         t.buffer_min, t.buffer_max);
    ELSE
        status := CASE WHEN unbuffered > 0 THEN 'fail' WHEN outside_range > 0 THEN 'warn' ELSE 'pass' END;
        evidence := format('%s of %s best-seller/public-channel pairs have a buffer of %s-%s units; %s without any buffer.%s',
                           pairs - outside_range, pairs, t.buffer_min, t.buffer_max, unbuffered,
                           CASE WHEN worst IS NULL THEN ''
                                ELSE ' Worst: ' || (SELECT string_agg(format('%s on %s (%s)', w->>'sku', w->>'channel', w->>'buffer'), ', ')
                                                      FROM (SELECT w FROM jsonb_array_elements(worst) w LIMIT 5) x) END);
        advice := CASE status
            WHEN 'pass' THEN 'Nothing to do.'
            WHEN 'fail' THEN format('A best seller without a buffer sells its last unit blind: give it %s-%s units with set_buffer(channel, sku, units) or a channel default with add_channel(..., buffer => %s).',
                                    t.buffer_min, t.buffer_max, (t.buffer_min + t.buffer_max) / 2)
            ELSE format('Bring the buffers into %s-%s units: fewer barely absorb a miscount, more hide sellable stock.',
                        t.buffer_min, t.buffer_max)
        END;
    END IF;
END
$$;

-- 3. Wholesale walled off: every wholesale channel has a ringfence covering every SKU it sold
-- in the window (an every-SKU rule covers all).
CREATE FUNCTION _readiness_wholesale(window_start timestamptz,
    OUT item int, OUT question text, OUT status text, OUT evidence text, OUT advice text, OUT figures jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t record;
    unfenced jsonb;
    partly_fenced jsonb;
    wholesale_channels bigint;
BEGIN
    SELECT * INTO t FROM _readiness_thresholds();
    item := 3;
    question := 'Is wholesale stock walled off (a ringfence on wholesale channels)?';
    SELECT count(*) INTO wholesale_channels FROM channel ch WHERE ch.kind = 'wholesale';
    SELECT jsonb_agg(ch.code ORDER BY ch.code) INTO unfenced
      FROM channel ch
     WHERE ch.kind = 'wholesale'
       AND NOT EXISTS (SELECT FROM ringfence r WHERE r.channel = ch.code
                          AND coalesce(r.units, 0) + coalesce(r.percent, 0) > 0);
    SELECT jsonb_agg(jsonb_build_object('channel', s.channel, 'sku', s.sku) ORDER BY s.channel, s.sku)
      INTO partly_fenced
      FROM (SELECT DISTINCT m.channel, m.sku FROM movement m JOIN channel ch ON ch.code = m.channel
             WHERE ch.kind = 'wholesale' AND m.recorded_at >= window_start
               AND m.from_stage = 'available' AND m.to_stage IN ('committed', 'picked')) s
     WHERE NOT (unfenced ? s.channel) IS TRUE
       -- The rule in force: the SKU's own, else the every-SKU rule (as fences fill).
       AND NOT EXISTS (SELECT FROM (SELECT r.units, r.percent FROM ringfence r
                                     WHERE r.channel = s.channel AND (r.sku = s.sku OR r.sku IS NULL)
                                     ORDER BY r.sku NULLS LAST LIMIT 1) rule
                        WHERE coalesce(rule.units, 0) + coalesce(rule.percent, 0) > 0);
    figures := jsonb_build_object('wholesale_channels', wholesale_channels,
                                  'without_ringfence', coalesce(unfenced, '[]'),
                                  'skus_sold_without_ringfence', coalesce(partly_fenced, '[]'));
    IF wholesale_channels = 0 THEN
        status := 'pass';
        evidence := 'No wholesale channel: there is nothing to wall off.';
        advice := 'When wholesale sells here, add it with add_channel(..., kind => ''wholesale'') and a ringfence.';
    ELSE
        status := CASE WHEN unfenced IS NOT NULL THEN 'fail' WHEN partly_fenced IS NOT NULL THEN 'warn' ELSE 'pass' END;
        evidence := CASE status
            WHEN 'fail' THEN format('Wholesale channel(s) without any ringfence: %s.',
                                    (SELECT string_agg(c, ', ') FROM jsonb_array_elements_text(unfenced) c))
            WHEN 'warn' THEN format('SKUs wholesale sold without a ringfence for them: %s, e.g. %s.',
                                    jsonb_array_length(partly_fenced),
                                    (SELECT string_agg(format('%s on %s', w->>'sku', w->>'channel'), ', ')
                                       FROM (SELECT w FROM jsonb_array_elements(partly_fenced) w LIMIT 5) x))
            ELSE format('All %s wholesale channel(s) are ringfenced for every SKU they sold.', wholesale_channels)
        END;
        advice := CASE status
            WHEN 'pass' THEN 'Nothing to do.'
            ELSE 'Wall wholesale promises off from the storefront: set_ringfence(channel, NULL, percent => ...) for every SKU, or per SKU.'
        END;
    END IF;
END
$$;

-- 4. Damage found on the shelf reaches ATP quickly: commit time minus discovery time of
-- available -> damaged movements.
CREATE FUNCTION _readiness_damage(window_start timestamptz,
    OUT item int, OUT question text, OUT status text, OUT evidence text, OUT advice text, OUT figures jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t record;
    worst jsonb;
    damages bigint;
    damage_p50 interval;
    damage_p95 interval;
    damage_max interval;
BEGIN
    SELECT * INTO t FROM _readiness_thresholds();
    item := 4;
    question := 'How long from a damage discovery to the commit that removed it from ATP?';
    SELECT count(*),
           percentile_disc(0.5) WITHIN GROUP (ORDER BY c.committed_at - m.occurred_at),
           percentile_disc(0.95) WITHIN GROUP (ORDER BY c.committed_at - m.occurred_at),
           max(c.committed_at - m.occurred_at)
      INTO damages, damage_p50, damage_p95, damage_max
      FROM movement m JOIN movement_commit c ON c.txid = m.txid
     WHERE m.recorded_at >= window_start AND m.from_stage = 'available' AND m.to_stage = 'damaged';
    SELECT jsonb_agg(w) INTO worst FROM (
        SELECT m.sku, _lag_text(max(c.committed_at - m.occurred_at)) AS worst_lag
          FROM movement m JOIN movement_commit c ON c.txid = m.txid
         WHERE m.recorded_at >= window_start AND m.from_stage = 'available' AND m.to_stage = 'damaged'
         GROUP BY m.sku ORDER BY max(c.committed_at - m.occurred_at) DESC, m.sku LIMIT 3) w;
    figures := jsonb_build_object('damage_reports', damages, 'lag_p50', damage_p50, 'lag_p95', damage_p95,
                                  'lag_max', damage_max, 'worst_skus', coalesce(worst, '[]'));
    IF damages = 0 THEN
        status := 'warn';
        evidence := 'No damage of available stock recorded in the window.';
        advice := 'Damage nobody records stays on sale: report it with report_damage() when it is found.';
    ELSE
        status := CASE WHEN damage_p95 > t.damage_lag_fail THEN 'fail'
                       WHEN damage_p95 > t.damage_lag_pass THEN 'warn' ELSE 'pass' END;
        evidence := format('Damage reports: %s. Removed from ATP p50 %s, p95 %s, at worst %s after discovery.%s',
                           damages, _lag_text(damage_p50), _lag_text(damage_p95), _lag_text(damage_max),
                           CASE WHEN worst IS NULL THEN ''
                                ELSE ' Slowest: ' || (SELECT string_agg(format('%s (%s)', w->>'sku', w->>'worst_lag'), ', ')
                                                        FROM jsonb_array_elements(worst) w) END);
        advice := CASE status
            WHEN 'pass' THEN 'Nothing to do.'
            ELSE format('Report damage from the floor as it is found (a scanner calling report_damage), not at the end of a shift: aim for a p95 under %s.',
                        _duration_text(t.damage_lag_pass))
        END;
    END IF;
END
$$;

CREATE FUNCTION readiness(since interval DEFAULT '30 days')
RETURNS TABLE (item int, question text, status text, evidence text, advice text, figures jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
DECLARE
    window_start timestamptz := now() - _check_window(readiness.since, 'since');
BEGIN
    RETURN QUERY SELECT * FROM _readiness_pick_scans(window_start);
    RETURN QUERY SELECT * FROM _readiness_buffers(window_start);
    RETURN QUERY SELECT * FROM _readiness_wholesale(window_start);
    RETURN QUERY SELECT * FROM _readiness_damage(window_start);
END
$$;
COMMENT ON FUNCTION readiness(interval) IS
    'The readiness checklist (docs/design.md §10) answered from the last `since` of data, one row per question with pass / warn / fail, the evidence (numbers, worst SKUs), what to do, and the figures as JSON. 1: share of shipped units pick-scanned at least 30 s before their shipment (pass >= 95% with scan lag p95 <= 1 min; fail < 80% or p95 > 15 min). 2: buffers of the 10 best sellers of web, marketplace and pos channels on those channels (pass all 2-5; fail any 0). 3: a ringfence on every wholesale channel for every SKU it sold (fail: a channel without any). 4: damage discovery to ATP (pass p95 <= 5 min; fail > 1 h). No data is a warn. The thresholds are _readiness_thresholds(); each question is its own function (_readiness_pick_scans, _readiness_buffers, _readiness_wholesale, _readiness_damage).';
