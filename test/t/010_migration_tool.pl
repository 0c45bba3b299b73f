# A real migration tool from the npm registry (node-pg-migrate, with node-postgres) sends its own plain
# ALTER TABLE statements, in its own transaction per migration; the hook decides in every mode.
use strict;
use warnings;
use File::Path qw(make_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SafeColumnTest;

my $node = PostgreSQL::Test::Cluster->new('client');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'safe_column'
safe_column.guard_min_size = 0
});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION safe_column;
    CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
    INSERT INTO users SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 20000) g;
});
sub sql { return $node->safe_psql('postgres', $_[0]); }

# The tool, installed from the npm registry into this test's directory.
my $dir = PostgreSQL::Test::Utils::tempdir();
my ($out, $err) = run_command(['npm', 'install', '--prefix', $dir, '--cache', "$dir/.npm", '--no-audit',
                               '--no-fund', '--loglevel=error', 'node-pg-migrate@7', 'pg@8']);
my $tool = "$dir/node_modules/.bin/node-pg-migrate";
ok(-x $tool, 'node-pg-migrate installed from the npm registry') or diag("$out\n$err");

# Migrations written the way the tool's users write them: its own DSL generates the SQL.
make_path("$dir/migrations");
sub migration {
    my ($name, $body) = @_;
    open(my $fh, '>', "$dir/migrations/$name.js") or die $!;
    print $fh "exports.up = (pgm) => {\n$body\n};\nexports.down = false;\n";
    close $fh;
}
migration('1700000000001_add-token',
    q{  pgm.addColumn('users', { token: { type: 'uuid', notNull: true, default: pgm.func('gen_random_uuid()') } });});

my $url = 'postgres://localhost:' . $node->port . '/postgres?host=' . $node->host;
sub migrate {
    local $ENV{DATABASE_URL} = $url;
    local $ENV{PGHOST} = $node->host;    # node-postgres: the socket directory
    local $ENV{PGPORT} = $node->port;
    my ($stdout, $stderr) = run_command([$tool, 'up', '-m', "$dir/migrations", '--no-check-order']);
    return ($? >> 8, "$stdout\n$stderr");
}
sub applied { return sql("SELECT count(*) FROM pgmigrations WHERE name = '$_[0]'"); }
sub has_column { return sql("SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = '$_[0]' AND NOT attisdropped"); }

# --- guard (the default): the tool's run fails with the hook's message and hint; nothing is applied.
my $fn = sql(q{SELECT pg_relation_filenode('users')});
my ($rc, $output) = migrate();
isnt($rc, 0, 'guard: the migration run fails');
like($output, qr/this ALTER TABLE would rewrite table "users" under ACCESS EXCLUSIVE lock/,
    'guard: the hook\'s message reaches the tool\'s output');
like($output, qr/SELECT safe_add_column\('public\.users', 'token', 'uuid', default_expr => 'gen_random_uuid\(\)', not_null => true\)/,
    'guard: the hint with the exact safe call reaches the tool\'s output');
like($output, qr/55000/, 'guard: the SQLSTATE reaches the tool');
is(has_column('token'), '0', 'guard: no column added');
is(applied('1700000000001_add-token'), '0', 'guard: the migration is not recorded as applied');
is(sql(q{SELECT count(*) FROM safe_column_jobs}), '0', 'guard: no job');
is(sql(q{SELECT pg_relation_filenode('users')}), $fn, 'guard: the table was not rewritten');

# --- stage, set for the database (every new session of the tool gets it): the same migration completes.
sql(q{ALTER DATABASE postgres SET safe_column.mode = stage});
($rc, $output) = migrate();
is($rc, 0, 'stage: the migration run succeeds') or diag($output);
is(applied('1700000000001_add-token'), '1', 'stage: the migration is recorded as applied');
my $job = sql(q{SELECT job_id FROM safe_column_jobs WHERE column_name = 'token'});
ok($job ne '', 'stage: the statement became a job');
wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $job", 'complete', 'stage: the job completes');
is(sql(q{SELECT count(*) || ' ' || count(DISTINCT token) FROM users}), '20000 20000',
    'stage: every existing row got its own value');
is(sql(q{SELECT format_type(atttypid, atttypmod) || ' ' || attnotnull || ' ' || pg_get_expr(adbin, adrelid)
           FROM pg_attribute JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
          WHERE attrelid = 'users'::regclass AND attname = 'token'}),
    'uuid true gen_random_uuid()', 'stage: the schema is what the migration asked for');
is(sql(q{SELECT pg_relation_filenode('users')}), $fn, 'stage: no rewrite');
is(sql(q{SELECT count(*) FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype = 'c'}), '0',
    'stage: no helper constraint left');
sql(q{INSERT INTO users (id, email) VALUES (0, 'new@example.com')});
is(sql(q{SELECT token IS NOT NULL FROM users WHERE id = 0}), 't', 'stage: new rows get the default');

# --- guard refuses a CHECK that scans; warn runs it as sent; off runs it without a word.
migration('1700000000002_email-check', q{  pgm.addConstraint('users', 'email_has_at', { check: "email LIKE '%@%'" });});
sql(q{ALTER DATABASE postgres SET safe_column.mode = guard});
($rc, $output) = migrate();
isnt($rc, 0, 'guard: a validating CHECK is refused');
like($output, qr/ADD CONSTRAINT email_has_at CHECK \(email LIKE '%@%'\) NOT VALID; ALTER TABLE public\.users VALIDATE CONSTRAINT email_has_at;/,
    'guard: the NOT VALID / VALIDATE sequence reaches the tool');
is(applied('1700000000002_email-check'), '0', 'guard: not applied');
sql(q{ALTER DATABASE postgres SET safe_column.mode = warn});
($rc, $output) = migrate();
is($rc, 0, 'warn: the migration runs as sent') or diag($output);
is(sql(q{SELECT convalidated FROM pg_constraint WHERE conname = 'email_has_at'}), 't', 'warn: the CHECK is there, validated');

migration('1700000000003_seen', q{  pgm.addColumn('users', { seen: { type: 'timestamptz', default: pgm.func('clock_timestamp()') } });});
sql(q{ALTER DATABASE postgres SET safe_column.mode = off});
($rc, $output) = migrate();
is($rc, 0, 'off: the migration runs as sent') or diag($output);
isnt(sql(q{SELECT pg_relation_filenode('users')}), $fn, 'off: the volatile default rewrote the table, as PostgreSQL does');
is(sql(q{SELECT count(seen) FROM users}), '20001', 'off: every row filled by the rewrite');
is(sql(q{SELECT count(*) FROM safe_column_jobs}), '1', 'off and warn: no job besides the staged one');

# --- A column and its index in one migration (one transaction), as the tool's users write it: guard
# refuses the plain CREATE INDEX on the big table with the CONCURRENTLY statement, and the whole
# migration rolls back; written with the tool's own options for it (no transaction, concurrently), it
# runs, and the index is valid and the one the plain statement would have made.
migration('1700000000004_org', q{  pgm.addColumn('users', { org_id: { type: 'integer' } });
  pgm.createIndex('users', 'org_id');});
sql(q{ALTER DATABASE postgres SET safe_column.mode = guard});
($rc, $output) = migrate();
isnt($rc, 0, 'guard: a plain CREATE INDEX on the big table is refused');
like($output, qr/this CREATE INDEX would block writes to table "users" while it builds the index/, 'guard: the tool shows why');
like($output, qr/CREATE INDEX CONCURRENTLY "users_org_id_index" ON "users" \("org_id"\);/,
    'guard: the statement the tool sent, with CONCURRENTLY, reaches the tool');
is(applied('1700000000004_org'), '0', 'guard: not applied');
is(has_column('org_id'), '0', 'guard: the column of the same migration rolled back with it');
unlink("$dir/migrations/1700000000004_org.js");
migration('1700000000005_org', q{  pgm.noTransaction();
  pgm.addColumn('users', { org_id: { type: 'integer' } });
  pgm.createIndex('users', 'org_id', { concurrently: true });});
($rc, $output) = migrate();
is($rc, 0, 'guard: the migration with a concurrent index build runs') or diag($output);
is(sql(q{SELECT indisvalid || ' ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indexrelid = 'users_org_id_index'::regclass}),
    'true CREATE INDEX users_org_id_index ON public.users USING btree (org_id)', 'guard: the index is valid, as asked');

# --- stage: a column with its own CHECK and REFERENCES (deferrable), as the tool's DSL writes them:
# one job adds the column, fills nothing (a constant default), adds both NOT VALID and validates them;
# the constraints end as the plain statement would have made them, without a rewrite.
sql(q{CREATE TABLE plans (id integer PRIMARY KEY); INSERT INTO plans VALUES (1), (2);});
migration('1700000000006_plan', q{  pgm.addColumn('users', { plan_id: { type: 'integer', notNull: true, default: 1,
    check: 'plan_id > 0', references: 'plans', onDelete: 'CASCADE', deferrable: true, deferred: true } });});
sql(q{ALTER DATABASE postgres SET safe_column.mode = stage});
$fn = sql(q{SELECT pg_relation_filenode('users')});
($rc, $output) = migrate();
is($rc, 0, 'stage: the migration with inline CHECK and REFERENCES succeeds') or diag($output);
my $plan_job = sql(q{SELECT job_id FROM safe_column_jobs WHERE column_name = 'plan_id'});
ok($plan_job ne '', 'stage: the column with its constraints became a job');
wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $plan_job", 'complete', 'stage: that job completes');
is(sql(q{SELECT string_agg(contype::text || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated, '; ' ORDER BY contype)
           FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype IN ('c', 'f')
            AND pg_get_constraintdef(oid) LIKE '%plan_id%'}),
   'c CHECK ((plan_id > 0)) true; f FOREIGN KEY (plan_id) REFERENCES plans(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED true',
   'stage: CHECK and FOREIGN KEY validated, the key deferrable as the migration asked');
is(sql(q{SELECT count(*) FROM users WHERE plan_id = 1}), sql(q{SELECT count(*) FROM users}), 'stage: every row has the default');
is(sql(q{SELECT pg_relation_filenode('users')}), $fn, 'stage: no rewrite');

# --- stage: a serial column, as the tool writes it: its sequence, the column numbered by the worker,
# NOT NULL, the sequence owned by the column; the column is what the plain statement would have made.
migration('1700000000007_seq', q{  pgm.addColumn('users', { seq_no: { type: 'bigserial' } });});
($rc, $output) = migrate();
is($rc, 0, 'stage: the migration adding a bigserial column succeeds') or diag($output);
my $seq_job = sql(q{SELECT job_id FROM safe_column_jobs WHERE column_name = 'seq_no'});
ok($seq_job ne '', 'stage: the serial column became a job');
wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $seq_job", 'complete', 'stage: that job completes');
is(sql(q{SELECT format_type(atttypid, atttypmod) || ' ' || attnotnull || ' ' || pg_get_expr(adbin, adrelid) || ' '
                || pg_get_serial_sequence('users', 'seq_no')
           FROM pg_attribute JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
          WHERE attrelid = 'users'::regclass AND attname = 'seq_no'}),
   q{bigint true nextval('users_seq_no_seq'::regclass) public.users_seq_no_seq},
   'stage: bigint, NOT NULL, numbered by its own sequence, owned by the column');
is(sql(q{SELECT count(DISTINCT seq_no) = count(*) AND max(seq_no) <= (SELECT last_value FROM users_seq_no_seq) FROM users}), 't',
   'stage: every row has its own number, and the sequence is past them');
is(sql(q{SELECT pg_relation_filenode('users')}), $fn, 'stage: no rewrite');

# --- stage: a column with its own UNIQUE (Django's unique=True, node-pg-migrate's unique: true), and a
# table given its primary key the usual way (bigserial PRIMARY KEY): the worker fills the column, builds
# the index concurrently and attaches it; the catalog is what the plain statement would have made.
sql(q{CREATE TABLE events (kind int NOT NULL); INSERT INTO events SELECT g % 7 FROM generate_series(1, 200000) g});
my $efn = sql(q{SELECT pg_relation_filenode('events')});
migration('1700000000008_unique', q{  pgm.addColumn('users', { ref: { type: 'uuid', default: pgm.func('gen_random_uuid()'), unique: true } });
  pgm.addColumn('events', { id: { type: 'bigserial', primaryKey: true } });});
($rc, $output) = migrate();
is($rc, 0, 'stage: the migration adding a UNIQUE column and a bigserial primary key succeeds') or diag($output);
for my $c (['users', 'ref'], ['events', 'id']) {
    my ($t, $col) = @$c;
    my $j = sql(qq{SELECT job_id FROM safe_column_jobs WHERE table_name = '$t' AND column_name = '$col'});
    ok($j ne '', "stage: $t.$col became a job");
    wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $j", 'complete', "stage: $t.$col: that job completes");
}
is(sql(q{SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ', ' ORDER BY conname) FROM pg_constraint
          WHERE conrelid IN ('users'::regclass, 'events'::regclass) AND contype IN ('u', 'p') AND conname <> 'users_pkey'}),
   'events_pkey PRIMARY KEY (id), users_ref_key UNIQUE (ref)',
   'stage: the UNIQUE and the PRIMARY KEY, named and defined as the plain statements make them');
is(sql(q{SELECT bool_and(indisvalid) || ' ' || count(*) FROM pg_index WHERE indexrelid IN ('users_ref_key'::regclass, 'events_pkey'::regclass)}),
   'true 2', 'stage: both indexes valid');
is(sql(q{SELECT (SELECT count(DISTINCT ref) = count(*) FROM users) AND (SELECT count(DISTINCT id) = count(*) FROM events)}), 't',
   'stage: every value distinct');
is(sql(q{SELECT pg_relation_filenode('users') || ' ' || pg_relation_filenode('events')}), "$fn $efn", 'stage: no rewrite');

# --- stage: an identity column (node-pg-migrate's sequenceGenerated): numbered by the worker, then an
# identity column whose own sequence goes on after the numbered rows.
migration('1700000000009_identity', q{  pgm.addColumn('events', { seq: { type: 'integer', sequenceGenerated: { precedence: 'BY DEFAULT' } } });});
($rc, $output) = migrate();
is($rc, 0, 'stage: the migration adding an identity column succeeds') or diag($output);
my $id_job = sql(q{SELECT job_id FROM safe_column_jobs WHERE table_name = 'events' AND column_name = 'seq'});
ok($id_job ne '', 'stage: the identity column became a job');
wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $id_job", 'complete', 'stage: that job completes');
is(sql(q{SELECT attidentity::text || ' ' || attnotnull || ' ' || pg_get_serial_sequence('events', 'seq') FROM pg_attribute
          WHERE attrelid = 'events'::regclass AND attname = 'seq'}),
   'd true public.events_seq_seq', 'stage: an identity column BY DEFAULT, NOT NULL, its sequence named as PostgreSQL names it');
is(sql(q{SELECT count(DISTINCT seq) = count(*) AND max(seq) = (SELECT last_value FROM events_seq_seq) FROM events}), 't',
   'stage: every row numbered, the identity sequence at the last number');
is(sql(q{SELECT pg_relation_filenode('events')}), $efn, 'stage: no rewrite');

# --- stage: a column and its index in one migration (one transaction, as the tool sends it: CREATE INDEX
# without CONCURRENTLY, which a transaction block cannot run anyway): the column is staged, the index
# is built CONCURRENTLY by the worker after commit, valid and as the plain statement defines it.
migration('1700000000010_index', q{  pgm.addColumn('events', { kind2: { type: 'integer', default: 3 } });
  pgm.createIndex('events', 'kind2', { name: 'events_kind2_idx' });});
($rc, $output) = migrate();
is($rc, 0, 'stage: the migration adding a column and its index succeeds') or diag($output);
my $ix_job = sql(q{SELECT job_id FROM safe_column_jobs WHERE table_name = 'events' AND kind = 'create_index'});
ok($ix_job ne '', 'stage: the CREATE INDEX became a job');
wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $ix_job", 'complete', 'stage: that job completes');
is(sql(q{SELECT indisvalid || ' ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indexrelid = 'events_kind2_idx'::regclass}),
   'true CREATE INDEX events_kind2_idx ON public.events USING btree (kind2)', 'stage: the index is valid, as the plain statement defines it');

$node->stop;
done_testing();
