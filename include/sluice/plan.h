/* A planned response: the head and body as a list of segments, memory or byte ranges of
 * the exchange's body file or of a produced body. The planner (serve.c) writes one;
 * conn.c sends it without knowing what produced it. */
#ifndef SLUICE_PLAN_H
#define SLUICE_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/range.h"
#include "sluice/resident.h"

/* One response part: memory bytes (mem != NULL), or a byte range of the body: the body
 * file's, or the produced body's when the plan has a producer. */
struct sl_seg {
    const char *mem;
    uint64_t off;
    uint64_t len;
};

/* ---- produced bodies ----
 * A body that is neither in memory nor a range of one file (a directory listing, a tar
 * archive) comes from a producer, as in h2o's generators, but pulled: conn.c asks
 * for the next chunk only once the last one has left, so a response holds one chunk
 * however long its body and however slow its reader, and conn.c never learns what
 * produces it. The planner promises the length (the segments over the produced body); the
 * producer must yield exactly that many bytes, or the connection is closed, as for a file
 * that shrank. conn.c never asks a producer to seek: a listing's segment starts at its
 * first byte, and a producer that can start anywhere (a tar archive, whose ranges are
 * planned as for a file) reads the segments' offsets when respond.c makes it, and
 * yields each segment's bytes in turn, no chunk spanning two.
 *
 * A chunk is memory the producer owns until its next call, or a byte range of a file
 * descriptor the producer keeps open until then (tar members: sent with sendfile). */
struct sl_chunk {
    const char *mem; /* the bytes, or NULL: the range [off, off + len) of fd */
    int fd;
    uint64_t off;
    uint64_t len;
    uint64_t size; /* with fd: the file's size (a residency probe maps it whole) */
};

struct sl_producer;

/* Points *chunk at the next bytes of the body (len 0: there are none). Returns 0 or a
 * negative errno, which ends the connection. */
typedef int sl_produce_fn(struct sl_producer *p, struct sl_chunk *chunk);
/* Frees the producer and lets go of what it holds. Called once, when the response ends,
 * whether its body was sent or not (HEAD, a client gone). */
typedef void sl_producer_free_fn(struct sl_producer *p);

/* Embedded first in each kind of producer. */
struct sl_producer {
    sl_produce_fn *produce;
    sl_producer_free_fn *free;
    struct sl_chunk chunk; /* conn.c's: what is left of the last chunk to send */
    /* conn.c's: what it knows of the residency of the chunks' file, so a cold one is read
     * in off the loop first. The producer releases it (sl_resident_release) when it
     * closes that file, before the descriptor's number can name another. */
    struct sl_resident resident;
    bool holds_file;       /* keeps a descriptor of its own open while it lives (a tar
                              member): counted as the response's body file (fdbudget.h) */
};

/* A produced body the planner asks for; respond.c makes the producer (the planner is
 * pure: it allocates nothing and holds nothing). */
enum sl_produce {
    SL_PRODUCE_NONE,
    SL_PRODUCE_LISTING_HTML,
    SL_PRODUCE_LISTING_JSON,
    SL_PRODUCE_TAR, /* a directory tree's tar archive (tarbody.h) */
};

#define SL_OUT_MAX 12288 /* response head (a Location may be 8 KiB) plus multipart part heads */
#define SL_SEGS_MAX (2 + 2 * SL_RANGE_MAX + 1)

struct sl_plan {
    int status;
    bool keep_alive;
    bool head_only;
    bool overflow;   /* the head did not fit in `out`: it must never be sent */
    bool uses_file;  /* some segment reads from the body file */
    bool stream;     /* the connection becomes an event stream after this head (--live) */
    uint8_t produce; /* enum sl_produce: the body the segments without memory come from */
    unsigned nsegs;
    uint64_t body_bytes;          /* bytes after the head, for the access log */
    uint64_t head_len;            /* bytes of the response head */
    struct sl_producer *producer; /* for `produce`: freed when the response ends */
    struct sl_seg segs[SL_SEGS_MAX];
    char out[SL_OUT_MAX]; /* the head, then small bodies and multipart part heads */
};

#endif
