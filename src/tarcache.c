/* The per-loop cache of tar layouts and their walks in libuv's thread pool (see
 * tarcache.h). A layout is MAKING while its walk runs (joinable while young), READY once
 * done (in the cache's list while young), DEAD once out of it; its references, the bound
 * and the hand-out to waiters are kept.c's. */
#include "sluice/tarcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/tarwalk.h"

static const struct sl_keep_ops layout_ops;

void sl_tarcache_init(struct sl_tarcache *tc, uv_loop_t *loop, const struct sl_config *cfg,
                      size_t max_bytes)
{
    tc->cfg = cfg;
    tc->files = NULL;
    sl_keep_init(&tc->keep, &layout_ops, loop, max_bytes, SL_TARCACHE_WALKS);
    sl_list_init(&tc->layouts);
}

static struct sl_tarlayout *of_kept(struct sl_kept *e)
{
    return e ? sl_container_of(e, struct sl_tarlayout, kept) : NULL;
}

static struct sl_tarlayout *of_link(struct sl_link *l)
{
    return l ? sl_container_of(l, struct sl_tarlayout, kept.link) : NULL;
}

static bool same_tree(const struct sl_tarlayout *t, const struct stat *st, const char *name,
                      size_t name_len)
{
    return t->dev == st->st_dev && t->ino == st->st_ino && t->layout.name_len == name_len &&
           memcmp(t->layout.name, name, name_len) == 0;
}

/* ---- lifetime ---- */

static void layout_free(struct sl_kept *e)
{
    struct sl_tarlayout *t = of_kept(e);
    sl_tar_layout_free(&t->layout);
    free(t);
}

/* Unlinks the READY layouts: all of them, or those too old to serve a new request. */
static void unlink_ready(struct sl_tarcache *tc, uint64_t now_ms, bool all)
{
    struct sl_link *l = sl_list_first(&tc->layouts);
    struct sl_tarlayout *t;
    while ((t = of_link(l)) != NULL) {
        l = sl_list_next(&tc->layouts, l);
        if (t->kept.state == SL_KEPT_READY && (all || now_ms - t->walk_at >= SL_TARCACHE_TTL_MS))
            sl_kept_unlink(&t->kept);
    }
}

void sl_tarcache_clear(struct sl_tarcache *tc)
{
    unlink_ready(tc, 0, true);
}

void sl_tarcache_expire(struct sl_tarcache *tc, uint64_t now_ms)
{
    unlink_ready(tc, now_ms, false);
}

/* ---- the walk, in the pool ---- */

static void walk_work(struct sl_kept *e)
{
    struct sl_tarlayout *t = of_kept(e);
    t->status = sl_tar_walk(t->tc->cfg, e->root_fd, e->dirfd, e->rel, &t->layout);
    close(e->root_fd);
    e->dirfd = e->root_fd = -1;
}

/* A walk is over (status: libuv's): count its memory, and keep it or refuse it. */
static void walk_finish(struct sl_kept *e, int status)
{
    struct sl_tarlayout *t = of_kept(e);
    if (t->tc->files)
        *t->tc->files -= SL_TARCACHE_FDS_PER_WALK;
    if (status != 0) /* cancelled: never ran */
        t->status = status;
    const struct sl_tar_layout *l = &t->layout;
    size_t bytes = sizeof(*t) + strlen(e->rel) + l->count * sizeof(*l->members) + l->paths_len;
    /* A failed walk is not kept: it makes no room (pushes out no unused layout). */
    if (!sl_kept_ready(e, t->status == 0 ? bytes : 0) && t->status == 0) {
        sl_tar_layout_free(&t->layout);
        t->status = -ENOBUFS;
    }
    if (t->status != 0)
        sl_kept_unlink(e); /* an error is told to those who waited, not kept */
}

/* ---- asking for a layout ---- */

/* What a request for a layout asks for: a tree and its name in the archive. */
struct tree_key {
    const struct stat *st;
    const char *name;
    size_t name_len;
};

/* The layout that a request which waited for its walk takes: of the same tree and name,
 * however old (it was walked after the request came). */
static bool is_of(const struct sl_kept *e, const void *key)
{
    const struct tree_key *k = key;
    return same_tree(sl_container_of(e, const struct sl_tarlayout, kept), k->st, k->name,
                     k->name_len);
}

/* A layout that can answer a new request: READY or MAKING, of the same tree and name,
 * its walk begun less than the TTL ago. NULL: a new walk is needed. */
static struct sl_kept *find(struct sl_keep *keep, const void *key, uint64_t now_ms)
{
    struct sl_tarcache *tc = sl_container_of(keep, struct sl_tarcache, keep);
    struct sl_link *l;
    for (l = sl_list_first(&tc->layouts); l; l = sl_list_next(&tc->layouts, l)) {
        struct sl_tarlayout *t = of_link(l);
        if (is_of(&t->kept, key) && now_ms - t->walk_at < SL_TARCACHE_TTL_MS)
            return &t->kept;
    }
    return NULL;
}

static const struct sl_keep_ops layout_ops = {
    .free = layout_free, .is_of = is_of, .find = find, .work = walk_work, .finish = walk_finish};

/* A new layout for the tree at dirfd, in the cache's list, and its walk started. */
static int start_walk(struct sl_tarcache *tc, int dirfd, int root_fd, const char *rel,
                      const struct tree_key *key, uint64_t now_ms, struct sl_wait *w,
                      struct sl_kept **out)
{
    unsigned budget = tc->cfg->files_per_loop;
    struct sl_tarlayout *t = NULL;
    if (tc->files && budget && *tc->files + SL_TARCACHE_FDS_PER_WALK > budget)
        errno = EMFILE;
    else
        t = calloc(1, sizeof(*t));
    if (!t) {
        int err = -errno;
        close(dirfd);
        return err;
    }
    memcpy(t->layout.name, key->name, key->name_len);
    t->layout.name[key->name_len] = '\0';
    t->layout.name_len = key->name_len;
    t->tc = tc;
    t->dev = key->st->st_dev;
    t->ino = key->st->st_ino;
    t->walk_at = now_ms;
    if (tc->files) /* given back by walk_finish */
        *tc->files += SL_TARCACHE_FDS_PER_WALK;
    int rc = sl_kept_make(&tc->keep, &t->kept, &tc->layouts, dirfd, root_fd, rel, w, out);
    if (rc < 0 && tc->files) /* not started: no walk_finish */
        *tc->files -= SL_TARCACHE_FDS_PER_WALK;
    return rc;
}

int sl_tarcache_get(struct sl_tarcache *tc, int dirfd, const struct stat *st, int root_fd,
                    const char *rel, const char *name, size_t name_len, uint64_t now_ms,
                    struct sl_wait *w, struct sl_tarlayout **out)
{
    struct tree_key key = {st, name, name_len};
    struct sl_kept *e = NULL;
    int rc = sl_keep_ask(&tc->keep, &key, now_ms, w, &e);
    if (rc == SL_KEPT_MAKE)
        rc = start_walk(tc, dirfd, root_fd, rel, &key, now_ms, w, &e);
    else
        close(dirfd);
    *out = rc == 0 ? of_kept(e) : NULL;
    return rc;
}
