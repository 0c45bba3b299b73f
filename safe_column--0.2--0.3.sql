/* safe_column--0.2--0.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION safe_column UPDATE TO '0.3'" to load this file. \quit

-- 0.3: a column's inline CHECK and REFERENCES constraints are staged with it (issue 17). The worker
-- adds each one NOT VALID once the column is filled, then validates it; the constraint's definition is
-- the one PostgreSQL printed when safe_add_column tried it at creation (pg_get_constraintdef with
-- search_path pinned to pg_catalog: every name qualified), so the worker runs nothing it has to parse
-- under another search_path.
CREATE TABLE safe_column_job_constraint (
    job_id          bigint NOT NULL,  -- of safe_column_job_store (no foreign key: see below)
    constraint_name name NOT NULL,
    contype         "char" NOT NULL CHECK (contype IN ('c', 'f')),  -- CHECK, FOREIGN KEY
    definition      text NOT NULL,  -- as ALTER TABLE ... ADD CONSTRAINT name takes it, ending in NOT VALID
    ref_relid       regclass,       -- FOREIGN KEY: the referenced table (its lock is taken queue-safely)
    requested       text NOT NULL,  -- check_expr or references_clause as given (a re-run compares it)
    PRIMARY KEY (job_id, constraint_name)
);
REVOKE ALL ON safe_column_job_constraint FROM PUBLIC;

-- 0.3: the job tables are dumped with the database (issue 18). pg_dump, pg_dumpall and pg_restore
-- carry them as extension config tables; their table references are regclass, which a dump writes as
-- the table's name and a restore reads back as the restored table's OID (relation OIDs change in a
-- restore; pg_upgrade keeps them and accepts regclass columns). Rows whose table is gone are left out.
-- A BEFORE INSERT trigger makes a restored row true of the restored database (its column's attnum,
-- the table's owner as creator, a part's block positions forgotten) and pauses an unfinished job
-- with the reason: it is never run by itself on a copy of the database.
-- The views (and safe_column_progress_line, whose body refers to one) are made again over the new
-- column types.
DROP FUNCTION safe_column_progress_line(bigint);
DROP VIEW safe_column_progress;
DROP VIEW safe_column_jobs;
ALTER TABLE safe_column_job_store ALTER COLUMN relid TYPE pg_catalog.regclass;
ALTER TABLE safe_column_job_part ALTER COLUMN relid TYPE pg_catalog.regclass;
-- pg_restore -j loads the job tables' data in parallel sessions, in any order: a part's foreign key to
-- its job failed the restore when the part came first. Job rows are never deleted (the history stays),
-- so the key guarded nothing the extension does; it goes.
ALTER TABLE safe_column_job_part DROP CONSTRAINT safe_column_job_part_job_id_fkey;

CREATE FUNCTION safe_column_restored_row() RETURNS trigger
AS 'MODULE_PATHNAME', 'safe_column_restored_row' LANGUAGE C;
COMMENT ON FUNCTION safe_column_restored_row() IS
'trigger: makes a job row restored from a dump true of the restored database, and pauses an unfinished job';
CREATE TRIGGER safe_column_restored_job BEFORE INSERT ON safe_column_job_store
    FOR EACH ROW EXECUTE FUNCTION safe_column_restored_row();
CREATE TRIGGER safe_column_restored_part BEFORE INSERT ON safe_column_job_part
    FOR EACH ROW EXECUTE FUNCTION safe_column_restored_row();
-- also with session_replication_role = replica
ALTER TABLE safe_column_job_store ENABLE ALWAYS TRIGGER safe_column_restored_job;
ALTER TABLE safe_column_job_part ENABLE ALWAYS TRIGGER safe_column_restored_part;

SELECT pg_catalog.pg_extension_config_dump('safe_column_job_store',
    'WHERE EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid::pg_catalog.oid)');
SELECT pg_catalog.pg_extension_config_dump('safe_column_job_store_job_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('safe_column_job_part',
    'WHERE EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid::pg_catalog.oid)'
    ' AND job_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT s.job_id FROM @extschema@.safe_column_job_store s'
    ' WHERE EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) s.relid::pg_catalog.oid)))');
SELECT pg_catalog.pg_extension_config_dump('safe_column_job_constraint',
    'WHERE (ref_relid IS NULL OR EXISTS (SELECT FROM pg_catalog.pg_class c'
    ' WHERE c.oid OPERATOR(pg_catalog.=) ref_relid::pg_catalog.oid))'
    ' AND job_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT s.job_id FROM @extschema@.safe_column_job_store s'
    ' WHERE EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) s.relid::pg_catalog.oid)))');

-- safe_column_jobs shows the staged constraints (a column appended).
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
       j.settings,
       -- the column's own CHECK / FOREIGN KEY constraints the job stages (0.3), as PostgreSQL defines them
       ARRAY(SELECT k.constraint_name || ' ' || k.definition FROM safe_column_job_constraint k
              WHERE k.job_id = j.job_id ORDER BY k.contype, k.constraint_name) AS staged_constraints
  FROM safe_column_job_store j
  LEFT JOIN pg_catalog.pg_class c ON c.oid = j.relid::pg_catalog.oid
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = j.relid::pg_catalog.oid AND a.attnum = j.attnum AND NOT a.attisdropped
  CROSS JOIN LATERAL (SELECT pg_catalog.pg_has_role(j.created_by, 'USAGE')
                             OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')
                             OR (c.oid IS NOT NULL AND pg_catalog.pg_has_role(c.relowner, 'USAGE')) AS visible) v;
COMMENT ON VIEW safe_column_jobs IS 'every safe_column job, its definition, state, timings and error';
GRANT SELECT ON safe_column_jobs TO PUBLIC;

-- As in 0.2 (dropped above with the view it reads).
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

-- The progress line of safe_column_wait's and safe_column_watch's NOTICEs. A body in SQL-standard form
-- (BEGIN ATOMIC) is parsed here, once: it refers to the view by OID, whatever is given the view's name
-- later (a role that owns this schema could rename it and make a schema of its own under the old name).
CREATE FUNCTION safe_column_progress_line(job bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
SELECT pg_catalog.format('safe_column job %s: %s, phase %s, %s%%, %s of %s rows, %s rows/s, ETA %s%s',
                         p.job_id, p.state, p.phase, p.percent, p.rows_done, coalesce(p.rows_total::text, '?'),
                         coalesce(p.rows_per_sec::text, '?'),
                         coalesce(pg_catalog.round(extract(epoch FROM p.eta))::text || ' s', '?'),
                         CASE WHEN p.throttled THEN ', waiting: ' || coalesce(p.throttle_reason, '?') ELSE '' END)
  FROM @extschema@.safe_column_progress p WHERE p.job_id OPERATOR(pg_catalog.=) safe_column_progress_line.job;
END;

DROP FUNCTION safe_add_column(regclass, name, text, text, boolean, text);
CREATE FUNCTION safe_add_column(tbl regclass, column_name name, column_type text,
                                default_expr text DEFAULT NULL, not_null boolean DEFAULT false,
                                backfill_expr text DEFAULT NULL, check_expr text DEFAULT NULL,
                                references_clause text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'safe_add_column'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION safe_add_column(regclass, name, text, text, boolean, text, text, text) IS
'add a column without a table rewrite and without queueing the application behind the lock, with its CHECK and REFERENCES constraints validated in the background; returns the job id';

COMMENT ON FUNCTION safe_column_plan(text) IS
    'what an ALTER TABLE would do as sent and the safe way: each step, its lock, rewrite or scan, size and estimated duration; runs nothing';
