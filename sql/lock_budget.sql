-- Queue-safe locking: give up within the budget, name the blockers, fail fast when waiting would
-- prolong the caller's own strong locks. The blocker is another backend, driven through dblink.
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

SELECT dblink_disconnect('blocker');
RESET safe_column.lock_timeout;
RESET safe_column.lock_wait_budget;
