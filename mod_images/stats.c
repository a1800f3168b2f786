/*
 * The module's counters, server-wide: requests of the endpoint by what
 * they asked for and the class of their status, database failures and
 * recoveries, and the time requests waited for a pooled connection.
 * mod_status shows them on its server-status page and in its ?auto form.
 *
 * They live in anonymous shared memory that httpd's parent creates once,
 * in its process pool: every child inherits it, and a graceful restart
 * (a new generation of children, the module's DSO loaded again) finds the
 * same memory, so the counts go on until httpd stops.  Children add with
 * 64-bit atomics; nothing is locked.
 */
#include <string.h>

#include <apr_atomic.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <mod_status.h>

#include "mod_images.h"

#define CLASSES 4                      /* 2xx, 3xx, 4xx, 5xx */

typedef struct {
    volatile apr_uint64_t requests[IM_EP_COUNT][CLASSES];
    volatile apr_uint64_t counts[IM_STAT_COUNT];
    volatile apr_uint64_t wait_usec;
    volatile apr_uint64_t waits;
} im_stats_t;

/* The process pool's key, with im_stats_t's size after it: the block
 * outlives graceful restarts, perhaps into a build whose layout is larger
 * (a block of another size is never found again). */
#define STATS_KEY "mod_images_stats"

/* Set in the parent at post_config, inherited by the children; NULL until
 * then (the configuration check) and if the memory could not be had. */
static im_stats_t *stats;

static const char *const endpoint_names[IM_EP_COUNT] = {
    "Item", "List", "Patch", "Other"
};

/* Names in ?auto, and what the HTML page says. */
static const struct {
    const char *key;
    const char *text;
} count_names[IM_STAT_COUNT] = {
    { "ImagesDbErrors", "statements that failed" },
    { "ImagesDbUnavailable", "no connection, or one at another schema" },
    { "ImagesDbConnects", "connections mod_dbd opened" },
    { "ImagesDbReconnects", "reset connections set up again" },
    { "ImagesDbReprepares", "prepared statements lost with a reset" },
};

void im_stats_count(im_stat_e what)
{
    if (stats && what < IM_STAT_COUNT) {
        apr_atomic_inc64(&stats->counts[what]);
    }
}

void im_stats_wait(request_rec *r, apr_interval_time_t waited)
{
    if (!stats || apr_table_get(r->notes, "mod_images-waited")) {
        return;
    }
    apr_table_setn(r->notes, "mod_images-waited", "1");
    apr_atomic_add64(&stats->wait_usec, waited > 0 ? waited : 0);
    apr_atomic_inc64(&stats->waits);
}

void im_stats_request(request_rec *r, im_endpoint_e endpoint)
{
    int status, class;

    if (!stats || endpoint >= IM_EP_COUNT) {
        return;
    }
    /* the status of the last internal redirect, as the access log's %>s */
    while (r->next) {
        r = r->next;
    }
    status = r->status;
    class = status < 300 ? 0 : status < 400 ? 1 : status < 500 ? 2 : 3;
    apr_atomic_inc64(&stats->requests[endpoint][class]);
}

int im_stats_init(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                  server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    apr_shm_t *shm = NULL;
    const char *key;
    apr_status_t rv;

    (void)pconf;
    (void)plog;
    (void)ptemp;
    /* httpd reads its configuration twice at start: once to check it */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    key = apr_psprintf(pproc, STATS_KEY "_%" APR_SIZE_T_FMT,
                       sizeof(im_stats_t));
    apr_pool_userdata_get((void **)&shm, key, pproc);
    if (!shm) {
        rv = apr_shm_create(&shm, sizeof(im_stats_t), NULL, pproc);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, APLOGNO(20206)
                         "no shared memory for the module's counters: "
                         "server-status will not show them");
            stats = NULL;
            return OK;
        }
        memset(apr_shm_baseaddr_get(shm), 0, sizeof(im_stats_t));
        apr_pool_userdata_set(shm, key, apr_pool_cleanup_null, pproc);
    }
    stats = apr_shm_baseaddr_get(shm);
    return OK;
}

static apr_uint64_t get(volatile apr_uint64_t *v)
{
    return apr_atomic_read64(v);
}

static void status_short(request_rec *r)
{
    int e, c, i;

    for (e = 0; e < IM_EP_COUNT; e++) {
        for (c = 0; c < CLASSES; c++) {
            ap_rprintf(r, "ImagesRequests%s%dxx: %" APR_UINT64_T_FMT "\n",
                       endpoint_names[e], c + 2,
                       get(&stats->requests[e][c]));
        }
    }
    for (i = 0; i < IM_STAT_COUNT; i++) {
        ap_rprintf(r, "%s: %" APR_UINT64_T_FMT "\n", count_names[i].key,
                   get(&stats->counts[i]));
    }
    ap_rprintf(r, "ImagesDbWaits: %" APR_UINT64_T_FMT "\n"
               "ImagesDbWaitMicroseconds: %" APR_UINT64_T_FMT "\n",
               get(&stats->waits), get(&stats->wait_usec));
}

static void status_html(request_rec *r)
{
    apr_uint64_t waits = get(&stats->waits);
    apr_uint64_t usec = get(&stats->wait_usec);
    int e, c, i;

    ap_rputs("<hr />\n<h2>mod_images</h2>\n<table border=\"1\">\n"
             "<tr><th>requests</th><th>2xx</th><th>3xx</th><th>4xx</th>"
             "<th>5xx</th></tr>\n", r);
    for (e = 0; e < IM_EP_COUNT; e++) {
        ap_rprintf(r, "<tr><td>%s</td>", endpoint_names[e]);
        for (c = 0; c < CLASSES; c++) {
            ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td>",
                       get(&stats->requests[e][c]));
        }
        ap_rputs("</tr>\n", r);
    }
    ap_rputs("</table>\n<dl>\n", r);
    for (i = 0; i < IM_STAT_COUNT; i++) {
        ap_rprintf(r, "<dt>%s (%s): %" APR_UINT64_T_FMT "</dt>\n",
                   count_names[i].text, count_names[i].key,
                   get(&stats->counts[i]));
    }
    ap_rprintf(r, "<dt>waits for a pooled connection: %" APR_UINT64_T_FMT
               ", %" APR_UINT64_T_FMT " &micro;s in all (%" APR_UINT64_T_FMT
               " &micro;s each on average)</dt>\n</dl>\n",
               waits, usec, waits ? usec / waits : 0);
}

int im_stats_status(request_rec *r, int flags)
{
    if (!stats) {
        return OK;
    }
    if (flags & AP_STATUS_SHORT) {
        status_short(r);
    }
    else {
        status_html(r);
    }
    return OK;
}
