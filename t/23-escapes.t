# U+2028 and U+2029 are written as \u2028 and \u2029 in every JSON body
# (docs/api.md), as Django REST Framework writes them: a PATCHed
# name and description, the list, a tag's text, and error bodies.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Encode ();
use ImagesTest;

my $t = ImagesTest->new;
my ($ls, $ps) = ("\x{2028}", "\x{2029}");
my %alice = (user => 'alice', password => 'alice-pw');

sub escaped_ok {
    my ($res, $name) = @_;
    unlike $res->{content}, qr/\xE2\x80[\xA8\xA9]/,
        "$name: no raw U+2028 or U+2029 bytes";
    like $res->{content}, qr/\\u2028/, "$name: \\u2028 written";
}

my $r = $t->request(PATCH => '/images/1', %alice,
                    json => { name => "line${ls}sep", description =>
                              "para${ps}sep ${ls} \x{2027}\x{202A}" });
is $r->{status}, 200, 'PATCH with U+2028 and U+2029: 200';
escaped_ok($r, 'PATCH answer');
like $r->{content}, qr/"name":"line\\u2028sep"/, 'name escaped';
like $r->{content}, qr/"description":"para\\u2029sep \\u2028 \xE2\x80\xA7\xE2\x80\xAA"/,
    'description escaped; U+2027 and U+202A stay raw';
is $r->{json}{name}, "line${ls}sep", 'and it reads back the same';
is $t->sql_value("SELECT name = E'line\\u2028sep' FROM images WHERE id = 1"),
    't', 'stored as the character itself';

$r = $t->get('/images/1');
escaped_ok($r, 'GET');
is $r->{json}{description}, "para${ps}sep ${ls} \x{2027}\x{202A}",
    'GET reads back the same';
my $etag = $r->{headers}{etag};
is $t->get('/images/1', headers => { 'If-None-Match' => $etag })->{status},
    304, 'the ETag is that of the escaped body';
escaped_ok($t->get('/images?search=sep'), 'the list');

# a tag's text comes from the store's arrays
$t->sql("UPDATE tags SET description = E'a\\u2028b' WHERE id = 1");
$r = $t->get('/images/1');
like $r->{content}, qr/"description":"a\\u2028b"/, "a tag's description";
unlike $r->{content}, qr/\xE2\x80[\xA8\xA9]/, 'no raw bytes there either';

# error bodies go through jansson
$r = $t->request(PATCH => '/images/1', %alice,
                 json => { name => 5, "x${ls}" => 1 });
is $r->{status}, 400, 'an unknown key with U+2028: 400';
escaped_ok($r, 'field errors');
# jansson's parse error quotes the text near the error
$r = $t->request(PATCH => '/images/1', %alice,
                 headers => { 'Content-Type' => 'application/json' },
                 body => Encode::encode_utf8(qq({"name": "a" ${ls}${ps})));
is $r->{status}, 400, 'malformed JSON: 400';
like $r->{json}{detail}, qr/^JSON parse error/, 'its detail';
unlike $r->{content}, qr/\xE2\x80[\xA8\xA9]/, 'no raw bytes in it';

done_testing;
