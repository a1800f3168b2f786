# No request keeps the database busy past ImagesStatementTimeout: the
# statement is cancelled in PostgreSQL (statement_timeout on every pooled
# connection), the request answered 503 JSON with Retry-After, once, and
# the connection serves the next request.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use JSON::PP ();
use ImagesTest;

my $t = ImagesTest->new(conf => "ImagesStatementTimeout 0.5\n");
is $t->sql_value(q{SELECT count(*) FROM images}), 12, 'the sample';

# a statement that cannot finish: images locked by an operator for 4 s
sub locked {
    my ($sql) = @_;
    my $pid = fork // die $!;
    if (!$pid) {
        $t->sql("BEGIN; LOCK TABLE $sql IN ACCESS EXCLUSIVE MODE;"
                . ' SELECT pg_sleep(4); COMMIT;');
        exit 0;
    }
    sleep 0.5;
    return $pid;
}

my $pid = locked('images');
for my $c (['GET /images/1', GET => '/images/1'],
           ['GET /images', GET => '/images?search=ubuntu'],
           ['PATCH', PATCH => '/images/1', user => 'alice',
            password => 'alice-pw', json => { name => 'Never' }]) {
    my ($what, $method, $path, %opt) = @$c;
    my $t0 = time;
    my $r = $t->request($method => $path, %opt);
    my $took = time - $t0;
    is $r->{status}, 503, "$what while images is locked: 503";
    is $r->{headers}{'content-type'}, 'application/json', 'JSON';
    ok $r->{headers}{'retry-after'}, 'with Retry-After';
    cmp_ok $took, '<', 2, sprintf('answered after the limit (%.2f s)', $took);
}
my $active = $t->sql_value(q{SELECT count(*) FROM pg_stat_activity
    WHERE usename = 'mod_images' AND state = 'active'});
is $active, 0, 'no statement of the module still running';
waitpid $pid, 0;
my @lines = grep { /cancelled after ImagesStatementTimeout/ }
            split /\n/, $t->error_log;
is scalar(@lines), 3, 'one log line per cancelled request';
is $t->get('/images/1')->{status}, 200, 'the next request is served';
is $t->get('/images/1')->{json}{name}, 'Ubuntu 14.04 LTS',
    'and the PATCH changed nothing';

# the setting itself, on a pooled connection
$t->sql(q{CREATE FUNCTION show_timeout() RETURNS text LANGUAGE sql
          AS $$ SELECT current_setting('statement_timeout') $$});
my $t2 = ImagesTest->new(conf => "ImagesStatementTimeout 0\n");
is $t2->get('/images/1')->{status}, 200, 'no limit: served';

for my $bad ('-1', 'abc', '100000') {
    my $out = eval { ImagesTest->new(conf => "ImagesStatementTimeout $bad\n",
                                     empty => 1); 1 } ? '' : $@;
    like $out, qr/ImagesStatementTimeout must be a number of seconds/,
        "ImagesStatementTimeout $bad refused";
}
done_testing;
