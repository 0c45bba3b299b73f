# Exploits against the worker and the control functions: each asserts that the attacker gained nothing.
#   1. Settings changed by a job's code (the expression, a function it calls, a trigger, an index
#      expression, a column default; SET and set_config(..., false)) do not survive into the worker's
#      session: the reported escalation (search_path leaked, then an operator planted for the worker's
#      bookkeeping) fails, and a job run next by the same worker process sees the server's settings.
#   2. A database owner who renames the extension's schema and puts a schema of its own with forged job
#      tables under the old name gains nothing: the worker and the functions find the real tables by
#      OID; a rename waits while a transaction uses the name; safe_column_watch and the progress line
#      read the real objects.
#   3. A job runs as the table's owner, not as its creator, even when the creator is an admin role the
#      owner is granted to: a trigger the owner adds to a paused job sees only the owner's rights.
#   4. safe_column_wait uses no more memory after a long wait than after a short one.
#   5. A C++ exception in the worker (injected where the worker formats SQL and decides on throttling)
#      fails the job with an error; the server does not restart; the job resumes to completion.
#   6. Retries are bounded (safe_column.max_retries) and a slow expression times out
#      (safe_column.batch_timeout): another role's job queued behind completes; while a step retries,
#      the live reason names the kind of error, never its text.
#   7. safe_column_resume of a running job starts no background worker.
#   8. Live progress is per database: two databases with a job of the same id each see their own.
#   9. A control function's DDL (cancel with drop_column) runs security-restricted with search_path
#      pinned: an event trigger sees pg_catalog only, and what it sets does not outlive the statement.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use SafeColumnTest;

my $node = PostgreSQL::Test::Cluster->new('security');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'safe_column'
autovacuum = off
safe_column.batch_target = 5ms
safe_column.batch_sleep_ratio = 0
safe_column.checkpoint_wal_share = 0
safe_column.checkpoint_min_interval = 0
max_worker_processes = 16
});
$node->start;

sub sql { my ($q, $db) = @_; return $node->safe_psql($db // 'postgres', $q); }

# Run as a role (its own login): (SQLSTATE or 00000, stdout, stderr).
sub as_role { return psql_as($node, @_); }

sub allowed {
    my ($role, $q, $what, $db) = @_;
    my ($c, $out, $err) = as_role($role, $q, $db);
    is($c, '00000', $what) or diag($err);
    return $out;
}

sub job_state { my ($job, $db) = @_; return sql("SELECT state FROM safe_column_jobs WHERE job_id = $job", $db); }

sub wait_state {
    my ($job, $state, $what, $db) = @_;
    return wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $job", $state, $what, $db);
}

sub is_super { my ($role) = @_; return sql("SELECT rolsuper FROM pg_roles WHERE rolname = '$role'"); }

sub reload_with {
    my ($settings) = @_;
    sql(join('', map { "ALTER SYSTEM SET $_;\n" } @$settings) . 'SELECT pg_reload_conf();');
    return;
}

sql(q{
CREATE EXTENSION safe_column;
CREATE ROLE mallory LOGIN;
CREATE SCHEMA m AUTHORIZATION mallory;
CREATE ROLE observer LOGIN;
CREATE SCHEMA obs AUTHORIZATION observer;
});

# ---------------------------------------------------------------------------------------------
# 1. Settings changed by the job's code stay in the job's code.

# The reproduction, as reported.
allowed('mallory', q{
CREATE TABLE m.t(id int); INSERT INTO m.t SELECT generate_series(1,100);
CREATE FUNCTION m.eq(bigint,bigint) RETURNS bool LANGUAGE plpgsql AS $$BEGIN
  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname=current_user) THEN EXECUTE 'ALTER ROLE mallory SUPERUSER'; END IF;
  RETURN $1 OPERATOR(pg_catalog.=) $2; END$$;
CREATE OPERATOR m.= (LEFTARG=bigint, RIGHTARG=bigint, FUNCTION=m.eq);
}, '1: mallory plants an operator');
my $j1 = allowed('mallory',
    q{SELECT safe_add_column('m.t','x','text', backfill_expr => $$pg_catalog.set_config('search_path','m, pg_catalog',false)$$)},
    '1: mallory queues the reported job');
wait_state($j1, 'complete', '1: the job completes');
is(is_super('mallory'), 'f', '1: mallory is not a superuser');
is(sql('SELECT count(*) FILTER (WHERE x = $$m, pg_catalog$$) FROM m.t'), '100',
    '1: the expression did run (set_config returned its value in every row)');

# The variants, all queued in one transaction (so that one worker process runs them in a row), then a
# job of another role whose expression reads the settings the worker then has.
allowed('mallory', q{
CREATE TABLE m.v(id int PRIMARY KEY, pad text) WITH (fillfactor = 100);
INSERT INTO m.v SELECT g, repeat('p', 40) FROM generate_series(1, 2000) g;
-- a function the expression calls
CREATE FUNCTION m.leak_in_call(i int) RETURNS int LANGUAGE plpgsql AS $$BEGIN
  PERFORM pg_catalog.set_config('work_mem', '11MB', false);
  PERFORM pg_catalog.set_config('search_path', 'm, pg_catalog', false);
  RETURN i; END$$;
-- a trigger
CREATE FUNCTION m.leak_in_trigger() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN
  SET search_path = m, pg_catalog; SET maintenance_work_mem = '12MB';
  RETURN NEW; END$$;
CREATE TABLE m.trg(id int, pad text); INSERT INTO m.trg SELECT g, 'x' FROM generate_series(1, 500) g;
CREATE TRIGGER leak BEFORE UPDATE ON m.trg FOR EACH ROW EXECUTE FUNCTION m.leak_in_trigger();
-- an index expression (the updates are not HOT: full pages)
CREATE FUNCTION m.leak_in_index(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN
  PERFORM pg_catalog.set_config('statement_timeout', '13ms', false);
  PERFORM pg_catalog.set_config('search_path', 'm, pg_catalog', false);
  RETURN i; END$$;
CREATE INDEX ON m.v (m.leak_in_index(id));
-- a volatile column default
CREATE FUNCTION m.leak_in_default() RETURNS int LANGUAGE plpgsql VOLATILE AS $$BEGIN
  PERFORM pg_catalog.set_config('temp_buffers', '14MB', false);
  PERFORM pg_catalog.set_config('search_path', 'm, pg_catalog', false);
  RETURN 1; END$$;
}, '1: mallory prepares a function, a trigger, an index expression and a default that change settings');
allowed('observer', q{
CREATE TABLE obs.t(id int); INSERT INTO obs.t SELECT generate_series(1, 50);
}, '1: observer has a table of its own');
my $expected = sql(q{SELECT string_agg(name || '=' || current_setting(name), ',' ORDER BY name)
                       FROM unnest('{work_mem,maintenance_work_mem,statement_timeout,temp_buffers}'::text[]) name});
my $ids = sql(q{
BEGIN;
SET ROLE mallory;
SELECT safe_add_column('m.v', 'a', 'int', backfill_expr => 'm.leak_in_call(id)');
SELECT safe_add_column('m.trg', 'b', 'int', backfill_expr => 'id');
SELECT safe_add_column('m.v', 'c', 'int', backfill_expr => 'id + 1');
SELECT safe_add_column('m.v', 'd', 'int', default_expr => 'm.leak_in_default()');
SELECT safe_add_column('m.trg', 'p', 'int', backfill_expr => 'pg_catalog.pg_backend_pid()');
RESET ROLE;
SET ROLE observer;
SELECT safe_add_column('obs.t', 'seen', 'text', backfill_expr => $$pg_catalog.pg_backend_pid()::text
  || '|maintenance_work_mem=' || pg_catalog.current_setting('maintenance_work_mem')
  || ',statement_timeout=' || pg_catalog.current_setting('statement_timeout')
  || ',temp_buffers=' || pg_catalog.current_setting('temp_buffers')
  || ',work_mem=' || pg_catalog.current_setting('work_mem')$$);
COMMIT;
});
my @jobs = split /\n/, $ids;
is(scalar(@jobs), 6, '1: six jobs queued');
wait_state($_, 'complete', "1: job $_ completes") for @jobs;
is(is_super('mallory'), 'f', '1: mallory is still not a superuser');
is(sql(q{SELECT count(*) FROM m.v WHERE a = id AND c = id + 1 AND d = 1}), '2000', '1: the variants did run');
is(sql(q{SELECT count(*) FROM m.trg WHERE b = id}), '500', '1: the trigger variant did run');
my @seen = split /\n/, sql(q{SELECT DISTINCT seen FROM obs.t});
is(scalar(@seen), 1, '1: the observing job saw one state');
my ($seen_pid, $seen_settings) = split /\|/, $seen[0];
is($seen_settings, $expected, "1: the next job of the same worker sees the server's settings ($expected)");
is(sql(q{SELECT string_agg(DISTINCT p::text, ',') FROM m.trg}), $seen_pid,
    "1: in the same worker process ($seen_pid) as mallory's jobs");

# ---------------------------------------------------------------------------------------------
# 2. A database owner swaps the extension's schema.
sql(q{
CREATE ROLE dbo LOGIN;
CREATE DATABASE secdb OWNER dbo;
});
sql(q{
CREATE EXTENSION safe_column;
CREATE TABLE su_t(id int); INSERT INTO su_t SELECT generate_series(1, 100);
CREATE TABLE legit(id int); INSERT INTO legit SELECT generate_series(1, 100);
}, 'secdb');
is(sql(q{SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'}, 'secdb'), 'pg_database_owner',
    '2: public belongs to the database owner');
# A job of the superuser's, held inside a batch (by a gate in a schema of the superuser's), so that the
# worker runs while dbo swaps the schema.
sql(q{
CREATE SCHEMA sgate;
CREATE TABLE sgate.g(id int);
INSERT INTO sgate.g VALUES (50);
CREATE FUNCTION sgate.hold(i int) RETURNS int LANGUAGE plpgsql AS $$BEGIN
  WHILE EXISTS (SELECT 1 FROM sgate.g WHERE id = i) LOOP PERFORM pg_catalog.pg_sleep(0.01); END LOOP;
  RETURN i; END$$;
CREATE TABLE sgate.held(id int); INSERT INTO sgate.held SELECT generate_series(1, 100);
}, 'secdb');
my $j2_held = sql(q{SELECT safe_add_column('sgate.held', 'h', 'int', backfill_expr => 'sgate.hold(id)')}, 'secdb');
worker_gated($node, 'secdb', $j2_held, '2: the worker of secdb runs a job');
# The forged job: on a superuser's table, "created" by the bootstrap superuser, with code of dbo's.
my $forger = $node->background_psql('secdb', extra_params => ['-U', 'dbo']);
$forger->query_until(qr/forging/, q{\echo forging
BEGIN;
ALTER SCHEMA public RENAME TO public_old;
CREATE SCHEMA public;
CREATE SCHEMA evil;
CREATE FUNCTION evil.pwn() RETURNS int LANGUAGE plpgsql AS $$BEGIN
  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN EXECUTE 'ALTER ROLE dbo SUPERUSER'; END IF;
  RETURN 1; END$$;
CREATE TABLE public.safe_column_job_store (
    job_id bigint PRIMARY KEY, relid oid, schema_name name, table_name name, attnum smallint, column_name name,
    column_type text, default_expr text, backfill_expr text, not_null boolean, state text, created_by oid,
    search_path text, created_at timestamptz DEFAULT now(), started_at timestamptz, finished_at timestamptz,
    lock_attempts integer DEFAULT 0, lock_wait_ms double precision DEFAULT 0, error text, phase text,
    fill_expr text, new_rows_get_value boolean DEFAULT true, constraint_name name, rows_total bigint,
    rows_done bigint DEFAULT 0, sweep_rows bigint DEFAULT 0, sweep_passes integer DEFAULT 0, pass_rows bigint DEFAULT 0,
    batches bigint DEFAULT 0, wal_bytes bigint DEFAULT 0, throttled_ms double precision DEFAULT 0,
    throttle_stats jsonb DEFAULT '{}', pause_reason text, settings jsonb DEFAULT '{}');
CREATE TABLE public.safe_column_job_part (job_id bigint, relid oid, end_block bigint, next_block bigint DEFAULT 0,
    done boolean DEFAULT false);
INSERT INTO public.safe_column_job_store (job_id, relid, schema_name, table_name, attnum, column_name, column_type,
    not_null, state, created_by, search_path, phase, fill_expr)
SELECT 0, 'public_old.su_t'::regclass, 'public', 'su_t', 1, 'id', 'integer', false, 'queued', 10, '', 'backfill',
       'evil.pwn()';
INSERT INTO public.safe_column_job_part (job_id, relid, end_block) SELECT 0, 'public_old.su_t'::regclass, 1;
INSERT INTO public.safe_column_job_store (job_id, relid, schema_name, table_name, attnum, column_name, column_type,
    not_null, state, created_by, search_path, phase, fill_expr)
SELECT j, 'public_old.su_t'::regclass, 'public', 'su_t', 1, 'id', 'integer', false, 'backfilling', 10, '', 'backfill',
       'evil.pwn()' FROM generate_series(1, 9) j;
INSERT INTO public.safe_column_job_part (job_id, relid, end_block) SELECT j, 'public_old.su_t'::regclass, 1
  FROM generate_series(1, 9) j;
COMMIT;
\echo forged
});
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'dbo' AND wait_event_type = 'Lock'}, '1',
    "2: dbo's rename of the schema waits for the worker's transaction", 'secdb');
sql(q{DELETE FROM sgate.g}, 'secdb');
ok($forger->query_until(qr/forged/, ''), '2: then dbo renames public and forges job tables under its name');
$forger->quit;
wait_for($node, "SELECT state FROM public_old.safe_column_jobs WHERE job_id = $j2_held", 'complete',
    '2: the running job goes on in the real tables and completes', 'secdb');
my $j2 = sql(q{SELECT public_old.safe_add_column('public_old.legit', 'c', 'int', backfill_expr => 'id * 2')}, 'secdb');
is($j2, '2', '2: a new job is recorded in the real job table');
wait_for($node, "SELECT state FROM public_old.safe_column_jobs WHERE job_id = $j2", 'complete', '2: and completes', 'secdb');
is(sql(q{SELECT count(*) FROM public_old.legit WHERE c = id * 2}, 'secdb'), '100', '2: with its values');
is(is_super('dbo'), 'f', '2: dbo is not a superuser: the forged job never ran');
is(sql(q{SELECT string_agg(DISTINCT state, ',') FROM public.safe_column_job_store}, 'secdb'), 'backfilling,queued',
    '2: the forged table was not touched');
is(sql(q{SELECT count(*) FROM public_old.su_t}, 'secdb'), '100', "2: nor the superuser's table");
my ($c2, $out2, $err2) = as_role('postgres', "CALL public_old.safe_column_watch($j2)", 'secdb');
is($c2, '00000', '2: safe_column_watch reads the real jobs after the rename') or diag($err2);
is(sql("SELECT public_old.safe_column_progress_line($j2)", 'secdb') =~ /^safe_column job 2: complete/ ? 1 : 0, 1,
    '2: the progress line reads the real view after the rename');
# While a transaction uses the name (a job was queued in it), the schema cannot be renamed.
my $open = $node->background_psql('secdb');
$open->query_safe(q{BEGIN; SELECT public_old.safe_add_column('public_old.legit', 'e', 'int', backfill_expr => 'id'); SELECT 1});
my ($c2b, $o2b, $e2b) = as_role('dbo', q{SET lock_timeout = '300ms'; ALTER SCHEMA public_old RENAME TO public_x}, 'secdb');
is($c2b, '55P03', '2: a rename of the schema waits for the transaction that uses its name') or diag($e2b);
$open->query_safe('ROLLBACK');
$open->quit;

# ---------------------------------------------------------------------------------------------
# 3. The table's owner, not the job's creator, runs the job's code.
sql(q{
CREATE ROLE app LOGIN;
CREATE ROLE admin LOGIN CREATEROLE;
GRANT app TO admin;
CREATE SCHEMA appsch AUTHORIZATION app;
});
allowed('app', q{
CREATE TABLE appsch.t(id int); INSERT INTO appsch.t SELECT generate_series(1, 200);
CREATE TABLE appsch.audit(who text, super boolean);
}, '3: app owns a table');
my $j3 = allowed('admin', q{BEGIN;
SELECT safe_add_column('appsch.t', 'who', 'text', backfill_expr => 'current_user::text') AS j \gset
SELECT :j;
SELECT safe_column_pause(:j);
COMMIT;}, '3: admin, a member of app, queues a job paused');
($j3) = split /\n/, $j3;
allowed('app', qq{
CREATE FUNCTION appsch.note() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN
  INSERT INTO appsch.audit SELECT current_user,
         (SELECT rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user);
  RETURN NEW; END\$\$;
CREATE TRIGGER note BEFORE UPDATE ON appsch.t FOR EACH ROW EXECUTE FUNCTION appsch.note();
SELECT safe_column_resume($j3);
}, '3: app adds a trigger and resumes the job');
wait_state($j3, 'complete', '3: the job completes');
is(sql(q{SELECT string_agg(DISTINCT who, ',') FROM appsch.t}), 'app', '3: the expression ran as app');
is(sql(q{SELECT string_agg(DISTINCT who || ':' || super, ',') FROM appsch.audit}), 'app:false',
    "3: the trigger ran as app, without admin's rights");

# ---------------------------------------------------------------------------------------------
# Jobs held inside a batch for as long as a test needs (SafeColumnTest's gate).
sql(gate_sql());
sql(q{
CREATE TABLE held(id int PRIMARY KEY); INSERT INTO held SELECT generate_series(1, 100);
INSERT INTO public.sc_gate VALUES ('held', 50);
});
my $j_held = sql(q{SELECT safe_add_column('held', 'h', 'int', backfill_expr => 'public.sc_gated(''held'', id, id)')});
worker_gated($node, 'postgres', $j_held, 'a job is held inside a batch');

# ---------------------------------------------------------------------------------------------
# 4. safe_column_wait: memory bounded.
sub memory_used {
    my ($pid, $what) = @_;
    my $offset = -s $node->logfile;
    sql("SELECT pg_log_backend_memory_contexts($pid)");
    my $used;
    for (1 .. 200) {
        my $log = slurp_file($node->logfile, $offset);
        if ($log =~ /\[$pid\][^\n]*LOG:  Grand total: \d+ bytes in \d+ blocks; \d+ free \(\d+ chunks\); (\d+) used/) {
            $used = $1;
            last;
        }
        usleep(50_000);
    }
    ok(defined $used, "4: memory of the waiting session logged ($what)");
    return $used // 0;
}
my $waiter = $node->background_psql('postgres');
$waiter->query_until(qr/waiting/, "\\echo waiting\nSELECT safe_column_wait($j_held, '9s');\n");
my $wpid;
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT safe_column_wait(%'}, '1',
    '4: a session waits for the held job');
$wpid = sql(q{SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT safe_column_wait(%'});
wait_for($node, qq{SELECT now() - query_start > interval '2 s' FROM pg_stat_activity WHERE pid = $wpid}, 't',
    '4: the session has waited 2 s');
my $early = memory_used($wpid, 'after 2 s');
wait_for($node, qq{SELECT now() - query_start > interval '8 s' FROM pg_stat_activity WHERE pid = $wpid}, 't',
    '4: the session has waited 8 s');
my $late = memory_used($wpid, 'after 8 s');
cmp_ok($late - $early, '<', 64 * 1024, "4: 30 polls later it uses no more memory ($early -> $late bytes)");
$waiter->query_until(qr/done/, "\\echo done\n");
$waiter->quit;

# ---------------------------------------------------------------------------------------------
# 7. Resuming a running job starts no worker.
reload_with(['log_min_messages = debug1']);
wait_for($node, q{SELECT setting FROM pg_settings WHERE name = 'log_min_messages'}, 'debug1', '7: debug1 logged');
my $offset7 = -s $node->logfile;
sql(join("\n", map { "SELECT safe_column_resume($j_held);" } 1 .. 100));
reload_with(['log_min_messages = warning']);
my $log7 = slurp_file($node->logfile, $offset7);
my $starts = () = $log7 =~ /starting background worker process "safe_column worker/g;
is($starts, 0, '7: 100 resumes of a running job started no background worker');
is(job_state($j_held), 'backfilling', '7: the job is still running');

# ---------------------------------------------------------------------------------------------
# 8. Live progress per database: job 1 of another database, held the same way.
sql('CREATE DATABASE otherdb');
sql(q{CREATE EXTENSION safe_column;
      CREATE TABLE held2(id int PRIMARY KEY); INSERT INTO held2 SELECT generate_series(1, 100);} . gate_sql()
      . q{INSERT INTO public.sc_gate VALUES ('held2', 50);}, 'otherdb');
my $j_other = sql(q{SELECT safe_add_column('held2', 'h', 'int', backfill_expr => 'public.sc_gated(''held2'', id, id)')},
    'otherdb');
is($j_other, '1', '8: the other database has a job 1');
my ($other_pid) = worker_gated($node, 'otherdb', $j_other, '8: the other job is held too');
my $pid_here = sql(q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'safe_column worker' AND datname = 'postgres'});
is(sql(q{SELECT string_agg(job_id || ':' || worker_pid, ',') FROM safe_column_live()}), "$j_held:$pid_here",
    '8: this database sees only its own running job');
is(sql(q{SELECT state || ' ' || (worker_pid IS NULL) FROM safe_column_progress WHERE job_id = 1}), 'complete true',
    "8: its job 1 (complete) shows no worker, not the other database's");
is(sql(q{SELECT string_agg(job_id || ':' || worker_pid, ',') FROM safe_column_live()}, 'otherdb'), "1:$other_pid",
    "8: the other database sees only its own job 1, with its worker");
is(sql(q{SELECT worker_pid FROM safe_column_progress WHERE job_id = 1}, 'otherdb'), $other_pid,
    '8: its progress shows its own worker');
sql(q{DELETE FROM public.sc_gate}, 'otherdb');
wait_state($j_other, 'complete', '8: the other job completes', 'otherdb');

# ---------------------------------------------------------------------------------------------
# 6. Retries bounded, slow expressions time out, reasons without the error's text.
allowed('mallory', q{
CREATE TABLE m.flag(on_ boolean);
INSERT INTO m.flag VALUES (true);
CREATE FUNCTION m.flaky(i int) RETURNS int LANGUAGE plpgsql AS $$BEGIN
  IF i = 7 AND EXISTS (SELECT 1 FROM m.flag) THEN
    RAISE EXCEPTION 'secret-value-4711' USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN i; END$$;
CREATE TABLE m.r(id int); INSERT INTO m.r SELECT generate_series(1, 100);
CREATE TABLE m.r2(id int); INSERT INTO m.r2 SELECT generate_series(1, 100);
CREATE TABLE m.slow(id int); INSERT INTO m.slow SELECT generate_series(1, 100);
}, '6: mallory has a function that raises a retryable error');
sql(q{DELETE FROM public.sc_gate});
wait_state($j_held, 'complete', '6: the held job completes');
my $j6 = allowed('mallory', q{SELECT safe_add_column('m.r', 'f', 'int', backfill_expr => 'm.flaky(id)')},
    '6: a job whose expression raises 40001');
wait_for($node, "SELECT throttle_reason LIKE 'retrying after a serialization failure (SQLSTATE 40001), retry % of 100'"
      . " FROM safe_column_progress WHERE job_id = $j6", 't', '6: the live reason names the kind of error and the retries');
unlike(sql("SELECT string_agg(coalesce(throttle_reason, ''), ',') FROM safe_column_live()"), qr/secret/,
    '6: but not its text');
allowed('mallory', 'DELETE FROM m.flag', '6: the cause goes away');
wait_state($j6, 'complete', '6: then the job completes');
allowed('mallory', 'INSERT INTO m.flag VALUES (true)', '6: the cause is back');
reload_with(['safe_column.max_retries = 3', "safe_column.batch_timeout = '1s'"]);
wait_for($node, q{SELECT setting FROM pg_settings WHERE name = 'safe_column.batch_timeout'}, '1000', '6: settings reloaded');
my $j6b = allowed('mallory', q{SELECT safe_add_column('m.r2', 'f', 'int', backfill_expr => 'm.flaky(id)')},
    '6: the same job with max_retries = 3');
wait_state($j6b, 'failed', '6: fails');
like(sql("SELECT error FROM safe_column_jobs WHERE job_id = $j6b"),
    qr/^gave up after 3 retries \(safe_column.max_retries\): secret-value-4711/, '6: saying it gave up, and why');
my $ids6 = sql(q{
BEGIN;
SET ROLE mallory;
SELECT safe_add_column('m.slow', 's', 'int', backfill_expr => 'id + 0 * length(pg_catalog.pg_sleep(3600)::text)');
RESET ROLE;
SET ROLE observer;
SELECT safe_add_column('obs.t', 'after', 'int', backfill_expr => 'id');
COMMIT;
});
my ($j_slow, $j_after) = split /\n/, $ids6;
wait_state($j_slow, 'failed', '6: a job whose expression sleeps fails');
like(sql("SELECT error FROM safe_column_jobs WHERE job_id = $j_slow"),
    qr/ran longer than safe_column.batch_timeout \(1000 ms\)/, '6: saying it ran longer than batch_timeout');
wait_state($j_after, 'complete', "6: another role's job queued behind it completes");
reload_with(['safe_column.max_retries = 100', "safe_column.batch_timeout = '60s'"]);

# ---------------------------------------------------------------------------------------------
# 5. A C++ exception in the worker: the job fails, the server stays up.
my $start_time = sql('SELECT pg_postmaster_start_time()');
my $offset5 = -s $node->logfile;
sql(q{CREATE TABLE f1(id int); INSERT INTO f1 SELECT generate_series(1, 100);
      CREATE TABLE f2(id int); INSERT INTO f2 SELECT generate_series(1, 100);
      CREATE TABLE f3(id int); INSERT INTO f3 SELECT generate_series(1, 100);});
my %fault_job;
for my $point (['fill_batch', 'f1', 'false'], ['throttle', 'f2', 'false'], ['ddl', 'f3', 'true']) {
    my ($where, $table, $nn) = @$point;
    reload_with(["safe_column.debug_inject_fault = '$where'"]);
    wait_for($node, q{SELECT current_setting('safe_column.debug_inject_fault')}, $where, "5: fault injected at $where");
    my $j = sql(qq{SELECT safe_add_column('$table', 'c', 'int', backfill_expr => 'id', not_null => $nn)});
    wait_state($j, 'failed', "5: $where: the job fails");
    like(sql("SELECT error FROM safe_column_jobs WHERE job_id = $j"), qr/out of memory/, "5: $where: with the exception's error");
    $fault_job{$where} = $j;
}
reload_with(["safe_column.debug_inject_fault = ''"]);
wait_for($node, q{SELECT current_setting('safe_column.debug_inject_fault')}, '', '5: no fault injected');
is(sql('SELECT pg_postmaster_start_time()'), $start_time, '5: the server did not restart');
my $log5 = slurp_file($node->logfile, $offset5);
unlike($log5, qr/terminated by signal|server process .* was terminated|terminate called/, '5: no process crashed');
for my $where (sort keys %fault_job) {
    sql("SELECT safe_column_resume($fault_job{$where})");
    wait_state($fault_job{$where}, 'complete', "5: $where: resumed, the job completes");
}
is(sql(q{SELECT (SELECT count(*) FROM f1 WHERE c = id) + (SELECT count(*) FROM f2 WHERE c = id)
                + (SELECT count(*) FROM f3 WHERE c = id)}), '300', '5: with every value');

# ---------------------------------------------------------------------------------------------
# 9. A control function's DDL: security-restricted, search_path pinned, nothing set survives.
sql(q{
CREATE TABLE public.ddl_seen(who text, path text, restricted text);
GRANT INSERT ON public.ddl_seen TO PUBLIC;
CREATE FUNCTION public.ddl_spy() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE r text := 'no';
BEGIN
  BEGIN
    CREATE TEMP TABLE spy_tmp(x int);
  EXCEPTION WHEN OTHERS THEN r := SQLERRM;
  END;
  INSERT INTO public.ddl_seen VALUES (current_user, pg_catalog.current_setting('search_path'), r);
  PERFORM pg_catalog.set_config('work_mem', '15MB', false);
END$$;
CREATE EVENT TRIGGER ddl_spy ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION public.ddl_spy();
});
allowed('observer', q{CREATE TABLE obs.c(id int); INSERT INTO obs.c SELECT generate_series(1, 10)}, '9: a table');
my $j9 = allowed('observer', q{BEGIN;
SELECT safe_add_column('obs.c', 'z', 'int', backfill_expr => 'id') AS j \gset
SELECT safe_column_pause(:j);
COMMIT;
SELECT :j;}, '9: observer queues a job, paused');
($j9) = grep { /^\d+$/ } split /\n/, $j9;
sql('TRUNCATE public.ddl_seen');
my $out9 = allowed('observer', qq{SET search_path = obs, public;
SELECT safe_column_cancel($j9, drop_column => true);
SHOW work_mem;}, '9: observer cancels it, dropping the column');
my (undef, $wm) = split /\n/, $out9;
isnt($wm, '15MB', "9: the event trigger's setting did not survive ($wm)");
my $seen9 = sql(q{SELECT who || '|' || path || '|' || restricted FROM public.ddl_seen});
like($seen9, qr/^observer\|pg_catalog, pg_temp\|cannot create temporary table within security-restricted operation$/,
    '9: the event trigger ran as the owner, with search_path pinned, security-restricted');
sql('DROP EVENT TRIGGER ddl_spy');

$node->stop;
done_testing();
