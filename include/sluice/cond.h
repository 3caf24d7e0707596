/* Validators and conditional requests (RFC 9110 §8.8, §13). Pure. */
#ifndef SLUICE_COND_H
#define SLUICE_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sluice/str.h"

/* Longest ETag sl_etag_format writes, quotes included, plus NUL. */
#define SL_ETAG_MAX 64

/* Strong ETag from the file's identity and change: "<size hex>-<mtime sec hex>-<mtime
 * nsec hex>[-<encoding>]", quoted. `encoding` (NULL for identity) makes each
 * precompressed variant's tag distinct. Returns the length written (without NUL). */
size_t sl_etag_format(char out[SL_ETAG_MAX], uint64_t size, int64_t mtime_sec, long mtime_nsec,
                      const char *encoding);

/* The request's conditional fields; an absent field has p == NULL. */
struct sl_cond_fields {
    struct sl_str if_match;
    struct sl_str if_none_match;
    struct sl_str if_modified_since;
    struct sl_str if_unmodified_since;
    struct sl_str if_range;
};

/* The selected representation's validators. */
struct sl_validators {
    /* A well-formed entity-tag, as sluice makes them (sl_etag_format, a listing's, an
     * archive's): sl_cond_evaluate matches a field that is these very bytes at once. */
    struct sl_str etag;
    time_t last_modified;
};

/* Evaluates preconditions in the order of RFC 9110 §13.2.2 for a GET or HEAD.
 * Returns 0 to proceed, 304 (Not Modified) or 412 (Precondition Failed). */
int sl_cond_evaluate(const struct sl_cond_fields *f, const struct sl_validators *v);

/* Whether the request carries any precondition sl_cond_evaluate looks at: most requests
 * carry none and need no call. */
static inline bool sl_cond_present(const struct sl_cond_fields *f)
{
    return f->if_match.p || f->if_none_match.p || f->if_modified_since.p ||
           f->if_unmodified_since.p;
}

/* If-Range (§13.1.5): true when the Range field may be honoured, i.e. If-Range is
 * absent, or is a strong ETag equal to v->etag, or an HTTP-date exactly equal to
 * v->last_modified. A weak tag never matches. */
bool sl_cond_if_range_ok(struct sl_str if_range, const struct sl_validators *v);

/* Whether the comma-separated entity-tag list (or "*") contains `etag`.
 * weak == true uses weak comparison (W/ prefixes ignored), false strong comparison
 * (a weak tag on either side never matches). Malformed lists never match. */
bool sl_etag_list_match(struct sl_str list, struct sl_str etag, bool weak);

#endif
