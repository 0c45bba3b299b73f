# Throttling by replicas: a streaming standby's replay lag and a replication slot's lag.
#   1. a standby whose replay is paused holds the backfill (safe_column.max_replica_lag): the progress
#      names the standby, rows_done stays put while the throttled time grows; once replay resumes the
#      job completes and the standby holds exactly the primary's values;
#   2. an inactive logical slot, however far behind, never throttles;
#   3. an active logical slot that does not confirm (its consumer, pg_recvlogical, is SIGSTOPped)
#      holds the backfill (safe_column.max_slot_lag); once the consumer is gone the job completes;
#   4. a standby far behind for safe_column.critical_duration pauses the job (critical), for a human
#      to resume it.
# No fixed sleeps: asynchronous work is awaited by polling with deadlines, and "nothing advances" is
# proved against the throttled time the worker records meanwhile.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX ();
use SafeColumnTest;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 'logical');
# Limits small enough for the test; the checkpoint signal off (its own test is 004), no critical
# pause until part 4. wal_sender_timeout = 0: the SIGSTOPped consumer of part 3 must keep its slot
# active however slow the machine (otherwise its walsender would leave after 60 s without replies).
# No autovacuum: the only WAL is the test's and the jobs' own, so that lags are the jobs' doing.
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'safe_column'
shared_buffers = 32MB
max_connections = 20
autovacuum = off
wal_sender_timeout = 0
safe_column.batch_target = 20ms
safe_column.max_replica_lag = '2MB'
safe_column.max_slot_lag = '4MB'
safe_column.checkpoint_wal_share = 0
safe_column.checkpoint_min_interval = 0
safe_column.critical_factor = 0
});
$primary->start;

sub sql { my ($node, $q) = @_; return $node->safe_psql('postgres', $q); }
sub psql_p { return sql($primary, $_[0]); }

sub job_field {
    my ($job, $field) = @_;
    return psql_p("SELECT $field FROM safe_column_jobs WHERE job_id = $job");
}

sub wait_state {
    my ($job, $state, $what) = @_;
    return wait_for($primary, "SELECT state FROM safe_column_jobs WHERE job_id = $job", $state, $what);
}

psql_p(q{
    CREATE EXTENSION safe_column;
    CREATE TABLE t1 (id int PRIMARY KEY, v text NOT NULL);
    INSERT INTO t1 SELECT g, md5(g::text) FROM generate_series(1, 300000) g;
    CREATE TABLE t2 (id int PRIMARY KEY, v text NOT NULL);
    INSERT INTO t2 SELECT g, md5(g::text) FROM generate_series(1, 100000) g;
    CREATE TABLE t3 (id int PRIMARY KEY, v text NOT NULL);
    INSERT INTO t3 SELECT g, md5(g::text) FROM generate_series(1, 100000) g;
    CREATE TABLE t4 (id int PRIMARY KEY, v text NOT NULL);
    INSERT INTO t4 SELECT g, md5(g::text) FROM generate_series(1, 100000) g;
    CREATE TABLE filler (id int, v text);
    CHECKPOINT;
});

$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby1');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is(psql_p(q{SELECT application_name || ' ' || state FROM pg_stat_replication}), 'standby1 streaming',
    'the standby streams, as standby1 (its cluster_name) in pg_stat_replication');

# Before any work, the forecast names the standby and the limit that makes a backfill wait for it (its
# replay speed cannot be foreseen: named, not counted).
like(psql_p(q{SELECT note FROM safe_column_plan('ALTER TABLE t1 ADD COLUMN f uuid DEFAULT gen_random_uuid()')
               WHERE note LIKE 'background worker%'}),
    qr/expected: about .*; 1 streaming standby attached: it also waits whenever one is more than \S+ \S+ \(safe_column\.max_replica_lag\) behind, so a standby that replays less than [0-9.]+ MB\/s sets the pace$/,
    'the forecast names the attached standby, the lag limit and the rate it must keep up with');

# The replay lag of the standby, in bytes, as the extension measures it.
my $lag_sql = q{SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication
                 WHERE application_name = 'standby1'};

# The standby holds exactly the primary's column (count and an md5 over all values, by id).
sub same_on_standby {
    my ($table, $column, $what) = @_;
    $primary->wait_for_catchup($standby);
    my $q = qq{SELECT count(*) || ' ' || count($column) || ' ' || md5(string_agg(${column}::text, ',' ORDER BY id)) FROM $table};
    my $p = psql_p($q);
    is(sql($standby, $q), $p, $what);
    return;
}

# ---------------------------------------------------------------------------------------------
# 1. Replay paused on the standby: the backfill waits on replica_lag_bytes.

sql($standby, 'SELECT pg_wal_replay_pause()');
my $j1 = psql_p(q{SELECT safe_add_column('t1', 'u', 'uuid', 'gen_random_uuid()')});
wait_for($primary, qq{SELECT throttled AND throttle_reason LIKE 'replica\\_lag\\_bytes standby1 %'
                        FROM safe_column_progress WHERE job_id = $j1}, 't',
    '1: the job is throttled on the replay lag of standby1');
is(sql($standby, 'SELECT pg_get_wal_replay_pause_state()'), 'paused', '1: (the standby does not replay)');
like(psql_p("SELECT throttle_reason FROM safe_column_progress WHERE job_id = $j1"),
    qr/^replica_lag_bytes standby1 \d+ MB > 2 MB$/, '1: the reason names the signal, the standby, its lag and the limit');
my ($r0, $t0) = split /\|/, job_field($j1, 'rows_done, throttled_ms');
cmp_ok($r0, '>', 0, '1: the job filled some rows before the lag reached the limit');
cmp_ok($r0, '<', 300000, '1: and was held mid-backfill');
cmp_ok(psql_p($lag_sql), '>', 2 * 1024 * 1024, '1: the lag is above the limit indeed');
# The lag passed the limit by one batch at most: between two readings of pg_stat_replication (once a
# second) the worker takes the lag as the last reading plus the WAL written since, an upper bound, and
# starts no batch once that is above the limit. One batch's WAL: its rows at the job's WAL per row.
my ($lag_held, $batch_rows, $wal_per_row) = split /\|/, psql_p(qq{
    SELECT ($lag_sql), p.batch_rows, j.wal_bytes::float8 / j.rows_done
      FROM safe_column_jobs j JOIN safe_column_progress p USING (job_id) WHERE job_id = $j1});
my $overshoot = $lag_held - 2 * 1024 * 1024;
my $batch_wal = $batch_rows * $wal_per_row;
note sprintf('lag held at %d bytes: %d past the limit; last batch %d rows, %.0f bytes of WAL per row: %.0f bytes',
    $lag_held, $overshoot, $batch_rows, $wal_per_row, $batch_wal);
cmp_ok($overshoot, '<=', 1.5 * $batch_wal + 256 * 1024,
    "1: the lag passed the limit by about one batch's WAL at most ($overshoot bytes; one batch about $batch_wal)");
# Nothing advances while the worker records two more seconds of throttling.
wait_for($primary, qq{SELECT throttled_ms >= $t0 + 2000 FROM safe_column_jobs WHERE job_id = $j1}, 't',
    '1: the throttled time grows while replay is paused');
is(psql_p(qq{SELECT j.rows_done || ' ' || p.throttled || ' ' || (p.throttle_reason LIKE 'replica\\_lag\\_bytes standby1 %')
               FROM safe_column_jobs j JOIN safe_column_progress p USING (job_id) WHERE job_id = $j1}),
    "$r0 true true", '1: rows_done did not advance meanwhile, and the job is still throttled on the standby');
is(psql_p('SELECT count(u) FROM t1'), $r0, '1: no row was filled while throttled');

sql($standby, 'SELECT pg_wal_replay_resume()');
wait_state($j1, 'complete', '1: once replay resumed, the job completed');
is(psql_p('SELECT count(*) FROM t1 WHERE u IS NULL'), '0', '1: every row is filled');
same_on_standby('t1', 'u', '1: the standby caught up and holds exactly the primary\'s values');
is(job_field($j1, q{(throttle_stats ->> 'replica_lag_bytes')::float8 >= 2000 AND throttled_ms >= 2000}), 't',
    '1: throttle_stats counts the time throttled on replica_lag_bytes');

# ---------------------------------------------------------------------------------------------
# 2. An inactive logical slot never throttles, however far behind it is.

psql_p(q{SELECT pg_create_logical_replication_slot('lagslot', 'test_decoding')});
my $j2 = psql_p(q{SELECT safe_add_column('t2', 'h', 'text', backfill_expr => 'md5(v)')});
wait_state($j2, 'complete', '2: the job completed with an inactive slot behind');
is(psql_p('SELECT count(*) FROM t2 WHERE h IS DISTINCT FROM md5(v)'), '0', '2: exact values');
cmp_ok(job_field($j2, 'wal_bytes'), '>', 4 * 1024 * 1024, '2: the job wrote more WAL than safe_column.max_slot_lag');
is(psql_p(q{SELECT active || ' ' || (pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) > 4 * 1024 * 1024)
              FROM pg_replication_slots WHERE slot_name = 'lagslot'}),
    'false true', '2: the slot, inactive, is more than the limit behind');
is(job_field($j2, q{throttle_stats ? 'slot_lag'}), 'f', '2: the job was never throttled on slot_lag');

# ---------------------------------------------------------------------------------------------
# 3. An active slot that does not confirm: pg_recvlogical consumes the slot (confirming every second)
# until it has caught up, then is stopped with SIGSTOP: its connection stays open, the slot stays
# active, and its confirmed_flush_lsn stays where it was.

my $recv_out = $primary->basedir . '/recvlogical.out';
my $recv_pid = fork();
die "fork: $!" unless defined $recv_pid;
if ($recv_pid == 0) {
    # The child must not run the parent's END blocks (they would stop the clusters): _exit on failure.
    open(STDOUT, '>', $recv_out) or POSIX::_exit(126);
    open(STDERR, '>&', \*STDOUT) or POSIX::_exit(126);
    no warnings 'exec';    # the lines after exec run only if it failed
    exec('pg_recvlogical', '-d', $primary->connstr('postgres'), '-S', 'lagslot', '--start', '--no-loop',
        '-f', '-', '--fsync-interval=1', '--status-interval=1');
    print STDERR "exec pg_recvlogical: $!\n";
    POSIX::_exit(127);
}
END { if ($recv_pid) { kill 'KILL', $recv_pid; waitpid($recv_pid, 0); } }

wait_for($primary, q{SELECT active AND pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) < 1024 * 1024
                       FROM pg_replication_slots WHERE slot_name = 'lagslot'}, 't',
    '3: pg_recvlogical made the slot active and caught up');
kill 'STOP', $recv_pid;

my $j3 = psql_p(q{SELECT safe_add_column('t3', 'h', 'text', backfill_expr => 'md5(v)')});
wait_for($primary, qq{SELECT throttled AND throttle_reason LIKE 'slot\\_lag lagslot %'
                        FROM safe_column_progress WHERE job_id = $j3}, 't',
    '3: the job is throttled on the lag of the active slot');
like(psql_p("SELECT throttle_reason FROM safe_column_progress WHERE job_id = $j3"),
    qr/^slot_lag lagslot \d+ MB > 4 MB$/, '3: the reason names the signal, the slot, its lag and the limit');
my ($r3, $t3) = split /\|/, job_field($j3, q{rows_done, coalesce((throttle_stats ->> 'slot_lag')::float8, 0)});
# Read now, not right after the SIGSTOP: a reply the consumer sent just before it may still have been
# on its way to the walsender.
my $confirmed = psql_p(q{SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'lagslot'});
cmp_ok($r3, '>', 0, '3: the job filled some rows before the slot lag reached the limit');
wait_for($primary, qq{SELECT (throttle_stats ->> 'slot_lag')::float8 >= $t3 + 1500 FROM safe_column_jobs WHERE job_id = $j3},
    't', '3: the time throttled on slot_lag grows');
is(psql_p(qq{SELECT j.rows_done || ' ' || p.throttled || ' ' || (p.throttle_reason LIKE 'slot\\_lag lagslot %')
               FROM safe_column_jobs j JOIN safe_column_progress p USING (job_id) WHERE job_id = $j3}),
    "$r3 true true", '3: rows_done did not advance meanwhile, and the job is still throttled on the slot');
is(psql_p(q{SELECT active || ' ' || confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'lagslot'}),
    "true $confirmed", '3: (the slot stayed active, and confirmed nothing more)');

# The consumer goes away (SIGKILL works on a stopped process): the slot is inactive, the job goes on.
kill 'KILL', $recv_pid;
waitpid($recv_pid, 0);
$recv_pid = 0;
wait_for($primary, q{SELECT active FROM pg_replication_slots WHERE slot_name = 'lagslot'}, 'f',
    '3: the slot is inactive once its consumer is gone');
wait_state($j3, 'complete', '3: the job completed');
is(psql_p('SELECT count(*) FROM t3 WHERE h IS DISTINCT FROM md5(v)'), '0', '3: exact values');
is(job_field($j3, q{(throttle_stats ->> 'slot_lag')::float8 >= 1500}), 't', '3: throttle_stats counts the time throttled on slot_lag');
psql_p(q{SELECT pg_drop_replication_slot('lagslot')});
is(psql_p('SELECT count(*) FROM pg_replication_slots'), '0', '3: the slot is dropped');

# ---------------------------------------------------------------------------------------------
# 4. Critical: the standby more than twice the limit behind for a second pauses the job.

psql_p(q{ALTER SYSTEM SET safe_column.critical_factor = 2; ALTER SYSTEM SET safe_column.critical_duration = '1s';
         SELECT pg_reload_conf();});
wait_for($primary, q{SELECT current_setting('safe_column.critical_factor') || ' ' || current_setting('safe_column.critical_duration')},
    '2 1s', '4: critical settings loaded');
$primary->wait_for_catchup($standby);
sql($standby, 'SELECT pg_wal_replay_pause()');
# The application writes while the standby does not replay: its lag goes past the critical level
# (2 x 2 MB) before the job starts, so that the job never runs a batch.
psql_p(q{INSERT INTO filler SELECT g, md5(g::text) FROM generate_series(1, 150000) g});
cmp_ok(psql_p($lag_sql), '>', 4 * 1024 * 1024, '4: the standby is more than the critical level behind');
my $log_offset = -s $primary->logfile;
my $j4 = psql_p(q{SELECT safe_add_column('t4', 'h', 'text', backfill_expr => 'md5(v)')});
wait_state($j4, 'paused', '4: the job is paused');
like(job_field($j4, 'pause_reason'), qr/^replica_lag_bytes standby1 \d+ MB > 4 MB for \d+ s \(critical\)$/,
    '4: pause_reason names the standby, the critical level, and says critical');
is(job_field($j4, q{rows_done || ' ' || ((throttle_stats ->> 'replica_lag_bytes')::float8 >= 1000)}), '0 true',
    '4: the job waited at least critical_duration on the signal before the pause, and ran no batch');
is(psql_p('SELECT count(h) FROM t4'), '0', '4: no row was filled');
wait_for($primary, "SELECT count(*) FROM safe_column_live() WHERE job_id = $j4", '0', '4: the worker let go of the paused job');
like(slurp_file($primary->logfile, $log_offset), qr/safe_column job $j4 paused: replica_lag_bytes standby1 .* \(critical\)/,
    '4: the pause is in the server log');
is(job_field($j4, 'state'), 'paused', '4: the job stays paused');

sql($standby, 'SELECT pg_wal_replay_resume()');
$primary->wait_for_catchup($standby);
is(psql_p("SELECT safe_column_resume($j4)"), 'backfilling', '4: resume');
wait_state($j4, 'complete', '4: the resumed job completed');
is(job_field($j4, q{pause_reason IS NULL}), 't', '4: resume cleared pause_reason');
is(psql_p('SELECT count(*) FROM t4 WHERE h IS DISTINCT FROM md5(v)'), '0', '4: exact values');
same_on_standby('t4', 'h', '4: the standby holds exactly the primary\'s values');

# ---------------------------------------------------------------------------------------------
# 5. A logical subscriber reports an apply position and shows in pg_stat_replication, but it is not a
# standby: safe_column.max_replica_lag does not count it. Its slot does (safe_column.max_slot_lag), from
# what it confirmed. The subscriber's apply worker is held on a lock, so that it lags behind.

$standby->stop;    # the subscriber is the only one to stream now
psql_p(q{ALTER SYSTEM RESET safe_column.critical_factor; ALTER SYSTEM RESET safe_column.critical_duration;
         SELECT pg_reload_conf();});
wait_for($primary, q{SELECT current_setting('safe_column.critical_factor')}, '0', '5: no critical pause');
my $sub = PostgreSQL::Test::Cluster->new('sub1');
$sub->init;
$sub->start;
psql_p(q{CREATE TABLE pubt (id int PRIMARY KEY); CREATE PUBLICATION pub FOR TABLE pubt;
         CREATE TABLE t5 (id int PRIMARY KEY, v text NOT NULL);
         INSERT INTO t5 SELECT g, md5(g::text) FROM generate_series(1, 100000) g;});
sql($sub, 'CREATE TABLE pubt (id int PRIMARY KEY)');
my $pub_conn = $primary->connstr . ' dbname=postgres';
sql($sub, "CREATE SUBSCRIPTION sub1 CONNECTION '$pub_conn' PUBLICATION pub");
wait_for($sub, q{SELECT count(*) FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')}, '0',
    '5: the subscription is in sync');
$primary->wait_for_catchup('sub1');
is(psql_p(q{SELECT count(*) FROM pg_stat_replication WHERE application_name = 'sub1' AND replay_lsn IS NOT NULL}),
    '1', '5: the subscriber shows in pg_stat_replication with an apply position');

my $sub_blocker = $sub->background_psql('postgres');
$sub_blocker->query_safe('BEGIN');
$sub_blocker->query_safe('LOCK TABLE pubt IN ACCESS EXCLUSIVE MODE');
psql_p('INSERT INTO pubt VALUES (1)');
wait_for($sub, q{SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'pubt'::regclass}, '1',
    '5: the subscriber\'s apply worker waits on the locked table');

# A job with the slot signal off for it: the subscriber's lag alone must not hold it.
my $j5 = psql_p(q{BEGIN; SELECT safe_add_column('t5', 'h', 'text', backfill_expr => 'md5(v)');
                  SELECT safe_column_pause(currval(pg_get_serial_sequence('safe_column_job_store', 'job_id'))); COMMIT;});
($j5) = split /\n/, $j5;
psql_p("SELECT safe_column_set($j5, 'max_slot_lag', '0')");
psql_p("SELECT safe_column_resume($j5)");
wait_state($j5, 'complete', '5: the job completed while the subscriber lagged');
is(psql_p('SELECT count(*) FROM t5 WHERE h IS DISTINCT FROM md5(v)'), '0', '5: exact values');
is(psql_p(q{SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) > 2 * 1024 * 1024
              FROM pg_stat_replication WHERE application_name = 'sub1'}),
    't', '5: the subscriber is more than safe_column.max_replica_lag behind in pg_stat_replication');
is(job_field($j5, q{throttle_stats ? 'replica_lag_bytes'}), 'f', '5: the job was never throttled on replica lag');

# At the server's max_slot_lag the subscriber's slot holds the next job.
my $j6 = psql_p(q{SELECT safe_add_column('t5', 'h2', 'text', backfill_expr => 'md5(v)')});
wait_for($primary, qq{SELECT throttled AND throttle_reason LIKE 'slot\\_lag sub1 %'
                        FROM safe_column_progress WHERE job_id = $j6}, 't',
    '5: the subscriber\'s slot holds the job');
like(psql_p("SELECT throttle_reason FROM safe_column_progress WHERE job_id = $j6"),
    qr/^slot_lag sub1 \d+ MB > 4 MB$/, '5: the reason names the signal, the subscription\'s slot, its lag and the limit');
$sub_blocker->query_safe('COMMIT');
$sub_blocker->quit;
wait_state($j6, 'complete', '5: once the subscriber applied again, the job completed');
is(job_field($j6, q{(throttle_stats ? 'slot_lag') AND NOT (throttle_stats ? 'replica_lag_bytes')}), 't',
    '5: throttle_stats counts the subscriber as a slot, not as a standby');
$primary->wait_for_catchup('sub1');
is(sql($sub, 'SELECT count(*) FROM pubt'), '1', '5: the subscriber applied the row it was held on');
sql($sub, 'DROP SUBSCRIPTION sub1');
$sub->stop;

# ---------------------------------------------------------------------------------------------
# No server process crashed, no job failed.

my $plog = slurp_file($primary->logfile);
my $slog = slurp_file($standby->logfile);
unlike($plog, qr/terminated by signal/, 'no process of the primary was terminated by a signal');
unlike($slog, qr/terminated by signal/, 'no process of the standby was terminated by a signal');
unlike($plog, qr/safe_column job \d+ failed/, 'no job failed');

$standby->stop;
$primary->stop;
done_testing();
