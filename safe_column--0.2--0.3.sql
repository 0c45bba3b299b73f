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
    PRIMARY KEY (job_id, constraint_name)
);
REVOKE ALL ON safe_column_job_constraint FROM PUBLIC;

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
