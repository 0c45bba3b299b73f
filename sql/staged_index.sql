-- CREATE INDEX in stage mode (0.4): the statement returns at once and a job (kind create_index) builds
-- the index CONCURRENTLY in the worker after commit, even inside a transaction block. The index is
-- what the plain statement makes (pg_get_indexdef compared on a twin table).
SELECT sc_job_ids_from(1200);
CREATE FUNCTION si_defs(tbl regclass) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT regexp_replace(regexp_replace(pg_get_indexdef(indexrelid), ' INDEX \S+ ON \S+', ' INDEX ON t'), '_twin', '', 'g')
      FROM pg_index WHERE indrelid = tbl AND NOT indisprimary ORDER BY 1
$$;
CREATE SCHEMA si_s;
CREATE FUNCTION si_s.half(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 / 2';
CREATE TABLE si_t (id int PRIMARY KEY, email text, n int);
INSERT INTO si_t SELECT g, 'user' || g || '@example.com', g % 100 FROM generate_series(1, 3000) g;
CREATE TABLE si_twin AS SELECT * FROM si_t;
ALTER TABLE si_twin ADD PRIMARY KEY (id);
SET safe_column.guard_min_size = 0;

SET safe_column.mode = stage;
CREATE INDEX si_email ON si_t (lower(email)) INCLUDE (n) WHERE n > 10;
SELECT job_id AS j_email FROM safe_column_jobs WHERE table_name = 'si_t' \gset
SELECT kind, column_name, column_type, staged_constraints FROM safe_column_jobs WHERE job_id = :j_email;
CREATE UNIQUE INDEX si_id_n ON si_t USING btree (id, n DESC NULLS LAST) WITH (fillfactor = 70) TABLESPACE pg_default;
SELECT max(job_id) AS j_id_n FROM safe_column_jobs \gset
-- In a transaction block (CONCURRENTLY itself cannot run there): the job starts at commit.
BEGIN;
CREATE INDEX si_n ON si_t (n);
SELECT state FROM safe_column_jobs WHERE job_id = (SELECT max(job_id) FROM safe_column_jobs);
COMMIT;
SELECT max(job_id) AS j_n FROM safe_column_jobs \gset
-- The creator's search_path resolves the statement's names, as it would have as sent.
SET search_path = si_s, public;
CREATE INDEX si_half ON si_t (half(n));
RESET search_path;
SELECT max(job_id) AS j_half FROM safe_column_jobs \gset
SET client_min_messages = warning;
CALL safe_column_watch(:j_email, '120s');
CALL safe_column_watch(:j_id_n, '120s');
CALL safe_column_watch(:j_n, '120s');
CALL safe_column_watch(:j_half, '120s');
SET client_min_messages = notice;
SELECT count(*) FILTER (WHERE state = 'complete') AS complete, count(*) AS jobs FROM safe_column_jobs WHERE table_name = 'si_t';

SET safe_column.mode = off;
CREATE INDEX si_twin_email ON si_twin (lower(email)) INCLUDE (n) WHERE n > 10;
CREATE UNIQUE INDEX si_twin_id_n ON si_twin USING btree (id, n DESC NULLS LAST) WITH (fillfactor = 70) TABLESPACE pg_default;
CREATE INDEX si_twin_n ON si_twin (n);
CREATE INDEX si_twin_half ON si_twin (si_s.half(n));
SELECT d AS staged, d IN (SELECT si_defs('si_twin')) AS same_as_plain FROM si_defs('si_t') d;
SELECT bool_and(indisvalid) AS all_valid, count(*) AS indexes FROM pg_index WHERE indrelid = 'si_t'::regclass;

-- safe_column_plan says what stage mode does with it.
SET safe_column.mode = stage;
SELECT note FROM safe_column_plan('CREATE INDEX si_plan ON si_t (email)') WHERE approach = 'verdict';
-- Without a name, or on a partitioned table: refused, with the statement to run and why.
SELECT code, message, hint FROM sc_catch('CREATE INDEX ON si_t (email)');
-- The name is taken: PostgreSQL's error; with IF NOT EXISTS its NOTICE; no job either way.
SELECT count(*) AS jobs_before FROM safe_column_jobs \gset
CREATE INDEX si_n ON si_t (email);
CREATE INDEX IF NOT EXISTS si_n ON si_t (email);
SELECT count(*) = :jobs_before AS no_new_job FROM safe_column_jobs;
-- Duplicates: the job fails with the server's error naming the value; no index is left behind.
CREATE UNIQUE INDEX si_dup ON si_t ((least(id, 3)));
SELECT max(job_id) AS j_dup FROM safe_column_jobs \gset
SET client_min_messages = warning;
CALL safe_column_watch(:j_dup, '120s');
SET client_min_messages = notice;
SELECT state, phase, error FROM safe_column_jobs WHERE job_id = :j_dup;
SELECT count(*) AS si_dup_left FROM pg_class WHERE relname = 'si_dup';
-- A small table (below guard_min_size): as sent, its lock taken queue-safely.
RESET safe_column.guard_min_size;
CREATE INDEX si_small ON si_t (email);
SELECT count(*) = :jobs_before + 1 AS only_the_failed_job, to_regclass('si_small') IS NOT NULL AS built_as_sent
  FROM safe_column_jobs;
RESET safe_column.mode;
DROP TABLE si_t, si_twin;
DROP FUNCTION si_defs(regclass);
DROP SCHEMA si_s CASCADE;
