# The short stress run (scripts/stress --short): hostile input, 64 clients
# of mixed load with every PATCH checked, PostgreSQL stopped, started and
# its connections killed under load.  One assertion per row of its table.
use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;

my $dir = tempdir(CLEANUP => 1);
my $out = `perl $FindBin::Bin/../scripts/stress.pl --short --json $dir/table.json 2>&1`;
my $status = $? >> 8;
open my $fh, '<', "$dir/table.json" or BAIL_OUT("no table from stress.pl:\n$out");
my $table = decode_json(do { local $/; <$fh> });
cmp_ok scalar(@$table), '>=', 30, 'the stress table has every row';
for my $row (@$table) {
    my ($area, $tried, $expected, $observed, $held) = @$row;
    is $held, 'yes', "$area: $tried (expected $expected; observed $observed)";
}
is $status, 0, 'stress.pl exits 0' or diag $out;
done_testing;
