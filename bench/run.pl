# Benchmarks (bench/run): the module in httpd's event MPM against its own
# PostgreSQL cluster, on a catalogue of real text (bench/corpus.pl: Debian's
# package descriptions) loaded through the contract tables only, so that any
# version of sql/schema.sql derives what it needs by its own triggers.
#
# At each catalogue size it reports
#  - the bulk load: images/s of the COPY load with all trigger work, the time
#    of each table's COPY, and VACUUM ANALYZE's time apart;
#  - the size of every table and index, and the search-related ones (tables
#    and indexes named search or trgm, GIN indexes, search_* columns of
#    images) summed against the images table;
#  - each endpoint with wrk right after the same httpd served the same JSON
#    as a static file: requests/s, p50, p99 and the ratio to that file.
#    Searches by band of document frequency (common, medium, rare; one and
#    two terms), each wrk run rotating over the band's terms (Lua) so that
#    no one cached query is measured; terms of two letters (vm, qt, ...);
#    PATCH on a different image of the token's user at each request.
# Every size is loaded first, each in a cluster and httpd of its own; then
# each endpoint is measured at every size in turn, --rounds times, so that a
# change in the machine's speed weighs on all sizes alike; each figure is
# the median of its rounds, and the table shows the range of the p50s.
#
#   bench/run                                  # 10,000, 100,000, 1,000,000
#   bench/run --sizes 5000 --seconds 3 --rounds 1
#   bench/run --compare ac59ff5 --sizes 10000,100000
#   bench/run --corpus synthetic               # the old sql/generate.sql
#   bench/run --sizes 1000000 --pg shared_buffers=2GB,huge_pages=on
#   bench/run --sizes 1000000 --connections 1  # each request's own latency
#
# --connections C (default 8): wrk's connections, always waiting, on two
# threads.  On a machine of 2 cores that httpd, PostgreSQL and wrk share,
# 8 keep every core busy and a request's latency includes its wait behind
# the others; 1 (one thread) measures what one request takes alone.
#
# --compare REV builds REV in a git worktree under /tmp and measures it too,
# on the same corpus, in a cluster loaded with ITS sql/schema.sql and an
# httpd with ITS module and conf/, side by side (new/old ratios).  Only at
# the sizes of --compare-sizes (default: those of --sizes up to 100,000; an
# older schema may load slowly).
#
# --pg NAME=VALUE,... sets PostgreSQL settings in every cluster it starts
# (docs/configuration.md, "PostgreSQL's memory for a large catalogue"):
# huge_pages=on needs the kernel's huge pages reserved first (sysctl
# vm.nr_hugepages), enough for every cluster alive at once (one per size and
# side; the reference's is stopped after its load), or a cluster does not
# start.
#
# Only loopback traffic; every wrk run is bounded by --seconds.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Getopt::Long;
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time);
use sort "stable";
use ImagesTest;

$| = 1;
my ($sizes, $seconds, $conns, $out, $rounds, $corpus, $seed, $compare,
    $compare_sizes, $pg) =
    ('10000,100000,1000000', 10, 8, undef, 3, 'real', 1, undef, undef, '');
GetOptions('sizes=s' => \$sizes, 'seconds=i' => \$seconds,
           'connections=i' => \$conns, 'out=s' => \$out,
           'rounds=i' => \$rounds, 'corpus=s' => \$corpus,
           'seed=i' => \$seed, 'compare=s' => \$compare,
           'compare-sizes=s' => \$compare_sizes, 'pg=s' => \$pg)
    or die "usage: bench/run [--sizes N,M] [--seconds S] [--connections C]"
         . " [--rounds R] [--corpus real|synthetic] [--seed S]"
         . " [--compare REV [--compare-sizes N,M]] [--pg NAME=VALUE,...]"
         . " [--out FILE]\n";
die "--rounds must be 1 or more\n" if $rounds < 1;
die "--connections must be 1 or more\n" if $conns < 1;
# wrk wants a connection per thread at least: one connection, one thread
# (a request's own latency, nothing queued behind another)
my $threads = $conns < 2 ? $conns : 2;
die "--corpus is real or synthetic\n" unless $corpus =~ /^(real|synthetic)$/;
die "--pg takes NAME=VALUE pairs, separated by commas\n"
    unless $pg =~ /^(?:[a-z_.]+=[\w.]+(?:,|$))*$/;
# postgres -c for each: the same settings in every cluster
my $pg_options = join ' ', map { "-c $_" } split /,/, $pg;
my @sizes = split /,/, $sizes;
my %compare_at = map { $_ => 1 }
    $compare_sizes ? split(/,/, $compare_sizes) : grep { $_ <= 100000 } @sizes;

my $JSON = JSON::PP->new->canonical;
# corpus files: 1.5 GB at 1,000,000 images
my $work = tempdir('mod_images-bench-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $work;   # psql reads the corpus as postgres

# ---- the compared commit --------------------------------------------------
my ($old_top, $old_rev);
if ($compare) {
    chomp($old_rev = `git -C $ImagesTest::TOP rev-parse --short \Q$compare\E`);
    die "--compare: no commit $compare\n" if $? || !$old_rev;
    $old_top = "/tmp/mod_images-compare-$old_rev-$$";
    print "== building $old_rev in $old_top\n";
    system("git -C $ImagesTest::TOP worktree add -q --detach $old_top"
           . " $old_rev") == 0 or die "git worktree add failed\n";
    system("cd $old_top && scripts/build >build.log 2>&1") == 0
        or die "build of $old_rev failed: $old_top/build.log\n";
}
END {
    if ($old_top && -d $old_top) {
        system("git -C $ImagesTest::TOP worktree remove --force $old_top");
    }
}
chomp(my $new_rev = `git -C $ImagesTest::TOP rev-parse --short HEAD`);
$new_rev .= '+' if `git -C $ImagesTest::TOP status --porcelain -uno`;

# ---- the terms of the synthetic corpus (sql/generate.sql's word lists) ------
my %SYNTH = (
    common => { terms => [ map { { term => $_ } } qw(server pipeline
        workbench stable minimal community notebook portal cluster studio) ],
        pairs => [ map { { terms => $_ } } [qw(server stable)],
                   [qw(pipeline minimal)], [qw(notebook community)] ] },
    medium => { terms => [ map { { term => $_ } } qw(jupyter tensorflow
        rstudio kubernetes spark gromacs paraview openfoam) ],
        pairs => [ map { { terms => $_ } } [qw(jupyter astronomy)],
                   [qw(spark genomics)], [qw(gromacs chemistry)] ] },
);

# ---- load every size, each side --------------------------------------------
my @envs;   # { n, side, t, base, cases, load, sizes, bands }
my %terms_of;
my %bare;   # n => seconds of the reference load (bench/bare.sql)
for my $n (@sizes) {
    my ($file, $terms);
    if ($corpus eq 'real') {
        $file = "$work/corpus-$n.sql";
        print "== $n images: generating the corpus...\n";
        my $t0 = time;
        system($^X, "$FindBin::Bin/corpus.pl", '--n', $n, '--seed', $seed,
               '--out', $file, '--terms', "$work/terms-$n.json") == 0
            or die "corpus.pl failed\n";
        printf "   generated in %.0fs (%.0f MB)\n", time - $t0,
            (-s $file) / 1e6;
        open my $fh, '<', "$work/terms-$n.json" or die $!;
        local $/;
        $terms = $JSON->decode(<$fh>)->{bands};
    }
    else {
        $terms = \%SYNTH;
    }
    $terms_of{$n} = $terms;
    $bare{$n} = bare_load($n, $file) if $file;
    for my $side ('new', $compare && $compare_at{$n} ? 'old' : ()) {
        push @envs, load_env($n, $side, $file, $terms);
    }
    unlink $file if $file;
}

# The same corpus into the reference (bench/bare.sql): seconds of the load.
sub bare_load {
    my ($n, $file) = @_;
    print "== $n images, the reference: loading...\n";
    my $t = ImagesTest->new(no_httpd => 1, empty => 1,
                            schema => "$FindBin::Bin/bare.sql",
                            pg_options => $pg_options);
    my $t0 = time;
    $t->run_cmd($t->psql_args('images'), '-1', '-f', $file);
    my $s = time - $t0;
    printf "   loaded in %.1fs (%.0f images/s)\n", $s, $n / $s;
    return $s;
}

sub load_env {
    my ($n, $side, $file, $terms) = @_;
    my $t = ImagesTest->new(loglevel => 'warn', empty => $corpus eq 'real',
                            $side eq 'old' ? (top => $old_top) : (),
                            pg_options => $pg_options,
                            conf => <<'C');
StartServers 2
ServerLimit 2
ThreadsPerChild 32
MaxRequestWorkers 64
DBDMax 16
DBDKeep 16
C
    my $label = $side eq 'old' ? "$n images, $old_rev" : "$n images";
    print "== $label: loading...\n";
    my %load;
    my $t0 = time;
    if ($file) {
        my $txt = $t->run_cmd($t->psql_args('images'), '-1', '-c',
                              '\timing on', '-f', $file);
        # corpus.pl echoes "table X" before each COPY; psql the time after it
        while ($txt =~ /^table (\w+)\nTime: ([\d.]+) ms/mg) {
            $load{tables}{$1} = $2 / 1000;
        }
    }
    else {
        $t->run_cmd($t->psql_args('images'), '-v', "n=$n", '-f',
                    $t->top . '/sql/generate.sql');
        $t->sql("INSERT INTO api_tokens (key, user_id) VALUES"
                . " ('bench-token', 1) ON CONFLICT DO NOTHING");
    }
    $load{seconds} = time - $t0;
    $t0 = time;
    $t->sql('VACUUM ANALYZE');
    $load{vacuum} = time - $t0;
    printf "   loaded in %.1fs (%.0f images/s), VACUUM ANALYZE %.1fs\n",
        $load{seconds}, $n / $load{seconds}, $load{vacuum};

    my $base = $t->base_url;
    my $e = { n => $n, side => $side, t => $t, base => $base, load => \%load,
              sizes => relation_sizes($t) };

    # the inputs of the endpoints, all through the contract tables
    my $creator = $t->sql_value('SELECT u.username FROM users u JOIN images i'
        . ' ON i.created_by = u.id WHERE i.is_public GROUP BY u.username'
        . ' ORDER BY count(*) DESC, u.username LIMIT 1 OFFSET 10');
    my $tag = $t->sql_value('SELECT t.name FROM tags t JOIN image_tags it'
        . ' ON it.tag_id = t.id GROUP BY t.name ORDER BY count(*) DESC,'
        . ' t.name LIMIT 1 OFFSET 20');
    my $one = $t->sql_value('SELECT min(id) FROM images WHERE is_public'
        . ' AND end_date IS NULL');
    # ended images are invisible to their creator too (a 404 to PATCH)
    my @mine = map { $_->[0] } @{ $t->sql('SELECT id FROM images WHERE'
        . ' created_by = 1 AND (end_date IS NULL OR end_date > now())'
        . ' ORDER BY id LIMIT 5000') };
    my $res = $t->get("/images/$one");
    die "GET /images/$one: $res->{status}\n" unless $res->{status} == 200;
    # the static twin of GET one image, served by the same httpd
    open my $fh, '>', "$t->{dir}/htdocs/image.json" or die $!;
    print $fh $res->{content};
    close $fh;
    chmod 0644, "$t->{dir}/htdocs/image.json";

    my $q = sub { '/images?search=' . join '+', map { uri($_) } @_ };
    my @cases = (
        ['GET one image', "/images/$one"],
        ['GET first page', '/images'],
        ['page by creator', '/images?created_by__username=' . uri($creator)],
        ['page by tag', '/images?tags__name=' . uri($tag)],
    );
    for my $band (grep { $terms->{$_} } qw(common medium rare)) {
        my $b = $terms->{$band};
        push @cases, ["search $band, 1 term",
                      lua_paths($t, "s-$band-1", map { $q->($_->{term}) }
                                                 @{ $b->{terms} })]
            if @{ $b->{terms} };
        push @cases, ["search $band, 2 terms",
                      lua_paths($t, "s-$band-2", map { $q->(@{ $_->{terms} }) }
                                                 @{ $b->{pairs} })]
            if @{ $b->{pairs} };
    }
    # terms of two letters, as users type them (a language, a kind of
    # image): in many images, none a word of three
    push @cases, ['search, a term of two letters',
                  lua_paths($t, 's-two', map { $q->($_) }
                                         qw(vm qt db ml ai os go js ui io))];
    push @cases, ['search medium, signed in',
                  lua_paths($t, 'signed-in', { token => 'bench-token' },
                            map { $q->($_->{term}) }
                            @{ $terms->{medium}{terms} })];
    push @cases, ['PATCH (token)', lua_patch($t, @mine)];
    $e->{cases} = \@cases;

    # how many images each band's searches find (anonymous)
    for my $band (grep { $terms->{$_} } qw(common medium rare)) {
        for my $k (qw(terms pairs)) {
            my @c = map {
                my $r = $t->get($q->($k eq 'terms' ? $_->{term}
                                     : @{ $_->{terms} }) . '&page_size=1');
                $r->{json} ? $r->{json}{count} : -1;
            } @{ $terms->{$band}{$k} };
            $e->{found}{$band}{$k} = [ sort { $a <=> $b } @c ];
        }
    }
    return $e;
}

sub uri {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge;
    return $s;
}

# A Lua script for wrk that requests each path in turn: [path of the first,
# script].  Threads start at different places of the list.
sub lua_paths {
    my ($t, $name, @paths) = @_;
    my $opt = ref $paths[0] ? shift @paths : {};
    my $file = "$t->{dir}/$name.lua";
    open my $fh, '>', $file or die $!;
    print $fh qq{wrk.headers["Authorization"] = "Token $opt->{token}"\n}
        if $opt->{token};
    print $fh "local paths = {\n", map({ qq{  "$_",\n} } @paths), "}\n",
        <<'LUA';
local i = 0
local thread_no = 0
function setup(thread)
  thread:set("start", thread_no * 7)
  thread_no = thread_no + 1
end
function request()
  i = i + 1
  return wrk.format(nil, paths[((i + (start or 0)) % #paths) + 1])
end
LUA
    close $fh;
    return ($paths[0], $file);
}

# PATCH a different image of the token's user at each request, with a new
# description; each wrk thread takes its own share of the images, so no two
# requests wait on one row.
sub lua_patch {
    my ($t, @ids) = @_;
    die "the token's user owns no image\n" unless @ids;
    my $file = "$t->{dir}/patch.lua";
    open my $fh, '>', $file or die $!;
    print $fh "local ids = {", join(',', @ids), "}\n", <<'LUA';
wrk.method = "PATCH"
wrk.headers["Authorization"] = "Token bench-token"
wrk.headers["Content-Type"] = "application/json"
local thread_no = 0
function setup(thread)
  thread:set("me", thread_no)
  thread_no = thread_no + 1
end
local n = 0
function request()
  n = n + 1
  local k = ((n * 2 + (me or 0)) % #ids) + 1
  return wrk.format(nil, "/images/" .. ids[k], nil,
    '{"description":"bench ' .. (me or 0) .. ' ' .. n .. '"}')
end
LUA
    close $fh;
    return ("/images/$ids[0]", $file);
}

# Every table and index of the database: [name, kind, table of an index,
# own size, its indexes' size (tables), total]; and what search costs.
sub relation_sizes {
    my ($t) = @_;
    my $rows = $t->sql(<<'SQL');
SELECT c.relname, c.relkind, coalesce(it.relname, ''), coalesce(am.amname, ''),
       pg_relation_size(c.oid),
       CASE WHEN c.relkind = 'r' THEN pg_indexes_size(c.oid) ELSE 0 END,
       pg_total_relation_size(c.oid)
  FROM pg_class c
  LEFT JOIN pg_index i ON i.indexrelid = c.oid
  LEFT JOIN pg_class it ON it.oid = i.indrelid
  LEFT JOIN pg_am am ON am.oid = c.relam
 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i')
 ORDER BY coalesce(it.relname, c.relname), c.relkind DESC, c.relname
SQL
    my %s = (rows => $rows, search => 0, parts => []);
    for my $r (@$rows) {
        my ($name, $kind, $table, $am, $own, $idx, $total) = @$r;
        $s{images} = $own if $name eq 'images';
        $s{all} += $total if $kind eq 'r';
        if ($kind eq 'r' && $name =~ /search|trgm/) {
            $s{search} += $total;
            push @{ $s{parts} }, $name;
        }
        elsif ($kind eq 'i' && $table !~ /search|trgm/
               && ($name =~ /search|trgm/ || $am eq 'gin')) {
            $s{search} += $own;
            push @{ $s{parts} }, $name;
        }
    }
    # derived search columns live in the images heap (and its TOAST)
    for my $col (map { $_->[0] } @{ $t->sql("SELECT attname FROM pg_attribute"
        . " WHERE attrelid = 'images'::regclass AND attnum > 0 AND NOT"
        . " attisdropped AND attname LIKE 'search%' ORDER BY attname") }) {
        my $b = $t->sql_value("SELECT coalesce(sum(pg_column_size($col)), 0)"
                              . ' FROM images');
        $s{search} += $b;
        push @{ $s{parts} }, "images.$col";
    }
    return \%s;
}

# ---- measure each endpoint at every size in turn, --rounds times ---------
my @rows;
my (%seen, @names);   # a band with no pairs at some size has no case there
for my $e (@envs) {
    $e->{case}{ $_->[0] } = $_ for @{ $e->{cases} };
    push @names, grep { !$seen{$_}++ } map { $_->[0] } @{ $e->{cases} };
}
for my $case (@names) {
    my %runs;   # env index => [ each round's figures ]
    for my $round (1 .. $rounds) {
        for my $k (0 .. $#envs) {
            my $e = $envs[$k];
            my $c = $e->{case}{$case} or next;
            my ($name, $path, $lua) = @$c;
            my $label = "$e->{n}" . ($e->{side} eq 'old' ? " $old_rev" : '');
            print "== $label: $name (round $round)\n";
            # warm the plan caches of every pooled connection
            system("wrk -t$threads -c$conns -d2s " . ($lua ? "-s $lua " : '')
                   . "'$e->{base}$path' >/dev/null 2>&1") if $round == 1;
            my $static = wrk("$e->{base}/image.json");
            my $r = wrk("$e->{base}$path", $lua);
            # wrk does not say which answers: the error log might
            if ($r->{non2xx}) {
                my @log = split /\n/, $e->{t}->error_log;
                warn "   error_log: $_\n" for grep { defined } @log[-3 .. -1];
            }
            $r->{static_rps} = $static->{rps};
            $r->{ratio} = $static->{rps} ? $r->{rps} / $static->{rps} : 0;
            push @{ $runs{$k} }, $r;
            printf "   %-30s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms"
                   . "  static %9.0f req/s  ratio %.2f\n",
                $name, @$r{qw(rps p50 p99 static_rps ratio)};
        }
    }
    for my $k (sort { $a <=> $b } keys %runs) {
        my $e = $envs[$k];
        my $r = $runs{$k};
        my %row = (n => $e->{n}, side => $e->{side}, name => $case);
        for my $f (qw(rps p50 p99 static_rps ratio non2xx)) {
            $row{$f} = median(map { $_->{$f} } @$r);
        }
        my @p50 = sort { $a <=> $b } map { $_->{p50} } @$r;
        @row{qw(p50_min p50_max)} = @p50[0, -1];
        push @rows, \%row;
    }
}

sub wrk {
    my ($url, $lua) = @_;
    my $cmd = "wrk -t$threads -c$conns -d${seconds}s --latency "
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

sub mb { sprintf '%.1f', $_[0] / 1048576 }

# ---- the tables ------------------------------------------------------------
my $side_name = sub { $_[0] eq 'old' ? $old_rev : $new_rev };
my @lines;
push @lines, '### Bulk load', '',
    '| images | commit | COPY load s | images/s | images s | image_tags s'
    . ' | image_versions s | VACUUM ANALYZE s |',
    '|---:|---|---:|---:|---:|---:|---:|---:|';
for my $e (sort { $a->{n} <=> $b->{n} } @envs) {
    my $l = $e->{load};
    push @lines, sprintf '| %d | %s | %.1f | %.0f | %s | %s | %s | %.1f |',
        $e->{n}, $side_name->($e->{side}), $l->{seconds},
        $e->{n} / $l->{seconds},
        map({ defined $l->{tables}{$_} ? sprintf('%.1f', $l->{tables}{$_})
                                       : '-' }
            qw(images image_tags image_versions)), $l->{vacuum};
}
if (%bare) {
    push @lines, '', '| images | commit | images/s | the reference\'s images/s'
        . ' (bench/bare.sql) | ratio |', '|---:|---|---:|---:|---:|';
    for my $e (sort { $a->{n} <=> $b->{n} } grep { $bare{$_->{n}} } @envs) {
        my $rate = $e->{n} / $e->{load}{seconds};
        my $ref = $e->{n} / $bare{ $e->{n} };
        push @lines, sprintf '| %d | %s | %.0f | %.0f | %.2f |', $e->{n},
            $side_name->($e->{side}), $rate, $ref, $rate / $ref;
    }
}

push @lines, '', '### Sizes (MB)', '',
    '| images | commit | relation | of table | own | indexes | total |',
    '|---:|---|---|---|---:|---:|---:|';
for my $e (sort { $a->{n} <=> $b->{n} } @envs) {
    for my $r (@{ $e->{sizes}{rows} }) {
        my ($name, $kind, $table, $am, $own, $idx, $total) = @$r;
        push @lines, sprintf '| %d | %s | %s | %s | %s | %s | %s |',
            $e->{n}, $side_name->($e->{side}),
            $kind eq 'i' ? "$name ($am)" : "**$name**", $table, mb($own),
            $kind eq 'r' ? mb($idx) : '', mb($total);
    }
}
push @lines, '', '| images | commit | search-related MB | images heap MB'
    . ' | search / images | all tables MB | search-related |',
    '|---:|---|---:|---:|---:|---:|---|';
for my $e (sort { $a->{n} <=> $b->{n} } @envs) {
    my $s = $e->{sizes};
    push @lines, sprintf '| %d | %s | %s | %s | %.2f | %s | %s |', $e->{n},
        $side_name->($e->{side}), mb($s->{search}), mb($s->{images}),
        $s->{images} ? $s->{search} / $s->{images} : 0, mb($s->{all}),
        join(', ', @{ $s->{parts} });
}

push @lines, '', '### Search terms: images found (min / median / max)', '',
    '| images | band | terms | 1 term | pairs | 2 terms |',
    '|---:|---|---:|---|---:|---|';
for my $e (grep { $_->{side} eq 'new' } @envs) {
    for my $band (qw(common medium rare)) {
        my $f = $e->{found}{$band} or next;
        my $mmm = sub { my @v = @{ $_[0] };
            @v ? join(' / ', $v[0], median(@v), $v[-1]) : '-' };
        push @lines, sprintf '| %d | %s | %d | %s | %d | %s |', $e->{n},
            $band, scalar @{ $f->{terms} }, $mmm->($f->{terms}),
            scalar @{ $f->{pairs} }, $mmm->($f->{pairs});
    }
}

push @lines, '', '### Endpoints', '',
    '| images | commit | endpoint | req/s | p50 ms | p50 of the rounds'
    . ' | p99 ms | static req/s | ratio |',
    '|---:|---|---|---:|---:|---|---:|---:|---:|';
@rows = sort { $a->{n} <=> $b->{n} || ($a->{side} eq 'old')
                                      <=> ($b->{side} eq 'old') } @rows;
for my $r (@rows) {
    push @lines, sprintf('| %s | %s | %s | %.0f | %.2f | %.2f-%.2f | %.2f'
                         . ' | %.0f | %.2f |',
        $r->{n}, $side_name->($r->{side}), $r->{name}
        . ($r->{non2xx} ? " ($r->{non2xx} non-2xx)" : ''), $r->{rps},
        $r->{p50}, $r->{p50_min}, $r->{p50_max}, $r->{p99},
        $r->{static_rps}, $r->{ratio});
}
my $find = sub {
    my ($n, $side, $name) = @_;
    my ($r) = grep { $_->{n} == $n && $_->{side} eq $side
                     && $_->{name} eq $name } @rows;
    return $r;
};
if ($compare) {
    push @lines, '', "### $new_rev against $old_rev", '',
        "| images | endpoint | req/s $new_rev | req/s $old_rev | new/old"
        . " | p50 $new_rev | p50 $old_rev | new/old | p99 $new_rev"
        . " | p99 $old_rev |",
        '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|';
    for my $r (grep { $_->{side} eq 'new' } @rows) {
        my $o = $find->($r->{n}, 'old', $r->{name}) or next;
        push @lines, sprintf('| %d | %s | %.0f | %.0f | %.2f | %.2f | %.2f'
                             . ' | %.2f | %.2f | %.2f |',
            $r->{n}, $r->{name}, $r->{rps}, $o->{rps},
            $o->{rps} ? $r->{rps} / $o->{rps} : 0, $r->{p50}, $o->{p50},
            $o->{p50} ? $r->{p50} / $o->{p50} : 0, $r->{p99}, $o->{p99});
    }
}
if (@sizes > 1) {
    push @lines, '', "| endpoint | p50 at $sizes[-1] / p50 at $sizes[0] |",
        '|---|---:|';
    for my $name (map { $_->{name} }
                  grep { $_->{n} == $sizes[0] && $_->{side} eq 'new' } @rows) {
        my $a = $find->($sizes[0], 'new', $name);
        my $b = $find->($sizes[-1], 'new', $name);
        next unless $a && $b && $a->{p50};
        push @lines, sprintf('| %s | %.2f |', $name, $b->{p50} / $a->{p50});
    }
}
@envs = ();   # stops every httpd and cluster
my $cpu = `grep -m1 'model name' /proc/cpuinfo` =~ s/.*:\s*//r;
chomp $cpu;
my $table = join("\n", "bench/run --corpus $corpus --seed $seed: wrk -t$threads"
    . " -c$conns -d${seconds}s, median of $rounds rounds, "
    . ($pg ? "PostgreSQL $pg, " : '')
    . POSIX::strftime('%Y-%m-%d', gmtime) . ", $cpu, "
    . `nproc` =~ s/\s+//r . ' cores, load average '
    . (split ' ', `cat /proc/loadavg`)[0] . " at the end", '', @lines) . "\n";
print "\n$table";
if ($out) {
    open my $of, '>', $out or die $!;
    print $of $table;
}
