# GET / HEAD /images/{id}: forms of id, visibility, representation, tokens.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use ImagesTest;


# dbd first, then a password file for a user with no users row (zed)
my $t = ImagesTest->new(no_httpd => 1);
my $htpasswd = $t->password_file(zed => 'zed-pw');
$t->{conf_in_location} = <<"C";
    AuthBasicProvider file dbd
    AuthUserFile $htpasswd
C
$t->start_httpd;

my %alice = (user => 'alice', password => 'alice-pw');
my %bob = (user => 'bob', password => 'bob-pw');
my %carol = (user => 'carol', password => 'carol-pw');

# ---- representation ------------------------------------------------------
my $r = $t->get('/images/1');
is $r->{status}, 200, 'image 1 is public';
is $r->{headers}{'content-type'}, 'application/json',
    'application/json, no charset parameter';
like $r->{content}, qr/^\{"id":1,"uuid":"f268aebc-d956-11e4-b9d6-1681e6b88ec1","name":"Ubuntu 14.04 LTS","created_by":\{"id":1,"username":"alice"\},"description":"[^"]*","end_date":null,"is_public":true,"icon":null,"start_date":"2015-03-30T18:30:45.501948Z","tags":\[/,
    'compact body, keys in contract order';
my @keys = ($r->{content} =~ /^\{"id".*?"tags":\[(.*)\],"versions"/);
my $img = $r->{json};
is_deeply [ map { $_->{name} } @{ $img->{tags} } ], [qw(docker ubuntu)],
    'tags ordered by name';
is_deeply [ sort keys %{ $img->{tags}[0] } ], [qw(description id name)],
    'tag has id, name, description';
like $r->{content}, qr/"tags":\[\{"id":3,"name":"docker","description":"[^"]*"\}/,
    'tag keys in order';
is_deeply [ map { $_->{name} } @{ $img->{versions} } ], ['1.0', '1.1'],
    'ended version left out';
like $r->{content}, qr/"versions":\[\{"id":1,"name":"1.0","start_date":"2015-03-30T18:30:45.501948Z"\}/,
    'version keys in order, timestamp with six digits';
like $img->{versions}[1]{start_date}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/,
    'timestamp format';
ok $r->{headers}{etag}, 'ETag on an image';

$r = $t->get('/images/3');
is_deeply [ map { $_->{id} } @{ $r->{json}{versions} } ], [5, 6],
    'versions with the same start_date ordered by id';
$r = $t->get('/images/4');
is_deeply [ map { $_->{name} } @{ $r->{json}{versions} } ], ['7.5', '8.0-rc1'],
    'version ending in the future is listed';
$r = $t->get('/images/12');
is $r->{json}{icon}, '/images/icon.png', 'icon';
$r = $t->get('/images/9');
is $r->{status}, 200, 'image ending in the future is visible';
is $r->{json}{end_date}, '2099-12-31T00:00:00.000000Z', 'end_date rendered';
$r = $t->get('/images/11');
is $r->{json}{name}, "\x{dc}n\x{ef}code fa\x{e7}ade", 'UTF-8 name';

# ---- forms of {id} -------------------------------------------------------
is $t->get('/images/0001')->{json}{id}, 1, 'leading zeros';
is $t->get('/images/f268aebc-d956-11e4-b9d6-1681e6b88ec1')->{json}{id}, 1,
    'uuid';
is $t->get('/images/F268AEBC-D956-11E4-B9D6-1681E6B88EC1')->{json}{id}, 1,
    'uuid in upper case';
for my $bad ('abc', '-1', '+1', '1.0', '1e3', '9223372036854775808',
             '99999999999999999999999', 'f268aebc-d956-11e4-b9d6-1681e6b88ec',
             'f268aebcd95611e4b9d61681e6b88ec1', '1%20', '1/x',
             '1/', "1'--", '999999') {
    my $res = $t->get("/images/$bad");
    is $res->{status}, 404, "/images/$bad is 404";
    is_deeply $res->{json}, { detail => 'Not found.' }, "/images/$bad body";
}
# httpd refuses a NUL in the path before any module runs (docs/api.md)
is $t->get('/images/%00')->{status}, 404, '/images/%00 is 404';
is $t->get('/images/9223372036854775807')->{status}, 404,
    'largest bigint: not found, no error';
is $t->get('/images/00000000-0000-0000-0000-000000000000')->{status}, 404,
    'unknown uuid';

# ---- visibility ----------------------------------------------------------
my @cases = (
    # image, who, status
    [5, {}, 404, 'private image hidden from anonymous'],
    [5, \%alice, 200, 'creator sees her private image'],
    [5, \%bob, 200, 'member sees a shared image'],
    [5, \%carol, 404, 'stranger does not'],
    [6, \%carol, 404, 'expired membership shows nothing'],
    [6, \%alice, 200, 'creator sees image 6'],
    [7, \%bob, 200, 'bob sees his own private image'],
    [7, \%alice, 404, 'alice does not see it'],
    [8, {}, 404, 'ended image hidden from anonymous'],
    [8, \%alice, 404, 'ended image hidden from its creator'],
    [5, { token => 'bob-token-0123456789abcdef' }, 200,
        'member by token'],
    [5, { user => 'zed', password => 'zed-pw' }, 404,
        'r->user with no users row reads as anonymous'],
    [1, { user => 'zed', password => 'zed-pw' }, 200,
        'r->user with no users row sees public images'],
);
for my $c (@cases) {
    my ($id, $who, $status, $name) = @$c;
    my $res = $t->get("/images/$id", %$who);
    is $res->{status}, $status, $name;
}
$r = $t->get('/images/5', %alice);
is $r->{json}{is_public}, JSON::PP::false, 'is_public false';
is_deeply $t->get('/images/5', %carol)->{json}, { detail => 'Not found.' },
    'hidden image: 404 body, never 403';

# ---- tokens --------------------------------------------------------------
for my $c (['Token nope', 'Invalid token.'],
           ['Token carol-expired-token', 'Invalid token.'],
           ['Token', 'Invalid token header. No credentials provided.'],
           ['Token a b',
            'Invalid token header. Token string should not contain spaces.'],
          ) {
    my ($header, $detail) = @$c;
    for my $path ('/images/1', '/images') {
        my $res = $t->get($path, headers => { Authorization => $header });
        is $res->{status}, 401, "'$header' on $path: 401";
        is_deeply $res->{json}, { detail => $detail }, "'$header' detail";
        is $res->{headers}{'www-authenticate'}, 'Token',
            'WWW-Authenticate: Token';
    }
}
for my $path ('/images/1', '/images') {
    my $res = $t->raw("GET $path HTTP/1.0\r\nAuthorization: Token \xe9t\xe9"
                      . "\r\n\r\n");
    is $res->{status}, 401, "token with bytes no key has on $path: 401";
    is_deeply $res->{json}, { detail => 'Invalid token.' }, 'its detail';
}
is $t->get('/images/1', headers => { Authorization => 'token  alice-token-0123456789abcdef' })->{status},
    200, 'keyword is case-insensitive';
is $t->get('/images/5', headers => { Authorization => 'Bearer x' })->{status},
    404, 'another scheme: anonymous';
$r = $t->get('/images/1', user => 'alice', password => 'wrong');
is $r->{status}, 401, 'wrong Basic password: 401';
is_deeply $r->{json}, { detail => 'Invalid username/password.' },
    'JSON body (httpd raised it: the error filter)';
like $r->{headers}{'www-authenticate'}, qr/^Basic/, 'Basic challenge';
# Basic with no credentials is malformed, not anonymous (as DRF answers it)
for my $h ('Basic', 'basic ', 'Basic =') {
    $r = $t->get('/images/1', headers => { Authorization => $h });
    is $r->{status}, 401, "'$h': 401";
    ok $r->{json} && $r->{json}{detail}, "'$h': a JSON detail";
}
is $t->get('/images/1', headers => { Authorization => 'Basically' })
    ->{status}, 200, 'another scheme that starts like it: anonymous';

done_testing;
