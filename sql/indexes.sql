-- The indexes the module's statements use.  Run through schema.sql.
-- Search: the suffixes of each image's words (derived.sql), looked up by
-- prefix, one predicate per leading term (store.c).  fastupdate as by
-- default (off, a load of 20,000 images took ten times longer).
CREATE INDEX IF NOT EXISTS images_search_idx
    ON images USING gin (images_search_words(name, description));

-- Listing order of every page.
CREATE INDEX IF NOT EXISTS images_order_idx
    ON images (start_date DESC, id DESC);
-- The anonymous catalogue: public images with no end date.
CREATE INDEX IF NOT EXISTS images_public_order_idx
    ON images (start_date DESC, id DESC)
    WHERE is_public AND end_date IS NULL;
-- Public images with an end date (counted apart from image_counts).
CREATE INDEX IF NOT EXISTS images_end_date_public_idx
    ON images (end_date, is_public) WHERE end_date IS NOT NULL;
-- A creator's images in listing order with what visibility reads: a page
-- by creator from this index alone.
CREATE INDEX IF NOT EXISTS images_creator_order_idx
    ON images (created_by, start_date DESC, id DESC)
    INCLUDE (is_public, end_date);
-- A creator's public images with an end date (apart from creator_counts).
CREATE INDEX IF NOT EXISTS images_creator_ending_idx
    ON images (created_by, end_date) WHERE is_public AND end_date IS NOT NULL;
-- A tag's images in listing order with what visibility reads.
CREATE INDEX IF NOT EXISTS image_tags_listing_idx
    ON image_tags (tag_id, start_date DESC, image_id DESC)
    INCLUDE (is_public, end_date, created_by);
CREATE INDEX IF NOT EXISTS image_versions_image_idx
    ON image_versions (image_id, start_date, id);
CREATE INDEX IF NOT EXISTS image_members_user_idx
    ON image_members (user_id, image_id);
CREATE INDEX IF NOT EXISTS api_tokens_user_idx ON api_tokens (user_id);
