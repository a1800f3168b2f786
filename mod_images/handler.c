/*
 * The content handler: route the request (path, method), find out who is
 * asking, ask the store, and answer (docs/api.md).
 */
#include <string.h>

#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_core.h>

#include "mod_images.h"

static const char *allowed_methods(const im_path_t *path)
{
    return path->kind == IM_PATH_COLLECTION ? "GET, HEAD, OPTIONS"
                                            : "GET, HEAD, PATCH, OPTIONS";
}

static int store_failed(request_rec *r, const im_dir_conf_t *conf,
                        im_store_status_e st)
{
    if (st == IM_STORE_UNAVAILABLE) {
        apr_table_setn(r->headers_out, "Retry-After",
                       apr_itoa(r->pool, IM_CONF(conf, retry_after,
                                                 IM_DEFAULT_RETRY_AFTER)));
        return im_send_detail(r, HTTP_SERVICE_UNAVAILABLE,
                              "The database is unavailable; "
                              "try again later.");
    }
    return im_send_detail(r, HTTP_INTERNAL_SERVER_ERROR,
                          "A server error occurred.");
}

static int unauthorized(request_rec *r, const char *detail)
{
    apr_table_setn(r->headers_out, "WWW-Authenticate", "Token");
    return im_send_detail(r, HTTP_UNAUTHORIZED, detail);
}

/* The caller from r->user and, when token authentication is on, an
 * Authorization: Token header; a malformed token header answers 401. */
static int identify(request_rec *r, const im_dir_conf_t *conf,
                    im_caller_t *who)
{
    const char *why = NULL;

    /* a name that no users row can hold reads as anonymous */
    who->user = r->user && im_utf8_valid(r->user) ? r->user : "";
    who->token = "";
    if (IM_CONF(conf, token_auth, IM_DEFAULT_TOKEN_AUTH)
        && im_token_parse(r->pool,
                          apr_table_get(r->headers_in, "Authorization"),
                          &who->token, &why) == IM_TOKEN_MALFORMED) {
        return unauthorized(r, why);
    }
    if (!who->token) {
        who->token = "";
    }
    else if (!(who->token = im_token_digest(r->pool, who->token))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(20201)
                      "computing the SHA-256 of a token failed (OpenSSL's "
                      "libcrypto); answering 500");
        return im_send_server_error(r);
    }
    return DECLINED;
}

static int get_image(request_rec *r, const im_dir_conf_t *conf,
                     const im_caller_t *who, const im_path_t *path)
{
    im_image_row_t row;
    int bad_token = 0, found = 0;
    im_store_status_e st = im_store_get_image(r, who, path, &bad_token,
                                              &found, &row);

    if (st != IM_STORE_OK) {
        return store_failed(r, conf, st);
    }
    if (bad_token) {
        return unauthorized(r, "Invalid token.");
    }
    if (!found) {
        return im_send_detail(r, HTTP_NOT_FOUND, "Not found.");
    }
    return im_send_image(r, &row, 1);
}

/* What a PATCH knows before the database is asked, and what it answers. */
typedef struct {
    int json_type;           /* Content-Type is application/json */
    im_patch_status_e parsed;
    json_t *error;           /* body of a 400 from the parser */
    json_t *answer;          /* the body decide() chose */
    const im_patch_t *patch; /* what the parser found */
} patch_ctx_t;

/* Under the row lock: who may change the image, and may the change go
 * ahead (DRF's order: authentication, object permissions, then the body). */
static int decide_patch(request_rec *r, void *vctx,
                        const im_patch_state_t *st)
{
    patch_ctx_t *ctx = vctx;
    const char *if_match, *etag, *ct;

    /* called again if the transaction is run again */
    json_decref(ctx->answer);
    ctx->answer = NULL;

    if (st->bad_token) {
        ctx->answer = im_render_detail("Invalid token.");
        return HTTP_UNAUTHORIZED;
    }
    if (!st->visible) {
        ctx->answer = im_render_detail("Not found.");
        return HTTP_NOT_FOUND;
    }
    if (!st->is_creator) {
        ctx->answer = im_render_detail("You do not have permission to "
                                       "perform this action.");
        return HTTP_FORBIDDEN;
    }
    if (!ctx->json_type) {
        ct = apr_table_get(r->headers_in, "Content-Type");
        ctx->answer = im_render_detail(apr_psprintf(r->pool,
            "Unsupported media type \"%s\" in request.",
            ct && im_utf8_valid(ct) ? ct : ""));
        return HTTP_UNSUPPORTED_MEDIA_TYPE;
    }
    if (ctx->parsed == IM_PATCH_PARSE_ERROR) {
        ctx->answer = json_incref(ctx->error);
        return HTTP_BAD_REQUEST;
    }
    /* every field's errors, tags' with what the database found */
    if ((ctx->answer = im_patch_errors(r->pool, ctx->error, ctx->patch,
                                       st->unknown_tags))) {
        return HTTP_BAD_REQUEST;
    }
    if_match = apr_table_get(r->headers_in, "If-Match");
    if (if_match) {
        etag = im_row_etag(r, &st->row);
        if (!etag || !im_etag_match(if_match, etag, 1)) {
            if (etag) {
                apr_table_setn(r->headers_out, "ETag", etag);
            }
            ctx->answer = im_render_detail("Precondition failed: the image "
                                           "has changed since it was read.");
            return HTTP_PRECONDITION_FAILED;
        }
    }
    return 0;
}

static int patch_image(request_rec *r, const im_dir_conf_t *conf,
                       const im_caller_t *who, const im_path_t *path)
{
    patch_ctx_t ctx = {0, IM_PATCH_OK, NULL, NULL, NULL};
    im_patch_t patch;
    im_image_row_t updated;
    im_store_status_e st;
    char *body;
    apr_size_t len;
    int rv, decision;

    if (!*who->user && !*who->token) {
        const char *type = ap_auth_type(r);
        apr_table_setn(r->headers_out, "WWW-Authenticate",
                       type && strcasecmp(type, "Basic") == 0
                       ? apr_psprintf(r->pool, "Basic realm=\"%s\"",
                                      ap_auth_name(r) ? ap_auth_name(r)
                                                      : "api")
                       : "Token");
        return im_send_detail(r, HTTP_UNAUTHORIZED,
                              "Authentication credentials were not "
                              "provided.");
    }
    rv = im_read_body(r, IM_CONF(conf, body_limit, IM_DEFAULT_BODY_LIMIT),
                      &body, &len);
    if (rv != OK) {
        return im_send_detail(r, rv, rv == HTTP_REQUEST_ENTITY_TOO_LARGE
                              ? "Request body too large."
                              : "The request body could not be read.");
    }
    ctx.json_type = im_is_json_media_type(apr_table_get(r->headers_in,
                                                        "Content-Type"));
    memset(&patch, 0, sizeof(patch));
    ctx.patch = &patch;
    if (ctx.json_type) {
        ctx.parsed = im_patch_parse(r->pool, body, len, &patch, &ctx.error);
    }

    st = im_store_patch_image(r, who, path, &patch, decide_patch, &ctx,
                              &decision, &updated);
    json_decref(ctx.error);
    if (st != IM_STORE_OK) {
        json_decref(ctx.answer);
        return store_failed(r, conf, st);
    }
    if (decision) {
        if (decision == HTTP_UNAUTHORIZED) {
            apr_table_setn(r->headers_out, "WWW-Authenticate", "Token");
        }
        return im_send_json(r, decision, ctx.answer);
    }
    return im_send_image(r, &updated, 0);
}

/* The absolute URL of another page of this listing; -1 if it is not
 * UTF-8 (a configured base URL could be anything). */
static int page_link(im_buf_t *b, request_rec *r, const im_dir_conf_t *conf,
                     apr_int64_t page)
{
    const char *path = ap_escape_uri(r->pool, r->uri), *base;
    const char *ip = r->connection->local_ip;

    if (conf->base_url) {
        base = conf->base_url;
    }
    else if (!apr_table_get(r->headers_in, "Host") && !r->parsed_uri.hostname
             && ip && *ip) {
        /* HTTP/1.0 with no Host: the address and port the client reached
         * (httpd would name ServerName and its default port); an IPv6
         * zone's % is escaped in a URL */
        apr_port_t port = r->connection->local_addr->port;
        int v6 = strchr(ip, ':') != NULL;
        const char *zone = strchr(ip, '%');

        if (zone) {
            ip = apr_pstrcat(r->pool, apr_pstrmemdup(r->pool, ip, zone - ip),
                             "%25", zone + 1, NULL);
        }
        base = apr_psprintf(r->pool, "%s://%s%s%s%s", ap_http_scheme(r),
                            v6 ? "[" : "", ip, v6 ? "]" : "",
                            port == ap_default_port(r) ? ""
                            : apr_psprintf(r->pool, ":%u", port));
        base = apr_pstrcat(r->pool, base, path, NULL);
    }
    else {
        base = ap_construct_url(r->pool, path, r);
    }

    return im_buf_string(b, apr_pstrcat(r->pool, base,
                                        im_query_link(r->pool, r->args, page),
                                        NULL));
}

static int link_failed(request_rec *r)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(20202)
                  "a next or previous link is not valid UTF-8: check "
                  "ImagesBaseURL; answering 500");
    return im_send_server_error(r);
}

/* A search of more distinct terms than ImagesSearchMaxTerms: 400 before
 * the database searches anything (a bad token still answers 401 first, as
 * DRF authenticates before it validates). */
static int too_many_terms(request_rec *r, const im_dir_conf_t *conf,
                          const im_caller_t *who, const im_list_query_t *q)
{
    int max = IM_CONF(conf, search_max_terms, IM_DEFAULT_SEARCH_MAX_TERMS);

    if (*who->token) {
        int bad_token = 0;
        im_store_status_e st = im_store_check_token(r, who, &bad_token);

        if (st != IM_STORE_OK) {
            return store_failed(r, conf, st);
        }
        if (bad_token) {
            return unauthorized(r, "Invalid token.");
        }
    }
    if (q->invalid_param) {
        return im_send_json(r, HTTP_BAD_REQUEST,
                            json_pack("{s:[s]}", q->invalid_param,
                                      "Null characters are not allowed."));
    }
    return im_send_json(r, HTTP_BAD_REQUEST, json_pack("{s:[s]}", "search",
        apr_psprintf(r->pool, "Ensure this field has no more than %d "
                     "term%s.", max, max == 1 ? "" : "s")));
}

static int list_images(request_rec *r, const im_dir_conf_t *conf,
                       const im_caller_t *who)
{
    int max_size = IM_CONF(conf, max_page_size, IM_DEFAULT_MAX_PAGE_SIZE);
    int size = IM_CONF(conf, page_size, IM_DEFAULT_PAGE_SIZE);
    im_list_query_t q;
    apr_array_header_t *rows = NULL;
    apr_int64_t count = 0, page, pages;
    int bad_token = 0, i;
    im_store_status_e st;
    im_buf_t b;

    im_query_parse(r->pool, r->args, size < max_size ? size : max_size,
                   max_size, &q);
    if (q.search_terms > IM_CONF(conf, search_max_terms,
                                 IM_DEFAULT_SEARCH_MAX_TERMS)) {
        return too_many_terms(r, conf, who, &q);
    }
    page = q.page;
    if (page == IM_PAGE_INVALID) {
        /* still ask the store: a bad token answers 401 before this 404 */
        q.page = 1;
    }
    st = im_store_list_images(r, who, &q, &bad_token, &count, &rows);
    if (st != IM_STORE_OK) {
        return store_failed(r, conf, st);
    }
    if (bad_token) {
        return unauthorized(r, "Invalid token.");
    }
    /* after the token, as DRF authenticates before it validates filters */
    if (q.invalid_param) {
        json_t *err = json_pack("{s:[s]}", q.invalid_param,
                                "Null characters are not allowed.");
        return im_send_json(r, HTTP_BAD_REQUEST, err);
    }
    pages = count == 0 ? 1 : (count + q.page_size - 1) / q.page_size;
    if (page == IM_PAGE_LAST) {
        page = pages;
    }
    if (page == IM_PAGE_INVALID || page > pages) {
        return im_send_detail(r, HTTP_NOT_FOUND, "Invalid page.");
    }

    /* {"count", "next", "previous", "results"}, written as it goes */
    im_buf_init(&b, r->pool, 1024 + (apr_size_t)rows->nelts * 1024);
    im_buf_lit(&b, "{\"count\":");
    im_buf_int64(&b, count);
    im_buf_lit(&b, ",\"next\":");
    if (page < pages ? page_link(&b, r, conf, page + 1)
                     : im_buf_string(&b, NULL)) {
        return link_failed(r);
    }
    im_buf_lit(&b, ",\"previous\":");
    if (page > 1 ? page_link(&b, r, conf, page == 2 ? 0 : page - 1)
                 : im_buf_string(&b, NULL)) {
        return link_failed(r);
    }
    im_buf_lit(&b, ",\"results\":[");
    for (i = 0; i < rows->nelts; i++) {
        if (i) {
            im_buf_lit(&b, ",");
        }
        if (im_render_logged(r, &b, &APR_ARRAY_IDX(rows, i,
                                                   im_image_row_t))) {
            return im_send_server_error(r);
        }
    }
    im_buf_lit(&b, "]}");
    return im_send_entity(r, b.data, b.len, 1);
}

/* The endpoint is the <Location> whose SetHandler put us here: of the
 * non-regex <Location> sections of this server that set a handler and
 * match the URI, the longest.  (Neither our own per-directory config, made
 * only where an Images* directive appears, nor core's merged one, renamed
 * "*If" by an <If> inside the block, knows that path.) */
static const char *endpoint_base(request_rec *r)
{
    core_server_config *sconf =
        ap_get_core_module_config(r->server->module_config);
    ap_conf_vector_t **secs = (ap_conf_vector_t **)sconf->sec_url->elts;
    const char *best = NULL;
    apr_size_t best_len = 0;
    int i;

    for (i = 0; i < sconf->sec_url->nelts; i++) {
        core_dir_config *c = ap_get_core_module_config(secs[i]);
        apr_size_t n;

        if (!c->d || c->r || !c->expr_handler || c->d[0] != '/') {
            continue;
        }
        n = strlen(c->d);
        while (n > 0 && c->d[n - 1] == '/') {
            n--;
        }
        if ((!best || n > best_len) && strncmp(r->uri, c->d, n) == 0) {
            best = c->d;
            best_len = n;
        }
    }
    return best ? apr_pstrmemdup(r->pool, best, best_len) : NULL;
}

/* Route r->uri below the endpoint.  Without a <Location> to go by
 * (<LocationMatch>, <Directory>), the last segment names the resource. */
static void endpoint_path(request_rec *r, im_path_t *path)
{
    const char *base = endpoint_base(r);
    apr_size_t n;

    if (base) {
        n = strlen(base);
        im_path_parse(strncmp(r->uri, base, n) == 0 ? r->uri + n : "x",
                      path);
        return;
    }
    im_path_parse(strrchr(r->uri, '/') ? strrchr(r->uri, '/') : "x", path);
}

im_endpoint_e im_endpoint_of(request_rec *r)
{
    im_path_t path;

    /* a request refused while its line was read (414, 400) has no URI */
    if (!r->uri || r->uri[0] != '/') {
        return IM_EP_OTHER;
    }
    endpoint_path(r, &path);
    if (path.kind == IM_PATH_NOT_FOUND || r->method_number == M_OPTIONS) {
        return IM_EP_OTHER;
    }
    if (path.kind == IM_PATH_COLLECTION) {
        return r->method_number == M_GET ? IM_EP_LIST : IM_EP_OTHER;
    }
    return r->method_number == M_GET ? IM_EP_ITEM
           : r->method_number == M_PATCH ? IM_EP_PATCH : IM_EP_OTHER;
}

/* An ErrorDocument redirect of a configuration from before the error
 * filter (respond.c), such as "ErrorDocument 401 /images/error": the same
 * JSON as the filter's, with the first request's status. */
static int error_document(request_rec *r)
{
    request_rec *orig = r->prev;
    const char *detail;
    int status;

    im_cors_headers(r, ap_get_module_config(r->per_dir_config,
                                            &images_module));
    while (orig->prev) {
        orig = orig->prev;
    }
    status = im_error_answer(r, orig, r->headers_out, &detail);
    return im_send_detail(r, status, detail);
}

int im_handler(request_rec *r)
{
    im_dir_conf_t *conf;
    im_path_t path;
    im_caller_t who;
    int rv;

    if (!r->handler || strcmp(r->handler, "images") != 0) {
        return DECLINED;
    }
    if (r->prev && apr_table_get(r->subprocess_env, "REDIRECT_STATUS")) {
        return error_document(r);
    }
    /* every answer is whole: a Range header is ignored (200, as DRF
     * answers), never a 206 of part of a JSON document or a 416 */
    ap_remove_output_filter_byhandle(r->output_filters, "BYTERANGE");
    conf = ap_get_module_config(r->per_dir_config, &images_module);
    im_cors_headers(r, conf);
    endpoint_path(r, &path);
    /* an error answer leaves a body unread and closes the connection
     * (respond.c): no ap_discard_request_body before one */
    if (path.kind == IM_PATH_NOT_FOUND) {
        return im_send_detail(r, HTTP_NOT_FOUND, "Not found.");
    }

    apr_table_setn(r->headers_out, "Allow", allowed_methods(&path));
    if (im_cors_is_preflight(r)) {
        /* a preflight carries no credentials: answer it as it stands */
        ap_discard_request_body(r);
        r->status = HTTP_OK;
        ap_set_content_length(r, 0);
        return OK;
    }
    /* authentication first, as DRF does: a malformed token header is a 401
     * whatever the method */
    if ((rv = identify(r, conf, &who)) != DECLINED) {
        return rv;
    }
    /* a token that names no current key is a 401 whatever the method, as
     * DRF authenticates before it looks for the method's handler; GET and
     * PATCH find that out in their own statement */
    if (*who.token && r->method_number != M_GET
        && !(r->method_number == M_PATCH
             && path.kind != IM_PATH_COLLECTION)) {
        int bad_token = 0;
        im_store_status_e st = im_store_check_token(r, &who, &bad_token);

        if (st != IM_STORE_OK) {
            return store_failed(r, conf, st);
        }
        if (bad_token) {
            return unauthorized(r, "Invalid token.");
        }
    }
    if (r->method_number == M_OPTIONS) {
        ap_discard_request_body(r);
        r->status = HTTP_OK;
        ap_set_content_length(r, 0);
        return OK;
    }
    if (r->method_number == M_PATCH && path.kind != IM_PATH_COLLECTION) {
        return patch_image(r, conf, &who, &path);
    }
    if (r->method_number != M_GET) {
        const char *m = im_utf8_valid(r->method) ? r->method : "?";
        return im_send_detail(r, HTTP_METHOD_NOT_ALLOWED,
                              apr_psprintf(r->pool,
                                           "Method \"%s\" not allowed.", m));
    }

    if ((rv = ap_discard_request_body(r)) != OK) {
        return rv;
    }
    if (path.kind == IM_PATH_COLLECTION) {
        return list_images(r, conf, &who);
    }
    return get_image(r, conf, &who, &path);
}
