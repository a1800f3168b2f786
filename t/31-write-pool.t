# The write pool (ImagesWriteDBDParams): PATCH runs on the module's own
# connections, everything else (reads, token checks, mod_authn_dbd) stays
# on mod_dbd's.  Here mod_dbd's pool connects as a role that may only read,
# so a PATCH can only succeed through the write pool; PostgreSQL logs every
# statement with the connection's application_name and role.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use IO::Select;
use POSIX qw(_exit WNOHANG);
use Time::HiRes qw(time sleep);
use ImagesTest;

my $t = ImagesTest->new(no_httpd => 1,
                        write_pool => 'application_name=images_write',
                        pg_options => q{-c log_statement=all}
                                      . q{ -c log_line_prefix='%a|%u|'});
$t->sql(q{CREATE ROLE images_reader LOGIN;
          GRANT SELECT ON ALL TABLES IN SCHEMA public TO images_reader});
$t->{dbdparams} = $t->conninfo . ' user=images_reader application_name=images_read';
$t->start_httpd;

my %alice = (token => 'alice-token-0123456789abcdef');
my %bob_basic = (user => 'bob', password => 'bob-pw');

is $t->get('/images/1')->{status}, 200, 'a read, as the reading role';
is $t->get('/images?search=ubuntu', %alice)->{status}, 200,
    'a search with a token';
is $t->get('/images/5', %bob_basic)->{status}, 200,
    'a Basic login (mod_authn_dbd on mod_dbd\'s pool)';
my $r = $t->request(PATCH => '/images/1', %alice,
                    json => { description => 'through the write pool' });
is $r->{status}, 200, 'PATCH: 200' or diag $r->{content};
is $t->get('/images/1')->{json}{description}, 'through the write pool',
    'and it landed';

# who ran what, by PostgreSQL's log
sub statements {
    open my $fh, '<', "$t->{dir}/pg/log" or die $!;
    my %by;
    while (<$fh>) {
        my ($app, $user, $stmt) = /^([^|]*)\|([^|]*)\|.*?LOG:  (?:statement: |execute )(.*)/
            or next;
        push @{ $by{"$app|$user"} }, $stmt;
    }
    return \%by;
}
my $by = statements();
my @writes = @{ $by->{'images_write|mod_images'} || [] };
ok((grep { /^mod_images_patch_update/ } @writes),
   'the update ran on the write pool, as the module\'s role');
ok((grep { /^mod_images_lock_by_id/ } @writes), 'and the row lock');
my @read_side = @{ $by->{'images_read|images_reader'} || [] };
ok((grep { /^mod_images_(get|anon)_by_id/ } @read_side),
   'reads ran on mod_dbd\'s pool');
ok(!(grep { /^mod_images_(patch|lock)/ } @read_side),
   'no PATCH statement on mod_dbd\'s pool');
ok(!(grep { /^mod_images_(get|anon|list|token)/ } @writes),
   'no read on the write pool');
like join(' ', @writes), qr/SET plan_cache_mode/,
    'the write pool\'s connections get the session settings';

# the write pool's connections killed: the next PATCH gets a new one
my $killed = $t->sql_value(q{SELECT count(pg_terminate_backend(pid))
    FROM pg_stat_activity WHERE application_name = 'images_write'});
cmp_ok $killed, '>', 0, "killed $killed write connections";
my @st = map {
    $t->request(PATCH => '/images/1', %alice,
                json => { description => "after kill $_" })->{status}
} 1 .. 10;
is_deeply \@st, [(200) x 10], 'every PATCH after that is 200';

# PostgreSQL restarted: the same
$t->stop_pg;
$r = $t->request(PATCH => '/images/1', %alice, json => { name => 'down' });
is $r->{status}, 503, 'PATCH with the database down: 503';
ok $r->{headers}{'retry-after'}, 'with Retry-After';
is $r->{headers}{'content-type'}, 'application/json', 'JSON';
$t->restart_pg;
my @res = map {
    $t->request(PATCH => '/images/1', %alice,
                json => { description => "after restart $_" })
} 1 .. 10;
@st = map { $_->{status} } @res;
is_deeply \@st, [(200) x 10], 'every PATCH after a restart is 200'
    or diag join "\n", (map { "$_->{status} $_->{content}" }
                              grep { $_->{status} != 200 } @res),
                        grep { /\[(images|dbd):/ } split /\n/, $t->error_log;
is $t->sql_value('SELECT description FROM images WHERE id = 1'),
    'after restart 10', 'the last one landed';
my $log = $t->error_log;
like $log, qr/AH20006: .*connection was lost/,
    'the lost connection is logged with its code';
like $log, qr/AH2010[17]: /, 'and the pool\'s failure to connect';
unlike $log, qr/segfault|exit signal/, 'no child crashed';

# a write pool that cannot connect: PATCH 503, each PATCH tries again
# (the database may be back); reads are not concerned
{
    my $w = ImagesTest->new(write_pool => 'port=1 application_name=nowhere');
    my $tries = sub { scalar(() = $w->error_log =~ /AH20102: /g) };
    my $before = $tries->();
    my @st = map {
        $w->request(PATCH => '/images/1', %alice,
                    json => { name => "nowhere $_" })->{status}
    } 1 .. 3;
    is_deeply \@st, [503, 503, 503],
        'a write pool that cannot connect: PATCH 503';
    is $w->get('/images/1')->{status}, 200, 'reads still served';
    cmp_ok $tries->() - $before, '>=', 3, 'each PATCH tried to connect';
    unlike $w->error_log, qr/AH20108: /,
        'none took the outcome of another\'s attempt';
}

# One child (so that every request meets the same pool).  Its write pool
# could not connect at start (PostgreSQL down); once PostgreSQL is back,
# the next PATCH connects: no 503 for a while after a failed attempt (a
# child the MPM started during an outage made t/31's restart check fail)
my $ONE_CHILD = "ServerLimit 1\nMaxRequestWorkers 16\n";
{
    my $d = ImagesTest->new(no_httpd => 1, write_pool => '',
                            conf => $ONE_CHILD);
    $d->stop_pg;
    $d->start_httpd;
    is $d->get('/images/1')->{status}, 503,
        'started with the database down: a read 503';
    is $d->request(PATCH => '/images/1', %alice,
                   json => { name => 'down' })->{status}, 503,
        'and a PATCH';
    like $d->error_log, qr/AH20102: /,
        'the write pool could not connect at start';
    $d->restart_pg;
    my @res = map {
        $d->request(PATCH => '/images/1', %alice,
                    json => { name => "back $_" })
    } 1 .. 3;
    is_deeply [map { $_->{status} } @res], [200, 200, 200],
        'the database back: the next PATCH connects, 200'
        or diag join "\n", map({ "$_->{status} $_->{content}" } @res),
                           grep { /\[images:/ } split /\n/, $d->error_log;
}

# PATCHes that arrive while another is connecting the write pool wait for
# that attempt and take its outcome: one attempt, not one each.  The
# "server" accepts connections and answers nothing, until told to close.
{
    my $held = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1',
                                     LocalPort => 0, Proto => 'tcp',
                                     ReuseAddr => 1) or die $!;
    my $sel = IO::Select->new($held);
    my $next = sub {          # the next connection attempt, if any comes
        my ($wait) = @_;
        return $sel->can_read($wait) ? scalar $held->accept : undef;
    };
    my $h = ImagesTest->new(conf => $ONE_CHILD, write_pool =>
        "host=127.0.0.1 port=@{[ $held->sockport ]} connect_timeout=60");
    my $start = $next->(30);
    ok $start, 'the child\'s setup at start tries to connect';
    shutdown $start, 2 if $start;
    is $h->get('/images/1')->{status}, 200, 'the child serves';
    my $patch = sub {         # in a process of its own: exits with 0 for 503
        my $pid = fork // die $!;
        return $pid if $pid;
        my $st = $h->request(PATCH => '/images/1', %alice,
                             json => { name => 'held' })->{status};
        _exit($st == 503 ? 0 : 1);
    };
    my $first = $patch->();
    my $attempt = $next->(30);
    ok $attempt, 'a PATCH tries to connect';
    my $second = $patch->();
    my $deadline = time + 30;
    sleep 0.05 until $h->error_log =~ /AH20109: / || time > $deadline;
    like $h->error_log, qr/AH20109: /, 'another PATCH waits for that attempt';
    shutdown $attempt, 2 if $attempt;    # the attempt fails (the second
                                         # PATCH's process has it too)
    waitpid $first, 0;
    is $?, 0, 'the first PATCH: 503';
    my ($more, $status) = (0, 'not done');
    while (time < $deadline) {
        if (waitpid($second, WNOHANG) == $second) {
            $status = $?;
            last;
        }
        if (my $c = $next->(0.1)) { $more++; shutdown $c, 2 }
    }
    is $status, 0, 'the second: 503';
    is $more, 0, 'without an attempt of its own';
    like $h->error_log, qr/AH20108: /, 'logged as such';
}

# the settings are checked when the server starts
for my $bad (["ImagesWriteDBDMin 3\nImagesWriteDBDMax 2\n",
              qr/ImagesWriteDBDMin \(3\) <= ImagesWriteDBDKeep/],
             ["ImagesWriteDBDMax x\n", qr/ImagesWriteDBDMax must be an integer/]) {
    my ($conf, $want) = @$bad;
    my $out = eval {
        ImagesTest->new(conf => $conf, write_pool => '', empty => 1); 1
    } ? '' : $@;
    like $out, $want, "refused: $conf";
}
done_testing;
