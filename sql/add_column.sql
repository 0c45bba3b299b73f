-- safe_add_column: the catalog-only forms, on plain, partitioned and inherited tables.
SELECT sc_job_ids_from(100);
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
INSERT INTO users SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 2000) g;
SELECT pg_relation_filenode('users') AS users_filenode \gset

-- The event trigger of setup.sql catches rewrites: prove it can fail by asking for one.
ALTER TABLE users ADD COLUMN r float8 DEFAULT random();

-- No default; non-volatile defaults (constant, stable now(), CURRENT_TIMESTAMP); NOT NULL with a default.
SELECT safe_add_column('users', 'nickname', 'text') AS job_nickname \gset
SELECT safe_add_column('users', 'status', 'text', $$'active'$$) AS job_status \gset
SELECT safe_add_column('users', 'score', 'integer', '0', not_null => true) AS job_score \gset
SELECT safe_add_column('users', 'added_at', 'timestamptz', 'now()') > 0 AS ok;
SELECT safe_add_column('users', 'seen_at', 'timestamp with time zone', 'CURRENT_TIMESTAMP') > 0 AS ok;
SELECT safe_add_column('users', 'tags', 'text[]', $$'{}'$$) > 0 AS ok;
SELECT safe_add_column('users', 'code', 'varchar(8)', $$'ab' || 'cd'$$) > 0 AS ok;
SELECT safe_add_column('users', 'ratio', 'numeric(5,2)', '1.5') > 0 AS ok;
SELECT safe_add_column('users', 'flag', 'boolean', 'true AND NOT false') > 0 AS ok;  -- an a_expr, not a b_expr

-- Existing rows read the default without a rewrite: same relfilenode, values as asked.
SELECT pg_relation_filenode('users') = :users_filenode AS no_rewrite;
SELECT count(*) AS rows, count(*) FILTER (WHERE status = 'active') AS active,
       count(*) FILTER (WHERE score = 0) AS zero, count(*) FILTER (WHERE nickname IS NULL) AS no_nick,
       count(*) FILTER (WHERE code = 'abcd') AS code, count(*) FILTER (WHERE flag) AS flag
  FROM users;
SELECT attname, format_type(atttypid, atttypmod), attnotnull, pg_get_expr(d.adbin, d.adrelid) AS default
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;

-- New rows get the default.
INSERT INTO users (id, email) VALUES (5000, 'new@example.com');
SELECT status, score, nickname, code FROM users WHERE id = 5000;

-- Each call is a job, complete at once, with its lock statistics.
SELECT job_id = :job_status AS same_id, table_name, column_name, column_type, default_expr, backfill_expr,
       not_null, state, created_by = current_user AS by_me, lock_attempts, lock_wait_ms >= 0 AS waited,
       finished_at >= started_at AS timed, error
  FROM safe_column_jobs WHERE column_name = 'status';
SELECT column_name, column_type, default_expr, not_null, state FROM safe_column_jobs ORDER BY job_id;

-- The volatility decision is the server's own, never a list of names: an innocently named VOLATILE
-- function needs a backfill; a scary-named IMMUTABLE one does not.
CREATE FUNCTION harmless_looking() RETURNS int LANGUAGE plpgsql VOLATILE AS 'BEGIN RETURN 1; END';
-- (A LANGUAGE sql function with a constant body is inlined by the planner, and then it is not volatile
-- for ALTER TABLE either: the predicate follows the server, which adds it without a rewrite.)
CREATE FUNCTION inlined_volatile() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 1';
SELECT safe_add_column('users', 'v0', 'int', 'inlined_volatile()') > 0 AS catalog_only;
CREATE FUNCTION random_but_immutable() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 4';
SELECT safe_add_column('users', 'v2', 'int', 'random_but_immutable()') > 0 AS catalog_only;
SELECT count(*) FILTER (WHERE v2 = 4) AS v2_filled FROM users;
-- Volatile defaults, nextval() and backfill expressions take the backfill path (backfill.sql tests it).
CREATE SEQUENCE users_seq;
CREATE TEMP TABLE made AS
SELECT n, expr, safe_add_column('users', 'b' || n, 'text', expr) AS job
  FROM unnest(ARRAY['harmless_looking()::text', 'gen_random_uuid()::text', 'clock_timestamp()::text',
                    'random()::text', $$nextval('users_seq')::text$$]) WITH ORDINALITY AS t(expr, n);
SET client_min_messages = warning;  -- progress NOTICEs vary from run to run
SELECT bool_and(safe_column_wait(job, '60s') = 'complete') AS all_complete FROM made;
RESET client_min_messages;
SELECT m.expr, j.state, j.rows_done + j.sweep_rows AS rows_filled, j.batches > 0 AS batched
  FROM made m JOIN safe_column_jobs j ON j.job_id = m.job ORDER BY n;
SELECT count(*) FILTER (WHERE b1 = '1' AND b2 IS NOT NULL AND b3 IS NOT NULL AND b4 IS NOT NULL
                        AND b5 IS NOT NULL) AS all_filled FROM users;
DROP TABLE made;

-- Idempotent: the same definition again returns the original job with a NOTICE ...
SELECT safe_add_column('users', 'status', 'text', $$'active'$$) = :job_status AS same_job;
SELECT safe_add_column('users', 'status', 'text', $$('active')$$) = :job_status AS same_job_reparenthesized;
SELECT safe_add_column('users', 'score', 'int4', '0', true) = :job_score AS same_job_type_alias;
-- ... a different one is duplicate_column with what differs.
SELECT * FROM sc_catch($$SELECT safe_add_column('users', 'status', 'varchar(10)', $q$'active'$q$)$$);
SELECT * FROM sc_catch($$SELECT safe_add_column('users', 'status', 'text', $q$'inactive'$q$)$$);
SELECT * FROM sc_catch($$SELECT safe_add_column('users', 'status', 'text')$$);
SELECT * FROM sc_catch($$SELECT safe_add_column('users', 'nickname', 'text', $q$'x'$q$)$$);
SELECT * FROM sc_catch($$SELECT safe_add_column('users', 'score', 'int', '0')$$);
-- A column that safe_add_column did not add is not claimed.
SELECT * FROM sc_catch($$SELECT safe_add_column('users', 'email', 'text')$$);

-- Identifiers that need quoting: spaces, upper case, reserved words, unicode, quotes; schema too.
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Order" (id int);
INSERT INTO "My Schema"."Order" VALUES (1), (2);
SELECT safe_add_column('"My Schema"."Order"', 'Select', 'text', $$'it''s'$$) > 0 AS ok;
SELECT safe_add_column('"My Schema"."Order"', 'with space', 'int') > 0 AS ok;
SELECT safe_add_column('"My Schema"."Order"', 'naïve_über', 'text', $$'日本'$$) > 0 AS ok;
SELECT safe_add_column('"My Schema"."Order"', 'say "hi"', 'bool', 'false', true) > 0 AS ok;
SELECT safe_add_column('"My Schema"."Order"', 'user', 'text') > 0 AS ok;
SELECT * FROM "My Schema"."Order" ORDER BY id;
SELECT table_name, column_name FROM safe_column_jobs WHERE table_name LIKE '%Order%' ORDER BY job_id;

-- Partitioned table: the column reaches every partition, without a rewrite of any.
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
    PARTITION BY LIST (id);
CREATE TABLE events_2026_all PARTITION OF events_2026 DEFAULT;
INSERT INTO events SELECT g, date '2025-06-01' + g FROM generate_series(1, 400) g;
SELECT pg_relation_filenode('events_2025') AS fn25, pg_relation_filenode('events_2026_all') AS fn26 \gset
SELECT safe_add_column('events', 'kind', 'text', $$'click'$$, true) > 0 AS ok;
SELECT tableoid::regclass AS part, count(*), bool_and(kind = 'click') AS all_click FROM events GROUP BY 1 ORDER BY 1;
SELECT pg_relation_filenode('events_2025') = :fn25 AND pg_relation_filenode('events_2026_all') = :fn26 AS no_rewrite;
SELECT attrelid::regclass, attnotnull FROM pg_attribute WHERE attname = 'kind' AND attrelid::regclass::text LIKE 'events%' ORDER BY 1;

-- Inheritance: children get the column too.
CREATE TABLE parent_t (id int);
CREATE TABLE child_t () INHERITS (parent_t);
INSERT INTO child_t VALUES (1);
SELECT safe_add_column('parent_t', 'note', 'text', $$'n'$$) > 0 AS ok;
SELECT note FROM child_t;

-- NOT NULL without a default works on an empty table (nothing to fill) ...
CREATE TABLE empty_t (id int);
SELECT safe_add_column('empty_t', 'must', 'int', not_null => true) > 0 AS ok;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'empty_t'::regclass AND attname = 'must';
-- ... and unlogged and temporary tables are tables too.
CREATE UNLOGGED TABLE unlogged_t (id int);
SELECT safe_add_column('unlogged_t', 'c', 'int', '7') > 0 AS ok;
CREATE TEMP TABLE temp_t (id int);
SELECT safe_add_column('temp_t', 'c', 'int', '7') > 0 AS ok;

-- The job is part of the caller's transaction: a rollback leaves neither column nor job.
SELECT count(*) AS jobs_before FROM safe_column_jobs \gset
BEGIN;
SELECT safe_add_column('users', 'rolled_back', 'text') > 0 AS ok;
ROLLBACK;
SELECT count(*) = :jobs_before AS no_job, NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'users'::regclass
       AND attname = 'rolled_back') AS no_column FROM safe_column_jobs;
-- Several columns in one transaction, committed together.
BEGIN;
SELECT safe_add_column('users', 'a1', 'int') > 0 AS ok;
SELECT safe_add_column('users', 'a2', 'int', '2') > 0 AS ok;
COMMIT;
SELECT count(*) FILTER (WHERE a2 = 2) = count(*) AS a2_filled FROM users;

-- Non-superuser table owner: can use it (the job table itself is not writable by them).
CREATE ROLE regress_sc_owner;
CREATE TABLE owned_t (id int);
ALTER TABLE owned_t OWNER TO regress_sc_owner;
GRANT USAGE ON SCHEMA public TO regress_sc_owner;
SET ROLE regress_sc_owner;
SELECT safe_add_column('owned_t', 'c', 'text', $$'x'$$) > 0 AS ok;
SELECT created_by FROM safe_column_jobs WHERE table_name = 'owned_t';
SELECT * FROM sc_catch('INSERT INTO safe_column_job_store (relid) VALUES (1)');
SELECT * FROM sc_catch('UPDATE safe_column_job_store SET state = $$failed$$');
RESET ROLE;

SELECT pg_relation_filenode('users') = :users_filenode AS still_no_rewrite;
