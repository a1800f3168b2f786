-- Version 3, from 2 or 1: images' search text computed, not stored.  The
-- index goes with the column; indexes.sql builds it (space: VACUUM FULL).
ALTER TABLE images DROP COLUMN IF EXISTS search_text;
DROP FUNCTION IF EXISTS images_search_words(text);
