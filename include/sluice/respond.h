/* From a parsed request to a planned response: the planner's checks, then the loop's
 * file cache or the router, then the planner. Where the cache, the router and the pure
 * planner meet; one per event loop. */
#ifndef SLUICE_RESPOND_H
#define SLUICE_RESPOND_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <uv.h>

#include "sluice/config.h"
#include "sluice/dircache.h"
#include "sluice/exchange.h"
#include "sluice/filecache.h"
#include "sluice/httpdate.h"
#include "sluice/live.h"
#include "sluice/path.h"
#include "sluice/response.h"
#include "sluice/root.h"
#include "sluice/tarcache.h"

/* A page chosen by configuration (the 404 page, --spa's), asked for by every request it
 * answers: the name's length and cache hash are worked out once, and the cache entry
 * last found for it is held (a reference), to be re-checked rather than looked up
 * again while it stays fresh. */
struct sl_page_key {
    const char *rel; /* NULL: not worked out yet */
    size_t len;
    /* The page's cache key: '/' and rel. A request path's key never starts with '/', and
     * must not meet this one: a page is looked up by file name, and a name that is a
     * directory (or, with clean URLs, has an .html beside it) is a miss as a page but
     * not as a request path. */
    char key[SL_PATH_MAX + 1];
    size_t key_len;              /* 0: too long to cache */
    uint64_t hash;               /* sl_cache_hash of key */
    struct sl_cache_entry *held; /* or NULL */
};

struct sl_responder {
    const struct sl_config *cfg;
    struct sl_cache *cache;  /* this loop's */
    struct sl_root root;     /* this loop's descriptor of the root, re-checked by path */
    struct sl_dircache dirs; /* this loop's directory listings, read in the thread pool */
    struct sl_tarcache tars; /* this loop's tar layouts (?tar), walked in the thread pool */
    time_t date_sec;         /* the second `date` was formatted for */
    char date[SL_HTTPDATE_LEN + 1];
    uint64_t boundary;                 /* advances per response: multipart boundaries */
    const struct sl_live_shared *live; /* --live: the watcher's generation; else NULL */
    struct sl_page_key error_page, spa_page;
    const struct sl_built_in_page *not_found; /* the built-in 404 page, or NULL */
};

/* `seed` tells loops apart (and runs apart) in multipart boundaries; `shared` is what
 * the loops share about the root; directories are read in `loop`'s thread pool (NULL:
 * at once, on the caller's thread: tests and fuzzing). Returns 0 or a negative errno. */
int sl_responder_init(struct sl_responder *r, uv_loop_t *loop, const struct sl_config *cfg,
                      struct sl_cache *cache, struct sl_root_shared *shared, uint64_t seed);
void sl_responder_free(struct sl_responder *r);

/* --live: follow the tree watcher. Each request compares its generation with the one
 * this loop last saw; when it moved on, the root is re-checked and every cache entry is
 * checked again before use, so an edit is served as soon as the watcher has seen it.
 * Without it, the cache's 1 s revalidation and the root's 1 s check are all there is. */
void sl_responder_follow(struct sl_responder *r, const struct sl_live_shared *live);

/* Once a second from the loop's tick: is the root still the directory at its path? Also
 * lets go of a page's cache entry that the cache has dropped meanwhile. */
void sl_responder_tick(struct sl_responder *r, uint64_t now_ms);

/* Plans the answer to ex->req into ex->plan; now_ms is the loop's clock for the cache.
 * The body file, when the plan sends from one, is ex's. Returns false when the answer
 * needs work done off the loop first (a directory to read): ex->wait is then waiting,
 * and once woken the caller asks again (the answer is planned from what the work
 * left), or ends the exchange's response to give up. */
bool sl_respond(struct sl_responder *r, uint64_t now_ms, struct sl_exchange *ex);

/* Plans an error page for a request that could not be parsed: `status`, then close. */
void sl_respond_error(struct sl_responder *r, struct sl_exchange *ex, int status);

#endif
