# PATCH /images/{id}: creator-only, strict bodies, one transaction,
# If-Match, and hostile bodies that change nothing.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use ImagesTest;
use MIME::Base64 ();
use POSIX ();


my $t = ImagesTest->new(no_httpd => 1);
my $htpasswd = $t->password_file(zed => 'zed-pw');
$t->{conf_in_location} = <<"C";
    AuthBasicProvider file dbd
    AuthUserFile $htpasswd
    ImagesBodyLimit 16384
C
$t->start_httpd;
my %alice = (user => 'alice', password => 'alice-pw');
my %alice_token = (token => 'alice-token-0123456789abcdef');
my %bob = (user => 'bob', password => 'bob-pw');
my %carol = (user => 'carol', password => 'carol-pw');
my $JSON = JSON::PP->new->canonical;

# The image's row, tags and versions as the database has them.
sub state_of {
    my ($id) = @_;
    return $JSON->encode([
        $t->sql("SELECT name, description, is_public, end_date, created_by,"
                . " icon, start_date, uuid FROM images WHERE id = $id"),
        $t->sql("SELECT tag_id FROM image_tags WHERE image_id = $id"
                . " ORDER BY tag_id"),
        $t->sql("SELECT count(*) FROM image_versions WHERE image_id = $id"),
    ]);
}
sub patch { my ($id, %o) = @_; $t->request(PATCH => "/images/$id", %o) }

# ---- who may -------------------------------------------------------------
my $before = state_of(1);
my $r = patch(1, json => { name => 'x' });
is $r->{status}, 401, 'anonymous: 401';
is_deeply $r->{json},
    { detail => 'Authentication credentials were not provided.' },
    'anonymous detail';
like $r->{headers}{'www-authenticate'}, qr/^Basic realm="Images"/,
    'WWW-Authenticate names the configured scheme';
$r = patch(1, %bob, json => { name => 'x' });
is $r->{status}, 403, 'non-creator, image visible: 403';
is_deeply $r->{json},
    { detail => 'You do not have permission to perform this action.' },
    '403 detail';
is patch(5, %bob, json => { name => 'x' })->{status}, 403,
    'member of a shared image may read, not write';
is patch(5, %carol, json => { name => 'x' })->{status}, 404,
    'non-creator, image hidden: 404';
is patch(7, %alice, json => { name => 'x' })->{status}, 404,
    'another user\'s private image: 404';
is patch(8, %alice, json => { name => 'x' })->{status}, 404,
    'ended image, even for its creator: 404';
is patch(999, %alice, json => { name => 'x' })->{status}, 404,
    'unknown image: 404';
is patch(1, user => 'zed', password => 'zed-pw', json => { name => 'x' })->{status},
    403, 'r->user with no users row: 403 on a public image';
is patch(5, user => 'zed', password => 'zed-pw', json => { name => 'x' })->{status},
    404, 'r->user with no users row: 404 on a private one';
$r = patch(1, token => 'carol-expired-token', json => { name => 'x' });
is $r->{status}, 401, 'expired token: 401';
is_deeply $r->{json}, { detail => 'Invalid token.' }, 'expired token detail';
is patch(1, headers => { Authorization => 'Token' }, json => { name => 'x' })->{status},
    401, 'malformed token header: 401';
is patch(1, user => 'alice', password => 'nope', json => { name => 'x' })->{status},
    401, 'wrong password: 401';
is state_of(1), $before, 'none of that changed image 1';

# ---- a successful edit ---------------------------------------------------
my $etag0 = $t->get('/images/1')->{headers}{etag};
$r = patch(1, %alice, json => { name => '  Renamed image ',
                                description => 'New description',
                                tags => [2, { id => 4 }] });
is $r->{status}, 200, 'creator by Basic: 200';
is $r->{json}{name}, 'Renamed image', 'name saved, surrounding space trimmed';
is $r->{json}{description}, 'New description', 'description saved';
is_deeply [ map { $_->{name} } @{ $r->{json}{tags} } ], [qw(centos gpu)],
    'tags replaced (ids and {"id": n}), ordered by name';
like $r->{content}, qr/^\{"id":1,"uuid":/, 'full representation';
my $get = $t->get('/images/1');
is $get->{content}, $r->{content}, 'GET shows the same representation';
is $r->{headers}{etag}, $get->{headers}{etag}, 'ETag of the new state';
isnt $r->{headers}{etag}, $etag0, 'which differs from the old one';
is $t->get('/images?search=gpu')->{json}{results}[-1]{id} // 0, 1,
    'search sees the new tags';
is patch(1, %alice_token, json => { tags => [] })->{json}{tags}, undef,
    'no key "tags" missing' if 0;
$r = patch(1, %alice_token, json => { tags => [] });
is $r->{status}, 200, 'creator by token: 200';
is_deeply $r->{json}{tags}, [], 'empty list clears the tags';
$r = patch(1, %alice, json => {}, headers =>
           { 'Content-Type' => 'application/json; charset=utf-8' });
is $r->{status}, 200, 'empty object with a charset parameter: 200';
$r = patch(1, %alice, json => { id => 999, uuid => 'x', created_by => 5,
                                icon => 'x.png', start_date => 'x',
                                versions => [] });
is $r->{status}, 200, 'read-only keys are ignored';
is $r->{json}{id}, 1, 'id unchanged';
is $r->{json}{icon}, undef, 'icon unchanged';
is $r->{json}{name}, 'Renamed image', 'name untouched by an empty PATCH';
$r = patch(1, %alice, json => { name => "\x{e9}" x 256 });
is $r->{status}, 200, '256 characters (512 bytes) is fine';
$r = patch(1, %alice, json => { is_public => JSON::PP::false,
                                end_date => '2098-01-02T03:04:05.5+02:00' });
is $r->{json}{end_date}, '2098-01-02T01:04:05.500000Z',
    'end_date with an offset, stored and shown in UTC';
is $r->{json}{is_public}, JSON::PP::false, 'is_public saved';
is $t->get('/images/1')->{status}, 404, 'now private: anonymous 404';
is $t->get('/images/1', %alice)->{status}, 200, 'the creator still sees it';
$r = patch(1, %alice, json => { end_date => undef, is_public => JSON::PP::true });
is $r->{json}{end_date}, undef, 'end_date null clears it';

# ---- soft delete ---------------------------------------------------------
$r = patch(12, %alice, json => { end_date => '2001-01-01T00:00:00Z' });
is $r->{status}, 200, 'past end_date: 200';
is $r->{json}{end_date}, '2001-01-01T00:00:00.000000Z',
    'the response is the updated representation';
is $t->get('/images/12', %alice)->{status}, 404, 'then gone, for its creator too';
ok !grep({ $_->{id} == 12 } @{ $t->get('/images', %alice)->{json}{results} }),
    'and from the list';
is patch(12, %alice, json => { end_date => undef })->{status}, 404,
    'an ended image cannot be brought back through the API';

# ---- bodies and field errors ---------------------------------------------
$before = state_of(2);
my %bob_json = (%bob, headers => { 'Content-Type' => 'application/json' });
for my $c (
    [undef, 'text/plain', 415,
     { detail => 'Unsupported media type "text/plain" in request.' }],
    [undef, 'application/json garbage', 415,
     { detail => 'Unsupported media type "application/json garbage" in'
                 . ' request.' }],
    ['', 'application/json', 400, qr/^JSON parse error - /],
    ['{"name": "a"', 'application/json', 400, qr/^JSON parse error - /],
    ['{"name": "a", "name": "b"}', 'application/json', 400,
     qr/^JSON parse error - .*duplicate/],
    ["{\"name\": \"a\xff\"}", 'application/json', 400, qr/^JSON parse error/],
    ['{"name": "a\u0000b"}', 'application/json', 400,
     { name => ['Null characters are not allowed.'] }],
    ['{"description": "a\u0000b", "name": "' . ('n' x 256) . '\u0000"}',
     'application/json', 400,
     { name => ['Ensure this field has no more than 256 characters.',
                'Null characters are not allowed.'],
       description => ['Null characters are not allowed.'] }],
    ['{"tags": [99999999999999999999999]}', 'application/json', 400,
     qr/^JSON parse error/],
    ['{"tags": [1e400]}', 'application/json', 400, qr/^JSON parse error/],
    [('[' x 5000) . (']' x 5000), 'application/json', 400,
     qr/^JSON parse error/],
    ['[1, 2]', 'application/json', 400,
     { non_field_errors =>
       ['Invalid data. Expected a dictionary, but got list.'] }],
    ['"x"', 'application/json', 400,
     { non_field_errors =>
       ['Invalid data. Expected a dictionary, but got str.'] }],
) {
    my ($body, $type, $status, $want) = @$c;
    my %h = (Authorization => 'Token bob-token-0123456789abcdef');
    $h{'Content-Type'} = $type if defined $type;
    my $res = patch(2, headers => \%h,
                    body => defined $body ? $body : '{"name": "x"}');
    my $label = substr(defined $body ? $body : '(no body)', 0, 30);
    is $res->{status}, $status, "$label ($type): $status"
        for grep { defined } ($type // 'no type');
    if (ref $want eq 'Regexp') {
        like $res->{json}{detail} // '', $want, "$label: detail";
    }
    else {
        is_deeply $res->{json}, $want, "$label: body";
    }
}
for my $c (
    [{ name => 5 }, { name => ['Not a valid string.'] }],
    [{ name => '' }, { name => ['This field may not be blank.'] }],
    [{ name => '   ' }, { name => ['This field may not be blank.'] }],
    [{ name => undef }, { name => ['This field may not be null.'] }],
    [{ name => 'x' x 257 },
     { name => ['Ensure this field has no more than 256 characters.'] }],
    [{ description => [] }, { description => ['Not a valid string.'] }],
    [{ is_public => 'yes' }, { is_public => ['Must be a valid boolean.'] }],
    [{ is_public => 1 }, { is_public => ['Must be a valid boolean.'] }],
    [{ tags => '1' },
     { tags => ['Expected a list of items but got type "str".'] }],
    [{ tags => { id => 1 } },
     { tags => ['Expected a list of items but got type "dict".'] }],
    [{ tags => ['1'] },
     { tags => ['Incorrect type. Expected pk value, received str.'] }],
    [{ tags => [99] },
     { tags => ['Invalid pk "99" - object does not exist.'] }],
    [{ end_date => 'tomorrow' }, qr/^Datetime has wrong format/],
    [{ end_date => '2030-01-01T00:00:00' }, qr/^Datetime has wrong format/],
    [{ end_date => '2030-02-30T00:00:00Z' }, qr/^Datetime has wrong format/],
    [{ end_date => 5 }, qr/^Datetime has wrong format/],
    [{ end_date => '10000-01-01T00:00:00Z' }, qr/^Datetime has wrong format/],
    # well-formed, but the instant is outside years 1 to 9999 (CONTRACT 3,
    # finite dates): DRF's DateTimeField says so
    [{ end_date => '9999-12-31T23:59:59-01:00' },
     qr/^Datetime value out of range\.\z/],
    [{ end_date => '0001-01-01T00:00:00+00:01' },
     qr/^Datetime value out of range\.\z/],
    [{ owner => 'bob' }, { owner => ['This field is not allowed.'] }],
    [{ name => 'valid', is_public => 'nope' },
     { is_public => ['Must be a valid boolean.'] }],
    [{ name => 'valid', tags => [1, 98] },
     { tags => ['Invalid pk "98" - object does not exist.'] }],
    [{ name => '', is_public => 'x', tags => 'y' },
     { name => ['This field may not be blank.'],
       is_public => ['Must be a valid boolean.'],
       tags => ['Expected a list of items but got type "str".'] }],
    # DRF stops at the first item of tags that fails, in the body's order
    [{ tags => [98, 1, 99, 98] },
     { tags => ['Invalid pk "98" - object does not exist.'] }],
    [{ tags => [1, 'x', 98] },
     { tags => ['Incorrect type. Expected pk value, received str.'] }],
    [{ tags => [1, 98, 'x'] },
     { tags => ['Invalid pk "98" - object does not exist.'] }],
    # and the database's answer joins the other fields' errors
    [{ name => '', tags => [98] },
     { name => ['This field may not be blank.'],
       tags => ['Invalid pk "98" - object does not exist.'] }],
) {
    my ($body, $want) = @$c;
    my $res = patch(2, %bob, json => $body);
    my $label = $JSON->encode($body);
    $label = substr($label, 0, 60);
    is $res->{status}, 400, "$label: 400";
    if (ref $want eq 'Regexp') {
        like $res->{json}{end_date}[0] // '', $want, "$label: message";
    }
    else {
        is_deeply $res->{json}, $want, "$label: every field's errors";
    }
}
# the serializer's order, whatever the body's (as the bytes say it)
$r = patch(2, %bob, headers => { 'Content-Type' => 'application/json' },
           body => '{"zz": 1, "tags": [98], "is_public": "x", "name": 5}');
is $r->{content}, '{"name":["Not a valid string."],"is_public":["Must be a'
    . ' valid boolean."],"tags":["Invalid pk \"98\" - object does not'
    . ' exist."],"zz":["This field is not allowed."]}',
    'field errors in the serializer\'s order, then keys not allowed';
is state_of(2), $before, 'no invalid body changed anything';

$r = $t->raw("PATCH /images/2 HTTP/1.0\r\nAuthorization: Token "
             . "bob-token-0123456789abcdef\r\nContent-Length: 2\r\n\r\n{}");
is $r->{status}, 415, 'no Content-Type: 415';
is_deeply $r->{json}, { detail => 'Unsupported media type "" in request.' },
    'no Content-Type: detail';

# ---- body limits ---------------------------------------------------------
$r = patch(2, %bob, json => { description => 'x' x 20000 });
is $r->{status}, 413, 'over ImagesBodyLimit: 413';
is $r->{headers}{'content-type'}, 'application/json', '413 is JSON';
my $auth = 'Basic ' . MIME::Base64::encode_base64('bob:bob-pw', '');
my $chunk = '{"description": "' . ('y' x 9000) . '", "x": "' . ('z' x 9000) . '"}';
$r = $t->raw("PATCH /images/2 HTTP/1.1\r\nHost: x\r\nAuthorization: $auth\r\n"
             . "Content-Type: application/json\r\nTransfer-Encoding: chunked"
             . "\r\nConnection: close\r\n\r\n"
             . join('', map { sprintf("%x\r\n%s\r\n", length, $_) }
                        unpack('(A1000)*', $chunk)) . "0\r\n\r\n");
is $r->{status}, 413, 'chunked body over the limit: 413';
$r = $t->raw("PATCH /images/2 HTTP/1.1\r\nHost: x\r\nAuthorization: $auth\r\n"
             . "Content-Type: application/json\r\nTransfer-Encoding: chunked"
             . "\r\nConnection: close\r\n\r\n"
             . join('', map { sprintf("%x\r\n%s\r\n", length, $_) }
                        '{"des', 'cription": "chunked ok"}') . "0\r\n\r\n");
is $r->{status}, 200, 'chunked body within the limit: 200';
is $r->{json}{description}, 'chunked ok', 'and applied';
$r = patch(2, %bob, headers => { 'Content-Type' => 'application/json' },
           body => '{"description": "' . ('x' x (10 * 1024 * 1024)) . '"}');
is $r->{status}, 413, '10 MB body: 413';
is $t->get('/images/2')->{json}{description}, 'chunked ok',
    'refused bodies changed nothing';

# ---- If-Match ------------------------------------------------------------
my $etag = $t->get('/images/2')->{headers}{etag};
$r = patch(2, %bob, headers => { 'If-Match' => $etag },
           json => { description => 'v1' });
is $r->{status}, 200, 'If-Match with the current ETag: 200';
my $stale = $etag;
$etag = $r->{headers}{etag};
$r = patch(2, %bob, headers => { 'If-Match' => $stale },
           json => { description => 'v2' });
is $r->{status}, 412, 'If-Match with a stale ETag: 412';
like $r->{json}{detail}, qr/changed/, '412 detail';
is $t->get('/images/2')->{json}{description}, 'v1', 'and nothing changed';
is patch(2, %bob, headers => { 'If-Match' => '*' },
         json => { description => 'v3' })->{status}, 200, 'If-Match: *';

# Two editors with the same ETag at the same moment: exactly one wins.
for my $round (1 .. 5) {
    my $tag = $t->get('/images/3', %carol)->{headers}{etag};
    my @kids;
    for my $who (1, 2) {
        my $pid = fork // die $!;
        if (!$pid) {
            my $res = patch(3, %carol, headers => { 'If-Match' => $tag },
                            json => { description => "round $round by $who" });
            POSIX::_exit($res->{status} == 200 ? 0
                         : $res->{status} == 412 ? 1 : 2);
        }
        push @kids, $pid;
    }
    my @codes = map { waitpid($_, 0); $? >> 8 } @kids;
    is_deeply [sort @codes], [0, 1],
        "round $round: one 200 and one 412 (@codes)";
    like $t->get('/images/3')->{json}{description},
        qr/^round $round by [12]$/, "round $round: the winner's edit stands";
}

# A PATCH whose transaction is rolled back by the server (a deadlock with
# an operator's transaction: the triggers lock tags and images) runs once
# more; a second failure is a JSON 500 and changes nothing.
$t->sql(<<'SQL');
CREATE SEQUENCE patch_fails;
CREATE TABLE patch_fail_mode (always boolean);
INSERT INTO patch_fail_mode VALUES (false);
CREATE FUNCTION patch_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('patch_fails') = 1 OR (SELECT always FROM patch_fail_mode) THEN
        RAISE EXCEPTION 'deadlock detected (test)' USING ERRCODE = '40P01';
    END IF;
    RETURN NEW;
END $$;
GRANT USAGE ON SEQUENCE patch_fails TO mod_images;
GRANT SELECT ON patch_fail_mode TO mod_images;
CREATE TRIGGER patch_fail BEFORE UPDATE ON images
    FOR EACH ROW WHEN (NEW.description LIKE 'victim%')
    EXECUTE FUNCTION patch_fail();
SQL
$r = patch(1, %alice_token, json => { description => 'victim once' });
is $r->{status}, 200, 'a deadlock victim runs again: 200';
is $t->get('/images/1')->{json}{description}, 'victim once', 'and lands';
is $t->sql_value('SELECT last_value FROM patch_fails'), 2, 'in two runs';
$t->sql('UPDATE patch_fail_mode SET always = true');
$r = patch(1, %alice_token, json => { description => 'victim always' });
is $r->{status}, 500, 'failing again: 500';
is $r->{headers}{'content-type'}, 'application/json', 'JSON';
is $t->get('/images/1')->{json}{description}, 'victim once', 'nothing changed';
is $t->sql_value('SELECT last_value FROM patch_fails'), 4,
    'after exactly one more run';
$t->sql('DROP TRIGGER patch_fail ON images');

unlike $t->error_log, qr/exit signal|AH00052/, 'no child crashed';
done_testing;
