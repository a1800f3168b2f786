-- Version 2, from version 1 (and from the schema before versions, after
-- 001).  A search term is looked up among the suffixes of the words of each
-- image's text (images_search_idx, built by indexes.sql before this runs)
-- instead of by its trigrams: the trigram index goes.  It goes last, so
-- that readers wait for its lock only for the moment before the commit
-- (building the new index lets them read; writers wait for it:
-- docs/configuration.md, Upgrading).  pg_trgm itself is left installed:
-- the database may use it for something else.
DROP INDEX IF EXISTS images_search_trgm_idx;
