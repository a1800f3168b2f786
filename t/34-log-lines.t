# Log lines an operator can act on: every line the module writes carries
# its AH2xxxx code (docs/reliability.md lists them), is one line (libpq's
# trailing newline stripped), and names no internal statement label; the
# user of a token is the access log's user, also for a PATCH through the
# write pool.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use ImagesTest;

my %alice = (token => 'alice-token-0123456789abcdef');
my $t = ImagesTest->new(write_pool => 'application_name=images_write');

# a lost connection, a missing grant, a schema of another version
is $t->get('/images/1')->{status}, 200, 'served';
$t->sql(q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE usename = 'mod_images'});
is $t->get('/images/1')->{status}, 200, 'a killed connection: served';
$t->sql('REVOKE SELECT ON tags FROM mod_images');
my $r = $t->get('/images/1');
is $r->{status}, 500, 'a read without its grant: 500';
$r = $t->request(PATCH => '/images/1', %alice, json => { name => 'x' });
is $r->{status}, 500, 'a PATCH without it: 500';
$t->load_sql($t->top . '/sql/grants.sql', "role=$ImagesTest::ROLE");
$t->sql('UPDATE schema_version SET version = 99');
$t->sql(q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE usename = 'mod_images'});
is $t->get('/images/1')->{status}, 503, 'another schema version: 503';
$t->sql('UPDATE schema_version SET version = ' . $t->schema_version);
$t->stop_pg;
is $t->request(PATCH => '/images/1', %alice, json => { name => 'y' })
    ->{status}, 503, 'the database down: 503';
$t->restart_pg;
$r = $t->request(PATCH => '/images/1', %alice, json => { name => 'z' });
is $r->{status}, 200, 'back: 200' or diag $r->{content};

my @ours = grep { /\[images:/ } split /\n/, $t->error_log;
cmp_ok scalar(@ours), '>=', 5, scalar(@ours) . ' lines of the module';
# (after the client, and the APR status when there is one)
my @uncoded = grep { !/\] (?:\(\d+\)[^:]*: )?AH2\d{4}: / } @ours;
is scalar(@uncoded), 0, 'each with its code' or diag join "\n", @uncoded;
my @newline = grep { /\\n/ } @ours;
is scalar(@newline), 0, 'none with a newline in it'
    or diag join "\n", @newline;
my @labels = grep { /mod_images_(?!schema|write)\w+/ } @ours;
is scalar(@labels), 0, 'none naming a statement label'
    or diag join "\n", @labels;
my %codes = map { /(AH2\d{4}): / ? ($1 => 1) : () } @ours;
ok $codes{$_}, "$_ logged" for qw(AH20006 AH20008 AH20013 AH20101);

# the token's user in the access log, for the PATCH through the write pool
open my $al, '<', "$t->{dir}/access_log" or die $!;
my @patches = grep { /"PATCH \/images\/1 .* 200 / } <$al>;
like $patches[-1] // '', qr/^\S+ \S+ alice \[/,
    'the access log names the token\'s user';
done_testing;
