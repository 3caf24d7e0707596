/* Escaping for text we put into responses (see encode.h): HTML, URL path segments,
 * JSON strings and Content-Disposition. Pure: each escaper appends to an sl_buf, and its
 * array form wraps it to write into the caller's array and report the length it needed,
 * like snprintf. */

#include "sluice/encode.h"

#include <stdbool.h>
#include <string.h>

#include "sluice/str.h"

static void put_pct(struct sl_buf *b, unsigned char c)
{
    char e[3] = {'%'};
    sl_hex_byte(e + 1, c, true);
    sl_buf_append(b, e, sizeof(e));
}

/* The snprintf-style form of an escaper. Each escaper appends in units (one byte, or one
 * whole escape sequence or UTF-8 character), and a fixed sl_buf takes a unit entirely or
 * not at all and nothing after the first that does not fit. A truncated result is
 * therefore still a prefix of the full one that never ends inside "&amp;", "%2F" or
 * "\u001f", so even a caller that ignores truncation never emits a broken escape. */
static size_t to_array(void (*escape)(struct sl_buf *, const char *, size_t), char *out, size_t cap,
                       const char *s, size_t len)
{
    struct sl_buf b = sl_buf_make(out, cap > 0 ? cap - 1 : 0); /* one byte kept for the NUL */
    escape(&b, s, len);
    if (cap > 0)
        out[b.len] = '\0';
    return b.need;
}

/* RFC 3986 unreserved plus the sub-delims, ':' and '@' allowed in a segment, less '&'
 * and '\'' so the result can also sit inside an HTML attribute unescaped. */
static bool segment_keeps(unsigned char c)
{
    return sl_is_alnum(c) || (c != '\0' && strchr("-._~!$()*+,;=:@", c) != NULL);
}

/* Percent-encodes every byte of s that `keeps` does not accept. */
static void pct_encode(struct sl_buf *b, const char *s, size_t len, bool (*keeps)(unsigned char))
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (keeps(c))
            sl_buf_putc(b, (char)c);
        else
            put_pct(b, c);
    }
}

void sl_pct_encode_segment_buf(struct sl_buf *b, const char *s, size_t len)
{
    pct_encode(b, s, len, segment_keeps);
}

size_t sl_pct_encode_segment(char *out, size_t cap, const char *s, size_t len)
{
    return to_array(sl_pct_encode_segment_buf, out, cap, s, len);
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

bool sl_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t bad;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_char(u + i, len - i, &bad);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/* Copies one well-formed UTF-8 character, or writes U+FFFD for an ill-formed run (pages
 * and JSON are declared UTF-8, so names that are not must not make them invalid).
 * Returns the bytes consumed. */
static size_t put_utf8_or_replacement(struct sl_buf *b, const unsigned char *u, size_t len)
{
    size_t bad = 0;
    size_t n = utf8_char(u, len, &bad);
    if (n > 0) {
        sl_buf_append(b, (const char *)u, n);
        return n;
    }
    sl_buf_append(b, "\xef\xbf\xbd", 3); /* U+FFFD REPLACEMENT CHARACTER */
    return bad;
}

void sl_html_escape_buf(struct sl_buf *b, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        switch (u[i]) {
        case '&': sl_buf_append(b, "&amp;", 5); break;
        case '<': sl_buf_append(b, "&lt;", 4); break;
        case '>': sl_buf_append(b, "&gt;", 4); break;
        case '"': sl_buf_append(b, "&quot;", 6); break;
        case '\'': sl_buf_append(b, "&#39;", 5); break;
        default: i += put_utf8_or_replacement(b, u + i, len - i); continue;
        }
        i++;
    }
}

size_t sl_html_escape(char *out, size_t cap, const char *s, size_t len)
{
    return to_array(sl_html_escape_buf, out, cap, s, len);
}

static void put_json_control(struct sl_buf *b, unsigned char c)
{
    switch (c) {
    case '\b': sl_buf_append(b, "\\b", 2); break;
    case '\f': sl_buf_append(b, "\\f", 2); break;
    case '\n': sl_buf_append(b, "\\n", 2); break;
    case '\r': sl_buf_append(b, "\\r", 2); break;
    case '\t': sl_buf_append(b, "\\t", 2); break;
    default: {
        char e[6] = {'\\', 'u', '0', '0'};
        sl_hex_byte(e + 4, c, false);
        sl_buf_append(b, e, sizeof(e));
    }
    }
}

void sl_json_escape_buf(struct sl_buf *b, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sl_buf_append(b, e, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            put_json_control(b, c);
            i++;
        } else if (c == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f) {
            /* U+0080..U+009F, the C1 controls: valid JSON as they are, but a terminal
             * showing a JSON access log may act on them (U+009B is CSI), and DEL above
             * with them. Escaped, the line shows them as text to every reader. */
            put_json_control(b, u[i + 1]);
            i += 2;
        } else {
            i += put_utf8_or_replacement(b, u + i, len - i);
        }
    }
}

size_t sl_json_escape(char *out, size_t cap, const char *s, size_t len)
{
    return to_array(sl_json_escape_buf, out, cap, s, len);
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

/* attr-char of RFC 8187 §3.2.1: a token's tchar less the three that mean something in an
 * ext-value ('%' starts an escape, '\'' ends the charset and language, '*' marks the
 * parameter name). */
static bool is_attr_char(unsigned char c)
{
    return sl_is_tchar(c) && c != '%' && c != '\'' && c != '*';
}

/* One '_' for each character the fallback cannot hold: a UTF-8 character is one character
 * to whoever reads the name, however many bytes it takes ("R\xc3\xa9sum\xc3\xa9" becomes
 * "R_sum_", not "R__sum__"), while each byte of ill-formed UTF-8 stands for itself. */
static void put_fallback(struct sl_buf *b, const char *name, size_t len)
{
    const unsigned char *u = (const unsigned char *)name;
    size_t i = 0;
    while (i < len) {
        size_t bad = 0;
        size_t n = utf8_char(u + i, len - i, &bad);
        sl_buf_putc(b, n == 1 ? (char)fallback_byte(u[i]) : '_');
        i += n > 0 ? n : 1;
    }
}

void sl_content_disposition_buf(struct sl_buf *b, const char *name, size_t len)
{
    static const char head[] = "attachment; filename=\"";
    static const char star[] = "\"; filename*=UTF-8''";
    sl_buf_append(b, head, sizeof(head) - 1);
    put_fallback(b, name, len);
    sl_buf_append(b, star, sizeof(star) - 1);
    pct_encode(b, name, len, is_attr_char);
}

size_t sl_content_disposition(char *out, size_t cap, const char *name, size_t len)
{
    return to_array(sl_content_disposition_buf, out, cap, name, len);
}
