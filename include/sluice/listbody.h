/* A directory listing's body, produced as the socket drains: the producer conn.c pulls
 * chunks from (plan.h), rendering whole rows into one buffer of its own at a time. The
 * entry list is borrowed, not copied: many responses render from one list (dircache.c
 * keeps it), each holding a buffer, a position and a reference. */
#ifndef SLUICE_LISTBODY_H
#define SLUICE_LISTBODY_H

#include "sluice/listing.h"
#include "sluice/plan.h"

/* Bytes rendered per chunk (more when the page's start, which names the path twice,
 * is longer): 16 KiB is a quarter of what TCP_NOTSENT_LOWAT lets the kernel queue, so a
 * writable event takes a few chunks, and a slow reader costs 16 KiB of sluice's memory
 * whatever the listing's size. */
#define SL_LISTBODY_CHUNK (16u << 10)

typedef void sl_listbody_release_fn(void *arg);

/* A producer of l's body in format f for url_path (as sl_listing_body_len counts it).
 * l must stay valid until the producer calls release(arg), which it does once, when it
 * is freed. NULL when out of memory (release is not called; l is still the caller's). */
struct sl_producer *sl_listbody_new(const struct sl_listing *l, enum sl_listing_format f,
                                    const char *url_path, sl_listbody_release_fn *release,
                                    void *arg);

#endif
