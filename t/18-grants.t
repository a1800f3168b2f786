# The module works as the role sql/grants.sql makes (the harness connects
# as it, README's install steps run the same file): every statement the
# module prepares and every trigger a PATCH fires run with those rights,
# and the role can do nothing more than the module needs.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP ();
use ImagesTest;

my $t = ImagesTest->new;
my $role = $ImagesTest::ROLE;
is $t->sql_value("SELECT rolsuper OR rolcreaterole OR rolcreatedb"
                 . " FROM pg_roles WHERE rolname = '$role'"),
    'f', 'the role is no superuser and creates nothing';
is $t->sql_value("SELECT count(*) FROM pg_class c WHERE pg_get_userbyid("
                 . "c.relowner) = '$role'"), 0, 'and owns no table';

my %bob = (token => 'bob-token-0123456789abcdef');
my %alice = (user => 'alice', password => 'alice-pw');
for my $path ('/images/1', '/images', '/images?page=last&page_size=2',
              '/images?created_by__username=bob',
              '/images?created_by__username=bob&page=2&page_size=1',
              '/images?tags__name=ubuntu', '/images?search=ubuntu+docker',
              '/images?search=u', '/images?created_by__username=bob'
              . '&tags__name=ubuntu&search=cuda') {
    my $r = $t->get($path, %bob);
    is $r->{status}, 200, "GET $path" or diag $r->{content};
}
is $t->get('/images', %alice)->{status}, 200,
   'Basic credentials (mod_authn_dbd as the same role)';

sub patch {
    my ($json, $what) = @_;
    my $r = $t->request(PATCH => '/images/4', %bob, json => $json);
    is $r->{status}, 200, "PATCH $what" or diag $r->{content};
    return $r;
}
patch({ description => 'Brand-new wordz here' }, 'with a new word');
like $t->get('/images?search=wordz')->{content}, qr/"id":4\b/,
    'the new word is found';
patch({ tags => [1, 2] }, 'of tags');
patch({ is_public => JSON::PP::false() }, 'making it private');
patch({ is_public => JSON::PP::true(),
        end_date => '2999-01-01T00:00:00Z' }, 'public with an end date');
patch({ end_date => undef, name => 'CUDA again' }, 'open again');
my ($kept, $real) = @{ $t->sql(q{SELECT (SELECT public_open FROM creator_counts
    WHERE created_by = 2), (SELECT count(*) FROM images WHERE created_by = 2
    AND is_public AND end_date IS NULL)})->[0] };
is $kept, $real, 'the kept count followed';
unlike $t->error_log, qr/permission denied/, 'no permission error logged';

# nothing more than that
for my $sql ('UPDATE images SET created_by = 1 WHERE id = 4',
             'UPDATE images SET start_date = now() WHERE id = 4',
             'DELETE FROM images WHERE id = 4',
             "INSERT INTO images (name, created_by) VALUES ('x', 1)",
             "INSERT INTO users (username) VALUES ('mallory')",
             "UPDATE users SET password_hash = 'x'",
             "INSERT INTO api_tokens (key, user_id) VALUES ('k', 1)",
             "UPDATE tags SET name = 'x' WHERE id = 1",
             "INSERT INTO image_members (image_id, user_id) VALUES (7, 1)",
             'DELETE FROM image_versions',
             'DELETE FROM schema_version',
             'UPDATE image_tags SET tag_id = 3 WHERE image_id = 4',
             'CREATE TABLE mine (x int)') {
    my $out = eval { $t->sql("SET ROLE $role; $sql"); 1 } ? '' : $@;
    like $out, qr/permission denied/, "the role may not: $sql";
}

# grants.sql again, and for a role whose name needs quoting
$t->load_sql("$ImagesTest::TOP/sql/grants.sql", "role=$role");
$t->load_sql("$ImagesTest::TOP/sql/grants.sql", 'role=www-data');
is $t->sql_value(q{SELECT has_table_privilege('www-data', 'images',
                   'SELECT')}), 't', 'a role named www-data, created';

done_testing;
