# The crash and fault suite.
#
# Part 1: SIGKILL of the postmaster (then a restart) at many different points of jobs, each point made
# certain before the kill, never guessed from timing:
#   - in the catalog step, while safe_add_column waits for its lock (nothing may be left);
#   - right after queueing, before any worker took the job (the workers' advisory lock is held);
#   - inside a backfill batch early in the table, again inside the same batch re-run after the
#     restart, and inside a batch late in the table (a gate function in the expression holds the
#     batch open on a chosen row);
#   - in the sweep, while it waits for a row the application keeps locked, and inside a sweep batch;
#   - while throttled (the throttle query holds the job), at the CHECK step (held, then waiting for
#     its lock), during VALIDATE (waiting for its lock, the CHECK not yet valid) and during SET NOT
#     NULL (the CHECK valid, waiting for its lock);
#   - while paused (it must stay paused), while failed (it must stay failed);
#   - with three jobs at once, during the first and during the second.
# After every restart each job ends complete, every row equal to a reference computed independently
# (md5(id::text), id * 7 + 1, ...), every other column equal to an untouched control copy, NOT NULL
# set when asked, and nothing of the job left.
#
# Part 2: faults that must not end in a crash or in silently skipped rows:
#   - repeated pg_terminate_backend of the worker inside batches: a new worker resumes each time;
#   - query cancels inside a batch (SQLSTATE 57014, what a statement_timeout raises): retried by the
#     same worker;
#   - a database where statement_timeout and lock_timeout are 1 ms (ALTER DATABASE, and ALTER ROLE for
#     the job's creator), with the application holding row locks longer than safe_column.lock_timeout
#     (the batches time out on them) and holding the job's own row (the worker's bookkeeping times out);
#   - an expression error on one row: the job fails naming the row, leaves every row after the
#     failing batch NULL (none skipped), stays failed across a crash, and completes after the fix
#     and safe_column_resume.
#
# Sizes: CRASH_ROWS rows per table (default 40000).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SafeColumnTest;

my $rows = $ENV{CRASH_ROWS} // 40000;
my $worker_lock_key = 0x5afec01a;    # the key of the workers' session-level advisory lock (launcher.cpp)

my $node = backfill_node('crash', qq{
# The throttle queries below are gates on the job's own progress: read before every step, not once a
# second (safe_column.sample_interval), or a small job can pass its gate between two readings.
safe_column.sample_interval = 0
});
$node->start;

sub sql { my ($q, $db) = @_; return $node->safe_psql($db // 'postgres', $q); }

sub job_field { my ($job, $field, $db) = @_; return sql("SELECT $field FROM safe_column_jobs WHERE job_id = $job", $db); }

my ($kills, $rows_checked, $terminations, $cancels) = (0, 0, 0, 0);
my @kill_points;

sub kill_and_restart {
    my ($point) = @_;
    crash_restart($node);
    $kills++;
    push @kill_points, $point;
    note("SIGKILL $kills: $point");
    return;
}

# A background psql whose server went away with the crash: end it (psql may have left already).
sub drop_session {
    my ($bg) = @_;
    eval { $bg->{run}->kill_kill; 1 } or note("psql already gone: $@");
    return;
}

# Create a job paused (in one transaction, so no worker starts it); returns its id. Lets another
# session lock rows of the table before the job starts (safe_add_column needs its ACCESS EXCLUSIVE).
sub create_paused {
    my ($call, $db, $prefix) = @_;
    $prefix //= '';
    my $out = sql(qq{$prefix BEGIN;
        SELECT $call AS job \\gset
        SELECT :job; SELECT safe_column_pause(:job); COMMIT;}, $db);
    my ($job, $state) = split /\n/, $out;
    die "unexpected: $out" unless $state eq 'paused';
    return $job;
}

sub check {
    my (%a) = @_;
    $rows_checked += check_job_result($node, %a);
    return;
}

sql('CREATE EXTENSION safe_column;' . gate_sql());

# The worker's not granted lock request of mode $mode on $table (its DDL step waits for it).
sub wait_worker_lock_wait {
    my ($table, $mode, $what) = @_;
    wait_for($node, qq{SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                        WHERE a.backend_type = 'safe_column worker' AND l.relation = '$table'::regclass
                          AND l.mode = '$mode' AND NOT l.granted}, '1', $what);
    return;
}

# ---------------------------------------------------------------------------------------------
# A. The catalog step: safe_add_column waits for its ACCESS EXCLUSIVE lock behind an open transaction.

make_test_table($node, 'postgres', 'a', $rows);
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('SELECT count(*) FROM a WHERE id = 1');
my $caller = $node->background_psql('postgres', on_error_stop => 0);
$caller->{stdin} .= qq{SET safe_column.lock_wait_budget = '10min';\n};    # it keeps trying until the kill
$caller->{stdin} .= qq{SELECT safe_add_column('a', 'w', 'text', backfill_expr => 'md5(id::text)', not_null => true);\n};
$caller->{run}->pump_nb;
wait_for($node, q{SELECT count(*) FROM pg_locks WHERE relation = 'a'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted},
    '1', 'A: safe_add_column waits for its lock in the catalog step');
kill_and_restart('catalog step, waiting for the lock');
drop_session($holder);
drop_session($caller);
is(sql(q{SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = 'a'::regclass AND attname = 'w')
              + (SELECT count(*) FROM safe_column_jobs WHERE table_name = 'a')}), '0',
    'A: after the crash neither the column nor a job exists');
my $job_a = sql(q{SELECT safe_add_column('a', 'w', 'text', backfill_expr => 'md5(id::text)', not_null => true)});
check(job => $job_a, table => 'a', column => 'w', ref => 'md5(id::text)', not_null => 1, rows => $rows,
    control => 'a_ctl', label => 'A');

# ---------------------------------------------------------------------------------------------
# B. Queued: committed, but no worker can take it (this session holds the workers' advisory lock).

make_test_table($node, 'postgres', 'b', $rows);
$holder = $node->background_psql('postgres');
$holder->query_safe("SELECT pg_advisory_lock($worker_lock_key)");
my $job_b = sql(q{SELECT safe_add_column('b', 'w', 'bigint', backfill_expr => 'id::bigint * 7 + 1', not_null => true)});
is(job_field($job_b, q{state || '|' || (started_at IS NULL) || '|' || rows_done}), 'queued|true|0',
    'B: the job is queued, not started');
kill_and_restart('queued, before any worker took the job');
drop_session($holder);
check(job => $job_b, table => 'b', column => 'w', ref => 'id::bigint * 7 + 1', not_null => 1, rows => $rows,
    control => 'b_ctl', label => 'B');

# ---------------------------------------------------------------------------------------------
# C. Inside backfill batches: early in the table, the same batch again after the restart, then late.

make_test_table($node, 'postgres', 'c', $rows);
my ($early, $late) = (int($rows / 20), int($rows * 9 / 10));
sql(qq{INSERT INTO sc_gate VALUES ('c', $early), ('c', $late)});
my $job_c = sql(q{SELECT safe_add_column('c', 'w', 'text', backfill_expr => $$public.sc_gated('c', id, md5(id::text))$$)});
my ($pid, $phase) = worker_gated($node, 'postgres', $job_c, 'C: the worker is inside a batch at the early row');
is($phase, 'backfill', 'C: in the backfill');
cmp_ok(job_field($job_c, 'rows_done'), '<', $rows / 10, 'C: early in the table');
kill_and_restart('inside a backfill batch, early in the table');
($pid, $phase) = worker_gated($node, 'postgres', $job_c, 'C: after the restart the worker runs that batch again');
cmp_ok(job_field($job_c, 'rows_done'), '<', $rows / 10, 'C: the lost batch is run again');
kill_and_restart('inside the same batch, run again right after the restart');
sql(qq{DELETE FROM sc_gate WHERE tag = 'c' AND id = $early});
($pid, $phase) = worker_gated($node, 'postgres', $job_c, 'C: the worker is inside a batch at the late row');
cmp_ok(job_field($job_c, 'rows_done'), '>', $rows * 7 / 10, 'C: late in the table');
is(job_field($job_c, 'state'), 'backfilling', 'C: still backfilling');
kill_and_restart('inside a backfill batch, late in the table');
worker_gated($node, 'postgres', $job_c, 'C: after the restart the worker is at the late row again');
sql(q{DELETE FROM sc_gate WHERE tag = 'c'});
check(job => $job_c, table => 'c', column => 'w', ref => 'md5(id::text)', not_null => 0, rows => $rows,
    control => 'c_ctl', label => 'C');

# ---------------------------------------------------------------------------------------------
# D. In the sweep, waiting for a row that the application keeps locked (the backfill skipped it).

# An application session keeps one row of TABLE locked; the paused JOB is resumed and its sweep waits
# for that row. Returns the session (its transaction still open).
sub hold_row_and_resume {
    my ($table, $id, $job, $label) = @_;
    my $session = $node->background_psql('postgres');
    $session->query_safe('BEGIN');
    $session->query_safe("SELECT id FROM $table WHERE id = $id FOR UPDATE");
    sql("SELECT safe_column_resume($job)");
    wait_for($node, qq{SELECT phase || ' ' || throttle_reason FROM safe_column_progress WHERE job_id = $job},
        'sweep rows locked by other transactions', "$label: the sweep waits for the locked row");
    return $session;
}

make_test_table($node, 'postgres', 'd', $rows);
my $locked = int($rows / 2);
my $half = int($rows / 2);
my $job_d = create_paused(q{safe_add_column('d', 'w', 'int', backfill_expr => 'id * 7 + 1', not_null => true)});
$holder = hold_row_and_resume('d', $locked, $job_d, 'D');
is(sql("SELECT count(*) FILTER (WHERE w IS NULL) || '|' || count(*) FILTER (WHERE w IS NULL AND id = $locked) FROM d"),
    '1|1', 'D: only the locked row is left');
kill_and_restart('in the sweep, waiting for a row the application keeps locked');
drop_session($holder);
check(job => $job_d, table => 'd', column => 'w', ref => 'id * 7 + 1', not_null => 1, rows => $rows,
    control => 'd_ctl', label => 'D');

# ---------------------------------------------------------------------------------------------
# E. Inside a sweep batch: the row the application kept locked is gated; the sweep's batch stops on it.

make_test_table($node, 'postgres', 'e', $rows);
my $job_e = create_paused(q{safe_add_column('e', 'w', 'text', backfill_expr => $$public.sc_gated('e', id, md5(id::text))$$,
                                                   not_null => true)});
$holder = hold_row_and_resume('e', $locked, $job_e, 'E');
sql("INSERT INTO sc_gate VALUES ('e', $locked)");
($pid, $phase) = worker_gated($node, 'postgres', $job_e, 'E: the worker is inside a sweep batch, at the gated row');
is($phase, 'sweep', 'E: in the sweep');
kill_and_restart('inside a sweep batch');
drop_session($holder);
($pid, $phase) = worker_gated($node, 'postgres', $job_e, 'E: after the restart the sweep batch runs again');
sql(q{DELETE FROM sc_gate WHERE tag = 'e'});
check(job => $job_e, table => 'e', column => 'w', ref => 'md5(id::text)', not_null => 1, rows => $rows,
    control => 'e_ctl', label => 'E');

# ---------------------------------------------------------------------------------------------
# F. The NOT NULL steps. The throttle query holds the job in a chosen phase (sc_hold); then another
# session holds the lock the step needs, the hold is lifted, and the worker is seen waiting for it.

sql(q{CREATE TABLE sc_hold (phase text PRIMARY KEY, min_rows bigint NOT NULL DEFAULT 0)});
sql(q{ALTER SYSTEM SET safe_column.throttle_query = 'SELECT EXISTS (SELECT 1 FROM public.sc_hold h JOIN public.safe_column_job_store j ON j.phase = h.phase WHERE j.state IN (''backfilling'', ''validating'') AND j.rows_done >= h.min_rows)';
      SELECT pg_reload_conf();});
make_test_table($node, 'postgres', 'f', $rows);
sql("INSERT INTO sc_hold VALUES ('backfill', $half)");
my $job_f = sql(q{SELECT safe_add_column('f', 'w', 'int', backfill_expr => 'id * 7 + 1', not_null => true)});
my $progress = "SELECT phase || ' ' || coalesce(throttle_reason, '-') FROM safe_column_progress WHERE job_id = $job_f";
wait_for($node, $progress, 'backfill throttle_query', 'F: throttled in the backfill');
cmp_ok(job_field($job_f, 'rows_done'), '>=', $half, 'F: halfway');
kill_and_restart('throttled (throttle query), halfway through the backfill');
wait_for($node, $progress, 'backfill throttle_query', 'F: throttled again after the restart');

sql(q{BEGIN; DELETE FROM sc_hold; INSERT INTO sc_hold VALUES ('add_check'); COMMIT;});
wait_for($node, $progress, 'add_check throttle_query', 'F: held before the CHECK step');
# The job's constraint: the helper CHECK before 18, the NOT NULL itself from 18 (named when the job was made).
my $con = "SELECT count(*) || ' ' || coalesce(bool_and(convalidated)::text, '-') FROM pg_constraint
            WHERE conrelid = 'f'::regclass
              AND conname = (SELECT constraint_name FROM safe_column_job_store WHERE job_id = $job_f)";
is(sql($con), '0 -', 'F: no CHECK yet');
# The application writes a NULL before the CHECK exists: VALIDATE will find it, and a final sweep fill it.
my $swept = job_field($job_f, 'sweep_rows');
sql(q{UPDATE f SET w = NULL WHERE id = 2});
kill_and_restart('held before the CHECK step');
wait_for($node, $progress, 'add_check throttle_query', 'F: held before the CHECK step after the restart');

$holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('SELECT count(*) FROM f WHERE id = 1');
sql(q{BEGIN; DELETE FROM sc_hold; INSERT INTO sc_hold VALUES ('validate'); COMMIT;});
wait_worker_lock_wait('f', 'AccessExclusiveLock', 'F: the CHECK step waits for its lock');
is(sql($con), '0 -', 'F: no CHECK yet');
kill_and_restart('CHECK step, waiting for its lock');
drop_session($holder);

wait_for($node, $progress, 'validate throttle_query', 'F: held before VALIDATE');
is(sql($con), '1 false', 'F: the CHECK exists, NOT VALID');
$holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('LOCK TABLE f IN SHARE UPDATE EXCLUSIVE MODE');
sql(q{BEGIN; DELETE FROM sc_hold; INSERT INTO sc_hold VALUES ('set_not_null'); COMMIT;});
wait_worker_lock_wait('f', 'ShareUpdateExclusiveLock', 'F: VALIDATE waits for its lock');
is(job_field($job_f, 'phase') . ' ' . sql($con), 'validate 1 false', 'F: in VALIDATE, the CHECK not valid yet');
kill_and_restart('VALIDATE, waiting for its lock');
drop_session($holder);

if (native_not_null($node)) {
    # From 18 VALIDATE is the last step: the validated NOT NULL is the column's, and the job is done.
    sql(q{DELETE FROM sc_hold});
    wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $job_f", 'complete', 'F: complete after VALIDATE');
    is(sql($con), '1 true', 'F: its NOT NULL constraint is validated and stays');
} else {
    wait_for($node, $progress, 'set_not_null throttle_query', 'F: held before SET NOT NULL');
    is(sql($con) . ' ' . sql(q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 'f'::regclass AND attname = 'w'}),
        '1 true f', 'F: the CHECK is valid, the column not yet NOT NULL');
    $holder = $node->background_psql('postgres');
    $holder->query_safe('BEGIN');
    $holder->query_safe('SELECT count(*) FROM f WHERE id = 1');
    sql(q{DELETE FROM sc_hold});
    wait_worker_lock_wait('f', 'AccessExclusiveLock', 'F: SET NOT NULL waits for its lock');
    is(job_field($job_f, 'phase'), 'set_not_null', 'F: in SET NOT NULL');
    kill_and_restart('SET NOT NULL, waiting for its lock');
    drop_session($holder);
}
check(job => $job_f, table => 'f', column => 'w', ref => 'id * 7 + 1', not_null => 1, rows => $rows,
    control => 'f_ctl', label => 'F');
is(job_field($job_f, 'sweep_rows') - $swept, 1, 'F: the final sweep filled the NULL that VALIDATE found, and only it');
sql(q{ALTER SYSTEM RESET safe_column.throttle_query; SELECT pg_reload_conf();});

# ---------------------------------------------------------------------------------------------
# G. Paused: it stays paused across the crash, while a later job runs; resume completes it.

make_test_table($node, 'postgres', 'g', $rows);
make_test_table($node, 'postgres', 'g2', int($rows / 4));
sql("INSERT INTO sc_gate VALUES ('g', $half)");
my $job_g = sql(q{SELECT safe_add_column('g', 'w', 'text', backfill_expr => $$public.sc_gated('g', id, md5(id::text))$$,
                                         not_null => true)});
worker_gated($node, 'postgres', $job_g, 'G: the worker is inside a batch halfway');
# The pause waits for the batch's step to commit (the step holds the job's row); the gate opens then.
my $pauser = $node->background_psql('postgres');
$pauser->{stdin} .= "SELECT safe_column_pause($job_g);\n";
$pauser->{run}->pump_nb;
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT safe_column_pause(%' AND wait_event_type = 'Lock'},
    '1', 'G: the pause waits for the step');
sql(q{DELETE FROM sc_gate WHERE tag = 'g'});
$pauser->quit;
wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $job_g", 'paused', 'G: paused');
wait_for($node, "SELECT count(*) FROM safe_column_live() WHERE job_id = $job_g", '0', 'G: the worker left the job');
my $g_done = job_field($job_g, 'rows_done');
cmp_ok($g_done, '<', $rows, 'G: paused midway');
kill_and_restart('paused');
my $job_g2 = sql(q{SELECT safe_add_column('g2', 'w', 'text', backfill_expr => 'md5(id::text)', not_null => true)});
check(job => $job_g2, table => 'g2', column => 'w', ref => 'md5(id::text)', not_null => 1, rows => int($rows / 4),
    control => 'g2_ctl', label => 'G (the later job)');
is(job_field($job_g, q{state || ' ' || rows_done}), "paused $g_done",
    'G: the paused job stayed paused, untouched, while the later job ran');
is(sql("SELECT count(*) FROM g WHERE w IS NOT NULL"), $g_done, 'G: exactly the rows it counted are filled');
sql("SELECT safe_column_resume($job_g)");
check(job => $job_g, table => 'g', column => 'w', ref => 'md5(id::text)', not_null => 1, rows => $rows,
    control => 'g_ctl', label => 'G');

# ---------------------------------------------------------------------------------------------
# H. Three jobs at once: a plain table, a hash-partitioned one, a volatile default. Killed during the
# first (the others queued), then during the second.

make_test_table($node, 'postgres', 'h1', $rows);
make_test_table($node, 'postgres', 'hp', $rows, 3);
make_test_table($node, 'postgres', 'h3', int($rows / 2));
sql("INSERT INTO sc_gate VALUES ('h1', $half), ('hp', $half)");
my $job_h1 = sql(q{SELECT safe_add_column('h1', 'w', 'text', backfill_expr => $$public.sc_gated('h1', id, md5(id::text))$$,
                                          not_null => true)});
my $job_hp = sql(q{SELECT safe_add_column('hp', 'w', 'int', backfill_expr => $$public.sc_gated('hp', id, id * 7 + 1)$$,
                                          not_null => true)});
my $job_h3 = sql(q{SELECT safe_add_column('h3', 'u', 'uuid', default_expr => 'gen_random_uuid()', not_null => true)});
worker_gated($node, 'postgres', $job_h1, 'H: the first job is inside a batch');
is(sql("SELECT string_agg(state, ',' ORDER BY job_id) FROM safe_column_jobs WHERE job_id IN ($job_h1, $job_hp, $job_h3)"),
    'backfilling,queued,queued', 'H: the first job runs, the others are queued');
kill_and_restart('three jobs: inside a batch of the first, two queued');
worker_gated($node, 'postgres', $job_h1, 'H: the first job again after the restart');
sql(q{DELETE FROM sc_gate WHERE tag = 'h1'});
worker_gated($node, 'postgres', $job_hp, 'H: the second job (partitioned) is inside a batch');
is(job_field($job_h1, 'state') . ' ' . job_field($job_hp, 'state') . ' ' . job_field($job_h3, 'state'),
    'complete backfilling queued', 'H: the first job is complete, the second runs, the third is queued');
kill_and_restart('three jobs: inside a batch of the second (partitioned)');
worker_gated($node, 'postgres', $job_hp, 'H: the second job again after the restart');
sql(q{DELETE FROM sc_gate WHERE tag = 'hp'});
check(job => $job_h1, table => 'h1', column => 'w', ref => 'md5(id::text)', not_null => 1, rows => $rows,
    control => 'h1_ctl', label => 'H1');
check(job => $job_hp, table => 'hp', column => 'w', ref => 'id * 7 + 1', not_null => 1, rows => $rows,
    control => 'hp_ctl', label => 'H partitioned');
check(job => $job_h3, table => 'h3', column => 'u', not_null => 1, rows => int($rows / 2),
    control => 'h3_ctl', label => 'H3');
is(sql('SELECT count(DISTINCT u) FROM h3'), int($rows / 2), 'H3: a distinct uuid in every row');

# =============================================================================================
# Part 2: faults. None of them may restart the server.

my $log_offset = -s $node->logfile;

# ---------------------------------------------------------------------------------------------
# I. pg_terminate_backend of the worker inside five batches along the table: each time a new worker
# (started again after 2 s) resumes where the last commit left.

make_test_table($node, 'postgres', 'ti', $rows);
my @gates = map { int($rows * $_ / 10) } (1, 3, 5, 7, 9);
sql('INSERT INTO sc_gate VALUES ' . join(', ', map { "('ti', $_)" } @gates));
my $job_i = sql(q{SELECT safe_add_column('ti', 'w', 'text', backfill_expr => $$public.sc_gated('ti', id, md5(id::text))$$,
                                         not_null => true)});
my %pids;
my $last_done = -1;
for my $g (@gates) {
    ($pid, $phase) = worker_gated($node, 'postgres', $job_i, "I: the worker is inside the batch of row $g");
    $pids{$pid} = 1;
    my $done = job_field($job_i, 'rows_done');
    cmp_ok($done, '>', $last_done, "I: progress since the last termination ($done rows)");
    $last_done = $done;
    sql("SELECT pg_terminate_backend($pid)");
    wait_for($node, "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid", '0', "I: worker $pid terminated");
    $terminations++;
    sql("DELETE FROM sc_gate WHERE tag = 'ti' AND id = $g");
}
is(scalar(keys %pids), scalar(@gates), 'I: a different worker each time');
check(job => $job_i, table => 'ti', column => 'w', ref => 'md5(id::text)', not_null => 1, rows => $rows,
    control => 'ti_ctl', label => 'I');

# ---------------------------------------------------------------------------------------------
# J. Query cancels inside a batch (57014, the error of a statement_timeout): the same worker retries.

make_test_table($node, 'postgres', 'tj', $rows);
sql("INSERT INTO sc_gate VALUES ('tj', $half)");
my $job_j = sql(q{SELECT safe_add_column('tj', 'w', 'text', backfill_expr => $$public.sc_gated('tj', id, md5(id::text))$$,
                                         not_null => true)});
my ($jpid) = worker_gated($node, 'postgres', $job_j, 'J: the worker is inside a batch');
my $xid = sql("SELECT backend_xid FROM pg_stat_activity WHERE pid = $jpid");
for my $n (1 .. 3) {
    sql("SELECT pg_cancel_backend($jpid)");
    $cancels++;
    wait_for($node, qq{SELECT count(*) FROM pg_stat_activity
                        WHERE pid = $jpid AND wait_event = 'PgSleep' AND backend_xid IS DISTINCT FROM '$xid'},
        '1', "J: cancel $n: the same worker runs the batch again, in a new transaction");
    $xid = sql("SELECT backend_xid FROM pg_stat_activity WHERE pid = $jpid");
}
# (safe_column_progress.throttle_reason says "retrying after a cancel (SQLSTATE 57014), retry N of 100"
# until a batch succeeds; not asserted: after a failure the batch is halved, and a smaller batch
# before the gated row may succeed before the gate is reached again.)
sql(q{DELETE FROM sc_gate WHERE tag = 'tj'});
check(job => $job_j, table => 'tj', column => 'w', ref => 'md5(id::text)', not_null => 1, rows => $rows,
    control => 'tj_ctl', label => 'J');
is(sql("SELECT count(*) FROM pg_stat_activity WHERE pid = $jpid"), '0', 'J: its worker left when done');

# ---------------------------------------------------------------------------------------------
# K. statement_timeout and lock_timeout of 1 ms for the database and for the job's creator; the
# application holds rows locked across several batches, and for a while the job's own row.

# This test's own sessions override the settings with their connection options (PGOPTIONS).
$ENV{PGOPTIONS} = '-c statement_timeout=0 -c lock_timeout=0';
sql(q{CREATE DATABASE tiny; CREATE ROLE app_owner LOGIN;});
sql(q{CREATE EXTENSION safe_column; GRANT CREATE ON SCHEMA public TO app_owner;}, 'tiny');
make_test_table($node, 'tiny', 'tk', $rows);
sql(q{ALTER TABLE tk OWNER TO app_owner;
      ALTER DATABASE tiny SET statement_timeout = '1ms'; ALTER DATABASE tiny SET lock_timeout = '1ms';
      ALTER ROLE app_owner SET statement_timeout = '1ms'; ALTER ROLE app_owner SET lock_timeout = '1ms';}, 'tiny');
my @locked_rows = map { int($rows * $_ / 8) } 1 .. 7;
my $job_k = create_paused(q{safe_add_column('tk', 'w', 'int', backfill_expr => 'id * 7 + 1', not_null => true)},
    'tiny', 'SET ROLE app_owner;');
$holder = $node->background_psql('tiny');
$holder->query_safe('BEGIN');
$holder->query_safe('SELECT id FROM tk WHERE id IN (' . join(',', @locked_rows) . ') FOR UPDATE');
sql("SELECT safe_column_resume($job_k)", 'tiny');
is(sql("SELECT created_by FROM safe_column_jobs WHERE job_id = $job_k", 'tiny'), 'app_owner', 'K: created by app_owner');
my $kprog = "SELECT phase || ' ' || coalesce(throttle_reason, '-') FROM safe_column_progress WHERE job_id = $job_k";
wait_for($node, $kprog, 'sweep rows locked by other transactions',
    'K: the batches timed out on the locked rows, the sweep waits for them', 'tiny');
is(sql("SELECT count(*) FROM tk WHERE w IS NULL", 'tiny'), scalar(@locked_rows), 'K: only the locked rows are left');
my $jobrow = $node->background_psql('tiny');
$jobrow->query_safe('BEGIN');
$jobrow->query_safe("SELECT job_id FROM safe_column_job_store WHERE job_id = $job_k FOR UPDATE");
$holder->query_safe('COMMIT');
# The live reason names the kind of error and the retry, never the error's text (any role reads it).
wait_for($node, "SELECT ($kprog) LIKE 'sweep retrying after a lock timeout (SQLSTATE 55P03), retry % of 100'", 't',
    "K: the worker's bookkeeping times out on the job's row (the database's lock_timeout) and retries", 'tiny');
$jobrow->query_safe('COMMIT');
$jobrow->quit;
$holder->quit;
check(db => 'tiny', job => $job_k, table => 'tk', column => 'w', ref => 'id * 7 + 1', not_null => 1, rows => $rows,
    control => 'tk_ctl', label => 'K');
delete $ENV{PGOPTIONS};

# ---------------------------------------------------------------------------------------------
# L. An expression error on one row. The job fails naming the row; the rows before the failing
# batch are filled, every row from it on is NULL (none skipped); it stays failed across a crash;
# after the fix, safe_column_resume completes it.

my $bad = int($rows * 3 / 5);
sql(qq{CREATE TABLE tl (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL, d int NOT NULL);
       INSERT INTO tl SELECT g, g % 1000, md5(g::text || 'pad'), CASE WHEN g = $bad THEN 0 ELSE 1 END
         FROM generate_series(1, $rows) g;
       CREATE TABLE tl_ctl AS SELECT * FROM tl;
       ANALYZE tl;});
my $bad_ctid = sql("SELECT ctid FROM tl WHERE id = $bad");
my $job_l = sql(q{SELECT safe_add_column('tl', 'w', 'int', backfill_expr => 'id * 1000 / d', not_null => true)});
wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $job_l", 'failed', 'L: the job failed');
is(job_field($job_l, 'error'), "division by zero (row $bad_ctid of tl)", 'L: the error names the row');
note('L: the job failed with: ' . job_field($job_l, 'error'));
my $l_done = job_field($job_l, 'rows_done');
is(sql(q{SELECT count(*) FILTER (WHERE w IS NOT NULL) || '|' || count(*) FILTER (WHERE w IS NOT NULL AND w IS DISTINCT FROM CASE WHEN d <> 0 THEN id * 1000 / d END)
           FROM tl}), "$l_done|0", 'L: the rows it counted are filled, exactly');
# (The rows were inserted in id order: ids follow their original places. Filled rows moved: an UPDATE
# writes a new row version.)
is(sql(q{SELECT max(id) FILTER (WHERE w IS NOT NULL) || '|' || min(id) FILTER (WHERE w IS NULL) FROM tl}), "$l_done|" . ($l_done + 1),
    'L: the filled rows are exactly those before the failing batch, every row from it on is NULL: none was skipped');
is(sql("SELECT w IS NULL FROM tl WHERE id = $bad"), 't', 'L: the failing row is NULL');
kill_and_restart('failed');
make_test_table($node, 'postgres', 'tl2', int($rows / 4));
my $job_l2 = sql(q{SELECT safe_add_column('tl2', 'w', 'text', backfill_expr => 'md5(id::text)')});
check(job => $job_l2, table => 'tl2', column => 'w', ref => 'md5(id::text)', not_null => 0, rows => int($rows / 4),
    control => 'tl2_ctl', label => 'L (the later job)');
is(job_field($job_l, q{state || ' ' || rows_done}), "failed $l_done", 'L: the failed job stayed failed, untouched');
sql("UPDATE tl SET d = 2 WHERE id = $bad; UPDATE tl_ctl SET d = 2 WHERE id = $bad;");
is(sql("SELECT safe_column_resume($job_l)"), 'backfilling', 'L: resumed after the fix');
check(job => $job_l, table => 'tl', column => 'w', ref => 'id * 1000 / d', not_null => 1, rows => $rows,
    control => 'tl_ctl', label => 'L');

# ---------------------------------------------------------------------------------------------
# None of the faults restarted the server (the kill in L is ours: only before it is checked).

my $fault_log = slurp_file($node->logfile, $log_offset);
my ($before_l) = split /safe_column job $job_l failed/, $fault_log;
unlike($before_l, qr/terminated by signal|was terminated by|exited with exit code [^1]|reinitializing/,
    'faults I, J, K, L: no process crashed, the server never reinitialized');
is(scalar(() = $before_l =~ /background worker "safe_column worker" \(PID \d+\) exited with exit code 1/g), $terminations,
    'I: exactly the terminated workers exited, with exit code 1');

wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker'}, '0',
    'no worker is left when every job is done');

diag(sprintf('crash suite: %d SIGKILLs of the postmaster survived at %d points, %d worker terminations, %d query cancels, '
      . '%d rows checked against their reference', $kills, scalar(@kill_points), $terminations, $cancels, $rows_checked));

$node->stop;
done_testing();
