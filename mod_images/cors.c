/*
 * Cross-origin requests (CORS): pages on the origins that ImagesCORSOrigins
 * lists may read the API, send PATCH with Authorization, Content-Type and
 * If-Match, and read the ETag.  A listed origin is echoed back, with
 * credentials allowed; "*" allows any origin but never with credentials;
 * an origin not listed gets no CORS header at all.
 */
#include <string.h>

#include <apr_strings.h>

#include "mod_images.h"

#define ALLOW_METHODS "GET, HEAD, PATCH, OPTIONS"
#define ALLOW_HEADERS "Authorization, Content-Type, If-Match, If-None-Match"
#define MAX_AGE       "600"

int im_cors_is_preflight(request_rec *r)
{
    return r->method_number == M_OPTIONS
           && apr_table_get(r->headers_in, "Origin")
           && apr_table_get(r->headers_in, "Access-Control-Request-Method");
}

void im_cors_headers(request_rec *r, const im_dir_conf_t *conf)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    int i, listed = 0;

    if (!conf->cors_origins) {
        return;
    }
    /* the answer depends on Origin, whether it is listed or not */
    apr_table_mergen(r->err_headers_out, "Vary", "Origin");
    if (!origin) {
        return;
    }
    for (i = 0; i < conf->cors_origins->nelts; i++) {
        if (strcasecmp(origin, APR_ARRAY_IDX(conf->cors_origins, i,
                                             const char *)) == 0) {
            listed = 1;
            break;
        }
    }
    if (listed) {
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Origin",
                       origin);
        apr_table_setn(r->err_headers_out,
                       "Access-Control-Allow-Credentials", "true");
    }
    else if (conf->cors_any == 1) {
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Origin",
                       "*");
    }
    else {
        return;
    }
    apr_table_setn(r->err_headers_out, "Access-Control-Expose-Headers",
                   "ETag, Retry-After, WWW-Authenticate");
    if (im_cors_is_preflight(r)) {
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Methods",
                       ALLOW_METHODS);
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Headers",
                       ALLOW_HEADERS);
        apr_table_setn(r->err_headers_out, "Access-Control-Max-Age",
                       MAX_AGE);
    }
}
