-- A column's own UNIQUE and PRIMARY KEY, staged (0.4): the column, its fill, then the unique index built
-- CONCURRENTLY by the worker (phase build_index) and attached as the constraint (attach_index). Through
-- stage mode and safe_add_column; the catalog compared with the plain statement's on a twin table.
-- The jobs are waited for with CALL safe_column_watch: safe_column_wait's snapshot would hold a
-- concurrent index build (t/031 shows its error). sc_forbid_rewrite (hook.sql) fails any statement
-- that rewrites a table.
SELECT sc_job_ids_from(1000);
CREATE FUNCTION uq_catalog(tbl regclass, col name) RETURNS TABLE (indexdef text, contype "char",
    condeferrable boolean, condeferred boolean, convalidated boolean, indisvalid boolean, attnotnull boolean)
LANGUAGE sql AS $$
    SELECT regexp_replace(pg_get_indexdef(i.indexrelid), '^CREATE (UNIQUE )?INDEX \S+ ON \S+', 'CREATE \1INDEX ON t'),
           c.contype, c.condeferrable, c.condeferred, c.convalidated, i.indisvalid, a.attnotnull
      FROM pg_index i
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attname = col
      LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
     WHERE i.indrelid = tbl AND i.indkey[0] = a.attnum
$$;
CREATE TABLE uq_t (v int);
INSERT INTO uq_t SELECT g FROM generate_series(1, 3000) g;
CREATE TABLE uq_twin (LIKE uq_t);
INSERT INTO uq_twin SELECT * FROM uq_t;
SELECT pg_relation_filenode('uq_t') AS fn \gset
SET safe_column.guard_min_size = 0;

-- Stage mode: UNIQUE with a volatile default (filled by the worker, then indexed).
SET safe_column.mode = stage;
ALTER TABLE uq_t ADD COLUMN token uuid DEFAULT gen_random_uuid() UNIQUE;
SELECT job_id AS j_token, phase FROM safe_column_jobs WHERE table_name = 'uq_t' AND column_name = 'token' \gset
SELECT staged_constraints FROM safe_column_jobs WHERE job_id = :j_token;
SET client_min_messages = warning;
CALL safe_column_watch(:j_token, '120s');
SET client_min_messages = notice;
SET safe_column.mode = off;
ALTER EVENT TRIGGER sc_forbid_rewrite DISABLE;  -- (hook.sql's: the plain statement rewrites)
ALTER TABLE uq_twin ADD COLUMN token uuid DEFAULT gen_random_uuid() UNIQUE;
ALTER EVENT TRIGGER sc_forbid_rewrite ENABLE;
SELECT (SELECT array_agg(u) FROM uq_catalog('uq_t', 'token') u) AS staged,
       (SELECT array_agg(u) FROM uq_catalog('uq_twin', 'token') u) IS NOT DISTINCT FROM
       (SELECT array_agg(u) FROM uq_catalog('uq_t', 'token') u) AS same_as_plain;
SELECT conname FROM pg_constraint WHERE conrelid = 'uq_t'::regclass ORDER BY 1;
SELECT count(*) = count(DISTINCT token) AS distinct_values, count(token) = count(*) AS filled,
       pg_relation_filenode('uq_t') = :fn AS no_rewrite
  FROM uq_t;
SELECT state, phase, error FROM safe_column_jobs WHERE job_id = :j_token;

-- A primary key of a serial column (the usual form): NOT NULL first, then the index, then the key.
SET safe_column.mode = stage;
ALTER TABLE uq_t ADD COLUMN id bigserial PRIMARY KEY;
SELECT job_id AS j_id FROM safe_column_jobs WHERE table_name = 'uq_t' AND column_name = 'id' \gset
SET client_min_messages = warning;
CALL safe_column_watch(:j_id, '120s');
SET client_min_messages = notice;
SET safe_column.mode = off;
ALTER EVENT TRIGGER sc_forbid_rewrite DISABLE;  -- (hook.sql's: the plain statement rewrites)
ALTER TABLE uq_twin ADD COLUMN id bigserial PRIMARY KEY;
ALTER EVENT TRIGGER sc_forbid_rewrite ENABLE;
SELECT (SELECT array_agg(u) FROM uq_catalog('uq_t', 'id') u) AS staged,
       (SELECT array_agg(u) FROM uq_catalog('uq_twin', 'id') u) IS NOT DISTINCT FROM
       (SELECT array_agg(u) FROM uq_catalog('uq_t', 'id') u) AS same_as_plain,
       (SELECT conname FROM pg_constraint WHERE conrelid = 'uq_t'::regclass AND contype = 'p') AS pk_name;
-- A second primary key: PostgreSQL's own error, before anything changes.
SET safe_column.mode = stage;
ALTER TABLE uq_t ADD COLUMN id2 bigint DEFAULT 1 PRIMARY KEY;
SELECT count(*) AS id2_columns FROM pg_attribute WHERE attrelid = 'uq_t'::regclass AND attname = 'id2';

-- A name written after CONSTRAINT, DEFERRABLE INITIALLY DEFERRED: as the plain statement has them.
ALTER TABLE uq_t ADD COLUMN code text DEFAULT md5(random()::text) CONSTRAINT uq_code UNIQUE DEFERRABLE INITIALLY DEFERRED;
SELECT job_id AS j_code FROM safe_column_jobs WHERE table_name = 'uq_t' AND column_name = 'code' \gset
SET client_min_messages = warning;
CALL safe_column_watch(:j_code, '120s');
SET client_min_messages = notice;
SET safe_column.mode = off;
ALTER EVENT TRIGGER sc_forbid_rewrite DISABLE;  -- (hook.sql's: the plain statement rewrites)
ALTER TABLE uq_twin ADD COLUMN code text DEFAULT md5(random()::text) CONSTRAINT uq_twin_code UNIQUE DEFERRABLE INITIALLY DEFERRED;
ALTER EVENT TRIGGER sc_forbid_rewrite ENABLE;
SELECT (SELECT array_agg(u) FROM uq_catalog('uq_t', 'code') u) AS staged,
       (SELECT array_agg(u) FROM uq_catalog('uq_twin', 'code') u) IS NOT DISTINCT FROM
       (SELECT array_agg(u) FROM uq_catalog('uq_t', 'code') u) AS same_as_plain,
       to_regclass('uq_code') IS NOT NULL AS index_named;
-- The name is taken: PostgreSQL's own error, nothing added.
SET safe_column.mode = stage;
ALTER TABLE uq_t ADD COLUMN code2 text CONSTRAINT uq_code UNIQUE;
SELECT count(*) AS code2_columns FROM pg_attribute WHERE attrelid = 'uq_t'::regclass AND attname = 'code2';

-- Duplicates: the job fails with the server's error naming the value, and leaves no index behind.
ALTER TABLE uq_t ADD COLUMN flag int NOT NULL DEFAULT 7 UNIQUE;
SELECT job_id AS j_flag FROM safe_column_jobs WHERE table_name = 'uq_t' AND column_name = 'flag' \gset
SET client_min_messages = warning;
CALL safe_column_watch(:j_flag, '120s');
SET client_min_messages = notice;
SELECT state, phase, error FROM safe_column_jobs WHERE job_id = :j_flag;
SELECT count(*) AS flag_indexes FROM uq_catalog('uq_t', 'flag');
-- NULLS NOT DISTINCT: every row NULL is a duplicate too.
ALTER TABLE uq_t ADD COLUMN nn int UNIQUE NULLS NOT DISTINCT;
SELECT job_id AS j_nn FROM safe_column_jobs WHERE table_name = 'uq_t' AND column_name = 'nn' \gset
SET client_min_messages = warning;
CALL safe_column_watch(:j_nn, '120s');
SET client_min_messages = notice;
SELECT state, phase, error FROM safe_column_jobs WHERE job_id = :j_nn;
SELECT count(*) AS nn_indexes FROM uq_catalog('uq_t', 'nn');
RESET safe_column.mode;

-- safe_add_column: unique_key and primary_key; a re-run is the same job; another ask is an error.
CREATE TABLE uq_f (v int);
INSERT INTO uq_f SELECT g FROM generate_series(1, 2000) g;
SELECT safe_add_column('uq_f', 'k', 'bigint', backfill_expr => 'v * 10', unique_key => true) AS j_k \gset
SET client_min_messages = warning;
CALL safe_column_watch(:j_k, '120s');
SET client_min_messages = notice;
SELECT * FROM uq_catalog('uq_f', 'k');
SELECT safe_add_column('uq_f', 'k', 'bigint', backfill_expr => 'v * 10', unique_key => true) = :j_k AS same_job;
SELECT safe_add_column('uq_f', 'k', 'bigint', backfill_expr => 'v * 10');
SELECT safe_add_column('uq_f', 'pk', 'bigint', backfill_expr => 'v', unique_key => true, primary_key => true);
SELECT safe_add_column('uq_f', 'pk', 'bigint', backfill_expr => 'v', unique_key => NULL);
SELECT safe_add_column('uq_f', 'pk', 'bigint', backfill_expr => 'v', primary_key => true) AS j_pk \gset
SET client_min_messages = warning;
CALL safe_column_watch(:j_pk, '120s');
SET client_min_messages = notice;
SELECT * FROM uq_catalog('uq_f', 'pk');
-- A partitioned table's index cannot be built concurrently.
CREATE TABLE uq_parted (v int) PARTITION BY RANGE (v);
CREATE TABLE uq_parted_1 PARTITION OF uq_parted FOR VALUES FROM (0) TO (100);
SELECT safe_add_column('uq_parted', 'k', 'int', unique_key => true);
SELECT count(*) AS k_columns FROM pg_attribute WHERE attrelid = 'uq_parted'::regclass AND attname = 'k';

-- safe_column_plan shows the staged steps.
SELECT step, approach, sql, lock_mode, note FROM safe_column_plan('ALTER TABLE uq_f ADD COLUMN z uuid DEFAULT gen_random_uuid() UNIQUE')
 WHERE approach <> 'as sent';
RESET safe_column.guard_min_size;
DROP TABLE uq_t, uq_twin, uq_f, uq_parted;
DROP FUNCTION uq_catalog(regclass, name);
