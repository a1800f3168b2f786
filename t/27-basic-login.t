# Basic logins through the shipped AuthDBDUserPWQuery do not tell which
# user names exist: an unknown user, a wrong password and a user without a
# password are each refused with the same JSON 401 in about the same time
# (a bcrypt check every time; no empty result, on which apr_dbd_pgsql
# sleeps 0.1 s), and a right password still logs in.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use ImagesTest;

my $t = ImagesTest->new;

sub median {
    my @s = sort { $a <=> $b } @_;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

my %cases = (
    unknown => [ 'nosuchuser', 'whatever' ],
    wrong => [ 'alice', 'not-alice-pw' ],
    passwordless => [ 'dave', '' ],
    passwordless_guess => [ 'dave', 'dave' ],
);
# warm every pooled connection up first (preparing statements is slow)
$t->get('/images/1', user => $_->[0], password => $_->[1]) for values %cases;

my %median;
for my $round (1 .. 10) {
    for my $name (sort keys %cases) {
        my ($user, $pw) = @{ $cases{$name} };
        my $t0 = time;
        my $r = $t->get('/images/1', user => $user, password => $pw);
        push @{ $median{$name} }, time - $t0;
        next if $round > 1;
        is $r->{status}, 401, "$name: 401";
        is_deeply $r->{json}, { detail => 'Invalid username/password.' },
            "$name: JSON detail";
        like $r->{headers}{'www-authenticate'} // '', qr/^Basic /,
            "$name: WWW-Authenticate";
    }
}
$median{$_} = median(@{ $median{$_} }) for keys %median;
diag sprintf "median %s: %.1f ms", $_, 1000 * $median{$_}
    for sort keys %median;
my @names = sort keys %median;
for my $i (0 .. $#names) {
    my $m = $median{$names[$i]};
    cmp_ok $m, '<', 0.06, "$names[$i]: well under apr_dbd_pgsql's 0.1 s";
    for my $j ($i + 1 .. $#names) {
        my $n = $median{$names[$j]};
        my ($lo, $hi) = sort { $a <=> $b } $m, $n;
        ok $hi <= 2 * $lo || $hi - $lo <= 0.02,
            "$names[$i] and $names[$j] take about as long";
    }
}

my $r = $t->get('/images/5', user => 'alice', password => 'alice-pw');
is $r->{status}, 200, 'the right password still logs in';
is $r->{json}{id}, 5, "and sees alice's private image";
is $t->get('/images/5')->{status}, 404, 'which anonymous callers do not';

done_testing;
