/* Request to plan: the pure checks first, then the loop's open-file cache, then the
 * router (which opens), then the planner (which does not). A missing page falls back to
 * the --spa file or the site's own 404 page, found the same way (their cache entries
 * held between requests). The body file
 * changes hands here only through the exchange's ownership calls. */
#include "sluice/respond.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "sluice/listbody.h"
#include "sluice/negotiate.h"
#include "sluice/router.h"
#include "sluice/serve.h"
#include "sluice/tarbody.h"

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
    r->error_page = r->spa_page = (struct sl_page_key){.rel = NULL, .held = NULL};
    r->not_found = sl_built_in_page(404);
    unsigned loops = cfg->threads > 0 ? cfg->threads : 1;
    sl_dircache_init(&r->dirs, loop, cfg, SL_DIRCACHE_BYTES / loops);
    sl_tarcache_init(&r->tars, loop, cfg, SL_TARCACHE_BYTES / loops);
    /* Inside a chroot the root's path means nothing: keep serving what is held. */
    return sl_root_init(&r->root, cfg->chroot ? NULL : cfg->root, cfg->root_fd, shared);
}

/* Lets go of the cache entry page's key holds, if any. */
static void drop_page_entry(struct sl_responder *r, struct sl_page_key *page)
{
    if (page->held)
        sl_cache_release(r->cache, page->held);
    page->held = NULL;
}

void sl_responder_free(struct sl_responder *r)
{
    drop_page_entry(r, &r->error_page);
    drop_page_entry(r, &r->spa_page);
    sl_dircache_clear(&r->dirs);
    sl_tarcache_clear(&r->tars);
    sl_root_free(&r->root);
}

/* The root is another directory now, or gone: every entry belongs to the old tree. */
static void forget_tree(struct sl_responder *r)
{
    sl_cache_clear(r->cache);
    sl_dircache_clear(&r->dirs);
    sl_tarcache_clear(&r->tars);
}

/* Small enough to inline into every request, which nearly always hears "too soon". */
static inline enum sl_root_change check_root(struct sl_responder *r, uint64_t now_ms, bool force)
{
    enum sl_root_change change = sl_root_check(&r->root, now_ms, force);
    if (change != SL_ROOT_SAME)
        forget_tree(r);
    return change;
}

void sl_responder_tick(struct sl_responder *r, uint64_t now_ms)
{
    check_root(r, now_ms, false);
    /* An entry the cache let go (a rebuild, an edit, idle): not kept alive (its memory,
     * its descriptor) past the next tick by the reference a page key holds. */
    if (r->error_page.held && r->error_page.held->dead)
        drop_page_entry(r, &r->error_page);
    if (r->spa_page.held && r->spa_page.held->dead)
        drop_page_entry(r, &r->spa_page);
    sl_dircache_expire(&r->dirs, now_ms);
    sl_tarcache_expire(&r->tars, now_ms);
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
    const char *key; /* path.rel itself, dir_key, or a page's key */
    size_t key_len;
    uint64_t key_hash; /* sl_cache_hash of the key */
    char dir_key[SL_PATH_MAX + 1];
};

static void make_key(struct lookup *l)
{
    l->key = l->path.rel; /* no copy for the usual file path */
    l->key_len = l->path.len;
    if (l->path.trailing_slash && l->path.len + 1 >= sizeof(l->dir_key)) {
        l->key_len = 0;
    } else if (l->path.trailing_slash) {
        memcpy(l->dir_key, l->path.rel, l->path.len);
        l->dir_key[l->path.len] = '/';
        l->key = l->dir_key;
        l->key_len = l->path.len + 1;
    }
    l->key_hash = sl_cache_hash(l->key, l->key_len);
}

/* What a lookup found: a file to answer from (in the cache or just opened), nothing
 * (404: the router found nothing just now, or the cache remembers it found nothing), or
 * something else the router decided (redirect, listing, error). */
enum found { FOUND_FILE, FOUND_MISSING, FOUND_REMEMBERED_MISSING, FOUND_ROUTE };

/* Answers from cache entry e (referenced for this response). A remembered miss has
 * nothing to answer from: its reference goes back at once. */
static enum found found_cached(struct sl_responder *r, struct sl_exchange *ex,
                               struct sl_cache_entry *e, const struct sl_file_rep **rep)
{
    if (e->status != 0) {
        sl_cache_release(r->cache, e);
        return FOUND_REMEMBERED_MISSING;
    }
    sl_exchange_borrow(ex, e);
    *rep = &e->rep;
    return FOUND_FILE;
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
    /* Rendered here, on the way into the cache, so that its hits copy them. */
    char fields[SL_FIELDS_MAX];
    route->rep.fields_len =
        sl_serve_fields(r->cfg, &route->rep, fields, sizeof(fields), &route->rep.fields_validators);
    route->rep.fields = route->rep.fields_len ? fields : NULL;
    int fd = sl_exchange_take_file(ex);
    struct sl_cache_entry *e =
        sl_cache_put(r->cache, l->key, l->key_len, l->now_ms, &route->rep, &fd);
    route->rep.fields = NULL;     /* the entry has its own copy; this one goes with the stack */
    sl_exchange_set_file(ex, fd); /* still ours when the cache did not take it */
    return e ? found_cached(r, ex, e, rep) : FOUND_FILE;
}

/* Asks the router for l->path (cfg-chosen pages by file name, request paths by path),
 * after the cache did not have it. *rep is set for FOUND_FILE. */
static enum found resolve(struct sl_responder *r, const struct lookup *l, struct sl_exchange *ex,
                          bool by_file, struct sl_route *route, const struct sl_file_rep **rep)
{
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

/* Looks the request's path up: the cache first, then the router. */
static enum found find(struct sl_responder *r, const struct lookup *l, struct sl_exchange *ex,
                       struct sl_route *route, const struct sl_file_rep **rep)
{
    struct sl_cache_entry *e =
        l->key_len ? sl_cache_get_hashed(r->cache, l->key, l->key_len, l->key_hash, l->now_ms)
                   : NULL;
    if (e)
        return found_cached(r, ex, e, rep);
    return resolve(r, l, ex, false, route, rep);
}

/* k, worked out for the page named rel (root-relative) if it was not. */
static struct sl_page_key *page_key(struct sl_responder *r, struct sl_page_key *k, const char *rel)
{
    if (k->rel != rel) {
        drop_page_entry(r, k);
        k->rel = rel;
        k->len = strlen(rel);
        k->key_len = 0;
        if (k->len < sizeof(k->key) - 1) {
            k->key[0] = '/';
            memcpy(k->key + 1, rel, k->len);
            k->key_len = k->len + 1;
        }
        k->hash = sl_cache_hash(k->key, k->key_len);
    }
    return k;
}

/* The cache's entry for a page, referenced for the caller, or NULL. The page key keeps
 * a reference of its own to the entry found last, so that the next request for the
 * page (every 404) re-checks that entry instead of looking the name up. */
static struct sl_cache_entry *page_entry(struct sl_responder *r, struct sl_page_key *page,
                                         uint64_t now_ms)
{
    struct sl_cache_entry *e = page->held ? sl_cache_revisit(r->cache, page->held, now_ms) : NULL;
    if (e)
        return e;
    drop_page_entry(r, page);
    e = page->key_len ? sl_cache_get_hashed(r->cache, page->key, page->key_len, page->hash, now_ms)
                      : NULL;
    if (e)
        page->held = sl_cache_hold(e);
    return e;
}

/* Points l at a page chosen by configuration, for the router, with the page's own
 * cache key. */
static void lookup_page(struct lookup *l, const struct sl_page_key *page)
{
    memcpy(l->path.rel, page->rel, page->len + 1);
    l->path.len = page->len;
    l->path.trailing_slash = false;
    l->key = page->key;
    l->key_len = page->key_len;
    l->key_hash = page->hash;
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

/* A page chosen by configuration, answered with `status` (0: as the file itself). It
 * comes after a miss, which leaves ex holding no body file and no cache entry, and a
 * page not found leaves none either (found_cached gives a remembered miss back; the
 * router opens nothing when it finds no file): nothing to let go of on the way. (A
 * listing's finished work, when a re-run listing found its directory gone, goes with
 * the response.) */
static bool respond_page(struct sl_responder *r, struct lookup *l, struct sl_exchange *ex,
                         struct sl_page_key *page, int status)
{
    if (page->len >= sizeof(l->path.rel))
        return false;
    struct sl_route route;
    const struct sl_file_rep *rep = NULL;
    struct sl_cache_entry *e = page_entry(r, page, l->now_ms);
    enum found found;
    if (e) {
        found = found_cached(r, ex, e, &rep);
    } else {
        lookup_page(l, page);
        found = resolve(r, l, ex, true, &route, &rep);
    }
    if (found != FOUND_FILE)
        return false;
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
        if (respond_page(r, l, ex, page_key(r, &r->spa_page, r->cfg->spa), 0))
            return;
    }
    const char *page = r->cfg->error_page ? r->cfg->error_page : DEFAULT_ERROR_PAGE;
    if (respond_page(r, l, ex, page_key(r, &r->error_page, page), 404))
        return;
    if (r->not_found)
        sl_serve_built_in(&l->env, &ex->req, r->not_found, &ex->plan);
    else
        sl_serve_error(&l->env, &ex->req, 404, false, &ex->plan);
}

typedef void refused_fn(const struct sl_plan_env *env, const struct sl_request *req, bool too_many,
                        struct sl_plan *plan);

/* Plans the answer to work off the loop that failed with err: past a limit (-EFBIG) or
 * over the memory bound (-ENOBUFS), the page `refused` writes; out of descriptors, 503
 * (busy: try again); else the errno's status. False when err is 0: the caller plans the
 * answer. */
static bool serve_work_error(struct lookup *l, struct sl_exchange *ex, int err, refused_fn *refused)
{
    if (err == -EFBIG || err == -ENOBUFS)
        refused(&l->env, &ex->req, err == -EFBIG, &ex->plan);
    else if (err == -EMFILE || err == -ENFILE)
        sl_serve_error(&l->env, &ex->req, 503, false, &ex->plan);
    else if (err != 0)
        sl_serve_error(&l->env, &ex->req, sl_status_for_errno(-err), false, &ex->plan);
    return err != 0;
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
    if (rc == SL_KEPT_WAIT)
        return false;
    int err = rc < 0 ? rc : d->status;
    if (!serve_work_error(l, ex, err, sl_serve_listing_refused))
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
static bool answer_is_suspect(enum found found, const struct sl_route *route)
{
    if (found == FOUND_MISSING)
        return true;
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
    enum found found = find(r, l, ex, &route, &rep);
    if (!root_confirmed && answer_is_suspect(found, &route) &&
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
    case FOUND_MISSING:
    case FOUND_REMEMBERED_MISSING: respond_missing(r, l, ex, true); break;
    case FOUND_ROUTE: return respond_route(r, l, ex, &route);
    }
    return true;
}

/* ---- ?tar ---- */

/* A directory asked for with its slash and "tar" in the query, while archives are on.
 * Anything else ignores the query, as every query but "download" is ignored: a file
 * asked for with ?tar is the file. */
static bool wants_tar(const struct sl_config *cfg, const struct sl_path *path)
{
    return cfg->tar && path->trailing_slash && sl_path_query_has(path, "tar");
}

/* The archive's top directory: the directory's own name, or the root's (the last
 * component of the served path: "www" for `sluice ~/site/www`). */
static size_t tar_name(const struct sl_config *cfg, const struct sl_path *path, char *out)
{
    const char *p = path->rel;
    size_t n = path->len;
    if (n == 0) {
        p = cfg->root_real ? cfg->root_real : cfg->root;
        n = strlen(p);
        while (n > 0 && p[n - 1] == '/')
            n--;
    }
    const char *slash = memrchr(p, '/', n);
    if (slash) {
        n -= (size_t)(slash + 1 - p);
        p = slash + 1;
    }
    if (n == 0 || n > SL_TAR_NAME_MAX || (n == 1 && p[0] == '.') ||
        (n == 2 && p[0] == '.' && p[1] == '.'))
        p = "root", n = 4;
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

static void release_tarlayout(void *arg)
{
    sl_tarlayout_release(arg);
}

/* The archive as a representation: a file of the layout's length and validators, named
 * "<name>.tar", whose bytes a producer makes. */
static void tar_rep(const struct sl_tar_layout *l, const char *file, size_t file_len,
                    struct sl_file_rep *rep)
{
    memset(rep, 0, sizeof(*rep));
    rep->st.st_mode = S_IFREG | 0644;
    rep->st.st_size = (off_t)l->size;
    rep->st.st_mtim = l->changed;
    rep->mime = "application/x-tar";
    memcpy(rep->etag, l->etag, l->etag_len);
    rep->etag_len = l->etag_len;
    sl_httpdate_format(l->changed.tv_sec, rep->last_modified);
    rep->name = file;
    rep->name_len = file_len;
    rep->produce = SL_PRODUCE_TAR;
    rep->attachment = true;
}

/* Plans the archive of layout t: the planner sees a file (conditions, ranges, HEAD), and
 * the producer attached here sends the slices it planned. */
static void serve_tar(struct sl_responder *r, struct lookup *l, struct sl_exchange *ex,
                      struct sl_tarlayout *t)
{
    char file[SL_TAR_NAME_MAX + 5];
    size_t n = t->layout.name_len;
    memcpy(file, t->layout.name, n);
    memcpy(file + n, ".tar", 5);
    struct sl_file_rep rep;
    tar_rep(&t->layout, file, n + 4, &rep);
    sl_serve_file(&l->env, &ex->req, &l->path, &rep, &ex->plan);
    if (ex->plan.produce != SL_PRODUCE_TAR)
        return;
    if (!sl_exchange_file_allowed(ex)) {
        /* The producer opens the members one at a time: a body file, which this loop's
         * share of the descriptor table has no room for now. */
        sl_serve_error(&l->env, &ex->req, 503, false, &ex->plan);
        return;
    }
    struct sl_producer *p = sl_tarbody_new(&t->layout, t->kept.rel, r->cfg, &r->root, ex->plan.segs,
                                           ex->plan.nsegs, release_tarlayout, t);
    sl_exchange_set_producer(ex, p);
    if (p)
        sl_tarlayout_hold(t);
    else
        sl_serve_error(&l->env, &ex->req, 500, false, &ex->plan);
}

/* ?tar for a directory: its layout from the loop's tar cache, or false while the tree
 * is walked in the thread pool (ex waits; the caller asks again when woken). A path that
 * is not a directory, or not there, is answered as without the query. */
static bool respond_tar(struct sl_responder *r, struct lookup *l, struct sl_exchange *ex)
{
    /* A directory gone a moment ago may mean a rebuild deleted the root: check it now,
     * as for a listing, before archiving what is left of it. */
    if (check_root(r, l->now_ms, true) != SL_ROOT_SAME && sl_root_missing(&r->root)) {
        sl_serve_root_missing(&l->env, &ex->req, &ex->plan);
        return true;
    }
    int fd = sl_router_open(r->cfg, r->root.fd, l->path.rel, SL_ROUTER_OPEN_FLAGS | O_DIRECTORY);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) != 0) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        sl_wait_cancel(&ex->wait); /* anything a walk left for this request */
        return respond_path(r, l, ex, true);
    }
    char name[SL_TAR_NAME_MAX + 1];
    size_t name_len = tar_name(r->cfg, &l->path, name);
    struct sl_tarlayout *t = NULL;
    int rc = sl_tarcache_get(&r->tars, fd, &st, r->root.fd, l->path.rel, name, name_len, l->now_ms,
                             &ex->wait, &t);
    if (rc == SL_KEPT_WAIT)
        return false;
    int err = rc < 0 ? rc : t->status;
    if (!serve_work_error(l, ex, err, sl_serve_tar_refused))
        serve_tar(r, l, ex, t);
    if (t)
        sl_tarlayout_release(t);
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
    else if (wants_tar(r->cfg, &l.path) ? !respond_tar(r, &l, ex) : !respond_path(r, &l, ex, false))
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
