# The derived data (the copies in image_tags of their image's columns, the
# counts; sql/derived.sql) and the tags and versions the API shows stay
# equal to what
# the tables say through every kind of direct change to the tables, and the
# API shows the tables, never a stale copy: an operator's own SQL is as good
# as a PATCH.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use JSON::PP ();
use ImagesTest;

my $t = ImagesTest->new;

# tag links whose copy of their image's listing columns is not the image's
sub stale_links {
    return $t->sql_value(<<'SQL');
SELECT count(*) FROM image_tags it JOIN images i ON i.id = it.image_id
 WHERE (it.start_date, it.is_public, it.end_date, it.created_by)
       IS DISTINCT FROM (i.start_date, i.is_public, i.end_date, i.created_by)
SQL
}
# kept counts that differ from a count of the images
sub stale_counts {
    return $t->sql_value(<<'SQL');
SELECT (SELECT n FROM image_counts WHERE what = 'public_open')
       IS DISTINCT FROM (SELECT count(*) FROM images
                          WHERE is_public AND end_date IS NULL)
       OR EXISTS ((SELECT created_by, public_open FROM creator_counts
                    WHERE public_open <> 0
                   EXCEPT SELECT created_by, count(*) FROM images
                    WHERE is_public AND end_date IS NULL GROUP BY 1)
                  UNION ALL
                  (SELECT created_by, count(*) FROM images
                    WHERE is_public AND end_date IS NULL GROUP BY 1
                   EXCEPT SELECT created_by, public_open FROM creator_counts))
SQL
}
sub after {
    my ($what, $sql) = @_;
    $t->sql($sql) if $sql;
    is stale_counts(), 'f', "kept counts right after $what";
    is stale_links(), 0, "tag links' image columns right after $what";
}
sub tags_of {
    my ($id) = @_;
    my $r = $t->get("/images/$id");
    return join ',', map { "$_->{id}:$_->{name}" } @{ $r->{json}{tags} || [] };
}
sub versions_of {
    my ($id) = @_;
    my $r = $t->get("/images/$id");
    return join ',', map { $_->{name} } @{ $r->{json}{versions} || [] };
}

after('the sample');

# ---- tags ----------------------------------------------------------------
is tags_of(2), '2:centos', 'image 2 as loaded';
after('adding tags to two images in one statement',
      'INSERT INTO image_tags VALUES (2, 4), (2, 1), (7, 4)');
is tags_of(2), '2:centos,4:gpu,1:ubuntu', 'new tags shown, by name';
after('moving a tag link to another tag',
      'UPDATE image_tags SET tag_id = 5 WHERE image_id = 2 AND tag_id = 4');
is tags_of(2), '2:centos,1:ubuntu,5:workshop', 'moved link shown';
after('moving a tag link to another image',
      'UPDATE image_tags SET image_id = 8 WHERE image_id = 7 AND tag_id = 4');
after('renaming a tag (changes the order)',
      "UPDATE tags SET name = 'aaa-ubuntu' WHERE id = 1");
is tags_of(2), '1:aaa-ubuntu,2:centos,5:workshop', 'renamed tag, re-ordered';
like $t->get('/images?search=aaa-ubuntu')->{content}, qr/"id":2\b/,
    'renamed tag found by search';
after('a tag description change',
      "UPDATE tags SET description = 'New words' WHERE id = 5");
is $t->get('/images/2')->{json}{tags}[2]{description}, 'New words',
    'new description shown';
after('deleting a tag (cascades to its links)', 'DELETE FROM tags WHERE id = 5');
is tags_of(2), '1:aaa-ubuntu,2:centos', 'deleted tag gone';
after('deleting links', 'DELETE FROM image_tags WHERE image_id = 2');
is tags_of(2), '', 'no tags: empty list';

# ---- versions ------------------------------------------------------------
is versions_of(2), '7.1', 'image 2 versions as loaded';
after('adding versions',
      "INSERT INTO image_versions (image_id, name, start_date) VALUES"
      . " (2, '7.2', '2016-01-01'), (2, '7.0', '2014-01-01'), (3, 'x', now())");
is versions_of(2), '7.0,7.1,7.2', 'new versions shown, by start_date';
after('ending one', "UPDATE image_versions SET end_date = now() - interval"
                    . " '1 second' WHERE image_id = 2 AND name = '7.0'");
is versions_of(2), '7.1,7.2', 'ended version left out';
after('moving a version to another image',
      "UPDATE image_versions SET image_id = 9 WHERE image_id = 2"
      . " AND name = '7.2'");
is versions_of(2), '7.1', 'moved version gone';
like versions_of(9), qr/7\.2/, 'moved version shown on its new image';

# a version that ends with no write: the module leaves it out against the
# database's clock.  It is read while its end is still ahead by that clock
# (checked after the read; a loaded machine may read too late: then again,
# further ahead), and then until it is gone, with a generous deadline.
my ($shown, $ahead) = ('', 'f');
for my $secs (3, 10, 30) {
    $t->sql("UPDATE image_versions SET end_date = now() + interval"
            . " '$secs seconds' WHERE image_id = 2 AND name = '7.1'");
    $shown = versions_of(2);
    $ahead = $t->sql_value("SELECT end_date > now() FROM image_versions"
                           . " WHERE image_id = 2 AND name = '7.1'");
    last if $ahead eq 't';
}
is $shown, '7.1', 'not ended yet: shown';
after('a version ending a few seconds ahead');
my $deadline = time + 90;
my $left;
sleep 0.2 while ($left = versions_of(2)) ne '' && time < $deadline;
is $left, '', 'ended since: left out';
my ($listed) = grep { $_->{id} == 2 } @{ $t->get('/images')->{json}{results} };
is_deeply $listed->{versions}, [], 'left out in the list too';
after('deleting versions', 'DELETE FROM image_versions WHERE image_id = 2');

# ---- loads under replica mode, TRUNCATE, a catalogue older than the columns
after('a load under session_replication_role = replica',
      "BEGIN; SET LOCAL session_replication_role = replica;"
      . " INSERT INTO image_tags VALUES (2, 6);"
      . " INSERT INTO image_versions (image_id, name) VALUES (2, 'r1'); COMMIT;");
is tags_of(2), '6:bioinformatics', 'tag loaded under replica mode shown';
after('TRUNCATE image_versions', 'TRUNCATE image_versions');
is versions_of(1), '', 'no versions after TRUNCATE';
after('TRUNCATE image_tags', 'TRUNCATE image_tags');
is tags_of(1), '', 'no tags after TRUNCATE';

$t->load_sql("$ImagesTest::TOP/sql/sample.sql");
after('sample.sql again');

# ---- what image_tags copies of its image, as a tag filter reads it ------
sub ids_of {
    my ($query, %auth) = @_;
    my $r = $t->get("/images?$query", %auth);
    return join ',', map { $_->{id} } @{ $r->{json}{results} || [] };
}
my %alice = (token => 'alice-token-0123456789abcdef');
is ids_of('tags__name=docker'), '12,4,1', 'docker images as loaded';
my $r = $t->request(PATCH => '/images/1', %alice,
                    json => { is_public => JSON::PP::false, tags => [1, 3, 4] });
is $r->{status}, 200, 'PATCH: private, and a new tag, at once';
after('a PATCH of visibility and tags together');
is ids_of('tags__name=docker'), '12,4', 'anonymous: the private image left';
is ids_of('tags__name=gpu', %alice), '4,1', 'its creator: there, new tag too';
after('an image ended directly',
      "UPDATE images SET end_date = now() - interval '1 day' WHERE id = 4");
is ids_of('tags__name=gpu', %alice), '1', 'ended image left the tag filter';
after('an image given to another creator',
      'UPDATE images SET created_by = 3 WHERE id = 12');
is ids_of('tags__name=docker&created_by__username=carol'), '12',
    'tag and creator filter follow the new creator';
after('a start date moved',
      "UPDATE images SET start_date = '2030-01-01', end_date = NULL"
      . ' WHERE id = 4');
is ids_of('tags__name=docker'), '4,12', 'tag filter in the new order';
after('links rewritten with wrong copies',
      "UPDATE image_tags SET is_public = false, start_date = '1999-01-01'"
      . ' WHERE image_id = 12');
is ids_of('tags__name=docker'), '4,12', 'copies are the image\'s, not the writer\'s';
after('sample.sql again', '');
$t->load_sql("$ImagesTest::TOP/sql/sample.sql");

# ---- a tag's new text is shown and found at once ------------------------
$t->sql("UPDATE tags SET description = 'raced text' WHERE id = 6");
like $t->get('/images/3')->{content}, qr/raced text/, 'new text shown';
like $t->get('/images?search=raced')->{content}, qr/"id":3\b/,
    'new text found by search';
after('a tag\'s text changed');

# a tag updated without changing its text rewrites no image
my $xmin = $t->sql_value('SELECT xmin FROM images WHERE id = 1');
$t->sql('UPDATE tags SET description = description');
is $t->sql_value('SELECT xmin FROM images WHERE id = 1'), $xmin,
    'an UPDATE of tags that changes no text rewrites no image';

# links and versions loaded before their image, without foreign-key checks
after('links and versions before their image (replica mode)',
      'BEGIN; SET LOCAL session_replication_role = replica;'
      . ' INSERT INTO image_tags (image_id, tag_id) VALUES (900, 2);'
      . " INSERT INTO image_versions (image_id, name) VALUES (900, 'v9');"
      . " INSERT INTO images (id, name, created_by)"
      . " VALUES (900, 'Late', 1); COMMIT;");
is tags_of(900), '2:centos', 'its tags';
is versions_of(900), 'v9', 'its versions';
like $t->get('/images?tags__name=centos')->{content}, qr/"id":900\b/,
    'found by its tag';

# ---- PATCHes of one creator's images at once -----------------------------
# each changes words and counts others change too: none may fail (a
# deadlock would be a 500 after one retry) nor leave a count wrong
my @mine = map { $_->[0] } @{ $t->sql(
    "SELECT id FROM images WHERE created_by = 1 AND (end_date IS NULL"
    . " OR end_date > now()) ORDER BY id LIMIT 4") };
cmp_ok scalar(@mine), '>=', 2, 'alice has images to PATCH at once';
my @kids;
for my $k (0 .. $#mine) {
    my $pid = fork // die $!;
    if (!$pid) {
        my $bad = 0;
        for my $i (1 .. 30) {
            my $words = ($i + $k) % 2 ? 'swapa swapb' : 'swapb swapc';
            my $r = $t->request(PATCH => "/images/$mine[$k]", %alice,
                                json => { description => "$words k$k",
                                          is_public => ($i % 2 ? JSON::PP::true
                                                      : JSON::PP::false) });
            $bad++ if $r->{status} != 200;
        }
        exit($bad ? 1 : 0);
    }
    push @kids, $pid;
}
my $failed = 0;
for (@kids) { waitpid $_, 0; $failed++ if $? }
is $failed, 0, 'every concurrent PATCH answered 200';
after('concurrent PATCHes trading words');
is $t->get('/images?search=swapb')->{json}{count},
   $t->sql_value(q{SELECT count(*) FROM images WHERE is_public
                    AND (end_date IS NULL OR end_date > now())
                    AND description LIKE '%swapb%'}),
   'and the words are found';

# ---- a PATCH's cost stays bounded: no table that only grows -------------
# descriptions of 60 KB of random words, 20 at a time: once vacuumed, the
# second 20 leave the database as large as the first left it (space freed
# is used again; the search tables of an earlier design kept every word
# for good, 16 MB a PATCH)
my $size = sub { $t->sql('VACUUM'); $t->sql_value(
    q{SELECT pg_database_size(current_database())}) };
my $twenty = sub {
    for my $k (1 .. 20) {
        my $words = join ' ', map {
            join '', map { ('a' .. 'z')[rand 26] } 1 .. 9 } 1 .. 6000;
        my $r = $t->request(PATCH => '/images/1', %alice,
                            json => { description => $words });
        is $r->{status}, 200, 'a PATCH of 60 KB of new words' if $k == 1;
    }
    return $size->();
};
my $first = $twenty->();
my $second = $twenty->();
cmp_ok $second - $first, '<', 1024 * 1024,
    sprintf('20 more such PATCHes grew the database by %.1f MB',
            ($second - $first) / 1048576);
done_testing;
