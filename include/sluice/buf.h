/* The one string buffer (after lwan's strbuf): a fixed mode over a caller's array for
 * response heads and log lines, and a growing mode on the heap for listings. Escapers
 * and formatters write into it and callers check for overflow once, at the end. */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* An append-only buffer that never overflows: once something does not fit (fixed mode)
 * or cannot be allocated (growing mode), `overflow` is set and later appends are dropped.
 * Each append is all or nothing, so what was written is always whole pieces. */
struct sl_buf {
    char *p;
    size_t len;  /* bytes written */
    size_t cap;  /* fixed: all of p; growing: one byte is kept for sl_buf_take's NUL */
    size_t need; /* bytes all appends asked for: len, or more once some were dropped */
    bool overflow;
    bool grows; /* growing mode: p is malloc'd and reallocated on demand */
};

/* Fixed mode over p[0..cap), which the caller owns; no NUL is written. */
static inline struct sl_buf sl_buf_make(char *p, size_t cap)
{
    return (struct sl_buf){.p = p, .cap = cap};
}

/* Growing mode, starting with room for initial_cap bytes; the capacity doubles as needed.
 * A failed allocation sets `overflow`. Release with sl_buf_take or sl_buf_free. */
void sl_buf_init_growing(struct sl_buf *b, size_t initial_cap);

/* Makes room for n more bytes at the end and counts them as written: returns where they
 * go, for the caller to fill, or NULL when they do not fit (then, as for an append that
 * does not fit, `overflow` is set). One check for several pieces of known total length:
 * response heads are built from many small ones. Inline for the case that fits. */
char *sl_buf_reserve_slow(struct sl_buf *b, size_t n);
static inline char *sl_buf_reserve(struct sl_buf *b, size_t n)
{
    b->need += n;
    /* Strictly less: a growing buffer keeps one byte for sl_buf_take's NUL, and an exact
     * fill of a fixed one is left to the slow path. */
    if (n < b->cap - b->len && !b->overflow) {
        char *w = b->p + b->len;
        b->len += n;
        return w;
    }
    return sl_buf_reserve_slow(b, n);
}

/* Appends when it fits, else grows or overflows. */
static inline void sl_buf_append(struct sl_buf *b, const char *s, size_t n)
{
    char *w = sl_buf_reserve(b, n);
    if (w)
        memcpy(w, s, n);
}

void sl_buf_putc(struct sl_buf *b, char c);
/* Inline, so that the length of a literal is worked out when compiling. */
static inline void sl_buf_puts(struct sl_buf *b, const char *s)
{
    sl_buf_append(b, s, strlen(s));
}

void sl_buf_put_u64(struct sl_buf *b, uint64_t v);

/* The decimal digits of v (no padding), written at the end of `out`: returns where they
 * start; they run to out + SL_U64_DIGITS. */
#define SL_U64_DIGITS 20
char *sl_u64_digits(char out[SL_U64_DIGITS], uint64_t v);

/* Keeps only the first len bytes (len <= b->len) and clears `overflow`, keeping the memory
 * and the mode: sl_buf_truncate(b, 0) empties b for reuse, and truncating to a length saved
 * earlier takes back a piece that overflowed part way. */
void sl_buf_truncate(struct sl_buf *b, size_t len);

/* Growing mode: hands over the NUL-terminated contents (the caller frees them) and their
 * length in *len; NULL, with the memory freed, after an overflow. */
char *sl_buf_take(struct sl_buf *b, size_t *len);

/* Frees a growing buffer's memory (nothing for a fixed one); b must be set up again before
 * further use. */
void sl_buf_free(struct sl_buf *b);

#endif
