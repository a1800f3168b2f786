-- Version 2, from 1: a term is looked up among the suffixes of each
-- image's words (images_search_idx, built by indexes.sql before this runs),
-- not by its trigrams.  Dropped last: readers wait for its lock only for
-- the moment before the commit.  pg_trgm stays installed.
DROP INDEX IF EXISTS images_search_trgm_idx;
