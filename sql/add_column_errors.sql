-- safe_add_column: every bad input is a clean ERROR with the right SQLSTATE, and nothing changes.
SELECT sc_job_ids_from(200);
CREATE TABLE target (id int PRIMARY KEY, email text);
INSERT INTO target VALUES (1, 'a'), (2, 'b');
SELECT count(*) AS jobs_before FROM safe_column_jobs \gset

-- NULL arguments that must not be NULL.
SELECT safe_add_column(NULL, 'c', 'int');
SELECT safe_add_column('target', NULL, 'int');
SELECT safe_add_column('target', 'c', NULL);
SELECT safe_add_column('target', 'c', 'int', NULL, NULL);
-- Empty names and blank expressions.
SELECT safe_add_column('target', '', 'int');
SELECT safe_add_column('target', 'c', 'int', '');
SELECT safe_add_column('target', 'c', 'int', NULL, false, '   ');

-- Relations that are not tables, partitions, catalogs, missing relations.
CREATE VIEW target_v AS SELECT * FROM target;
CREATE MATERIALIZED VIEW target_mv AS SELECT * FROM target;
CREATE SEQUENCE target_seq;
CREATE TYPE target_comp AS (a int);
CREATE FOREIGN DATA WRAPPER sc_dummy_fdw;
CREATE SERVER sc_dummy_server FOREIGN DATA WRAPPER sc_dummy_fdw;
CREATE FOREIGN TABLE target_ft (a int) SERVER sc_dummy_server;
CREATE TABLE target_parted (id int) PARTITION BY LIST (id);
CREATE TABLE target_part1 PARTITION OF target_parted FOR VALUES IN (1);
SELECT rel, r.*
  FROM unnest(ARRAY['target_v', 'target_mv', 'target_pkey', 'target_seq', 'target_comp', 'target_ft',
                    'target_part1', 'pg_class', 'pg_catalog.pg_attribute', 'information_schema.sql_parts'])
       AS rel,
       LATERAL sc_catch(format('SELECT safe_add_column(%L, %L, %L)', rel, 'c', 'int')) AS r;
SELECT safe_add_column('no_such_table', 'c', 'int');
SELECT (sc_catch(format('SELECT safe_add_column(%s, %L, %L)', c.reltoastrelid, 'c', 'int'))).code AS toast
  FROM pg_class c WHERE c.oid = 'target'::regclass;
SELECT * FROM sc_catch('SELECT safe_add_column(999999, ''c'', ''int'')');

-- Types: unknown, not a single type name, pseudo-types.
SELECT t, r.*
  FROM unnest(ARRAY['no_such_type', 'int; DROP TABLE target', 'int, email int', 'int DEFAULT 5',
                    'record', 'anyelement', 'void', '']) AS t,
       LATERAL sc_catch(format('SELECT safe_add_column(%L, %L, %L)', 'target', 'c', t)) AS r;
-- A serial type takes its values from its own sequence: no default_expr, no backfill_expr (and nothing
-- is left behind: no sequence, no column).
SELECT * FROM sc_catch('SELECT safe_add_column(''target'', ''c'', ''bigserial'', default_expr => ''1'')');
SELECT * FROM sc_catch('SELECT safe_add_column(''target'', ''c'', ''serial'', backfill_expr => ''id'')');
SELECT to_regclass('target_c_seq') IS NULL AS no_sequence,
       NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'target'::regclass AND attname = 'c') AS no_column;

-- COLLATE: on a type without collations, an unknown collation, none named, or more after it.
SELECT t, r.*
  FROM unnest(ARRAY['int COLLATE "C"', 'text COLLATE "no_such"', 'text COLLATE', 'text COLLATE "C" DEFAULT 1',
                    'text COLLATE "C"; DROP TABLE target']) AS t,
       LATERAL sc_catch(format('SELECT safe_add_column(%L, %L, %L)', 'target', 'c', t)) AS r;

-- Defaults that are not exactly one expression never run anything.
SELECT e, r.*
  FROM unnest(ARRAY['1); DROP TABLE target; --',
                    '1) NOT NULL --',
                    '1) CHECK (false) --',
                    '1) REFERENCES target --',
                    '1) UNIQUE --',
                    '1) COLLATE "C" --',
                    '1), ADD COLUMN evil int --',
                    '1), DROP COLUMN email --',
                    '1 --',
                    '1 /*',
                    '(SELECT 1)',
                    'id + 1',
                    'count(*)',
                    'generate_series(1, 3)',
                    'sum(1) OVER ()',
                    '(SELECT max(id) FROM target)']) AS e,
       LATERAL sc_catch(format('SELECT safe_add_column(%L, %L, %L, %L)', 'target', 'c', 'int', e)) AS r;
-- Defaults that do not fit the type.
SELECT e, r.*
  FROM unnest(ARRAY[$$'abc'$$, 'now()', $$'{1,2}'::int[]$$, '1/0', '99999999999']) AS e,
       LATERAL sc_catch(format('SELECT safe_add_column(%L, %L, %L, %L)', 'target', 'c', 'int', e)) AS r;
-- A domain with constraints always rewrites: refused with advice.
CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
SELECT * FROM sc_catch($$SELECT safe_add_column('target', 'c', 'positive_int', '1')$$);
CREATE DOMAIN plain_text AS text;
SELECT safe_add_column('target', 'plain', 'plain_text', $$'ok'$$) > 0 AS domain_without_constraints_ok;
-- NOT NULL without anything to fill existing rows with.
SELECT * FROM sc_catch($$SELECT safe_add_column('target', 'c', 'int', not_null => true)$$);

-- A caller who does not own the table.
CREATE ROLE regress_sc_stranger;
GRANT ALL ON target TO regress_sc_stranger;
SET ROLE regress_sc_stranger;
SELECT * FROM sc_catch($$SELECT safe_add_column('target', 'c', 'int')$$);
RESET ROLE;

-- A very long column name is truncated like every identifier, with the name type's rules.
SELECT safe_add_column('target', repeat('x', 100), 'int') > 0 AS ok;
SELECT length(attname) FROM pg_attribute WHERE attrelid = 'target'::regclass AND attname LIKE 'xxx%';

-- Nothing changed but the two successful calls: the table, its columns, the job count.
SELECT array_agg(attname ORDER BY attnum) AS columns FROM pg_attribute
 WHERE attrelid = 'target'::regclass AND attnum > 0 AND NOT attisdropped;
SELECT count(*) - :jobs_before AS new_jobs FROM safe_column_jobs;
SELECT count(*) AS target_rows FROM target;

DROP OWNED BY regress_sc_stranger;
DROP ROLE regress_sc_stranger;
