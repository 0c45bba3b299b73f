-- Index statements in the ProcessUtility hook: CREATE INDEX, REINDEX and DROP INDEX without
-- CONCURRENTLY (safe_column.mode, safe_column.guard_min_size), and safe_column_plan() for them.
-- Sizes and durations in messages depend on the storage layout: masked as N and T.
SELECT sc_job_ids_from(600);
SET client_min_messages = notice;
CREATE FUNCTION ix_try(stmt text, OUT code text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE sql AS $$
    SELECT c.code, c.message,
           regexp_replace(regexp_replace(c.detail, '\d+ (bytes|kB|MB|GB)', 'N \1', 'g'),
                          'about \d+ (s|min|h)|under a second', 'T', 'g'),
           c.hint
      FROM sc_catch(stmt) c
$$;
CREATE FUNCTION ix_indexes(t regclass) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(indexrelid::regclass::text || CASE WHEN indisvalid THEN '' ELSE ' (invalid)' END,
                               ', ' ORDER BY indexrelid::regclass::text), '(none)')
      FROM pg_index WHERE indrelid = t
$$;

CREATE TABLE ix_accounts (id bigint PRIMARY KEY, email text, org int, note text) WITH (autovacuum_enabled = off);
INSERT INTO ix_accounts SELECT g, 'a' || g || '@example.com', g % 7, 'n' FROM generate_series(1, 3000) g;

-- guard (the default) on a table of guard_min_size or more (0: every table counts).
SET safe_column.guard_min_size = 0;
\x on
SELECT * FROM ix_try('CREATE INDEX accounts_org_idx ON ix_accounts (org)');
SELECT * FROM ix_try('CREATE UNIQUE INDEX accounts_email_key ON ix_accounts (email)');
-- A unique index on an expression cannot back a constraint: no USING INDEX step.
SELECT hint FROM ix_try('CREATE UNIQUE INDEX accounts_lower_email ON ix_accounts (lower(email))');
-- No name given, INCLUDE and WHERE: the statement as written, with CONCURRENTLY.
SELECT hint FROM ix_try('create index on ix_accounts (org) include (email) where org > 2');
SELECT * FROM ix_try('REINDEX TABLE ix_accounts');
SELECT hint FROM ix_try('REINDEX (VERBOSE) INDEX accounts_pkey');
\x off
SELECT ix_indexes('ix_accounts') AS indexes_after_refusals;

-- One statement of several in one query string: its own text in the hint.
SELECT 1 AS first \; CREATE INDEX accounts_note_idx ON ix_accounts (note) \; SELECT 2 AS third;

-- The CONCURRENTLY forms pass as sent.
CREATE INDEX CONCURRENTLY accounts_org_idx ON ix_accounts (org);
REINDEX (CONCURRENTLY) INDEX accounts_org_idx;
REINDEX TABLE CONCURRENTLY ix_accounts;
-- DROP INDEX takes its lock queue-safely and runs (isolation spec lock_queue shows the queue).
DROP INDEX accounts_org_idx;
SELECT ix_indexes('ix_accounts') AS indexes;

-- A partitioned table: the recipe, since CONCURRENTLY builds no index on one.
CREATE TABLE ix_events (id int, region text) PARTITION BY LIST (region);
CREATE TABLE ix_events_eu PARTITION OF ix_events FOR VALUES IN ('eu');
CREATE TABLE ix_events_us PARTITION OF ix_events FOR VALUES IN ('us');
INSERT INTO ix_events SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 1000) g;
\x on
SELECT * FROM ix_try('CREATE INDEX events_id_idx ON ix_events (id)');
\x off
-- ... whose steps run: ON ONLY the parent (catalog only), each partition concurrently, attached.
CREATE INDEX events_id_idx ON ONLY ix_events (id);
CREATE INDEX CONCURRENTLY events_eu_id_idx ON ix_events_eu (id);
CREATE INDEX CONCURRENTLY events_us_id_idx ON ix_events_us (id);
ALTER INDEX events_id_idx ATTACH PARTITION events_eu_id_idx;
ALTER INDEX events_id_idx ATTACH PARTITION events_us_id_idx;
SELECT ix_indexes('ix_events') AS parent_index;

-- Tables no other session sees, and small tables: as sent.
BEGIN;
CREATE TABLE ix_fresh (id int);
INSERT INTO ix_fresh SELECT generate_series(1, 100);
CREATE INDEX fresh_id ON ix_fresh (id);
COMMIT;
CREATE TEMP TABLE scratch AS SELECT generate_series(1, 100) AS id;
CREATE INDEX scratch_id ON scratch (id);
RESET safe_column.guard_min_size;
CREATE INDEX accounts_org_idx ON ix_accounts (org);
REINDEX INDEX accounts_org_idx;
SET safe_column.guard_min_size = 0;
SELECT ix_indexes('ix_fresh') AS ix_fresh, ix_indexes('scratch') AS scratch, ix_indexes('ix_accounts') AS ix_accounts;

-- warn: a WARNING, then the statement as sent; stage: an unnamed CREATE INDEX is guarded like guard
-- (a named one is staged: sql/staged_index.sql); off: nothing.
-- (terse: the table's size in the DETAIL, after the concurrent builds above, varies by version)
SET safe_column.mode = warn;
\set VERBOSITY terse
CREATE INDEX accounts_note_idx ON ix_accounts (note);
\set VERBOSITY default
SET safe_column.mode = stage;
SELECT code, message, hint FROM ix_try('CREATE INDEX ON ix_accounts (email)');
SET safe_column.mode = off;
CREATE INDEX accounts_email_idx ON ix_accounts (email);
SELECT ix_indexes('ix_accounts') AS ix_accounts;
RESET safe_column.mode;

-- A role that does not own the table gets PostgreSQL's own error.
CREATE ROLE ix_stranger;
GRANT SELECT ON ix_accounts TO ix_stranger;
SET ROLE ix_stranger;
SELECT code, message FROM ix_try('CREATE INDEX stranger_idx ON ix_accounts (org)');
RESET ROLE;
DROP OWNED BY ix_stranger;
DROP ROLE ix_stranger;

-- safe_column_plan explains index statements the same way.
SELECT step, approach, sql, lock_mode, builds_index, note FROM safe_column_plan('CREATE UNIQUE INDEX accounts_id2 ON ix_accounts (id, org)');
SELECT step, approach, sql, lock_mode, note FROM safe_column_plan('DROP INDEX accounts_email_idx');
SELECT step, approach, sql, lock_mode, note FROM safe_column_plan('REINDEX TABLE ix_accounts');
SELECT step, approach, note FROM safe_column_plan('CREATE INDEX ON ix_events (region)');
SELECT code, message, hint FROM ix_try($$SELECT * FROM safe_column_plan('REINDEX SCHEMA public')$$);
SELECT code, message FROM ix_try($$SELECT * FROM safe_column_plan('CREATE INDEX ON nowhere (x)')$$);
SELECT code, message, hint FROM ix_try($$SELECT * FROM safe_column_plan('VACUUM ix_accounts')$$);
RESET safe_column.guard_min_size;
DROP TABLE ix_accounts, ix_events, ix_fresh;
