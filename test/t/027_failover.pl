# Failover mid-backfill. A primary and a streaming standby, both with the library preloaded (HA pairs are
# configured alike). While a NOT NULL job backfills, the standby follows: nothing of safe_column writes,
# errors or restarts there (its log has no safe_column line, safe_column_progress reads as on any
# standby). The primary is stopped (immediate) and the standby promoted: the job resumes on the new
# primary by itself within seconds and completes with exact values, NOT NULL and no helper left. The
# primary commits with synchronous_commit = off (the worker's batches too): batches it committed but never
# flushed, so never sent, are simply done again on the new primary.
# Then a second failover, from the promoted standby to a standby built from a base backup taken while a
# second job backfilled, with that job in its NOT NULL phase: its constraint added NOT VALID, the job held
# before VALIDATE by the throttle query. On the promoted standby it validates and completes exactly.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SafeColumnTest;

my $primary = backfill_node('fo_primary', qq{
wal_level = replica
max_wal_senders = 4
synchronous_commit = off
safe_column.batch_sleep_ratio = 2
});
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION safe_column');
my $rows = 200000;
make_test_table($primary, 'postgres', 'fo', $rows);
$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('fo_standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;
my $standby_log_start = -s $standby->logfile;

my $job = $primary->safe_psql('postgres',
    q{SELECT safe_add_column('fo', 'w', 'int', backfill_expr => 'id * 11 + 5', not_null => true)});
wait_for($primary, "SELECT rows_done > 1000 FROM safe_column_jobs WHERE job_id = $job", 't', 'the job backfills on the primary');
# (The insert position: commits made with synchronous_commit = off may not be written out yet, and the
# default target, the write position, can lie before them.)
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
my $on_standby = $standby->safe_psql('postgres',
    "SELECT state || ' ' || (rows_done > 0) || ' ' || (worker_pid IS NULL) FROM safe_column_progress WHERE job_id = $job");
is($on_standby, 'backfilling true true', 'safe_column_progress reads on the standby (the replayed job row, no live worker)');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'safe_column%'}), '0',
    'no safe_column process runs on the standby');
my $done_at_failover = $primary->safe_psql('postgres', "SELECT rows_done FROM safe_column_jobs WHERE job_id = $job");
cmp_ok($done_at_failover, '<', $rows, "the backfill is under way at the failover ($done_at_failover of $rows rows)");

$primary->stop('immediate');
$standby->promote;
wait_for($standby, q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'safe_column worker'}, 't',
    'after promotion a worker starts on the new primary by itself');
check_job_result($standby, job => $job, table => 'fo', column => 'w', ref => 'id * 11 + 5', not_null => 1,
    rows => $rows, control => 'fo_ctl', label => 'on the promoted standby');

my $log = slurp_file($standby->logfile, $standby_log_start);
my ($before_promotion) = split /received promote request/, $log;
# The test's own statements are logged too (log_statement = all): only the server's own lines count.
my @own = grep { /safe_column|exited with exit code/ && !/027_failover\.pl/ } split /\n/, $before_promotion;
is(scalar(@own), 0, 'before promotion the standby logged nothing of safe_column') or diag(join("\n", @own));

# --- The second failover: the job in its NOT NULL phase, the standby built from a base backup mid-job.
my $p2 = $standby;
make_test_table($p2, 'postgres', 'fo2', 50000);
$p2->safe_psql('postgres', q{
    CREATE TABLE sc_hold (phase text PRIMARY KEY);
    INSERT INTO sc_hold VALUES ('validate');
    ALTER SYSTEM SET safe_column.throttle_query = 'SELECT EXISTS (SELECT 1 FROM public.sc_hold h JOIN public.safe_column_job_store j ON j.phase = h.phase WHERE j.state IN (''backfilling'', ''validating''))';
    ALTER SYSTEM SET safe_column.sample_interval = 0;
    SELECT pg_reload_conf();
});
wait_for($p2, q{SELECT current_setting('safe_column.throttle_query') LIKE '%sc_hold%'}, 't', 'the throttle query is set');
my $job2 = $p2->safe_psql('postgres',
    q{SELECT safe_add_column('fo2', 'w', 'int', backfill_expr => 'id * 13 + 1', not_null => true)});
wait_for($p2, "SELECT rows_done > 0 FROM safe_column_jobs WHERE job_id = $job2", 't', 'the second job backfills');
$p2->backup('bk2');
my $standby2 = PostgreSQL::Test::Cluster->new('fo_standby2');
$standby2->init_from_backup($p2, 'bk2', has_streaming => 1);
$standby2->start;
my $progress2 = "SELECT phase || ' ' || coalesce(throttle_reason, '-') FROM safe_column_progress WHERE job_id = $job2";
wait_for($p2, $progress2, 'validate throttle_query', 'the second job is held before VALIDATE');
my $con2 = "SELECT count(*) || ' ' || coalesce(bool_and(convalidated)::text, '-') FROM pg_constraint
             WHERE conrelid = 'fo2'::regclass
               AND conname = (SELECT constraint_name FROM safe_column_job_store WHERE job_id = $job2)";
is($p2->safe_psql('postgres', $con2), '1 false', 'its constraint exists, NOT VALID');
# (safe_column_progress shows the worker's live phase; what replicates is the job's row, committed a
# moment later: wait for that.)
wait_for($p2, "SELECT state || ' ' || phase FROM safe_column_jobs WHERE job_id = $job2", 'validating validate',
    'the job row records the NOT NULL phase');
$p2->wait_for_catchup($standby2, 'replay', $p2->lsn('insert'));
is($standby2->safe_psql('postgres', "SELECT state || ' ' || phase FROM safe_column_progress WHERE job_id = $job2"),
   'validating validate', 'the standby built from the base backup taken mid-job has the job in its NOT NULL phase');

$p2->stop('immediate');
$standby2->promote;
is($standby2->safe_psql('postgres', $con2), '1 false', 'the promoted standby has the constraint NOT VALID');
$standby2->safe_psql('postgres', 'DELETE FROM sc_hold');
check_job_result($standby2, job => $job2, table => 'fo2', column => 'w', ref => 'id * 13 + 1', not_null => 1,
    rows => 50000, control => 'fo2_ctl', label => 'the NOT NULL phase, on the second promoted standby');
check_job_result($standby2, job => $job, table => 'fo', column => 'w', ref => 'id * 11 + 5', not_null => 1,
    rows => $rows, control => 'fo_ctl', label => 'the first job, still complete there');

$standby2->stop;
done_testing();
