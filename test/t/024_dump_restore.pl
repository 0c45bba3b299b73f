# Dump and restore of a database with the extension and tables above safe_column.guard_min_size: the
# restore runs as sent in guard mode (the default), as a custom-format pg_restore and as a plain script
# through psql, and the restored tables have their primary key, foreign key, CHECK, index and the
# column a job added (NOT NULL, same values). pg_dump and pg_restore set check_function_bodies = off in
# their sessions: the hook lets such a session's ALTER TABLEs and CREATE INDEXes through (docs/hook.md). Before, the hook
# refused the restore's ALTER TABLE ONLY ... ADD CONSTRAINT ... PRIMARY KEY on a big table, and the
# restored table had no primary key.
# The job rows come with the database: complete jobs as they were, a job in flight at the dump paused
# in the restored database with the reason and a WARNING, and finished exactly once resumed there.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SafeColumnTest;

my $node = PostgreSQL::Test::Cluster->new('restore');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'safe_column'
safe_column.guard_min_size = 64kB
safe_column.batch_target = 5ms
safe_column.batch_sleep_ratio = 0
safe_column.checkpoint_wal_share = 0
safe_column.checkpoint_min_interval = 0
});
$node->start;

sub sql { my ($q, $db) = @_; return $node->safe_psql($db // 'postgres', $q); }

sql('CREATE DATABASE src');
sql(q{
CREATE EXTENSION safe_column;
CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL CHECK (email LIKE '%@%'), pad text);
CREATE INDEX users_email ON users (email);
INSERT INTO users SELECT g, 'u' || g || '@example.com', repeat('x', 60) FROM generate_series(1, 20000) g;
CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL REFERENCES users, total numeric);
INSERT INTO orders SELECT g, 1 + g % 20000, g * 1.5 FROM generate_series(1, 20000) g;
ANALYZE;
}, 'src');
my $job = sql(q{SELECT safe_add_column('users', 'tok', 'text', backfill_expr => 'md5(id::text)', not_null => true)}, 'src');
wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $job", 'complete', 'a job added users.tok', 'src');
cmp_ok(sql(q{SELECT pg_table_size('users')}, 'src'), '>', 64 * 1024, 'users is above safe_column.guard_min_size');

# The same statement a restore sends is refused to an ordinary session, in guard mode.
sql(q{CREATE TABLE big AS SELECT g AS id FROM generate_series(1, 20000) g}, 'src');
my ($ret, $out, $err) = $node->psql('src', 'ALTER TABLE ONLY big ADD CONSTRAINT big_pkey PRIMARY KEY (id)');
like($err, qr/this ALTER TABLE would build an index on table/, 'guard refuses the primary key of a big table to an ordinary session');
($ret, $out, $err) = $node->psql('src', 'CREATE INDEX big_id ON big (id)');
like($err, qr/this CREATE INDEX would block writes to table "big"/, 'guard refuses a plain CREATE INDEX on a big table to an ordinary session');
sql('DROP TABLE big', 'src');

# A job in flight: events.w (NOT NULL) is being filled, and the worker sits inside a batch at id 6000
# (the gate, SafeColumnTest::gate_sql), so the dumps below are taken mid-backfill. Its table belongs to
# a role that is not a superuser, which created the job.
sql(gate_sql() . q{
CREATE ROLE app LOGIN;
CREATE TABLE events (id int PRIMARY KEY, v int);
INSERT INTO events SELECT g, g FROM generate_series(1, 12000) g;
ALTER TABLE events OWNER TO app;
INSERT INTO sc_gate VALUES ('events', 6000);
GRANT SELECT ON sc_gate TO app;
}, 'src');
my $inflight = $node->safe_psql('src', q{SET ROLE app; SELECT safe_add_column('events', 'w', 'int',
    backfill_expr => $$public.sc_gated('events', id, v * 3)$$, not_null => true)});
worker_gated($node, 'src', $inflight, 'the job on events sits in a batch at the gate, mid-backfill');
my $filled = sql(q{SELECT count(w) FROM events}, 'src');
cmp_ok($filled, '>', 0, "the job on events has filled rows before the dump ($filled)");
cmp_ok($filled, '<', 12000, 'and not all of them');

# What a restored database must hold, as one line to compare.
my $shape = q{SELECT (SELECT string_agg(conrelid::regclass || ':' || contype::text || ':' || convalidated, ',' ORDER BY conrelid::regclass::text, contype)
                        FROM pg_constraint WHERE conrelid IN ('users'::regclass, 'orders'::regclass))
               || '|' || (SELECT string_agg(indexrelid::regclass::text, ',' ORDER BY indexrelid::regclass::text)
                            FROM pg_index WHERE indrelid IN ('users'::regclass, 'orders'::regclass))
               || '|' || (SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'tok')
               || '|' || (SELECT md5(string_agg(id || ' ' || email || ' ' || tok, ',' ORDER BY id)) FROM users)
               || '|' || (SELECT count(*) FROM orders)};
my $expected = sql($shape, 'src');

my $dump = $node->basedir . '/src.dump';
$node->command_ok(['pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump], 'pg_dump -Fc of src');
sql('CREATE DATABASE dst_custom');
my $log_at = -s $node->logfile;
my ($stdout, $stderr);
my $ok = IPC::Run::run(['pg_restore', '--exit-on-error', '-d', $node->connstr('dst_custom'), $dump], '>', \$stdout, '2>', \$stderr);
ok($ok, 'pg_restore into a fresh database succeeds in guard mode') or diag($stderr);
unlike($stderr // '', qr/ERROR/, 'pg_restore reports no error');
is(sql($shape, 'dst_custom'), $expected, 'the restored tables have their constraints, indexes, NOT NULL column and rows');

# The job rows come with the database (the job tables are dumped with it): the complete job as it was,
# the job in flight paused with the reason, under the table's owner, with a WARNING that says so.
my $jobs_sql = q{SELECT string_agg(job_id || ':' || table_name || '.' || column_name || ':' || state, ',' ORDER BY job_id)
                   FROM safe_column_jobs};
is(sql($jobs_sql, 'dst_custom'), "$job:users.tok:complete,$inflight:events.w:paused",
   'the restored database has both jobs: the complete one, and the one in flight paused');
is(sql(qq{SELECT pause_reason || '|' || created_by || '|' || phase FROM safe_column_jobs WHERE job_id = $inflight}, 'dst_custom'),
   'restored from a dump while backfilling: resume it to finish|app|backfill',
   'the restored job says why it is paused, and runs as the table owner');
# (pg_restore shows the server's warnings with --verbose only; the server log has it, and psql prints it.)
my $restore_log = slurp_file($node->logfile, $log_at);
like($restore_log, qr/WARNING:  safe_column job $inflight on column "w" of table public.events was restored unfinished, paused/,
     'the restore logs a WARNING for the unfinished job');
like($restore_log, qr/HINT:  Resume it with SELECT safe_column_resume\($inflight\);/, 'with the command that resumes it');
is(sql(q{SELECT count(w) || '|' || count(*) FILTER (WHERE w IS DISTINCT FROM v * 3 AND w IS NOT NULL)
           || '|' || (SELECT count(*) FROM safe_column_live()) FROM events}, 'dst_custom'),
   "$filled|0|0", 'the restored rows hold the values filled before the dump, and nothing runs by itself');
# Resumed, the job finishes the restored table: every row exactly its value, NOT NULL set.
sql(q{DELETE FROM sc_gate}, 'dst_custom');
is(sql(qq{SELECT safe_column_resume($inflight)}, 'dst_custom'), 'backfilling', 'the restored job resumes');
check_job_result($node, db => 'dst_custom', job => $inflight, table => 'events', column => 'w', ref => 'v * 3',
    rows => 12000, not_null => 1, label => 'the restored job, resumed');
# A new job is numbered after the restored ones (the job id sequence comes with the dump).
my $next = sql(q{SELECT safe_add_column('orders', 'note', 'text')}, 'dst_custom');
cmp_ok($next, '>', $inflight, 'a new job in the restored database gets an id above the restored ones');

sql('CREATE DATABASE dst_plain');
my $script = $node->basedir . '/src.sql';
$node->command_ok(['pg_dump', '-Fp', '-d', $node->connstr('src'), '-f', $script], 'pg_dump -Fp of src');
($ret, $out, $err) = $node->psql('dst_plain', undef, extra_params => ['-v', 'ON_ERROR_STOP=1', '-f', $script]);
is($ret, 0, 'a plain dump through psql (ON_ERROR_STOP) succeeds in guard mode') or diag($err);
is(sql($shape, 'dst_plain'), $expected, 'the same tables, constraints, indexes and rows');
like($err, qr/WARNING:  safe_column job $inflight on column "w" of table public.events was restored unfinished, paused/,
     'a plain dump through psql: the same WARNING');
is(sql($jobs_sql, 'dst_plain'), "$job:users.tok:complete,$inflight:events.w:paused", 'and the same jobs');

# pg_restore -j: the constraints are added by several sessions at once.
sql('CREATE DATABASE dst_jobs');
$ok = IPC::Run::run(['pg_restore', '--exit-on-error', '-j', '2', '-d', $node->connstr('dst_jobs'), $dump], '>', \$stdout, '2>', \$stderr);
ok($ok, 'pg_restore -j 2 succeeds in guard mode') or diag($stderr);
is(sql($shape, 'dst_jobs'), $expected, 'the same tables, constraints, indexes and rows');

# Stage mode restores as sent too (it would otherwise stage nothing but refuse the rest).
sql(q{ALTER SYSTEM SET safe_column.mode = stage; SELECT pg_reload_conf();});
wait_for($node, q{SHOW safe_column.mode}, 'stage', 'stage mode');
sql('CREATE DATABASE dst_stage');
$ok = IPC::Run::run(['pg_restore', '--exit-on-error', '-d', $node->connstr('dst_stage'), $dump], '>', \$stdout, '2>', \$stderr);
ok($ok, 'pg_restore succeeds in stage mode') or diag($stderr);
is(sql($shape, 'dst_stage'), $expected, 'the same tables, constraints, indexes and rows');
is(sql($jobs_sql, 'dst_stage'), "$job:users.tok:complete,$inflight:events.w:paused", 'and the same jobs');
# And warn and off, the other two modes.
for my $mode (qw(warn off)) {
    sql(qq{ALTER SYSTEM SET safe_column.mode = $mode; SELECT pg_reload_conf();});
    wait_for($node, q{SHOW safe_column.mode}, $mode, "$mode mode");
    sql("CREATE DATABASE dst_$mode");
    $ok = IPC::Run::run(['pg_restore', '--exit-on-error', '-d', $node->connstr("dst_$mode"), $dump], '>', \$stdout, '2>', \$stderr);
    ok($ok, "pg_restore succeeds in $mode mode") or diag($stderr);
    is(sql($shape, "dst_$mode") . ' ' . sql($jobs_sql, "dst_$mode"), "$expected $job:users.tok:complete,$inflight:events.w:paused",
       "$mode mode: the same tables, constraints, indexes, rows and jobs");
}
sql(q{ALTER SYSTEM SET safe_column.mode = stage; SELECT pg_reload_conf();});
wait_for($node, q{SHOW safe_column.mode}, 'stage', 'stage mode again');

# pg_dumpall of the whole cluster, restored through psql into a fresh cluster that preloads safe_column
# in guard mode (the default): the only error is the one every such restore has (the bootstrap
# superuser exists already), and every database comes back whole.
my $all = $node->basedir . '/all.sql';
$node->command_ok(['pg_dumpall', '-d', $node->connstr('postgres'), '-f', $all], 'pg_dumpall of the cluster');
my $fresh = PostgreSQL::Test::Cluster->new('fresh');
$fresh->init;
$fresh->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'safe_column'
safe_column.guard_min_size = 64kB
});
$fresh->start;
($ret, $out, $err) = $fresh->psql('postgres', undef, on_error_stop => 0, extra_params => ['-f', $all]);
my @errors = grep { /ERROR/ && !/role "[^"]+" already exists/ } split /\n/, $err;
is(scalar(@errors), 0, 'pg_dumpall restores with no error but the existing bootstrap role') or diag(join("\n", @errors));
is($fresh->safe_psql('src', $shape), $expected, 'pg_dumpall: src has its tables, constraints, indexes and rows');
is($fresh->safe_psql('dst_custom', $shape), $expected, 'pg_dumpall: so has a database restored before');
is($fresh->safe_psql('src', q{SELECT extversion FROM pg_extension WHERE extname = 'safe_column'}),
   sql(q{SELECT extversion FROM pg_extension WHERE extname = 'safe_column'}, 'src'), 'pg_dumpall: the extension at its version');
is($fresh->safe_psql('src', $jobs_sql), "$job:users.tok:complete,$inflight:events.w:paused",
   'pg_dumpall: the jobs of src, the one in flight paused');
$fresh->stop;

# The source's own job is untouched by the dumps: opened, its gate lets it finish.
sql(q{DELETE FROM sc_gate}, 'src');
check_job_result($node, db => 'src', job => $inflight, table => 'events', column => 'w', ref => 'v * 3',
    rows => 12000, not_null => 1, label => 'the job in flight during the dumps');

# A job in its NOT NULL phase at the dump: the throttle query holds it before VALIDATE, its constraint
# (the helper CHECK before 18, the NOT NULL itself from 18) added NOT VALID. Restored, the constraint
# comes back NOT VALID and the job paused; resumed, it validates it and ends with NOT NULL enforced.
sql(q{CREATE TABLE sc_hold (phase text PRIMARY KEY);
      INSERT INTO sc_hold VALUES ('validate');
      CREATE TABLE nn (id int PRIMARY KEY);
      INSERT INTO nn SELECT generate_series(1, 4000);}, 'src');
sql(q{ALTER SYSTEM SET safe_column.throttle_query = 'SELECT EXISTS (SELECT 1 FROM public.sc_hold h JOIN public.safe_column_job_store j ON j.phase = h.phase WHERE j.state IN (''backfilling'', ''validating''))';
      ALTER SYSTEM SET safe_column.sample_interval = 0;
      SELECT pg_reload_conf();});
# (The worker that starts the job must read the new settings: the server has reloaded them, and the
# previous job's worker has gone. The query is run before every step: sample_interval 0.)
wait_for($node, q{SELECT current_setting('safe_column.throttle_query') LIKE '%sc_hold%'}, 't', 'the throttle query is set');
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column worker' AND datname = 'src'},
    '0', 'no worker is left in src');
my $nn_job = sql(q{SELECT safe_add_column('nn', 'w', 'int', backfill_expr => 'id * 5', not_null => true)}, 'src');
wait_for($node, "SELECT phase || ' ' || coalesce(throttle_reason, '-') FROM safe_column_progress WHERE job_id = $nn_job",
    'validate throttle_query', 'a NOT NULL job is held before VALIDATE', 'src');
my $nn_con = "SELECT count(*) || ' ' || coalesce(bool_and(convalidated)::text, '-') FROM pg_constraint
               WHERE conrelid = 'nn'::regclass
                 AND conname = (SELECT constraint_name FROM safe_column_job_store WHERE job_id = $nn_job)";
is(sql($nn_con, 'src'), '1 false', 'its constraint exists, NOT VALID');
my $nn_dump = $node->basedir . '/nn.dump';
$node->command_ok(['pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $nn_dump], 'pg_dump -Fc with a job in its NOT NULL phase');
sql('CREATE DATABASE dst_nn');
$ok = IPC::Run::run(['pg_restore', '--exit-on-error', '-d', $node->connstr('dst_nn'), $nn_dump], '>', \$stdout, '2>', \$stderr);
ok($ok, 'pg_restore of it succeeds') or diag($stderr);
is(sql(qq{SELECT state || '|' || phase || '|' || pause_reason FROM safe_column_jobs WHERE job_id = $nn_job}, 'dst_nn'),
   'paused|validate|restored from a dump while validating: resume it to finish', 'the restored job is paused in its NOT NULL phase');
is(sql($nn_con, 'dst_nn'), '1 false', 'the restored table has the constraint, NOT VALID');
sql(q{DELETE FROM sc_hold}, 'dst_nn');
sql(qq{SELECT safe_column_resume($nn_job)}, 'dst_nn');
check_job_result($node, db => 'dst_nn', job => $nn_job, table => 'nn', column => 'w', ref => 'id * 5',
    rows => 4000, not_null => 1, label => 'the restored NOT NULL job, resumed');
sql(q{DELETE FROM sc_hold}, 'src');
check_job_result($node, db => 'src', job => $nn_job, table => 'nn', column => 'w', ref => 'id * 5',
    rows => 4000, not_null => 1, label => 'the NOT NULL job in the source');

$node->stop;
done_testing();
