# Search through the index of the words of each image's text (sql/derived.sql,
# sql/indexes.sql) finds exactly what the contract says (every term matches,
# case-insensitively as a substring, the image's name or description or one
# of its tags' name or description): random texts full of separators and
# LIKE metacharacters, random terms, and the answer of the API compared
# with a query of the base tables that knows nothing of the search text; then
# again after writes of every kind.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Encode qw(encode_utf8 decode_utf8);
use JSON::PP ();
use ImagesTest;

binmode $_, ':encoding(UTF-8)'
    for map { Test::More->builder->$_ } qw(output failure_output todo_output);
my $seed = $ENV{SEARCH_SEED} || 20261130;
srand($seed);
note "SEARCH_SEED=$seed";

my $t = ImagesTest->new;
my %alice_tok = (token => 'alice-token-0123456789abcdef');
my $alice = $t->sql_value("SELECT id FROM users WHERE username = 'alice'");

my @WORDS = ('alpha', 'Beta', 'gamma', 'DELTA', "caf\x{e9}", "\x{dc}NI",
             "\x{41c}\x{43e}\x{441}\x{43a}\x{432}\x{430}", "\x{20ac}uro",
             '50%off', 'a_b', 'x\\y', 'ab', 'bab', "it's", 'Ga',
             # long words (an index entry holds at most about 2,700 bytes)
             ('q' x 300) . 'Midpoint' . ('r' x 150),
             ("\x{e9}" x 201) . 'gamma');
# every separator of a search term, and characters that are not one
my @SEPS = (' ', ',', "\t", "\x0b", "\x0c", "\r", "\n", ', ', '  ',
            '-', '.', ';', "\x{a0}");
sub text {
    my $n = 1 + int rand 5;
    my $s = $WORDS[rand @WORDS];
    $s .= $SEPS[rand @SEPS] . $WORDS[rand @WORDS] for 2 .. $n;
    return $s;
}
sub q_lit { my $s = encode_utf8($_[0]); return "\$q\$$s\$q\$" }

# 150 images of three creators over six years, some private, some ended,
# some with an end date to come;
# 12 tags, random links (i.id > 0 has the tags drawn again for each image);
# some private images shared with alice, a few of the shares ended
my $bob = $t->sql_value("SELECT id FROM users WHERE username = 'bob'");
my $carol = $t->sql_value("SELECT id FROM users WHERE username = 'carol'");
my @values;
for my $i (1 .. 150) {
    my $public = rand() < 0.8 ? 'true' : 'false';
    my $r = rand;
    my $end = $r < 0.05 ? "now() - interval '1 day'"
            : $r < 0.15 ? "now() + interval '30 days'" : 'NULL';
    my $start = "now() - interval '" . int(rand 2200) . " days'";
    push @values, '(' . join(', ', q_lit(text()), q_lit(text()),
                             ($alice, $bob, $carol)[rand 3], $public, $end,
                             $start) . ')';
}
# public images ending just before and after now, and further off
my $edge = "to_timestamp(floor(extract(epoch FROM now()) / 8388608)"
         . " * 8388608)";
for my $end ("$edge - interval '1 microsecond'", $edge,
             "now() - interval '1 second'", "now() + interval '1 hour'",
             "$edge + interval '8388607.999999 seconds'",
             "$edge + interval '8388608 seconds'") {
    push @values, '(' . join(', ', q_lit(text()), q_lit(text()),
                             ($alice, $bob, $carol)[rand 3], 'true', $end,
                             "now() - interval '" . int(rand 2200) . " days'")
                . ')' for 1 .. 2;
}
$t->sql('INSERT INTO images (name, description, created_by, is_public,'
        . ' end_date, start_date) VALUES ' . join(', ', @values));
$t->sql(qq{INSERT INTO image_members (image_id, user_id, end_date)
           SELECT id, $alice, CASE WHEN random() < 0.2
                                   THEN now() - interval '1 hour' END
             FROM images WHERE NOT is_public AND created_by <> $alice
              AND random() < 0.6 ON CONFLICT DO NOTHING});
$t->sql('INSERT INTO tags (name, description) VALUES '
        . join(', ', map { '(' . q_lit("t$_ " . text()) . ', '
                           . q_lit(text()) . ')' } 1 .. 12));
$t->sql(q{INSERT INTO image_tags (image_id, tag_id)
          SELECT DISTINCT i.id, t.id FROM images i
            JOIN LATERAL (SELECT id FROM tags WHERE name LIKE 't%'
                             AND i.id > 0
                           ORDER BY random() LIMIT 2) t ON true
           WHERE i.name NOT LIKE 'Sample%' AND random() < 0.5});

sub like_pattern {
    my ($term) = @_;
    $term =~ s/([\\%_])/\\$1/g;
    return "%$term%";
}
# who asks: anonymous, alice by her token, bob by Basic
my %AS = (anonymous => {},
          alice => { uid => $alice, auth => { %alice_tok } },
          bob => { uid => $bob,
                   auth => { user => 'bob', password => 'bob-pw' } });
# a creator or a tag asked for with the search (compare), as the query
# string says it and as SQL on images i
our $FILTER;
# the contract, on the base tables
sub expected {
    my ($search, $as) = @_;
    my $uid = $as ? $as->{uid} : undef;
    my @terms = grep { length } split /[ \t\n\x0b\x0c\r,]+/, $search;
    my $where = join '', map {
        my $p = q_lit(like_pattern($_));
        " AND (lower(i.name) LIKE lower($p) OR lower(i.description) LIKE"
        . " lower($p) OR EXISTS (SELECT 1 FROM image_tags it JOIN tags t"
        . " ON t.id = it.tag_id WHERE it.image_id = i.id AND"
        . " (lower(t.name) LIKE lower($p)"
        . " OR lower(t.description) LIKE lower($p))))"
    } @terms;
    my $who = defined $uid
        ? " OR i.created_by = $uid OR EXISTS (SELECT 1 FROM image_members m"
          . " WHERE m.image_id = i.id AND m.user_id = $uid"
          . " AND (m.end_date IS NULL OR m.end_date > now()))"
        : '';
    $where .= $FILTER->{sql} if $FILTER;
    my $rows = $t->sql('SELECT id FROM images i WHERE (i.is_public' . $who
                       . ') AND (i.end_date IS NULL OR i.end_date > now())'
                       . $where . ' ORDER BY i.start_date DESC, i.id DESC');
    return join ',', map { $_->[0] } @$rows;
}
sub uri {
    my $s = encode_utf8($_[0]);
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ge;
    return $s;
}
# every page of the search, one after the other, as the caller sees them:
# their ids, checked against the count of each page and page=last
sub found {
    my ($search, $as, $size) = @_;
    my %auth = $as && $as->{auth} ? %{ $as->{auth} } : ();
    $size ||= 1000;
    my (@ids, @last, $count);
    for my $page (1 .. 1000) {
        my $r = $t->get("/images?page_size=$size&page=$page&search="
                        . uri($search) . ($FILTER ? $FILTER->{qs} : ''),
                        %auth);
        return "status $r->{status} on page $page"
            unless $r->{status} == 200;
        $count //= $r->{json}{count};
        return "count $r->{json}{count} then $count"
            if $r->{json}{count} != $count;
        @last = map { $_->{id} } @{ $r->{json}{results} };
        push @ids, @last;
        last unless $r->{json}{next};
    }
    return "count $count, " . scalar(@ids) . ' images' if $count != @ids;
    my $r = $t->get("/images?page_size=$size&page=last&search="
                    . uri($search) . ($FILTER ? $FILTER->{qs} : ''), %auth);
    my $got = join ',', map { $_->{id} } @{ $r->{json}{results} || [] };
    return "page=last [$got], the last page [@last]"
        if $got ne join ',', @last;
    return join ',', @ids;
}
# a random search: pieces of the words, in any case, sometimes two or
# three terms, sometimes a piece of text across a separator
sub random_search {
    my @terms;
    for (0 .. int rand 3) {
        my $w = rand() < 0.2 ? text() : $WORDS[rand @WORDS];
        my $from = int rand length $w;
        my $piece = substr $w, $from, 1 + int rand(length($w) - $from);
        $piece = rand() < 0.5 ? uc $piece : lc $piece if rand() < 0.3;
        push @terms, $piece;
    }
    return join $SEPS[rand 9], @terms;
}
sub compare {
    my ($what, $n) = @_;
    my ($same, $hits, @bad) = (0, 0);
    for (1 .. $n) {
        my $s = random_search();
        my $as = (sort keys %AS)[rand keys %AS];
        my $size = (1000, 1 + int rand 9, 1 + int rand 40)[rand 3];
        my ($want, $got) = (expected($s, $AS{$as}),
                            found($s, $AS{$as}, $size));
        if ($want eq $got) {
            $same++;
            $hits++ if length $want;
        } else {
            push @bad, "search '$s' as $as, pages of $size:"
                       . " want [$want] got [$got]";
        }
    }
    is $same, $n, "$what: $n random searches answer as the contract says"
        or diag join "\n", @bad[0 .. ($#bad < 4 ? $#bad : 4)];
    # the comparison means something only if searches find images
    cmp_ok $hits, '>', $n / 4, "$what: most of them find images";
}
compare('loaded', 150);
my ($tag3_id, $tag3) = @{ $t->sql("SELECT id, name FROM tags"
                                   . " WHERE name LIKE 't3 %'")->[0] };
$tag3 = decode_utf8($tag3);
# with a creator or a tag too (their statements find the search's images
# first, apart: store.c)
for my $f (['created_by__username=alice', "i.created_by = $alice"],
           ['created_by__username=bob', "i.created_by = $bob"],
           ['tags__name=' . uri($tag3), "EXISTS (SELECT 1 FROM image_tags"
            . " x WHERE x.image_id = i.id AND x.tag_id = $tag3_id)"],
           ['created_by__username=alice&tags__name=' . uri($tag3),
            "i.created_by = $alice AND EXISTS (SELECT 1 FROM image_tags"
            . " x WHERE x.image_id = i.id AND x.tag_id = $tag3_id)"]) {
    local $FILTER = { qs => "&$f->[0]", sql => " AND $f->[1]" };
    compare("with $f->[0]", 30);
}
for my $s ("ga\x0bmm", "ha\x0cbe", 'pha,be', '50%o', 'a_b x\\y', "\x{e9}",
           "\x{fc}ni", 'lta;ga', "lta\x{a0}ga", '%', '_', "it's") {
    is found($s), expected($s), "search '$s'";
}

# a word of any length (the body limit is the only one)
my $long = ('w' x 3000) . 'Needle' . ('w' x 3000);
my $id = $t->sql_value("SELECT id FROM images WHERE created_by = $alice"
                       . " AND is_public AND end_date IS NULL ORDER BY id"
                       . " DESC LIMIT 1");
my $r = $t->request(PATCH => "/images/$id", %alice_tok,
                    json => { description => "$long tail" });
is $r->{status}, 200, 'PATCH with a word of 6,006 characters';
is found('needle'), $id, 'found by a piece of the long word';
is found('eedl tail'), $id, 'and with a term of a short word';
is found('wneedlew'), $id, 'a piece across the middle';
# a term longer than the 32 characters the index keeps of a suffix: the
# index finds its first 32, LIKE the rest
is found('needle' . 'w' x 40), $id, 'a term of 46 characters';
is found('needle' . 'w' x 3001), '', 'one character more than the text has';

# a text over 8 KB has no suffixes in the index (sql/derived.sql): it is
# found through its own index and LIKE
my $huge = join(' ', ('filler') x 3000) . ' Haystack' . ('z' x 40) . 'end';
my $huge_id = $t->sql_value("SELECT id FROM images WHERE created_by = $alice"
    . " AND is_public AND end_date IS NULL AND id <> $id ORDER BY id DESC"
    . " LIMIT 1");
$r = $t->request(PATCH => "/images/$huge_id", %alice_tok,
                 json => { description => $huge });
is $r->{status}, 200, 'PATCH with a description of ' . length($huge)
    . ' characters';
for my $s ('haystack', 'STACKzz', 'haystack' . 'z' x 40 . 'end',
           'filler haystack', 'k' . 'z' x 41) {
    is found($s), expected($s), "search '$s' with a text over 8 KB";
}
like found('haystack'), qr/\b$huge_id\b/, '... which finds it';
is found('haystack' . 'z' x 41), '', '... and not with one z too many';
# such a text found through a tag only
$t->sql("INSERT INTO tags (name) VALUES ('zebrafinch');"
        . " INSERT INTO image_tags (image_id, tag_id) SELECT $huge_id, id"
        . " FROM tags WHERE name = 'zebrafinch'");
is found('zebrafinch'), $huge_id, 'a text over 8 KB found by its tag';
is found('ZEBRAfinch haystack'), $huge_id, '... with a term of its text';
# a tag whose text is over 8 KB (a tag's text is matched with LIKE, whatever
# its length)
$t->sql("INSERT INTO tags (name, description) VALUES ('longtag', '"
        . join(' ', ('padding') x 1200) . " Wallaroo.Den');"
        . " INSERT INTO image_tags (image_id, tag_id) SELECT $id, id"
        . " FROM tags WHERE name = 'longtag'");
for my $s ('wallaroo', 'ROO.de', 'wallaroo needle', 'wallaroox') {
    is found($s), expected($s), "search '$s' with a tag over 8 KB";
}
is found('wallaroo'), $id, '... which finds its image';
is found('wallaroox'), '', '... and not with one letter too many';

# name and description of 8,191 bytes together: indexed; of 8,192: the
# mark, and LIKE decides (store.c's bound is the function's, in bytes as
# written: Ⱥ lower-cased grows from 2 to 3)
my %edge;
for my $n (8191, 8192) {
    my $head = ("\x{23a}" x 100) . " bndmark$n ";
    my $fill = $n - length("Edge$n") - length(encode_utf8($head));
    $edge{$n} = $t->sql_value("INSERT INTO images (name, description,"
        . " created_by) VALUES ('Edge$n', '" . encode_utf8($head)
        . ('y' x $fill) . "', $alice) RETURNING id");
    is $t->sql_value("SELECT octet_length(name) + octet_length(description)"
        . " FROM images WHERE id = $edge{$n}"), $n, "an image of $n bytes";
    is found("bndmark$n"), $edge{$n}, '... found by its word';
}
for my $s ('xqzvw', "\x{2c65}" x 3, 'yyyy bndmark8192', 'edge8') {
    is found($s), expected($s), "search '$s' at the 8 KB bound";
}
unlike found('xqzvw'), qr/\b(?:$edge{8191}|$edge{8192})\b/,
    '... a term in neither finds neither';

# a term that matches many different words
$t->sql(q{INSERT INTO images (name, description, created_by) SELECT
          'Many ' || g, 'zqk' || g || ',lone' || g, } . $alice
        . q{ FROM generate_series(1, 40) g});
for my $s ('zqk', 'ZQK1', 'zqk lone3', 'qk3 many', 'zqk2 one2 a_b') {
    my $want = expected($s);
    is found($s), $want, "search '$s'";
}
isnt expected('zqk'), '', '... which finds images';

# writes of every kind bring new words, which are found at once
my @ids = map { $_->[0] } @{ $t->sql("SELECT id FROM images"
                                     . " WHERE created_by = $alice AND is_public"
                                     . " AND end_date IS NULL"
                                     . " ORDER BY id LIMIT 3") };
$r = $t->request(PATCH => "/images/$ids[0]", %alice_tok,
                    json => { description => "Quokka,zebra42\tnewword Qz" });
is $r->{status}, 200, 'PATCH with new words';
is found('quokka'), $ids[0], 'a word new with a PATCH is found';
is found('ebra4 wword'), $ids[0], 'pieces of two new words';
# a term of two characters is looked up in the index (its suffixes of two):
# at the end of a run (42: version 3 missed it), as a whole run (qZ), inside
# a run (a4, a prefix of a longer suffix), in any letter case
for my $term ('42', 'qZ', 'a4') {
    is found($term), expected($term), "'$term' answers as the contract says";
    like found($term), qr/(^|,)$ids[0](,|$)/, "'$term' finds the new text";
}
$t->sql("UPDATE images SET name = 'Wombat Land' WHERE id = $ids[1]");
is found('wombat'), $ids[1], 'a word new with an UPDATE of a name';
$t->sql("UPDATE tags SET description = 'Numbat habitat' WHERE name LIKE 't1 %'");
is found('numbat'), expected('numbat'), 'a word new in a tag description';
isnt expected('numbat'), '', '... which some images have';
cmp_ok $t->sql_value('SELECT count(DISTINCT tag_id) FROM image_tags'), '>', 6,
    'the images have tags of all sorts';
$t->sql("INSERT INTO tags (name, description) VALUES ('t99 echidna', 'spiny');"
        . " INSERT INTO image_tags (image_id, tag_id)"
        . " SELECT $ids[2], id FROM tags WHERE name = 't99 echidna'");
is found('echidna spin'), $ids[2], 'a word new with a new tag link';
$t->sql("INSERT INTO images (name, description, created_by)"
        . " VALUES ('Platypus', 'egg', $alice)");
like found('platyp'), qr/^\d+$/, 'a word new with a new image';
$t->sql("UPDATE images SET description = 'gone' WHERE id = $ids[0]");
is found('quokka'), '', 'a word no image has any more finds nothing';
# writes that move images between the bitmaps: visibility, dates, ids,
# deletes
$r = $t->request(PATCH => "/images/$ids[1]", %alice_tok,
                 json => { is_public => JSON::PP::false });
is $r->{status}, 200, 'PATCH making an image private';
$r = $t->request(PATCH => "/images/$ids[2]", %alice_tok,
                 json => { end_date => '2999-01-01T00:00:00Z' });
is $r->{status}, 200, 'PATCH giving an image an end date to come';
$t->sql(q{UPDATE images SET is_public = NOT is_public
           WHERE id % 7 = 3 AND name NOT LIKE 'Sample%'});
$t->sql(q{UPDATE images SET end_date = CASE id % 3
                              WHEN 0 THEN NULL
                              WHEN 1 THEN now() + interval '9 days'
                              ELSE now() - interval '9 days' END
           WHERE id % 5 = 1 AND name NOT LIKE 'Sample%'});
$t->sql(q{UPDATE images SET start_date = start_date - interval '400 days'
           WHERE id % 4 = 2 AND name NOT LIKE 'Sample%'});
my $lone = $t->sql_value(q{SELECT min(id) FROM images i
    WHERE name NOT LIKE 'Sample%' AND is_public AND end_date IS NULL
      AND NOT EXISTS (SELECT 1 FROM image_tags WHERE image_id = i.id)
      AND NOT EXISTS (SELECT 1 FROM image_members WHERE image_id = i.id)
      AND NOT EXISTS (SELECT 1 FROM image_versions WHERE image_id = i.id)});
ok $lone, "an image with nothing pointing at it ($lone)";
$t->sql("UPDATE images SET id = 50000 + $lone, name = 'Moved'"
        . " || ' ' || name WHERE id = $lone");
like found('moved'), qr/\b5\d{4}\b/, 'found under its new id';
$t->sql(q{DELETE FROM image_members WHERE image_id IN
            (SELECT id FROM images WHERE id % 9 = 4
                AND name NOT LIKE 'Sample%');
          DELETE FROM image_tags WHERE image_id IN
            (SELECT id FROM images WHERE id % 9 = 4
                AND name NOT LIKE 'Sample%');
          DELETE FROM image_versions WHERE image_id IN
            (SELECT id FROM images WHERE id % 9 = 4
                AND name NOT LIKE 'Sample%');
          DELETE FROM images WHERE id % 9 = 4
             AND name NOT LIKE 'Sample%'});
push @WORDS, 'quokka', 'wombat', 'numbat', 'echidna', 'platypus', 'moved';
compare('after writes', 100);

# many visible matches over many years, ids negative too: every page
$t->sql(qq{INSERT INTO images (id, name, description, created_by, is_public,
                               end_date, start_date)
           SELECT (g - 1250) * 2749, 'Bulk ' || g,
                  CASE WHEN g % 2 = 0 THEN 'bulkword alpha'
                                     ELSE 'bulkword,beta' END,
                  (ARRAY[$alice, $bob, $carol])[1 + g % 3], g % 10 <> 0,
                  CASE WHEN g % 17 = 0 THEN now() + interval '5 days'
                       WHEN g % 19 = 0 THEN now() - interval '5 days' END,
                  now() - g * interval '37 hours'
             FROM generate_series(1, 2500) g});
$t->sql(qq{INSERT INTO image_members (image_id, user_id)
           SELECT id, $alice FROM images
            WHERE name LIKE 'Bulk %' AND NOT is_public
              AND created_by <> $alice AND id % 3 = 0});
for my $c (['bulkword', 'anonymous', 97], ['bulkword', 'alice', 250],
           ['ULKWOR alph', 'bob', 61], ['bulkword beta', 'anonymous', 1000],
           ['bulk,beta', 'alice', 333]) {
    my ($s, $as, $size) = @$c;
    my $want = expected($s, $AS{$as});
    my $n = () = $want =~ /\d+/g;
    cmp_ok $n, '>', 1000, "'$s' as $as: more than 1,000 matches ($n)";
    is found($s, $AS{$as}, $size), $want,
        "'$s' as $as, every page of $size and page=last";
}

done_testing;
