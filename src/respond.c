/* Request to plan: the pure checks first, then the loop's open-file cache, then the
 * router (which opens), then the planner (which does not). The body file changes hands
 * here only through the exchange's ownership calls. */
#include "sluice/respond.h"

#include <string.h>

#include "sluice/negotiate.h"
#include "sluice/router.h"
#include "sluice/serve.h"

void sl_responder_init(struct sl_responder *r, const struct sl_config *cfg, struct sl_cache *cache,
                       uint64_t seed)
{
    r->cfg = cfg;
    r->cache = cache;
    r->date_sec = -1;
    r->date[0] = '\0';
    r->boundary = seed;
}

/* This second, with its HTTP-date formatted once per second. */
static struct sl_plan_env plan_env(struct sl_responder *r)
{
    time_t now = time(NULL); /* vDSO: no syscall */
    if (now != r->date_sec) {
        sl_httpdate_format(now, r->date);
        r->date_sec = now;
    }
    return (struct sl_plan_env){r->cfg, now, r->date, ++r->boundary};
}

/* The body file is let go as soon as the plan shows it is not needed (HEAD, 304, an
 * empty file, an error), so it is not held open while the head is sent. */
static void drop_unused_file(struct sl_exchange *ex)
{
    if (!ex->plan.uses_file)
        sl_exchange_drop_file(ex);
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

/* Answers from cache entry e (referenced for this response): a remembered 404, or the
 * file's bytes in memory or its descriptor. */
static void respond_cached(const struct lookup *l, struct sl_exchange *ex, struct sl_cache_entry *e)
{
    sl_exchange_borrow(ex, e);
    if (e->status != 0)
        sl_serve_error(&l->env, &ex->req, e->status, false, &ex->plan);
    else
        sl_serve_file(&l->env, &ex->req, &l->path, &e->rep, &ex->plan);
    drop_unused_file(ex);
}

/* A file the router opened. Identity files without variants are cached for the next
 * requests (a file with variants is negotiated afresh each time). */
static void respond_file(struct sl_responder *r, const struct lookup *l, struct sl_exchange *ex,
                         const struct sl_route *route)
{
    sl_exchange_set_file(ex, route->fd);
    if (l->key_len > 0 && route->rep.encoding == SL_ENC_IDENTITY && !route->rep.variants) {
        int fd = sl_exchange_take_file(ex);
        struct sl_cache_entry *e =
            sl_cache_put(r->cache, l->key, l->key_len, l->now_ms, &route->rep, &fd);
        sl_exchange_set_file(ex, fd); /* still ours when the cache did not take it */
        if (e) {
            respond_cached(l, ex, e);
            return;
        }
    }
    sl_serve_file(&l->env, &ex->req, &l->path, &route->rep, &ex->plan);
    drop_unused_file(ex);
}

static void respond_routed(struct sl_responder *r, const struct lookup *l, struct sl_exchange *ex)
{
    struct sl_route route;
    sl_router_resolve(r->cfg, &l->path, ex->req.accept_encoding, &route);
    switch (route.kind) {
    case SL_ROUTE_ERROR:
        if (route.status == 404 && l->key_len > 0)
            sl_cache_put_missing(r->cache, l->key, l->key_len, l->now_ms);
        sl_serve_error(&l->env, &ex->req, route.status, false, &ex->plan);
        return;
    case SL_ROUTE_REDIRECT: sl_serve_redirect(&l->env, &ex->req, &l->path, &ex->plan); return;
    case SL_ROUTE_LISTING:
        sl_serve_listing(&l->env, &ex->req, &l->path, &route.listing, &ex->plan);
        sl_listing_free(&route.listing);
        return;
    case SL_ROUTE_FILE: respond_file(r, l, ex, &route); return;
    }
}

void sl_respond(struct sl_responder *r, uint64_t now_ms, struct sl_exchange *ex)
{
    struct lookup l; /* not zeroed: it is large and every field is written before use */
    l.env = plan_env(r);
    l.now_ms = now_ms;
    int status = sl_serve_check(&l.env, &ex->req, &l.path);
    if (status != 0) {
        sl_serve_error(&l.env, &ex->req, status, status == 400, &ex->plan);
        return;
    }
    make_key(&l);
    struct sl_cache_entry *e = l.key_len ? sl_cache_get(r->cache, l.key, l.key_len, now_ms) : NULL;
    if (e)
        respond_cached(&l, ex, e);
    else
        respond_routed(r, &l, ex);
}

void sl_respond_error(struct sl_responder *r, struct sl_exchange *ex, int status)
{
    struct sl_plan_env env = plan_env(r);
    sl_exchange_drop_file(ex);
    sl_serve_error(&env, &ex->req, status, true, &ex->plan);
}
