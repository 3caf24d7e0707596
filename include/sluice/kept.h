/* What the per-loop caches of pool-made things share (directory lists in dircache.c, tar
 * layouts in tarcache.c): each thing is made once in libuv's thread pool, joined by the
 * requests that ask for it meanwhile, handed to them with a reference each, and kept for
 * later requests under a byte bound, least recently used dropped first.
 *
 * An entry is MAKING while its work runs (waiters join it), READY once made (in its
 * cache's index; in the LRU list while nobody holds it), DEAD once out of the index
 * (freed by its last release). Each cache embeds a struct sl_kept in its entries and a
 * struct sl_keep in itself, and keeps its own index (a hash table or a list) through
 * the entry's `link`, its own key, its own work and its own expiry rules (struct
 * sl_keep_ops). All on the loop's thread, but for the work. */
#ifndef SLUICE_KEPT_H
#define SLUICE_KEPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "sluice/list.h"
#include "sluice/wait.h"

/* A cache's answer when the request must wait: for the work that makes what it asked
 * for, or for a free slot to start one. */
#define SL_KEPT_WAIT 1
/* sl_keep_ask's answer when nothing kept or under way serves: start a new work. */
#define SL_KEPT_MAKE 2

enum sl_kept_state { SL_KEPT_MAKING, SL_KEPT_READY, SL_KEPT_DEAD };

struct sl_keep;

struct sl_kept {
    struct sl_keep *keep;
    struct sl_link link;    /* MAKING and READY: in the cache's index */
    struct sl_link lru;     /* READY and unused: in keep->lru */
    struct sl_link waiters; /* MAKING: the sl_waits to wake */
    unsigned refs;
    unsigned char state; /* enum sl_kept_state */
    size_t bytes;        /* counted against keep->max_bytes */

    /* The work's, in the pool: nothing else touches these while it runs. */
    uv_work_t work;
    int dirfd;   /* where it starts (the work takes it and sets -1) */
    int root_fd; /* its own duplicate of the loop's root, which the loop may replace
                    meanwhile, or -1 (the work closes it and sets -1) */
    char *rel;   /* dirfd's path beneath the root */
};

/* What a cache tells kept.c about its entries; key is the cache's own. */
struct sl_keep_ops {
    /* Frees the entry that embeds e and what it holds (its bytes are already uncounted). */
    void (*free)(struct sl_kept *e);
    /* Whether e, made for a request that waited, is of what key asks for, whatever its
     * age: it was made after the request came, so it answers it. */
    bool (*is_of)(const struct sl_kept *e, const void *key);
    /* An entry that can answer a new request for key: READY and fresh enough, or MAKING
     * and young enough to join. NULL: a new work is needed. */
    struct sl_kept *(*find)(struct sl_keep *k, const void *key, uint64_t now_ms);
    /* The work: runs in the pool (on the caller's thread without a loop). */
    void (*work)(struct sl_kept *e);
    /* Back on the loop after the work (status: libuv's, non-zero when it never ran):
     * counts what it made with sl_kept_ready, and unlinks e when it is not to be kept. */
    void (*finish)(struct sl_kept *e, int status);
};

struct sl_keep {
    const struct sl_keep_ops *ops;
    uv_loop_t *loop;             /* NULL: works run on the caller's thread (unit tests, fuzzing) */
    struct sl_link lru;          /* READY entries nobody holds, most recently used first */
    struct sl_link slot_waiters; /* requests waiting for a free work slot */
    size_t bytes;                /* of every entry not yet freed */
    size_t max_bytes;
    unsigned making; /* works in flight */
    unsigned slots;  /* works in flight at most */
};

/* At most `slots` works in flight with a loop (without one, each runs at once). */
void sl_keep_init(struct sl_keep *k, const struct sl_keep_ops *ops, uv_loop_t *loop,
                  size_t max_bytes, unsigned slots);

/* Answers a request for key with w: 0 with *out held for the caller (what w was woken
 * with, if it is of key, or what ops->find gives when READY); SL_KEPT_WAIT when w now
 * waits (for the work ops->find gave, or for a slot when none is free); SL_KEPT_MAKE
 * when the cache must start a new work. */
int sl_keep_ask(struct sl_keep *k, const void *key, uint64_t now_ms, struct sl_wait *w,
                struct sl_kept **out);
/* Starts the work for e, which its cache has filled with its key: e gets its own
 * duplicate of root_fd (-1: none) and a copy of rel, becomes MAKING and goes into
 * `index`. Returns SL_KEPT_WAIT with w waiting for it, or, without a loop, 0 with the
 * work done and *out held for the caller. dirfd is taken. A negative errno when it
 * cannot start: e is freed. */
int sl_kept_make(struct sl_keep *k, struct sl_kept *e, struct sl_link *index, int dirfd,
                 int root_fd, const char *rel, struct sl_wait *w, struct sl_kept **out);

/* From ops->finish: e's work is over and what it made takes `bytes`; e is READY. False
 * when the entries in use leave no room (unused ones are dropped first, least recently
 * used first): then e counts no bytes, and its cache frees what the work made and
 * unlinks e. One entry larger than the bound is still kept when nothing else is. */
bool sl_kept_ready(struct sl_kept *e, size_t bytes);
/* Another reference to e; an unused READY entry leaves the LRU list. */
void sl_kept_hold(struct sl_kept *e);
/* Lets go of a reference; the last one of a DEAD entry frees it, of a READY one puts it
 * at the front of the LRU list. */
void sl_kept_release(struct sl_kept *e);
/* Takes e out of its cache's index and LRU list: it is DEAD, freed now when unused, else
 * by its last release. */
void sl_kept_unlink(struct sl_kept *e);

/* The entries nobody holds, most recently used first: the first (NULL when none), and
 * the one after e, which may be taken before e is unlinked. */
struct sl_kept *sl_keep_unused_first(struct sl_keep *k);
struct sl_kept *sl_keep_unused_next(struct sl_keep *k, struct sl_kept *e);

#endif
