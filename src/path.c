/* Request-target to root-relative path (see path.h). This is the router's security
 * boundary: `rel` is opened beneath the root with openat2(RESOLVE_BENEATH), so it must
 * never start with '/' or hold a ".." segment, whatever the client sent. */

#include "sluice/path.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "sluice/buf.h"
#include "sluice/str.h"

/* An absolute-form target with no path ("http://host?q") asks for the root (RFC 9112
 * §3.2.2); raw_path then points here, since the target has no '/' to point at. */
static const char root_path[] = "/";

/* A request line cannot carry control characters or spaces (RFC 9112 §3.2), and a NUL
 * would cut the path short when it reaches the kernel, so refuse them anywhere in the
 * target, not only in the path. */
static bool has_forbidden_byte(const char *t, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= ' ' || c == 0x7f)
            return true;
    }
    return false;
}

static bool starts_with_ci(const char *t, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && strncasecmp(t, prefix, n) == 0;
}

/* Sets *start to the index where the path begins: 0 for origin-form, just past the
 * authority for absolute-form. Anything else (asterisk-form, authority-form, a relative
 * path, an empty target) is not something we can serve a file for. */
static int find_path_start(const char *t, size_t len, size_t *start)
{
    size_t i;
    if (t[0] == '/') {
        *start = 0;
        return 0;
    }
    if (starts_with_ci(t, len, "http://"))
        i = 7;
    else if (starts_with_ci(t, len, "https://"))
        i = 8;
    else
        return 400;
    size_t authority = i;
    while (i < len && t[i] != '/' && t[i] != '?' && t[i] != '#')
        i++;
    /* RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid and must be
     * rejected; "http:///etc/passwd" is not a path. Userinfo ("user@host") is
     * deprecated there and must be treated as an error (§4.2.4), which the host syntax
     * check does: '@' is no host byte. */
    if (i == authority || !sl_host_valid(t + authority, i - authority))
        return 400;
    *start = i;
    return 0;
}

/* unreserved / sub-delims (RFC 3986 §2.2, §2.3): a reg-name's bytes besides
 * pct-encoded ones. */
static bool is_reg_name_byte(unsigned char c)
{
    return sl_byte_is(c, SL_BYTE_REG_NAME);
}

/* The inside of an IP-literal's brackets: IPv6address / IPvFuture (RFC 3986 §3.2.2).
 * inet_pton knows the many shapes of an IPv6 address (and takes no zone index, which
 * RFC 3986 does not allow either). */
static bool ip_literal_valid(const char *s, size_t n)
{
    if (n > 0 && (s[0] == 'v' || s[0] == 'V')) {
        size_t i = 1;
        while (i < n && sl_hex_value((unsigned char)s[i]) >= 0)
            i++;
        if (i == 1 || i + 1 >= n || s[i] != '.')
            return false;
        for (i++; i < n; i++) {
            if (!is_reg_name_byte((unsigned char)s[i]) && s[i] != ':')
                return false;
        }
        return true;
    }
    char text[INET6_ADDRSTRLEN];
    struct in6_addr addr;
    if (n >= sizeof(text) || memchr(s, '\0', n) != NULL) /* inet_pton would stop at one */
        return false;
    memcpy(text, s, n);
    text[n] = '\0';
    return inet_pton(AF_INET6, text, &addr) == 1;
}

bool sl_host_valid(const char *s, size_t n)
{
    size_t i = 0;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL || !ip_literal_valid(s + 1, (size_t)(close - s) - 1))
            return false;
        i = (size_t)(close - s) + 1;
    } else {
        /* reg-name, which also covers IPv4address, up to the port's ':' (checked below,
         * with any other byte that stops it). */
        for (;;) {
            while (i < n && is_reg_name_byte((unsigned char)s[i]))
                i++;
            if (i == n || s[i] != '%')
                break;
            if (n - i < 3 || sl_hex_value((unsigned char)s[i + 1]) < 0 ||
                sl_hex_value((unsigned char)s[i + 2]) < 0)
                return false;
            i += 3;
        }
    }
    if (i == n)
        return true;
    if (s[i] != ':')
        return false;
    for (i++; i < n; i++) {
        if (!sl_is_digit((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* Drops the last segment of rel (the ".." step of RFC 3986 §5.2.4). */
static void pop_segment(struct sl_path *out)
{
    size_t i = out->len;
    while (i > 0 && out->rel[i - 1] != '/')
        i--;
    out->len = i > 0 ? i - 1 : 0;
}

enum segment_kind { SEG_EMPTY, SEG_DOT, SEG_DOTDOT, SEG_NAME };

static enum segment_kind classify(const char *s, size_t n)
{
    if (n == 0)
        return SEG_EMPTY;
    if (n == 1 && s[0] == '.')
        return SEG_DOT;
    if (n == 2 && s[0] == '.' && s[1] == '.')
        return SEG_DOTDOT;
    return SEG_NAME;
}

/* Decodes the raw path p[0..n) (p[0] == '/') segment by segment into out->rel, removing
 * dot segments as it goes. Dot segments are recognised after decoding, so "%2e%2e" is
 * "..", but decoding happens once: "%252e" is the literal name "%2e". Errors are reported
 * in the order they occur from left to right. */
static int normalize(const char *p, size_t n, struct sl_path *out)
{
    size_t decoded = 0; /* length of the whole decoded path, before dot removal */
    enum segment_kind last = SEG_EMPTY;
    size_t i = 0;

    out->len = 0;
    while (i < n) {
        i++; /* the '/' that opens this segment */
        if (++decoded >= SL_PATH_MAX)
            return 414;
        /* Decode straight into rel after what is kept so far, leaving room for the '/'
         * that joins it on; it is only kept if it turns out to be a name. */
        size_t seg = out->len > 0 ? out->len + 1 : 0;
        size_t w = seg;
        while (i < n && p[i] != '/') {
            unsigned char c = (unsigned char)p[i];
            if (c == '%') {
                int hi = n - i >= 3 ? sl_hex_value((unsigned char)p[i + 1]) : -1;
                int lo = n - i >= 3 ? sl_hex_value((unsigned char)p[i + 2]) : -1;
                if (hi < 0 || lo < 0)
                    return 400;
                c = (unsigned char)(hi << 4 | lo);
                /* An encoded '/' would let one segment become two after we have
                 * checked it; an encoded NUL would truncate the name in the kernel. */
                if (c == '/' || c == '\0')
                    return 400;
                i += 3;
            } else {
                i++;
            }
            if (++decoded >= SL_PATH_MAX)
                return 414;
            /* Cannot fire: rel never outgrows the decoded path, so w <= decoded - 2.
             * Kept so that a future change to this arithmetic fails closed. */
            if (w >= SL_PATH_MAX - 1)
                return 414;
            out->rel[w++] = (char)c;
        }
        last = classify(out->rel + seg, w - seg);
        if (last == SEG_DOTDOT) {
            if (out->len == 0)
                return 400; /* would climb above the root */
            pop_segment(out);
        } else if (last == SEG_NAME) {
            if (seg > 0)
                out->rel[out->len] = '/';
            out->len = w;
        }
    }
    out->rel[out->len] = '\0';
    /* "/a/b/.." names the directory a, so it keeps directory form ("a" with a trailing
     * slash) just as "/a/" does; the router can then redirect or list consistently. */
    out->trailing_slash = last != SEG_NAME;
    return 0;
}

/* The query after the path, which ends at `end` ('?', '#' or the end): set aside, up to
 * a fragment. */
static void set_query_aside(const char *target, size_t end, size_t len, struct sl_path *out)
{
    if (end < len && target[end] == '?') {
        size_t q = end + 1;
        size_t qend = q;
        while (qend < len && target[qend] != '#')
            qend++;
        out->raw_query = target + q;
        out->raw_query_len = qend - q;
    }
}

/* The first byte from p on that is not plain (or stop): four bytes to a test while
 * four are left, as names run to several plain bytes between '/' and '.'. */
static const unsigned char *skip_plain(const unsigned char *p, const unsigned char *stop)
{
    while (stop - p >= 4 && (sl_byte_class[p[0]] & sl_byte_class[p[1]] & sl_byte_class[p[2]] &
                             sl_byte_class[p[3]] & SL_BYTE_PLAIN_PATH))
        p += 4;
    while (p < stop && sl_byte_is(*p, SL_BYTE_PLAIN_PATH))
        p++;
    return p;
}

/* The target nearly every request has, "/dir/name.ext" with perhaps a query: origin-form,
 * nothing to decode, no empty segment, no segment that starts with '.', so no dot
 * segment, and short. Such a path is its own normal form: it is scanned, then copied
 * whole, instead of going through the decoding below, which costs several times as much
 * (bench/RESULTS.md, instructions per request). Sets every field of out, or returns
 * false, out untouched, for anything else: the full resolution then decides, errors
 * included. */
static bool resolve_plain(const char *t, size_t len, struct sl_path *out)
{
    if (t[0] != '/' || len >= SL_PATH_MAX - 1)
        return false;
    const unsigned char *p = (const unsigned char *)t + 1;
    const unsigned char *stop = (const unsigned char *)t + len;
    for (p = skip_plain(p, stop); p < stop; p = skip_plain(p + 1, stop)) {
        if (*p == '?' || *p == '#')
            break;
        if (*p <= ' ' || *p == 0x7f || *p == '%')
            return false;
        if (p[-1] == '/') /* an empty segment, or one that starts with '.' */
            return false;
    }
    size_t end = (size_t)((const char *)p - t);
    if (has_forbidden_byte(t + end, len - end))
        return false;
    out->trailing_slash = p[-1] == '/';
    out->hidden = false; /* no segment starts with '.' */
    out->len = end - 1 - (out->trailing_slash && end > 1);
    memcpy(out->rel, t + 1, out->len);
    out->rel[out->len] = '\0';
    out->raw_path = t;
    out->raw_path_len = end;
    out->raw_query = NULL;
    out->raw_query_len = 0;
    set_query_aside(t, end, len, out);
    return true;
}

int sl_path_resolve(const char *target, size_t len, struct sl_path *out)
{
    if (target != NULL && len > 0 && resolve_plain(target, len, out))
        return 0;
    out->rel[0] = '\0';
    out->len = 0;
    out->trailing_slash = false;
    out->hidden = false;
    out->raw_path = NULL;
    out->raw_path_len = 0;
    out->raw_query = NULL;
    out->raw_query_len = 0;

    if (target == NULL || len == 0)
        return 400;
    if (has_forbidden_byte(target, len))
        return 400;
    size_t start;
    int rc = find_path_start(target, len, &start);
    if (rc != 0)
        return rc;

    size_t end = start;
    while (end < len && target[end] != '?' && target[end] != '#')
        end++;
    set_query_aside(target, end, len, out);
    if (end == start) {
        out->raw_path = root_path;
        out->raw_path_len = 1;
    } else {
        out->raw_path = target + start;
        out->raw_path_len = end - start;
    }
    rc = normalize(out->raw_path, out->raw_path_len, out);
    if (rc != 0) {
        out->rel[0] = '\0';
        out->len = 0;
        return rc;
    }
    out->hidden = sl_path_has_hidden_segment(out->rel, out->len);
    return 0;
}

bool sl_path_has_hidden_segment(const char *rel, size_t len)
{
    static const char well_known[] = ".well-known";
    size_t i = 0;
    while (i < len) {
        const char *slash = memchr(rel + i, '/', len - i);
        size_t end = slash != NULL ? (size_t)(slash - rel) : len;
        size_t n = end - i;
        if (n > 0 && rel[i] == '.') {
            bool served =
                i == 0 && n == sizeof(well_known) - 1 && memcmp(rel + i, well_known, n) == 0;
            if (!served)
                return true;
        }
        i = end + 1;
    }
    return false;
}

size_t sl_path_join(char *out, size_t cap, const char *dir, size_t dir_len, const char *name,
                    size_t name_len)
{
    if (cap == 0)
        return 0;
    struct sl_buf b = sl_buf_make(out, cap - 1); /* one byte kept for the NUL */
    sl_buf_append(&b, dir, dir_len);
    if (dir_len > 0)
        sl_buf_putc(&b, '/');
    sl_buf_append(&b, name, name_len);
    if (b.overflow)
        b.len = 0;
    out[b.len] = '\0';
    return b.len;
}

bool sl_path_query_has(const struct sl_path *path, const char *name)
{
    const char *p = path->raw_query;
    if (!p)
        return false;
    size_t want = strlen(name);
    const char *end = p + path->raw_query_len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        size_t n = (size_t)(stop - p);
        const char *eq = memchr(p, '=', n);
        size_t name_len = eq ? (size_t)(eq - p) : n;
        if (name_len == want && memcmp(p, name, want) == 0)
            return true;
        p = stop + 1;
    }
    return false;
}
