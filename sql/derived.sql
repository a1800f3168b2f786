-- Derived data.  What each buys is measured in docs/performance.md:
--   tags.search_text, images_search_text()  name and description,
--       lower-cased, one per line: what a term is matched against (LIKE of
--       a lower-cased term is ILIKE).  Images' is computed, not stored.
--   image_tags.start_date, is_public, end_date, created_by  its image's,
--       kept by triggers: a page by tag from one index of image_tags.
--   image_counts, creator_counts  public images with no end date, in all
--       and per creator, kept by statement triggers: a page's count without
--       visiting every row.
-- And api_tokens.key: the SHA-256 (hex) of what a writer inserts (no token
-- in plain in the table or a log).  Triggers fire ALWAYS (also under
-- session_replication_role = replica).  Run through schema.sql.

ALTER TABLE tags ADD COLUMN IF NOT EXISTS search_text text
    GENERATED ALWAYS AS (lower(name || chr(10) || description)) STORED;
ALTER TABLE image_tags ADD COLUMN IF NOT EXISTS start_date timestamptz,
                       ADD COLUMN IF NOT EXISTS is_public boolean,
                       ADD COLUMN IF NOT EXISTS end_date timestamptz,
                       ADD COLUMN IF NOT EXISTS created_by bigint;
CREATE TABLE IF NOT EXISTS image_counts (
    what text PRIMARY KEY,
    n    bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS creator_counts (
    created_by  bigint PRIMARY KEY,
    public_open bigint NOT NULL
);

-- A text's runs (or a LIKE pattern's: escapes and % are not letters):
-- split at ASCII's characters other than letters and digits only, as
-- im_query.c counts them, whatever the locale says.
CREATE OR REPLACE FUNCTION images_search_runs(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_split_to_array(t, '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+')
$$;

CREATE OR REPLACE FUNCTION images_search_text(name text, description text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN lower(name || chr(10) || description);

-- An image's words: each suffix (2 characters or more, cut to 32) of each
-- run of its text.  A term's run is in the text exactly when it starts one
-- (store.c).  Over 8 KB only the mark !long, which every query asks for;
-- LIKE decides (substr walks a run from its start).  search_path fixed:
-- PostgreSQL 17 builds indexes with pg_catalog only.  No set-returning
-- function in FROM: each call would fill a tuplestore (a slower load).
CREATE OR REPLACE FUNCTION images_search_words(name text, description text)
RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 10000
SET search_path FROM CURRENT AS $$
    SELECT CASE WHEN octet_length(name) + octet_length(description) >= 8192
           THEN '!long'::tsvector
           ELSE array_to_tsvector(ARRAY(
               SELECT substr(w, generate_series(1, length(w) - 1), 32)
                 FROM (SELECT DISTINCT unnest(r) AS w) d)) END
      FROM images_search_runs(images_search_text(name, description)) r
$$;

-- A LIKE pattern's runs of two or more (their first 32 characters; the
-- four longest: bounded work) as prefixes, or the mark.
CREATE OR REPLACE FUNCTION images_search_query(pattern text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (coalesce('(' || string_agg(quote_literal(w) || ':*', ' & '
                                       ORDER BY w) || ') | ', '')
            || '''!long''')::tsquery
      FROM (SELECT w FROM (SELECT DISTINCT left(r, 32) AS w
                             FROM unnest(images_search_runs(pattern)) r
                            WHERE length(r) >= 2) d
             ORDER BY length(w) DESC, w LIMIT 4) x
$$;

-- A link as it is written: its image's columns, whatever the writer said.
CREATE OR REPLACE FUNCTION image_tags_fill() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT i.start_date, i.is_public, i.end_date, i.created_by
      INTO NEW.start_date, NEW.is_public, NEW.end_date, NEW.created_by
      FROM images i WHERE i.id = NEW.image_id;
    RETURN NEW;
END $$;

-- Images written: their links follow (also links loaded before their
-- image); only links whose columns differ are written.
CREATE OR REPLACE FUNCTION image_tags_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE image_tags it
       SET start_date = n.start_date, is_public = n.is_public,
           end_date = n.end_date, created_by = n.created_by
      FROM new_rows n
     WHERE it.image_id = n.id
       AND (it.start_date, it.is_public, it.end_date, it.created_by)
           IS DISTINCT FROM (n.start_date, n.is_public, n.end_date,
                             n.created_by);
    RETURN NULL;
END $$;

-- The counts move by +1 for each new row and -1 for each old one that is
-- public with no end date: creators first, in creator order, then the
-- total (every writer locks them in the same order).
CREATE OR REPLACE FUNCTION image_counts_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    d text := concat_ws(' UNION ALL ',
        CASE WHEN TG_OP <> 'DELETE' THEN 'SELECT created_by, 1 AS delta'
             ' FROM new_rows WHERE is_public AND end_date IS NULL' END,
        CASE WHEN TG_OP <> 'INSERT' THEN 'SELECT created_by, -1 AS delta'
             ' FROM old_rows WHERE is_public AND end_date IS NULL' END);
    total bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM creator_counts;
        UPDATE image_counts SET n = 0 WHERE what = 'public_open';
        RETURN NULL;
    END IF;
    EXECUTE 'INSERT INTO creator_counts AS cc (created_by, public_open)'
        ' SELECT created_by, sum(delta) FROM (' || d || ') x'
        ' GROUP BY 1 HAVING sum(delta) <> 0 ORDER BY 1'
        ' ON CONFLICT (created_by) DO UPDATE'
        ' SET public_open = cc.public_open + EXCLUDED.public_open';
    EXECUTE 'SELECT coalesce(sum(delta), 0) FROM (' || d || ') x'
        INTO total;
    IF total <> 0 THEN
        UPDATE image_counts SET n = n + total WHERE what = 'public_open';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION api_tokens_digest() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.key IS DISTINCT FROM OLD.key THEN
        NEW.key := encode(sha256(convert_to(NEW.key, 'UTF8')), 'hex');
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER api_tokens_digest
    BEFORE INSERT OR UPDATE OF key ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION api_tokens_digest();
CREATE OR REPLACE TRIGGER image_tags_fill
    BEFORE INSERT OR UPDATE ON image_tags
    FOR EACH ROW EXECUTE FUNCTION image_tags_fill();
CREATE OR REPLACE TRIGGER image_tags_follow AFTER UPDATE ON images
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION image_tags_follow();
CREATE OR REPLACE TRIGGER image_tags_follow_ins AFTER INSERT ON images
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION image_tags_follow();
CREATE OR REPLACE TRIGGER image_counts_ins AFTER INSERT ON images
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION image_counts_change();
CREATE OR REPLACE TRIGGER image_counts_del AFTER DELETE ON images
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION image_counts_change();
CREATE OR REPLACE TRIGGER image_counts_upd AFTER UPDATE ON images
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION image_counts_change();
CREATE OR REPLACE TRIGGER image_counts_trunc AFTER TRUNCATE ON images
    FOR EACH STATEMENT EXECUTE FUNCTION image_counts_change();

-- Named, so that an operator's own triggers keep their setting.
ALTER TABLE api_tokens ENABLE ALWAYS TRIGGER api_tokens_digest;
ALTER TABLE image_tags ENABLE ALWAYS TRIGGER image_tags_fill;
ALTER TABLE images ENABLE ALWAYS TRIGGER image_tags_follow,
    ENABLE ALWAYS TRIGGER image_tags_follow_ins,
    ENABLE ALWAYS TRIGGER image_counts_ins,
    ENABLE ALWAYS TRIGGER image_counts_del,
    ENABLE ALWAYS TRIGGER image_counts_upd,
    ENABLE ALWAYS TRIGGER image_counts_trunc;

-- The counts of a database that had none (a first install, or rows loaded
-- before the triggers).
INSERT INTO image_counts (what, n)
    SELECT 'public_open', count(*) FROM images
     WHERE is_public AND end_date IS NULL
ON CONFLICT (what) DO NOTHING;
INSERT INTO creator_counts (created_by, public_open)
    SELECT created_by, count(*) FROM images
     WHERE is_public AND end_date IS NULL GROUP BY created_by
ON CONFLICT (created_by) DO NOTHING;
