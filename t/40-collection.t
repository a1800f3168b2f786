# GET /images: the collection (docs/api.md, 3, 5 and 8):
# visibility, order, filters, search, pagination and its links, hostile
# parameters, and the paging directives.  Expected values come from the
# fixture table at the top of sql/sample.sql.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use ImagesTest;

# dave has a users row but no password hash (an SSO-style user) and zed has
# no users row: both authenticate through a password file instead, the way
# any other authentication module would set r->user.  The file comes first:
# mod_authn_dbd denies (does not pass on) a user whose hash is NULL.

my $t = ImagesTest->new(no_httpd => 1);
my $htpasswd = $t->password_file(dave => 'dave-pw', zed => 'zed-pw');
$t->{conf_in_location} = <<"C";
    AuthBasicProvider file dbd
    AuthUserFile $htpasswd
C
$t->start_httpd;
my $B = $t->base_url;

my %anon;
my %alice = (user => 'alice', password => 'alice-pw');
my %bob = (user => 'bob', password => 'bob-pw');
my %carol = (user => 'carol', password => 'carol-pw');
my %dave = (user => 'dave', password => 'dave-pw');
my %zed = (user => 'zed', password => 'zed-pw');
my %alice_tok = (token => 'alice-token-0123456789abcdef');
my %bob_tok = (token => 'bob-token-0123456789abcdef');
my %carol_tok = (token => 'carol-token-0123456789abcdef');

# Listing order of the fixture, start_date DESC, id DESC (sample.sql):
# full order 11 9 6 12 4 7 5 10 3 8 2 1.
my @ANON = (11, 9, 12, 4, 10, 3, 2, 1);
my @ALICE = (11, 9, 6, 12, 4, 5, 10, 3, 2, 1);
my @BOB = (11, 9, 12, 4, 7, 5, 10, 3, 2, 1);

sub ids { [ map { $_->{id} } @{ $_[0]{json}{results} || [] } ] }

# One page that holds the whole result: 200, count, ids in order, no links.
sub list_is {
    my ($path, $want, $name, %who) = @_;
    my $r = $t->get($path, %who);
    subtest $name => sub {
        is $r->{status}, 200, 'status 200'
            or diag $r->{content};
        is $r->{json}{count}, scalar @$want, 'count';
        is_deeply ids($r), $want, 'ids in order';
        ok exists $r->{json}{next} && !defined $r->{json}{next},
            'next is null';
        ok exists $r->{json}{previous} && !defined $r->{json}{previous},
            'previous is null';
    };
    return $r;
}

sub invalid_page {
    my ($path, $name, %who) = @_;
    my $r = $t->get($path, %who);
    subtest $name => sub {
        is $r->{status}, 404, 'status 404';
        is_deeply $r->{json}, { detail => 'Invalid page.' }, 'Invalid page.';
        is $r->{headers}{'content-type'}, 'application/json', 'JSON';
    };
    return $r;
}

# ==== the page and its representation ======================================
my $r = list_is('/images', \@ANON, 'anonymous listing');
is $r->{headers}{'content-type'}, 'application/json',
    'application/json, no charset parameter';
like $r->{content}, qr/^\{"count":8,"next":null,"previous":null,"results":\[\{"id":11,/,
    'compact body, keys count, next, previous, results; null links are JSON null';
is_deeply [ sort keys %{ $r->{json} } ], [qw(count next previous results)],
    'no other keys';
for my $img (@{ $r->{json}{results} }) {
    is_deeply $img, $t->get("/images/$img->{id}")->{json},
        "image $img->{id}: same representation in the list as in the detail";
}
my %by_id = map { $_->{id} => $_ } @{ $r->{json}{results} };
is_deeply [ map { $_->{name} } @{ $by_id{1}{versions} } ], ['1.0', '1.1'],
    'ended version 0.9-beta of image 1 is not in the list';
is_deeply [ map { $_->{id} } @{ $by_id{3}{versions} } ], [5, 6],
    'versions with equal start_date in id order';
is_deeply [ map { $_->{name} } @{ $by_id{4}{versions} } ], ['7.5', '8.0-rc1'],
    'version ending in 2099 is listed';
is_deeply [ map { $_->{name} } @{ $by_id{4}{tags} } ], [qw(docker gpu ubuntu)],
    'tags by name in the list';
is $by_id{9}{end_date}, '2099-12-31T00:00:00.000000Z',
    'image ending in the future is listed with its end_date';
is $by_id{12}{start_date}, '2016-03-08T10:10:10.000000Z',
    'start_date with six fractional digits';
like $r->{content}, qr/"name":"\x{c3}\x{9c}n\x{c3}\x{af}code fa\x{c3}\x{a7}ade"/,
    'UTF-8 name in the list';

# ==== visibility ===========================================================
list_is('/images', \@ALICE, 'alice (Basic): her private 5 and 6', %alice);
list_is('/images', \@ALICE, 'alice (token)', %alice_tok);
list_is('/images', \@BOB, 'bob (Basic): his private 7, 5 shared with him', %bob);
list_is('/images', \@BOB, 'bob (token)', %bob_tok);
list_is('/images', \@ANON, 'carol (Basic): her share of 6 has ended', %carol);
list_is('/images', \@ANON, 'carol (valid token)', %carol_tok);
list_is('/images', \@ANON, 'dave (users row, no private images)', %dave);
list_is('/images', \@ANON, 'zed (r->user with no users row) reads as anonymous',
        %zed);
list_is('/images', \@ANON, 'another Authorization scheme is anonymous',
        headers => { Authorization => 'Bearer whatever' });
for my $c (['Token nope', 'unknown token'],
           ['Token carol-expired-token', 'expired token'],
           ['Token alice-token-0123456789abcdeX', 'almost a token']) {
    my ($h, $name) = @$c;
    for my $q ('', '?page=abc', '?page=99', '?search=ubuntu&page_size=1') {
        $r = $t->get("/images$q", headers => { Authorization => $h });
        is $r->{status}, 401, "$name on /images$q: 401";
        is_deeply $r->{json}, { detail => 'Invalid token.' },
            "$name on /images$q: Invalid token.";
        is $r->{headers}{'www-authenticate'}, 'Token',
            "$name on /images$q: WWW-Authenticate: Token";
    }
}
$r = $t->get('/images?created_by__username=%00', token => 'nope');
is $r->{status}, 401,
    'unknown token with a NUL filter: authentication fails first (401)';
$r = $t->get('/images', user => 'alice', password => 'wrong');
is $r->{status}, 401, 'wrong Basic password on the list: 401';
is_deeply $r->{json}, { detail => 'Invalid username/password.' },
    'with a JSON body';

# image 8 has ended: nobody sees it, by any route
for my $who ([anonymous => {}], [alice => \%alice], [bob => \%bob]) {
    my ($n, $w) = @$who;
    for my $q ('', '?search=retired', '?search=12.04',
               '?created_by__username=alice', '?tags__name=ubuntu',
               '?page_size=1000') {
        $r = $t->get("/images$q", %$w);
        ok !(grep { $_ == 8 } @{ ids($r) }), "ended image 8 not in /images$q for $n";
    }
}
list_is('/images?search=retired', [], 'search for the ended image: nothing',
        %alice);
# ended versions never appear in any result
my @versions;
for my $w (\%anon, \%alice, \%bob) {
    push @versions, map { @{ $_->{versions} } }
        @{ $t->get('/images', %$w)->{json}{results} };
}
ok !(grep { $_->{id} == 3 } @versions), 'ended version 3 in no result';
ok !(grep { $_->{id} == 10 } @versions), 'version 10 (of ended image 8) in no result';
is scalar(grep { $_->{id} == 8 } @versions), 3,
    'version 8 (ends 2099) listed for everyone';

# a share given to an SSO-style user, while it lasts
$t->sql('INSERT INTO image_members (image_id, user_id, end_date) VALUES (7, 4, NULL)');
list_is('/images', [11, 9, 12, 4, 7, 10, 3, 2, 1], 'dave sees 7 once shared',
        %dave);
$t->sql("UPDATE image_members SET end_date = now() + interval '1 day' WHERE user_id = 4");
list_is('/images', [11, 9, 12, 4, 7, 10, 3, 2, 1],
        'share ending tomorrow still counts', %dave);
$t->sql("UPDATE image_members SET end_date = now() - interval '1 second' WHERE user_id = 4");
list_is('/images', \@ANON, 'share that just ended does not', %dave);
$t->sql('DELETE FROM image_members WHERE user_id = 4');
# a private image that ends is invisible to its creator too
$t->sql("UPDATE images SET end_date = now() - interval '1 second' WHERE id = 6");
list_is('/images', [11, 9, 12, 4, 5, 10, 3, 2, 1],
        'alice no longer sees her ended image 6', %alice);
$t->sql('UPDATE images SET end_date = NULL WHERE id = 6');
list_is('/images', \@ALICE, 'image 6 back', %alice);

# ==== order ================================================================
# equal start_date: id DESC decides; one microsecond apart: start_date does
my $d4 = '2016-02-03 11:47:20.904512+00';
$t->sql("INSERT INTO images (id, name, created_by, start_date) OVERRIDING SYSTEM VALUE VALUES
         (1000, 'tie a', 2, '$d4'), (1002, 'tie c', 1, '$d4'),
         (1001, 'tie b', 3, '$d4'),
         (1003, 'just after 9', 1, '2016-06-30 23:59:59.999998+00')");
$t->sql("INSERT INTO images (id, name, created_by, is_public, start_date) OVERRIDING SYSTEM VALUE VALUES
         (1004, 'tie private', 1, false, '$d4')");
my @TIE = (11, 9, 1003, 12, 1002, 1001, 1000, 4, 10, 3, 2, 1);
list_is('/images', \@TIE, 'equal start_date: id descending');
list_is('/images', [11, 9, 1003, 6, 12, 1004, 1002, 1001, 1000, 4, 5, 10, 3, 2, 1],
        'alice: her private tie sorted in with the rest', %alice);
# walking the pages across the tie: every image exactly once, in order
my (@walk, $pages);
my $url = '/images?page_size=2';
while (defined $url && $pages++ < 20) {
    $r = $t->get($url);
    last unless $r->{status} == 200;
    push @walk, @{ ids($r) };
    $url = $r->{json}{next};
    $url =~ s/^\Q$B\E// if defined $url;
}
is_deeply \@walk, \@TIE, 'pages of 2 across the tie: no gap, no repeat';
is $pages, 6, 'six pages of two';
$t->sql('DELETE FROM images WHERE id >= 1000');
list_is('/images', \@ANON, 'back to the fixture');

# ==== filters ==============================================================
list_is('/images?created_by__username=alice', [12, 1],
        'created_by__username=alice (anonymous)');
list_is('/images?created_by__username=alice', [6, 12, 5, 1],
        'created_by__username=alice (alice)', %alice);
list_is('/images?created_by__username=bob', [4, 10, 2], 'created_by bob');
list_is('/images?created_by__username=bob', [4, 7, 10, 2],
        'created_by bob (bob)', %bob_tok);
list_is('/images?created_by__username=carol', [11, 9, 3], 'created_by carol');
list_is('/images?created_by__username=dave', [], 'created_by dave: none');
list_is('/images?created_by__username=Alice', [], "'Alice': case-sensitive");
list_is('/images?created_by__username=ALICE', [], "'ALICE': case-sensitive",
        %alice);
list_is('/images?created_by__username=ali', [], 'exact: no prefix match');
list_is('/images?created_by__username=alice2', [], 'exact: no longer name');
list_is('/images?created_by__username=nobody', [], 'unknown user');
list_is('/images?created_by__username=%25', [], "'%' is no wildcard");
list_is('/images?tags__name=ubuntu', [4, 3, 1], 'tags__name=ubuntu');
list_is('/images?tags__name=ubuntu', [4, 5, 3, 1], 'tags__name=ubuntu (bob)',
        %bob);
list_is('/images?tags__name=docker', [12, 4, 1], 'tags__name=docker');
list_is('/images?tags__name=workshop', [9, 12], 'tags__name=workshop');
list_is('/images?tags__name=bioinformatics', [6, 3],
        'tags__name=bioinformatics (alice)', %alice);
list_is('/images?tags__name=Docker', [], "'Docker': case-sensitive");
list_is('/images?tags__name=dock', [], 'exact: no prefix match');
list_is('/images?tags__name=nope', [], 'unknown tag');
list_is('/images?tags__name=Container%20runtime%20installed', [],
        'tags__name does not match a tag description');
list_is('/images?created_by__username=alice&tags__name=docker', [12, 1],
        'creator AND tag');
list_is('/images?created_by__username=alice&tags__name=ubuntu', [5, 1],
        'alice AND ubuntu (alice)', %alice);
list_is('/images?created_by__username=bob&tags__name=workshop', [],
        'creator AND tag: no image has both');
list_is('/images?created_by__username=bob&tags__name=ubuntu&search=cuda', [4],
        'creator AND tag AND search');
list_is('/images?created_by__username=carol&search=genomics', [3],
        'creator AND search');
# The creator filter counts in its own way (kept counts, sql/schema.sql):
# for every caller and creator, the page is the unfiltered list's images
# of that creator, and the count their number.
sub creator_pages_agree {
    my ($label, $size) = @_;
    my @callers = (['anonymous'], [alice => %alice], [bob => %bob],
                   [carol => %carol_tok], [dave => %dave], [zed => %zed]);
    my @creators = map { $_->[0] } @{ $t->sql('SELECT username FROM users'
                                              . ' ORDER BY id') };
    my ($agree, $pairs, @bad) = (0, 0);
    for my $c (@callers) {
        my ($who, %auth) = @$c;
        my (%by, $all);
        my $p = 1;
        do {
            $all = $t->get("/images?page_size=1000&page=$p", %auth);
            push @{ $by{$_->{created_by}{username}} }, $_->{id}
                for @{ $all->{json}{results} || [] };
            $p++;
        } while ($all->{status} == 200 && $all->{json}{next});
        for my $u (@creators, 'nobody') {
            my @want = @{ $by{$u} || [] };
            my ($p, $got, @ids) = (1);
            do {
                $got = $t->get("/images?created_by__username=$u"
                               . "&page_size=$size&page=$p", %auth);
                push @ids, map { $_->{id} } @{ $got->{json}{results} || [] };
                $p++;
            } while ($got->{status} == 200 && $got->{json}{next});
            $pairs++;
            if ($got->{status} == 200 && $got->{json}{count} == @want
                && "@ids" eq "@want") {
                $agree++;
            } else {
                push @bad, substr("$who/$u: count $got->{json}{count}, ids"
                                  . " @ids; want " . scalar(@want)
                                  . ": @want", 0, 300);
            }
        }
    }
    is $agree, $pairs, "$label: every creator's pages, for every caller"
        or diag join "\n", @bad;
}
creator_pages_agree('the fixture', 1000);
creator_pages_agree('the fixture, pages of 1', 1);

list_is('/images?created_by__username=%20alice%09', [12, 1],
        'surrounding whitespace stripped (creator)');
list_is('/images?created_by__username=+alice+', [12, 1],
        "'+' is a space, stripped too");
list_is('/images?tags__name=%0Adocker%20%20', [12, 4, 1],
        'surrounding whitespace stripped (tag)');
list_is('/images?tags__name=dock%20er', [], 'inner whitespace is kept');
list_is('/images?created_by__username=', \@ANON, 'empty creator: no filter');
list_is('/images?tags__name=', \@ANON, 'empty tag: no filter');
list_is('/images?created_by__username&tags__name', \@ANON,
        'parameters without = : no filter');
list_is('/images?created_by__username=%20%20&tags__name=%09', \@ANON,
        'whitespace only: empty after stripping, no filter');
list_is('/images?search=', \@ANON, 'empty search: no filter');
list_is('/images?search=%20,%20,,', \@ANON,
        'search of separators only: no filter');
list_is('/images?created_by__username=alice&created_by__username=bob',
        [4, 10, 2], 'repeated creator: the last one');
list_is('/images?created_by__username=bob&created_by__username=', \@ANON,
        'repeated creator, last empty: no filter');
list_is('/images?tags__name=docker&tags__name=workshop', [9, 12],
        'repeated tag: the last one');
list_is('/images?search=cuda&search=genomics', [3],
        'repeated search: the last one');
list_is('/images?search=genomics&foo=bar&ordering=name&limit=1&offset=3&id=1&is_public=false&created_by=2&tags=1',
        [3], 'unknown parameters ignored');
list_is('/images?foo=bar&ordering=-id&search_fields=name', \@ANON,
        'only unknown parameters: the whole listing');
list_is('/images?Search=cuda&SEARCH=cuda&CREATED_BY__USERNAME=bob', \@ANON,
        'parameter names are case-sensitive');
list_is('/images?tags__name=ubuntu&tags__name=ubuntu&tags__name=ubuntu', [4, 3, 1],
        'same tag three times');

# ==== search ===============================================================
list_is('/images?search=ubuntu', [4, 3, 1], 'name or tag: ubuntu');
list_is('/images?search=ubuntu', [4, 5, 3, 1], 'ubuntu (alice)', %alice);
list_is('/images?search=UBUNTU', [4, 3, 1], 'case-insensitive');
list_is('/images?search=uBuNtU', [4, 3, 1], 'mixed case');
list_is('/images?search=galaxy', [3], 'name');
list_is('/images?search=workbench', [3], 'name, other case');
list_is('/images?search=jupyter', [9], 'description only');
list_is('/images?search=JENKINS', [7], 'description of a private image (bob)',
        %bob);
list_is('/images?search=jenkins', [], 'not for anonymous');
list_is('/images?search=nvidia', [4], 'a term that only a tag description has');
list_is('/images?search=genomics', [3], 'genomics (anonymous)');
list_is('/images?search=genomics', [6, 3],
        'genomics (alice): image 6 only through the bioinformatics description',
        %alice);
list_is('/images?search=genomics', [3], 'genomics (carol: share ended)', %carol);
list_is('/images?search=lab', [5], 'lab (bob: shared)', %bob);
list_is('/images?search=lab', [], 'lab (carol)', %carol);
list_is('/images?search=gpu', [4], 'tag name');
list_is('/images?search=bioinf', [3], 'substring of a tag name');
list_is('/images?search=nvidia%20container', [4],
        'two terms, two different tags (gpu and docker descriptions)');
list_is('/images?search=nvidia%20workshop', [],
        'every term must match: no image has both');
list_is('/images?search=ubuntu%20docker', [4, 1], 'AND of two terms');
list_is('/images?search=ubuntu%20docker%20cuda', [4], 'AND of three terms');
list_is('/images?search=ubuntu%20zzzz', [], 'one term matching nothing');
list_is('/images?search=nvidia+container', [4], "'+' is a space");
list_is('/images?search=nvidia,container', [4], 'comma separates');
list_is('/images?search=nvidia%2Ccontainer', [4], 'encoded comma separates');
list_is('/images?search=,,nvidia%20,%20container,', [4],
        'runs of separators, leading and trailing');
list_is('/images?search=nvidia%09container', [4], 'tab separates');
list_is('/images?search=nvidia%0D%0Acontainer', [4], 'CR LF separate');
list_is('/images?search=%20%20cuda%20%20', [4], 'surrounding whitespace');
list_is('/images?search=ubuntu%2014', [1], 'not a phrase: terms');
list_is('/images?search=%2B', [], "'%2B' is a literal '+': nothing has one");
list_is('/images?search=100', [4, 10], "'100' (image 4 says 100 GB)");
list_is('/images?search=100%25', [10], "'100%': '%' is literal");
list_is('/images?search=%25', [10], "'%' alone is literal");
list_is('/images?search=%25%25', [], "'%%' matches nothing");
list_is('/images?search=pure_python', [10], "'pure_python': '_' is literal");
list_is('/images?search=pure-python', [2], "'pure-python'");
list_is('/images?search=pure', [10, 2], "'pure'");
list_is('/images?search=_', [10], "'_' alone is literal");
list_is('/images?search=p_re', [], "'p_re' is no wildcard");
list_is('/images?search=%5C', [2], "'\\' alone is literal");
list_is('/images?search=C:%5CUsers%5CPublic', [2], "'C:\\Users\\Public'");
list_is('/images?search=%5CU', [2], "'\\U' is not an escaped U");
list_is('/images?search=%5C%25', [], "'\\%' is literal: nothing has it");
list_is('/images?search=%5C_', [], "'\\_' is literal: nothing has it");
list_is('/images?search=%22C:', [2], 'double quote in a term');
list_is('/images?search=%27', [], "single quote (anonymous)");
list_is('/images?search=%27', [5], 'single quote (alice)', %alice);
list_is('/images?search=caf%C3%A9', [11], 'UTF-8 term');
list_is('/images?search=%C3%9CN%C3%8FCODE', [11], 'UTF-8 term, other case');
list_is('/images?search=%E6%97%A5%E6%9C%AC', [11], 'CJK term');
list_is('/images?search=7.5%0Aneeds', [4],
        'terms on both sides of the newline of a description');
list_is('/images?search=linux', [4, 3, 2, 1], 'linux: ubuntu and centos tags');
$t->sql('INSERT INTO image_tags (image_id, tag_id) VALUES (4, 2)');
list_is('/images?search=linux', [4, 3, 2, 1],
        'image 4 with two tags matching (ubuntu and centos): once');
list_is('/images?search=linux%20ubuntu%20centos', [4],
        'three terms over one image and its two tags: once');
list_is('/images?search=linux&tags__name=centos', [4, 2],
        'tag filter and search over the same tags: once each');
$t->sql('DELETE FROM image_tags WHERE image_id = 4 AND tag_id = 2');
list_is('/images?search=centos', [2], 'tag removed: search follows');
$t->sql("UPDATE tags SET description = 'Graphics processing' WHERE id = 4");
list_is('/images?search=nvidia', [], 'tag description changed: search follows');
list_is('/images?search=graphics', [4], 'and finds the new text');
$t->sql("UPDATE tags SET description = 'NVIDIA CUDA drivers' WHERE id = 4");
list_is('/images?search=nvidia', [4], 'restored');

# ==== pagination ===========================================================
$r = $t->get('/images?search=u&page_size=3');
is $r->{status}, 200, 'page 1 of 3-sized pages';
is $r->{json}{count}, 8, 'count is the whole result (every image has a u)';
is_deeply ids($r), [11, 9, 12], 'page 1';
is $r->{json}{next}, "$B/images?page=2&page_size=3&search=u",
    'next: absolute, other parameters kept, sorted by name';
is $r->{json}{previous}, undef, 'previous of page 1: null';
$r = $t->get('/images?search=u&page_size=3&page=2');
is_deeply ids($r), [4, 10, 3], 'page 2';
is $r->{json}{count}, 8, 'same count on page 2';
is $r->{json}{next}, "$B/images?page=3&page_size=3&search=u", 'next of page 2';
is $r->{json}{previous}, "$B/images?page_size=3&search=u",
    'previous of page 2 has no page parameter';
$r = $t->get('/images?page=3&search=u&page_size=3');
is_deeply ids($r), [2, 1], 'page 3, the last, is partial';
is $r->{json}{next}, undef, 'next of the last page: null';
is $r->{json}{previous}, "$B/images?page=2&page_size=3&search=u",
    'previous of page 3';
$r = $t->get('/images?search=u&page_size=3&page=last');
is $r->{status}, 200, 'page=last';
is_deeply ids($r), [2, 1], 'page=last is page 3';
is $r->{json}{next}, undef, 'page=last: next null';
is $r->{json}{previous}, "$B/images?page=2&page_size=3&search=u",
    'page=last: previous is the number';
$r = $t->get('/images?search=o&page_size=2');
is $r->{json}{next}, "$B/images?page=2&page_size=2&search=o",
    'next of ?search=o&page_size=2';
invalid_page('/images?search=u&page_size=3&page=4', 'page past the end');
invalid_page('/images?page=2', 'page 2 of a one-page result');
invalid_page('/images?page=9', 'page 9 of a one-page result');
for my $bad ('0', '-1', 'abc', '1.5', '1e1', '0x1', 'LAST', 'Last', 'first',
             '00', '-0', '1abc', '%00', '1%00', '%FF%FE',
             '99999999999999999999', '9223372036854775807',
             '9223372036854775808') {
    invalid_page("/images?page=$bad", "page=$bad: Invalid page.");
}
invalid_page('/images?page=1&page=0', 'repeated page: the last one counts');
list_is('/images?page=0&page=1', \@ANON, 'repeated page: last is 1');
list_is('/images?page=', \@ANON, 'empty page means 1');
list_is('/images?page', \@ANON, 'page without = means 1');
list_is('/images?page=1', \@ANON, 'page=1');
list_is('/images?page=0001', \@ANON, 'page=0001');
list_is('/images?page=last', \@ANON, 'page=last of a single page');
$r = $t->get('/images?page=002&page_size=3');
is $r->{status}, 200, 'page=002: leading zeros';
is_deeply ids($r), [4, 10, 3], 'page=002 is page 2';
is $r->{json}{previous}, "$B/images?page_size=3", 'its previous has no page';
is $r->{json}{next}, "$B/images?page=3&page_size=3", 'its next is page=3';
$r = list_is('/images?search=zzzznothing', [], 'page 1 of an empty result: 200');
is $r->{content}, '{"count":0,"next":null,"previous":null,"results":[]}',
    'empty page body exactly';
list_is('/images?search=zzzznothing&page=1', [], 'page=1 of an empty result');
list_is('/images?search=zzzznothing&page=last', [],
        'page=last of an empty result');
list_is('/images?search=zzzznothing&page=', [], 'empty page of an empty result');
invalid_page('/images?search=zzzznothing&page=2', 'page 2 of an empty result');

# links keep every other parameter: unknown ones, empty ones, repeats, sorted
$r = $t->get('/images?zeta=1&search=u&alpha=&page_size=2&beta=x%20y&page=2');
is $r->{json}{next},
    "$B/images?alpha=&beta=x+y&page=3&page_size=2&search=u&zeta=1",
    'next keeps unknown and empty parameters, sorted, quote_plus encoded';
is $r->{json}{previous},
    "$B/images?alpha=&beta=x+y&page_size=2&search=u&zeta=1",
    'previous likewise, without page';
$r = $t->get('/images?search=genomics&search=u&page_size=2');
is_deeply ids($r), [11, 9], 'repeated search: the last value is used';
is $r->{json}{next},
    "$B/images?page=2&page_size=2&search=genomics&search=u",
    'repeated parameter kept in the link, in order';
$r = $t->get('/images?page_size=2&search=caf%C3%A9%2C%2B%26%3D%2F%3F%23%25~._-&x=%FF');
is $r->{json}{count}, 0, 'odd characters in a search';
$r = $t->get('/images?page_size=2&q=caf%C3%A9%2C%2B%26%3D%2F%3F%23%25~._-&x=%FF');
is $r->{json}{next},
    "$B/images?page=2&page_size=2&q=caf%C3%A9%2C%2B%26%3D%2F%3F%23%25~._-&x=%EF%BF%BD",
    'link re-encodes values (UTF-8, reserved characters, U+FFFD for bad bytes)';
$r = $t->get('/images?page_size=3&page=1');
is $r->{json}{next}, "$B/images?page=2&page_size=3", 'explicit page=1: next';
is $r->{json}{previous}, undef, 'explicit page=1: previous null';
$r = $t->get('/images?page_size=3&page=3');
is_deeply ids($r), [2, 1], 'last page of 3-sized pages';
is $r->{json}{previous}, "$B/images?page=2&page_size=3", 'previous of page 3';
$r = $t->get('/images?page_size=abc&page=1');
is $r->{json}{next}, undef, 'invalid page_size: default size, one page';

# the host and port as the client reached the server
my $port = $t->{port};
$r = $t->raw("GET /images?page_size=3 HTTP/1.0\r\nHost: localhost:$port\r\n\r\n");
is $r->{json}{next}, "http://localhost:$port/images?page=2&page_size=3",
    'links use the Host the client sent';
$r = $t->raw("GET /images?page_size=3 HTTP/1.0\r\n\r\n");
is $r->{json}{next}, "http://127.0.0.1:$port/images?page=2&page_size=3",
    'no Host (HTTP/1.0): the address and port the client reached';

# /images/ is the collection; its links keep the slash
list_is('/images/', \@ANON, '/images/ is the collection');
list_is('/images/?search=nvidia', [4], '/images/ with a search');
list_is('/images/?created_by__username=bob', [4, 7, 10, 2],
        '/images/ with a filter, authenticated', %bob);
$r = $t->get('/images/?page_size=3&page=2');
is_deeply ids($r), [4, 10, 3], '/images/ page 2';
is $r->{json}{next}, "$B/images/?page=3&page_size=3", '/images/ next';
is $r->{json}{previous}, "$B/images/?page_size=3", '/images/ previous';
invalid_page('/images/?page=4&page_size=3', '/images/ past the end');

# ==== page_size, with enough images to see the default and the maximum ======
$t->sql(q{INSERT INTO images (name, description, created_by, start_date)
          SELECT 'Bulk ' || g, 'generated', 4,
                 timestamptz '2000-01-01 00:00:00+00' + g * interval '1 minute'
            FROM generate_series(1, 1100) g});
my $N = 1108;
creator_pages_agree('with 1,100 more images', 100);
sub page_of {
    my ($q, $size, $first, $last, $name) = @_;
    my $r = $t->get("/images$q");
    subtest $name => sub {
        is $r->{status}, 200, 'status 200';
        is $r->{json}{count}, $N, 'count';
        is scalar @{ $r->{json}{results} || [] }, $size, "$size results";
        is $r->{json}{results}[0]{name}, $first, "first is $first";
        is $r->{json}{results}[-1]{name}, $last, "last is $last";
    };
    return $r;
}
$r = page_of('', 100, "\x{dc}n\x{ef}code fa\x{e7}ade", 'Bulk 1009',
             'no page_size: the default 100');
is $r->{json}{next}, "$B/images?page=2", 'default size: next';
for my $v ('0', '-1', '-5000', 'abc', '', '1.5', '1e3', '0x10', '%00',
           '%FF%FE', '00', '-0') {
    page_of("?page_size=$v", 100, "\x{dc}n\x{ef}code fa\x{e7}ade",
            'Bulk 1009', "page_size=$v: the default");
}
page_of('?page_size', 100, "\x{dc}n\x{ef}code fa\x{e7}ade", 'Bulk 1009',
        'page_size without =: the default');
$r = page_of('?page_size=abc', 100, "\x{dc}n\x{ef}code fa\x{e7}ade",
             'Bulk 1009', 'page_size=abc');
is $r->{json}{next}, "$B/images?page=2&page_size=abc",
    'the link keeps page_size as given';
page_of('?page_size=1', 1, "\x{dc}n\x{ef}code fa\x{e7}ade",
        "\x{dc}n\x{ef}code fa\x{e7}ade", 'page_size=1');
page_of('?page_size=007', 7, "\x{dc}n\x{ef}code fa\x{e7}ade", 'CentOS 7 Base',
        'page_size=007');
page_of('?page_size=999', 999, "\x{dc}n\x{ef}code fa\x{e7}ade", 'Bulk 110',
        'page_size=999');
page_of('?page_size=1000', 1000, "\x{dc}n\x{ef}code fa\x{e7}ade", 'Bulk 109',
        'page_size=1000: the maximum');
page_of('?page_size=1001', 1000, "\x{dc}n\x{ef}code fa\x{e7}ade", 'Bulk 109',
        'page_size=1001: the maximum');
$r = page_of('?page_size=5000', 1000, "\x{dc}n\x{ef}code fa\x{e7}ade",
             'Bulk 109', 'page_size=5000: the maximum');
is $r->{json}{next}, "$B/images?page=2&page_size=5000",
    'next keeps page_size=5000';
page_of('?page_size=' . ('9' x 30), 1000, "\x{dc}n\x{ef}code fa\x{e7}ade",
        'Bulk 109', '30-digit page_size: the maximum');
page_of('?page_size=2147483648', 1000, "\x{dc}n\x{ef}code fa\x{e7}ade",
        'Bulk 109', 'page_size past int: the maximum');
page_of('?page_size=18446744073709551617', 1000,
        "\x{dc}n\x{ef}code fa\x{e7}ade", 'Bulk 109',
        'page_size past uint64: the maximum');
page_of('?page_size=5&page_size=5000', 1000, "\x{dc}n\x{ef}code fa\x{e7}ade",
        'Bulk 109', 'repeated page_size: the last');
$r = page_of('?page_size=5000&page=2', 108, 'Bulk 108', 'Bulk 1',
             'page 2 of 1000-sized pages');
is $r->{json}{next}, undef, 'no page 3';
is $r->{json}{previous}, "$B/images?page_size=5000", 'previous of page 2';
$r = page_of('?page_size=5000&page=last', 108, 'Bulk 108', 'Bulk 1',
             'page=last with the maximum size');
invalid_page('/images?page_size=5000&page=3', 'page 3 of 1000-sized pages');
$r = page_of('?page=12', 8, 'Bulk 8', 'Bulk 1', 'page 12 of the default size');
is $r->{json}{previous}, "$B/images?page=11", 'previous of page 12';
is $r->{json}{next}, undef, 'next of page 12';
page_of('?page=last', 8, 'Bulk 8', 'Bulk 1', 'page=last: 12');
invalid_page('/images?page=13', 'page 13 of the default size');
page_of('?page=last&page_size=1', 1, 'Bulk 1', 'Bulk 1',
        'page=last with size 1');
page_of("?page=$N&page_size=1", 1, 'Bulk 1', 'Bulk 1', "page $N of size 1");
invalid_page("/images?page=@{[$N + 1]}&page_size=1", 'one past, size 1');
$r = $t->get('/images?created_by__username=dave&page_size=1000');
is $r->{json}{count}, 1100, 'the filter counts all 1100';
is scalar @{ $r->{json}{results} }, 1000, 'and pages them';
is $r->{json}{next}, "$B/images?created_by__username=dave&page=2&page_size=1000",
    'next keeps the filter';
$r = $t->get('/images?search=bulk&page_size=1000&page=2');
is $r->{json}{count}, 1100, 'search counts all 1100';
is scalar @{ $r->{json}{results} }, 100, 'page 2 has the rest';

# ==== hostile parameters ===================================================
sub snapshot {
    return join ';', map {
        $t->sql_value("SELECT count(*) || ':' || md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM $_ x")
    } qw(users images tags image_tags image_versions image_members api_tokens);
}
my $before = snapshot();
my $images_before = $t->sql_value('SELECT count(*) FROM images');
is $images_before, 1112, '1112 rows in images before the hostile batch';

my @hostile = (
    # [query, status, expected count or undef, name]
    ["search=' OR 1=1 --", 200, 0, 'SQL in search'],
    ["search=%27%20OR%20%271%27%3D%271", 200, 0, 'SQL in search, encoded'],
    ["search=%27%29%3B%20DELETE%20FROM%20images%3B%20--", 200, 0,
     'DELETE in search'],
    ["search=%5C%27%3B%20DROP%20TABLE%20images%3B%20--", 200, 0,
     'backslash quote in search'],
    ["created_by__username=alice' OR '1'='1", 200, 0, 'SQL in the creator'],
    ["created_by__username=alice%27%20OR%20%271%27%3D%271", 200, 0,
     'SQL in the creator, encoded'],
    ["created_by__username=%27%3B%20UPDATE%20images%20SET%20is_public%3Dtrue%3B--",
     200, 0, 'UPDATE in the creator'],
    ["tags__name=ubuntu%27%3B%20DROP%20TABLE%20images%3B%20--", 200, 0,
     'SQL in the tag'],
    ["tags__name=%25", 200, 0, "'%' in the tag"],
    ["page=1%3B%20DELETE%20FROM%20images", 404, undef, 'SQL in page'],
    ["page_size=1%3B%20DELETE%20FROM%20images", 200, $N, 'SQL in page_size'],
    ["search=%24%24%3B%20DELETE%20FROM%20images%3B%20%24%24", 200, 0,
     'dollar quoting in search'],
    ["search=genom%00ics", 200, 1, 'NUL in search is dropped: genomics'],
    ["search=%00", 200, $N, 'search of a NUL only: no filter'],
    ["search=%00genomics%00&page_size=1", 200, 1, 'NULs around a term'],
    ["foo=%00", 200, $N, 'NUL in an unknown parameter'],
    ["%00=1", 200, $N, 'NUL in a parameter name'],
    ["page_size=%00", 200, $N, 'NUL in page_size: default'],
    ["page=%00", 404, undef, 'NUL in page'],
    ["search=%FF%FE", 200, 0, 'invalid UTF-8 in search'],
    ["search=%C3", 200, 0, 'truncated UTF-8 in search'],
    ["search=%ED%A0%80", 200, 0, 'UTF-16 surrogate in search'],
    ["search=%C0%AF", 200, 0, 'overlong UTF-8 in search'],
    ["created_by__username=%FF%FE", 200, 0, 'invalid UTF-8 in the creator'],
    ["created_by__username=alice%FF", 200, 0,
     'invalid UTF-8 after a real name'],
    ["tags__name=%FF%FE", 200, 0, 'invalid UTF-8 in the tag'],
    ["tags__name=ubuntu%C3", 200, 0, 'truncated UTF-8 after a real tag'],
    ["page=%FF%FE", 404, undef, 'invalid UTF-8 in page'],
    ["page_size=%FF%FE", 200, $N, 'invalid UTF-8 in page_size'],
    ["%FF%FE=%FF%FE", 200, $N, 'invalid UTF-8 in a parameter name'],
    ["search=100%", 200, 1, "a bare '%' at the end is literal"],
    ["search=%ZZ", 200, 0, "a malformed escape is literal"],
    ["search=%", 200, 1, "a lone '%'"],
    ["search=%2", 200, 0, "a truncated escape"],
    ["&&&=&==&search=genomics&&", 200, 1, 'empty pairs'],
    ["search=genomics#fragment", 200, 1, 'fragment'],
    ["search=" . ('%25' x 2000), 200, 0, "2000 '%'"],
    ["search=" . ('_' x 5000), 200, 0, "5000 '_'"],
    ["search=" . ('%5C' x 3000), 200, 0, "3000 '\\'"],
    ["search=" . ('x' x 60000), 200, 0, '60 KB search term'],
    ["search=" . join(',', ('ubuntu') x 8500), 200, 3,
     '8500 terms in 60 KB'],
    ["search=" . join('+', map { $_ % 2 ? 'ubuntu' : 'LINUX' } 1 .. 1000),
     200, 3, '1000 search terms'],
    ["search=" . join('+', map { "t$_" } 1 .. 1000), 400, undef,
     '1000 distinct terms: over ImagesSearchMaxTerms'],
    ["created_by__username=" . ('a' x 60000), 200, 0, '60 KB creator'],
    ["tags__name=" . ('%FF' x 20000), 200, 0, '20000 bad bytes in the tag'],
    ["page_size=" . ('9' x 60000), 200, $N, '60000-digit page_size'],
    ["page=" . ('9' x 60000), 404, undef, '60000-digit page'],
    ["page=" . ('0' x 60000) . '1', 200, $N, '60000 leading zeros'],
    ["page=99999999999999999999", 404, undef, '20-digit page'],
    ["page=9223372036854775807&page_size=1000", 404, undef,
     'page at INT64_MAX'],
    ["page=922337203685477580&page_size=1000", 404, undef,
     'page times size past INT64_MAX'],
    ["page=last&page_size=" . ('9' x 40), 200, $N, 'last with a huge size'],
    [join('&', map { "p$_=$_" } 1 .. 5000), 200, $N, '5000 parameters'],
    [join('&', ('search=ubuntu') x 3000), 200, 3, '3000 repeated searches'],
);
for my $h (@hostile) {
    my ($q, $status, $count, $name) = @$h;
    (my $path = "/images?$q") =~ s/ /%20/g;
    my $res = $t->get($path);
    subtest "hostile: $name" => sub {
        is $res->{status}, $status, "status $status";
        ok $res->{json}, 'a JSON body';
        is $res->{json}{count}, $count, "count $count" if defined $count;
        is_deeply $res->{json}, { detail => 'Invalid page.' }, 'Invalid page.'
            if $status == 404;
    };
}
$r = $t->get('/images?search=genom%00ics');
is_deeply ids($r), [3], 'NUL dropped from search: image 3';
for my $p (qw(created_by__username tags__name)) {
    for my $v ('%00', 'alice%00', '%00alice', 'ali%00ce', '%20%00%20') {
        $r = $t->get("/images?$p=$v");
        is $r->{status}, 400, "$p=$v: 400";
        is_deeply $r->{json}, { $p => ['Null characters are not allowed.'] },
            "$p=$v: field error";
    }
}
$r = $t->get('/images?created_by__username=%00&created_by__username=alice');
is $r->{status}, 200, 'NUL in an earlier, overridden creator: fine';
is_deeply ids($r), [12, 1], 'and the last value counts';
# a NUL in page_size: not a number (Python's int), so the default, not 12
for my $v ('1%002', '5%00', '%005') {
    $r = $t->get("/images?page_size=$v");
    is scalar @{ $r->{json}{results} || [] }, 100,
        "page_size=$v: the default size";
}
# links keep what the client sent, NULs included (DRF's QueryDict keeps
# them); a name with a NUL is not a parameter the API knows
$r = $t->get('/images?page_size=1&x=a%00b&search%00=zzz&pa%00ge=9');
is $r->{json}{count}, $N, 'search%00 is not search';
is $r->{json}{next}, "$B/images?pa%00ge=9&page=2&page_size=1&search%00=zzz"
    . '&x=a%00b', 'next keeps NULs as %00, sorted by code point';

# just over LimitRequestLine (65536): httpd answers before the module
$r = $t->get('/images?search=' . ('x' x 66000));
is $r->{status}, 414, 'request line over the limit: 414 from httpd';

is snapshot(), $before, 'no data changed by the hostile batch';
is $t->sql_value('SELECT count(*) FROM images'), $images_before,
    'images count unchanged';
list_is('/images?search=genomics', [6, 3], 'the service still answers',
        %alice);
unlike $t->error_log, qr/exit signal|Segmentation|AddressSanitizer|double free/,
    'no child crashed';

# ==== ImagesPageSize, ImagesMaxPageSize, ImagesBaseURL ======================
my $t2 = ImagesTest->new(conf_in_location => "    ImagesPageSize 3\n    ImagesMaxPageSize 5\n    ImagesBaseURL https://api.example.org/v1/images");
my $U = 'https://api.example.org/v1/images';
$r = $t2->get('/images');
is $r->{status}, 200, 'directives: 200';
is $r->{json}{count}, 8, 'directives: count';
is_deeply ids($r), [11, 9, 12], 'ImagesPageSize 3: default page of 3';
is $r->{json}{next}, "$U?page=2", 'ImagesBaseURL in next';
is $r->{json}{previous}, undef, 'no previous';
$r = $t2->get('/images?page=2');
is_deeply ids($r), [4, 10, 3], 'page 2 of 3';
is $r->{json}{next}, "$U?page=3", 'next of page 2';
is $r->{json}{previous}, $U, 'previous of page 2: the base URL alone';
$r = $t2->get('/images?page=3&search=u');
is_deeply ids($r), [2, 1], 'page 3 of a search';
like $r->{json}{previous}, qr/^\Q$U?\E/, 'previous starts with the base URL';
is $r->{json}{previous}, "$U?page=2&search=u", 'previous keeps the search';
$r = $t2->get('/images?page_size=10');
is_deeply ids($r), [11, 9, 12, 4, 10], 'ImagesMaxPageSize 5: 10 means 5';
is $r->{json}{next}, "$U?page=2&page_size=10", 'next with the base URL';
like $r->{json}{next}, qr/^\Q$U?\E/, 'next starts with the base URL';
$r = $t2->get('/images?page_size=10&page=2');
is_deeply ids($r), [3, 2, 1], 'page 2 of size 5';
is $r->{json}{previous}, "$U?page_size=10", 'previous of page 2';
$r = $t2->get('/images?page_size=' . ('9' x 30));
is_deeply ids($r), [11, 9, 12, 4, 10], 'huge page_size: the maximum 5';
$r = $t2->get('/images?page_size=4');
is_deeply ids($r), [11, 9, 12, 4], 'page_size 4 below the maximum';
for my $v ('0', '-1', 'abc', '') {
    $r = $t2->get("/images?page_size=$v");
    is_deeply ids($r), [11, 9, 12], "page_size=$v: the default 3";
}
$r = $t2->get('/images?page=last');
is_deeply ids($r), [2, 1], 'page=last of 3-sized pages';
is $r->{json}{previous}, "$U?page=2", 'its previous';
my $res = $t2->get('/images?page=4');
is $res->{status}, 404, 'page 4 of 3-sized pages: 404';
is_deeply $res->{json}, { detail => 'Invalid page.' }, 'Invalid page.';
$r = $t2->get('/images/?page=2');
is $r->{json}{next}, "$U?page=3", '/images/ uses the base URL too';
$r = $t2->raw("GET /images HTTP/1.0\r\nHost: evil.example:1\r\n\r\n");
is $r->{json}{next}, "$U?page=2", 'the Host header does not change it';
$r = $t2->get('/images', %alice);
is $r->{json}{count}, 10, 'alice on the second server';
is_deeply ids($r), [11, 9, 6], 'her first page of 3';

done_testing;
