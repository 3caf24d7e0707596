/* A borrowed byte span: pointer and length, not NUL-terminated. Request fields are
 * spans into the connection's head buffer, so parsing copies nothing. */
#ifndef SLUICE_STR_H
#define SLUICE_STR_H

#include <stdbool.h>
#include <stddef.h>
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

static inline bool sl_str_eq(struct sl_str a, struct sl_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static inline bool sl_str_caseeq(struct sl_str a, struct sl_str b)
{
    return a.n == b.n && (a.n == 0 || strncasecmp(a.p, b.p, a.n) == 0);
}

/* Strips optional whitespace (SP / HTAB, RFC 9110 §5.6.3) from both ends. */
static inline struct sl_str sl_str_trim(struct sl_str s)
{
    while (s.n > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

#endif
