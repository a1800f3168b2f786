# The plans PostgreSQL runs for each request shape, as executed through the
# module (auto_explain logs every statement with EXPLAIN ANALYZE), at N
# generated images.  For docs/performance.md.
#
#   perl bench/explain.pl --images 1000000 > plans.txt
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Getopt::Long;
use ImagesTest;
use Time::HiRes ();

$| = 1;
my $n = 1000000;
my $keep = 0;
GetOptions('images=i' => \$n, 'keep' => \$keep) or die;
my $t = ImagesTest->new(loglevel => 'warn', pg_options =>
    "-c shared_preload_libraries=auto_explain -c auto_explain.log_min_duration=-1"
    . " -c auto_explain.log_analyze=on -c auto_explain.log_buffers=on"
    . " -c auto_explain.log_nested_statements=on");
print STDERR "generating $n images...\n";
$t->run_cmd($t->psql_args('images'), '-v', "n=$n", '-f',
            "$ImagesTest::TOP/sql/generate.sql");
$t->sql("VACUUM ANALYZE");
$t->sql("INSERT INTO api_tokens VALUES ('explain-token', 1) ON CONFLICT DO NOTHING");
# a database setting outranks the command line's -1 (set for the load)
$t->psql_admin("ALTER DATABASE images SET auto_explain.log_min_duration = 0");
my ($img, $owner) = @{ $t->sql("SELECT i.id, u.username FROM images i JOIN users u"
    . " ON u.id = i.created_by WHERE i.is_public AND i.end_date IS NULL"
    . " AND u.username LIKE 'gen_user_%' ORDER BY i.id LIMIT 1 OFFSET "
    . int($n / 2))->[0] };
$t->sql("INSERT INTO api_tokens VALUES ('explain-owner', (SELECT id FROM users"
        . " WHERE username = '$owner')) ON CONFLICT DO NOTHING");
my $creator = $t->sql_value("SELECT username FROM users WHERE username LIKE 'gen_user_%' ORDER BY id LIMIT 1 OFFSET 10");
my $tag = $t->sql_value("SELECT name FROM tags WHERE name LIKE 'gen_tag_%' ORDER BY id LIMIT 1 OFFSET 20");
my @shapes = (
    ['GET one image', "/images/$img"],
    ['GET one image by a token', "/images/$img", token => 'explain-token'],
    ['first page, anonymous', '/images'],
    ['first page, signed in', '/images', token => 'explain-token'],
    ['page 50', '/images?page=50'],
    ['last page', '/images?page=last'],
    ['created_by__username', "/images?created_by__username=$creator"],
    ['tags__name', "/images?tags__name=$tag"],
    ['two-term search', '/images?search=jupyter+astronomy'],
    ['one short term', '/images?search=ge'],
    ['a term matching 203 words', '/images?search=gen'],
    ['the two-term search of bench/run', '/images?search=chemi+tomca'],
    ['the same, signed in', '/images?search=chemi+tomca',
     token => 'explain-token'],
    ['one term matching 82,561 images', '/images?search=chemi'],
    ['three terms, 326 matches', '/images?search=chemi+tomca+jupyter'],
    ['all three filters', "/images?created_by__username=$creator&tags__name=$tag&search=data"],
    ['PATCH', "/images/$img", method => 'PATCH', token => 'explain-owner',
     json => { description => 'explained' }],
);
for my $s (@shapes) {
    my ($name, $path, %o) = @$s;
    my $method = delete $o{method} // 'GET';
    my $log0 = -s "$t->{pgdata}/log";
    # seven runs, as bench/run warms its connections: every plan logged is
    # the generic plan the module runs (plan_cache_mode, store.c)
    my @ms;
    for (1 .. 7) {
        my $t0 = Time::HiRes::time();
        my $r = $t->request($method => $path, %o);
        push @ms, (Time::HiRes::time() - $t0) * 1000;
        die "$name: $r->{status} $r->{content}\n" if $r->{status} >= 300;
    }
    open my $fh, '<', "$t->{pgdata}/log" or die;
    seek $fh, $log0, 0;
    local $/;
    my $log = <$fh>;
    my @plans = split /(?=^\S.*LOG:  duration: )/m, $log;
    @plans = grep { /Query Text:/ } @plans;
    printf "### %s (%s %s)\n\nwall ms per request: %s\n\n```\n%s```\n\n",
        $name, $method, $path, join(' ', map { sprintf '%.1f', $_ } @ms),
        $plans[-1] // "(no plan logged)\n";
}
if ($keep) {
    print STDERR "kept: psql -h $t->{pgsock} -p $t->{pgport} -U postgres images\n";
    sleep 3600;
}
