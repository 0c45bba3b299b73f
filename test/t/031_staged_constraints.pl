# A new column's own CHECK and REFERENCES, staged (issue 17), through the hook in stage mode on tables
# above safe_column.guard_min_size (the default, 10 MB), each point made certain before acting:
#   A. ADD COLUMN w int DEFAULT (volatile) CONSTRAINT w_gated CHECK (...): the CHECK calls the test
#      gate, so the worker's VALIDATE is held inside its scan at a chosen row. SIGKILL of the postmaster
#      there, restart: the job is held in VALIDATE again; the gate opens: complete, every value exact,
#      the CHECK valid and named as written, no rewrite (relfilenode).
#   B. ADD COLUMN owner_id bigint DEFAULT (volatile) REFERENCES owners: held (throttle query) before
#      VALIDATE with the foreign key NOT VALID; the application inserts into and deletes from the
#      referenced table meanwhile within a 100 ms lock_timeout; SIGKILL, restart, released: complete,
#      the foreign key valid, as the plain statement names and defines it.
#   C. The same held before VALIDATE, then safe_column_cancel: no constraint is left behind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SafeColumnTest;

my $rows = 160000;    # about 12 MB: above guard_min_size
my $node = backfill_node('staged', qq{
safe_column.sample_interval = 0
});
$node->start;
sub sql { my ($q, $db) = @_; return $node->safe_psql($db // 'postgres', $q); }

sql('CREATE EXTENSION safe_column;' . gate_sql());
sql(phase_hold_sql());

# Stage one ADD COLUMN; returns the job id (from the NOTICE's table, the newest job of the column).
sub stage { return stage_add_column($node, @_); }

sub constraint_of {
    my ($table, $name) = @_;
    return sql("SELECT count(*) || ' ' || coalesce(bool_and(convalidated)::text, '-') FROM pg_constraint
                 WHERE conrelid = '$table'::regclass AND conname = '$name'");
}

# ---------------------------------------------------------------------------------------------
# A. A CHECK, held inside VALIDATE's scan.
make_test_table($node, 'postgres', 'a', $rows);
cmp_ok(sql(q{SELECT pg_table_size('a')}), '>=', 10 * 1024 * 1024, 'A: the table is above guard_min_size')
    or BAIL_OUT('the tables must be above guard_min_size, or the statements run as sent');
my $fn = sql(q{SELECT pg_relation_filenode('a')});
my $gated = int($rows * 2 / 3);
sql(qq{INSERT INTO sc_gate VALUES ('a', $gated)});
my $job_a = stage('a', 'w', q{ALTER TABLE a ADD COLUMN w int DEFAULT (random() * 0)::int + 3
                                CONSTRAINT w_gated CHECK (public.sc_gated('a', id, w > 0))});
my ($pid, $phase) = worker_gated($node, 'postgres', $job_a, 'A: the worker is held inside its VALIDATE scan');
is(sql("SELECT phase FROM safe_column_jobs WHERE job_id = $job_a"), 'validate', 'A: in phase validate');
is(constraint_of('a', 'w_gated'), '1 false', 'A: the CHECK is there, NOT VALID');
crash_restart($node);
worker_gated($node, 'postgres', $job_a, 'A: after the restart the worker is held inside VALIDATE again');
sql(q{DELETE FROM sc_gate WHERE tag = 'a'});
check_job_result($node, job => $job_a, table => 'a', column => 'w', ref => '3', rows => $rows, control => 'a_ctl',
    label => 'A');
is(constraint_of('a', 'w_gated'), '1 true', 'A: the CHECK is valid, named as written');
is(sql(q{SELECT pg_relation_filenode('a')}), $fn, 'A: no rewrite');

# ---------------------------------------------------------------------------------------------
# B. A REFERENCES, held before VALIDATE; the application writes to the referenced table meanwhile.
sql(q{CREATE TABLE owners (id bigint PRIMARY KEY); INSERT INTO owners SELECT g FROM generate_series(1, 1000) g});
make_test_table($node, 'postgres', 'b', $rows);
sql(q{INSERT INTO sc_hold VALUES ('validate')});
my $job_b = stage('b', 'owner_id', q{ALTER TABLE b ADD COLUMN owner_id bigint DEFAULT (random() * 0)::bigint + 7
                                       REFERENCES owners ON DELETE CASCADE});
my $progress = "SELECT phase || ' ' || coalesce(throttle_reason, '-') FROM safe_column_progress WHERE job_id = $job_b";
wait_for($node, $progress, 'validate throttle_query', 'B: held before VALIDATE');
is(constraint_of('b', 'b_owner_id_fkey'), '1 false', 'B: the foreign key is there, NOT VALID');
is(sql(q{SET lock_timeout = '100ms'; INSERT INTO owners VALUES (5000); DELETE FROM owners WHERE id = 5000;
         SELECT count(*) FROM owners}), '1000', 'B: the application writes to the referenced table');
my ($ret, $out, $err) = $node->psql('postgres', q{UPDATE b SET owner_id = 999999 WHERE id = 1});
like($err, qr/violates foreign key constraint "b_owner_id_fkey"/, 'B: new values are checked already');
crash_restart($node);
wait_for($node, $progress, 'validate throttle_query', 'B: held before VALIDATE after the restart');
sql(q{DELETE FROM sc_hold});
check_job_result($node, job => $job_b, table => 'b', column => 'owner_id', ref => '7', rows => $rows,
    control => 'b_ctl', label => 'B');
is(sql(q{SELECT convalidated || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'b_owner_id_fkey'}),
    'true FOREIGN KEY (owner_id) REFERENCES owners(id) ON DELETE CASCADE', 'B: the foreign key is valid, as the plain statement defines it');

# ---------------------------------------------------------------------------------------------
# C. Cancelled while its constraints are NOT VALID: nothing is left behind.
make_test_table($node, 'postgres', 'c', $rows);
sql(q{INSERT INTO sc_hold VALUES ('validate')});
my $job_c = stage('c', 'x', q{ALTER TABLE c ADD COLUMN x bigint DEFAULT (random() * 0)::bigint + 1
                                CHECK (x > 0) REFERENCES owners});
wait_for($node, "SELECT phase || ' ' || coalesce(throttle_reason, '-') FROM safe_column_progress WHERE job_id = $job_c",
    'validate throttle_query', 'C: held before VALIDATE');
is(sql(q{SELECT count(*) || ' ' || bool_or(convalidated) FROM pg_constraint WHERE conrelid = 'c'::regclass AND contype IN ('c', 'f')}),
    '2 false', 'C: the CHECK and the foreign key are there, NOT VALID');
is(sql("SELECT safe_column_cancel($job_c)"), 'cancelled', 'C: cancelled');
is(sql(q{SELECT count(*) FROM pg_constraint WHERE conrelid = 'c'::regclass AND contype IN ('c', 'f')}), '0',
    'C: no constraint is left behind');
sql(q{DELETE FROM sc_hold});

$node->stop;
done_testing();
