-- Version 2, from 1: a term is looked up among the suffixes of each
-- image's words (images_search_idx), not by its trigrams.  pg_trgm stays.
DROP INDEX IF EXISTS images_search_trgm_idx;
