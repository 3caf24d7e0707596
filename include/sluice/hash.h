/* The one content hash for validators: FNV-1a, 64-bit (Fowler, Noll, Vo;
 * draft-eastlake-fnv): one multiply a byte, no table, and every input bit reaches the
 * result, which is all an equality check needs. Listings and tar layouts hash what they
 * show into their entity-tags with it. */
#ifndef SLUICE_HASH_H
#define SLUICE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SL_FNV_OFFSET 0xcbf29ce484222325u
#define SL_FNV_PRIME 0x100000001b3u

static inline uint64_t sl_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= SL_FNV_PRIME;
    }
    return h;
}

/* Numbers go in as 8 little-endian bytes, so a hash is the same on every host. */
static inline uint64_t sl_fnv1a_u64(uint64_t h, uint64_t v)
{
    unsigned char le[8];
    for (size_t i = 0; i < sizeof(le); i++)
        le[i] = (unsigned char)(v >> (8 * i));
    return sl_fnv1a(h, le, sizeof(le));
}

#endif
