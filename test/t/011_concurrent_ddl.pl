# Concurrent DDL and maintenance while a job runs: each case either completes with exact values, or
# ends the job in a clear state with a clear error; nothing is left behind and the server never
# restarts.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SafeColumnTest;

my $rows = $ENV{DDL_ROWS} // 60000;
# glibc fills freed memory: a value read after its memory context is gone shows as garbage.
$ENV{MALLOC_PERTURB_} //= 165;
my $node = PostgreSQL::Test::Cluster->new('ddl');
$node->init;
# Slow, small batches, so that every DDL below lands in the middle of a job.
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'safe_column'
safe_column.batch_target = 5ms
safe_column.batch_sleep_ratio = 4
safe_column.guard_min_size = 1GB
log_min_messages = log
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION safe_column');
my $started = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
sub sql { return $node->safe_psql($_[1] // 'postgres', $_[0]); }

# A table of $rows rows and a job filling md5(id) into a new column (NOT NULL when asked).
sub start_job {
    my ($table, %o) = @_;
    my $db = $o{db} // 'postgres';
    sql(qq{DROP TABLE IF EXISTS $table;
           CREATE TABLE $table (id int PRIMARY KEY, pad text);
           INSERT INTO $table SELECT g, repeat('x', 100) FROM generate_series(1, $rows) g;}, $db);
    my $nn = $o{not_null} ? 'true' : 'false';
    my $job = sql(qq{SELECT safe_add_column('$table', 'h', 'text', backfill_expr => 'md5(id::text)',
                                            not_null => $nn)}, $db);
    # In the middle: some rows done, far from all.
    ok($node->poll_query_until($db, "SELECT rows_done > 0 FROM safe_column_progress WHERE job_id = $job"),
        "$table: job $job under way");
    return $job;
}
sub end_state {
    my ($job, $db) = @_;
    $db //= 'postgres';
    $node->poll_query_until($db,
        "SELECT state IN ('complete', 'failed', 'cancelled', 'paused') FROM safe_column_jobs WHERE job_id = $job")
      or diag("job $job did not end: " . sql("SELECT state || ' ' || phase FROM safe_column_jobs WHERE job_id = $job", $db));
    return sql("SELECT state || '|' || coalesce(error, '') FROM safe_column_jobs WHERE job_id = $job", $db);
}
sub exact {
    my ($table, $col, $db) = @_;
    $col //= 'h';
    return sql("SELECT count(*) FILTER (WHERE $col IS DISTINCT FROM md5(id::text)) || '/' || count(*) FROM $table",
        $db);
}
sub helpers_left {
    my ($table, $db) = @_;
    return sql("SELECT count(*) FROM pg_constraint WHERE conrelid = '$table'::regclass AND " . helper_constraint_sql(), $db);
}

# --- maintenance that moves every row: the sweep finds whatever moved behind the resume point
for my $case (['vacuum_full', 'VACUUM FULL %s'], ['cluster', 'CLUSTER %s USING %s_pkey'],
              ['truncate', 'TRUNCATE %s']) {
    my ($name, $ddl) = @$case;
    my $table = "t_$name";
    my $job = start_job($table, not_null => 1);
    sql(sprintf($ddl, $table, $table));
    is(end_state($job), 'complete|', "$name: the job completes");
    my $want = $name eq 'truncate' ? '0/0' : "0/$rows";
    is(exact($table), $want, "$name: every row has exactly its value");
    is(sql("SELECT attnotnull FROM pg_attribute WHERE attrelid = '$table'::regclass AND attname = 'h'"), 't',
        "$name: NOT NULL set");
    is(helpers_left($table), '0', "$name: no helper constraint left");
}

# --- renames: names are resolved again at every step
{
    my $job = start_job('t_rename');
    sql('ALTER TABLE t_rename RENAME TO t_renamed');
    sql('ALTER TABLE t_renamed RENAME COLUMN h TO h2');
    sql('CREATE SCHEMA moved; ALTER TABLE t_renamed SET SCHEMA moved');
    is(end_state($job), 'complete|', 'rename of table, column and schema: the job completes');
    is(exact('moved.t_renamed', 'h2'), "0/$rows", 'rename: every row has exactly its value');
    is(sql("SELECT table_name || '.' || column_name FROM safe_column_jobs WHERE job_id = $job"), 'moved.t_renamed.h2',
        'rename: safe_column_jobs shows the current names');
}

# --- the new column's type changes (a table rewrite by the application): values stay exact
{
    my $job = start_job('t_retype');
    sql('ALTER TABLE t_retype ALTER COLUMN h TYPE varchar(64)');
    is(end_state($job), 'complete|', 'ALTER COLUMN TYPE of the new column: the job completes');
    is(exact('t_retype'), "0/$rows", 'ALTER COLUMN TYPE: every row has exactly its value');
}

# --- what takes the job's object away: the job fails with the reason; nothing is left
{
    my $job = start_job('t_dropcol', not_null => 1);
    sql('ALTER TABLE t_dropcol DROP COLUMN h');
    like(end_state($job), qr/^failed\|the column of the job was dropped/, 'DROP COLUMN: failed, with the reason');
    is(helpers_left('t_dropcol'), '0', 'DROP COLUMN: no helper constraint left');

    $job = start_job('t_droptable');
    sql('DROP TABLE t_droptable');
    like(end_state($job), qr/^failed\|the table of the job was dropped/, 'DROP TABLE: failed, with the reason');
}

# --- a NOT NULL job that fails after adding its helper CHECK: the CHECK goes, so the application can
# still update the rows left NULL; after the data is fixed, a resume completes the job.
{
    sql(q{CREATE TABLE t_nullrow (id int PRIMARY KEY, v text);
          INSERT INTO t_nullrow SELECT g, CASE WHEN g = 4 THEN NULL ELSE md5(g::text) END FROM generate_series(1, 200) g});
    my $job = sql(q{SELECT safe_add_column('t_nullrow', 'h', 'text', backfill_expr => 'v', not_null => true)});
    like(end_state($job), qr/^failed\|/, 'a row the expression leaves NULL fails the NOT NULL job');
    is(helpers_left('t_nullrow'), '0', 'the failed job left no helper constraint');
    my ($rc, $out, $err) = $node->psql('postgres', q{UPDATE t_nullrow SET v = md5('4') WHERE id = 4});
    is($rc, 0, 'the application can update the row left NULL') or diag($err);
    like(sql("SELECT safe_column_resume($job)"), qr/^(queued|backfilling|validating)$/, 'resume after the data is fixed');
    is(end_state($job), 'complete|', 'the resumed job completes');
    is(exact('t_nullrow'), '0/200', 'every row has exactly its value');
    is(sql(q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 't_nullrow'::regclass AND attname = 'h'}), 't',
        'NOT NULL set');
    is(helpers_left('t_nullrow'), '0', 'no helper constraint left');
}

# --- the creator role is dropped (its objects reassigned first, as DROP ROLE demands)
{
    sql(q{CREATE ROLE creator LOGIN; GRANT CREATE ON SCHEMA public TO creator});
    sql(q{CREATE TABLE t_role (id int PRIMARY KEY, pad text);
          INSERT INTO t_role SELECT g, 'x' FROM generate_series(1, } . $rows . q{) g;
          ALTER TABLE t_role OWNER TO creator});
    my $job = $node->safe_psql('postgres',
        q{SET ROLE creator; SELECT safe_add_column('t_role', 'h', 'text', backfill_expr => 'md5(id::text)')});
    ok($node->poll_query_until('postgres', "SELECT rows_done > 0 FROM safe_column_progress WHERE job_id = $job"),
        'role: job under way');
    sql(q{REASSIGN OWNED BY creator TO postgres; DROP OWNED BY creator; DROP ROLE creator});
    # Whichever the worker meets first: the creator losing the table (REASSIGN OWNED), or gone.
    like(end_state($job), qr/^failed\|(the role that created the job no longer exists|permission denied for table t_role)/,
        'DROP ROLE of the creator: failed, with the reason');
    is(sql(q{SELECT count(*) FROM t_role WHERE h IS DISTINCT FROM md5(id::text) AND h IS NOT NULL}), '0',
        'DROP ROLE: the rows filled before are exact');
}

# --- DROP EXTENSION: the worker stops, the table keeps its column and the values filled so far, and
# the helper constraint of a NOT NULL job held just before its VALIDATE (by a throttle query that
# holds as soon as the constraint exists) goes with the extension.
{
    sql(q{CREATE TABLE t_helper (id int PRIMARY KEY); INSERT INTO t_helper SELECT generate_series(1, 500)});
    sql(q{ALTER SYSTEM SET safe_column.throttle_query =
            'SELECT EXISTS (SELECT FROM pg_constraint WHERE contype IN (''c'', ''n'') AND NOT convalidated)'});
    sql('ALTER SYSTEM SET safe_column.sample_interval = 0');    # read the query before every step
    sql('SELECT pg_reload_conf()');
    my $held = sql(q{SELECT safe_add_column('t_helper', 'h', 'text', backfill_expr => 'md5(id::text)', not_null => true)});
    ok($node->poll_query_until('postgres', "SELECT throttled AND throttle_reason ~ 'throttle_query' FROM safe_column_progress WHERE job_id = $held"),
        'DROP EXTENSION: a NOT NULL job holds with its helper constraint in place');
    is(helpers_left('t_helper'), '1', 'DROP EXTENSION: the helper constraint exists before');
    # safe_column_wait returns the state it read in SPI's memory after many polls (it used to read it
    # after SPI_finish had freed that memory: garbage, or a crash after a long wait).
    is(sql("SELECT safe_column_wait($held, '3s')"), 'validating', 'a wait that times out returns the job\'s state');
    is(sql("SELECT safe_column_resume($held)"), 'validating', 'resume of a running job returns its state');
    sql('DROP EXTENSION safe_column');
    is(helpers_left('t_helper'), '0', 'DROP EXTENSION: the helper constraint went with the extension');
    sql('ALTER SYSTEM RESET safe_column.throttle_query');
    sql('ALTER SYSTEM RESET safe_column.sample_interval');
    sql('SELECT pg_reload_conf()');
    ok($node->poll_query_until('postgres',
        q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'safe_column worker'}),
        'DROP EXTENSION: the worker exits');
    is(exact('t_helper'), '0/500', 'DROP EXTENSION: the values filled before are exact');
    sql('CREATE EXTENSION safe_column');
}

# --- DROP DATABASE while its worker runs a job: the worker makes way at once, and never tries to
# connect to the dropped database again; WITH (FORCE) too; a failed DROP gets the worker back.
for my $force (0, 1) {
    my $db = "gone$force";
    sql("CREATE DATABASE $db");
    sql('CREATE EXTENSION safe_column', $db);
    my $job = start_job('t_db', db => $db);
    my $log_pos = -s $node->logfile;
    my $t0 = time;
    my ($rc, $out, $err) = $node->psql('postgres', "DROP DATABASE $db" . ($force ? ' WITH (FORCE)' : ''));
    is($rc, 0, "DROP DATABASE" . ($force ? ' WITH (FORCE)' : '') . ' succeeds while its job runs') or diag($err);
    ok(time - $t0 < 5, 'DROP DATABASE did not wait for its five-second timeout');
    # Long enough for a restart of the worker (bgw_restart_time 2 s) to have happened and failed.
    ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'safe_column worker'}),
        'no worker left');
    $node->safe_psql('postgres', 'SELECT pg_sleep(3)');
    my $log = substr(slurp_file($node->logfile), $log_pos);
    unlike($log, qr/FATAL:  database \d+ does not exist/, 'no worker tried to connect to the dropped database');
}
{
    # A DROP DATABASE that fails (another session is connected): the worker comes back, the job completes.
    sql('CREATE DATABASE stays');
    sql('CREATE EXTENSION safe_column', 'stays');
    my $job = start_job('t_db', db => 'stays');
    my $bg = $node->background_psql('stays');
    $bg->query_safe('SELECT 1');
    my ($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE stays');
    isnt($rc, 0, 'DROP DATABASE with a session connected fails');
    like($err, qr/being accessed by other users/, '... with PostgreSQL\'s reason');
    $bg->quit;
    is(end_state($job, 'stays'), 'complete|', 'the worker came back and the job completed');
    is(exact('t_db', 'h', 'stays'), "0/$rows", 'every row has exactly its value');
    sql('ALTER DATABASE stays RENAME TO renamed');
    sql("SELECT safe_add_column('t_db', 'h3', 'text', backfill_expr => 'md5(id::text)')", 'renamed');
    ok($node->poll_query_until('renamed', q{SELECT state = 'complete' FROM safe_column_jobs WHERE column_name = 'h3'}),
        'after ALTER DATABASE RENAME a new job runs');
}

# A database read-only by default: the worker still runs the job someone who could write queued.
{
    sql('ALTER DATABASE renamed SET default_transaction_read_only = on');
    sql(q{SET default_transaction_read_only = off;
          SELECT safe_add_column('t_db', 'h4', 'text', backfill_expr => 'md5(id::text)')}, 'renamed');
    ok($node->poll_query_until('renamed', q{SELECT state = 'complete' FROM safe_column_jobs WHERE column_name = 'h4'}),
        'a read-only database by default: the job completes');
    is(exact('t_db', 'h4', 'renamed'), "0/$rows", 'read-only database: every row exact');
}

is(sql('SELECT pg_postmaster_start_time()'), $started, 'the server never restarted');
unlike(slurp_file($node->logfile), qr/terminated by signal|server process .* exited with exit code [2-9]/,
    'no process crashed');
$node->stop;
done_testing();
