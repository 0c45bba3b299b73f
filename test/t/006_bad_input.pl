# Bad input: a generator of argument combinations for every SQL-callable function of safe_column and
# for every safe_column.* setting, in every way a setting can be set.
#
# Each case is one top-level statement of one psql session, as a client would send it. Around it:
#   - a snapshot of everything a case could change (the columns, defaults and constraints of every
#     table, relfilenodes, catalog object counts, the job tables, the session's and the files'
#     safe_column.* settings, role and database settings, the data of the main table);
#   - pg_postmaster_start_time(), which changes if any backend crashed.
# A bad case must end in an ERROR with the SQLSTATE (or class) the case names, the session alive, no
# internal error, and the snapshot unchanged: nothing half-applied. A case that is legitimately accepted
# (a quoted unicode column name, a comment inside an expression) must succeed and do exactly what was
# asked, checked case by case; it is then undone.
# The last section restarts the server with nonsense in postgresql.conf.
use strict;
use warnings;
use utf8;
use Encode qw(encode_utf8 decode_utf8);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SafeColumnTest;

my $node = PostgreSQL::Test::Cluster->new('bad_input');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'safe_column'
autovacuum = off
safe_column.batch_target = 5ms
safe_column.batch_sleep_ratio = 0
safe_column.checkpoint_wal_share = 0
safe_column.checkpoint_min_interval = 0
log_min_messages = warning
});
$node->start;

# ---------------------------------------------------------------------------------------------
# Fixtures

$node->safe_psql('postgres', q{
CREATE EXTENSION safe_column;
CREATE EXTENSION file_fdw;
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE TABLE target (id int PRIMARY KEY, email varchar(50), v int, d date);
INSERT INTO target SELECT g, 'User' || g || '@example.com', g * 10, date '2025-01-01' + g FROM generate_series(1, 20) g;
CREATE INDEX target_email_idx ON target (email);
CREATE TABLE other (x int);
INSERT INTO other VALUES (1);
CREATE TABLE victim (x int);
INSERT INTO victim VALUES (42);
CREATE TABLE empty_t (id int);
CREATE TABLE toasty (t text);
CREATE VIEW vw AS SELECT 1 AS x;
CREATE MATERIALIZED VIEW mv AS SELECT 1 AS x;
CREATE SEQUENCE sq;
CREATE TYPE comp AS (a int, b text);
CREATE FOREIGN TABLE ft (a int) SERVER files OPTIONS (filename '/dev/null');
CREATE TABLE parted (a int, b int) PARTITION BY RANGE (a);
CREATE TABLE part1 PARTITION OF parted FOR VALUES FROM (1) TO (100);
INSERT INTO parted SELECT g, g FROM generate_series(1, 50) g;
CREATE TABLE par (a int);
CREATE TABLE chi (b int) INHERITS (par);
INSERT INTO par VALUES (1);
INSERT INTO chi VALUES (2, 2);
CREATE UNLOGGED TABLE unl (a int);
INSERT INTO unl VALUES (1);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN plaintext AS text;
CREATE TABLE jobs_t (id int);
INSERT INTO jobs_t SELECT generate_series(1, 10);
CREATE TABLE jobs_fail (id int);
INSERT INTO jobs_fail SELECT generate_series(1, 10);

-- Everything a case could change, as text.
CREATE SCHEMA sc_test;
CREATE FUNCTION sc_test.snapshot() RETURNS text LANGUAGE sql AS $f$
SELECT concat_ws(E'\n--\n',
  (SELECT string_agg(format('%s %s %s %s %s %s %s%s%s', c.relname, c.relkind, c.relfilenode, a.attnum, a.attname,
                            format_type(a.atttypid, a.atttypmod), a.attnotnull,
                            coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''),
                            CASE WHEN a.attisdropped THEN ' dropped' ELSE '' END), E'\n' ORDER BY c.relname, a.attnum)
     FROM pg_class c
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
     LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    WHERE c.relnamespace = 'public'::regnamespace),
  (SELECT string_agg(format('%s %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid), convalidated),
                     E'\n' ORDER BY conrelid::regclass::text, conname)
     FROM pg_constraint WHERE connamespace = 'public'::regnamespace),
  (SELECT format('classes %s procs %s types %s namespaces %s triggers %s roles %s',
                 (SELECT count(*) FROM pg_class), (SELECT count(*) FROM pg_proc), (SELECT count(*) FROM pg_type),
                 (SELECT count(*) FROM pg_namespace), (SELECT count(*) FROM pg_trigger),
                 (SELECT count(*) FROM pg_roles))),
  (SELECT string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s', job_id, relid::regclass, attnum, column_name,
                            column_type, default_expr, backfill_expr, not_null, state, phase, fill_expr,
                            constraint_name, error, settings, created_by), E'\n' ORDER BY job_id)
     FROM safe_column_job_store),
  (SELECT string_agg(format('%s %s', job_id, relid), E'\n' ORDER BY job_id, relid) FROM safe_column_job_part),
  (SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name LIKE 'safe_column.%'),
  (SELECT string_agg(format('%s:%s=%s', sourcefile, name, setting), ' ' ORDER BY seqno)
     FROM pg_file_settings WHERE name LIKE 'safe_column.%'),
  (SELECT string_agg(format('%s %s %s', setdatabase, setrole, setconfig), E'\n' ORDER BY setdatabase, setrole)
     FROM pg_db_role_setting),
  (SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM target t),
  (SELECT string_agg(x::text, ',') FROM victim))
$f$;
});

# ---------------------------------------------------------------------------------------------
# The session the cases run in, and the runner

my $psql;
sub open_session {
    $psql = $node->background_psql('postgres', on_error_stop => 0, timeout => 180);
    $psql->set_query_timer_restart();
    $psql->query("\\set VERBOSITY default\n\\set SHOW_CONTEXT never\n\\pset null '(null)'");
    return;
}
open_session();

# BackgroundPsql::query without its notes (thousands of cases would write a log of a million lines).
my $query_count = 0;
sub quiet_query {
    my ($text) = @_;
    my $banner = 'sc_banner_' . ++$query_count;
    $psql->{timeout}->start();
    $psql->{stdin} .= "$text\n\\echo $banner\n\\warn $banner\n";
    $psql->{run}->pump()
      until ($psql->{stdout} =~ /$banner\n/ && $psql->{stderr} =~ /$banner\n/) || $psql->{timeout}->is_expired;
    die 'psql query timed out' if $psql->{timeout}->is_expired;
    my $out = $psql->{stdout};
    $out =~ s/\n?$banner\n//;
    $psql->{stderr} =~ s/\n?$banner\n//;
    $psql->{stdout} = '';
    return $out;
}

# Run one statement in the session: (stdout, stderr, SQLSTATE); SQLSTATE 'died' if the session broke.
sub run_sql {
    my ($sql) = @_;
    $psql->{stderr} = '';
    my $out = eval { quiet_query(encode_utf8($sql) . "\n;\n\\echo SC_SQLSTATE :SQLSTATE") };
    if (!defined $out) {
        my $why = $@;
        eval { $psql->quit };
        open_session();
        return ('', "session died: $why", 'died');
    }
    my $err = $psql->{stderr};
    my ($state) = $out =~ /SC_SQLSTATE (\S+)/;
    $out =~ s/\n?SC_SQLSTATE \S+\s*$//;
    return (decode_utf8($out), decode_utf8($err), $state // 'none');
}

# A statement that must work (setup, checks, clean-up): its output.
sub q1 {
    my ($sql) = @_;
    my ($out, $err, $state) = run_sql($sql);
    die "statement failed ($state): $sql\n$err" unless $state eq '00000';
    return $out;
}

sub snapshot {
    my $out = q1(q{SELECT pg_postmaster_start_time() || E'\n' || sc_test.snapshot()});
    my ($start, $rest) = split /\n/, $out, 2;
    return ($start, $rest // '');
}

sub dq { my ($s) = @_; die "dollar tag inside: $s" if $s =~ /\$sc\$/; return "\$sc\$$s\$sc\$"; }

sub snap_diff {
    my ($a, $b) = @_;
    my %in_a = map { $_ => 1 } split /\n/, $a;
    my %in_b = map { $_ => 1 } split /\n/, $b;
    my @d = ((map { "- $_" } grep { !$in_b{$_} } split /\n/, $a), (map { "+ $_" } grep { !$in_a{$_} } split /\n/, $b));
    return join("\n", @d[0 .. ($#d < 11 ? $#d : 11)]);
}

my ($server_start) = snapshot();
my (%by_section, %failed_by_section, $errors_ok, $accepted_ok);
my $section = 'setup';

# case(sql => ..., expect => '42601' | '42' | 'ok', check => sub { ... returns problems }, cleanup => sql,
#      setup => sql, teardown => sql, what => text)
sub case {
    my (%c) = @_;
    my @problems;
    q1($c{setup}) if $c{setup};
    my ($start0, $before) = snapshot();
    my ($out, $err, $state) = run_sql($c{sql});
    my $expect = $c{expect};
    my @errors = $err =~ /^(?:psql:\S+ )?ERROR:  (.*)$/mg;
    push @problems, 'the session died or the server crashed' if $state eq 'died';
    push @problems, "FATAL or PANIC: $err" if $err =~ /FATAL|PANIC|server closed the connection/;
    push @problems, "internal error: $err" if $state =~ /^(XX|58)/;
    if ($expect eq 'ok') {
        push @problems, "expected success, got $state: $err" unless $state eq '00000';
        push @problems, $c{check}->($out, $err) if $c{check} && $state eq '00000';
    } else {
        my $match = length($expect) == 2 ? substr($state, 0, 2) eq $expect : $state eq $expect;
        push @problems, "expected SQLSTATE $expect, got $state: " . substr($err, 0, 400) unless $match;
        push @problems, 'expected exactly one ERROR, got ' . scalar(@errors) . ": $err"
          unless @errors == 1 || $state eq 'died';
    }
    q1($c{teardown}) if $c{teardown};
    my ($start1, $after) = snapshot();
    push @problems, "pg_postmaster_start_time changed: $start0 -> $start1" if $start1 ne $server_start;
    if ($expect ne 'ok') {
        push @problems, "something changed:\n" . snap_diff($before, $after) if $after ne $before;
    } else {
        q1($c{cleanup}) if $c{cleanup};
    }
    $by_section{$section}++;
    my $what = $c{what} // $c{sql};
    $what =~ s/\s+/ /g;
    $what = substr($what, 0, 150) . '...' if length($what) > 150;
    # Test names in ASCII: the TAP output handle has no encoding, and from Perl 5.40 a wide character
    # printed there ends the test (the SQL itself is sent as UTF-8, as written).
    $what =~ s/([^\x00-\x7f])/sprintf('\\x{%x}', ord($1))/ge;
    if (@problems) {
        restore();
        $failed_by_section{$section}++;
        diag("case: $c{sql}") if length($c{sql}) < 2000;
        diag($_) for @problems;
    } else {
        $expect eq 'ok' ? $accepted_ok++ : $errors_ok++;
    }
    return ok(!@problems, "$section: $what -> $expect");
}

# After a case that went wrong: stop the jobs it started and drop the columns it added, so that the
# next cases start from the fixtures again.
my $fixture_jobs = 0;
sub restore {
    eval {
        q1("SELECT safe_column_cancel(job_id) FROM safe_column_job_store WHERE job_id > $fixture_jobs"
              . " AND state IN ('queued', 'backfilling', 'validating', 'paused', 'failed')");
        q1(q{DO $$ DECLARE r record; BEGIN
                FOR r IN SELECT attrelid::regclass AS t, attname FROM pg_attribute
                          WHERE attname IN ('c_tbl', 'c_type', 'c_expr', 'c_null') AND NOT attisdropped AND attinhcount = 0
                            AND attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace) LOOP
                    EXECUTE format('ALTER TABLE %s DROP COLUMN %I', r.t, r.attname);
                END LOOP;
             END $$});
    };
    diag("restore failed: $@") if $@;
    return;
}

# Checks of accepted cases return a list of problems.
sub expect_eq {
    my ($sql, $want, $what) = @_;
    my $got = q1($sql);
    return $got eq $want ? () : ("$what: got '$got', want '$want' ($sql)");
}

sub columns_of {
    my ($table) = @_;
    return q1("SELECT string_agg(attname, '|' ORDER BY attnum) FROM pg_attribute"
          . " WHERE attrelid = '$table'::regclass AND attnum > 0 AND NOT attisdropped");
}

sub last_job { return q1('SELECT coalesce(max(job_id), 0) FROM safe_column_job_store'); }

# The name an identifier becomes: at most 63 bytes, cut at a character boundary.
sub name_of {
    my ($s) = @_;
    my $out = '';
    for my $ch (split //, $s) {
        last if length(encode_utf8($out . $ch)) > 63;
        $out .= $ch;
    }
    return $out;
}

# An accepted safe_add_column: exactly one new column named as asked (with its type) and one new job
# whose id was returned, complete after safe_column_wait; extra checks given as [sql, want, what].
# Clean-up drops the column.
sub accepted_add {
    my (%a) = @_;
    my $table = $a{table} // 'target';
    my $cols_before = columns_of($table);
    my $job_before = last_job();
    return (
        sql => $a{sql},
        what => $a{what},
        expect => 'ok',
        check => sub {
            my ($out) = @_;
            my @p;
            my $job = $job_before + 1;
            push @p, "returned '$out', want job $job" unless $out eq $job;
            push @p, expect_eq(q{SELECT string_agg(attname, '|' ORDER BY attnum) FROM pg_attribute}
                  . " WHERE attrelid = '$table'::regclass AND attnum > 0 AND NOT attisdropped",
                  "$cols_before|$a{column}", 'columns');
            push @p, expect_eq("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '$table'::regclass"
                  . ' AND attname = ' . dq($a{column}), $a{type}, 'type') if $a{type};
            push @p, expect_eq("SELECT count(*) FROM safe_column_job_store WHERE job_id > $job_before", '1', 'new jobs');
            push @p, expect_eq("SELECT column_name FROM safe_column_job_store WHERE job_id = $job", $a{column}, 'job column');
            if (($a{final} // 'complete') eq 'complete') {
                push @p, expect_eq("SELECT safe_column_wait($job, '60s')", 'complete', 'final state');
            } else {
                push @p, "the job did not end $a{final}" unless job_state_is($job, $a{final});
            }
            push @p, expect_eq($_->[0], $_->[1], $_->[2]) for @{ $a{checks} // [] };
            return @p;
        },
        cleanup => $a{cleanup} // ("ALTER TABLE $table DROP COLUMN IF EXISTS " . q1('SELECT quote_ident(' . dq($a{column}) . ')')),
    );
}

# Poll in the case session until the query returns $want, for at most a minute.
sub poll {
    my ($sql, $want) = @_;
    my $deadline = time + 60;
    while (time < $deadline) {
        my ($out, $err, $state) = run_sql($sql);
        return 1 if $state eq '00000' && $out eq $want;
        select(undef, undef, undef, 0.05);
    }
    return 0;
}

sub job_state_is {
    my ($job, $state) = @_;
    return poll("SELECT state FROM safe_column_jobs WHERE job_id = $job", $state);
}

# ---------------------------------------------------------------------------------------------
# Fixture jobs in every settled state.

my $j_complete = q1(q{SELECT safe_add_column('jobs_t', 'c_done', 'int')});
my $j_paused = (split /\n/, q1(q{BEGIN; SELECT safe_add_column('jobs_t', 'c_paused', 'int', backfill_expr => 'id');
    SELECT safe_column_pause(currval(pg_get_serial_sequence('safe_column_job_store', 'job_id'))); COMMIT}))[0];
my $j_cancelled = (split /\n/, q1(q{BEGIN; SELECT safe_add_column('jobs_t', 'c_cancelled', 'int', backfill_expr => 'id');
    SELECT safe_column_cancel(currval(pg_get_serial_sequence('safe_column_job_store', 'job_id'))); COMMIT}))[0];
my $j_failed = q1(q{SELECT safe_add_column('jobs_fail', 'c_failed', 'int', backfill_expr => '100 / (id - 5)')});
ok(job_state_is($j_failed, 'failed'), 'fixture: a job failed on its row');
is(q1("SELECT state FROM safe_column_jobs WHERE job_id IN ($j_complete, $j_paused, $j_cancelled) ORDER BY job_id"),
    "complete\npaused\ncancelled", 'fixture: jobs complete, paused, cancelled');
my $j_unknown = 999999999;
$fixture_jobs = last_job();

# A temporary table of this session, and one of another session.
q1('CREATE TEMP TABLE my_tmp (a int)');
my $other = $node->background_psql('postgres');
$other->query_safe('CREATE TEMP TABLE their_tmp (a int)');

# ---------------------------------------------------------------------------------------------
# 1. safe_add_column: NULL arguments, every combination of the required ones.
$section = 'safe_add_column NULLs';
{
    my @args = (q{'target'}, q{'c_null'}, q{'int'}, 'false');
    my @names = qw(tbl column_name column_type not_null);
    for my $mask (1 .. 15) {
        my @a = map { ($mask >> $_) & 1 ? 'NULL' : $args[$_] } 0 .. 3;
        case(sql => "SELECT safe_add_column($a[0], $a[1], $a[2], NULL, $a[3], NULL)", expect => '22004');
    }
    case(accepted_add(sql => q{SELECT safe_add_column('target', 'c_null', 'int', NULL, false, NULL)},
        column => 'c_null', type => 'integer', what => 'default_expr and backfill_expr NULL: a plain nullable column'));
    case(sql => q{SELECT safe_add_column(NULL::regclass, NULL::name, NULL::text)}, expect => '22004');
}

# ---------------------------------------------------------------------------------------------
# 2. safe_add_column: the table.
$section = 'safe_add_column tbl';
{
    my @bad = (
        [q{''}, '42602'], [q{' '}, '42602'], [q{'nonexistent'}, '42P01'], [q{'target; DROP TABLE other'}, '42602'],
        # (A table name in a missing schema: regclass says 3F000 up to 16, 42P01 from 17.)
        [q{'a.b.c.d'}, '42601'], [q{'nosuchschema.target'}, $node->pg_version >= 17 ? '42P01' : '3F000'],
        [q{'999999999'}, '42P01'], ['0', '42P01'],
        [q{'-'}, '42P01'], [q{'"Target"'}, '42P01'], [q{'target"'}, '42P01'], [q{repeat('x', 100)}, '42P01'],
        [q{'vw'}, '42809'], [q{'mv'}, '42809'], [q{'target_email_idx'}, '42809'], [q{'target_pkey'}, '42809'],
        [q{'sq'}, '42809'], [q{'comp'}, '42809'], [q{'ft'}, '42809'], [q{'part1'}, '42809'],
        [q{'pg_class'}, '42501'], [q{'pg_catalog.pg_am'}, '42501'], [q{'information_schema.sql_features'}, '42501'],
        [q{(SELECT reltoastrelid FROM pg_class WHERE relname = 'toasty')::regclass}, '42501'],
        [q{(SELECT oid FROM pg_class WHERE relname = 'their_tmp')::regclass}, '0A000'],
        [q{'safe_column_job_store'}, '42501'], [q{'pg_temp.their_tmp'}, '42P01'],
        [q{'名前'}, '42P01'], [q{1.5}, '42883'], [q{'target'::name}, '42883'],
    );
    for my $b (@bad) {
        case(sql => "SELECT safe_add_column($b->[0], 'c_tbl', 'int')", expect => $b->[1]);
        case(sql => "SELECT safe_add_column($b->[0], 'c_tbl', 'text', \$\$'x'\$\$, true)", expect => $b->[1]);
    }
    for my $t ([q{'"target"'}, 'target'], [q{'TARGET'}, 'target'], [q{'public.target'}, 'target'],
        [q{' target '}, 'target'], [q{'parted'}, 'parted'], [q{'par'}, 'par'], [q{'chi'}, 'chi'], [q{'unl'}, 'unl'],
        [q{'empty_t'}, 'empty_t'], [q{'pg_temp.my_tmp'}, 'my_tmp'], [q{'target'::regclass::oid}, 'target'])
    {
        case(accepted_add(sql => "SELECT safe_add_column($t->[0], 'c_tbl', 'int', '7')", table => $t->[1],
            column => 'c_tbl', type => 'integer', what => "table $t->[0]",
            checks => [["SELECT count(*) FILTER (WHERE c_tbl = 7) = count(*) FROM $t->[1]", 't', 'values']]));
    }
    # The column reaches every partition and child.
    case(accepted_add(sql => q{SELECT safe_add_column('parted', 'c_tbl', 'int', backfill_expr => 'a * 2', not_null => true)},
        table => 'parted', column => 'c_tbl', type => 'integer', what => 'partitioned table with a backfill',
        checks => [[q{SELECT count(*) FROM part1 WHERE c_tbl = a * 2}, '50', 'partition values'],
            [q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 'part1'::regclass AND attname = 'c_tbl'}, 't', 'NOT NULL']]));
}

# ---------------------------------------------------------------------------------------------
# 3. safe_add_column: the column name.
$section = 'safe_add_column column_name';
{
    for my $b ([q{''}, '42602'], [q{'id'}, '42701'], [q{'email'}, '42701'], [q{'v'}, '42701'],
        (map { ["'$_'", '42701'] } qw(ctid xmin xmax cmin cmax tableoid)), [q{'id'::text}, '42701'])
    {
        case(sql => "SELECT safe_add_column('target', $b->[0], 'int')", expect => $b->[1]);
        case(sql => "SELECT safe_add_column('target', $b->[0], 'int', '1', true)", expect => $b->[1]);
    }
    my @good = (' ', 'a b', '"q"', "'q'", 'Ünïcødé', '名前', 'select', 'user', 'oid', 'ID', 'Email',
        'a;DROP TABLE other', 'a"b', "a\nb", "tab\tx", "\x01", '-- c', '/* c */', '1abc', '$1', '%s%n', '🦄',
        "e\x{301}", 'NULL', 'DEFAULT', '*', 'x' x 63, 'x' x 64, 'x' x 1000, 'é' x 40, '名' x 30, '🦄' x 20,
        ('a' x 62) . 'é');
    for my $name (@good) {
        my $expected = name_of($name);
        case(accepted_add(sql => 'SELECT safe_add_column(' . "'target', " . dq($name) . q{, 'int', '3')},
            column => $expected, type => 'integer', what => 'column name ' . dq(length($name) > 20 ? substr($name, 0, 20) . '...' : $name),
            checks => [['SELECT count(*) FROM target WHERE ' . q1('SELECT quote_ident(' . dq($expected) . ')') . ' = 3', '20', 'values']]));
    }
    # The same long name again: the same column, so the same job, with a NOTICE.
    my $long = 'y' x 100;
    my $job = q1("SELECT safe_add_column('target', '$long', 'int')");
    case(sql => "SELECT safe_add_column('target', '" . ('y' x 70) . "', 'int')", expect => 'ok',
        what => 'a name that truncates to an existing column added by safe_column: the same job',
        check => sub {
            my ($out, $err) = @_;
            my @p;
            push @p, "returned $out, want $job" unless $out eq $job;
            push @p, "no NOTICE: $err" unless $err =~ /already exists as added by job $job, skipping/;
            return @p;
        });
    case(sql => "SELECT safe_add_column('target', '$long', 'text')", expect => '42701');
    q1('ALTER TABLE target DROP COLUMN ' . ('y' x 63));
}

# ---------------------------------------------------------------------------------------------
# 4. safe_add_column: the type.
$section = 'safe_add_column column_type';
{
    my @bad = (
        [q{''}, '42601'], [q{' '}, '42601'], [q{'nonexistent_type'}, '42704'], [q{'int int'}, '42601'],
        [q{'int['}, '42601'], [q{'int('}, '42601'], [q{'int)'}, '42601'], [q{'varchar(-1)'}, '42601'],
        [q{'varchar(0)'}, '22023'], [q{'numeric(1001)'}, '22023'], [q{'bit(0)'}, '22023'],
        [q{'char(10485761)'}, '22023'], [q{'int; DROP TABLE other'}, '42601'], [q{'int DEFAULT 1'}, '42601'],
        [q{'int NOT NULL'}, '42601'], [q{'int COLLATE "C"'}, '42804'], [q{'text COLLATE'}, '42601'],
        [q{'text COLLATE "no_such"'}, '42704'], [q{'text COLLATE "C" NOT NULL'}, '42602'],
        [q{'text COLLATE "C"; DROP TABLE other'}, '42602'], [q{'text COLLATE "C" COLLATE "POSIX"'}, '42602'], [q{'int PRIMARY KEY'}, '42601'],
        [q{'int, ADD COLUMN z int'}, '42601'], [q{'int) ; DROP TABLE other; --'}, '42601'],
        (map { ["'$_'", '42P16'] } qw(record anyelement anyarray void trigger event_trigger cstring internal unknown
            language_handler anycompatible)),
        [q{'target'}, '42P16'], [q{'posint'}, '0A000'], [q{'"integer"'}, '42704'], [q{'public.nonexistent'}, '42704'],
        [q{'nosuchschema.t'}, '3F000'], [q{'setof int'}, '42601'], [q{'名前'}, '42704'], [q{'%s%d%n'}, '42601'],
        [q{'varchar(1,2)'}, '42601'], [q{'int(4)'}, '42601'], [q{'$1'}, '42601'], [q{'(int)'}, '42601'],
        [q{repeat('y', 100)}, '42704'], [q{'int4range[' }, '42601'],
        [q{'pg_catalog.nonexistent'}, '42704'], [q{'a.b.c.d'}, '42601'], [q{'int /* unterminated'}, '42601'],
        [q{42}, '42883'],
    );
    for my $b (@bad) {
        case(sql => "SELECT safe_add_column('target', 'c_type', $b->[0])", expect => $b->[1]);
        case(sql => "SELECT safe_add_column('target', 'c_type', $b->[0], 'NULL', false, 'NULL')", expect => $b->[1]);
    }
    # A serial type numbers the rows from its own sequence: a default_expr or backfill_expr is an error.
    for my $s (qw(serial serial4 bigserial BIGSERIAL smallserial serial2 serial8)) {
        case(sql => "SELECT safe_add_column('target', 'c_type', '$s', 'NULL', false, 'NULL')", expect => '22023');
        case(sql => "SELECT safe_add_column('target', 'c_type', '$s', backfill_expr => 'id')", expect => '22023');
    }
    my @good = (['numeric(5,10)', 'numeric(5,10)'], ['numeric(5,-1)', 'numeric(5,-1)'], ['pg_catalog.int4', 'integer'],
        ['timestamp(7)', 'timestamp(6) without time zone'], ['int[][]', 'integer[]'], ['int array', 'integer[]'],
        ['comp', 'comp'], ['public.comp', 'comp'], ['int4range', 'int4range'], ['interval year to month', 'interval year to month'],
        ['double precision', 'double precision'], ['int -- a comment', 'integer'], ['int /* a comment */', 'integer'],
        ['regclass', 'regclass'], ['tsvector', 'tsvector'], ['plaintext', 'plaintext'], ['TEXT', 'text'],
        ['"char"', '"char"'], ['varchar(10485760)', 'character varying(10485760)'], ['bit varying(5)', 'bit varying(5)'],
        ['time(0) with time zone', 'time(0) with time zone'], ['  int  ', 'integer'], ['INT4', 'integer'],
        ['vw', 'vw'], ['pg_catalog."varchar"', 'character varying'], ['jsonb', 'jsonb'],
        ['text COLLATE "C"', 'text'], ['text /* COLLATE "C" */', 'text'], ['text -- COLLATE "C"', 'text'],
        ['int' . ('[]' x 10000), 'integer[]'], ['bigserial', 'bigint'], ['Serial', 'integer'], ['serial2', 'smallint']);
    for my $g (@good) {
        case(accepted_add(sql => "SELECT safe_add_column('target', 'c_type', " . dq($g->[0]) . ')',
            column => 'c_type', type => $g->[1], what => 'type ' . (length($g->[0]) > 40 ? substr($g->[0], 0, 40) . '...' : $g->[0])));
    }
}

# ---------------------------------------------------------------------------------------------
# 5. safe_add_column: default_expr and backfill_expr, each with and without NOT NULL.
$section = 'safe_add_column expressions';
{
    # [expression, as default_expr, as backfill_expr]
    my @exprs = (
        ['1); DROP TABLE other; --', '42601', '42601'], ['1; SELECT 2', '42601', '42601'], ['1;', '42601', '42601'],
        [';', '42601', '42601'], ['1 -- comment', '42601', '42601'], ['/* only a comment */', '42601', '42601'],
        ['-- only a comment', '42601', '42601'], ['1 /* unterminated', '42601', '42601'],
        ["'unterminated", '42601', '42601'], ['"unterminated', '42601', '42601'], ['$x$unterminated', '42601', '42601'],
        ['(SELECT 1)', '0A000', '0A000'], ['(SELECT x FROM other LIMIT 1)', '0A000', '0A000'],
        ['EXISTS (SELECT 1)', '0A000', '0A000'], ['1 IN (SELECT 1)', '0A000', '0A000'], ['SELECT 1', '0A000', '0A000'],
        ['ARRAY(SELECT 1)', '0A000', '0A000'], ['(SELECT v FROM target LIMIT 1)', '0A000', '0A000'],
        ['other.x', '0A000', '42P01'], ['victim.x', '0A000', '42P01'], ['count(*)', '42803', '42803'],
        ['sum(v)', '0A000', '42803'], ['max(1)', '42803', '42803'], ['generate_series(1, 3)', '0A000', '0A000'],
        ['unnest(ARRAY[1, 2])', '0A000', '0A000'], ['row_number() OVER ()', '42P20', '42P20'],
        ['rank() OVER (ORDER BY 1)', '42P20', '42P20'], ['sum(1) OVER ()', '42P20', '42P20'],
        ['nonexistent_fn()', '42883', '42883'], ['$1', '42P02', '42P02'], ['?', '42601', '42601'],
        ['ctid', '0A000', '42P10'], ['xmin', '0A000', '42P10'], ['cmax', '0A000', '42P10'], ['1))', '42601', '42601'],
        ['(1', '42601', '42601'], [')', '42601', '42601'], ['1) NOT NULL, ADD COLUMN zz int DEFAULT (1', '42601', '42601'],
        ['1) COLLATE "C', '42601', '42601'], ['1) CHECK (true', '42601', '42601'],
        ['1) REFERENCES other(x', '42601', '42601'], ['1) PRIMARY KEY, ADD COLUMN yy int DEFAULT (1', '42601', '42601'],
        ['1) GENERATED ALWAYS AS (2) STORED, ADD COLUMN yy int DEFAULT (1', '42601', '42601'],
        ['1) , ALTER COLUMN v SET DEFAULT (2', '42601', '42601'], ['1) FROM other WHERE (true', '42601', '42601'],
        ['1) ; DROP TABLE victim; SELECT (1', '42601', '42601'],
        ["'abc'", '22P02', '22P02'], ['now()', '42804', '42804'], ['1/0', '22012', '22012'], ['99999999999', '22003', '22003'],
        ['2147483648', '22003', '22003'], ['-2147483649', '22003', '22003'],
        ["'{1,2}'::int[]", '42804', '42804'], ['ROW(1, 2)', '42804', '42804'], ['DEFAULT', '42601', '42601'],
        ['pg_sleep(0)', '42804', '42804'], ['current_user', '42804', '42804'], ["lower('X')", '42804', '42804'],
        ['(1, 2)', '42804', '42804'], ['ARRAY[1]', '42804', '42804'], ["'1'::text", '42804', '42804'],
        ["'1' || '2'", '42804', '42804'], ['1 +', '42601', '42601'], ['1 UNION SELECT 2', '42601', '42601'],
        ['1 FROM other', '42601', '42601'], ['1 WHERE true', '42601', '42601'], ['1 ORDER BY 1', '42601', '42601'],
        ['1 LIMIT 1', '42601', '42601'], ['1 AS a', '42601', '42601'], ['1 INTO x', '42601', '42601'],
        ['1 COLLATE "C"', '42804', '42804'], ['1::nonexistent_type', '42704', '42704'], ["'x'::posint", '22P02', '22P02'],
        ['(-1)::posint', '23514', undef], ['nextval()', '42883', '42883'], ['$x$abc$x$', '22P02', '22P02'],
        ['repeat(1)', '42883', '42883'], ["'" . ('a' x 200000) . "'", '22P02', '22P02'],
        [join('+', ('1') x 100000), '54001', '54001'], ['((((((((((1', '42601', '42601'],
        ['pg_catalog.nonexistent(1)', '42883', '42883'], ['nosuchschema.f(1)', '3F000', '3F000'],
        ['target', '0A000', '42804'], ['target.*', '0A000', '42804'],
    );
    for my $e (@exprs) {
        my ($expr, $as_default, $as_backfill) = @$e;
        my $what = length($expr) > 60 ? substr($expr, 0, 60) . '... (' . length($expr) . ' characters)' : $expr;
        for my $nn ('false', 'true') {
            case(sql => "SELECT safe_add_column('target', 'c_expr', 'int', " . dq($expr) . ", $nn)",
                expect => $as_default, what => "default_expr $what, not_null $nn");
            next unless defined $as_backfill;
            case(sql => "SELECT safe_add_column('target', 'c_expr', 'int', not_null => $nn, backfill_expr => " . dq($expr) . ')',
                expect => $as_backfill, what => "backfill_expr $what, not_null $nn");
        }
    }
    # Blank expressions.
    for my $blank ('', ' ', "\n\t ") {
        for my $arg ('default_expr', 'backfill_expr') {
            case(sql => "SELECT safe_add_column('target', 'c_expr', 'int', $arg => " . dq($blank) . ')', expect => '22023',
                what => "blank $arg");
        }
    }
    # NULL as the only value for a NOT NULL column of a table with rows.
    case(sql => q{SELECT safe_add_column('target', 'c_expr', 'int', 'NULL', true)}, expect => '23502');
    case(sql => q{SELECT safe_add_column('target', 'c_expr', 'int', not_null => true, backfill_expr => 'NULL')}, expect => '23502');
    case(sql => q{SELECT safe_add_column('target', 'c_expr', 'int', not_null => true, backfill_expr => 'NULL::int + 1')},
        expect => '23502');
    case(sql => q{SELECT safe_add_column('target', 'c_expr', 'int', not_null => true)}, expect => '23502');

    # Accepted: an expression with a block comment, blanks around it, a literal of unknown type, NULL.
    my @good_default = (['1 /* one */', 'false', 1], ['1 /* one */', 'true', 1], ['  42  ', 'false', 42],
        ["'7'", 'true', 7], ['2147483647', 'false', 2147483647], ['1::text::int', 'false', 1],
        ['1 OPERATOR(pg_catalog.+) 1', 'false', 2], ['(((1)))', 'true', 1]);
    for my $g (@good_default) {
        my ($expr, $nn, $value) = @$g;
        case(accepted_add(sql => "SELECT safe_add_column('target', 'c_expr', 'int', " . dq($expr) . ", $nn)",
            column => 'c_expr', type => 'integer', what => "default_expr $expr, not_null $nn",
            checks => [['SELECT count(*) FROM target WHERE c_expr = ' . $value, '20', 'values'],
                [q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 'target'::regclass AND attname = 'c_expr'},
                    $nn eq 'true' ? 't' : 'f', 'NOT NULL'],
                [q{INSERT INTO target (id) VALUES (-1) RETURNING c_expr}, $value, 'the default of a new row'],
                [q{DELETE FROM target WHERE id = -1 RETURNING id}, '-1', 'clean-up of the new row']]));
    }
    case(accepted_add(sql => q{SELECT safe_add_column('target', 'c_expr', 'int', 'NULL', false, 'NULL')},
        column => 'c_expr', type => 'integer', what => 'default_expr NULL and backfill_expr NULL: no default, NULLs',
        checks => [['SELECT count(c_expr) FROM target', '0', 'values'],
            [q{SELECT count(*) FROM pg_attrdef WHERE adrelid = 'target'::regclass}, '0', 'no default']]));
    for my $g (['v', 'v'], ['target.v', 'v'], ['v + id', 'v + id'], ['tableoid', 'tableoid::int'],
        ['length(email)', 'length(email)'], ['(v)::text::int', 'v'])
    {
        my ($expr, $reference) = @$g;
        for my $nn ('false', 'true') {
            case(accepted_add(
                sql => "SELECT safe_add_column('target', 'c_expr', 'int', not_null => $nn, backfill_expr => " . dq($expr) . ')',
                column => 'c_expr', type => 'integer', what => "backfill_expr $expr, not_null $nn",
                checks => [["SELECT count(*) FROM target WHERE c_expr = $reference", '20', 'values'],
                    [q{SELECT attnotnull FROM pg_attribute WHERE attrelid = 'target'::regclass AND attname = 'c_expr'},
                        $nn eq 'true' ? 't' : 'f', 'NOT NULL']]));
        }
    }
    case(accepted_add(sql => q{SELECT safe_add_column('target', 'c_expr', 'int', 'random() * 0 + 5', true)},
        column => 'c_expr', type => 'integer', what => 'a volatile default: staged, every row filled',
        checks => [['SELECT count(*) FROM target WHERE c_expr = 5', '20', 'values']]));
    case(accepted_add(sql => q{SELECT safe_add_column('target', 'c_expr', 'int', '-1', true, 'v * 2')},
        column => 'c_expr', type => 'integer', what => 'default_expr and backfill_expr: old rows and new rows',
        checks => [['SELECT count(*) FROM target WHERE c_expr = v * 2', '20', 'values'],
            [q{SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'target'::regclass}, '\'-1\'::integer', 'default']]));
    # Accepted, then failing on rows as documented: the job fails naming the row; cancelling with
    # drop_column leaves the table as it was.
    case(accepted_add(sql => q{SELECT safe_add_column('target', 'c_expr', 'int', backfill_expr => 'v / (id - 3)')},
        column => 'c_expr', type => 'integer', final => 'failed', what => 'backfill_expr failing on one row',
        checks => [["SELECT error = 'division by zero (row ' || (SELECT ctid FROM target WHERE id = 3) || ' of target)'"
            . " FROM safe_column_jobs WHERE column_name = 'c_expr' ORDER BY job_id DESC LIMIT 1", 't', 'the error names the row']],
        cleanup => q{SELECT safe_column_cancel(max(job_id), drop_column => true) FROM safe_column_jobs}));
    case(accepted_add(sql => q{SELECT safe_add_column('target', 'c_expr', 'int', backfill_expr => '(-1)::posint')},
        column => 'c_expr', type => 'integer', final => 'failed', what => 'backfill_expr violating a domain: checked per row',
        checks => [["SELECT error ~ '^value for domain public.posint violates check constraint \"posint_check\" \\(row '"
            . " FROM safe_column_jobs WHERE column_name = 'c_expr' ORDER BY job_id DESC LIMIT 1", 't', 'the error names a row']],
        cleanup => q{SELECT safe_column_cancel(max(job_id), drop_column => true) FROM safe_column_jobs}));
    case(accepted_add(sql => q{SELECT safe_add_column('target', 'c_expr', 'int', not_null => true,
                                                  backfill_expr => 'CASE WHEN id = 4 THEN NULL ELSE v END')},
        column => 'c_expr', type => 'integer', final => 'failed', what => 'backfill_expr NULL on one row of a NOT NULL column',
        checks => [["SELECT error = 'the expression is null for row ' || (SELECT ctid FROM target WHERE id = 4)"
            . " || ' of target, and the column is to be NOT NULL'"
            . " FROM safe_column_jobs WHERE column_name = 'c_expr' ORDER BY job_id DESC LIMIT 1", 't', 'the error names the row']],
        cleanup => q{SELECT safe_column_cancel(max(job_id), drop_column => true) FROM safe_column_jobs}));
}

# ---------------------------------------------------------------------------------------------
# 6. pause, resume, cancel, wait, watch, progress_line, live: unknown jobs, NULLs, wrong states.
$section = 'job control';
{
    my @unknown = ('NULL', '-1', '0', $j_unknown, '9223372036854775807', '(-9223372036854775807 - 1)');
    for my $id (@unknown) {
        my $code = $id eq 'NULL' ? '22004' : '42704';
        case(sql => "SELECT safe_column_pause($id)", expect => $code);
        case(sql => "SELECT safe_column_resume($id)", expect => $code);
        case(sql => "SELECT safe_column_cancel($id)", expect => $code);
        case(sql => "SELECT safe_column_cancel($id, true)", expect => $code);
        case(sql => "SELECT safe_column_wait($id)", expect => $code);
        case(sql => "SELECT safe_column_wait($id, '1s')", expect => $code);
        case(sql => "CALL safe_column_watch($id)", expect => $code);
        case(sql => "SELECT safe_column_set($id, 'batch_target', '10ms')", expect => $code);
    }
    for my $fn ('safe_column_pause', 'safe_column_resume', 'safe_column_cancel', 'safe_column_wait') {
        case(sql => "SELECT $fn('abc')", expect => '22P02');
        case(sql => "SELECT $fn(9223372036854775808)", expect => '42883');
        case(sql => "SELECT $fn(1.5)", expect => '42883');
        case(sql => "SELECT $fn('$j_paused'::text)", expect => '42883');
    }
    for my $j ($j_complete, $j_paused, $j_cancelled, $j_failed) {
        case(sql => "SELECT safe_column_cancel($j, NULL)", expect => '22004');
        case(sql => "SELECT safe_column_wait($j, '-1s')", expect => '22023');
        case(sql => "SELECT safe_column_wait($j, '1 month -31 days')", expect => '22023');
        case(sql => "SELECT safe_column_wait($j, '-1 microsecond')", expect => '22023');
        case(sql => "SELECT safe_column_wait($j, 'soon')", expect => '22007');
        # 'infinity' is an interval from 17: no deadline, as NULL (a failed job raises its failure at once).
        if ($node->pg_version >= 17) {
            case(sql => "SELECT safe_column_wait($j, 'infinity')", expect => $j == $j_failed ? '55000' : 'ok');
            case(sql => "SELECT safe_column_wait($j, '-infinity')", expect => '22023');
        } else {
            case(sql => "SELECT safe_column_wait($j, 'infinity')", expect => '22007');
        }
        case(sql => "CALL safe_column_watch($j, '-1s')", expect => '22023');
    }
    # Wrong states.
    case(sql => "SELECT safe_column_pause($j_complete)", expect => '55000');
    case(sql => "SELECT safe_column_pause($j_cancelled)", expect => '55000');
    case(sql => "SELECT safe_column_pause($j_failed)", expect => '55000');
    case(sql => "SELECT safe_column_resume($j_complete)", expect => '55000');
    case(sql => "SELECT safe_column_resume($j_cancelled)", expect => '55000');
    case(sql => "SELECT safe_column_cancel($j_complete)", expect => '55000');
    case(sql => "SELECT safe_column_cancel($j_complete, true)", expect => '55000');
    case(sql => "SELECT safe_column_wait($j_failed)", expect => '55000');
    case(sql => "SELECT safe_column_wait($j_failed, '1s')", expect => '55000');
    case(sql => "CALL safe_column_watch($j_failed)", expect => '55000');
    # Accepted without changing anything.
    my $same = sub { my ($want) = @_; return sub { my ($out) = @_; return $out eq $want ? () : ("returned '$out', want '$want'"); }; };
    case(sql => "SELECT safe_column_pause($j_paused)", expect => 'ok', check => $same->('paused'));
    case(sql => "SELECT safe_column_cancel($j_cancelled)", expect => 'ok', check => $same->('cancelled'));
    case(sql => "SELECT safe_column_wait($j_complete)", expect => 'ok', check => $same->('complete'));
    case(sql => "SELECT safe_column_wait($j_complete, '0')", expect => 'ok', check => $same->('complete'));
    case(sql => "SELECT safe_column_wait($j_complete, '178000000 years')", expect => 'ok', check => $same->('complete'));
    case(sql => "SELECT safe_column_wait($j_paused, '1 s')", expect => 'ok', check => $same->('paused'));
    case(sql => "SELECT safe_column_wait($j_cancelled)", expect => 'ok', check => $same->('cancelled'));
    case(sql => "CALL safe_column_watch($j_complete)", expect => 'ok', check => $same->('complete'));
    case(sql => "CALL safe_column_watch($j_paused, NULL, 'ignored')", expect => 'ok', check => $same->('paused'));
    case(sql => 'SELECT safe_column_progress_line(NULL)', expect => 'ok', check => $same->('(null)'));
    case(sql => "SELECT safe_column_progress_line($j_unknown)", expect => 'ok', check => $same->('(null)'));
    case(sql => "SELECT safe_column_progress_line($j_complete) LIKE '%complete, phase done, 100.0%'", expect => 'ok',
        check => $same->('t'));
    case(sql => 'SELECT count(*) FROM safe_column_live()', expect => 'ok', check => $same->('0'));
    case(sql => 'SELECT count(*) > 0 FROM safe_column_progress', expect => 'ok', check => $same->('t'));
}

# ---------------------------------------------------------------------------------------------
# 7. safe_column_set: names and values.
$section = 'safe_column_set';
{
    my %values = (
        int_ms => ['nonsense', '', ' ', '-1', '1e100', 'NaN', '10 parsecs', '99999999999999999999', 'true', '1 year',
            '5 ms ms', "5'; DROP TABLE victim; --"],
        int_kb => ['nonsense', '', '-1', '3TB', '10 parsecs', 'NaN', '1e100', '5 ms'],
        int => ['abc', '', '-1', '1e100', '5 ms', 'NaN'],
        int_s => ['nonsense', '', '-2', '1e100', 'NaN', '10 parsecs', '99999999999999999999', 'true', '5 s s'],
        real => ['abc', '', '-1', 'NaN', 'Infinity', '-Infinity', '1e400', '1,5'],
        bool => ['maybe', '', '2', '-1', 'NaN', 'yess', 'onn'],
    );
    my %kinds = (batch_target => 'int_ms', batch_sleep_ratio => 'real', checkpoint_wal_share => 'real',
        wait_for_checkpoint => 'bool', max_replica_lag => 'int_kb', max_replica_lag_time => 'int_ms',
        max_slot_lag => 'int_kb', max_active_backends => 'int', yield_to_lock_waiters => 'bool',
        critical_factor => 'real', critical_duration => 'int_ms', max_wal_rate => 'int_kb',
        checkpoint_min_interval => 'int_s');
    my %out_of_range = (batch_target => ['0', '10001', '11s'], batch_sleep_ratio => ['101', '100.5'],
        checkpoint_wal_share => ['11', '10.01'], critical_factor => ['1001']);
    for my $name (sort keys %kinds) {
        for my $v (@{ $values{ $kinds{$name} } }, @{ $out_of_range{$name} // [] }) {
            case(sql => "SELECT safe_column_set($j_paused, '$name', " . dq($v) . ')', expect => '22023');
        }
        case(sql => "SELECT safe_column_set($j_complete, '$name', NULL)", expect => '55000');
        case(sql => "SELECT safe_column_set($j_cancelled, 'safe_column.$name', NULL)", expect => '55000');
    }
    for my $n ('', 'safe_column.', 'nonexistent', 'throttle', 'throttle_query', 'throttle_query_timeout', 'lock_timeout',
        'lock_wait_budget', 'safe_column.safe_column.batch_target', ' batch_target', 'batch_target ', 'search_path',
        'work_mem', "batch_target'; --", 'safe_column', 'safe_column.nonexistent', 'batch_target.x', '名前')
    {
        case(sql => "SELECT safe_column_set($j_paused, " . dq($n) . ", '10ms')", expect => '42704');
    }
    case(sql => "SELECT safe_column_set(NULL, 'batch_target', '10ms')", expect => '22004');
    case(sql => "SELECT safe_column_set($j_paused, NULL, '10ms')", expect => '22004');
    case(sql => "SELECT safe_column_set(NULL, NULL, NULL)", expect => '22004');
    case(sql => "SELECT safe_column_set($j_complete, 'batch_target', '10ms')", expect => '55000');
    case(sql => "SELECT safe_column_set($j_cancelled, 'batch_target', '10ms')", expect => '55000');
    case(sql => "SELECT safe_column_set($j_paused, 'batch_target')", expect => '42883');
    # Accepted: the override as asked, under the setting's own name, then back to the server's.
    for my $g (['batch_target', '20ms', 'batch_target'], ['BATCH_TARGET', '20ms', 'batch_target'],
        ['Safe_Column.Batch_Target', '1s', 'batch_target'], ['safe_column.max_replica_lag', '16MB', 'max_replica_lag'],
        ['yield_to_lock_waiters', 'off', 'yield_to_lock_waiters'], ['batch_sleep_ratio', '0', 'batch_sleep_ratio'],
        ['critical_factor', '1000', 'critical_factor'], ['max_wal_rate', '64MB', 'max_wal_rate'],
        ['safe_column.max_wal_rate', '0', 'max_wal_rate'], ['checkpoint_min_interval', '2min', 'checkpoint_min_interval'],
        ['checkpoint_min_interval', '-1', 'checkpoint_min_interval'])
    {
        my ($name, $value, $canonical) = @$g;
        case(sql => "SELECT safe_column_set($j_paused, '$name', '$value')", expect => 'ok',
            what => "override $name = $value",
            check => sub {
                my ($out) = @_;
                my $want = qq({"$canonical": "$value"});
                return $out eq $want ? () : ("returned $out, want $want");
            },
            cleanup => "SELECT safe_column_set($j_paused, '$canonical', NULL)");
    }
    case(sql => "SELECT safe_column_set($j_failed, 'batch_target', NULL)", expect => 'ok',
        check => sub { return $_[0] eq '{}' ? () : ("returned $_[0]") });
}

# ---------------------------------------------------------------------------------------------
# 8. Every safe_column.* setting set to nonsense: SET, set_config(), ALTER SYSTEM, ALTER ROLE,
# ALTER DATABASE. Session settings (USERSET) reject bad values with 22023; the server's settings
# (SIGHUP) cannot be set in a session at all (55P02); ALTER SYSTEM checks every value (22023).
$section = 'settings';
{
    my %bad = (
        lock_timeout => ['nonsense', '0', '-1', '61s', '1e100', 'NaN', '', '10 parsecs', '0.4', 'true'],
        lock_wait_budget => ['nonsense', '-1', '2147483648', '1e100', 'NaN', '', '1 fortnight'],
        throttle => ['maybe', '2', '', 'NaN', 'yess'],
        batch_target => ['abc', '0', '-1', '10001', '1e100', '', '5 parsecs'],
        batch_sleep_ratio => ['abc', '-1', '101', 'NaN', 'Infinity', ''],
        checkpoint_wal_share => ['abc', '-0.1', '11', 'NaN', '-Infinity'],
        checkpoint_min_interval => ['abc', '-2', '1e100', '5 parsecs', 'NaN', '-1s 1s'],
        wait_for_checkpoint => ['maybe', '2', 'NaN'],
        max_replica_lag => ['abc', '-1', '3TB', '10 parsecs', 'NaN'],
        max_replica_lag_time => ['abc', '-1', '1e100', '3 fortnights'],
        max_slot_lag => ['abc', '-1', '4TB', '1 ms'],
        max_wal_rate => ['abc', '-1', '3TB', '16 MB/s', 'NaN'],
        max_active_backends => ['abc', '-1', '1e100', '1 ms'],
        yield_to_lock_waiters => ['maybe', '2', ''],
        throttle_query_timeout => ['abc', '0', '61s', '-1', 'NaN'],
        critical_factor => ['abc', '-1', '1001', 'NaN'],
        critical_duration => ['abc', '-1', '1e100', '2147483648'],
        throttle_query => [],
    );
    my %userset = (lock_timeout => 1, lock_wait_budget => 1);
    for my $name (sort keys %bad) {
        my $full = "safe_column.$name";
        my @values = @{ $bad{$name} };
        @values = ('SELECT true', 'nonsense') unless @values;
        for my $v (@values) {
            my $code = $userset{$name} ? '22023' : '55P02';
            my $lit = dq($v);
            case(sql => "SET $full = $lit", expect => $code);
            case(sql => "SELECT set_config('$full', $lit, false)", expect => $code);
            case(sql => "SELECT set_config('$full', $lit, true)", expect => $code);
            case(sql => "ALTER ROLE CURRENT_USER SET $full = $lit", expect => $code);
            case(sql => "ALTER DATABASE postgres SET $full = $lit", expect => $code);
            case(sql => "ALTER SYSTEM SET $full = $lit", expect => '22023') unless $name eq 'throttle_query';
        }
        unless ($userset{$name}) {
            case(sql => "RESET $full", expect => '55P02');
            case(sql => "SET $full TO DEFAULT", expect => '55P02');
        }
    }
    for my $n ('safe_column.nonexistent', 'safe_column.lock_timeout.x', 'safe_column."lock timeout"') {
        case(sql => "SET $n = 1", expect => '42602');
        case(sql => "ALTER ROLE CURRENT_USER SET $n = 1", expect => '42602');
        case(sql => "SELECT set_config('$n', '1', false)", expect => '42602');
    }
    # From 17 ALTER SYSTEM takes unknown custom settings, but not under a reserved prefix (ours is),
    # and RESET of an unknown one does nothing.
    case(sql => 'ALTER SYSTEM SET safe_column.nonexistent = 1', expect => $node->pg_version >= 17 ? '42602' : '42704');
    case(sql => 'ALTER SYSTEM RESET safe_column.nonexistent', expect => $node->pg_version >= 17 ? 'ok' : '42704');
    case(sql => 'SHOW safe_column.nonexistent', expect => '42704');
    case(sql => "SELECT current_setting('safe_column.nonexistent')", expect => '42704');
    case(sql => 'SET "safe_column." = 1', expect => '42602');
    case(sql => 'SET safe_column = 1', expect => '42704');
    case(sql => "SELECT set_config(NULL, '1', false)", expect => '22004');
    # Accepted: the extremes of the session settings, then back.
    for my $g (['lock_timeout', '1', '1ms'], ['lock_timeout', '60s', '1min'], ['lock_wait_budget', '0', '0'],
        ['lock_wait_budget', '2147483647', '2147483647ms'], ['lock_timeout', '0.6', '1ms'])
    {
        case(sql => "SET safe_column.$g->[0] = '$g->[1]'", expect => 'ok', what => "SET $g->[0] = $g->[1]",
            check => sub { return expect_eq("SHOW safe_column.$g->[0]", $g->[2], 'value'); },
            cleanup => "RESET safe_column.$g->[0]");
    }
}

# ---------------------------------------------------------------------------------------------
# 9. Nonsense written into postgresql.conf, then a reload: the server keeps the last good value, says
# which line was wrong, and neither it nor the launcher goes down. A valid change in the same reload
# (critical_duration) proves the reload was processed.
$section = 'postgresql.conf and reload';
{
    my $launcher = q1(q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'safe_column launcher'});
    ok($launcher =~ /^\d+$/, 'the launcher runs');
    my %bad = (throttle => 'maybe', batch_target => 'banana', batch_sleep_ratio => 'NaN',
        checkpoint_wal_share => '-1', checkpoint_min_interval => 'often', wait_for_checkpoint => '2', max_replica_lag => '3TB', max_replica_lag_time => 'soon',
        max_slot_lag => '-5', max_wal_rate => 'fast', max_active_backends => 'lots', yield_to_lock_waiters => 'perhaps',
        throttle_query_timeout => '0', critical_factor => 'Infinity', lock_timeout => '0', lock_wait_budget => '-1');
    my $conf = $node->data_dir . '/postgresql.conf';
    my $original = slurp_file($conf);
    my $marker = 60001;
    for my $name (sort keys %bad) {
        my $before = q1("SHOW safe_column.$name");
        $marker++;
        $node->append_conf('postgresql.conf', "safe_column.$name = '$bad{$name}'\nsafe_column.critical_duration = '${marker}ms'\n");
        case(sql => 'SELECT pg_reload_conf()', expect => 'ok', what => "reload with safe_column.$name = '$bad{$name}'",
            check => sub {
                my @p;
                push @p, 'the reload was not processed' unless poll('SHOW safe_column.critical_duration', "${marker}ms");
                push @p, expect_eq("SHOW safe_column.$name", $before, 'the last good value stays');
                push @p, expect_eq("SELECT count(*) FROM pg_file_settings WHERE name = 'safe_column.$name' AND error IS NOT NULL",
                    '1', 'pg_file_settings names the bad line');
                push @p, expect_eq(q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'safe_column launcher'}, $launcher,
                    'the launcher is the same process');
                return @p;
            });
        open(my $fh, '>', $conf) or die;
        print $fh $original;
        close $fh;
        q1('SELECT pg_reload_conf()');
        ok(poll('SHOW safe_column.critical_duration', '1min'), "$name: back to the good file");
    }
}

# ---------------------------------------------------------------------------------------------
# 10. A running job: safe_column_wait's timeouts, and throttle queries that ALTER SYSTEM accepts
# but that cannot work. The job is held by the throttle query, never failed by it.
$section = 'running job';
{
    q1(q{CREATE TABLE held (id int); INSERT INTO held SELECT generate_series(1, 100)});
    q1(q{ALTER SYSTEM SET safe_column.throttle_query = 'SELECT true'});
    q1('SELECT pg_reload_conf()');
    ok(poll('SHOW safe_column.throttle_query', 'SELECT true'), 'throttle query set');
    my $j_held = q1(q{SELECT safe_add_column('held', 'c', 'int', backfill_expr => 'id', not_null => true)});
    ok(poll("SELECT throttle_reason FROM safe_column_progress WHERE job_id = $j_held", 'throttle_query'),
        'the job is held by the throttle query');
    my $same = sub { my ($want) = @_; return sub { return $_[0] eq $want ? () : ("returned '$_[0]', want '$want'"); }; };
    # Timeouts: a short one returns the running state; a long one (beyond what an int of milliseconds
    # holds) waits, which only statement_timeout ends.
    case(sql => "SELECT safe_column_wait($j_held, '100 ms')", expect => 'ok', check => $same->('backfilling'));
    case(sql => "SELECT safe_column_wait($j_held, '30 days')", expect => '57014',
        setup => q{SET statement_timeout = '500ms'}, teardown => 'RESET statement_timeout');
    case(sql => "SELECT safe_column_wait($j_held, '178000000 years')", expect => '57014',
        setup => q{SET statement_timeout = '500ms'}, teardown => 'RESET statement_timeout');
    case(sql => "CALL safe_column_watch($j_held, '100 ms')", expect => 'ok', check => $same->('backfilling'));
    case(sql => "CALL safe_column_watch($j_held)", expect => '2D000', setup => 'BEGIN', teardown => 'ROLLBACK');
    case(sql => "SELECT safe_column_wait($j_held)", expect => '25001', setup => 'BEGIN ISOLATION LEVEL REPEATABLE READ',
        teardown => 'ROLLBACK');
    case(sql => "SELECT safe_column_wait($j_held)", expect => '57014', setup => q{SET statement_timeout = '300ms'},
        teardown => 'RESET statement_timeout');

    # The worker runs the query with search_path = pg_catalog, pg_temp: the DBA's own tables are
    # schema-qualified (an unqualified one is not found).
    $fixture_jobs = last_job();
    for my $tq (['not sql at all', 'syntax error'], ['DROP TABLE public.victim', 'not allowed'],
        ['SELECT true; DROP TABLE public.victim', 'not allowed'],
        ['WITH d AS (DELETE FROM public.victim RETURNING 1) SELECT true', 'not allowed'],
        ['SELECT true FROM public.victim FOR UPDATE', 'not allowed'], ['SELECT pg_catalog.pg_sleep(5) IS NULL', 'statement timeout'],
        ['SELECT 1', 'must return one boolean'], ['SELECT true, true', 'must return one boolean'],
        ['SELECT x > 0 FROM victim', 'does not exist'], ["SELECT '" . ('z' x 5000) . "'::bool", 'invalid input syntax'])
    {
        my ($query, $reason) = @$tq;
        case(sql => 'ALTER SYSTEM SET safe_column.throttle_query = ' . dq($query), expect => 'ok',
            what => 'throttle_query ' . substr($query, 0, 60),
            check => sub {
                my @p;
                q1('SELECT pg_reload_conf()');
                push @p, "no reason '$reason'" unless poll(
                    'SELECT throttle_reason ~ ' . dq("^throttle_query failed: .*$reason") . " FROM safe_column_progress WHERE job_id = $j_held", 't');
                push @p, expect_eq("SELECT state FROM safe_column_jobs WHERE job_id = $j_held", 'backfilling', 'job state');
                push @p, expect_eq('SELECT x FROM victim', '42', 'the victim table');
                return @p;
            });
    }
    q1('ALTER SYSTEM RESET safe_column.throttle_query');
    q1('SELECT pg_reload_conf()');
    is(q1("SELECT safe_column_wait($j_held, '60s')"), 'complete', 'the held job completes once released');
    is(q1('SELECT count(*) FROM held WHERE c = id'), '100', 'with every value');
}

# ---------------------------------------------------------------------------------------------
# 12. safe_column_plan(ddl) with every kind of bad statement, and ALTER TABLE through the hook in guard
# mode (every table counts: guard_min_size 0): a heavy form is refused with 55000 and changes nothing;
# a statement PostgreSQL rejects keeps PostgreSQL's own error, not a refusal.
$section = 'safe_column_plan';
{
    my @plan_errors = (
        [undef, '22004'], ['', '22023'], ['   ', '22023'], ['-- only a comment', '22023'], [';', '22023'],
        ['ALTER TABLE target ADD COLUMN a int; ALTER TABLE target ADD COLUMN b int', '22023'],
        ['ALTER TABLE target ADD COLUMN a int; DROP TABLE victim', '22023'],
        ['SELECT 1', '0A000'], ['DROP TABLE victim', '0A000'], ['ALTER INDEX target_email_idx RENAME TO x', '0A000'],
        ['ALTER TABLE target RENAME TO x', '0A000'], ['ALTER VIEW vw RENAME TO x', '0A000'],
        ['ALTER TABLE', '42601'], ['ALTER TABLE target ADD COLUMN', '42601'], ['ALTER TABLE target ADD COLUMN c text CHECK (', '42601'],
        ["ALTER TABLE target ADD COLUMN c text DEFAULT 'unterminated", '42601'], ['ALTER TABLE target ADD COLUMN c int DEFAULT $$x', '42601'],
        ['ALTER TABLE no_such_table ADD COLUMN a int', '42P01'], ['ALTER TABLE no_schema.target ADD COLUMN a int', '3F000'],
        ['ALTER TABLE ' . ('t' x 100) . ' ADD COLUMN a int', '42P01'], ["ALTER TABLE \"tärget\" ADD COLUMN a int", '42P01'],
        ['ALTER TABLE vw ADD COLUMN a int', '42809'], ['ALTER TABLE mv ADD COLUMN a int', '42809'],
        ['ALTER TABLE sq ADD COLUMN a int', '42809'], ['ALTER TABLE ft ADD COLUMN a int', '42809'],
        ['ALTER TABLE target ADD COLUMN a no_such_type', '42704'], ['ALTER TABLE target ADD COLUMN a int[][', '42601'],
        ['ALTER TABLE target ADD COLUMN a int DEFAULT (SELECT 1)', '0A000'],
        ['ALTER TABLE target ADD COLUMN a int DEFAULT count(*)', '42803'],
        ['ALTER TABLE target ADD COLUMN a int DEFAULT generate_series(1, 2)', '0A000'],
        ['ALTER TABLE target ADD COLUMN a int DEFAULT row_number() OVER ()', '42P20'],
        ['ALTER TABLE target ADD COLUMN a int DEFAULT v', '0A000'],
        ["ALTER TABLE target ADD COLUMN a int DEFAULT 'abc'", '22P02'],
        ['ALTER TABLE target ADD COLUMN a int DEFAULT no_such_function()', '42883'],
        ['ALTER TABLE target ADD COLUMN a posint DEFAULT 1/0', '22012'],
    );
    for my $c (@plan_errors) {
        my ($ddl, $code) = @$c;
        case(sql => 'SELECT * FROM safe_column_plan(' . (defined $ddl ? dq($ddl) : 'NULL') . ')', expect => $code);
    }
    # Accepted: a plan, nothing run; the as-sent and safe rows and the verdict.
    for my $ddl ('ALTER TABLE target ADD COLUMN p uuid NOT NULL DEFAULT gen_random_uuid()',
                 'ALTER TABLE target ALTER COLUMN email SET NOT NULL', 'ALTER TABLE target ADD COLUMN "ünï cödé" text',
                 'ALTER TABLE target ADD CONSTRAINT c CHECK (v > 0), ADD COLUMN q int DEFAULT 1',
                 'ALTER TABLE parted ADD COLUMN p float8 DEFAULT random()', 'ALTER TABLE IF EXISTS target ADD COLUMN p int',
                 'alter table ONLY target add column p int  -- trailing comment') {
        my $cols = columns_of('target');
        case(sql => 'SELECT approach FROM safe_column_plan(' . dq($ddl) . ') ORDER BY step', expect => 'ok',
            check => sub {
                my ($out) = @_;
                my @p;
                push @p, "approaches: $out" unless $out =~ /^as sent\n/ && $out =~ /\nverdict$/;
                push @p, expect_eq("SELECT string_agg(attname, '|' ORDER BY attnum) FROM pg_attribute"
                      . " WHERE attrelid = 'target'::regclass AND attnum > 0 AND NOT attisdropped", $cols, 'columns');
                return @p;
            });
    }
}
$section = 'ALTER TABLE through the hook';
{
    q1('SET safe_column.guard_min_size = 0');
    my @refused = (
        'ALTER TABLE target ADD COLUMN z uuid DEFAULT gen_random_uuid()',
        'ALTER TABLE target ADD COLUMN z uuid NOT NULL DEFAULT gen_random_uuid()',
        'ALTER TABLE target ADD COLUMN z timestamptz DEFAULT clock_timestamp()',
        'ALTER TABLE target ADD COLUMN z float8 DEFAULT random() * 0',
        "ALTER TABLE target ADD COLUMN z bigint DEFAULT nextval('sq')",
        'ALTER TABLE target ADD COLUMN z serial', 'ALTER TABLE target ADD COLUMN z bigserial',
        'ALTER TABLE target ADD COLUMN z smallserial',
        'ALTER TABLE target ADD COLUMN z int GENERATED ALWAYS AS IDENTITY',
        'ALTER TABLE target ADD COLUMN z int GENERATED BY DEFAULT AS IDENTITY',
        'ALTER TABLE target ADD COLUMN z int GENERATED ALWAYS AS (v * 2) STORED',
        'ALTER TABLE target ADD COLUMN z posint', 'ALTER TABLE target ADD COLUMN z posint DEFAULT 1',
        'ALTER TABLE target ADD COLUMN z text NOT NULL', 'ALTER TABLE target ADD COLUMN z int CHECK (z > 0)',
        'ALTER TABLE target ADD COLUMN z int UNIQUE', 'ALTER TABLE target ADD COLUMN z int DEFAULT 1 REFERENCES target (id)',
        'ALTER TABLE target ALTER COLUMN email SET NOT NULL', 'ALTER TABLE target ALTER email SET NOT NULL',
        'ALTER TABLE target ADD CONSTRAINT c CHECK (v > 0)', 'ALTER TABLE target ADD CHECK (v > 0 AND d IS NOT NULL)',
        'ALTER TABLE target ADD CONSTRAINT c FOREIGN KEY (v) REFERENCES target (id)',
        'ALTER TABLE target ADD CONSTRAINT c UNIQUE (email)', 'ALTER TABLE target ADD UNIQUE (email, v)',
        'ALTER TABLE parted ADD COLUMN z uuid DEFAULT gen_random_uuid()',
        'ALTER TABLE par ADD COLUMN z uuid DEFAULT gen_random_uuid()',
        'ALTER TABLE target ADD COLUMN a text, ADD COLUMN z uuid DEFAULT gen_random_uuid()',
        'ALTER TABLE target ADD COLUMN z1 int, ALTER COLUMN email SET NOT NULL',
        'ALTER TABLE IF EXISTS target ADD COLUMN z uuid DEFAULT gen_random_uuid()',
        'ALTER TABLE target ADD COLUMN IF NOT EXISTS z uuid DEFAULT gen_random_uuid()',
    );
    case(sql => $_, expect => '55000') for @refused;
    # PostgreSQL's own errors come first.
    my @pg_errors = (
        ['ALTER TABLE target ADD CONSTRAINT c CHECK (no_such_column > 0)', '42703'],
        ['ALTER TABLE target ADD CONSTRAINT c FOREIGN KEY (no_such_column) REFERENCES target (id)', '42703'],
        ['ALTER TABLE target ADD CONSTRAINT c FOREIGN KEY (v) REFERENCES no_such_table (id)', '42P01'],
        ['ALTER TABLE target ADD CONSTRAINT c UNIQUE (no_such_column)', '42703'],
        ['ALTER TABLE target ADD COLUMN z int DEFAULT 1 REFERENCES no_such_table (id)', '42P01'],
        ['ALTER TABLE target ALTER COLUMN no_such_column SET NOT NULL', '42703'],
        ['ALTER TABLE target ADD COLUMN id uuid DEFAULT gen_random_uuid()', '42701'],
        ['ALTER TABLE target ADD COLUMN z no_such_type DEFAULT 1', '42704'],
        ['ALTER TABLE target ADD COLUMN z int DEFAULT (SELECT 1)', '0A000'],
        ['ALTER TABLE target ADD COLUMN z int DEFAULT no_such_function()', '42883'],
        ['ALTER TABLE no_such_table ADD COLUMN z uuid DEFAULT gen_random_uuid()', '42P01'],
        ['ALTER TABLE ONLY parted ADD COLUMN z uuid DEFAULT gen_random_uuid()', '42P16'],
        ['ALTER TABLE vw ADD COLUMN z uuid DEFAULT gen_random_uuid()', '42809'],
    );
    case(sql => $_->[0], expect => $_->[1]) for @pg_errors;
    # Nonsense modes are refused by the setting itself.
    case(sql => "SET safe_column.mode = $_", expect => '22023') for ("'nonsense'", "''", "'GUARD '", '1', "'on'");
    case(sql => "SET safe_column.guard_min_size = $_", expect => '22023') for ("'-1'", "'1 parsec'", "'NaN'", "'99999999999999'");
    q1('RESET safe_column.guard_min_size');
}

# ---------------------------------------------------------------------------------------------
# 11. A restart with nonsense in postgresql.conf for every setting: the server starts, warns, and
# uses the defaults.
$section = 'restart with a bad postgresql.conf';
{
    $other->quit;
    $psql->quit;
    my $conf = $node->data_dir . '/postgresql.conf';
    my $original = slurp_file($conf);
    $node->append_conf('postgresql.conf', q{
safe_column.lock_timeout = 'nonsense'
safe_column.throttle = 'maybe'
safe_column.batch_target = '-5'
safe_column.max_replica_lag = '3TB'
safe_column.critical_factor = 'NaN'
safe_column.nonexistent = 'x'
});
    my $log_offset = -s $node->logfile;
    $node->restart;
    my $log = slurp_file($node->logfile, $log_offset);
    like($log, qr/invalid value for parameter "safe_column.lock_timeout": "nonsense"/, 'restart: the bad value is named');
    like($log, qr/invalid configuration parameter name "safe_column.nonexistent"/, 'restart: the unknown name is named');
    is($node->safe_psql('postgres', 'SHOW safe_column.lock_timeout'), '100ms', 'restart: the default is used');
    is($node->safe_psql('postgres', 'SHOW safe_column.batch_target'), '1ms', 'restart: the default is used');
    is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'safe_column launcher'}),
        '1', 'restart: the launcher runs');
    is($node->safe_psql('postgres', q{SELECT safe_add_column('target', 'after_restart', 'int', '1')}) > 0, 1,
        'restart: safe_add_column works');
    open(my $fh, '>', $conf) or die;
    print $fh $original;
    close $fh;
}

# ---------------------------------------------------------------------------------------------
my $total = 0;
$total += $_ for values %by_section;
my $failed = 0;
$failed += $_ for values %failed_by_section;
for my $s (sort keys %by_section) {
    diag(sprintf('bad input: %-40s %4d cases, %d failed', $s, $by_section{$s}, $failed_by_section{$s} // 0));
}
diag("bad input: $total cases ($errors_ok clean errors as expected, $accepted_ok accepted as expected), $failed failed");
cmp_ok($total, '>=', 500, 'hundreds of cases ran');

$node->stop;
done_testing();
