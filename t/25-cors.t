# ImagesCORSOrigins: listed origins may read and PATCH from a browser;
# others get no CORS header at all; "*" never goes with credentials.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use ImagesTest;

my $t = ImagesTest->new(conf_in_location =>
    '    ImagesCORSOrigins https://app.example.org http://127.0.0.1:9999');
my $ok = 'https://app.example.org';

my $r = $t->get('/images/1', headers => { Origin => $ok });
is $r->{status}, 200, 'GET from a listed origin';
is $r->{headers}{'access-control-allow-origin'}, $ok, 'origin echoed';
is $r->{headers}{'access-control-allow-credentials'}, 'true',
    'credentials allowed for a listed origin';
like $r->{headers}{'access-control-expose-headers'}, qr/\bETag\b/,
    'ETag exposed';
like $r->{headers}{vary}, qr/\bOrigin\b/, 'Vary: Origin';

$r = $t->request(OPTIONS => '/images/1', headers => {
    Origin => $ok, 'Access-Control-Request-Method' => 'PATCH',
    'Access-Control-Request-Headers' => 'authorization, content-type, if-match' });
is $r->{status}, 200, 'preflight for PATCH: 200';
like $r->{headers}{'access-control-allow-methods'}, qr/\bPATCH\b/,
    'PATCH allowed';
for my $h (qw(Authorization Content-Type If-Match)) {
    like $r->{headers}{'access-control-allow-headers'}, qr/\b$h\b/,
        "$h allowed";
}
is $r->{headers}{'access-control-allow-origin'}, $ok, 'preflight origin';
is $r->{content}, '', 'preflight has no body';
$r = $t->request(OPTIONS => '/images/1', headers => {
    Origin => $ok, 'Access-Control-Request-Method' => 'PATCH',
    Authorization => 'Token bogus' });
is $r->{status}, 200, 'a preflight is answered before any credentials';

$r = $t->request(PATCH => '/images/1', headers => { Origin => $ok },
                 json => { name => 'x' });
is $r->{status}, 401, 'cross-origin PATCH without credentials: 401';
is $r->{headers}{'access-control-allow-origin'}, $ok,
    'error answers carry CORS headers too';
$r = $t->get('/images/1', headers => { Origin => $ok },
             user => 'alice', password => 'bad');
is $r->{status}, 401, 'failed Basic login';
is $r->{headers}{'access-control-allow-origin'}, $ok,
    'httpd\'s own 401 (the error filter) carries them too';
$r = $t->request(PATCH => '/images/12', headers => { Origin => $ok },
                 token => 'alice-token-0123456789abcdef',
                 json => { name => 'Docker Workshop' });
is $r->{status}, 200, 'cross-origin PATCH with a token';
is $r->{headers}{'access-control-allow-origin'}, $ok, 'with CORS headers';

for my $bad ('https://evil.example', 'https://app.example.org.evil.example',
             'null', 'http://127.0.0.1:9998') {
    $r = $t->get('/images/1', headers => { Origin => $bad });
    is $r->{status}, 200, "GET from $bad still answers";
    ok !grep(/^access-control-/, keys %{ $r->{headers} }),
        "$bad: no CORS header at all";
    $r = $t->request(OPTIONS => '/images/1', headers => {
        Origin => $bad, 'Access-Control-Request-Method' => 'PATCH' });
    ok !grep(/^access-control-/, keys %{ $r->{headers} }),
        "$bad: preflight gets no CORS header";
}
ok !grep(/^access-control-/, keys %{ $t->get('/images/1')->{headers} }),
    'no Origin: no CORS header';

my $any = ImagesTest->new(conf_in_location => '    ImagesCORSOrigins *');
$r = $any->get('/images', headers => { Origin => 'https://anyone.example' });
is $r->{headers}{'access-control-allow-origin'}, '*', '"*": any origin';
ok !exists $r->{headers}{'access-control-allow-credentials'},
    '"*" never with credentials';

my $none = ImagesTest->new;
$r = $none->get('/images/1', headers => { Origin => $ok });
ok !grep(/^access-control-/, keys %{ $r->{headers} }),
    'without ImagesCORSOrigins: no CORS headers';

# configuration mistakes are refused when httpd starts, with the reason
for my $c (['ImagesCORSOrigins * https://a.example', qr/'\*' or None alone/],
           ['ImagesCORSOrigins https://a.example *', qr/'\*' or None alone/],
           ['ImagesCORSOrigins None https://a.example',
            qr/'\*' or None alone/],
           ['ImagesCORSOrigins None *', qr/'\*' or None alone/],
           ['ImagesCORSOrigins http://', qr/takes origins such as/],
           ['ImagesCORSOrigins https://a.example/path', qr/takes origins/],
           ['ImagesBaseURL https://host/api/images?x=1',
            qr/no query or fragment/],
           ['ImagesBaseURL https://host/api#top', qr/no query or fragment/],
           ['ImagesBaseURL http://', qr/with a host/]) {
    my ($line, $why) = @$c;
    my $out = eval { ImagesTest->new(conf => "$line\n", empty => 1); 1 }
              ? '' : $@;
    like $out, $why, "refused: $line";
}
done_testing;
