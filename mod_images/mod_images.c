/*
 * mod_images: the module record, its directives, per-directory
 * configuration and hooks.  The request itself is handled in handler.c.
 */
#include <string.h>

#include <apr_strings.h>
#include <ap_expr.h>
#include <http_core.h>
#include <http_request.h>

#include "mod_images.h"

#include <apr_optional_hooks.h>
#include <http_protocol.h>
#include <mod_status.h>

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    im_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    (void)dir;
    conf->page_size = IM_UNSET;
    conf->max_page_size = IM_UNSET;
    conf->token_auth = IM_UNSET;
    conf->body_limit = IM_UNSET;
    conf->base_url = NULL;
    conf->retry_after = IM_UNSET;
    conf->cors_origins = NULL;
    conf->cors_any = IM_UNSET;
    conf->search_max_terms = IM_UNSET;
    return conf;
}

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    im_server_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    (void)s;
    conf->statement_timeout = IM_UNSET;
    conf->session_setup = IM_UNSET;
    conf->write_params = NULL;
    conf->write_min = IM_UNSET;
    conf->write_keep = IM_UNSET;
    conf->write_max = IM_UNSET;
    conf->write_exptime = IM_UNSET;
    return conf;
}

#define MERGE(field) conf->field = (add->field == IM_UNSET) \
                                   ? base->field : add->field
#define MERGE_PTR(field) conf->field = add->field ? add->field : base->field

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    im_dir_conf_t *base = basev, *add = addv;
    im_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    MERGE(page_size);
    MERGE(max_page_size);
    MERGE(token_auth);
    MERGE(body_limit);
    MERGE_PTR(base_url);
    MERGE(retry_after);
    MERGE_PTR(cors_origins);
    MERGE(cors_any);
    MERGE(search_max_terms);
    return conf;
}

static void *merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    im_server_conf_t *base = basev, *add = addv;
    im_server_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    MERGE(statement_timeout);
    MERGE(session_setup);
    MERGE_PTR(write_params);
    MERGE(write_min);
    MERGE(write_keep);
    MERGE(write_max);
    MERGE(write_exptime);
    return conf;
}

/* A positive integer argument within [1, max]. */
static const char *positive(cmd_parms *cmd, const char *arg, long max,
                            long *out)
{
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);

    if (!*arg || *end || v < 1 || v > max) {
        return apr_psprintf(cmd->pool, "%s must be an integer from 1 to %ld",
                            cmd->cmd->name, max);
    }
    *out = (long)v;
    return NULL;
}

static const char *set_page_size(cmd_parms *cmd, void *cfg, const char *arg)
{
    im_dir_conf_t *conf = cfg;
    long v = 0;
    const char *err = positive(cmd, arg, 1000000, &v);

    if (!err) {
        if (cmd->info) {
            conf->max_page_size = (int)v;
        }
        else {
            conf->page_size = (int)v;
        }
    }
    return err;
}

static const char *set_token_auth(cmd_parms *cmd, void *cfg, int flag)
{
    (void)cmd;
    ((im_dir_conf_t *)cfg)->token_auth = flag;
    return NULL;
}

static const char *set_body_limit(cmd_parms *cmd, void *cfg, const char *arg)
{
    long v = 0;
    const char *err = positive(cmd, arg, 64L * 1024 * 1024, &v);

    if (!err) {
        ((im_dir_conf_t *)cfg)->body_limit = v;
    }
    return err;
}

static const char *set_retry_after(cmd_parms *cmd, void *cfg,
                                   const char *arg)
{
    long v = 0;
    const char *err = positive(cmd, arg, 86400, &v);

    if (!err) {
        ((im_dir_conf_t *)cfg)->retry_after = (int)v;
    }
    return err;
}

/* ImagesStatementTimeout seconds (0: no limit), with a fraction if wanted:
 * PostgreSQL's statement_timeout on every pooled connection. */
static const char *set_statement_timeout(cmd_parms *cmd, void *cfg,
                                         const char *arg)
{
    im_server_conf_t *conf =
        ap_get_module_config(cmd->server->module_config, &images_module);
    char *end;
    double v = strtod(arg, &end);

    (void)cfg;
    if (!*arg || *end || !(v >= 0 && v <= 86400)) {
        return "ImagesStatementTimeout must be a number of seconds from 0 "
               "(no limit) to 86400";
    }
    conf->statement_timeout = (int)(v * 1000 + 0.5);
    return NULL;
}

static im_server_conf_t *server_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &images_module);
}

static const char *set_session_setup(cmd_parms *cmd, void *cfg, int flag)
{
    (void)cfg;
    server_conf(cmd)->session_setup = flag;
    return NULL;
}

static const char *set_write_params(cmd_parms *cmd, void *cfg,
                                    const char *arg)
{
    (void)cfg;
    if (!*arg) {
        return "ImagesWriteDBDParams needs a libpq connection string";
    }
    server_conf(cmd)->write_params = arg;
    return NULL;
}

/* ImagesWriteDBDMin, Keep, Max, Exptime: cmd->info says which field. */
static const char *set_write_number(cmd_parms *cmd, void *cfg,
                                    const char *arg)
{
    im_server_conf_t *conf = server_conf(cmd);
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);
    int *field = (int *)((char *)conf + (apr_size_t)cmd->info);

    (void)cfg;
    if (!*arg || *end || v < 0 || v > 100000) {
        return apr_psprintf(cmd->pool, "%s must be an integer from 0 to "
                            "100000", cmd->cmd->name);
    }
    *field = (int)v;
    return NULL;
}

static const char *set_search_max_terms(cmd_parms *cmd, void *cfg,
                                        const char *arg)
{
    long v = 0;
    const char *err = positive(cmd, arg, 1000, &v);

    if (!err) {
        ((im_dir_conf_t *)cfg)->search_max_terms = (int)v;
    }
    return err;
}

/* The length of the scheme and "://" of an http or https URL with a host,
 * else 0. */
static apr_size_t http_prefix(const char *arg)
{
    apr_size_t n = strncmp(arg, "http://", 7) == 0 ? 7
                   : strncmp(arg, "https://", 8) == 0 ? 8 : 0;

    return n && arg[n] && arg[n] != '/' ? n : 0;
}

static const char *set_base_url(cmd_parms *cmd, void *cfg, const char *arg)
{
    apr_size_t n = strlen(arg);

    /* links add "?page=..." to it: a query or fragment would break them */
    if (!http_prefix(arg) || strpbrk(arg, "?# \t")) {
        return "ImagesBaseURL must be an absolute http:// or https:// URL "
               "with a host and no query or fragment";
    }
    while (n > 0 && arg[n - 1] == '/') {
        n--;
    }
    ((im_dir_conf_t *)cfg)->base_url = apr_pstrmemdup(cmd->pool, arg, n);
    return NULL;
}

/* Whether the directive's line has more than one argument. */
static int several_args(cmd_parms *cmd)
{
    const char *args = cmd->directive ? cmd->directive->args : "";

    return *ap_getword_conf(cmd->temp_pool, &args)
           && *ap_getword_conf(cmd->temp_pool, &args);
}

/* ImagesCORSOrigins https://a.example https://b.example ... | * | None */
static const char *add_cors_origin(cmd_parms *cmd, void *cfg,
                                   const char *arg)
{
    im_dir_conf_t *conf = cfg;

    if (!conf->cors_origins) {
        conf->cors_origins = apr_array_make(cmd->pool, 4, sizeof(char *));
        conf->cors_any = 0;
    }
    /* '*' and None each stand alone: with origins listed they would
     * silently override them (or None be overridden: "None *") */
    if ((strcmp(arg, "*") == 0 || strcasecmp(arg, "none") == 0)
        && (conf->cors_any || conf->cors_origins->nelts
            || several_args(cmd))) {
        return "ImagesCORSOrigins takes '*' or None alone, not with origins";
    }
    if (strcmp(arg, "*") == 0) {
        conf->cors_any = 1;
        return NULL;
    }
    if (strcasecmp(arg, "none") == 0) {
        return NULL;                  /* an empty list: CORS off here */
    }
    if (conf->cors_any) {
        return "ImagesCORSOrigins takes '*' or None alone, not with origins";
    }
    if (!http_prefix(arg) || strpbrk(arg + http_prefix(arg), "/?# \t")) {
        return "ImagesCORSOrigins takes origins such as https://example.org "
               "(scheme, host and optional port, no path), '*' or None";
    }
    *(const char **)apr_array_push(conf->cors_origins) = arg;
    return NULL;
}

static const command_rec images_cmds[] = {
    AP_INIT_TAKE1("ImagesPageSize", set_page_size, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Images per page when the request names no page_size "
                  "(default 100)"),
    AP_INIT_TAKE1("ImagesMaxPageSize", set_page_size, (void *)1,
                  RSRC_CONF | ACCESS_CONF,
                  "Largest page_size a request may ask for (default 1000)"),
    AP_INIT_FLAG("ImagesTokenAuth", set_token_auth, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "On: accept 'Authorization: Token <key>' from api_tokens "
                 "(default On)"),
    AP_INIT_TAKE1("ImagesBodyLimit", set_body_limit, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Largest PATCH body in bytes (default 65536)"),
    AP_INIT_TAKE1("ImagesBaseURL", set_base_url, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Absolute URL of the collection as clients see it, for "
                  "next/previous links behind a proxy (default: from the "
                  "request)"),
    AP_INIT_TAKE1("ImagesRetryAfter", set_retry_after, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Retry-After seconds sent with 503 when the database is "
                  "down (default 5)"),
    AP_INIT_TAKE1("ImagesStatementTimeout", set_statement_timeout, NULL,
                  RSRC_CONF,
                  "Seconds a statement may run before PostgreSQL cancels it "
                  "and the request gets 503 (default 5; 0: no limit)"),
    AP_INIT_FLAG("ImagesSessionSetup", set_session_setup, NULL, RSRC_CONF,
                 "On: send the module's session settings (SET ...) on "
                 "each new connection; Off: they are set on the role "
                 "(default On)"),
    AP_INIT_TAKE1("ImagesWriteDBDParams", set_write_params, NULL, RSRC_CONF,
                  "libpq connection string of the module's own pool for "
                  "PATCH (default: none, PATCH uses mod_dbd's pool)"),
    AP_INIT_TAKE1("ImagesWriteDBDMin", set_write_number,
                  (void *)APR_OFFSETOF(im_server_conf_t, write_min),
                  RSRC_CONF, "Connections the write pool keeps open at "
                  "least, per child (default 1)"),
    AP_INIT_TAKE1("ImagesWriteDBDKeep", set_write_number,
                  (void *)APR_OFFSETOF(im_server_conf_t, write_keep),
                  RSRC_CONF, "Idle connections the write pool keeps, per "
                  "child (default 2)"),
    AP_INIT_TAKE1("ImagesWriteDBDMax", set_write_number,
                  (void *)APR_OFFSETOF(im_server_conf_t, write_max),
                  RSRC_CONF, "Most connections of the write pool, per "
                  "child (default 10)"),
    AP_INIT_TAKE1("ImagesWriteDBDExptime", set_write_number,
                  (void *)APR_OFFSETOF(im_server_conf_t, write_exptime),
                  RSRC_CONF, "Seconds an idle connection of the write "
                  "pool above ImagesWriteDBDKeep lives (default 300)"),
    AP_INIT_TAKE1("ImagesSearchMaxTerms", set_search_max_terms, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Most distinct search terms a request may send; more is "
                  "a 400 (default 20)"),
    AP_INIT_ITERATE("ImagesCORSOrigins", add_cors_origin, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "Origins whose pages may call the API from a browser "
                    "(CORS), '*' for any origin without credentials, or "
                    "None (the default: no CORS headers)"),
    {NULL}
};

/* Whether SetHandler images applies to r, by the <Location> sections
 * walked so far. */
static int serves_images(request_rec *r)
{
    core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    const char *err = NULL, *h;

    if (!d || !d->expr_handler) {
        return 0;
    }
    h = ap_expr_str_exec(r, d->expr_handler, &err);
    return !err && h && strcmp(h, "images") == 0;
}

/* Whether a header of t named name lists token (or "*"), any case. */
typedef struct {
    const char *token;
    int found;
} token_seek_t;

static int seek_token(void *data, const char *key, const char *val)
{
    token_seek_t *seek = data;
    apr_size_t n = strlen(seek->token);

    (void)key;
    while (val && *val) {
        const char *e;

        while (*val == ' ' || *val == '\t' || *val == ',') {
            val++;
        }
        if (*val == '*') {
            e = val + 1;
        }
        else if (strncasecmp(val, seek->token, n) == 0) {
            e = val + n;
        }
        else {
            e = NULL;
        }
        if (e) {
            while (*e == ' ' || *e == '\t') {
                e++;
            }
            if (!*e || *e == ',') {
                seek->found = 1;
                return 0;
            }
        }
        val = strchr(val, ',');
    }
    return 1;
}

static int lists_token(request_rec *r, const char *name, const char *token)
{
    token_seek_t seek;

    seek.token = token;
    seek.found = 0;
    apr_table_do(seek_token, &seek, r->headers_out, name, NULL);
    if (!seek.found) {
        apr_table_do(seek_token, &seek, r->err_headers_out, name, NULL);
    }
    return seek.found;
}

/* The headers every answer of the endpoint carries (docs/api.md section
 * 3), whatever else the configuration says: every answer depends on who
 * asks.  In err_headers_out, so that httpd's own errors (a refused Basic
 * login, a 413) carry them too; each hook that calls this may run again
 * for the same request (an ErrorDocument redirect of an older
 * configuration shares the table), so nothing is added twice. */
static void contract_headers(request_rec *r)
{
    /* a Header set of nosniff without "always" put it in headers_out:
     * said once */
    if (apr_table_get(r->headers_out, "X-Content-Type-Options")) {
        apr_table_unset(r->err_headers_out, "X-Content-Type-Options");
    }
    if (!lists_token(r, "X-Content-Type-Options", "nosniff")) {
        apr_table_setn(r->err_headers_out, "X-Content-Type-Options",
                       "nosniff");
    }
    if (!lists_token(r, "Vary", "Authorization")) {
        apr_table_mergen(r->err_headers_out, "Vary", "Authorization");
    }
    /* credentials presented (Basic, Token, anything) or a user set by
     * any authentication module: no shared cache may keep the answer */
    if ((r->user || apr_table_get(r->headers_in, "Authorization"))
        && !lists_token(r, "Cache-Control", "private")) {
        apr_table_mergen(r->err_headers_out, "Cache-Control", "private");
    }
}

/* As the headers go out, after mod_headers' filters (type CONTENT_SET)
 * and before mod_cache's CACHE_SAVE: a Header set or unset line of the
 * site's configuration cannot take the contract's headers away (CONTRACT
 * section 3), and r->user is known whichever module set it (a session
 * cookie, Kerberos, ...). */
#define HEADERS_FILTER "IMAGES_HEADERS"

static apr_status_t headers_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    contract_headers(f->r);
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

static void add_headers_filter(request_rec *r)
{
    ap_add_output_filter(HEADERS_FILTER, NULL, r, r->connection);
}

static void im_insert_filter(request_rec *r)
{
    if (r->handler && strcmp(r->handler, "images") == 0) {
        add_headers_filter(r);
    }
}

/* Before anything else can answer (mod_auth_basic's 401 comes before
 * fixups): the <Location> sections are walked already. */
static int im_early_headers(request_rec *r)
{
    if (serves_images(r)) {
        contract_headers(r);
    }
    return DECLINED;
}

/* A request this module will serve names no file, as mod_proxy's do not:
 * httpd neither maps it into DocumentRoot (a path of 5,000 characters was
 * a 403, "File name too long") nor walks the filesystem for it, nor echoes
 * a TRACE of it (with its Authorization header) before the handler can say
 * 405.  httpd walks the <Location> sections before translate_name. */
static int im_translate_name(request_rec *r)
{
    /* a filename already set: mod_rewrite or another module mapped the
     * request (perhaps to another URI than the <Location> walked) */
    if (r->filename || !r->uri || r->uri[0] != '/' || !serves_images(r)) {
        return DECLINED;
    }
    r->filename = apr_pstrcat(r->pool, "images:", r->uri, NULL);
    return OK;
}

static int im_map_to_storage(request_rec *r)
{
    /* named by im_translate_name: httpd walks the <Location> sections
     * again after this hook */
    return r->filename && strncmp(r->filename, "images:", 7) == 0
           ? OK : DECLINED;
}

/* MOD_IMAGES_VERSION comes from configure.ac through the Makefile */
#ifndef MOD_IMAGES_VERSION
#error "MOD_IMAGES_VERSION undefined: build with the Makefile (make)"
#endif

/* the version in the server banner: the error log's "configured" line,
 * and the Server header under ServerTokens Full */
static int im_banner(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                     server_rec *s)
{
    (void)plog;
    (void)ptemp;
    ap_add_version_component(pconf, "mod_images/" MOD_IMAGES_VERSION);
    /* before the children start: they share it, read-only */
    if (!im_query_fold_init(pconf)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(20207)
                     "the C.UTF-8 locale is missing: repeated search terms "
                     "in letters beyond Latin-1, Latin Extended-A, Greek and "
                     "Cyrillic count as distinct against "
                     "ImagesSearchMaxTerms");
    }
    return OK;
}

/* Whether r is a request of the endpoint: SetHandler images by the
 * <Location> sections (before the handler is set), or the handler. */
static int in_endpoint(request_rec *r)
{
    return (r->handler && strcmp(r->handler, "images") == 0)
           || serves_images(r);
}

/* A path httpd refuses to decode (an encoded slash or NUL, a bad
 * %-escape) is refused before the <Location> sections apply to the
 * request, which still has the server's defaults: walk them here to know
 * whether the error is the endpoint's (its JSON, CONTRACT section 7). */
static int refused_in_endpoint(request_rec *r)
{
    ap_conf_vector_t *dir = r->per_dir_config;

    if (r->main || !r->uri || r->uri[0] != '/'
        || dir != r->server->lookup_defaults) {
        return 0;
    }
    if (ap_location_walk(r) == OK && serves_images(r)) {
        return 1;
    }
    r->per_dir_config = dir;
    return 0;
}

/* httpd's own error pages inside the endpoint become JSON (respond.c). */
static void im_insert_error_filter(request_rec *r)
{
    if (in_endpoint(r)) {
        im_error_json(r);
    }
    else if (refused_in_endpoint(r)) {
        im_error_json(r);       /* (headers: im_insert_error_headers) */
    }
}

static void im_insert_error_headers(request_rec *r)
{
    if (in_endpoint(r)) {
        add_headers_filter(r);
    }
}

/* Count each request of the endpoint once it is answered (stats.c). */
static int im_log_transaction(request_rec *r)
{
    if (in_endpoint(r)) {
        im_stats_request(r, im_endpoint_of(r));
    }
    return DECLINED;
}

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(im_banner, NULL, NULL, APR_HOOK_MIDDLE);
    /* (mod_dbd's optional functions exist from its register_hooks on) */
    ap_hook_post_config(im_store_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(im_write_pool_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(im_write_pool_child_init, NULL, NULL,
                       APR_HOOK_MIDDLE);
    /* an optional hook: no link to mod_dbd needed, nothing if it is absent */
    APR_OPTIONAL_HOOK(dbd, post_connect, im_store_post_connect, NULL, NULL,
                      APR_HOOK_MIDDLE);
    /* after mod_rewrite, mod_alias and mod_proxy had their say, before
     * core maps the path to a file (REALLY_LAST); before http_core echoes
     * a TRACE and core walks the filesystem */
    ap_hook_translate_name(im_early_headers, NULL, NULL,
                           APR_HOOK_REALLY_FIRST);
    ap_hook_translate_name(im_translate_name, NULL, NULL, APR_HOOK_LAST);
    ap_hook_map_to_storage(im_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(im_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(im_health_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(im_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    im_error_filter_register();
    /* after CONTENT_SET (mod_headers), before PROTOCOL (the headers) */
    ap_register_output_filter(HEADERS_FILTER, headers_filter, NULL,
                              AP_FTYPE_CONTENT_SET);
    ap_hook_insert_filter(im_insert_filter, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_insert_error_filter(im_insert_error_headers, NULL, NULL,
                                APR_HOOK_REALLY_LAST);
    ap_hook_post_config(im_stats_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(im_log_transaction, NULL, NULL, APR_HOOK_MIDDLE);
    /* optional too: mod_status calls it only when loaded */
    APR_OPTIONAL_HOOK(ap, status_hook, im_stats_status, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

/* Not AP_DECLARE_MODULE: mod_images.h already says APLOG_USE_MODULE. */
module AP_MODULE_DECLARE_DATA images_module = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_server_conf,
    merge_server_conf,
    images_cmds,
    register_hooks,
    AP_MODULE_FLAG_NONE
};
