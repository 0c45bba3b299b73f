# A server restart with several jobs in several databases.
#
#   db1: a job running (inside a batch, held there by a gate), a job queued behind it;
#   db2: a job paused midway, a job running, a job queued;
#   db3: a job running on a partitioned table, a job created paused (never started);
#   db4: the extension, no job; db5: no extension.
#
# 1. A clean restart (fast shutdown) while all that runs: every running job resumes where its last
#    committed batch left it (no row lost, exactly the rows it counted filled), the three databases' workers run at the same time,
#    the queued jobs follow.
# 2. An immediate-mode stop and a start (crash recovery) while the queued jobs of (1) run: they resume
#    and complete.
# Paused jobs stay paused and untouched through both, until safe_column_resume; then they complete.
# Every job ends with every row equal to its reference, the other columns equal to a control copy,
# NOT NULL set, nothing left. Sizes: RESTART_ROWS rows per table (default 30000).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SafeColumnTest;

my $rows = $ENV{RESTART_ROWS} // 30000;
my $half = int($rows / 2);

my $node = backfill_node('many_dbs');
$node->start;

sub sql { my ($db, $q) = @_; return $node->safe_psql($db, $q); }

sub job_field { my ($db, $job, $field) = @_; return sql($db, "SELECT $field FROM safe_column_jobs WHERE job_id = $job"); }

for my $db (qw(db1 db2 db3 db4 db5)) {
    sql('postgres', "CREATE DATABASE $db");
    sql($db, 'CREATE EXTENSION safe_column;' . gate_sql()) unless $db eq 'db5';
}

my %jobs;    # name => [db, job, table, ref, not_null]

sub add_job {
    my ($name, $db, $table, $type, $expr, $ref, $partitions) = @_;
    make_test_table($node, $db, $table, $rows, $partitions);
    my $job = sql($db, "SELECT safe_add_column('$table', 'w', '$type', backfill_expr => \$\$$expr\$\$, not_null => true)");
    $jobs{$name} = [$db, $job, $table, $ref];
    return $job;
}

sub gated { my ($tag, $value) = @_; return "public.sc_gated('$tag', id, $value)"; }

# Held inside a batch halfway, then paused (the pause waits for the batch's step; the gate opens then).
sub pause_midway {
    my ($name) = @_;
    my ($db, $job, $table) = @{ $jobs{$name} };
    worker_gated($node, $db, $job, "$name: inside a batch halfway");
    my $pauser = $node->background_psql($db);
    $pauser->{stdin} .= "SELECT safe_column_pause($job);\n";
    $pauser->{run}->pump_nb;
    wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT safe_column_pause(%' AND wait_event_type = 'Lock'},
        '1', "$name: the pause waits for the step", $db);
    sql($db, "DELETE FROM sc_gate WHERE tag = '$table'");
    $pauser->quit;
    wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $job", 'paused', "$name: paused", $db);
    wait_for($node, "SELECT count(*) FROM safe_column_live() WHERE job_id = $job", '0', "$name: its worker left it", $db);
    return;
}

# Every gate is armed before its job is created: the jobs that run stop halfway, inside a batch.
for my $db (qw(db1 db2 db3)) {
    sql($db, "INSERT INTO sc_gate SELECT t, $half FROM unnest(ARRAY['r', 'q', 'p']) t");
}
# db2's first job is paused midway before the others exist.
add_job('P2', 'db2', 'p', 'text', gated('p', 'md5(id::text)'), 'md5(id::text)');
pause_midway('P2');
my $p2_done = job_field('db2', $jobs{P2}[1], 'rows_done');
cmp_ok($p2_done, '>', 0, 'P2: paused after some rows');
cmp_ok($p2_done, '<', $rows, 'P2: paused midway');

add_job('R1', 'db1', 'r', 'text', gated('r', 'md5(id::text)'), 'md5(id::text)');
add_job('Q1', 'db1', 'q', 'int', gated('q', 'id * 7 + 1'), 'id * 7 + 1');
add_job('R2', 'db2', 'r', 'int', gated('r', 'id * 7 + 1'), 'id * 7 + 1');
add_job('Q2', 'db2', 'q', 'text', gated('q', 'md5(id::text)'), 'md5(id::text)');
add_job('R3', 'db3', 'r', 'bigint', gated('r', 'id::bigint * 3'), 'id::bigint * 3', 4);
# P3: created paused, in one transaction (no worker ever takes it).
make_test_table($node, 'db3', 'p', $rows);
my $p3 = (split /\n/, sql('db3', q{BEGIN;
    SELECT safe_add_column('p', 'w', 'text', backfill_expr => 'md5(id::text)', not_null => true) AS job \gset
    SELECT :job; SELECT safe_column_pause(:job); COMMIT;}))[0];
$jobs{P3} = ['db3', $p3, 'p', 'md5(id::text)'];

my $gated_count = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker' AND wait_event = 'PgSleep'};
my %before;
for my $name (qw(R1 R2 R3)) {
    my ($db, $job) = @{ $jobs{$name} };
    worker_gated($node, $db, $job, "$name: running, inside a batch halfway");
    $before{$name} = job_field($db, $job, 'rows_done');
}
# Polled: a gated worker leaves PgSleep for a moment between its sleeps (the gate's query).
wait_for($node, $gated_count, '3', 'the three databases have their workers running at the same time');
my $states = sub {
    return join ' ', map { "$_=" . job_field($jobs{$_}[0], $jobs{$_}[1], 'state') } sort keys %jobs;
};
is($states->(), 'P2=paused P3=paused Q1=queued Q2=queued R1=backfilling R2=backfilling R3=backfilling',
    'before the restart: running, queued and paused jobs');

# ---------------------------------------------------------------------------------------------
# 1. Clean restart.

$node->restart;
for my $name (qw(R1 R2 R3)) {
    my ($db, $job) = @{ $jobs{$name} };
    worker_gated($node, $db, $job, "restart: $name runs again, at the same batch");
    my $done = job_field($db, $job, 'rows_done');
    cmp_ok($done, '>=', $before{$name}, "restart: $name lost none of its $before{$name} rows");
    is(sql($db, "SELECT count(*) FROM $jobs{$name}[2] WHERE w IS NOT NULL"), $done,
        "restart: $name: exactly the rows it counted are filled");
}
# Polled: a gated worker leaves PgSleep for a moment between its sleeps (the gate's query).
wait_for($node, $gated_count, '3', 'restart: again three workers at the same time');
is($states->(), 'P2=paused P3=paused Q1=queued Q2=queued R1=backfilling R2=backfilling R3=backfilling',
    'restart: every job in the state it had');
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker' AND datname IN ('db4', 'db5')},
    '0', 'restart: no worker stays in the database without jobs nor in the one without the extension');
is(sql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column launcher'}), '1',
    'restart: one launcher');

# The running jobs go on; the queued ones follow and stop halfway.
sql($_, q{DELETE FROM sc_gate WHERE tag = 'r'}) for qw(db1 db2 db3);
for my $name (qw(Q1 Q2)) {
    my ($db, $job) = @{ $jobs{$name} };
    worker_gated($node, $db, $job, "$name: running after the job before it, inside a batch halfway");
}

# ---------------------------------------------------------------------------------------------
# 2. Immediate stop (no shutdown checkpoint; batches commit asynchronously, so a few may be lost:
# what a synchronous commit flushed must survive), then start.

my %q_before = map { $_ => job_field($jobs{$_}[0], $jobs{$_}[1], 'rows_done') } qw(Q1 Q2);
sql('postgres', 'CREATE TABLE flush_marker ()');    # a synchronous commit flushes all WAL before it
$node->stop('immediate');
$node->start;
for my $name (qw(Q1 Q2)) {
    my ($db, $job) = @{ $jobs{$name} };
    worker_gated($node, $db, $job, "immediate: $name runs again, inside a batch halfway");
    cmp_ok(job_field($db, $job, 'rows_done'), '>=', $q_before{$name}, "immediate: $name kept its flushed progress");
}
sql($_, q{DELETE FROM sc_gate WHERE tag = 'q'}) for qw(db1 db2);

my $rows_checked = 0;
for my $name (qw(R1 Q1 R2 Q2 R3)) {
    my ($db, $job, $table, $ref) = @{ $jobs{$name} };
    $rows_checked += check_job_result($node, db => $db, job => $job, table => $table, column => 'w', ref => $ref,
        not_null => 1, rows => $rows, control => "${table}_ctl", label => $name);
}

# The paused jobs stayed paused: every worker left (no runnable job anywhere), nothing moved.
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker'}, '0',
    'every worker left');
is(job_field('db2', $jobs{P2}[1], q{state || ' ' || rows_done}), "paused $p2_done", 'P2 stayed paused, untouched');
is(job_field('db3', $p3, q{state || ' ' || rows_done || ' ' || (started_at IS NULL)}), 'paused 0 true',
    'P3 stayed paused, never started');
is(sql('db2', q{SELECT count(*) FROM p WHERE w IS NOT NULL}), $p2_done, 'P2: exactly the rows it counted are filled');

for my $name (qw(P2 P3)) {
    my ($db, $job, $table, $ref) = @{ $jobs{$name} };
    sql($db, "SELECT safe_column_resume($job)");
    $rows_checked += check_job_result($node, db => $db, job => $job, table => $table, column => 'w', ref => $ref,
        not_null => 1, rows => $rows, control => "${table}_ctl", label => $name);
}

diag(sprintf('restart suite: %d jobs in 3 databases through a clean restart and an immediate stop, %d rows checked',
    scalar(keys %jobs), $rows_checked));

$node->stop;
done_testing();
