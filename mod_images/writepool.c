/*
 * The write pool: PATCH's own connections (ImagesWriteDBDParams), so that a
 * site can send writes to its primary and leave reads, token checks and
 * mod_authn_dbd on mod_dbd's pool (a replica).  Built as mod_dbd builds
 * its pool: one apr_reslist per child and per distinct setting, of
 * apr_dbd "pgsql" connections, each set up as mod_dbd's are by this
 * module's post_connect hook.  Without ImagesWriteDBDParams nothing here
 * runs.
 */
#include <string.h>

#include <apr_atomic.h>
#include <apr_reslist.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "mod_images.h"

struct im_write_pool_t {
    server_rec *server;      /* whose settings (and statement limit) */
    const char *params;
    int nmin, nkeep, nmax, exptime;
    const apr_dbd_driver_t *driver;
    im_write_pool_t *next;
    /* per child, from child_init */
    apr_pool_t *pool;
    apr_reslist_t *reslist;
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;   /* serialises a late setup */
#endif
    apr_uint32_t attempts;   /* late setups finished (setup_late) */
    int destroyed;
};

/* How long a PATCH waits for a free connection when all ImagesWriteDBDMax
 * are leased (PATCHes queued on one row's lock, say): beyond the
 * statement limit the holders are cancelled anyway. */
#define ACQUIRE_MARGIN apr_time_from_sec(1)

static im_write_pool_t *pools;

static apr_status_t wp_close(void *data)
{
    ap_dbd_t *dbd = data;

    return apr_dbd_close(dbd->driver, dbd->handle);
}

static apr_status_t wp_construct(void **data, void *params, apr_pool_t *p)
{
    im_write_pool_t *wp = params;
    apr_pool_t *cp;
    ap_dbd_t *dbd;
    const char *err = NULL;
    apr_status_t rv = apr_pool_create(&cp, p);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_tag(cp, "mod_images_write_conn");
    dbd = apr_pcalloc(cp, sizeof(*dbd));
    dbd->pool = cp;
    dbd->driver = wp->driver;
    rv = apr_dbd_open_ex(wp->driver, cp, wp->params, &dbd->handle, &err);
    if (rv != APR_SUCCESS) {
        /* (libpq's message, on one line) */
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, wp->server, APLOGNO(20101)
                     "cannot connect the write pool (ImagesWriteDBDParams): "
                     "%s; PATCH gets 503 until it can",
                     im_pg_message(cp, err));
        apr_pool_destroy(cp);
        return rv;
    }
    apr_pool_cleanup_register(cp, dbd, wp_close, apr_pool_cleanup_null);
    dbd->prepared = apr_hash_make(cp);
    im_stats_count(IM_STAT_CONNECT);
    im_store_connected(wp->server, cp, dbd);
    *data = dbd;
    return APR_SUCCESS;
}

static apr_status_t wp_destruct(void *data, void *params, apr_pool_t *p)
{
    im_write_pool_t *wp = params;

    (void)p;
    /* when the child exits, its pool destroys every connection's pool
     * before the reslist's own cleanup runs: not twice */
    if (!wp->destroyed) {
        apr_pool_destroy(((ap_dbd_t *)data)->pool);
    }
    return APR_SUCCESS;
}

static apr_status_t wp_destroyed(void *data)
{
    ((im_write_pool_t *)data)->destroyed = 1;
    return APR_SUCCESS;
}

static apr_status_t wp_setup(im_write_pool_t *wp)
{
    apr_pool_t *sub;
    apr_reslist_t *rl = NULL;
    apr_status_t rv = apr_pool_create(&sub, wp->pool);

    if (rv == APR_SUCCESS) {
        rv = apr_reslist_create(&rl, wp->nmin, wp->nkeep, wp->nmax,
                                apr_time_from_sec(wp->exptime),
                                wp_construct, wp_destruct, wp, sub);
        if (rv != APR_SUCCESS) {
            apr_pool_destroy(sub);     /* a failed attempt leaves nothing */
        }
    }
    if (rv != APR_SUCCESS) {
        wp->reslist = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, wp->server, APLOGNO(20102)
                     "the write pool could not open its ImagesWriteDBDMin "
                     "connections; trying again at the next PATCH");
        return rv;
    }
    if (im_store_statement_timeout(wp->server) > 0) {
        apr_reslist_timeout_set(rl,
            apr_time_from_msec(im_store_statement_timeout(wp->server))
            + ACQUIRE_MARGIN);
    }
    /* registered after the reslist's: runs before it */
    apr_pool_cleanup_register(sub, wp, wp_destroyed, apr_pool_cleanup_null);
    wp->reslist = rl;            /* published last, set up */
    return APR_SUCCESS;
}

int im_write_pool_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp, server_rec *s)
{
    server_rec *sp;

    (void)plog;
    (void)ptemp;
    pools = NULL;
    for (sp = s; sp; sp = sp->next) {
        im_server_conf_t *conf = ap_get_module_config(sp->module_config,
                                                      &images_module);
        im_write_pool_t *wp;
        int nmin = IM_CONF(conf, write_min, IM_DEFAULT_WRITE_MIN);
        int nkeep = IM_CONF(conf, write_keep, IM_DEFAULT_WRITE_KEEP);
        int nmax = IM_CONF(conf, write_max, IM_DEFAULT_WRITE_MAX);
        int exptime = IM_CONF(conf, write_exptime,
                              IM_DEFAULT_WRITE_EXPTIME);
        apr_status_t rv;

        conf->write_pool = NULL;
        if (!conf->write_params) {
            continue;
        }
        if (nmax < 1 || nmin > nkeep || nkeep > nmax) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, APLOGNO(20103)
                         "ImagesWriteDBDMin (%d) <= ImagesWriteDBDKeep (%d) "
                         "<= ImagesWriteDBDMax (%d), and Max >= 1, needed",
                         nmin, nkeep, nmax);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        /* a virtual host with the main server's settings shares its pool
         * (and statement limit and session setup) */
        for (wp = pools; wp; wp = wp->next) {
            im_server_conf_t *wc = ap_get_module_config(
                wp->server->module_config, &images_module);

            if (strcmp(wp->params, conf->write_params) == 0
                && wp->nmin == nmin && wp->nkeep == nkeep
                && wp->nmax == nmax && wp->exptime == exptime
                && IM_CONF(wc, statement_timeout, IM_DEFAULT_STATEMENT_TIMEOUT)
                   == IM_CONF(conf, statement_timeout,
                              IM_DEFAULT_STATEMENT_TIMEOUT)
                && IM_CONF(wc, session_setup, IM_DEFAULT_SESSION_SETUP)
                   == IM_CONF(conf, session_setup, IM_DEFAULT_SESSION_SETUP)) {
                break;
            }
        }
        if (!wp) {
            wp = apr_pcalloc(pconf, sizeof(*wp));
            wp->server = sp;
            wp->params = conf->write_params;
            wp->nmin = nmin;
            wp->nkeep = nkeep;
            wp->nmax = nmax;
            wp->exptime = exptime;
            rv = apr_dbd_get_driver(pconf, "pgsql", &wp->driver);
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, rv, sp, APLOGNO(20104)
                             "ImagesWriteDBDParams needs apr_dbd's pgsql "
                             "driver (Debian: libaprutil1-dbd-pgsql)");
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            wp->next = pools;
            pools = wp;
        }
        conf->write_pool = wp;
    }
    return OK;
}

void im_write_pool_child_init(apr_pool_t *pchild, server_rec *s)
{
    im_write_pool_t *wp;

    for (wp = pools; wp; wp = wp->next) {
        apr_status_t rv = apr_pool_create(&wp->pool, pchild);

        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(20105)
                         "no memory for the write pool");
            continue;
        }
        apr_pool_tag(wp->pool, "mod_images_write_pool");
#if APR_HAS_THREADS
        rv = apr_thread_mutex_create(&wp->mutex, APR_THREAD_MUTEX_DEFAULT,
                                     wp->pool);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(20106)
                         "no mutex for the write pool");
            wp->pool = NULL;
            continue;
        }
#endif
        wp_setup(wp);
    }
}

static im_write_pool_t *pool_of(request_rec *r)
{
    im_server_conf_t *conf = ap_get_module_config(r->server->module_config,
                                                  &images_module);
    return conf->write_pool;
}

int im_write_pool_configured(request_rec *r)
{
    return pool_of(r) != NULL;
}

/* What r holds, for the release at the end of the request. */
typedef struct {
    im_write_pool_t *wp;
    ap_dbd_t *dbd;
} lease_t;

#define LEASE_KEY "mod_images_write_lease"

static apr_status_t release(void *data)
{
    lease_t *lease = data;

    apr_reslist_release(lease->wp->reslist, lease->dbd);
    return APR_SUCCESS;
}

/* A pool that could not be set up (the database was down when the child
 * started, or at the last PATCH): this PATCH tries again, for the database
 * may be back.  PATCHes that arrive during an attempt wait for it and take
 * its outcome, rather than each trying in turn after it (ImagesWriteDBDMin
 * times connect_timeout apiece).  0: that attempt failed, 503 at once. */
static int setup_late(request_rec *r, im_write_pool_t *wp)
{
#if APR_HAS_THREADS
    apr_uint32_t seen = apr_atomic_read32(&wp->attempts);
    int shared = 0;
    apr_status_t rv = apr_thread_mutex_trylock(wp->mutex);

    if (APR_STATUS_IS_EBUSY(rv)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, APLOGNO(20109)
                      "another PATCH is connecting the write pool; "
                      "waiting for it");
        rv = apr_thread_mutex_lock(wp->mutex);
    }
    if (rv != APR_SUCCESS) {
        return 1;                 /* (AH20107 follows) */
    }
    if (!wp->reslist) {
        if (apr_atomic_read32(&wp->attempts) == seen) {
            wp_setup(wp);
            apr_atomic_inc32(&wp->attempts);
        }
        else {
            shared = 1;
        }
    }
    apr_thread_mutex_unlock(wp->mutex);
    if (shared) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(20108)
                      "the write pool's attempt to connect that this PATCH "
                      "waited for failed (ImagesWriteDBDParams), "
                      "answering 503");
        return 0;
    }
#else
    (void)r;
    wp_setup(wp);
#endif
    return 1;
}

ap_dbd_t *im_write_pool_acquire(request_rec *r)
{
    im_write_pool_t *wp = pool_of(r);
    lease_t *lease;
    void *dbd = NULL;
    apr_status_t rv = APR_EGENERAL;

    if (!wp || !wp->pool) {
        return NULL;
    }
    if (!wp->reslist && !setup_late(r, wp)) {
        return NULL;
    }
    if (!wp->reslist
        || (rv = apr_reslist_acquire(wp->reslist, &dbd)) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, APLOGNO(20107)
                      "no connection from the write pool "
                      "(ImagesWriteDBDParams), answering 503");
        return NULL;
    }
    lease = apr_palloc(r->pool, sizeof(*lease));
    lease->wp = wp;
    lease->dbd = dbd;
    apr_pool_userdata_setn(lease, LEASE_KEY, NULL, r->pool);
    apr_pool_cleanup_register(r->pool, lease, release,
                              apr_pool_cleanup_null);
    return dbd;
}

void im_write_pool_invalidate(request_rec *r, ap_dbd_t *dbd)
{
    lease_t *lease = NULL;

    apr_pool_userdata_get((void **)&lease, LEASE_KEY, r->pool);
    if (!lease || lease->dbd != dbd) {
        return;
    }
    apr_pool_cleanup_kill(r->pool, lease, release);
    apr_pool_userdata_setn(NULL, LEASE_KEY, NULL, r->pool);
    apr_reslist_invalidate(lease->wp->reslist, dbd);
}
