/*
 * What goes back: JSON bodies with their status, content type, length and
 * validators.  Errors are JSON too, written here rather than by httpd's
 * error pages, so no client ever parses HTML: the module's own, and those
 * httpd raises inside the endpoint (a refused Basic login, a 413, ...),
 * whose HTML page an error filter replaces.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <util_filter.h>

#include "mod_images.h"

static const char internal_error[] =
    "{\"detail\":\"A server error occurred.\"}";

/* Whether the client may still be sending a body that nothing has read:
 * one announced (Content-Length above 0, or any Transfer-Encoding) that
 * im_read_body did not read to its end. */
static int body_unread(request_rec *r)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    char *end;
    apr_off_t n;

    if (apr_table_get(r->notes, IM_NOTE_BODY_READ)) {
        return 0;
    }
    if (apr_table_get(r->headers_in, "Transfer-Encoding")) {
        return 1;
    }
    return cl && (apr_strtoff(&n, cl, &end, 10) != APR_SUCCESS || *end
                  || n > 0);
}

static int send_text(request_rec *r, int status, const char *text,
                     apr_size_t len)
{
    /* an error ends the exchange: rather than have httpd read (and wait
     * for) a body nobody needs, holding the worker and perhaps a pooled
     * database connection, close the connection after the answer */
    if (status >= 400 && body_unread(r)) {
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    r->status = status;
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, len);
    if (!r->header_only) {
        ap_rwrite(text, (int)len, r);
    }
    return OK;
}

int im_send_server_error(request_rec *r)
{
    return send_text(r, HTTP_INTERNAL_SERVER_ERROR, internal_error,
                     sizeof(internal_error) - 1);
}

int im_send_json(request_rec *r, int status, json_t *body)
{
    apr_size_t len = 0;
    char *text = body ? im_json_dump(r->pool, body, &len) : NULL;

    json_decref(body);
    if (!text) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(20203)
                      "could not serialise a response body");
        return im_send_server_error(r);
    }
    return send_text(r, status, text, len);
}

int im_send_detail(request_rec *r, int status, const char *detail)
{
    return im_send_json(r, status, im_render_detail(detail));
}

int im_send_entity(request_rec *r, const char *text, apr_size_t len,
                   int conditional)
{
    const char *etag;

    if (!text) {
        return im_send_server_error(r);
    }
    etag = im_etag(r->pool, text, len);
    apr_table_setn(r->headers_out, "ETag", etag);
    if (conditional
        && im_etag_match(apr_table_get(r->headers_in, "If-None-Match"),
                         etag, 0)) {
        return HTTP_NOT_MODIFIED;
    }
    return send_text(r, HTTP_OK, text, len);
}

int im_render_logged(request_rec *r, im_buf_t *b, const im_image_row_t *row)
{
    int bad = b->bad_dates;

    if (im_render_image(b, row)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(20204)
                      "malformed row of image %s from the database",
                      row->id ? row->id : "(no id)");
        return -1;
    }
    if (b->bad_dates > bad) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, APLOGNO(20205)
                      "image %s has a date outside years 1 to 9999, sent "
                      "as null: correct the row (the schema refuses such "
                      "dates since version 1; docs/configuration.md)",
                      row->id);
    }
    return 0;
}

int im_send_image(request_rec *r, const im_image_row_t *row, int conditional)
{
    im_buf_t b;

    im_buf_init(&b, r->pool, 2048);
    if (im_render_logged(r, &b, row)) {
        return im_send_server_error(r);
    }
    return im_send_entity(r, b.data, b.len, conditional);
}

const char *im_row_etag(request_rec *r, const im_image_row_t *row)
{
    im_buf_t b;

    im_buf_init(&b, r->pool, 2048);
    return im_render_image(&b, row) ? NULL : im_etag(r->pool, b.data, b.len);
}

/* ---- httpd's own errors inside the endpoint ----------------------------- */

/* The detail of an error httpd raised, not the handler. */
static const char *error_detail(request_rec *orig, int status)
{
    switch (status) {
    case HTTP_BAD_REQUEST:
        return "Bad request.";
    case HTTP_UNAUTHORIZED:
        return apr_table_get(orig->headers_in, "Authorization")
               ? "Invalid username/password."
               : "Authentication credentials were not provided.";
    case HTTP_FORBIDDEN:
        return "You do not have permission to perform this action.";
    case HTTP_NOT_FOUND:
        return "Not found.";
    case HTTP_METHOD_NOT_ALLOWED:
        return apr_psprintf(orig->pool, "Method \"%s\" not allowed.",
                            im_utf8_valid(orig->method) ? orig->method : "?");
    case HTTP_REQUEST_ENTITY_TOO_LARGE:
        return "Request body too large.";
    case HTTP_REQUEST_URI_TOO_LARGE:
        return "Request URI too long.";
    case HTTP_REQUEST_TIME_OUT:
        return "Request timed out.";
    case HTTP_SERVICE_UNAVAILABLE:
        return "Service unavailable; try again later.";
    default:
        return status >= 500 ? "A server error occurred." : "Bad request.";
    }
}

/* A '%' that two hex digits do not follow: httpd refuses such a path with
 * a 400 while it decodes it. */
static int has_bad_escape(const char *path)
{
    for (; path && (path = strchr(path, '%')); path++) {
        if (!apr_isxdigit(path[1]) || !apr_isxdigit(path[2])) {
            return 1;
        }
    }
    return 0;
}

int im_error_answer(request_rec *r, request_rec *orig, apr_table_t *headers,
                    const char **detail)
{
    int status = orig->status;

    if (status < 400 || status > 599) {
        status = HTTP_INTERNAL_SERVER_ERROR;
    }
    /* in the endpoint's path, a bad %-escape names no image: 404, as for
     * any other path below it (CONTRACT section 8; DRF's routes see the
     * escape as it is and match nothing) */
    if (status == HTTP_BAD_REQUEST && has_bad_escape(orig->uri)) {
        *detail = "Not found.";
        return HTTP_NOT_FOUND;
    }
    /* a Basic login refused: perhaps mod_authn_dbd's statement died with a
     * PostgreSQL restart; one trivial statement of ours on the same
     * connection prepares it again for the next request */
    if ((status == HTTP_UNAUTHORIZED || status == HTTP_INTERNAL_SERVER_ERROR)
        && ap_auth_type(orig)) {
        const char *auth = apr_table_get(orig->headers_in, "Authorization");

        if (auth && strncasecmp(auth, "Basic ", 6) == 0
            && im_store_ping(r) == IM_STORE_UNAVAILABLE) {
            /* the database is down, as for a token: mod_authn_dbd's 500,
             * or its 401 when the statement failed on a connection the
             * server had closed (apr_dbd_pgsql's sequential mode, which
             * it uses, reads a failed statement as "no such user") */
            im_dir_conf_t *conf = ap_get_module_config(r->per_dir_config,
                                                       &images_module);

            /* not a refused login: no challenge to answer */
            apr_table_unset(headers, "WWW-Authenticate");
            apr_table_unset(orig->err_headers_out, "WWW-Authenticate");
            apr_table_setn(headers, "Retry-After",
                           apr_itoa(r->pool, IM_CONF(conf, retry_after,
                                                     IM_DEFAULT_RETRY_AFTER)));
            *detail = "The database is unavailable; try again later.";
            return HTTP_SERVICE_UNAVAILABLE;
        }
    }
    *detail = error_detail(orig, status);
    return status;
}

#define ERROR_FILTER "IMAGES_ERROR_JSON"

/* The body that replaces httpd's page. */
typedef struct {
    char *text;
    apr_size_t len;
} error_body_t;

/* httpd writes its HTML page through here: everything before the end of
 * the response is dropped, the JSON goes in its place, and the content
 * type and length are set before the headers go out (the HTTP header
 * filter runs after this one, at the first brigade passed on: only the
 * last one is). */
static apr_status_t error_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    error_body_t *body = f->ctx;
    apr_bucket *e;

    while (!APR_BRIGADE_EMPTY(bb)) {
        e = APR_BRIGADE_FIRST(bb);
        if (APR_BUCKET_IS_EOS(e)) {
            break;
        }
        apr_bucket_delete(e);
    }
    if (APR_BRIGADE_EMPTY(bb)) {
        return APR_SUCCESS;
    }
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, body->len);
    if (!r->header_only) {
        APR_BRIGADE_INSERT_HEAD(bb, apr_bucket_pool_create(body->text,
            body->len, r->pool, f->c->bucket_alloc));
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void im_error_filter_register(void)
{
    ap_register_output_filter(ERROR_FILTER, error_filter, NULL,
                              AP_FTYPE_CONTENT_SET);
}

/* Copy a header into the table to, unless it has that value already. */
static int keep_header(void *to, const char *key, const char *val)
{
    const char *have = apr_table_get(to, key);

    if (!have) {
        apr_table_setn(to, key, val);
    }
    else if (strcasecmp(have, val) != 0) {
        apr_table_mergen(to, key, val);
    }
    return 1;
}

/* Why a filter and not ErrorDocument lines: those made httpd run an
 * internal redirect to a URL of the endpoint, which goes through
 * authentication and the other checks again; with mod_wsgi loaded that
 * redirect was itself refused, and httpd fell back to its HTML page
 * ("...while trying to use an ErrorDocument").  ap_custom_response would
 * need setting for every status before the error, and its text goes out
 * as text/html.  The insert_error_filter hook runs for every error page
 * httpd writes (a refused login, a 413, a recursive error included),
 * before the page and its headers: the status, headers and body are
 * decided here, and the filter swaps the body. */
void im_error_json(request_rec *r)
{
    error_body_t *body;
    json_t *json;
    const char *detail;
    int status;

    if (r->status < 400) {
        return;                       /* a 304 the handler returned */
    }
    /* as send_text: no waiting for a body nobody reads */
    if (body_unread(r)) {
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    /* httpd sends err_headers_out with its error pages, not headers_out,
     * where an <If> on a request header put its Vary and where httpd may
     * have moved the endpoint's headers (mod_images.c) already (a body
     * over LimitRequestBody) */
    apr_table_do(keep_header, r->err_headers_out, r->headers_out, "Vary",
                 "Cache-Control", "X-Content-Type-Options", NULL);
    im_cors_headers(r, ap_get_module_config(r->per_dir_config,
                                            &images_module));
    status = im_error_answer(r, r, r->err_headers_out, &detail);
    json = im_render_detail(detail);
    body = apr_pcalloc(r->pool, sizeof(*body));
    body->text = json ? im_json_dump(r->pool, json, &body->len) : NULL;
    json_decref(json);
    if (!body->text) {
        body->text = apr_pstrdup(r->pool, internal_error);
        body->len = sizeof(internal_error) - 1;
        status = HTTP_INTERNAL_SERVER_ERROR;
    }
    if (status != r->status) {
        r->status = status;
        r->status_line = NULL;
    }
    ap_add_output_filter(ERROR_FILTER, body, r, r->connection);
}
