/* A tar archive's body chunk by chunk (see tarbody.h): memory runs from sl_tar_fill, file
 * ranges of the member at hand, each checked against the layout first. */
#include "sluice/tarbody.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/path.h"
#include "sluice/router.h"

struct slice {
    uint64_t off;
    uint64_t len;
};

struct tarbody {
    struct sl_producer base; /* first: the producer's address is the tarbody's */
    const struct sl_tar_layout *l;
    const char *rel;
    const struct sl_config *cfg;
    const struct sl_root *root;
    sl_tarbody_release_fn *release;
    void *release_arg;
    unsigned nslices;
    unsigned slice; /* the slice being produced */
    uint64_t pos;   /* the next archive byte to produce */
    uint64_t end;   /* where the slice ends */
    size_t at;      /* sl_tar_fill's hint */
    size_t member;  /* the member whose file is open (fd), or SIZE_MAX */
    int fd;
    struct slice slices[SL_SEGS_MAX];
    char buf[SL_TARBODY_CHUNK];
};

static bool same_time(const struct timespec *t, int64_t sec, uint32_t nsec)
{
    return t->tv_sec == sec && t->tv_nsec == (long)nsec;
}

/* Whether fd is still the file member m was laid out from, unchanged. */
static bool unchanged(int fd, const struct sl_tar_member *m)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_dev == m->dev &&
           (uint64_t)st.st_ino == m->ino && (uint64_t)st.st_size == m->size &&
           same_time(&st.st_mtim, m->mtime, m->mtime_ns) &&
           same_time(&st.st_ctim, m->ctime, m->ctime_ns);
}

/* Done with the open member: its last chunk has left, so it is checked once more (a
 * write during that chunk would otherwise go unseen), then closed. */
static int close_member(struct tarbody *tb)
{
    if (tb->fd < 0)
        return 0;
    bool ok = unchanged(tb->fd, &tb->l->members[tb->member]);
    sl_resident_release(&tb->base.resident);
    close(tb->fd);
    tb->fd = -1;
    tb->member = SIZE_MAX;
    return ok ? 0 : -ESTALE;
}

/* Opens member i's file beneath the root, as the layout found it. */
static int open_member(struct tarbody *tb, size_t i)
{
    const struct sl_tar_member *m = &tb->l->members[i];
    char path[SL_PATH_MAX];
    const char *p = tb->l->paths + m->path;
    if (sl_path_join(path, sizeof(path), tb->rel, strlen(tb->rel), p, m->path_len) == 0)
        return -ENAMETOOLONG;
    if (sl_root_missing(tb->root))
        return -ENOENT;
    int fd = sl_router_open(tb->cfg, tb->root->fd, path, SL_ROUTER_OPEN_FLAGS);
    if (fd < 0)
        return fd;
    tb->fd = fd;
    tb->member = i;
    return 0;
}

/* The next file range of member i's data, from tb->pos: at most a file chunk, within
 * the slice, after checking that the file is still the one laid out. */
static int produce_data(struct tarbody *tb, size_t i, struct sl_chunk *chunk)
{
    int err = 0;
    if (tb->member != i && ((err = close_member(tb)) != 0 || (err = open_member(tb, i)) != 0))
        return err;
    const struct sl_tar_member *m = &tb->l->members[i];
    if (!unchanged(tb->fd, m))
        return -ESTALE;
    uint64_t off = tb->pos - sl_tar_data_off(m);
    uint64_t len = m->size - off;
    if (len > tb->end - tb->pos)
        len = tb->end - tb->pos;
    if (len > SL_TARBODY_FILE_CHUNK)
        len = SL_TARBODY_FILE_CHUNK;
    *chunk = (struct sl_chunk){.mem = NULL, .fd = tb->fd, .off = off, .len = len, .size = m->size};
    tb->pos += len;
    return 0;
}

static int tarbody_produce(struct sl_producer *p, struct sl_chunk *chunk)
{
    struct tarbody *tb = (struct tarbody *)p;
    while (tb->pos >= tb->end) {
        if (tb->slice + 1 >= tb->nslices) {
            *chunk = (struct sl_chunk){.mem = NULL, .fd = -1, .off = 0, .len = 0};
            return 0;
        }
        tb->slice++;
        tb->pos = tb->slices[tb->slice].off;
        tb->end = tb->pos + tb->slices[tb->slice].len;
    }
    size_t n = sl_tar_fill(tb->l, tb->pos, tb->end, tb->buf, sizeof(tb->buf), &tb->at);
    if (n == 0) /* tb->pos is in member tb->at's data */
        return produce_data(tb, tb->at, chunk);
    int err = close_member(tb); /* memory follows: the open member's data is out */
    if (err)
        return err;
    *chunk = (struct sl_chunk){.mem = tb->buf, .fd = -1, .off = 0, .len = n};
    tb->pos += n;
    return 0;
}

static void tarbody_free(struct sl_producer *p)
{
    struct tarbody *tb = (struct tarbody *)p;
    sl_resident_release(&tb->base.resident);
    if (tb->fd >= 0)
        close(tb->fd);
    tb->release(tb->release_arg);
    free(tb);
}

struct sl_producer *sl_tarbody_new(const struct sl_tar_layout *l, const char *rel,
                                   const struct sl_config *cfg, const struct sl_root *root,
                                   const struct sl_seg *segs, unsigned nsegs,
                                   sl_tarbody_release_fn *release, void *arg)
{
    struct tarbody *tb = malloc(sizeof(*tb));
    if (!tb)
        return NULL;
    *tb = (struct tarbody){
        .base = {.produce = tarbody_produce, .free = tarbody_free, .holds_file = true},
        .l = l,
        .rel = rel,
        .cfg = cfg,
        .root = root,
        .release = release,
        .release_arg = arg,
        .at = SIZE_MAX,
        .member = SIZE_MAX,
        .fd = -1,
    };
    for (unsigned i = 0; i < nsegs && tb->nslices < SL_SEGS_MAX; i++)
        if (!segs[i].mem)
            tb->slices[tb->nslices++] = (struct slice){segs[i].off, segs[i].len};
    if (tb->nslices > 0) {
        tb->pos = tb->slices[0].off;
        tb->end = tb->pos + tb->slices[0].len;
    }
    return &tb->base;
}
