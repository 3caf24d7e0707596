/* The per-loop cache of tar layouts and their walks in libuv's thread pool (see
 * tarcache.h). A layout is WALKING while its walk runs (joinable while young), READY once
 * done (in the cache's list while young; in the LRU list while nobody uses it), DEAD once
 * out of the list (freed by its last release). */
#include "sluice/tarcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/tarwalk.h"

void sl_tarcache_init(struct sl_tarcache *tc, uv_loop_t *loop, const struct sl_config *cfg,
                      size_t max_bytes)
{
    memset(tc, 0, sizeof(*tc));
    tc->loop = loop;
    tc->cfg = cfg;
    tc->max_bytes = max_bytes;
    sl_list_init(&tc->layouts);
    sl_list_init(&tc->lru);
    sl_list_init(&tc->slot_waiters);
}

static struct sl_tarlayout *of_link(struct sl_link *l)
{
    return l ? sl_container_of(l, struct sl_tarlayout, link) : NULL;
}

static struct sl_tarlayout *of_lru(struct sl_link *l)
{
    return l ? sl_container_of(l, struct sl_tarlayout, lru) : NULL;
}

static bool same_tree(const struct sl_tarlayout *t, const struct stat *st, const char *name,
                      size_t name_len)
{
    return t->dev == st->st_dev && t->ino == st->st_ino && t->layout.name_len == name_len &&
           memcmp(t->layout.name, name, name_len) == 0;
}

/* ---- lifetime ---- */

static void layout_free(struct sl_tarlayout *t)
{
    t->tc->bytes -= t->bytes;
    sl_tar_layout_free(&t->layout);
    free(t->rel);
    free(t);
}

/* Takes t out of the cache; freed now when unused, else by its last release. */
static void unlink_layout(struct sl_tarlayout *t)
{
    sl_list_remove(&t->link);
    sl_list_remove(&t->lru);
    t->state = SL_TARLAYOUT_DEAD;
    if (t->refs == 0)
        layout_free(t);
}

void sl_tarlayout_hold(struct sl_tarlayout *t)
{
    if (t->refs++ == 0)
        sl_list_remove(&t->lru);
}

void sl_tarlayout_release(struct sl_tarlayout *t)
{
    if (--t->refs > 0)
        return;
    if (t->state == SL_TARLAYOUT_DEAD)
        layout_free(t);
    else
        sl_list_push_front(&t->tc->lru, &t->lru);
}

/* Unlinks the READY layouts: all of them, or those too old to serve a new request. */
static void unlink_ready(struct sl_tarcache *tc, uint64_t now_ms, bool all)
{
    struct sl_link *l = sl_list_first(&tc->layouts);
    struct sl_tarlayout *t;
    while ((t = of_link(l)) != NULL) {
        l = sl_list_next(&tc->layouts, l);
        if (t->state == SL_TARLAYOUT_READY && (all || now_ms - t->walk_at >= SL_TARCACHE_TTL_MS))
            unlink_layout(t);
    }
}

void sl_tarcache_clear(struct sl_tarcache *tc)
{
    unlink_ready(tc, 0, true);
}

void sl_tarcache_free(struct sl_tarcache *tc)
{
    sl_tarcache_clear(tc);
}

void sl_tarcache_expire(struct sl_tarcache *tc, uint64_t now_ms)
{
    unlink_ready(tc, now_ms, false);
}

/* ---- the walk, in the pool ---- */

static void walk_work(uv_work_t *req)
{
    struct sl_tarlayout *t = sl_container_of(req, struct sl_tarlayout, work);
    t->status = sl_tar_walk(t->tc->cfg, t->root_fd, t->dirfd, t->rel, &t->layout);
    close(t->root_fd);
    t->dirfd = t->root_fd = -1;
}

/* Makes room for t under the bound, dropping unused layouts, least recently used first.
 * False when the layouts in use leave no room: t is refused, unless nothing else is in
 * use, so one tree larger than the bound can still be archived. */
static bool make_room(struct sl_tarcache *tc, struct sl_tarlayout *t)
{
    struct sl_tarlayout *old;
    while (tc->bytes > tc->max_bytes && (old = of_lru(sl_list_last(&tc->lru))) != NULL)
        unlink_layout(old);
    return tc->bytes <= tc->max_bytes || tc->bytes == t->bytes;
}

/* Hands every waiter of `from` its wake-up; each gets a reference to t when t is not
 * NULL. The list is moved aside first: a woken waiter may wait again at once. */
static void wake_all(struct sl_link *from, struct sl_tarlayout *t)
{
    struct sl_link woken;
    sl_list_init(&woken);
    struct sl_link *l;
    while ((l = sl_list_first(from)) != NULL) {
        sl_list_remove(l);
        sl_list_push_back(&woken, l);
    }
    while ((l = sl_list_first(&woken)) != NULL) {
        struct sl_wait *w = sl_container_of(l, struct sl_wait, link);
        sl_list_remove(l);
        if (t) {
            sl_tarlayout_hold(t);
            w->got = t;
        }
        w->wake(w);
    }
}

/* A walk is over: count its memory, keep it (or refuse it), and hand it to its waiters.
 * t is held across the wake-ups: a waiter that closes at once must not free it. */
static void walk_finish(struct sl_tarcache *tc, struct sl_tarlayout *t)
{
    const struct sl_tar_layout *l = &t->layout;
    t->bytes = sizeof(*t) + strlen(t->rel) + l->count * sizeof(*l->members) + l->paths_len;
    tc->bytes += t->bytes;
    t->state = SL_TARLAYOUT_READY;
    t->refs++;
    if (t->status == 0 && !make_room(tc, t)) {
        tc->bytes -= t->bytes;
        t->bytes = 0;
        sl_tar_layout_free(&t->layout);
        t->status = -ENOBUFS;
    }
    if (t->status != 0)
        unlink_layout(t); /* an error is told to those who waited, not kept */
    wake_all(&t->waiters, t);
    sl_tarlayout_release(t);
}

static void walk_done(uv_work_t *req, int status)
{
    struct sl_tarlayout *t = sl_container_of(req, struct sl_tarlayout, work);
    struct sl_tarcache *tc = t->tc;
    tc->walking--;
    if (tc->files)
        *tc->files -= SL_TARCACHE_FDS_PER_WALK;
    if (status != 0) /* cancelled: never ran */
        t->status = status;
    walk_finish(tc, t);
    wake_all(&tc->slot_waiters, NULL); /* each asks again: joins a walk or starts one */
}

/* ---- asking for a layout ---- */

static void drop_got(struct sl_wait *w)
{
    struct sl_tarlayout *t = w->got;
    w->got = NULL;
    sl_tarlayout_release(t);
}

/* A layout that can answer a new request: READY or WALKING, of the same tree and name,
 * its walk begun less than the TTL ago. NULL: a new walk is needed. */
static struct sl_tarlayout *find(struct sl_tarcache *tc, const struct stat *st, const char *name,
                                 size_t name_len, uint64_t now_ms)
{
    struct sl_link *l;
    for (l = sl_list_first(&tc->layouts); l; l = sl_list_next(&tc->layouts, l)) {
        struct sl_tarlayout *t = of_link(l);
        if (same_tree(t, st, name, name_len) && now_ms - t->walk_at < SL_TARCACHE_TTL_MS)
            return t;
    }
    return NULL;
}

/* A new layout for st, WALKING, in the cache's list; its walk is not started. */
static struct sl_tarlayout *layout_new(struct sl_tarcache *tc, int dirfd, const struct stat *st,
                                       int root_fd, const char *rel, const char *name,
                                       size_t name_len, uint64_t now_ms)
{
    struct sl_tarlayout *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->rel = strdup(rel);
    /* The root descriptor is the loop's, which it closes when the root is replaced: the
     * walk gets its own. */
    t->root_fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
    if (!t->rel || t->root_fd < 0) {
        int err = errno;
        if (t->root_fd >= 0)
            close(t->root_fd);
        free(t->rel);
        free(t);
        errno = err;
        return NULL;
    }
    memcpy(t->layout.name, name, name_len);
    t->layout.name[name_len] = '\0';
    t->layout.name_len = name_len;
    t->tc = tc;
    t->dirfd = dirfd;
    t->dev = st->st_dev;
    t->ino = st->st_ino;
    t->walk_at = now_ms;
    t->state = SL_TARLAYOUT_WALKING;
    sl_list_init(&t->waiters);
    sl_list_push_front(&tc->layouts, &t->link);
    return t;
}

/* The layout w was woken with, when it is of the tree asked for; anything else w holds
 * (of another tree, or from another cache's work) is let go. */
static struct sl_tarlayout *take_got(struct sl_wait *w, const struct stat *st, const char *name,
                                     size_t name_len)
{
    if (!w->got)
        return NULL;
    if (w->drop != drop_got) {
        sl_wait_cancel(w);
        return NULL;
    }
    struct sl_tarlayout *t = w->got;
    w->got = NULL;
    if (same_tree(t, st, name, name_len))
        return t;
    sl_tarlayout_release(t);
    return NULL;
}

int sl_tarcache_get(struct sl_tarcache *tc, int dirfd, const struct stat *st, int root_fd,
                    const char *rel, const char *name, size_t name_len, uint64_t now_ms,
                    struct sl_wait *w, struct sl_tarlayout **out)
{
    /* What w waited for was walked after its request came: it answers it. */
    struct sl_tarlayout *t = take_got(w, st, name, name_len);
    struct sl_tarlayout *walking = NULL;
    if (!t) {
        t = find(tc, st, name, name_len, now_ms);
        if (t && t->state == SL_TARLAYOUT_WALKING) {
            walking = t;
            t = NULL;
        } else if (t) {
            sl_tarlayout_hold(t);
        }
    }
    if (t) {
        close(dirfd);
        *out = t;
        return 0;
    }
    w->drop = drop_got;
    if (walking || (tc->loop && tc->walking >= SL_TARCACHE_WALKS)) {
        close(dirfd);
        sl_list_push_back(walking ? &walking->waiters : &tc->slot_waiters, &w->link);
        return SL_TARCACHE_WAIT;
    }
    if (tc->files && tc->cfg->files_per_loop &&
        *tc->files + SL_TARCACHE_FDS_PER_WALK > tc->cfg->files_per_loop) {
        close(dirfd);
        return -EMFILE;
    }
    t = layout_new(tc, dirfd, st, root_fd, rel, name, name_len, now_ms);
    if (!t) {
        int err = -errno;
        close(dirfd);
        return err;
    }
    if (!tc->loop) { /* the walk runs here and now */
        t->refs++;   /* the caller's, taken first: walk_finish may unlink it */
        walk_work(&t->work);
        walk_finish(tc, t);
        *out = t;
        return 0;
    }
    tc->walking++;
    if (tc->files)
        *tc->files += SL_TARCACHE_FDS_PER_WALK;
    sl_list_push_back(&t->waiters, &w->link);
    uv_queue_work(tc->loop, &t->work, walk_work, walk_done);
    return SL_TARCACHE_WAIT;
}
