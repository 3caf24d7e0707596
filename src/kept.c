/* The lifetime, bound, work and hand-out shared by the caches of pool-made things (see
 * kept.h). */
#include "sluice/kept.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct sl_kept *of_lru(struct sl_link *l)
{
    return l ? sl_container_of(l, struct sl_kept, lru) : NULL;
}

void sl_keep_init(struct sl_keep *k, const struct sl_keep_ops *ops, uv_loop_t *loop,
                  size_t max_bytes, unsigned slots)
{
    *k = (struct sl_keep){.ops = ops, .loop = loop, .max_bytes = max_bytes, .slots = slots};
    sl_list_init(&k->lru);
    sl_list_init(&k->slot_waiters);
}

static void drop_got(struct sl_wait *w)
{
    struct sl_kept *e = w->got;
    w->got = NULL;
    sl_kept_release(e);
}

static void wait_for(struct sl_kept *e, struct sl_wait *w)
{
    w->drop = drop_got;
    sl_list_push_back(&e->waiters, &w->link);
}

/* What w was woken with, if it came from k (now the caller's reference); anything else w
 * holds is let go. */
static struct sl_kept *take_got(struct sl_keep *k, struct sl_wait *w)
{
    if (!w->got)
        return NULL;
    struct sl_kept *e = w->drop == drop_got ? w->got : NULL;
    if (!e || e->keep != k) {
        sl_wait_cancel(w);
        return NULL;
    }
    w->got = NULL;
    return e;
}

int sl_keep_ask(struct sl_keep *k, const void *key, uint64_t now_ms, struct sl_wait *w,
                struct sl_kept **out)
{
    struct sl_kept *e = take_got(k, w);
    if (e && k->ops->is_of(e, key)) {
        *out = e;
        return 0;
    }
    if (e)
        sl_kept_release(e);
    e = k->ops->find(k, key, now_ms);
    if (e && e->state == SL_KEPT_READY) {
        sl_kept_hold(e);
        *out = e;
        return 0;
    }
    if (!e && k->making < k->slots)
        return SL_KEPT_MAKE;
    w->drop = drop_got;
    sl_list_push_back(e ? &e->waiters : &k->slot_waiters, &w->link);
    return SL_KEPT_WAIT;
}

/* ---- lifetime ---- */

static void kept_free(struct sl_kept *e)
{
    struct sl_keep *k = e->keep;
    k->bytes -= e->bytes;
    if (e->dirfd >= 0) /* a work that never ran */
        close(e->dirfd);
    if (e->root_fd >= 0)
        close(e->root_fd);
    free(e->rel);
    k->ops->free(e);
}

void sl_kept_unlink(struct sl_kept *e)
{
    sl_list_remove(&e->link);
    sl_list_remove(&e->lru);
    e->state = SL_KEPT_DEAD;
    if (e->refs == 0)
        kept_free(e);
}

void sl_kept_hold(struct sl_kept *e)
{
    if (e->refs++ == 0)
        sl_list_remove(&e->lru);
}

void sl_kept_release(struct sl_kept *e)
{
    if (--e->refs > 0)
        return;
    if (e->state == SL_KEPT_DEAD)
        kept_free(e);
    else
        sl_list_push_front(&e->keep->lru, &e->lru);
}

struct sl_kept *sl_keep_unused_first(struct sl_keep *k)
{
    return of_lru(sl_list_first(&k->lru));
}

struct sl_kept *sl_keep_unused_next(struct sl_keep *k, struct sl_kept *e)
{
    return of_lru(sl_list_next(&k->lru, &e->lru));
}

/* ---- a work is over ---- */

/* Makes room for e under the bound, dropping unused entries, least recently used first.
 * False when the entries in use leave no room, unless e is the only one. */
static bool make_room(struct sl_keep *k, struct sl_kept *e)
{
    struct sl_kept *old;
    while (k->bytes > k->max_bytes && (old = of_lru(sl_list_last(&k->lru))) != NULL)
        sl_kept_unlink(old);
    return k->bytes <= k->max_bytes || k->bytes == e->bytes;
}

bool sl_kept_ready(struct sl_kept *e, size_t bytes)
{
    struct sl_keep *k = e->keep;
    e->bytes = bytes;
    k->bytes += bytes;
    e->state = SL_KEPT_READY;
    e->refs++; /* held across the hand-out: a waiter that closes at once must not free e */
    if (bytes == 0 || make_room(k, e)) /* what keeps nothing needs no room */
        return true;
    k->bytes -= bytes;
    e->bytes = 0;
    return false;
}

/* Wakes every waiter in `from`, giving each a reference to e when e is not NULL. The
 * list is moved aside first: a woken waiter may wait again at once. */
static void wake_all(struct sl_link *from, struct sl_kept *e)
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
        if (e) {
            sl_kept_hold(e);
            w->got = e;
        }
        w->wake(w);
    }
}

/* Hands e to each of its waiters (a reference each, in w->got), then lets go of the
 * reference sl_kept_ready took; the work's slot is free: the requests waiting for one
 * are woken to ask again. */
static void hand_out(struct sl_kept *e)
{
    struct sl_keep *k = e->keep;
    k->making--;
    wake_all(&e->waiters, e);
    sl_kept_release(e);
    wake_all(&k->slot_waiters, NULL); /* each asks again: joins a work or starts one */
}

/* ---- the work ---- */

static void work_run(uv_work_t *req)
{
    struct sl_kept *e = sl_container_of(req, struct sl_kept, work);
    e->keep->ops->work(e);
}

static void work_done(uv_work_t *req, int status)
{
    struct sl_kept *e = sl_container_of(req, struct sl_kept, work);
    e->keep->ops->finish(e, status);
    hand_out(e);
}

/* e's own descriptor of the root and copy of rel; -1 with errno when either fails. */
static int take_inputs(struct sl_kept *e, int dirfd, int root_fd, const char *rel)
{
    e->dirfd = dirfd;
    e->root_fd = root_fd < 0 ? -1 : fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
    e->rel = strdup(rel);
    return (root_fd >= 0 && e->root_fd < 0) || !e->rel ? -1 : 0;
}

int sl_kept_make(struct sl_keep *k, struct sl_kept *e, struct sl_link *index, int dirfd,
                 int root_fd, const char *rel, struct sl_wait *w, struct sl_kept **out)
{
    e->keep = k;
    if (take_inputs(e, dirfd, root_fd, rel) < 0) {
        int err = -errno;
        kept_free(e);
        return err;
    }
    e->state = SL_KEPT_MAKING;
    sl_list_init(&e->waiters);
    sl_list_push_front(index, &e->link);
    k->making++;
    if (!k->loop) {
        e->refs++; /* the caller's, taken first: finish may unlink e */
        k->ops->work(e);
        k->ops->finish(e, 0);
        hand_out(e);
        *out = e;
        return 0;
    }
    wait_for(e, w);
    uv_queue_work(k->loop, &e->work, work_run, work_done);
    return SL_KEPT_WAIT;
}
