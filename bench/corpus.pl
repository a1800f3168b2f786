#!/usr/bin/perl
# A catalogue of N images made of real text, for bench/run: Debian's package
# descriptions as apt knows them offline.  Each image bundles 2-5 packages:
# its name is the main package and words of its summary, its description the
# bundled packages' descriptions, its tags their sections and debtags.
#
#   bench/corpus.pl --n 100000 --seed 1 --terms terms.json > corpus.sql
#   psql -X -1 -v ON_ERROR_STOP=1 -d images -f corpus.sql
#
# The output is a psql script of COPY ... FROM STDIN blocks into the contract
# tables only (CONTRACT.md section 1), with explicit ids and the identity
# sequences moved past them at the end: whatever a schema derives (search
# text, counts, JSON) its triggers compute while the COPY runs, so the same
# file loads into any version of sql/schema.sql.  Load it into an empty
# database (the ids start at 1).
#
# The same --seed and the same apt lists give the same file, byte for byte.
# Images are written as they are made (the other tables go through temporary
# files), so memory stays flat but for the search-term sample (below).
#
# --terms FILE gets the search terms for the benchmark (JSON): lower-case
# words of 3+ letters/digits of the images' searchable text (name,
# description, tag names and descriptions) in three bands of document
# frequency, each with pairs of its words that occur together in at least
# one image.  A search term matches as a substring (docs/api.md), so a word
# is only taken for the medium and rare bands when the words containing it
# cannot push it out of its band.  Counted over every image up to 100,000
# images, over an even sample of 100,000 above.
#
# The long descriptions are in apt's Translation-en files, which this machine
# does not download (Acquire::Languages "none"): when /var/lib/apt/lists has
# none, they are fetched once into a private lists folder (--lists) with
# apt-get update, leaving the system's lists alone.  --no-fetch: summaries
# only.
use strict;
use warnings;
use Getopt::Long;
use File::Temp qw(tempfile);
use JSON::PP;
use POSIX qw(floor);

my ($n, $seed, $out, $terms_out, $no_fetch) = (10000, 1, undef, undef, 0);
my $lists = '/var/cache/mod-images-bench/lists';
GetOptions('n=i' => \$n, 'seed=i' => \$seed, 'out=s' => \$out,
           'terms=s' => \$terms_out, 'lists=s' => \$lists,
           'no-fetch' => \$no_fetch)
    or die "usage: bench/corpus.pl [--n N] [--seed S] [--out FILE]"
         . " [--terms FILE] [--lists DIR] [--no-fetch]\n";
die "--n must be 1 or more\n" if $n < 1;

my $t_start = time;
srand($seed);

# The reference "now" of the corpus: fixed, so that a seed gives one file.
# End dates before it are past, those after it in the future (to 2030).
my $REF = 1795996800;              # 2026-12-01 00:00:00 UTC
my $FIRST = 1451606400;            # 2016-01-01: start dates over ~11 years

# ---- packages ------------------------------------------------------------

my %pkg;   # name => { section, tags, short, md5, version }
my %maint; # the maintainers' addresses' local parts, for user names
sub read_dumpavail {
    open my $fh, '-|', 'apt-cache', 'dumpavail'
        or die "apt-cache dumpavail: $!";
    my (%r, $field);
    my $flush = sub {
        if ($r{Package} && $r{Description} && !$pkg{ $r{Package} }) {
            my $sec = $r{Section} // 'misc';
            $sec =~ s{.*/}{};      # non-free/science -> science
            $pkg{ $r{Package} } = {
                section => $sec, short => $r{Description},
                md5 => $r{'Description-md5'} // '', version => $r{Version},
                tags => [ grep { /\S/ } split /,\s*/, $r{Tag} // '' ] };
        }
        $maint{ lc $1 } = 1 if ($r{Maintainer} // '') =~ /<([^@>]+)@/;
        %r = ();
    };
    while (<$fh>) {
        chomp;
        if ($_ eq '') { $flush->(); next }
        if (/^ (.*)/) { $r{$field} .= " $1" if $field; next }
        ($field, my $v) = /^([\w-]+):\s*(.*)$/ or next;
        $r{$field} = $v;
    }
    $flush->();
    close $fh;
}
read_dumpavail();
if (keys %pkg < 3000) {
    warn "corpus: apt knows only " . keys(%pkg)
       . " packages: running apt-get update\n";
    system('apt-get', '-qq', 'update') == 0 or die "apt-get update failed\n";
    %pkg = ();
    read_dumpavail();
    die "corpus: still only " . keys(%pkg) . " packages\n" if keys %pkg < 3000;
}

# md5 of the summary => long description (the paragraphs after it)
my %long;
sub read_translations {
    my @files = grep { -f } glob('/var/lib/apt/lists/*_i18n_Translation-en*');
    @files = grep { -f } glob("$lists/*_i18n_Translation-en*") unless @files;
    if (!@files && !$no_fetch) {
        warn "corpus: no Translation-en in /var/lib/apt/lists: fetching the"
           . " long descriptions into $lists (apt-get update)\n";
        system('mkdir', '-p', "$lists/partial", "$lists.cache");
        system('apt-get', '-qq', '-o', "Dir::State::Lists=$lists",
               '-o', "Dir::Cache=$lists.cache", '-o', 'Acquire::Languages=en',
               'update') == 0
            or warn "corpus: apt-get update failed: summaries only\n";
        @files = grep { -f } glob("$lists/*_i18n_Translation-en*");
    }
    warn "corpus: no long descriptions: summaries only\n" unless @files;
    for my $f (sort @files) {
        open my $fh, '-|', '/usr/lib/apt/apt-helper', 'cat-file', $f
            or die "apt-helper cat-file $f: $!";
        my ($md5, $text, $in) = ('', '', 0);
        while (<$fh>) {
            chomp;
            if ($_ eq '') {
                $long{$md5} //= $text if $md5 && $text ne '';
                ($md5, $text, $in) = ('', '', 0);
            }
            elsif (/^Description-md5: (\S+)/) { $md5 = $1 }
            elsif (/^Description-en:/) { $in = 1 }
            elsif ($in && /^ (.*)/) { $text .= "$1\n" }
        }
        $long{$md5} //= $text if $md5 && $text ne '';
        close $fh;
    }
}
read_translations();

# apt's long text as prose: wrapped lines joined, " ." lines are paragraph
# breaks, list items (* - +) keep their own line.  Cut near $max bytes at a
# line or word end, as a person shortening it would.
sub prose {
    my ($text, $max) = @_;
    my $s = '';
    for my $line (split /\n/, $text) {
        if ($line eq '.') { $s .= "\n\n" }
        elsif ($line =~ /^\s*[*+-] /) { $s =~ s/ $//; $s .= "\n$line " }
        else { $s .= "$line " }
    }
    $s =~ s/ +\n/\n/g;
    $s =~ s/^\n+|\s+$//g;
    return cut($s, $max);
}

sub cut {
    my ($s, $max) = @_;
    return $s if length $s <= $max;
    $s = substr $s, 0, $max;
    $s =~ s/\s+\S*$// or $s =~ s/[\x80-\xff]+$//;   # no half UTF-8 character
    return $s;
}

# Valid UTF-8 only (the database refuses anything else).
sub clean {
    my ($s) = @_;
    my $copy = $s;
    return $s if utf8::decode($copy);
    $s =~ s/[\x80-\xff]//g;
    return $s;
}

my %STOP = map { $_ => 1 } qw(a an and the of for to in on with from by or
    as at is its it this that into your you are be);

my @P;          # the packages, sorted by name
my @mains;      # indexes of packages that can lead a bundle (programs)
my %by_section; # section => [ indexes ]
for my $name (sort keys %pkg) {
    my $p = $pkg{$name};
    my $short = clean($p->{short});
    my $body = exists $long{ $p->{md5} }
        ? clean(prose($long{ $p->{md5} }, 900)) : '';
    my $i = @P;
    # words of the summary for names: "0ad Real-time strategy game"
    my @w = grep { length } map { s/[^\w+.-]+//gr } split ' ', $short;
    push @P, { name => $name, section => $p->{section}, tags => $p->{tags},
               piece => $body eq '' ? $short : "$short.\n$body",
               words => \@w, version => $p->{version} };
    push @{ $by_section{ $p->{section} } }, $i;
    push @mains, $i unless $name =~ /^(?:lib|fonts-|golang-|node-|librust-)
                                     |-(?:dev|doc|data|common|dbg)$/x;
}
%pkg = ();
%long = ();

# ---- tags ------------------------------------------------------------------

# Debian's own words for its sections (packages.debian.org); debtags get ''.
my %SECTION_TEXT = (
    admin => 'Utilities to administer system resources, manage user accounts, etc.',
    'cli-mono' => 'Everything about Mono and the Common Language Infrastructure.',
    comm => 'Software for using your modem in the old fashioned style.',
    database => 'Database Servers and Clients.',
    debug => 'Packages providing debugging information for executables and shared libraries.',
    devel => 'Development utilities, compilers, development environments, libraries, etc.',
    doc => 'FAQs, HOWTOs and other documents trying to explain everything related to Debian, and software needed to browse documentation (man, info, etc).',
    editors => 'Software to edit files. Programming environments.',
    education => 'Software for learning and teaching.',
    electronics => 'Electronics utilities.',
    embedded => 'Software suitable for use in embedded applications.',
    fonts => 'Font packages.',
    games => 'Programs to spend a nice time with after all this setting up.',
    gnome => 'The GNOME desktop environment, a powerful, easy to use set of integrated applications.',
    'gnu-r' => 'Everything about GNU R, a statistical computation and graphics system.',
    gnustep => 'The GNUstep environment.',
    golang => 'Go programming language, libraries, and development tools.',
    graphics => 'Editors, viewers, converters... Everything to become an artist.',
    hamradio => 'Software for ham radio.',
    haskell => 'Everything about Haskell.',
    httpd => 'Web servers and their modules.',
    interpreters => 'All kind of interpreters for interpreted languages. Macro processors.',
    introspection => 'Machine readable introspection data for use by development tools.',
    java => 'Everything about Java.',
    javascript => 'JavaScript programming language, libraries, and development tools.',
    kde => 'The K Desktop Environment, a powerful, easy to use set of integrated applications.',
    kernel => 'Operating System Kernels and related modules.',
    libdevel => 'Libraries necessary for developers to write programs that use them.',
    libs => 'Libraries to make other programs work. They provide special features to developers.',
    lisp => 'Everything about Lisp.',
    localization => 'Localization support for big software packages.',
    mail => 'Programs to route, read, and compose E-mail messages.',
    math => 'Math software.',
    metapackages => 'Packages that mainly provide dependencies on other packages.',
    misc => 'Miscellaneous utilities that didn\'t fit well anywhere else.',
    net => 'Daemons and clients to connect your system to the world.',
    news => 'Software to access Usenet, to set up news servers, etc.',
    ocaml => 'Everything about OCaml, an ML language implementation.',
    oldlibs => 'Old versions of libraries, kept for backward compatibility with old applications.',
    otherosfs => 'Software to run programs compiled for other operating systems, and to use their filesystems.',
    perl => 'Everything about Perl, an interpreted scripting language.',
    php => 'Everything about PHP.',
    python => 'Everything about Python, an interpreted, interactive object oriented language.',
    ruby => 'Everything about Ruby, an interpreted object oriented language.',
    rust => 'Rust programming language, library crates, and development tools.',
    science => 'Basic tools for scientific work.',
    shells => 'Command shells. Friendly user interfaces for beginners.',
    sound => 'Utilities to deal with sound: mixers, players, recorders, CD players, etc.',
    tasks => 'Packages that are used by tasksel, a simple interface for users who want to configure their system to perform a specific task.',
    tex => 'The famous typesetting software and related programs.',
    text => 'Utilities to format and print text documents.',
    utils => 'Various utilities that didn\'t fit well anywhere else.',
    vcs => 'Version control systems and related utilities.',
    video => 'Video viewers, editors, recording, streaming.',
    web => 'Web servers, browsers, proxies, download tools etc.',
    x11 => 'X servers, libraries, fonts, window managers, terminal emulators and many related applications.',
    xfce => 'Xfce, a fast and lightweight Desktop Environment.',
    zope => 'Zope Application Server and Plone Content Management System.',
);
my %tag_id;
my @tags;   # [ id, name, description ]
{
    my %names;
    for my $p (@P) {
        $names{ $p->{section} } = 1;
        $names{$_} = 1 for @{ $p->{tags} };
    }
    for my $name (sort keys %names) {
        push @tags, [ scalar(@tags) + 1, $name, $SECTION_TEXT{$name} // '' ];
        $tag_id{$name} = $tags[-1][0];
    }
}

# ---- users -----------------------------------------------------------------

# Names from the maintainers' addresses ("ssgelm" of ssgelm@debian.org),
# numbered when there are more users than names.  User 1 is "bench", with
# the token run.pl signs in with; creators are Zipf-distributed over the
# users (weight 1/rank), so bench, rank 1, owns the most images.
my $n_users = $n / 50 < 20 ? 20 : int($n / 50);
my @usernames = ('bench');
{
    my %seen = (bench => 1);
    my @names = grep { length >= 2 && !$seen{$_}++ }
                map { s/[^a-z0-9._-]//gr } sort keys %maint;
    for (my $i = $#names; $i > 0; $i--) {       # deterministic shuffle
        my $j = int rand($i + 1);
        @names[$i, $j] = @names[$j, $i];
    }
    my $round = 1;
    while (@usernames < $n_users) {
        for my $u (@names) {
            last if @usernames >= $n_users;
            push @usernames, $round == 1 ? $u : "$u$round";
        }
        $round++;
    }
}
my @zipf;   # cumulative weights of ranks 1..n_users
{
    my $sum = 0;
    push @zipf, $sum += 1 / $_ for 1 .. $n_users;
}
sub creator {
    my $r = rand($zipf[-1]);
    my ($lo, $hi) = (0, $#zipf);
    while ($lo < $hi) {
        my $mid = ($lo + $hi) >> 1;
        if ($zipf[$mid] < $r) { $lo = $mid + 1 } else { $hi = $mid }
    }
    return $lo + 1;
}

# bcrypt of "gen-pw", as sql/generate.sql
my $HASH = '$2y$05$VcbWzve3Lsf5E4SCgRt8TOopdnhLzZqTszEOwFVT6PCDVEiOoQUHe';

# ---- output ----------------------------------------------------------------

my %ESC = ("\\" => "\\\\", "\t" => "\\t", "\n" => "\\n", "\r" => "\\r");
sub esc {
    my ($s) = @_;
    return '\N' unless defined $s;
    $s =~ s/([\\\t\n\r])/$ESC{$1}/g;
    return $s;
}

sub ts {
    my ($t) = @_;
    my @g = gmtime $t;
    return sprintf '%04d-%02d-%02d %02d:%02d:%02d.%06d+00', $g[5] + 1900,
        $g[4] + 1, @g[3, 2, 1, 0], ($t - floor($t)) * 1e6;
}

my $OUT;
if ($out) { open $OUT, '>', $out or die "$out: $!" }
else      { $OUT = \*STDOUT }
binmode $OUT;
print $OUT "-- bench/corpus.pl --n $n --seed $seed: ", scalar(@P),
    " packages, ", scalar(@tags), " tags, $n_users users\n",
    "SET client_min_messages = warning;\n",
    "\\echo table users\n",
    "COPY users (id, username, password_hash) FROM STDIN;\n";
print $OUT "$_\t", esc($usernames[$_ - 1]), "\t$HASH\n" for 1 .. $n_users;
print $OUT "\\.\n\\echo table tags\n",
    "COPY tags (id, name, description) FROM STDIN;\n";
print $OUT join("\t", $_->[0], esc($_->[1]), esc($_->[2])), "\n" for @tags;
print $OUT "\\.\n\\echo table images\n",
    "COPY images (id, uuid, name, description, created_by, is_public, icon,"
    . " start_date, end_date) FROM STDIN;\n";

my ($TAGS, $tags_file) = tempfile('corpus-XXXXXX', TMPDIR => 1, UNLINK => 1);
my ($VERS, $vers_file) = tempfile('corpus-XXXXXX', TMPDIR => 1, UNLINK => 1);
my ($MEMB, $memb_file) = tempfile('corpus-XXXXXX', TMPDIR => 1, UNLINK => 1);

# ---- the images ------------------------------------------------------------

# The search-term sample: word ids of each sampled image's searchable text.
my $step = $n > 100000 ? $n / 100000 : 1;
my $next_sample = 0;
my (%wid, @word, @df, @sample);
my @tag_words = map { [ lc("$_->[1]\n$_->[2]") =~ /[a-z0-9]{3,}/g ] } @tags;
unshift @tag_words, undef;    # by tag id

my $version_id = 0;
my ($private, $ended, $shared, $n_versions, $n_tags) = (0) x 5;
my @size_hist;
for my $id (1 .. $n) {
    my $main = $mains[ rand @mains ];
    my $k = (2, 2, 2, 3, 3, 3, 4, 4, 5, 5)[ rand 10 ];
    my @b = ($main);
    my %in = ($main => 1);
    my $sec = $by_section{ $P[$main]{section} };
    while (@b < $k) {
        # half of a bundle from the main package's section: a genomics image
        # bundles genomics tools
        my $x = rand() < 0.5 ? $sec->[ rand @$sec ] : int rand @P;
        push @b, $x unless $in{$x}++;
    }
    my $m = $P[$main];
    my @w = @{ $m->{words} };
    my $nw = 1 + int rand 4;
    $nw = @w if $nw > @w;
    pop @w while @w > $nw;
    pop @w while @w > 1 && $STOP{ lc $w[-1] };
    my $name = join ' ', $m->{name}, @w;
    # description: the bundle's texts, cut to 200-1500 bytes (log-uniform)
    my $max = int exp(log(200) + rand(log(1500 / 200)));
    my $desc = cut(join("\n\n", map { $P[$_]{piece} } @b), $max);
    push @size_hist, length $desc if $id <= 10000;

    # tags: the main section, others' sections at even odds, a few debtags
    my %t = ($tag_id{ $m->{section} } => 1);
    for my $x (@b[1 .. $#b]) {
        $t{ $tag_id{ $P[$x]{section} } } = 1 if rand() < 0.5;
    }
    my @dt = map { @{ $P[$_]{tags} } } @b;
    for (1 .. int rand 5) {
        last unless @dt;
        $t{ $tag_id{ splice @dt, rand @dt, 1 } } = 1;
    }
    %t = () if rand() < 0.03;   # a few untagged images
    my @tid = sort { $a <=> $b } keys %t;
    print $TAGS "$id\t$_\n" for @tid;
    $n_tags += @tid;

    my $creator = creator();
    my $public = rand() < 0.9;
    # start dates follow the ids, as in a catalogue grown over the years,
    # give or take a month
    my $start = $FIRST + ($REF - $FIRST - 86400 * 40) * ($id - 1) / $n
        + rand(86400 * 60) - 86400 * 30;
    $start = $FIRST if $start < $FIRST;
    my $end;
    if (rand() < 0.05) {
        $ended++;
        $end = rand() < 0.5 ? $start + rand($REF - $start)
                            : $REF + 86400 + rand(86400 * 365 * 3);
    }
    my $icon = rand() < 0.05
        ? "https://images.example.org/icons/$m->{name}.png" : undef;
    my $uuid = sprintf '%08x-%04x-4%03x-%04x-%04x%08x', int rand 2**32,
        int rand 2**16, int rand 2**12, 0x8000 | int rand 2**14,
        int rand 2**16, int rand 2**32;
    print $OUT join("\t", $id, $uuid, esc($name), esc($desc), $creator,
                    $public ? 't' : 'f', esc($icon), ts($start),
                    defined $end ? ts($end) : '\N'), "\n";

    # versions: 0-3, the newest named after the main package's version
    my $nv = (0, 0, 1, 1, 1, 1, 2, 2, 2, 3)[ rand 10 ];
    my $vname = $m->{version} // '1.0';
    $vname =~ s/^\d+://;
    my $t = $start;
    for my $j (1 .. $nv) {
        my $vs = $t + rand(($REF - $t) / 3);
        my $ve = $j < $nv && rand() < 0.33 ? $vs + rand(($REF - $vs) / 2)
                                            : undef;
        my $vn = $j == $nv ? $vname : "$vname~pre$j";
        print $VERS join("\t", ++$version_id, $id, esc($vn), ts($vs),
                         defined $ve ? ts($ve) : '\N'), "\n";
        $t = $vs;
    }
    $n_versions += $nv;

    # members: 40% of the private images shared with 1-3 users, bench (who
    # searches signed in) among them at times; a quarter of the shares end
    if (!$public) {
        $private++;
        if (rand() < 0.4) {
            $shared++;
            my %u = ($creator => 1);
            for (1 .. 1 + int rand 3) {
                my $u = rand() < 0.2 ? 1 : 1 + int rand $n_users;
                next if $u{$u}++;
                my $me;
                $me = rand() < 0.5 ? $REF - rand(86400 * 365)
                                   : $REF + rand(86400 * 365) if rand() < 0.25;
                print $MEMB "$id\t$u\t", defined $me ? ts($me) : '\N', "\n";
            }
        }
    }

    # the term sample
    if ($id - 1 >= $next_sample) {
        $next_sample += $step;
        my %seen;
        my @ids;
        for my $w (lc("$name\n$desc") =~ /[a-z0-9]{3,}/g,
                   map { @{ $tag_words[$_] } } @tid) {
            next if $seen{$w}++;
            my $wi = $wid{$w} //= do { push @word, $w; push @df, 0; $#word };
            $df[$wi]++;
            push @ids, $wi;
        }
        push @sample, pack 'N*', @ids;
    }
}
print $OUT "\\.\n";

for ([image_tags => '(image_id, tag_id)', $TAGS, $tags_file],
     [image_versions => '(id, image_id, name, start_date, end_date)', $VERS,
      $vers_file],
     [image_members => '(image_id, user_id, end_date)', $MEMB, $memb_file]) {
    my ($table, $cols, $fh, $file) = @$_;
    close $fh or die $!;
    print $OUT "\\echo table $table\nCOPY $table $cols FROM STDIN;\n";
    open my $in, '<', $file or die $!;
    binmode $in;
    my $buf;
    print $OUT $buf while read $in, $buf, 1 << 20;
    close $in;
    unlink $file;
    print $OUT "\\.\n";
}
# the token in plain: the table's writers insert plain keys (a schema may
# keep only its digest, CONTRACT.md section 1)
print $OUT "\\echo table api_tokens\n",
    "COPY api_tokens (key, user_id) FROM STDIN;\nbench-token\t1\n\\.\n",
    "\\echo sequences\n";
for my $t (qw(users tags images image_versions)) {
    print $OUT "SELECT setval(pg_get_serial_sequence('$t', 'id'),"
             . " (SELECT max(id) FROM $t)) \\g /dev/null\n";
}
close $OUT or die "write: $!";

my @h = sort { $a <=> $b } @size_hist;
printf STDERR "corpus: %d images (%d private, %d shared, %d with an end date),"
    . " %d image_tags, %d versions, %d users, %d tags, %d packages;"
    . " description bytes p10/p50/p90 %d/%d/%d; %ds\n",
    $n, $private, $shared, $ended, $n_tags, $n_versions, $n_users,
    scalar(@tags), scalar(@P), @h[ int(@h * .1), int(@h * .5), int(@h * .9) ],
    time - $t_start;

exit 0 unless $terms_out;

# ---- search terms ------------------------------------------------------------

my $ns = @sample;
my $scale = $n / $ns;
# bands in images of the whole catalogue; the sample's counts are scaled
my $lo_rare = 2 * $n / 10000 < 2 ? 2 : 2 * $n / 10000;
my %band = (
    medium => [ 0.001 * $n, 0.01 * $n ],
    rare   => [ $lo_rare, $lo_rare * 5 < $lo_rare + 3 ? $lo_rare + 3
                                                       : $lo_rare * 5 ],
);
my $vocab = "\n" . join("\n", @word) . "\n";

# Images a term may match: its own and the words that contain it (an upper
# bound: a word's images and its super-words' images may overlap).
sub reach {
    my ($wi) = @_;
    my $w = $word[$wi];
    my $sum = 0;
    my $pos = -1;
    while (($pos = index $vocab, $w, $pos + 1) >= 0) {
        my $s = rindex($vocab, "\n", $pos) + 1;
        my $e = index($vocab, "\n", $pos);
        my $sup = substr $vocab, $s, $e - $s;
        $sum += $df[ $wid{$sup} ];
        $pos = $e - 1;
    }
    return $sum * $scale;
}

srand($seed + 7);   # the choice of terms does not move with --n's images
my (%out, %pool);
my @by_df = sort { $df[$b] <=> $df[$a] || $word[$a] cmp $word[$b] }
            grep { $word[$_] =~ /[a-z]/ } 0 .. $#word;
$pool{common} = [ @by_df[0 .. ($#by_df < 49 ? $#by_df : 49)] ];
for my $bn (qw(medium rare)) {
    my ($lo, $hi) = @{ $band{$bn} };
    my @cand = grep { my $d = $df[$_] * $scale; $d >= $lo && $d <= $hi }
               @by_df;
    my @ok;
    while (@cand && @ok < 200) {
        my $wi = splice @cand, rand @cand, 1;
        push @ok, $wi if reach($wi) <= $hi && length $word[$wi] >= 4;
    }
    $pool{$bn} = \@ok;
}

# pairs: bit vectors over the sample, for the pooled words only
my %bits = map { $_ => '' } map { @$_ } values %pool;
for my $s (0 .. $#sample) {
    for my $wi (unpack 'N*', $sample[$s]) {
        vec($bits{$wi}, $s, 1) = 1 if exists $bits{$wi};
    }
}
sub together {
    my ($x, $y) = @_;
    return unpack "%32b*", $bits{$x} & $bits{$y};
}
for my $bn (qw(common medium rare)) {
    my @p = @{ $pool{$bn} };
    my @terms = @p[0 .. ($#p < 49 ? $#p : 49)];
    my (@pairs, %used);
    # pairs that occur together; each word in at most two pairs, so that
    # the pairs spread over the band
    my @all;
    for my $i (0 .. $#p) {
        for my $j ($i + 1 .. $#p) {
            my $c = together($p[$i], $p[$j]);
            push @all, [ $p[$i], $p[$j], $c ] if $c;
        }
    }
    # the pairs found together most first: related words, as people search
    @all = sort { $b->[2] <=> $a->[2] } @all;
    for my $pr (@all) {
        last if @pairs >= 30;
        next if ($used{ $pr->[0] } // 0) >= 2 || ($used{ $pr->[1] } // 0) >= 2;
        $used{$_}++ for @$pr[0, 1];
        push @pairs, $pr;
    }
    $out{$bn} = {
        images => $bn eq "common" ? undef
                : [ map { int($_ + 0.5) } @{ $band{$bn} } ],
        terms => [ map { { term => $word[$_],
                           images => int($df[$_] * $scale + 0.5) } } @terms ],
        pairs => [ map { { terms => [ @word[ @$_[0, 1] ] ],
                           images => int($_->[2] * $scale + 0.5) } }
                   @pairs ],
    };
}
open my $tf, '>', $terms_out or die "$terms_out: $!";
print $tf JSON::PP->new->canonical->pretty->encode({
    n => $n, seed => $seed, sample => $ns, user => 'bench',
    token => 'bench-token', bands => \%out });
close $tf;
printf STDERR "corpus: terms (sample of %d images): %s; %ds\n", $ns,
    join(', ', map { "$_ " . @{ $out{$_}{terms} } . ' words '
                     . @{ $out{$_}{pairs} } . ' pairs' }
               qw(common medium rare)), time - $t_start;
