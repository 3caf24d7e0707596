/* Tar layouts per loop: trees walked, stat'ed and laid out (tarwalk.c) in libuv's thread
 * pool, never on the loop, then shared by every response that sends their archive.
 *
 * A layout is known by its top directory's identity and name in the archive. A tree has
 * no one mtime that tells of a change anywhere below it, so a layout serves new requests
 * only for SL_TARCACHE_TTL_MS after its walk began, as an open file's stat is trusted for
 * a second (and the archive's sender checks every member's stat against the layout as it
 * goes, so a layout that is out of date ends a response early, never corrupts it). That
 * is what lets a download manager's parallel range requests, or a resumed download
 * retried at once, share one walk. A request for a tree whose walk is under way and
 * young enough joins it. Layouts are reference-counted (each response sending one holds
 * it) and bounded in bytes like the directory cache's lists: unused ones are dropped,
 * least recently used first, and a walk whose layout would push those in use past the
 * bound is refused (503), unless it is the only one. One walk runs at a time per loop:
 * a tree is much more work than a directory, and the pool is shared with listings.
 *
 * One cache per loop, touched only by that loop (the walk in the pool touches only its
 * own layout until it is done), so nothing is locked. */
#ifndef SLUICE_TARCACHE_H
#define SLUICE_TARCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <uv.h>

#include "sluice/config.h"
#include "sluice/kept.h"
#include "sluice/list.h"
#include "sluice/tar.h"
#include "sluice/wait.h"

/* A layout serves new requests this long after its walk began. */
#define SL_TARCACHE_TTL_MS 1000
/* Bytes of layouts per process (members, paths, bookkeeping), split evenly between the
 * loops: about 100 bytes a member, so a few 100,000-member trees at once. */
#define SL_TARCACHE_BYTES (64u << 20)
/* Walks in flight per loop; further requests wait for the slot. Each holds two
 * descriptors: a duplicate of the root, and the directory being read or a symlink's
 * target being checked beneath the root. They are counted with the loop's body files
 * (`files` below), not in the fixed per-loop share: a walk is work for a response. */
#define SL_TARCACHE_WALKS 1
#define SL_TARCACHE_FDS_PER_WALK 2

/* One walk of one tree. */
struct sl_tarlayout {
    /* What a response reads, once READY (never changed afterwards). */
    struct sl_tar_layout layout;
    int status; /* 0, or the walk's negative errno: -EFBIG past --tar-max-entries,
                   -ENOBUFS over the byte bound */

    /* The cache's: MAKING while walked, then READY (kept.h); in its list by kept.link. */
    struct sl_kept kept;
    struct sl_tarcache *tc;
    dev_t dev; /* the key: the top directory's identity, and layout.name */
    ino_t ino;
    uint64_t walk_at; /* loop time (ms) the walk began */
};

struct sl_tarcache {
    const struct sl_config *cfg;
    struct sl_keep keep;    /* the bound, the LRU list, the walk slot */
    struct sl_link layouts; /* MAKING and READY */
    /* The loop's count of descriptors its responses hold (the exchange pool's body
     * files): a walk adds SL_TARCACHE_FDS_PER_WALK to it while it runs, and is not started
     * past cfg->files_per_loop (fdbudget.h). NULL: not counted. */
    unsigned *files;
};

/* Walks on `loop`'s thread pool (NULL: on the caller's thread, at once), with cfg's
 * dotfiles, follow_symlinks and tar_max_entries, keeping at most max_bytes. */
void sl_tarcache_init(struct sl_tarcache *tc, uv_loop_t *loop, const struct sl_config *cfg,
                      size_t max_bytes);
/* Forgets the layouts kept for later requests: the root was replaced (layouts in use
 * stay with their responses), or the loop has ended (none is in use or being walked:
 * all are freed). */
void sl_tarcache_clear(struct sl_tarcache *tc);
/* Drops layouts too old to serve a new request (from the loop's tick). */
void sl_tarcache_expire(struct sl_tarcache *tc, uint64_t now_ms);

/* The layout of the tree at dirfd (taken: closed, or handed to a walk), which st
 * describes and which is `rel` beneath root_fd, with `name` (name_len < SL_TAR_NAME_MAX)
 * as its top directory in the archive. Returns 0 with *out referenced for the caller
 * (its status may be an error), SL_KEPT_WAIT when w now waits (for the walk, or for
 * the slot), or a negative errno when not even a walk could be started (-EMFILE: the
 * loop's descriptors for responses are all in use). When w is woken,
 * w->got may hold the layout it waited for (referenced); the next call with w takes it
 * if it is of the same tree and name, else lets it go. */
int sl_tarcache_get(struct sl_tarcache *tc, int dirfd, const struct stat *st, int root_fd,
                    const char *rel, const char *name, size_t name_len, uint64_t now_ms,
                    struct sl_wait *w, struct sl_tarlayout **out);

/* Another reference to t (a response's producer keeps one). */
static inline void sl_tarlayout_hold(struct sl_tarlayout *t)
{
    sl_kept_hold(&t->kept);
}

/* Lets go of a reference; the last one of a layout that is no longer kept frees it. */
static inline void sl_tarlayout_release(struct sl_tarlayout *t)
{
    sl_kept_release(&t->kept);
}

#endif
