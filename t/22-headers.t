# The headers every answer of the endpoint carries (docs/api.md):
# X-Content-Type-Options: nosniff, Vary: Authorization (once, whatever the
# configuration), and Cache-Control: private when the caller is known.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use MIME::Base64 qw(encode_base64);
use ImagesTest;

my $t = ImagesTest->new;

# Every header line of a raw answer, names lower-cased, in order.
sub raw_headers {
    my ($t, $request) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$t->{port}",
                                  Timeout => 30) or die "connect: $!";
    print $s $request;
    shutdown($s, 1);
    local $/;
    my $data = <$s> // '';
    my ($head) = split /\r\n\r\n/, $data, 2;
    my @lines = split /\r\n/, $head // '';
    my ($status) = (shift(@lines) // '') =~ m{^HTTP/\S+ (\d+)};
    return ($status // 0, [ map { /^([^:]+):\s*(.*)$/ ? [lc $1, $2] : () }
                            @lines ]);
}

# The answer carries the contract's headers; $private: whether
# Cache-Control: private is expected.
sub headers_ok {
    my ($t, $name, $request, $status, $private) = @_;
    my ($got, $h) = raw_headers($t, $request);
    is $got, $status, "$name: $status";
    my @vary = map { $_->[1] } grep { $_->[0] eq 'vary' } @$h;
    my @tokens = grep { /^authorization$/i } map { split /\s*,\s*/ } @vary;
    is scalar(@tokens), 1, "$name: Vary names Authorization once"
        or diag explain \@vary;
    my @nosniff = grep { $_->[0] eq 'x-content-type-options' } @$h;
    is_deeply [ map { $_->[1] } @nosniff ], ['nosniff'],
        "$name: X-Content-Type-Options: nosniff once";
    # (field lines of the same name are one list, RFC 9110 5.3)
    my $cc = join ', ', map { $_->[1] }
                        grep { $_->[0] eq 'cache-control' } @$h;
    if ($private) {
        like $cc // '', qr/\bprivate\b/, "$name: Cache-Control: private";
    }
    else {
        unlike $cc // '', qr/\bprivate\b/, "$name: not private (anonymous)";
    }
}

sub req {
    my ($method, $path, @headers) = @_;
    return join("\r\n", "$method $path HTTP/1.1", 'Host: 127.0.0.1',
                'Connection: close', @headers) . "\r\n\r\n";
}

my $alice = 'Authorization: Basic ' . encode_base64('alice:alice-pw', '');
my $bob = 'Authorization: Basic ' . encode_base64('bob:bob-pw', '');
my $nobody = 'Authorization: Basic ' . encode_base64('nobody:x', '');
my $token = 'Authorization: Token alice-token-0123456789abcdef';
my $etag = $t->get('/images/1')->{headers}{etag};
my $json = 'Content-Type: application/json';

headers_ok($t, 'GET item', req(GET => '/images/1'), 200, 0);
headers_ok($t, 'GET list', req(GET => '/images'), 200, 0);
headers_ok($t, 'HEAD item', req(HEAD => '/images/1'), 200, 0);
headers_ok($t, 'GET hidden', req(GET => '/images/5'), 404, 0);
headers_ok($t, 'GET bad path', req(GET => '/images/abc'), 404, 0);
headers_ok($t, 'bad page', req(GET => '/images?page=x'), 404, 0);
headers_ok($t, '304', req(GET => '/images/1', "If-None-Match: $etag"),
           304, 0);
headers_ok($t, 'OPTIONS', req(OPTIONS => '/images/1'), 200, 0);
headers_ok($t, '405', req(DELETE => '/images/1'), 405, 0);
headers_ok($t, 'GET as alice', req(GET => '/images/1', $alice), 200, 1);
headers_ok($t, 'list as alice', req(GET => '/images', $alice), 200, 1);
headers_ok($t, 'GET with a token', req(GET => '/images/1', $token), 200, 1);
headers_ok($t, '304 with a token',
           req(GET => '/images/1', $token, "If-None-Match: $etag"), 304, 1);
headers_ok($t, 'bad token', req(GET => '/images/1',
           'Authorization: Token nope'), 401, 1);
headers_ok($t, 'malformed token', req(GET => '/images/1',
           'Authorization: Token'), 401, 1);
headers_ok($t, 'refused Basic login (mod_auth_basic)',
           req(GET => '/images/1', $nobody), 401, 1);
headers_ok($t, 'PATCH anonymous',
           req(PATCH => '/images/1', $json, 'Content-Length: 2') . '{}',
           401, 0);
headers_ok($t, 'PATCH by another user',
           req(PATCH => '/images/1', $bob, $json, 'Content-Length: 2') . '{}',
           403, 1);
headers_ok($t, 'PATCH by the creator',
           req(PATCH => '/images/1', $alice, $json, 'Content-Length: 2')
           . '{}', 200, 1);
headers_ok($t, 'PATCH too large', req(PATCH => '/images/1', $alice, $json,
           'Content-Length: 100000000'), 413, 1);
headers_ok($t, 'PATCH hidden', req(PATCH => '/images/999', $bob, $json,
           'Content-Length: 2') . '{}', 404, 1);

# Without the shipped configuration's <If> on Authorization (which made
# httpd add Vary as a side effect): the module says it itself.
my $bare = ImagesTest->new(location => <<'LOC');
DBDriver pgsql
<Location /images>
    SetHandler images
</Location>
LOC
headers_ok($bare, 'bare: GET item', req(GET => '/images/1'), 200, 0);
headers_ok($bare, 'bare: GET list', req(GET => '/images'), 200, 0);
headers_ok($bare, 'bare: 404', req(GET => '/images/5'), 404, 0);
headers_ok($bare, 'bare: token', req(GET => '/images/1', $token), 200, 1);

# mod_headers lines of the site's own configuration that set or unset
# these headers: the contract's headers still go out ("whatever the
# server's other configuration").
for my $lines (
    [ 'Header set Vary "Accept"', 'Header set Cache-Control "max-age=60"' ],
    [ 'Header always set Vary "Accept"',
      'Header always set Cache-Control "public, max-age=60"',
      'Header always unset X-Content-Type-Options' ],
    [ 'Header unset Vary', 'Header unset Cache-Control',
      'Header unset X-Content-Type-Options' ],
    # (hardening snippets say it without "always": headers_out, not
    # err_headers_out where the module puts it)
    [ 'Header set X-Content-Type-Options nosniff' ]) {
    my $cfg = ImagesTest->new(conf_in_location =>
        join('', map { "    $_\n" } @$lines));
    my $what = join '; ', @$lines;
    headers_ok($cfg, "$what: GET item", req(GET => '/images/1'), 200, 0);
    headers_ok($cfg, "$what: 304",
               req(GET => '/images/1', "If-None-Match: $etag"), 304, 0);
    headers_ok($cfg, "$what: 404", req(GET => '/images/5'), 404, 0);
    headers_ok($cfg, "$what: as alice", req(GET => '/images', $alice),
               200, 1);
    headers_ok($cfg, "$what: bad token", req(GET => '/images/1',
               'Authorization: Token nope'), 401, 1);
    headers_ok($cfg, "$what: refused Basic login",
               req(GET => '/images/1', $nobody), 401, 1);
}

# A shared cache in front of the endpoint (mod_cache, not as a quick
# handler, so that it caches what the module answers a known caller) with
# the site's "public": the answer to alice must not be stored and served to
# the next anonymous caller.  private is in place before mod_cache decides.
my $anon_count = $t->get('/images')->{json}{count};
my $cached = ImagesTest->new(
    debian_mods => ['cache', 'cache_socache', 'socache_shmcb'],
    conf => "CacheSocache shmcb\nCacheEnable socache /images\n"
            . "CacheQuickHandler off\nCacheHeader on\nLogLevel cache:debug\n",
    conf_in_location =>
        "    Header always set Cache-Control \"public, max-age=60\"\n"
        . "    Header always set Vary \"Accept\"\n");
my $as_alice = $cached->get('/images',
                            token => 'alice-token-0123456789abcdef');
isnt $as_alice->{json}{count}, $anon_count,
    'with mod_cache: alice sees more than an anonymous caller';
$as_alice = $cached->get('/images', token => 'alice-token-0123456789abcdef');
unlike $cached->error_log, qr/AH00769/,
    'mod_cache stored neither of alice\'s answers';
my $anon = $cached->get('/images');
is $anon->{json}{count}, $anon_count,
    'with mod_cache: the next anonymous caller gets the anonymous list';
isnt $anon->{headers}{'x-cache'} // '', 'HIT from localhost',
    'and not from the cache';

# Vary: Authorization next to other tokens: said once, others kept.
my $cors = ImagesTest->new(conf_in_location =>
    "    ImagesCORSOrigins https://app.example.org\n"
    . "    Header merge Vary Accept-Encoding");
my ($st, $h) = raw_headers($cors, req(GET => '/images/1',
                                      'Origin: https://app.example.org'));
my @tokens = map { split /\s*,\s*/ } map { $_->[1] }
             grep { $_->[0] eq 'vary' } @$h;
is scalar(grep { /^authorization$/i } @tokens), 1, 'with CORS: once';
ok scalar(grep { /^origin$/i } @tokens), 'Vary: Origin kept';

# Not outside the endpoint.
($st, $h) = raw_headers($t, req(GET => '/elsewhere'));
ok !grep({ $_->[0] eq 'x-content-type-options' } @$h),
    'another path is not the endpoint';

done_testing;
