# The failover run (scripts/failover; t/90-failover.t runs it in CI): a
# Patroni cluster of two PostgreSQL nodes behind HAProxy on this machine
# (t/lib/ImagesCluster.pm), the built module in one httpd with mod_dbd's
# pool on HAProxy's read port and the write pool on its write port, and
# clients that PATCH their own image and read it back at once, while
# (a) the standby dies, (b) the primary dies and the standby is promoted,
# (c) a switchover runs, (d) the schema and grants are applied again on
# the primary.  Prints a table per scenario and the pass criteria; exits
# 1 if one did not hold.  --json FILE writes the figures.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Getopt::Long;
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);
use Time::Local ();
use ImagesTest;
use ImagesCluster;

$| = 1;
# --writer-commit on (or local): the writer's commits do not wait for the
# standby to apply them, to see the stale reads remote_apply prevents
my %o = (clients => 6, json => undef, quiet => 0,
         writer_commit => 'remote_apply');
GetOptions('clients=i' => \$o{clients}, 'json=s' => \$o{json},
           'quiet' => \$o{quiet}, 'writer-commit=s' => \$o{writer_commit})
    && $o{writer_commit} =~ /^(remote_apply|on|local|off)$/
    or die "usage: scripts/failover [--clients N] [--json FILE]"
         . " [--writer-commit remote_apply|on|local|off]\n";
my $TOP = $ImagesTest::TOP;
my $JSON = JSON::PP->new->canonical;
my $T0 = time;
sub say_ { printf "%6.1f  %s\n", time - $T0, $_[0] unless $o{quiet} }
# Ctrl-C or a kill: the objects below stop everything they started
$SIG{INT} = $SIG{TERM} = sub { die "interrupted\n" };

# ---- the cluster, the data, httpd ----------------------------------------
say_('starting etcd, two Patroni nodes and HAProxy');
my $c = ImagesCluster->new;
$c->start;
my $p = $c->primary;
say_("primary $p->{name}; loading the schema");
$c->sql($p, 'CREATE DATABASE images', 'postgres');
sub apply_schema {
    $c->load_sql($p, "$TOP/sql/schema.sql");
    # reads and token checks connect as mod_images, PATCH as the writer,
    # whose commits wait until the synchronous standby has applied them
    $c->load_sql($p, "$TOP/sql/grants.sql", "role=$_")
        for qw(mod_images mod_images_writer);
}
apply_schema();
$c->sql($p, 'ALTER ROLE mod_images_writer SET synchronous_commit'
            . " = $o{writer_commit}");
$c->load_sql($p, "$TOP/sql/sample.sql");
# one user, token and image per client: each PATCHes as its image's creator
$c->sql($p, <<"SQL");
INSERT INTO users (username)
    SELECT 'failover_' || n FROM generate_series(1, $o{clients}) n;
INSERT INTO api_tokens (key, user_id)
    SELECT 'failover-token-' || substr(username, 10), id FROM users
    WHERE username LIKE 'failover\\_%';
INSERT INTO images (name, description, created_by)
    SELECT 'c' || substr(username, 10) || '-0', '', id FROM users
    WHERE username LIKE 'failover\\_%';
SQL
my %image = map { @$_ } @{ $c->sql($p,
    "SELECT substr(u.username, 10), i.id FROM images i JOIN users u"
    . " ON u.id = i.created_by WHERE u.username LIKE 'failover\\_%'") };

my $so = ImagesTest::module_so({});
my $has_pool = do {
    open my $fh, '<:raw', $so or die "$so: $!";
    local $/;
    <$fh> =~ /ImagesWriteDBDParams/;
};
my $conninfo = sub {
    my ($port, $user, $app) = @_;
    return "host=127.0.0.1 port=$port dbname=images user=$user"
        . " application_name=$app connect_timeout=2";
};
my $read_info = $conninfo->($c->{read_port}, 'mod_images', 'images_read');
my $write_info = $conninfo->($c->{write_port}, 'mod_images_writer',
                             'images_write');
my $t = ImagesTest->new(no_pg => 1, loglevel => 'info',
    port => ImagesCluster::low_port(),
    # without a write pool (an older module) everything goes to the primary
    dbdparams => $has_pool ? $read_info : $write_info,
    conf => $has_pool ? <<"C" : '');
ImagesWriteDBDParams "$write_info"
ImagesWriteDBDMin 0
ImagesWriteDBDKeep 4
ImagesWriteDBDMax 16
ImagesWriteDBDExptime 300
C
say_('httpd up' . ($has_pool ? ' (reads: read port; PATCH: write pool on'
                   . ' the write port)' : ' WITHOUT a write pool: every'
                   . ' request through the write port'));
sub httpd_pid {
    open my $fh, '<', "$t->{dir}/httpd.pid" or return 0;
    my $pid = <$fh>;
    chomp $pid;
    return $pid;
}
# (httpd listens before it writes its pid file)
my $httpd_pid = $c->wait_for('httpd.pid', 10, \&httpd_pid);

# ---- clients -------------------------------------------------------------
# Each client loops: PATCH its image's name to the next value (with the
# ETag of its last acknowledged PATCH in If-Match: a 412 there means the
# database lost that PATCH), then GET it at once (anything older than the
# acknowledged value is a stale read).  One line per request to its log:
#   start end op status json retry_after result
my $stop_file = "$c->{dir}/stop";
sub client {
    my ($n, $log) = @_;
    my $http = HTTP::Tiny->new(timeout => 20, keep_alive => 1);
    my $url = $t->base_url . "/images/$image{$n}";
    my %auth = (Authorization => "Token failover-token-$n");
    open my $out, '>', $log or die "$log: $!";
    $out->autoflush(1);
    my ($k, $acked, $etag, $stopping) = (0, 0, undef, 0);
    my $note = sub {
        my ($t1, $op, $r, $result) = @_;
        my $json = ($r->{headers}{'content-type'} // '')
            =~ m{^application/json} ? 1 : 0;
        my $ra = defined $r->{headers}{'retry-after'} ? 1 : 0;
        printf $out "%.3f %.3f %s %d %d %d %s\n", $t1, time, $op,
            $r->{status}, $json, $ra, $result;
    };
    while (1) {
        # stop once told to, but only with the last PATCH acknowledged
        # (the database then holds a known value), within 60 s
        $stopping ||= -e $stop_file ? time : 0;
        last if $stopping && ($acked == $k || time > $stopping + 60);
        $k++;
        my %h = (%auth, 'Content-Type' => 'application/json');
        $h{'If-Match'} = $etag if defined $etag;
        my $t1 = time;
        my $r = $http->request('PATCH', $url, { headers => \%h,
            content => qq({"name": "c$n-$k"}) });
        if ($r->{status} == 200) {
            $acked = $k;
            $etag = $r->{headers}{etag};
            $note->($t1, 'patch', $r, "ok $k");
        }
        else {
            # a PATCH that failed may or may not have committed
            $note->($t1, 'patch', $r, $r->{status} == 412 ? 'lost'
                                      : 'fail ' . detail($r));
            undef $etag;
            sleep 0.2;
            next;
        }
        $t1 = time;
        $r = $http->request('GET', $url, { headers => \%auth });
        my $seen = $r->{status} == 200
            && ($r->{content} =~ /"name":\s*"c\Q$n\E-(\d+)"/)[0];
        $note->($t1, 'get', $r, !$seen ? 'fail ' . detail($r)
                : $seen < $acked ? "stale $seen" : "ok $seen");
        sleep 0.2 if $r->{status} != 200;
        sleep 0.01;
    }
    print $out "acked $acked\n";
    close $out;
}
# what a failed answer said, for the report
sub detail {
    my ($r) = @_;
    my $d = $r->{status} == 599 ? $r->{content}
          : eval { $JSON->decode($r->{content})->{detail} } // '';
    return substr($d =~ s/\s+/ /gr, 0, 80);
}
my %client_pid;
my $main_pid = $$;
# the run failed half-way: the clients go first, then the servers
END { kill 'TERM', values %client_pid if $main_pid && $$ == $main_pid }
for my $n (sort { $a <=> $b } keys %image) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        # the objects belong to the parent: nothing of them stops here
        $c->{owner_pid} = $t->{owner_pid} = 0;
        $SIG{INT} = $SIG{TERM} = 'DEFAULT';
        client($n, "$c->{dir}/client$n.log");
        POSIX::_exit(0);
    }
    $client_pid{$n} = $pid;
}
say_("$o{clients} clients running");

# ---- where each pool's connections are -----------------------------------
# Sampled while both nodes run: images_read sessions only on the standby,
# images_write only on the primary.
my @conn_samples;
sub check_conns {
    my ($label, $seconds) = @_;
    my $end = time + $seconds;
    while (time < $end) {
        my %seen;
        for my $n ($c->nodes) {
            my $rows = eval { $c->sql($n, "SELECT pg_is_in_recovery(),"
                . " application_name, count(*) FROM pg_stat_activity"
                . " WHERE application_name LIKE 'images\\_%' GROUP BY 1, 2") }
                or next;
            for (@$rows) {
                my ($standby, $app, $count) = @$_;
                $seen{($standby eq 't' ? 'standby' : 'primary') . " $app"}
                    += $count;
            }
        }
        push @conn_samples, { label => $label, %seen };
        sleep 0.5;
    }
}

# ---- the scenarios -------------------------------------------------------
my @scenarios;
sub scenario {
    my ($name, $what, $action) = @_;
    my %s = (name => $name, what => $what, start => time);
    say_("($name) $what");
    $action->(\%s);
    $c->wait_settled(120);
    $s{end} = time;
    say_(sprintf "($name) settled after %.1f s", $s{end} - $s{start});
    push @scenarios, \%s;
    check_conns("after $name", 3);
}

check_conns('steady', 4);
scenario('a', 'the standby dies (Patroni, PostgreSQL)', sub {
    my $s = $c->settled->{standby};
    $c->crash_node($s);
    sleep 5;
    say_("(a) $s->{name} started again");
    $c->start_node($s);
});
scenario('b', 'the primary dies, the standby promoted', sub {
    my ($st) = @_;
    my $old = $c->settled;
    $c->crash_node($old->{primary});
    $c->wait_for('the standby to be promoted', 90,
                 sub { $c->rest($old->{standby}, '/primary') == 200 });
    $st->{promoted} = time;
    say_(sprintf "(b) %s promoted after %.1f s", $old->{standby}{name},
         $st->{promoted} - $st->{start});
    sleep 2;
    say_("(b) $old->{primary}{name} started again");
    $c->start_node($old->{primary});
});
scenario('c', 'patronictl switchover', sub {
    my $now = $c->settled;
    $c->patronictl('switchover', '--leader', $now->{primary}{name},
                   '--candidate', $now->{standby}{name}, '--force');
});
scenario('d', 'schema.sql, grants.sql again, 3 times', sub {
    $p = $c->primary;
    apply_schema() for 1 .. 3;
});
check_conns('steady', 2);

# ---- stop the clients, read the database ---------------------------------
open my $fh, '>', $stop_file or die $!;
close $fh;
waitpid $_, 0 for values %client_pid;
my $end = time;
$p = $c->primary;
my %in_db = map { @$_ } @{ $c->sql($p, "SELECT i.id, i.name FROM images i"
                                     . " WHERE i.name ~ '^c[0-9]+-'") };

# ---- figures -------------------------------------------------------------
my (@events, %acked);
for my $n (keys %image) {
    open my $in, '<', "$c->{dir}/client$n.log" or die $!;
    while (<$in>) {
        if (/^acked (\d+)/) { $acked{$n} = $1; next }
        my ($t1, $t2, $op, $status, $json, $ra, $result) = split ' ', $_, 7;
        chomp $result;
        push @events, { t1 => $t1, t2 => $t2, op => $op, status => $status,
                        json => $json, ra => $ra, result => $result };
    }
}
my @rows = (map { +{ %$_ } } @scenarios);
for my $e (@events) {
    # a request belongs to the scenario it overlaps: one sent just before
    # an action starts can be the one the action breaks
    my ($s) = grep { $_->{start} && $e->{t2} >= $_->{start}
                     && $e->{t1} < $_->{end} } @rows;
    $s //= do {
        my ($steady) = grep { $_->{name} eq 'steady' } @rows;
        $steady // do { push @rows, { name => 'steady', what =>
            'between and around the scenarios' }; $rows[-1] };
    };
    my $op = $e->{op};
    $s->{"${op}s"}++;
    my $took = $e->{t2} - $e->{t1};
    $s->{"${op}_slowest"} = $took if $took > ($s->{"${op}_slowest"} // 0);
    next if $e->{result} =~ /^ok/;
    if ($e->{result} =~ /^stale/) { $s->{stale}++; next }
    if ($e->{result} eq 'lost') { $s->{lost}++; next }
    $s->{"${op}_failed"}++;
    $s->{"${op}_other"}++
        unless $e->{status} == 503 && $e->{json} && $e->{ra};
    $s->{"${op}_first"} //= $e->{t1};
    $s->{"${op}_last"} = $e->{t2};
    $s->{statuses}{$e->{status}}++;
    # the reads one by one; the writes too where none should fail
    push @{ $s->{failed_one_by_one} }, $e
        if $op eq 'get' || $s->{name} eq 'steady' || $s->{name} eq 'd';
}
my $lost_final = 0;
for my $n (sort keys %image) {
    my $want = "c$n-" . ($acked{$n} // 0);
    my $got = $in_db{$image{$n}} // '(none)';
    if ($got ne $want) {
        $lost_final++;
        print "client $n: acknowledged $want, database has $got\n";
    }
}
my $bad_conns = grep {
    $_->{'primary images_read'} || $_->{'standby images_write'}
} @conn_samples;
# and the check saw both pools at work, at each point it sampled
my %both;
$both{$_->{label}} ||= $_->{'primary images_write'}
    && $_->{'standby images_read'} for @conn_samples;
my $unseen = grep { !$_ } values %both;
# the same httpd parent, started once, and no child that crashed
my $log = $t->error_log;
my $starts = () = $log =~ /resuming normal operations/g;
my @crashes = $log =~ /^(.*(?:exit signal|child pid \d+ exit).*)$/mg;
# (under a wrapper, httpd -X: one process, which logs no such line)
my $restarted = httpd_pid() != $httpd_pid
    || $starts != ($t->{wrapper} ? 0 : 1) || @crashes;
printf "httpd: parent %d then %d, %d start(s) in the log%s\n", $httpd_pid,
    httpd_pid(), $starts, @crashes ? ", crashes:\n  " . join "\n  ", @crashes
                                   : '' if $restarted;

printf "\n%-8s %-40s %6s %5s %5s %5s %6s %6s %5s %5s %5s %4s\n", 'scenario',
    'what', 'PATCH', '503s', 'secs', 'max', 'GET', 'failed', 'secs', 'max',
    'stale', 'lost';
for my $s (@rows) {
    my $dur = $s->{patch_first} ? $s->{patch_last} - $s->{patch_first} : 0;
    $s->{patch_503_seconds} = sprintf '%.1f', $dur;
    $s->{read_fail_seconds} = sprintf '%.1f',
        $s->{get_first} ? $s->{get_last} - $s->{get_first} : 0;
    printf "%-8s %-40s %6d %5s %5.1f %5.1f %6d %6s %5.1f %5.1f %5d %4d\n",
        $s->{name}, substr($s->{what}, 0, 40), $s->{patchs} // 0,
        ($s->{patch_failed} // 0) . ($s->{patch_other} ? '!' : ''), $dur,
        $s->{patch_slowest} // 0, $s->{gets} // 0,
        ($s->{get_failed} // 0) . ($s->{get_other} ? '!' : ''),
        $s->{read_fail_seconds}, $s->{get_slowest} // 0, $s->{stale} // 0,
        $s->{lost} // 0;
}
for my $s (grep { $_->{statuses} } @rows) {
    printf "%-8s failed requests by status: %s\n", $s->{name}, join ', ',
        map { "$_ x $s->{statuses}{$_}" } sort keys %{ $s->{statuses} };
}
print "secs: first failure to last; max: slowest request (seconds)\n";
print "!: some failures were not a JSON 503 with Retry-After\n"
    if grep { $_->{patch_other} || $_->{get_other} } @rows;
# the failed reads (and writes outside (b) and (c)) one by one, at their
# time in the run, with what the module logged about the database
my %month = (Jan => 0, Feb => 1, Mar => 2, Apr => 3, May => 4, Jun => 5,
             Jul => 6, Aug => 7, Sep => 8, Oct => 9, Nov => 10, Dec => 11);
my @answered_503 = map {
    my ($mo, $d, $h, $mi, $sec, $y) =
        /^\[\w+ (\w+) (\d+) (\d+):(\d+):(\d+(?:\.\d+)?) (\d+)\]/;
    $mo ? [ Time::Local::timelocal(int $sec, $mi, $h, $d, $month{$mo}, $y)
            + $sec - int($sec), /(AH\d+: .*)/ ] : ();
} grep { /AH\d+: .*(?:answering 503|lost|could not)/ } split /\n/, $log;
for my $s (@rows) {
    for my $e (@{ $s->{failed_one_by_one} || [] }) {
        printf "%-8s a %s failed at %.1f s (%.1f s): %d %s\n", $s->{name},
            uc $e->{op}, $e->{t1} - $T0, $e->{t2} - $e->{t1}, $e->{status},
            $e->{result} =~ s/^fail ?//r;
        my @logged = grep { $_->[0] >= $e->{t1} - 0.1
                            && $_->[0] <= $e->{t2} + 0.1 } @answered_503;
        printf "           logged at %.1f s: %s\n", $_->[0] - $T0,
            substr($_->[1], 0, 160) for splice @logged, 0, 6;
    }
}
my ($sb) = grep { $_->{name} eq 'b' } @rows;
printf "(b) promotion %.1f s after the kill\n", $sb->{promoted} - $sb->{start}
    if $sb && $sb->{promoted};

# ---- pass criteria -------------------------------------------------------
my $sum = sub { my $k = shift; my $n = 0; $n += $_->{$k} // 0 for @rows; $n };
my @checks = (
    ['a write pool is configured (reads and writes on separate ports)',
     $has_pool],
    ['read sessions only on the standby, write sessions only on the primary'
     . " (" . @conn_samples . " samples of pg_stat_activity)",
     $has_pool && !$bad_conns && !$unseen],
    ['0 stale reads after an acknowledged PATCH', !$sum->('stale')],
    ['0 lost writes (412 on the last ETag, or the database afterwards)',
     !$sum->('lost') && !$lost_final],
    ['every failed request a JSON 503 with Retry-After',
     !$sum->('patch_other') && !$sum->('get_other')],
    ['(b) no failed read', $sb && !$sb->{get_failed}],
    # the only standby gone: reads that were on it fail until HAProxy
    # sends them to the primary (at the first refused connection, or
    # two failed health checks a second apart)
    ['(a) reads fail for 10 s at most', !grep { $_->{name} eq 'a'
        && $_->{read_fail_seconds} > 10 } @rows],
    ['(d) no failed request', !grep { $_->{name} eq 'd'
        && ($_->{patch_failed} || $_->{get_failed}) } @rows],
    ['no failed request between the scenarios', !grep {
        $_->{name} eq 'steady' && ($_->{patch_failed} || $_->{get_failed})
    } @rows],
    ['httpd not restarted', !$restarted],
);
my $failed = 0;
for (@checks) {
    printf "%-4s %s\n", $_->[1] ? 'ok' : 'NOT', $_->[0];
    $failed++ unless $_->[1];
}
# what HAProxy saw, to read the failures against
print "HAProxy's server states:\n";
printf "%6.1f  %s\n", $_->[0] - $T0, $_->[1] for @{ $c->haproxy_events };
printf "%d of %d held; %.0f s in all\n", @checks - $failed, scalar @checks,
    time - $T0;
if ($o{json}) {
    open my $jf, '>', $o{json} or die "$o{json}: $!";
    print $jf $JSON->encode({
        scenarios => [ map { my %s = %$_; \%s } @rows ],
        checks => [ map { { what => $_->[0], held => $_->[1] ? 1 : 0 } }
                    @checks ],
        conn_samples => \@conn_samples, seconds => time - $T0 });
    close $jf;
}
undef $t;
$c->stop;
exit($failed ? 1 : 0);
