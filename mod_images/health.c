/*
 * The health check an administrator mounts where they like, for load
 * balancers and mod_proxy_hcheck:
 *
 *     <Location /images-health>
 *         SetHandler images-health
 *     </Location>
 *
 * 200 {"status": "ok", "schema_version": N} when a pooled connection
 * answers one trivial statement at the schema version of this module,
 * else 503 with Retry-After.  No authentication of its own, never cached.
 */
#include <string.h>

#include <apr_strings.h>
#include <http_protocol.h>

#include "mod_images.h"

int im_health_handler(request_rec *r)
{
    im_dir_conf_t *conf;
    im_store_status_e st;

    if (!r->handler || strcmp(r->handler, "images-health") != 0) {
        return DECLINED;
    }
    /* a whole answer, whatever Range asks (as the API's, handler.c) */
    ap_remove_output_filter_byhandle(r->output_filters, "BYTERANGE");
    /* (err_headers_out: on every answer, even one httpd writes) */
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
    /* checkers ask with GET, HEAD (mod_proxy_hcheck: hcmethod) or OPTIONS */
    if (r->method_number != M_GET && r->method_number != M_OPTIONS) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD, OPTIONS");
        return im_send_detail(r, HTTP_METHOD_NOT_ALLOWED, apr_psprintf(
            r->pool, "Method \"%s\" not allowed.",
            im_utf8_valid(r->method) ? r->method : "?"));
    }
    ap_discard_request_body(r);

    /* im_store_ping brings a reset connection back, as a request would;
     * a connection at another schema version is not one (503) */
    st = im_store_ping(r);
    if (st == IM_STORE_OK) {
        return im_send_json(r, HTTP_OK, json_pack("{s:s,s:i}", "status", "ok",
                                                  "schema_version",
                                                  im_store_schema_version()));
    }
    conf = ap_get_module_config(r->per_dir_config, &images_module);
    apr_table_setn(r->headers_out, "Retry-After",
                   apr_itoa(r->pool, IM_CONF(conf, retry_after,
                                             IM_DEFAULT_RETRY_AFTER)));
    return im_send_json(r, HTTP_SERVICE_UNAVAILABLE, json_pack("{s:s,s:s}",
        "status", "unavailable", "detail",
        st == IM_STORE_UNAVAILABLE
        ? "The database is unavailable or at another schema version."
        : "The database did not answer the health check."));
}
