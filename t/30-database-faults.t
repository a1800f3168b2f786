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

# the parent and its children
sub httpd_pids {
    open my $fh, '<', "$t->{dir}/httpd.pid" or return '';
    my $parent = <$fh>;
    chomp $parent;
    my @kids = split /\s+/, `pgrep -P $parent`;
    return join ',', $parent, sort @kids;
}
# nothing restarted: the same parent, and every child of before still
# there (the MPM may have started another one under load: not a restart)
sub same_httpd {
    my ($before) = @_;
    my ($parent, @kids) = split /,/, $before;
    my ($now) = split /,/, httpd_pids();
    return $now eq $parent && !grep { !kill 0, $_ } @kids;
}

# warm every pooled connection with both statement kinds, and Basic logins
# (mod_authn_dbd's statement lives on the same connections)
for (1 .. 20) {
    $t->get('/images/1');
    $t->get('/images?search=ubuntu');
    $t->get('/images/5', user => 'bob', password => 'bob-pw');
}
my $pids = httpd_pids();
ok $pids, "httpd runs ($pids)";
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
ok same_httpd($pids), 'httpd was not restarted, no child replaced';
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
unlike $t->error_log, qr/segfault|AH00052|child pid \d+ exit signal/,
    'no child crashed';

done_testing;
