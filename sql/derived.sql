-- Derived data, kept by triggers that fire ALWAYS (also in a load under
-- session_replication_role = replica).  What each buys is measured in
-- docs/performance.md:
--   images.search_text  name, description and each tag's name and
--       description, lower-cased, one per line: the one column the trigram
--       index searches (indexes.sql).  A search term holds no newline, so it
--       matches this text exactly when it matches one of the fields, and
--       LIKE of a lower-cased term is ILIKE.
--   images.tags_json    the image's tags as the module renders them, by
--       name: [[id, name, description], ...]; NULL for none.
--   image_tags.start_date, is_public, end_date, created_by  its image's: a
--       page by tag is counted and read from one index of image_tags.
--   image_counts, creator_counts  public images with no end date, in all
--       and per creator: a page's count without visiting every row.
-- Run through schema.sql (one transaction).

ALTER TABLE images
    ADD COLUMN IF NOT EXISTS search_text text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS tags_json text;
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

CREATE OR REPLACE FUNCTION images_search_text(img bigint, iname text,
                                              idesc text)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT lower(iname || chr(10) || idesc || coalesce((
        SELECT string_agg(chr(10) || t.name || chr(10) || t.description,
                          '' ORDER BY t.id)
          FROM image_tags it JOIN tags t ON t.id = it.tag_id
         WHERE it.image_id = img), ''))
$$;

CREATE OR REPLACE FUNCTION images_tags_json(img bigint)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_agg(json_build_array(t.id, t.name, t.description)
                    ORDER BY t.name COLLATE "C", t.id)::text
      FROM image_tags it JOIN tags t ON t.id = it.tag_id
     WHERE it.image_id = img
$$;

-- The rows are locked before they are computed: a transaction changing the
-- same image's tags at the same time has then committed, and the UPDATE (a
-- new snapshot) reads its rows too.  NO KEY UPDATE does not wait for the
-- foreign-key locks that new image_tags rows take on the image.  It runs
-- with its owner's rights (FOR SHARE on tags needs UPDATE on tags, which
-- the module's role has no reason to hold), only from the triggers, with
-- pg_temp last in its search_path, for the roles granted EXECUTE.
CREATE OR REPLACE FUNCTION images_refresh_tags(ids bigint[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF pg_trigger_depth() = 0 THEN
        RAISE EXCEPTION 'images_refresh_tags runs from the triggers only';
    END IF;
    PERFORM 1 FROM tags t
      WHERE t.id IN (SELECT it.tag_id FROM image_tags it
                      WHERE it.image_id = ANY (ids))
      ORDER BY t.id FOR SHARE;
    PERFORM 1 FROM images WHERE id = ANY (ids) ORDER BY id
        FOR NO KEY UPDATE;
    UPDATE images i
       SET search_text = images_search_text(i.id, i.name, i.description),
           tags_json = images_tags_json(i.id)
     WHERE i.id = ANY (ids);
END $$;
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION images_refresh_tags(bigint[])'
                   ' SET search_path = %I, pg_temp', current_schema());
END $$;
REVOKE EXECUTE ON FUNCTION images_refresh_tags(bigint[]) FROM PUBLIC;

-- An image as it is written: its derived fields from what the tables hold
-- (on INSERT, links loaded before it without foreign-key checks), never
-- what the writer put there.
CREATE OR REPLACE FUNCTION images_search_text_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_text := images_search_text(NEW.id, NEW.name, NEW.description);
    IF TG_OP = 'INSERT' THEN
        NEW.tags_json := images_tags_json(NEW.id);
    END IF;
    RETURN NEW;
END $$;

-- After a statement on image_tags or tags: the images whose tags changed.
-- Only the branch taken is planned: each names only its trigger's tables.
CREATE OR REPLACE FUNCTION images_derived_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE images i
           SET search_text = images_search_text(i.id, i.name, i.description),
               tags_json = NULL
         WHERE i.tags_json IS NOT NULL;
        RETURN NULL;
    ELSIF TG_TABLE_NAME = 'tags' THEN
        -- tags whose text changed (an id cannot change while links name it)
        SELECT array_agg(DISTINCT it.image_id) INTO ids
          FROM image_tags it
         WHERE it.tag_id IN (SELECT n.id FROM new_rows n JOIN old_rows o
                               ON o.id = n.id
                              WHERE (n.name, n.description)
                                    IS DISTINCT FROM (o.name, o.description));
    ELSIF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT image_id) INTO ids FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT image_id) INTO ids FROM old_rows;
    ELSE
        -- links that changed, not the columns image_tags_follow keeps
        SELECT array_agg(DISTINCT x.image_id) INTO ids
          FROM ((SELECT image_id, tag_id FROM new_rows
                 EXCEPT SELECT image_id, tag_id FROM old_rows)
                UNION ALL
                (SELECT image_id, tag_id FROM old_rows
                 EXCEPT SELECT image_id, tag_id FROM new_rows)) x;
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM images_refresh_tags(ids);
    END IF;
    RETURN NULL;
END $$;

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

CREATE OR REPLACE TRIGGER images_search_text
    BEFORE INSERT OR UPDATE OF name, description ON images
    FOR EACH ROW EXECUTE FUNCTION images_search_text_row();
CREATE OR REPLACE TRIGGER image_tags_derived_ins AFTER INSERT ON image_tags
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION images_derived_change();
CREATE OR REPLACE TRIGGER image_tags_derived_del AFTER DELETE ON image_tags
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION images_derived_change();
CREATE OR REPLACE TRIGGER image_tags_derived_upd AFTER UPDATE ON image_tags
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION images_derived_change();
CREATE OR REPLACE TRIGGER image_tags_derived_trunc AFTER TRUNCATE
    ON image_tags FOR EACH STATEMENT EXECUTE FUNCTION images_derived_change();
CREATE OR REPLACE TRIGGER tags_derived_upd AFTER UPDATE ON tags
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION images_derived_change();
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
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tgrelid::regclass AS tab, tgname FROM pg_trigger
              WHERE tgname IN ('images_search_text', 'image_tags_derived_ins',
                    'image_tags_derived_del', 'image_tags_derived_upd',
                    'image_tags_derived_trunc', 'tags_derived_upd',
                    'image_tags_fill', 'image_tags_follow',
                    'image_tags_follow_ins', 'image_counts_ins',
                    'image_counts_del', 'image_counts_upd',
                    'image_counts_trunc')
                AND tgrelid IN ('images'::regclass, 'image_tags'::regclass,
                                'tags'::regclass) LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I',
                       t.tab, t.tgname);
    END LOOP;
END $$;

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
