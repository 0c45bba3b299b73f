/* safe_column--0.1.sql */

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
    error         text
);
CREATE INDEX safe_column_job_store_column ON safe_column_job_store (relid, attnum);
REVOKE ALL ON safe_column_job_store FROM PUBLIC;

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
       j.column_name,
       j.column_type,
       j.default_expr,
       j.backfill_expr,
       j.not_null,
       j.state,
       pg_catalog.pg_get_userbyid(j.created_by) AS created_by,
       j.created_at,
       j.started_at,
       j.finished_at,
       j.lock_attempts,
       j.lock_wait_ms,
       j.error
  FROM safe_column_job_store j
  LEFT JOIN pg_catalog.pg_class c ON c.oid = j.relid;

COMMENT ON VIEW safe_column_jobs IS 'every safe_column job, its definition, state, timings and error';
GRANT SELECT ON safe_column_jobs TO PUBLIC;
