-- Version 1, from the schema before versions (mod_images up to commit
-- ac59ff5): a search is one trigram index over search_text instead of
-- words, bitmaps and slots kept by triggers; versions are read when an
-- image is rendered instead of from images.versions_json.  Every row of
-- the API's tables is kept as it was.
--
-- The index first: at 1,000,000 images it takes minutes, during which
-- writers wait and readers go on.  The drops after it lock images against
-- readers too, for the moments left until schema.sql commits.
SET LOCAL maintenance_work_mem = '512MB';
CREATE INDEX IF NOT EXISTS images_search_trgm_idx
    ON images USING gin (search_text gin_trgm_ops)
    WITH (fastupdate = off);

DROP TRIGGER IF EXISTS images_slot ON images;
DROP TRIGGER IF EXISTS image_bits_ins ON images;
DROP TRIGGER IF EXISTS image_bits_del ON images;
DROP TRIGGER IF EXISTS image_bits_upd ON images;
DROP TRIGGER IF EXISTS image_bits_trunc ON images;
DROP TRIGGER IF EXISTS image_add_words_ins ON images;
DROP TRIGGER IF EXISTS image_add_words_upd ON images;
DROP TRIGGER IF EXISTS image_versions_derived_ins ON image_versions;
DROP TRIGGER IF EXISTS image_versions_derived_del ON image_versions;
DROP TRIGGER IF EXISTS image_versions_derived_upd ON image_versions;
DROP TRIGGER IF EXISTS image_versions_derived_trunc ON image_versions;
DROP TABLE IF EXISTS search_bits, search_slots, search_vocab;
ALTER TABLE images DROP COLUMN IF EXISTS search_words,
                   DROP COLUMN IF EXISTS search_long,
                   DROP COLUMN IF EXISTS search_slot,
                   DROP COLUMN IF EXISTS versions_json;
DROP FUNCTION IF EXISTS images_slot(), search_bits_change(),
    search_keys_of(text[], boolean, timestamptz), search_bit(bigint),
    search_bucket(timestamptz), search_vocab_add(), search_words_of(text),
    images_refresh_versions(bigint[]), images_versions_json(bigint);
