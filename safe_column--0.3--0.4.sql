/* safe_column--0.3--0.4.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION safe_column UPDATE TO '0.4'" to load this file. \quit

-- 0.4: a column's own UNIQUE and PRIMARY KEY are staged with it (issue 17). Once the column is filled
-- (and NOT NULL, for a primary key) the worker builds the unique index CONCURRENTLY (phase
-- build_index), then attaches it: ADD CONSTRAINT ... USING INDEX (phase attach_index, brief).
ALTER TABLE safe_column_job_store DROP CONSTRAINT safe_column_job_store_phase_check;
ALTER TABLE safe_column_job_store ADD CONSTRAINT safe_column_job_store_phase_check
    CHECK (phase IN ('backfill', 'sweep', 'add_check', 'final_sweep', 'validate', 'set_not_null',
                     'build_index', 'attach_index', 'done'));

-- A staged UNIQUE ('u') or PRIMARY KEY ('p'): definition is what ADD CONSTRAINT name takes
-- ("UNIQUE USING INDEX name"), index_sql the CREATE UNIQUE INDEX CONCURRENTLY that builds its index.
ALTER TABLE safe_column_job_constraint DROP CONSTRAINT safe_column_job_constraint_contype_check;
ALTER TABLE safe_column_job_constraint ADD CONSTRAINT safe_column_job_constraint_contype_check
    CHECK (contype IN ('c', 'f', 'u', 'p'));
ALTER TABLE safe_column_job_constraint ADD COLUMN index_sql text
    CHECK ((index_sql IS NOT NULL) = (contype IN ('u', 'p')));

DROP FUNCTION safe_add_column(regclass, name, text, text, boolean, text, text, text);
CREATE FUNCTION safe_add_column(tbl regclass, column_name name, column_type text,
                                default_expr text DEFAULT NULL, not_null boolean DEFAULT false,
                                backfill_expr text DEFAULT NULL, check_expr text DEFAULT NULL,
                                references_clause text DEFAULT NULL, unique_key boolean DEFAULT false,
                                primary_key boolean DEFAULT false)
RETURNS bigint
AS 'MODULE_PATHNAME', 'safe_add_column'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION safe_add_column(regclass, name, text, text, boolean, text, text, text, boolean, boolean) IS
'add a column without a table rewrite and without queueing the application behind the lock, with its CHECK, REFERENCES, UNIQUE and PRIMARY KEY constraints validated or built in the background; returns the job id';

-- As in 0.3, with the phase's own progress appended.
CREATE OR REPLACE VIEW safe_column_progress AS
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
       pg_catalog.round(l.sample_ms::numeric, 3) AS sample_ms,
       -- 0.4: what the phase is doing, when PostgreSQL reports it: the concurrent index build's own
       -- phase and counts (pg_stat_progress_create_index, whose figures it shows as it does to anyone).
       CASE WHEN j.phase = 'build_index' AND ci.pid IS NOT NULL
            THEN ci.phase || CASE WHEN ci.blocks_total > 0
                                  THEN pg_catalog.format(', %s of %s blocks', ci.blocks_done, ci.blocks_total)
                                  WHEN ci.tuples_total > 0
                                  THEN pg_catalog.format(', %s of %s tuples', ci.tuples_done, ci.tuples_total)
                                  ELSE '' END
       END AS phase_progress
  FROM safe_column_jobs j
  LEFT JOIN safe_column_live() l ON l.job_id = j.job_id
  LEFT JOIN (SELECT job_id, pg_catalog.sum(next_block)::bigint AS blocks_done,
                    pg_catalog.sum(end_block)::bigint AS blocks_total
               FROM safe_column_job_part GROUP BY job_id) p ON p.job_id = j.job_id
  LEFT JOIN pg_catalog.pg_stat_progress_create_index ci ON ci.pid = l.worker_pid;

