/* The string buffer (see buf.h). The two modes differ only in what happens when an
 * append does not fit: a fixed buffer overflows, a growing one reallocates first. */
#include "sluice/buf.h"

#include <stdlib.h>
#include <string.h>

void sl_buf_init_growing(struct sl_buf *b, size_t initial_cap)
{
    size_t cap = initial_cap > 0 ? initial_cap : 64; /* malloc(0) may return NULL */
    *b = (struct sl_buf){.p = malloc(cap), .cap = cap, .grows = true};
    b->overflow = b->p == NULL;
}

/* Doubles the capacity until n more bytes fit with one to spare for the NUL, so n appends
 * cost O(n) copying in total. The SIZE_MAX / 4 bound keeps the doubling from wrapping. */
static bool grow(struct sl_buf *b, size_t n)
{
    if (n > SIZE_MAX / 4 - b->len)
        return false;
    size_t cap = b->cap;
    while (cap - b->len <= n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return false;
    b->p = p;
    b->cap = cap;
    return true;
}

/* Whether n more bytes can be written now; sets `overflow` when they cannot. */
static bool reserve(struct sl_buf *b, size_t n)
{
    if (b->overflow)
        return false;
    if (b->grows ? n < b->cap - b->len : n <= b->cap - b->len)
        return true;
    if (b->grows && grow(b, n))
        return true;
    b->overflow = true;
    return false;
}

char *sl_buf_reserve_slow(struct sl_buf *b, size_t n)
{
    if (!reserve(b, n))
        return NULL;
    char *w = b->p + b->len;
    b->len += n;
    return w;
}

void sl_buf_putc(struct sl_buf *b, char c)
{
    sl_buf_append(b, &c, 1);
}

char *sl_u64_digits(char out[SL_U64_DIGITS], uint64_t v)
{
    char *p = out + SL_U64_DIGITS;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return p;
}

void sl_buf_put_u64(struct sl_buf *b, uint64_t v)
{
    char digits[SL_U64_DIGITS];
    char *p = sl_u64_digits(digits, v);
    sl_buf_append(b, p, (size_t)(digits + sizeof(digits) - p));
}

void sl_buf_truncate(struct sl_buf *b, size_t len)
{
    b->len = len;
    b->need = len;
    b->overflow = false;
}

char *sl_buf_take(struct sl_buf *b, size_t *len)
{
    char *p = b->p;
    if (b->overflow) {
        free(p);
        p = NULL;
    } else {
        p[b->len] = '\0';
        *len = b->len;
    }
    *b = (struct sl_buf){0};
    return p;
}

void sl_buf_free(struct sl_buf *b)
{
    if (b->grows)
        free(b->p);
    *b = (struct sl_buf){0};
}
