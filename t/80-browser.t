# The catalogue page (docs/examples/catalog) end to end, in headless Debian
# Chromium driven by playwright-core (t/browser/catalog.test.mjs), against
# this file's own httpd and PostgreSQL.  One httpd, three ports:
#
#   BASE_URL          the API at /images and the page at /catalog/ (same origin)
#   OTHER_ORIGIN_URL  the page, with data-api = BASE_URL/images; this origin
#                     is in ImagesCORSOrigins
#   BLOCKED_ORIGIN_URL the same page on an origin that is not listed
#
# Every browser test becomes one assertion here, and one more says node
# exited 0.  Screenshots land in t/browser/output/.  Without chromium, node
# or t/browser/node_modules (scripts/install-deps installs them) the file
# is skipped, or fails when $CI is set.
use strict;
use warnings;
use lib 't/lib';
use File::Path qw(make_path);
use Test::More;
use Time::HiRes qw(time);
use ImagesTest;

my $TOP = $ImagesTest::TOP;
my $BROWSER = "$TOP/t/browser";
my $CATALOG = "$TOP/docs/examples/catalog";
my $OUT_DIR = "$BROWSER/output";
my $MODDIR = $ENV{APACHE_MODULES} || '/usr/lib/apache2/modules';
my $CHROMIUM = '/usr/bin/chromium';

my @missing;
push @missing, $CHROMIUM unless -x $CHROMIUM;
my ($node_major) = (`node --version 2>/dev/null` // '') =~ /^v(\d+)\./;
push @missing, 'node 20 or later (playwright-core)'
    unless $node_major && $node_major >= 20;
push @missing, 't/browser/node_modules (npm ci --prefix t/browser)'
    unless -d "$BROWSER/node_modules/playwright-core";
push @missing, "$MODDIR/mod_mime.so" unless -f "$MODDIR/mod_mime.so";
if (@missing) {
    my $why = 'browser tests need: ' . join(', ', @missing)
            . ' (scripts/install-deps installs them)';
    plan skip_all => $why unless $ENV{CI};
    fail $why;
    done_testing;
    exit;
}

my $started = time;
my $t = ImagesTest->new(no_httpd => 1);
my $p1 = $t->{port};
my ($p2, $p3);
do { $p2 = ImagesTest::free_port() } while $p2 == $p1;
do { $p3 = ImagesTest::free_port() } while $p3 == $p1 || $p3 == $p2;
my $d = $t->{dir};

# httpd's children run as nobody: the checkout may sit where they cannot
# read (/root is 0700), so the page is copied into the test's folder.
sub copy_catalog {
    my ($to, $api) = @_;
    make_path($to, { mode => 0755 });
    chmod 0755, $to;
    for my $f (qw(index.html app.js style.css)) {
        open my $in, '<:raw', "$CATALOG/$f" or die "$CATALOG/$f: $!";
        my $text = do { local $/; <$in> };
        close $in;
        if ($api && $f eq 'index.html') {
            $text =~ s/<body data-api="[^"]*"/<body data-api="$api"/
                or die "no <body data-api> in index.html\n";
        }
        open my $out, '>:raw', "$to/$f" or die "$to/$f: $!";
        print $out $text;
        close $out;
        chmod 0644, "$to/$f";
    }
}
mkdir "$d/htdocs", 0755;
chmod 0755, "$d/htdocs";
copy_catalog("$d/htdocs/catalog");                 # data-api="/images"
make_path("$d/xorigin", { mode => 0755 });
copy_catalog("$d/xorigin/catalog", "http://127.0.0.1:$p1/images");

my $csp = "default-src 'none'; script-src 'self'; style-src 'self';"
        . " img-src 'self' data:; form-action 'none'; base-uri 'none';"
        . " frame-ancestors 'none'; connect-src";
$t->{conf_in_location} = "    ImagesCORSOrigins http://127.0.0.1:$p2";
$t->{conf} = <<"CONF";
LoadModule mime_module $MODDIR/mod_mime.so
<IfModule !dir_module>
    LoadModule dir_module $MODDIR/mod_dir.so
</IfModule>
TypesConfig /dev/null
AddType text/html .html
AddType text/javascript .js
AddType text/css .css
AddCharset utf-8 .html .js .css
DirectoryIndex index.html
# the headers conf/catalog-vhost.conf suggests: the page must work under them
<Directory $d/htdocs>
    Require all granted
    Header set X-Content-Type-Options "nosniff"
    Header set Content-Security-Policy "$csp 'self'"
</Directory>

# two more origins for the same page: one listed, one not
Listen 127.0.0.1:$p2
Listen 127.0.0.1:$p3
<VirtualHost 127.0.0.1:$p2 127.0.0.1:$p3>
    DocumentRoot $d/xorigin
    <Directory $d/xorigin>
        Require all granted
        Header set X-Content-Type-Options "nosniff"
        Header set Content-Security-Policy "$csp http://127.0.0.1:$p1"
    </Directory>
</VirtualHost>
CONF
$t->start_httpd;

my $r = $t->get('/catalog/');
is $r->{status}, 200, 'the page is served next to the API';
like $r->{headers}{'content-type'} // '', qr{^text/html}, 'as text/html';

make_path($OUT_DIR);
unlink glob "$OUT_DIR/*.png";
local $ENV{BASE_URL} = $t->base_url;
local $ENV{OTHER_ORIGIN_URL} = "http://127.0.0.1:$p2";
local $ENV{BLOCKED_ORIGIN_URL} = "http://127.0.0.1:$p3";
local $ENV{OUT_DIR} = $OUT_DIR;
local $ENV{NODE_NO_WARNINGS} = 1;

# a watchdog: the whole run stays well under a minute when all is well
my @cmd = ('timeout', '-k', '5', '100', 'node', '--test',
           '--test-reporter=tap', "$BROWSER/catalog.test.mjs");
open my $node, '-|', @cmd or die "node: $!";
my (@tests, $current_diag);
while (my $line = <$node>) {
    note "node: $line" =~ s/\n\z//r;
    if ($line =~ /^(not )?ok \d+ - (.*?)(?:\s+#\s*(SKIP|TODO)\b(.*))?$/) {
        push @tests, { ok => !$1, name => $2, directive => $3 // '',
                       reason => $4 // '', diag => [] };
        $current_diag = $1 ? $tests[-1]{diag} : undef;
    }
    elsif ($current_diag && $line =~ /^\s/) {
        push @$current_diag, $line;
    }
    elsif ($line !~ /^\s/) {
        $current_diag = undef;
    }
}
close $node;
my $exit = $? >> 8;

ok scalar(@tests), 'node ran the browser tests';
for my $b (@tests) {
    if ($b->{directive} eq 'SKIP') {
      SKIP: { skip "browser: $b->{name}:$b->{reason}", 1 }
        next;
    }
    ok $b->{ok}, "browser: $b->{name}" or diag join '', @{ $b->{diag} };
}
is $exit, 0, 'node exited 0' or diag $exit == 124
    ? 'node was stopped by the watchdog' : "node exit status $exit";
note sprintf 'browser tests took %.1f s', time - $started;
diag $t->error_log unless Test::More->builder->is_passing;

done_testing;
