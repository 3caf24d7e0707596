/* The served directory, held by descriptor and known by path. Docs builds delete and
 * recreate their output directory ("make clean html", "rm -rf public && hugo"), which
 * would leave a server holding the descriptor of a deleted directory: every loop
 * re-checks the path against its descriptor at most once a second and re-opens the
 * root when it was replaced. While the path does not exist, requests get 503. */
#ifndef SLUICE_ROOT_H
#define SLUICE_ROOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SL_ROOT_CHECK_MS 1000

/* What the loops share: whether the root is missing, so that one line (not one per
 * loop) tells the user when it goes and when it is back. */
struct sl_root_shared {
    atomic_int missing;
};

/* One loop's view of the root. */
struct sl_root {
    const char *path; /* as given; NULL: never re-checked (--chroot) */
    int fd;           /* this loop's own descriptor of the root, or -1 while missing */
    dev_t dev;        /* identity of what fd holds */
    ino_t ino;
    uint64_t checked_at; /* loop time (ms) of the last check */
    struct sl_root_shared *shared;
};

enum sl_root_change {
    SL_ROOT_SAME,     /* nothing changed */
    SL_ROOT_REPLACED, /* re-opened (or back after missing): drop what was cached */
    SL_ROOT_GONE,     /* the path no longer exists: answer 503 until it is back */
};

/* Takes a descriptor of its own (a dup of fd). path NULL: never re-checked. Returns 0
 * or a negative errno. */
int sl_root_init(struct sl_root *r, const char *path, int fd, struct sl_root_shared *shared);
void sl_root_free(struct sl_root *r);

/* Compares the path with the descriptor held (a stat and an fstat), re-opening the path
 * when it names another directory now. At most once per SL_ROOT_CHECK_MS unless force:
 * inline, as every request asks and nearly every one is told it is too soon. */
enum sl_root_change sl_root_check_slow(struct sl_root *r, uint64_t now_ms);
static inline enum sl_root_change sl_root_check(struct sl_root *r, uint64_t now_ms, bool force)
{
    if (!r->path || (!force && now_ms - r->checked_at < SL_ROOT_CHECK_MS))
        return SL_ROOT_SAME;
    return sl_root_check_slow(r, now_ms);
}

/* The root is missing: answer 503. */
static inline bool sl_root_missing(const struct sl_root *r)
{
    return r->fd < 0;
}

#endif
