/* Connection state machine: reading a head, sending a response, waiting between
 * requests, lingering before close. One teardown function; memory is freed only in the
 * uv_close callback. */
#ifndef SLUICE_CONN_H
#define SLUICE_CONN_H

#include <llhttp.h>
#include <netinet/in.h>
#include <stdint.h>
#include <uv.h>

#include "sluice/filecache.h"
#include "sluice/range.h"
#include "sluice/request.h"
#include "sluice/server.h"

enum sl_conn_state {
    SL_CONN_READING,   /* waiting for (the rest of) a request head */
    SL_CONN_SENDING,   /* a response is going out */
    SL_CONN_IDLE,      /* keep-alive, nothing buffered: owns no exchange */
    SL_CONN_LINGERING, /* response done, write side shut, draining input before close */
    SL_CONN_CLOSED,    /* uv_close called; only the close callback may touch it */
};

/* One response part: memory bytes (mem != NULL) or a byte range of the exchange's file. */
struct sl_seg {
    const char *mem;
    uint64_t off;
    uint64_t len;
};

/* Exchanges (~30 KiB each) in use per loop before the longest-reading connection is
 * closed to make room for a new request: ~120 MiB per loop at most. */
#define SL_EXCHANGES_MAX 4096

#define SL_OUT_MAX 12288 /* response head (a Location may be 8 KiB) plus multipart part heads */
#define SL_SEGS_MAX (2 + 2 * SL_RANGE_MAX + 1)

/* Everything a request in progress needs. Taken from the worker's pool when bytes arrive
 * and given back when the connection goes idle, so an idle keep-alive connection costs
 * only its small struct sl_conn. */
struct sl_exchange {
    struct sl_exchange *next_free;
    llhttp_t parser;
    struct sl_request req;
    size_t in_len; /* bytes in `in` */
    size_t in_off; /* bytes of `in` belonging to finished requests */

    int status;
    bool keep_alive;
    bool head_only;
    bool overflow; /* the planned head did not fit in `out` */
    int file_fd;
    bool file_borrowed; /* file_fd belongs to the pinned cache entry */
    char *heap;                    /* a generated body (listing), freed with the exchange */
    struct sl_cache_entry *pinned; /* cached file the body comes from, released after */
    struct sl_seg segs[SL_SEGS_MAX];
    unsigned nsegs;
    unsigned seg;        /* the part being sent */
    uint64_t body_bytes; /* bytes after the head, for the access log */
    uint64_t head_len;   /* bytes of the response head */
    uint64_t sent;
    unsigned mss; /* the socket's segment size, asked once per large body; 0: not yet */

    char out[SL_OUT_MAX];
    char in[SL_HEAD_MAX];
};

/* Kept small on purpose (lwan does the same): 10,000 idle keep-alive connections should
 * cost a few megabytes, so per-request state lives in struct sl_exchange. */
struct sl_conn {
    uv_poll_t poll; /* first: the poll handle's address is the connection's */
    struct sl_conn *prev;
    struct sl_conn *next;
    struct sl_exchange *ex;
    uint64_t deadline;
    int fd;
    uint8_t state;
    uint8_t events; /* what the poll handle watches now */
    uint8_t list;   /* enum sl_list_id */
    uint8_t peer_family;
    uint8_t peer[16];
};

/* Prepares a (reused) exchange for a new request: empty buffer, nothing to send. */
void sl_exchange_init(struct sl_exchange *ex);

/* Lets go of the exchange's file: closes it, unless the cache owns it. */
void sl_exchange_drop_file(struct sl_exchange *ex);

/* Adopts an accepted non-blocking socket. Returns 0 or a negative errno (fd is closed). */
int sl_conn_start(struct sl_worker *w, int fd, const struct sockaddr *peer);

/* Closes at once (shutdown, deadline): the file, the socket, then the memory. */
void sl_conn_close(struct sl_conn *c);

/* The deadline sweep: closes every connection whose deadline has passed. */
void sl_conn_sweep(struct sl_worker *w, uint64_t now);

/* Graceful stop: idle and reading connections close now; responses in flight finish
 * and then close. */
void sl_conn_stop_all(struct sl_worker *w, bool force);

void sl_exchange_pool_free(struct sl_worker *w);

#endif
