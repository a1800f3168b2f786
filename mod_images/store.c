/*
 * The store: every SQL statement of the module, written at configuration
 * time under fixed labels, prepared on a pooled connection (mod_dbd's)
 * when a request first needs it there, and run with bound parameters.
 *
 * Each request needs one round trip: the caller's identity (r->user or a
 * token), visibility, the filters, the count and the page with its tags,
 * versions and creators are one statement.
 *
 * PATCH runs on the module's write pool when one is configured
 * (writepool.c), else on mod_dbd's pool like everything else.
 *
 * A failure is told apart by its SQLSTATE (libpq on the connection, whose
 * messages carry it: PQERRORS_VERBOSE): a lost connection is reset (or,
 * from the write pool, replaced) and the statement run once more; a
 * statement the session no longer has (26000) is prepared again and run
 * once more; a serialization failure or deadlock runs once more; a
 * statement cancelled for its time, a read-only server or a connection
 * that cannot be had answer 503; anything else 500.  mod_dbd resets a
 * dropped connection in place, a new server session with none of the
 * statements or settings: a session is known by its server process id, and
 * a new one is set up again before its first use (FIELD-NOTES.md).
 */
#include <string.h>

#include <libpq-fe.h>

#include <apr_dbd.h>
#include <apr_lib.h>
#include <apr_optional.h>
#include <apr_strings.h>

#include "mod_images.h"

/* The schema version these statements are written for (sql/schema.sql):
 * a connection to a database of another version answers nothing. */
#define SCHEMA_VERSION 4
#define SQL_SCHEMA_VERSION \
    "SELECT coalesce(max(version), 0) FROM schema_version"

static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *dbd_acquire;

/* The caller: params (user, token, page size, page).  uid is NULL for
 * anonymous; token, the first column of every statement (token_column()),
 * is NULL without a token, 'x' for one that names no current key, else 'u'
 * and the name of its user. */
#define SQL_CALLER \
    "WITH c AS (SELECT CASE WHEN q.tok IS NULL THEN" \
    " (SELECT u.id FROM users u WHERE u.username = q.usr)" \
    " ELSE tk.user_id END AS uid," \
    " CASE WHEN q.tok IS NOT NULL THEN coalesce('u' || (SELECT u.username" \
    " FROM users u WHERE u.id = tk.user_id), 'x') END AS token," \
    " q.size, q.page" \
    " FROM (SELECT NULLIF(%s::text, '') AS usr, NULLIF(%s::text, '') AS tok," \
    " %s::int AS size, %s::bigint AS page) q" \
    " LEFT JOIN api_tokens tk ON tk.key = q.tok" \
    " AND (tk.expires_at IS NULL OR tk.expires_at > now()))"

/* docs/api.md, for images i and caller c.  The shares are the
 * caller's, found once by image_members_user_idx (an uncorrelated sub-query
 * on the caller's id): not every share of the catalogue, hashed, as an
 * EXISTS correlated on i.id and c.uid was planned. */
#define SQL_NOT_ENDED(t) "(" t ".end_date IS NULL OR " t ".end_date > now())"
#define SQL_VISIBLE_OF(t, id) \
    SQL_NOT_ENDED(t) " AND (" t ".is_public" \
    " OR " t ".created_by = c.uid OR " id " IN (SELECT m.image_id" \
    " FROM image_members m WHERE m.user_id = (SELECT c.uid FROM c)" \
    " AND (m.end_date IS NULL OR m.end_date > now())))"
#define SQL_VISIBLE SQL_VISIBLE_OF("i", "i.id")

/* A timestamp as epoch microseconds; outside years 1 to 9999 (which the
 * schema refuses, but an older database may hold: infinity, or a year the
 * product would overflow) the largest or smallest bigint, which the
 * renderer writes as null and logs. */
#define SQL_MICROS(d) \
    "CASE WHEN " d " < '0001-01-01 00:00:00+00' THEN -9223372036854775807" \
    " WHEN " d " >= '10000-01-01 00:00:00+00' THEN 9223372036854775807" \
    " ELSE (extract(epoch FROM " d ") * 1000000)::bigint END"

/* The columns of im_image_row_t, in order, for images i; its tags and
 * versions as JSON arrays, unordered (the renderer sorts them: a sort per
 * image here cost 14 % of a page's time), read by primary key and
 * image_versions_image_idx for the rows of the page only: OFFSET 0 keeps
 * each tag a primary-key lookup, where the planner would hash all of tags
 * for every image, 4 times slower; the renderer also leaves out the
 * versions that ended by the database's now(), the last column. */
#define SQL_IMAGE_COLUMNS \
    "i.id, i.uuid, i.name, i.created_by," \
    " (SELECT u.username FROM users u WHERE u.id = i.created_by)," \
    " i.description," \
    " " SQL_MICROS("i.end_date") ", i.is_public," \
    " i.icon, " SQL_MICROS("i.start_date") "," \
    " (SELECT json_agg(json_build_array(it.tag_id, t.name, t.description))" \
    "::text FROM image_tags it" \
    " CROSS JOIN LATERAL (SELECT t.name, t.description FROM tags t" \
    " WHERE t.id = it.tag_id OFFSET 0) t WHERE it.image_id = i.id)," \
    " (SELECT json_agg(json_build_array(v.id, v.name," \
    " " SQL_MICROS("v.start_date") ", NULL))::text FROM image_versions v" \
    " WHERE v.image_id = i.id AND " SQL_NOT_ENDED("v") ")," \
    " (extract(epoch FROM now()) * 1000000)::bigint"
#define IMAGE_NCOLS 13

#define SQL_GET_IMAGE(match) \
    SQL_CALLER " SELECT c.token, " SQL_IMAGE_COLUMNS \
    " FROM c LEFT JOIN images i ON " match " AND " SQL_VISIBLE

/* The same for a caller with neither user nor token (most reads of a public
 * catalogue): SQL_VISIBLE for no caller (docs/api.md: public and
 * not ended), with no caller to look up and no shares to consult: a smaller
 * plan to start at each call.  One param: the id or uuid. */
#define SQL_GET_IMAGE_ANON(match) \
    "SELECT NULL::text, " SQL_IMAGE_COLUMNS " FROM (SELECT) c" \
    " LEFT JOIN images i ON " match " AND i.is_public AND " \
    SQL_NOT_ENDED("i")

/* The collection's filters; a statement exists for each combination (and
 * for each number of search terms that lead the trigram index) so that
 * every plan, generic or not, can use the index that fits.  A variant's
 * number: creator (bit 0), tag (bit 1), plus 4 times the search: 0 none,
 * 1 with no term long enough to lead (every row is checked), 2 to 4 with
 * 1 to 3 leads. */
#define FILTER_CREATOR 1
#define FILTER_TAG     2
#define SEARCH(v)       ((v) >> 2)
#define SEARCH_LEADS(v) (SEARCH(v) ? SEARCH(v) - 1 : 0)
#define LIST_VARIANTS  20

/* With a tag, the set comes from image_tags l, which carries its image's
 * listing and visibility columns (sql/derived.sql): images i only joins it
 * for a search. */
#define SQL_CREATOR_OF(t) \
    " AND " t ".created_by = (SELECT id FROM users WHERE username = %s::text)"
static const char *const sql_tag =
    " AND l.tag_id = (SELECT id FROM tags WHERE name = %s::text)";
/* A search term matches an image's own text (images_search_text: name and
 * description, lower-cased, sql/derived.sql) or a tag's (tags.search_text)
 * that the image has.  Up to three terms with a run of two characters
 * (im_query.c) lead: each is one predicate that the index of the suffixes of
 * images' words answers (the term's runs as prefixes of them), ORed with
 * the images of the few tags the term matches (a primary-key lookup), so
 * the bitmaps combine.  For a term that is one such run (im_query.c says
 * which) the index's answer is exact: no row is looked at again for it,
 * not even the rows the tags' half adds.  The others, and the terms that
 * do not lead, are checked on the rows found.  A text too long to have
 * suffixes has a mark that every lead finds; LIKE then decides for it.
 * LIKE of lower(term) on lower-cased text is ILIKE; an image's text is
 * lower-cased only for the rows LIKE checks, a term once per statement (a
 * sub-select: lower($n) in a filter is computed again for each row).  An
 * exact lead's tsquery is written here, as images_search_query
 * (sql/derived.sql) writes it for one run: that SQL function is parsed and
 * planned at each statement that calls it (0.13 ms).  Params: a lead's run
 * ("" unless exact), its pattern, its run, its pattern three times; the
 * rest's patterns joined by newlines (once more, first, for
 * sql_search_rest_tags). */
#define SQL_IMAGE_TEXT "images_search_text(i.name, i.description)"
static const char *const sql_search_lead =
    " AND (images_search_words(i.name, i.description)"
    " @@ CASE WHEN %s::text = '' THEN images_search_query(lower(%s::text))"
    " ELSE (quote_literal(left(lower(%s::text), 32)) || ':* | ''!long''')"
    "::tsquery END"
    " OR i.id = ANY (ARRAY("
    "SELECT it.image_id FROM image_tags it WHERE it.tag_id = ANY (ARRAY("
    "SELECT t.id FROM tags t WHERE t.search_text LIKE"
    " (SELECT lower(%s::text)))))))"
    " AND (octet_length(i.name) + octet_length(i.description) < 8192"
    " OR " SQL_IMAGE_TEXT " LIKE (SELECT lower(%s::text)) OR EXISTS"
    " (SELECT 1 FROM image_tags it JOIN tags t ON t.id = it.tag_id"
    " WHERE it.image_id = i.id"
    " AND t.search_text LIKE (SELECT lower(%s::text))))";
/* The terms checked on the rows found, and the tags each matches, once per
 * statement: a row's tag ids (one probe of image_tags) are then compared
 * with them, where a scan of the tags for each row cost 45 us (a search of
 * short terms, which checks every visible row, ran past the time limit at
 * 100,000 images).  Not `it.tag_id = ANY (rp.tags)`: PostgreSQL 15 descends
 * the index once per tag of the array ("::" matches 596 tags).  The
 * patterns joined by newlines: for the tags here, then as a gate per row. */
static const char *const sql_search_rest_tags =
    ", rp AS MATERIALIZED (SELECT p.pat, ARRAY(SELECT t.id FROM tags t"
    " WHERE t.search_text LIKE p.pat) AS tags"
    " FROM unnest(string_to_array(lower(%s::text), chr(10))) p (pat))";
static const char *const sql_search_rest =
    " AND (%s::text = '' OR NOT EXISTS (SELECT 1 FROM rp"
    " WHERE NOT (" SQL_IMAGE_TEXT " LIKE rp.pat OR rp.tags && ARRAY("
    "SELECT it.tag_id FROM image_tags it WHERE it.image_id = i.id))))";

/* PATCH, in one transaction: lock the row first, so that the read after it
 * (a new snapshot) sees the latest committed state; then read the caller's
 * rights and the representation, update, and read again. */
#define SQL_LOCK(match) \
    "SELECT i.id FROM images i WHERE " match " FOR UPDATE"

/* params: caller, tag ids to check ("1,2"), image id */
#define SQL_PATCH_READ \
    SQL_CALLER " SELECT c.token," \
    " (i.id IS NOT NULL AND " SQL_VISIBLE ") AS visible," \
    " (i.created_by = c.uid) AS is_creator," \
    " (SELECT string_agg(x::text, ',' ORDER BY x)" \
    " FROM unnest(string_to_array(NULLIF(%s::text, ''), ',')::bigint[]) x" \
    " WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.id = x))," \
    " " SQL_IMAGE_COLUMNS \
    " FROM c LEFT JOIN images i ON i.id = %s::bigint"

/* Every writable field with a flag saying whether the body set it; the
 * tag set moves by deleting what left it and inserting what joined it. */
#define SQL_PATCH_UPDATE \
    "WITH p AS (SELECT %s::bigint AS id, %s::boolean AS set_name," \
    " %s::text AS name, %s::boolean AS set_descr, %s::text AS descr," \
    " %s::boolean AS set_public, %s::boolean AS public," \
    " %s::boolean AS set_end, NULLIF(%s::text, '')::timestamptz AS end_date," \
    " %s::boolean AS set_tags," \
    " coalesce(string_to_array(NULLIF(%s::text, ''), ',')::bigint[]," \
    " '{}') AS tags)," \
    " upd AS (UPDATE images i SET" \
    " name = CASE WHEN p.set_name THEN p.name ELSE i.name END," \
    " description = CASE WHEN p.set_descr THEN p.descr" \
    " ELSE i.description END," \
    " is_public = CASE WHEN p.set_public THEN p.public" \
    " ELSE i.is_public END," \
    " end_date = CASE WHEN p.set_end THEN p.end_date ELSE i.end_date END" \
    " FROM p WHERE i.id = p.id RETURNING i.id)," \
    " del AS (DELETE FROM image_tags it USING p WHERE p.set_tags" \
    " AND it.image_id = p.id AND NOT (it.tag_id = ANY (p.tags))" \
    " RETURNING it.tag_id)," \
    " ins AS (INSERT INTO image_tags (image_id, tag_id)" \
    " SELECT DISTINCT p.id, t.id FROM p JOIN tags t ON t.id = ANY (p.tags)" \
    " WHERE p.set_tags AND NOT EXISTS (SELECT 1 FROM image_tags x" \
    " WHERE x.image_id = p.id AND x.tag_id = t.id) RETURNING tag_id)" \
    " SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM del)," \
    " (SELECT count(*) FROM ins)"

/* Whether a token names a current key, for a request that reads nothing
 * else (OPTIONS, a method not allowed).  Params as SQL_CALLER. */
#define SQL_TOKEN_CHECK SQL_CALLER " SELECT c.token FROM c"

enum { STMT_PING, STMT_TOKEN_CHECK, STMT_GET_BY_ID, STMT_GET_BY_UUID,
       STMT_ANON_BY_ID, STMT_ANON_BY_UUID, STMT_LOCK_BY_ID,
       STMT_LOCK_BY_UUID, STMT_PATCH_READ, STMT_PATCH_UPDATE, STMT_LIST,
       STMT_COUNT = STMT_LIST + LIST_VARIANTS };

typedef struct {
    const char *label;
    const char *sql;
    const char *what;        /* for the log: what the request was doing */
} stmt_t;

/* Written once per configuration pass, read-only while serving. */
static stmt_t stmts[STMT_COUNT];

static const char *list_sql(apr_pool_t *p, int filters)
{
    const char *where = "", *leads = "", *found = "";
    int i;

    if (filters & FILTER_CREATOR) {
        where = (filters & FILTER_TAG) ? SQL_CREATOR_OF("l")
                                       : SQL_CREATOR_OF("i");
    }
    if (filters & FILTER_TAG) {
        where = apr_pstrcat(p, where, sql_tag, NULL);
    }
    for (i = 0; i < SEARCH_LEADS(filters); i++) {
        leads = apr_pstrcat(p, leads, sql_search_lead, NULL);
    }
    if (*leads && (filters & (FILTER_CREATOR | FILTER_TAG))) {
        /* With a creator or a tag too, the leads' images are found first,
         * by the index alone: the planner would otherwise read the
         * creator's or the tag's rows and compute each one's words again
         * (0.1 ms a row) to check them against the leads. */
        found = apr_pstrcat(p, ", s AS MATERIALIZED (SELECT i.id"
                            " FROM images i WHERE true", leads, ")", NULL);
        where = apr_pstrcat(p, where, " AND i.id IN (SELECT id FROM s)",
                            NULL);
    }
    else {
        where = apr_pstrcat(p, where, leads, NULL);
    }
    if (SEARCH(filters)) {
        where = apr_pstrcat(p, where, sql_search_rest, NULL);
    }
    const char *offset =
        " o AS (SELECT CASE WHEN c.page = 0"
        " THEN greatest((n.total - 1) / c.size, 0) * c.size"
        " ELSE (c.page - 1) * c.size END AS off, n.total, c.size"
        " FROM c, n),";
    const char *tail = apr_pstrcat(p,
        " SELECT c.token, n.total, ", SQL_IMAGE_COLUMNS,
        " FROM c CROSS JOIN n LEFT JOIN i ON true"
        " ORDER BY i.start_date DESC, i.id DESC", NULL);

    if (filters == FILTER_CREATOR) {
        /* By creator alone: the count adds up the four disjoint ways one
         * of the creator's images is visible, as the unfiltered count does;
         * the bulk (public, no end date) is kept counted by triggers
         * (creator_counts, sql/derived.sql) instead of a visibility-map
         * lookup for each of the creator's images.  The first page is read
         * with its rows from the creator's index; a later page skips rows
         * in the index alone, then fetches its own. */
        return apr_pstrcat(p, SQL_CALLER,
            ", cr AS (SELECT id FROM users WHERE username = %s::text),"
            " f AS NOT MATERIALIZED (SELECT i.* FROM images i, c WHERE ",
            SQL_VISIBLE, " AND i.created_by = (SELECT id FROM cr)),"
            " n AS (SELECT"
            " coalesce((SELECT public_open FROM creator_counts"
            " WHERE created_by = (SELECT id FROM cr)), 0)"
            " + (SELECT count(*) FROM images i"
            " WHERE i.created_by = (SELECT id FROM cr)"
            " AND i.is_public AND i.end_date > now())"
            " + (SELECT count(*) FROM images i"
            " WHERE i.created_by = (SELECT id FROM cr)"
            " AND (SELECT c.uid FROM c) = (SELECT id FROM cr)"
            " AND NOT i.is_public"
            " AND (i.end_date IS NULL OR i.end_date > now()))"
            " + (SELECT count(*) FROM images i, c, image_members m"
            " WHERE m.user_id = c.uid AND m.image_id = i.id"
            " AND (m.end_date IS NULL OR m.end_date > now())"
            " AND NOT i.is_public AND i.created_by <> c.uid"
            " AND i.created_by = (SELECT id FROM cr)"
            " AND (i.end_date IS NULL OR i.end_date > now()))"
            " AS total),", offset,
            " near AS (SELECT * FROM f WHERE (SELECT off = 0 FROM o)"
            " ORDER BY f.start_date DESC, f.id DESC LIMIT %s::int),"
            " far AS (SELECT f.id FROM f WHERE (SELECT off > 0 FROM o)"
            " ORDER BY f.start_date DESC, f.id DESC"
            " LIMIT (SELECT size FROM o) OFFSET (SELECT off FROM o)),"
            " i AS (SELECT * FROM near UNION ALL"
            " SELECT im.* FROM far JOIN images im ON im.id = far.id)",
            tail, NULL);
    }

    if (filters) {
        /* Filtered: the matching, visible set comes from the index that
         * suits the filters.  A search is rechecked row by row, so its set
         * is found once, kept (ids and dates only), counted, and its page
         * sorted out of it.  A creator or a tag has an index in listing
         * order that carries the visibility columns: the count reads it
         * alone, and the page reads it again in order, as far as the page
         * (no sort of the whole set). */
        return apr_pstrcat(p, SQL_CALLER,
            SEARCH(filters) ? sql_search_rest_tags : "", found,
            SEARCH(filters) ? ", f AS MATERIALIZED (SELECT "
                                  : ", f AS NOT MATERIALIZED (SELECT ",
            /* a tag names one tag id: an image is in image_tags once */
            !(filters & FILTER_TAG)
                ? "i.id, i.start_date FROM images i, c WHERE " SQL_VISIBLE
                : SEARCH(filters)
                ? "l.image_id AS id, l.start_date FROM image_tags l"
                  " JOIN images i ON i.id = l.image_id, c WHERE "
                  SQL_VISIBLE_OF("l", "l.image_id")
                : "l.image_id AS id, l.start_date FROM image_tags l, c WHERE "
                  SQL_VISIBLE_OF("l", "l.image_id"),
            where, "),"
            " n AS (SELECT count(*) AS total FROM f),", offset,
            " pg AS (SELECT f.id FROM f"
            " ORDER BY f.start_date DESC, f.id DESC LIMIT %s::int"
            " OFFSET (SELECT off FROM o)),"
            " i AS (SELECT im.* FROM pg JOIN images im ON im.id = pg.id)",
            tail, NULL);
    }

    /* Unfiltered: the count adds up the four disjoint ways an image is
     * visible.  The bulk, public images with no end date, is kept counted
     * by triggers (image_counts, sql/derived.sql); the others are small and
     * each has an index.  The page comes through the ordering index from
     * the front or, past the middle, from the back (page=last reads one
     * page, not the catalogue); only one of the two runs.  LIMIT takes the
     * page size again as a parameter, so that the planner sees it. */
    return apr_pstrcat(p, SQL_CALLER,
        ", f AS NOT MATERIALIZED (SELECT i.* FROM images i, c WHERE ",
        SQL_VISIBLE, "),"
        " n AS (SELECT"
        " (SELECT n FROM image_counts WHERE what = 'public_open')"
        " + (SELECT count(*) FROM images i"
        " WHERE i.is_public AND i.end_date > now())"
        " + (SELECT count(*) FROM images i, c WHERE NOT i.is_public"
        " AND i.created_by = c.uid"
        " AND (i.end_date IS NULL OR i.end_date > now()))"
        " + (SELECT count(*) FROM images i, c, image_members m"
        " WHERE m.user_id = c.uid AND m.image_id = i.id"
        " AND (m.end_date IS NULL OR m.end_date > now())"
        " AND NOT i.is_public AND i.created_by <> c.uid"
        " AND (i.end_date IS NULL OR i.end_date > now()))"
        " AS total),", offset,
        " fwd AS (SELECT * FROM f WHERE (SELECT off <= total / 2 FROM o)"
        " ORDER BY f.start_date DESC, f.id DESC LIMIT %s::int"
        " OFFSET (SELECT off FROM o)),"
        " rev AS (SELECT * FROM f WHERE (SELECT off > total / 2 FROM o)"
        " ORDER BY f.start_date, f.id"
        " LIMIT (SELECT least(size, greatest(total - off, 0)) FROM o)"
        " OFFSET (SELECT greatest(total - off - size, 0) FROM o)),"
        " i AS (SELECT * FROM fwd UNION ALL SELECT * FROM rev)", tail, NULL);
}

int im_store_init(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                  server_rec *s)
{
    int i;

    (void)plog;
    (void)ptemp;
    dbd_acquire = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    if (!dbd_acquire) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(20014)
                     "mod_dbd must be loaded for mod_images "
                     "(LoadModule dbd_module ... before images_module)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    stmts[STMT_PING].label = "mod_images_ping";
    stmts[STMT_PING].what = "checking the database connection";
    stmts[STMT_PING].sql = "SELECT 1";
    stmts[STMT_TOKEN_CHECK].label = "mod_images_token_check";
    stmts[STMT_TOKEN_CHECK].what = "checking an API token";
    stmts[STMT_TOKEN_CHECK].sql = SQL_TOKEN_CHECK;
    stmts[STMT_GET_BY_ID].label = "mod_images_get_by_id";
    stmts[STMT_GET_BY_ID].what = "reading an image";
    stmts[STMT_GET_BY_ID].sql = SQL_GET_IMAGE("i.id = %s::bigint");
    stmts[STMT_GET_BY_UUID].label = "mod_images_get_by_uuid";
    stmts[STMT_GET_BY_UUID].what = "reading an image";
    stmts[STMT_GET_BY_UUID].sql = SQL_GET_IMAGE("i.uuid = %s::uuid");
    stmts[STMT_ANON_BY_ID].label = "mod_images_anon_by_id";
    stmts[STMT_ANON_BY_ID].what = "reading an image";
    stmts[STMT_ANON_BY_ID].sql = SQL_GET_IMAGE_ANON("i.id = %s::bigint");
    stmts[STMT_ANON_BY_UUID].label = "mod_images_anon_by_uuid";
    stmts[STMT_ANON_BY_UUID].what = "reading an image";
    stmts[STMT_ANON_BY_UUID].sql = SQL_GET_IMAGE_ANON("i.uuid = %s::uuid");
    stmts[STMT_LOCK_BY_ID].label = "mod_images_lock_by_id";
    stmts[STMT_LOCK_BY_ID].what = "locking an image for PATCH";
    stmts[STMT_LOCK_BY_ID].sql = SQL_LOCK("i.id = %s::bigint");
    stmts[STMT_LOCK_BY_UUID].label = "mod_images_lock_by_uuid";
    stmts[STMT_LOCK_BY_UUID].what = "locking an image for PATCH";
    stmts[STMT_LOCK_BY_UUID].sql = SQL_LOCK("i.uuid = %s::uuid");
    stmts[STMT_PATCH_READ].label = "mod_images_patch_read";
    stmts[STMT_PATCH_READ].what = "reading an image for PATCH";
    stmts[STMT_PATCH_READ].sql = SQL_PATCH_READ;
    stmts[STMT_PATCH_UPDATE].label = "mod_images_patch_update";
    stmts[STMT_PATCH_UPDATE].what = "updating an image (PATCH)";
    stmts[STMT_PATCH_UPDATE].sql = SQL_PATCH_UPDATE;
    for (i = 0; i < LIST_VARIANTS; i++) {
        stmts[STMT_LIST + i].label = apr_psprintf(pconf,
                                                  "mod_images_list_%d", i);
        stmts[STMT_LIST + i].sql = list_sql(pconf, i);
        stmts[STMT_LIST + i].what = SEARCH(i) ? "searching images"
                                              : "listing images";
    }

    /* Not registered with mod_dbd, which would prepare every one of them
     * on each new connection before its session settings (no time limit
     * yet, and most of them never used there): each is prepared on a
     * connection when a request first needs it. */
    (void)s;
    return OK;
}


/* The statement time limit of s's connections, in ms (0: none). */
int im_store_statement_timeout(server_rec *s)
{
    im_server_conf_t *conf = ap_get_module_config(s->module_config,
                                                  &images_module);
    return IM_CONF(conf, statement_timeout, IM_DEFAULT_STATEMENT_TIMEOUT);
}

static int session_setup(server_rec *s)
{
    im_server_conf_t *conf = ap_get_module_config(s->module_config,
                                                  &images_module);
    return IM_CONF(conf, session_setup, IM_DEFAULT_SESSION_SETUP);
}

/* What the module keeps with each pooled connection (in its pool). */
typedef struct {
    int pid;                 /* the server process of the session set up */
    int schema_ok;           /* its database has SCHEMA_VERSION */
    apr_hash_t *queries;     /* mod_dbd's statements (mod_authn_dbd's) */
    /* whose settings it was set up with: mod_dbd shares a pool among the
     * virtual hosts of the same DBD settings, so a reset sets it up again
     * with these, not with those of the request that found it reset */
    server_rec *server;
} session_t;

static session_t *session_of(ap_dbd_t *dbd)
{
    session_t *cs = NULL;

    apr_pool_userdata_get((void **)&cs, "mod_images_conn", dbd->pool);
    if (!cs) {
        cs = apr_pcalloc(dbd->pool, sizeof(*cs));
        apr_pool_userdata_setn(cs, "mod_images_conn", NULL, dbd->pool);
    }
    return cs;
}

/* libpq's connection under apr_dbd's (NULL with another driver). */
static PGconn *pg(ap_dbd_t *dbd)
{
    return strcmp(apr_dbd_name(dbd->driver), "pgsql") == 0
           ? apr_dbd_native_handle(dbd->driver, dbd->handle) : NULL;
}

/* How every pooled connection runs our statements (docs/performance.md):
 * work_mem keeps the bitmap of a search's candidates exact at a million
 * images (with the default 4 MB it went lossy: every row of its pages
 * rechecked, a common term past the time limit); each list variant's
 * generic plan is as good as a custom one, and a custom plan of the list
 * statement costs more to plan than to run (auto keeps planning it at
 * every call); JIT compiled the list statement for 50 ms at every call;
 * parallel workers, started for the tag filter's bitmap scan, made one
 * request faster on an idle server and every request slower under load
 * (the other cores are serving requests).
 * With ImagesSessionSetup Off none is sent: they are the role's
 * (docs/configuration.md gives the ALTER ROLE lines). */
static const char session_settings[] =
    "SET plan_cache_mode = force_generic_plan; SET jit = off;"
    " SET max_parallel_workers_per_gather = 0; SET work_mem = '32MB';"
    " SET statement_timeout = ";

/* Apply them; on failure the connection stays (slower, not wrong). */
static void set_session(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd)
{
    int nrows = 0;
    const char *sql = apr_psprintf(p, "%s%d", session_settings,
                                   im_store_statement_timeout(s));
    int rv = apr_dbd_query(dbd->driver, dbd->handle, &nrows, sql);

    if (rv != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(20012)
                     "setting up a database connection (%s) failed: %s; "
                     "requests are served without these settings",
                     sql, im_pg_message(p, apr_dbd_error(dbd->driver,
                                                         dbd->handle, rv)));
    }
}

/* The first column of the first row of a query, or why there is none. */
static const char *select_value(apr_pool_t *p, ap_dbd_t *dbd,
                                const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv = apr_dbd_select(dbd->driver, p, dbd->handle, &res, sql, 1);

    if (rv != 0) {
        return apr_psprintf(p, "unknown (%s)", im_pg_message(p,
                            apr_dbd_error(dbd->driver, dbd->handle, rv)));
    }
    if (apr_dbd_get_row(dbd->driver, p, res, &row, 1) != 0) {
        return "unknown (no row)";
    }
    return apr_pstrdup(p, apr_dbd_get_entry(dbd->driver, row, 0));
}

/* The database's schema version as text: 0 before versions (no
 * schema_version table), else why it cannot be read. */
static const char *schema_version(apr_pool_t *p, ap_dbd_t *dbd)
{
    const char *has = select_value(p, dbd, "SELECT to_regclass("
                                   "'schema_version') IS NOT NULL");

    return strcmp(has, "t") == 0 ? select_value(p, dbd, SQL_SCHEMA_VERSION)
           : strcmp(has, "f") == 0 ? "0" : has;
}

/* Whether this connection's database has the schema the statements need:
 * found at connect time and kept with the connection; a connection that
 * did not match looks again at each use (a migration may have run since),
 * logging only the first time. */
static int schema_ok(apr_pool_t *p, server_rec *s, ap_dbd_t *dbd, int log)
{
    session_t *cs = session_of(dbd);
    const char *found;

    if (cs->schema_ok) {
        return 1;
    }
    found = schema_version(p, dbd);
    if (strcmp(found, APR_STRINGIFY(SCHEMA_VERSION)) == 0) {
        cs->schema_ok = 1;
        return 1;
    }
    if (log) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(20013)
                     "database schema version %s found, this mod_images "
                     "needs version %d: requests get 503 until they match "
                     "(run sql/schema.sql, then sql/grants.sql, of this "
                     "release: docs/configuration.md, Upgrading)",
                     found, SCHEMA_VERSION);
    }
    return 0;
}

void im_store_connected(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd)
{
    session_t *cs = session_of(dbd);
    PGconn *c = pg(dbd);

    if (!cs->server) {
        cs->server = s;
    }
    s = cs->server;
    if (c) {
        /* the SQLSTATE in every message (failure_of) */
        PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
        cs->pid = PQbackendPID(c);
    }
    if (session_setup(s)) {
        set_session(s, p, dbd);
    }
    cs->schema_ok = 0;
    schema_ok(p, s, dbd, 1);
}

/* mod_dbd's post_connect hook: the connection set up as above; and keep,
 * with each connection, the statements other modules registered with
 * mod_dbd for it (mod_authn_dbd's), so that a reset connection can have
 * them back (new_session). */
apr_status_t im_store_post_connect(apr_pool_t *pool, dbd_cfg_t *cfg,
                                   ap_dbd_t *dbd)
{
    im_stats_count(IM_STAT_CONNECT);
    im_store_connected(cfg->server, pool, dbd);
    session_of(dbd)->queries = cfg->queries;
    return APR_SUCCESS;
}

/* A connection reset in place (by mod_dbd, or by us) is a new server
 * session: none of the statements, none of the settings.  Our handles are
 * forgotten (each statement is prepared again when next used) and those
 * mod_dbd prepared for the connection (mod_authn_dbd's) prepared again. */
static void new_session(request_rec *r, ap_dbd_t *dbd)
{
    session_t *cs = session_of(dbd);
    apr_hash_index_t *hi;
    int n;

    im_stats_count(IM_STAT_RECONNECT);
    for (n = 0; n < STMT_COUNT; n++) {
        if (apr_hash_get(dbd->prepared, stmts[n].label,
                         APR_HASH_KEY_STRING)) {
            im_stats_count(IM_STAT_REPREPARE);
        }
        apr_hash_set(dbd->prepared, stmts[n].label, APR_HASH_KEY_STRING,
                     NULL);
    }
    im_store_connected(r->server, r->pool, dbd);
    for (hi = cs->queries ? apr_hash_first(r->pool, cs->queries) : NULL; hi;
         hi = apr_hash_next(hi)) {
        const void *label;
        void *query;
        apr_dbd_prepared_t *stmt = NULL;

        apr_hash_this(hi, &label, NULL, &query);
        if (!*(const char *)query) {
            continue;
        }
        if (apr_dbd_prepare(dbd->driver, dbd->pool, dbd->handle, query,
                            label, &stmt) == 0) {
            im_stats_count(IM_STAT_REPREPARE);
            apr_hash_set(dbd->prepared, label, APR_HASH_KEY_STRING, stmt);
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, APLOGNO(20015)
                          "preparing mod_dbd's statement %s again on a "
                          "new database session failed: %s",
                          (const char *)label, im_pg_message(r->pool,
                          apr_dbd_error(dbd->driver, dbd->handle, -1)));
        }
    }
}

/* Set up a connection whose session is not the one we set up (mod_dbd
 * reset it when it found it closed). */
static void check_session(request_rec *r, ap_dbd_t *dbd)
{
    PGconn *c = pg(dbd);

    if (c && PQstatus(c) == CONNECTION_OK
        && PQbackendPID(c) != session_of(dbd)->pid) {
        new_session(r, dbd);
    }
}

/* Reset a connection of mod_dbd's pool in place (a new session, perhaps
 * on another server behind the same address); whether it is usable. */
static int reset(request_rec *r, ap_dbd_t *dbd)
{
    PGconn *c = pg(dbd);

    if (c && PQstatus(c) == CONNECTION_OK) {
        PQreset(c);                 /* check_conn resets bad ones only */
    }
    if (apr_dbd_check_conn(dbd->driver, r->pool, dbd->handle)
        != APR_SUCCESS) {
        return 0;
    }
    check_session(r, dbd);
    return 1;
}

static int replace(request_rec *r, int write, ap_dbd_t **dbdp);

/* A pooled connection (the write pool's, or mod_dbd's) whose database has
 * the right schema, else NULL. */
static ap_dbd_t *acquire(request_rec *r, int write)
{
    apr_time_t start = apr_time_now();
    ap_dbd_t *dbd = write ? im_write_pool_acquire(r) : dbd_acquire(r);
    PGconn *c;

    im_stats_wait(r, apr_time_now() - start);
    if (!dbd) {
        im_stats_count(IM_STAT_DB_UNAVAILABLE);
        return NULL;
    }
    check_session(r, dbd);
    if (schema_ok(r->pool, r->server, dbd, 0)) {
        return dbd;
    }
    /* the check found the connection dead (it died idle in the pool):
     * another one */
    c = pg(dbd);
    if (c && PQstatus(c) != CONNECTION_OK && replace(r, write, &dbd)) {
        return dbd;
    }
    im_stats_count(IM_STAT_DB_UNAVAILABLE);
    return NULL;
}

/* Prepare statement n on this connection (again: 26000, or a new
 * session). */
static apr_dbd_prepared_t *prepare(ap_dbd_t *dbd, int n)
{
    apr_dbd_prepared_t *stmt = NULL;

    if (apr_dbd_prepare(dbd->driver, dbd->pool, dbd->handle, stmts[n].sql,
                        stmts[n].label, &stmt) != 0) {
        return NULL;
    }
    apr_hash_set(dbd->prepared, stmts[n].label, APR_HASH_KEY_STRING, stmt);
    return stmt;
}

/* One statement, no retry, nothing logged: 0 or a failure. */
static int select_once(request_rec *r, ap_dbd_t *dbd, int n, int nargs,
                       const char **args, apr_dbd_results_t **res)
{
    apr_dbd_prepared_t *stmt = apr_hash_get(dbd->prepared, stmts[n].label,
                                            APR_HASH_KEY_STRING);

    if (!stmt && !(stmt = prepare(dbd, n))) {
        return -1;
    }
    *res = NULL;
    return apr_dbd_pselect(dbd->driver, r->pool, dbd->handle, res, stmt, 1,
                           nargs, args);
}

/* ---- failures ----------------------------------------------------------- */

typedef enum {
    FAIL_OTHER,              /* 500 */
    FAIL_CONNECTION,         /* class 08, 57P01-57P03, or a closed
                              * connection: reset or replace, run again */
    FAIL_GONE,               /* 26000: prepare again, run again */
    FAIL_AGAIN,              /* 40001, 40P01: run again */
    FAIL_CANCELLED,          /* 57014: 503 */
    FAIL_READ_ONLY,          /* 25006: a standby; drop the connection, 503 */
    FAIL_DENIED              /* 42501: 500, sql/grants.sql */
} fail_kind_e;

/* A failure as read off the connection when it happened (before a
 * ROLLBACK replaces libpq's message). */
typedef struct {
    fail_kind_e kind;
    char state[6];           /* SQLSTATE, "" when the message has none */
    const char *message;     /* for the log */
    const char *what;        /* what the request was doing */
    int n;                   /* the statement, -1 for BEGIN or COMMIT */
} fail_t;

static void failure_of(request_rec *r, ap_dbd_t *dbd, int n,
                       const char *what, fail_t *f)
{
    const char *msg = apr_dbd_error(dbd->driver, dbd->handle, -1);
    PGconn *c = pg(dbd);

    f->n = n;
    f->what = n >= 0 ? stmts[n].what : what;
    f->message = im_pg_message(r->pool, msg);
    im_pg_sqlstate(msg, f->state);
    if ((c && PQstatus(c) != CONNECTION_OK)
        || strncmp(f->state, "08", 2) == 0
        || strncmp(f->state, "57P0", 4) == 0) {
        f->kind = FAIL_CONNECTION;
    }
    else if (strcmp(f->state, "26000") == 0) {
        f->kind = FAIL_GONE;
    }
    else if (strcmp(f->state, "40001") == 0
             || strcmp(f->state, "40P01") == 0) {
        f->kind = FAIL_AGAIN;
    }
    else if (strcmp(f->state, "57014") == 0) {
        f->kind = FAIL_CANCELLED;
    }
    else if (strcmp(f->state, "25006") == 0) {
        f->kind = FAIL_READ_ONLY;
    }
    else if (strcmp(f->state, "42501") == 0) {
        f->kind = FAIL_DENIED;
    }
    else {
        f->kind = FAIL_OTHER;
    }
}

/* Drop a connection that is broken or on the wrong server: from the write
 * pool it is closed, mod_dbd's is reset in place.  Whether *dbdp is now a
 * usable connection (the write pool's next one, or the reset one). */
static int replace(request_rec *r, int write, ap_dbd_t **dbdp)
{
    if (write) {
        im_write_pool_invalidate(r, *dbdp);
        *dbdp = acquire(r, 1);
        return *dbdp != NULL;
    }
    return reset(r, *dbdp) && schema_ok(r->pool, r->server, *dbdp, 0);
}

/* After failure f on *dbdp: log it, repair what it says, and say whether
 * to run the statement (or transaction) once more (1), else the answer in
 * *st.  again: a run once more is still allowed and safe. */
static int recover(request_rec *r, int write, ap_dbd_t **dbdp,
                   const fail_t *f, int again, im_store_status_e *st)
{
    im_stats_count(IM_STAT_DB_ERROR);
    *st = IM_STORE_ERROR;
    switch (f->kind) {
    case FAIL_CANCELLED:
        *st = IM_STORE_UNAVAILABLE;
        if (session_setup(r->server)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(20001)
                          "%s: cancelled after ImagesStatementTimeout "
                          "(%d ms), answering 503: %s", f->what,
                          im_store_statement_timeout(r->server),
                          f->message);
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(20011)
                          "%s: cancelled by the database (the role's "
                          "statement_timeout, ImagesSessionSetup Off), "
                          "answering 503: %s", f->what, f->message);
        }
        return 0;
    case FAIL_CONNECTION:
        if (again && replace(r, write, dbdp)) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, APLOGNO(20006)
                          "%s: the database connection was lost (%s); "
                          "running it again on a new one", f->what,
                          f->message);
            return 1;
        }
        if (!again && write) {
            im_write_pool_invalidate(r, *dbdp);   /* not back to the pool */
        }
        *st = IM_STORE_UNAVAILABLE;
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(20007)
                      "%s: the database connection was lost (%s)%s; "
                      "answering 503", f->what, f->message,
                      again ? " and no new one could be opened" : "");
        return 0;
    case FAIL_GONE:
        if (again && f->n >= 0) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, APLOGNO(20002)
                          "%s: the database session no longer has the "
                          "module's prepared statement for it (%s); "
                          "preparing it again", f->what, f->message);
            im_stats_count(IM_STAT_REPREPARE);
            apr_hash_set((*dbdp)->prepared, stmts[f->n].label,
                         APR_HASH_KEY_STRING, NULL);
            return 1;
        }
        break;
    case FAIL_AGAIN:
        if (again) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, APLOGNO(20003)
                          "%s: %s (SQLSTATE %s); running it again",
                          f->what, f->message, f->state);
            return 1;
        }
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(20004)
                      "%s: %s (SQLSTATE %s) a second time; answering 500",
                      f->what, f->message, f->state);
        return 0;
    case FAIL_READ_ONLY:
        *st = IM_STORE_UNAVAILABLE;
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(20005)
                      "%s: the database is read-only (%s): a standby, or "
                      "default_transaction_read_only; the connection is "
                      "dropped and the request answered 503 (%s must "
                      "reach the primary)", f->what, f->message,
                      write ? "ImagesWriteDBDParams" : "DBDParams");
        if (write) {
            im_write_pool_invalidate(r, *dbdp);
        }
        else {
            reset(r, *dbdp);
        }
        return 0;
    case FAIL_DENIED:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(20008)
                      "%s: %s: the module's database role lacks a right; "
                      "run sql/grants.sql of this release for it "
                      "(psql -v role=... -f sql/grants.sql, "
                      "docs/configuration.md)", f->what, f->message);
        return 0;
    case FAIL_OTHER:
        break;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(20009)
                  "%s failed: %s%s%s%s; answering 500", f->what, f->message,
                  *f->state ? " (SQLSTATE " : "", f->state,
                  *f->state ? ")" : "");
    return 0;
}

/* Run statement n (on mod_dbd's pool), once more when the failure says
 * that can succeed. */
static im_store_status_e run(request_rec *r, int n, int nargs,
                             const char **args, ap_dbd_t **dbdp,
                             apr_dbd_results_t **res)
{
    int again = 1;
    im_store_status_e st;
    fail_t f;

    if (!(*dbdp = acquire(r, 0))) {
        return IM_STORE_UNAVAILABLE;
    }
    while (select_once(r, *dbdp, n, nargs, args, res) != 0) {
        failure_of(r, *dbdp, n, NULL, &f);
        if (!recover(r, 0, dbdp, &f, again, &st)) {
            return st;
        }
        again = 0;
    }
    return IM_STORE_OK;
}

/* A result of another shape than the statement's: logged, 500. */
static im_store_status_e unexpected(request_rec *r, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(20010)
                  "%s: the database answered an unexpected result (a "
                  "schema changed by hand?); answering 500", what);
    return IM_STORE_ERROR;
}

/* Column col of row as a string, NULL for SQL NULL. */
static const char *col(ap_dbd_t *dbd, apr_dbd_row_t *row, int col)
{
    char *v = NULL;

    if (apr_dbd_datum_get(dbd->driver, row, col, APR_DBD_TYPE_STRING, &v)
        != APR_SUCCESS) {
        return NULL;
    }
    return v;
}

static void read_image(ap_dbd_t *dbd, apr_dbd_row_t *row, int first,
                       im_image_row_t *img)
{
    const char **fields[IMAGE_NCOLS] = {
        &img->id, &img->uuid, &img->name, &img->creator_id,
        &img->creator_name, &img->description, &img->end_date,
        &img->is_public, &img->icon, &img->start_date, &img->tags,
        &img->versions, &img->now
    };
    int i;

    for (i = 0; i < IMAGE_NCOLS; i++) {
        *fields[i] = col(dbd, row, first + i);
    }
}

static apr_dbd_row_t *get_row(request_rec *r, ap_dbd_t *dbd,
                              apr_dbd_results_t *res, int n)
{
    apr_dbd_row_t *row = NULL;

    /* by number, never past the last: that would free the result */
    return apr_dbd_get_row(dbd->driver, r->pool, res, &row, n) == 0 ? row
                                                                    : NULL;
}

static int is_true(const char *v)
{
    return v && v[0] == 't';
}

/* The token column (SQL_CALLER): whether a token was sent that names no
 * current key; a good one's user becomes r->user, so that the access log
 * says who read or edited. */
static int token_column(request_rec *r, ap_dbd_t *dbd, apr_dbd_row_t *row)
{
    const char *v = col(dbd, row, 0);

    if (v && v[0] == 'u') {
        r->user = apr_pstrdup(r->pool, v + 1);
    }
    return v && v[0] == 'x';
}

im_store_status_e im_store_get_image(request_rec *r, const im_caller_t *who,
                                     const im_path_t *key, int *bad_token,
                                     int *found, im_image_row_t *img)
{
    const char *args[5];
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    ap_dbd_t *dbd;
    im_store_status_e st;

    args[0] = who->user;
    args[1] = who->token;
    args[2] = "1";
    args[3] = "1";
    args[4] = key->kind == IM_PATH_ITEM_ID
              ? apr_psprintf(r->pool, "%" APR_INT64_T_FMT, key->id)
              : key->uuid;
    if (!*who->user && !*who->token) {
        st = run(r, key->kind == IM_PATH_ITEM_ID ? STMT_ANON_BY_ID
                                                 : STMT_ANON_BY_UUID,
                 1, args + 4, &dbd, &res);
    }
    else {
        st = run(r, key->kind == IM_PATH_ITEM_ID ? STMT_GET_BY_ID
                                                 : STMT_GET_BY_UUID,
                 5, args, &dbd, &res);
    }
    if (st != IM_STORE_OK) {
        return st;
    }
    if (apr_dbd_num_tuples(dbd->driver, res) != 1
        || !(row = get_row(r, dbd, res, 1))) {
        return unexpected(r, "reading an image");
    }
    *bad_token = token_column(r, dbd, row);
    read_image(dbd, row, 1, img);
    *found = img->id != NULL;
    return IM_STORE_OK;
}

/* Run list statement n and read the count and the page it answers. */
static im_store_status_e list_rows(request_rec *r, int n_stmt, int nargs,
                                   const char **args, int *bad_token,
                                   apr_int64_t *count,
                                   apr_array_header_t **rows)
{
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    ap_dbd_t *dbd;
    im_store_status_e st;
    int n, i;

    st = run(r, n_stmt, nargs, args, &dbd, &res);
    if (st != IM_STORE_OK) {
        return st;
    }
    n = apr_dbd_num_tuples(dbd->driver, res);
    if (n < 1 || !(row = get_row(r, dbd, res, 1))
        || !im_parse_int64(col(dbd, row, 1), count)) {
        return unexpected(r, stmts[n_stmt].what);
    }
    *bad_token = token_column(r, dbd, row);
    *rows = apr_array_make(r->pool, n, sizeof(im_image_row_t));
    for (i = 1; i <= n; i++) {
        im_image_row_t *img;
        if (i > 1 && !(row = get_row(r, dbd, res, i))) {
            return unexpected(r, stmts[n_stmt].what);
        }
        if (!col(dbd, row, 2)) {
            break;                        /* the empty page's one row */
        }
        img = apr_array_push(*rows);
        read_image(dbd, row, 2, img);
    }
    return IM_STORE_OK;
}

/* A search's leads as sql_search_lead takes them, from args[nargs]. */
static int push_leads(const im_list_query_t *q, const char **args, int nargs)
{
    int i;

    for (i = 0; i < q->search_leads; i++) {
        args[nargs++] = q->search_lead_run[i];   /* exact? */
        args[nargs++] = q->search_lead[i];   /* the index's words */
        args[nargs++] = q->search_lead_run[i];   /* or, exact, its run */
        args[nargs++] = q->search_lead[i];   /* the tags' */
        args[nargs++] = q->search_lead[i];   /* a long text */
        args[nargs++] = q->search_lead[i];   /* a long text's tags */
    }
    return nargs;
}

im_store_status_e im_store_list_images(request_rec *r,
                                       const im_caller_t *who,
                                       const im_list_query_t *q,
                                       int *bad_token, apr_int64_t *count,
                                       apr_array_header_t **rows)
{
    /* caller, paging; creator, tag, 3 leads 6 times, the rest twice;
     * LIMIT */
    const char *args[4 + 2 + 6 * IM_SEARCH_LEADS + 2 + 1];
    int nargs = 4, filters = 0, filtered;
    /* no page past this can exist; keeps (page - 1) * size in a bigint */
    apr_int64_t page = q->page > APR_INT64_C(1000000000000)
                       ? APR_INT64_C(1000000000000) : q->page;

    args[0] = who->user;
    args[1] = who->token;
    args[2] = apr_itoa(r->pool, q->page_size);
    args[3] = apr_psprintf(r->pool, "%" APR_INT64_T_FMT, page);
    /* in the order the statement's text names them: the rest's tags, then
     * the leads first when a creator or a tag comes with them (list_sql) */
    if (q->search_terms > 0) {
        args[nargs++] = q->search_rest;
    }
    filtered = *q->created_by || *q->tag;
    if (filtered && q->search_terms > 0) {
        nargs = push_leads(q, args, nargs);
    }
    if (*q->created_by) {
        filters |= FILTER_CREATOR;
        args[nargs++] = q->created_by;
    }
    if (*q->tag) {
        filters |= FILTER_TAG;
        args[nargs++] = q->tag;
    }
    if (q->search_terms > 0) {
        filters |= (q->search_leads + 1) << 2;
        if (!filtered) {
            nargs = push_leads(q, args, nargs);
        }
        args[nargs++] = q->search_rest;
    }
    args[nargs++] = args[2];              /* LIMIT */
    return list_rows(r, STMT_LIST + filters, nargs, args, bad_token, count,
                     rows);
}

/* BEGIN, COMMIT or ROLLBACK as plain statements: apr_dbd_pgsql's own
 * transaction_start dereferences a NULL transaction when BEGIN fails (a
 * connection the server closed: the first PATCH after a restart of
 * PostgreSQL crashed the child), and this module needs none of its modes. */
static int txn_query(ap_dbd_t *dbd, const char *sql)
{
    int nrows = 0;

    return apr_dbd_query(dbd->driver, dbd->handle, &nrows, sql);
}

/* How one attempt at the PATCH transaction ended. */
enum { PATCH_DONE,           /* committed, or decided without a change */
       PATCH_FAILED,         /* a statement failed (f): rolled back */
       PATCH_UNKNOWN,        /* COMMIT failed: f, perhaps committed */
       PATCH_BROKEN };       /* a result of another shape: 500, logged */

/* The PATCH transaction, one attempt.  A failure is read off the
 * connection into *f before the ROLLBACK. */
static int patch_once(request_rec *r, ap_dbd_t *dbd, const im_caller_t *who,
                      const im_path_t *key, const im_patch_t *patch,
                      im_patch_decide_fn decide, void *ctx, int *decision,
                      im_image_row_t *updated, fail_t *f)
{
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    im_patch_state_t state;
    const char *id = "0", *args[11];
    int n;

    /* READ COMMITTED whatever the server's default: the read after the
     * row lock must see the latest committed state, and the counts that
     * many images share must not fail to serialise */
    if (txn_query(dbd, "BEGIN ISOLATION LEVEL READ COMMITTED") != 0) {
        failure_of(r, dbd, -1, "starting a PATCH transaction", f);
        return PATCH_FAILED;
    }
    args[0] = key->kind == IM_PATH_ITEM_ID
              ? apr_psprintf(r->pool, "%" APR_INT64_T_FMT, key->id)
              : key->uuid;
    n = key->kind == IM_PATH_ITEM_ID ? STMT_LOCK_BY_ID : STMT_LOCK_BY_UUID;
    if (select_once(r, dbd, n, 1, args, &res) != 0) {
        goto failed;
    }
    if (apr_dbd_num_tuples(dbd->driver, res) == 1
        && (row = get_row(r, dbd, res, 1))) {
        id = apr_pstrdup(r->pool, col(dbd, row, 0));
    }

    /* rights and the current representation, under the lock */
    args[0] = who->user;
    args[1] = who->token;
    args[2] = "1";
    args[3] = "1";
    args[4] = patch->set_tags ? patch->tags : "";
    args[5] = id;
    n = STMT_PATCH_READ;
    if (select_once(r, dbd, n, 6, args, &res) != 0) {
        goto failed;
    }
    if (apr_dbd_num_tuples(dbd->driver, res) != 1
        || !(row = get_row(r, dbd, res, 1))) {
        goto broken;
    }
    state.bad_token = token_column(r, dbd, row);
    state.visible = is_true(col(dbd, row, 1));
    state.is_creator = is_true(col(dbd, row, 2));
    state.unknown_tags = col(dbd, row, 3);
    read_image(dbd, row, 4, &state.row);
    if ((*decision = decide(r, ctx, &state)) != 0) {
        txn_query(dbd, "ROLLBACK");       /* answered without a change */
        return PATCH_DONE;
    }

    if (patch->set_name || patch->set_description || patch->set_is_public
        || patch->set_end_date || patch->set_tags) {
        args[0] = id;
        args[1] = patch->set_name ? "t" : "f";
        args[2] = patch->set_name ? patch->name : "";
        args[3] = patch->set_description ? "t" : "f";
        args[4] = patch->set_description ? patch->description : "";
        args[5] = patch->set_is_public ? "t" : "f";
        args[6] = patch->is_public ? "t" : "f";
        args[7] = patch->set_end_date ? "t" : "f";
        args[8] = patch->end_date ? patch->end_date : "";
        args[9] = patch->set_tags ? "t" : "f";
        args[10] = patch->set_tags ? patch->tags : "";
        /* (the triggers it fires lock tags and images: a concurrent
         * transaction can make it a deadlock victim, 40P01, which runs
         * once more) */
        n = STMT_PATCH_UPDATE;
        if (select_once(r, dbd, n, 11, args, &res) != 0) {
            goto failed;
        }
        /* the new representation, even when it is no longer visible */
        args[0] = who->user;
        args[1] = who->token;
        args[2] = "1";
        args[3] = "1";
        args[4] = "";
        args[5] = id;
        n = STMT_PATCH_READ;
        if (select_once(r, dbd, n, 6, args, &res) != 0) {
            goto failed;
        }
        if (apr_dbd_num_tuples(dbd->driver, res) != 1
            || !(row = get_row(r, dbd, res, 1))) {
            goto broken;
        }
        read_image(dbd, row, 4, updated);
    }
    else {
        *updated = state.row;
    }
    if (txn_query(dbd, "COMMIT") != 0) {
        failure_of(r, dbd, -1, "committing a PATCH", f);
        return PATCH_UNKNOWN;
    }
    return PATCH_DONE;

failed:
    failure_of(r, dbd, n, NULL, f);
    if (f->kind != FAIL_CONNECTION) {
        txn_query(dbd, "ROLLBACK");
    }
    return PATCH_FAILED;

broken:
    txn_query(dbd, "ROLLBACK");
    unexpected(r, stmts[n].what);
    return PATCH_BROKEN;
}

/* The most dead connections one PATCH replaces at BEGIN (more wait for
 * the next PATCH). */
#define LOST_MAX 16

im_store_status_e im_store_patch_image(request_rec *r, const im_caller_t *who,
                                       const im_path_t *key,
                                       const im_patch_t *patch,
                                       im_patch_decide_fn decide, void *ctx,
                                       int *decision, im_image_row_t *updated)
{
    int write = im_write_pool_configured(r);
    ap_dbd_t *dbd = acquire(r, write);
    im_store_status_e st;
    int again = 1, lost = 0;
    fail_t f;

    *decision = 0;
    if (!dbd) {
        return IM_STORE_UNAVAILABLE;
    }
    for (;;) {
        switch (patch_once(r, dbd, who, key, patch, decide, ctx, decision,
                           updated, &f)) {
        case PATCH_DONE:
            return IM_STORE_OK;
        case PATCH_BROKEN:
            return IM_STORE_ERROR;
        case PATCH_UNKNOWN:
            /* rolled back (a serialization failure) or an error at
             * COMMIT; a lost connection may have committed it: no run
             * again, 503 */
            if (f.kind == FAIL_CONNECTION) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(20016)
                              "committing a PATCH: the database connection "
                              "was lost (%s); it may or may not have been "
                              "applied; answering 503", f.message);
                if (write) {
                    im_write_pool_invalidate(r, dbd);
                }
                return IM_STORE_UNAVAILABLE;
            }
            break;
        default:
            break;
        }
        if (!recover(r, write, &dbd, &f, again, &st)) {
            return st;
        }
        /* BEGIN lost on the write pool: its other idle connections died
         * with the same server (a restart, a failover), each is replaced
         * in turn; nothing of the PATCH ran yet */
        if (!(write && f.kind == FAIL_CONNECTION && f.n < 0
              && ++lost < LOST_MAX)) {
            again = 0;
        }
    }
}

im_store_status_e im_store_check_token(request_rec *r,
                                       const im_caller_t *who,
                                       int *bad_token)
{
    /* SQL_CALLER's page size and page are not read here */
    const char *args[4] = { who->user, who->token, "1", "1" };
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    ap_dbd_t *dbd;
    im_store_status_e st = run(r, STMT_TOKEN_CHECK, 4, args, &dbd, &res);

    if (st != IM_STORE_OK) {
        return st;
    }
    if (apr_dbd_num_tuples(dbd->driver, res) != 1
        || !(row = get_row(r, dbd, res, 1))) {
        return unexpected(r, stmts[STMT_TOKEN_CHECK].what);
    }
    *bad_token = token_column(r, dbd, row);
    return IM_STORE_OK;
}

int im_store_schema_version(void)
{
    return SCHEMA_VERSION;
}

im_store_status_e im_store_ping(request_rec *r)
{
    apr_dbd_results_t *res;
    ap_dbd_t *dbd;

    return run(r, STMT_PING, 0, NULL, &dbd, &res);
}
