# Requests httpd refuses while it reads their request line (414, 400) have
# no URI; with SetHandler images at server level the module still sees
# them (the error filter, the counters) and must not crash the child.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use ImagesTest;

my $t = ImagesTest->new(conf => "SetHandler images\nLimitRequestLine 8190\n");

my $r = $t->raw('GET /' . ('0' x 70000) . " HTTP/1.1\r\nHost: x\r\n\r\n");
is $r->{status}, 414, 'a request line over LimitRequestLine: 414';
is ref $r->{json}, 'HASH', '414 answered as JSON';

$r = $t->raw("GARBAGE\r\n\r\n");
ok $r->{status} >= 400 && $r->{status} < 500, "a malformed line: 4xx"
    . " ($r->{status})";

$r = $t->raw("GET /images/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
is $r->{status}, 200, 'the server still answers';

sleep 1;   # the parent logs a crashed child when it reaps it
unlike $t->error_log, qr/exit signal|Segmentation fault/,
    'no child crashed';

done_testing;
