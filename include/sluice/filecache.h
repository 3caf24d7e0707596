/* Per-loop open-file cache. Small files are kept in memory; larger ones keep their open
 * descriptor; missing ones are remembered as 404. Each entry holds the stat and prebuilt
 * validators, so a hot file costs no open/fstat/read/close per request, and its
 * path-to-file mapping is trusted for at most SL_CACHE_TTL_MS: after that the next
 * request re-opens the path and the entry is kept (same device, inode, size and mtime)
 * or replaced. A descriptor entry is also fstat'ed on every use, so a file truncated or
 * rewritten in place is never sent with its old length. A response holds a reference to
 * the entry it sends from, so eviction never frees bytes or closes a descriptor in
 * flight; entries unused for SL_CACHE_IDLE_MS are dropped by the loop's tick.
 *
 * Loops keep their own caches, but they agree: whenever a loop learns something new
 * about a path (resolved it afresh, or found it changed or gone), it bumps that path's
 * slot in a process-wide table of change epochs, and an entry whose slot has moved on
 * since it was checked is re-checked before it is used. So once any loop has seen a
 * change, no loop serves the older state. */
#ifndef SLUICE_FILECACHE_H
#define SLUICE_FILECACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "sluice/list.h"
#include "sluice/rep.h"
#include "sluice/str.h"

#define SL_CACHE_TTL_MS 1000          /* an edited or replaced file is served fresh after this */
#define SL_CACHE_IDLE_MS 2000         /* unused this long: dropped (and its descriptor closed) */
#define SL_CACHE_FILE_MAX (16 * 1024) /* larger files keep a descriptor for sendfile */
#define SL_CACHE_ENTRIES_MAX 1024
#define SL_CACHE_BYTES_MAX (8u << 20)

#define SL_CACHE_EPOCHS 4096 /* slots, by path hash; a collision only costs a re-check */

/* Shared by every loop's cache (the only state they share), allocated once. */
struct sl_cache_epochs {
    atomic_uint slot[SL_CACHE_EPOCHS];
};

struct sl_cache_entry {
    struct sl_cache_entry *hnext; /* hash chain */
    struct sl_link lru;           /* in the cache's LRU list, most recent first */
    uint64_t hash;
    uint64_t checked_at; /* loop time (ms) the path last resolved to this file */
    uint64_t used_at;    /* loop time of the last request served from it */
    uint64_t incore_at;  /* loop time its whole file was last seen in the page cache */
    unsigned refs;       /* responses sending from it, and a page key holding it */
    int status;          /* 0: a file (rep); 404: nothing at this path */
    int fd;              /* a larger file's descriptor, or -1 */
    bool dead;           /* evicted or replaced: freed when refs drops to 0 */
    unsigned epoch;      /* the path's change epoch when it was last checked */
    unsigned gen;        /* the cache's generation when it was last checked */
    struct sl_file_rep rep;
    size_t key_len;
    char *key;
    char bytes[]; /* key, the file's name, its pre-rendered fields, then its contents */
};

#define SL_CACHE_BUCKETS 2048

struct sl_cache {
    struct sl_cache_entry *buckets[SL_CACHE_BUCKETS];
    struct sl_link lru; /* entries, most recently used first */
    unsigned count;
    size_t bytes;
    unsigned fds;                   /* descriptor entries */
    unsigned max_fds;               /* beyond this, larger files are not cached */
    struct sl_cache_epochs *epochs; /* shared with the other loops; NULL: none */
    unsigned gen; /* --live: the watcher's generation; entries from another are re-checked */
};

/* max_fds bounds the descriptors the cache may hold (a share of the process limit);
 * epochs (or NULL) is the table shared with the other loops' caches. */
void sl_cache_init(struct sl_cache *c, unsigned max_fds, struct sl_cache_epochs *epochs);
void sl_cache_free(struct sl_cache *c);

/* --live: the file system changed (the watcher's generation moved on to gen): every
 * entry is re-checked (re-opened, kept when unchanged) before it is used again. */
void sl_cache_set_generation(struct sl_cache *c, unsigned gen);

/* Drops every entry (the root was replaced); whoever holds a reference (a response in
 * flight, a page key) keeps its entry until it lets go. */
void sl_cache_clear(struct sl_cache *c);

/* A fresh entry for key (checked within SL_CACHE_TTL_MS of now, and for a descriptor
 * entry unchanged since), referenced for the caller, or NULL. */
struct sl_cache_entry *sl_cache_get(struct sl_cache *c, const char *key, size_t key_len,
                                    uint64_t now);

/* The hash sl_cache_get works out for a key. A caller that asks for the same key again
 * and again (the 404 page, when the entry it holds is no longer fresh) works it out once
 * and passes it to sl_cache_get_hashed. */
static inline uint64_t sl_cache_hash(const char *key, size_t key_len)
{
    return sl_str_hash(sl_str_make(key, key_len));
}

struct sl_cache_entry *sl_cache_get_hashed(struct sl_cache *c, const char *key, size_t key_len,
                                           uint64_t hash, uint64_t now);

/* What sl_cache_get gives for e's key, found without a lookup: e itself, referenced for
 * the caller, while it is still in the cache and fresh; else NULL. For a caller that
 * holds a reference to the entry of a key it asks for again and again (the 404 page). */
struct sl_cache_entry *sl_cache_revisit(struct sl_cache *c, struct sl_cache_entry *e, uint64_t now);

/* After a miss: the file at key was just opened as fd and described by rep (identity,
 * no variants; rep->name and rep->fields are copied). Keeps the existing entry when it is the same
 * file unchanged, or makes a new one: a small file is read into memory, a larger one's descriptor
 * is taken over
 * (*fd becomes -1: the cache owns it now). Returns the entry referenced for the caller,
 * or NULL (then *fd is still the caller's). */
struct sl_cache_entry *sl_cache_put(struct sl_cache *c, const char *key, size_t key_len,
                                    uint64_t now, const struct sl_file_rep *rep, int *fd);

/* Remembers that nothing exists at key (answered 404). */
void sl_cache_put_missing(struct sl_cache *c, const char *key, size_t key_len, uint64_t now);

/* Drops entries unused for SL_CACHE_IDLE_MS (closing their descriptors). */
void sl_cache_expire(struct sl_cache *c, uint64_t now);

/* Another reference to e, kept by the caller past the response (sl_cache_revisit). */
struct sl_cache_entry *sl_cache_hold(struct sl_cache_entry *e);

/* Drops the caller's reference. */
void sl_cache_release(struct sl_cache *c, struct sl_cache_entry *e);

#endif
