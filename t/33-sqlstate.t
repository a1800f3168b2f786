# Failures told apart by their SQLSTATE: a missing grant (42501) is a JSON
# 500 whose log line names sql/grants.sql; a statement the session lost
# (26000) is prepared again, alone, and run once more; with
# ImagesSessionSetup Off nothing is SET and the role's settings hold: its
# statement_timeout (57014) still answers 503.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep);
use ImagesTest;

my %alice = (token => 'alice-token-0123456789abcdef');
my $t = ImagesTest->new(pg_options => '-c log_statement=all');

sub pg_log {
    open my $fh, '<', "$t->{dir}/pg/log" or die $!;
    local $/;
    return <$fh>;
}
sub count_of { my ($re) = @_; my @m = pg_log() =~ /$re/g; scalar @m }

# ---- 42501 ----
$t->sql('REVOKE UPDATE ON images FROM mod_images');
my $r = $t->request(PATCH => '/images/1', %alice, json => { name => 'x' });
is $r->{status}, 500, 'PATCH without the UPDATE grant: 500';
is $r->{headers}{'content-type'}, 'application/json', 'JSON';
is_deeply $r->{json}, { detail => 'A server error occurred.' }, 'the detail';
my ($line) = grep { /AH20008: / } split /\n/, $t->error_log;
like $line // '', qr/permission denied for table images/,
    'the log line says what was denied';
like $line // '', qr{run sql/grants\.sql}, 'and names sql/grants.sql';
unlike $line // '', qr/\\n|mod_images_lock/,
    'one line, no statement label';
$t->load_sql($t->top . '/sql/grants.sql', "role=$ImagesTest::ROLE");
$r = $t->request(PATCH => '/images/1', %alice, json => { name => 'granted' });
is $r->{status}, 200, 'after sql/grants.sql: 200' or diag $r->{content};

# ---- 26000 ----
# the update's trigger drops, once, the statement the PATCH runs next
$t->sql(<<'SQL');
CREATE SEQUENCE drops;
CREATE FUNCTION drop_read() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('drops') = 1 THEN
        EXECUTE 'DEALLOCATE mod_images_patch_read';
    END IF;
    RETURN NEW;
END $$;
GRANT USAGE ON SEQUENCE drops TO mod_images;
CREATE TRIGGER drop_read BEFORE UPDATE ON images
    FOR EACH ROW WHEN (NEW.description = 'drop it')
    EXECUTE FUNCTION drop_read();
SQL
# one connection has every PATCH statement: warm it
$t->request(PATCH => '/images/1', %alice, json => { description => "w$_" })
    for 1 .. 20;
my %before = map { $_ => count_of(qr/statement: PREPARE $_ /) }
             qw(mod_images_patch_read mod_images_patch_update
                mod_images_lock_by_id);
$r = $t->request(PATCH => '/images/1', %alice,
                 json => { description => 'drop it' });
is $r->{status}, 200, 'a statement gone from the session: 200'
    or diag $r->{content};
is $t->sql_value('SELECT last_value FROM drops'), 2,
    'the update ran twice (dropped at the first)';
is $t->sql_value('SELECT description FROM images WHERE id = 1'), 'drop it',
    'the PATCH landed';
my %delta = map { $_ => count_of(qr/statement: PREPARE $_ /) - $before{$_} }
            keys %before;
# (a connection new to PATCH prepares each once first)
is $delta{mod_images_patch_read}, $delta{mod_images_lock_by_id} + 1,
    'the lost statement prepared again';
is $delta{mod_images_patch_update}, $delta{mod_images_lock_by_id},
    'and no other';
unlike pg_log(), qr/DEALLOCATE ALL/, 'nothing deallocated by the module';
like $t->error_log, qr/AH20002: .*no longer has the module's prepared statement/,
    'logged with its code';

# ---- ImagesSessionSetup Off: the role's settings ----
# (the role's setting made before httpd starts: each child opens DBDMin
# connections at once, and a session keeps the settings it began with)
my $t2 = ImagesTest->new(conf => "ImagesSessionSetup Off\n", no_httpd => 1,
                         pg_options => '-c log_statement=all');
$t2->sql(q{ALTER ROLE mod_images SET statement_timeout = '500ms'});
$t2->start_httpd;
is $t2->get('/images/1')->{status}, 200, 'Off: served';
{
    open my $fh, '<', "$t2->{dir}/pg/log" or die $!;
    my $log = do { local $/; <$fh> };
    # (psql's own SET client_... lines are the harness's)
    ok !($log =~ /statement: SET (?!client_)/), 'no SET sent';
}
my $pid = fork // die $!;
if (!$pid) {
    $t2->sql('BEGIN; LOCK TABLE images IN ACCESS EXCLUSIVE MODE;'
             . ' SELECT pg_sleep(3); COMMIT;');
    exit 0;
}
# wait until the lock is held (a loaded machine starts psql late)
for (1 .. 100) {
    last if $t2->sql_value("SELECT count(*) FROM pg_locks l JOIN pg_class c"
        . " ON c.oid = l.relation WHERE c.relname = 'images'"
        . " AND l.mode = 'AccessExclusiveLock' AND l.granted");
    sleep 0.1;
}
$r = $t2->get('/images?search=ubuntu');
is $r->{status}, 503, 'the role\'s statement_timeout: 503';
ok $r->{headers}{'retry-after'}, 'with Retry-After';
is $r->{headers}{'content-type'}, 'application/json', 'JSON';
waitpid $pid, 0;
like $t2->error_log, qr/AH20011: .*cancelled by the database/,
    'logged with its code';
is $t2->get('/images?search=ubuntu')->{status}, 200, 'then served again';
done_testing;
