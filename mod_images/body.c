/*
 * The request body: read through the input filters (so chunked bodies,
 * mod_deflate's inflation and LimitRequestBody all apply) into the request
 * pool, refusing anything past the configured limit.
 */
#include <string.h>

#include <apr_strings.h>
#include <http_protocol.h>
#include <util_filter.h>

#include "mod_images.h"

int im_read_body(request_rec *r, apr_off_t limit, char **body,
                 apr_size_t *len)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_bucket_brigade *bb;
    apr_size_t used = 0, cap = 1024;
    char *buf;
    int seen_eos = 0;

    *body = NULL;
    *len = 0;
    if (cl) {
        char *end;
        apr_off_t n;
        if (apr_strtoff(&n, cl, &end, 10) == APR_SUCCESS && !*end
            && n > limit) {
            /* do not read what will be refused; do not reuse the stream */
            r->connection->keepalive = AP_CONN_CLOSE;
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
    }

    buf = apr_palloc(r->pool, cap);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    while (!seen_eos) {
        apr_bucket *b;
        apr_status_t rv = ap_get_brigade(r->input_filters, bb,
                                         AP_MODE_READBYTES, APR_BLOCK_READ,
                                         HUGE_STRING_LEN);
        if (rv != APR_SUCCESS) {
            r->connection->keepalive = AP_CONN_CLOSE;
            apr_brigade_destroy(bb);
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t n;

            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(b)) {
                continue;
            }
            if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ)
                != APR_SUCCESS) {
                r->connection->keepalive = AP_CONN_CLOSE;
                apr_brigade_destroy(bb);
                return HTTP_BAD_REQUEST;
            }
            if ((apr_off_t)(used + n) > limit) {
                r->connection->keepalive = AP_CONN_CLOSE;
                apr_brigade_destroy(bb);
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
            if (used + n + 1 > cap) {
                char *grown;
                while (used + n + 1 > cap) {
                    cap *= 2;
                }
                grown = apr_palloc(r->pool, cap);
                memcpy(grown, buf, used);
                buf = grown;
            }
            memcpy(buf + used, data, n);
            used += n;
        }
        apr_brigade_cleanup(bb);
    }
    apr_brigade_destroy(bb);
    apr_table_setn(r->notes, IM_NOTE_BODY_READ, "1");
    buf[used] = '\0';
    *body = buf;
    *len = used;
    return OK;
}
