-- WAL bytes per reservation, exact (the SKU's row) against from an escrow part (docs/design.md §12):
-- one session, notifications off, 2,000 reservations each in their own transaction, after a
-- warm-up and a checkpoint. Run on a scratch cluster with the extension installed:
--   scripts/cluster.sh start test; eval "$(scripts/cluster.sh env test)"; psql -X -q -d postgres -f bench/escrow_wal.sql
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP DATABASE IF EXISTS walbench;
CREATE DATABASE walbench;
\c walbench
SET client_min_messages = warning;
CREATE EXTENSION inventory_truth;
SET inventory_truth.notify_mode = off;
SELECT inventory_truth.add_location('DC1') \gset
SELECT inventory_truth.add_channel('web') \gset
INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
SELECT s, 'DC1', NULL, 'available', 1000000 FROM unnest(ARRAY['PLAIN', 'ESCROW']) s;
SELECT inventory_truth.set_escrow('ESCROW', 4) \gset
CHECKPOINT;
\set ECHO none
-- warm up both (first-time plans, catalog caches)
SELECT format('SELECT inventory_truth.reserve(''web'', %L, 1, %L)', s, 'warm-' || s || g) FROM unnest(ARRAY['PLAIN','ESCROW']) s, generate_series(1, 200) g \gexec
CHECKPOINT;
SELECT pg_current_wal_insert_lsn() AS a \gset
SELECT format('SELECT inventory_truth.reserve(''web'', ''PLAIN'', 1, %L)', 'p' || g) FROM generate_series(1, 2000) g \gexec
SELECT pg_current_wal_insert_lsn() AS b \gset
CHECKPOINT;
SELECT pg_current_wal_insert_lsn() AS c \gset
SELECT format('SELECT inventory_truth.reserve(''web'', ''ESCROW'', 1, %L)', 'e' || g) FROM generate_series(1, 2000) g \gexec
SELECT pg_current_wal_insert_lsn() AS d \gset
\set ECHO all
SELECT round(pg_wal_lsn_diff(:'b', :'a') / 2000.0) AS wal_bytes_per_exact_reservation,
       round(pg_wal_lsn_diff(:'d', :'c') / 2000.0) AS wal_bytes_per_part_reservation;
SELECT sum(sold) AS sold_from_parts FROM inventory_truth.escrow WHERE sku = 'ESCROW';
SELECT count(*) AS verify_problems FROM inventory_truth.verify();
