#!/usr/bin/perl
# META.json against the PGXN Meta Spec 1.0.0 (https://pgxn.org/meta/spec.txt): the required keys and
# their formats, and agreement with the tree (the files it names exist, its version is the control
# file's default_version, the server versions are the ones we support). Prints "ok - ..." / "not ok - ...".
use strict;
use warnings;
use JSON::PP;

my $root = shift // '.';
my $fails = 0;
sub check { my ($cond, $what) = @_; print(($cond ? "ok" : "not ok") . " - META.json: $what\n"); $fails++ unless $cond; }

open(my $fh, '<', "$root/META.json") or die "no META.json in $root";
my $text = do { local $/; <$fh> };
my $meta = eval { JSON::PP->new->decode($text) };
check(ref $meta eq 'HASH', 'is a JSON object');
$meta //= {};
my $semver = qr/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+)?$/;
for my $key (qw(name abstract maintainer license provides meta-spec version)) {
    check(exists $meta->{$key}, "has the required key $key");
}
check(scalar(($meta->{name} // '') =~ /^[^\s\/\\:]{2,}$/), 'name: at least two characters, no space, slash, backslash or colon');
check(scalar(($meta->{version} // '') =~ $semver), 'version is a semantic version');
check(ref $meta->{'meta-spec'} eq 'HASH' && ($meta->{'meta-spec'}{version} // '') eq '1.0.0', 'meta-spec version 1.0.0');
my @licenses = qw(agpl_3 apache_1_1 apache_2_0 artistic_1 artistic_2 bsd freebsd gfdl_1_2 gfdl_1_3 gpl_1 gpl_2
                  gpl_3 lgpl_2_1 lgpl_3_0 mit mozilla_1_0 mozilla_1_1 openssl perl_5 postgresql qpl_1_0 ssleay sun
                  zlib open_source restricted unrestricted unknown);
check(!ref $meta->{license} && grep({ $_ eq ($meta->{license} // '') } @licenses), 'license is one of the spec\'s');
my $m = $meta->{maintainer};
check((!ref $m && length $m) || (ref $m eq 'ARRAY' && @$m), 'maintainer is a string or a non-empty list');
my $provides = $meta->{provides} // {};
check(ref $provides eq 'HASH' && exists $provides->{safe_column}, 'provides the extension safe_column');
my $ext = $provides->{safe_column} // {};
check(scalar(($ext->{version} // '') =~ $semver), 'provides.safe_column.version is a semantic version');
check(defined $ext->{file} && -f "$root/$ext->{file}", "provides.safe_column.file exists ($ext->{file})");
check(!defined $ext->{docfile} || -f "$root/$ext->{docfile}", 'provides.safe_column.docfile exists');
open(my $cf, '<', "$root/safe_column.control") or die 'no control file';
my ($default_version) = map { /^default_version\s*=\s*'([^']+)'/ ? $1 : () } <$cf>;
check(defined $default_version && scalar(($ext->{version} // '') =~ /^\Q$default_version\E(\.0)?$/),
    "provides.safe_column.version matches the control file's default_version ($default_version)");
check(($meta->{version} // '') eq ($ext->{version} // ''), 'the distribution version is the extension version');
my $pg = $meta->{prereqs}{runtime}{requires}{PostgreSQL} // '';
check(scalar($pg =~ $semver) && scalar($pg =~ /^15\./), "prereqs: runtime requires PostgreSQL $pg (the versions tested)");
exit($fails > 0);
