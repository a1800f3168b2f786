# An upgrade from the schema before versions (mod_images at commit ac59ff5,
# kept in t/data/) keeps every row: a catalogue loaded there, with the role
# granted as that release said, is migrated by sql/schema.sql and
# sql/grants.sql; every row of the API's tables is the same, and every
# image's representation, read through the module afterwards, is the one
# its rows gave before.  Until the migration the module answers 503 and
# says why in one log line; after it, it serves without a restart.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP ();
use ImagesTest;

srand($ENV{MIGRATE_SEED} || 20261202);
my $t = ImagesTest->new(schema => "$ImagesTest::TOP/t/data/schema-ac59ff5.sql",
                        no_httpd => 1);

# ---- a catalogue on the old schema ---------------------------------------
sub q_lit { my $s = $_[0]; return "\$q\$$s\$q\$" }
my @WORDS = qw(alpha Beta gamma DELTA 50%off a_b ab bab Ga quokka Zebra42);
push @WORDS, "caf\xc3\xa9", "\xc3\x9cNI";     # UTF-8 bytes, as psql reads
sub text { join ' ', map { $WORDS[rand @WORDS] } 1 .. 1 + int rand 6 }
my @values;
for my $i (1 .. 200) {
    my $r = rand;
    push @values, '(' . join(', ', q_lit(text()), q_lit(text()),
        1 + int rand 3, rand() < 0.8 ? 'true' : 'false',
        $r < 0.1 ? "now() - interval '1 day'"
        : $r < 0.2 ? "now() + interval '30 days'" : 'NULL',
        "now() - interval '" . int(rand 3000) . " days'"
        . " - interval '" . int(rand 1e6) . " microseconds'",
        rand() < 0.1 ? q_lit('/icons/' . int(rand 9) . '.png') : 'NULL')
        . ')';
}
$t->sql('INSERT INTO images (name, description, created_by, is_public,'
        . ' end_date, start_date, icon) VALUES ' . join(', ', @values));
$t->sql('INSERT INTO tags (name, description) VALUES '
        . join(', ', map { '(' . q_lit("t$_ " . text()) . ', '
                           . q_lit(text()) . ')' } 1 .. 10));
$t->sql(q{INSERT INTO image_tags (image_id, tag_id)
          SELECT i.id, t.id FROM images i, tags t
           WHERE i.id >= 1000 AND random() < 0.2});
$t->sql(q{INSERT INTO image_versions (image_id, name, start_date, end_date)
          SELECT i.id, 'v' || g, i.start_date + g * interval '1 day',
                 CASE WHEN random() < 0.3 THEN now() - interval '1 hour' END
            FROM images i, generate_series(1, 3) g
           WHERE i.id >= 1000 AND random() < 0.5});
$t->sql(q{INSERT INTO image_members (image_id, user_id, end_date)
          SELECT i.id, 1 + (i.created_by % 3), CASE WHEN random() < 0.3
                 THEN now() - interval '1 day' END
            FROM images i WHERE NOT i.is_public AND i.id >= 1000
             AND random() < 0.5});
# the grants of that release's docs/configuration.md
$t->sql(<<"SQL");
CREATE ROLE $ImagesTest::ROLE LOGIN;
GRANT SELECT ON users, images, tags, image_tags, image_versions,
    image_members, api_tokens, image_counts, creator_counts,
    search_vocab, search_bits, search_slots TO $ImagesTest::ROLE;
GRANT UPDATE ON images TO $ImagesTest::ROLE;
GRANT INSERT, UPDATE, DELETE ON image_tags TO $ImagesTest::ROLE;
GRANT UPDATE ON image_counts TO $ImagesTest::ROLE;
GRANT INSERT, UPDATE ON creator_counts TO $ImagesTest::ROLE;
GRANT INSERT ON search_vocab TO $ImagesTest::ROLE;
GRANT INSERT, UPDATE ON search_bits TO $ImagesTest::ROLE;
GRANT EXECUTE ON FUNCTION images_refresh_tags(bigint[]) TO $ImagesTest::ROLE;
SQL
# a date no page could render (the schema refuses it from now on)
$t->sql(q{INSERT INTO images (id, name, created_by, end_date)
          VALUES (990, 'Forever', 2, 'infinity')});
cmp_ok $t->sql_value('SELECT count(*) FROM search_bits'), '>', 0,
    'the old schema with its bitmaps';

# ---- the module of this release against it: 503, one clear line ---------
$t->start_httpd;
my $r = $t->get('/images/1');
is $r->{status}, 503, 'before the migration: 503';
is $r->{headers}{'content-type'}, 'application/json', 'JSON';
ok $r->{headers}{'retry-after'}, 'with Retry-After';
$t->get('/images') for 1 .. 5;
my @lines = grep { /database schema version/ } split /\n/, $t->error_log;
my $v = ImagesTest->schema_version;
like $lines[0] // '', qr/version 0 found, this mod_images needs version $v/,
    'the log names the version found and the one needed';
cmp_ok scalar(@lines), '<=', 16, 'once per connection, not per request';

# ---- what the rows say, before -------------------------------------------
my $ts = q{to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')};
my $repr = sprintf <<'SQL', map { sprintf $ts, $_ } qw(i.end_date i.start_date v.start_date);
SELECT json_build_object('id', i.id, 'uuid', i.uuid, 'name', i.name,
    'created_by', json_build_object('id', u.id, 'username', u.username),
    'description', i.description, 'end_date', %s, 'is_public', i.is_public,
    'icon', i.icon, 'start_date', %s,
    'tags', coalesce((SELECT json_agg(json_build_object('id', t.id,
        'name', t.name, 'description', t.description)
        ORDER BY t.name COLLATE "C", t.id) FROM image_tags it
        JOIN tags t ON t.id = it.tag_id WHERE it.image_id = i.id), '[]'),
    'versions', coalesce((SELECT json_agg(json_build_object('id', v.id,
        'name', v.name, 'start_date', %s) ORDER BY v.start_date, v.id)
        FROM image_versions v WHERE v.image_id = i.id
         AND (v.end_date IS NULL OR v.end_date > now())), '[]'))
  FROM images i JOIN users u ON u.id = i.created_by
 WHERE i.end_date IS NULL OR i.end_date > now() ORDER BY i.id
SQL
# (the tokens as their digests: before the migration, computed here)
my $rows = sub {
    my ($key) = @_;
    $t->sql_value(qq{SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
        SELECT row(id, uuid, name, description, created_by, is_public, icon,
                   start_date, end_date)::text x
          FROM images
        UNION ALL SELECT u::text FROM users u
        UNION ALL SELECT row(id, name, description)::text FROM tags
        UNION ALL SELECT row(image_id, tag_id)::text FROM image_tags
        UNION ALL SELECT v::text FROM image_versions v
        UNION ALL SELECT m::text FROM image_members m
        UNION ALL SELECT row($key, user_id, expires_at)::text
          FROM api_tokens) s});
};
my $json = JSON::PP->new->utf8;
my @before = map { $json->decode($_->[0]) } @{ $t->sql($repr) };
cmp_ok scalar(@before), '>', 150, 'images to compare: ' . scalar @before;
my $rows_before = $rows->(q{encode(sha256(convert_to(key, 'UTF8')), 'hex')});

# ---- the migration ---------------------------------------------------------
my $migrated = $t->load_sql("$ImagesTest::TOP/sql/schema.sql");
$t->grant;
is $t->sql_value(q{SELECT max(version) FROM schema_version}), $v,
    "migrated to version $v";
is $rows->('key'), $rows_before,
    'every row of the API\'s tables kept, the tokens as their SHA-256';
like $migrated, qr/images with a date outside years 1 to 9999 \(ids 990\)/,
    'the migration names the image whose date the schema now refuses';
is $t->sql_value(q{SELECT string_agg(conname || ':' || convalidated, ','
    ORDER BY conname) FROM pg_constraint WHERE conname LIKE '%dates_ok'}),
    'image_versions_dates_ok:true,images_dates_ok:false',
    'its constraint is left to validate, the other validated';
is $t->sql_value(q{SELECT count(*) FROM pg_class WHERE relname IN
    ('search_bits', 'search_vocab', 'search_slots')}), 0,
    'the bitmaps, words and slots are gone';
is $t->sql_value(q{SELECT count(*) FROM pg_attribute
    WHERE attrelid = 'images'::regclass AND NOT attisdropped
      AND attname IN ('search_words', 'search_long', 'search_slot',
                      'search_text', 'versions_json')}), 0,
    'and their columns (the search text is computed now)';
is $t->sql_value(q{SELECT count(*) FROM pg_trigger t JOIN pg_proc p
    ON p.oid = t.tgfoid WHERE p.proname LIKE 'search%'
       OR p.proname LIKE 'images_slot%'}), 0, 'and their triggers';
my @after = map { $json->decode($_->[0]) } @{ $t->sql($repr) };
is_deeply \@after, \@before, 'the rows give the same representations';

# ---- and the module serves them, without a restart -------------------------
my %pw = (1 => 'alice', 2 => 'bob', 3 => 'carol');
my ($same, @bad) = (0);
for my $want (@before) {
    my $who = $pw{ $want->{created_by}{id} } or next;
    next if $want->{id} == 990;
    my $r = $t->get("/images/$want->{id}", user => $who,
                    password => "$who-pw");
    if ($r->{status} == 200 && JSON::PP->new->canonical->encode($r->{json})
        eq JSON::PP->new->canonical->encode($want)) {
        $same++;
    } else {
        push @bad, "image $want->{id}: $r->{status} $r->{content}";
    }
}
is $same, scalar(@before) - 1, 'every image read through the module as before'
    or diag join "\n", @bad[0 .. ($#bad < 3 ? $#bad : 3)];
my $n = $t->sql_value(q{SELECT count(*) FROM images WHERE is_public
    AND (end_date IS NULL OR end_date > now())
    AND (name ILIKE '%quokka%' OR description ILIKE '%quokka%'
         OR EXISTS (SELECT 1 FROM image_tags it JOIN tags t ON t.id = it.tag_id
                     WHERE it.image_id = images.id AND (t.name ILIKE '%quokka%'
                        OR t.description ILIKE '%quokka%')))});
is $t->get('/images?search=quokka&page_size=1000')->{json}{count}, $n,
    'search through the new index';
$r = $t->request(PATCH => '/images/1', user => 'alice', password => 'alice-pw',
                 json => { description => 'Migrated and edited' });
is $r->{status}, 200, 'a PATCH as the migrated role';
unlike $t->error_log, qr/permission denied/, 'no permission error';

# the image with an end date of infinity: its page is served, the date
# written as null, and the log says which image
$r = $t->get('/images?page_size=1000');
is $r->{status}, 200, 'a page with the unrenderable date: 200';
my ($forever) = grep { $_->{id} == 990 } @{ $r->{json}{results} };
ok $forever && !defined $forever->{end_date}, 'its end_date sent as null';
like $t->error_log, qr/image 990 has a date outside years 1 to 9999/,
    'and logged';
# a token of before the migration still signs in, kept as its digest
is $t->get('/images/7', token => 'bob-token-0123456789abcdef')->{status},
   200, 'a token of before still works';
is $t->sql_value(q{SELECT count(*) FROM api_tokens
                    WHERE key LIKE '%token%'}), 0, 'no token kept in plain';
done_testing;
