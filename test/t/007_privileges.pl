# Privileges: nobody does more through safe_column than their own rights allow.
#   1. A role that does not own the table cannot add a column or queue a job (not even with every
#      privilege on the table), nor write the job tables.
#   2. Only the job's creator (and its members), the table's owner and a superuser control a job;
#      dropping the column on cancel is the owner's; overriding a server setting for a job needs the
#      right to change that setting.
#   3. backfill_expr and error (which can quote a row's values) are visible to the creator, the
#      table's owner, pg_read_all_stats and superusers only: in the views, in safe_column_wait and
#      safe_column_watch, and never in the NOTIFY payload.
#   4. The worker runs the expression as the table's owner (here its creator; test/t/023_security.pl
#      covers a creator who is not the owner), under a security-restricted operation: SET
#      ROLE, SET SESSION AUTHORIZATION (the worker's session user is a superuser), temporary tables,
#      objects in a schema the creator cannot write, tables it cannot read, superuser-only functions,
#      dblink, COPY TO PROGRAM: each fails the job with a clear error and has no effect. A privilege
#      the creator revoked from itself is enforced; a row-level security policy fails the job rather
#      than leaving rows out.
#   5. Triggers fired by the batches run as the table's owner, also for a superuser's job on another
#      role's table: the owner's trigger cannot become superuser through it.
#   6. Functions and operators planted in public cannot hijack: the expression (resolved at
#      creation, stored qualified, run with a pinned search_path), the worker's own queries (an
#      aggregate count(integer) that ran as superuser before), the extension's views (planted
#      before CREATE EXTENSION).
#   7. The superuser-only settings (throttle_query) cannot be set by other roles in any way.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use SafeColumnTest;

my $node = PostgreSQL::Test::Cluster->new('privileges');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'safe_column'
autovacuum = off
safe_column.batch_target = 5ms
safe_column.batch_sleep_ratio = 0
safe_column.checkpoint_wal_share = 0
safe_column.checkpoint_min_interval = 0
});
$node->start;

# ---------------------------------------------------------------------------------------------
# Helpers

sub sql { my ($q, $db) = @_; return $node->safe_psql($db // 'postgres', $q); }

# Run as a role (its own login): (SQLSTATE or 00000, stdout, stderr).
sub as_role { return psql_as($node, @_); }

sub denied {
    my ($role, $q, $code, $what, $db) = @_;
    my ($c, $out, $err) = as_role($role, $q, $db);
    is($c, $code, $what) or diag($err);
    return $err;
}

sub allowed {
    my ($role, $q, $what, $db) = @_;
    my ($c, $out, $err) = as_role($role, $q, $db);
    is($c, '00000', $what) or diag($err);
    return $out;
}

sub wait_state {
    my ($job, $state, $what, $db) = @_;
    return wait_for($node, "SELECT state FROM safe_column_jobs WHERE job_id = $job", $state, $what, $db);
}

# A job created paused in one transaction (it never starts until resumed); its id.
sub create_paused {
    my ($role, $call, $what, $db) = @_;
    my $out = allowed($role, "BEGIN;\n$call AS j \\gset\nSELECT :j;\nSELECT safe_column_pause(:j);\nCOMMIT;", $what, $db);
    my ($job, $state) = split /\n/, $out;
    is($state, 'paused', "$what: paused");
    return $job;
}

sub job_error { my ($job) = @_; return sql("SELECT error FROM safe_column_job_store WHERE job_id = $job"); }

sub columns_of {
    my ($table) = @_;
    return sql("SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute"
          . " WHERE attrelid = '$table'::regclass AND attnum > 0 AND NOT attisdropped");
}

# ---------------------------------------------------------------------------------------------
# Roles and objects

sql(q{
CREATE EXTENSION safe_column;
CREATE EXTENSION dblink;
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE carol LOGIN IN ROLE alice;
CREATE ROLE nick LOGIN NOINHERIT IN ROLE alice;
CREATE ROLE dave LOGIN IN ROLE pg_read_all_stats;
CREATE ROLE mallory LOGIN;
GRANT CREATE ON SCHEMA public TO alice, mallory;
CREATE DATABASE alice_db OWNER alice;
CREATE SCHEMA locked;
CREATE TABLE secret (s text);
INSERT INTO secret VALUES ('top secret');
REVOKE ALL ON secret FROM PUBLIC;
});

# mallory plants, before any job runs, an aggregate count(integer): a better match than
# pg_catalog.count("any") for count(DISTINCT pid), which the worker's lock-waiters signal runs as
# superuser before every step. Its final function runs even over no rows.
allowed('mallory', q{
CREATE TABLE public.mallory_log (what text, who text);
GRANT INSERT ON public.mallory_log TO PUBLIC;
CREATE FUNCTION public.m_sfunc(bigint, integer) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN RETURN $1 + 1; END $$;
CREATE FUNCTION public.m_final(bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.mallory_log VALUES ('count(integer)', current_user);
    BEGIN EXECUTE 'ALTER ROLE mallory SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
    RETURN $1;
END $$;
CREATE AGGREGATE public.count(integer) (SFUNC = public.m_sfunc, STYPE = bigint, INITCOND = '0', FINALFUNC = public.m_final);
}, 'mallory plants count(integer) in public');

allowed('alice', q{
CREATE TABLE a_t (id int PRIMARY KEY, email varchar(50), v int);
INSERT INTO a_t SELECT g, 'user' || g || '@secret.example', g FROM generate_series(1, 30) g;
CREATE TABLE a_t2 (id int);
INSERT INTO a_t2 SELECT generate_series(1, 10);
CREATE TABLE alice_log (what text, cu text);
}, 'alice creates her tables');

# ---------------------------------------------------------------------------------------------
# 1. Adding a column needs ownership of the table.

my $jobs0 = sql('SELECT count(*) FROM safe_column_job_store');
my $cols0 = columns_of('a_t');
sql('GRANT ALL ON a_t TO bob');
for my $call (q{SELECT safe_add_column('a_t', 'x', 'int')}, q{SELECT safe_add_column('a_t', 'x', 'int', '1', true)},
    q{SELECT safe_add_column('a_t', 'x', 'int', backfill_expr => 'id')},
    q{SELECT safe_add_column('a_t', 'x', 'uuid', 'gen_random_uuid()')},
    q{SELECT safe_add_column('a_t', 'id', 'int')})
{
    denied('bob', $call, '42501', "1: bob, with every privilege on the table but not its owner: $call");
    denied('nick', $call, '42501', "1: nick, member of the owner without its privileges (NOINHERIT): $call");
}
denied('bob', q{INSERT INTO safe_column_job_store (relid, schema_name, table_name, attnum, column_name, column_type,
                 not_null, state, created_by, search_path) VALUES ('a_t'::regclass, 'public', 'a_t', 1, 'id', 'int',
                 false, 'queued', 10, '')}, '42501', '1: the job table cannot be written directly');
denied('bob', q{UPDATE safe_column_job_part SET done = true}, '42501', '1: nor the parts table');
denied('bob', q{SELECT * FROM safe_column_job_store}, '42501', '1: nor read directly');
denied('alice', q{DELETE FROM safe_column_job_store}, '42501', '1: not even by a table owner');
is(sql('SELECT count(*) FROM safe_column_job_store'), $jobs0, '1: no job was queued');
is(columns_of('a_t'), $cols0, '1: no column was added');
sql('REVOKE ALL ON a_t FROM bob');

my $j_carol = allowed('carol', q{SELECT safe_add_column('a_t', 'by_carol', 'int', '1')},
    '1: carol, a member of the owner, may add a column');
is(sql("SELECT created_by FROM safe_column_jobs WHERE job_id = $j_carol"), 'carol', '1: the job is carol\'s');
sql('ALTER TABLE a_t DROP COLUMN by_carol');

# ---------------------------------------------------------------------------------------------
# 2. Controlling a job.

# A job of alice's, created paused.
my $j_alice = create_paused('alice', q{SELECT safe_add_column('a_t', 'ctl', 'int', backfill_expr => 'id')},
    '2: alice creates a job');
for my $call ("SELECT safe_column_pause($j_alice)", "SELECT safe_column_resume($j_alice)",
    "SELECT safe_column_cancel($j_alice)", "SELECT safe_column_cancel($j_alice, drop_column => true)",
    "SELECT safe_column_set($j_alice, 'batch_target', '50ms')", "SELECT safe_column_set($j_alice, 'batch_target', NULL)")
{
    denied('bob', $call, '42501', "2: bob cannot: $call");
    denied('dave', $call, '42501', "2: nor dave (pg_read_all_stats reads, does not control): $call");
}
is(sql("SELECT state || ' ' || settings FROM safe_column_jobs WHERE job_id = $j_alice"), 'paused {}', '2: the job is unchanged');
is(columns_of('a_t'), "$cols0,ctl", '2: its column is still there');

# Overriding a server setting for a job needs the right to change that setting.
denied('alice', "SELECT safe_column_set($j_alice, 'batch_target', '10s')", '42501',
    '2: the creator cannot go beyond the server\'s settings');
denied('alice', "SELECT safe_column_set($j_alice, 'max_replica_lag', '100GB')", '42501',
    '2: nor switch a throttling signal off for her job');
is(allowed('alice', "SELECT safe_column_set($j_alice, 'batch_target', NULL)", '2: going back to the server\'s value is allowed'),
    '{}', '2: no override');
sql('GRANT ALTER SYSTEM ON PARAMETER safe_column.batch_target TO alice');
is(allowed('alice', "SELECT safe_column_set($j_alice, 'batch_target', '50ms')",
    '2: with ALTER SYSTEM on the parameter, the creator may override it'), '{"batch_target": "50ms"}', '2: the override');
denied('alice', "SELECT safe_column_set($j_alice, 'batch_sleep_ratio', '0')", '42501', '2: that parameter only');
sql('REVOKE ALTER SYSTEM ON PARAMETER safe_column.batch_target FROM alice');

# carol, a member of alice, controls alice's job.
is(allowed('carol', "SELECT safe_column_pause($j_alice)", '2: carol may pause alice\'s job'), 'paused', '2: paused');

# A superuser's job on alice's table: alice, the table's owner, controls it.
my $j_super = create_paused('postgres', q{SELECT safe_add_column('a_t', 'by_super', 'int', backfill_expr => 'id')},
    '2: a superuser creates a job on alice\'s table');
denied('bob', "SELECT safe_column_cancel($j_super)", '42501', '2: bob cannot cancel the superuser\'s job');
is(allowed('alice', "SELECT safe_column_cancel($j_super, drop_column => true)",
    '2: the table\'s owner may cancel a superuser\'s job on her table'), 'cancelled', '2: cancelled');
is(columns_of('a_t'), "$cols0,ctl", '2: and its column is dropped');

# The creator keeps control after the table changed hands, but dropping the column is the new
# owner's right.
my $j_moved = create_paused('alice', q{SELECT safe_add_column('a_t2', 'moved', 'int', backfill_expr => 'id')},
    '2: alice creates a job on a_t2');
sql('ALTER TABLE a_t2 OWNER TO bob');
denied('alice', "SELECT safe_column_cancel($j_moved, drop_column => true)", '42501',
    '2: the creator may not drop the column of a table she no longer owns');
is(columns_of('a_t2'), 'id,moved', '2: the column stays');
is(sql("SELECT state FROM safe_column_jobs WHERE job_id = $j_moved"), 'paused', '2: and the job is not cancelled either');
is(allowed('bob', "SELECT safe_column_cancel($j_moved, drop_column => true)", '2: the new owner may'), 'cancelled',
    '2: cancelled');
is(columns_of('a_t2'), 'id', '2: column dropped by the new owner');

# ---------------------------------------------------------------------------------------------
# 3. Who reads the expression and the error.

# A job whose error quotes a row's value.
my $j_leak = allowed('alice', q{SELECT safe_add_column('a_t', 'leak', 'int', backfill_expr => $$(email)::int + 0 * length('s3cr3t')$$)},
    '3: alice creates a job whose error will quote a row');
wait_state($j_leak, 'failed', '3: it fails');
like(job_error($j_leak), qr/secret\.example/, '3: its error quotes the row\'s value');
my $visible_q = "SELECT backfill_expr || ' | ' || error FROM safe_column_jobs WHERE job_id = $j_leak";
for my $role ('alice', 'carol', 'dave', 'postgres') {
    like(allowed($role, $visible_q, "3: $role reads the view"), qr/s3cr3t.*secret\.example/,
        "3: $role sees the expression and the error");
}
is(allowed('bob', $visible_q, '3: bob reads the view'), '<insufficient privilege> | <insufficient privilege>',
    '3: bob sees neither');
is(allowed('bob', "SELECT column_name, column_type, state, created_by FROM safe_column_jobs WHERE job_id = $j_leak",
    '3: bob reads the rest'), 'leak|integer|failed|alice', '3: bob sees what the catalog shows anyway, and the state');
is(allowed('bob', "SELECT error FROM safe_column_progress WHERE job_id = $j_leak", '3: bob reads the progress'),
    '<insufficient privilege>', '3: not in safe_column_progress either');
my $err = denied('bob', "SELECT safe_column_wait($j_leak)", '55000', '3: safe_column_wait raises the failure for bob');
unlike($err, qr/secret\.example|s3cr3t/, '3: without the row');
$err = denied('bob', "CALL safe_column_watch($j_leak)", '55000', '3: safe_column_watch too');
unlike($err, qr/secret\.example|s3cr3t/, '3: without the row');
$err = denied('alice', "SELECT safe_column_wait($j_leak)", '55000', '3: alice gets the failure');
like($err, qr/secret\.example/, '3: with the row');

# NOTIFY: every role may LISTEN, so the payload says only that there is an error.
my $listener = $node->background_psql('postgres', extra_params => ['-U', 'bob']);
$listener->query_safe('LISTEN safe_column');
allowed('alice', "SELECT safe_column_resume($j_leak)", '3: alice resumes the job (it fails again)');
wait_for($node, "SELECT state = 'failed' AND error IS NOT NULL FROM safe_column_job_store WHERE job_id = $j_leak", 't',
    '3: failed again');
my $heard = $listener->query_safe('SELECT 1');
$listener->quit;
my @payloads;
while ($heard =~ /Asynchronous notification "safe_column" with payload "(.*?)" received/g) {
    push @payloads, decode_json($1);
}
my @failed = grep { $_->{job_id} == $j_leak && $_->{state} eq 'failed' } @payloads;
is(scalar(@failed), 1, '3: bob heard the failure');
ok(@failed && JSON::PP::is_bool($failed[0]{error}) && $failed[0]{error}, '3: the payload says there is an error');
unlike($heard, qr/secret\.example|s3cr3t/, '3: but not what it is');
allowed('alice', "SELECT safe_column_cancel($j_leak, drop_column => true)", '3: clean-up');

# ---------------------------------------------------------------------------------------------
# 4. The worker runs the expression as the creator, in a security-restricted operation.

allowed('alice', q{
CREATE FUNCTION f_whoami(int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.alice_log VALUES ('whoami', current_user); RETURN $1; END $$;
CREATE FUNCTION f_set_role(int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN SET ROLE alice; RETURN $1; END $$;
CREATE FUNCTION f_session_auth(int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN SET SESSION AUTHORIZATION DEFAULT; RETURN $1; END $$;
CREATE FUNCTION f_temp(int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN CREATE TEMP TABLE IF NOT EXISTS planted_tmp (a int); RETURN $1; END $$;
CREATE FUNCTION f_create_locked(int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN CREATE TABLE IF NOT EXISTS locked.planted (a int); RETURN $1; END $$;
CREATE FUNCTION f_secret(int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN PERFORM s FROM public.secret; RETURN $1; END $$;
CREATE FUNCTION f_superuser(int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN ALTER ROLE alice SUPERUSER; RETURN $1; END $$;
CREATE FUNCTION f_read_file(int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_read_file('postgresql.conf'); RETURN $1; END $$;
CREATE FUNCTION f_copy_program(int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN COPY (SELECT 1) TO PROGRAM 'touch /tmp/safe_column_pwned'; RETURN $1; END $$;
CREATE FUNCTION f_dblink(int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN PERFORM public.dblink_exec('dbname=postgres', 'ALTER ROLE alice SUPERUSER'); RETURN $1; END $$;
}, '4: alice creates her functions');

my $j_who = allowed('alice', q{SELECT safe_add_column('a_t', 'who', 'int', backfill_expr => 'f_whoami(id)', not_null => true)},
    '4: a job calling a function that records current_user');
wait_state($j_who, 'complete', '4: it completes');
is(sql(q{SELECT string_agg(DISTINCT cu, ',') || ' ' || count(*) FROM alice_log WHERE what = 'whoami'}), 'alice 30',
    '4: every row was filled as alice');
is(sql('SELECT count(*) FROM a_t WHERE who = id'), '30', '4: with the values');

my @attacks = (
    ['f_set_role', qr/^cannot set parameter "role" within security-(restricted operation|definer function) \(row \(\d+,\d+\) of a_t\)$/, 'SET ROLE'],
    ['f_session_auth', qr/^cannot set parameter "session_authorization" within security-(restricted operation|definer function)/,
        'SET SESSION AUTHORIZATION DEFAULT (the worker\'s session user is a superuser)'],
    ['f_temp', qr/^cannot create temporary table within security-restricted operation/, 'a temporary table'],
    ['f_create_locked', qr/^permission denied for schema locked/, 'a table in a schema alice cannot write'],
    ['f_secret', qr/^permission denied for table secret/, 'reading a table alice cannot read'],
    ['f_superuser', qr/^(must be superuser|permission denied)/, 'ALTER ROLE ... SUPERUSER'],
    ['f_read_file', qr/^permission denied for function pg_read_file/, 'a superuser-only function'],
    ['f_copy_program', qr/COPY to or from an external program/, 'COPY TO PROGRAM'],
    ['f_dblink', qr/password is required|password or GSSAPI delegated credentials required|[Nn]on-superuser/, 'dblink to the same server, which needs no password from a superuser'],
);
for my $a (@attacks) {
    my ($fn, $error, $what) = @$a;
    my $j = allowed('alice', "SELECT safe_add_column('a_t', 'atk', 'int', backfill_expr => '$fn(id)')", "4: a job calling $fn");
    wait_state($j, 'failed', "4: $what: the job fails");
    like(job_error($j), $error, "4: $what: with a clear error naming the row");
    allowed('alice', "SELECT safe_column_cancel($j, drop_column => true)", "4: $fn: clean-up");
}
is(sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'alice'}), 'f', '4: alice is not a superuser');
is(sql(q{SELECT count(*) FROM pg_class WHERE relname IN ('planted', 'planted_tmp')}), '0', '4: no table was created');
ok(!-e '/tmp/safe_column_pwned', '4: no program ran');

# A privilege the creator revoked from herself is enforced: the worker has no more rights than she.
allowed('alice', 'REVOKE UPDATE ON a_t FROM alice', '4: alice revokes her own UPDATE on a_t');
my $j_noupd = allowed('alice', q{SELECT safe_add_column('a_t', 'noupd', 'int', backfill_expr => 'id')},
    '4: she may still add the column (that needs ownership only)');
wait_state($j_noupd, 'failed', '4: but the backfill, an UPDATE, fails');
like(job_error($j_noupd), qr/^permission denied for table a_t/, '4: permission denied for table a_t');
allowed('alice', "SELECT safe_column_cancel($j_noupd, drop_column => true); GRANT UPDATE ON a_t TO alice", '4: clean-up');

# A row-level security policy that hides rows from the creator fails the job; it never leaves rows out.
allowed('alice', q{ALTER TABLE a_t ENABLE ROW LEVEL SECURITY; ALTER TABLE a_t FORCE ROW LEVEL SECURITY;
                   CREATE POLICY only_some ON a_t USING (id <= 10)}, '4: alice forces a policy on her table');
my $j_rls = allowed('alice', q{SELECT safe_add_column('a_t', 'rls', 'int', backfill_expr => 'id')}, '4: a job under RLS');
wait_state($j_rls, 'failed', '4: it fails');
like(job_error($j_rls), qr/row-level security/, '4: because of the policy');
is(sql('SELECT count(*) FILTER (WHERE rls IS NOT NULL) FROM a_t'), '0', '4: no row was filled');
allowed('alice', "SELECT safe_column_cancel($j_rls, drop_column => true);
                  DROP POLICY only_some ON a_t; ALTER TABLE a_t NO FORCE ROW LEVEL SECURITY;
                  ALTER TABLE a_t DISABLE ROW LEVEL SECURITY", '4: clean-up');

# ---------------------------------------------------------------------------------------------
# 5. Triggers fired by the batches.

allowed('alice', q{
CREATE FUNCTION trg_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.alice_log VALUES ('trigger', current_user);
    BEGIN
        EXECUTE 'ALTER ROLE alice SUPERUSER';
        INSERT INTO public.alice_log VALUES ('escalated', current_user);
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO public.alice_log VALUES ('refused', current_user);
    END;
    RETURN NEW;
END $$;
CREATE TRIGGER a_trg BEFORE UPDATE ON a_t FOR EACH ROW EXECUTE FUNCTION trg_fn();
DELETE FROM alice_log;
}, '5: alice puts a trigger on her table that tries to make her a superuser');
my $j_trg = allowed('alice', q{SELECT safe_add_column('a_t', 'trg1', 'int', backfill_expr => 'id')}, '5: alice\'s job');
wait_state($j_trg, 'complete', '5: completes');
is(sql(q{SELECT string_agg(what || ' ' || cu || ' ' || n, ', ' ORDER BY what)
           FROM (SELECT what, cu, count(*) n FROM alice_log GROUP BY 1, 2) s}),
    'refused alice 30, trigger alice 30', '5: the trigger fired for every row, as alice, and was refused');
sql('DELETE FROM alice_log');
my $j_trg_su = sql(q{SELECT safe_add_column('a_t', 'trg2', 'int', backfill_expr => 'id')});
wait_state($j_trg_su, 'complete', '5: a superuser\'s job on alice\'s table completes');
is(sql(q{SELECT string_agg(what || ' ' || cu || ' ' || n, ', ' ORDER BY what)
           FROM (SELECT what, cu, count(*) n FROM alice_log GROUP BY 1, 2) s}),
    'refused alice 30, trigger alice 30', '5: its batches ran as the table\'s owner, not as the superuser');
is(sql('SELECT count(*) FROM a_t WHERE trg2 = id'), '30', '5: with every value');
is(sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'alice'}), 'f', '5: alice is not a superuser');
allowed('alice', 'DROP TRIGGER a_trg ON a_t; ALTER TABLE a_t DROP COLUMN trg1, DROP COLUMN trg2', '5: clean-up');

# ---------------------------------------------------------------------------------------------
# 6. Planted functions and operators.

# 6a. After the job was created: a better match for lower(varchar) and for integer + numeric.
my $j_lower = create_paused('alice', q{SELECT safe_add_column('a_t', 'low', 'text', backfill_expr => 'lower(email)')},
    '6: alice creates a job with lower(varchar column)');
my $j_plus = create_paused('alice', q{SELECT safe_add_column('a_t', 'plus', 'numeric', backfill_expr => 'v + 1.5')},
    '6: alice creates a job with integer + numeric');
unlike(sql("SELECT string_agg(fill_expr, ' ') FROM safe_column_job_store WHERE job_id IN ($j_lower, $j_plus)"),
    qr/public\./, '6: the stored expressions name no function of public');
allowed('mallory', q{
CREATE FUNCTION public.lower(varchar) RETURNS text LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.mallory_log VALUES ('lower(varchar)', current_user); RETURN 'HIJACKED'; END $$;
CREATE FUNCTION public.m_plus(integer, numeric) RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.mallory_log VALUES ('+(integer, numeric)', current_user); RETURN -1; END $$;
CREATE OPERATOR public.+ (LEFTARG = integer, RIGHTARG = numeric, FUNCTION = public.m_plus);
}, '6: mallory plants lower(varchar) and +(integer, numeric) in public');
is(sql(q{SELECT lower('X'::varchar) || ' ' || (1 + 1.5)}), 'HIJACKED -1', '6: they do win in a session with public on its path');
allowed('alice', "SELECT safe_column_resume($j_lower); SELECT safe_column_resume($j_plus)", '6: alice resumes both');
wait_state($j_lower, 'complete', '6: lower job completes');
wait_state($j_plus, 'complete', '6: + job completes');
is(sql(q{SELECT count(*) FROM a_t WHERE low = pg_catalog.lower(email::text) AND plus = v::numeric OPERATOR(pg_catalog.+) 1.5}),
    '30', '6: every row has the values of the functions resolved at creation');

# 6b. The worker's own queries: count(integer) was planted before any job ran, and every job since
# ran the lock-waiters signal before each step.
sql('DELETE FROM public.mallory_log WHERE what IN (\'lower(varchar)\', \'+(integer, numeric)\')');
is(sql('SELECT count(*) FROM public.mallory_log'), '0', '6: nothing planted ever ran in the worker');
is(sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f', '6: mallory is not a superuser');

# 6c. The extension's views, bound when CREATE EXTENSION runs in a schema where mallory planted
# better-matching operators and functions for the expressions of the progress view.
sql('CREATE DATABASE planted');
sql('GRANT CREATE ON SCHEMA public TO mallory', 'planted');
allowed('mallory', q{
CREATE TABLE public.planted_log (what text, who text);
GRANT INSERT ON public.planted_log TO PUBLIC;
CREATE FUNCTION public.p_log(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.planted_log VALUES (what, current_user);
    BEGIN EXECUTE 'ALTER ROLE mallory SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
END $$;
CREATE FUNCTION public.p_mul(numeric, bigint) RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN PERFORM public.p_log('*(numeric, bigint)'); RETURN 0; END $$;
CREATE OPERATOR public.* (LEFTARG = numeric, RIGHTARG = bigint, FUNCTION = public.p_mul);
CREATE FUNCTION public.p_div_nb(numeric, bigint) RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN PERFORM public.p_log('/(numeric, bigint)'); RETURN 0; END $$;
CREATE OPERATOR public./ (LEFTARG = numeric, RIGHTARG = bigint, FUNCTION = public.p_div_nb);
CREATE FUNCTION public.p_div_bn(bigint, numeric) RETURNS numeric LANGUAGE plpgsql AS $$
BEGIN PERFORM public.p_log('/(bigint, numeric)'); RETURN 0; END $$;
CREATE OPERATOR public./ (LEFTARG = bigint, RIGHTARG = numeric, FUNCTION = public.p_div_bn);
CREATE FUNCTION public.p_div_bd(bigint, double precision) RETURNS double precision LANGUAGE plpgsql AS $$
BEGIN PERFORM public.p_log('/(bigint, double precision)'); RETURN 0; END $$;
CREATE OPERATOR public./ (LEFTARG = bigint, RIGHTARG = double precision, FUNCTION = public.p_div_bd);
CREATE FUNCTION public.p_gt(double precision, integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.p_log('>(double precision, integer)'); RETURN true; END $$;
CREATE OPERATOR public.> (LEFTARG = double precision, RIGHTARG = integer, FUNCTION = public.p_gt);
CREATE FUNCTION public.p_eq(numeric, integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.p_log('=(numeric, integer)'); RETURN false; END $$;
CREATE OPERATOR public.= (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = public.p_eq);
CREATE FUNCTION public.make_interval(secs numeric) RETURNS interval LANGUAGE plpgsql AS $$
BEGIN PERFORM public.p_log('make_interval(numeric)'); RETURN '1 s'; END $$;
CREATE FUNCTION public.p_sfunc(bigint, integer) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN RETURN $1 + 1; END $$;
CREATE FUNCTION public.p_final(bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN PERFORM public.p_log('count(integer)'); RETURN $1; END $$;
CREATE AGGREGATE public.count(integer) (SFUNC = public.p_sfunc, STYPE = bigint, INITCOND = '0', FINALFUNC = public.p_final);
}, '6: mallory plants operators and functions in public of a new database', 'planted');
is(allowed('bob', 'SELECT 1.0 * 2::bigint', '6: bob multiplies', 'planted'), '0', '6: they win in a session with public on its path');
sql('DELETE FROM public.planted_log', 'planted');
sql(q{
CREATE EXTENSION safe_column;
CREATE TABLE p_t (id int);
INSERT INTO p_t SELECT generate_series(1, 20);
}, 'planted');
my $j_p = sql(q{SELECT safe_add_column('p_t', 'c', 'int', backfill_expr => 'id', not_null => true)}, 'planted');
is(sql("SELECT safe_column_wait($j_p, '60s')", 'planted'), 'complete', '6: a job completes in that database');
my $j_p2 = create_paused('postgres', q{SELECT safe_add_column('p_t', 'd', 'int', backfill_expr => 'id')},
    '6: a paused job in that database', 'planted');
sql(q{SELECT * FROM safe_column_progress; SELECT * FROM safe_column_jobs}, 'planted');
sql("SELECT safe_column_progress_line(job_id) FROM safe_column_jobs", 'planted');
sql("SELECT safe_column_wait($j_p, '1s'); SELECT safe_column_wait($j_p2, '1s'); CALL safe_column_watch($j_p)", 'planted');
allowed('alice', 'SELECT * FROM safe_column_progress', '6: another role reads the progress too', 'planted');
is(sql(q{SELECT coalesce(string_agg(what || ' as ' || who, ', '), 'nothing') FROM public.planted_log}, 'planted'), 'nothing',
    '6: no planted operator or function ran, as superuser or anyone');
is(sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f', '6: mallory is not a superuser');
is(sql('SELECT count(*) FROM p_t WHERE c = id', 'planted'), '20', '6: the job\'s values are right');

# ---------------------------------------------------------------------------------------------
# 7. The superuser-only settings.

denied('alice', q{ALTER SYSTEM SET safe_column.throttle_query = 'SELECT true'}, '42501', '7: ALTER SYSTEM throttle_query');
denied('alice', q{SET safe_column.throttle_query = 'SELECT true'}, '55P02', '7: SET throttle_query');
denied('alice', q{SELECT set_config('safe_column.throttle_query', 'SELECT true', false)}, '55P02', '7: set_config');
denied('alice', q{ALTER ROLE alice SET safe_column.throttle_query = 'SELECT true'}, '55P02', '7: ALTER ROLE ... SET');
denied('alice', q{ALTER DATABASE alice_db SET safe_column.throttle_query = 'SELECT true'}, '55P02',
    '7: ALTER DATABASE ... SET, as the database\'s owner');
denied('alice', q{ALTER SYSTEM SET safe_column.throttle = off}, '42501', '7: ALTER SYSTEM throttle');
denied('alice', q{SET safe_column.batch_target = '10s'}, '55P02', '7: SET batch_target');
is(sql('SELECT count(*) FROM pg_db_role_setting'), '0', '7: no role or database setting was stored');
is(sql(q{SELECT count(*) FROM pg_file_settings WHERE name = 'safe_column.throttle_query'}), '0', '7: nor a file setting');

$node->stop;
done_testing();
