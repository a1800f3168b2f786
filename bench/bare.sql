-- The reference of bench/run's load rate: the API's tables alone (no
-- derived data, no triggers but the date checks) with one pg_trgm GIN index
-- over each image's name and description, the least a search index costs.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir ../sql/tables.sql
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX images_text_trgm_idx
    ON images USING gin ((name || ' ' || description) gin_trgm_ops);
