-- The ProcessUtility hook: safe_column.mode and safe_column.guard_min_size, and safe_column_plan().
-- Sizes and durations in messages depend on the storage layout: masked as N and T here.
SELECT sc_job_ids_from(500);
SET client_min_messages = notice;
CREATE FUNCTION sc_mask(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT regexp_replace(regexp_replace(t, '\d+ (bytes|kB|MB|GB)', 'N \1', 'g'),
                          'about \d+ (s|min|h)|under a second', 'T', 'g')
$$;
CREATE FUNCTION sc_try(stmt text, OUT code text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE sql AS $$
    SELECT c.code, c.message, sc_mask(c.detail), c.hint FROM sc_catch(stmt) c
$$;
-- Columns of a table, to show that a refused statement changed nothing.
CREATE FUNCTION sc_columns(t regclass) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(attname || CASE WHEN attnotnull THEN '!' ELSE '' END, ',' ORDER BY attnum)
      FROM pg_attribute WHERE attrelid = t AND attnum > 0 AND NOT attisdropped
$$;

SHOW safe_column.mode;
SHOW safe_column.guard_min_size;

CREATE TABLE members (id bigint PRIMARY KEY, email text, name text, org_id int) WITH (autovacuum_enabled = off);
INSERT INTO members SELECT g, 'user' || g || '@example.com', 'name ' || g, g % 10 FROM generate_series(1, 2000) g;
CREATE TABLE orgs (id int PRIMARY KEY);
INSERT INTO orgs SELECT g FROM generate_series(0, 9) g;
SELECT pg_relation_filenode('members') AS fn \gset

-- guard (the default) refuses heavy forms on tables of guard_min_size or more; 0 makes every table count.
SET safe_column.guard_min_size = 0;
\x on
SELECT * FROM sc_try('ALTER TABLE members ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()');
SELECT * FROM sc_try('ALTER TABLE members ADD COLUMN seen timestamptz DEFAULT clock_timestamp()');
SELECT * FROM sc_try('ALTER TABLE members ADD COLUMN n bigserial');
SELECT * FROM sc_try('ALTER TABLE members ADD COLUMN n2 int GENERATED ALWAYS AS IDENTITY');
SELECT * FROM sc_try('ALTER TABLE members ADD COLUMN e2 text GENERATED ALWAYS AS (lower(email)) STORED');
CREATE DOMAIN hook_positive AS int CHECK (VALUE > 0);
SELECT * FROM sc_try('ALTER TABLE members ADD COLUMN p hook_positive');
SELECT * FROM sc_try('ALTER TABLE members ADD COLUMN code text NOT NULL');
SELECT * FROM sc_try('ALTER TABLE members ADD COLUMN c int CHECK (c > 0 AND c <> '')''::int)');
SELECT * FROM sc_try('ALTER TABLE members ADD COLUMN u int CONSTRAINT members_u_unique UNIQUE');
SELECT * FROM sc_try('ALTER TABLE members ADD COLUMN u3 int UNIQUE DEFERRABLE INITIALLY DEFERRED');
SELECT * FROM sc_try('ALTER TABLE members ADD COLUMN o int DEFAULT 1 REFERENCES orgs (id) ON DELETE CASCADE');
SELECT * FROM sc_try('ALTER TABLE members ALTER COLUMN email SET NOT NULL');
SELECT * FROM sc_try('ALTER TABLE members ADD CONSTRAINT id_positive CHECK (id > 0)');
SELECT * FROM sc_try('ALTER TABLE members ADD FOREIGN KEY (org_id) REFERENCES orgs');
SELECT * FROM sc_try('ALTER TABLE members ADD CONSTRAINT email_unique UNIQUE (email)');
CREATE TABLE keyless (k text) WITH (autovacuum_enabled = off);
INSERT INTO keyless SELECT 'k' || g FROM generate_series(1, 100) g;
SELECT * FROM sc_try('ALTER TABLE keyless ADD PRIMARY KEY (k)');
-- several subcommands: the strictest decides
SELECT * FROM sc_try('ALTER TABLE members ADD COLUMN a text, ADD COLUMN b uuid DEFAULT gen_random_uuid()');
\x off
-- Nothing was applied, nothing rewritten.
SELECT sc_columns('members') AS columns, pg_relation_filenode('members') = :fn AS same_file,
       (SELECT count(*) FROM pg_constraint WHERE conrelid = 'members'::regclass AND contype <> 'n') AS constraints;  -- (18: NOT NULL rows)

-- Catalog-only forms run (their lock taken queue-safely).
ALTER TABLE members ADD COLUMN status text;
ALTER TABLE members ADD COLUMN plan text NOT NULL DEFAULT 'free';
ALTER TABLE members ADD COLUMN created timestamptz DEFAULT now();
ALTER TABLE members ADD COLUMN IF NOT EXISTS status text;
ALTER TABLE members ADD CONSTRAINT id_positive CHECK (id > 0) NOT VALID;
ALTER TABLE members VALIDATE CONSTRAINT id_positive;
ALTER TABLE members ADD CONSTRAINT org_fk FOREIGN KEY (org_id) REFERENCES orgs NOT VALID;
CREATE UNIQUE INDEX CONCURRENTLY members_email_idx ON members (email);
ALTER TABLE members ADD CONSTRAINT members_email_key UNIQUE USING INDEX members_email_idx;
-- SET NOT NULL after a valid CHECK (col IS NOT NULL) needs no scan: not refused.
ALTER TABLE members ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;
ALTER TABLE members VALIDATE CONSTRAINT email_nn;
ALTER TABLE members ALTER COLUMN email SET NOT NULL;
ALTER TABLE members ALTER COLUMN email SET NOT NULL;
ALTER TABLE members DROP CONSTRAINT email_nn;
SELECT sc_columns('members') AS columns, pg_relation_filenode('members') = :fn AS same_file;
-- Statements PostgreSQL itself rejects keep PostgreSQL's own errors.
SELECT code, message FROM sc_try('ALTER TABLE members ADD COLUMN status text');
SELECT code, message FROM sc_try('ALTER TABLE members ADD COLUMN x no_such_type');
SELECT code, message FROM sc_try('ALTER TABLE no_such_table ADD COLUMN x int');
ALTER TABLE IF EXISTS no_such_table ADD COLUMN x int;
SELECT code, message FROM sc_try('ALTER TABLE members ALTER COLUMN no_such_column SET NOT NULL');
-- A table no other session can see keeps nobody waiting: temporary, or created in this transaction.
ALTER EVENT TRIGGER sc_forbid_rewrite DISABLE;
CREATE TEMP TABLE scratch AS SELECT g AS id FROM generate_series(1, 100) g;
ALTER TABLE scratch ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();
BEGIN;
CREATE TABLE fresh AS SELECT g AS id FROM generate_series(1, 100) g;
ALTER TABLE fresh ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid(), ADD PRIMARY KEY (id);
COMMIT;
SELECT (SELECT count(token) FROM scratch) AS temp_filled, (SELECT count(token) FROM fresh) AS fresh_filled;
SELECT code, message FROM sc_try('ALTER TABLE fresh ADD COLUMN t2 uuid DEFAULT gen_random_uuid()');
ALTER EVENT TRIGGER sc_forbid_rewrite ENABLE;
-- Inside a DO block and a function: the same decision.
SELECT code, message FROM sc_try($q$DO $$ BEGIN ALTER TABLE members ADD COLUMN t2 uuid DEFAULT gen_random_uuid(); END $$$q$);
CREATE FUNCTION add_t3() RETURNS void LANGUAGE plpgsql AS $$
BEGIN ALTER TABLE members ADD COLUMN t3 uuid DEFAULT gen_random_uuid(); END $$;
SELECT code, message FROM sc_try('SELECT add_t3()');
-- A role that does not own the table gets PostgreSQL's own error, before any lock is taken.
CREATE ROLE hook_stranger;
SET ROLE hook_stranger;
SELECT code, message FROM sc_try('ALTER TABLE members ADD COLUMN s2 uuid DEFAULT gen_random_uuid()');
RESET ROLE;
DROP ROLE hook_stranger;

-- ALTER COLUMN TYPE: refused when PostgreSQL would convert every stored value (decided by its own
-- test on the planned conversion), run when the values stay as they are (sc_forbid_rewrite would
-- stop a rewrite). The hint's first step is a real safe_add_column call: it fills the new column.
CREATE TABLE amounts (id int PRIMARY KEY, amount int, label varchar(10), price numeric, seen timestamp);
INSERT INTO amounts SELECT g, g, 'l' || g, g / 3.0, '2026-01-01'::timestamp + g * interval '1 hour'
  FROM generate_series(1, 500) g;
SELECT pg_relation_filenode('amounts') AS afn \gset
\x on
SELECT * FROM sc_try('ALTER TABLE amounts ALTER COLUMN amount TYPE bigint');
SELECT * FROM sc_try('ALTER TABLE amounts ALTER COLUMN price SET DATA TYPE numeric(10,2) USING round(price, 2)');
\x off
SELECT code, message FROM sc_try('ALTER TABLE amounts ALTER COLUMN label TYPE varchar(5)');
SELECT code, message FROM sc_try('ALTER TABLE amounts ALTER COLUMN seen TYPE timestamptz');  -- not UTC: converts
SELECT code, message FROM sc_try('ALTER TABLE amounts ALTER COLUMN amount TYPE text, ALTER COLUMN label TYPE text');
ALTER TABLE amounts ALTER COLUMN label TYPE varchar(20);
ALTER TABLE amounts ALTER COLUMN label TYPE text;
ALTER TABLE amounts ALTER COLUMN amount TYPE int USING amount;
SET timezone = 'UTC';
ALTER TABLE amounts ALTER COLUMN seen TYPE timestamptz;
RESET timezone;
SELECT pg_relation_filenode('amounts') = :afn AS same_file, format_type(atttypid, atttypmod) AS label_type
  FROM pg_attribute WHERE attrelid = 'amounts'::regclass AND attname = 'label';
-- The hint's safe_add_column call (a taken name gets a number), then the worker's result.
ALTER TABLE amounts ADD COLUMN amount_new text;
SELECT substring(hint from 'SELECT safe_add_column\([^)]*\)') AS first_step
  FROM sc_try('ALTER TABLE amounts ALTER COLUMN amount TYPE bigint');
SELECT safe_add_column('public.amounts', 'amount_new1', 'bigint', backfill_expr => 'amount::bigint') AS aj \gset
SET client_min_messages = warning;
SELECT safe_column_wait(:aj, '120s');
SET client_min_messages = notice;
SELECT count(*) FILTER (WHERE amount_new1 = amount) AS converted, count(*) AS all_rows FROM amounts;
-- Statements PostgreSQL itself rejects keep its own errors.
SELECT code, message FROM sc_try('ALTER TABLE amounts ALTER COLUMN no_such TYPE int');
SELECT code, message FROM sc_try('ALTER TABLE amounts ALTER COLUMN amount TYPE no_such_type');
SELECT code, message FROM sc_try('ALTER TABLE amounts ALTER COLUMN seen TYPE int');
SELECT code, message FROM sc_try('ALTER TABLE amounts ALTER COLUMN amount TYPE int USING no_such + 1');
SELECT code, message FROM sc_try('ALTER TABLE amounts ALTER COLUMN ctid TYPE int');
CREATE TABLE measures (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE measures_1 PARTITION OF measures FOR VALUES FROM (0) TO (1000);
INSERT INTO measures SELECT g, g FROM generate_series(0, 999) g;
SELECT code, message FROM sc_try('ALTER TABLE measures_1 ALTER COLUMN v TYPE bigint');
SELECT code, message FROM sc_try('ALTER TABLE ONLY measures ALTER COLUMN v TYPE bigint');
SELECT code, message FROM sc_try('ALTER TABLE measures ALTER COLUMN v TYPE bigint');
SELECT step, approach, sql, lock_mode, rewrites, sc_mask(note) AS note
  FROM safe_column_plan('ALTER TABLE measures ALTER COLUMN v TYPE bigint');
DROP TABLE amounts, measures;

-- Other rewrites and index builds under ACCESS EXCLUSIVE: SET TABLESPACE to another tablespace, SET
-- LOGGED / UNLOGGED that changes the table, ADD CONSTRAINT ... EXCLUDE. The forms that change nothing
-- run; PostgreSQL's own errors are kept.
CREATE TABLE bookings (id int, during int4range);
INSERT INTO bookings SELECT g, int4range(g * 10, g * 10 + 5) FROM generate_series(1, 500) g;
SET allow_in_place_tablespaces = true;
CREATE TABLESPACE hook_space LOCATION '';
RESET allow_in_place_tablespaces;
\x on
SELECT * FROM sc_try('ALTER TABLE bookings SET TABLESPACE hook_space');
SELECT * FROM sc_try('ALTER TABLE bookings SET UNLOGGED');
SELECT * FROM sc_try('ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&)');
\x off
SELECT code, message FROM sc_try('ALTER TABLE bookings ADD EXCLUDE USING gist (during WITH &&)');
ALTER TABLE bookings SET TABLESPACE pg_default;
ALTER TABLE bookings SET LOGGED;
SELECT code, message FROM sc_try('ALTER TABLE bookings SET TABLESPACE no_such_space');
SELECT code, message FROM sc_try('ALTER TABLE bookings ADD EXCLUDE USING gist (no_such WITH &&)');
SELECT relpersistence, reltablespace = 0 AS default_space,
       (SELECT count(*) FROM pg_constraint WHERE conrelid = 'bookings'::regclass AND contype <> 'n') AS constraints
  FROM pg_class WHERE oid = 'bookings'::regclass;
-- As sent (mode off), SET UNLOGGED does rewrite: sc_forbid_rewrite stops it.
SET safe_column.mode = off;
SELECT code, message FROM sc_try('ALTER TABLE bookings SET UNLOGGED');
ALTER EVENT TRIGGER sc_forbid_rewrite DISABLE;
ALTER TABLE bookings SET UNLOGGED;
ALTER EVENT TRIGGER sc_forbid_rewrite ENABLE;
RESET safe_column.mode;
-- Unlogged now: SET UNLOGGED changes nothing and runs, SET LOGGED is refused.
ALTER TABLE bookings SET UNLOGGED;
SELECT code, message FROM sc_try('ALTER TABLE bookings SET LOGGED');
DROP TABLE bookings;
DROP TABLESPACE hook_space;

-- Below guard_min_size a heavy form runs as sent: a small table's rewrite is short.
CREATE TABLE tiny (id int);
INSERT INTO tiny VALUES (1), (2);
RESET safe_column.guard_min_size;
ALTER EVENT TRIGGER sc_forbid_rewrite DISABLE;
SELECT pg_relation_filenode('tiny') AS tfn \gset
ALTER TABLE tiny ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();
SELECT pg_relation_filenode('tiny') <> :tfn AS rewritten, count(token) AS filled FROM tiny;

-- off: nothing; warn: a WARNING with the safe way, then the statement as sent.
SET safe_column.guard_min_size = 0;
SET safe_column.mode = off;
ALTER TABLE tiny ADD COLUMN t_off uuid DEFAULT gen_random_uuid();
SET safe_column.mode = warn;
ALTER TABLE tiny ADD COLUMN t_warn uuid DEFAULT gen_random_uuid();
ALTER TABLE tiny ADD COLUMN quiet text;
ALTER TABLE tiny ALTER COLUMN id TYPE bigint USING id * 10;
SELECT count(t_off) AS off_filled, count(t_warn) AS warn_filled, sum(id) AS id_sum FROM tiny;
ALTER EVENT TRIGGER sc_forbid_rewrite ENABLE;
SET safe_column.mode = nonsense;
-- (17 and later print the unit beside the bounds of the range; compared without it.)
SELECT code, regexp_replace(message, '\((\d+) ?\w* \.\. (\d+) ?\w*\)$', '(\1 .. \2)') AS message
  FROM sc_catch('SET safe_column.guard_min_size = -1');

-- stage: the same plain statement becomes a safe_add_column job.
SET safe_column.mode = stage;
SELECT pg_relation_filenode('members') AS fn \gset
SET client_min_messages = warning;
ALTER TABLE members ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();
SET client_min_messages = notice;
SELECT job_id AS j_token FROM safe_column_jobs WHERE column_name = 'token' AND table_name = 'members' \gset
SET client_min_messages = warning;
SELECT safe_column_wait(:j_token, '120s');
SET client_min_messages = notice;
SELECT pg_relation_filenode('members') = :fn AS no_rewrite, count(*) AS rows, count(DISTINCT token) AS filled,
       (SELECT attnotnull FROM pg_attribute WHERE attrelid = 'members'::regclass AND attname = 'token') AS not_null
  FROM members;
-- In a transaction block the job starts after commit; a rollback leaves nothing.
BEGIN;
ALTER TABLE members ADD COLUMN rolled uuid DEFAULT gen_random_uuid();
ROLLBACK;
SELECT count(*) AS jobs_for_rolled FROM safe_column_jobs WHERE column_name = 'rolled';
SET client_min_messages = warning;
BEGIN;
ALTER TABLE members ADD COLUMN seen timestamptz DEFAULT clock_timestamp(), ADD COLUMN note text;
SELECT column_name, state FROM safe_column_jobs WHERE column_name IN ('seen', 'note') AND table_name = 'members' ORDER BY 1;
COMMIT;
SELECT safe_column_wait(job_id, '120s') FROM safe_column_jobs WHERE column_name = 'seen' AND table_name = 'members';
SET client_min_messages = notice;
SELECT count(seen) AS seen_filled, count(*) AS rows FROM members;
-- IF NOT EXISTS of a staged column: skipped, no second job.
ALTER TABLE members ADD COLUMN IF NOT EXISTS token uuid DEFAULT gen_random_uuid();
SELECT count(*) AS token_jobs FROM safe_column_jobs WHERE column_name = 'token' AND table_name = 'members';
-- A serial column: its sequence, the column (numbered by the worker from it, then NOT NULL), the
-- sequence owned by the column. Without a rewrite, and the same catalog as the plain statement's (on
-- an empty table, mode off).
SELECT pg_relation_filenode('members') AS fn \gset
SET client_min_messages = warning;
ALTER TABLE members ADD COLUMN n bigserial;
SELECT safe_column_wait(job_id, '120s') FROM safe_column_jobs WHERE column_name = 'n' AND table_name = 'members';
SET client_min_messages = notice;
CREATE TABLE serial_plain (id int);
SET safe_column.mode = off;
ALTER EVENT TRIGGER sc_forbid_rewrite DISABLE;
ALTER TABLE serial_plain ADD COLUMN n bigserial;
ALTER EVENT TRIGGER sc_forbid_rewrite ENABLE;
SET safe_column.mode = stage;
SELECT c.relname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
       replace(pg_get_expr(d.adbin, d.adrelid), c.relname, 'T') AS default_expr,
       replace(pg_get_serial_sequence(c.relname, 'n'), c.relname, 'T') AS seq,
       format_type(q.seqtypid, NULL) AS seq_type, q.seqmax, s.relowner = c.relowner AS seq_owner_is_table_owner
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'n'
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
  JOIN pg_class s ON s.oid = pg_get_serial_sequence(c.relname, 'n')::regclass
  JOIN pg_sequence q ON q.seqrelid = s.oid
 WHERE c.relname IN ('members', 'serial_plain') ORDER BY c.relname;
SELECT pg_relation_filenode('members') = :fn AS no_rewrite, count(*) AS rows, count(DISTINCT n) = count(*) AS numbered,
       max(n) <= (SELECT last_value FROM members_n_seq) AS sequence_past_the_values
  FROM members;
DROP TABLE serial_plain;
-- The sequence goes with the column.
ALTER TABLE members DROP COLUMN n;
SELECT to_regclass('members_n_seq') IS NULL AS sequence_dropped_with_the_column;
-- What safe_add_column cannot do all of is refused, with the reason for stage mode in the hint.
SELECT code, hint FROM sc_try('ALTER TABLE members ADD COLUMN u2 uuid DEFAULT gen_random_uuid() UNIQUE WITH (fillfactor = 90)');
-- A partitioned table: staged over its partitions.
CREATE TABLE hook_events (id int, region text) PARTITION BY LIST (region);
CREATE TABLE hook_events_eu PARTITION OF hook_events FOR VALUES IN ('eu');
CREATE TABLE hook_events_us PARTITION OF hook_events FOR VALUES IN ('us');
INSERT INTO hook_events SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 500) g;
SET client_min_messages = warning;
ALTER TABLE hook_events ADD COLUMN uid uuid DEFAULT gen_random_uuid();
SELECT safe_column_wait(job_id, '120s') FROM safe_column_jobs WHERE column_name = 'uid' AND table_name = 'hook_events';
SET client_min_messages = notice;
SELECT count(uid) AS filled, count(*) AS rows FROM hook_events;
-- Inheritance: the parent and its child, each filled.
CREATE TABLE hook_parent (id int);
CREATE TABLE hook_child () INHERITS (hook_parent);
INSERT INTO hook_parent SELECT generate_series(1, 300);
INSERT INTO hook_child SELECT generate_series(301, 500);
SET client_min_messages = warning;
ALTER TABLE hook_parent ADD COLUMN uid uuid NOT NULL DEFAULT gen_random_uuid();
SELECT safe_column_wait(job_id, '120s') FROM safe_column_jobs WHERE column_name = 'uid' AND table_name = 'hook_parent';
SET client_min_messages = notice;
SELECT (SELECT count(uid) FROM ONLY hook_parent) AS parent_filled, (SELECT count(uid) FROM hook_child) AS child_filled,
       (SELECT bool_and(attnotnull) FROM pg_attribute WHERE attname = 'uid' AND attrelid IN ('hook_parent'::regclass, 'hook_child'::regclass)) AS not_null;
-- ONLY on a partitioned table: PostgreSQL's own error.
SELECT code, message FROM sc_try('ALTER TABLE ONLY hook_events ADD COLUMN x uuid DEFAULT gen_random_uuid()');
RESET safe_column.mode;
-- Whether a table has rows is decided from its own heaps, never by reading through a foreign
-- partition (a remote query; here a wrapper without a handler, which fails if read): the statement
-- runs as PostgreSQL runs it, in guard as in off.
CREATE FOREIGN DATA WRAPPER hook_dummy;
CREATE SERVER hook_nowhere FOREIGN DATA WRAPPER hook_dummy;
CREATE TABLE hook_mixed (id int, region text) PARTITION BY LIST (region);
CREATE TABLE hook_mixed_local PARTITION OF hook_mixed FOR VALUES IN ('local');
CREATE FOREIGN TABLE hook_mixed_remote PARTITION OF hook_mixed FOR VALUES IN ('remote') SERVER hook_nowhere;
ALTER TABLE hook_mixed ADD COLUMN must int NOT NULL;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'hook_mixed_remote'::regclass AND attname = 'must';
INSERT INTO hook_mixed_local VALUES (1, 'local', 1);
SELECT code, message FROM sc_try('ALTER TABLE hook_mixed ADD COLUMN must2 int NOT NULL');
DROP TABLE hook_mixed;
DROP SERVER hook_nowhere;
DROP FOREIGN DATA WRAPPER hook_dummy;
RESET safe_column.guard_min_size;

-- safe_column_plan: each step as sent and the safe way; runs nothing.
SELECT step, approach, sql, lock_mode, rewrites, scans, builds_index, table_bytes > 0 AS sized,
       estimated_duration IS NOT NULL AS estimated, sc_mask(note) AS note
  FROM safe_column_plan('ALTER TABLE members ADD COLUMN t4 uuid NOT NULL DEFAULT gen_random_uuid()');
SELECT step, approach, sql, lock_mode, scans, sc_mask(note) AS note
  FROM safe_column_plan('ALTER TABLE members ALTER COLUMN name SET NOT NULL');
SELECT step, approach, sql, lock_mode, sc_mask(note) AS note
  FROM safe_column_plan('ALTER TABLE members ADD COLUMN t5 text');
SELECT sc_columns('members') AS columns_unchanged;
SELECT code, message FROM sc_try($$SELECT * FROM safe_column_plan(NULL)$$);
SELECT code, message FROM sc_try($$SELECT * FROM safe_column_plan('ALTER TABLE members ADD COLUMN a int; ALTER TABLE members ADD COLUMN b int')$$);
SELECT code, message FROM sc_try($$SELECT * FROM safe_column_plan('SELECT 1')$$);
SELECT code, message FROM sc_try($$SELECT * FROM safe_column_plan('ALTER TABLE no_such_table ADD COLUMN a int')$$);
SELECT code, message FROM sc_try($$SELECT * FROM safe_column_plan('ALTER TABLE members ADD COLUMN a no_such_type')$$);
SELECT code, message FROM sc_try($$SELECT * FROM safe_column_plan('ALTER TABLE members ADD COLUMN')$$);
CREATE VIEW members_v AS SELECT id FROM members;
SELECT code, message FROM sc_try($$SELECT * FROM safe_column_plan('ALTER TABLE members_v ADD COLUMN a int')$$);

-- The hook chains with pg_stat_statements (preloaded before safe_column, test/regress.conf): the
-- statements the hook let through are counted there.
CREATE EXTENSION pg_stat_statements;
SELECT count(*) AS reset FROM (SELECT pg_stat_statements_reset()) AS r;  -- void before 17, a timestamp since
ALTER TABLE tiny ADD COLUMN counted text;
SELECT calls FROM pg_stat_statements WHERE query = 'ALTER TABLE tiny ADD COLUMN counted text';
DROP EXTENSION pg_stat_statements;
