-- Counts (docs/design.md §5): short picks, blind count tasks, the cycle count plan, and counts that
-- reconcile the books with the bin.
--
-- A bin, as the system believes it, holds a location's available and committed units of a SKU.
-- A short pick moves the shortfall to missing in the picker's transaction (so storefronts stop
-- selling it at that commit) and opens a blind count at top priority. A submitted count
-- reconciles the bin and resolves every missing unit there: those found go back to available
-- (fences refill), the rest are written off. How many units move where is src/count.rs.
--
-- Both take the SKU's row before they read or write the bin (every writer of a SKU's stock and
-- holds holds it); the task row after it.

CREATE TABLE count_task (
    id bigserial NOT NULL,
    sku text NOT NULL,
    location text NOT NULL,
    reason text NOT NULL CHECK (reason IN ('short pick', 'cycle count')),
    priority int NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'counted')),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by name NOT NULL,
    picked_in_window bigint,
    counted_qty bigint CHECK (counted_qty >= 0),
    system_qty bigint,
    moved_since bigint,
    missing_qty bigint,
    counted_at timestamptz,
    submitted_at timestamptz,
    counted_by name,
    movements bigint[],
    CHECK ((status = 'counted') = (counted_qty IS NOT NULL)),
    PRIMARY KEY (id, sku) -- as movement's (sql/ledger.sql)
);
-- Never two open tasks for one bin: a short pick raises the open one to top priority.
CREATE UNIQUE INDEX count_task_open ON count_task (sku, location) WHERE status = 'open';
CREATE INDEX count_task_last_count ON count_task (sku, location, counted_at) WHERE status = 'counted';
COMMENT ON TABLE count_task IS
    'Blind count tasks, one open task per SKU-location at most: opened by a short pick (priority 0) or plan_cycle_counts (priority 100), closed by submit_count. The count sheet for floor staff is the count_sheet view, without quantities.';
COMMENT ON COLUMN count_task.picked_in_window IS 'Cycle counts: units picked here in the window that chose the task.';
COMMENT ON COLUMN count_task.system_qty IS 'Available and committed units the system believed were in the bin when the count was submitted.';
COMMENT ON COLUMN count_task.moved_since IS 'Net units into the bin (available, committed) recorded with a physical time after the count: the count plus these is what the bin held at submission.';
COMMENT ON COLUMN count_task.missing_qty IS 'Missing units of the SKU here that the count resolved (found or written off).';
COMMENT ON COLUMN count_task.counted_at IS 'When the bin was counted (the count''s occurred_at).';
COMMENT ON COLUMN count_task.movements IS 'The ledger rows the count wrote (movement ids).';

-- Short picks as reported: the picker event reference makes a retry return the same task.
CREATE TABLE short_pick (
    id bigserial NOT NULL,
    ref text,
    sku text NOT NULL,
    location text NOT NULL,
    found bigint NOT NULL CHECK (found >= 0),
    believed bigint NOT NULL,
    missing bigint NOT NULL,
    task bigint NOT NULL,
    movements bigint[] NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    actor name NOT NULL,
    UNIQUE (ref, sku),
    PRIMARY KEY (id, sku) -- as movement's (sql/ledger.sql)
);
COMMENT ON TABLE short_pick IS
    'Short picks as reported: units found, units the system believed were in the bin (available + committed), units moved to missing, the count task, the ledger rows.';

SELECT pg_catalog.pg_extension_config_dump('count_task', '');
SELECT pg_catalog.pg_extension_config_dump('count_task_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('short_pick', '');
SELECT pg_catalog.pg_extension_config_dump('short_pick_id_seq', '');

-- The count sheet: what to count and where, never how many the system expects.
CREATE VIEW count_sheet AS
    SELECT t.id AS task, t.sku, t.location, t.reason, t.priority, t.created_at
      FROM count_task t
     WHERE t.status = 'open'
     ORDER BY t.priority, t.created_at, t.id;
COMMENT ON VIEW count_sheet IS
    'Open blind count tasks for floor staff, most urgent first: SKU and location only, never the expected quantity. Submit what was counted with submit_count(task, counted).';

-- Holds that a short pick or a count took units from, for the ERP to act on (re-reserve
-- elsewhere, tell the customer): one row per hold and event.
CREATE VIEW broken_holds AS
    SELECT e.event, e.event_id, e.event_ref, e.task, h.id AS hold, m.channel, m.ref, m.sku,
           m.location, m.qty AS lost, h.open_qty AS still_held, h.status AS hold_status,
           m.occurred_at, m.id AS movement
      FROM (SELECT 'short pick'::text AS event, s.id AS event_id, s.ref AS event_ref, s.task, s.movements
              FROM short_pick s
            UNION ALL
            SELECT 'count' AS event, t.id AS event_id, NULL AS event_ref, t.id AS task, t.movements
              FROM count_task t WHERE t.movements IS NOT NULL) e
      JOIN movement m ON m.id = ANY (e.movements) AND m.from_stage = 'committed'
      JOIN hold h ON h.channel = m.channel AND h.ref = m.ref AND h.sku = m.sku AND h.location = m.location;
COMMENT ON VIEW broken_holds IS
    'Holds that lost units to a short pick or a count (stock not in the bin): the event, the count task, the hold (channel, ref), the units it lost and what it still holds. The ERP re-sources or cancels these orders.';

CREATE FUNCTION _check_counted(units bigint, what text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF units IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF units < 0 OR units > _max_units() THEN
        RAISE EXCEPTION '% must be 0 to % units, not %', what, _max_units(), units
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN units;
END
$$;

-- A look-back window: positive (or zero when allowed), and at most 100 years, short of the
-- timestamp overflow (22008) in now() - span.
CREATE FUNCTION _check_window(span interval, what text, allow_zero boolean DEFAULT false) RETURNS interval
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF span IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF span > interval '100 years' THEN
        RAISE EXCEPTION '% must be at most 100 years, not %', what, span USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF now() - span > now() OR (now() - span = now() AND NOT allow_zero) THEN
        RAISE EXCEPTION '% must be a % interval, not %', what,
                CASE WHEN allow_zero THEN 'non-negative' ELSE 'positive' END, span
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN span;
END
$$;

CREATE FUNCTION _check_event_time(occurred_at timestamptz) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF occurred_at IS NULL THEN
        RAISE EXCEPTION 'occurred_at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT isfinite(occurred_at) THEN
        RAISE EXCEPTION 'occurred_at must be a real time, not %', occurred_at
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN occurred_at;
END
$$;

-- Takes a bin's SKU row (every writer of the SKU's stock and holds holds it) and returns the
-- bin's available, committed and missing units.
CREATE FUNCTION _lock_bin(p_sku text, p_location text,
                          OUT available bigint, OUT committed bigint, OUT missing bigint)
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM _lock_sku(p_sku);
    SELECT coalesce(max(s.available), 0), coalesce(max(s.committed), 0), coalesce(max(s.missing), 0)
      INTO available, committed, missing
      FROM stock s
     WHERE s.sku = p_sku AND s.location = p_location;
END
$$;

-- Moves p_qty committed units of a bin to missing, one ledger row per hold it takes from,
-- each naming its hold: lowest-priority channel first, then the newest hold (the order the
-- ledger uses for a loss out of committed that names no hold). The caller has locked the bin.
CREATE FUNCTION _holds_go_missing(p_sku text, p_location text, p_qty bigint, p_reason text,
                                  p_occurred_at timestamptz)
RETURNS SETOF movement
LANGUAGE plpgsql
AS $$
DECLARE
    h record;
    left_to_take bigint := p_qty;
    taken bigint;
BEGIN
    IF p_qty <= 0 THEN
        RETURN;
    END IF;
    FOR h IN
        SELECT hold.channel, hold.ref, hold.open_qty FROM hold JOIN channel c ON c.code = hold.channel
         WHERE hold.sku = p_sku AND hold.location = p_location
           AND hold.status = 'open' AND hold.open_qty > 0
         ORDER BY c.priority DESC, c.code COLLATE "C" DESC, hold.id DESC
    LOOP
        taken := least(h.open_qty, left_to_take);
        RETURN NEXT _move(p_sku, p_location, 'committed', 'missing', taken, h.ref, p_reason,
                          p_occurred_at, h.channel);
        left_to_take := left_to_take - taken;
        EXIT WHEN left_to_take = 0;
    END LOOP;
    IF left_to_take > 0 THEN
        -- Committed stock is always open holds (verify() checks it): this is a broken ledger.
        RAISE EXCEPTION 'the open holds of % cover % of the % committed units asked',
                _describe(p_sku, p_location), _units(p_qty - left_to_take), p_qty
            USING ERRCODE = 'IT001', HINT = 'Run inventory_truth.verify().';
    END IF;
END
$$;

CREATE FUNCTION short_pick(sku text, location text, found bigint, ref text DEFAULT NULL,
                           occurred_at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
-- The argument `found` is shadowed by PL/pgSQL's FOUND, so the body calls it $3.
DECLARE
    bin record;
    earlier short_pick;
    short record;
    moved bigint[] := '{}';
    m movement;
    task_id bigint;
BEGIN
    PERFORM _known_sku(short_pick.sku),
            _known_location(short_pick.location),
            _check_counted($3, 'found'),
            _check_event_time(short_pick.occurred_at);
    IF short_pick.ref IS NOT NULL THEN
        PERFORM _check_code('reference', short_pick.ref);
    END IF;
    SELECT * INTO bin FROM _lock_bin(short_pick.sku, short_pick.location);
    -- A retry of the same picker event (under the SKU's lock, so a concurrent first call has
    -- committed or rolled back) returns its task and moves nothing.
    IF short_pick.ref IS NOT NULL THEN
        SELECT * INTO earlier FROM short_pick s WHERE s.ref = short_pick.ref AND s.sku = short_pick.sku;
        IF FOUND THEN
            IF earlier.location = short_pick.location AND earlier.found = $3 THEN
                RETURN earlier.task;
            END IF;
            RAISE EXCEPTION 'short pick % of SKU % was already reported: % found at location %',
                    _q(short_pick.ref), _q(short_pick.sku), _units(earlier.found), _q(earlier.location)
                USING ERRCODE = 'IT004',
                      DETAIL = format('This call reported %s found at location %s.',
                                      _units($3), _q(short_pick.location));
        END IF;
    END IF;

    SELECT * INTO short FROM _count_shortfall($3, bin.available, bin.committed);
    IF short.from_available > 0 THEN
        m := _move(short_pick.sku, short_pick.location, 'available', 'missing', short.from_available,
                   short_pick.ref, 'short pick', short_pick.occurred_at);
        moved := moved || m.id;
    END IF;
    FOR m IN SELECT * FROM _holds_go_missing(short_pick.sku, short_pick.location, short.from_committed,
                                            'short pick', short_pick.occurred_at) LOOP
        moved := moved || m.id;
    END LOOP;

    -- The blind count, at top priority: the open task of this bin if there is one.
    INSERT INTO count_task AS t (sku, location, reason, priority, created_by)
    VALUES (short_pick.sku, short_pick.location, 'short pick', 0, _actor())
    ON CONFLICT (sku, location) WHERE status = 'open'
    DO UPDATE SET reason = 'short pick', priority = 0
    RETURNING t.id INTO task_id;

    INSERT INTO short_pick (ref, sku, location, found, believed, missing, task, movements,
                            occurred_at, actor)
    VALUES (short_pick.ref, short_pick.sku, short_pick.location, $3,
            bin.available + bin.committed, short.from_available + short.from_committed, task_id,
            moved, short_pick.occurred_at, _actor());
    RETURN task_id;
END
$$;
COMMENT ON FUNCTION short_pick(text, text, bigint, text, timestamptz) IS
    'A picker found `found` units in a bin the system believes holds more (its available and committed units): the shortfall goes missing in this transaction, from available stock first (pool, then the lowest-priority fence), then from holds (lowest-priority channel, newest hold first; see the broken_holds view). Opens a blind count at top priority (or raises the open one) and returns its task. Repeating a call with the same ref returns the same task and moves nothing; other content under the ref fails with IT004.';

CREATE FUNCTION plan_cycle_counts(max_tasks int DEFAULT 20, velocity_window interval DEFAULT '30 days',
                                  recount_after interval DEFAULT '7 days')
RETURNS TABLE (task bigint, sku text, location text, picked bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    candidate record;
    opened int := 0;
BEGIN
    PERFORM _require(max_tasks, 'max_tasks'),
            _check_window(velocity_window, 'velocity_window'),
            _check_window(recount_after, 'recount_after', allow_zero => true);
    IF max_tasks <= 0 THEN
        RAISE EXCEPTION 'max_tasks must be positive, not %', max_tasks USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Velocity: units pick-scanned in the window. Bins with an open task or counted since
    -- recount_after (by the earlier of count and submission time: a count dated ahead by a bad
    -- clock does not hide a bin) are skipped.
    FOR candidate IN
        SELECT m.sku, m.location, sum(m.qty)::bigint AS picked
          FROM movement m
         WHERE m.to_stage = 'picked' AND m.occurred_at >= now() - velocity_window
           AND NOT EXISTS (SELECT FROM count_task t
                            WHERE t.sku = m.sku AND t.location = m.location
                              AND (t.status = 'open'
                                   OR least(t.counted_at, t.submitted_at) >= now() - recount_after))
         GROUP BY m.sku, m.location
         ORDER BY sum(m.qty) DESC, m.sku, m.location
    LOOP
        EXIT WHEN opened >= max_tasks;
        -- Tasks are written under the SKU's row lock, like short_pick's. A SKU someone holds
        -- right now (a picker reporting a short pick, say) is skipped rather than waited for:
        -- a plan that waited could deadlock with a transaction reporting several short picks.
        PERFORM FROM sku s WHERE s.code = candidate.sku FOR NO KEY UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        INSERT INTO count_task AS t (sku, location, reason, priority, created_by, picked_in_window)
        VALUES (candidate.sku, candidate.location, 'cycle count', 100, _actor(), candidate.picked)
        ON CONFLICT (sku, location) WHERE status = 'open' DO NOTHING
        RETURNING t.id INTO task;
        CONTINUE WHEN NOT FOUND;
        sku := candidate.sku;
        location := candidate.location;
        picked := candidate.picked;
        opened := opened + 1;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION plan_cycle_counts(int, interval, interval) IS
    'Opens blind cycle counts for up to max_tasks SKU-locations with the most units pick-scanned in velocity_window, skipping bins with an open task, counted within recount_after, or whose SKU another transaction is changing at that moment. Returns the tasks it opened (the count sheet is the count_sheet view). pg_cron friendly: run it daily.';

CREATE FUNCTION submit_count(task bigint, counted bigint, occurred_at timestamptz DEFAULT now())
RETURNS SETOF movement
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t count_task;
    bin record;
    r record;
    m movement;
    moved bigint[] := '{}';
    step record;
    net_since bigint;
BEGIN
    PERFORM _require(submit_count.task, 'task'),
            _check_counted(submit_count.counted, 'counted'),
            _check_event_time(submit_count.occurred_at);
    SELECT * INTO t FROM count_task c WHERE c.id = submit_count.task;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown count task %', submit_count.task USING ERRCODE = 'undefined_object',
            HINT = 'Open tasks are in inventory_truth.count_sheet.';
    END IF;
    SELECT * INTO bin FROM _lock_bin(t.sku, t.location);
    -- Read again under the bin's locks: a concurrent submission has committed by now.
    SELECT * INTO t FROM count_task c WHERE c.id = submit_count.task FOR UPDATE;
    IF t.status = 'counted' THEN
        -- A retry (lost acknowledgement) returns what the count did; another number is a conflict.
        IF t.counted_qty = submit_count.counted THEN
            RETURN QUERY SELECT * FROM movement mv WHERE mv.id = ANY (t.movements) ORDER BY mv.id;
            RETURN;
        END IF;
        RAISE EXCEPTION 'count task % was already submitted with % counted', t.id, _units(t.counted_qty)
            USING ERRCODE = 'IT004', DETAIL = format('This call counted %s.', _units(submit_count.counted)),
                  HINT = 'Open a new count with plan_cycle_counts() or a short pick.';
    END IF;

    IF submit_count.occurred_at < t.created_at THEN
        RAISE EXCEPTION 'count task % cannot have been counted before it was opened', t.id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Opened at %s, counted at %s.', t.created_at, submit_count.occurred_at),
                  HINT = 'occurred_at is when the bin was counted.';
    END IF;
    -- The books now include what happened to the bin since it was counted (picks, put-aways
    -- recorded meanwhile): the count plus that net movement is what the bin holds now.
    SELECT coalesce(sum(CASE WHEN m.to_stage IN ('available', 'committed') THEN m.qty ELSE 0 END
                        - CASE WHEN m.from_stage IN ('available', 'committed') THEN m.qty ELSE 0 END), 0)
      INTO net_since
      FROM movement m
     WHERE m.sku = t.sku AND m.location = t.location AND m.occurred_at > submit_count.occurred_at
       AND (m.from_stage IN ('available', 'committed') OR m.to_stage IN ('available', 'committed'));
    IF submit_count.counted + net_since < 0 THEN
        RAISE EXCEPTION 'a count of % for task % is fewer than the % that left the bin after it',
                _units(submit_count.counted), t.id, _units(-net_since)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Movements of %s recorded with a physical time after %s took them.',
                                  _describe(t.sku, t.location), submit_count.occurred_at),
                  HINT = 'Count the bin again and submit that count with its time.';
    END IF;
    SELECT * INTO r FROM _count_reconciliation(submit_count.counted + net_since, bin.available,
                                               bin.committed, bin.missing);
    -- In this order: missing units found come back first, then gains, losses from available,
    -- holds' units going missing (one row per hold, naming it), and what stays missing goes.
    FOR step IN
        SELECT * FROM (VALUES (1, 'missing'::stage, 'available'::stage, r.found, 'count: found'),
                              (2, NULL, 'available', r.gain, 'count gain'),
                              (3, 'available', 'written_off', r.lost_available, 'count loss'),
                              (4, 'committed', 'missing', r.lost_committed, 'count: not in the bin'),
                              (5, 'missing', 'written_off', r.written_off, 'count: not found'))
                      AS s(n, from_stage, to_stage, qty, reason)
         WHERE s.qty > 0
         ORDER BY s.n
    LOOP
        IF step.from_stage = 'committed' THEN
            FOR m IN SELECT * FROM _holds_go_missing(t.sku, t.location, step.qty, step.reason,
                                                    submit_count.occurred_at) LOOP
                moved := moved || m.id;
                RETURN NEXT m;
            END LOOP;
        ELSE
            m := _move(t.sku, t.location, step.from_stage, step.to_stage, step.qty, 'count-' || t.id,
                       step.reason, submit_count.occurred_at);
            moved := moved || m.id;
            RETURN NEXT m;
        END IF;
    END LOOP;

    UPDATE count_task c
       SET status = 'counted', counted_qty = submit_count.counted,
           system_qty = bin.available + bin.committed, moved_since = net_since,
           missing_qty = bin.missing,
           counted_at = submit_count.occurred_at, submitted_at = clock_timestamp(),
           counted_by = _actor(), movements = moved
     WHERE c.id = t.id;
END
$$;
COMMENT ON FUNCTION submit_count(bigint, bigint, timestamptz) IS
    'Submits a blind count of a task''s bin (occurred_at: when it was counted, not before the task was opened) and reconciles it at once. Movements of the bin recorded with a later physical time are added to the count first (a pick recorded between the count and its submission is not a loss). Counted above the system''s available + committed units finds missing units first (missing -> available, fences refill), then is a count gain; below it is a count loss from available stock, then from holds (committed -> missing, named in broken_holds). Every missing unit of the SKU there that was not found is written off. Returns the ledger rows; a retry with the same count returns them again, another count fails with IT004. Management: this writes off stock.';
