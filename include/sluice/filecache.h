/* Per-loop cache of small files: contents, stat and prebuilt validators, so a hot small
 * file costs no open/fstat/read/close per request. Each entry's path-to-file mapping is
 * trusted for at most SL_CACHE_TTL_MS; after that the next request re-opens the file and
 * the entry is kept (same device, inode, size and mtime) or replaced. A response holds
 * a reference to the entry it sends from, so eviction never frees bytes in flight. */
#ifndef SLUICE_FILECACHE_H
#define SLUICE_FILECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "sluice/cond.h"
#include "sluice/httpdate.h"

#define SL_CACHE_TTL_MS 1000          /* an edited or replaced file is served fresh after this */
#define SL_CACHE_FILE_MAX (16 * 1024) /* larger files go out with sendfile */
#define SL_CACHE_ENTRIES_MAX 1024
#define SL_CACHE_BYTES_MAX (8u << 20)

/* The representation a file response sends: what the headers say about it and where
 * its bytes come from (data, or the exchange's descriptor when data is NULL). */
struct sl_file_rep {
    struct stat st;
    const char *mime;
    int encoding; /* enum sl_encoding actually sent */
    bool has_variants;
    char etag[SL_ETAG_MAX];
    size_t etag_len;
    char last_modified[SL_HTTPDATE_LEN + 1];
    const char *name; /* the file's own name, for Content-Disposition */
    size_t name_len;
    const char *data;
};

struct sl_cache_entry {
    struct sl_cache_entry *hnext; /* hash chain */
    struct sl_cache_entry *prev;  /* LRU list, most recent first */
    struct sl_cache_entry *next;
    uint64_t hash;
    uint64_t checked_at; /* loop time (ms) the path last resolved to this file */
    unsigned refs;       /* responses sending from it */
    bool dead;           /* evicted or replaced: freed when refs drops to 0 */
    struct sl_file_rep rep;
    size_t key_len;
    char *key;
    char bytes[]; /* key, then the file's contents */
};

#define SL_CACHE_BUCKETS 2048

struct sl_cache {
    struct sl_cache_entry *buckets[SL_CACHE_BUCKETS];
    struct sl_cache_entry *head; /* most recently used */
    struct sl_cache_entry *tail;
    unsigned count;
    size_t bytes;
};

void sl_cache_init(struct sl_cache *c);
void sl_cache_free(struct sl_cache *c);

/* A fresh entry for key (checked within SL_CACHE_TTL_MS of now), referenced for the
 * caller, or NULL. */
struct sl_cache_entry *sl_cache_get(struct sl_cache *c, const char *key, size_t key_len,
                                    uint64_t now);

/* After a miss: the file at key was just opened as fd and described by rep (identity,
 * no variants, small). Keeps the existing entry when it is the same file unchanged, or
 * reads the file into a new one. Returns it referenced for the caller, or NULL (then
 * send from fd as usual). */
struct sl_cache_entry *sl_cache_put(struct sl_cache *c, const char *key, size_t key_len,
                                    uint64_t now, const struct sl_file_rep *rep, int fd);

/* Drops the caller's reference. */
void sl_cache_release(struct sl_cache *c, struct sl_cache_entry *e);

#endif
