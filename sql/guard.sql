-- The two error guards between C++ and PostgreSQL, driven by a test-only module
-- (test/guard, installed by the test runner only).
CREATE FUNCTION sc_test_throw(text) RETURNS int
    AS 'safe_column_guard_test', 'sc_test_throw' LANGUAGE C STRICT;
CREATE FUNCTION sc_test_pg_error(text) RETURNS int
    AS 'safe_column_guard_test', 'sc_test_pg_error' LANGUAGE C STRICT;
CREATE FUNCTION sc_test_destructor_runs() RETURNS int
    AS 'safe_column_guard_test', 'sc_test_destructor_runs' LANGUAGE C STRICT;
CREATE FUNCTION sc_test_pg_errors_seen() RETURNS int
    AS 'safe_column_guard_test', 'sc_test_pg_errors_seen' LANGUAGE C STRICT;

SELECT pg_backend_pid() AS pid \gset
SELECT sc_test_destructor_runs() AS runs0 \gset

-- C++ exception -> clean ERROR with a meaningful SQLSTATE, at top level.
SELECT sc_test_throw('runtime_error');
SELECT sc_test_throw('sc_error');
-- ... and the same backend keeps working.
SELECT pg_backend_pid() = :pid AS same_backend, 1 + 1 AS still_works;

-- Every kind, with its SQLSTATE, caught in a subtransaction.
SELECT kind, r.*
  FROM unnest(ARRAY['runtime_error', 'bad_alloc', 'invalid_argument', 'out_of_range', 'sc_error', 'int',
                    'none']) AS kind,
       LATERAL sc_catch(format('SELECT sc_test_throw(%L)', kind)) AS r;
-- A very long message is cut, not overflowed.
SELECT code, length(message) BETWEEN 1000 AND 1023 AS cut FROM sc_catch($$SELECT sc_test_throw('long_message')$$);

-- The C++ frames' destructors ran for each of the 9 exceptions and the normal return.
SELECT sc_test_destructor_runs() - :runs0 AS destructors_ran;

-- PostgreSQL ERROR inside pg_call -> PgError in C++ (SQLSTATE and message seen there) -> destructors
-- of the inner and outer C++ objects run -> the ERROR reaches the client unchanged.
SELECT sc_test_destructor_runs() AS runs1 \gset
SELECT sc_test_pg_error('SELECT 1/0');
SELECT sc_test_destructor_runs() - :runs1 AS destructors_ran, sc_test_pg_errors_seen() AS pg_errors_seen;
CREATE FUNCTION raise_custom() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'custom failure' USING ERRCODE = '22P05', DETAIL = 'the detail', HINT = 'the hint';
END
$$;
SELECT * FROM sc_catch($$SELECT sc_test_pg_error('SELECT raise_custom()')$$);
SELECT * FROM sc_catch($$SELECT sc_test_pg_error('SELECT * FROM no_such_table')$$);
-- No error: pg_call returns normally.
SELECT sc_test_pg_error('SELECT 1') >= 0 AS ok;

-- Errors inside an explicit transaction: the savepoint recovers, the transaction commits.
CREATE TABLE guard_t (x int);
BEGIN;
INSERT INTO guard_t VALUES (1);
SAVEPOINT s;
SELECT sc_test_pg_error('SELECT 1/0');
ROLLBACK TO SAVEPOINT s;
SAVEPOINT s2;
SELECT sc_test_throw('runtime_error');
ROLLBACK TO SAVEPOINT s2;
INSERT INTO guard_t VALUES (2);
COMMIT;
SELECT array_agg(x ORDER BY x) FROM guard_t;
SELECT pg_backend_pid() = :pid AS same_backend;
DROP TABLE guard_t;
