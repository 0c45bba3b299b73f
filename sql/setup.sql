-- Shared setup for the regression tests (they run in order, in one database).
CREATE EXTENSION safe_column;

-- The GUCs exist with their documented defaults.
SHOW safe_column.lock_timeout;
SHOW safe_column.lock_wait_budget;

-- Run a statement and return what it raised, so tests can assert SQLSTATE, DETAIL and HINT exactly.
CREATE FUNCTION sc_catch(stmt text, OUT code text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    code := 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END
$$;

-- Each test file numbers its jobs from a base of its own (its first line: SELECT sc_job_ids_from(N)),
-- so that the job ids its expected output shows depend neither on the files before it nor on their
-- order in the schedule. Bases are 100 apart: no file makes 100 jobs.
CREATE FUNCTION sc_job_ids_from(base bigint) RETURNS void LANGUAGE sql AS $$
    SELECT NULL::void FROM pg_catalog.setval(pg_catalog.pg_get_serial_sequence('safe_column_job_store', 'job_id'), base, false)
$$;

-- Any table rewrite in the tests fails loudly: safe_column must never cause one.
CREATE FUNCTION sc_forbid_rewrite() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table rewrite of %', pg_event_trigger_table_rewrite_oid()::regclass;
END
$$;
CREATE EVENT TRIGGER sc_forbid_rewrite ON table_rewrite EXECUTE FUNCTION sc_forbid_rewrite();
