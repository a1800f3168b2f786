# httpd's own errors inside the endpoint are the API's JSON with no
# ErrorDocument lines: a refused Basic login, a body over LimitRequestBody,
# a malformed chunked body, mod_allowmethods' 405, a Require's 403.  The
# same on a server with Debian's stock modules and mod_wsgi serving an
# application elsewhere (there, ErrorDocument redirects failed and httpd
# sent its HTML page).  An ErrorDocument line of an earlier configuration
# still gets JSON; errors outside the endpoint stay httpd's own.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use ImagesTest;

my $extra = <<'CONF';
<Location /images/7>
    # (an <If>: the endpoint's own <If>/<Else> are merged after a plain
    # Require here)
    <If "true">
        Require all denied
    </If>
</Location>
<Location /images/8>
    AllowMethods GET HEAD
</Location>
<Location /images/9>
    LimitRequestBody 10
</Location>
<Location /images/3>
    ErrorDocument 401 /images/error
</Location>
CONF

my $app = <<'PY';
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'hello from wsgi\n']
PY

sub server {
    my (%opt) = @_;
    my $t = ImagesTest->new(no_httpd => 1, conf => $extra, %opt);
    if ($opt{wsgi}) {
        open my $fh, '>', "$t->{dir}/app.wsgi" or die $!;
        print $fh $app;
        close $fh;
        chmod 0644, "$t->{dir}/app.wsgi";
        $t->{conf} .= <<"CONF";
WSGIScriptAlias /app $t->{dir}/app.wsgi
<Directory $t->{dir}>
    Require all granted
</Directory>
CONF
    }
    return $t->start_httpd;
}

# status, JSON detail and the headers of a JSON error
sub json_error {
    my ($r, $status, $detail, $name) = @_;
    is $r->{status}, $status, "$name: $status";
    is $r->{headers}{'content-type'}, 'application/json',
        "$name: application/json";
    is_deeply $r->{json}, { detail => $detail }, "$name: JSON detail"
        or diag $r->{content};
    is $r->{headers}{'content-length'}, length $r->{content},
        "$name: Content-Length";
    is $r->{headers}{'x-content-type-options'}, 'nosniff',
        "$name: the endpoint's headers";
}

sub battery {
    my ($t, $what) = @_;
    my $r = $t->get('/images/1', user => 'alice', password => 'wrong');
    json_error($r, 401, 'Invalid username/password.',
               "$what: refused Basic login");
    is $r->{headers}{'www-authenticate'}, 'Basic realm="Images"',
        "$what: with mod_auth_basic's challenge";
    like $r->{headers}{vary} // '', qr/\bAuthorization\b/,
        "$what: Vary: Authorization";

    $r = $t->request(HEAD => '/images/1', user => 'alice',
                     password => 'wrong');
    is $r->{status}, 401, "$what: HEAD, refused login: 401";
    is $r->{headers}{'content-type'}, 'application/json',
        "$what: HEAD: application/json";
    is $r->{content}, '', "$what: HEAD: no body";

    # an unknown user over the raw socket: the same, and nothing but JSON
    my $raw = $t->raw("GET /images/2 HTTP/1.1\r\nHost: x\r\n"
                      . "Authorization: Basic bm9ib2R5Om5vcGU=\r\n"
                      . "Connection: close\r\n\r\n");
    json_error($raw, 401, 'Invalid username/password.',
               "$what: unknown Basic user");

    $r = $t->get('/images/7');
    json_error($r, 403, 'You do not have permission to perform this action.',
               "$what: Require all denied");

    $r = $t->request(PATCH => '/images/8', json => { name => 'x' },
                     token => 'alice-token-0123456789abcdef');
    json_error($r, 405, 'Method "PATCH" not allowed.',
               "$what: mod_allowmethods");

    $r = $t->request(GET => '/images/9', body => 'x' x 100);
    json_error($r, 413, 'Request body too large.',
               "$what: body over LimitRequestBody");

    $raw = $t->raw("GET /images/1 HTTP/1.1\r\nHost: x\r\n"
                   . "Transfer-Encoding: chunked\r\nConnection: close\r\n"
                   . "\r\nzz\r\nnot a chunk\r\n0\r\n\r\n");
    json_error($raw, 400, 'Bad request.', "$what: malformed chunked body");

    # paths httpd refuses to decode before the <Location> sections apply
    # (CONTRACT section 7: every error body is JSON)
    for (['/images/%2F1', 404, 'Not found.', 'an encoded slash'],
         ['/images/1%2Fx', 404, 'Not found.', 'an encoded slash after an id'],
         ['/images/%00', 404, 'Not found.', 'an encoded NUL'],
         ['/images/%zz', 404, 'Not found.', 'a bad percent-escape'],
         ['/images/%', 404, 'Not found.', 'a lone percent sign'],
         ['/images/1%g1', 404, 'Not found.', 'a bad escape after an id'],
         ['/images/%zz?page=2', 404, 'Not found.',
          'a bad escape, with a query'],
         ['/images?page=2&x=%zz', 404, 'Invalid page.',
          'a bad escape in the query']) {
        my ($path, $status, $detail, $name) = @$_;
        $raw = $t->raw("GET $path HTTP/1.1\r\nHost: x\r\n"
                       . "Connection: close\r\n\r\n");
        json_error($raw, $status, $detail, "$what: $name");
    }
    $raw = $t->raw("GET /images/1 HTTP/1.1\r\nHost: x\r\nNo colon\r\n"
                   . "Connection: close\r\n\r\n");
    json_error($raw, 400, 'Bad request.', "$what: a malformed header");
    $raw = $t->raw("GET /elsewhere/%zz HTTP/1.1\r\nHost: x\r\n"
                   . "Connection: close\r\n\r\n");
    is $raw->{status}, 400, "$what: a bad escape elsewhere: 400";
    like $raw->{headers}{'content-type'}, qr{^text/html},
        "$what: a bad escape elsewhere: httpd's HTML page";

    # the ErrorDocument line of an earlier release: still JSON
    $r = $t->get('/images/3', user => 'alice', password => 'wrong');
    json_error($r, 401, 'Invalid username/password.',
               "$what: ErrorDocument 401 /images/error");
    $r = $t->get('/images/error');
    json_error($r, 404, 'Not found.', "$what: /images/error itself");

    # outside the endpoint httpd answers as it always does
    $r = $t->get('/no-such-file');
    is $r->{status}, 404, "$what: elsewhere: 404";
    like $r->{headers}{'content-type'}, qr{^text/html},
        "$what: elsewhere: httpd's HTML page";

    # and what works, works
    $r = $t->get('/images/5', user => 'bob', password => 'bob-pw');
    is $r->{status}, 200, "$what: the right password: 200";
    is $r->{json}{id}, 5, "$what: the image";
}

battery(server(debian_mods => ['allowmethods']), 'plain');

# (never under scripts/test-valgrind's wrapper: Python's interpreter
# shutdown in mod_wsgi does not end under valgrind; the plain server above
# runs the module's same paths under it)
my $t = server(debian_mods => [@ImagesTest::DEBIAN_DEFAULT_MODS,
                                'allowmethods', 'wsgi'], wsgi => 1,
               wrapper => 0);
my $r = $t->get('/app');
is $r->{status}, 200, 'mod_wsgi is loaded: the WSGI application answers';
is $r->{content}, "hello from wsgi\n", 'with its text';
battery($t, 'stock modules and mod_wsgi');

done_testing;
