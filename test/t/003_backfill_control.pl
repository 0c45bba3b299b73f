# Backfill control and observability:
#   1. batches are TID Range Scans (auto_explain in the worker);
#   2. pause / resume of a running job; cancel with drop_column of a NOT NULL job in its validate phase;
#   3. a failing expression names its row, safe_column_wait raises it, resume after the fix;
#   4. rolling back the creating transaction leaves nothing and starts no worker;
#   5. NOTIFY safe_column payloads at every state change;
#   6. safe_column_wait's progress NOTICE;
#   7. safe_column_progress while running (worker pid, percent, batch, throttling);
#   8. without shared_preload_libraries: workers start on demand, no live columns;
#   9. safe_column.throttle = off.
# No fixed sleeps: asynchronous work is awaited by polling with deadlines, and "nothing happens" is
# proved against a later event that would have come after it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use SafeColumnTest;

# ---------------------------------------------------------------------------------------------
# Helpers

sub sql { my ($node, $q, $db) = @_; return $node->safe_psql($db // 'postgres', $q); }

sub job_field {
    my ($node, $job, $field, $db) = @_;
    return sql($node, "SELECT $field FROM safe_column_jobs WHERE job_id = $job", $db);
}

sub wait_state {
    my ($node, $job, $state, $what, $db) = @_;
    return wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $job", $state, $what, $db);
}

# The worker has let go of the job (its live slot is released when it leaves the job).
sub wait_not_live {
    my ($node, $job, $what) = @_;
    return wait_for($node, "SELECT count(*) FROM safe_column_live() WHERE job_id = $job", '0', $what);
}

sub worker_count {
    my ($node, $db) = @_;
    return sql($node, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker'"
          . ($db ? " AND datname = '$db'" : ''));
}

# Create a job paused, in one transaction; returns its id.
sub create_paused {
    my ($node, $call, $db) = @_;
    my $out = sql($node, qq{
        BEGIN;
        SELECT $call;
        SELECT safe_column_pause(currval(pg_get_serial_sequence('safe_column_job_store', 'job_id')));
        COMMIT;
    }, $db);
    my ($job, $state) = split /\n/, $out;
    die "unexpected: $out" unless $state eq 'paused';
    return $job;
}

# The server log, from an offset, as entries (an entry goes on over its tab-indented lines).
sub log_entries {
    my ($node, $offset) = @_;
    my $text = slurp_file($node->logfile, $offset);
    return split /\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[\d+\])/, $text;
}

# ---------------------------------------------------------------------------------------------
# Node A: the library preloaded, with auto_explain for the plans of the worker's statements.

my $node = PostgreSQL::Test::Cluster->new('control');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'safe_column,auto_explain'
auto_explain.log_min_duration = 0
auto_explain.log_nested_statements = on
auto_explain.log_analyze = off
autovacuum = off
safe_column.batch_target = 10ms
safe_column.batch_sleep_ratio = 2
});
$node->start;
sql($node, q{
    CREATE EXTENSION safe_column;
    CREATE TABLE t_plan (id int PRIMARY KEY, v int NOT NULL);
    INSERT INTO t_plan SELECT g, g FROM generate_series(1, 10000) g;
});
is(sql($node, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column launcher'}), '1',
    'with the library preloaded, the launcher runs');

# ---------------------------------------------------------------------------------------------
# 1. Batches use a TID Range Scan. A row of the table is held locked by another session during the
# backfill, so that both forms of batch run: the direct UPDATE over a block range (the fast path), and,
# for the range where it timed out on that row lock, the one that first locks what it can FOR UPDATE
# SKIP LOCKED. The job is created paused, so that it cannot start before the row is locked.

my $log_offset = -s $node->logfile;
my $j_plan = create_paused($node, q{safe_add_column('t_plan', 'w', 'int', backfill_expr => 'v * 2', not_null => true)});
my $plan_lock = $node->background_psql('postgres');
$plan_lock->query_safe('BEGIN');
$plan_lock->query_safe('SELECT id FROM t_plan WHERE id = 5000 FOR UPDATE');
sql($node, "SELECT safe_column_resume($j_plan)");
wait_for($node, qq{SELECT phase || ' ' || throttle_reason FROM safe_column_progress WHERE job_id = $j_plan},
    'sweep rows locked by other transactions', '1: the sweep waits for the locked row');
$plan_lock->query_safe('COMMIT');
$plan_lock->quit;
wait_state($node, $j_plan, 'complete', '1: the job completed');
is(sql($node, q{SELECT count(*) FROM t_plan WHERE w IS DISTINCT FROM v * 2}), '0', '1: every row holds exactly its value');

my @entries = log_entries($node, $log_offset);
my @batch_plans = grep { /plan:\n\s*Query Text: UPDATE ONLY public\.t_plan SET w = / } @entries;
my @direct = grep { !/SKIP LOCKED/ } @batch_plans;
my @skip_locked = grep { /Query Text: [^\n]*FOR UPDATE SKIP LOCKED/ } @batch_plans;
my $batches = job_field($node, $j_plan, 'batches');
cmp_ok(scalar(@batch_plans), '>=', $batches, '1: the plan of every batch the job counted is in the log');
cmp_ok(scalar(@direct), '>=', 2, '1: direct batches ran');
cmp_ok(scalar(@skip_locked), '>=', 1, '1: a SKIP LOCKED batch ran for the range with the locked row');
is(scalar(@direct) + scalar(@skip_locked), scalar(@batch_plans), '1: every batch is of one of the two forms');

# The Tid Range Scan's condition is the batch's block range: the two parameters of the one kept plan
# every batch of the part runs ($1 and $2, the TIDs of its first block and of the block after its last;
# a generic plan, so the condition shows them as parameters, not as the values of one batch). That the
# ranges cover the table is what the exact values above check.
sub scans_its_range {
    my ($plan, $scan) = @_;
    return 0 unless $plan =~ /Query Text: [^\n]*ctid >= \$1 AND ctid < \$2/;
    return $plan =~ /\Q$scan\E  \(cost=[^\n]*\n\s*TID Cond: \(\(ctid >= \$1\) AND \(ctid < \$2\)\)/;
}
is(scalar(grep { !(/\n\s*Update on t_plan  \(cost=[^\n]*\n\s*->  Tid Range Scan on t_plan  \(/ && scans_its_range($_, 'Tid Range Scan on t_plan')) } @direct),
    0, '1: every direct batch is an UPDATE over a Tid Range Scan of its block range');
is(scalar(grep { !(/LockRows/ && scans_its_range($_, 'Tid Range Scan on t_plan t_plan_1')) } @skip_locked), 0,
    '1: every SKIP LOCKED batch locks its rows from a Tid Range Scan of its block range');
# (The array's InitPlan shows as $0 up to 16, as (InitPlan 1).col1 from 17.)
is(scalar(grep { !/->  Tid Scan on t_plan  \(cost=[^\n]*\n\s*TID Cond: \(ctid = ANY \((?:\$\d+|\(InitPlan \d+\)\.col\d+)\)\)/ } @skip_locked), 0,
    '1: and updates them through a Tid Scan on their ctids');
is(scalar(grep { /(Seq|Index|Index Only|Bitmap Heap) Scan (using \S+ )?on t_plan/ } @batch_plans), 0,
    '1: no batch scans the table sequentially or through an index');
note "a direct batch:\n$direct[0]" if @direct;
note "a SKIP LOCKED batch:\n$skip_locked[0]" if @skip_locked;

# The batch's planner settings (every scan but TID ones off) are scoped to the batch statement: the
# bookkeeping UPDATEs after it are planned normally, and no statement of the worker is JIT-compiled
# (a disabled scan's cost would cross jit_above_cost and hold the batch's row locks for 100s of ms).
my %worker_pid = map { /^\S+ \S+ \S+ \[(\d+)\]/ ? ($1 => 1) : () } @batch_plans;
my @worker_plans = grep { /^\S+ \S+ \S+ \[(\d+)\].*plan:/ && $worker_pid{$1} } @entries;
my @jitted = grep { /\n\s*JIT:/ } @worker_plans;
is(scalar(@jitted), 0, '1: no statement of the worker is JIT-compiled (its batch settings do not leak into its bookkeeping)')
  or diag('e.g. ' . substr($jitted[0], 0, 900));

# The rest of this file does not need the plans; JIT is turned off so that the bug above does not
# slow every batch down (the timings below assume batches of about safe_column.batch_target).
sql($node, q{ALTER SYSTEM SET auto_explain.log_min_duration = -1; ALTER SYSTEM SET jit = off; SELECT pg_reload_conf();});
wait_for($node, q{SELECT current_setting('jit') || current_setting('auto_explain.log_min_duration')}, 'off-1',
    'configuration reloaded: jit off, auto_explain quiet');

# ---------------------------------------------------------------------------------------------
# 7. safe_column_progress of a running job, and 2. pause / resume of a running job, 6. the NOTICE of
# safe_column_wait.

sql($node, q{
    CREATE TABLE t_big (id int PRIMARY KEY, v int NOT NULL);
    INSERT INTO t_big SELECT g, g FROM generate_series(1, 300000) g;
    CREATE TABLE t_small (id int PRIMARY KEY);
    INSERT INTO t_small SELECT g FROM generate_series(1, 1000) g;
});
my $j_big = sql($node, q{SELECT safe_add_column('t_big', 'w', 'bigint', backfill_expr => 'v::bigint * 3')});
wait_for($node, qq{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker'
                    AND query LIKE 'safe_column job $j_big: backfill w blocks %-% of public.t_big'}, '1',
    "7: the worker's pg_stat_activity.query names the job, the phase and the batch's blocks");
wait_for($node, qq{SELECT batch_rows > 0 FROM safe_column_progress WHERE job_id = $j_big}, 't',
    '7: the live columns show a batch');
is(sql($node, qq{
    SELECT p.state, p.phase, p.worker_pid = a.pid, p.percent BETWEEN 0 AND 100, p.batch_rows > 0, p.last_batch_ms > 0,
           p.rows_done > 0 AND p.rows_done < 300000
      FROM safe_column_progress p, pg_stat_activity a
     WHERE p.job_id = $j_big AND a.backend_type = 'safe_column worker'}),
    'backfilling|backfill|t|t|t|t|t',
    '7: while running: worker_pid is the worker of pg_stat_activity, percent within 0-100, batch_rows and last_batch_ms > 0');

# Pause: the call waits for the worker's current step, which then is its last.
is(sql($node, "SELECT safe_column_pause($j_big)"), 'paused', '2: pause returns paused');
wait_state($node, $j_big, 'paused', '2: the job is paused');
wait_not_live($node, $j_big, '2: the worker let go of the paused job');
my $paused_done = job_field($node, $j_big, 'rows_done');
cmp_ok($paused_done, '>', 0, '2: the job was paused after some batches');
cmp_ok($paused_done, '<', 300000, '2: the job was paused mid-backfill');
is(sql($node, 'SELECT count(w) FROM t_big'), $paused_done, '2: rows_done counts exactly the rows filled');
# The worker runs its database's jobs one at a time in job order: once a later job has completed, the
# paused one would have moved if it were still running.
my $j_small = sql($node, q{SELECT safe_add_column('t_small', 'x', 'int', backfill_expr => 'id + 1')});
wait_state($node, $j_small, 'complete', '2: a later job ran to completion meanwhile');
is(sql($node, 'SELECT count(*) FROM t_small WHERE x IS DISTINCT FROM id + 1'), '0', '2: the later job is exact');
is(job_field($node, $j_big, q{state || ' ' || phase || ' ' || rows_done}), "paused backfill $paused_done",
    '2: the paused job did not advance');
is(sql($node, 'SELECT count(w) FROM t_big'), $paused_done, '2: no row was filled while paused');
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker'}, '0',
    '2: no worker stays for a paused job');

# Resume, then wait: NOTICE with the progress, final state complete, exact values.
is(sql($node, "SELECT safe_column_resume($j_big)"), 'backfilling', '2: resume returns backfilling');
my ($ret, $out, $err) = $node->psql('postgres', "SELECT safe_column_wait($j_big)");
is($ret, 0, '6: safe_column_wait succeeded');
is($out, 'complete', '2: the resumed job completed');
like($err, qr/NOTICE:  safe_column job $j_big: (queued|backfilling|validating), phase \w+, [\d.]+%, \d+ of \d+ rows/,
    '6: safe_column_wait reports progress in a NOTICE');
note "safe_column_wait said:\n$err";
is(sql($node, 'SELECT count(*) FROM t_big WHERE w IS DISTINCT FROM v::bigint * 3'), '0',
    '2: every row holds exactly its value after pause and resume');
is(sql($node, "SELECT percent FROM safe_column_progress WHERE job_id = $j_big"), '100.0', '2: progress says 100%');

# ---------------------------------------------------------------------------------------------
# 2. Cancel, with drop_column, of a NOT NULL job in a later phase, its helper CHECK in place (NOT VALID).
# To catch the job there without a race, an event trigger holds the worker's add_check step, right
# after its ADD CONSTRAINT, on an advisory lock the test holds; a pause issued meanwhile waits for that
# step, and takes effect right after it.

sql($node, q{
    CREATE TABLE t_cancel (id int PRIMARY KEY, v int NOT NULL);
    INSERT INTO t_cancel SELECT g, g FROM generate_series(1, 20000) g;
    CREATE FUNCTION hold_after_add_check() RETURNS event_trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT FROM pg_catalog.pg_constraint
                    WHERE conrelid = 'public.t_cancel'::pg_catalog.regclass AND NOT convalidated) THEN
            PERFORM pg_catalog.pg_advisory_xact_lock(4242);
        END IF;
    END
    $$;
    CREATE EVENT TRIGGER hold_after_add_check ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
        EXECUTE FUNCTION hold_after_add_check();
});
my $holder = $node->background_psql('postgres');
$holder->query_safe('SELECT pg_advisory_lock(4242)');
my $j_cancel = sql($node, q{SELECT safe_add_column('t_cancel', 'c', 'int', backfill_expr => 'v', not_null => true)});
my $con = sql($node, "SELECT constraint_name FROM safe_column_job_store WHERE job_id = $j_cancel");
wait_for($node, q{SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                   WHERE a.backend_type = 'safe_column worker' AND l.locktype = 'advisory' AND l.objid = 4242 AND NOT l.granted},
    '1', '2: the worker is held in its add_check step');
my $pauser = $node->background_psql('postgres');
$pauser->query_until(qr/pausing/, "\\echo pausing\nSELECT safe_column_pause($j_cancel);\n");
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT safe_column_pause(%' AND wait_event_type = 'Lock'},
    '1', '2: pause waits for the step in progress');
$holder->query_safe('SELECT pg_advisory_unlock(4242)');
$holder->quit;
ok($pauser->query_until(qr/^paused$/m, ''), '2: then the pause goes through');
$pauser->quit;
wait_not_live($node, $j_cancel, '2: the worker let go of the paused job');
sql($node, 'DROP EVENT TRIGGER hold_after_add_check');
is(job_field($node, $j_cancel, q{state || ' ' || phase}), 'paused validate', '2: paused before its VALIDATE step');
is(sql($node, qq{SELECT convalidated FROM pg_constraint WHERE conrelid = 't_cancel'::regclass AND conname = '$con'}), 'f',
    '2: its helper CHECK exists, NOT VALID');
# (From 18 the NOT VALID constraint is a NOT NULL, which attnotnull already shows; it is not validated.)
is(sql($node, q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 't_cancel'::regclass AND attname = 'c'}),
    native_not_null($node) ? 't' : 'f', '2: the column is not NOT NULL yet (no validated constraint)');
is(sql($node, "SELECT safe_column_cancel($j_cancel, drop_column => true)"), 'cancelled', '2: cancel with drop_column');
is(job_field($node, $j_cancel, q{state || ' ' || (finished_at IS NOT NULL)}), 'cancelled true', '2: the job is cancelled and finished');
is(sql($node, q{SELECT count(*) FROM pg_attribute WHERE attrelid = 't_cancel'::regclass AND attname = 'c' AND NOT attisdropped}),
    '0', '2: the column is gone');
is(sql($node, qq{SELECT count(*) FROM pg_constraint WHERE conname = '$con'}), '0', '2: the helper CHECK is gone');
is(sql($node, q{SELECT count(*) FROM pg_constraint WHERE conrelid = 't_cancel'::regclass AND contype = 'c'}), '0',
    '2: no CHECK is left on the table');
($ret, $out, $err) = $node->psql('postgres', "SELECT safe_column_resume($j_cancel)");
like($err, qr/cannot resume safe_column job $j_cancel because it is cancelled/, '2: a cancelled job cannot be resumed');
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker'}, '0',
    '2: no worker stays for the cancelled job');

# ---------------------------------------------------------------------------------------------
# 3. An expression that fails on one row.

sql($node, q{
    CREATE TABLE t_fail (id int PRIMARY KEY);
    INSERT INTO t_fail SELECT g FROM generate_series(1, 5000) g;
});
my $ctid_777 = sql($node, 'SELECT ctid FROM t_fail WHERE id = 777');
my $j_fail = sql($node, q{SELECT safe_add_column('t_fail', 'r', 'int', backfill_expr => '1000 / (id - 777)')});
wait_state($node, $j_fail, 'failed', '3: the job failed');
is(job_field($node, $j_fail, 'error'), "division by zero (row $ctid_777 of t_fail)",
    '3: the error names the row where the expression failed');
($ret, $out, $err) = $node->psql('postgres', "SELECT safe_column_wait($j_fail)");
isnt($ret, 0, '3: safe_column_wait fails for a failed job');
like($err, qr/ERROR:  safe_column job $j_fail failed: division by zero \(row \Q$ctid_777\E of t_fail\)/,
    '3: safe_column_wait raises the error with the row');
like($err, qr/HINT:  Fix the cause, then call safe_column_resume\($j_fail\)\./, '3: and says how to go on');
sql($node, 'UPDATE t_fail SET r = 0 WHERE id = 777');
is(sql($node, "SELECT safe_column_resume($j_fail)"), 'backfilling', '3: resume after the fix');
wait_state($node, $j_fail, 'complete', '3: the job completed after the fix');
is(job_field($node, $j_fail, q{coalesce(error, 'no error')}), 'no error', '3: the error is cleared');
is(sql($node, q{SELECT count(*) FILTER (WHERE id <> 777 AND r IS DISTINCT FROM 1000 / (id - 777)) || ' '
                    || count(*) FILTER (WHERE id = 777 AND r = 0) FROM t_fail}),
    '0 1', '3: exact values everywhere, the fixed row kept its value');

# ---------------------------------------------------------------------------------------------
# 4. A rollback of the creating transaction leaves nothing and starts nothing.
# A worker that starts first reads pg_extension (is the extension installed?). While a session holds
# ACCESS EXCLUSIVE on pg_extension, a worker started in this database waits on that lock, visibly, for
# as long as the lock is held, instead of coming and going unseen.

sql($node, q{
    CREATE TABLE t_rb (id int PRIMARY KEY);
    INSERT INTO t_rb SELECT g FROM generate_series(1, 1000) g;
    CREATE DATABASE other;
});
sql($node, q{
    CREATE EXTENSION safe_column;
    CREATE TABLE t_o (id int PRIMARY KEY);
    INSERT INTO t_o SELECT g FROM generate_series(1, 3000) g;
}, 'other');
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker'}, '0',
    '4: no worker runs before');

my $pgext_lock = q{SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND relation = 'pg_catalog.pg_extension'::regclass
                    AND mode = 'AccessExclusiveLock' AND database = (SELECT oid FROM pg_database WHERE datname = 'postgres')};
my $creator = $node->background_psql('postgres');
my $locker = $node->background_psql('postgres');

# Positive control: with a COMMIT, the worker started at commit is seen waiting on pg_extension.
$creator->query_safe('BEGIN');
my $j_ctl = $creator->query_safe(q{SELECT safe_add_column('t_rb', 'ok', 'int', backfill_expr => 'id')});
$locker->query_until(qr/locking/, "\\echo locking\nBEGIN;\nLOCK TABLE pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE;\n");
wait_for($node, "$pgext_lock AND NOT granted", '1', '4: the lock on pg_extension waits for the creating transaction');
$creator->query_safe('COMMIT');
wait_for($node, "$pgext_lock AND granted", '1', '4: then it is granted');
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker' AND datname = 'postgres'
                   AND wait_event_type = 'Lock' AND wait_event = 'relation'}, '1',
    '4 (control): after a COMMIT, the started worker is seen waiting on pg_extension');
$locker->query_safe('ROLLBACK');
wait_state($node, $j_ctl, 'complete', '4 (control): the committed job completed');
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker'}, '0',
    '4 (control): its worker left');

# The rollback.
$creator->query_safe('BEGIN');
my $j_rb = $creator->query_safe(q{SELECT safe_add_column('t_rb', 'c', 'int', backfill_expr => 'id')});
is($creator->query_safe(q{SELECT count(*) FROM safe_column_jobs WHERE job_id = } . $j_rb), '1',
    '4: inside the transaction, the job exists');
$locker->query_until(qr/locking/, "\\echo locking\nBEGIN;\nLOCK TABLE pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE;\n");
wait_for($node, "$pgext_lock AND NOT granted", '1', '4: the lock on pg_extension waits for the creating transaction');
$creator->query_safe('ROLLBACK');
wait_for($node, "$pgext_lock AND granted", '1', '4: the lock is granted at the rollback');
# A worker started by the rollback would have been registered before this job of another database,
# and would be waiting on pg_extension long before that job completes.
my $j_o = sql($node, q{SELECT safe_add_column('t_o', 'c', 'int', backfill_expr => 'id * 2')}, 'other');
wait_state($node, $j_o, 'complete', "4: meanwhile a job of another database ran to completion", 'other');
is(sql($node, 'SELECT count(*) FROM t_o WHERE c IS DISTINCT FROM id * 2', 'other'), '0', '4: that job is exact');
is(worker_count($node, 'postgres'), '0', '4: no worker was started in the database of the rolled-back call');
is(sql($node, q{SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()}), '0',
    '4: nothing waits on pg_extension');
$locker->query_safe('ROLLBACK');
$locker->quit;
$creator->quit;
is(sql($node, qq{SELECT count(*) FROM safe_column_job_store WHERE job_id = $j_rb OR (relid = 't_rb'::regclass AND column_name = 'c')}),
    '0', '4: no job row after the rollback');
is(sql($node, q{SELECT count(*) FROM pg_attribute WHERE attrelid = 't_rb'::regclass AND attname = 'c'}), '0',
    '4: no column after the rollback');
is(worker_count($node), '0', '4: still no worker');

# ---------------------------------------------------------------------------------------------
# 5. NOTIFY safe_column at every state change.

sql($node, q{
    CREATE TABLE t_notify (id int PRIMARY KEY);
    INSERT INTO t_notify SELECT g FROM generate_series(1, 3000) g;
});
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN safe_column');
my $j_notify = sql($node, q{SELECT safe_add_column('t_notify', 'tok', 'uuid', 'gen_random_uuid()', not_null => true)});
wait_state($node, $j_notify, 'complete', '5: the job completed');
is(sql($node, q{SELECT count(*) FILTER (WHERE tok IS NULL) || ' ' || (count(DISTINCT tok) = count(*)) FROM t_notify}), '0 true',
    '5: every row has its own uuid');
my $heard = $listener->query_safe('SELECT 1');
$listener->quit;
my @notes;
while ($heard =~ /Asynchronous notification "safe_column" with payload "(.*)" received from server process with PID (\d+)\./g) {
    my $payload = eval { decode_json($1) };
    ok(defined $payload, "5: payload is JSON: $1") or next;
    push @notes, $payload if $payload->{job_id} == $j_notify;
}
is(join(' ', map { $_->{state} } @notes), 'queued backfilling validating complete',
    '5: one notification per state change: queued, backfilling, validating, complete, in order');
is(join(' ', map { $_->{phase} } @notes), 'backfill backfill add_check done', '5: each with its phase');
is(scalar(grep { $_->{column} eq 'tok' && JSON::PP::is_bool($_->{error}) && !$_->{error} } @notes), scalar(@notes),
    '5: each names the column, error false');
# The table is always schema-qualified, whoever sends the notification and whatever its search_path.
is(join(' ', map { $_->{table} } @notes), 'public.t_notify public.t_notify public.t_notify public.t_notify',
    '5: every notification of the job names its table the same way, schema-qualified');

# ---------------------------------------------------------------------------------------------
# 7. Rows the application holds locked: the sweep waits for them, the progress says why.
# Each job is created paused (it does not start), a row is locked, then the job is resumed: the
# backfill skips the locked row, the sweep finds it still NULL and still locked.

sql($node, q{
    CREATE TABLE t_locked (id int PRIMARY KEY);
    INSERT INTO t_locked SELECT g FROM generate_series(1, 3000) g;
    CREATE TABLE t_locked2 (id int PRIMARY KEY);
    INSERT INTO t_locked2 SELECT g FROM generate_series(1, 3000) g;
});

# New rows get a default (0), existing rows id * 5.
my $j_locked = create_paused($node, q{safe_add_column('t_locked', 'c', 'int', '0', backfill_expr => 'id * 5')});
my $rowlock = $node->background_psql('postgres');
$rowlock->query_safe('BEGIN');
$rowlock->query_safe('SELECT id FROM t_locked WHERE id = 1500 FOR UPDATE');
is(sql($node, "SELECT safe_column_resume($j_locked)"), 'backfilling', '7: resume the job while a row is locked');
wait_for($node, qq{SELECT phase || ' ' || throttled || ' ' || throttle_reason FROM safe_column_progress WHERE job_id = $j_locked},
    'sweep true rows locked by other transactions', '7: the sweep waits for the locked row, and says so');
is(sql($node, q{SELECT count(*) FILTER (WHERE c IS NULL) || ' ' || bool_and(c IS NULL) FILTER (WHERE id = 1500) FROM t_locked}),
    '1 true', '7: only the locked row is left');
$rowlock->query_safe('COMMIT');
wait_state($node, $j_locked, 'complete', '7: the job completed once the row was released');
# A job paused before its worker picked it up still gets its started_at when it runs.
is(job_field($node, $j_locked, q{started_at IS NOT NULL AND finished_at >= started_at}), 't',
    '7: a job that was paused before it started has started_at once it ran');
is(sql($node, 'SELECT count(*) FROM t_locked WHERE c IS DISTINCT FROM id * 5'), '0', '7: exact values, the locked row too');

# The same with a nullable column whose new rows get no default (backfill_expr only).
# The sweep waits for a row the application keeps locked, rather than leave it out.
my $j_locked2 = create_paused($node, q{safe_add_column('t_locked2', 'c', 'int', backfill_expr => 'id * 5')});
$rowlock->query_safe('BEGIN');
$rowlock->query_safe('SELECT id FROM t_locked2 WHERE id = 1500 FOR UPDATE');
is(sql($node, "SELECT safe_column_resume($j_locked2)"), 'backfilling', '7: resume the nullable job while a row is locked');
wait_for($node, qq{SELECT state = 'complete' OR (phase = 'sweep' AND throttle_reason = 'rows locked by other transactions')
                     FROM safe_column_progress WHERE job_id = $j_locked2}, 't',
    '7: the nullable job either waits for the locked row in its sweep or ended');
is(job_field($node, $j_locked2, q{state || ' ' || phase}), 'backfilling sweep',
    '7: the nullable job is not complete while a row it must fill is locked');
$rowlock->query_safe('COMMIT');
$rowlock->quit;
wait_state($node, $j_locked2, 'complete', '7: the nullable job completed');
is(sql($node, 'SELECT count(*) FROM t_locked2 WHERE c IS DISTINCT FROM id * 5'), '0',
    '7: every row that existed when the nullable job was created holds its value, the locked one too');

# ---------------------------------------------------------------------------------------------
# 9. safe_column.throttle = off: no pauses between batches. The same job with a throttle of 20 times
# each batch's duration, then without throttle: the unthrottled one must be much faster, and exact.

sql($node, q{
    CREATE TABLE t_thr1 (id int PRIMARY KEY, v int NOT NULL);
    CREATE TABLE t_thr2 (id int PRIMARY KEY, v int NOT NULL);
    INSERT INTO t_thr1 SELECT g, g FROM generate_series(1, 30000) g;
    INSERT INTO t_thr2 SELECT g, g FROM generate_series(1, 30000) g;
    ALTER SYSTEM SET safe_column.batch_sleep_ratio = 20;
    SELECT pg_reload_conf();
});
wait_for($node, q{SELECT current_setting('safe_column.batch_sleep_ratio')}, '20', '9: sleep ratio 20 loaded');
my $j_thr1 = sql($node, q{SELECT safe_add_column('t_thr1', 'w', 'int', backfill_expr => 'v + 1')});
wait_state($node, $j_thr1, 'complete', '9: the throttled job completed');
sql($node, q{ALTER SYSTEM SET safe_column.throttle = off; SELECT pg_reload_conf();});
wait_for($node, q{SELECT current_setting('safe_column.throttle')}, 'off', '9: throttle off loaded');
my $j_thr2 = sql($node, q{SELECT safe_add_column('t_thr2', 'w', 'int', backfill_expr => 'v + 1')});
wait_state($node, $j_thr2, 'complete', '9: the job completed with throttle off');
is(sql($node, 'SELECT count(*) FROM t_thr2 WHERE w IS DISTINCT FROM v + 1'), '0', '9: exact values with throttle off');
my ($throttled_s, $batches1) = split /\|/, job_field($node, $j_thr1, q{extract(epoch FROM finished_at - started_at), batches});
my ($free_s, $batches2) = split /\|/, job_field($node, $j_thr2, q{extract(epoch FROM finished_at - started_at), batches});
note "throttled: $throttled_s s in $batches1 batches; throttle off: $free_s s in $batches2 batches";
cmp_ok($batches2, '>=', 5, '9: the unthrottled job ran several batches');
cmp_ok($free_s * 4, '<', $throttled_s, '9: without throttle the job does not pause between batches (4x faster at least)');
sql($node, q{ALTER SYSTEM RESET safe_column.throttle; ALTER SYSTEM RESET safe_column.batch_sleep_ratio; SELECT pg_reload_conf();});

# ---------------------------------------------------------------------------------------------
# 10. safe_column.max_wal_rate: over the job's run, its batches write at most that much WAL per second
# (without the pause it computes after each batch, a backfill writes tens of MB a second on any
# machine). Once from the server's setting, once from a job's override with the server's limit off;
# no sleep ratio, so only the WAL limit paces.

sql($node, q{
    CREATE TABLE t_wal1 (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
    CREATE TABLE t_wal2 (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
    INSERT INTO t_wal1 SELECT g, g, repeat('x', 100) FROM generate_series(1, 10000) g;
    INSERT INTO t_wal2 SELECT g, g, repeat('x', 100) FROM generate_series(1, 10000) g;
    ALTER SYSTEM SET safe_column.batch_sleep_ratio = 0;
    ALTER SYSTEM SET safe_column.max_wal_rate = '1MB';
    SELECT pg_reload_conf();
});
wait_for($node, q{SELECT current_setting('safe_column.max_wal_rate')}, '1MB', '10: max_wal_rate 1MB loaded');
my $j_wal1 = sql($node, q{SELECT safe_add_column('t_wal1', 'w', 'int', backfill_expr => 'v + 1')});
wait_state($node, $j_wal1, 'complete', '10: the job under the server limit completed');
sql($node, q{ALTER SYSTEM SET safe_column.max_wal_rate = 0; SELECT pg_reload_conf();});
wait_for($node, q{SELECT current_setting('safe_column.max_wal_rate')}, '0', '10: max_wal_rate 0 loaded');
my $j_wal2 = sql($node, q{
    BEGIN;
    SELECT safe_add_column('t_wal2', 'w', 'int', backfill_expr => 'v + 1') AS j \gset
    SELECT safe_column_set(:j, 'max_wal_rate', '1MB');
    COMMIT;
    SELECT :j;
});
$j_wal2 = (split /\n/, $j_wal2)[-1];
wait_state($node, $j_wal2, 'complete', '10: the job with its own limit completed');
for my $case ([$j_wal1, 't_wal1', 'the server setting'], [$j_wal2, 't_wal2', 'the job override']) {
    my ($j, $t, $what) = @$case;
    my ($wal, $secs, $batches) = split /\|/,
        job_field($node, $j, q{wal_bytes, extract(epoch FROM finished_at - started_at), batches});
    note "$what: $wal bytes of WAL in $secs s, $batches batches";
    cmp_ok($wal, '>', 2 * 1024 * 1024, "10 ($what): the batches wrote more than 2 MB of WAL");
    cmp_ok($batches, '>=', 5, "10 ($what): several batches");
    cmp_ok($wal / $secs, '<=', 1024 * 1024 * 1.01, "10 ($what): at most 1 MB of WAL per second over the run");
    is(sql($node, "SELECT count(*) FROM $t WHERE w IS DISTINCT FROM v + 1"), '0', "10 ($what): exact values");
}
sql($node, q{ALTER SYSTEM RESET safe_column.max_wal_rate; ALTER SYSTEM RESET safe_column.batch_sleep_ratio; SELECT pg_reload_conf();});

$node->stop;

# ---------------------------------------------------------------------------------------------
# 8. Without shared_preload_libraries: jobs start their worker at commit; no live progress.

my $plain = PostgreSQL::Test::Cluster->new('no_preload');
$plain->init;
$plain->append_conf('postgresql.conf', "autovacuum = off\n");
$plain->start;
sql($plain, q{
    CREATE EXTENSION safe_column;
    CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL);
    INSERT INTO t SELECT g, g FROM generate_series(1, 20000) g;
});
is(sql($plain, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'safe_column%'}), '0',
    '8: no launcher, no worker without the library preloaded');
# A plain job: the commit of safe_add_column starts the worker.
my $j_plain1 = sql($plain, q{SELECT safe_add_column('t', 'u', 'int', backfill_expr => 'v + 7')});
wait_state($plain, $j_plain1, 'complete', '8: a job completes without the library preloaded');
is(sql($plain, 'SELECT count(*) FROM t WHERE u IS DISTINCT FROM v + 7'), '0', '8: exact values');
is(sql($plain, qq{SELECT percent = 100 AND rows_done = 20000 AND rows_per_sec > 0 AND worker_pid IS NULL AND batch_rows IS NULL
                         AND last_batch_ms IS NULL AND NOT throttled FROM safe_column_progress WHERE job_id = $j_plain1}), 't',
    '8: safe_column_progress of the complete job: its counters, a rate from the job table, no live columns');
wait_for($plain, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker'}, '0',
    '8: the worker left');
# Created paused, a row locked, resumed: the job stays in its sweep, running, until the row is released.
my $j_plain = create_paused($plain, q{safe_add_column('t', 'w', 'int', backfill_expr => 'v * 4', not_null => true)});
my $plain_lock = $plain->background_psql('postgres');
$plain_lock->query_safe('BEGIN');
$plain_lock->query_safe('SELECT id FROM t WHERE id = 12345 FOR UPDATE');
is(sql($plain, "SELECT safe_column_resume($j_plain)"), 'backfilling', '8: resume');
wait_for($plain, "SELECT state || ' ' || phase FROM safe_column_progress WHERE job_id = $j_plain", 'backfilling sweep',
    '8: the job runs (its sweep waits for the locked row)');
is(worker_count($plain), '1', '8: a worker was started on demand');
is(sql($plain, qq{SELECT worker_pid IS NULL AND batch_rows IS NULL AND last_batch_ms IS NULL AND eta IS NULL
                         AND throttle_reason IS NULL AND NOT throttled AND percent IS NOT NULL AND rows_done = 19999
                    FROM safe_column_progress WHERE job_id = $j_plain}), 't',
    '8: safe_column_progress works, without live columns');
is(sql($plain, 'SELECT count(*) FROM safe_column_live()'), '0', '8: safe_column_live() is empty');
$plain_lock->query_safe('COMMIT');
$plain_lock->quit;
wait_state($plain, $j_plain, 'complete', '8: the job completed');
is(sql($plain, 'SELECT count(*) FROM t WHERE w IS DISTINCT FROM v * 4'), '0', '8: exact values');
is(sql($plain, q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'w'}), 't', '8: NOT NULL set');
is(sql($plain, "SELECT percent FROM safe_column_progress WHERE job_id = $j_plain"), '100.0', '8: progress of the complete job');
wait_for($plain, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker'}, '0',
    '8: the worker left');
$plain->stop;

done_testing();
