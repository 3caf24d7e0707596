/* A file representation: what a file response says about the bytes it sends and where
 * those bytes come from. The router fills one when it opens a file (choosing a
 * precompressed variant), the file cache keeps one per entry, and the planner answers
 * from one without touching the file system. */
#ifndef SLUICE_REP_H
#define SLUICE_REP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "sluice/cond.h"
#include "sluice/httpdate.h"

struct sl_file_rep {
    struct stat st;      /* of the bytes sent: the chosen variant's, when there is one */
    const char *mime;    /* the original's type, also for a variant */
    const char *charset; /* an HTML page's own declared charset (not utf-8), or NULL */
    int encoding;        /* enum sl_encoding sent */
    unsigned variants;   /* mask of the precompressed variants on disk: Vary when non-zero */
    char etag[SL_ETAG_MAX];
    size_t etag_len;
    char last_modified[SL_HTTPDATE_LEN + 1];
    const char *name; /* the file's own name, for Content-Disposition */
    size_t name_len;
    const char *data;   /* the bytes in memory (a cache entry), or NULL: the descriptor */
    uint64_t inject_at; /* --live: where the script goes (SL_INJECT_NONE: nowhere) */
    int produce;      /* enum sl_produce: SL_PRODUCE_NONE, or the bytes come from a
                         producer (a tar archive), not from data or a descriptor */
    bool attachment;  /* always Content-Disposition: attachment (not only on ?download) */
    /* The head of a whole 200 for these bytes, status line through Vary (the date a
     * stand-in), rendered once by sl_serve_fields (a cache entry keeps it), so that the
     * planner copies it instead of formatting it; a 304's fields (ETag on) start at
     * fields_validators. NULL: formatted per response. */
    const char *fields;
    size_t fields_len;
    size_t fields_validators;
};

#endif
