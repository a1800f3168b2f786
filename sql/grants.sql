-- The role mod_images connects as, with exactly the rights its statements
-- and the triggers they fire need (created if missing, LOGIN, no password:
-- local peer authentication, or set one yourself).  Run after schema.sql,
-- as the owner of the tables:
--
--   psql -v ON_ERROR_STOP=1 -v role=www-data -d images -f sql/grants.sql
\set ON_ERROR_STOP 1
\if :{?role}
\else
\set role www-data
\endif
SET client_min_messages = warning;
BEGIN;
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')
       AS new_role \gset
\if :new_role
CREATE ROLE :"role" LOGIN;
\endif
-- exactly these: what an earlier release granted more goes first
REVOKE ALL ON users, images, tags, image_tags, image_versions, image_members,
    api_tokens, image_counts, creator_counts, schema_version FROM :"role";
-- every read, the version check, mod_authn_dbd's password query
GRANT SELECT ON users, images, tags, image_tags, image_versions,
    image_members, api_tokens, image_counts, creator_counts, schema_version
    TO :"role";
-- PATCH: the writable fields (and SELECT ... FOR UPDATE), the tag set
GRANT UPDATE (name, description, is_public, end_date) ON images TO :"role";
GRANT INSERT, DELETE ON image_tags TO :"role";
-- what the triggers a PATCH fires write as the caller (derived.sql)
GRANT UPDATE (start_date, is_public, end_date, created_by) ON image_tags
    TO :"role";
GRANT UPDATE ON image_counts TO :"role";
GRANT INSERT, UPDATE ON creator_counts TO :"role";
COMMIT;
