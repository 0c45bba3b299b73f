# A table published to a logical subscriber on loopback. A publication without a column list sends a new
# column to the subscriber, whose apply worker stops at the first change while its table lacks it.
#   - safe_add_column, and a plain ADD COLUMN through the hook, warn before the column is added, naming
#     the publication and the active slot; a publication with a column list, or none, gets no warning;
#     safe_column.publication_check = refuse refuses, with nothing changed.
#   - The right order (the column added on the subscriber first, then safe_add_column with a backfill on
#     the publisher): the subscriber ends with the publisher's values.
#   - The wrong order: the warning was given; the subscriber's apply stops ("missing replicated column")
#     until the column is added there, then catches up with the same values.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use SafeColumnTest;

my $pub = backfill_node('pub', qq{
wal_level = logical
max_replication_slots = 8
max_wal_senders = 8
});
$pub->start;
my $sub = PostgreSQL::Test::Cluster->new('sub');
$sub->init;
$sub->start;

my $tables = q{
CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL);
CREATE TABLE listed (id int PRIMARY KEY, v int);
};
$pub->safe_psql('postgres', 'CREATE EXTENSION safe_column;' . $tables . q{
INSERT INTO users SELECT g, 'User' || g || '@Example.com' FROM generate_series(1, 20000) g;
INSERT INTO listed SELECT g, g FROM generate_series(1, 1000) g;
CREATE TABLE private (id int); INSERT INTO private SELECT generate_series(1, 100);
CREATE PUBLICATION p_all FOR TABLE users;
CREATE PUBLICATION p_list FOR TABLE listed (id, v);
});
$sub->safe_psql('postgres', $tables);
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres', "CREATE SUBSCRIPTION s CONNECTION '$connstr' PUBLICATION p_all, p_list");
$sub->wait_for_subscription_sync($pub, 's');
is($sub->safe_psql('postgres', 'SELECT count(*) FROM users'), '20000', 'the subscriber has the rows');

# psql as the publisher's user: (stdout, stderr).
sub on_pub {
    my ($q) = @_;
    my ($ret, $out, $err) = $pub->psql('postgres', $q, extra_params => ['-v', 'VERBOSITY=verbose']);
    return ($ret, $out, $err);
}
my $same = q{SELECT md5(string_agg(id || ':' || coalesce(%s::text, '-'), ',' ORDER BY id)) FROM users};

# The right order: on the subscriber first. The backfill is held to the subscriber's pace by its slot:
# safe_column.max_slot_lag is set far below the WAL the job writes.
$pub->safe_psql('postgres', q{ALTER SYSTEM SET safe_column.max_slot_lag = '64kB'; SELECT pg_reload_conf();});
wait_for($pub, q{SHOW safe_column.max_slot_lag}, '64kB', 'max_slot_lag is 64kB');
$sub->safe_psql('postgres', 'ALTER TABLE users ADD COLUMN email_lc text');
my ($ret, $out, $err) = on_pub(q{SELECT safe_add_column('users', 'email_lc', 'text', backfill_expr => 'lower(email)')});
is($ret, 0, 'safe_add_column on the published table runs');
like($err, qr/WARNING:  55000: table "users" is published with all its columns: publication p_all will send column "email_lc" to its subscribers/,
    'it warns, naming the publication');
like($err, qr/Logical replication slots of this database: s \(active\)/, 'and the active slot');
like($err, qr/HINT:  Add the column on each subscriber first, then here/, 'with the safe order');
my ($job) = $out =~ /^(\d+)$/m;
wait_for($pub, "SELECT state FROM safe_column_jobs WHERE job_id = $job", 'complete', 'the job completes');
$pub->wait_for_catchup('s');
is($sub->safe_psql('postgres', sprintf($same, 'email_lc')), $pub->safe_psql('postgres', sprintf($same, 'email_lc')),
    'the subscriber has the backfilled values');
is($sub->safe_psql('postgres', q{SELECT count(*) FROM users WHERE email_lc IS DISTINCT FROM lower(email)}), '0',
    'every row of the subscriber');
is($pub->safe_psql('postgres', qq{SELECT wal_bytes > 64 * 1024 AND throttle_stats ? 'slot_lag' AND (throttle_stats ->> 'slot_lag')::float8 > 0
                                    FROM safe_column_jobs WHERE job_id = $job}), 't',
    'the job wrote more WAL than max_slot_lag and waited for the subscriber\'s slot');
$pub->safe_psql('postgres', q{ALTER SYSTEM RESET safe_column.max_slot_lag; SELECT pg_reload_conf();});

# No warning for a publication with a column list, nor for an unpublished table.
($ret, $out, $err) = on_pub(q{SELECT safe_add_column('listed', 'w', 'int', backfill_expr => 'v * 2')});
unlike($err, qr/is published/, 'a publication with a column list (the new column not in it): no warning');
($ret, $out, $err) = on_pub(q{SELECT safe_add_column('private', 'w', 'int')});
unlike($err, qr/is published/, 'an unpublished table: no warning');

# The hook's plain ADD COLUMN (guard mode) warns the same way.
$sub->safe_psql('postgres', 'ALTER TABLE users ADD COLUMN note text');
($ret, $out, $err) = on_pub(q{ALTER TABLE users ADD COLUMN note text});
is($ret, 0, 'a plain ADD COLUMN runs in guard mode');
like($err, qr/publication p_all will send column "note"/, 'and warns');

# safe_column_plan says the same before anything runs, in a row of its own before the verdict; not for
# a publication with a column list, nor for a column that exists already.
my $plan_pub = q{SELECT string_agg(approach || ': ' || note, E'\n' ORDER BY step) FROM safe_column_plan('%s') WHERE approach = 'publication'};
my $note = $pub->safe_psql('postgres', sprintf($plan_pub, 'ALTER TABLE users ADD COLUMN planned int'));
like($note, qr/^publication: the table is published with all its columns: publication p_all will send the new column/,
    'safe_column_plan has a publication row');
like($note, qr/slots of this database: s \(active\)/, 'naming the active slot');
like($note, qr/add the column on each subscriber first, then here \(safe_column.publication_check = warn: a WARNING\)/,
    'with the safe order and what the setting does');
is($pub->safe_psql('postgres', q{SELECT approach FROM safe_column_plan('ALTER TABLE users ADD COLUMN planned int') ORDER BY step DESC LIMIT 1}),
    'verdict', 'the verdict stays the last row');
is($pub->safe_psql('postgres', sprintf($plan_pub, 'ALTER TABLE listed ADD COLUMN planned int')), '',
    'safe_column_plan: no publication row for a column list');
is($pub->safe_psql('postgres', sprintf($plan_pub, 'ALTER TABLE users ADD COLUMN IF NOT EXISTS note text')), '',
    'nor for a column that exists');

# refuse: nothing changes.
($ret, $out, $err) = on_pub(q{SET safe_column.publication_check = refuse;
    SELECT safe_add_column('users', 'refused', 'int', backfill_expr => 'id')});
like($err, qr/ERROR:  55000: table "users" is published with all its columns/, 'publication_check = refuse refuses');
is($pub->safe_psql('postgres', q{SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'refused'}),
    '0', 'with nothing added');

# The wrong order: the subscriber lacks the column.
($ret, $out, $err) = on_pub(q{SELECT safe_add_column('users', 'late', 'int', backfill_expr => 'id * 3')});
like($err, qr/publication p_all will send column "late"/, 'the wrong order: the warning was given');
($job) = $out =~ /^(\d+)$/m;
wait_for($pub, "SELECT state FROM safe_column_jobs WHERE job_id = $job", 'complete', 'the job completes on the publisher');
# Polled with a deadline: the apply worker logs the error and restarts every few seconds.
my $found = 0;
for (1 .. 600) {
    if (slurp_file($sub->logfile) =~ /is missing replicated column: "late"/) { $found = 1; last; }
    usleep(100_000);
}
ok($found, "the subscriber's apply stops: missing replicated column \"late\"");
$sub->safe_psql('postgres', 'ALTER TABLE users ADD COLUMN late int');
$pub->wait_for_catchup('s');
is($sub->safe_psql('postgres', sprintf($same, 'late')), $pub->safe_psql('postgres', sprintf($same, 'late')),
    'once the column exists there, the subscriber catches up with the same values');

$sub->stop;
$pub->stop;
done_testing();
