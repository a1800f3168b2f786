# Failover under load (scripts/failover.pl, docs/reliability.md): a Patroni
# cluster of two nodes behind HAProxy, the module's reads on the
# synchronous standby and its PATCHes on the primary, while the standby
# dies, the primary dies, a switchover runs and the schema is applied
# again.  Each pass criterion of the run is one test here.
use strict;
use warnings;
use FindBin;
use File::Temp ();
use JSON::PP;
use Test::More;

my $json = File::Temp->new(SUFFIX => '.json');
my $script = "$FindBin::Bin/../scripts/failover.pl";
my $out = `perl \Q$script\E --json \Q$json\E 2>&1`;
my $rc = $? >> 8;
diag($out);
my $r = eval {
    open my $fh, '<', "$json" or die $!;
    local $/;
    JSON::PP->new->decode(<$fh>);
};
ok($r, 'the run finished and wrote its figures') or do {
    done_testing;
    exit;
};
my %ran = map { $_->{name} => $_ } @{ $r->{scenarios} };
for my $name (qw(a b c d)) {
    ok(($ran{$name}{patchs} // 0) > 0 && ($ran{$name}{gets} // 0) > 0,
       "($name) clients PATCHed and read during the scenario");
}
ok($_->{held}, $_->{what}) for @{ $r->{checks} };
is($rc, 0, 'scripts/failover.pl exited 0');
done_testing;
