# The load suite: a backfill at safe_column's defaults under a mixed pgbench workload.
#
# The application (8 clients, custom pgbench scripts) inserts rows, updates old rows and new rows
# (changing an indexed column, so the rows move), writes the new column itself in some rows once it
# exists, deletes rows and reads them. Every transaction applies the same change to a control copy
# of the table, which never gets the new column (what the application wrote into it is recorded in
# the control's app_w). After a baseline period, safe_add_column adds
#     w text NOT NULL, backfilled with md5(id::text)
# and the worker backfills it, with every safe_column setting at its default.
#
# Checked afterwards, on every row:
#   - pgbench: exit 0, 0 failed transactions, every script ran;
#   - the job completed, no error, NOT NULL set, no helper constraint, no rewrite (relfilenode);
#   - the table and the control copy hold the same ids (no row lost, none added) and the same
#     application columns (v, pad): nothing changed but what the workload did;
#   - w = the application's value where it wrote one, md5(id::text) everywhere else.
# Reported: the workload's transactions and the foreground latency percentiles (p50/p99/max from
# pgbench's per-transaction log) before the job, during it (from the safe_add_column call, whose
# catalog step may keep the application waiting up to safe_column.lock_timeout, to the job's end),
# and after it; and the job's figures.
#
# Settings (environment): LOAD_ROWS (default 400000), LOAD_SECONDS (default 40), LOAD_CLIENTS
# (default 8), LOAD_RATE (pgbench -R, total transactions per second, default 400; 0: as fast as
# possible). The issue's multi-million-row run: LOAD_ROWS=3000000 LOAD_SECONDS=300.
# The server runs with PostgreSQL's defaults for shared_buffers, max_wal_size and max_connections
# (the test framework's are tiny), fsync off (the framework's).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);
use SafeColumnTest;

my $rows = $ENV{LOAD_ROWS} // 400000;
my $seconds = $ENV{LOAD_SECONDS} // 40;
my $clients = $ENV{LOAD_CLIENTS} // 8;
my $rate = $ENV{LOAD_RATE} // 400;
my $baseline = int($seconds / 4) || 1;    # seconds of load before the job is created

my $node = PostgreSQL::Test::Cluster->new('load');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'safe_column'
shared_buffers = 128MB
max_wal_size = 1GB
max_connections = 100
log_statement = none
});
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

# The table (an index on v: updates of v are not HOT, the rows move) and its control copy.
sql(qq{
    CREATE EXTENSION safe_column;
    CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
    CREATE INDEX t_v ON t (v);
    INSERT INTO t SELECT g, g % 100000, md5(g::text) FROM generate_series(1, $rows) g;
    CREATE TABLE t_ctl (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL, app_w text);
    INSERT INTO t_ctl SELECT id, v, pad FROM t;
    CREATE SEQUENCE t_id_seq;
    SELECT setval('t_id_seq', $rows);
    VACUUM ANALYZE t, t_ctl;
});
my $relfilenode = sql(q{SELECT pg_relation_filenode('t')});

# The application. "has_w": whether the new column exists yet (the application writes it once it
# does, as an application deployed with the migration would).
my $has_w = q{SELECT count(*) AS has_w FROM pg_catalog.pg_attribute WHERE attrelid = 'public.t'::regclass AND attname = 'w' AND NOT attisdropped \gset};
my $max_id = q{SELECT last_value AS maxid FROM t_id_seq \gset};
# Each change reaches the control copy through the same statement as the table (a data-modifying
# WITH): one snapshot for both. With two statements, an insert committing between them made the
# second see a row the first had not (the control then held a change the table never got).
my %scripts = (
    insert => [2, qq{
SELECT nextval('t_id_seq') AS nid \\gset
\\set nv random(1, 100000)
$has_w
BEGIN;
\\if :has_w
INSERT INTO t (id, v, pad, w) VALUES (:nid, :nv, md5(:nv::text), md5(:nid::text));
\\else
INSERT INTO t (id, v, pad) VALUES (:nid, :nv, md5(:nv::text));
\\endif
INSERT INTO t_ctl (id, v, pad) VALUES (:nid, :nv, md5(:nv::text));
COMMIT;
}],
    update_old => [4, q{
\set id random(1, :rows)
\set dv random(1, 1000)
WITH a AS (UPDATE t SET v = v + :dv, pad = md5(pad) WHERE id = :id RETURNING id)
UPDATE t_ctl SET v = v + :dv, pad = md5(pad) WHERE id IN (SELECT id FROM a);
}],
    update_new => [2, qq{
$max_id
\\set hi greatest(:maxid, :rows + 1)
\\set id random(:rows + 1, :hi)
\\set dv random(1, 1000)
WITH a AS (UPDATE t SET v = v + :dv, pad = md5(pad) WHERE id = :id RETURNING id)
UPDATE t_ctl SET v = v + :dv, pad = md5(pad) WHERE id IN (SELECT id FROM a);
}],
    write_w => [1, qq{
$max_id
\\set id random(1, :maxid)
\\set r random(1, 1000000)
$has_w
\\if :has_w
WITH a AS (UPDATE t SET w = 'app ' || :r WHERE id = :id RETURNING id)
UPDATE t_ctl SET app_w = 'app ' || :r WHERE id IN (SELECT id FROM a);
\\endif
}],
    delete => [1, qq{
$max_id
\\set id random(1, :maxid)
WITH a AS (DELETE FROM t WHERE id = :id RETURNING id)
DELETE FROM t_ctl WHERE id IN (SELECT id FROM a);
}],
    select => [5, q{
\set id random(1, :rows)
SELECT * FROM t WHERE id = :id;
SELECT count(*), max(v) FROM t WHERE id BETWEEN :id AND :id + 50;
}],
);
my $dir = PostgreSQL::Test::Utils::tempdir;
my @script_args;
my @script_names = sort keys %scripts;
for my $name (@script_names) {
    PostgreSQL::Test::Utils::append_to_file("$dir/$name.sql", $scripts{$name}[1]);
    push @script_args, '-f', "$dir/$name.sql\@$scripts{$name}[0]";
}

# The load runs as consecutive pgbench runs of LOAD_SLICE seconds, from before the job until both
# LOAD_SECONDS have passed and the job has ended: the whole backfill runs under load, however long
# the throttling makes it.
my $slice = $ENV{LOAD_SLICE} // 10;
my @pgbench_base = ('pgbench', '-n', '-c', $clients, '-j', ($clients < 4 ? $clients : 4), '-T', $slice,
    '-D', "rows=$rows", '-l', '-h', $node->host, '-p', $node->port, @script_args, ($rate ? ('-R', $rate) : ()));
my (@slices, $run, $sout, $serr);
sub start_slice {
    ($sout, $serr) = ('', '');
    my $n = @slices + 1;
    $run = IPC::Run::start([@pgbench_base, "--log-prefix=$dir/lat$n", 'postgres'], '>', \$sout, '2>', \$serr);
    return;
}

# A checkpoint after the setup: the backfill's WAL budget (safe_column.checkpoint_wal_share) counts
# from the last checkpoint, and the setup's own WAL is not the backfill's.
sql('CHECKPOINT');
my $load_start = time;
my $deadline = $load_start + ($ENV{LOAD_TIMEOUT} // 900);
my ($job, $job_called, $state) = (undef, undef, q{});
start_slice();
while (1) {
    $run->pump_nb;
    if (!$run->pumpable) {
        my $ok = $run->finish;
        push @slices, { ok => $ok, out => $sout, err => $serr };
        last if !$ok || ($state ne '' && $state !~ /^(queued|backfilling|validating)$/ && time - $load_start >= $seconds);
        last if time > $deadline;
        start_slice();
        next;
    }
    if (!defined $job && time >= $load_start + $baseline) {
        $job_called = time;
        $job = sql(q{SELECT safe_add_column('t', 'w', 'text', backfill_expr => 'md5(id::text)', not_null => true)});
    }
    $state = sql("SELECT state FROM safe_column_jobs WHERE job_id = $job") if defined $job;
    usleep(250_000);
}
if ($run->pumpable) { $run->kill_kill; }
ok(defined $job, "$baseline s of load before the job, then the job");
is($state, 'complete', 'the job completed');
my $load_end = time;

# pgbench's reports, one per run.
my ($processed, $failed, %per_script) = (0, 0);
for my $sl (@slices) {
    $processed += $1 if $sl->{out} =~ /^number of transactions actually processed: (\d+)/m;
    $failed += ($sl->{out} =~ /^number of failed transactions: (\d+)/m ? $1 : 1);
    while ($sl->{out} =~ /^SQL script \d+: \S+\/(\w+)\.sql\n - weight: \d+ \([^)]*\)\n - (\d+) transactions/mg) {
        $per_script{$1} += $2;
    }
}
my @bad_runs = grep { !$_->{ok} || $_->{err} =~ /error|abort|fatal/i } @slices;
is(scalar(@bad_runs), 0, 'every pgbench run (' . scalar(@slices) . ') exited with 0 and reported no error')
  or diag("pgbench stderr:\n$bad_runs[0]{err}\nstdout:\n$bad_runs[0]{out}");
is($failed, 0, 'no failed transaction (pgbench)');
cmp_ok($processed, '>', 0, 'the application ran');
is(join(',', map { $_ . '=' . (($per_script{$_} // 0) > 0 ? 'ran' : 'did not run') } @script_names),
    join(',', map { "$_=ran" } @script_names), 'every script of the workload ran');

# The job, and the backfill's window inside the load.
my ($started, $finished) = split /\|/, sql(qq{SELECT extract(epoch FROM started_at) || '|' || extract(epoch FROM finished_at)
                                               FROM safe_column_jobs WHERE job_id = $job});
cmp_ok($started, '>', $load_start, 'the backfill started while the application ran');
cmp_ok($finished, '<', $load_end, 'and ended while it still ran');
is(sql("SELECT state || '|' || phase || '|' || coalesce(error, '<null>') FROM safe_column_jobs WHERE job_id = $job"),
    'complete|done|<null>', 'the job is complete, without error');

# Every row against the control copy.
is(sql(q{SELECT count(*) FROM (SELECT id FROM t EXCEPT SELECT id FROM t_ctl) a}) . ' '
     . sql(q{SELECT count(*) FROM (SELECT id FROM t_ctl EXCEPT SELECT id FROM t) a}), '0 0',
    'the table and the control copy hold the same rows: none lost, none added');
is(sql(q{SELECT count(*) FROM t JOIN t_ctl c USING (id) WHERE (t.v, t.pad) IS DISTINCT FROM (c.v, c.pad)}), '0',
    'every row holds exactly what the workload wrote into it');
is(sql(q{SELECT count(*) FROM t JOIN t_ctl c USING (id) WHERE t.w IS DISTINCT FROM coalesce(c.app_w, md5(t.id::text))}), '0',
    "w: the application's value where it wrote one, md5(id::text) everywhere else");
is(sql(q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'w'}), 't', 'NOT NULL is set');
is(sql(q{SELECT count(*) FROM pg_constraint WHERE conrelid = 't'::regclass AND contype = 'c'}), '0',
    'no helper constraint is left');
is(sql(q{SELECT pg_relation_filenode('t')}), $relfilenode, 'no rewrite (relfilenode unchanged)');

my ($total, $inserted, $deleted, $moved_old, $moved_new, $app_w) = split /\|/, sql(qq{
    SELECT count(*) || '|' || count(*) FILTER (WHERE id > $rows) || '|' || ($rows - count(*) FILTER (WHERE id <= $rows)) || '|'
           || count(*) FILTER (WHERE id <= $rows AND v <> id % 100000) || '|'
           || count(*) FILTER (WHERE id > $rows AND pad <> md5(v::text)) || '|' || count(app_w)
      FROM t_ctl});
ok($inserted > 0 && $deleted > 0 && $moved_old > 0 && $moved_new > 0 && $app_w > 0,
    'the workload inserted, deleted, updated old and new rows, and wrote w itself');

# Foreground latency from pgbench's per-transaction log: client, transaction, latency (us), script,
# epoch seconds, microseconds of the transaction's end. With -R the latency counts from the
# transaction's scheduled start (its wait for a busy client included): what the application sees.
my (%lat, $logged, %worst);
for my $file (glob("$dir/lat[0-9]*.*")) {
    open(my $fh, '<', $file) or die "$file: $!";
    while (my $line = <$fh>) {
        my @f = split ' ', $line;
        next unless @f >= 6 && $f[2] =~ /^\d+$/;
        my $end = $f[4] + $f[5] / 1e6;
        my $window = $end < $job_called ? 'before' : $end <= $finished ? 'during' : 'after';
        push @{ $lat{$window} }, $f[2] / 1000.0;
        $worst{$window} = [$f[2] / 1000.0, $end] if !$worst{$window} || $f[2] / 1000.0 > $worst{$window}[0];
        push @{ $lat{all} }, $f[2] / 1000.0;
        $logged++;
    }
    close $fh;
}
is($logged, $processed, 'the latency log holds every transaction');
cmp_ok(scalar(@{ $lat{during} // [] }), '>', 0, 'transactions ran during the job');

sub pct {
    my ($sorted, $p) = @_;
    return $sorted->[ int($p * $#$sorted + 0.5) ];
}
my @report = (sprintf('load suite: %d rows, %d clients, %s, %.0f s of load in %d pgbench runs; %d transactions (%d failed); '
      . '%d inserted, %d deleted, %d old and %d new rows updated, %d w written by the application; %d rows checked',
    $rows, $clients, ($rate ? "$rate tps" : 'unthrottled'), $load_end - $load_start, scalar(@slices), $processed, $failed, $inserted, $deleted,
    $moved_old, $moved_new, $app_w, $total));
push @report, sprintf('%-28s %8s %9s %9s %9s', 'latency (ms)', 'tx', 'p50', 'p99', 'max');
for my $window (qw(before during after all)) {
    my @l = sort { $a <=> $b } @{ $lat{$window} // [] };
    next unless @l;
    my $label = { before => 'before the job', during => 'during the job', after => 'after it', all => 'whole run' }->{$window};
    my $line = sprintf('%-28s %8d %9.2f %9.2f %9.2f', $label, scalar(@l), pct(\@l, 0.5), pct(\@l, 0.99), $l[-1]);
    $line .= sprintf('  (slowest ended %+.1f s from the safe_add_column call)', $worst{$window}[1] - $job_called)
      if $window ne 'all';
    push @report, $line;
}
push @report, 'job: ' . sql(qq{SELECT format('%s s, rows_done %s, sweep_rows %s, batches %s, WAL %s, throttled %s ms %s',
        round(extract(epoch FROM finished_at - started_at)::numeric, 1), rows_done, sweep_rows, batches,
        pg_size_pretty(wal_bytes), round(throttled_ms), throttle_stats)
      FROM safe_column_jobs WHERE job_id = $job});
diag(join("\n", @report));

$node->stop;
done_testing();
