/* The root by path and by descriptor (see root.h). The check is a stat and an fstat,
 * once a second per loop, never per request. */
#include "sluice/root.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static void remember(struct sl_root *r, int fd, const struct stat *st)
{
    r->fd = fd;
    r->dev = st->st_dev;
    r->ino = st->st_ino;
}

int sl_root_init(struct sl_root *r, const char *path, int fd, struct sl_root_shared *shared)
{
    struct stat st;
    r->path = path;
    r->shared = shared;
    r->checked_at = 0;
    r->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (r->fd < 0 || fstat(r->fd, &st) != 0)
        return -errno;
    remember(r, r->fd, &st);
    return 0;
}

void sl_root_free(struct sl_root *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

/* One line for the whole process: the loop that flips the shared flag says it. */
static void announce(struct sl_root *r, bool missing)
{
    int expected = !missing;
    if (!atomic_compare_exchange_strong(&r->shared->missing, &expected, missing))
        return;
    if (missing)
        fprintf(stderr, "sluice: the served directory %s is gone; answering 503 until it returns\n",
                r->path);
    else
        fprintf(stderr, "sluice: the served directory %s is back; serving it again\n", r->path);
}

static enum sl_root_change root_gone(struct sl_root *r)
{
    if (r->fd < 0)
        return SL_ROOT_SAME;
    close(r->fd);
    r->fd = -1;
    announce(r, true);
    return SL_ROOT_GONE;
}

/* The path names another directory than the one held (or one again): open it. */
static enum sl_root_change root_reopen(struct sl_root *r)
{
    int fd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return root_gone(r); /* replaced between the stat and the open: try again later */
    }
    bool was_missing = r->fd < 0;
    if (r->fd >= 0)
        close(r->fd);
    remember(r, fd, &st);
    if (was_missing)
        announce(r, false);
    return SL_ROOT_REPLACED;
}

enum sl_root_change sl_root_check_slow(struct sl_root *r, uint64_t now_ms)
{
    r->checked_at = now_ms;
    struct stat st;
    if (stat(r->path, &st) != 0 || !S_ISDIR(st.st_mode))
        return root_gone(r);
    if (r->fd >= 0 && st.st_dev == r->dev && st.st_ino == r->ino)
        return SL_ROOT_SAME;
    return root_reopen(r);
}
