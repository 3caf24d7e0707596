/* Exchanges: the per-request state, its pool, the head buffer and the body file's one
 * owner. conn.c keeps the socket and the state machine; this file keeps the memory. */
#include "sluice/exchange.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Idle exchanges kept per loop for reuse. */
#define POOL_KEEP 64

/* Everything but the parser and request. */
static void empty(struct sl_exchange *ex)
{
    ex->pool = NULL;
    ex->in_len = 0;
    ex->in_off = 0;
    ex->file_fd = -1;
    ex->file_borrowed = false;
    ex->pinned = NULL;
    ex->resident = (struct sl_resident){0};
    ex->plan.producer = NULL;
    ex->wait.link = (struct sl_link){NULL, NULL};
    ex->wait.got = NULL;
    ex->plan.overflow = false;
    ex->plan.nsegs = 0;
}

/* A new exchange: empty buffer, no file, a parser set up. */
static void exchange_init(struct sl_exchange *ex)
{
    empty(ex);
    sl_request_init(&ex->parser, &ex->req);
}

struct sl_exchange *sl_exchange_get(struct sl_exchange_pool *pool)
{
    struct sl_exchange *ex = pool->free;
    if (ex) {
        /* Initialised when it was first taken: its parser only needs a reset. */
        pool->free = ex->next_free;
        pool->free_count--;
        empty(ex);
        sl_request_reset(&ex->parser, &ex->req, &pool->fresh_parser);
    } else {
        ex = malloc(sizeof(*ex));
        if (!ex)
            return NULL;
        exchange_init(ex);
        pool->fresh_parser = ex->parser;
    }
    ex->pool = pool;
    pool->live++;
    return ex;
}

void sl_exchange_put(struct sl_exchange_pool *pool, struct sl_cache *cache, struct sl_exchange *ex)
{
    sl_exchange_end_response(ex, cache);
    pool->live--;
    if (pool->free_count >= POOL_KEEP) {
        free(ex);
        return;
    }
    ex->next_free = pool->free;
    pool->free = ex;
    pool->free_count++;
}

void sl_exchange_pool_free(struct sl_exchange_pool *pool)
{
    while (pool->free) {
        struct sl_exchange *ex = pool->free;
        pool->free = ex->next_free;
        free(ex);
    }
    pool->free_count = 0;
}

int sl_exchange_feed(struct sl_exchange *ex, size_t fresh)
{
    size_t start = ex->in_len - fresh;
    size_t used = 0;
    int rc = sl_request_feed(&ex->parser, &ex->req, ex->in + start, fresh, &used);
    if (rc == SL_PARSE_MORE)
        return ex->in_len < sizeof(ex->in) ? SL_PARSE_MORE : sl_request_overflow_status(&ex->req);
    if (rc == SL_PARSE_READY)
        ex->in_off = start + used;
    return rc;
}

size_t sl_exchange_next_request(struct sl_exchange *ex)
{
    size_t left = ex->in_len - ex->in_off;
    if (left > 0 && ex->in_off > 0)
        memmove(ex->in, ex->in + ex->in_off, left);
    ex->in_len = left;
    ex->in_off = 0;
    if (left > 0) /* otherwise the exchange goes back to the pool, which resets it again */
        sl_request_reset(&ex->parser, &ex->req, &ex->pool->fresh_parser);
    return left;
}

/* Counts the body files exchanges own (not those borrowed from the cache, which counts
 * its own), against the loop's share of the descriptor table. */
static void count_file(struct sl_exchange *ex, bool opened)
{
    if (!ex->pool)
        return;
    if (opened)
        ex->pool->files++;
    else
        ex->pool->files--;
}

void sl_exchange_drop_file_slow(struct sl_exchange *ex)
{
    /* A residency probe maps the body file while a response sends from it. */
    sl_resident_release(&ex->resident);
    if (!ex->file_borrowed) {
        close(ex->file_fd);
        count_file(ex, false);
    }
    ex->file_fd = -1;
    ex->file_borrowed = false; /* as it is whenever file_fd is -1 */
}

void sl_exchange_set_file(struct sl_exchange *ex, int fd)
{
    sl_exchange_drop_file(ex);
    ex->file_fd = fd;
    if (fd >= 0)
        count_file(ex, true);
}

void sl_exchange_set_version(struct sl_exchange *ex, const struct stat *st)
{
    ex->file_size = st->st_size;
    ex->file_mtim = st->st_mtim;
    ex->file_ctim = st->st_ctim;
}

bool sl_exchange_file_changed(const struct sl_exchange *ex)
{
    struct stat st;
    if (fstat(ex->file_fd, &st) != 0)
        return true;
    /* ctime too: it moves with any write or metadata change, even when the size stays
     * and the mtime is set back (touch -d, an editor preserving times). */
    return st.st_size != ex->file_size || st.st_mtim.tv_sec != ex->file_mtim.tv_sec ||
           st.st_mtim.tv_nsec != ex->file_mtim.tv_nsec ||
           st.st_ctim.tv_sec != ex->file_ctim.tv_sec || st.st_ctim.tv_nsec != ex->file_ctim.tv_nsec;
}

void sl_exchange_borrow(struct sl_exchange *ex, struct sl_cache_entry *e)
{
    sl_exchange_drop_file(ex);
    ex->pinned = e;
    if (e->fd >= 0) {
        sl_exchange_set_version(ex, &e->rep.st);
        ex->file_fd = e->fd;
        ex->file_borrowed = true;
    }
}

int sl_exchange_take_file(struct sl_exchange *ex)
{
    int fd = ex->file_borrowed ? -1 : ex->file_fd;
    if (fd >= 0)
        count_file(ex, false);
    ex->file_fd = -1;
    ex->file_borrowed = false;
    return fd;
}

void sl_exchange_end_held(struct sl_exchange *ex, struct sl_cache *cache)
{
    sl_wait_cancel(&ex->wait);
    sl_exchange_drop_file(ex);
    if (ex->pinned) {
        sl_cache_release(cache, ex->pinned);
        ex->pinned = NULL;
    }
    if (ex->plan.producer) {
        if (ex->plan.producer->holds_file)
            count_file(ex, false);
        ex->plan.producer->free(ex->plan.producer);
        ex->plan.producer = NULL;
    }
}

void sl_exchange_set_producer(struct sl_exchange *ex, struct sl_producer *p)
{
    ex->plan.producer = p;
    if (p && p->holds_file)
        count_file(ex, true);
}
