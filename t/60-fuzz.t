# The libFuzzer targets of fuzz/: built with clang (make fuzz-build), run
# once over their seed corpora and saved regression inputs, then each fuzzed
# for a few seconds (FUZZ_SECONDS, default 5; the six run side by side).
# Without clang's libFuzzer this skips, except in CI (CI=true), where it
# fails.  Longer runs: make fuzz FUZZ_SECONDS=600.
use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use File::Path qw(make_path);
use Test::More;

my $top = "$FindBin::Bin/..";
my @targets = qw(fuzz_path fuzz_query fuzz_patch fuzz_time fuzz_render
                 fuzz_pgerr);
my $clang = $ENV{CLANG} || 'clang';
my $seconds = $ENV{FUZZ_SECONDS} // 5;
my $tmp = tempdir('mod_images-fuzz-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# Can clang build and link a libFuzzer target here?
sub fuzzer_missing {
    my $src = "$tmp/probe.c";
    open my $fh, '>', $src or die "$src: $!\n";
    print $fh "#include <stddef.h>\n#include <stdint.h>\n"
        . "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
        . " { (void)d; (void)n; return 0; }\n";
    close $fh;
    my $out = `$clang -fsanitize=fuzzer,address,undefined -o $tmp/probe $src 2>&1`;
    return $? == 0 ? undef
         : $? == -1 || $? >> 8 == 127 ? "$clang not found"
         : "$clang cannot link -fsanitize=fuzzer: " . (split /\n/, $out)[0];
}

if (my $why = fuzzer_missing()) {
    if (($ENV{CI} // '') =~ /^(?:true|1|yes)$/i) {
        plan tests => 1;
        fail("libFuzzer is needed in CI (scripts/install-deps: clang,"
             . " libclang-rt-14-dev): $why");
        exit 0;
    }
    plan skip_all => "no libFuzzer: $why";
}
die "configure first (scripts/build)\n" unless -f "$top/Makefile";

# Output of a command into a log file; its wait status.
sub run_logged {
    my ($log, @cmd) = @_;
    my $pid = fork // die "fork: $!\n";
    if (!$pid) {
        open STDOUT, '>', $log or die "$log: $!\n";
        open STDERR, '>&', \*STDOUT or die "dup: $!\n";
        exec @cmd or die "exec $cmd[0]: $!\n";
    }
    return $pid;
}

sub tail_of {
    my ($log) = @_;
    open my $fh, '<', $log or return "(no log)";
    my @lines = <$fh>;
    return join '', grep { defined } @lines[-40 .. -1];
}

my $log = "$tmp/build.log";
waitpid run_logged($log, 'make', '-s', '-C', $top, "CLANG=$clang",
                   'fuzz-build'), 0;
if (!is($?, 0, 'make fuzz-build')) {
    diag tail_of($log);
    done_testing;
    exit 0;
}

# Every seed and every saved crash once, no fuzzing.
for my $t (@targets) {
    my @inputs = grep { -f } map { glob "$top/fuzz/$_/$t/*" } qw(corpus regress);
    my $log = "$tmp/$t.regress.log";
    waitpid run_logged($log, "$top/fuzz/bin/$t", @inputs), 0;
    is($?, 0, "$t: " . @inputs . ' corpus and regression inputs')
        or diag tail_of($log);
}

# A few seconds of fuzzing each, on a scratch copy of the seed corpus.
SKIP: {
    skip 'FUZZ_SECONDS=0: no fuzzing', scalar @targets unless $seconds > 0;
    make_path("$top/fuzz/artifacts");
    my %pid;
    for my $t (@targets) {
        my $scratch = "$tmp/$t.corpus";
        make_path($scratch);
        copy($_, $scratch) or die "copy $_: $!\n"
            for grep { -f } glob "$top/fuzz/corpus/$t/*";
        $pid{$t} = run_logged("$tmp/$t.log", "$top/fuzz/bin/$t",
                              "-max_total_time=$seconds", '-max_len=65536',
                              '-timeout=10', '-print_final_stats=1',
                              "-artifact_prefix=$top/fuzz/artifacts/$t-",
                              $scratch);
    }
    for my $t (@targets) {
        waitpid $pid{$t}, 0;
        my $status = $?;
        my $text = tail_of("$tmp/$t.log");
        my ($runs) = $text =~ /number_of_executed_units:\s*(\d+)/;
        my ($rate) = $text =~ /average_exec_per_sec:\s*(\d+)/;
        is($status, 0, "$t: ${seconds}s of fuzzing"
           . (defined $runs ? ", $runs runs ($rate/s)" : ''))
            or diag $text;
    }
}

done_testing;
