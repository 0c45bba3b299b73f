# Helpers shared by safe_column's TAP tests.
package SafeColumnTest;
use strict;
use warnings;
use Exporter 'import';
use Test::More;
use Time::HiRes qw(usleep time);

our @EXPORT = qw(crash_restart wait_for);

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

# SIGKILL the postmaster, wait until every process of the old server is gone, start again.
# On machines whose init reaps orphans late, the killed postmaster stays a zombie and its lock file
# would refuse the restart: once nothing is attached to its shared memory any more, the lock file is
# stale and is removed, with the socket's lock file.
sub crash_restart {
    my ($node) = @_;
    my $pidfile = $node->data_dir . '/postmaster.pid';
    open(my $fh, '<', $pidfile) or die "no $pidfile";
    my @lines = <$fh>;
    close $fh;
    chomp @lines;
    my $pmpid = $lines[0];
    my (undef, $shmid) = split ' ', ($lines[6] // '');
    $node->kill9;
    my $deadline = time + 60;
    while (time < $deadline) {
        my $state = _proc_state($pmpid);
        my $gone = !defined $state || $state eq 'Z';
        last if $gone && (!defined $shmid || _nattch($shmid) == 0);
        usleep(50_000);
    }
    my $state = _proc_state($pmpid);
    if (defined $state && $state eq 'Z') {
        unlink $pidfile;
        unlink $node->host . '/.s.PGSQL.' . $node->port . '.lock';
    }
    $node->start;
    return;
}

1;
