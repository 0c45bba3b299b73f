# pg_upgrade of a cluster with safe_column and its jobs to the next major version: the history of a
# complete job and a job paused mid-backfill (NOT NULL asked, rows half filled) come through the
# upgrade (relation OIDs are kept by pg_upgrade, so the jobs still point at their tables); on the new
# server the paused job resumes and completes exactly, and a new job runs.
# It needs the next version's server with safe_column installed for it: SC_UPGRADE_TO is that
# version's bin directory (test/run_all.sh sets it in the sid root, where 18 and 19 both are: 18 to
# 19). Skipped where it is not set. SC_UPGRADE_FROM, when set, is the old server's bin directory
# instead of this version's: in the trixie root, 15 (Debian 12's package, beside 17) to 17.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SafeColumnTest;
use IPC::Run;

my $new_bin = $ENV{SC_UPGRADE_TO} // '';
plan skip_all => 'SC_UPGRADE_TO (the bin directory of the next major version, with safe_column) is not set'
  unless $new_bin ne '' && -x "$new_bin/pg_upgrade";
my $new_root = $new_bin =~ s{/bin/?$}{}r;
# The old server: this version's, or SC_UPGRADE_FROM's (the bin directory of an older version with
# safe_column: 15 beside 17 in the trixie root).
my $old_bin = $ENV{SC_UPGRADE_FROM} // '';
my $old = backfill_node('old', undef, $old_bin ne '' ? ($old_bin =~ s{/bin/?$}{}r) : undef);
$old->start;
my $old_version = $old->pg_version;
sub old_sql { return $old->safe_psql('postgres', $_[0]); }

old_sql('CREATE EXTENSION safe_column');
make_test_table($old, 'postgres', 'done_t', 3000);
make_test_table($old, 'postgres', 'paused_t', 20000);
my $done = old_sql(q{SELECT safe_add_column('done_t', 'w', 'int', backfill_expr => 'id * 3', not_null => true)});
wait_for($old, "SELECT state FROM safe_column_jobs WHERE job_id = $done", 'complete', 'a job completes before the upgrade');

# A job held inside a batch (the gate) is paused there: the pause waits for that batch to commit (the
# batch holds the job's row), so it is sent from a session of its own, then the gate is opened.
old_sql(gate_sql() . q{INSERT INTO public.sc_gate VALUES ('up', 12000);});
my $paused = old_sql(q{SELECT safe_add_column('paused_t', 'w', 'int',
    backfill_expr => 'public.sc_gated(''up'', id, id * 7)', not_null => true)});
worker_gated($old, 'postgres', $paused, 'a second job is inside a batch');
my ($pause_out, $pause_err) = ('', '');
my $pause = IPC::Run::start([ 'psql', '-X', '-At', '-d', $old->connstr('postgres'), '-c', "SELECT safe_column_pause($paused)" ],
    '>', \$pause_out, '2>', \$pause_err);
wait_for($old, q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT safe_column_pause(%' AND wait_event_type = 'Lock'},
    '1', 'the pause waits for the batch');
old_sql('DELETE FROM public.sc_gate');
$pause->finish;
is($pause_out, "paused\n", 'the pause returned once the batch committed') or diag($pause_err);
wait_for($old, "SELECT state FROM safe_column_jobs WHERE job_id = $paused", 'paused', 'and the job is paused');
my ($filled, $nulls) = split /\|/, old_sql('SELECT count(w), count(*) - count(w) FROM paused_t');
cmp_ok($filled, '>', 0, "the paused job filled some rows ($filled)");
cmp_ok($nulls, '>', 0, "and left others ($nulls)");
my $history = q{SELECT string_agg(job_id || ':' || table_name || '.' || column_name || ':' || state || ':' || rows_done,
                                  ', ' ORDER BY job_id) FROM safe_column_jobs};
my $before = old_sql($history);
my $relids = q{SELECT string_agg(job_id || ':' || (relid = ('public.' || table_name)::regclass), ',' ORDER BY job_id)
                 FROM safe_column_job_store};
$old->stop;

# The new cluster, as initdb of the new version makes it (its checksum default is the old one's here).
my $new = PostgreSQL::Test::Cluster->new('new', install_path => $new_root);
$new->init;
$new->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'safe_column'
safe_column.batch_target = 20ms
safe_column.batch_sleep_ratio = 1
});
my $new_version = $new->pg_version;
note "pg_upgrade from $old_version to $new_version";
# (pg_upgrade writes its own files in the new data directory, and needs a writable current directory:
# the test's.)
command_ok([ "$new_bin/pg_upgrade", '--no-sync',
    '-d', $old->data_dir, '-D', $new->data_dir,
    '-b', ($old_bin ne '' ? $old_bin : $old->config_data('--bindir')), '-B', $new_bin,
    '-s', $new->host, '-p', $old->port, '-P', $new->port ],
    "pg_upgrade from $old_version to $new_version with safe_column and its jobs");
$new->start;
sub new_sql { return $new->safe_psql('postgres', $_[0]); }

is(new_sql($history), $before, 'the job history came through the upgrade');
is(new_sql($relids), "$done:true,$paused:true", 'each job still points at its table');
is(new_sql("SELECT state FROM safe_column_jobs WHERE job_id = $paused"), 'paused', 'the paused job is still paused');
is(new_sql('SELECT count(w) FROM paused_t'), $filled, 'with the rows it had filled');
is(new_sql("SELECT safe_column_resume($paused)"), 'backfilling', 'it resumes on the new server');
check_job_result($new, job => $paused, table => 'paused_t', column => 'w', ref => 'id * 7', not_null => 1,
    rows => 20000, control => 'paused_t_ctl', label => 'the paused job after the upgrade');
check_job_result($new, job => $done, table => 'done_t', column => 'w', ref => 'id * 3', not_null => 1,
    rows => 3000, control => 'done_t_ctl', label => 'the job completed before the upgrade');
my $fresh = new_sql(q{SELECT safe_add_column('done_t', 'x', 'int', backfill_expr => 'id + 1')});
check_job_result($new, job => $fresh, table => 'done_t', column => 'x', ref => 'id + 1', rows => 3000,
    label => 'a new job on the new server');
unlike(slurp_file($new->logfile), qr/terminated by signal|PANIC/, 'no process of the new server crashed');

$new->stop;
done_testing();
