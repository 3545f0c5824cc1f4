-- Real-time delivery (docs/design.md §6): every change of a SKU's ATP reaches listeners after commit, as
-- one notification per (SKU, channel) whose ATP changed, carrying the SKU's version.
--
-- A transaction that may change a SKU's ATP advances sku.version under the SKU's row lock,
-- once (the engine, _atp_changed), so versions follow commit order and a snapshot's atp and
-- version always agree. Then, by notify mode (src/xact.rs, src/notify.rs):
--   direct  the committing transaction publishes just before it commits (_at_commit, from
--           the pre-commit callback), and then takes PostgreSQL's cluster-wide notify lock
--           until its commit is flushed;
--   relay   after commit the SKUs go to the relay through shared memory (src/relay.rs), and
--           the relay publishes them from its own transactions, coalescing many buyers' changes;
--   off     nothing.
-- Publishing compares the SKU's ATP per channel now with what was last published
-- (atp_published) and notifies the differences. A notification lost to a crash is never a lost
-- truth: consumers resync from atp_snapshot(), and the relay republishes at start every SKU
-- whose version moved past what it last published (_relay_stale).

-- What was last published per SKU: the version and each channel's ATP. Unlogged: it is derived,
-- and publishing it costs no WAL. A crash empties it, and takes every listener's connection
-- with it (a crash restarts every backend): listeners resync when they reconnect, so the relay
-- then records what is there as published without notifying anyone (_relay_baseline), but for
-- the SKUs changed after the server came back, which it publishes. The row of SKU '' (no SKU
-- has that code) says the table was not emptied by a crash.
CREATE UNLOGGED TABLE atp_published (
    sku text PRIMARY KEY,
    version bigint NOT NULL,
    atp jsonb NOT NULL,
    published_at timestamptz NOT NULL,
    preorderable bigint
);
COMMENT ON TABLE atp_published IS
    'The last published ATP of each SKU per channel ({"channel": atp}) and the SKU version it was read at: the previous_atp of the next notification. Unlogged: a crash empties it, and the relay then records the state of the SKUs last changed before the server came back as published without notifying (every listener reconnects and resyncs after a crash); SKUs changed since are published.';
INSERT INTO atp_published (sku, version, atp, published_at) VALUES ('', 0, '{}', now());

-- Called just before a transaction commits (src/xact.rs): judges what its direct inserts left
-- to judge (a place below zero: IT001; a sale in breach of a fence or a buffer: IT003), records
-- the transaction's commit time if it wrote the ledger, and in direct mode publishes what it
-- changed. SECURITY DEFINER: it runs as whoever commits.
CREATE FUNCTION _at_commit(record_commit boolean, publish text[], publish_all boolean,
                           negative_skus text[], negative_locations text[],
                           breach_skus text[], breach_locations text[], breach_channels text[])
RETURNS void
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS 'MODULE_PATHNAME', 'inventory_truth_at_commit';

-- The SKUs whose version moved past what was last published: what the relay publishes when it
-- starts, when it fell behind the shared log of changes, and while a prepared transaction may
-- commit.
CREATE FUNCTION _relay_stale() RETURNS SETOF text
LANGUAGE sql STABLE
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
    SELECT s.code FROM sku s LEFT JOIN atp_published p ON p.sku = s.code
     WHERE s.version + CASE WHEN s.escrow_parts > 0
                            THEN (SELECT coalesce(sum(t.sales), 0) FROM stock_part t WHERE t.sku = s.code)
                            ELSE 0 END > coalesce(p.version, 0)
$$;

-- Reads on a hot standby (docs/storefront-guide.md, "Reading from a replica"): a storefront
-- LISTENs on the primary, notes pg_current_wal_lsn() there, and reads its snapshot from the
-- replica once the replica has replayed that far; everything committed before it listened is
-- then in the snapshot, and everything after reaches it as a notification. Polls every
-- millisecond: PostgreSQL 15 has no call that waits for replay.
CREATE FUNCTION wait_for_replay(lsn pg_lsn, timeout interval DEFAULT '5 seconds')
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, inventory_truth, pg_temp
AS $$
DECLARE
    deadline timestamptz;
BEGIN
    PERFORM _require(wait_for_replay.lsn, 'lsn'), _require(wait_for_replay.timeout, 'timeout');
    IF wait_for_replay.timeout < interval '0' OR wait_for_replay.timeout > interval '1 hour' THEN
        RAISE EXCEPTION 'timeout must be between 0 and 1 hour, not %', wait_for_replay.timeout
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A primary (or a promoted standby) has everything it wrote.
    IF NOT pg_is_in_recovery() THEN
        RETURN true;
    END IF;
    deadline := clock_timestamp() + wait_for_replay.timeout;
    LOOP
        IF pg_last_wal_replay_lsn() >= wait_for_replay.lsn THEN
            RETURN true;
        END IF;
        IF clock_timestamp() >= deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.001);
    END LOOP;
END
$$;
COMMENT ON FUNCTION wait_for_replay(pg_lsn, interval) IS
    'On a hot standby, waits until it has replayed the primary''s WAL up to lsn (at most timeout, 5 s by default) and returns whether it has; on a primary, true at once. A storefront reading from a replica LISTENs on the primary, notes pg_current_wal_lsn() there, and reads atp_snapshot() from the replica once this returns true. Storefront level.';
