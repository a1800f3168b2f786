-- The mod_images schema: creates it in an empty database, or brings a
-- database of an earlier version up to this one; at this version it
-- changes nothing.  Then run grants.sql for the module's role.
--
--   psql -v ON_ERROR_STOP=1 -d images -f sql/schema.sql
--
-- Split by concern: tables.sql, derived.sql, indexes.sql, migrations/ (from
-- each earlier version).  One transaction: all of it lands or none.  The
-- module answers 503 until the version is its own (docs/configuration.md).
\set ON_ERROR_STOP 1
\set schema_version 4
SET client_min_messages = warning;
BEGIN;
-- two runs at once: the second waits, then finds the work done
SELECT pg_advisory_xact_lock(hashtext('mod_images schema'));

SELECT to_regclass('schema_version') IS NOT NULL AS has_version,
       to_regclass('images') IS NOT NULL AS has_images \gset
\if :has_version
SELECT coalesce(max(version), 0) AS found FROM schema_version \gset
\elif :has_images
\set found 0
\else
\set found -1
\endif
SELECT :found > :schema_version AS too_new,
       :found < :schema_version AS upgrade,
       :found = 0 AS from_0, :found < 3 AS before_3,
       :found = 3 AS from_3 \gset

\if :too_new
SELECT set_config('mod_images.found', :'found', true);
DO $$
BEGIN
    RAISE EXCEPTION 'this database has mod_images schema version %, newer'
        ' than these files', current_setting('mod_images.found');
END $$;
\endif

\if :upgrade
\ir tables.sql
\if :from_0
\ir migrations/001-from-unversioned.sql
\endif
\ir derived.sql
\if :before_3
\ir migrations/002-search-words.sql
\ir migrations/003-search-text-computed.sql
\elif :from_3
\ir migrations/004-two-character-suffixes.sql
\endif
\ir indexes.sql
INSERT INTO schema_version (version) VALUES (:schema_version);
\endif
COMMIT;
