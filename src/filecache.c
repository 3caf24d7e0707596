/* Per-loop open-file cache: a hash table with an LRU list, bounded in entries and bytes.
 * Only the loop that owns it touches it, so nothing is locked. */
#include "sluice/filecache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/str.h"

void sl_cache_init(struct sl_cache *c, unsigned max_fds, struct sl_cache_epochs *epochs)
{
    memset(c, 0, sizeof(*c));
    sl_list_init(&c->lru);
    c->max_fds = max_fds;
    c->epochs = epochs;
}

/* ---- change epochs shared between loops ---- */

static unsigned epoch_now(const struct sl_cache *c, uint64_t h)
{
    return c->epochs ? atomic_load(&c->epochs->slot[h % SL_CACHE_EPOCHS]) : 0;
}

/* Tells the other loops that what they know of this path may be out of date. */
static unsigned epoch_bump(struct sl_cache *c, uint64_t h)
{
    return c->epochs ? atomic_fetch_add(&c->epochs->slot[h % SL_CACHE_EPOCHS], 1) + 1 : 0;
}

static struct sl_cache_entry *lru_entry(struct sl_link *l)
{
    return l ? sl_container_of(l, struct sl_cache_entry, lru) : NULL;
}

/* The least recently used entry, or NULL. */
static struct sl_cache_entry *lru_oldest(const struct sl_cache *c)
{
    return lru_entry(sl_list_last(&c->lru));
}

/* Memory a cached entry accounts for: its contents, when it holds them. */
static size_t entry_bytes(const struct sl_cache_entry *e)
{
    return e->rep.data ? (size_t)e->rep.st.st_size : 0;
}

static void entry_free(struct sl_cache_entry *e)
{
    if (e->fd >= 0)
        close(e->fd);
    free(e);
}

/* Takes e out of the table; its memory goes when the last response using it ends. */
static void evict(struct sl_cache *c, struct sl_cache_entry *e)
{
    struct sl_cache_entry **p = &c->buckets[e->hash % SL_CACHE_BUCKETS];
    while (*p != e)
        p = &(*p)->hnext;
    *p = e->hnext;
    sl_list_remove(&e->lru);
    c->count--;
    c->bytes -= entry_bytes(e);
    c->fds -= e->fd >= 0;
    e->dead = true;
    if (e->refs == 0)
        entry_free(e);
}

void sl_cache_set_generation(struct sl_cache *c, unsigned gen)
{
    c->gen = gen;
}

void sl_cache_clear(struct sl_cache *c)
{
    sl_cache_free(c);
}

void sl_cache_free(struct sl_cache *c)
{
    struct sl_cache_entry *e;
    while ((e = lru_oldest(c)) != NULL)
        evict(c, e);
}

static struct sl_cache_entry *find(struct sl_cache *c, const char *key, size_t len, uint64_t h)
{
    for (struct sl_cache_entry *e = c->buckets[h % SL_CACHE_BUCKETS]; e; e = e->hnext) {
        if (e->hash == h && sl_str_eq(sl_str_make(e->key, e->key_len), sl_str_make(key, len)))
            return e;
    }
    return NULL;
}

static struct sl_cache_entry *use(struct sl_cache *c, struct sl_cache_entry *e, uint64_t now)
{
    /* Used already at this tick of the loop's clock: it stays among the entries of this
     * tick, which is as fine as the LRU order gets (expiry goes by the same clock). An
     * entry that was the first used in a tick could be evicted within that tick only if
     * the cache took in its whole bound of new entries meanwhile. */
    if (e->used_at != now) {
        sl_list_remove(&e->lru);
        sl_list_push_front(&c->lru, &e->lru);
    }
    e->refs++;
    e->used_at = now;
    return e;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    /* ctime too: "cp -p" or "rsync --inplace -t" rewrite a file in place and put its
     * size and mtime back, but cannot fake the change time. */
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

struct sl_cache_entry *sl_cache_get(struct sl_cache *c, const char *key, size_t key_len,
                                    uint64_t now)
{
    return sl_cache_get_hashed(c, key, key_len, sl_cache_hash(key, key_len), now);
}

/* Whether descriptor entry e's file is still what it was: the length we promise must be
 * the descriptor's own, now, so an fstat per use catches a file truncated or rewritten
 * in place. When it is not, e goes, and the other loops hear of it. */
static bool descriptor_unchanged(struct sl_cache *c, struct sl_cache_entry *e)
{
    struct stat st;
    if (fstat(e->fd, &st) == 0 && same_file(&st, &e->rep.st))
        return true;
    epoch_bump(c, e->hash);
    evict(c, e);
    return false;
}

/* e, referenced for the caller, if it may still be used: checked within the TTL, in
 * this generation and epoch, and for a descriptor entry unchanged since. Otherwise the
 * caller re-opens the path, then keeps or replaces the entry. */
static struct sl_cache_entry *use_if_fresh(struct sl_cache *c, struct sl_cache_entry *e,
                                           uint64_t now)
{
    if (now - e->checked_at >= SL_CACHE_TTL_MS || e->gen != c->gen ||
        e->epoch != epoch_now(c, e->hash))
        return NULL;
    if (e->fd >= 0 && !descriptor_unchanged(c, e))
        return NULL;
    return use(c, e, now);
}

struct sl_cache_entry *sl_cache_get_hashed(struct sl_cache *c, const char *key, size_t key_len,
                                           uint64_t hash, uint64_t now)
{
    struct sl_cache_entry *e = find(c, key, key_len, hash);
    return e ? use_if_fresh(c, e, now) : NULL;
}

struct sl_cache_entry *sl_cache_revisit(struct sl_cache *c, struct sl_cache_entry *e, uint64_t now)
{
    return e->dead ? NULL : use_if_fresh(c, e, now);
}

/* Makes room for `size` more bytes of contents and one more entry. */
static void make_room(struct sl_cache *c, size_t size)
{
    struct sl_cache_entry *e;
    while ((e = lru_oldest(c)) != NULL &&
           (c->count >= SL_CACHE_ENTRIES_MAX || c->bytes + size > SL_CACHE_BYTES_MAX))
        evict(c, e);
}

/* A new entry: what it says is news to the other loops, so their entries for the same
 * path are re-checked before they are used again. */
static void insert(struct sl_cache *c, struct sl_cache_entry *e, uint64_t h, uint64_t now)
{
    e->hash = h;
    e->epoch = epoch_bump(c, h);
    e->gen = c->gen;
    e->checked_at = now;
    e->used_at = now;
    e->refs = 0;
    e->dead = false;
    e->hnext = c->buckets[h % SL_CACHE_BUCKETS];
    c->buckets[h % SL_CACHE_BUCKETS] = e;
    sl_list_push_front(&c->lru, &e->lru);
    c->count++;
    c->bytes += entry_bytes(e);
    c->fds += e->fd >= 0;
}

static struct sl_cache_entry *entry_alloc(const char *key, size_t key_len, size_t extra)
{
    struct sl_cache_entry *e = malloc(sizeof(*e) + key_len + extra);
    if (!e)
        return NULL;
    e->key = e->bytes;
    memcpy(e->key, key, key_len);
    e->key_len = key_len;
    e->fd = -1;
    e->status = 0;
    e->incore_at = 0;
    e->lru = (struct sl_link){NULL, NULL};
    return e;
}

/* Reads exactly size bytes at offset 0; false on error or a file that changed size. */
static bool read_whole(int fd, char *out, size_t size)
{
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, out + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    char extra;
    return pread(fd, &extra, 1, (off_t)size) == 0; /* grew meanwhile: do not cache */
}

/* Copies rep into e, with its name and pre-rendered fields after the key in e->bytes.
 * Returns where the contents go, after them. */
static char *keep_rep(struct sl_cache_entry *e, size_t key_len, const struct sl_file_rep *rep)
{
    e->rep = *rep;
    e->rep.data = NULL;
    char *w = e->bytes + key_len;
    e->rep.name = memcpy(w, rep->name, rep->name_len);
    w += rep->name_len;
    if (rep->fields) {
        e->rep.fields = memcpy(w, rep->fields, rep->fields_len);
        w += rep->fields_len;
    }
    return w;
}

struct sl_cache_entry *sl_cache_put(struct sl_cache *c, const char *key, size_t key_len,
                                    uint64_t now, const struct sl_file_rep *rep, int *fd)
{
    if (rep->st.st_size < 0)
        return NULL;
    uint64_t h = sl_cache_hash(key, key_len);
    struct sl_cache_entry *old = find(c, key, key_len, h);
    if (old && old->status == 0 && same_file(&old->rep.st, &rep->st)) {
        old->checked_at = now;
        old->gen = c->gen;
        old->epoch = epoch_now(c, h);
        return use(c, old, now);
    }
    bool in_memory = rep->st.st_size <= SL_CACHE_FILE_MAX;
    if (!in_memory && c->fds >= c->max_fds)
        return NULL;
    size_t size = in_memory ? (size_t)rep->st.st_size : 0;
    size_t fields_len = rep->fields ? rep->fields_len : 0;
    struct sl_cache_entry *e = entry_alloc(key, key_len, rep->name_len + fields_len + size);
    if (!e)
        return NULL;
    char *data = keep_rep(e, key_len, rep);
    if (in_memory) {
        if (!read_whole(*fd, data, size)) {
            free(e);
            return NULL;
        }
        e->rep.data = data;
    } else {
        e->fd = *fd;
        *fd = -1;
    }
    if (old)
        evict(c, old);
    make_room(c, size);
    insert(c, e, h, now);
    return use(c, e, now);
}

void sl_cache_put_missing(struct sl_cache *c, const char *key, size_t key_len, uint64_t now)
{
    uint64_t h = sl_cache_hash(key, key_len);
    struct sl_cache_entry *old = find(c, key, key_len, h);
    if (old && old->status == 404) {
        /* Still missing: nothing new to tell the other loops. */
        old->checked_at = now;
        old->gen = c->gen;
        old->epoch = epoch_now(c, h);
        return;
    }
    if (old)
        evict(c, old);
    struct sl_cache_entry *e = entry_alloc(key, key_len, 0);
    if (!e)
        return;
    memset(&e->rep, 0, sizeof(e->rep));
    e->status = 404;
    make_room(c, 0);
    insert(c, e, h, now);
}

void sl_cache_expire(struct sl_cache *c, uint64_t now)
{
    /* The LRU tail is the least recently used: stop at the first entry still in use. */
    struct sl_cache_entry *e;
    while ((e = lru_oldest(c)) != NULL && now - e->used_at >= SL_CACHE_IDLE_MS)
        evict(c, e);
}

struct sl_cache_entry *sl_cache_hold(struct sl_cache_entry *e)
{
    e->refs++;
    return e;
}

void sl_cache_release(struct sl_cache *c, struct sl_cache_entry *e)
{
    if (--e->refs == 0 && e->dead)
        entry_free(e);
}
