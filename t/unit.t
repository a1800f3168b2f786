# The C unit tests of the pure parts speak TAP themselves.
use strict;
use warnings;
use FindBin;
my $bin = "$FindBin::Bin/unit/test_core";
die "build it first: make check\n" unless -x $bin;
exec $bin or die "cannot run $bin: $!\n";
