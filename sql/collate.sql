-- A COLLATE clause after the type, as ALTER TABLE writes it: safe_add_column's column_type takes it,
-- and stage mode stages ADD COLUMN ... COLLATE like any other catalog-only attribute.
SELECT sc_job_ids_from(700);
CREATE TABLE coll_users (id bigint PRIMARY KEY, email text NOT NULL);
INSERT INTO coll_users SELECT g, 'User' || g || '@example.com' FROM generate_series(1, 2000) g;
SELECT pg_relation_filenode('coll_users') AS coll_filenode \gset

-- The column gets that collation and is filled like any other; re-runs compare the collation too.
SELECT safe_add_column('coll_users', 'handle', 'text COLLATE "C"', backfill_expr => 'email') AS job_handle \gset
SET client_min_messages = warning;
SELECT safe_column_wait(:job_handle, '60s');
SET client_min_messages = notice;
SELECT column_type FROM safe_column_jobs WHERE job_id = :job_handle;
SELECT c.collname, count(u.handle) = count(*) AS filled, bool_and(u.handle = u.email) AS same_values
  FROM coll_users u, pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
 WHERE a.attrelid = 'coll_users'::regclass AND a.attname = 'handle' GROUP BY c.collname;
SELECT safe_add_column('coll_users', 'handle', 'text collate "C"', backfill_expr => 'email') = :job_handle AS same_job;
SELECT code, message, detail
  FROM sc_catch($$SELECT safe_add_column('coll_users', 'handle', 'text COLLATE "POSIX"', backfill_expr => 'email')$$);
-- The type's own collation, named: nothing to write.
SELECT safe_add_column('coll_users', 'handle2', 'text COLLATE "default"') > 0 AS ok;
SELECT column_type FROM safe_column_jobs WHERE column_name = 'handle2';

-- Stage mode: a volatile default with COLLATE on a table of guard_min_size or more becomes a job.
SET safe_column.guard_min_size = 0;
SET safe_column.mode = stage;
SET client_min_messages = warning;
ALTER TABLE coll_users ADD COLUMN token text COLLATE "C" DEFAULT md5(random()::text);
SELECT safe_column_wait(job_id, '60s') FROM safe_column_jobs WHERE column_name = 'token' AND table_name = 'coll_users';
SET client_min_messages = notice;
SELECT c.collname, count(u.token) = count(*) AS filled
  FROM coll_users u, pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
 WHERE a.attrelid = 'coll_users'::regclass AND a.attname = 'token' GROUP BY c.collname;
-- safe_column_plan shows the staged call with the clause.
SELECT sql FROM safe_column_plan('ALTER TABLE coll_users ADD COLUMN t2 text COLLATE "C" DEFAULT md5(random()::text)')
 WHERE approach = 'safe_column';
-- An unknown collation: PostgreSQL's own error.
SELECT code, message FROM sc_catch('ALTER TABLE coll_users ADD COLUMN t3 text COLLATE "no_such" DEFAULT md5(random()::text)');
RESET safe_column.mode;
RESET safe_column.guard_min_size;
SELECT pg_relation_filenode('coll_users') = :coll_filenode AS no_rewrite;
DROP TABLE coll_users;
