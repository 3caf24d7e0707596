/* Descriptor accounting: how many connections, and how many files being sent, a
 * descriptor limit can carry so that opening a file never fails with EMFILE. Every
 * descriptor the process can hold at once is counted: those it inherited, its own (the
 * main loop), each event loop's (its epoll, wake-up pipe and eventfd, listening socket,
 * spare, root, cached files, what routing one request opens, its directory reads in the
 * thread pool), one per connection (its socket) and one per body file a response owns
 * (a tar archive's member being sent is one; a tar walk's two descriptors count as two).
 *
 * The room left once the process and its loops are counted is split between sockets
 * and body files. By default half of it is sockets (max_conns): every connection can be
 * sending its own file at once, and the accept side stops taking connections at the cap
 * (clients wait in the listen backlog). A larger --max-conns is honoured for sockets
 * (idle keep-alive connections hold no file) and leaves the rest for files: a response
 * that would need a file while all of its loop's are taken gets 503 with Retry-After, not
 * a 500 from EMFILE. Pure: main.c gives it the numbers. */
#ifndef SLUICE_FDBUDGET_H
#define SLUICE_FDBUDGET_H

#include "sluice/dircache.h"

/* The process's own beyond what it inherited: the main loop (epoll, wake-up pipe,
 * eventfd), libuv's signal pipe (two), the port check's socket, and one to spare. */
#define SL_FDS_PROCESS 8
/* Open at once while one request is routed (one at a time per loop): a file and its
 * three precompressed variants until one is chosen (a directory is closed once its
 * index is open; a 404 page is opened after the missing path's lookup is let go). */
#define SL_FDS_ROUTING 4
/* An event loop's own: epoll, wake-up pipe (two), eventfd, listening socket, the spare
 * kept for shedding, its root and the root re-opened while the old one is still held,
 * what routing opens, and its directory reads. */
#define SL_FDS_PER_LOOP (8 + SL_FDS_ROUTING + SL_DIRCACHE_READS * SL_DIRCACHE_FDS_PER_READ)
/* Cached descriptors per loop: a sixteenth of the table between the loops, at most. */
#define SL_FDS_CACHE_MAX 256
/* Body files per loop left at the least by a --max-conns larger than the room. */
#define SL_FDS_FILES_MIN 4

struct sl_fd_budget {
    unsigned max_conns;      /* connections for the whole process (at least one per loop) */
    unsigned files_per_loop; /* body files a loop's responses may hold open at once */
    unsigned cache_fds;      /* descriptors each loop's file cache may keep open */
    int ceiling;             /* an accepted descriptor numbered this high is shed (a backstop, for a
                                table fuller than counted) */
};

/* The budget for a descriptor limit `limit` with `inherited` descriptors open at start
 * and `threads` loops; `wanted` connections (0: the default half) are lowered to leave
 * each loop SL_FDS_FILES_MIN files. Returns 0, or -1 when not even one connection and
 * SL_FDS_FILES_MIN files per loop fit. */
int sl_fd_budget(unsigned long limit, unsigned inherited, unsigned threads, unsigned wanted,
                 struct sl_fd_budget *out);

/* The most loops (at most `threads`) for which the default budget leaves
 * `conns_per_loop` connections each; 0 when not even one loop does. */
unsigned sl_fd_budget_threads(unsigned long limit, unsigned inherited, unsigned threads,
                              unsigned conns_per_loop);

#endif
