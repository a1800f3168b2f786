# The stress run (scripts/stress; a short version runs in t/70-stress.t):
# hostile input, a mixed load of 64 clients with PATCHes checked afterwards,
# and the database stopped, started and its connections killed under load.
# Prints a table of what was tried and what held; exits 1 if anything did
# not hold.  Traffic goes to 127.0.0.1 only, bounded in count and time.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Getopt::Long;
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);
use ImagesTest;

$| = 1;
$SIG{PIPE} = 'IGNORE';      # a server that closes on a bad request is fine
my %o = (short => 0, images => undef, seconds => undef, random => undef,
         json => undef);
GetOptions('short' => \$o{short}, 'images=i' => \$o{images},
           'seconds=i' => \$o{seconds}, 'random=i' => \$o{random},
           'json=s' => \$o{json})
    or die "usage: scripts/stress [--short] [--images N] [--seconds S]\n";
my $IMAGES = $o{images} // ($o{short} ? 2000 : 100000);
my $SECONDS = $o{seconds} // ($o{short} ? 6 : 60);
my $RANDOM = $o{random} // ($o{short} ? 300 : 10000);
my $CLIENTS = 64;
my $JSON = JSON::PP->new->canonical;

my @table;
sub row {
    my ($area, $tried, $expected, $observed, $held) = @_;
    push @table, [$area, $tried, $expected, $observed, $held ? 'yes' : 'NO'];
    printf "%-8s %-44s %-3s %s\n", $area, substr($tried, 0, 44),
        $held ? 'ok' : 'NO', $observed;
}

# ---- the server ----------------------------------------------------------
# pg_stat_statements: the database time of each request of section 2
my $t = ImagesTest->new(loglevel => 'warn',
    pg_options => '-c shared_preload_libraries=pg_stat_statements',
    conf => <<'C');
LoadModule reqtimeout_module /usr/lib/apache2/modules/mod_reqtimeout.so
RequestReadTimeout header=5-10,MinRate=500 body=3,MinRate=500
# every child from the start and none retired when idle: the memory
# rows compare the same processes from sample to sample
StartServers 4
ServerLimit 4
ThreadsPerChild 32
MaxRequestWorkers 128
MinSpareThreads 1
MaxSpareThreads 128
DBDMax 24
C
print "loading $IMAGES generated images...\n";
$t->run_cmd($t->psql_args('images'), '-v', "n=$IMAGES", '-f',
            "$ImagesTest::TOP/sql/generate.sql");
# one user, token and image per load client, so every PATCH is checkable
$t->sql(<<"SQL");
INSERT INTO users (username) SELECT 'stress_' || n FROM generate_series(1, $CLIENTS) n;
INSERT INTO api_tokens (key, user_id)
    SELECT 'stress-token-' || substr(username, 8), id FROM users WHERE username LIKE 'stress\\_%';
INSERT INTO images (name, description, created_by)
    SELECT 'stress ' || substr(username, 8), 'w0', id FROM users WHERE username LIKE 'stress\\_%';
SQL
my %stress_image = map { @$_ } @{ $t->sql(
    "SELECT substr(u.username, 8), i.id FROM images i JOIN users u"
    . " ON u.id = i.created_by WHERE u.username LIKE 'stress\\_%'") };
my $base = $t->base_url;

sub alive { $t->get('/images/1', timeout => 10)->{status} == 200 }

sub httpd_children {
    open my $fh, '<', "$t->{dir}/httpd.pid" or return ();
    my $parent = <$fh>;
    chomp $parent;
    return grep { $_ } split /\s+/, `pgrep -P $parent`;
}
# resident KB of each httpd child, by pid
sub rss_by_pid {
    my %kb;
    my @pids = httpd_children();
    # under valgrind httpd runs as one process (-X)
    if (!@pids && open my $fh, '<', "$t->{dir}/httpd.pid") {
        @pids = grep { /^\d+$/ } split /\s+/, <$fh>;
    }
    for my $pid (@pids) {
        open my $fh, '<', "/proc/$pid/status" or next;
        while (<$fh>) { $kb{$pid} = $1 if /^VmRSS:\s+(\d+)/ }
    }
    return \%kb;
}
# growth from one sample to a later one, over the children alive in both
# (a child that started in between would read as growth; none should)
sub rss_growth {
    my ($from, $to) = @_;
    my ($a, $b, $same) = (0, 0, 0);
    for my $pid (grep { exists $to->{$_} } keys %$from) {
        $a += $from->{$pid};
        $b += $to->{$pid};
        $same++;
    }
    my $changed = keys(%$from) + keys(%$to) - 2 * $same;
    return ($a, $b, $same, $changed);
}
sub rss_row {
    my ($area, $tried, $from, $to, $asan) = @_;
    my ($a, $b, $same, $changed) = rss_growth($from, $to);
    row($area, $tried, 'flat (< +25%)',
        sprintf('%d KB -> %d KB over %d children%s%s', $a, $b, $same,
                $changed ? ", $changed children came or went" : '',
                $asan ? ', not judged under ASan' : ''),
        $asan || ($same && !$changed && $b <= $a * 1.25 + 4096));
}
sub fds {
    my $n = 0;
    for my $pid (httpd_children()) {
        opendir my $d, "/proc/$pid/fd" or next;
        $n += grep { /^\d+$/ } readdir $d;
    }
    return $n;
}
sub changed_data {
    return $t->sql_value("SELECT md5(string_agg(x, ',' ORDER BY x)) FROM"
        . " (SELECT i::text AS x FROM images i UNION ALL"
        . " SELECT t::text FROM image_tags t) s");
}

# ---- 1. hostile input ----------------------------------------------------
print "\n== hostile input\n";
my $token = 'Token stress-token-1';
my $img = $stress_image{1};
my $before = changed_data();
sub raw_status {
    my ($bytes, %opt) = @_;
    my $r = eval { $t->raw($bytes, %opt) };
    return $r ? $r->{status} : 0;
}
my @hostile = (
    ['search: SQL text', "GET /images?search=%27%20OR%201%3D1%20--%20 HTTP/1.0\r\n\r\n", [200]],
    ['filter: SQL text', "GET /images?created_by__username=alice%27%20OR%20%271%27%3D%271 HTTP/1.0\r\n\r\n", [200]],
    ['filter: %00', "GET /images?tags__name=a%00b HTTP/1.0\r\n\r\n", [400]],
    ['search: %00', "GET /images?search=a%00b HTTP/1.0\r\n\r\n", [200]],
    ['search: invalid UTF-8', "GET /images?search=%FF%FE%C0 HTTP/1.0\r\n\r\n", [200]],
    ['search: 1000 terms (past the limit)', "GET /images?search=" . join('+', map { "t$_" } 1 .. 1000) . " HTTP/1.0\r\n\r\n", [400]],
    ['search: 60 KB value', "GET /images?search=" . ('a' x 60000) . " HTTP/1.0\r\n\r\n", [200]],
    ['query: 100 KB value (over LimitRequestLine)', "GET /images?search=" . ('a' x 100000) . " HTTP/1.0\r\n\r\n", [414]],
    ['page=99999999999999999999', "GET /images?page=99999999999999999999 HTTP/1.0\r\n\r\n", [404]],
    ['page_size=5000', "GET /images?page_size=5000 HTTP/1.0\r\n\r\n", [200]],
    ['path: /images/1%27--', "GET /images/1%27-- HTTP/1.0\r\n\r\n", [404]],
    ['path: id past bigint', "GET /images/99999999999999999999999 HTTP/1.0\r\n\r\n", [404]],
    ['PATCH: depth-5000 nesting', patch_req(('[' x 5000) . (']' x 5000)), [400]],
    ['PATCH: duplicate keys', patch_req('{"name":"a","name":"b"}'), [400]],
    ['PATCH: invalid UTF-8', patch_req("{\"name\":\"\xff\xfe\"}"), [400]],
    ['PATCH: NUL in a string', patch_req('{"name":"a\u0000b"}'), [400]],
    ['PATCH: number out of range', patch_req('{"tags":[1e999]}'), [400]],
    ['PATCH: bigint overflow', patch_req('{"tags":[99999999999999999999999]}'), [400]],
    ['PATCH: valid and invalid field', patch_req('{"name":"ok","is_public":"yes"}'), [400]],
    ['PATCH: 10 MB body', patch_req('{"description":"' . ('x' x (10 << 20)) . '"}'), [413]],
    ['PATCH: chunked, 10 MB', chunked_req('{"description":"' . ('x' x (10 << 20)) . '"}'), [413]],
    ['smuggling: Content-Length with Transfer-Encoding',
     "PATCH /images/$img HTTP/1.1\r\nHost: x\r\nAuthorization: $token\r\n"
     . "Content-Type: application/json\r\nContent-Length: 30\r\n"
     . "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /images/1 HTTP/1.1\r\nHost: x\r\n\r\n",
     [400]],
    ['smuggling: bad chunk size',
     "PATCH /images/$img HTTP/1.1\r\nHost: x\r\nAuthorization: $token\r\n"
     . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
     . "zz\r\n{}\r\n0\r\n\r\n", [400]],
    ['header flood: 500 headers',
     "GET /images/1 HTTP/1.0\r\n" . join('', map { "X-F$_: y\r\n" } 1 .. 500) . "\r\n", [400]],
    ['header flood: one 100 KB header',
     "GET /images/1 HTTP/1.0\r\nX-Big: " . ('y' x 100000) . "\r\n\r\n", [400]],
    ['Authorization: Token with 10 KB key',
     "GET /images/1 HTTP/1.0\r\nAuthorization: Token " . ('k' x 8000) . "\r\n\r\n", [401]],
);
sub patch_req {
    my ($body) = @_;
    return "PATCH /images/$img HTTP/1.0\r\nAuthorization: $token\r\n"
        . "Content-Type: application/json\r\nContent-Length: "
        . length($body) . "\r\n\r\n$body";
}
sub chunked_req {
    my ($body) = @_;
    my $chunks = join '', map { sprintf("%x\r\n%s\r\n", length, $_) }
                          unpack('(a65536)*', $body);
    return "PATCH /images/$img HTTP/1.1\r\nHost: x\r\nAuthorization: $token\r\n"
        . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        . "Connection: close\r\n\r\n${chunks}0\r\n\r\n";
}
for my $h (@hostile) {
    my ($what, $bytes, $want) = @$h;
    my $got = raw_status($bytes);
    my $ok = (grep { $_ == $got } @$want) && alive();
    row('hostile', $what, join('/', @$want), "$got, still serving", $ok);
}

# a client that sends its body one byte a second
{
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$t->{port}");
    print $s "PATCH /images/$img HTTP/1.1\r\nHost: x\r\nAuthorization: $token\r\n"
        . "Content-Type: application/json\r\nContent-Length: 40\r\n\r\n";
    my $t0 = time;
    my $served = 1;
    my $status = 0;
    for my $i (1 .. 8) {
        last unless print $s '{';
        $served &&= alive();
        sleep 1;
    }
    shutdown($s, 1);
    local $/;
    my $resp = <$s> // '';
    ($status) = $resp =~ m{^HTTP/\S+ (\d+)};
    row('hostile', 'slow body: one byte a second', '408, others served',
        sprintf('%s after %.0fs, others served: %s', $status // 'closed',
                time - $t0, $served ? 'yes' : 'no'),
        $served && (!$status || $status == 408));
}

# random bytes, each on a new connection
{
    srand(42);
    my (%statuses, $bad);
    for my $i (1 .. $RANDOM) {
        my $len = 1 + int(rand(600));
        my $bytes = join '', map { chr(int(rand(256))) } 1 .. $len;
        # half of them start like a request, to get past the request line
        $bytes = "GET /images/$bytes HTTP/1.1\r\n" if $i % 4 == 1;
        $bytes = "PATCH /images/1 HTTP/1.1\r\nContent-Length: $len\r\n\r\n$bytes"
            if $i % 4 == 2;
        my $st = raw_status($bytes, timeout => 10);
        $statuses{$st}++;
        $bad++ if $st >= 500;
    }
    my $summary = join ' ', map { "$_:$statuses{$_}" } sort keys %statuses;
    row('hostile', "$RANDOM requests of random bytes", 'no 5xx, serving',
        $summary, !$bad && alive());
}
my $after = changed_data();
row('hostile', 'data after all hostile input', 'unchanged',
    $before eq $after ? 'unchanged' : 'CHANGED', $before eq $after);
unlike_log('hostile');

# ---- 2. hostile cost: each request's answer and database time ------------
print "\n== hostile cost\n";
$t->sql('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
$t->sql('VACUUM ANALYZE');
# the module's statements' execution time while $code runs, in ms
sub db_ms {
    my ($code) = @_;
    $t->sql('SELECT pg_stat_statements_reset()');
    my $t0 = time;
    my @r = $code->();
    my $wall = (time - $t0) * 1000;
    my $db = $t->sql_value(q{SELECT coalesce(sum(total_exec_time), 0)
        FROM pg_stat_statements WHERE userid = 'mod_images'::regrole});
    return ($db, $wall, @r);
}
sub cost_row {
    my ($tried, $expected, $ok_status, $path, %opt) = @_;
    my ($db, $wall, $r) = db_ms(sub { $t->get($path, timeout => 30, %opt) });
    row('cost', $tried, $expected, sprintf('%d; %.0f ms, database %.0f ms',
        $r->{status}, $wall, $db), $r->{status} == $ok_status
        && $wall < 6000);
}
# (as many distinct terms as fit the 64 KiB request line: three letters)
my @abc = ('a' .. 'z');
my $terms = join ',', map { $abc[$_ / 676] . $abc[$_ / 26 % 26] . $abc[$_ % 26] }
                      0 .. 11999;
cost_row('search of 12,000 distinct terms (48 KB)', '400 at once', 400,
         "/images?search=$terms");
cost_row('search of one term 30,000 times', 'one term', 200,
         '/images?search=' . join(',', ('e') x 30000));
cost_row('search of 20 one-letter terms (no index)', 'bounded', 200,
         '/images?search=' . join(',', 'a' .. 't'));
cost_row('search of a term in most images', 'bounded', 200,
         '/images?search=an');      # (looked up in the index since version 4)
{
    # a statement past ImagesStatementTimeout: images locked by an operator
    my $pid = fork // die $!;
    if (!$pid) {
        $t->sql('BEGIN; LOCK TABLE images IN ACCESS EXCLUSIVE MODE;'
                . ' SELECT pg_sleep(7); COMMIT;');
        POSIX::_exit(0);
    }
    sleep 1;
    cost_row('a statement past the time limit (5 s)', '503 after 5 s', 503,
             '/images?search=ubuntu');
    waitpid $pid, 0;
}
# Basic logins: the same cost whether the user exists, has a password, or
# not (no sleep on an empty result)
$t->sql(q{INSERT INTO users (username) VALUES ('stress_nopw')});
# (a wrapper such as valgrind slows every request alike: compared with each
# other, not with a fixed time)
my %median;
for my $c (['unknown user', 'nobody_at_all'], ['wrong password', 'gen_user_1'],
           ['user without a password', 'stress_nopw']) {
    my @ms = sort { $a <=> $b } map {
        my ($db, $wall) = db_ms(sub { $t->get('/images/1', user => $c->[1],
                                              password => 'wrong') });
        $wall } 1 .. 11;
    $median{$c->[0]} = $ms[5];
}
my ($lo, $hi) = (sort { $a <=> $b } values %median)[0, -1];
row('cost', 'Basic login: unknown user, wrong password, no password',
    'medians within 2x', join(', ', map { sprintf '%s %.1f ms', $_,
    $median{$_} } sort keys %median), $hi < 2 * $lo);
{
    # 16 clients with Basic credentials of nobody trickling a body
    my @held = map {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$t->{port}");
        print $s "GET /images/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic"
            . " bm9ib2R5Ong=\r\nContent-Length: 1000000\r\n\r\nx" if $s;
        $s } 1 .. 16;
    my $t0 = time;
    my $st = $t->get('/images/1')->{status};
    my $ms = (time - $t0) * 1000;
    row('cost', '16 trickling Basic clients, then a GET', '200, < 1 s',
        sprintf('%d; %.0f ms', $st, $ms), $st == 200
        && $ms < ($ENV{IMAGES_TEST_WRAPPER} ? 10000 : 1000));
    close $_ for grep { $_ } @held;
}
unlike_log('cost');

sub unlike_log {
    my ($area) = @_;
    my $log = $t->error_log;
    my $crash = () = $log =~ /exit signal|AH00052|AddressSanitizer/g;
    row($area, 'children crashed (error_log)', 0, $crash, !$crash);
}

# ---- 3. mixed load with checked PATCHes -----------------------------------
print "\n== load: $CLIENTS clients for ${SECONDS}s\n";
my $maxid = $t->sql_value('SELECT max(id) FROM images');
my $rss0 = rss_by_pid();
my $fds0 = fds();
my $dir = "$t->{dir}/load";
mkdir $dir;
my @kids;
# every client waits for the same start, so forking them all (seconds on
# two busy cores) is not part of the measured run
my $start = time + 1 + 0.03 * $CLIENTS;
my $deadline = $start + $SECONDS;
for my $c (1 .. $CLIENTS) {
    my $pid = fork // die $!;
    if (!$pid) {
        srand($c);
        sleep($start - time) if $start > time;
        my $http = HTTP::Tiny->new(keep_alive => 1, timeout => 30);
        my (%st, $last_ok, $n, @fail);
        my $id = $stress_image{$c};
        my %auth = (Authorization => "Token stress-token-$c");
        while (time < $deadline) {
            my $op = rand;
            my $t0 = time;
            my $res;
            if ($op < 0.35) {
                $res = $http->get("$base/images/" . (1 + int(rand($maxid))));
            }
            elsif ($op < 0.55) {
                $res = $http->get("$base/images?page=" . (1 + int(rand(5))));
            }
            elsif ($op < 0.75) {
                my @w = qw(ubuntu centos gpu data lab cloud genomics);
                $res = $http->get("$base/images?search=$w[rand @w]+$w[rand @w]");
            }
            else {
                $n++;
                # name and description move together: a torn update shows
                $res = $http->request(PATCH => "$base/images/$id", {
                    headers => { %auth, 'Content-Type' => 'application/json' },
                    content => "{\"name\":\"stress $c n$n\",\"description\":\"w$n\"}" });
                $last_ok = $n if $res->{status} == 200;
                $st{PATCH}++;
            }
            # 599 is HTTP::Tiny's own failure, not the server's status: a
            # timeout (a hang: counted against the server), or a kept-alive
            # connection the server had closed (event MPM closes idle ones
            # when a child is over its connection limit), which HTTP::Tiny
            # retries for a GET but not for a PATCH, as browsers do
            $res->{status} = 'closed'
                if $res->{status} == 599
                && ($res->{content} // '') !~ /timed out/i;
            $st{ $res->{status} }++;
            # HTTP::Tiny's own failure: what it said, and to what
            push @fail, sprintf('%s %s after %.1fs: %s', $op < 0.75 ? 'GET'
                : 'PATCH', $res->{url}, time - $t0,
                substr($res->{content} // '', 0, 80))
                if ($res->{status} eq '599' || $res->{status} eq 'closed')
                && @fail < 3;
        }
        open my $fh, '>', "$dir/$c" or POSIX::_exit(2);
        print $fh $JSON->encode({ statuses => \%st, last_ok => $last_ok // 0,
                                  failures => \@fail });
        close $fh;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
my @rss;
while (grep { kill 0, $_ } @kids) {
    push @rss, rss_by_pid() if time > $start;
    sleep 0.5;
    waitpid($_, POSIX::WNOHANG()) for @kids;
}
waitpid($_, 0) for @kids;
my (%total, @lost, @torn, @client_failures);
for my $c (1 .. $CLIENTS) {
    open my $fh, '<', "$dir/$c" or next;
    my $res = $JSON->decode(scalar <$fh>);
    $total{$_} += $res->{statuses}{$_} for keys %{ $res->{statuses} };
    push @client_failures, @{ $res->{failures} || [] };
    my ($name, $desc) = @{ $t->sql("SELECT name, description FROM images"
                                   . " WHERE id = $stress_image{$c}")->[0] };
    push @lost, $c if $desc ne "w$res->{last_ok}";
    push @torn, $c if $name ne ($res->{last_ok} ? "stress $c n$res->{last_ok}"
                                                : "stress $c");
}
my $requests = 0;
$requests += $total{$_} for grep { /^\d+$|^closed$/ } keys %total;
my $patches = delete $total{PATCH} // 0;
# 599: no answer in time (see above)
my $fivexx = 0;
$fivexx += $total{$_} for grep { /^5/ && $_ != 599 } keys %total;
my $timeouts = $total{599} // 0;
# under valgrind (one slow process) client timeouts are expected
my $slow = $ENV{IMAGES_TEST_WRAPPER} ? 1 : 0;
my $rate = $requests / $SECONDS;
row('load', "$CLIENTS clients, GET/list/search/PATCH, ${SECONDS}s",
    'no 5xx', sprintf('%d requests (%.0f/s, %d PATCH), statuses %s',
                      $requests, $rate, $patches,
                      join(' ', map { "$_:$total{$_}" } sort keys %total)),
    !$fivexx && $requests > 0 && ($slow || !$timeouts));
print "   client failure: $_\n" for @client_failures;
row('load', 'PATCHes lost (last 200 not in the row)', 0,
    scalar(@lost) . ' of ' . $CLIENTS, !@lost);
row('load', 'PATCHes torn (name and description apart)', 0,
    scalar(@torn), !@torn);
# AddressSanitizer's quarantine holds freed memory on purpose
my $asan = $ENV{IMAGES_TEST_PRELOAD} ? 1 : 0;
# from the middle of the load (every busy thread warm) to its end
my $warm = $rss[int(@rss / 2)] || $rss0;
rss_row('load', 'httpd resident memory, mid-load to end', $warm,
        rss_by_pid(), $asan);
unlike_log('load');

# ---- 4. database faults under load ----------------------------------------
print "\n== database faults under load\n";
my $lua = "$t->{dir}/count.lua";
open my $lf, '>', $lua or die $!;
print $lf <<'LUA';
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) c200 = 0; c503 = 0; cother = 0; c5xx = 0 end
function response(status, headers, body)
  if status == 200 then c200 = c200 + 1
  elseif status == 503 then c503 = c503 + 1
  elseif status >= 500 then c5xx = c5xx + 1
  else cother = cother + 1 end
end
function done(summary, latency, requests)
  local t = {c200 = 0, c503 = 0, c5xx = 0, cother = 0}
  for _, th in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + th:get(k) end
  end
  io.write(string.format("COUNTS %d %d %d %d %d %d\n", t.c200, t.c503,
    t.c5xx, t.cother, latency.max, summary.errors.timeout))
end
LUA
close $lf;

sub under_load {
    my ($seconds, $fault) = @_;
    my $out = "$t->{dir}/wrk.out";
    my $pid = fork // die $!;
    if (!$pid) {
        open STDOUT, '>', $out;
        { exec 'wrk', '-t2', '-c16', "-d${seconds}s", '--timeout', '10s',
               '-s', $lua, "$base/images/1" }
        POSIX::_exit(1);
    }
    my %r = $fault->();
    waitpid $pid, 0;
    open my $fh, '<', $out;
    local $/;
    my $txt = <$fh> // '';
    @r{qw(ok s503 s5xx other maxlat timeouts)} =
        $txt =~ /COUNTS (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/;
    return \%r;
}

# a probe that asks every 20 ms and notes when answers turn to 200 again
sub probe_until {
    my ($until, $log) = @_;
    my $http = HTTP::Tiny->new(timeout => 10);
    while (time < $until) {
        my $t0 = time;
        my $res = $http->get("$base/images/2");
        push @$log, [$t0, $res->{status}, time - $t0,
                     $res->{headers}{'content-type'} // ''];
        sleep 0.02;
    }
}

my $fds1 = fds();
my $rss1 = rss_by_pid();
my $down = $o{short} ? 3 : 10;
my (@plog, $t_start);
my $r = under_load($down + 6, sub {
    my @log;
    probe_until(time + 1.5, \@log);
    $t->stop_pg;
    my $t_stop = time;
    probe_until(time + $down, \@log);
    $t->restart_pg;
    $t_start = time;
    probe_until(time + 3, \@log);
    @plog = @log;
    return (stop => $t_stop);
});
my @during = grep { $_->[0] > $r->{stop} + 0.2 && $_->[0] < $t_start - 0.2 } @plog;
my @bad = grep { $_->[1] != 503 || $_->[3] ne 'application/json' } @during;
my $slowest = 0;
$_->[2] > $slowest and $slowest = $_->[2] for @during;
row('db', "PostgreSQL stopped ${down}s under load",
    'every answer 503 JSON', sprintf('%d probes: %d not 503 JSON;'
        . ' wrk: %d 200, %d 503, %d other 5xx', scalar @during,
        scalar @bad, $r->{ok} // 0, $r->{s503} // 0, $r->{s5xx} // 0),
    @during && !@bad && !$r->{s5xx});
row('db', 'slowest answer while down', '< connect_timeout (2 s)',
    sprintf('%.3f s probe, wrk max %.3f s', $slowest,
            ($r->{maxlat} // 0) / 1e6),
    $slowest < 2.5 && ($r->{maxlat} // 0) < 2.5e6);
my ($first_ok) = grep { $_->[0] >= $t_start && $_->[1] == 200 } @plog;
my $recovery = $first_ok ? $first_ok->[0] - $t_start : 99;
row('db', 'PostgreSQL started again', 'serving within 1 s',
    sprintf('first 200 after %.3f s', $recovery), $recovery < 1);
my @after_ok = grep { $_->[0] > $t_start + 1 } @plog;
row('db', 'answers after recovery', 'all 200',
    sprintf('%d of %d', scalar(grep { $_->[1] == 200 } @after_ok),
            scalar @after_ok),
    @after_ok && !grep { $_->[1] != 200 } @after_ok);

$r = under_load($o{short} ? 4 : 15, sub {
    sleep 1.5;
    my $killed = $t->sql_value(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        . " WHERE datname = 'images' AND pid <> pg_backend_pid()");
    return (killed => $killed);
});
# A killed connection is reset and its statement run again; only a kill
# that lands while a connection is still starting can cost its one request
# a 503 (with Retry-After), never a 500.
row('db', "pg_terminate_backend of $r->{killed} connections under load",
    'no 500; 503 only for a killed start', sprintf('wrk: %d 200, %d 503,'
        . ' %d other 5xx, %d other', $r->{ok} // 0, $r->{s503} // 0,
        $r->{s5xx} // 0, $r->{other} // 0),
    ($r->{ok} // 0) > 0 && !$r->{s5xx}
    && ($r->{s503} // 0) <= ($r->{killed} // 0));
sleep 2;                      # clients' connections closing
my $fds2 = fds();
my $rss2 = rss_by_pid();
# each child's pool may hold up to DBDMax (24) more connections after a
# burst: a leak grows past that
my $pools = 24 * scalar(my @kids = httpd_children());
row('db', 'httpd file descriptors before/after faults',
    "no growth past the pools (+$pools)", "$fds1 -> $fds2",
    $fds2 <= $fds1 + $pools);
rss_row('db', 'httpd resident memory before/after faults', $rss1, $rss2,
        $asan);
unlike_log('db');

# ---- the table -----------------------------------------------------------
my @w = (8, 46, 26, 60, 4);
print "\n", join(' | ', map { sprintf "%-*s", $w[$_],
    (qw(area tried expected observed held))[$_] } 0 .. 4), "\n";
print join('-+-', map { '-' x $_ } @w), "\n";
for my $row (@table) {
    print join(' | ', map { sprintf "%-*s", $w[$_], $row->[$_] } 0 .. 4),
        "\n";
}
my $failed = grep { $_->[4] ne 'yes' } @table;
printf "\n%d passed, %d failed\n", @table - $failed, $failed;
if ($o{json}) {
    open my $jf, '>', $o{json} or die $!;
    print $jf $JSON->encode(\@table);
}
exit($failed ? 1 : 0);
