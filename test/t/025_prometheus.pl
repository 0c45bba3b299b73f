# The postgres_exporter queries file (monitoring/postgres_exporter_queries.yaml) with the real exporter
# (Debian's prometheus-postgres-exporter) against a cluster with a running job, a failed job and a
# complete one: /metrics, scraped over loopback, agrees with safe_column_progress and safe_column_jobs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use IPC::Run;
use SafeColumnTest;

my $exporter = '/usr/bin/prometheus-postgres-exporter';
plan skip_all => "$exporter is not installed" unless -x $exporter;

my $node = backfill_node('prom');
$node->start;
sub sql { my ($q) = @_; return $node->safe_psql('postgres', $q); }

sql(q{CREATE EXTENSION safe_column;} . gate_sql() . q{
CREATE TABLE held(id int PRIMARY KEY); INSERT INTO held SELECT generate_series(1, 2000);
INSERT INTO public.sc_gate VALUES ('held', 1500);
CREATE TABLE done_t(id int); INSERT INTO done_t SELECT generate_series(1, 100);
CREATE TABLE bad_t(id int); INSERT INTO bad_t SELECT generate_series(0, 99);
});
my $j_done = sql(q{SELECT safe_add_column('done_t', 'c', 'int', backfill_expr => 'id')});
wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $j_done", 'complete', 'a complete job');
my $j_bad = sql(q{SELECT safe_add_column('bad_t', 'c', 'int', backfill_expr => '100 / id')});
wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $j_bad", 'failed', 'a failed job');
my $j_held = sql(q{SELECT safe_add_column('held', 'h', 'int', backfill_expr => 'public.sc_gated(''held'', id, id)')});
worker_gated($node, 'postgres', $j_held, 'a running job, held inside a batch');
sql(qq{UPDATE safe_column_job_store SET throttle_stats = '{"checkpoint_wal": 1500, "lock_waiters": 250}'
        WHERE job_id = $j_done});

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $dsn = "user=" . getpwuid($<) . " host=" . $node->host . " port=" . $node->port . " dbname=postgres sslmode=disable";
my ($out, $err) = ('', '');
my $h = IPC::Run::start([$exporter, "--web.listen-address=127.0.0.1:$port", '--disable-default-metrics',
                         '--disable-settings-metrics',
                         "--extend.query-path=$ENV{TESTDIR}/../monitoring/postgres_exporter_queries.yaml"],
    '>', \$out, '2>', \$err, init => sub { $ENV{DATA_SOURCE_NAME} = $dsn });

my $http = HTTP::Tiny->new(timeout => 10);
my $metrics = '';
for (1 .. 100) {
    my $r = $http->get("http://127.0.0.1:$port/metrics");
    if ($r->{success} && $r->{content} =~ /safe_column_job_info/) {
        $metrics = $r->{content};
        last;
    }
    IPC::Run::pump_nb($h);
    select(undef, undef, undef, 0.2);
}
ok($metrics ne '', 'the exporter serves safe_column metrics on loopback') or diag($err);

# The value of a metric with the given labels (all of them must match).
sub metric {
    my ($name, %labels) = @_;
    for my $line (split /\n/, $metrics) {
        next unless $line =~ /^\Q$name\E\{([^}]*)\} (\S+)$/;
        my ($lbl, $v) = ($1, $2);
        my %l = $lbl =~ /(\w+)="([^"]*)"/g;
        next if grep { !defined $l{$_} || $l{$_} ne $labels{$_} } keys %labels;
        return $v;
    }
    return undef;
}

for my $row (split /\n/, sql(q{SELECT job_id || '|' || state || '|' || phase || '|' || rows_done || '|' || rows_total
                                        || '|' || (state = 'failed')::int || '|' || throttled::int
                                   FROM safe_column_progress ORDER BY job_id})) {
    my ($job, $state, $phase, $done, $total, $failed, $throttled) = split /\|/, $row;
    is(metric('safe_column_job_info', job => $job, state => $state, phase => $phase, datname => 'postgres'), '1',
        "job $job: info with state $state and phase $phase");
    is(metric('safe_column_job_rows_done_total', job => $job), $done, "job $job: rows_done_total $done");
    is(metric('safe_column_job_rows', job => $job), $total, "job $job: rows $total");
    is(metric('safe_column_job_failed', job => $job), $failed, "job $job: failed $failed");
    is(metric('safe_column_job_throttled', job => $job), $throttled, "job $job: throttled $throttled");
}
is(metric('safe_column_job_info', job => $j_held, table => 'held', column => 'h'), '1', 'labels table and column');
is(metric('safe_column_job_throttle_seconds_total', job => $j_done, signal => 'checkpoint_wal'), '1.5',
    'seconds throttled by signal, in seconds');
is(metric('safe_column_job_throttle_seconds_total', job => $j_done, signal => 'lock_waiters'), '0.25',
    'each signal its series');
for my $state (qw(queued backfilling validating complete failed paused cancelled)) {
    my $n = sql("SELECT count(*) FROM safe_column_jobs WHERE state = '$state'");
    is(metric('safe_column_jobs_count', state => $state, datname => 'postgres'), $n, "jobs $state: $n");
}

$h->kill_kill;
sql(q{DELETE FROM public.sc_gate});
wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $j_held", 'complete', 'the held job completes');
$node->stop;
done_testing();
