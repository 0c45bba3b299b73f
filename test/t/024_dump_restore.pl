# Dump and restore of a database with the extension and tables above safe_column.guard_min_size: the
# restore runs as sent in guard mode (the default), as a custom-format pg_restore and as a plain script
# through psql, and the restored tables have their primary key, foreign key, CHECK, index and the
# column a job added (NOT NULL, same values). pg_dump and pg_restore set check_function_bodies = off in
# their sessions: the hook lets such a session's ALTER TABLEs and CREATE INDEXes through (docs/hook.md). Before, the hook
# refused the restore's ALTER TABLE ONLY ... ADD CONSTRAINT ... PRIMARY KEY on a big table, and the
# restored table had no primary key.
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
my ($stdout, $stderr);
my $ok = IPC::Run::run(['pg_restore', '--exit-on-error', '-d', $node->connstr('dst_custom'), $dump], '>', \$stdout, '2>', \$stderr);
ok($ok, 'pg_restore into a fresh database succeeds in guard mode') or diag($stderr);
unlike($stderr // '', qr/ERROR/, 'pg_restore reports no error');
is(sql($shape, 'dst_custom'), $expected, 'the restored tables have their constraints, indexes, NOT NULL column and rows');

sql('CREATE DATABASE dst_plain');
my $script = $node->basedir . '/src.sql';
$node->command_ok(['pg_dump', '-Fp', '-d', $node->connstr('src'), '-f', $script], 'pg_dump -Fp of src');
($ret, $out, $err) = $node->psql('dst_plain', undef, extra_params => ['-v', 'ON_ERROR_STOP=1', '-f', $script]);
is($ret, 0, 'a plain dump through psql (ON_ERROR_STOP) succeeds in guard mode') or diag($err);
is(sql($shape, 'dst_plain'), $expected, 'the same tables, constraints, indexes and rows');

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
$fresh->stop;

$node->stop;
done_testing();
