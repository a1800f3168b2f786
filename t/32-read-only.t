# A PATCH that reaches a read-only server (a standby after a failover, or
# default_transaction_read_only) is a JSON 503 with Retry-After, never a
# 500; the connection is dropped (a new one may reach the new primary) and
# the log line says what to do.  With the write pool and without it.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use ImagesTest;

my %alice = (token => 'alice-token-0123456789abcdef');

sub read_only {
    my ($t, $on) = @_;
    $t->psql_admin('ALTER SYSTEM SET default_transaction_read_only = '
                   . ($on ? 'on' : 'off'));
    $t->psql_admin('SELECT pg_reload_conf()');
    # every session takes the new setting before its next statement
    for (1 .. 100) {
        last if $t->sql_value('SHOW default_transaction_read_only')
                eq ($on ? 'on' : 'off');
        select undef, undef, undef, 0.05;
    }
}

for my $case (['the write pool', write_pool => 'application_name=images_write'],
              ['mod_dbd\'s pool']) {
    my ($name, %opt) = @$case;
    my $t = ImagesTest->new(conf_in_location => '    ImagesRetryAfter 9',
                            %opt);
    my $r = $t->request(PATCH => '/images/1', %alice,
                        json => { description => 'before' });
    is $r->{status}, 200, "$name: a PATCH before" or diag $r->{content};
    my $pids = $t->sql_value(q{SELECT string_agg(pid::text, ',' ORDER BY pid)
        FROM pg_stat_activity WHERE usename = 'mod_images'});

    read_only($t, 1);
    for my $i (1 .. 3) {
        $r = $t->request(PATCH => '/images/1', %alice,
                         json => { description => "read-only $i" });
        is $r->{status}, 503, "$name: PATCH on a read-only server: 503";
        is $r->{headers}{'retry-after'}, '9', 'with Retry-After';
        is $r->{headers}{'content-type'}, 'application/json', 'JSON';
        ok $r->{json} && $r->{json}{detail}, 'with a detail';
    }
    is $t->get('/images/1')->{status}, 200, "$name: reads go on";
    my @lines = grep { /AH20005: / } split /\n/, $t->error_log;
    is scalar(@lines), 3, "$name: one log line per refused PATCH";
    like $lines[0] // '', qr/read-only .*must reach the primary/,
        'saying what to do';
    unlike $lines[0] // '', qr/\\n/, 'on one line, no trailing newline';
    my $now = $t->sql_value(q{SELECT string_agg(pid::text, ',' ORDER BY pid)
        FROM pg_stat_activity WHERE usename = 'mod_images'});
    isnt $now, $pids, "$name: the connection was dropped (pids $pids, now "
        . ($now // 'none') . ')';

    read_only($t, 0);
    $r = $t->request(PATCH => '/images/1', %alice,
                     json => { description => 'after' });
    is $r->{status}, 200, "$name: writable again, PATCH is 200 "
        . 'without a restart' or diag $r->{content};
    is $t->sql_value('SELECT description FROM images WHERE id = 1'),
        'after', 'and it landed';
    unlike $t->error_log, qr/AH2000[9]: /, 'no 500 logged';
}
done_testing;
