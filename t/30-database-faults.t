# The database goes away and comes back: 503 JSON with Retry-After while it
# is down, 200 again without touching httpd once it is back (mod_dbd's
# reset connections lose their prepared statements: the module recovers).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use ImagesTest;

my $t = ImagesTest->new(conf_in_location => '    ImagesRetryAfter 7',
                        pg_options => '-c log_statement=all');

# the module's session settings (store.c), as the server logged them
sub settings_logged {
    my ($from) = @_;
    open my $fh, '<', "$t->{dir}/pg/log" or return 0;
    seek $fh, $from, 0;
    return scalar grep { /statement: SET plan_cache_mode = force_generic_plan;/ }
        <$fh>;
}

# httpd's parent and its generation (it says "resuming normal operations"
# once at start and again after each restart); a child the MPM starts or
# stops under load is neither a restart nor a crash
sub httpd_state {
    open my $fh, '<', "$t->{dir}/httpd.pid" or return '';
    my $parent = <$fh>;
    chomp $parent;
    my $generations = () = $t->error_log =~ /resuming normal operations/g;
    return "parent $parent, generation $generations";
}
# what httpd logs when a child dies of a signal (AH00050 to AH00052)
my $CRASH = qr/child pid \d+ exit|exit signal|segfault/;

# warm every pooled connection with both statement kinds, and Basic logins
# (mod_authn_dbd's statement lives on the same connections)
for (1 .. 20) {
    $t->get('/images/1');
    $t->get('/images?search=ubuntu');
    $t->get('/images/5', user => 'bob', password => 'bob-pw');
}
my $httpd = httpd_state();
# (httpd -X under scripts/test-valgrind's wrapper says nothing of the kind)
my $started = $t->{wrapper} ? 0 : 1;
like $httpd, qr/^parent \d+, generation $started$/, "httpd runs ($httpd)";
cmp_ok settings_logged(0), '>=', 1,
    'each new connection gets the session settings';
my $log_size = -s "$t->{dir}/pg/log";

$t->stop_pg;
for my $path ('/images/1', '/images', '/images?tags__name=ubuntu&page=2') {
    my $t0 = time;
    my $r = $t->get($path);
    my $took = time - $t0;
    is $r->{status}, 503, "$path with the database down: 503";
    is $r->{headers}{'retry-after'}, '7', 'Retry-After from ImagesRetryAfter';
    is $r->{headers}{'content-type'}, 'application/json', 'JSON';
    ok $r->{json} && $r->{json}{detail}, 'with a detail';
    cmp_ok $took, '<', 5, 'answered within the connect timeout';
}

# a Basic login needs the database too (mod_authn_dbd fails with a 500):
# the same 503 as for a token
my $basic = $t->get('/images/5', user => 'bob', password => 'bob-pw');
is $basic->{status}, 503, 'Basic login with the database down: 503';
is $basic->{headers}{'retry-after'}, '7', 'with Retry-After';
is $basic->{headers}{'content-type'}, 'application/json', 'JSON';

$t->restart_pg;
my @after = map { $t->get($_ % 2 ? '/images/1' : '/images?search=ubuntu') }
            1 .. 40;
my @bad = grep { $_->{status} != 200 } @after;
is scalar(@bad), 0, 'every request after the restart is 200'
    or diag join ', ', map { "$_->{status} $_->{content}" } @bad[0 .. 2];
is httpd_state(), $httpd,
    'httpd was not restarted (same parent and generation)';
unlike $t->error_log, $CRASH, 'no child crashed';
cmp_ok settings_logged($log_size), '>=', 1,
    'after the restart the connections have them again';

# mod_authn_dbd's statement died with the old server too: a refused Basic
# login has the module prepare every statement of that connection again, so
# at most one login per pooled connection fails
$t->stop_pg;
$t->restart_pg;
my (@logins, $run);
while (@logins < 60 && ($run // 0) < 10) {
    my $st = $t->get('/images/5', user => 'bob', password => 'bob-pw')
               ->{status};
    push @logins, $st;
    $run = $st == 200 ? ($run // 0) + 1 : 0;
}
is $run, 10, 'Basic logins work again after a restart (statuses: '
    . join(' ', @logins) . ')';
cmp_ok scalar(grep { $_ != 200 } @logins), '<=', 16,
    'at most one refused login per pooled connection (DBDMax 16)';

# a killed backend: the next request on that connection recovers too
my $killed = $t->sql_value(
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    . " WHERE datname = 'images' AND pid <> pg_backend_pid()");
cmp_ok $killed, '>', 0, "killed $killed pooled connections";
@after = map { $t->get($_ % 2 ? '/images/2' : '/images?page_size=3') } 1 .. 40;
@bad = grep { $_->{status} != 200 } @after;
is scalar(@bad), 0, 'every request after pg_terminate_backend is 200'
    or diag join ', ', map { "$_->{status} $_->{content}" } @bad[0 .. 2];

# a PATCH as the first request on connections the server closed: its BEGIN
# fails there (apr_dbd_pgsql's transaction_start crashed the child on that)
my %alice = (token => 'alice-token-0123456789abcdef');
for (1 .. 20) {
    $t->request(PATCH => '/images/1', %alice, json => { description => "w$_" });
}
$t->stop_pg;
$t->restart_pg;
my @patched = map {
    $t->request(PATCH => '/images/1', %alice,
                json => { description => "after restart $_" })
} 1 .. 20;
@bad = grep { $_->{status} != 200 } @patched;
is scalar(@bad), 0, 'every PATCH after a restart is 200'
    or diag join ', ', map { "$_->{status} $_->{content}" } @bad[0 .. 2];
is $t->sql_value('SELECT description FROM images WHERE id = 1'),
    'after restart 20', 'the last PATCH landed';
is httpd_state(), $httpd, 'httpd still not restarted';
unlike $t->error_log, $CRASH, 'no child crashed';

done_testing;
