/*
 * What the httpd glue files of mod_images share: the module record, the
 * per-directory configuration, and the functions each file offers the
 * others.  Private to the module.
 */
#ifndef MOD_IMAGES_H
#define MOD_IMAGES_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_dbd.h>
#include <mod_dbd.h>

#include "im_core.h"

extern module AP_MODULE_DECLARE_DATA images_module;
APLOG_USE_MODULE(images);

#define IM_UNSET (-1)

/* Per-directory configuration: every field starts IM_UNSET (or NULL) so a
 * merge can tell "not said here" from a value. */
typedef struct {
    int page_size;           /* ImagesPageSize, default 100 */
    int max_page_size;       /* ImagesMaxPageSize, default 1000 */
    int token_auth;          /* ImagesTokenAuth, default On */
    apr_off_t body_limit;    /* ImagesBodyLimit, default 64 KiB */
    const char *base_url;    /* ImagesBaseURL, default: from the request */
    int retry_after;         /* ImagesRetryAfter, default 5 seconds */
    /* ImagesCORSOrigins: allowed origins (NULL: none, no CORS at all);
     * cors_any for "*", which never goes with credentials */
    apr_array_header_t *cors_origins;
    int cors_any;
    int search_max_terms;    /* ImagesSearchMaxTerms, default 20 */
} im_dir_conf_t;

typedef struct im_write_pool_t im_write_pool_t;

/* Per-server configuration: what a pooled connection is set up with
 * (mod_dbd's connections belong to a server, not to a <Location>), and the
 * module's own pool for PATCH.  Every field starts unset (IM_UNSET, NULL);
 * merging builds a new struct. */
typedef struct {
    int statement_timeout;   /* ImagesStatementTimeout, ms; default 5 s */
    int session_setup;       /* ImagesSessionSetup, default On */
    const char *write_params;  /* ImagesWriteDBDParams; NULL: no pool */
    int write_min;           /* ImagesWriteDBDMin, default 1 */
    int write_keep;          /* ImagesWriteDBDKeep, default 2 */
    int write_max;           /* ImagesWriteDBDMax, default 10 */
    int write_exptime;       /* ImagesWriteDBDExptime, s; default 300 */
    im_write_pool_t *write_pool;  /* set by post_config, not merged */
} im_server_conf_t;

#define IM_DEFAULT_STATEMENT_TIMEOUT 5000
#define IM_DEFAULT_SESSION_SETUP 1
/* as mod_dbd's DBDMin, DBDKeep, DBDMax, DBDExptime */
#define IM_DEFAULT_WRITE_MIN     1
#define IM_DEFAULT_WRITE_KEEP    2
#define IM_DEFAULT_WRITE_MAX     10
#define IM_DEFAULT_WRITE_EXPTIME 300

#define IM_DEFAULT_PAGE_SIZE     100
#define IM_DEFAULT_MAX_PAGE_SIZE 1000
#define IM_DEFAULT_TOKEN_AUTH    1
#define IM_DEFAULT_BODY_LIMIT    65536
#define IM_DEFAULT_RETRY_AFTER   5
#define IM_DEFAULT_SEARCH_MAX_TERMS 20

/* The effective value of a field, its default when unset. */
#define IM_CONF(conf, field, dflt) \
    ((conf)->field == IM_UNSET ? (dflt) : (conf)->field)

/* ---- store.c: the database ---------------------------------------------- */

typedef enum {
    IM_STORE_OK = 0,
    IM_STORE_UNAVAILABLE,    /* no connection: 503 */
    IM_STORE_ERROR           /* the query failed for another reason: 500 */
} im_store_status_e;

/* Who is asking: r->user and/or the key of an Authorization: Token. */
typedef struct {
    const char *user;        /* "" when anonymous */
    const char *token;       /* "" when no token was sent */
} im_caller_t;

/* One item: *bad_token set when the token is unknown or expired; *found
 * when the caller may see the image. */
im_store_status_e im_store_get_image(request_rec *r, const im_caller_t *who,
                                     const im_path_t *key, int *bad_token,
                                     int *found, im_image_row_t *row);

/* One page of the collection: rows is an array of im_image_row_t. */
im_store_status_e im_store_list_images(request_rec *r,
                                       const im_caller_t *who,
                                       const im_list_query_t *q,
                                       int *bad_token, apr_int64_t *count,
                                       apr_array_header_t **rows);

/* What a PATCH learns under the row lock, before anything changes. */
typedef struct {
    int bad_token;           /* a token was sent that names no current key */
    int visible;             /* the caller may see the image */
    int is_creator;
    const char *unknown_tags;  /* ids of the body's tags that do not exist */
    im_image_row_t row;      /* the current representation */
} im_patch_state_t;

/* Decides, under the lock, whether the change may go ahead: 0 to apply it,
 * else an HTTP status to answer with (the transaction rolls back). */
typedef int (*im_patch_decide_fn)(request_rec *r, void *ctx,
                                  const im_patch_state_t *state);

/* PATCH in one transaction: lock, read, decide, update, read again. */
im_store_status_e im_store_patch_image(request_rec *r, const im_caller_t *who,
                                       const im_path_t *key,
                                       const im_patch_t *patch,
                                       im_patch_decide_fn decide, void *ctx,
                                       int *decision,
                                       im_image_row_t *updated);

/* Whether who->token names no current key (*bad_token), for a request
 * that asks the database nothing else. */
im_store_status_e im_store_check_token(request_rec *r,
                                       const im_caller_t *who,
                                       int *bad_token);

/* One trivial statement: recovers a reset connection (its session set up
 * again, mod_authn_dbd's statement prepared again) when it finds one. */
im_store_status_e im_store_ping(request_rec *r);

/* ImagesStatementTimeout of s, in ms (0: no limit). */
int im_store_statement_timeout(server_rec *s);
/* The schema version the statements are written for. */
int im_store_schema_version(void);

/* mod_dbd's post_connect hook (registered when mod_dbd offers it). */
apr_status_t im_store_post_connect(apr_pool_t *pool, dbd_cfg_t *cfg,
                                   ap_dbd_t *dbd);

/* A new connection of server s's pools made ready: error verbosity, the
 * session settings, the schema check (logged when it fails). */
void im_store_connected(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd);

/* ---- writepool.c: the module's own pool for PATCH ----------------------- */

/* Group the servers' ImagesWriteDBD* settings into pools (post_config);
 * refuses settings apr_reslist would. */
int im_write_pool_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp, server_rec *s);
/* Each child's pools (child_init). */
void im_write_pool_child_init(apr_pool_t *pchild, server_rec *s);
/* Whether r's server has a write pool. */
int im_write_pool_configured(request_rec *r);
/* A connection of r's write pool, released with r->pool; NULL (logged)
 * when none can be had. */
ap_dbd_t *im_write_pool_acquire(request_rec *r);
/* The connection r holds is broken or points at the wrong server: closed
 * now instead of going back to the pool. */
void im_write_pool_invalidate(request_rec *r, ap_dbd_t *dbd);

/* Register every statement with mod_dbd (post_config). */
int im_store_init(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                  server_rec *s);

/* ---- respond.c: what goes back ------------------------------------------ */

/* Send a JSON body with a status; returns OK for the handler to return. */
int im_send_json(request_rec *r, int status, json_t *body);
/* 500 {"detail": "A server error occurred."}; the caller has logged why. */
int im_send_server_error(request_rec *r);
/* {"detail": detail} with a status. */
int im_send_detail(request_rec *r, int status, const char *detail);
/* A JSON body (already written; NULL: a 500) with its ETag; when
 * conditional, If-None-Match may turn it into a 304. */
int im_send_entity(request_rec *r, const char *text, apr_size_t len,
                   int conditional);
/* Append one image's representation to b, logging a malformed row (-1)
 * or a date written as null. */
int im_render_logged(request_rec *r, im_buf_t *b, const im_image_row_t *row);
/* The representation of one image, as im_send_entity sends it. */
int im_send_image(request_rec *r, const im_image_row_t *row, int conditional);
/* The ETag the representation of row would have (NULL on failure). */
const char *im_row_etag(request_rec *r, const im_image_row_t *row);
/* httpd's own error answers inside the endpoint (a refused Basic login, a
 * 413, ...) as the API's JSON: called from the insert_error_filter hook. */
void im_error_json(request_rec *r);
/* The status and detail of such an error of orig answered by r (r itself,
 * or an ErrorDocument redirect of an earlier configuration); a 503 gets
 * Retry-After in headers. */
int im_error_answer(request_rec *r, request_rec *orig, apr_table_t *headers,
                    const char **detail);
/* Register the output filter im_error_json adds. */
void im_error_filter_register(void);

/* ---- body.c: the request body ------------------------------------------ */

/* The note im_read_body leaves on a request whose body it read whole. */
#define IM_NOTE_BODY_READ "mod_images-body-read"

/* The whole body, at most limit bytes: OK, or the HTTP status to answer. */
int im_read_body(request_rec *r, apr_off_t limit, char **body,
                 apr_size_t *len);

/* ---- cors.c: cross-origin requests ------------------------------------- */

/* Add the CORS headers an allowed Origin gets (to err_headers_out, so error
 * answers carry them too); nothing for an origin that is not listed. */
void im_cors_headers(request_rec *r, const im_dir_conf_t *conf);
/* Whether r is a CORS preflight (OPTIONS with Origin and
 * Access-Control-Request-Method). */
int im_cors_is_preflight(request_rec *r);

/* ---- stats.c: counters for mod_status ---------------------------------- */

/* What a request to the endpoint asked for. */
typedef enum {
    IM_EP_ITEM,              /* GET or HEAD of one image */
    IM_EP_LIST,              /* GET or HEAD of the collection */
    IM_EP_PATCH,             /* PATCH of one image */
    IM_EP_OTHER,             /* anything else: OPTIONS, 405, unknown path */
    IM_EP_COUNT
} im_endpoint_e;

typedef enum {
    IM_STAT_DB_ERROR,        /* a statement failed */
    IM_STAT_DB_UNAVAILABLE,  /* no connection, or of another schema */
    IM_STAT_CONNECT,         /* a pool opened a connection */
    IM_STAT_RECONNECT,       /* a reset connection was set up again */
    IM_STAT_REPREPARE,       /* a statement lost with a reset */
    IM_STAT_COUNT
} im_stat_e;

/* Server-wide, across every child and generation of httpd's parent. */
void im_stats_count(im_stat_e what);
/* Time spent in ap_dbd_acquire; only a request's first call counts (later
 * ones get the connection mod_dbd keeps with the request). */
void im_stats_wait(request_rec *r, apr_interval_time_t waited);
/* One request of the endpoint, by the status it was answered with. */
void im_stats_request(request_rec *r, im_endpoint_e endpoint);
/* post_config: the shared memory (once per parent process). */
int im_stats_init(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                  server_rec *s);
/* mod_status's status_hook: the counters on server-status. */
int im_stats_status(request_rec *r, int flags);

/* ---- health.c ----------------------------------------------------------- */

/* SetHandler images-health: 200 when a pooled connection answers, 503. */
int im_health_handler(request_rec *r);

/* ---- handler.c ----------------------------------------------------------- */

int im_handler(request_rec *r);
/* What r asked the endpoint for (item, list, patch, other). */
im_endpoint_e im_endpoint_of(request_rec *r);

#endif /* MOD_IMAGES_H */
