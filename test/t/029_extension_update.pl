# ALTER EXTENSION safe_column UPDATE from 0.1 (and 0.2, 0.3) to the default version (0.4):
#   - a database on 0.1 with a job in flight is updated mid-job; the job completes exactly, and the
#     new objects work (safe_column_watch, the progress line, safe_add_column's check_expr and
#     unique_key);
#   - CREATE EXTENSION of the default version, 0.1, 0.2 and 0.3 + UPDATE give the same objects:
#     every member of the extension (kind, identity, definition, owner, privileges, comment) compared
#     between three databases.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SafeColumnTest;

my $node = backfill_node('update');
$node->start;
sub sql { my ($q, $db) = @_; return $node->safe_psql($db // 'postgres', $q); }

sql(q{CREATE EXTENSION safe_column VERSION '0.1';});
is(sql(q{SELECT extversion FROM pg_extension WHERE extname = 'safe_column'}), '0.1', 'installed as 0.1');
make_test_table($node, 'postgres', 'up', 5000);
sql(gate_sql() . q{INSERT INTO public.sc_gate VALUES ('up', 2500);});
my $job = sql(q{SELECT safe_add_column('up', 'w', 'int', backfill_expr => 'public.sc_gated(''up'', id, id * 9)', not_null => true)});
worker_gated($node, 'postgres', $job, 'a job is in flight on 0.1 (held inside a batch)');
# The update changes the job tables' relid columns to regclass (0.3): its ACCESS EXCLUSIVE lock on
# them waits for the batch in progress, which writes its job's row in its own transaction. It goes
# through once that batch commits, and the job goes on.
my $updater = $node->background_psql('postgres');
$updater->query_until(qr/updating/, "\\echo updating\nALTER EXTENSION safe_column UPDATE;\n\\echo updated\n");
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'ALTER EXTENSION safe_column UPDATE%' AND wait_event_type = 'Lock'},
    '1', 'the update waits for the batch in progress');
sql(q{DELETE FROM public.sc_gate});
ok($updater->query_until(qr/^updated$/m, ''), 'then it goes through');
$updater->quit;
is(sql(q{SELECT extversion FROM pg_extension WHERE extname = 'safe_column'}), '0.4', 'updated to 0.4 mid-job');
check_job_result($node, job => $job, table => 'up', column => 'w', ref => 'id * 9', not_null => 1, rows => 5000,
    control => 'up_ctl', label => 'the job after the update');
my ($ret, $out, $err) = $node->psql('postgres', "CALL safe_column_watch($job)");
is($ret, 0, 'safe_column_watch of 0.2 runs') or diag($err);
like(sql("SELECT safe_column_progress_line($job)"), qr/^safe_column job $job: complete/, 'the progress line of 0.2');
my $j3 = sql(q{SELECT safe_add_column('up', 'w3', 'int', backfill_expr => 'id', check_expr => 'w3 > 0')});
sql("CALL safe_column_watch($j3)");
is(sql(q{SELECT convalidated FROM pg_constraint WHERE conrelid = 'up'::regclass AND conname = 'up_w3_check'}), 't',
    'check_expr of 0.3 after the update: the CHECK is added and validated');
my $j4 = sql(q{SELECT safe_add_column('up', 'w4', 'int', backfill_expr => 'id', unique_key => true)});
sql("CALL safe_column_watch($j4)");
is(sql(q{SELECT contype FROM pg_constraint WHERE conrelid = 'up'::regclass AND conname = 'up_w4_key'}), 'u',
    'unique_key of 0.4 after the update: the index is built and attached');

# The same objects, whichever way the default version came.
sql('CREATE DATABASE fresh');
sql('CREATE EXTENSION safe_column', 'fresh');
sql('CREATE DATABASE updated');
sql(q{CREATE EXTENSION safe_column VERSION '0.1'; ALTER EXTENSION safe_column UPDATE;}, 'updated');
sql('CREATE DATABASE from02');
sql(q{CREATE EXTENSION safe_column VERSION '0.2'; ALTER EXTENSION safe_column UPDATE;}, 'from02');
sql('CREATE DATABASE from03');
sql(q{CREATE EXTENSION safe_column VERSION '0.3'; ALTER EXTENSION safe_column UPDATE;}, 'from03');
my $members = q{
SELECT string_agg(line, E'\n' ORDER BY line) FROM (
  SELECT pg_describe_object(d.classid, d.objid, 0) || ' | ' ||
         CASE d.classid
           WHEN 'pg_proc'::regclass THEN pg_get_functiondef(d.objid) || ' | ' || coalesce(p.proacl::text, '') ||
                                         ' | ' || pg_get_userbyid(p.proowner)
           WHEN 'pg_class'::regclass THEN
             c.relkind::text || ' | ' || coalesce(c.relacl::text, '') || ' | ' || pg_get_userbyid(c.relowner) || ' | ' ||
             coalesce(pg_get_viewdef(c.oid), '') || ' | ' ||
             coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull
                                         || ' ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), ''), ', ' ORDER BY a.attnum)
                         FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') || ' | ' ||
             coalesce((SELECT string_agg(pg_get_constraintdef(co.oid), ', ' ORDER BY co.conname)
                         FROM pg_constraint co WHERE co.conrelid = c.oid), '') || ' | ' ||
             coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY i.indexrelid::regclass::text)
                         FROM pg_index i WHERE i.indrelid = c.oid), '')
           ELSE ''
         END || ' | ' || coalesce(obj_description(d.objid, d.classid::regclass::name), '') AS line
    FROM pg_depend d
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'safe_column'
    LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
    LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
   WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e') s};
my $fresh = sql($members, 'fresh');
my $updated = sql($members, 'updated');
my $from02 = sql($members, 'from02');
my $from03 = sql($members, 'from03');
my $n = sql(q{SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'safe_column'
              WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'}, 'fresh');
cmp_ok($n, '>=', 15, "the extension has its members ($n)");
is($updated, $fresh, 'CREATE EXTENSION and 0.1 + ALTER EXTENSION UPDATE give the same objects');
is($from02, $fresh, 'CREATE EXTENSION and 0.2 + ALTER EXTENSION UPDATE give the same objects');
is($from03, $fresh, 'CREATE EXTENSION and 0.3 + ALTER EXTENSION UPDATE give the same objects');
like($fresh, qr/table safe_column_job_constraint/, 'the objects of 0.3 are there');
like($fresh, qr/unique_key boolean DEFAULT false, primary_key boolean DEFAULT false/, 'the objects of 0.4 are there');

$node->stop;
done_testing();
