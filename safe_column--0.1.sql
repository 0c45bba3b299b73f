/* safe_column--0.1.sql */

-- Views and functions bind their names when this script runs, with the extension's schema on the
-- search_path: every function is pg_catalog-qualified and every operator gets operands of exactly the
-- types of a pg_catalog operator, so that nothing planted in that schema beforehand can be chosen
-- instead (pg_catalog is searched first, and wins among equally good matches).

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION safe_column" to load this file. \quit

-- Every safe_add_column call is a job, recorded in the caller's transaction. The table is internal:
-- read it through the safe_column_jobs view.
CREATE TABLE safe_column_job_store (
    job_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relid         oid NOT NULL,
    schema_name   name NOT NULL,      -- as at creation, for history after a rename or drop
    table_name    name NOT NULL,
    attnum        smallint NOT NULL,
    column_name   name NOT NULL,
    column_type   text NOT NULL,
    default_expr  text,
    backfill_expr text,
    not_null      boolean NOT NULL,
    state         text NOT NULL
                  CHECK (state IN ('queued', 'backfilling', 'validating', 'complete', 'failed', 'paused',
                                   'cancelled')),
    created_by    oid NOT NULL,
    search_path   text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    started_at    timestamptz,
    finished_at   timestamptz,
    lock_attempts integer NOT NULL DEFAULT 0,
    lock_wait_ms  double precision NOT NULL DEFAULT 0,
    error         text,
    -- the backfill (jobs that need one)
    phase         text NOT NULL DEFAULT 'done'
                  CHECK (phase IN ('backfill', 'sweep', 'add_check', 'final_sweep', 'validate', 'set_not_null',
                                   'done')),
    fill_expr     text,               -- what existing rows get, resolved at creation, schema-qualified
    new_rows_get_value boolean NOT NULL DEFAULT true,
    constraint_name name,             -- the temporary CHECK (col IS NOT NULL) of a NOT NULL job
    rows_total    bigint,             -- estimate at creation
    rows_done     bigint NOT NULL DEFAULT 0,
    sweep_rows    bigint NOT NULL DEFAULT 0,
    sweep_passes  integer NOT NULL DEFAULT 0,
    pass_rows     bigint NOT NULL DEFAULT 0,
    batches       bigint NOT NULL DEFAULT 0,
    wal_bytes     bigint NOT NULL DEFAULT 0,
    throttled_ms  double precision NOT NULL DEFAULT 0,
    throttle_stats jsonb NOT NULL DEFAULT '{}',  -- milliseconds throttled, by signal
    pause_reason  text,                          -- why the worker paused the job (a critical signal)
    settings      jsonb NOT NULL DEFAULT '{}'    -- per-job overrides of safe_column.* settings
);
CREATE INDEX safe_column_job_store_column ON safe_column_job_store (relid, attnum);
REVOKE ALL ON safe_column_job_store FROM PUBLIC;

-- One row per table a backfill job fills: the table itself, or each partition / inheritance child.
-- next_block is the resume point, committed with each batch.
CREATE TABLE safe_column_job_part (
    job_id     bigint NOT NULL REFERENCES safe_column_job_store ON DELETE CASCADE,
    relid      oid NOT NULL,
    end_block  bigint NOT NULL,
    next_block bigint NOT NULL DEFAULT 0,
    done       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (job_id, relid)
);
REVOKE ALL ON safe_column_job_part FROM PUBLIC;

CREATE FUNCTION safe_add_column(tbl regclass, column_name name, column_type text,
                                default_expr text DEFAULT NULL, not_null boolean DEFAULT false,
                                backfill_expr text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'safe_add_column'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION safe_add_column(regclass, name, text, text, boolean, text) IS
'add a column without a table rewrite and without queueing the application behind the lock; returns the job id';

CREATE VIEW safe_column_jobs AS
SELECT j.job_id,
       CASE WHEN c.oid IS NOT NULL THEN c.oid::regclass::text
            ELSE pg_catalog.quote_ident(j.schema_name) || '.' || pg_catalog.quote_ident(j.table_name)
       END AS table_name,
       coalesce(a.attname, j.column_name) AS column_name,
       j.column_type,
       j.default_expr,
       -- backfill_expr and error are like a query's text and its error (which can quote the row's
       -- values): as pg_stat_activity.query, only for the job's creator (and its members), the table's
       -- owner, and members of pg_read_all_stats (superusers are members of every role).
       CASE WHEN j.backfill_expr IS NULL OR v.visible THEN j.backfill_expr ELSE '<insufficient privilege>' END
           AS backfill_expr,
       j.not_null,
       j.state,
       pg_catalog.pg_get_userbyid(j.created_by) AS created_by,
       j.created_at,
       j.started_at,
       j.finished_at,
       j.lock_attempts,
       j.lock_wait_ms,
       CASE WHEN j.error IS NULL OR v.visible THEN j.error ELSE '<insufficient privilege>' END AS error,
       j.phase,
       j.rows_total,
       j.rows_done,
       j.sweep_rows,
       j.batches,
       j.wal_bytes,
       j.throttled_ms,
       j.throttle_stats,
       j.pause_reason,
       j.settings
  FROM safe_column_job_store j
  LEFT JOIN pg_catalog.pg_class c ON c.oid = j.relid
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = j.relid AND a.attnum = j.attnum AND NOT a.attisdropped
  CROSS JOIN LATERAL (SELECT pg_catalog.pg_has_role(j.created_by, 'USAGE')
                             OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')
                             OR (c.oid IS NOT NULL AND pg_catalog.pg_has_role(c.relowner, 'USAGE')) AS visible) v;

COMMENT ON VIEW safe_column_jobs IS 'every safe_column job, its definition, state, timings and error';
GRANT SELECT ON safe_column_jobs TO PUBLIC;

CREATE FUNCTION safe_column_pause(job bigint) RETURNS text
AS 'MODULE_PATHNAME', 'safe_column_pause' LANGUAGE C CALLED ON NULL INPUT VOLATILE;
COMMENT ON FUNCTION safe_column_pause(bigint) IS 'pause a backfill job after its current batch; returns the new state';

CREATE FUNCTION safe_column_resume(job bigint) RETURNS text
AS 'MODULE_PATHNAME', 'safe_column_resume' LANGUAGE C CALLED ON NULL INPUT VOLATILE;
COMMENT ON FUNCTION safe_column_resume(bigint) IS 'resume a paused or failed job where it stopped; returns the new state';

CREATE FUNCTION safe_column_cancel(job bigint, drop_column boolean DEFAULT false) RETURNS text
AS 'MODULE_PATHNAME', 'safe_column_cancel' LANGUAGE C CALLED ON NULL INPUT VOLATILE;
COMMENT ON FUNCTION safe_column_cancel(bigint, boolean) IS
'stop a job for good and remove its helper objects; with drop_column, drop the column too';

CREATE FUNCTION safe_column_set(job bigint, name text, value text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'safe_column_set' LANGUAGE C CALLED ON NULL INPUT VOLATILE;
COMMENT ON FUNCTION safe_column_set(bigint, text, text) IS
'override a throttling or pacing setting for one job (NULL value: back to the server''s); returns the job''s overrides';

CREATE FUNCTION safe_column_wait(job bigint, timeout interval DEFAULT NULL) RETURNS text
AS 'MODULE_PATHNAME', 'safe_column_wait' LANGUAGE C CALLED ON NULL INPUT VOLATILE;
COMMENT ON FUNCTION safe_column_wait(bigint, interval) IS
'wait until a job ends, with a progress NOTICE every few seconds; returns the final state';

-- Live progress of running jobs, from shared memory (empty without shared_preload_libraries).
CREATE FUNCTION safe_column_live(OUT job_id bigint, OUT worker_pid integer, OUT phase text,
                                 OUT blocks_done bigint, OUT blocks_total bigint, OUT batch_blocks integer,
                                 OUT batch_rows bigint, OUT last_batch_ms double precision,
                                 OUT rows_per_sec double precision, OUT blocks_per_sec double precision,
                                 OUT throttled boolean, OUT throttle_reason text, OUT updated_at timestamptz,
                                 OUT sample_ms double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'safe_column_live' LANGUAGE C STRICT VOLATILE;

CREATE VIEW safe_column_progress AS
SELECT j.job_id,
       j.table_name,
       j.column_name,
       j.state,
       j.phase,
       j.rows_done,
       greatest(j.rows_total, j.rows_done) AS rows_total,
       CASE WHEN j.state = 'complete' THEN 100.0
            WHEN j.phase = 'backfill'
            THEN pg_catalog.round(100.0 * p.blocks_done::numeric / greatest(p.blocks_total, 1)::numeric, 1)
            ELSE 99.9
       END AS percent,
       -- The worker's smoothed rate while it works; the average since the start otherwise, and while a
       -- throttling signal holds it (the rate of its last batches would hide the wait).
       pg_catalog.round(coalesce(CASE WHEN NOT l.throttled THEN l.rows_per_sec::numeric END,
                                 j.rows_done::numeric
                                 / nullif(extract(epoch FROM pg_catalog.clock_timestamp() - j.started_at),
                                          0::numeric)), 1) AS rows_per_sec,
       CASE WHEN j.phase = 'backfill' AND j.state = 'backfilling' AND l.throttled AND p.blocks_done > 0
                 AND j.started_at IS NOT NULL
            -- Held by a throttling signal: the rate of the last batches says nothing of how long the
            -- wait lasts; the job's average pace since it started, its waits included, does.
            THEN pg_catalog.make_interval(secs => pg_catalog.round(((p.blocks_total - p.blocks_done)::float8
                     * extract(epoch FROM pg_catalog.clock_timestamp() - j.started_at)::float8
                     / p.blocks_done::float8)::numeric)::float8)
            WHEN j.phase = 'backfill' AND j.state = 'backfilling' AND l.blocks_per_sec > 0::float8
            THEN pg_catalog.make_interval(secs => pg_catalog.round(((p.blocks_total - p.blocks_done)::float8
                                                                    / l.blocks_per_sec)::numeric)::float8)
       END AS eta,
       l.batch_rows,
       pg_catalog.round(l.last_batch_ms::numeric, 1) AS last_batch_ms,
       coalesce(l.throttled, false) AS throttled,
       l.throttle_reason,
       j.wal_bytes,
       l.worker_pid,
       j.error,
       pg_catalog.round(l.sample_ms::numeric, 3) AS sample_ms
  FROM safe_column_jobs j
  LEFT JOIN safe_column_live() l ON l.job_id = j.job_id
  LEFT JOIN (SELECT job_id, pg_catalog.sum(next_block)::bigint AS blocks_done,
                    pg_catalog.sum(end_block)::bigint AS blocks_total
               FROM safe_column_job_part GROUP BY job_id) p ON p.job_id = j.job_id;

COMMENT ON VIEW safe_column_progress IS 'every job with its live progress: phase, percent, rate, ETA, throttling';
GRANT SELECT ON safe_column_progress TO PUBLIC;

-- The progress line of safe_column_wait's and safe_column_watch's NOTICEs.
CREATE FUNCTION safe_column_progress_line(job bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
SELECT pg_catalog.format('safe_column job %s: %s, phase %s, %s%%, %s of %s rows, %s rows/s, ETA %s%s',
                         p.job_id, p.state, p.phase, p.percent, p.rows_done, coalesce(p.rows_total::text, '?'),
                         coalesce(p.rows_per_sec::text, '?'),
                         coalesce(pg_catalog.round(extract(epoch FROM p.eta))::text || ' s', '?'),
                         CASE WHEN p.throttled THEN ', waiting: ' || coalesce(p.throttle_reason, '?') ELSE '' END)
  FROM @extschema@.safe_column_progress p WHERE p.job_id = job
$$;

-- safe_column_wait as a procedure that commits between its polls, so that it holds no snapshot while
-- it waits: VACUUM (the worker's own included) can reclaim the backfill's dead row versions meanwhile.
-- CALL it outside a transaction block.
CREATE PROCEDURE safe_column_watch(job bigint, timeout interval DEFAULT NULL, INOUT state text DEFAULT NULL)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    started timestamptz := pg_catalog.clock_timestamp();
    last_notice timestamptz;
    err text;
BEGIN
    IF job IS NULL THEN
        RAISE EXCEPTION 'job must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF timeout < interval '0' THEN
        RAISE EXCEPTION 'timeout must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    LOOP
        SELECT j.state, j.error INTO state, err FROM @extschema@.safe_column_jobs j WHERE j.job_id = job;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'safe_column job % does not exist', job USING ERRCODE = 'undefined_object';
        END IF;
        EXIT WHEN state NOT IN ('queued', 'backfilling', 'validating');
        IF last_notice IS NULL OR pg_catalog.clock_timestamp() - last_notice >= interval '5 s' THEN
            RAISE NOTICE '%', @extschema@.safe_column_progress_line(job);
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
COMMENT ON PROCEDURE safe_column_watch(bigint, interval, text) IS
'safe_column_wait that holds no snapshot while it waits (commits between polls); CALL it outside a transaction block';

-- What an ALTER TABLE would do as sent, and what safe_column would do instead; runs nothing.
CREATE FUNCTION safe_column_plan(ddl text,
    OUT step integer, OUT approach text, OUT sql text, OUT lock_mode text, OUT rewrites boolean,
    OUT scans boolean, OUT builds_index boolean, OUT table_bytes bigint, OUT estimated_duration interval,
    OUT note text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'safe_column_plan' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION safe_column_plan(text) IS
    'explain an ALTER TABLE: each step as sent and the safe way, its lock, rewrite or scan, size and estimated duration; runs nothing';
