/* The per-loop cache of directory entry lists and their reads in libuv's thread pool (see
 * dircache.h). A list is READING while its read runs (joinable by requests for the same
 * directory and mtime), READY once done (in the hash table; in the LRU list while nobody
 * uses it), DEAD once out of the table (freed by its last release). */
#include "sluice/dircache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void sl_dircache_init(struct sl_dircache *dc, uv_loop_t *loop, const struct sl_config *cfg,
                      size_t max_bytes)
{
    memset(dc, 0, sizeof(*dc));
    dc->loop = loop;
    dc->cfg = cfg;
    dc->max_bytes = max_bytes;
    sl_list_init(&dc->lru);
    sl_list_init(&dc->slot_waiters);
}

static size_t bucket_of(dev_t dev, ino_t ino)
{
    uint64_t h = ((uint64_t)dev * 0x9e3779b97f4a7c15u) ^ (uint64_t)ino;
    return (size_t)((h * 0x9e3779b97f4a7c15u) >> 32) % SL_DIRCACHE_BUCKETS;
}

static bool same_dir(const struct sl_dirlist *d, const struct stat *st)
{
    return d->dev == st->st_dev && d->ino == st->st_ino;
}

static bool same_mtime(const struct sl_dirlist *d, const struct stat *st)
{
    return d->mtime.tv_sec == st->st_mtim.tv_sec && d->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static struct sl_dirlist *lru_entry(struct sl_link *l)
{
    return l ? sl_container_of(l, struct sl_dirlist, lru) : NULL;
}

/* ---- lifetime ---- */

static void list_free(struct sl_dirlist *d)
{
    d->dc->bytes -= d->bytes;
    sl_listing_free(&d->list);
    free(d->rel);
    free(d);
}

/* Takes d out of the table (and the LRU list); freed now when unused, else by its last
 * release. */
static void unlink_list(struct sl_dircache *dc, struct sl_dirlist *d)
{
    struct sl_dirlist **p = &dc->buckets[bucket_of(d->dev, d->ino)];
    while (*p && *p != d)
        p = &(*p)->hnext;
    if (*p)
        *p = d->hnext;
    sl_list_remove(&d->lru);
    d->state = SL_DIRLIST_DEAD;
    if (d->refs == 0)
        list_free(d);
}

void sl_dirlist_hold(struct sl_dirlist *d)
{
    if (d->refs++ == 0)
        sl_list_remove(&d->lru);
}

void sl_dirlist_release(struct sl_dirlist *d)
{
    if (--d->refs > 0)
        return;
    if (d->state == SL_DIRLIST_DEAD)
        list_free(d);
    else
        sl_list_push_front(&d->dc->lru, &d->lru);
}

void sl_dircache_clear(struct sl_dircache *dc)
{
    for (size_t i = 0; i < SL_DIRCACHE_BUCKETS; i++) {
        struct sl_dirlist *d = dc->buckets[i];
        while (d) {
            struct sl_dirlist *next = d->hnext;
            if (d->state == SL_DIRLIST_READY)
                unlink_list(dc, d);
            d = next;
        }
    }
}

void sl_dircache_free(struct sl_dircache *dc)
{
    sl_dircache_clear(dc);
}

void sl_dircache_expire(struct sl_dircache *dc, uint64_t now_ms)
{
    struct sl_dirlist *d;
    /* The LRU list is in order of last use, not of age: look at every unused list. */
    struct sl_link *l = sl_list_first(&dc->lru);
    while ((d = lru_entry(l)) != NULL) {
        l = sl_list_next(&dc->lru, l);
        if (now_ms - d->read_at >= d->ttl_ms)
            unlink_list(dc, d);
    }
}

/* ---- the read, in the pool ---- */

static int64_t ms_of(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000 + t->tv_nsec / 1000000;
}

/* Runs on a pool thread: touches only d's read fields and its list. */
static void read_work(uv_work_t *req)
{
    struct sl_dirlist *d = sl_container_of(req, struct sl_dirlist, work);
    struct timespec began;
    struct timespec start;
    struct timespec end;
    clock_gettime(CLOCK_REALTIME, &began);
    clock_gettime(CLOCK_MONOTONIC, &start);
    d->status = sl_listing_read_owned(d->dirfd, d->root_fd, d->rel, d->dc->cfg->dotfiles,
                                      d->dc->cfg->listing_max_entries, &d->list);
    d->list.tar = d->dc->cfg->tar;
    d->dirfd = -1;
    if (d->root_fd >= 0)
        close(d->root_fd);
    d->root_fd = -1;
    d->reusable = ms_of(&began) - ms_of(&d->mtime) >= SL_DIRCACHE_RACY_MS;
    clock_gettime(CLOCK_MONOTONIC, &end);
    int64_t took = ms_of(&end) - ms_of(&start);
    d->ttl_ms = took * SL_DIRCACHE_TTL_READS > SL_DIRCACHE_TTL_MS
                    ? (uint64_t)took * SL_DIRCACHE_TTL_READS
                    : SL_DIRCACHE_TTL_MS;
}

/* Makes room for d under the bound, dropping unused lists, least recently used first.
 * False when the lists in use leave no room: d is refused, unless nothing else is in
 * use, so one directory larger than the bound can still be listed. */
static bool make_room(struct sl_dircache *dc, struct sl_dirlist *d)
{
    struct sl_dirlist *old;
    while (dc->bytes > dc->max_bytes && (old = lru_entry(sl_list_last(&dc->lru))) != NULL)
        unlink_list(dc, old);
    return dc->bytes <= dc->max_bytes || dc->bytes == d->bytes;
}

/* Of two reads of one directory, the later one is kept: a list whose read began first
 * may miss what the other saw. */
static void supersede(struct sl_dircache *dc, struct sl_dirlist *d)
{
    struct sl_dirlist *o = dc->buckets[bucket_of(d->dev, d->ino)];
    while (o) {
        struct sl_dirlist *next = o->hnext;
        if (o != d && o->state == SL_DIRLIST_READY && o->dev == d->dev && o->ino == d->ino) {
            if (o->read_at > d->read_at) {
                unlink_list(dc, d);
                return;
            }
            unlink_list(dc, o);
        }
        o = next;
    }
}

/* A read is over: count its memory, keep it (or refuse it), and hand it to its waiters.
 * d is held across the wake-ups: a waiter that closes at once must not free it under the
 * loop. */
static void read_finish(struct sl_dircache *dc, struct sl_dirlist *d)
{
    d->bytes = sizeof(*d) + d->list.count * sizeof(*d->list.entries);
    for (size_t i = 0; i < d->list.count; i++)
        d->bytes += d->list.entries[i].name_len + 1;
    dc->bytes += d->bytes;
    d->state = SL_DIRLIST_READY;
    d->refs++;
    if (!make_room(dc, d)) {
        dc->bytes -= d->bytes;
        sl_listing_free(&d->list);
        d->bytes = 0;
        d->status = -ENOBUFS;
    }
    if (d->status == -ENOBUFS || !d->reusable)
        unlink_list(dc, d);
    else
        supersede(dc, d);

    struct sl_link woken;
    sl_list_init(&woken);
    while (!sl_list_empty(&d->waiters)) {
        struct sl_link *l = sl_list_first(&d->waiters);
        sl_list_remove(l);
        sl_list_push_back(&woken, l);
    }
    struct sl_link *l;
    while ((l = sl_list_first(&woken)) != NULL) {
        struct sl_wait *w = sl_container_of(l, struct sl_wait, link);
        sl_list_remove(l);
        sl_dirlist_hold(d);
        w->got = d;
        w->wake(w);
    }
    sl_dirlist_release(d);
}

/* Wakes every request waiting for a read slot: each asks again, and joins a read or
 * starts one. */
static void wake_slot_waiters(struct sl_dircache *dc)
{
    struct sl_link woken;
    sl_list_init(&woken);
    struct sl_link *l;
    while ((l = sl_list_first(&dc->slot_waiters)) != NULL) {
        sl_list_remove(l);
        sl_list_push_back(&woken, l);
    }
    while ((l = sl_list_first(&woken)) != NULL) {
        sl_list_remove(l);
        struct sl_wait *w = sl_container_of(l, struct sl_wait, link);
        w->wake(w);
    }
}

static void read_done(uv_work_t *req, int status)
{
    struct sl_dirlist *d = sl_container_of(req, struct sl_dirlist, work);
    struct sl_dircache *dc = d->dc;
    dc->reading--;
    if (status != 0) /* cancelled: never ran */
        d->status = status;
    read_finish(dc, d);
    wake_slot_waiters(dc);
}

/* ---- asking for a list ---- */

static void drop_got(struct sl_wait *w)
{
    struct sl_dirlist *d = w->got;
    w->got = NULL;
    sl_dirlist_release(d);
}

/* A list that can answer a new request for st: READY, of the same mtime, read long
 * enough after the directory's last change and not too long ago; or a read of it under
 * way, to join. NULL: a new read is needed. */
static struct sl_dirlist *find(struct sl_dircache *dc, const struct stat *st, uint64_t now_ms)
{
    for (struct sl_dirlist *d = dc->buckets[bucket_of(st->st_dev, st->st_ino)]; d; d = d->hnext) {
        if (!same_dir(d, st) || !same_mtime(d, st))
            continue;
        if (d->state == SL_DIRLIST_READING)
            return d;
        if (d->state == SL_DIRLIST_READY && d->reusable && now_ms - d->read_at < d->ttl_ms)
            return d;
    }
    return NULL;
}

/* A new list for st, READING, in the table; its read is not started. */
static struct sl_dirlist *list_new(struct sl_dircache *dc, int dirfd, const struct stat *st,
                                   int root_fd, const char *rel, uint64_t now_ms)
{
    struct sl_dirlist *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->rel = strdup(rel);
    /* The root descriptor is the loop's, which it closes when the root is replaced; the
     * read gets its own. Without a root (--follow-symlinks) links are followed freely. */
    d->root_fd = dc->cfg->follow_symlinks ? -1 : fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
    if (!d->rel || (!dc->cfg->follow_symlinks && d->root_fd < 0)) {
        int err = errno;
        if (d->root_fd >= 0)
            close(d->root_fd);
        free(d->rel);
        free(d);
        errno = err;
        return NULL;
    }
    d->dc = dc;
    d->dirfd = dirfd;
    d->dev = st->st_dev;
    d->ino = st->st_ino;
    d->mtime = st->st_mtim;
    d->read_at = now_ms;
    d->state = SL_DIRLIST_READING;
    sl_list_init(&d->waiters);
    size_t b = bucket_of(d->dev, d->ino);
    d->hnext = dc->buckets[b];
    dc->buckets[b] = d;
    return d;
}

/* Without a loop the read runs here and now. */
static struct sl_dirlist *read_now(struct sl_dircache *dc, struct sl_dirlist *d)
{
    d->refs++; /* the caller's, taken first: read_finish may drop the list from the table */
    read_work(&d->work);
    read_finish(dc, d);
    return d;
}

/* The list w was woken with, when it is of the directory asked for. */
static struct sl_dirlist *take_got(struct sl_wait *w, const struct stat *st)
{
    struct sl_dirlist *d = w->got;
    if (!d)
        return NULL;
    w->got = NULL;
    if (same_dir(d, st))
        return d;
    sl_dirlist_release(d);
    return NULL;
}

int sl_dircache_get(struct sl_dircache *dc, int dirfd, const struct stat *st, int root_fd,
                    const char *rel, uint64_t now_ms, struct sl_wait *w, struct sl_dirlist **out)
{
    /* What w waited for was read after its request came: it answers it, even when the
     * directory has changed again since or the list is kept for nobody else. */
    struct sl_dirlist *d = take_got(w, st);
    if (d) {
        close(dirfd);
        *out = d;
        return 0;
    }
    d = find(dc, st, now_ms);
    if (d && d->state == SL_DIRLIST_READY) {
        close(dirfd);
        sl_dirlist_hold(d);
        *out = d;
        return 0;
    }
    w->drop = drop_got;
    if (d) { /* a read of this directory is under way */
        close(dirfd);
        sl_list_push_back(&d->waiters, &w->link);
        return SL_DIRCACHE_WAIT;
    }
    if (dc->loop && dc->reading >= SL_DIRCACHE_READS) {
        close(dirfd);
        sl_list_push_back(&dc->slot_waiters, &w->link);
        return SL_DIRCACHE_WAIT;
    }
    d = list_new(dc, dirfd, st, root_fd, rel, now_ms);
    if (!d) {
        int err = -errno;
        close(dirfd);
        return err;
    }
    if (!dc->loop) {
        *out = read_now(dc, d);
        return 0;
    }
    dc->reading++;
    sl_list_push_back(&d->waiters, &w->link);
    uv_queue_work(dc->loop, &d->work, read_work, read_done);
    return SL_DIRCACHE_WAIT;
}
