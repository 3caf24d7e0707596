/* Range request parsing (RFC 9110 §14.1-14.2). Pure. */
#ifndef SLUICE_RANGE_H
#define SLUICE_RANGE_H

#include <stddef.h>
#include <stdint.h>

/* Most parts a multipart/byteranges answer will carry (after coalescing); a header
 * asking for more is ignored and the whole file is sent (RFC 9110 §14.2 allows it). */
#define SL_RANGE_MAX 16

struct sl_range {
    uint64_t first; /* inclusive */
    uint64_t last;  /* inclusive, already clipped to size - 1 */
};

enum sl_range_result {
    SL_RANGE_IGNORE,        /* absent, malformed, other unit, too many: send 200 whole */
    SL_RANGE_SATISFIABLE,   /* *count >= 1 ranges in out: send 206 */
    SL_RANGE_UNSATISFIABLE, /* valid but no range overlaps the file: send 416 */
};

/* Parses a Range field value against a representation of `size` bytes.
 * Satisfiable ranges are clipped and coalesced when they overlap or touch, so parts
 * never repeat bytes; they come out in the order the client listed them (a merged range
 * where its earliest member stood), as RFC 9110 §15.3.7.2 asks of multipart answers. */
enum sl_range_result sl_range_parse(const char *value, size_t len, uint64_t size,
                                    struct sl_range out[SL_RANGE_MAX], size_t *count);

#endif
