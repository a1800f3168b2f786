# The module's counters on mod_status's server-status?auto: each known
# request moves its endpoint's and status class's counter by exactly one
# and no other; the waits for a pooled connection, the database errors,
# new connections, resets and the statements they lost move by exactly
# what the requests caused.  One child and one pooled connection, so that
# which connection a request gets is known.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use ImagesTest;

my $t = ImagesTest->new(debian_mods => ['authz_host', 'status'],
                        conf => <<'CONF');
ServerLimit 1
MaxRequestWorkers 16
DBDMin 0
DBDKeep 1
DBDMax 1
<Location /images-health>
    SetHandler images-health
</Location>
CONF

my @endpoints = qw(Item List Patch Other);
my @keys = ((map { my $e = $_; map { "ImagesRequests$e${_}xx" } 2 .. 5 }
             @endpoints),
            qw(ImagesDbErrors ImagesDbUnavailable ImagesDbConnects
               ImagesDbReconnects ImagesDbReprepares ImagesDbWaits
               ImagesDbWaitMicroseconds));

sub scrape {
    my $r = $t->get('/server-status?auto');
    die "server-status: $r->{status}\n" unless $r->{status} == 200;
    my %v = $r->{content} =~ /^(Images\w+): (\d+)$/mg;
    return \%v;
}

sub requests {
    my ($v) = @_;
    my $n = 0;
    $n += $v->{$_} for grep { /^ImagesRequests/ } keys %$v;
    return $n;
}

# every counter moved by exactly the expected amount (0 unless named);
# ImagesDbWaitMicroseconds is only checked not to go backwards.  A request
# is counted after its answer has gone out (as the access log writes it),
# so the scrape may come first: scrape until the requests are all there.
sub moved {
    my ($before, $expect, $name) = @_;
    my $want = requests($before);
    $want += $expect->{$_} for grep { /^ImagesRequests/ } keys %$expect;
    my $after = scrape();
    my $deadline = time + 10;
    while (requests($after) < $want && time < $deadline) {
        select undef, undef, undef, 0.05;
        $after = scrape();
    }
    for my $k (@keys) {
        next if $k eq 'ImagesDbWaitMicroseconds';
        is $after->{$k} - $before->{$k}, $expect->{$k} // 0, "$name: $k";
    }
    cmp_ok $after->{ImagesDbWaitMicroseconds}, '>=',
        $before->{ImagesDbWaitMicroseconds}, "$name: wait time";
    return $after;
}

my $s = scrape();
is scalar(grep { defined $s->{$_} } @keys), scalar @keys,
    'server-status?auto has every counter'
    or diag explain $s;
is $s->{ImagesDbWaits}, 0, 'nothing waited yet';

# the first request opens the connection: a measurable wait
my $etag = $t->get('/images/1')->{headers}{etag};
$s = moved($s, { ImagesRequestsItem2xx => 1, ImagesDbWaits => 1,
                 ImagesDbConnects => 1 }, 'first request');
cmp_ok $s->{ImagesDbWaitMicroseconds}, '>', 0,
    'opening a connection took time';
my $html = $t->get('/server-status');
like $html->{content}, qr{<h2>mod_images</h2>}, 'the HTML page has a section';

my %alice = (token => 'alice-token-0123456789abcdef');
my @requests = (
    # [method, path, options, counter, takes a connection]
    [GET => '/images/1', {}, 'Item2xx', 1],
    [HEAD => '/images/2', {}, 'Item2xx', 1],
    [GET => '/images/1', { headers => { 'If-None-Match' => $etag } },
     'Item3xx', 1],
    [GET => '/images/999999', {}, 'Item4xx', 1],
    [GET => '/images', {}, 'List2xx', 1],
    [GET => '/images/', { headers => { Origin => 'https://x.org' } },
     'List2xx', 1],
    [GET => '/images?page=99', {}, 'List4xx', 1],
    # httpd's own 401; the error answer checks the connection once
    [GET => '/images/1', { user => 'alice', password => 'wrong' },
     'Item4xx', 1],
    [GET => '/images', { user => 'nobody', password => 'x' }, 'List4xx', 1],
    [PATCH => '/images/1', { %alice, json => { description => 'counted' } },
     'Patch2xx', 1],
    [PATCH => '/images/1', { json => { description => 'anonymous' } },
     'Patch4xx', 0],
    [PATCH => '/images/1', { %alice, body => '{', headers =>
                             { 'Content-Type' => 'application/json' } },
     'Patch4xx', 1],
    [OPTIONS => '/images/1', {}, 'Other2xx', 0],
    [DELETE => '/images/1', {}, 'Other4xx', 0],
    [GET => '/images/not-an-id', {}, 'Other4xx', 0],
    [PATCH => '/images', { %alice, json => {} }, 'Other4xx', 1],
);
my %expect;
for my $q (@requests) {
    my ($method, $path, $opt, $counter, $waits) = @$q;
    my $r = $t->request($method, $path, %$opt);
    my ($class) = $counter =~ /(\d)xx$/;
    is int($r->{status} / 100), $class, "$method $path: ${class}xx"
        or diag "$r->{status} $r->{content}";
    $expect{"ImagesRequests$counter"}++;
    $expect{ImagesDbWaits} += $waits;
}
# the health check takes a connection but is not a request of the API;
# server-status is neither
$t->get('/images-health');
$expect{ImagesDbWaits}++;
$s = moved($s, \%expect, 'the requests');

# PostgreSQL down: the statement fails on the pooled connection, which
# cannot be set up again (503); the next request gets no connection at all
# (mod_dbd drops the dead one)
$t->stop_pg;
is $t->get('/images/1')->{status}, 503, 'database down: 503';
is $t->get('/images')->{status}, 503, 'still down: 503';
$s = moved($s, { ImagesRequestsItem5xx => 1, ImagesRequestsList5xx => 1,
                 ImagesDbWaits => 2, ImagesDbErrors => 1,
                 ImagesDbUnavailable => 1 }, 'database down');

# back: a new connection, which prepares the one statement it needs (and
# mod_dbd prepares mod_authn_dbd's on it)
$t->restart_pg;
is $t->get('/images/1')->{status}, 200, 'database back: 200';
$s = moved($s, { ImagesRequestsItem2xx => 1, ImagesDbWaits => 1,
                 ImagesDbConnects => 1 }, 'database back');

# restarted between two requests: the next statement fails on the
# connection, which is reset in place; both statements it had are lost,
# mod_authn_dbd's prepared again at once, the failed one when it runs
# again, and the request is answered
$t->stop_pg;
$t->restart_pg;
is $t->get('/images/1')->{status}, 200, 'after a restart: 200';
$s = moved($s, { ImagesRequestsItem2xx => 1, ImagesDbWaits => 1,
                 ImagesDbErrors => 1, ImagesDbReconnects => 1,
                 ImagesDbReprepares => 2 }, 'a reset');

# a graceful restart (a new generation of children, the module loaded
# again) keeps the counts, and the new children add to them
SKIP: {
    # scripts/test-valgrind runs httpd -X: one process, no generations
    # (the block's tests: two, then moved()'s: one a counter, one the wait)
    skip 'httpd -X under IMAGES_TEST_WRAPPER has no graceful restart',
        2 + @keys if $t->{wrapper};
    my ($gen) = $t->get('/server-status?auto')->{content}
        =~ /^ParentServerConfigGeneration: (\d+)/m;
    $t->graceful;
    my $deadline = time + 30;
    my $now = $gen;
    while ($now == $gen && time < $deadline) {
        select undef, undef, undef, 0.1;
        ($now) = $t->get('/server-status?auto')->{content}
            =~ /^ParentServerConfigGeneration: (\d+)/m;
        $now //= $gen;
    }
    is $now, $gen + 1, 'a new generation';
    is $t->get('/images/2')->{status}, 200, 'served by it';
    $s = moved($s, { ImagesRequestsItem2xx => 1, ImagesDbWaits => 1,
                     ImagesDbConnects => 1 }, 'after a graceful restart');
}
unlike $t->error_log, qr/AH00052|exit signal/, 'no child crashed';

done_testing;
