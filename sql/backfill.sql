-- The backfill engine, as SQL sees it: staged additions completed by the background worker.
-- Asynchronous work is awaited with safe_column_wait (it polls the job with a deadline). Its progress
-- NOTICEs carry rates and estimates that vary from run to run: not shown here (see test/t).
SELECT sc_job_ids_from(400);
SET client_min_messages = warning;
CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL, balance numeric NOT NULL DEFAULT 0);
INSERT INTO accounts SELECT g, 'User' || g || '@Example.COM', g FROM generate_series(1, 5000) g;
SELECT pg_relation_filenode('accounts') AS fn \gset

-- A volatile default, NOT NULL: no rewrite (filenode, event trigger), every row filled, NOT NULL set
-- at the end without a helper constraint left behind.
SELECT safe_add_column('accounts', 'token', 'uuid', 'gen_random_uuid()', not_null => true) AS j_token \gset
SELECT safe_column_wait(:j_token, '120s');
SELECT pg_relation_filenode('accounts') = :fn AS no_rewrite;
SELECT count(*) AS rows, count(token) AS filled, count(DISTINCT token) AS distinct_tokens FROM accounts;
SELECT attnotnull, pg_get_expr(adbin, adrelid) AS default
  FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE attrelid = 'accounts'::regclass AND attname = 'token';
SELECT count(*) AS helper_constraints FROM pg_constraint WHERE conrelid = 'accounts'::regclass AND contype = 'c';
SELECT state, phase, rows_done + sweep_rows AS filled, batches > 0 AS batched, wal_bytes > 0 AS wal, error,
       finished_at >= started_at AS timed FROM safe_column_jobs WHERE job_id = :j_token;
SELECT state, percent, rows_done FROM safe_column_progress WHERE job_id = :j_token;
-- New rows get the default; NOT NULL is enforced.
INSERT INTO accounts (id, email) VALUES (9001, 'new@example.com');
SELECT token IS NOT NULL AS new_row_has_token FROM accounts WHERE id = 9001;
SELECT code, message FROM sc_catch($$INSERT INTO accounts (id, email, token) VALUES (9002, 'x', NULL)$$);

-- A backfill expression over the row's columns, for existing rows only; nullable; exact results.
SELECT safe_add_column('accounts', 'email_lower', 'text', backfill_expr => 'lower(email)') AS j_lower \gset
SELECT safe_column_wait(:j_lower, '120s');
SELECT count(*) FILTER (WHERE email_lower = lower(email)) AS exact, count(*) AS rows FROM accounts;
-- The expression runs as resolved at creation, schema-qualified where needed.
CREATE SCHEMA helpers;
CREATE FUNCTION helpers.tier(numeric) RETURNS text LANGUAGE sql IMMUTABLE AS
$$SELECT CASE WHEN $1 >= 2500 THEN 'gold' ELSE 'basic' END$$;
SET search_path = helpers, public;
SELECT safe_add_column('accounts', 'tier', 'text', $$'basic'$$, true, backfill_expr => 'tier(balance)') AS j_tier \gset
RESET search_path;
SELECT safe_column_wait(:j_tier, '120s');
SELECT tier, count(*) FROM accounts GROUP BY tier ORDER BY tier;
SELECT fill_expr FROM safe_column_job_store WHERE job_id = :j_tier;
-- nextval(): distinct values for every existing row, and new rows continue the sequence. Waited for
-- with the procedure, which holds no snapshot between polls.
CREATE SEQUENCE account_no_seq;
SELECT safe_add_column('accounts', 'account_no', 'bigint', $$nextval('account_no_seq')$$, true) AS j_no \gset
CALL safe_column_watch(:j_no, '120s');
SELECT count(DISTINCT account_no) = count(*) AS distinct_numbers, min(account_no) >= 1 AS positive FROM accounts;

-- backfill_expr must be one plain expression over the row: nothing runs otherwise.
SELECT e, r.*
  FROM unnest(ARRAY['lower(email)); DROP TABLE accounts; --',
                    'lower(email) FROM accounts',
                    'lower(email), upper(email)',
                    '(SELECT 1)',
                    'count(*)',
                    'generate_series(1, 2)',
                    'no_such_column',
                    'email',
                    'ctid',
                    '']) AS e,
       LATERAL sc_catch(format('SELECT safe_add_column(%L, %L, %L, backfill_expr => %L)', 'accounts', 'bad',
                               'int4', e)) AS r;
SELECT count(*) AS bad_columns FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'bad';

-- An expression that fails on one row: the job fails, naming the row; fix the cause, resume.
CREATE FUNCTION ratio(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 1000 / ($1 - 4000)';
SELECT safe_add_column('accounts', 'ratio', 'int', backfill_expr => 'ratio(id)') AS j_ratio \gset
SELECT code, message ~ '^safe_column job \d+ failed: division by zero \(row \(\d+,\d+\) of accounts\)$' AS names_row,
       hint = format('Fix the cause, then call safe_column_resume(%s).', :j_ratio) AS hint_says_resume
  FROM sc_catch(format('SELECT safe_column_wait(%s, %L)', :j_ratio, '120s'));
SELECT code, message ~ '^safe_column job \d+ failed: division by zero \(row \(\d+,\d+\) of accounts\)$' AS names_row
  FROM sc_catch(format('CALL safe_column_watch(%s)', :j_ratio));  -- the same error from the procedure
SELECT state, error ~ 'division by zero' AS error_recorded FROM safe_column_jobs WHERE job_id = :j_ratio;
UPDATE accounts SET ratio = 0 WHERE id = 4000;
SELECT safe_column_resume(:j_ratio);
SELECT safe_column_wait(:j_ratio, '120s');
SELECT count(*) FILTER (WHERE ratio IS NULL) AS unfilled, count(*) FILTER (WHERE id <> 4000 AND ratio = 1000 / (id - 4000)) AS exact
  FROM accounts;

-- Pause, resume, cancel. A job created and paused in one transaction never starts.
BEGIN;
SELECT safe_add_column('accounts', 'paused_col', 'int', backfill_expr => 'id * 2') AS j_pause \gset
SELECT safe_column_pause(:j_pause);
COMMIT;
SELECT safe_column_wait(:j_pause, '2s') AS state_after_wait;
SELECT count(paused_col) AS filled_while_paused FROM accounts;
SELECT safe_column_pause(:j_pause);
SELECT safe_column_resume(:j_pause);
SELECT safe_column_wait(:j_pause, '120s');
SELECT count(*) FILTER (WHERE paused_col = id * 2) AS exact FROM accounts;
SELECT * FROM sc_catch(format('SELECT safe_column_pause(%s)', :j_pause));
SELECT * FROM sc_catch(format('SELECT safe_column_cancel(%s)', :j_pause));
-- Cancel with drop_column: the column goes, the job is cancelled, nothing is left behind.
BEGIN;
SELECT safe_add_column('accounts', 'doomed', 'int', 'random()::int', not_null => true) AS j_doomed \gset
SELECT safe_column_pause(:j_doomed);
COMMIT;
SELECT safe_column_cancel(:j_doomed, drop_column => true);
SELECT state, finished_at IS NOT NULL AS finished FROM safe_column_jobs WHERE job_id = :j_doomed;
SELECT count(*) AS doomed_columns FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'doomed'
   AND NOT attisdropped;
SELECT * FROM sc_catch(format('SELECT safe_column_resume(%s)', :j_doomed));
SELECT safe_column_cancel(:j_doomed);
-- Unknown jobs, NULL arguments.
SELECT * FROM sc_catch('SELECT safe_column_pause(999999)');
SELECT * FROM sc_catch('SELECT safe_column_pause(NULL)');
SELECT * FROM sc_catch(format('SELECT safe_column_cancel(%s, NULL)', :j_pause));
SELECT * FROM sc_catch('SELECT safe_column_wait(NULL)');
SELECT * FROM sc_catch(format('SELECT safe_column_wait(%s, %L)', :j_pause, '-1s'));
SELECT * FROM sc_catch('CALL safe_column_watch(NULL)');
SELECT * FROM sc_catch('CALL safe_column_watch(999999)');


-- Waiting where it cannot work: in the creating transaction, in REPEATABLE READ.
BEGIN;
SELECT safe_add_column('accounts', 'same_txn', 'int', backfill_expr => 'id') AS j_same \gset
SELECT * FROM sc_catch(format('SELECT safe_column_wait(%s)', :j_same));
ROLLBACK;
SELECT count(*) AS rolled_back_jobs FROM safe_column_jobs WHERE column_name = 'same_txn';
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM sc_catch(format('SELECT safe_column_wait(%s)', :j_pause));
ROLLBACK;

-- Only the creator, the table's owner or a superuser controls a job.
CREATE ROLE regress_sc_other;
SET ROLE regress_sc_other;
SELECT * FROM sc_catch(format('SELECT safe_column_pause(%s)', :j_pause));
SELECT * FROM sc_catch(format('SELECT safe_column_cancel(%s)', :j_pause));
RESET ROLE;
DROP ROLE regress_sc_other;

-- A partitioned table is filled partition by partition; an inheritance parent and its children too.
CREATE TABLE measurements (id int, at date, v float8) PARTITION BY RANGE (at);
CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO measurements SELECT g, date '2025-01-01' + (g % 700), g FROM generate_series(1, 3000) g;
SELECT safe_add_column('measurements', 'v2', 'float8', backfill_expr => 'v * 2', not_null => true) AS j_m \gset
SELECT count(*) AS parts FROM safe_column_job_part WHERE job_id = :j_m;
SELECT safe_column_wait(:j_m, '120s');
SELECT tableoid::regclass, count(*), bool_and(v2 = v * 2) AS exact FROM measurements GROUP BY 1 ORDER BY 1;
SELECT attrelid::regclass, attnotnull FROM pg_attribute WHERE attname = 'v2' AND attrelid::regclass::text LIKE 'measurements%' ORDER BY 1;

-- Indexes (including one on the new column), TOAST, dropped columns, inheritance children, unlogged.
CREATE TABLE docs (id int PRIMARY KEY, title text, body text, gone int, tag text);
CREATE INDEX docs_title ON docs (title);
ALTER TABLE docs DROP COLUMN gone;
INSERT INTO docs SELECT g, 'title ' || g, (SELECT string_agg(md5(g::text || i), '') FROM generate_series(1, 200) i),
       'tag' || (g % 10) FROM generate_series(1, 400) g;  -- bodies of 6400 hex digits: stored out of line
SELECT safe_add_column('docs', 'digest', 'text', backfill_expr => 'md5(body) || repeat(''x'', 4000)') AS j_docs \gset
CREATE INDEX docs_digest ON docs (left(digest, 32));
SELECT safe_column_wait(:j_docs, '120s');
SELECT count(*) FILTER (WHERE digest = md5(body) || repeat('x', 4000)) AS exact, count(*) AS rows FROM docs;
SELECT pg_relation_size(reltoastrelid) > 0 AS toasted FROM pg_class WHERE oid = 'docs'::regclass;
SELECT count(*) AS via_index FROM docs WHERE left(digest, 32) = (SELECT md5(body) FROM docs WHERE id = 7);
CREATE TABLE animals (id int, name text);
CREATE TABLE dogs (breed text) INHERITS (animals);
CREATE UNLOGGED TABLE cats () INHERITS (animals);
INSERT INTO animals SELECT g, 'animal' || g FROM generate_series(1, 100) g;
INSERT INTO dogs SELECT g, 'dog' || g, 'breed' FROM generate_series(101, 300) g;
INSERT INTO cats SELECT g, 'cat' || g FROM generate_series(301, 450) g;
SELECT safe_add_column('animals', 'upper_name', 'text', backfill_expr => 'upper(name)', not_null => true) AS j_an \gset
SELECT count(*) AS parts FROM safe_column_job_part WHERE job_id = :j_an;
SELECT safe_column_wait(:j_an, '120s');
SELECT tableoid::regclass, count(*), bool_and(upper_name = upper(name)) AS exact FROM animals GROUP BY 1 ORDER BY 1;

-- Every job is history.
SELECT column_name, state, error IS NULL AS no_error FROM safe_column_jobs
 WHERE table_name IN ('accounts', 'measurements', 'docs', 'animals') ORDER BY job_id;

-- Per-job overrides of the pacing and throttling settings.
BEGIN;
SELECT safe_add_column('accounts', 'tuned', 'int', backfill_expr => 'id * 3') AS j_tuned \gset
SELECT safe_column_pause(:j_tuned);
COMMIT;
SELECT safe_column_set(:j_tuned, 'batch_target', '20ms');
SELECT safe_column_set(:j_tuned, 'safe_column.max_replica_lag', '16MB');
SELECT safe_column_set(:j_tuned, 'yield_to_lock_waiters', 'off');
SELECT safe_column_set(:j_tuned, 'max_replica_lag', NULL);
SELECT settings FROM safe_column_jobs WHERE job_id = :j_tuned;
-- (17 and later print the unit beside the bounds of a range: "(1 ms .. 10000 ms)"; compared without it.)
SELECT n, v, r.code, regexp_replace(r.message, '\((-?\d+) ?\w* \.\. (\d+) ?\w*\)$', '(\1 .. \2)') AS message
  FROM (VALUES ('no_such_setting', '1'), ('lock_timeout', '1s'), ('batch_target', 'soon'),
               ('batch_target', '-5'), ('batch_sleep_ratio', '1000'), ('yield_to_lock_waiters', 'maybe'),
               ('max_replica_lag', '1 parsec')) AS t(n, v),
       LATERAL sc_catch(format('SELECT safe_column_set(%s, %L, %L)', :j_tuned, n, v)) AS r;
SELECT * FROM sc_catch('SELECT safe_column_set(NULL, ''batch_target'', ''1s'')');
SELECT * FROM sc_catch(format('SELECT safe_column_set(%s, NULL, %L)', :j_tuned, '1s'));
SELECT * FROM sc_catch(format('SELECT safe_column_set(%s, %L, %L)', :j_token, 'batch_target', '1s'));
SELECT safe_column_resume(:j_tuned);
SELECT safe_column_wait(:j_tuned, '120s');
SELECT count(*) FILTER (WHERE tuned = id * 3) AS exact FROM accounts;

-- rows_total, the estimate shown as "of N rows", is for the pages the table has: one never vacuumed nor
-- analyzed counts as 10 pages for the planner, which made 20 rows on one page show as thousands.
CREATE TABLE tiny AS SELECT g FROM generate_series(1, 20) g;
SELECT safe_add_column('tiny', 'x', 'int', backfill_expr => 'g') AS j_tiny \gset
SELECT rows_total BETWEEN 1 AND 291 AS one_page_of_rows FROM safe_column_jobs WHERE job_id = :j_tiny;
SELECT safe_column_wait(:j_tiny, '120s');
SELECT count(*) FILTER (WHERE x = g) AS exact FROM tiny;
DROP TABLE tiny;
