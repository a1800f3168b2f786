/*
 * The store: every SQL statement of the module, registered with mod_dbd at
 * configuration time under fixed labels, and run with bound parameters
 * through mod_dbd's connection pool.
 *
 * Each request needs one round trip: the caller's identity (r->user or a
 * token), visibility, the filters, the count and the page with its tags,
 * versions and creators are one statement.
 *
 * mod_dbd keeps pooled connections that PostgreSQL dropped: apr_dbd_pgsql
 * resets them in place and the new session has none of the prepared
 * statements.  So a failed statement is prepared again on its connection
 * and run once more before the request is given up (FIELD-NOTES.md).
 */
#include <string.h>

#include <apr_dbd.h>
#include <apr_optional.h>
#include <apr_strings.h>

#include "mod_images.h"

static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *dbd_acquire;
static APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *dbd_prepare;

/* The caller: params (user, token, page size, page).  uid is NULL for
 * anonymous; bad_token says a token was sent that names no current key. */
#define SQL_CALLER \
    "WITH c AS (SELECT CASE WHEN q.tok IS NULL THEN" \
    " (SELECT u.id FROM users u WHERE u.username = q.usr)" \
    " ELSE tk.user_id END AS uid," \
    " (q.tok IS NOT NULL AND tk.user_id IS NULL) AS bad_token," \
    " q.size, q.page" \
    " FROM (SELECT NULLIF(%s::text, '') AS usr, NULLIF(%s::text, '') AS tok," \
    " %s::int AS size, %s::bigint AS page) q" \
    " LEFT JOIN api_tokens tk ON tk.key = q.tok" \
    " AND (tk.expires_at IS NULL OR tk.expires_at > now()))"

/* CONTRACT.md section 2, for images i and caller c. */
#define SQL_VISIBLE \
    "(i.end_date IS NULL OR i.end_date > now()) AND (i.is_public" \
    " OR i.created_by = c.uid OR EXISTS (SELECT 1 FROM image_members m" \
    " WHERE m.image_id = i.id AND m.user_id = c.uid" \
    " AND (m.end_date IS NULL OR m.end_date > now())))"

/* The columns of im_image_row_t, in order, for images i and users u. */
#define SQL_IMAGE_COLUMNS \
    "i.id, i.uuid, i.name, u.id, u.username, i.description," \
    " (extract(epoch FROM i.end_date) * 1000000)::bigint, i.is_public," \
    " i.icon, (extract(epoch FROM i.start_date) * 1000000)::bigint," \
    " (SELECT json_agg(json_build_array(t.id, t.name, t.description)" \
    " ORDER BY t.name COLLATE \"C\", t.id) FROM image_tags it" \
    " JOIN tags t ON t.id = it.tag_id WHERE it.image_id = i.id)," \
    " (SELECT json_agg(json_build_array(v.id, v.name," \
    " (extract(epoch FROM v.start_date) * 1000000)::bigint)" \
    " ORDER BY v.start_date, v.id) FROM image_versions v" \
    " WHERE v.image_id = i.id" \
    " AND (v.end_date IS NULL OR v.end_date > now()))"
#define IMAGE_NCOLS 12

#define SQL_GET_IMAGE(match) \
    SQL_CALLER " SELECT c.bad_token, " SQL_IMAGE_COLUMNS \
    " FROM c LEFT JOIN (images i JOIN users u ON u.id = i.created_by)" \
    " ON " match " AND " SQL_VISIBLE

/* The collection's filters; a statement exists for each combination so
 * that every plan, generic or not, can use the index that fits. */
#define FILTER_CREATOR 1
#define FILTER_TAG     2
#define FILTER_SEARCH  4
#define LIST_VARIANTS  8

static const char *const sql_filters[] = {
    " AND i.created_by = (SELECT id FROM users WHERE username = %s::text)",
    " AND EXISTS (SELECT 1 FROM image_tags it JOIN tags t"
    " ON t.id = it.tag_id WHERE it.image_id = i.id AND t.name = %s::text)",
    /* the longest term leads the trigram index; every term must match */
    " AND i.search_text ILIKE %s::text"
    " AND i.search_text ILIKE ALL (string_to_array(%s::text, chr(10)))"
};

enum { STMT_GET_BY_ID, STMT_GET_BY_UUID, STMT_LIST, STMT_COUNT =
       STMT_LIST + LIST_VARIANTS };

typedef struct {
    const char *label;
    const char *sql;
} stmt_t;

/* Written once per configuration pass, read-only while serving. */
static stmt_t stmts[STMT_COUNT];

static const char *list_sql(apr_pool_t *p, int filters)
{
    const char *where = "";
    int i;

    for (i = 0; i < 3; i++) {
        if (filters & (1 << i)) {
            where = apr_pstrcat(p, where, sql_filters[i], NULL);
        }
    }
    return apr_pstrcat(p, SQL_CALLER,
        ", f AS NOT MATERIALIZED (SELECT i.id, i.start_date FROM images i, c"
        " WHERE ", SQL_VISIBLE, where, "),"
        " n AS (SELECT count(*) AS total FROM f),"
        " pg AS (SELECT f.id, f.start_date FROM f"
        " ORDER BY f.start_date DESC, f.id DESC"
        " LIMIT (SELECT size FROM c)"
        " OFFSET (SELECT CASE WHEN c.page = 0"
        " THEN greatest((n.total - 1) / c.size, 0) * c.size"
        " ELSE (c.page - 1) * c.size END FROM c, n))"
        " SELECT c.bad_token, n.total, ", SQL_IMAGE_COLUMNS,
        " FROM c CROSS JOIN n LEFT JOIN (pg JOIN images i ON i.id = pg.id"
        " JOIN users u ON u.id = i.created_by) ON true"
        " ORDER BY pg.start_date DESC, pg.id DESC", NULL);
}

int im_store_init(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                  server_rec *s)
{
    server_rec *sp;
    int i;

    (void)plog;
    (void)ptemp;
    dbd_acquire = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    dbd_prepare = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    if (!dbd_acquire || !dbd_prepare) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "mod_dbd must be loaded for mod_images "
                     "(LoadModule dbd_module ... before images_module)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    stmts[STMT_GET_BY_ID].label = "mod_images_get_by_id";
    stmts[STMT_GET_BY_ID].sql = SQL_GET_IMAGE("i.id = %s::bigint");
    stmts[STMT_GET_BY_UUID].label = "mod_images_get_by_uuid";
    stmts[STMT_GET_BY_UUID].sql = SQL_GET_IMAGE("i.uuid = %s::uuid");
    for (i = 0; i < LIST_VARIANTS; i++) {
        stmts[STMT_LIST + i].label = apr_psprintf(pconf,
                                                  "mod_images_list_%d", i);
        stmts[STMT_LIST + i].sql = list_sql(pconf, i);
    }

    /* every virtual host may serve the endpoint with its own pool */
    for (sp = s; sp; sp = sp->next) {
        for (i = 0; i < STMT_COUNT; i++) {
            dbd_prepare(sp, stmts[i].sql, stmts[i].label);
        }
    }
    return OK;
}

/* Run statement n once more after preparing it again on this connection;
 * the first failure may have been a reset connection that lost it. */
static im_store_status_e run(request_rec *r, int n, int nargs,
                             const char **args, ap_dbd_t **dbdp,
                             apr_dbd_results_t **res)
{
    ap_dbd_t *dbd = dbd_acquire(r);
    apr_dbd_prepared_t *stmt;
    int rv, attempt;

    *dbdp = dbd;
    if (!dbd) {
        return IM_STORE_UNAVAILABLE;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        stmt = apr_hash_get(dbd->prepared, stmts[n].label,
                            APR_HASH_KEY_STRING);
        if (!stmt || attempt > 0) {
            stmt = NULL;
            rv = apr_dbd_prepare(dbd->driver, dbd->pool, dbd->handle,
                                 stmts[n].sql, stmts[n].label, &stmt);
            if (rv != 0) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              "preparing %s: %s", stmts[n].label,
                              apr_dbd_error(dbd->driver, dbd->handle, rv));
                break;
            }
            apr_hash_set(dbd->prepared, stmts[n].label, APR_HASH_KEY_STRING,
                         stmt);
        }
        *res = NULL;
        rv = apr_dbd_pselect(dbd->driver, r->pool, dbd->handle, res, stmt,
                             1, nargs, args);
        if (rv == 0) {
            return IM_STORE_OK;
        }
        ap_log_rerror(APLOG_MARK, attempt ? APLOG_ERR : APLOG_INFO, 0, r,
                      "%s failed: %s", stmts[n].label,
                      apr_dbd_error(dbd->driver, dbd->handle, rv));
        /* a dead connection is reset here, or found still dead */
        if (apr_dbd_check_conn(dbd->driver, r->pool, dbd->handle)
            != APR_SUCCESS) {
            return IM_STORE_UNAVAILABLE;
        }
    }
    return apr_dbd_check_conn(dbd->driver, r->pool, dbd->handle)
           == APR_SUCCESS ? IM_STORE_ERROR : IM_STORE_UNAVAILABLE;
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
        &img->versions
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
    st = run(r, key->kind == IM_PATH_ITEM_ID ? STMT_GET_BY_ID
                                             : STMT_GET_BY_UUID,
             5, args, &dbd, &res);
    if (st != IM_STORE_OK) {
        return st;
    }
    if (apr_dbd_num_tuples(dbd->driver, res) != 1
        || !(row = get_row(r, dbd, res, 1))) {
        return IM_STORE_ERROR;
    }
    *bad_token = is_true(col(dbd, row, 0));
    read_image(dbd, row, 1, img);
    *found = img->id != NULL;
    return IM_STORE_OK;
}

im_store_status_e im_store_list_images(request_rec *r,
                                       const im_caller_t *who,
                                       const im_list_query_t *q,
                                       int *bad_token, apr_int64_t *count,
                                       apr_array_header_t **rows)
{
    const char *args[8];
    int nargs = 4, filters = 0, n, i;
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    ap_dbd_t *dbd;
    im_store_status_e st;
    /* no page past this can exist; keeps (page - 1) * size in a bigint */
    apr_int64_t page = q->page > APR_INT64_C(1000000000000)
                       ? APR_INT64_C(1000000000000) : q->page;

    args[0] = who->user;
    args[1] = who->token;
    args[2] = apr_itoa(r->pool, q->page_size);
    args[3] = apr_psprintf(r->pool, "%" APR_INT64_T_FMT, page);
    if (*q->created_by) {
        filters |= FILTER_CREATOR;
        args[nargs++] = q->created_by;
    }
    if (*q->tag) {
        filters |= FILTER_TAG;
        args[nargs++] = q->tag;
    }
    if (q->search_terms > 0) {
        filters |= FILTER_SEARCH;
        args[nargs++] = q->search_first;
        args[nargs++] = q->search_all;
    }
    st = run(r, STMT_LIST + filters, nargs, args, &dbd, &res);
    if (st != IM_STORE_OK) {
        return st;
    }
    n = apr_dbd_num_tuples(dbd->driver, res);
    if (n < 1 || !(row = get_row(r, dbd, res, 1))) {
        return IM_STORE_ERROR;
    }
    *bad_token = is_true(col(dbd, row, 0));
    if (!im_parse_int64(col(dbd, row, 1), count)) {
        return IM_STORE_ERROR;
    }
    *rows = apr_array_make(r->pool, n, sizeof(im_image_row_t));
    for (i = 1; i <= n; i++) {
        im_image_row_t *img;
        if (i > 1 && !(row = get_row(r, dbd, res, i))) {
            return IM_STORE_ERROR;
        }
        if (!col(dbd, row, 2)) {
            break;                        /* the empty page's one row */
        }
        img = apr_array_push(*rows);
        read_image(dbd, row, 2, img);
    }
    return IM_STORE_OK;
}
