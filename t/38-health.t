# SetHandler images-health, for load balancers: 200 JSON while a pooled
# connection answers, 503 JSON with Retry-After while PostgreSQL is down or
# at another schema version, 200 again once it is back; never cached, no
# authentication, and not counted among the endpoint's requests.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use ImagesTest;

my $health = <<'CONF';
<Location /images-health>
    SetHandler images-health
    ImagesRetryAfter 9
</Location>
CONF

sub healthy {
    my ($r, $name) = @_;
    is $r->{status}, 200, "$name: 200";
    is_deeply $r->{json},
        { status => 'ok', schema_version => ImagesTest->schema_version },
        "$name: status ok and the schema version" or diag $r->{content};
    is $r->{headers}{'content-type'}, 'application/json', "$name: JSON";
    is $r->{headers}{'cache-control'}, 'no-store', "$name: no-store";
    is $r->{headers}{'x-content-type-options'}, 'nosniff', "$name: nosniff";
}

sub unhealthy {
    my ($r, $name) = @_;
    is $r->{status}, 503, "$name: 503";
    is $r->{json}{status}, 'unavailable', "$name: status unavailable";
    ok $r->{json}{detail}, "$name: with a detail";
    is $r->{headers}{'retry-after'}, '9', "$name: Retry-After";
    is $r->{headers}{'cache-control'}, 'no-store', "$name: no-store";
    is $r->{headers}{'x-content-type-options'}, 'nosniff', "$name: nosniff";
}

my $t = ImagesTest->new(conf => $health);
healthy($t->get('/images-health'), 'GET');
healthy($t->get('/images-health', headers => { Range => 'bytes=0-3' }),
        'GET with a Range (ignored)');
my $r = $t->request(HEAD => '/images-health');
is $r->{status}, 200, 'HEAD: 200';
is $r->{content}, '', 'HEAD: no body';
healthy($t->request(OPTIONS => '/images-health'),
        'OPTIONS');
$r = $t->request(POST => '/images-health', body => 'x');
is $r->{status}, 405, 'POST: 405';
is $r->{headers}{allow}, 'GET, HEAD, OPTIONS', 'with Allow';
is_deeply $r->{json}, { detail => 'Method "POST" not allowed.' }, 'JSON';
healthy($t->get('/images-health', user => 'alice', password => 'wrong'),
        'credentials are not looked at');

$t->stop_pg;
my $t0 = time;
unhealthy($t->get('/images-health'), 'PostgreSQL stopped');
cmp_ok time - $t0, '<', 10, 'answered within the connect timeout';
unhealthy($t->get('/images-health'), 'still stopped');

$t->restart_pg;
healthy($t->get('/images-health'), 'PostgreSQL back');
healthy($t->get('/images-health'), 'and again');

# restarted under httpd's feet: the pooled connection recovers on the way
$t->stop_pg;
$t->restart_pg;
healthy($t->get('/images-health'), 'after a restart between two checks');

# a database at another schema version (a connection checks it when it
# opens, and at each use while it does not match)
my $t2 = ImagesTest->new(conf => $health, no_httpd => 1);
$t2->sql('UPDATE schema_version SET version = version + 1');
$t2->start_httpd;
unhealthy($t2->get('/images-health'), 'schema of another version');
$t2->sql('UPDATE schema_version SET version = version - 1');
healthy($t2->get('/images-health'), 'schema migrated');

done_testing;
