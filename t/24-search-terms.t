# The size of a search (docs/api.md): a term repeated in any
# letter case counts once; more distinct terms than ImagesSearchMaxTerms
# (20 by default) is a 400 before anything is searched.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use ImagesTest;

my $t = ImagesTest->new(conf => <<'C');
<Location /few>
    SetHandler images
    ImagesSearchMaxTerms 3
</Location>
C

sub ids { [ map { $_->{id} } @{ $_[0]{json}{results} || [] } ] }

my @words = map { "w$_" } 1 .. 21;
my $r = $t->get('/images?search=' . join('+', @words[0 .. 19]));
is $r->{status}, 200, '20 distinct terms: 200';
is $r->{json}{count}, 0, 'matching nothing';

$r = $t->get('/images?search=' . join('+', @words));
is $r->{status}, 400, '21 distinct terms: 400';
is_deeply $r->{json},
    { search => ['Ensure this field has no more than 20 terms.'] },
    'with the field error';
is $r->{headers}{'content-type'}, 'application/json', 'JSON';

$r = $t->get('/images?search=' . join(',', @words) . '&page=x');
is $r->{status}, 400, 'the 400 comes before an invalid page';

my $one = $t->get('/images?search=ubuntu');
ok $one->{json}{count} > 0, 'ubuntu matches some images';
my @same = (('ubuntu') x 40, 'UBUNTU', 'Ubuntu', 'uBuNtU');
$r = $t->get('/images?search=' . join('+', @same));
is $r->{status}, 200, '43 times the same term in any case: 200';
is_deeply ids($r), ids($one), 'the same images as the term once';
is $r->{json}{count}, $one->{json}{count}, 'the same count';
$r = $t->get('/images?search=' . join(',', (map { ($_, uc $_) } @words[0 .. 19]),
                                      'W1', 'w20'));
is $r->{status}, 200, '20 distinct terms, each in two cases: 200';

# non-ASCII letters fold too, as PostgreSQL's lower() folds them
is $t->sql_value("SELECT lower('ÄÖŽŸΆΣЁЖӐ') = 'äöžÿάσёжӑ'"), 't',
    "PostgreSQL's lower() makes the same pairs";
my $nonascii = join '+', map { my $w = $_; ("%C3%84$w", "%C3%A4$w") }
                         1 .. 11;
is $t->get("/images?search=$nonascii")->{status}, 200,
    '11 terms written with Ä and with ä: 200';
is $t->get('/images?search=' . join('+', map { "%C3%84$_" } 1 .. 21))
    ->{status}, 400, '21 distinct ones: 400';
# letters beyond those blocks: Vietnamese, fullwidth, Armenian, capital
# sharp s, each with its lower case (as lower() makes them, checked first)
is $t->sql_value("SELECT lower('VIỆTＡԱẞǍ') = 'việtａաßǎ'"), 't',
    "PostgreSQL's lower() makes these pairs too";
my @pairs = (['VI%E1%BB%86T', 'vi%E1%BB%87t'], ['%EF%BC%A1', '%EF%BD%81'],
             ['%D4%B1', '%D5%A1'], ['%E1%BA%9E', '%C3%9F'],
             ['%C7%8D', '%C7%8E']);
my @upper = map { $_->[0] } @pairs;
$r = $t->get('/images?search=' . join('+', (map { @$_ } @pairs),
                                      @words[0 .. 14]));
is $r->{status}, 200, '5 such terms in two cases and 15 more: 200';
$r = $t->get('/images?search=' . join('+', (map { @$_ } @pairs),
                                      @words[0 .. 15]));
is $r->{status}, 400, 'and 16 more: 400';
is_deeply ids($t->get('/images?search=' . join('+', map { @$_ } @pairs))),
          ids($t->get('/images?search=' . join('+', @upper))),
    'the same images as each term once';

# a bad token is answered first, as DRF authenticates before it validates
$r = $t->get('/images?search=' . join('+', @words), token => 'nope');
is $r->{status}, 401, 'bad token and 21 terms: 401';
$r = $t->get('/images?search=' . join('+', @words),
             token => 'alice-token-0123456789abcdef');
is $r->{status}, 400, 'good token and 21 terms: 400';

# a NUL in a filter is still its own 400
$r = $t->get('/images?tags__name=a%00&search=' . join('+', @words));
is $r->{status}, 400, 'NUL in a filter and 21 terms: 400';
ok $r->{json}{tags__name}, 'about the filter';

# the limit is configurable per location
$r = $t->get('/few?search=a+b+c');
is $r->{status}, 200, 'ImagesSearchMaxTerms 3: three terms pass';
$r = $t->get('/few?search=a+b+c+A+B');
is $r->{status}, 200, 'and repeats of them';
$r = $t->get('/few?search=a+b+c+d');
is $r->{status}, 400, 'a fourth: 400';
is_deeply $r->{json},
    { search => ['Ensure this field has no more than 3 terms.'] },
    'naming the configured limit';

# a long line of terms, all distinct: answered quickly
my $many = join '+', map { "t$_" } 1 .. 8000;
my $t0 = Time::HiRes::time();
$r = $t->get("/images?search=$many");
is $r->{status}, 400, '8,000 distinct terms: 400';
cmp_ok Time::HiRes::time() - $t0, '<', 2, 'quickly';

done_testing;
