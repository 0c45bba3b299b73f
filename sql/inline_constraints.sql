-- A column's own CHECK and REFERENCES, staged with it: safe_add_column's check_expr and
-- references_clause, and stage mode's ADD COLUMN ... CHECK / REFERENCES. The worker adds each
-- constraint NOT VALID once the column is filled, then validates it; the catalog ends as the plain
-- statement would have left it, without a rewrite.
SELECT sc_job_ids_from(800);
SET client_min_messages = warning;
CREATE TABLE ic_owners (id bigint PRIMARY KEY);
INSERT INTO ic_owners SELECT g FROM generate_series(1, 100) g;
CREATE TABLE ic_orders (id bigint PRIMARY KEY, amount int NOT NULL);
INSERT INTO ic_orders SELECT g, g % 50 FROM generate_series(1, 3000) g;
SELECT pg_relation_filenode('ic_orders') AS ic_fn \gset
-- The same table, small, for what the plain statements make (below guard_min_size: run as sent).
CREATE TABLE ic_plain (id bigint PRIMARY KEY, amount int NOT NULL);
INSERT INTO ic_plain SELECT g, g % 50 FROM generate_series(1, 3000) g;
CREATE FUNCTION ic_constraints(rel regclass) RETURNS TABLE (conname name, contype "char", def text, valid boolean)
LANGUAGE sql AS $$
  SELECT replace(conname, pg_catalog.quote_ident(rel::text), 'T'), contype, pg_get_constraintdef(oid), convalidated
    FROM pg_constraint WHERE conrelid = rel AND contype IN ('c', 'f') ORDER BY 1 $$;

-- A CHECK on a filled NOT NULL column: the job fills, adds the CHECK NOT VALID, validates it.
SELECT safe_add_column('ic_orders', 'qty', 'int', '(random() * 0)::int + 7', not_null => true,
                       check_expr => 'qty >= 0') AS j_qty \gset
SELECT safe_column_wait(:j_qty, '120s');
SELECT state, phase, error FROM safe_column_jobs WHERE job_id = :j_qty;
SELECT count(*) FILTER (WHERE qty = 7) AS filled, count(*) AS rows FROM ic_orders;
ALTER TABLE ic_plain ADD COLUMN qty int NOT NULL DEFAULT 7 CHECK (qty >= 0);
-- A REFERENCES on a column filled by a backfill expression.
SELECT safe_add_column('ic_orders', 'owner_id', 'bigint', backfill_expr => 'id % 100 + 1',
                       references_clause => 'ic_owners (id) ON DELETE CASCADE') AS j_owner \gset
SELECT safe_column_wait(:j_owner, '120s');
SELECT state, phase, error FROM safe_column_jobs WHERE job_id = :j_owner;
SELECT count(*) FILTER (WHERE owner_id = id % 100 + 1) AS filled FROM ic_orders;
ALTER TABLE ic_plain ADD COLUMN owner_id bigint REFERENCES ic_owners (id) ON DELETE CASCADE;
UPDATE ic_plain SET owner_id = id % 100 + 1;
-- No backfill (a constant default), a CHECK only: the job starts at add_check.
SELECT safe_add_column('ic_orders', 'status', 'text', $$'new'$$, not_null => true,
                       check_expr => $$status IN ('new', 'paid')$$) AS j_status \gset
SELECT phase FROM safe_column_job_store WHERE job_id = :j_status;
SELECT safe_column_wait(:j_status, '120s');
SELECT state, phase, error FROM safe_column_jobs WHERE job_id = :j_status;
ALTER TABLE ic_plain ADD COLUMN status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'paid'));
-- The constraints are the plain statements' (names, definitions, validity), and no rewrite happened.
SELECT * FROM ic_constraints('ic_orders') EXCEPT SELECT * FROM ic_constraints('ic_plain');
SELECT * FROM ic_constraints('ic_plain') EXCEPT SELECT * FROM ic_constraints('ic_orders');
SELECT * FROM ic_constraints('ic_orders');
SELECT pg_relation_filenode('ic_orders') = :ic_fn AS no_rewrite;
-- What the job recorded: PostgreSQL's own text of each, names qualified.
SELECT constraint_name, contype, definition, ref_relid = 'ic_owners'::regclass AS ref
  FROM safe_column_job_constraint WHERE job_id IN (:j_qty, :j_owner, :j_status) ORDER BY job_id;
-- The jobs view shows them.
SELECT column_name, staged_constraints FROM safe_column_jobs WHERE job_id IN (:j_qty, :j_owner) ORDER BY job_id;
-- Enforced from now on.
SELECT code, message FROM sc_catch($$UPDATE ic_orders SET qty = -1 WHERE id = 1$$);
SELECT code, message FROM sc_catch($$UPDATE ic_orders SET owner_id = 999 WHERE id = 1$$);
-- A re-run (a migration applied twice) returns the job; the same column asked for with another
-- check_expr or references_clause, or without one, is refused, saying what differs (compared as
-- written, as backfill_expr is).
SELECT safe_add_column('ic_orders', 'qty', 'int', '(random() * 0)::int + 7', not_null => true,
                       check_expr => 'qty >= 0') = :j_qty AS same_job;
SELECT code, message, detail FROM sc_catch($$SELECT safe_add_column('ic_orders', 'qty', 'int',
    '(random() * 0)::int + 7', not_null => true, check_expr => 'qty > 0')$$);
SELECT code, detail FROM sc_catch($$SELECT safe_add_column('ic_orders', 'qty', 'int',
    '(random() * 0)::int + 7', not_null => true)$$);
SELECT code, detail FROM sc_catch($$SELECT safe_add_column('ic_orders', 'qty', 'int',
    '(random() * 0)::int + 7', not_null => true, check_expr => 'qty >= 0', references_clause => 'ic_owners (id)')$$);
SELECT code, detail FROM sc_catch($$SELECT safe_add_column('ic_orders', 'owner_id', 'bigint',
    backfill_expr => 'id % 100 + 1', references_clause => 'ic_owners (id)')$$);
SELECT safe_add_column('ic_orders', 'owner_id', 'bigint', backfill_expr => 'id % 100 + 1',
                       references_clause => 'ic_owners (id) ON DELETE CASCADE') = :j_owner AS same_job;

-- A row that violates the CHECK fails the job with the server's error; the constraint, not valid, is
-- gone; the column stays (filled) for the user to fix and resume.
SELECT safe_add_column('ic_orders', 'score', 'int', backfill_expr => 'amount - 10',
                       check_expr => 'score >= 0') AS j_score \gset
SELECT code, starts_with(message, format('safe_column job %s failed: ', :j_score)) AS job_failed
  FROM sc_catch(format('SELECT safe_column_wait(%s, %L)', :j_score, '120s'));
-- The server's error names no row: the job's names one that violates the CHECK, by its ctid.
SELECT state, error ~ '^check constraint "ic_orders_score_check" of relation "ic_orders" is violated by some row \(row \(\d+,\d+\) of ic_orders\)$' AS names_a_row,
       (SELECT score < 0 FROM ic_orders WHERE ctid = substring(error FROM 'row (\(\d+,\d+\)) of')::tid) AS that_row_violates
  FROM safe_column_jobs WHERE job_id = :j_score;
SELECT count(*) AS score_constraints FROM pg_constraint WHERE conrelid = 'ic_orders'::regclass AND conname LIKE '%score%';
UPDATE ic_orders SET score = 0 WHERE score < 0;
SELECT safe_column_resume(:j_score);
SELECT safe_column_wait(:j_score, '120s');
SELECT state, error FROM safe_column_jobs WHERE job_id = :j_score;
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'ic_orders'::regclass AND conname LIKE '%score%';
ALTER TABLE ic_plain ADD COLUMN score int CHECK (score >= 0);
-- A missing key fails it naming the key; nothing is left behind.
SELECT safe_add_column('ic_orders', 'buyer_id', 'bigint', backfill_expr => 'id',
                       references_clause => 'ic_owners (id)') AS j_buyer \gset
SELECT code, starts_with(message, format('safe_column job %s failed: ', :j_buyer)) AS job_failed
  FROM sc_catch(format('SELECT safe_column_wait(%s, %L)', :j_buyer, '120s'));
SELECT state, error ~ '^insert or update on table "ic_orders" violates foreign key constraint "ic_orders_buyer_id_fkey": Key \(buyer_id\)=\(\d+\) is not present in table "ic_owners"\.$' AS names_the_key
  FROM safe_column_jobs WHERE job_id = :j_buyer;
SELECT count(*) AS buyer_constraints FROM pg_constraint WHERE conrelid = 'ic_orders'::regclass AND conname LIKE '%buyer%';
SELECT safe_column_cancel(:j_buyer, drop_column => true);

-- Bad input: PostgreSQL's own errors, or ours for text that is not one expression or one reference;
-- nothing is added, no job recorded.
SELECT count(*) AS jobs_before FROM safe_column_jobs \gset
SELECT a, b, r.code, r.message
  FROM (VALUES ('c1 > 0) NOT VALID; DROP TABLE ic_owners; --', NULL),
               ('no_such_column > 0', NULL),
               ('c1 > (SELECT 1)', NULL),
               ('', NULL),
               (NULL, 'no_such_table (id)'),
               (NULL, 'ic_owners (no_such)'),
               (NULL, 'ic_owners (id); DROP TABLE ic_owners'),
               (NULL, 'ic_owners (id) NOT VALID, ADD COLUMN x int')) AS v(a, b),
       LATERAL sc_catch(format('SELECT safe_add_column(%L, %L, %L, check_expr => %L, references_clause => %L)',
                               'ic_orders', 'c1', 'bigint', a, b)) AS r;
SELECT count(*) = :jobs_before AS no_job FROM safe_column_jobs;
SELECT count(*) AS c1_columns FROM pg_attribute WHERE attrelid = 'ic_orders'::regclass AND attname = 'c1';

-- Stage mode: ADD COLUMN with its inline CHECK, named, and a REFERENCES on a filled column.
SET safe_column.guard_min_size = 0;
SET safe_column.mode = stage;
ALTER TABLE ic_orders ADD COLUMN level int NOT NULL DEFAULT 1 CONSTRAINT level_positive CHECK (level > 0),
                      ADD COLUMN seller_id bigint DEFAULT (random() * 0)::bigint + 5 REFERENCES ic_owners;
-- Every clause of the constraints is kept: NO INHERIT, DEFERRABLE INITIALLY DEFERRED, SET NULL (column).
ALTER TABLE ic_orders ADD COLUMN rank int DEFAULT 1 CHECK (rank > 0) NO INHERIT,
                      ADD COLUMN agent_id bigint DEFAULT 6 REFERENCES ic_owners ON DELETE SET NULL (agent_id)
                                 DEFERRABLE INITIALLY DEFERRED;
SELECT safe_column_wait(job_id, '120s') FROM safe_column_jobs
 WHERE table_name = 'ic_orders' AND column_name IN ('level', 'seller_id', 'rank', 'agent_id') ORDER BY job_id;
-- Sent again (the constraint named otherwise): the column exists, PostgreSQL's own error.
SELECT code, detail FROM sc_catch($$ALTER TABLE ic_orders ADD COLUMN level int NOT NULL DEFAULT 1
                                    CONSTRAINT level_above_zero CHECK (level > 0)$$);
RESET safe_column.mode;
RESET safe_column.guard_min_size;
ALTER TABLE ic_plain ADD COLUMN level int NOT NULL DEFAULT 1 CONSTRAINT level_positive CHECK (level > 0),
                     ADD COLUMN seller_id bigint DEFAULT 5 REFERENCES ic_owners;
ALTER TABLE ic_plain ADD COLUMN rank int DEFAULT 1 CHECK (rank > 0) NO INHERIT,
                     ADD COLUMN agent_id bigint DEFAULT 6 REFERENCES ic_owners ON DELETE SET NULL (agent_id)
                                DEFERRABLE INITIALLY DEFERRED;
SELECT * FROM ic_constraints('ic_orders') EXCEPT SELECT * FROM ic_constraints('ic_plain');
SELECT * FROM ic_constraints('ic_plain') EXCEPT SELECT * FROM ic_constraints('ic_orders');
SELECT count(*) FILTER (WHERE seller_id = 5 AND level = 1) = count(*) AS filled FROM ic_orders;
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'ic_orders'::regclass AND conname IN ('ic_orders_rank_check', 'ic_orders_agent_id_fkey') ORDER BY 1;
SELECT pg_relation_filenode('ic_orders') = :ic_fn AS no_rewrite;
-- A UNIQUE with index options (INCLUDE, WITH, USING INDEX TABLESPACE) is not staged: refused with the
-- steps to take (sql/unique.sql has the staged ones).
SET safe_column.guard_min_size = 0;
SET safe_column.mode = stage;
SELECT code, message FROM sc_catch('ALTER TABLE ic_orders ADD COLUMN slug text DEFAULT md5(random()::text) UNIQUE USING INDEX TABLESPACE pg_default');
RESET safe_column.mode;
RESET safe_column.guard_min_size;
DROP TABLE ic_orders, ic_plain, ic_owners;
DROP FUNCTION ic_constraints(regclass);
RESET client_min_messages;
