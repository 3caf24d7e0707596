/* A borrowed byte span: pointer and length, not NUL-terminated. Request fields are
 * spans into the connection's head buffer, so parsing copies nothing. Also the byte
 * classes and hex digits every parser and escaper shares. */
#ifndef SLUICE_STR_H
#define SLUICE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

struct sl_str {
    const char *p;
    size_t n;
};

#define SL_STR_INIT(lit)                                                                           \
    {                                                                                              \
        (lit), sizeof(lit) - 1                                                                     \
    } /* for static initializers */
#define SL_STR(lit) ((struct sl_str)SL_STR_INIT(lit))

static inline struct sl_str sl_str_make(const char *p, size_t n)
{
    return (struct sl_str){p, n};
}

static inline struct sl_str sl_str_cstr(const char *s)
{
    return (struct sl_str){s, strlen(s)};
}

/* Byte for byte. Up to 64 bytes (a Host, compared on every request; a cache key) eight
 * bytes at a time, the last load overlapping the one before: memcmp's call costs more
 * than comparing so few bytes. */
static inline bool sl_str_eq(struct sl_str a, struct sl_str b)
{
    if (a.n != b.n)
        return false;
    if (a.n > 64)
        return memcmp(a.p, b.p, a.n) == 0;
    if (a.n < 8) {
        for (size_t i = 0; i < a.n; i++) {
            if (a.p[i] != b.p[i])
                return false;
        }
        return true;
    }
    uint64_t x, y;
    for (size_t i = 0; i + 8 < a.n; i += 8) {
        memcpy(&x, a.p + i, 8);
        memcpy(&y, b.p + i, 8);
        if (x != y)
            return false;
    }
    memcpy(&x, a.p + a.n - 8, 8);
    memcpy(&y, b.p + a.n - 8, 8);
    return x == y;
}

/* ASCII case folding by hand: the strings compared are short field names, for which
 * strncasecmp's call and its vector set-up cost more than the loop (measured: ~40-60
 * instructions for "Host", depending on where the two strings lie). */
static inline bool sl_str_caseeq(struct sl_str a, struct sl_str b)
{
    if (a.n != b.n)
        return false;
    for (size_t i = 0; i < a.n; i++) {
        unsigned x = (unsigned char)a.p[i], y = (unsigned char)b.p[i];
        x += x - 'A' < 26u ? 32u : 0u;
        y += y - 'A' < 26u ? 32u : 0u;
        if (x != y)
            return false;
    }
    return true;
}

/* The one hash for tables keyed by path (file cache, watcher). FNV-1a's xor and multiply,
 * but eight bytes at a step, as a byte at a step costs several instructions a byte on
 * every request (bench/RESULTS.md, instructions per request); the bytes after the last
 * whole step are taken in one load that overlaps it (two for a key under eight bytes),
 * with the length mixed in first. Then MurmurHash3's final mix, so that every byte
 * reaches the low bits that pick a bucket. */
static inline uint64_t sl_str_hash(struct sl_str s)
{
    const uint64_t prime = 1099511628211u;
    uint64_t h = 14695981039346656037u ^ s.n;
    uint64_t w = 0;
    if (s.n >= 8) {
        for (size_t i = 0; i + 8 < s.n; i += 8) {
            memcpy(&w, s.p + i, 8);
            h = (h ^ w) * prime;
        }
        memcpy(&w, s.p + s.n - 8, 8);
    } else if (s.n >= 4) {
        uint32_t a, b;
        memcpy(&a, s.p, 4);
        memcpy(&b, s.p + s.n - 4, 4);
        w = (uint64_t)a << 32 | b;
    } else {
        for (size_t i = 0; i < s.n; i++)
            w = w << 8 | (unsigned char)s.p[i];
    }
    h = (h ^ w) * prime;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return h;
}

/* ---- character classes and hex digits, on bytes, whatever the locale ---- */

/* Optional whitespace, OWS (RFC 9110 §5.6.3): SP or HTAB. */
static inline bool sl_is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static inline bool sl_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline bool sl_is_alnum(unsigned char c)
{
    return sl_is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Byte classes that loops on every request test (the Host field, the path, entity-tags,
 * tokens), one bit each in sl_byte_class: a table lookup a byte instead of a chain of
 * comparisons or a strchr (bench/RESULTS.md, instructions per request). The rules that
 * make the table are in str.c. */
enum {
    SL_BYTE_TCHAR = 1,      /* tchar (RFC 9110 §5.6.2) */
    SL_BYTE_REG_NAME = 2,   /* unreserved / sub-delims (RFC 3986 §2.2, §2.3) */
    SL_BYTE_PLAIN_PATH = 4, /* a path byte that needs no decoding or dot-segment look */
    SL_BYTE_ETAGC = 8,      /* etagc (RFC 9110 §8.8.3) */
};
extern const unsigned char sl_byte_class[256];

static inline bool sl_byte_is(unsigned char c, unsigned class_bit)
{
    return (sl_byte_class[c] & class_bit) != 0;
}

/* tchar (RFC 9110 §5.6.2): the bytes of a token, such as a method, a field name or a
 * content-coding. */
static inline bool sl_is_tchar(unsigned char c)
{
    return sl_byte_is(c, SL_BYTE_TCHAR);
}

/* Printable US-ASCII, space included: what can go into a log or a quoted-string as is. */
static inline bool sl_is_print_ascii(unsigned char c)
{
    return c >= 0x20 && c < 0x7f;
}

/* The hex digit for v & 15, upper- or lower-case: one table for every escape we write. */
static inline char sl_hex_digit(unsigned v, bool upper)
{
    return "0123456789abcdef0123456789ABCDEF"[(upper ? 16 : 0) + (v & 15)];
}

/* Writes the two hex digits of byte c to out[0..2). */
static inline void sl_hex_byte(char out[2], unsigned char c, bool upper)
{
    out[0] = sl_hex_digit(c >> 4, upper);
    out[1] = sl_hex_digit(c, upper);
}

/* The value of hex digit c (either case), or -1. */
static inline int sl_hex_value(unsigned char c)
{
    if (sl_is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Strips optional whitespace (SP / HTAB, RFC 9110 §5.6.3) from both ends. */
static inline struct sl_str sl_str_trim(struct sl_str s)
{
    while (s.n > 0 && sl_is_ows((unsigned char)s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && sl_is_ows((unsigned char)s.p[s.n - 1]))
        s.n--;
    return s;
}

/* Takes the next element of a comma-separated list (RFC 9110 §5.6.1) off the front of
 * *rest, trimmed of OWS; false once the list is used up. Empty elements between commas
 * come out empty, for the caller to skip, as the RFC asks recipients to (a trailing
 * comma ends the list). */
static inline bool sl_str_list_next(struct sl_str *rest, struct sl_str *item)
{
    if (rest->p == NULL || rest->n == 0)
        return false;
    const char *comma = memchr(rest->p, ',', rest->n);
    size_t len = comma ? (size_t)(comma - rest->p) : rest->n;
    *item = sl_str_trim(sl_str_make(rest->p, len));
    rest->p += comma ? len + 1 : len;
    rest->n -= comma ? len + 1 : len;
    return true;
}

/* Whether name is one of the comma-separated names in list, regardless of ASCII case:
 * the fixed sets of field names, written as one string ("Range, If-Range"). */
static inline bool sl_str_list_has(struct sl_str list, struct sl_str name)
{
    struct sl_str item;
    while (sl_str_list_next(&list, &item)) {
        if (sl_str_caseeq(item, name))
            return true;
    }
    return false;
}

#endif
