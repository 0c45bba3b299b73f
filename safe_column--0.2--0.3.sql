/* safe_column--0.2--0.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION safe_column UPDATE TO '0.3'" to load this file. \quit

-- 0.3: a column's inline CHECK and REFERENCES constraints are staged with it (issue 17). The worker
-- adds each one NOT VALID once the column is filled, then validates it; the constraint's definition is
-- the one PostgreSQL printed when safe_add_column tried it at creation (pg_get_constraintdef with
-- search_path pinned to pg_catalog: every name qualified), so the worker runs nothing it has to parse
-- under another search_path.
CREATE TABLE safe_column_job_constraint (
    job_id          bigint NOT NULL REFERENCES safe_column_job_store ON DELETE CASCADE,
    constraint_name name NOT NULL,
    contype         "char" NOT NULL CHECK (contype IN ('c', 'f')),  -- CHECK, FOREIGN KEY
    definition      text NOT NULL,  -- as ALTER TABLE ... ADD CONSTRAINT name takes it, ending in NOT VALID
    ref_relid       oid,            -- FOREIGN KEY: the referenced table (its lock is taken queue-safely)
    requested       text NOT NULL,  -- check_expr or references_clause as given (a re-run compares it)
    PRIMARY KEY (job_id, constraint_name)
);
REVOKE ALL ON safe_column_job_constraint FROM PUBLIC;

-- safe_column_jobs shows them (a column appended: the view's privileges and comment stay).
CREATE OR REPLACE VIEW safe_column_jobs AS
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
  LEFT JOIN pg_catalog.pg_class c ON c.oid = j.relid
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = j.relid AND a.attnum = j.attnum AND NOT a.attisdropped
  CROSS JOIN LATERAL (SELECT pg_catalog.pg_has_role(j.created_by, 'USAGE')
                             OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')
                             OR (c.oid IS NOT NULL AND pg_catalog.pg_has_role(c.relowner, 'USAGE')) AS visible) v;

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
