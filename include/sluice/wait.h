/* A response waiting for work done off the loop (a directory read in the thread pool):
 * the connection sleeps, watching nothing, until the work's owner calls wake on the
 * loop, much as it sleeps until its socket is writable. The exchange holds the wait;
 * ending the exchange's response cancels it, so a connection may close while the work
 * it waited for is still running: the work finds one waiter fewer, never a dangling one. */
#ifndef SLUICE_WAIT_H
#define SLUICE_WAIT_H

#include "sluice/list.h"

struct sl_wait;
typedef void sl_wait_fn(struct sl_wait *w);

struct sl_wait {
    struct sl_link link; /* in the waiters of one piece of work; unlinked: not waiting */
    sl_wait_fn *wake;    /* conn.c's: the work is done; called on the loop, w unlinked */
    void *owner;         /* conn.c's: the connection to wake */
    void *got;           /* what the work left for this waiter (its owner's to read) */
    sl_wait_fn *drop;    /* the work owner's: lets go of `got`, which is then NULL */
};

/* No longer waiting: out of the waiters, and what the work left is let go. */
static inline void sl_wait_cancel(struct sl_wait *w)
{
    sl_list_remove(&w->link);
    if (w->got)
        w->drop(w);
}

#endif
