-- Real-time delivery (docs/design.md §6), as far as one session can see it: the settings, the SKU
-- version that every ATP change advances, and what was published at each commit. (The
-- notifications themselves, the relay and the resync protocol are tested with real listeners
-- in client/tests/notify.rs.)
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
RESET client_min_messages;
SET search_path = inventory_truth, public;
\set SHOW_CONTEXT never

-- The settings and their defaults. This cluster does not preload the library, so auto = direct.
SHOW inventory_truth.notify_mode;
SHOW inventory_truth.notify_channel;
SHOW inventory_truth.relay_wake_interval;
SHOW inventory_truth.relay_batch_size;
SHOW inventory_truth.relay_coalesce;
SELECT _notify_mode() AS mode_in_force;
-- notify_status() says the same to any storefront: no relay here, the committing transaction
-- sends (with notifications off for a session, nobody does).
SELECT * FROM notify_status();
SET inventory_truth.notify_mode = off;
SELECT setting, mode FROM notify_status();
RESET inventory_truth.notify_mode;
-- A storefront reading from a replica waits there for the primary's position; on a primary
-- (this cluster) everything it wrote is there at once.
SELECT wait_for_replay(pg_current_wal_lsn()) AS replayed;
-- Only a superuser may change the mode or the channel: a role that could turn notifications
-- off would blind every storefront.
CREATE ROLE it_notify_clerk;
SET ROLE it_notify_clerk;
SET inventory_truth.notify_mode = off;
RESET ROLE;
DROP ROLE it_notify_clerk;

SELECT add_location('DC1');
SELECT add_channel('web', 10, 1), add_channel('amazon', 20);
SELECT count(*) FROM receive('SOCK', 'DC1', 10);
-- Units in receiving are not available: the version stays at 0, nothing is published.
SELECT code, version, change_cause FROM sku WHERE code = 'SOCK';
SELECT count(*) AS published FROM atp_published WHERE sku = 'SOCK';
-- Put away: web may sell 10 - 1 (its buffer), amazon 10. Version 1, published at commit.
SELECT count(*) FROM put_away('SOCK', 'DC1', 10);
SELECT code, version, change_cause FROM sku WHERE code = 'SOCK';
SELECT sku, version, atp FROM atp_published WHERE sku = 'SOCK';
-- The snapshot a storefront reads after LISTEN carries the same version.
SELECT * FROM atp_snapshot() WHERE sku = 'SOCK';

-- A transaction of several changes advances the version once and publishes once, with the
-- final values, and a rolled-back one publishes nothing.
BEGIN;
SELECT reserve('web', 'SOCK', 2, 'o1') > 0 AS held;
SELECT reserve('amazon', 'SOCK', 3, 'o2') > 0 AS held;
COMMIT;
SELECT sku, version, atp FROM atp_published WHERE sku = 'SOCK';
BEGIN;
SELECT reserve('web', 'SOCK', 1, 'o3') > 0 AS held;
ROLLBACK;
SELECT code, version FROM sku WHERE code = 'SOCK';
SELECT sku, version, atp FROM atp_published WHERE sku = 'SOCK';

-- Rule changes advance the version too: a fence moves amazon's share out of web's reach.
SELECT set_ringfence('amazon', 'SOCK', units => 2);
SELECT code, version, change_cause FROM sku WHERE code = 'SOCK';
SELECT sku, version, atp FROM atp_published WHERE sku = 'SOCK';
SELECT set_buffer('web', 'SOCK', 0);
SELECT sku, version, atp FROM atp_published WHERE sku = 'SOCK';

-- With notifications off (a superuser's choice), versions still advance but nothing is
-- handed over for publishing; the relay finds the SKU by its version (at its start, or when it
-- fell behind), and publishes it.
SET inventory_truth.notify_mode = off;
SELECT release('web', 'o1');
SELECT code, version FROM sku WHERE code = 'SOCK';
SELECT sku, version, atp FROM atp_published WHERE sku = 'SOCK';
SELECT * FROM _relay_stale() AS skus_to_republish;
RESET inventory_truth.notify_mode;
SELECT _publish(ARRAY(SELECT _relay_stale())) AS notifications;
SELECT sku, version, atp FROM atp_published WHERE sku = 'SOCK';
SELECT count(*) AS still_stale FROM _relay_stale();

-- A channel name NOTIFY cannot take (over 63 bytes) must not fail the buyer's commit: the
-- default channel is used, with a WARNING.
SET inventory_truth.notify_channel = 'a_channel_name_that_is_far_too_long_for_notify_to_take_as_its_own';
SELECT reserve('web', 'SOCK', 1, 'o4') > 0 AS held;
RESET inventory_truth.notify_channel;
SELECT sku, version, atp FROM atp_published WHERE sku = 'SOCK';
