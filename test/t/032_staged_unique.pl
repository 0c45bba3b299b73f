# A new column's own UNIQUE and PRIMARY KEY, staged (issue 17), through the hook in stage mode on tables
# above safe_column.guard_min_size (the default, 10 MB), each point made certain before acting. A
# session holding a snapshot makes the worker's CREATE UNIQUE INDEX CONCURRENTLY wait ("waiting for old
# snapshots", with the index there and not valid yet):
#   A. ADD COLUMN token uuid DEFAULT gen_random_uuid() UNIQUE: SIGKILL of the postmaster during the
#      build; restart: the half-built index is dropped and built again: complete, every value distinct,
#      the constraint valid and named as the plain statement names it, no rewrite (relfilenode).
#   B. Cancelled during the build: the cancel interrupts it, and no index is left behind.
#   C. ADD COLUMN n bigserial PRIMARY KEY, paused during the build: the build ends, the job stays paused
#      before attaching it; resumed: complete, the primary key and NOT NULL there.
#   D. Duplicates: the job fails with the server's error naming the value, no index is left; once the
#      application has fixed its data, a resume completes it.
#   E. safe_column_wait from a session whose snapshot the build waits for: an error that says so and
#      points to safe_column_watch (instead of a wait that never ends).
#   F. CREATE INDEX in stage mode (issue 21), the same way: the application's writes go on during the
#      build; SIGKILL of the postmaster during it; restart: built again, valid, as the plain statement
#      defines it. G. Cancelled during its build: no index left behind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SafeColumnTest;

my $rows = 160000;    # about 12 MB: above guard_min_size
my $node = backfill_node('unique', qq{
safe_column.sample_interval = 0
});
$node->start;
sub sql { my ($q, $db) = @_; return $node->safe_psql($db // 'postgres', $q); }

sql('CREATE EXTENSION safe_column');
sql(phase_hold_sql());

sub stage { return stage_add_column($node, @_); }

# The indexes of $table on $column: "name:valid" sorted, or "".
sub indexes_of {
    my ($table, $column) = @_;
    return sql(qq{SELECT coalesce(string_agg(i.indexrelid::regclass || ':' || i.indisvalid, ',' ORDER BY 1), '')
                    FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                   WHERE i.indrelid = '$table'::regclass AND a.attname = '$column'});
}

# A session that holds a snapshot (REPEATABLE READ, after a first query on another table): every
# concurrent index build started after it waits for it to end.
sub snapshot_holder {
    my $h = $node->background_psql('postgres');
    $h->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
    $h->query_safe('SELECT count(*) FROM pg_class');
    return $h;
}

sub build_waits {
    my ($job, $what) = @_;
    wait_for($node, "SELECT phase || ' ' || (phase_progress LIKE 'waiting for old snapshots%')
                       FROM safe_column_progress WHERE job_id = $job", 'build_index true', $what);
    return;
}

# ---------------------------------------------------------------------------------------------
# A. A crash during the build.
make_test_table($node, 'postgres', 'a', $rows);
cmp_ok(sql(q{SELECT pg_table_size('a')}), '>=', 10 * 1024 * 1024, 'A: the table is above guard_min_size')
    or BAIL_OUT('the tables must be above guard_min_size, or the statements run as sent');
my $fn = sql(q{SELECT pg_relation_filenode('a')});
my $holder = snapshot_holder();
my $job_a = stage('a', 'token', q{ALTER TABLE a ADD COLUMN token uuid DEFAULT gen_random_uuid() UNIQUE});
build_waits($job_a, 'A: the build waits for the old snapshot');
is(indexes_of('a', 'token'), 'a_token_key:false', 'A: the index is there, not valid yet');
is(sql("SELECT state FROM safe_column_jobs WHERE job_id = $job_a"), 'validating', 'A: the job is validating');
crash_restart($node);
$holder->quit;
check_job_result($node, job => $job_a, table => 'a', column => 'token', rows => $rows, control => 'a_ctl', label => 'A');
is(indexes_of('a', 'token'), 'a_token_key:true', 'A: after the restart the index was built again: one, valid');
is(sql(q{SELECT contype::text || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'a_token_key'}),
    'u UNIQUE (token)', 'A: the UNIQUE constraint, as the plain statement names and defines it');
is(sql(q{SELECT count(DISTINCT token) FROM a}), $rows, 'A: every value distinct');
is(sql(q{SELECT pg_relation_filenode('a')}), $fn, 'A: no rewrite');

# ---------------------------------------------------------------------------------------------
# B. Cancelled during the build: interrupted, nothing left behind.
make_test_table($node, 'postgres', 'b', $rows);
$holder = snapshot_holder();
my $job_b = stage('b', 'token', q{ALTER TABLE b ADD COLUMN token uuid DEFAULT gen_random_uuid() UNIQUE});
build_waits($job_b, 'B: the build waits for the old snapshot');
is(indexes_of('b', 'token'), 'b_token_key:false', 'B: the index is there, not valid yet');
is(sql("SELECT safe_column_cancel($job_b)"), 'cancelled', 'B: cancelled');
wait_for($node, q{SELECT count(*) FROM pg_class WHERE relname = 'b_token_key'}, '0',
    'B: the index is gone while the old snapshot is still held (the build was interrupted)');
is(sql("SELECT state || ' ' || coalesce(error, '-') FROM safe_column_jobs WHERE job_id = $job_b"), 'cancelled -',
    'B: the job is cancelled, with no error');
$holder->quit;
wait_for($node, "SELECT count(*) FROM safe_column_live() WHERE job_id = $job_b", '0', 'B: the worker let go of it');
is(indexes_of('b', 'token'), '', 'B: no index on the column');

# ---------------------------------------------------------------------------------------------
# C. bigserial PRIMARY KEY, paused during the build.
make_test_table($node, 'postgres', 'c', $rows);
sql(q{ALTER TABLE c DROP CONSTRAINT c_pkey});
$holder = snapshot_holder();
my $job_c = stage('c', 'n', q{ALTER TABLE c ADD COLUMN n bigserial PRIMARY KEY});
build_waits($job_c, 'C: the build waits for the old snapshot (the column is filled and NOT NULL by then)');
is(sql(q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 'c'::regclass AND attname = 'n'}), 't',
    'C: NOT NULL is enforced before the index is built');
is(sql("SELECT safe_column_pause($job_c)"), 'paused', 'C: paused');
$holder->quit;
wait_for($node, "SELECT count(*) FROM safe_column_live() WHERE job_id = $job_c", '0',
    'C: the worker ends the build, then lets go of the paused job');
is(sql("SELECT state || ' ' || phase FROM safe_column_jobs WHERE job_id = $job_c"), 'paused build_index',
    'C: paused before the index is attached');
is(indexes_of('c', 'n'), 'c_pkey:true', 'C: the index is built and valid');
is(sql(q{SELECT count(*) FROM pg_constraint WHERE conrelid = 'c'::regclass AND contype = 'p'}), '0',
    'C: no primary key yet');
is(sql("SELECT safe_column_resume($job_c)"), 'validating', 'C: resumed');
check_job_result($node, job => $job_c, table => 'c', column => 'n', not_null => 1, rows => $rows, control => 'c_ctl',
    label => 'C');
is(sql(q{SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'c'::regclass AND contype = 'p'}),
    'c_pkey PRIMARY KEY (n)', 'C: the primary key, as the plain statement names it');
is(sql(q{SELECT count(DISTINCT n) || ' ' || pg_get_serial_sequence('c', 'n') FROM c}), "$rows public.c_n_seq",
    'C: numbered by its own sequence, every value distinct');

# ---------------------------------------------------------------------------------------------
# D. Duplicates.
make_test_table($node, 'postgres', 'd', $rows);
my $job_d = stage('d', 'k', q{ALTER TABLE d ADD COLUMN k int DEFAULT 5 UNIQUE});
wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $job_d", 'failed', 'D: the job fails');
is(sql("SELECT phase || ': ' || error FROM safe_column_jobs WHERE job_id = $job_d"),
    'build_index: could not create unique index "d_k_key": Key (k)=(5) is duplicated.',
    'D: with the server\'s error, naming the duplicated value');
wait_for($node, "SELECT count(*) FROM safe_column_live() WHERE job_id = $job_d", '0', 'D: the worker let go of it');
is(sql(q{SELECT count(*) FROM pg_class WHERE relname = 'd_k_key'}), '0', 'D: no index left behind');
sql(q{UPDATE d SET k = id});
is(sql("SELECT safe_column_resume($job_d)"), 'validating', 'D: resumed once the data is fixed');
check_job_result($node, job => $job_d, table => 'd', column => 'k', ref => 'id', rows => $rows, control => 'd_ctl',
    label => 'D');
is(indexes_of('d', 'k'), 'd_k_key:true', 'D: the index is valid');

# ---------------------------------------------------------------------------------------------
# E. safe_column_wait from a session whose snapshot the build waits for.
make_test_table($node, 'postgres', 'e', 20000);
sql(q{INSERT INTO sc_hold VALUES ('build_index')});
my ($ret, $out, $err) = $node->psql('postgres', q{SET safe_column.mode = stage; SET safe_column.guard_min_size = 0;
    ALTER TABLE e ADD COLUMN token uuid DEFAULT gen_random_uuid() UNIQUE});
my $job_e = sql(q{SELECT max(job_id) FROM safe_column_jobs WHERE table_name = 'e'});
wait_for($node, "SELECT phase || ' ' || throttle_reason FROM safe_column_progress WHERE job_id = $job_e",
    'build_index throttle_query', 'E: held before the build');
my $waiter = $node->background_psql('postgres', on_error_stop => 0);
$waiter->query_until(qr/waiting/, "\\echo waiting\nSELECT safe_column_wait($job_e, '60s');\n");
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT safe_column_wait(%' AND state = 'active'},
    '1', 'E: safe_column_wait waits');
sql(q{DELETE FROM sc_hold});
wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $job_e", 'complete',
    'E: the job completes (the wait did not hold its build)');
$waiter->quit;
like($waiter->{stderr}, qr/safe_column_wait cannot wait for safe_column job $job_e while the index build of job $job_e waits for this transaction/,
    'E: the wait ended with an error that says why');
like($waiter->{stderr}, qr/HINT:  Use CALL safe_column_watch\($job_e\) outside a transaction block/, 'E: and what to use');

# ---------------------------------------------------------------------------------------------
# F. A staged CREATE INDEX: writes go on during the build; a crash during it.
make_test_table($node, 'postgres', 'f', $rows);
$holder = snapshot_holder();
($ret, $out, $err) = $node->psql('postgres', q{SET safe_column.mode = stage; CREATE INDEX f_v_pad ON f (v) INCLUDE (pad) WHERE v > 10});
is($ret, 0, 'F: CREATE INDEX returns at once in stage mode') or diag($err);
like($err, qr/safe_column staged CREATE INDEX f_v_pad on "f" as job \d+/, 'F: the NOTICE names the job');
my $job_f = sql(q{SELECT max(job_id) FROM safe_column_jobs WHERE table_name = 'f'});
is(sql("SELECT kind || ' ' || coalesce(column_name, '-') FROM safe_column_jobs WHERE job_id = $job_f"), 'create_index -',
    'F: a job of kind create_index, without a column');
build_waits($job_f, 'F: the build waits for the old snapshot');
is(sql(q{SELECT indisvalid FROM pg_index WHERE indexrelid = 'f_v_pad'::regclass}), 'f', 'F: the index is there, not valid yet');
is(sql(q{SET lock_timeout = '100ms'; UPDATE f SET v = v WHERE id <= 10; INSERT INTO f VALUES (0, 0, 'x'); DELETE FROM f WHERE id = 0;
         SELECT 'written'}), 'written', 'F: the application writes to the table during the build');
crash_restart($node);
$holder->quit;
wait_for($node, "SELECT state || ' ' || phase || ' ' || coalesce(error, '-') FROM safe_column_jobs WHERE job_id = $job_f",
    'complete done -', 'F: after the restart the job completes');
is(sql(q{SELECT indisvalid || ' ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indexrelid = 'f_v_pad'::regclass}),
    'true CREATE INDEX f_v_pad ON public.f USING btree (v) INCLUDE (pad) WHERE (v > 10)',
    'F: built again, valid, as the plain statement defines it');
is(sql(q{SELECT count(*) FROM pg_class WHERE relname LIKE 'f_v_pad%'}), '1', 'F: one index of that name, no leftover');

# ---------------------------------------------------------------------------------------------
# G. A staged CREATE INDEX cancelled during its build.
$holder = snapshot_holder();
($ret, $out, $err) = $node->psql('postgres', q{SET safe_column.mode = stage; CREATE UNIQUE INDEX f_id_v ON f (id, v)});
my $job_g = sql(q{SELECT max(job_id) FROM safe_column_jobs WHERE table_name = 'f'});
build_waits($job_g, 'G: the build waits for the old snapshot');
is(sql("SELECT safe_column_cancel($job_g)"), 'cancelled', 'G: cancelled');
wait_for($node, q{SELECT count(*) FROM pg_class WHERE relname = 'f_id_v'}, '0', 'G: no index is left behind');
$holder->quit;

$node->stop;
done_testing();
