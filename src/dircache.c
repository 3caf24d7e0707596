/* The per-loop cache of directory entry lists and their reads in libuv's thread pool (see
 * dircache.h). A list is MAKING while its read runs (joinable by requests for the same
 * directory and mtime), READY once done (in the hash table), DEAD once out of it; its
 * references, the bound and the hand-out to waiters are kept.c's. */
#include "sluice/dircache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct sl_keep_ops dirlist_ops;

void sl_dircache_init(struct sl_dircache *dc, uv_loop_t *loop, const struct sl_config *cfg,
                      size_t max_bytes)
{
    dc->cfg = cfg;
    sl_keep_init(&dc->keep, &dirlist_ops, loop, max_bytes, SL_DIRCACHE_READS);
    for (size_t i = 0; i < SL_DIRCACHE_BUCKETS; i++)
        sl_list_init(&dc->buckets[i]);
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

static struct sl_dirlist *of_kept(struct sl_kept *e)
{
    return e ? sl_container_of(e, struct sl_dirlist, kept) : NULL;
}

static struct sl_dirlist *of_link(struct sl_link *l)
{
    return l ? sl_container_of(l, struct sl_dirlist, kept.link) : NULL;
}

static struct sl_link *bucket(struct sl_dircache *dc, dev_t dev, ino_t ino)
{
    return &dc->buckets[bucket_of(dev, ino)];
}

/* ---- lifetime ---- */

static void list_free(struct sl_kept *e)
{
    struct sl_dirlist *d = of_kept(e);
    sl_listing_free(&d->list);
    free(d);
}

void sl_dircache_clear(struct sl_dircache *dc)
{
    for (size_t i = 0; i < SL_DIRCACHE_BUCKETS; i++) {
        struct sl_link *l = sl_list_first(&dc->buckets[i]);
        struct sl_dirlist *d;
        while ((d = of_link(l)) != NULL) {
            l = sl_list_next(&dc->buckets[i], l);
            if (d->kept.state == SL_KEPT_READY)
                sl_kept_unlink(&d->kept);
        }
    }
}

void sl_dircache_expire(struct sl_dircache *dc, uint64_t now_ms)
{
    /* Unused lists are in order of last use, not of age: look at every one. */
    struct sl_kept *e = sl_keep_unused_first(&dc->keep), *next;
    for (; e; e = next) {
        next = sl_keep_unused_next(&dc->keep, e);
        struct sl_dirlist *d = of_kept(e);
        if (now_ms - d->read_at >= d->ttl_ms)
            sl_kept_unlink(e);
    }
}

/* ---- the read, in the pool ---- */

static int64_t ms_of(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000 + t->tv_nsec / 1000000;
}

/* Runs on a pool thread: touches only d's read fields and its list. */
static void read_work(struct sl_kept *e)
{
    struct sl_dirlist *d = of_kept(e);
    struct timespec began;
    struct timespec start;
    struct timespec end;
    clock_gettime(CLOCK_REALTIME, &began);
    clock_gettime(CLOCK_MONOTONIC, &start);
    d->status = sl_listing_read_owned(e->dirfd, e->root_fd, e->rel, d->dc->cfg->dotfiles,
                                      d->dc->cfg->listing_max_entries, &d->list);
    d->list.tar = d->dc->cfg->tar;
    e->dirfd = -1;
    if (e->root_fd >= 0)
        close(e->root_fd);
    e->root_fd = -1;
    d->reusable = ms_of(&began) - ms_of(&d->mtime) >= SL_DIRCACHE_RACY_MS;
    clock_gettime(CLOCK_MONOTONIC, &end);
    int64_t took = ms_of(&end) - ms_of(&start);
    d->ttl_ms = took * SL_DIRCACHE_TTL_READS > SL_DIRCACHE_TTL_MS
                    ? (uint64_t)took * SL_DIRCACHE_TTL_READS
                    : SL_DIRCACHE_TTL_MS;
}

/* Of two reads of one directory, the later one is kept: a list whose read began first
 * may miss what the other saw. */
static void supersede(struct sl_dircache *dc, struct sl_dirlist *d)
{
    struct sl_link *chain = bucket(dc, d->dev, d->ino);
    struct sl_link *l = sl_list_first(chain);
    struct sl_dirlist *o;
    while ((o = of_link(l)) != NULL) {
        l = sl_list_next(chain, l);
        if (o != d && o->kept.state == SL_KEPT_READY && o->dev == d->dev && o->ino == d->ino) {
            if (o->read_at > d->read_at) {
                sl_kept_unlink(&d->kept);
                return;
            }
            sl_kept_unlink(&o->kept);
        }
    }
}

/* A read is over (status: libuv's): count its memory, and keep it or refuse it. */
static void read_finish(struct sl_kept *e, int status)
{
    struct sl_dirlist *d = of_kept(e);
    if (status != 0) /* cancelled: never ran */
        d->status = status;
    size_t bytes = sizeof(*d) + d->list.count * sizeof(*d->list.entries);
    for (size_t i = 0; i < d->list.count; i++)
        bytes += d->list.entries[i].name_len + 1;
    if (!sl_kept_ready(e, bytes)) {
        sl_listing_free(&d->list);
        d->status = -ENOBUFS;
    }
    if (d->status == -ENOBUFS || !d->reusable)
        sl_kept_unlink(e);
    else
        supersede(d->dc, d);
}

/* ---- asking for a list ---- */

/* The list of st's directory that a request which waited for it takes, whatever the
 * directory's mtime now: it was read after the request came. */
static bool is_of(const struct sl_kept *e, const void *key)
{
    return same_dir(sl_container_of(e, const struct sl_dirlist, kept), key);
}

/* A list that can answer a new request for st: READY, of the same mtime, read long
 * enough after the directory's last change and not too long ago; or a read of it under
 * way, to join. NULL: a new read is needed. */
static struct sl_kept *find(struct sl_keep *k, const void *key, uint64_t now_ms)
{
    struct sl_dircache *dc = sl_container_of(k, struct sl_dircache, keep);
    const struct stat *st = key;
    struct sl_link *chain = bucket(dc, st->st_dev, st->st_ino);
    for (struct sl_link *l = sl_list_first(chain); l; l = sl_list_next(chain, l)) {
        struct sl_dirlist *d = of_link(l);
        if (!same_dir(d, st) || !same_mtime(d, st))
            continue;
        if (d->kept.state == SL_KEPT_MAKING)
            return &d->kept;
        if (d->kept.state == SL_KEPT_READY && d->reusable && now_ms - d->read_at < d->ttl_ms)
            return &d->kept;
    }
    return NULL;
}

static const struct sl_keep_ops dirlist_ops = {
    .free = list_free, .is_of = is_of, .find = find, .work = read_work, .finish = read_finish};

/* A new list for st, in the table, and its read started. */
static int start_read(struct sl_dircache *dc, int dirfd, const struct stat *st, int root_fd,
                      const char *rel, uint64_t now_ms, struct sl_wait *w, struct sl_kept **out)
{
    struct sl_dirlist *d = calloc(1, sizeof(*d));
    if (!d) {
        close(dirfd);
        return -ENOMEM;
    }
    d->dc = dc;
    d->dev = st->st_dev;
    d->ino = st->st_ino;
    d->mtime = st->st_mtim;
    d->read_at = now_ms;
    /* Without a root (--follow-symlinks) links are followed freely. */
    return sl_kept_make(&dc->keep, &d->kept, bucket(dc, d->dev, d->ino), dirfd,
                        dc->cfg->follow_symlinks ? -1 : root_fd, rel, w, out);
}

int sl_dircache_get(struct sl_dircache *dc, int dirfd, const struct stat *st, int root_fd,
                    const char *rel, uint64_t now_ms, struct sl_wait *w, struct sl_dirlist **out)
{
    struct sl_kept *e = NULL;
    int rc = sl_keep_ask(&dc->keep, st, now_ms, w, &e);
    if (rc == SL_KEPT_MAKE)
        rc = start_read(dc, dirfd, st, root_fd, rel, now_ms, w, &e);
    else
        close(dirfd);
    *out = rc == 0 ? of_kept(e) : NULL;
    return rc;
}
