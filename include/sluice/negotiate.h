/* Accept-Encoding negotiation for precompressed variants (RFC 9110 §12.5.3). Pure. */
#ifndef SLUICE_NEGOTIATE_H
#define SLUICE_NEGOTIATE_H

#include <stddef.h>

enum sl_encoding {
    SL_ENC_IDENTITY = 0,
    SL_ENC_BR = 1 << 0,
    SL_ENC_ZSTD = 1 << 1,
    SL_ENC_GZIP = 1 << 2,
};

#define SL_VARIANTS 3 /* precompressed variants a file may have: br, zstd, gzip */

/* Picks the encoding to send among `available` (a mask of SL_ENC_BR|ZSTD|GZIP variants
 * that exist on disk; identity is always available unless the client refuses it).
 * Honours q-values (q=0 refuses), "*", "identity" and "identity;q=0". On equal q the
 * preference order is br, zstd, gzip, identity. Returns SL_ENC_IDENTITY when the field
 * is absent (value == NULL). Returns -1 when nothing acceptable exists (only possible
 * when identity is refused and no allowed variant exists); the caller then sends
 * identity anyway, as RFC 9110 §12.5.3 permits. Malformed elements are skipped. */
int sl_negotiate_encoding(const char *value, size_t len, unsigned available);

/* "br", "zstd", "gzip" for Content-Encoding, or NULL for identity. */
const char *sl_encoding_name(int enc);

/* File name suffix of the variant: ".br", ".zst", ".gz", or "" for identity. */
const char *sl_encoding_suffix(int enc);

#endif
