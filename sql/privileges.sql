-- Privileges (docs/design.md §9): three levels, as NOLOGIN roles a DBA grants to login roles.
--
--   inventory_truth_storefront  read stock and ATP, listen for changes
--   inventory_truth_floor       floor and order operations (WMS, ERP); includes storefront
--   inventory_truth_manager     locations and rules, quarantine release, write-offs, count
--                               approval, direct ledger inserts; includes floor
--
-- Roles belong to the cluster, not the database: they are created once if missing and survive
-- DROP EXTENSION, and a level held in one database is held in every database with the extension. Nobody but the extension's owner can write the tables except a manager
-- inserting into the ledger; everyone else goes through the SECURITY DEFINER functions.
DO $$
DECLARE
    level text;
BEGIN
    -- Two databases installing at once race for the same cluster-wide roles: the loser of a
    -- race sees a unique violation (or duplicate_object) and finds the role there after all.
    FOREACH level IN ARRAY ARRAY['inventory_truth_storefront', 'inventory_truth_floor',
                                 'inventory_truth_manager'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = level) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', level);
            EXCEPTION WHEN unique_violation OR duplicate_object THEN
                NULL;
            END;
        END IF;
    END LOOP;
    BEGIN
        IF NOT pg_catalog.pg_has_role('inventory_truth_floor', 'inventory_truth_storefront', 'MEMBER') THEN
            GRANT inventory_truth_storefront TO inventory_truth_floor;
        END IF;
    EXCEPTION WHEN unique_violation OR duplicate_object THEN
        NULL;
    END;
    BEGIN
        IF NOT pg_catalog.pg_has_role('inventory_truth_manager', 'inventory_truth_floor', 'MEMBER') THEN
            GRANT inventory_truth_floor TO inventory_truth_manager;
        END IF;
    EXCEPTION WHEN unique_violation OR duplicate_object THEN
        NULL;
    END;
END
$$;

REVOKE ALL ON SCHEMA inventory_truth FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA inventory_truth FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA inventory_truth FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA inventory_truth FROM PUBLIC;

GRANT USAGE ON SCHEMA inventory_truth TO inventory_truth_storefront;

-- Storefront: what is where, and which movements exist.
GRANT EXECUTE ON FUNCTION
    movement_allowed(stage, stage),
    allowed_movements(),
    stages(),
    stock(text),
    atp(text, text, text),
    atp_snapshot(text),
    atp_timeline(text, text),
    preorderable(text, text, date),
    check_order(text, jsonb, text),
    notify_status(),
    wait_for_replay(pg_lsn, interval)
TO inventory_truth_storefront;

-- Floor: moving stock through the functions, and reading the ledger.
GRANT EXECUTE ON FUNCTION
    declare_sku(text),
    declare_skus(text[]),
    expect(text, text, bigint, text, date, timestamptz),
    set_eta(text, text, text, date),
    cancel_expected(text, text, text, bigint, timestamptz),
    receive(text, text, bigint, text, timestamptz),
    put_away(text, text, bigint, boolean, timestamptz),
    qc_pass(text, text, bigint, timestamptz),
    qc_fail(text, text, bigint, timestamptz),
    pick(text, text, bigint, text, timestamptz, text),
    put_back(text, text, bigint, timestamptz),
    ship(text, text, bigint, text, timestamptz),
    report_damage(text, text, bigint, stage, timestamptz),
    receive_return(text, text, bigint, text, timestamptz),
    reserve(text, text, bigint, text, interval, text, timestamptz, text),
    reserve_order(text, text, jsonb, interval, timestamptz, text),
    release(text, text, timestamptz),
    resize_hold(text, text, text, bigint, timestamptz, text),
    extend_hold(text, text, interval),
    preorder(text, text, bigint, text, text, timestamptz),
    expire_holds(),
    expected_receipts(),
    verify(),
    short_pick(text, text, bigint, text, timestamptz),
    plan_cycle_counts(int, interval, interval),
    lag_stats(interval),
    readiness(interval)
TO inventory_truth_floor;
GRANT SELECT ON sku, location, movement, movement_commit, stock, balance, expected_receipt,
                channel, sku_buffer, ringfence, fence, hold, atp_published,
                count_task, short_pick, count_sheet, broken_holds, broken_preorders, stock_part, escrow
    TO inventory_truth_floor;

-- Management: locations, channels and their rules, quarantine release, write-offs, count
-- approval (submit_count writes off what a count did not find), and writing the ledger directly (an ERP that
-- inserts its own movements). The filled-in columns stay the extension's.
GRANT EXECUTE ON FUNCTION
    add_location(text, text, int),
    add_channel(text, int, bigint, text),
    set_buffer(text, text, bigint),
    set_ringfence(text, text, bigint, numeric),
    clear_ringfence(text, text),
    allow_preorders(text, boolean),
    set_escrow(text, integer),
    clear_escrow(text),
    rebalance(text),
    inspect_return(text, text, bigint, boolean, timestamptz),
    write_off(text, text, bigint, stage, text, timestamptz),
    submit_count(bigint, bigint, timestamptz)
TO inventory_truth_manager;
GRANT INSERT (sku, location, from_stage, to_stage, qty, channel, ref, reason, occurred_at)
    ON movement TO inventory_truth_manager;
GRANT USAGE ON SEQUENCE movement_id_seq TO inventory_truth_manager;

-- The internal helpers (names starting with _) are not API: say so where \df+ lists them.
DO $$
DECLARE
    helper regprocedure;
BEGIN
    FOR helper IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'inventory_truth'::regnamespace AND p.proname LIKE '\_%'
           AND pg_catalog.obj_description(p.oid, 'pg_proc') IS NULL
    LOOP
        EXECUTE format('COMMENT ON FUNCTION %s IS %L', helper,
                       'Internal to inventory_truth, not part of its API: called by its own functions and triggers.');
    END LOOP;
END
$$;
