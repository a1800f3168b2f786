# The module works as a database role with only the grants that
# docs/configuration.md lists (read from that page, so the page and the
# test cannot drift apart): every statement the module prepares, and every
# trigger a PATCH fires, with no more rights than those.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use ImagesTest;

my $t = ImagesTest->new(no_httpd => 1);

open my $fh, '<', "$ImagesTest::TOP/docs/configuration.md" or die $!;
my $doc = do { local $/; <$fh> };
my ($block) = $doc =~ /\n```\n(GRANT .*?)```\n/s
    or die "no GRANT block in docs/configuration.md\n";
my @grants = $block =~ /(GRANT\b[^;]*;)/g;
cmp_ok scalar @grants, '>=', 3, 'the grants are read from the page';
$t->sql('CREATE ROLE "www-data" LOGIN');
$t->sql($_) for @grants;
is $t->sql_value(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'www-data'}),
    'f', 'the role is not a superuser';

$t->{dbdparams} = "host=$t->{pgsock} port=$t->{pgport} dbname=images"
                  . ' user=www-data connect_timeout=2';
$t->start_httpd;

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
patch({ end_date => undef }, 'open again');
my ($kept, $real) = @{ $t->sql(q{SELECT (SELECT public_open FROM creator_counts
    WHERE created_by = 2), (SELECT count(*) FROM images WHERE created_by = 2
    AND is_public AND end_date IS NULL)})->[0] };
is $kept, $real, 'the kept count followed';
unlike $t->error_log, qr/permission denied/, 'no permission error logged';

# the function that runs with its owner's rights is no way around them
my $out = eval { $t->sql(q{CREATE TEMP TABLE tags (id bigint, name text,
    description text); SELECT images_refresh_tags('{4}')}); 1 } ? '' : $@;
like $out, qr/runs from the triggers only/,
    'images_refresh_tags cannot be called outside a trigger';
$t->sql(q{CREATE ROLE nobody_else LOGIN});
$out = eval { $t->sql(q{SET ROLE nobody_else;
    SELECT images_refresh_tags('{4}')}); 1 } ? '' : $@;
like $out, qr/permission denied for function images_refresh_tags/,
    'nor by a role not granted EXECUTE';

done_testing;
