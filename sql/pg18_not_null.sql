-- PostgreSQL 18 and later only (Makefile): NOT NULL as the server's own constraint, NOT VALID then
-- VALIDATE, in jobs, in the hook and in safe_column_plan; virtual generated columns are catalog only.
SELECT sc_job_ids_from(1400);
SET client_min_messages = warning;
CREATE TABLE orders (id int PRIMARY KEY, note text, note2 text);
INSERT INTO orders SELECT g, 'n' || g, 'm' || g FROM generate_series(1, 3000) g;
SELECT pg_relation_filenode('orders') AS fn \gset

-- A NOT NULL job ends with a validated NOT NULL constraint (contype 'n'), named as PostgreSQL names
-- the NOT NULL of a column added with it; no helper CHECK is left, no rewrite.
SELECT safe_add_column('orders', 'code', 'text', backfill_expr => '''c'' || id', not_null => true) AS j \gset
SELECT safe_column_wait(:j, '120s');
SELECT state, phase, error FROM safe_column_jobs WHERE job_id = :j;
SELECT conname, contype, convalidated FROM pg_constraint
 WHERE conrelid = 'orders'::regclass AND contype IN ('n', 'c') ORDER BY conname;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'code';
SELECT count(*) FILTER (WHERE code = 'c' || id) AS exact, pg_relation_filenode('orders') = :fn AS no_rewrite FROM orders;
SELECT code, message FROM sc_catch($$INSERT INTO orders (id, note) VALUES (9001, 'x')$$);

-- The hook, with every table counted as big.
SET safe_column.guard_min_size = 0;
-- ADD CONSTRAINT ... NOT NULL ... NOT VALID changes the catalog only: it runs.
ALTER TABLE orders ADD CONSTRAINT orders_note_nn NOT NULL note NOT VALID;
SELECT convalidated FROM pg_constraint WHERE conrelid = 'orders'::regclass AND conname = 'orders_note_nn';
-- SET NOT NULL would validate it with a scan under ACCESS EXCLUSIVE: refused, with the safe way.
SELECT code, message, hint FROM sc_catch('ALTER TABLE orders ALTER COLUMN note SET NOT NULL');
-- The same written as a validated constraint.
SELECT code, message, hint FROM sc_catch('ALTER TABLE orders ADD CONSTRAINT orders_note2_nn NOT NULL note2');
-- VALIDATE CONSTRAINT runs (SHARE UPDATE EXCLUSIVE); after it, SET NOT NULL has nothing to do and runs.
ALTER TABLE orders VALIDATE CONSTRAINT orders_note_nn;
ALTER TABLE orders ALTER COLUMN note SET NOT NULL;
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype = 'n' AND conname LIKE 'orders_note%';
SELECT step, approach, sql, lock_mode, scans FROM safe_column_plan('ALTER TABLE orders ALTER COLUMN note2 SET NOT NULL');

-- A virtual generated column (the default kind from 18) is computed when read: catalog only, it runs.
SELECT approach, lock_mode, rewrites, scans, note FROM safe_column_plan('ALTER TABLE orders ADD COLUMN twice int GENERATED ALWAYS AS (id * 2)') WHERE step = 1;
ALTER TABLE orders ADD COLUMN twice int GENERATED ALWAYS AS (id * 2);
SELECT sum(twice) = 2 * sum(id) AS computed, pg_relation_filenode('orders') = :fn AS no_rewrite FROM orders;
-- A stored one is written into every row: refused.
SELECT code, message FROM sc_catch('ALTER TABLE orders ADD COLUMN thrice int GENERATED ALWAYS AS (id * 3) STORED');
RESET safe_column.guard_min_size;
DROP TABLE orders;
