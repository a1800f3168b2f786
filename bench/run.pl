# Benchmarks (bench/run): the module in httpd's event MPM against its own
# PostgreSQL cluster, each endpoint measured with wrk right after the same
# httpd served the same JSON body as a static file: requests/s, p50, p99
# and the ratio to that static file.  At each catalogue size given: every
# size is loaded first, each in a cluster and httpd of its own, then each
# endpoint is measured at every size in turn, so that a change in the
# machine's speed during the run (other tenants of the host) weighs on
# both sides of a growth ratio alike.  That is done --rounds times (3):
# each figure is the median of its rounds, and the table shows the range of
# the p50s, so a run's noise can be read off it.
#
#   bench/run                       # 10,000 and 1,000,000 images
#   bench/run --sizes 10000 --seconds 5 --rounds 1
#
# Only loopback traffic; every run is bounded by --seconds.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Getopt::Long;
use POSIX ();
use sort "stable";
use ImagesTest;

$| = 1;
my ($sizes, $seconds, $conns, $out, $rounds) =
    ('10000,1000000', 10, 8, undef, 3);
GetOptions('sizes=s' => \$sizes, 'seconds=i' => \$seconds,
           'connections=i' => \$conns, 'out=s' => \$out,
           'rounds=i' => \$rounds)
    or die "usage: bench/run [--sizes N,M] [--seconds S] [--connections C]"
         . " [--rounds R]\n";
die "--rounds must be 1 or more\n" if $rounds < 1;

# ---- load every size -----------------------------------------------------
my @envs;
for my $n (split /,/, $sizes) {
    my $t = ImagesTest->new(loglevel => 'warn', conf => <<'C');
StartServers 2
ServerLimit 2
ThreadsPerChild 32
MaxRequestWorkers 64
DBDMax 16
DBDKeep 16
C
    print "== $n images: generating...\n";
    my $t0 = time;
    $t->run_cmd($t->psql_args('images'), '-v', "n=$n", '-f',
                "$ImagesTest::TOP/sql/generate.sql");
    $t->sql('VACUUM ANALYZE');
    printf "   generated in %ds\n", time - $t0;
    my $base = $t->base_url;

    # a user with a token and an image of their own, for PATCH
    $t->sql("INSERT INTO api_tokens (key, user_id) VALUES ('bench-token', 1)"
            . " ON CONFLICT DO NOTHING");
    my $creator = $t->sql_value('SELECT u.username FROM users u JOIN images i'
        . ' ON i.created_by = u.id WHERE i.is_public GROUP BY u.username'
        . ' ORDER BY count(*) DESC LIMIT 1 OFFSET 10');
    my $tag = $t->sql_value('SELECT t.name FROM tags t JOIN image_tags it'
        . ' ON it.tag_id = t.id GROUP BY t.name ORDER BY count(*) DESC'
        . ' LIMIT 1 OFFSET 20');
    my ($w1, $w2) = split /\s+/, $t->sql_value(
        "SELECT name FROM images WHERE name LIKE '% %' AND is_public"
        . ' ORDER BY id LIMIT 1 OFFSET 100');
    $w1 = substr($w1 // 'lab', 0, 5);
    $w2 = substr($w2 // 'data', 0, 5);
    my $one = $t->get('/images/1');
    die "GET /images/1: $one->{status}\n" unless $one->{status} == 200;

    # the static twin of GET /images/1, served by the same httpd
    open my $fh, '>', "$t->{dir}/htdocs/image.json" or die $!;
    print $fh $one->{content};
    close $fh;
    chmod 0644, "$t->{dir}/htdocs/image.json";

    my $patch_lua = "$t->{dir}/patch.lua";
    open my $lf, '>', $patch_lua or die $!;
    print $lf <<'LUA';
wrk.method = "PATCH"
wrk.headers["Authorization"] = "Token bench-token"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"description":"bench ' .. n .. '"}')
end
LUA
    close $lf;

    my @cases = (
        ['GET one image', '/images/1'],
        ['GET first page', '/images'],
        ['page by created_by__username', "/images?created_by__username=$creator"],
        ['page by tags__name', "/images?tags__name=$tag"],
        ['two-term search', "/images?search=$w1+$w2"],
        ['PATCH (token)', '/images/1', $patch_lua],
    );
    push @envs, { n => $n, t => $t, base => $base, cases => \@cases };
}

# ---- measure each endpoint at every size in turn, --rounds times ---------
my @rows;
for my $i (0 .. $#{ $envs[0]{cases} }) {
    my %runs;   # size => [ each round's figures ]
    for my $round (1 .. $rounds) {
        for my $e (@envs) {
            my ($n, $base) = @$e{qw(n base)};
            my ($name, $path, $lua) = @{ $e->{cases}[$i] };
            print "== $n images: $name (round $round)\n";
            # warm the plan caches of every pooled connection
            system("wrk -t2 -c$conns -d2s " . ($lua ? "-s $lua " : '')
                   . "'$base$path' >/dev/null 2>&1") if $round == 1;
            my $static = wrk("$base/image.json");
            my $r = wrk("$base$path", $lua);
            $r->{static_rps} = $static->{rps};
            $r->{ratio} = $static->{rps} ? $r->{rps} / $static->{rps} : 0;
            push @{ $runs{$n} }, $r;
            printf "   %-30s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms"
                   . "  static %9.0f req/s  ratio %.2f\n",
                $name, @$r{qw(rps p50 p99 static_rps ratio)};
        }
    }
    for my $e (@envs) {
        my $r = $runs{ $e->{n} };
        my %row = (n => $e->{n}, name => $e->{cases}[$i][0]);
        for my $k (qw(rps p50 p99 static_rps ratio)) {
            $row{$k} = median(map { $_->{$k} } @$r);
        }
        my @p50 = sort { $a <=> $b } map { $_->{p50} } @$r;
        @row{qw(p50_min p50_max)} = @p50[0, -1];
        push @rows, \%row;
    }
}
@envs = ();   # stops every httpd and cluster
@rows = sort { $a->{n} <=> $b->{n} } @rows;   # stable: endpoints in order

sub wrk {
    my ($url, $lua) = @_;
    my $cmd = "wrk -t2 -c$conns -d${seconds}s --latency "
        . ($lua ? "-s $lua " : '') . "'$url' 2>&1";
    my $txt = `$cmd`;
    my %r = (rps => 0, p50 => 0, p99 => 0, non2xx => 0);
    $r{rps} = $1 if $txt =~ /Requests\/sec:\s+([\d.]+)/;
    $r{p50} = ms($1) if $txt =~ /^\s+50%\s+(\S+)/m;
    $r{p99} = ms($1) if $txt =~ /^\s+99%\s+(\S+)/m;
    $r{non2xx} = $1 if $txt =~ /Non-2xx or 3xx responses:\s+(\d+)/;
    warn "non-2xx answers from $url: $r{non2xx}\n" if $r{non2xx};
    return \%r;
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

sub ms {
    my ($v) = @_;
    return $1 / 1000 if $v =~ /^([\d.]+)us$/;
    return $1 if $v =~ /^([\d.]+)ms$/;
    return $1 * 1000 if $v =~ /^([\d.]+)s$/;
    return 0;
}

# ---- the table -----------------------------------------------------------
my @lines = ('| images | endpoint | req/s | p50 ms | p50 of the rounds'
             . ' | p99 ms | static req/s | ratio |',
             '|---:|---|---:|---:|---|---:|---:|---:|');
for my $r (@rows) {
    push @lines, sprintf('| %s | %s | %.0f | %.2f | %.2f-%.2f | %.2f | %.0f'
                         . ' | %.2f |',
        $r->{n}, $r->{name}, $r->{rps}, $r->{p50}, $r->{p50_min},
        $r->{p50_max}, $r->{p99}, $r->{static_rps}, $r->{ratio});
}
my @sizes = split /,/, $sizes;
if (@sizes > 1) {
    push @lines, '', "| endpoint | p50 at $sizes[-1] / p50 at $sizes[0] |",
        '|---|---:|';
    for my $name (map { $_->{name} } grep { $_->{n} == $sizes[0] } @rows) {
        my ($a) = grep { $_->{n} == $sizes[0] && $_->{name} eq $name } @rows;
        my ($b) = grep { $_->{n} == $sizes[-1] && $_->{name} eq $name } @rows;
        next unless $a && $b && $a->{p50};
        push @lines, sprintf('| %s | %.2f |', $name, $b->{p50} / $a->{p50});
    }
}
my $cpu = `grep -m1 'model name' /proc/cpuinfo` =~ s/.*:\s*//r;
chomp $cpu;
my $table = join("\n", "wrk -t2 -c$conns -d${seconds}s, median of $rounds"
    . " rounds, "
    . POSIX::strftime('%Y-%m-%d', gmtime) . ", $cpu, "
    . `nproc` =~ s/\s+//r . ' cores', '', @lines) . "\n";
print "\n$table";
if ($out) {
    open my $of, '>', $out or die $!;
    print $of $table;
}
