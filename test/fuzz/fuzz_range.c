/* Fuzz target for sl_range_parse: whatever the Range value, the ranges it accepts must be
 * inside the representation, pairwise disjoint and not touching (so multipart parts never
 * repeat or abut), and at most SL_RANGE_MAX of them.
 *
 * Input layout: byte 0 chooses how the representation size is taken (bits 7-6: 0 a size
 * of 0-63 from bits 5-0, 1 a 16-bit size from the next two bytes, 2-3 a 64-bit size
 * from the next eight); the rest is the field value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_range: invariant failed at line %d: %s\n", __LINE__, #cond);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t take_be(const uint8_t **p, size_t *left, size_t n)
{
    size_t take = n < *left ? n : *left;
    uint64_t v = 0;
    for (size_t i = 0; i < take; i++)
        v = v << 8 | (*p)[i];
    *p += take;
    *left -= take;
    return v;
}

static void check(const char *value, size_t len, uint64_t rep_size)
{
    struct sl_range out[SL_RANGE_MAX];
    size_t count = 12345;
    enum sl_range_result r = sl_range_parse(value, len, rep_size, out, &count);
    switch (r) {
    case SL_RANGE_IGNORE:
    case SL_RANGE_UNSATISFIABLE: CHECK(count == 0); return;
    case SL_RANGE_SATISFIABLE: break;
    default: CHECK(!"result outside the enum");
    }
    CHECK(rep_size > 0);
    CHECK(count >= 1 && count <= SL_RANGE_MAX);
    for (size_t i = 0; i < count; i++) {
        CHECK(out[i].first <= out[i].last);
        CHECK(out[i].last < rep_size);
        /* Disjoint and at least one byte apart from every other part, whatever their
         * order (sorted by first byte, or as the client listed them). */
        for (size_t j = 0; j < i; j++)
            CHECK(out[i].first > out[j].last + 1 || out[j].first > out[i].last + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    uint64_t rep_size;
    switch (data[0] >> 6) {
    case 0: rep_size = data[0] & 0x3f; break;
    case 1: rep_size = take_be(&p, &left, 2); break;
    default: rep_size = take_be(&p, &left, 8); break;
    }
    /* An exact-size copy: a read past the value's end is a heap overflow ASan reports. */
    char *value = malloc(left > 0 ? left : 1);
    if (!value)
        return 0;
    if (left > 0)
        memcpy(value, p, left);
    check(value, left, rep_size);
    /* The same value against the extremes of size. */
    check(value, left, 1);
    check(value, left, UINT64_MAX);
    free(value);
    /* NULL means absent. */
    size_t count = 1;
    struct sl_range out[SL_RANGE_MAX];
    CHECK(sl_range_parse(NULL, 0, rep_size, out, &count) == SL_RANGE_IGNORE && count == 0);
    return 0;
}
