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

/* A read-only mapping of the file, made on the first probe; mincore needs an address,
 * and nothing is ever read through it (no page is touched, so no fault). */
struct sl_resident {
    void *map;
    size_t len;
};

/* Whether every page of [off, off + len) of fd (size bytes long; len at most
 * SL_RESIDENT_WINDOW) is in the page cache and up to date: 1 yes, 0 no, or a negative
 * errno when it cannot be told (the caller then sends as if it were). */
int sl_resident_probe(struct sl_resident *r, int fd, uint64_t size, uint64_t off, uint64_t len);

/* Unmaps (nothing when no probe mapped). */
void sl_resident_release(struct sl_resident *r);

/* Blocking, for a thread-pool thread: reads [off, off + len) of fd so its pages are in
 * when this returns, having first asked the kernel to read them and the next `ahead`
 * bytes in the background, so the disk works on the next window while the loop sends
 * this one. */
void sl_resident_fetch(int fd, uint64_t off, uint64_t len, uint64_t ahead);

#endif
