/* Request to plan: the pure checks first, then the loop's open-file cache, then the
 * router (which opens), then the planner (which does not). A missing page falls back to
 * the --spa file or the site's own 404 page, looked up the same way. The body file
 * changes hands here only through the exchange's ownership calls. */
#include "sluice/respond.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "sluice/listbody.h"
#include "sluice/negotiate.h"
#include "sluice/router.h"
#include "sluice/serve.h"

#define DEFAULT_ERROR_PAGE "404.html"

int sl_responder_init(struct sl_responder *r, uv_loop_t *loop, const struct sl_config *cfg,
                      struct sl_cache *cache, struct sl_root_shared *shared, uint64_t seed)
{
    r->cfg = cfg;
    r->cache = cache;
    r->date_sec = -1;
    r->date[0] = '\0';
    r->boundary = seed;
    r->live = NULL;
    unsigned loops = cfg->threads > 0 ? cfg->threads : 1;
    sl_dircache_init(&r->dirs, loop, cfg, SL_DIRCACHE_BYTES / loops);
    /* Inside a chroot the root's path means nothing: keep serving what is held. */
    return sl_root_init(&r->root, cfg->chroot ? NULL : cfg->root, cfg->root_fd, shared);
}

void sl_responder_free(struct sl_responder *r)
{
    sl_dircache_free(&r->dirs);
    sl_root_free(&r->root);
}

static enum sl_root_change check_root(struct sl_responder *r, uint64_t now_ms, bool force)
{
    enum sl_root_change change = sl_root_check(&r->root, now_ms, force);
    if (change != SL_ROOT_SAME) {
        sl_cache_clear(r->cache); /* every entry belongs to the old tree */
        sl_dircache_clear(&r->dirs);
    }
    return change;
}

void sl_responder_tick(struct sl_responder *r, uint64_t now_ms)
{
    check_root(r, now_ms, false);
    sl_dircache_expire(&r->dirs, now_ms);
}

void sl_responder_follow(struct sl_responder *r, const struct sl_live_shared *live)
{
    r->live = live;
}

/* --live: one atomic load per request. Acquire pairs with the watcher's release: what
 * it saw happened before this request's lookups. */
static void follow_watcher(struct sl_responder *r, uint64_t now_ms)
{
    unsigned gen = atomic_load_explicit(&r->live->generation, memory_order_acquire);
    if (gen == r->cache->gen)
        return;
    sl_cache_set_generation(r->cache, gen);
    check_root(r, now_ms, true);
}

/* This second, with its HTTP-date formatted once per second. */
static struct sl_plan_env plan_env(struct sl_responder *r)
{
    time_t now = time(NULL); /* vDSO: no syscall */
    if (now != r->date_sec) {
        sl_httpdate_format(now, r->date);
        r->date_sec = now;
    }
    return (struct sl_plan_env){
        .cfg = r->cfg, .now = now, .date = r->date, .boundary = ++r->boundary};
}

/* One request on its way to a plan: the moment, the clean path and its cache key (the
 * path, plus '/' when the directory form was asked for: that form names the
 * directory's index.html; key_len 0: too long to cache). */
struct lookup {
    struct sl_plan_env env;
    uint64_t now_ms; /* the loop's clock, for the cache */
    struct sl_path path;
    size_t key_len;
    char key[SL_PATH_MAX + 1];
};

static void make_key(struct lookup *l)
{
    l->key_len = 0;
    if (l->path.len + 1 >= sizeof(l->key))
        return;
    memcpy(l->key, l->path.rel, l->path.len);
    l->key_len = l->path.len;
    if (l->path.trailing_slash)
        l->key[l->key_len++] = '/';
}

/* What a lookup found: a file to answer from (in the cache or just opened), nothing
 * (404), or something else the router decided (redirect, listing, error). */
enum found { FOUND_FILE, FOUND_MISSING, FOUND_ROUTE };

/* Answers from cache entry e (referenced for this response). */
static enum found found_cached(struct sl_exchange *ex, struct sl_cache_entry *e,
                               const struct sl_file_rep **rep)
{
    sl_exchange_borrow(ex, e);
    *rep = &e->rep;
    return e->status == 0 ? FOUND_FILE : FOUND_MISSING;
}

/* A file the router opened: identity files without variants are cached for the next
 * requests (a file with variants is negotiated afresh each time). */
static enum found found_file(struct sl_responder *r, const struct lookup *l, struct sl_exchange *ex,
                             struct sl_route *route, const struct sl_file_rep **rep)
{
    sl_exchange_set_file(ex, route->fd);
    sl_exchange_set_version(ex, &route->rep.st);
    route->fd = -1;
    *rep = &route->rep;
    if (l->key_len == 0 || route->rep.encoding != SL_ENC_IDENTITY || route->rep.variants)
        return FOUND_FILE;
    int fd = sl_exchange_take_file(ex);
    struct sl_cache_entry *e =
        sl_cache_put(r->cache, l->key, l->key_len, l->now_ms, &route->rep, &fd);
    sl_exchange_set_file(ex, fd); /* still ours when the cache did not take it */
    return e ? found_cached(ex, e, rep) : FOUND_FILE;
}

/* Looks l->key up: the cache first, then the router (cfg-chosen pages by file name,
 * request paths by path). *rep is set for FOUND_FILE. */
static enum found find(struct sl_responder *r, const struct lookup *l, struct sl_exchange *ex,
                       bool by_file, struct sl_route *route, const struct sl_file_rep **rep)
{
    struct sl_cache_entry *e =
        l->key_len ? sl_cache_get(r->cache, l->key, l->key_len, l->now_ms) : NULL;
    if (e)
        return found_cached(ex, e, rep);
    if (!sl_exchange_file_allowed(ex)) {
        /* Every body file this loop may hold is in use (--max-conns beyond the default
         * share of the descriptor table): busy, rather than EMFILE and a 500. */
        route->kind = SL_ROUTE_ERROR;
        route->status = 503;
        route->fd = -1;
        return FOUND_ROUTE;
    }
    if (by_file)
        sl_router_resolve_file(r->cfg, r->root.fd, l->path.rel, ex->req.accept_encoding, route);
    else
        sl_router_resolve(r->cfg, r->root.fd, &l->path, ex->req.accept_encoding, route);
    if (route->kind == SL_ROUTE_FILE)
        return found_file(r, l, ex, route, rep);
    if (route->kind != SL_ROUTE_ERROR || route->status != 404)
        return FOUND_ROUTE;
    if (l->key_len > 0)
        sl_cache_put_missing(r->cache, l->key, l->key_len, l->now_ms);
    return FOUND_MISSING;
}

/* Points l at a page chosen by configuration (root-relative). False when it cannot be. */
static bool lookup_page(struct lookup *l, const char *rel)
{
    size_t n = strlen(rel);
    if (n >= sizeof(l->path.rel))
        return false;
    memcpy(l->path.rel, rel, n + 1);
    l->path.len = n;
    l->path.trailing_slash = false;
    make_key(l);
    return true;
}

/* --spa: a page the client navigates to (accepts HTML, no extension in the last
 * segment) is answered with the app's entry page; missing assets stay 404. */
static bool spa_applies(const struct sl_config *cfg, const struct sl_request *req,
                        const struct sl_path *path)
{
    if (!cfg->spa || !req->accept.p || !memmem(req->accept.p, req->accept.n, "text/html", 9))
        return false;
    const char *end = path->rel + path->len;
    const char *seg = memrchr(path->rel, '/', path->len);
    seg = seg ? seg + 1 : path->rel;
    return memchr(seg, '.', (size_t)(end - seg)) == NULL;
}

/* A page chosen by configuration, answered with `status` (0: as the file itself). */
static bool respond_page(struct sl_responder *r, struct lookup *l, struct sl_exchange *ex,
                         const char *rel, int status)
{
    sl_exchange_end_response(ex, r->cache); /* the first lookup's cache entry */
    struct sl_route route;
    const struct sl_file_rep *rep = NULL;
    if (!lookup_page(l, rel) || find(r, l, ex, true, &route, &rep) != FOUND_FILE) {
        sl_exchange_end_response(ex, r->cache);
        return false;
    }
    if (status == 0)
        sl_serve_file(&l->env, &ex->req, &l->path, rep, &ex->plan);
    else
        sl_serve_error_file(&l->env, &ex->req, status, rep, &ex->plan);
    return true;
}

/* Nothing at the path: the --spa page, the site's own 404 page, or the built-in one. */
static void respond_missing(struct sl_responder *r, struct lookup *l, struct sl_exchange *ex,
                            bool spa)
{
    if (spa && spa_applies(r->cfg, &ex->req, &l->path)) {
        l->env.revalidate = true;
        if (respond_page(r, l, ex, r->cfg->spa, 0))
            return;
    }
    const char *page = r->cfg->error_page ? r->cfg->error_page : DEFAULT_ERROR_PAGE;
    if (!respond_page(r, l, ex, page, 404))
        sl_serve_error(&l->env, &ex->req, 404, false, &ex->plan);
}

static void release_dirlist(void *arg)
{
    sl_dirlist_release(arg);
}

/* The planned listing body's producer, which holds the list; a 500 when it cannot be had
 * (nothing has been sent yet). */
static void attach_listing_body(struct lookup *l, struct sl_exchange *ex, struct sl_dirlist *d)
{
    enum sl_listing_format f =
        ex->plan.produce == SL_PRODUCE_LISTING_JSON ? SL_LISTING_JSON : SL_LISTING_HTML;
    char url_path[SL_LISTING_URL_MAX];
    sl_listing_url_path(l->path.rel, l->path.len, url_path, sizeof(url_path));
    ex->plan.producer = sl_listbody_new(&d->list, f, url_path, release_dirlist, d);
    if (ex->plan.producer)
        sl_dirlist_hold(d);
    else
        sl_serve_error(&l->env, &ex->req, 500, false, &ex->plan);
}

/* A directory to list (route->fd): its entries from the loop's directory cache, or false
 * while they are read in the thread pool (ex waits; the caller asks again when woken). */
static bool respond_listing(struct sl_responder *r, struct lookup *l, struct sl_exchange *ex,
                            struct sl_route *route)
{
    struct sl_dirlist *d = NULL;
    int rc = sl_dircache_get(&r->dirs, route->fd, &route->rep.st, r->root.fd, l->path.rel,
                             l->now_ms, &ex->wait, &d);
    route->fd = -1;
    if (rc == SL_DIRCACHE_WAIT)
        return false;
    int err = rc < 0 ? rc : d->status;
    if (err == -EFBIG || err == -ENOBUFS)
        sl_serve_listing_refused(&l->env, &ex->req, err == -EFBIG, &ex->plan);
    else if (err != 0)
        sl_serve_error(&l->env, &ex->req, sl_status_for_errno(-err), false, &ex->plan);
    else
        sl_serve_listing(&l->env, &ex->req, &l->path, &d->list, &ex->plan);
    if (err == 0 && ex->plan.produce != SL_PRODUCE_NONE)
        attach_listing_body(l, ex, d);
    if (d)
        sl_dirlist_release(d);
    return true;
}

static bool respond_route(struct sl_responder *r, struct lookup *l, struct sl_exchange *ex,
                          struct sl_route *route)
{
    switch (route->kind) {
    case SL_ROUTE_REDIRECT: sl_serve_redirect(&l->env, &ex->req, &l->path, &ex->plan); break;
    case SL_ROUTE_LISTING: return respond_listing(r, l, ex, route);
    default: sl_serve_error(&l->env, &ex->req, route->status, false, &ex->plan); break;
    }
    return true;
}

/* A path the root does not have (a miss the cache did not remember), or a directory
 * listing, may only mean that the root was deleted a moment ago by a rebuild: check the
 * root now, before answering 404 or listing a deleted directory as empty. Hits are not
 * checked (they stay at one check a second), nor are remembered misses. */
static bool answer_is_suspect(const struct sl_exchange *ex, enum found found,
                              const struct sl_route *route)
{
    if (found == FOUND_MISSING)
        return ex->pinned == NULL;
    return found == FOUND_ROUTE && route->kind == SL_ROUTE_LISTING;
}

/* A clean path that passed the checks: found in the cache or by the router. False
 * while the answer waits for work off the loop. */
static bool respond_path(struct sl_responder *r, struct lookup *l, struct sl_exchange *ex,
                         bool root_confirmed)
{
    make_key(l);
    struct sl_route route;
    const struct sl_file_rep *rep = NULL;
    enum found found = find(r, l, ex, false, &route, &rep);
    if (!root_confirmed && answer_is_suspect(ex, found, &route) &&
        check_root(r, l->now_ms, true) != SL_ROOT_SAME) {
        if (found == FOUND_ROUTE && route.fd >= 0)
            close(route.fd);
        sl_exchange_end_response(ex, r->cache);
        if (!sl_root_missing(&r->root))
            return respond_path(r, l, ex, true); /* the new root, checked just now */
        sl_serve_root_missing(&l->env, &ex->req, &ex->plan);
        return true;
    }
    switch (found) {
    case FOUND_FILE: sl_serve_file(&l->env, &ex->req, &l->path, rep, &ex->plan); break;
    case FOUND_MISSING: respond_missing(r, l, ex, true); break;
    case FOUND_ROUTE: return respond_route(r, l, ex, &route);
    }
    return true;
}

bool sl_respond(struct sl_responder *r, uint64_t now_ms, struct sl_exchange *ex)
{
    struct lookup l; /* not zeroed: it is large and every field is written before use */
    l.env = plan_env(r);
    l.now_ms = now_ms;
    if (r->live)
        follow_watcher(r, now_ms);
    check_root(r, now_ms, false);
    int status = sl_serve_check(&l.env, &ex->req, &l.path);
    if (status == SL_SERVE_EVENT_STREAM)
        sl_serve_event_stream(&l.env, &ex->req, r->live ? r->live->boot : 0, &ex->plan);
    else if (status == 204)
        sl_serve_options(&l.env, &ex->req, &ex->plan);
    else if (status != 0 && status != 404)
        sl_serve_error(&l.env, &ex->req, status, status == 400, &ex->plan);
    else if (sl_root_missing(&r->root))
        sl_serve_root_missing(&l.env, &ex->req, &ex->plan);
    else if (status == 404)
        respond_missing(r, &l, ex, false); /* a hidden name: as if it did not exist */
    else if (!respond_path(r, &l, ex, false))
        return false;
    if (!ex->plan.uses_file)
        sl_exchange_drop_file(ex); /* not held open while the head goes out */
    return true;
}

void sl_respond_error(struct sl_responder *r, struct sl_exchange *ex, int status)
{
    struct sl_plan_env env = plan_env(r);
    sl_exchange_drop_file(ex);
    sl_serve_error(&env, &ex->req, status, true, &ex->plan);
}
