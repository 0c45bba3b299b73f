# Backfills under concurrent application traffic (pgbench, 4 clients: inserts, updates that move rows,
# deletes) finish with exact results and without a single application error:
#   (a) a NOT NULL column with a backfill_expr over an immutable column (w = id * 7 + 1); the
#       application writes w itself in its inserts once the column exists;
#   (b) a NOT NULL column with a volatile default (gen_random_uuid()): every row gets a value, all
#       distinct, new rows included;
#   (c) the same as (a) on a hash-partitioned table: exact in every partition.
# No table rewrite (relfilenodes unchanged), no helper CHECK left, NOT NULL set.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use SafeColumnTest;

my $node = PostgreSQL::Test::Cluster->new('load');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'safe_column'
safe_column.batch_target = 20ms
safe_column.batch_sleep_ratio = 0.5
max_connections = 40
});
$node->start;

my $t_rows = 200000;
my $p_rows = 60000;
$node->safe_psql('postgres', qq{
    CREATE EXTENSION safe_column;
    -- the index on v makes every update of v a non-HOT update: the row moves to another place,
    -- often behind the backfill's position, which the sweeps must catch.
    CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, payload text);
    CREATE INDEX t_v ON t (v);
    INSERT INTO t SELECT g, g, md5(g::text) FROM generate_series(1, $t_rows) g;
    CREATE SEQUENCE t_id_seq START $t_rows;
    SELECT setval('t_id_seq', $t_rows);

    CREATE TABLE p (id int PRIMARY KEY, v int NOT NULL, payload text) PARTITION BY HASH (id);
    CREATE TABLE p0 PARTITION OF p FOR VALUES WITH (MODULUS 3, REMAINDER 0);
    CREATE TABLE p1 PARTITION OF p FOR VALUES WITH (MODULUS 3, REMAINDER 1);
    CREATE TABLE p2 PARTITION OF p FOR VALUES WITH (MODULUS 3, REMAINDER 2);
    CREATE INDEX p_v ON p (v);
    INSERT INTO p SELECT g, g, md5(g::text) FROM generate_series(1, $p_rows) g;
    CREATE SEQUENCE p_id_seq START $p_rows;
    SELECT setval('p_id_seq', $p_rows);
    VACUUM ANALYZE t, p;
});

# The application. It knows nothing of the new columns until they exist: each insert looks in the
# catalog, and once w exists writes it itself, computed the same way as the backfill. It never
# names u (the default gives new rows their value). Updates change v and payload of a random row
# (a non-HOT update, the row moves), deletes remove a random row.
my $dir = PostgreSQL::Test::Utils::tempdir;
my %scripts;
for my $tbl ('t', 'p') {
    $scripts{"${tbl}_insert"} = qq{
SELECT count(*) AS has_w FROM pg_catalog.pg_attribute WHERE attrelid = 'public.$tbl'::regclass AND attname = 'w' AND NOT attisdropped \\gset
\\if :has_w
INSERT INTO $tbl (id, v, payload, w) SELECT i, i, md5(random()::text), i * 7 + 1 FROM nextval('${tbl}_id_seq') AS i;
\\else
INSERT INTO $tbl (id, v, payload) SELECT i, i, md5(random()::text) FROM nextval('${tbl}_id_seq') AS i;
\\endif
};
    $scripts{"${tbl}_update"} = qq{
UPDATE $tbl SET v = v + 1, payload = md5(random()::text)
 WHERE id = (SELECT 1 + floor(random() * last_value)::int FROM ${tbl}_id_seq);
};
    $scripts{"${tbl}_delete"} = qq{
DELETE FROM $tbl WHERE id = (SELECT 1 + floor(random() * last_value)::int FROM ${tbl}_id_seq);
};
}
my %weight = (insert => 3, update => 6, delete => 1);
my @script_args;
for my $name (sort keys %scripts) {
    my $file = "$dir/$name.sql";
    PostgreSQL::Test::Utils::append_to_file($file, $scripts{$name});
    my ($kind) = $name =~ /_(\w+)$/;
    push @script_args, '-f', "$file\@$weight{$kind}";
}

# The load runs as back-to-back pgbench runs of 2 s (each with its own report, so that it can be
# checked) until a stop file appears, or after 150 s at most. Its statements are not logged (the
# server log would grow by hundreds of thousands of lines).
my $stop_file = "$dir/stop";
my $pgbench = join ' ', map { "'$_'" }
  ('pgbench', '-n', '-c', '4', '-j', '2', '-T', '2', '-h', $node->host, '-p', $node->port, @script_args,
    'postgres');
my $loop = qq{
    end=\$((SECONDS + 150))
    while [ ! -e '$stop_file' ] && [ \$SECONDS -lt \$end ]; do
        PGOPTIONS='-c log_statement=none' $pgbench 2>&1
        rc=\$?
        echo "PGBENCH_EXIT=\$rc"
        [ \$rc -eq 0 ] || break
    done
    echo "LOAD_END=\$(date +%s.%N)"
};
my ($load_out, $load_err) = ('', '');
my $load_start = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
my $load = IPC::Run::start(['bash', '-c', $loop], '>', \$load_out, '2>', \$load_err);

wait_for($node, qq{SELECT (SELECT last_value FROM t_id_seq) > $t_rows + 100
                      AND (SELECT last_value FROM p_id_seq) > $p_rows + 100}, 't',
    'the application is running');

my $relfilenodes_sql = q{SELECT string_agg(relname || ':' || relfilenode, ',' ORDER BY relname)
                           FROM pg_class WHERE relname IN ('t', 'p0', 'p1', 'p2')};
my $relfilenodes = $node->safe_psql('postgres', $relfilenodes_sql);

# The three jobs, started under load; the worker runs them one after the other.
my $job_w = $node->safe_psql('postgres',
    q{SELECT safe_add_column('t', 'w', 'int', backfill_expr => 'id * 7 + 1', not_null => true)});
my $job_u = $node->safe_psql('postgres',
    q{SELECT safe_add_column('t', 'u', 'uuid', default_expr => 'gen_random_uuid()', not_null => true)});
my $job_p = $node->safe_psql('postgres',
    q{SELECT safe_add_column('p', 'w', 'int', backfill_expr => 'id * 7 + 1', not_null => true)});

for my $job ($job_w, $job_u, $job_p) {
    wait_for($node, qq{SELECT state FROM safe_column_jobs WHERE job_id = $job}, 'complete',
        "job $job completed under load");
}

# Stop the application, then check it: every pgbench run ended normally, without a failed
# transaction, and did some work.
PostgreSQL::Test::Utils::append_to_file($stop_file, '');
$load->finish;
my $load_end = $load_out =~ s/^LOAD_END=([\d.]+)\n//m ? $1 : 0;    # when the last pgbench run ended
my @runs = split /^PGBENCH_EXIT=(\d+)\n/m, $load_out;
my (@exits, @failed, @processed);
while (@runs >= 2) {
    my ($out, $exit) = splice @runs, 0, 2;
    push @exits, $exit;
    push @failed, $out =~ /^number of failed transactions: (\d+)/m ? $1 : 'missing';
    push @processed, $out =~ /^number of transactions actually processed: (\d+)/m ? $1 : 0;
    diag("pgbench run output:\n$out") if $exit != 0 || $failed[-1] ne '0';
}
note('pgbench runs: ' . scalar(@exits) . ', transactions: ' . join(' ', @processed));
cmp_ok(scalar(@exits), '>=', 1, 'the application ran (pgbench reports found)');
is(join(',', grep { $_ != 0 } @exits), '', 'every pgbench run exited with 0 (no client aborted)');
is(join(',', grep { $_ ne '0' } @failed), '', 'no pgbench run had a failed transaction');
is(scalar(grep { $_ > 0 } @processed), scalar(@exits), 'every pgbench run processed transactions');
is($load_err, '', 'the load loop wrote nothing to stderr');

# The jobs ran entirely while the application was running.
is($node->safe_psql('postgres', qq{
    SELECT count(*) FROM safe_column_jobs
     WHERE job_id IN ($job_w, $job_u, $job_p) AND started_at > '$load_start' AND finished_at < to_timestamp($load_end)}),
    '3', 'every job started and finished while the application ran');

for my $job ($job_w, $job_u, $job_p) {
    my $row = $node->safe_psql('postgres',
        qq{SELECT state || '|' || phase || '|' || coalesce(error, '<null>') FROM safe_column_jobs WHERE job_id = $job});
    is($row, 'complete|done|<null>', "job $job: complete, no error");
    note("job $job: " . $node->safe_psql('postgres',
        qq{SELECT format('rows_done=%s sweep_rows=%s batches=%s duration=%ss', rows_done, sweep_rows, batches,
                         round(extract(epoch FROM finished_at - started_at), 1))
             FROM safe_column_jobs WHERE job_id = $job}));
}

# The application really wrote during the jobs: rows inserted, updated (moved), deleted.
my $t_stats = $node->safe_psql('postgres', qq{
    SELECT count(*) FILTER (WHERE id > $t_rows) > 0, count(*) FILTER (WHERE v <> id) > 0,
           count(*) FILTER (WHERE id <= $t_rows) < $t_rows FROM t});
is($t_stats, 't|t|t', 't: the application inserted, updated and deleted rows');
my $p_stats = $node->safe_psql('postgres', qq{
    SELECT count(*) FILTER (WHERE id > $p_rows) > 0, count(*) FILTER (WHERE v <> id) > 0,
           count(*) FILTER (WHERE id <= $p_rows) < $p_rows FROM p});
is($p_stats, 't|t|t', 'p: the application inserted, updated and deleted rows');

# (a) exact values, old rows and new ones.
is($node->safe_psql('postgres', q{SELECT count(*) FROM t WHERE w IS DISTINCT FROM id * 7 + 1}), '0',
    't: every row holds w = id * 7 + 1');
# (b) every row has a uuid, all distinct.
is($node->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE u IS NULL) || '|' || (count(DISTINCT u) = count(*)) FROM t}),
    '0|true', 't: every row has a uuid, all distinct');
# (c) exact values in every partition.
is($node->safe_psql('postgres', q{
    SELECT string_agg(tableoid::regclass || ':' || (count_bad = 0 AND count_all > 0), ',' ORDER BY tableoid::regclass::text)
      FROM (SELECT tableoid, count(*) AS count_all, count(*) FILTER (WHERE w IS DISTINCT FROM id * 7 + 1) AS count_bad
              FROM p GROUP BY tableoid) s}),
    'p0:true,p1:true,p2:true', 'p: every row of every partition holds w = id * 7 + 1');

# NOT NULL set everywhere, no helper constraint left, no rewrite.
is($node->safe_psql('postgres', q{
    SELECT string_agg(attrelid::regclass || '.' || attname || ':' || attnotnull, ',' ORDER BY attrelid::regclass::text, attname)
      FROM pg_attribute WHERE attrelid IN ('t'::regclass, 'p'::regclass, 'p0'::regclass, 'p1'::regclass, 'p2'::regclass)
       AND attname IN ('w', 'u')}),
    'p.w:true,p0.w:true,p1.w:true,p2.w:true,t.u:true,t.w:true', 'NOT NULL is set on every new column');
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM pg_constraint
     WHERE conrelid IN ('t'::regclass, 'p'::regclass, 'p0'::regclass, 'p1'::regclass, 'p2'::regclass) AND contype = 'c'}),
    '0', 'no helper CHECK constraint is left');
is($node->safe_psql('postgres', $relfilenodes_sql), $relfilenodes, 'no table was rewritten (relfilenodes unchanged)');

$node->stop;
done_testing();
