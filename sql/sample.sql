-- mod_images sample data: a small, hand-readable fixture for tests and demos.
--
--   psql -v ON_ERROR_STOP=1 -d images -f sql/schema.sql
--   psql -v ON_ERROR_STOP=1 -d images -f sql/sample.sql
--
-- Re-runnable: it empties every contract table (TRUNCATE ... RESTART IDENTITY)
-- and loads the same rows again, with the same ids, so anything it finds in
-- the database is lost.  Every row has an explicit id; the identity sequences
-- are then moved past them, so later inserts get ids from 1000 up.
--
-- Users (passwords for mod_authn_dbd, bcrypt made with `htpasswd -nbB`)
--
--   id | username | password  | api_tokens
--   ---+----------+-----------+-------------------------------------------------
--    1 | alice    | alice-pw  | alice-token-0123456789abcdef (never expires)
--    2 | bob      | bob-pw    | bob-token-0123456789abcdef   (never expires)
--    3 | carol    | carol-pw  | carol-expired-token          (expired 2020-01-01)
--      |          |           | carol-token-0123456789abcdef (expires 2099-12-31)
--    4 | dave     | NULL      | none (an SSO-style user: no password, no token)
--
-- Tags (tags are listed by name, so the id order is not the name order)
--
--   1 ubuntu  2 centos  3 docker  4 gpu  5 workshop  6 bioinformatics
--
-- Images ("ended" = end_date in the past; listing order is start_date DESC,
-- id DESC, given in the last column: 1 = first on the anonymous page)
--
--   id | name                        | by    | public | end_date   | shared with        | tags                   | versions listed  | anon
--   ---+-----------------------------+-------+--------+------------+--------------------+------------------------+------------------+-----
--    1 | Ubuntu 14.04 LTS            | alice | yes    |            |                    | docker, ubuntu         | 1.0, 1.1     (a) |  8
--    2 | CentOS 7 Base               | bob   | yes    |            |                    | centos                 | 7.1              |  7
--    3 | Galaxy Genomics Workbench   | carol | yes    |            |                    | bioinformatics, ubuntu | 2.1, 2.0-lts (b) |  6
--    4 | CUDA 7.5 Deep Learning      | bob   | yes    |            |                    | docker, gpu, ubuntu    | 7.5, 8.0-rc1 (c) |  4
--    5 | Alice's Lab Environment     | alice | no     |            | bob (no end_date)  | ubuntu, workshop       | 1.0              |  -
--    6 | Sequencing Pipeline (draft) | alice | no     |            | carol (ended 2016) | bioinformatics, centos |                  |  -
--    7 | Build Farm Worker           | bob   | no     |            | nobody             | centos                 |                  |  -
--    8 | Ubuntu 12.04 (retired)      | alice | yes    | 2016-01-01 | ENDED: nobody sees | ubuntu                 | 1.0              |  -
--    9 | Summer School 2016          | carol | yes    | 2099-12-31 | (not ended)        | workshop               | 2016.1           |  2
--   10 | 100% pure_python            | bob   | yes    |            |                    |                        |                  |  5
--   11 | Ünïcode façade              | carol | yes    |            |                    |                        |                  |  1
--   12 | Docker Workshop             | alice | yes    |            |                    | docker, workshop       | 1.0              |  3
--
--   anon: position on the anonymous listing (start_date DESC, id DESC).
--   (a) version 3 "0.9-beta" of image 1 ended in 2015: never listed.
--   (b) versions 5 and 6 have the same start_date: listed in id order, which
--       is not name order.
--   (c) version 8 "8.0-rc1" has an end_date in 2099: still listed.
--   icon: only image 12 has one ('/images/icon.png'); all others NULL.
--
-- Who sees what (CONTRACT.md section 2):
--   anonymous, carol, dave: 1 2 3 4 9 10 11 12            (8 images)
--   alice:                  1 2 3 4 5 6 9 10 11 12        (10: her private 5 and 6)
--   bob:                    1 2 3 4 5 7 9 10 11 12        (10: his 7, 5 shared)
--   nobody sees 8 (ended); carol's share of 6 has ended.
--   Full order (start_date DESC): 11 9 6 12 4 7 5 10 3 8 2 1.
--
-- Search traps:
--   "100%" must match only image 10 ("100" alone also matches image 4, whose
--   description mentions "100 GB"); "pure_python" must match only image 10
--   (image 2's description says "pure-python", which a wildcard "_" would
--   match).  Image 2's description holds a backslash and double quotes,
--   image 4's a newline, image 11's non-ASCII text (JSON escaping, UTF-8).
--   "genomics" matches image 3 by name and images 3 and 6 through the tag
--   description of bioinformatics ("Genomics tool chain"); anonymous sees 3.
--   Start dates: image 10 has trailing zero microseconds (.650000), image 12
--   none at all (.000000), image 8 and 9 the extremes .000001 / .999999.

SET client_encoding = 'UTF8';

BEGIN;

TRUNCATE users, images, tags, image_tags, image_versions, image_members,
         api_tokens RESTART IDENTITY CASCADE;

INSERT INTO users (id, username, password_hash) VALUES
    (1, 'alice', '$2y$05$OnDoNXeblDP6IHc.BzEkbO8O.HzAwH73BEQtTnWw0R40mS.ufq1NG'),
    (2, 'bob',   '$2y$05$ShSokRqk63oio3U/2SlFtu/7Ipac696WaDNTrLOw/h6urv6v3FedS'),
    (3, 'carol', '$2y$05$b2SlDwXnVg3Jya/FQogqQuZ5tQDGCNGbM8NDQVR98TpYtzTV8D.0C'),
    (4, 'dave',  NULL);

INSERT INTO api_tokens (key, user_id, expires_at) VALUES
    ('alice-token-0123456789abcdef', 1, NULL),
    ('bob-token-0123456789abcdef',   2, NULL),
    ('carol-expired-token',          3, '2020-01-01 00:00:00+00'),
    ('carol-token-0123456789abcdef', 3, '2099-12-31 23:59:59+00');

INSERT INTO tags (id, name, description) VALUES
    (1, 'ubuntu',         'Ubuntu Linux'),
    (2, 'centos',         'CentOS Linux'),
    (3, 'docker',         'Container runtime installed'),
    (4, 'gpu',            'NVIDIA CUDA drivers'),
    (5, 'workshop',       'Images for teaching workshops'),
    (6, 'bioinformatics', 'Genomics tool chain');

INSERT INTO images (id, uuid, name, description, created_by, is_public, icon,
                    start_date, end_date) VALUES
    (1, 'f268aebc-d956-11e4-b9d6-1681e6b88ec1', 'Ubuntu 14.04 LTS',
     'Minimal Ubuntu 14.04 server with cloud-init and security updates applied.',
     1, true, NULL, '2015-03-30 18:30:45.501948+00', NULL),
    (2, '8137168f-2307-452a-b42d-9c8a409826d5', 'CentOS 7 Base',
     'CentOS 7 with EPEL enabled and a pure-python toolchain. Windows users: mount "C:\Users\Public" for shared files.',
     2, true, NULL, '2015-05-12 09:14:03.118204+00', NULL),
    (3, 'e4106e32-bac1-4346-b886-4511ebedccb0', 'Galaxy Genomics Workbench',
     'Galaxy server with BWA, SAMtools and GATK preinstalled for sequence analysis.',
     3, true, NULL, '2015-08-21 14:02:57.330871+00', NULL),
    (4, '8a2a66d8-7b46-449b-ad2d-4ee3c85d33e0', 'CUDA 7.5 Deep Learning',
     E'Caffe, Theano and cuDNN on CUDA 7.5.\nNeeds a GPU flavour with at least 100 GB of disk.',
     2, true, NULL, '2016-02-03 11:47:20.904512+00', NULL),
    (5, 'de893483-0021-4b12-8b62-ec7ac38f277d', 'Alice''s Lab Environment',
     'Private lab image with RStudio Server and the group''s shared R packages.',
     1, false, NULL, '2015-11-09 16:25:38.000417+00', NULL),
    (6, 'd296c266-8b18-4860-9de6-95b0c65a86c9', 'Sequencing Pipeline (draft)',
     'Work in progress: Snakemake pipeline for RNA-seq quality control.',
     1, false, NULL, '2016-04-18 08:05:11.762093+00', NULL),
    (7, '2759892b-a9ae-4668-983f-ff9d233cbc82', 'Build Farm Worker',
     'Jenkins agent with compilers and packaging tools for the internal build farm.',
     2, false, NULL, '2016-01-27 20:40:02.291366+00', NULL),
    (8, '6c9f9347-e60a-43ed-88d5-175e56910e39', 'Ubuntu 12.04 (retired)',
     'Ubuntu 12.04 reached end of life; use Ubuntu 14.04 LTS instead.',
     1, true, NULL, '2015-07-04 12:00:00.000001+00', '2016-01-01 00:00:00+00'),
    (9, '1ae05333-7788-445d-b15a-69d47b7c23b2', 'Summer School 2016',
     'Course image for the summer school: Jupyter notebooks and exercise data sets.',
     3, true, NULL, '2016-06-30 23:59:59.999999+00', '2099-12-31 00:00:00+00'),
    (10, '4b261b28-52cd-4e12-b27b-1c28658d9f1e', '100% pure_python',
     'Python 3.5 with only pure Python wheels; no compiler on board.',
     2, true, NULL, '2015-10-01 07:33:14.650000+00', NULL),
    (11, '1cb93c4e-224b-4a19-9c3e-ba53e5966279', 'Ünïcode façade',
     'Locale test image: naïve café résumé, Ελληνικά, 日本語 — UTF-8 throughout.',
     3, true, NULL, '2016-09-14 13:21:08.417733+00', NULL),
    (12, '885a59dc-767c-4feb-98b0-c4439a11585e', 'Docker Workshop',
     'Hands-on introduction to Docker: engine, compose and a local registry.',
     1, true, '/images/icon.png', '2016-03-08 10:10:10+00', NULL);

INSERT INTO image_tags (image_id, tag_id) VALUES
    (1, 1), (1, 3),
    (2, 2),
    (3, 1), (3, 6),
    (4, 1), (4, 3), (4, 4),
    (5, 1), (5, 5),
    (6, 2), (6, 6),
    (7, 2),
    (8, 1),
    (9, 5),
    (12, 3), (12, 5);

INSERT INTO image_versions (id, image_id, name, start_date, end_date) VALUES
    (1,  1,  '1.0',      '2015-03-30 18:30:45.501948+00', NULL),
    (2,  1,  '1.1',      '2015-06-15 10:00:00.250000+00', NULL),
    (3,  1,  '0.9-beta', '2015-03-01 09:00:00+00',        '2015-03-30 18:30:45.501948+00'),
    (4,  2,  '7.1',      '2015-05-12 09:14:03.118204+00', NULL),
    (5,  3,  '2.1',      '2015-09-01 12:00:00+00',        NULL),
    (6,  3,  '2.0-lts',  '2015-09-01 12:00:00+00',        NULL),
    (7,  4,  '7.5',      '2016-02-03 11:47:20.904512+00', NULL),
    (8,  4,  '8.0-rc1',  '2016-05-20 15:45:00.123456+00', '2099-01-01 00:00:00+00'),
    (9,  5,  '1.0',      '2015-11-09 16:25:38.000417+00', NULL),
    (10, 8,  '1.0',      '2015-07-04 12:00:00.000001+00', NULL),
    (11, 9,  '2016.1',   '2016-06-30 23:59:59.999999+00', NULL),
    (12, 12, '1.0',      '2016-03-08 10:10:10+00',        NULL);

INSERT INTO image_members (image_id, user_id, end_date) VALUES
    (5, 2, NULL),
    (6, 3, '2016-06-01 00:00:00+00');

-- Later inserts (tests, PATCH-created rows, generate.sql) start at 1000.
SELECT setval(pg_get_serial_sequence('users', 'id'), 999)          AS users_id,
       setval(pg_get_serial_sequence('images', 'id'), 999)         AS images_id,
       setval(pg_get_serial_sequence('tags', 'id'), 999)           AS tags_id,
       setval(pg_get_serial_sequence('image_versions', 'id'), 999) AS image_versions_id;

COMMIT;
