package ImagesTest;
# The test harness: a private PostgreSQL cluster and a private httpd that
# loads the built module, both started here and removed when the test ends.
#
#   my $t = ImagesTest->new(conf => '...extra <Location> lines...');
#   my $res = $t->request(GET => '/images/1', headers => {...});
#   $res->{status}, $res->{json}, $res->{headers}{etag}
#
# Works as root (PostgreSQL runs as postgres, httpd's children as nobody)
# and as an ordinary user.  See shared FIELD-NOTES for why each step is so.
#
# top => DIR: take sql/, conf/ and the built module from another checkout
# of this project instead of this one (bench/run --compare measures an
# older commit side by side).
#
# no_pg => 1 with dbdparams => '...': no cluster of its own, httpd only,
# pointed at a database started elsewhere (scripts/failover).
#
# debian_mods => [NAME, ...]: also load these modules of Debian's
# /etc/apache2/mods-available, each with its NAME.conf, as a2enmod would
# enable them (a module loaded already is not loaded twice);
# @ImagesTest::DEBIAN_DEFAULT_MODS is the set a stock apache2 enables.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

our $TOP = abs_path(dirname(__FILE__) . '/../..');
my $PGBIN = $ENV{PGBIN} || (sort glob('/usr/lib/postgresql/*/bin'))[-1];
my $HTTPD = $ENV{HTTPD} || (-x '/usr/sbin/apache2' ? '/usr/sbin/apache2'
                                                   : '/usr/sbin/httpd');
my $MODDIR = $ENV{APACHE_MODULES} || '/usr/lib/apache2/modules';
my $IS_ROOT = $> == 0;
my $MODS_AVAILABLE = '/etc/apache2/mods-available';
our @DEBIAN_DEFAULT_MODS = qw(access_compat alias auth_basic authn_core
    authn_file authz_core authz_host authz_user autoindex deflate dir env
    filter mime mpm_event negotiation reqtimeout setenvif status);

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, Proto => 'tcp') or die $!;
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub run_cmd {
    my ($self, @cmd) = @_;
    unshift @cmd, 'runuser', '-u', 'postgres', '--' if $IS_ROOT;
    my $out = `@{[ join ' ', map { quotemeta } @cmd ]} 2>&1`;
    die "failed: @cmd\n$out" if $?;
    return $out;
}

sub new {
    my ($class, %opt) = @_;
    my $self = bless { %opt }, $class;
    # under /tmp: httpd's children (nobody) must reach the socket folder
    $self->{dir} = tempdir('mod_images-test-XXXXXX', TMPDIR => 1,
                           CLEANUP => 0);
    chmod 0755, $self->{dir};
    $self->{pgdata} = "$self->{dir}/pg";
    $self->{pgsock} = "$self->{dir}/sock";   # pgdata is 0700: not there
    $self->{pgport} = free_port();
    $self->{port} //= free_port();
    $self->{owner_pid} = $$;
    if ($opt{no_pg}) {
        $self->start_httpd;
        return $self;
    }
    $self->start_pg;
    # schema => FILE: another schema (an older release's), no grants;
    # top => DIR: another checkout's sql/, conf/ and module (bench/run
    # --compare), with its grants if it has them
    $self->load_sql($opt{schema} // $self->top . '/sql/schema.sql');
    $self->grant unless $opt{schema};
    $self->load_sql($self->top . '/sql/sample.sql') unless $opt{empty};
    $self->start_httpd unless $opt{no_httpd};
    return $self;
}

# ---- PostgreSQL ----------------------------------------------------------

sub start_pg {
    my ($self) = @_;
    my $d = $self->{pgdata};
    mkdir $d, 0700 or die "mkdir $d: $!";
    mkdir $self->{pgsock}, 0755 or die "mkdir $self->{pgsock}: $!";
    if ($IS_ROOT) {
        my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
        chown $uid, $gid, $d, $self->{pgsock};
    }
    $self->run_cmd("$PGBIN/initdb", '-D', $d, '-A', 'trust', '-U',
                   'postgres', '-E', 'UTF8', '--locale=C.UTF-8')
        unless -f "$d/PG_VERSION";
    $self->pg_ctl('start');
    $self->psql_admin('CREATE DATABASE images') unless $self->{db_made}++;
}

sub pg_ctl {
    my ($self, $what) = @_;
    my @opt = $what eq 'stop' ? ('-m', 'fast')
        : ('-o', "-p $self->{pgport} -k $self->{pgsock} -c listen_addresses=''"
                 . " -c fsync=off -c max_connections=200"
                 . ($self->{pg_options} ? " $self->{pg_options}" : ''));
    $self->run_cmd("$PGBIN/pg_ctl", '-D', $self->{pgdata}, '-w', '-l',
                   "$self->{pgdata}/log", @opt, $what);
}

sub stop_pg  { $_[0]->pg_ctl('stop') }
sub restart_pg { $_[0]->pg_ctl('start') }

sub psql_args {
    my ($self, $db) = @_;
    return ("$PGBIN/psql", '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h',
            $self->{pgsock}, '-p', $self->{pgport}, '-U', 'postgres', '-d',
            $db);
}

sub psql_admin {
    my ($self, $sql) = @_;
    $self->run_cmd($self->psql_args('postgres'), '-c', $sql);
}

sub load_sql {
    my ($self, $file, @vars) = @_;
    $self->run_cmd($self->psql_args('images'), (map { ('-v', $_) } @vars),
                   '-f', $file);
}

# The role the module connects as: sql/grants.sql's rights and no more
# (README's install steps run the same file).
our $ROLE = 'mod_images';
sub grant {
    my ($self) = @_;
    my $file = $self->top . '/sql/grants.sql';
    # (a release before grants.sql: the module connects as the superuser)
    $self->{db_user} //= -f $file ? $ROLE : 'postgres';
    $self->load_sql($file, "role=$ROLE") if -f $file;
}

# Run SQL in the test database; returns the rows as arrays of strings.
sub sql {
    my ($self, $sql) = @_;
    my $out = $self->run_cmd($self->psql_args('images'), '-A', '-t', '-F',
                             "\t", '-c', $sql);
    return [ map { [ split /\t/, $_, -1 ] } split /\n/, $out ];
}

sub sql_value { my $rows = $_[0]->sql($_[1]); return $rows->[0][0] }

# ---- httpd ---------------------------------------------------------------

# The checkout whose files this instance uses (option top).
sub top { $_[0]{top} // $TOP }

# The schema version this checkout's sql/schema.sql makes (the module's).
sub schema_version {
    my ($self) = @_;
    my $top = ref $self ? $self->top : $TOP;
    open my $fh, '<', "$top/sql/schema.sql" or die $!;
    while (<$fh>) { return $1 if /^\\set schema_version (\d+)/ }
    die "no schema_version in sql/schema.sql\n";
}

sub module_so {
    my ($self) = @_;
    return $self->{top} ? "$self->{top}/mod_images/.libs/mod_images.so"
        : $ENV{MODULE_SO} || "$TOP/mod_images/.libs/mod_images.so";
}

sub httpd_conf {
    my ($self) = @_;
    my $d = $self->{dir};
    my $so = $self->module_so;
    die "module not built: $so (run make)\n" unless -f $so;
    my %loaded;
    my $load = join '', map {
        my ($name, $file) = @$_;
        -f "$MODDIR/$file" && !$loaded{$name}++
            ? "LoadModule $name $MODDIR/$file\n" : '';
    } ([mpm_event_module => 'mod_mpm_event.so'],
       [unixd_module => 'mod_unixd.so'],
       [authz_core_module => 'mod_authz_core.so'],
       [authz_user_module => 'mod_authz_user.so'],
       [authn_core_module => 'mod_authn_core.so'],
       [auth_basic_module => 'mod_auth_basic.so'],
       [authn_dbd_module => 'mod_authn_dbd.so'],
       [authn_file_module => 'mod_authn_file.so'],
       [dbd_module => 'mod_dbd.so'],
       [headers_module => 'mod_headers.so'],
       [log_config_module => 'mod_log_config.so']);
    my $mods_conf = '';
    for my $name (@{ $self->{debian_mods} || [] }) {
        open my $fh, '<', "$MODS_AVAILABLE/$name.load"
            or die "$MODS_AVAILABLE/$name.load: $!\n";
        while (<$fh>) {
            my ($mod) = /^\s*LoadModule\s+(\S+)/ or next;
            $load .= $_ unless $loaded{$mod}++;
        }
        $mods_conf .= "Include $MODS_AVAILABLE/$name.conf\n"
            if -f "$MODS_AVAILABLE/$name.conf";
    }
    my $user = $IS_ROOT ? "User nobody\nGroup nogroup\n" : '';
    # the shipped configuration, then what this test adds on top of it
    my $inloc = $self->{conf_in_location} // '';
    my $location = $self->{location} // <<"LOC";
Include @{[ $self->top ]}/conf/mod_images.conf
<Location /images>
$inloc
</Location>
LOC
    my $extra = $self->{conf} // '';
    my $dbd = $self->{dbdparams} // $self->conninfo;
    # write_pool => '...': the module's write pool for PATCH, with these
    # libpq keywords after (and so over) the test database's
    $extra = qq{ImagesWriteDBDParams "@{[ $self->conninfo ]}}
             . qq{ $self->{write_pool}"\n$extra} if defined $self->{write_pool};
    return <<"CONF";
ServerRoot $d
${load}LoadModule images_module $so
${mods_conf}${user}Listen 127.0.0.1:$self->{port}
ServerName 127.0.0.1
PidFile $d/httpd.pid
ErrorLog $d/error_log
LogLevel $self->{loglevel}
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog $d/access_log common
DocumentRoot $d/htdocs
Mutex file:$d
DefaultRuntimeDir $d
LimitRequestLine 65536
StartServers 1
ThreadsPerChild 16
MaxRequestWorkers 32
$location
DBDParams "$dbd"
$extra
CONF
}

# The libpq connection string of the test database, as the module's role.
sub conninfo {
    my ($self) = @_;
    return "host=$self->{pgsock} port=$self->{pgport} dbname=images"
           . ' user=' . ($self->{db_user} // $ROLE) . ' connect_timeout=2';
}

sub start_httpd {
    my ($self) = @_;
    $self->{loglevel} //= 'info';
    mkdir "$self->{dir}/htdocs";
    my $conf = "$self->{dir}/httpd.conf";
    open my $fh, '>', $conf or die $!;
    print $fh $self->httpd_conf;
    close $fh;
    # scripts/test-valgrind runs every httpd under valgrind, one process
    $self->{wrapper} //= [ split ' ', $ENV{IMAGES_TEST_WRAPPER} ]
        if $ENV{IMAGES_TEST_WRAPPER};
    my @cmd = ($HTTPD, '-f', $conf, '-k', 'start');
    @cmd = (@{ $self->{wrapper} }, $HTTPD, '-f', $conf, '-X')
        if $self->{wrapper};
    # scripts/test-sanitized: the ASan runtime must come first
    local $ENV{LD_PRELOAD} = $ENV{IMAGES_TEST_PRELOAD}
        if $ENV{IMAGES_TEST_PRELOAD};
    if ($self->{wrapper}) {
        my $pid = fork // die $!;
        if (!$pid) {
            open STDOUT, '>', "$self->{dir}/wrapper.out";
            open STDERR, '>&', \*STDOUT;
            exec @cmd or die $!;
        }
        $self->{wrapper_pid} = $pid;
    }
    else {
        my $out = `@cmd 2>&1`;
        die "httpd did not start: $out\n" . $self->error_log if $?;
    }
    my $deadline = time + ($self->{wrapper} ? 60 : 10);
    my $listening_since;
    while (time < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{port}");
        # (under a wrapper httpd listens before it checks the configuration:
        # it started when it answers, or when it is still there 15 s later
        # (a child_init that waits for a database); a refusal ends it)
        if ($s && !$self->{wrapper_pid}) { close $s; return $self }
        if ($s) {
            close $s;
            $listening_since //= time;
            my $r = HTTP::Tiny->new(timeout => 1)->request('OPTIONS',
                "http://127.0.0.1:$self->{port}/");
            return $self if $r->{status} != 599
                || time > $listening_since + 15;
        }
        # under a wrapper, an httpd that refused its configuration has
        # exited, and said why to the wrapper's output
        if ($self->{wrapper_pid}
            && waitpid($self->{wrapper_pid}, WNOHANG) == $self->{wrapper_pid}) {
            delete $self->{wrapper_pid};
            open my $wo, '<', "$self->{dir}/wrapper.out";
            die "httpd did not start: " . do { local $/; <$wo> // '' } . "\n"
                . $self->error_log;
        }
        sleep 0.05;
    }
    die "httpd is not listening on $self->{port}\n" . $self->error_log;
}

sub stop_httpd {
    my ($self) = @_;
    if ($self->{wrapper_pid}) {
        kill 'TERM', $self->{wrapper_pid};
        # bounded: an httpd that never ends under the wrapper is reported
        # (its output then has no summary: the script that checks it fails)
        my $deadline = time + 300;
        while (waitpid($self->{wrapper_pid}, WNOHANG) == 0) {
            if (time > $deadline) {
                kill 'KILL', $self->{wrapper_pid};
                waitpid $self->{wrapper_pid}, 0;
                if (open my $wo, '>>', "$self->{dir}/wrapper.out") {
                    print $wo "killed: httpd did not end within 300 s\n";
                }
                last;
            }
            sleep 0.1;
        }
        delete $self->{wrapper_pid};
        # keep what the wrapper said for the script that checks it
        if (my $dir = $ENV{IMAGES_TEST_REPORTS}) {
            system('cp', "$self->{dir}/wrapper.out",
                   "$dir/" . ($0 =~ s{.*/}{}r) . ".$$.$self->{port}.txt");
        }
        return;
    }
    my $pidfile = "$self->{dir}/httpd.pid";
    return unless -f $pidfile;
    open my $fh, '<', $pidfile or return;
    my $pid = <$fh>;
    close $fh;
    chomp $pid;
    kill 'TERM', $pid;
    my $deadline = time + 10;
    while (kill(0, $pid) && time < $deadline) { sleep 0.05 }
}

# A graceful restart of httpd (SIGUSR1 to the parent): a new generation of
# children, the configuration and modules loaded again.
sub graceful {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/httpd.pid" or die "no httpd.pid: $!";
    my $pid = <$fh>;
    chomp $pid;
    kill 'USR1', $pid or die "kill USR1 $pid: $!";
}

sub error_log {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/error_log" or return '';
    local $/;
    return <$fh>;
}

# A password file for mod_authn_file (users with no users row, or none
# with a usable hash), readable by httpd's children; removed with the rest.
sub password_file {
    my ($self, %users) = @_;
    my $file = "$self->{dir}/htpasswd";
    my $flag = '-cbB';
    for my $user (sort keys %users) {
        my $out = `htpasswd $flag \Q$file\E \Q$user\E \Q$users{$user}\E 2>&1`;
        $? == 0 or die "htpasswd failed: $out\n";
        $flag = '-bB';
    }
    chmod 0644, $file;
    return $file;
}

sub base_url { "http://127.0.0.1:$_[0]{port}" }

# ---- requests ------------------------------------------------------------

my $JSON = JSON::PP->new->utf8->allow_nonref;

sub request {
    my ($self, $method, $path, %opt) = @_;
    my $http = HTTP::Tiny->new(timeout => $opt{timeout} || 30,
                               max_redirect => 0, keep_alive => 0);
    my %headers = %{ $opt{headers} || {} };
    $headers{Authorization} = "Token $opt{token}" if $opt{token};
    if ($opt{user}) {
        require MIME::Base64;
        $headers{Authorization} = 'Basic '
            . MIME::Base64::encode_base64("$opt{user}:$opt{password}", '');
    }
    my %args = (headers => \%headers);
    if (exists $opt{json}) {
        $args{content} = $JSON->encode($opt{json});
        $headers{'Content-Type'} //= 'application/json';
    }
    $args{content} = $opt{body} if exists $opt{body};
    my $res = $http->request($method, $self->base_url . $path, \%args);
    $res->{content} //= '';
    $res->{json} = eval { $JSON->decode($res->{content}) }
        if defined $res->{content} && length $res->{content};
    return $res;
}

# Send bytes as they are (for what HTTP::Tiny refuses to send); returns
# { status, headers (lower-case names), content, json }.
sub raw {
    my ($self, $bytes, %opt) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{port}",
                                  Timeout => $opt{timeout} || 30)
        or die "connect: $!";
    print $s $bytes;
    shutdown($s, 1) unless $opt{keep_open};
    local $/;
    my $data = <$s> // '';
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $data, 2;
    my %res = (content => $body // '', status => 0, headers => {});
    my @lines = split /\r\n/, $head // '';
    ($res{status}) = (shift(@lines) // '') =~ m{^HTTP/\S+ (\d+)};
    $res{status} //= 0;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $res{headers}{lc $k} = $v;
    }
    $res{json} = eval { $JSON->decode($res{content}) } if length $res{content};
    return \%res;
}

sub get { my ($self, $path, %opt) = @_; $self->request(GET => $path, %opt) }

sub json { $JSON }

sub DESTROY {
    my ($self) = @_;
    return unless $self->{owner_pid} && $self->{owner_pid} == $$;
    $self->stop_httpd;
    eval { $self->stop_pg } unless $self->{no_pg};
    if ($ENV{KEEP_TEST_DIR}) {
        warn "kept $self->{dir}\n";
    }
    else {
        system('rm', '-rf', $self->{dir});
    }
}

1;
