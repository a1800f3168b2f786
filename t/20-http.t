# HTTP around the resource: methods, HEAD, OPTIONS, 405, ETag and 304,
# paths below the endpoint.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use ImagesTest;

my $t = ImagesTest->new;

# ---- HEAD ----------------------------------------------------------------
my $get = $t->get('/images/1');
my $head = $t->request(HEAD => '/images/1');
is $head->{status}, 200, 'HEAD 200';
is $head->{content}, '', 'HEAD has no body';
is $head->{headers}{etag}, $get->{headers}{etag}, 'HEAD has the same ETag';
is $head->{headers}{'content-length'}, length($get->{content}),
    'HEAD has the GET length';
is $t->request(HEAD => '/images/5')->{status}, 404, 'HEAD of hidden: 404';
is $t->request(HEAD => '/images')->{status}, 200, 'HEAD of the collection';

# ---- Range is ignored: the whole document, as DRF answers -----------------
for my $range ('bytes=0-5', 'bytes=0-1,3-4', 'bytes=99999-', 'bytes=-3') {
    for my $path ('/images/1', '/images?page_size=1') {
        my $r = $t->get($path, headers => { Range => $range });
        is $r->{status}, 200, "Range: $range on $path: 200";
        is $r->{headers}{'content-type'}, 'application/json',
            "Range: $range on $path: JSON";
        ok !exists $r->{headers}{'content-range'},
            "Range: $range on $path: no Content-Range";
        is $r->{content}, $t->get($path)->{content},
            "Range: $range on $path: the whole document";
    }
}

# ---- OPTIONS, 405 --------------------------------------------------------
for my $path ('/images/1', '/images') {
    my $r = $t->request(OPTIONS => $path);
    is $r->{status}, 200, "OPTIONS $path";
    like $r->{headers}{allow}, qr/\bGET\b/, 'Allow has GET';
    like $r->{headers}{allow}, qr/\bOPTIONS\b/, 'Allow has OPTIONS';
    is $r->{content}, '', 'OPTIONS has an empty body';
}
like $t->request(OPTIONS => '/images/1')->{headers}{allow}, qr/\bPATCH\b/,
    'an image allows PATCH';
unlike $t->request(OPTIONS => '/images')->{headers}{allow}, qr/\bPATCH\b/,
    'the collection does not';

for my $c (['DELETE', '/images/1'], ['PUT', '/images/1'], ['POST', '/images'],
           ['DELETE', '/images'], ['PATCH', '/images'],
           ['FOO', '/images/1']) {
    my ($m, $path) = @$c;
    my $r = $t->request($m => $path);
    is $r->{status}, 405, "$m $path: 405";
    ok $r->{headers}{allow}, 'with Allow';
    is_deeply $r->{json}, { detail => "Method \"$m\" not allowed." },
        '405 detail';
    is $r->{headers}{'content-type'}, 'application/json', 'JSON';
}
is $t->get('/images/1')->{status}, 200, 'nothing deleted';

# a token that names no current key is a 401 whatever the method (DRF
# authenticates before it dispatches); a good one changes nothing
for my $c (['OPTIONS', '/images/1'], ['OPTIONS', '/images'],
           ['DELETE', '/images/1'], ['PATCH', '/images'], ['FOO', '/images']) {
    my ($m, $path) = @$c;
    for my $tok ('nope', 'carol-expired-token') {
        my $r = $t->request($m => $path, token => $tok);
        is $r->{status}, 401, "$m $path with token $tok: 401";
        is_deeply $r->{json}, { detail => 'Invalid token.' }, 'its detail';
        ok $r->{headers}{'www-authenticate'}, 'with WWW-Authenticate';
    }
    my $r = $t->request($m => $path, token => 'alice-token-0123456789abcdef');
    is $r->{status}, $m eq 'OPTIONS' ? 200 : 405,
        "$m $path with a good token: as without";
}

# TRACE is the module's too: a 405, not httpd's echo of the request (and of
# its Authorization header)
for my $path ('/images/1', '/images') {
    my $r = $t->request(TRACE => $path, token => 'alice-token-0123456789abcdef');
    is $r->{status}, 405, "TRACE $path: 405";
    is_deeply $r->{json}, { detail => 'Method "TRACE" not allowed.' },
        'its detail';
    is $r->{headers}{'content-type'}, 'application/json', 'JSON';
    unlike $r->{content}, qr/alice-token/, 'the token is not echoed';
}

# ---- paths ---------------------------------------------------------------
is $t->get('/images/')->{json}{count}, $t->get('/images')->{json}{count},
    '/images/ is the collection';
for my $path ('/images/1/x', '/images/abc', '/images/1/versions',
              '/images/1;x') {
    my $r = $t->get($path);
    is $r->{status}, 404, "$path: 404";
    is_deeply $r->{json}, { detail => 'Not found.' }, "$path: JSON detail";
}
# a path longer than a file name may be (httpd's walk of the filesystem
# answered 403 "File name too long" for it)
my $long = $t->get('/images/' . ('0' x 5000) . '1');
is $long->{status}, 200, 'an id with 5,000 leading zeros: 200';
is $long->{json}{id}, 1, 'image 1';
my $junk = $t->get('/images/' . ('a' x 5000));
is $junk->{status}, 404, '5,000 letters: 404';
is_deeply $junk->{json}, { detail => 'Not found.' }, 'with its JSON detail';

# ---- ETag, If-None-Match --------------------------------------------------
my $etag = $get->{headers}{etag};
like $etag, qr/^"[0-9a-f]+"$/, 'strong ETag';
my $r = $t->get('/images/1', headers => { 'If-None-Match' => $etag });
is $r->{status}, 304, 'If-None-Match with the ETag: 304';
is $r->{content}, '', '304 has no body';
is $r->{headers}{etag}, $etag, '304 repeats the ETag';
is $t->get('/images/1', headers => { 'If-None-Match' => "W/$etag" })->{status},
    304, 'weak comparison for If-None-Match';
is $t->get('/images/1', headers => { 'If-None-Match' => "\"x\", $etag" })->{status},
    304, 'ETag in a list';
is $t->get('/images/1', headers => { 'If-None-Match' => '*' })->{status},
    304, 'star';
is $t->get('/images/1', headers => { 'If-None-Match' => '"other"' })->{status},
    200, 'another ETag: 200';
isnt $t->get('/images/2')->{headers}{etag}, $etag,
    'another image has another ETag';
$t->sql("UPDATE images SET description = 'changed' WHERE id = 1");
$r = $t->get('/images/1', headers => { 'If-None-Match' => $etag });
is $r->{status}, 200, 'changed image: 200 again';
isnt $r->{headers}{etag}, $etag, 'with a new ETag';
$t->sql("UPDATE tags SET description = 'Ubuntu, changed' WHERE name = 'ubuntu'");
is $t->get('/images/1', headers => { 'If-None-Match' => $r->{headers}{etag} })->{status},
    200, 'a tag change changes the ETag too';
my $list = $t->get('/images');
ok $list->{headers}{etag}, 'a page has an ETag';
is $t->get('/images', headers => { 'If-None-Match' => $list->{headers}{etag} })->{status},
    304, 'and honours If-None-Match';

# ---- bodies on GET are read and ignored ----------------------------------
$r = $t->request(GET => '/images/1', body => 'x' x 1000,
                 headers => { 'Content-Type' => 'text/plain' });
is $r->{status}, 200, 'GET with a body';

# ---- the endpoint is wherever <Location> puts it ---------------------------
# Only SetHandler in the block, an <If> inside it, and module defaults in
# <Location />: the handler still knows its base path.
my $t2 = ImagesTest->new(conf => <<'C');
<Location />
    ImagesPageSize 2
</Location>
<Location /api/v1/images>
    SetHandler images
    <If "true">
        Require all granted
    </If>
</Location>
C
is $t2->get('/api/v1/images/1')->{json}{id}, 1, 'item under /api/v1/images';
$r = $t2->get('/api/v1/images?search=ubuntu');
is $r->{status}, 200, 'collection under /api/v1/images';
like $r->{json}{next}, qr{^http://127\.0\.0\.1:\d+/api/v1/images\?page=2&search=ubuntu$},
    'links under /api/v1/images';
is $t2->get('/api/v1/images/')->{status}, 200, 'with a trailing slash';
is $t2->get('/api/v1/images/1/x')->{status}, 404, 'deeper path: 404';
is $t2->get('/api/v1/imagesX')->{status}, 404, 'a longer name: 404';
is $t2->get('/images/1')->{status}, 200, 'the shipped /images still works';

done_testing;
