/* Page-cache residency of a body file: whether a range is in memory (so sendfile will
 * not wait for the disk), and the slow path that brings it in, run off the event loop.
 * A loop must never wait for a disk: one sendfile over pages that are not resident
 * blocks every connection of that loop. */
#ifndef SLUICE_RESIDENT_H
#define SLUICE_RESIDENT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes probed, and brought in, at a time: one mincore per window of sendfile calls. */
#define SL_RESIDENT_WINDOW (2u << 20)

/* What is known of one file's residency: a read-only mapping of the file, made on the
 * first probe (mincore needs an address, and nothing is ever read through it: no page is
 * touched, so no fault), and the bytes the caller knows to be in memory. */
struct sl_resident {
    void *map;
    size_t len;
    uint64_t lo, hi; /* [lo, hi): probed in, or being read in (the caller's to set) */
};

/* Whether every page of [off, off + len) of fd (size bytes long; len at most
 * SL_RESIDENT_WINDOW) is in the page cache and up to date: 1 yes, 0 no, or a negative
 * errno when it cannot be told (the caller then sends as if it were). */
int sl_resident_probe(struct sl_resident *r, int fd, uint64_t size, uint64_t off, uint64_t len);

/* Files up to this size are probed with sl_resident_peek, not a mapping. */
#define SL_RESIDENT_PEEK_MAX (64u << 10)

/* Whether all of [off, off + len) of fd (len at most SL_RESIDENT_PEEK_MAX) is in the page
 * cache: a read that must not wait (RWF_NOWAIT) into a scratch buffer. One system call
 * and a copy of a few pages, cheaper than mapping a small file for one mincore and
 * unmapping it again (a tar archive of small files opens one per member). 1 yes, 0 no
 * (and the kernel may have started reading the pages in), or a negative errno when it
 * cannot be told. */
int sl_resident_peek(int fd, uint64_t off, size_t len);

/* Unmaps (nothing when no probe mapped) and forgets what was known: the file is about
 * to be closed or replaced. */
void sl_resident_release(struct sl_resident *r);

/* Blocking, for a thread-pool thread: reads [off, off + len) of fd so its pages are in
 * when this returns, having first asked the kernel to read them and the next `ahead`
 * bytes in the background, so the disk works on the next window while the loop sends
 * this one. */
void sl_resident_fetch(int fd, uint64_t off, uint64_t len, uint64_t ahead);

#endif
