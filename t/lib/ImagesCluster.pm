package ImagesCluster;
# A Patroni cluster on one machine, for scripts/failover: one etcd, two
# PostgreSQL 15 nodes under Patroni (synchronous mode), HAProxy with a
# write port (the primary) and a read port (the synchronous standby), all
# on loopback ports below 32768, all in one folder under /tmp, all stopped
# and removed by stop() (or when the object goes away).
#
# Patroni and HAProxy are configured from conf/patroni.yml and
# conf/haproxy.cfg themselves: only names, addresses, paths, passwords and
# Patroni's three timings are replaced (each replacement must apply, so
# the files and this module cannot drift apart unnoticed).
use strict;
use warnings;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Socket::UNIX;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Time::Local ();
use ImagesTest ();

my $PGBIN = $ENV{PGBIN} || '/usr/lib/postgresql/15/bin';
my $IS_ROOT = $> == 0;
my $JSON = JSON::PP->new;

# A free loopback port below the ephemeral range (32768-60999), which
# outgoing connections may take from a fixed server (FIELD-NOTES).
my %taken;
sub low_port {
    for (1 .. 2000) {
        my $p = 20000 + int rand 12000;
        next if $taken{$p};
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => $p, Proto => 'tcp')
            or next;
        close $s;
        $taken{$p} = 1;
        return $p;
    }
    die "no free port below 32768\n";
}

sub new {
    my ($class, %opt) = @_;
    my $self = bless { top => $opt{top}, owner_pid => $$, pids => {},
                       ttl => $opt{ttl} // 10, loop_wait => 1,
                       retry_timeout => 4 }, $class;
    $self->{dir} = tempdir('mod_images-failover-XXXXXX', TMPDIR => 1,
                           CLEANUP => 0);
    chmod 0755, $self->{dir};
    $self->{etcd_port} = low_port();
    $self->{etcd_peer} = low_port();
    $self->{write_port} = low_port();
    $self->{read_port} = low_port();
    for my $n (1, 2) {
        my $d = "$self->{dir}/n$n";
        push @{ $self->{nodes} }, {
            name => "n$n", dir => $d, data => "$d/data", sock => "$d/sock",
            pg_port => low_port(), rest_port => low_port(),
        };
    }
    return $self;
}

sub nodes { @{ $_[0]{nodes} } }
sub node { my ($self, $name) = @_; (grep { $_->{name} eq $name } $self->nodes)[0] }

sub log_line {
    my ($self, $msg) = @_;
    printf "%8.1f  %s\n", time - ($self->{t0} //= time), $msg
        if $self->{verbose};
}

# ---- processes -----------------------------------------------------------

# Fork and exec, output to a file; as postgres when running as root.
sub spawn {
    my ($self, $key, $log, $as_postgres, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or die "$log: $!";
        open STDERR, '>&', \*STDOUT;
        POSIX::setsid();
        if ($as_postgres && $IS_ROOT) {
            my ($uid, $gid, $home) = (getpwnam('postgres'))[2, 3, 7];
            $( = $) = "$gid $gid";
            $< = $> = $uid;
            $ENV{HOME} = $home;
            $ENV{USER} = $ENV{LOGNAME} = 'postgres';
        }
        exec @cmd or die "exec $cmd[0]: $!";
    }
    $self->{pids}{$key} = $pid;
    return $pid;
}

sub reap {
    my ($self) = @_;
    for my $key (keys %{ $self->{pids} }) {
        my $pid = $self->{pids}{$key};
        delete $self->{pids}{$key} if waitpid($pid, WNOHANG) == $pid;
    }
}

sub alive {
    my ($self, $key) = @_;
    $self->reap;
    return exists $self->{pids}{$key};
}

sub stop_process {
    my ($self, $key, $signal, $wait) = @_;
    my $pid = $self->{pids}{$key} or return;
    kill $signal, $pid;
    my $deadline = time + ($wait // 20);
    while (time < $deadline) {
        return delete $self->{pids}{$key} if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    delete $self->{pids}{$key};
}

# psql, pg_ctl and patronictl as postgres when root, as the harness does
sub run_cmd { goto &ImagesTest::run_cmd }

sub wait_for {
    my ($self, $what, $seconds, $test) = @_;
    my $deadline = time + $seconds;
    while (time < $deadline) {
        my $ok = eval { $test->() };
        return $ok if $ok;
        die $@ if $@ =~ /^interrupted/;    # Ctrl-C (scripts/failover.pl)
        sleep 0.2;
    }
    die "timed out after ${seconds}s waiting for $what\n" . $self->diagnose;
}

sub diagnose {
    my ($self) = @_;
    my $out = '';
    for my $n ($self->nodes) {
        $out .= "--- $n->{name} patroni.log (tail)\n"
            . `tail -n 15 \Q$n->{dir}/patroni.log\E 2>&1`;
    }
    return $out;
}

# ---- configuration -------------------------------------------------------

sub top { $_[0]{top} // $ImagesTest::TOP }

sub from_conf {
    my ($self, $file, @subs) = @_;
    open my $fh, '<', $self->top . "/conf/$file" or die "$file: $!";
    my $text = do { local $/; <$fh> };
    while (my ($re, $to) = splice @subs, 0, 2) {
        $text =~ s/$re/ref $to ? $to->() : $to/ge
            or die "conf/$file no longer has $re\n";
    }
    return $text;
}

sub patroni_yml {
    my ($self, $n) = @_;
    my $addr = sub { my $port = shift; sub { "127.0.0.1:$port" } };
    return $self->from_conf('patroni.yml',
        qr/^name: pg1$/m => "name: $n->{name}",
        qr/10\.0\.0\.11:8008/ => $addr->($n->{rest_port}),
        qr/10\.0\.0\.11:5432/ => $addr->($n->{pg_port}),
        qr/^  hosts: .*$/m => "  hosts: 127.0.0.1:$self->{etcd_port}",
        qr/^    ttl: \d+$/m => "    ttl: $self->{ttl}",
        qr/^    loop_wait: \d+$/m => "    loop_wait: $self->{loop_wait}",
        qr/^    retry_timeout: \d+$/m =>
            "    retry_timeout: $self->{retry_timeout}",
        qr{/var/lib/postgresql/15/images\.pgpass} => "$n->{dir}/pgpass",
        qr{/var/lib/postgresql/15/images} => $n->{data},
        qr{/usr/lib/postgresql/15/bin} => $PGBIN,
        qr{/var/run/postgresql} => $n->{sock},
        qr/change-me/ => 'failover-test',
        qr/local all all peer/ => 'local all all trust',
        qr{10\.0\.0\.0/24 scram-sha-256} => '127.0.0.1/32 trust');
}

sub haproxy_cfg {
    my ($self) = @_;
    my %node = map { ("pg$_" => $self->{nodes}[$_ - 1]) } 1, 2;
    my $server = sub {
        my ($name, $primary, $host) = @_;
        my $n = $node{$name} or return '';    # pg3: not run here
        return "server $n->{name}$primary 127.0.0.1:$n->{pg_port}";
    };
    return $self->from_conf('haproxy.cfg',
        # state changes to its output (haproxy.log), with the time
        qr{log /dev/log local0} => 'log stderr format iso local0 notice',
        qr{/run/haproxy/images\.sock} => "$self->{dir}/haproxy.sock",
        qr/10\.0\.0\.10:5000/ => "127.0.0.1:$self->{write_port}",
        qr/10\.0\.0\.10:5001/ => "127.0.0.1:$self->{read_port}",
        # each server line, renamed and readdressed (pg3's left out)
        qr/^(\s*)server (pg\d)(-primary)? (10\.0\.0\.\d+):5432(.*)\n/m => sub {
            my ($indent, $name, $primary, $rest) = ($1, $2, $3 // '', $5);
            my $n = $node{$name} or return '';
            $rest =~ s/port 8008/port $n->{rest_port}/;
            $rest =~ s{track (\w+)/(pg\d)}{
                "track $1/" . ($node{$2} ? $node{$2}{name} : $2) }e;
            return "$indent" . $server->($name, $primary) . "$rest\n";
        });
}

# ---- start ---------------------------------------------------------------

sub start {
    my ($self) = @_;
    $self->start_etcd;
    my ($first, $second) = $self->nodes;
    $self->start_node($first);
    $self->wait_for("$first->{name} to be primary", 90,
                    sub { $self->rest($first, '/primary') == 200 });
    $self->start_node($second);
    $self->wait_for("$second->{name} to be the synchronous standby", 120,
                    sub { $self->rest($second, '/sync') == 200 });
    $self->start_haproxy;
    $self->wait_settled(30);
    return $self;
}

sub start_etcd {
    my ($self) = @_;
    my $d = "$self->{dir}/etcd";
    mkdir $d, 0700 or die "$d: $!";
    my $client = "http://127.0.0.1:$self->{etcd_port}";
    my $peer = "http://127.0.0.1:$self->{etcd_peer}";
    $self->spawn('etcd', "$self->{dir}/etcd.log", 0, 'etcd',
        '--name', 'e1', '--data-dir', $d,
        '--listen-client-urls', $client, '--advertise-client-urls', $client,
        '--listen-peer-urls', $peer, '--initial-advertise-peer-urls', $peer,
        '--initial-cluster', "e1=$peer", '--initial-cluster-state', 'new',
        '--log-level', 'warn');
    $self->wait_for('etcd', 30, sub {
        my $r = HTTP::Tiny->new(timeout => 2)->get("$client/health");
        $r->{success} && $r->{content} =~ /"health":\s*"true"/;
    });
}

sub start_node {
    my ($self, $n) = @_;
    unless (-d $n->{dir}) {
        mkdir $n->{dir}, 0755 or die "$n->{dir}: $!";
        mkdir $n->{sock}, 0755 or die "$n->{sock}: $!";
        if ($IS_ROOT) {
            my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
            chown $uid, $gid, $n->{dir}, $n->{sock};
        }
        open my $fh, '>', "$n->{dir}/patroni.yml" or die $!;
        print $fh $self->patroni_yml($n);
        close $fh;
    }
    $self->spawn($n->{name}, "$n->{dir}/patroni.log", 1, 'patroni',
                 "$n->{dir}/patroni.yml");
}

sub start_haproxy {
    my ($self) = @_;
    my $cfg = "$self->{dir}/haproxy.cfg";
    open my $fh, '>', $cfg or die $!;
    print $fh $self->haproxy_cfg;
    close $fh;
    my $out = `haproxy -c -q -f \Q$cfg\E 2>&1`;
    die "haproxy refused its configuration:\n$out" if $?;
    $self->spawn('haproxy', "$self->{dir}/haproxy.log", 0, 'haproxy',
                 '-db', '-f', $cfg);
    $self->wait_for('haproxy', 15, sub { -S "$self->{dir}/haproxy.sock" });
}

# ---- state ---------------------------------------------------------------

# Patroni's REST answer (status) for a node
sub rest {
    my ($self, $n, $path) = @_;
    my $r = HTTP::Tiny->new(timeout => 2)
        ->request('GET', "http://127.0.0.1:$n->{rest_port}$path");
    return $r->{status};
}

sub primary {
    my ($self) = @_;
    return (grep { $self->rest($_, '/primary') == 200 } $self->nodes)[0];
}

# HAProxy's view: { 'images_read/n1' => 'UP', ... }
sub haproxy_state {
    my ($self) = @_;
    my $s = IO::Socket::UNIX->new(Peer => "$self->{dir}/haproxy.sock")
        or return {};
    print $s "show stat\n";
    my %state;
    while (my $line = <$s>) {
        my @f = split /,/, $line;
        next if $line =~ /^#/ || @f < 18 || $f[1] =~ /^(FRONTEND|BACKEND)$/;
        $state{"$f[0]/$f[1]"} = $f[17];
    }
    return \%state;
}

# One primary, the other node its synchronous standby, and HAProxy sending
# writes to the one and reads to the other.
sub settled {
    my ($self) = @_;
    my $p = $self->primary or return;
    my ($s) = grep { $_ != $p } $self->nodes;
    return unless $self->rest($s, '/sync') == 200;
    my $h = $self->haproxy_state;
    for my $n ($self->nodes) {
        my $w = $n == $p ? 'UP' : 'DOWN';
        my $r = $n == $p ? 'DOWN' : 'UP';
        return unless ($h->{"images_write/$n->{name}"} // '') =~ /^$w/
            && ($h->{"images_read/$n->{name}"} // '') =~ /^$r/;
    }
    return { primary => $p, standby => $s };
}

sub wait_settled {
    my ($self, $seconds) = @_;
    return $self->wait_for('a primary, a synchronous standby and HAProxy'
                           . ' agreeing', $seconds, sub { $self->settled });
}

# HAProxy's server state changes: [ [epoch seconds, text], ... ]
sub haproxy_events {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/haproxy.log" or return [];
    my @ev;
    while (<$fh>) {
        my ($y, $mo, $d, $h, $mi, $sec, $sign, $oh, $om, $what) = /^
            (?:<\d+>)?(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d(?:\.\d+)?)
            (?:Z|([+-])(\d\d):(\d\d))\ .*?
            ((?:Backup\ )?Server\ \S+\ is\ \w+(?:\ via\ \S+)?)/x
            or next;
        my $off = $sign ? ($sign eq '-' ? -1 : 1) * ($oh * 3600 + $om * 60)
                        : 0;
        $what =~ s/\.$//;
        push @ev, [ Time::Local::timegm(int $sec, $mi, $h, $d, $mo - 1, $y)
                    + $sec - int($sec) - $off, $what ];
    }
    return \@ev;
}

# ---- SQL -----------------------------------------------------------------

sub psql_args {
    my ($self, $n, $db) = @_;
    return ("$PGBIN/psql", '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h',
            $n->{sock}, '-p', $n->{pg_port}, '-U', 'postgres', '-d', $db);
}

sub sql {
    my ($self, $n, $sql, $db) = @_;
    my $out = $self->run_cmd($self->psql_args($n, $db // 'images'), '-A',
                             '-t', '-F', "\t", '-c', $sql);
    return [ map { [ split /\t/, $_, -1 ] } split /\n/, $out ];
}

sub load_sql {
    my ($self, $n, $file, @vars) = @_;
    $self->run_cmd($self->psql_args($n, 'images'),
                   (map { ('-v', $_) } @vars), '-f', $file);
}

# ---- faults --------------------------------------------------------------

# A node's machine dies: Patroni and the whole PostgreSQL process group
# killed at once, nothing shut down cleanly.
sub crash_node {
    my ($self, $n) = @_;
    my $pm;
    if (open my $fh, '<', "$n->{data}/postmaster.pid") {
        $pm = <$fh>;
        chomp $pm if defined $pm;
    }
    $self->stop_process($n->{name}, 'KILL');
    if ($pm && kill 0, $pm) {
        my $group = getpgrp($pm);
        kill 'KILL', $group > 1 ? -$group : $pm;
    }
    # every backend gone before Patroni may start the node again
    $self->wait_for("$n->{name}'s postgres to exit", 20,
                    sub { !$pm || !kill 0, $pm });
}

sub patronictl {
    my ($self, @args) = @_;
    my ($n) = $self->nodes;
    return $self->run_cmd('patronictl', '-c', "$n->{dir}/patroni.yml", @args);
}

# ---- stop ----------------------------------------------------------------

sub stop {
    my ($self) = @_;
    return unless $self->{owner_pid} && $self->{owner_pid} == $$;
    $self->stop_process('haproxy', 'TERM', 5);
    for my $n ($self->nodes) {
        $self->stop_process($n->{name}, 'TERM', 30);
        # a postmaster left behind by a killed Patroni
        if (open my $fh, '<', "$n->{data}/postmaster.pid") {
            my $pm = <$fh>;
            chomp $pm if defined $pm;
            if ($pm && kill 0, $pm) {
                eval { $self->run_cmd("$PGBIN/pg_ctl", '-D', $n->{data},
                                      '-m', 'immediate', '-w', 'stop') };
            }
        }
    }
    $self->stop_process('etcd', 'TERM', 10);
    if ($ENV{KEEP_TEST_DIR}) {
        warn "kept $self->{dir}\n";
    }
    else {
        system('rm', '-rf', $self->{dir});
    }
    $self->{owner_pid} = 0;
}

sub DESTROY { $_[0]->stop }

1;
