/* Directory listings per loop: entry lists read, stat'ed, sorted and measured in libuv's
 * thread pool, never on the loop, then shared by every response that renders them.
 *
 * A list is known by its directory's identity and mtime (device, inode, mtime to the
 * nanosecond). A request for a directory whose read is under way joins that read
 * instead of starting another; a finished list serves later requests for
 * SL_DIRCACHE_TTL_MS (longer for directories slow to read), so 200 readers of one 50,000-entry
 * listing share one list and one read. Lists are reference-counted (each response that renders one
 * holds it) and the cache is bounded in bytes: lists nobody uses are dropped, least recently used
 * first, to make room, and a read that would push the lists in use past the bound is refused (503),
 * unless it is the only one. A change to the directory (an entry added, removed, renamed) changes
 * its mtime and so its key at once; a file edited in place changes only the file, and shows within
 * SL_DIRCACHE_TTL_MS, as an edited file does (within ten times the read's duration for a directory
 * that takes longer than 100 ms to read).
 *
 * One cache per loop, touched by that loop only (the reads in the pool touch only
 * their own list until they are done), so nothing is locked. */
#ifndef SLUICE_DIRCACHE_H
#define SLUICE_DIRCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <uv.h>

#include "sluice/config.h"
#include "sluice/kept.h"
#include "sluice/list.h"
#include "sluice/listing.h"
#include "sluice/wait.h"

/* A finished list serves new requests this long after its read began, or
 * SL_DIRCACHE_TTL_READS times as long as the read took when that is longer: re-reading
 * a directory that is listed without pause then costs at most a tenth of one pool
 * thread (50,000 entries: a 250 ms read, trusted for 2.5 s). */
#define SL_DIRCACHE_TTL_MS 1000
#define SL_DIRCACHE_TTL_READS 10
/* A directory changed less than this before its read began may change again within the
 * same mtime tick (coarse file-system clocks; "racy git"): its list serves the requests
 * that waited for it, not later ones. */
#define SL_DIRCACHE_RACY_MS 1000
/* Bytes of entry lists per process (names, entries and bookkeeping), split evenly
 * between the loops. 64 MiB holds about a million entries with 20-byte names. */
#define SL_DIRCACHE_BYTES (64u << 20)
/* Reads in flight per loop; further requests wait for a slot. Each holds two descriptors
 * (the directory and a duplicate of the root) and, while it runs, a third (a symlink's
 * target being checked beneath the root). */
#define SL_DIRCACHE_READS 2
#define SL_DIRCACHE_FDS_PER_READ 3

/* One read of one directory. */
struct sl_dirlist {
    /* What a response reads, once READY (never changed afterwards). */
    struct sl_listing list; /* sorted and measured */
    int status;             /* 0, or the read's negative errno: -EFBIG past
                               --listing-max-entries, -ENOBUFS over the byte bound */

    /* The cache's: MAKING while read, then READY (kept.h); in a hash chain by kept.link. */
    struct sl_kept kept;
    struct sl_dircache *dc;
    bool reusable; /* serves requests that arrive after its read (not racy) */
    dev_t dev;     /* the key: the directory's identity and mtime */
    ino_t ino;
    struct timespec mtime;
    uint64_t read_at; /* loop time (ms) the read began */
    uint64_t ttl_ms;  /* how long after read_at it serves new requests */
};

#define SL_DIRCACHE_BUCKETS 256

struct sl_dircache {
    const struct sl_config *cfg;
    struct sl_keep keep;                         /* the bound, the LRU list, the read slots */
    struct sl_link buckets[SL_DIRCACHE_BUCKETS]; /* lists MAKING or READY, by dev and ino */
};

/* Reads on `loop`'s thread pool (NULL: on the caller's thread, at once), with cfg's
 * dotfiles, follow_symlinks and listing_max_entries, keeping at most max_bytes. */
void sl_dircache_init(struct sl_dircache *dc, uv_loop_t *loop, const struct sl_config *cfg,
                      size_t max_bytes);
/* Forgets the lists kept for later requests: the root was replaced (lists in use stay
 * with their responses), or the loop has ended (none is in use or being read: all are
 * freed). */
void sl_dircache_clear(struct sl_dircache *dc);
/* Drops unused lists too old to serve a new request (from the loop's tick). */
void sl_dircache_expire(struct sl_dircache *dc, uint64_t now_ms);

/* The list of the directory open at dirfd, which st describes and which is `rel`
 * beneath root_fd (this loop's root descriptor). dirfd is taken: closed, or handed to a
 * read. Returns 0 with *out referenced for the caller (its status may be an error),
 * SL_KEPT_WAIT when w now waits (for this directory's read, or for a read slot), or
 * a negative errno when not even a read could be started. When w is woken, w->got may
 * hold the list it waited for (referenced); the next call with w takes it if it is of
 * the same directory (whatever its mtime now: it was read after the request came), else
 * lets it go. */
int sl_dircache_get(struct sl_dircache *dc, int dirfd, const struct stat *st, int root_fd,
                    const char *rel, uint64_t now_ms, struct sl_wait *w, struct sl_dirlist **out);

/* Another reference to d (a response's producer keeps one). */
static inline void sl_dirlist_hold(struct sl_dirlist *d)
{
    sl_kept_hold(&d->kept);
}

/* Lets go of a reference; the last one of a list that is no longer kept frees it. */
static inline void sl_dirlist_release(struct sl_dirlist *d)
{
    sl_kept_release(&d->kept);
}

#endif
