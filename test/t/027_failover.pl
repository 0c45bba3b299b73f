# Failover mid-backfill. A primary and a streaming standby, both with the library preloaded (HA pairs are
# configured alike). While a NOT NULL job backfills, the standby follows: nothing of safe_column writes,
# errors or restarts there (its log has no safe_column line, safe_column_progress reads as on any
# standby). The primary is stopped (immediate) and the standby promoted: the job resumes on the new
# primary by itself within seconds and completes with exact values, NOT NULL and no helper left.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SafeColumnTest;

my $primary = backfill_node('fo_primary', qq{
wal_level = replica
max_wal_senders = 4
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
$primary->wait_for_catchup($standby, 'replay');
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

$standby->stop;
done_testing();
