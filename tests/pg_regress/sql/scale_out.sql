-- What Citus needs to distribute the extension's tables by SKU (docs/scale-out.md): every
-- table that grows with the SKUs has the SKU in its primary key and in every unique index.
-- Read from the catalog, so that a new table or index is judged too. ringfence is a reference
-- table (its rules for every SKU, sku NULL, apply on every shard) and sku is keyed by the code.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
RESET client_min_messages;

-- The tables that grow with the SKUs: those with a sku column.
SELECT c.relname AS table_by_sku
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'sku' AND NOT a.attisdropped
 WHERE c.relnamespace = 'inventory_truth'::regnamespace AND c.relkind = 'r' AND c.relname <> 'ringfence'
 ORDER BY 1;

-- Their primary keys and unique indexes without the SKU: none. The tables numbered by a
-- sequence (the ledger, expected receipts, count tasks, short picks) are keyed (id, sku).
SELECT c.relname AS table_by_sku, i.relname AS key_without_sku,
       CASE WHEN x.indisprimary THEN 'primary key' ELSE 'unique' END AS kind
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'sku' AND NOT a.attisdropped
  JOIN pg_index x ON x.indrelid = c.oid AND x.indisunique
  JOIN pg_class i ON i.oid = x.indexrelid
 WHERE c.relnamespace = 'inventory_truth'::regnamespace AND c.relkind = 'r' AND c.relname <> 'ringfence'
   AND NOT a.attnum = ANY (x.indkey::int2[])
 ORDER BY 1, 2;

-- sku itself is keyed by its code, the distribution column of the rest.
SELECT i.relname AS sku_key, pg_get_indexdef(i.oid) AS definition
  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
 WHERE x.indrelid = 'inventory_truth.sku'::regclass AND x.indisunique;
