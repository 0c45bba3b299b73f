-- Queue-safe locking: give up within the budget, name the blockers, fail fast when waiting would
-- prolong the caller's own strong locks. The blocker is another backend, driven through dblink.
SELECT sc_job_ids_from(300);
CREATE EXTENSION dblink;
CREATE TABLE busy (id int PRIMARY KEY, v text);
INSERT INTO busy SELECT g, 'v' FROM generate_series(1, 100) g;
CREATE TABLE other (id int);

SELECT dblink_connect('blocker', 'dbname=' || current_database());
SELECT pid AS blocker_pid FROM dblink('blocker', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SELECT dblink_exec('blocker', 'BEGIN');
SELECT * FROM dblink('blocker', 'SELECT count(*) FROM busy WHERE id = 1') AS t(n bigint);

-- Budget spent: lock_not_available; DETAIL names the blocker, its state, transaction age and query.
SET safe_column.lock_timeout = '20ms';
SET safe_column.lock_wait_budget = '300ms';
SELECT code, message,
       detail ~ ('^Gave up after \d+ lock attempts over 0\.\d s\.\nProcess ' || :blocker_pid ||
                 ' holds AccessShareLock on busy \(idle in transaction, transaction open for \d+\.\d s\), '
                 'query: SELECT count\(\*\) FROM busy WHERE id = 1\.$') AS detail_names_blocker,
       substring(detail from 'after (\d+) lock attempts')::int > 1 AS retried,
       hint
  FROM sc_catch($$SELECT safe_add_column('busy', 'c', 'int')$$);
-- Nothing was added, no job recorded.
SELECT count(*) AS c_columns FROM pg_attribute WHERE attrelid = 'busy'::regclass AND attname = 'c';
SELECT count(*) AS busy_jobs FROM safe_column_jobs WHERE table_name = 'busy';

-- Budget 0: exactly one attempt.
SET safe_column.lock_wait_budget = 0;
SELECT substring(detail from '^Gave up after (\d+ lock attempts?)') AS attempts
  FROM sc_catch($$SELECT safe_add_column('busy', 'c', 'int')$$);
SET safe_column.lock_wait_budget = '300ms';

-- Holding a strong lock on another table: one attempt, then fail fast with a clear reason.
BEGIN;
LOCK TABLE other IN SHARE ROW EXCLUSIVE MODE;
SELECT * FROM sc_catch($$SELECT safe_add_column('busy', 'c', 'int')$$);
ROLLBACK;
-- A table created by this same transaction is invisible to others: not a reason to fail fast.
BEGIN;
CREATE TABLE brand_new (id int);
SELECT message LIKE '%within safe_column.lock_wait_budget%' AS waited_for_budget
  FROM sc_catch($$SELECT safe_add_column('busy', 'c', 'int')$$);
ROLLBACK;

-- A lock the caller's own transaction already holds is no obstacle.
SELECT dblink_exec('blocker', 'COMMIT');
BEGIN;
LOCK TABLE busy IN ACCESS EXCLUSIVE MODE;
SELECT safe_add_column('busy', 'mine', 'int') > 0 AS ok;
COMMIT;

-- Blocker gone: the next call succeeds at the first attempt.
SELECT safe_add_column('busy', 'c', 'int', '3') > 0 AS ok;
SELECT lock_attempts FROM safe_column_jobs WHERE table_name = 'busy' AND column_name = 'c';

-- A partition held by another session blocks ADD COLUMN on its partitioned table: the report names it.
CREATE TABLE parted (id int) PARTITION BY LIST (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES IN (1);
SELECT dblink_exec('blocker', 'BEGIN');
SELECT * FROM dblink('blocker', 'SELECT count(*) FROM parted_1') AS t(n bigint);
SELECT code, detail ~ ('Process ' || :blocker_pid || ' holds AccessShareLock on parted_1 ') AS names_partition
  FROM sc_catch($$SELECT safe_add_column('parted', 'c', 'int')$$);
SELECT dblink_exec('blocker', 'COMMIT');
SELECT safe_add_column('parted', 'c', 'int') > 0 AS ok;

-- A new foreign key locks the referenced table too (SHARE ROW EXCLUSIVE): under guard it is taken the
-- queue-safe way with the table altered. A writer on the referenced table (or on a partition of it)
-- is reported by name, and nothing is added.
CREATE TABLE fk_parent (id int PRIMARY KEY);
INSERT INTO fk_parent VALUES (1);
CREATE TABLE fk_child (id int, pid int);
CREATE TABLE fk_parted (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE fk_parted_1 PARTITION OF fk_parted FOR VALUES FROM (0) TO (100);
SELECT dblink_exec('blocker', 'BEGIN');
SELECT dblink_exec('blocker', 'UPDATE fk_parent SET id = id');
SELECT code, message,
       detail ~ ('Process ' || :blocker_pid || ' holds RowExclusiveLock on fk_parent ') AS names_referenced
  FROM sc_catch($$ALTER TABLE fk_child ADD CONSTRAINT fk_child_pid_fkey FOREIGN KEY (pid) REFERENCES fk_parent NOT VALID$$);
SELECT code, detail ~ ('Process ' || :blocker_pid || ' holds RowExclusiveLock on fk_parent ') AS names_referenced
  FROM sc_catch($$ALTER TABLE fk_child ADD COLUMN pid2 int REFERENCES fk_parent$$);
SELECT dblink_exec('blocker', 'COMMIT');
SELECT dblink_exec('blocker', 'BEGIN');
SELECT dblink_exec('blocker', 'INSERT INTO fk_parted_1 VALUES (5)');
SELECT code, detail ~ ('Process ' || :blocker_pid || ' holds RowExclusiveLock on fk_parted_1 ') AS names_partition
  FROM sc_catch($$ALTER TABLE fk_child ADD CONSTRAINT fk_child_id_fkey FOREIGN KEY (id) REFERENCES fk_parted NOT VALID$$);
SELECT dblink_exec('blocker', 'COMMIT');
SELECT count(*) AS fks_added FROM pg_constraint WHERE conrelid = 'fk_child'::regclass;
SELECT count(*) AS pid2_added FROM pg_attribute WHERE attrelid = 'fk_child'::regclass AND attname = 'pid2';
-- Blocker gone: both are added at once.
ALTER TABLE fk_child ADD CONSTRAINT fk_child_pid_fkey FOREIGN KEY (pid) REFERENCES fk_parent NOT VALID;
ALTER TABLE fk_child ADD CONSTRAINT fk_child_id_fkey FOREIGN KEY (id) REFERENCES fk_parted NOT VALID;
-- (18 names the partition's copy fk_child_id_fkey_1, earlier versions fk_child_id_fkey1: shown the old way.)
SELECT regexp_replace(conname, '_(\d+)$', '\1') AS conname, confrelid::regclass
  FROM pg_constraint WHERE conrelid = 'fk_child'::regclass ORDER BY 1;

-- A table created in this transaction keeps nobody waiting, but the tables its foreign keys reference
-- do: CREATE TABLE ... REFERENCES, and ADD FOREIGN KEY in the creating transaction (as migrations do),
-- lock them the queue-safe way too. Nothing is created.
SELECT dblink_exec('blocker', 'BEGIN');
SELECT dblink_exec('blocker', 'UPDATE fk_parent SET id = id');
SELECT code, message,
       detail ~ ('Process ' || :blocker_pid || ' holds RowExclusiveLock on fk_parent ') AS names_referenced
  FROM sc_catch($$CREATE TABLE fk_new (id int, pid int REFERENCES fk_parent)$$);
SELECT code, message
  FROM sc_catch($$DO 'BEGIN CREATE TABLE fk_new (id int, pid int);
                      ALTER TABLE fk_new ADD FOREIGN KEY (pid) REFERENCES fk_parent; END'$$);
SELECT code, message
  FROM sc_catch($$CREATE TABLE fk_new (id int REFERENCES fk_parted, pid int REFERENCES fk_parent)$$);
SELECT to_regclass('fk_new') IS NULL AS fk_new_absent;
-- PostgreSQL locks the referenced table even for a temporary table, before it refuses the foreign key:
-- the queue-safe way too; once nothing blocks, PostgreSQL's own error.
SELECT code, message FROM sc_catch($$CREATE TEMP TABLE fk_temp (pid int REFERENCES fk_parent)$$);
-- Referencing only tables created in the same transaction: nothing to wait for.
DO 'BEGIN CREATE TABLE fk_new (id int PRIMARY KEY); CREATE TABLE fk_new2 (id int REFERENCES fk_new); END';
SELECT dblink_exec('blocker', 'COMMIT');
SELECT code, message FROM sc_catch($$CREATE TEMP TABLE fk_temp (pid int REFERENCES fk_parent)$$);
CREATE TABLE fk_new3 (id int, pid int REFERENCES fk_parent);
SELECT conrelid::regclass, confrelid::regclass FROM pg_constraint
 WHERE conrelid IN ('fk_new2'::regclass, 'fk_new3'::regclass) ORDER BY 1;
DROP TABLE fk_child, fk_new3, fk_new2, fk_new, fk_parent, fk_parted;

-- CREATE TABLE ... PARTITION OF locks the parent ACCESS EXCLUSIVE, and its default partition too;
-- CREATE TABLE ... INHERITS locks the parent SHARE UPDATE EXCLUSIVE. Under guard, both the queue-safe
-- way: a reader of the parent (or of the default partition) is named, nothing is created.
CREATE TABLE pt (id int, v text) PARTITION BY RANGE (id);
CREATE TABLE pt_1 PARTITION OF pt FOR VALUES FROM (0) TO (100);
CREATE TABLE inh_parent (id int);
SELECT dblink_exec('blocker', 'BEGIN');
SELECT * FROM dblink('blocker', 'SELECT count(*) FROM pt') AS t(n bigint);
SELECT code, message, detail ~ ('Process ' || :blocker_pid || ' holds AccessShareLock on pt ') AS names_reader
  FROM sc_catch($$CREATE TABLE pt_2 PARTITION OF pt FOR VALUES FROM (100) TO (200)$$);
SELECT dblink_exec('blocker', 'COMMIT');
CREATE TABLE pt_d PARTITION OF pt DEFAULT;
SELECT dblink_exec('blocker', 'BEGIN');
SELECT * FROM dblink('blocker', 'SELECT count(*) FROM pt_d') AS t(n bigint);
SELECT code, message, detail ~ ('Process ' || :blocker_pid || ' holds AccessShareLock on pt_d ') AS names_default
  FROM sc_catch($$CREATE TABLE pt_2 PARTITION OF pt FOR VALUES FROM (100) TO (200)$$);
SELECT dblink_exec('blocker', 'COMMIT');
SELECT dblink_exec('blocker', 'BEGIN');
SELECT dblink_exec('blocker', 'LOCK inh_parent IN SHARE MODE');
SELECT code, message, detail ~ ('Process ' || :blocker_pid || ' holds ShareLock on inh_parent ') AS names_holder
  FROM sc_catch($$CREATE TABLE inh_child (extra text) INHERITS (inh_parent)$$);
SELECT dblink_exec('blocker', 'COMMIT');
SELECT to_regclass('pt_2') IS NULL AS pt_2_absent, to_regclass('inh_child') IS NULL AS inh_child_absent;
-- Blocker gone: created at once.
CREATE TABLE pt_2 PARTITION OF pt FOR VALUES FROM (100) TO (200);
CREATE TABLE inh_child (extra text) INHERITS (inh_parent);
SELECT inhrelid::regclass, inhparent::regclass FROM pg_inherits
 WHERE inhparent IN ('pt'::regclass, 'inh_parent'::regclass) ORDER BY inhrelid::regclass::text;
-- ALTER TABLE ... DETACH PARTITION locks the parent, the partition and the default partition ACCESS
-- EXCLUSIVE; ... ATTACH PARTITION the attached table and the default partition (the parent SHARE
-- UPDATE EXCLUSIVE). Under guard, the queue-safe way: the reader is named, nothing changes.
CREATE TABLE pt_3 (id int, v text);
SELECT dblink_exec('blocker', 'BEGIN');
SELECT * FROM dblink('blocker', 'SELECT count(*) FROM pt_d') AS t(n bigint);
SELECT code, message, detail ~ ('Process ' || :blocker_pid || ' holds AccessShareLock on pt_d ') AS names_default
  FROM sc_catch($$ALTER TABLE pt DETACH PARTITION pt_1$$);
SELECT code, message, detail ~ ('Process ' || :blocker_pid || ' holds AccessShareLock on pt_d ') AS names_default
  FROM sc_catch($$ALTER TABLE pt ATTACH PARTITION pt_3 FOR VALUES FROM (200) TO (300)$$);
SELECT dblink_exec('blocker', 'COMMIT');
SELECT dblink_exec('blocker', 'BEGIN');
SELECT * FROM dblink('blocker', 'SELECT count(*) FROM pt_1') AS t(n bigint);
SELECT code, message, detail ~ ('Process ' || :blocker_pid || ' holds AccessShareLock on pt_1 ') AS names_partition
  FROM sc_catch($$ALTER TABLE pt DETACH PARTITION pt_1$$);
SELECT dblink_exec('blocker', 'COMMIT');
SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'pt'::regclass ORDER BY inhrelid::regclass::text;
-- Blocker gone: both run at once. A partition that does not exist: PostgreSQL's own error.
ALTER TABLE pt DETACH PARTITION pt_1;
ALTER TABLE pt ATTACH PARTITION pt_3 FOR VALUES FROM (200) TO (300);
ALTER TABLE pt DETACH PARTITION no_such_partition;
SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'pt'::regclass ORDER BY inhrelid::regclass::text;
DROP TABLE pt, pt_1, inh_parent CASCADE;

SELECT dblink_disconnect('blocker');
RESET safe_column.lock_timeout;
RESET safe_column.lock_wait_budget;
