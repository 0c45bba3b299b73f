# Backfill jobs survive a SIGKILL of the postmaster and a SIGTERM of their worker, and resume exactly
# where their last committed batch left them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SafeColumnTest;

my $node = PostgreSQL::Test::Cluster->new('restart');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'safe_column'
safe_column.batch_target = 20ms
safe_column.batch_sleep_ratio = 1
});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION safe_column;
    CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL);
    INSERT INTO t SELECT g, g FROM generate_series(1, 300000) g;
});

my $job = $node->safe_psql('postgres',
    q{SELECT safe_add_column('t', 'w', 'bigint', backfill_expr => 'v::bigint * 3', not_null => true)});
wait_for($node, qq{SELECT rows_done > 20000 FROM safe_column_jobs WHERE job_id = $job}, 't',
    'the worker has started filling');

# SIGKILL of the postmaster mid-backfill, then a restart: the launcher restarts the job.
# Batches commit without waiting for their WAL to be flushed (a lost batch is simply redone): the
# synchronous commit after the read flushes everything committed before it, which must then survive.
my $before = $node->safe_psql('postgres', qq{SELECT rows_done FROM safe_column_jobs WHERE job_id = $job});
$node->safe_psql('postgres', q{CREATE TABLE flush_marker ()});
crash_restart($node);
my $after_restart = $node->safe_psql('postgres', qq{SELECT rows_done FROM safe_column_jobs WHERE job_id = $job});
cmp_ok($after_restart, '>=', $before, 'progress committed before a flush survived the crash');
cmp_ok($after_restart, '<', 300000, 'the job was interrupted mid-backfill');
wait_for($node, qq{SELECT state FROM safe_column_jobs WHERE job_id = $job}, 'complete', 'the job completed after the restart');
is($node->safe_psql('postgres', q{SELECT count(*) FROM t WHERE w IS DISTINCT FROM v::bigint * 3}), '0',
    'every row holds exactly its value');
is($node->safe_psql('postgres',
    q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'w'}), 't', 'NOT NULL is set');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_constraint WHERE conrelid = 't'::regclass AND contype = 'c'}),
    '0', 'no helper constraint is left');

# SIGTERM of the worker: it is started again and the job resumes.
my $job2 = $node->safe_psql('postgres',
    q{SELECT safe_add_column('t', 'x', 'int', backfill_expr => 'v + 1')});
wait_for($node, qq{SELECT rows_done > 20000 FROM safe_column_jobs WHERE job_id = $job2}, 't', 'second job started');
my $pid = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'safe_column worker'});
ok($pid =~ /^\d+$/, 'the worker shows in pg_stat_activity with its backend type');
$node->safe_psql('postgres', qq{SELECT pg_terminate_backend($pid)});
wait_for($node, qq{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker' AND pid <> $pid}, '1',
    'a new worker took over');
wait_for($node, qq{SELECT state FROM safe_column_jobs WHERE job_id = $job2}, 'complete', 'the second job completed');
is($node->safe_psql('postgres', q{SELECT count(*) FROM t WHERE x IS DISTINCT FROM v + 1}), '0',
    'every row holds exactly its value after the SIGTERM');

# The worker leaves when there is nothing to do.
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker'}, '0',
    'no worker is left when every job is done');

$node->stop;
done_testing();
