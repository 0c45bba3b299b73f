# Helpers shared by safe_column's TAP tests.
package SafeColumnTest;
use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use Test::More;
use Time::HiRes qw(usleep time);

our @EXPORT = qw(backfill_node psql_as crash_restart kill_postmaster restart_after_kill process_exited wait_for check_job_result make_test_table gate_sql worker_gated native_not_null helper_constraint_sql phase_hold_sql stage_add_column);

# PostgreSQL 18 and later: a NOT NULL job's constraint is the server's own NOT NULL (contype 'n', named
# table_column_not_null), added NOT VALID and validated; no helper CHECK, no set_not_null step, and a
# column with a NOT VALID NOT NULL already shows attnotnull.
sub native_not_null {
    my ($node) = @_;
    return $node->pg_version >= 18 ? 1 : 0;
}

# pg_constraint rows that are the helper of an unfinished NOT NULL job: the CHECK named after the job
# (before 18), or any constraint not validated (a NOT NULL NOT VALID from 18).
sub helper_constraint_sql {
    return q{(conname LIKE 'safe\_column\_%' OR NOT convalidated)};
}

# A cluster (initialized, not started) with safe_column preloaded and the settings the crash and
# restart suites share: small batches, a pause as long as each batch, room for a worker per database.
# $extra_conf: more postgresql.conf lines.
sub backfill_node {
    my ($name, $extra_conf, $install_path) = @_;
    my $node = PostgreSQL::Test::Cluster->new($name, defined $install_path ? (install_path => $install_path) : ());
    $node->init;
    $node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'safe_column'
safe_column.batch_target = 20ms
safe_column.batch_sleep_ratio = 1
max_worker_processes = 16
} . ($extra_conf // ''));
    return $node;
}

# Run SQL as a role (its own login) on $node: (SQLSTATE or 00000, stdout, stderr).
sub psql_as {
    my ($node, $role, $q, $db) = @_;
    my ($ret, $out, $err) = $node->psql($db // 'postgres', $q,
        extra_params => ['-U', $role, '-v', 'VERBOSITY=verbose', '-v', 'ON_ERROR_STOP=1']);
    my ($code) = $err =~ /ERROR:  ([0-9A-Z]{5}):/;
    return ($code // ($ret == 0 ? '00000' : "exit $ret"), $out, $err);
}

# poll_query_until as a test: the query must return $expected before the deadline (no fixed sleeps).
sub wait_for {
    my ($node, $sql, $expected, $what, $db) = @_;
    return ok($node->poll_query_until($db // 'postgres', $sql, $expected), $what);
}

sub _proc_state {
    my ($pid) = @_;
    open(my $fh, '<', "/proc/$pid/stat") or return undef;
    my $stat = <$fh>;
    close $fh;
    return $stat =~ /^\d+ \(.*\) (\S)/ ? $1 : undef;
}

sub _nattch {
    my ($shmid) = @_;
    open(my $fh, '<', '/proc/sysvipc/shm') or return 0;
    while (my $line = <$fh>) {
        my @f = split ' ', $line;
        return $f[6] if defined $f[1] && $f[1] eq $shmid;
    }
    return 0;
}

# SIGKILL the postmaster; returns what restart_after_kill needs.
sub kill_postmaster {
    my ($node) = @_;
    my $pidfile = $node->data_dir . '/postmaster.pid';
    open(my $fh, '<', $pidfile) or die "no $pidfile";
    my @lines = <$fh>;
    close $fh;
    chomp @lines;
    my $pmpid = $lines[0];
    my (undef, $shmid) = split ' ', ($lines[6] // '');
    $node->kill9;
    return { pidfile => $pidfile, pmpid => $pmpid, shmid => $shmid };
}

# Whether process $pid has exited (gone, or a zombie not yet reaped).
sub process_exited {
    my ($pid) = @_;
    my $state = _proc_state($pid);
    return !defined $state || $state eq 'Z';
}

# After kill_postmaster: wait until every process of the old server is gone, start again.
# On machines whose init reaps orphans late, the killed postmaster stays a zombie and its lock file
# would refuse the restart: once nothing is attached to its shared memory any more, the lock file is
# stale and is removed, with the socket's lock file.
sub restart_after_kill {
    my ($node, $killed) = @_;
    my ($pidfile, $pmpid, $shmid) = @$killed{qw(pidfile pmpid shmid)};
    my $deadline = time + 60;
    while (time < $deadline) {
        last if process_exited($pmpid) && (!defined $shmid || _nattch($shmid) == 0);
        usleep(50_000);
    }
    my $state = _proc_state($pmpid);
    if (defined $state && $state eq 'Z') {
        unlink $pidfile;
        unlink $node->host . '/.s.PGSQL.' . $node->port . '.lock';
    }
    return $node->start(fail_ok => 1);
}

# SIGKILL the postmaster, wait until every process of the old server is gone, start again.
sub crash_restart {
    my ($node) = @_;
    restart_after_kill($node, kill_postmaster($node)) or die "restart after SIGKILL failed";
    return;
}

# ---------------------------------------------------------------------------------------------
# Helpers of the crash, restart and load suites (020-022).

# A table of $rows rows (id, v, pad) and an untouched control copy "${name}_ctl" of it, for
# check_job_result's comparison of every other column. $partitions > 0: hash-partitioned.
sub make_test_table {
    my ($node, $db, $name, $rows, $partitions) = @_;
    my $parts = '';
    if ($partitions) {
        $parts = " PARTITION BY HASH (id);\n"
          . join('', map { "CREATE TABLE ${name}_p$_ PARTITION OF $name FOR VALUES WITH (MODULUS $partitions, REMAINDER $_);\n" }
              0 .. $partitions - 1);
    }
    $node->safe_psql($db, qq{
        CREATE TABLE $name (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL)$parts;
        INSERT INTO $name SELECT g, g % 1000, md5(g::text || 'pad') FROM generate_series(1, $rows) g;
        CREATE TABLE ${name}_ctl AS SELECT * FROM $name;
        ANALYZE $name;
    });
    return;
}

# A gate for the expressions of jobs: public.sc_gated(tag, id, value) returns value, but first waits
# (pg_sleep) as long as (tag, id) is in public.sc_gate. A worker that runs a batch over a gated row
# stays inside that batch, provably (pg_stat_activity shows the batch and wait_event PgSleep), until
# the gate is opened. Names are qualified: the worker runs expressions with a pinned search_path.
sub gate_sql {
    return q{
        CREATE TABLE public.sc_gate (tag text, id int, PRIMARY KEY (tag, id));
        CREATE FUNCTION public.sc_gated(tag text, i int, val anyelement) RETURNS anyelement
        LANGUAGE plpgsql AS $gate$
        BEGIN
            WHILE EXISTS (SELECT 1 FROM public.sc_gate g WHERE g.tag = sc_gated.tag AND g.id = i) LOOP
                PERFORM pg_catalog.pg_sleep(0.01);
            END LOOP;
            RETURN val;
        END $gate$;
    };
}

# Wait until the worker of database $db runs a batch of job $job and sleeps in the gate; returns the
# worker's pid and the phase its activity names ('backfill', 'sweep', 'final_sweep').
sub worker_gated {
    my ($node, $db, $job, $what) = @_;
    my $sql = qq{SELECT count(*) FROM pg_stat_activity
                  WHERE backend_type = 'safe_column worker' AND datname = '$db'
                    AND query LIKE 'safe_column job $job: %' AND wait_event = 'PgSleep'};
    ok($node->poll_query_until($db, $sql, '1'), $what);
    my $row = $node->safe_psql($db, qq{SELECT pid || ' ' || split_part(split_part(query, ': ', 2), ' ', 1)
                                          FROM pg_stat_activity
                                         WHERE backend_type = 'safe_column worker' AND datname = '$db'
                                           AND query LIKE 'safe_column job $job: %'});
    return split ' ', $row;
}

# Wait for job $job to complete, then check everything about it against references computed
# independently of safe_column:
#   - state complete, phase done, no error;
#   - every row of the table holds exactly $ref (an SQL expression over the row; without one, a value),
#     and the table has the $rows rows expected (when given);
#   - every other column equals the control copy (when given: a table with the original columns);
#   - NOT NULL set as asked, on the table and every partition;
#   - nothing of the job is left: no constraint named safe_column_* on any of its tables, no live
#     slot in shared memory.
# Returns the number of rows checked.
sub check_job_result {
    my ($node, %a) = @_;
    my $db = $a{db} // 'postgres';
    my ($job, $table, $col) = @a{qw(job table column)};
    my $label = $a{label} // "job $job ($table.$col)";
    my $psql = sub { $node->safe_psql($db, $_[0]) };
    ok($node->poll_query_until($db, "SELECT state FROM safe_column_jobs WHERE job_id = $job", 'complete'),
        "$label: complete");
    is($psql->("SELECT state || '|' || phase || '|' || coalesce(error, '<null>') FROM safe_column_jobs WHERE job_id = $job"),
        'complete|done|<null>', "$label: phase done, no error");
    # Without a reference (a volatile default), at least: a value in every row.
    my $wrong = defined $a{ref} ? "$col IS DISTINCT FROM ($a{ref})" : "$col IS NULL";
    my ($all, $bad) = split /\|/, $psql->("SELECT count(*) || '|' || count(*) FILTER (WHERE $wrong) FROM $table");
    is($bad, '0', "$label: every row holds " . (defined $a{ref} ? "exactly $a{ref}" : 'a value') . " ($all rows)");
    is($all, $a{rows}, "$label: the table has its $a{rows} rows") if defined $a{rows};
    if (defined $a{control}) {
        my $cols = $psql->("SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                             WHERE attrelid = '$a{control}'::regclass AND attnum > 0 AND NOT attisdropped");
        is($psql->(qq{SELECT count(*) FROM ((SELECT $cols FROM $table EXCEPT ALL SELECT $cols FROM $a{control})
                                    UNION ALL (SELECT $cols FROM $a{control} EXCEPT ALL SELECT $cols FROM $table)) d}),
            '0', "$label: every other column equals the control copy");
    }
    my $tree = "SELECT '$table'::regclass UNION SELECT relid FROM pg_partition_tree('$table')";
    is($psql->("SELECT string_agg(DISTINCT attnotnull::text, ',') FROM pg_attribute
                 WHERE attrelid IN ($tree) AND attname = '$col'"),
        ($a{not_null} ? 'true' : 'false'), "$label: NOT NULL " . ($a{not_null} ? 'set' : 'not set, as asked'));
    is($psql->("SELECT (SELECT count(*) FROM pg_constraint WHERE conrelid IN ($tree) AND " . helper_constraint_sql() . ")
                     + (SELECT count(*) FROM safe_column_live() WHERE job_id = $job)"),
        '0', "$label: no helper constraint and no live slot left");
    return $all;
}

# A hold on jobs by phase: while public.sc_hold has a row naming a phase, every running job in that
# phase is held before its next step (safe_column.throttle_query; throttle_reason 'throttle_query').
sub phase_hold_sql {
    return q{CREATE TABLE public.sc_hold (phase text PRIMARY KEY);
      ALTER SYSTEM SET safe_column.throttle_query = 'SELECT EXISTS (SELECT 1 FROM public.sc_hold h JOIN public.safe_column_job_store j ON j.phase = h.phase WHERE j.state IN (''backfilling'', ''validating''))';
      SELECT pg_reload_conf();};
}

# Send one ALTER TABLE ... ADD COLUMN in stage mode: it must run, and its NOTICE name the job. Returns the
# job id (the newest job of the column).
sub stage_add_column {
    my ($node, $table, $column, $ddl) = @_;
    my ($ret, $out, $err) = $node->psql('postgres', "SET safe_column.mode = stage; $ddl");
    is($ret, 0, "$table.$column: staged") or diag($err);
    like($err, qr/safe_column staged ADD COLUMN $column of "?$table"? as job \d+/, "$table.$column: the NOTICE names the job");
    return $node->safe_psql('postgres',
        "SELECT max(job_id) FROM safe_column_jobs WHERE table_name = '$table' AND column_name = '$column'");
}

1;
