-- mod_images benchmark data: adds N generated images (default 10000) on top
-- of whatever the database holds already.
--
--   psql -v ON_ERROR_STOP=1 -v n=1000000 -d images -f sql/generate.sql
--
-- What it adds (every run adds N more images; users and tags are shared):
--   users        gen_user_1 .. gen_user_1000, created if missing; password
--                "gen-pw" (bcrypt), API token "gen_user_<i>-token".
--   tags         gen_tag_1 .. gen_tag_200, created if missing, descriptions
--                made of the word lists below.  Images draw 1-3 distinct
--                tags from ALL tags (the sample's ubuntu, docker, ... too),
--                skewed so the tags with the lowest ids are the most common.
--   images       N, created by random gen users; names and descriptions made
--                of the word lists (a two-word search matches a small
--                fraction: "jupyter astronomy" about 0.8%, "spark genomics"
--                about 2.5%, "genomics" being also in "metagenomics" and in
--                tag descriptions); ~90% public, ~2% ended, ~1% ending in
--                2099; start_date spread over 2012-2024 with microseconds;
--                every 50th has an icon.
--   image_tags   1-3 per image (2 on average).
--   image_versions 1-2 per image ("1.0", then "1.1" or "2.0"); ~1/3 of the
--                superseded "1.0" versions have ended.
--   image_members ~10% of the private images are shared with one gen user,
--                a third of those shares ended.
--
-- Speed: one set-based INSERT ... SELECT per table, all in one transaction,
-- so a failure rolls everything back (trigger and index changes included).
--  * The triggers of sql/derived.sql that copy an image's columns into
--    its tag links (image_tags_fill, image_tags_follow_ins) are disabled
--    during the load: the links are written with the copies at once.  The
--    lock that takes keeps other sessions from writing to those tables
--    until COMMIT (readers are not blocked).
--  * A load that at least doubles the number of images drops the secondary
--    indexes and builds them again at the end (a GIN index build costs much
--    less than row-by-row insertion); that blocks readers of those tables
--    until COMMIT.
--  * Run by a superuser, the load also skips the foreign-key check triggers
--    (session_replication_role = replica, for this transaction only).
--  * VACUUM ANALYZE at the end sets the visibility map and refreshes the
--    planner statistics.
-- Measured on a 2-core VM (PostgreSQL 15, default settings, other work
-- running: load average 4-6): n=1000000 on top of the sample data in 180 s
-- as superuser, 190 s as the database owner; n=10000 in 1-4 s.
--
-- Check afterwards (slow on millions of rows; must return 0):
--   SELECT count(*) FROM image_tags it JOIN images i ON i.id = it.image_id
--    WHERE (it.start_date, it.is_public, it.end_date, it.created_by)
--          IS DISTINCT FROM (i.start_date, i.is_public, i.end_date, i.created_by);

\if :{?n}
\else
\set n 10000
\endif

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
-- Larger sorts and index builds in memory.
SET work_mem = '256MB';
SET maintenance_work_mem = '512MB';
-- JIT compiles for a second per big statement and gains nothing here.
SET jit = off;
-- Same names, dates and tags for the same database content and N (not the
-- uuids: gen_random_uuid).
SELECT setseed(0.4242) AS seed \gset

BEGIN;

ALTER TABLE images DISABLE TRIGGER image_tags_follow_ins;
ALTER TABLE image_tags DISABLE TRIGGER image_tags_fill;

-- Foreign keys: every reference made here is to a row that this transaction
-- inserted or that the SHARE locks below keep from changing, so for a
-- superuser (the only role allowed to) the load skips the foreign-key check
-- triggers, which would otherwise run one query and lock one row per
-- reference (4.5 million of them for n=1000000).  SET LOCAL: until COMMIT.
-- No change to users or tags may slip in while the load runs.
LOCK TABLE users, tags IN SHARE MODE;
SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user \gset
\if :superuser
SET LOCAL session_replication_role = replica;
\endif

-- A load that at least doubles the images drops the secondary indexes of
-- the tables it fills (not those behind a primary key or unique constraint)
-- and builds them again at the end, from their definitions as they are in the
-- database: one GIN index build costs much less than a million GIN index
-- insertions.  DROP INDEX locks the tables against readers until
-- COMMIT; a smaller load keeps the indexes and does not block readers.
SELECT :n >= count(*) AS rebuild FROM images \gset
CREATE TEMP TABLE gen_indexes ON COMMIT DROP AS
SELECT i.indexrelid::regclass::text AS name,
       pg_get_indexdef(i.indexrelid) AS def
  FROM pg_index i
 WHERE i.indrelid IN ('images'::regclass, 'image_tags'::regclass,
                      'image_versions'::regclass, 'image_members'::regclass)
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                    WHERE c.conindid = i.indexrelid)
   AND :'rebuild'::boolean;
SELECT format('DROP INDEX %s', name) FROM gen_indexes \gexec

-- Rows loaded with explicit ids must not collide with the ids handed out
-- here: move each identity sequence past its table's largest id.
DO $$
DECLARE
    t    text;
    seq  text;
    m    bigint;
    last bigint;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'images', 'tags', 'image_versions'] LOOP
        seq := pg_get_serial_sequence(t, 'id');
        EXECUTE format('SELECT max(id) FROM %I', t) INTO m;
        EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE 0 END'
                       ' FROM %s', seq) INTO last;
        IF m > last THEN
            PERFORM setval(seq, m);
        END IF;
    END LOOP;
END $$;

-- The word lists.  Every entry is one word, so each is a search term.
-- STORAGE PLAIN: a compressed array would be decompressed at every access,
-- a dozen times per generated image (ten times slower).
CREATE TEMP TABLE gen_words (tools text[], fields text[], kinds text[],
                             adjectives text[], distros text[],
                             purposes text[]) ON COMMIT DROP;
ALTER TABLE gen_words ALTER tools SET STORAGE PLAIN,
                      ALTER fields SET STORAGE PLAIN,
                      ALTER kinds SET STORAGE PLAIN,
                      ALTER adjectives SET STORAGE PLAIN,
                      ALTER distros SET STORAGE PLAIN,
                      ALTER purposes SET STORAGE PLAIN;
INSERT INTO gen_words
SELECT ARRAY['Python', 'R', 'Julia', 'Jupyter', 'RStudio', 'TensorFlow',
             'Caffe', 'Theano', 'PyTorch', 'Keras', 'CUDA', 'cuDNN', 'OpenMPI',
             'Slurm', 'Docker', 'Kubernetes', 'Singularity', 'Hadoop', 'Spark',
             'Kafka', 'Cassandra', 'PostgreSQL', 'MySQL', 'MongoDB', 'Redis',
             'Elasticsearch', 'Nginx', 'Apache', 'Tomcat', 'Jenkins', 'GitLab',
             'Ansible', 'Terraform', 'Galaxy', 'BLAST', 'BWA', 'SAMtools',
             'GATK', 'Bowtie', 'Snakemake', 'Nextflow', 'Bioconductor',
             'GROMACS', 'LAMMPS', 'NAMD', 'Quantum-ESPRESSO', 'OpenFOAM',
             'ParaView', 'VisIt', 'MATLAB', 'Octave', 'Mathematica', 'SageMath',
             'QGIS', 'GDAL', 'GRASS', 'NetCDF', 'HDF5', 'FFTW', 'OpenBLAS',
             'LAPACK', 'PETSc', 'Trilinos', 'GCC', 'LLVM', 'Fortran', 'Java',
             'Scala', 'Go', 'Rust', 'Node.js', 'Django', 'Flask', 'Shiny',
             'Grafana', 'Prometheus', 'InfluxDB', 'Zeppelin', 'Dask', 'Ray']
           AS tools,
       ARRAY['genomics', 'proteomics', 'metagenomics', 'bioinformatics',
             'chemistry', 'physics', 'astronomy', 'astrophysics', 'climate',
             'oceanography', 'seismology', 'neuroscience', 'epidemiology',
             'economics', 'linguistics', 'geography', 'hydrology', 'ecology',
             'materials', 'robotics', 'imaging', 'microscopy', 'statistics',
             'finance', 'archaeology', 'agronomy', 'crystallography',
             'cosmology', 'acoustics', 'humanities']
           AS fields,
       ARRAY['Workbench', 'Server', 'Pipeline', 'Sandbox', 'Desktop', 'Toolkit',
             'Environment', 'Appliance', 'Node', 'Notebook', 'Portal', 'Stack',
             'Lab', 'Cluster', 'Studio', 'Suite', 'Platform', 'Gateway']
           AS kinds,
       ARRAY['Minimal', 'Hardened', 'Experimental', 'Stable', 'Lightweight',
             'Preconfigured', 'Community', 'Reference', 'Legacy', 'Nightly',
             'Teaching', 'Production', 'Accelerated', 'Portable', 'Certified']
           AS adjectives,
       ARRAY['Ubuntu 14.04', 'Ubuntu 16.04', 'Ubuntu 18.04', 'Ubuntu 20.04',
             'Ubuntu 22.04', 'CentOS 6', 'CentOS 7', 'Rocky 8', 'AlmaLinux 9',
             'Debian 8', 'Debian 9', 'Debian 10', 'Debian 11', 'Debian 12',
             'Fedora 36', 'openSUSE 15', 'Alpine 3.18', 'Scientific Linux 7']
           AS distros,
       ARRAY['research', 'teaching', 'analysis', 'simulation', 'visualisation',
             'workshops', 'courses', 'benchmarking', 'prototyping',
             'data processing', 'model training', 'reproducible science']
           AS purposes;
ANALYZE gen_words;

-- Users.
INSERT INTO users (username, password_hash)
SELECT 'gen_user_' || i,
       '$2y$05$VcbWzve3Lsf5E4SCgRt8TOopdnhLzZqTszEOwFVT6PCDVEiOoQUHe'
  FROM generate_series(1, 1000) AS i
ON CONFLICT (username) DO NOTHING;

INSERT INTO api_tokens (key, user_id)
SELECT u.username || '-token', u.id
  FROM users u
 WHERE u.username ~ '^gen_user_[0-9]+$'
ON CONFLICT (key) DO NOTHING;

CREATE TEMP TABLE gen_upool ON COMMIT DROP AS
SELECT (row_number() OVER (ORDER BY id) - 1)::int AS pos, id
  FROM users
 WHERE username ~ '^gen_user_[0-9]+$';
ANALYZE gen_upool;
SELECT count(*) AS nusers FROM gen_upool \gset

-- Tags.
INSERT INTO tags (name, description)
SELECT 'gen_tag_' || i,
       w.tools[1 + floor(random() * cardinality(w.tools))::int] || ' and ' ||
       w.tools[1 + floor(random() * cardinality(w.tools))::int] || ' for ' ||
       w.fields[1 + floor(random() * cardinality(w.fields))::int] || ' ' ||
       w.purposes[1 + floor(random() * cardinality(w.purposes))::int]
  FROM generate_series(1, 200) AS i, gen_words w
ON CONFLICT (name) DO NOTHING;

-- The pool images draw their tags from: every tag, position in id order.
CREATE TEMP TABLE gen_tpool ON COMMIT DROP AS
SELECT (row_number() OVER (ORDER BY id) - 1)::int AS pos, id, name
  FROM tags;
ANALYZE gen_tpool;
SELECT count(*) AS ntags FROM gen_tpool \gset

-- The new images, everything drawn once.  Tags: k = 1..3 distinct pool
-- positions p1, p2 = p1 + a, p3 = p1 + a + b (mod ntags, a + b < ntags);
-- p1 skewed towards the low positions.  Versions: "1.0" from the image's
-- start; half the images get a second one up to 180 days later, and a
-- third of those ended their "1.0" then.
CREATE TEMP TABLE gen_img ON COMMIT DROP AS
SELECT nextval(pg_get_serial_sequence('images', 'id')) AS id,
       s.*,
       CASE WHEN s.k >= 2 THEN (s.p1 + s.a) % :ntags END AS p2,
       CASE WHEN s.k >= 3 THEN (s.p1 + s.a + s.b) % :ntags END AS p3,
       nextval(pg_get_serial_sequence('image_versions', 'id')) AS v1,
       CASE WHEN s.r_ver < 0.5 / 3
            THEN s.start_date + s.r_ver * 6 * interval '180 days' END
           AS v1_end,
       CASE WHEN s.r_ver < 0.5
            THEN nextval(pg_get_serial_sequence('image_versions', 'id'))
       END AS v2,
       CASE WHEN s.r_ver < 0.3 THEN '1.1' ELSE '2.0' END AS v2_name,
       s.start_date + s.r_ver * 2 * interval '180 days' AS v2_start
  FROM (
    SELECT g,
           floor(random() * :nusers)::int AS upos,
           w.fields[1 + floor(random() * cardinality(w.fields))::int] AS field1,
           w.fields[1 + floor(random() * cardinality(w.fields))::int] AS field2,
           w.tools[1 + floor(random() * cardinality(w.tools))::int] AS tool1,
           w.tools[1 + floor(random() * cardinality(w.tools))::int] AS tool2,
           w.tools[1 + floor(random() * cardinality(w.tools))::int] AS tool3,
           w.tools[1 + floor(random() * cardinality(w.tools))::int] AS tool4,
           w.kinds[1 + floor(random() * cardinality(w.kinds))::int] AS kind,
           w.adjectives[1 + floor(random() * cardinality(w.adjectives))::int]
               AS adjective,
           w.distros[1 + floor(random() * cardinality(w.distros))::int]
               AS distro,
           w.purposes[1 + floor(random() * cardinality(w.purposes))::int]
               AS purpose,
           random() AS r_vis,
           random() AS r_end,
           random() AS r_ver,
           random() AS r_mem,
           -- 2012-01-01 to 2024-12-31 (4749 days), to the microsecond.
           timestamptz '2012-01-01 00:00:00+00'
               + floor(random() * 4749 * 86400e6)::bigint
                 * interval '1 microsecond' AS start_date,
           1 + floor(random() * 3)::int AS k,
           floor(power(random(), 2) * :ntags)::int AS p1,
           1 + floor(random() * greatest((:ntags - 1) / 2, 1))::int AS a,
           1 + floor(random() * greatest((:ntags - 1) / 2, 1))::int AS b
      FROM generate_series(1, :n) AS g, gen_words w
  ) AS s;

-- Fewer than 3 tags in the database: fewer tags per image.
UPDATE gen_img SET p3 = NULL WHERE p3 IN (p1, p2);
UPDATE gen_img SET p2 = NULL WHERE p2 = p1;

INSERT INTO images (id, uuid, name, description, created_by, is_public, icon,
                    start_date, end_date)
SELECT gi.id, gen_random_uuid(), x.name, x.description, u.id,
       gi.r_vis < 0.9,
       CASE WHEN gi.g % 50 = 0 THEN '/images/icons/' || lower(gi.tool1) || '.png'
       END,
       gi.start_date,
       CASE WHEN gi.r_end < 0.02
                THEN least(gi.start_date + gi.r_end * 50 * interval '730 days',
                           now() - interval '1 day')
            WHEN gi.r_end < 0.03
                THEN timestamptz '2099-01-01 00:00:00+00'
                     + gi.r_end * interval '300 days'
       END
  FROM gen_img gi
  JOIN gen_upool u ON u.pos = gi.upos
  CROSS JOIN LATERAL (
      SELECT initcap(gi.field1) || ' ' || gi.tool1 || ' ' || gi.kind || ' '
                 || (1 + gi.g % 9) || '.' || (gi.g % 7) AS name,
             gi.adjective || ' ' || gi.distro || ' image with ' || gi.tool2
                 || ', ' || gi.tool3 || ' and ' || gi.tool4 || ' for '
                 || gi.field2 || ' ' || gi.purpose || '.' AS description
  ) AS x;

-- with the image's listing columns, as image_tags_fill() would copy them
INSERT INTO image_tags (image_id, tag_id, start_date, is_public, end_date,
                        created_by)
SELECT i.id, t.id, i.start_date, i.is_public, i.end_date, i.created_by
  FROM gen_img gi
  JOIN images i ON i.id = gi.id
  CROSS JOIN LATERAL (VALUES (gi.p1), (gi.p2), (gi.p3)) AS p(pos)
  JOIN gen_tpool t ON t.pos = p.pos;

INSERT INTO image_versions (id, image_id, name, start_date, end_date)
SELECT v.id, gi.id, v.name, v.start_date, v.end_date
  FROM gen_img gi
  CROSS JOIN LATERAL (
      VALUES (gi.v1, '1.0', gi.start_date, gi.v1_end),
             (gi.v2, gi.v2_name, gi.v2_start, NULL)
  ) AS v (id, name, start_date, end_date)
 WHERE v.id IS NOT NULL;

-- Shares: ~10% of the private images, with one other gen user; a third of
-- the shares have ended.
INSERT INTO image_members (image_id, user_id, end_date)
SELECT gi.id, u.id,
       CASE WHEN gi.r_mem < 0.1 / 3
            THEN gi.start_date + gi.r_mem * 30 * interval '1 year' END
  FROM gen_img gi
  JOIN gen_upool u ON u.pos = (gi.upos + 1 + gi.g % 97) % :nusers
 WHERE gi.r_vis >= 0.9 AND gi.r_mem < 0.1 AND u.pos <> gi.upos;

SELECT def FROM gen_indexes \gexec

ALTER TABLE images ENABLE ALWAYS TRIGGER image_tags_follow_ins;
ALTER TABLE image_tags ENABLE ALWAYS TRIGGER image_tags_fill;

COMMIT;

VACUUM (ANALYZE) users, api_tokens, tags, images, image_tags, image_versions,
                 image_members;

SELECT (SELECT count(*) FROM images)         AS images,
       (SELECT count(*) FROM image_tags)     AS image_tags,
       (SELECT count(*) FROM image_versions) AS image_versions,
       (SELECT count(*) FROM image_members)  AS image_members,
       (SELECT count(*) FROM users)          AS users,
       (SELECT count(*) FROM tags)           AS tags;
