-- Every object of the extension carries a description, so that \df+, \d+ and \dT+ explain it
-- (COMMENT ON next to each definition, or in sql/comments.sql). The query lists the objects
-- without one: functions, tables, views, sequences, types, and every column and attribute.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
RESET client_min_messages;

-- Every object that belongs to the extension inventory_truth and has no description.
-- Returns no rows when everything is commented.
WITH member AS (
    SELECT d.classid, d.objid
      FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
     WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
       AND e.extname = 'inventory_truth'
       AND d.deptype = 'e'
       -- PostgreSQL 18 also records the types a table or a type brings with it (its row type,
       -- array types) as members: implicit, they have no description of their own.
       AND NOT (d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
                AND EXISTS (SELECT FROM pg_catalog.pg_type t
                              LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
                             WHERE t.oid = d.objid
                               AND (c.relkind IS DISTINCT FROM 'c' AND t.typrelid <> 0
                                    OR EXISTS (SELECT FROM pg_catalog.pg_type e WHERE e.typarray = t.oid))))
), relation AS (
    -- Tables, views, materialized views, sequences, and the relations behind composite types
    -- (a composite type is a member through its pg_type row).
    SELECT c.oid, c.relkind
      FROM member m JOIN pg_catalog.pg_class c ON c.oid = m.objid
     WHERE m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
    UNION
    SELECT c.oid, c.relkind
      FROM member m
      JOIN pg_catalog.pg_type t ON t.oid = m.objid
      JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
     WHERE m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
       AND t.typtype = 'c'
)
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END AS kind,
       p.oid::pg_catalog.regprocedure::text AS object
  FROM member m JOIN pg_catalog.pg_proc p ON p.oid = m.objid
 WHERE m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
   AND pg_catalog.obj_description(p.oid, 'pg_proc') IS NULL
UNION ALL
SELECT CASE r.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                      WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
                      WHEN 'f' THEN 'foreign table' END,
       r.oid::pg_catalog.regclass::text
  FROM relation r
 WHERE r.relkind <> 'c'
   AND pg_catalog.obj_description(r.oid, 'pg_class') IS NULL
UNION ALL
SELECT CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'c' THEN 'composite type' WHEN 'd' THEN 'domain'
                      WHEN 'r' THEN 'range type' WHEN 'm' THEN 'multirange type' ELSE 'base type' END,
       t.oid::pg_catalog.regtype::text
  FROM member m JOIN pg_catalog.pg_type t ON t.oid = m.objid
 WHERE m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
   AND pg_catalog.obj_description(t.oid, 'pg_type') IS NULL
UNION ALL
SELECT CASE r.relkind WHEN 'c' THEN 'attribute' ELSE 'column' END,
       r.oid::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(a.attname)
  FROM relation r
  JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE r.relkind <> 'S'
   AND pg_catalog.col_description(r.oid, a.attnum) IS NULL
ORDER BY 1, 2;

-- Internal helpers say what they do, not only the generic text privileges.sql gives any helper
-- left without a description.
SELECT p.oid::regprocedure AS helper_without_its_own_description
  FROM pg_depend d
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'inventory_truth'
  JOIN pg_proc p ON p.oid = d.objid
 WHERE d.refclassid = 'pg_extension'::regclass AND d.classid = 'pg_proc'::regclass
   AND d.deptype = 'e' AND p.proname LIKE '\_%'
   AND obj_description(p.oid, 'pg_proc') LIKE 'Internal to inventory_truth%'
 ORDER BY 1;

-- How many objects that is (types made on their own: not a table's row type or an array type).
SELECT count(*) FILTER (WHERE d.classid = 'pg_proc'::regclass) AS functions,
       count(*) FILTER (WHERE d.classid = 'pg_class'::regclass) AS relations,
       count(*) FILTER (WHERE d.classid = 'pg_type'::regclass
                          AND NOT EXISTS (SELECT FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
                                           WHERE t.oid = d.objid
                                             AND (c.relkind IS DISTINCT FROM 'c' AND t.typrelid <> 0
                                                  OR EXISTS (SELECT FROM pg_type a WHERE a.typarray = t.oid)))) AS types
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'inventory_truth'
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e';
