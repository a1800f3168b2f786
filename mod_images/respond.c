/*
 * What goes back: JSON bodies with their status, content type, length and
 * validators.  Errors are JSON too, written here rather than by httpd's
 * error pages, so no client ever parses HTML.
 */
#include <apr_strings.h>
#include <http_protocol.h>

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
