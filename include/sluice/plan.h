/* A planned response: the head and body as a list of segments, memory or byte ranges of
 * the exchange's body file. The planner (serve.c) writes one; conn.c sends it without
 * knowing what produced it. */
#ifndef SLUICE_PLAN_H
#define SLUICE_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/range.h"

/* One response part: memory bytes (mem != NULL) or a byte range of the body file. */
struct sl_seg {
    const char *mem;
    uint64_t off;
    uint64_t len;
};

#define SL_OUT_MAX 12288 /* response head (a Location may be 8 KiB) plus multipart part heads */
#define SL_SEGS_MAX (2 + 2 * SL_RANGE_MAX + 1)

struct sl_plan {
    int status;
    bool keep_alive;
    bool head_only;
    bool overflow;  /* the head did not fit in `out`: it must never be sent */
    bool uses_file; /* some segment reads from the body file */
    bool stream;    /* the connection becomes an event stream after this head (--live) */
    unsigned nsegs;
    uint64_t body_bytes; /* bytes after the head, for the access log */
    uint64_t head_len;   /* bytes of the response head */
    char *heap;          /* a generated body (listing), freed when the response ends */
    struct sl_seg segs[SL_SEGS_MAX];
    char out[SL_OUT_MAX]; /* the head, then small bodies and multipart part heads */
};

#endif
