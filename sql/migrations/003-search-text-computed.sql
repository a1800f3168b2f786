-- Version 3, from 2 or 1: images' search text is computed, not stored;
-- the index over the column goes with it and indexes.sql builds it again.
-- The column's space returns as rows are written (or: VACUUM FULL images).
ALTER TABLE images DROP COLUMN IF EXISTS search_text;
DROP FUNCTION IF EXISTS images_search_words(text);
