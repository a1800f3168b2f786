-- Version 4, from 3: the words' suffixes of two characters too (derived.sql);
-- the index of version 3's words goes, and indexes.sql builds it again.
DROP INDEX IF EXISTS images_search_idx;
