/* Escaping for text we put into responses (see encode.h): HTML, URL path segments,
 * JSON strings and Content-Disposition. Pure: every function writes only into the
 * caller's buffer and reports the length it needed, like snprintf. */

#include "sluice/encode.h"

#include <stdbool.h>
#include <string.h>

#include "sluice/str.h"

/* An output buffer with snprintf accounting. Output is appended in units (one byte, or one
 * whole escape sequence or UTF-8 character): a unit is written entirely or not at all,
 * and after the first unit that does not fit nothing more is written. A truncated result
 * is therefore still a prefix of the full one that never ends inside "&amp;", "%2F" or
 * "\u001f", so even a caller that ignores truncation never emits a broken escape. */
struct sink {
    char *out;
    size_t cap;
    size_t need;    /* bytes the full result needs */
    size_t written; /* bytes actually in out */
    bool full;
};

static void put(struct sink *s, const char *p, size_t n)
{
    if (!s->full && s->written + n < s->cap) {
        memcpy(s->out + s->written, p, n);
        s->written += n;
    } else {
        s->full = true;
    }
    s->need += n;
}

static void put_byte(struct sink *s, unsigned char c)
{
    char b = (char)c;
    put(s, &b, 1);
}

static void put_pct(struct sink *s, unsigned char c)
{
    char b[3] = {'%'};
    sl_hex_byte(b + 1, c, true);
    put(s, b, sizeof(b));
}

static size_t finish(struct sink *s)
{
    if (s->cap > 0)
        s->out[s->written] = '\0';
    return s->need;
}

static struct sink sink_make(char *out, size_t cap)
{
    return (struct sink){.out = out, .cap = cap};
}

/* RFC 3986 unreserved plus the sub-delims, ':' and '@' allowed in a segment, less '&'
 * and '\'' so the result can also sit inside an HTML attribute unescaped. */
static bool segment_keeps(unsigned char c)
{
    return sl_is_alnum(c) || (c != '\0' && strchr("-._~!$()*+,;=:@", c) != NULL);
}

size_t sl_pct_encode_segment(char *out, size_t cap, const char *s, size_t len)
{
    struct sink k = sink_make(out, cap);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (segment_keeps(c))
            put_byte(&k, c);
        else
            put_pct(&k, c);
    }
    return finish(&k);
}

/* Returns the length of the well-formed UTF-8 character at s[0..len) (Unicode §3.9,
 * Table 3-7: no overlongs, no surrogates, nothing above U+10FFFF), or 0 when it is
 * ill-formed, with *bad set to the length of its maximal subpart: the bytes that one
 * U+FFFD replaces under the "maximal subparts" practice that WHATWG also follows. */
static size_t utf8_char(const unsigned char *s, size_t len, size_t *bad)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    size_t more;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        more = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        more = 2;
        if (c == 0xe0)
            lo = 0xa0; /* below is an overlong */
        else if (c == 0xed)
            hi = 0x9f; /* above are UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        more = 3;
        if (c == 0xf0)
            lo = 0x90; /* below is an overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above is beyond U+10FFFF */
    } else {
        *bad = 1; /* a stray continuation byte, C0, C1 or F5..FF */
        return 0;
    }
    for (size_t i = 1; i <= more; i++) {
        if (i >= len || s[i] < lo || s[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xbf;
    }
    return more + 1;
}

/* Copies one well-formed UTF-8 character, or writes U+FFFD for an ill-formed run (pages
 * and JSON are declared UTF-8, so names that are not must not make them invalid).
 * Returns the bytes consumed. */
static size_t put_utf8_or_replacement(struct sink *k, const unsigned char *u, size_t len)
{
    size_t bad = 0;
    size_t n = utf8_char(u, len, &bad);
    if (n > 0) {
        put(k, (const char *)u, n);
        return n;
    }
    put(k, "\xef\xbf\xbd", 3); /* U+FFFD REPLACEMENT CHARACTER */
    return bad;
}

size_t sl_html_escape(char *out, size_t cap, const char *s, size_t len)
{
    struct sink k = sink_make(out, cap);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        switch (u[i]) {
        case '&': put(&k, "&amp;", 5); break;
        case '<': put(&k, "&lt;", 4); break;
        case '>': put(&k, "&gt;", 4); break;
        case '"': put(&k, "&quot;", 6); break;
        case '\'': put(&k, "&#39;", 5); break;
        default: i += put_utf8_or_replacement(&k, u + i, len - i); continue;
        }
        i++;
    }
    return finish(&k);
}

static void put_json_control(struct sink *k, unsigned char c)
{
    switch (c) {
    case '\b': put(k, "\\b", 2); break;
    case '\f': put(k, "\\f", 2); break;
    case '\n': put(k, "\\n", 2); break;
    case '\r': put(k, "\\r", 2); break;
    case '\t': put(k, "\\t", 2); break;
    default: {
        char b[6] = {'\\', 'u', '0', '0'};
        sl_hex_byte(b + 4, c, false);
        put(k, b, sizeof(b));
    }
    }
}

size_t sl_json_escape(char *out, size_t cap, const char *s, size_t len)
{
    struct sink k = sink_make(out, cap);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char b[2] = {'\\', (char)c};
            put(&k, b, 2);
            i++;
        } else if (c < 0x20) {
            put_json_control(&k, c);
            i++;
        } else {
            i += put_utf8_or_replacement(&k, u + i, len - i);
        }
    }
    return finish(&k);
}

/* The quoted-string fallback is for old clients that ignore filename*; anything that
 * could end the quoted string, start an escape, be mistaken for an encoding, or that is
 * not ASCII becomes '_'. */
static unsigned char fallback_byte(unsigned char c)
{
    if (!sl_is_print_ascii(c) || c == '"' || c == '\\' || c == '%')
        return '_';
    return c;
}

/* attr-char of RFC 8187 §3.2.1. */
static bool is_attr_char(unsigned char c)
{
    return sl_is_alnum(c) || (c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL);
}

size_t sl_content_disposition(char *out, size_t cap, const char *name, size_t len)
{
    static const char head[] = "attachment; filename=\"";
    static const char star[] = "\"; filename*=UTF-8''";
    struct sink k = sink_make(out, cap);
    put(&k, head, sizeof(head) - 1);
    for (size_t i = 0; i < len; i++)
        put_byte(&k, fallback_byte((unsigned char)name[i]));
    put(&k, star, sizeof(star) - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (is_attr_char(c))
            put_byte(&k, c);
        else
            put_pct(&k, c);
    }
    return finish(&k);
}
