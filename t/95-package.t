# The Debian package built, installed into the system's apache2 with the
# system PostgreSQL cluster as README says, serving, removed and purged:
# scripts/test-package speaks TAP itself (as root; about a minute).
use strict;
use warnings;
use FindBin;
my $script = "$FindBin::Bin/../scripts/test-package";
exec $script or die "cannot run $script: $!\n";
