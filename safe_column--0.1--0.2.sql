/* safe_column--0.1--0.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION safe_column UPDATE TO '0.2'" to load this file. \quit

-- 0.2: the two objects that named the extension's schema as text now find their objects by OID, so that
-- a role owning that schema cannot rename it and put objects of its own under the old name (their
-- comments and privileges are kept by CREATE OR REPLACE). Everything else of 0.2 is in the library.

-- The progress line of safe_column_wait's and safe_column_watch's NOTICEs. A body in SQL-standard form
-- (BEGIN ATOMIC) is parsed here, once: it refers to the view by OID, whatever is given the view's name
-- later (a role that owns this schema could rename it and make a schema of its own under the old name).
CREATE OR REPLACE FUNCTION safe_column_progress_line(job bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
SELECT pg_catalog.format('safe_column job %s: %s, phase %s, %s%%, %s of %s rows, %s rows/s, ETA %s%s',
                         p.job_id, p.state, p.phase, p.percent, p.rows_done, coalesce(p.rows_total::text, '?'),
                         coalesce(p.rows_per_sec::text, '?'),
                         coalesce(pg_catalog.round(extract(epoch FROM p.eta))::text || ' s', '?'),
                         CASE WHEN p.throttled THEN ', waiting: ' || coalesce(p.throttle_reason, '?') ELSE '' END)
  FROM @extschema@.safe_column_progress p WHERE p.job_id OPERATOR(pg_catalog.=) safe_column_progress_line.job;
END;

-- safe_column_wait as a procedure that commits between its polls, so that it holds no snapshot while
-- it waits: VACUUM (the worker's own included) can reclaim the backfill's dead row versions meanwhile.
-- CALL it outside a transaction block. PL/pgSQL resolves names when it runs: the extension's schema is
-- found by OID (pg_extension.extnamespace) at every poll, never by the name it had at install time.
-- (No SET search_path: a procedure with one cannot COMMIT. Every name is qualified, every operator has
-- operands of exactly a pg_catalog operator's types.)
CREATE OR REPLACE PROCEDURE safe_column_watch(job bigint, timeout interval DEFAULT NULL, INOUT state text DEFAULT NULL)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    started timestamptz := pg_catalog.clock_timestamp();
    last_notice timestamptz;
    err text;
    ext text;
    line text;
BEGIN
    IF job IS NULL THEN
        RAISE EXCEPTION 'job must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF timeout < interval '0' THEN
        RAISE EXCEPTION 'timeout must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    LOOP
        SELECT pg_catalog.quote_ident(n.nspname) INTO ext
          FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'safe_column'::pg_catalog.name;
        IF ext IS NULL THEN
            RAISE EXCEPTION 'extension "safe_column" is not installed in database "%"', pg_catalog.current_database()
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        EXECUTE pg_catalog.format('SELECT j.state, j.error, %s.safe_column_progress_line(j.job_id)'
                                  '  FROM %s.safe_column_jobs j WHERE j.job_id = $1', ext, ext)
           INTO state, err, line USING job;
        IF state IS NULL THEN
            RAISE EXCEPTION 'safe_column job % does not exist', job USING ERRCODE = 'undefined_object';
        END IF;
        EXIT WHEN state NOT IN ('queued', 'backfilling', 'validating');
        IF last_notice IS NULL OR pg_catalog.clock_timestamp() - last_notice >= interval '5 s' THEN
            RAISE NOTICE '%', line;
            last_notice := pg_catalog.clock_timestamp();
        END IF;
        IF timeout IS NOT NULL AND pg_catalog.clock_timestamp() - started >= timeout THEN
            RAISE NOTICE 'safe_column job % is still % after the timeout', job, state;
            EXIT;
        END IF;
        COMMIT;
        PERFORM pg_catalog.pg_sleep(0.2);
    END LOOP;
    IF state = 'failed' THEN
        RAISE EXCEPTION 'safe_column job % failed: %', job, err
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('Fix the cause, then call safe_column_resume(%s).', job);
    END IF;
END
$$;
