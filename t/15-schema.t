# sql/schema.sql creates version 4 (and upgrades versions 1 to 3) and is
# safe to run again (it changes nothing at its own version); the search text
# and the counts stay right through every kind of change.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use ImagesTest;

my $t = ImagesTest->new(no_httpd => 1);
my $snapshot = sub {
    $t->sql_value("SELECT md5(string_agg(x, ',' ORDER BY x)) FROM ("
        . " SELECT (i.id, i.uuid, i.name, i.description, i.created_by,"
        . " i.is_public, i.icon, i.start_date, i.end_date)::text x FROM images i"
        . " UNION ALL SELECT u::text FROM users u"
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

is $t->sql_value('SELECT max(version) FROM schema_version'), 4,
    'the schema is at version 4';
is $t->sql_value('SELECT count(*) FROM schema_version'), 1,
    'running it again adds no version row';
# every object of the schema, with its definition
my $objects = sub {
    $t->sql_value(q{SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
        SELECT c.relname || ':' || c.relkind::text x FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace
        UNION ALL SELECT tgname || tgenabled::text FROM pg_trigger
         WHERE NOT tgisinternal
        UNION ALL SELECT md5(pg_get_functiondef(p.oid)) FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace
        UNION ALL SELECT indexrelid::regclass::text || pg_get_indexdef(indexrelid)
          FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
         WHERE c.relnamespace = 'public'::regnamespace) o});
};
my $had = $objects->();
$t->load_sql("$ImagesTest::TOP/sql/schema.sql");
is $objects->(), $had, 'nor changes any table, trigger, function or index';
# (no bespoke search machinery: one index of the words' suffixes)
my $gin = sub {
    $t->sql_value(q{SELECT string_agg(indexrelid::regclass::text, ','
        ORDER BY 1) FROM pg_index WHERE indrelid = 'images'::regclass
         AND pg_get_indexdef(indexrelid) LIKE '%gin%'});
};
is $gin->(), 'images_search_idx', 'the one GIN index of images: its words';

# what the index holds: each run of letters and digits, and its suffixes of
# two characters or more, up to 32 of them; a mark for a text over 8 KB
my $words = sub {
    $t->sql_value("SELECT array_to_string(tsvector_to_array("
        . "images_search_words($_[0], '')), ' ')");
};
is $words->(q{'x.org gcc-12 ab'}), '12 ab cc gcc org rg',
   'suffixes of two or more';
is $words->(q{'wörld'}), 'ld rld wörld örld', 'letters as the locale says';
is $t->sql_value("SELECT count(*) || ' ' || max(length(x)) FROM unnest("
    . "tsvector_to_array(images_search_words("
    . "'abcdefghijklmnopqrstuvwxyz0123456789', ''))) x"), '35 32',
   'a suffix for each start, 32 characters of it at most';
is $words->("repeat('abc ', 2047) || 'Abc'"), 'abc bc',
   'under 8 KB of name and description: indexed (lower-cased)';
# every character beyond ASCII is a letter, whatever the locale says
my $finds = sub {
    $t->sql_value("SELECT images_search_words(\$t\$$_[0]\$t\$, '')"
                  . " @@ images_search_query(\$t\$$_[1]\$t\$)");
};
is $finds->("\xe2\x82\xacuro x\xe2\x80\x94y\xe2\x80\x94z", $_), 't',
   "$_ found" for "%\xe2\x82\xacur%", "%y\xe2\x80\x94z%", '%uro x%';
is $finds->("\xe2\x82\xacuro", '%uro2%'), 'f', 'and not what is not there';
is $words->("repeat('abc ', 2048)"), '!long', '8 KB: a mark';
# PostgreSQL 17 builds and vacuums indexes with search_path pg_catalog only
is $t->sql_value("SET search_path = pg_catalog, pg_temp;"
    . " REINDEX INDEX public.images_search_idx;"
    . " SELECT array_to_string(tsvector_to_array("
    . "public.images_search_words('Ab', 'cDe')), ' ')"), 'ab cde de',
   'the index builds with no public in the search_path';
is $t->sql_value("SELECT array_to_string(tsvector_to_array("
    . "images_search_words('Name', 'Description')), ' ')"),
   'ame cription description escription ion iption me name on ption'
   . ' ription scription tion',
   'name and description, each its own run';
is $t->sql_value("SELECT images_search_query('%x.org\\_gcc-12%')::text"),
   q{'12':* & 'gcc':* & 'org':* | '!long'},
   'a term asks for its runs of two or more as prefixes';
is $t->sql_value("SELECT images_search_query('%' || repeat('abc.', 50)"
                 . " || 'abcdef-abcde-abcd-abcdefg%')::text"),
   q{'abcd':* & 'abcde':* & 'abcdef':* & 'abcdefg':* | '!long'},
   'its four longest runs at most, each once';

# a database of a later version than these files: refused, nothing changed
$t->sql('INSERT INTO schema_version (version) VALUES (99)');
my $out = eval { $t->load_sql("$ImagesTest::TOP/sql/schema.sql"); 1 }
          ? '' : $@;
like $out, qr/schema version 99, newer than these files/,
     'schema.sql refuses a newer schema';
$t->sql('DELETE FROM schema_version WHERE version = 99');

my $search = sub {
    my ($id) = @_;
    # newlines shown as | (the harness reads psql's output line by line)
    return $t->sql_value("SELECT replace(images_search_text(name,"
        . " description), chr(10), '|') FROM images WHERE id = $id") // '';
};
is $search->(1), 'ubuntu 14.04 lts|minimal ubuntu 14.04 server with'
    . ' cloud-init and security updates applied.',
    'the search text is name and description, lower-cased';
$t->sql("INSERT INTO images (id, name, description, created_by)"
        . " VALUES (500, 'Legacy', 'OLD Row', 1)");
is $search->(500), "legacy|old row", 'a new image has it';
$t->sql("UPDATE images SET name = 'Renamed' WHERE id = 500");
is $search->(500), "renamed|old row", 'name changed';
is $t->sql_value("SELECT count(*) FROM pg_attribute WHERE attrelid ="
    . " 'images'::regclass AND attname LIKE '%search%'"), 0,
   'images keeps no copy of it';
is $t->sql_value("SELECT search_text FROM tags WHERE id = 2"),
   'centos', 'a tag has its own (name and an empty description)';
$t->sql("UPDATE tags SET description = 'Community ENTerprise OS' WHERE id = 2");
is $t->sql_value("SELECT replace(search_text, chr(10), '|') FROM tags"
                 . " WHERE id = 2"), 'centos|community enterprise os',
   'and follows its text';

# dates the API could not write are refused (docs/api.md)
for my $c (['images', 'start_date', 'infinity'],
           ['images', 'end_date', '-infinity'],
           ['images', 'end_date', '10000-01-01 00:00:00+00'],
           ['images', 'start_date', '0001-12-31 23:59:59+00 BC'],
           ['image_versions', 'start_date', 'infinity'],
           ['image_versions', 'end_date', '294276-01-01']) {
    my ($table, $col, $v) = @$c;
    my $sql = $table eq 'images'
        ? "INSERT INTO images (name, created_by, $col) VALUES ('x', 1, '$v')"
        : "INSERT INTO image_versions (image_id, name, $col)"
          . " VALUES (1, 'x', '$v')";
    my $out = eval { $t->sql($sql); 1 } ? '' : $@;
    like $out, qr/violates check constraint "${table}_dates_ok"/,
        "$table.$col = $v refused";
}
$t->sql(q{INSERT INTO images (id, name, created_by, start_date, end_date)
          VALUES (501, 'Edges', 1, '0001-01-01 00:00:00+00',
                  '9999-12-31 23:59:59.999999+00')});
is $t->sql_value('SELECT count(*) FROM images WHERE id = 501'), 1,
   'the first and the last microsecond of years 1 to 9999 are taken';
$t->sql('DELETE FROM images WHERE id = 501');

# api_tokens keeps the SHA-256 of what a writer inserts
$t->sql(q{INSERT INTO api_tokens (key, user_id) VALUES ('plain-secret', 1)});
is $t->sql_value(q{SELECT count(*) FROM api_tokens
    WHERE key = encode(sha256('plain-secret'::bytea), 'hex')}), 1,
    'a token inserted in plain is kept as its digest';
$t->sql(q{UPDATE api_tokens SET expires_at = now() + interval '1 day'
          WHERE user_id = 1});
is $t->sql_value(q{SELECT count(*) FROM api_tokens
    WHERE key = encode(sha256('plain-secret'::bytea), 'hex')}), 1,
    'an update of another column leaves the digest alone';
$t->sql(q{UPDATE api_tokens SET key = 'new-secret'
          WHERE key = encode(sha256('plain-secret'::bytea), 'hex')});
is $t->sql_value(q{SELECT count(*) FROM api_tokens
    WHERE key = encode(sha256('new-secret'::bytea), 'hex')}), 1,
    'a new key is digested too';
$t->sql(q{DELETE FROM api_tokens
          WHERE key = encode(sha256('new-secret'::bytea), 'hex')});

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
# versions 1 (a trigram index) and 2 (an index of the words' suffixes),
# both over a stored search_text, brought to 4: every row kept, the column
# and its index gone, a new index that finds the same rows
my %old = (1 => 'CREATE INDEX images_search_trgm_idx'
                . ' ON images USING gin (search_text gin_trgm_ops)',
           2 => 'CREATE FUNCTION images_search_words(t text) RETURNS tsvector'
                . ' LANGUAGE sql IMMUTABLE AS $$ SELECT images_search_words(t,'
                . " '') \$\$; CREATE INDEX images_search_idx ON images"
                . ' USING gin (images_search_words(search_text))');
$t->sql('CREATE EXTENSION IF NOT EXISTS pg_trgm');
for my $v (1, 2) {
    $t->sql('DROP INDEX images_search_idx;'
        . ' ALTER TABLE images ADD COLUMN search_text text GENERATED ALWAYS'
        . " AS (lower(name || chr(10) || description)) STORED; $old{$v};"
        . ' DELETE FROM schema_version;'
        . " INSERT INTO schema_version (version) VALUES ($v)");
    my $found = $t->sql_value("SELECT string_agg(id::text, ',' ORDER BY id)"
        . " FROM images WHERE search_text LIKE '%ubuntu%'");
    my $rows = $snapshot->();
    like $found, qr/^\d+(,\d+)+$/, "version $v finds ubuntu";
    $t->load_sql("$ImagesTest::TOP/sql/schema.sql");
    is $t->sql_value('SELECT string_agg(version::text, \',\' ORDER BY 1)'
                     . ' FROM schema_version'), "$v,4",
       "version $v upgraded to 4";
    is $snapshot->(), $rows, 'every row kept';
    is $gin->(), 'images_search_idx', 'one GIN index, the new one';
    is $t->sql_value("SELECT count(*) FROM pg_attribute WHERE attrelid ="
        . " 'images'::regclass AND attname = 'search_text'"), 0,
       'the stored text gone';
    is $t->sql_value("SET enable_seqscan = off; SELECT string_agg(id::text,"
        . " ',' ORDER BY id) FROM images WHERE images_search_words(name,"
        . " description) @@ images_search_query('%ubuntu%')"), $found,
       'the new index finds the same images';
}

# version 3: suffixes of three characters or more.  Its index misses a run
# that ends in a term of two ("14.04": "04"); brought to 4, the index is built
# again and finds every image with the term, every row kept.
my $v3 = $t->top . '/sql/derived.sql';
open my $fh, '<', $v3 or die "$v3: $!";
my ($v3_words) = do { local $/; <$fh> }
    =~ /(CREATE OR REPLACE FUNCTION images_search_words\(.*?\n\$\$;)/s;
close $fh;
ok $v3_words =~ s/length\(w\) - 1\)/length(w) - 2)/, 'version 3 words';
$v3_words =~ s/\s+/ /g;     # (the harness reads SQL as one line)
my $by_index = sub {
    $t->sql_value("SET enable_seqscan = off; SELECT string_agg(id::text,"
        . " ',' ORDER BY id) FROM images WHERE images_search_words(name,"
        . " description) @@ '04:*'::tsquery") // '';
};
my $by_like = $t->sql_value("SELECT string_agg(id::text, ',' ORDER BY id)"
    . " FROM images WHERE images_search_text(name, description) LIKE '%04%'"
    . " AND octet_length(name) + octet_length(description) < 8192");
like $by_like, qr/^\d+(,\d+)+$/, 'images with 04 in their text';
$t->sql("$v3_words; REINDEX INDEX images_search_idx;"
        . ' DELETE FROM schema_version;'
        . ' INSERT INTO schema_version (version) VALUES (3)');
my $rows = $snapshot->();
isnt $by_index->(), $by_like, 'version 3: the index misses some';
$t->load_sql("$ImagesTest::TOP/sql/schema.sql");
is $t->sql_value('SELECT string_agg(version::text, \',\' ORDER BY 1)'
                 . ' FROM schema_version'), '3,4', 'version 3 upgraded to 4';
is $snapshot->(), $rows, 'every row kept';
is $gin->(), 'images_search_idx', 'one GIN index';
is $by_index->(), $by_like, 'the index built again finds every one';

done_testing;
