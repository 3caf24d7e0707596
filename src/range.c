/* Range field parsing (RFC 9110 §14.1.2): turns a "bytes=" range-set into clipped,
 * coalesced byte ranges in the order they were asked for, or says the header must be ignored or
 * answered 416. Pure: no I/O, no allocation, never reads past `len`. */
#include "sluice/range.h"

#include <stdbool.h>

#include "sluice/str.h"

/* More specs than this is a DoS probe rather than a real client (RFC 9110 §14.2 lets a
 * server ignore a range-set with many small ranges); it also bounds the scratch array. */
#define MAX_SPECS 100

struct cursor {
    const char *p;
    const char *end;
};

static void skip_ows(struct cursor *c)
{
    while (c->p < c->end && sl_is_ows((unsigned char)*c->p))
        c->p++;
}

/* Takes 1*DIGIT as a span; false if there is no digit. */
static bool take_digits(struct cursor *c, struct sl_str *digits)
{
    const char *start = c->p;
    while (c->p < c->end && sl_is_digit((unsigned char)*c->p))
        c->p++;
    *digits = sl_str_make(start, (size_t)(c->p - start));
    return digits->n > 0;
}

static struct sl_str strip_leading_zeros(struct sl_str d)
{
    while (d.n > 0 && d.p[0] == '0') {
        d.p++;
        d.n--;
    }
    return d;
}

/* Exact a < b on decimal digit strings of any length, so "last < first" is judged right
 * even when both numbers are too large for uint64_t. */
static bool digits_less(struct sl_str a, struct sl_str b)
{
    a = strip_leading_zeros(a);
    b = strip_leading_zeros(b);
    if (a.n != b.n)
        return a.n < b.n;
    for (size_t i = 0; i < a.n; i++) {
        if (a.p[i] != b.p[i])
            return a.p[i] < b.p[i];
    }
    return false;
}

/* Converts digits to uint64_t, saturating at UINT64_MAX instead of overflowing. */
static uint64_t digits_value(struct sl_str d)
{
    uint64_t v = 0;
    for (size_t i = 0; i < d.n; i++) {
        uint64_t digit = (uint64_t)(d.p[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return UINT64_MAX;
        v = v * 10 + digit;
    }
    return v;
}

/* suffix-range = "-" suffix-length, with the cursor just past the "-". A zero-length suffix
 * selects nothing; a suffix longer than the file selects all of it (RFC 9110 §14.1.2). */
static bool parse_suffix_range(struct cursor *c, uint64_t size, struct sl_range *r,
                               bool *satisfiable)
{
    struct sl_str digits;
    if (!take_digits(c, &digits))
        return false;
    uint64_t suffix = digits_value(digits);
    if (size == 0 || suffix == 0)
        return true;
    r->first = suffix >= size ? 0 : size - suffix;
    r->last = size - 1;
    *satisfiable = true;
    return true;
}

/* int-range = first-pos "-" [ last-pos ]. last < first makes the whole field invalid
 * (RFC 9110 §14.1.1), so it is a syntax error here, judged exactly on the digits. */
static bool parse_int_range(struct cursor *c, uint64_t size, struct sl_range *r, bool *satisfiable)
{
    struct sl_str first;
    struct sl_str last;
    if (!take_digits(c, &first) || c->p >= c->end || *c->p != '-')
        return false;
    c->p++;
    bool has_last = take_digits(c, &last);
    if (has_last && digits_less(last, first))
        return false;

    /* A first-pos that saturated is at least UINT64_MAX, so never below size. */
    uint64_t f = digits_value(first);
    if (f >= size)
        return true;
    uint64_t l = has_last ? digits_value(last) : UINT64_MAX;
    r->first = f;
    r->last = l < size - 1 ? l : size - 1;
    *satisfiable = true;
    return true;
}

/* Parses one range-spec at the cursor. Returns false on a syntax error. Otherwise sets
 * *satisfiable and, when true, fills *r clipped to the representation. */
static bool parse_spec(struct cursor *c, uint64_t size, struct sl_range *r, bool *satisfiable)
{
    *satisfiable = false;
    if (c->p < c->end && *c->p == '-') {
        c->p++;
        return parse_suffix_range(c, size, r, satisfiable);
    }
    return parse_int_range(c, size, r, satisfiable);
}

/* Checks for "bytes=" (the unit is case-insensitive, RFC 9110 §14.1) and moves past it.
 * No whitespace is allowed around "=": the grammar has none there. */
static bool take_bytes_unit(struct cursor *c)
{
    const struct sl_str unit = SL_STR("bytes");
    if ((size_t)(c->end - c->p) <= unit.n)
        return false;
    if (!sl_str_caseeq(sl_str_make(c->p, unit.n), unit) || c->p[unit.n] != '=')
        return false;
    c->p += unit.n + 1;
    return true;
}

/* A satisfiable range and where its range-spec stood in the header. */
struct spec {
    struct sl_range r;
    size_t order;
};

/* Insertion sorts: n is at most MAX_SPECS and usually 1 or 2. */
static void sort_by_first(struct spec *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct spec key = s[i];
        size_t j = i;
        while (j > 0 && s[j - 1].r.first > key.r.first) {
            s[j] = s[j - 1];
            j--;
        }
        s[j] = key;
    }
}

static void sort_by_order(struct spec *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct spec key = s[i];
        size_t j = i;
        while (j > 0 && s[j - 1].order > key.order) {
            s[j] = s[j - 1];
            j--;
        }
        s[j] = key;
    }
}

/* Merges overlapping or touching ranges of an array sorted by first byte, in place; a
 * merged range takes the place of its earliest spec. Returns the new count. */
static size_t coalesce(struct spec *s, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        /* last + 1 cannot overflow: last is clipped to size - 1 < UINT64_MAX. */
        if (out > 0 && s[i].r.first <= s[out - 1].r.last + 1) {
            if (s[i].r.last > s[out - 1].r.last)
                s[out - 1].r.last = s[i].r.last;
            if (s[i].order < s[out - 1].order)
                s[out - 1].order = s[i].order;
        } else {
            s[out++] = s[i];
        }
    }
    return out;
}

/* Parses the range-set after "bytes=" into sat[] (at most MAX_SPECS entries).
 * The list follows the recipient form of RFC 9110 §5.6.1,
 *   [ element ] *( OWS "," OWS [ element ] ),
 * so empty elements and OWS around commas are accepted, but whitespace inside a
 * range-spec ("0 -1") or right after "=" is a syntax error. */
static bool parse_range_set(struct cursor *c, uint64_t size, struct spec *sat, size_t *nsat)
{
    size_t nspecs = 0;

    *nsat = 0;
    for (;;) {
        if (c->p < c->end && *c->p != ',' && !sl_is_ows((unsigned char)*c->p)) {
            bool satisfiable;
            if (++nspecs > MAX_SPECS)
                return false;
            if (!parse_spec(c, size, &sat[*nsat].r, &satisfiable))
                return false;
            if (satisfiable) {
                sat[*nsat].order = *nsat;
                (*nsat)++;
            }
        }
        skip_ows(c);
        if (c->p >= c->end)
            break;
        if (*c->p != ',')
            return false;
        c->p++;
        skip_ows(c);
    }
    /* 1#range-spec: at least one non-empty element. */
    return nspecs > 0;
}

enum sl_range_result sl_range_parse(const char *value, size_t len, uint64_t size,
                                    struct sl_range out[SL_RANGE_MAX], size_t *count)
{
    struct spec sat[MAX_SPECS];
    size_t nsat;

    *count = 0;
    if (value == NULL)
        return SL_RANGE_IGNORE;

    /* The field value's own leading and trailing OWS is not part of it (RFC 9110 §5.5). */
    struct sl_str v = sl_str_trim(sl_str_make(value, len));
    struct cursor c = {v.p, v.p + v.n};

    if (!take_bytes_unit(&c) || !parse_range_set(&c, size, sat, &nsat))
        return SL_RANGE_IGNORE;
    if (nsat == 0)
        return SL_RANGE_UNSATISFIABLE;

    /* Parts go out in the order the client asked for them (RFC 9110 §15.3.7.2), once
     * overlapping and touching ones are merged. */
    sort_by_first(sat, nsat);
    nsat = coalesce(sat, nsat);
    if (nsat > SL_RANGE_MAX)
        return SL_RANGE_IGNORE;
    sort_by_order(sat, nsat);
    for (size_t i = 0; i < nsat; i++)
        out[i] = sat[i].r;
    *count = nsat;
    return SL_RANGE_SATISFIABLE;
}
