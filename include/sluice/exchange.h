/* Exchange: everything one request in progress needs (parser, head buffer, the planned
 * response, the body file), taken from a per-loop pool only while a request is under
 * way, so an idle keep-alive connection costs only its small struct sl_conn. */
#ifndef SLUICE_EXCHANGE_H
#define SLUICE_EXCHANGE_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <uv.h>

#include "sluice/filecache.h"
#include "sluice/plan.h"
#include "sluice/request.h"
#include "sluice/resident.h"
#include "sluice/wait.h"

/* Exchanges in use per loop before the longest-reading connection is closed to make room
 * for a new request (sizeof(struct sl_exchange) each). */
#define SL_EXCHANGES_MAX 4096

struct sl_exchange {
    struct sl_exchange *next_free;
    struct sl_exchange_pool *pool; /* its pool: counts its body file, keeps a fresh parser */
    llhttp_t parser;
    struct sl_request req;
    size_t in_len; /* bytes in `in` */
    size_t in_off; /* bytes of `in` belonging to finished requests */

    /* The body file: owned (closed here), or borrowed from the pinned cache entry. */
    int file_fd;
    bool file_borrowed;
    struct sl_cache_entry *pinned; /* cached file the body comes from, released after */
    /* The version of the body file that the head describes: a sendfile after the first
     * checks that the file is still it (conn.c). */
    off_t file_size;
    struct timespec file_mtim, file_ctim;

    /* The answer waits for work off the loop (a directory read): sl_respond's. */
    struct sl_wait wait;

    /* Sending progress through plan.segs (conn.c). */
    unsigned seg;
    uint64_t sent;
    unsigned mss;        /* the socket's segment size, asked once per large body; 0: not yet */
    unsigned file_calls; /* sendfile calls made for this response */
    struct sl_resident resident; /* of the body file: what is in memory, the probe's map */
    uv_work_t fetch; /* brings a window of the body file or a produced chunk's file in */
    int fetch_fd;
    uint64_t fetch_off, fetch_len;

    struct sl_plan plan;
    _Alignas(64) char in[SL_HEAD_MAX];
};

/* Idle exchanges kept for reuse: no malloc per request in steady state. */
struct sl_exchange_pool {
    struct sl_exchange *free;
    unsigned free_count;
    unsigned live;      /* in use by connections */
    unsigned files;     /* body files owned by exchanges in use */
    unsigned files_max; /* the descriptor budget's share for them (0: no bound) */
    /* A parser as sl_request_init leaves it, copied into each exchange taken from the
     * free list (set up with the pool's first exchange, before any is free). */
    llhttp_t fresh_parser;
};

struct sl_exchange *sl_exchange_get(struct sl_exchange_pool *pool);
/* Ends the response (see sl_exchange_end_response) and gives the exchange back. */
void sl_exchange_put(struct sl_exchange_pool *pool, struct sl_cache *cache, struct sl_exchange *ex);
void sl_exchange_pool_free(struct sl_exchange_pool *pool);

/* ---- the head buffer ---- */

/* Parses the `fresh` bytes just appended to `in` (in_len already counts them). Returns
 * SL_PARSE_MORE (head incomplete, room left), SL_PARSE_READY (in_off marks the head's
 * end) or the error status to answer before closing (a full buffer: 414 or 431). */
int sl_exchange_feed(struct sl_exchange *ex, size_t fresh);

/* After a kept-alive response: moves pipelined bytes after the finished request to the
 * front and restarts the parser. Returns how many bytes are buffered; 0: none, and the
 * parser is left as it was (the exchange goes back to the pool, which resets it for its
 * next use). */
size_t sl_exchange_next_request(struct sl_exchange *ex);

/* ---- the body file: one owner at a time ---- */

/* The exchange owns fd (a file the router opened) and closes it when done. */
void sl_exchange_set_file(struct sl_exchange *ex, int fd);

/* The body comes from cache entry e (already referenced for this response): its bytes in
 * memory, or its descriptor, which stays the cache's. */
void sl_exchange_borrow(struct sl_exchange *ex, struct sl_cache_entry *e);

/* The body file's version (size, mtime, ctime) as planned, from its stat. */
void sl_exchange_set_version(struct sl_exchange *ex, const struct stat *st);

/* Whether the body file is no longer the version planned (one fstat). */
bool sl_exchange_file_changed(const struct sl_exchange *ex);
/* Whether another body file may be opened for ex without going past its loop's share of
 * the descriptor table (fdbudget.h). */
static inline bool sl_exchange_file_allowed(const struct sl_exchange *ex)
{
    return !ex->pool || ex->pool->files_max == 0 || ex->pool->files < ex->pool->files_max;
}

/* Gives up ownership of the body file: returns the descriptor (-1 when none or borrowed),
 * which the caller now owns. */
int sl_exchange_take_file(struct sl_exchange *ex);

/* Lets go of the body file: closes it unless it is borrowed. Inline, as most calls find
 * none (a cached file in memory, an error page): the test is all they cost. */
void sl_exchange_drop_file_slow(struct sl_exchange *ex); /* file_fd >= 0 */
static inline void sl_exchange_drop_file(struct sl_exchange *ex)
{
    if (ex->file_fd >= 0)
        sl_exchange_drop_file_slow(ex);
}

/* The planned body's producer is p (NULL: none could be made); one that holds a file of
 * its own counts as the exchange's body file until the response ends. */
void sl_exchange_set_producer(struct sl_exchange *ex, struct sl_producer *p);

/* Ends the response part of an exchange: its file, cache reference and producer, and a
 * wait for work off the loop (cancelled: the work goes on without this waiter). Inline
 * for an exchange that holds none of them, as a 404's does. */
void sl_exchange_end_held(struct sl_exchange *ex, struct sl_cache *cache);
static inline void sl_exchange_end_response(struct sl_exchange *ex, struct sl_cache *cache)
{
    if (ex->file_fd >= 0 || ex->pinned || ex->plan.producer || ex->wait.link.next || ex->wait.got)
        sl_exchange_end_held(ex, cache);
}

#endif
