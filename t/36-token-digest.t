# Tokens are looked up by their SHA-256, computed in the module: with
# PostgreSQL logging every statement and its parameters, no token in plain
# appears in its log, whatever the request (docs/api.md).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Digest::SHA qw(sha256_hex);
use ImagesTest;

my $t = ImagesTest->new(pg_options => '-c log_min_duration_statement=0'
                                      . ' -c log_parameter_max_length=-1');
my $alice = 'alice-token-0123456789abcdef';
my $carol = 'carol-expired-token';
my %tok = (token => $alice);
# (the sample's own INSERT of the tokens is logged before: read from here)
my $from = -s "$t->{pgdata}/log";
is $t->get('/images/5', %tok)->{status}, 200, 'GET with a token';
is $t->get('/images?search=lab', %tok)->{json}{count}, 1, 'a search with it';
is $t->request(PATCH => '/images/5', %tok, json => { name => 'Lab' })
      ->{status}, 200, 'a PATCH with it';
is $t->request(OPTIONS => '/images', %tok)->{status}, 200, 'OPTIONS';
is $t->request(DELETE => '/images/5', %tok)->{status}, 405, 'DELETE';
is $t->get('/images/1', token => $carol)->{status}, 401,
   'an expired token: 401';
is $t->get('/images/1', token => 'never-issued-token')->{status}, 401,
   'an unknown one: 401';

open my $fh, '<', "$t->{pgdata}/log" or die $!;
seek $fh, $from, 0;
my $log = do { local $/; <$fh> };
like $log, qr/\Q${\ sha256_hex($alice)}\E/,
    'the log has the statements with the digest';
for my $plain ($alice, $carol, 'never-issued-token') {
    unlike $log, qr/\Q$plain\E/, "no '$plain' in PostgreSQL's log";
}
is $t->sql_value(q{SELECT count(*) FROM api_tokens WHERE key LIKE '%token%'}),
   0, 'nor in api_tokens';
# the token's user is r->user: the access log says who edited
open my $al, '<', "$t->{dir}/access_log" or die $!;
my @patches = grep { /"PATCH \/images\/5 / } <$al>;
like $patches[0] // '', qr/^\S+ \S+ alice \[/,
    'the access log names the token\'s user for the PATCH';
done_testing;
