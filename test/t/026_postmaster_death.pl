# A worker must not outlive its postmaster. With safe_column.throttle = off the worker never naps, so
# nothing but its own check notices that the postmaster is gone: it asks before every step. SIGKILL of
# the postmaster mid-backfill: the worker exits within seconds, the server restarts on the first try,
# and the job then completes with exact values.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use SafeColumnTest;

my $node = backfill_node('pmdeath', qq{
safe_column.throttle = off
});
$node->start;
sub sql { my ($q) = @_; return $node->safe_psql('postgres', $q); }

sql('CREATE EXTENSION safe_column');
my $rows = 1000000;
make_test_table($node, 'postgres', 'pm', $rows);
my $job = sql(q{SELECT safe_add_column('pm', 'w', 'int', backfill_expr => 'id * 3 + 1', not_null => true)});
wait_for($node, "SELECT rows_done > 0 AND state = 'backfilling' FROM safe_column_jobs WHERE job_id = $job", 't',
    'the job backfills, unthrottled');
my $wpid = sql(q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'safe_column worker'});
ok($wpid =~ /^\d+$/, "its worker runs (pid $wpid)");
my $done_before = sql("SELECT rows_done FROM safe_column_jobs WHERE job_id = $job");
cmp_ok($done_before, '<', $rows, 'the backfill is under way when the postmaster is killed');

my $killed = kill_postmaster($node);
my $t0 = time;
my $deadline = $t0 + 2;
usleep(20_000) while !process_exited($wpid) && time < $deadline;
ok(process_exited($wpid), sprintf('the worker exits after its postmaster died (%.1f s)', time - $t0));

ok(restart_after_kill($node, $killed), 'the server restarts on the first try');
check_job_result($node, job => $job, table => 'pm', column => 'w', ref => 'id * 3 + 1', not_null => 1,
    rows => $rows, control => 'pm_ctl', label => 'after the restart');

$node->stop;
done_testing();
