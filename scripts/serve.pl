# The body of scripts/serve: the test harness's cluster and httpd, kept
# running in the foreground until a signal.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Getopt::Long;
use ImagesTest;

$| = 1;

my $port = 8080;
my $rows = 0;
GetOptions('port=i' => \$port, 'generate=i' => \$rows)
    or die "usage: scripts/serve [--port N] [--generate N]\n";

my $t = ImagesTest->new(port => $port, loglevel => 'warn');
if ($rows) {
    print "generating $rows more images...\n";
    $t->run_cmd($t->psql_args('images'), '-v', "n=$rows", '-f',
                "$ImagesTest::TOP/sql/generate.sql");
}
my $u = $t->base_url;
print <<"TXT";

mod_images is serving $u/images (sample data: sql/sample.sql)

  curl -s $u/images/1
  curl -s '$u/images?search=ubuntu&page_size=2'
  curl -s '$u/images?created_by__username=alice'
  curl -s -u bob:bob-pw $u/images/5
  curl -s -H 'Authorization: Token alice-token-0123456789abcdef' $u/images/6

httpd: $t->{dir}/httpd.conf, logs in $t->{dir}
Press Ctrl-C to stop (httpd and PostgreSQL stop, the folder is removed).
TXT
my $stop = 0;
$SIG{INT} = $SIG{TERM} = $SIG{HUP} = sub { $stop = 1 };
sleep 1 until $stop;
print "\nstopping...\n";
undef $t;
