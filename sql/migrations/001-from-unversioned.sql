-- Version 1, from the schema before versions (mod_images up to commit
-- ac59ff5).  A search is one trigram index over a generated search_text
-- (name and description) and the tags' own text, instead of words,
-- bitmaps and slots kept by triggers; tags and versions are read when an
-- image is rendered instead of copied into images by triggers.  Every row
-- of the API's tables is kept as it was.  (Versions 2 and 3 replace the
-- search: 002, 003.)  indexes.sql builds the search index: readers and
-- writers wait until schema.sql commits (at 1,000,000 images, minutes:
-- docs/configuration.md, Upgrading).
DROP TRIGGER IF EXISTS images_slot ON images;
DROP TRIGGER IF EXISTS image_bits_ins ON images;
DROP TRIGGER IF EXISTS image_bits_del ON images;
DROP TRIGGER IF EXISTS image_bits_upd ON images;
DROP TRIGGER IF EXISTS image_bits_trunc ON images;
DROP TRIGGER IF EXISTS image_add_words_ins ON images;
DROP TRIGGER IF EXISTS image_add_words_upd ON images;
DROP TRIGGER IF EXISTS images_search_text ON images;
DROP TRIGGER IF EXISTS image_tags_derived_ins ON image_tags;
DROP TRIGGER IF EXISTS image_tags_derived_del ON image_tags;
DROP TRIGGER IF EXISTS image_tags_derived_upd ON image_tags;
DROP TRIGGER IF EXISTS image_tags_derived_trunc ON image_tags;
DROP TRIGGER IF EXISTS tags_derived_upd ON tags;
DROP TRIGGER IF EXISTS image_versions_derived_ins ON image_versions;
DROP TRIGGER IF EXISTS image_versions_derived_del ON image_versions;
DROP TRIGGER IF EXISTS image_versions_derived_upd ON image_versions;
DROP TRIGGER IF EXISTS image_versions_derived_trunc ON image_versions;
DROP TABLE IF EXISTS search_bits, search_slots, search_vocab;
ALTER TABLE images DROP COLUMN IF EXISTS search_words,
                   DROP COLUMN IF EXISTS search_long,
                   DROP COLUMN IF EXISTS search_slot,
                   DROP COLUMN IF EXISTS search_text,
                   DROP COLUMN IF EXISTS tags_json,
                   DROP COLUMN IF EXISTS versions_json;
DROP FUNCTION IF EXISTS images_slot(), search_bits_change(),
    search_keys_of(text[], boolean, timestamptz), search_bit(bigint),
    search_bucket(timestamptz), search_vocab_add(), search_words_of(text),
    images_refresh_versions(bigint[]), images_versions_json(bigint),
    images_refresh_tags(bigint[]), images_tags_json(bigint),
    images_search_text(bigint, text, text), images_search_text_row(),
    images_derived_change();

UPDATE api_tokens SET key = encode(sha256(convert_to(key, 'UTF8')), 'hex');

ALTER TABLE images ADD CONSTRAINT images_dates_ok
    CHECK (images_date_ok(start_date) AND images_date_ok(end_date)) NOT VALID;
ALTER TABLE image_versions ADD CONSTRAINT image_versions_dates_ok
    CHECK (images_date_ok(start_date) AND images_date_ok(end_date)) NOT VALID;
DO $$
DECLARE
    t text;
    bad text;
BEGIN
    FOREACH t IN ARRAY ARRAY['images', 'image_versions'] LOOP
        EXECUTE format('SELECT string_agg(id::text, '', '' ORDER BY id)'
                       ' FROM %I WHERE NOT (images_date_ok(start_date)'
                       ' AND images_date_ok(end_date))', t) INTO bad;
        IF bad IS NULL THEN
            EXECUTE format('ALTER TABLE %I VALIDATE CONSTRAINT %I', t,
                           t || '_dates_ok');
        ELSE
            RAISE WARNING '% with a date outside years 1 to 9999 (ids %):'
                ' kept, the constraint left to validate', t, bad;
        END IF;
    END LOOP;
END $$;
