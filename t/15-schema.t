# sql/schema.sql is safe to run again on a live database, fills search_text
# for rows that predate it, and keeps it right through every kind of change.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use ImagesTest;

my $t = ImagesTest->new(no_httpd => 1);
my $snapshot = sub {
    $t->sql_value("SELECT md5(string_agg(x, ',' ORDER BY x)) FROM ("
        . " SELECT i::text x FROM images i UNION ALL SELECT u::text FROM users u"
        . " UNION ALL SELECT t::text FROM tags t UNION ALL"
        . " SELECT it::text FROM image_tags it UNION ALL"
        . " SELECT v::text FROM image_versions v UNION ALL"
        . " SELECT m::text FROM image_members m UNION ALL"
        . " SELECT k::text FROM api_tokens k) s");
};
my $before = $snapshot->();
$t->load_sql("$ImagesTest::TOP/sql/schema.sql");
$t->load_sql("$ImagesTest::TOP/sql/schema.sql");
is $snapshot->(), $before, 'running schema.sql twice more changes no row';

# a database from before images.search_slot: schema.sql gives every image
# its slot and places its bits there
$t->sql("ALTER TABLE images DROP COLUMN search_slot CASCADE;"
        . " DROP TABLE search_slots");
$t->load_sql("$ImagesTest::TOP/sql/schema.sql");
is $t->sql_value("SELECT count(*) FROM images WHERE search_slot IS NULL"), 0,
    'schema.sql gives the images of an older schema their slots';
is $t->stale_search_bits, 0, 'and their bits';

# slots taken in a transaction, some of them in a savepoint rolled back:
# no slot taken twice (images_slot_idx is unique), all in their buckets
$t->sql("BEGIN;"
    . " INSERT INTO images (name, created_by, start_date)"
    . "  SELECT 'Slot ' || g, 1, now() - g * interval '3 days'"
    . "  FROM generate_series(1, 40) g;"
    . " SAVEPOINT a;"
    . " INSERT INTO images (name, created_by, start_date)"
    . "  SELECT 'Gone ' || g, 1, now() - g * interval '3 days'"
    . "  FROM generate_series(1, 40) g;"
    . " ROLLBACK TO SAVEPOINT a;"
    . " INSERT INTO images (name, created_by, start_date)"
    . "  SELECT 'Slot again ' || g, 1, now() - g * interval '3 days'"
    . "  FROM generate_series(1, 40) g;"
    . " COMMIT;");
is $t->sql_value("SELECT count(*) FROM images WHERE name LIKE 'Slot %'"), 80,
    'images inserted around a savepoint rolled back';
is $t->stale_search_bits, 0, 'their slots and bits are right';
$t->sql("DELETE FROM images WHERE name LIKE 'Slot %'");

# start dates at the ends of time have buckets of their own (0, 99999999)
$t->sql("INSERT INTO images (name, created_by, start_date) VALUES"
        . " ('Slot early', 1, '-infinity'), ('Slot late', 1, 'infinity'),"
        . " ('Slot ancient', 1, '0044-03-15 BC')");
is $t->sql_value("SELECT string_agg((search_slot >> 24)::text, ','"
                 . " ORDER BY start_date) FROM images"
                 . " WHERE name LIKE 'Slot %'"),
    '0,' . $t->sql_value("SELECT search_bucket('0044-03-15 BC')::bigint")
    . ',99999999', 'their slots in the first and last buckets';
is $t->stale_search_bits, 0, 'and their bits';
$t->sql("UPDATE images SET start_date = now() WHERE name = 'Slot late'");
is $t->stale_search_bits, 0, 'moved from the last bucket to now';
$t->sql("DELETE FROM images WHERE name LIKE 'Slot %'");
is $t->stale_search_bits, 0, 'and deleted';

my $search = sub {
    my ($id) = @_;
    # newlines shown as | (the harness reads psql's output line by line)
    return $t->sql_value("SELECT replace(search_text, chr(10), '|') FROM"
                         . " images WHERE id = $id") // '';
};
like $search->(1), qr/^ubuntu 14\.04 lts\|.*\|ubuntu\|ubuntu linux/s,
    'search_text holds name, description and tags, lower-cased';

# an image that predates the column
$t->sql("ALTER TABLE images DISABLE TRIGGER images_search_text;"
        . " INSERT INTO images (id, name, description, created_by)"
        . " VALUES (500, 'Legacy', 'old row', 1);"
        . " ALTER TABLE images ENABLE TRIGGER images_search_text;");
is $search->(500), '', 'a row loaded without the trigger has none';
$t->load_sql("$ImagesTest::TOP/sql/schema.sql");
is $search->(500), "legacy|old row", 'schema.sql fills it in';
$t->sql("ALTER TABLE images DISABLE TRIGGER images_search_text;"
        . " UPDATE images SET search_text = 'Old|Mixed Case' WHERE id = 500;"
        . " ALTER TABLE images ENABLE ALWAYS TRIGGER images_search_text;");
$t->load_sql("$ImagesTest::TOP/sql/schema.sql");
is $search->(500), "legacy|old row", 'schema.sql lower-cases an older search_text';

$t->sql("INSERT INTO image_tags VALUES (500, 4)");
like $search->(500), qr/\|gpu\|/, 'tag added';
$t->sql("UPDATE image_tags SET tag_id = 2 WHERE image_id = 500");
unlike $search->(500), qr/\|gpu\|/, 'tag link moved: old tag gone';
like $search->(500), qr/\|centos\|/, 'tag link moved: new tag there';
$t->sql("UPDATE tags SET description = 'Community ENTerprise OS' WHERE id = 2");
like $search->(500), qr/community enterprise os/, 'tag description changed';
$t->sql("UPDATE images SET name = 'Renamed' WHERE id = 500");
like $search->(500), qr/^renamed\|/, 'name changed';
$t->sql("DELETE FROM image_tags WHERE image_id = 500");
is $search->(500), "renamed|old row", 'tag removed';
$t->sql("INSERT INTO image_tags VALUES (500, 1), (500, 3)");
$t->sql("DELETE FROM tags WHERE id = 3");
unlike $search->(500), qr/docker/, 'deleted tag leaves search_text';

# image_counts keeps the number of public images with no end date, and
# creator_counts that of each creator
my $counted = sub {
    my ($label) = @_;
    my ($kept, $real) = @{ $t->sql("SELECT (SELECT n FROM image_counts"
        . " WHERE what = 'public_open'), (SELECT count(*) FROM images"
        . " WHERE is_public AND end_date IS NULL)")->[0] };
    is $kept, $real, "image_counts right after $label ($real)";
    # creators whose kept count is not their real one (a creator with
    # none may have a row of 0 or no row)
    is $t->sql_value(<<'SQL'), 0, "creator_counts right after $label";
SELECT count(*)
  FROM (SELECT created_by, public_open FROM creator_counts
         WHERE public_open <> 0) k
  FULL JOIN (SELECT created_by, count(*) AS n FROM images
              WHERE is_public AND end_date IS NULL GROUP BY created_by) r
    ON r.created_by = k.created_by
 WHERE k.public_open IS DISTINCT FROM r.n
SQL
};
$counted->('the sample');
$t->sql("INSERT INTO images (name, created_by) SELECT 'n' || g, 1"
        . " FROM generate_series(1, 50) g");
$counted->('an insert of 50');
$t->sql("UPDATE images SET is_public = false WHERE name IN ('n1', 'n2')");
$counted->('making two private');
$t->sql("UPDATE images SET end_date = now() - interval '1 day'"
        . " WHERE name = 'n3'");
$counted->('ending one');
$t->sql("UPDATE images SET end_date = NULL WHERE name = 'n3'");
$counted->('reopening it');
$t->sql("UPDATE images SET description = 'x' WHERE name LIKE 'n%'");
$counted->('an update that changes no count');
$t->sql("UPDATE images SET created_by = 2 WHERE name IN ('n6', 'n7')");
$counted->('giving two to another creator');
$t->sql("UPDATE images SET created_by = 3 - created_by, is_public = NOT is_public"
        . " WHERE name LIKE 'n%' AND created_by IN (1, 2)");
$counted->('swapping creators and visibility in one statement');
$t->sql("DELETE FROM images WHERE name IN ('n4', 'n5', 'n1')");
$counted->('a delete');
$t->run_cmd($t->psql_args('images'), '-v', 'n=300', '-f',
            "$ImagesTest::TOP/sql/generate.sql");
$counted->('sql/generate.sql');
$t->load_sql("$ImagesTest::TOP/sql/sample.sql");
$counted->('sample.sql again (TRUNCATE)');
$t->sql("UPDATE image_counts SET n = 12345; UPDATE creator_counts SET"
        . " public_open = public_open + 7; INSERT INTO creator_counts"
        . " VALUES (999999, 3)");
$t->load_sql("$ImagesTest::TOP/sql/schema.sql");
$counted->('schema.sql recounts');

done_testing;
