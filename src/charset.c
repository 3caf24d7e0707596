/* The character encoding an HTML document declares in its first bytes, found the way
 * browsers find it before they decode: a byte order mark, the HTML standard's prescan
 * for <meta charset>, then an XML declaration. Pure: bytes in, a static name out. */
#include "sluice/charset.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice/str.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Longest label in the table ("cseucpkdfmtjapanese"); anything longer names nothing. */
#define LABEL_MAX 19

struct label {
    const char *label; /* lower case */
    const char *name;  /* the encoding's name, lower-cased for a charset parameter */
};

/* The Encoding Standard's labels (§4.2 "Names and labels", encodings.json), sorted for
 * bsearch. The "replacement" encoding decodes a whole document as one U+FFFD: its
 * labels (iso-2022-kr, hz-gb-2312, ...) name encodings whose escape sequences were used
 * for cross-site scripting. */
static const struct label labels[] = {
    {"866", "ibm866"},
    {"ansi_x3.4-1968", "windows-1252"},
    {"arabic", "iso-8859-6"},
    {"ascii", "windows-1252"},
    {"asmo-708", "iso-8859-6"},
    {"big5", "big5"},
    {"big5-hkscs", "big5"},
    {"chinese", "gbk"},
    {"cn-big5", "big5"},
    {"cp1250", "windows-1250"},
    {"cp1251", "windows-1251"},
    {"cp1252", "windows-1252"},
    {"cp1253", "windows-1253"},
    {"cp1254", "windows-1254"},
    {"cp1255", "windows-1255"},
    {"cp1256", "windows-1256"},
    {"cp1257", "windows-1257"},
    {"cp1258", "windows-1258"},
    {"cp819", "windows-1252"},
    {"cp866", "ibm866"},
    {"csbig5", "big5"},
    {"cseuckr", "euc-kr"},
    {"cseucpkdfmtjapanese", "euc-jp"},
    {"csgb2312", "gbk"},
    {"csibm866", "ibm866"},
    {"csiso2022jp", "iso-2022-jp"},
    {"csiso2022kr", "replacement"},
    {"csiso58gb231280", "gbk"},
    {"csiso88596e", "iso-8859-6"},
    {"csiso88596i", "iso-8859-6"},
    {"csiso88598e", "iso-8859-8"},
    {"csiso88598i", "iso-8859-8-i"},
    {"csisolatin1", "windows-1252"},
    {"csisolatin2", "iso-8859-2"},
    {"csisolatin3", "iso-8859-3"},
    {"csisolatin4", "iso-8859-4"},
    {"csisolatin5", "windows-1254"},
    {"csisolatin6", "iso-8859-10"},
    {"csisolatin9", "iso-8859-15"},
    {"csisolatinarabic", "iso-8859-6"},
    {"csisolatincyrillic", "iso-8859-5"},
    {"csisolatingreek", "iso-8859-7"},
    {"csisolatinhebrew", "iso-8859-8"},
    {"cskoi8r", "koi8-r"},
    {"csksc56011987", "euc-kr"},
    {"csmacintosh", "macintosh"},
    {"csshiftjis", "shift_jis"},
    {"csunicode", "utf-16le"},
    {"cyrillic", "iso-8859-5"},
    {"dos-874", "windows-874"},
    {"ecma-114", "iso-8859-6"},
    {"ecma-118", "iso-8859-7"},
    {"elot_928", "iso-8859-7"},
    {"euc-jp", "euc-jp"},
    {"euc-kr", "euc-kr"},
    {"gb18030", "gb18030"},
    {"gb2312", "gbk"},
    {"gb_2312", "gbk"},
    {"gb_2312-80", "gbk"},
    {"gbk", "gbk"},
    {"greek", "iso-8859-7"},
    {"greek8", "iso-8859-7"},
    {"hebrew", "iso-8859-8"},
    {"hz-gb-2312", "replacement"},
    {"ibm819", "windows-1252"},
    {"ibm866", "ibm866"},
    {"iso-10646-ucs-2", "utf-16le"},
    {"iso-2022-cn", "replacement"},
    {"iso-2022-cn-ext", "replacement"},
    {"iso-2022-jp", "iso-2022-jp"},
    {"iso-2022-kr", "replacement"},
    {"iso-8859-1", "windows-1252"},
    {"iso-8859-10", "iso-8859-10"},
    {"iso-8859-11", "windows-874"},
    {"iso-8859-13", "iso-8859-13"},
    {"iso-8859-14", "iso-8859-14"},
    {"iso-8859-15", "iso-8859-15"},
    {"iso-8859-16", "iso-8859-16"},
    {"iso-8859-2", "iso-8859-2"},
    {"iso-8859-3", "iso-8859-3"},
    {"iso-8859-4", "iso-8859-4"},
    {"iso-8859-5", "iso-8859-5"},
    {"iso-8859-6", "iso-8859-6"},
    {"iso-8859-6-e", "iso-8859-6"},
    {"iso-8859-6-i", "iso-8859-6"},
    {"iso-8859-7", "iso-8859-7"},
    {"iso-8859-8", "iso-8859-8"},
    {"iso-8859-8-e", "iso-8859-8"},
    {"iso-8859-8-i", "iso-8859-8-i"},
    {"iso-8859-9", "windows-1254"},
    {"iso-ir-100", "windows-1252"},
    {"iso-ir-101", "iso-8859-2"},
    {"iso-ir-109", "iso-8859-3"},
    {"iso-ir-110", "iso-8859-4"},
    {"iso-ir-126", "iso-8859-7"},
    {"iso-ir-127", "iso-8859-6"},
    {"iso-ir-138", "iso-8859-8"},
    {"iso-ir-144", "iso-8859-5"},
    {"iso-ir-148", "windows-1254"},
    {"iso-ir-149", "euc-kr"},
    {"iso-ir-157", "iso-8859-10"},
    {"iso-ir-58", "gbk"},
    {"iso8859-1", "windows-1252"},
    {"iso8859-10", "iso-8859-10"},
    {"iso8859-11", "windows-874"},
    {"iso8859-13", "iso-8859-13"},
    {"iso8859-14", "iso-8859-14"},
    {"iso8859-15", "iso-8859-15"},
    {"iso8859-2", "iso-8859-2"},
    {"iso8859-3", "iso-8859-3"},
    {"iso8859-4", "iso-8859-4"},
    {"iso8859-5", "iso-8859-5"},
    {"iso8859-6", "iso-8859-6"},
    {"iso8859-7", "iso-8859-7"},
    {"iso8859-8", "iso-8859-8"},
    {"iso8859-9", "windows-1254"},
    {"iso88591", "windows-1252"},
    {"iso885910", "iso-8859-10"},
    {"iso885911", "windows-874"},
    {"iso885913", "iso-8859-13"},
    {"iso885914", "iso-8859-14"},
    {"iso885915", "iso-8859-15"},
    {"iso88592", "iso-8859-2"},
    {"iso88593", "iso-8859-3"},
    {"iso88594", "iso-8859-4"},
    {"iso88595", "iso-8859-5"},
    {"iso88596", "iso-8859-6"},
    {"iso88597", "iso-8859-7"},
    {"iso88598", "iso-8859-8"},
    {"iso88599", "windows-1254"},
    {"iso_8859-1", "windows-1252"},
    {"iso_8859-15", "iso-8859-15"},
    {"iso_8859-1:1987", "windows-1252"},
    {"iso_8859-2", "iso-8859-2"},
    {"iso_8859-2:1987", "iso-8859-2"},
    {"iso_8859-3", "iso-8859-3"},
    {"iso_8859-3:1988", "iso-8859-3"},
    {"iso_8859-4", "iso-8859-4"},
    {"iso_8859-4:1988", "iso-8859-4"},
    {"iso_8859-5", "iso-8859-5"},
    {"iso_8859-5:1988", "iso-8859-5"},
    {"iso_8859-6", "iso-8859-6"},
    {"iso_8859-6:1987", "iso-8859-6"},
    {"iso_8859-7", "iso-8859-7"},
    {"iso_8859-7:1987", "iso-8859-7"},
    {"iso_8859-8", "iso-8859-8"},
    {"iso_8859-8:1988", "iso-8859-8"},
    {"iso_8859-9", "windows-1254"},
    {"iso_8859-9:1989", "windows-1254"},
    {"koi", "koi8-r"},
    {"koi8", "koi8-r"},
    {"koi8-r", "koi8-r"},
    {"koi8-ru", "koi8-u"},
    {"koi8-u", "koi8-u"},
    {"koi8_r", "koi8-r"},
    {"korean", "euc-kr"},
    {"ks_c_5601-1987", "euc-kr"},
    {"ks_c_5601-1989", "euc-kr"},
    {"ksc5601", "euc-kr"},
    {"ksc_5601", "euc-kr"},
    {"l1", "windows-1252"},
    {"l2", "iso-8859-2"},
    {"l3", "iso-8859-3"},
    {"l4", "iso-8859-4"},
    {"l5", "windows-1254"},
    {"l6", "iso-8859-10"},
    {"l9", "iso-8859-15"},
    {"latin1", "windows-1252"},
    {"latin2", "iso-8859-2"},
    {"latin3", "iso-8859-3"},
    {"latin4", "iso-8859-4"},
    {"latin5", "windows-1254"},
    {"latin6", "iso-8859-10"},
    {"logical", "iso-8859-8-i"},
    {"mac", "macintosh"},
    {"macintosh", "macintosh"},
    {"ms932", "shift_jis"},
    {"ms_kanji", "shift_jis"},
    {"replacement", "replacement"},
    {"shift-jis", "shift_jis"},
    {"shift_jis", "shift_jis"},
    {"sjis", "shift_jis"},
    {"sun_eu_greek", "iso-8859-7"},
    {"tis-620", "windows-874"},
    {"ucs-2", "utf-16le"},
    {"unicode", "utf-16le"},
    {"unicode-1-1-utf-8", "utf-8"},
    {"unicode11utf8", "utf-8"},
    {"unicode20utf8", "utf-8"},
    {"unicodefeff", "utf-16le"},
    {"unicodefffe", "utf-16be"},
    {"us-ascii", "windows-1252"},
    {"utf-16", "utf-16le"},
    {"utf-16be", "utf-16be"},
    {"utf-16le", "utf-16le"},
    {"utf-8", "utf-8"},
    {"utf8", "utf-8"},
    {"visual", "iso-8859-8"},
    {"windows-1250", "windows-1250"},
    {"windows-1251", "windows-1251"},
    {"windows-1252", "windows-1252"},
    {"windows-1253", "windows-1253"},
    {"windows-1254", "windows-1254"},
    {"windows-1255", "windows-1255"},
    {"windows-1256", "windows-1256"},
    {"windows-1257", "windows-1257"},
    {"windows-1258", "windows-1258"},
    {"windows-31j", "shift_jis"},
    {"windows-874", "windows-874"},
    {"windows-949", "euc-kr"},
    {"x-cp1250", "windows-1250"},
    {"x-cp1251", "windows-1251"},
    {"x-cp1252", "windows-1252"},
    {"x-cp1253", "windows-1253"},
    {"x-cp1254", "windows-1254"},
    {"x-cp1255", "windows-1255"},
    {"x-cp1256", "windows-1256"},
    {"x-cp1257", "windows-1257"},
    {"x-cp1258", "windows-1258"},
    {"x-euc-jp", "euc-jp"},
    {"x-gbk", "gbk"},
    {"x-mac-cyrillic", "x-mac-cyrillic"},
    {"x-mac-roman", "macintosh"},
    {"x-mac-ukrainian", "x-mac-cyrillic"},
    {"x-sjis", "shift_jis"},
    {"x-unicode20utf8", "utf-8"},
    {"x-user-defined", "x-user-defined"},
    {"x-x-big5", "big5"},
};

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ASCII whitespace (Infra): what HTML's sniffing algorithms skip. */
static bool is_space(unsigned char c)
{
    return c == 0x09 || c == 0x0A || c == 0x0C || c == 0x0D || c == 0x20;
}

static int compare_label(const void *a, const void *b)
{
    return strcmp(((const struct label *)a)->label, ((const struct label *)b)->label);
}

/* The Encoding Standard's "get an encoding": trim ASCII whitespace, then match the
 * label ASCII case-insensitively. */
static const struct label *find_label(const char *s, size_t n)
{
    while (n > 0 && is_space((unsigned char)s[0])) {
        s++;
        n--;
    }
    while (n > 0 && is_space((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || n > LABEL_MAX || memchr(s, '\0', n) != NULL)
        return NULL;
    char key[LABEL_MAX + 1];
    for (size_t i = 0; i < n; i++)
        key[i] = ascii_lower(s[i]);
    key[n] = '\0';
    struct label k = {.label = key};
    return bsearch(&k, labels, COUNT(labels), sizeof(labels[0]), compare_label);
}

const char *sl_charset_from_label(const char *label, size_t len)
{
    const struct label *e = label ? find_label(label, len) : NULL;
    return e ? e->name : NULL;
}

/* What a Content-Type header should name so that a browser decodes as it would from
 * the document alone. A <meta> never makes a browser read UTF-16 (the meta itself was
 * read as ASCII) nor x-user-defined (HTML §13.2.3.2 steps 14-15); an XML declaration's
 * UTF-16 becomes UTF-8 too (step 17 of "get an XML encoding"). */
static const char *header_name(const struct label *e, bool from_meta)
{
    if (strncmp(e->name, "utf-16", 6) == 0)
        return "utf-8";
    if (from_meta && strcmp(e->name, "x-user-defined") == 0)
        return "windows-1252";
    return e->name;
}

/* ---- the prescan (HTML §13.2.3.2 "prescan a byte stream to determine its encoding") */

/* Running out of bytes anywhere ends the prescan without an answer from it. */
enum step { STEP_OUT_OF_BYTES, STEP_NEXT_BYTE, STEP_FOUND };
enum attr_result { ATTR_OUT_OF_BYTES, ATTR_NONE, ATTR_FOUND };

struct scan {
    const unsigned char *p;
    size_t n;
    size_t pos; /* the spec's "position" */
};

/* Spans of the input. The standard lower-cases names and values as it copies them; the
 * comparisons here fold case instead, which comes to the same. */
struct attr {
    struct sl_str name;
    struct sl_str value;
};

static struct sl_str span(const struct scan *s, size_t from, size_t to)
{
    return sl_str_make((const char *)s->p + from, to - from);
}

/* "Get an attribute", from its step 9 ("value") on; i is just past the '='. */
static enum attr_result get_value(struct scan *s, size_t i, struct attr *a)
{
    const unsigned char *p = s->p;
    while (i < s->n && is_space(p[i]))
        i++;
    if (i >= s->n)
        return ATTR_OUT_OF_BYTES;
    if (p[i] == '"' || p[i] == '\'') {
        const unsigned char *close = memchr(p + i + 1, p[i], s->n - i - 1);
        if (close == NULL)
            return ATTR_OUT_OF_BYTES;
        a->value = span(s, i + 1, (size_t)(close - p));
        s->pos = (size_t)(close - p) + 1;
        return ATTR_FOUND;
    }
    size_t start = i;
    while (i < s->n && !is_space(p[i]) && p[i] != '>')
        i++;
    if (i >= s->n)
        return ATTR_OUT_OF_BYTES;
    a->value = span(s, start, i); /* empty when the value would start at '>' */
    s->pos = i;
    return ATTR_FOUND;
}

/* "Get an attribute": its name and value, or ATTR_NONE at the tag's '>'. */
static enum attr_result get_attribute(struct scan *s, struct attr *a)
{
    const unsigned char *p = s->p;
    size_t i = s->pos;
    while (i < s->n && (is_space(p[i]) || p[i] == '/'))
        i++;
    if (i >= s->n)
        return ATTR_OUT_OF_BYTES;
    s->pos = i;
    if (p[i] == '>')
        return ATTR_NONE;
    size_t start = i++; /* the first byte belongs to the name, even an '=' */
    while (i < s->n && p[i] != '=' && p[i] != '/' && p[i] != '>' && !is_space(p[i]))
        i++;
    a->name = span(s, start, i);
    while (i < s->n && is_space(p[i])) /* the "spaces" step */
        i++;
    if (i >= s->n)
        return ATTR_OUT_OF_BYTES;
    a->value = span(s, i, i);
    s->pos = i;
    return p[i] == '=' ? get_value(s, i + 1, a) : ATTR_FOUND;
}

/* "The algorithm for extracting a character encoding from a meta element" (HTML
 * §2.5.3), given a content attribute's value: the label after "charset=", quoted or
 * up to whitespace or ';'. NULL for none, or for a label that names no encoding. */
static const struct label *content_charset(struct sl_str v)
{
    for (size_t i = 0; i + 7 <= v.n; i++) {
        if (strncasecmp(v.p + i, "charset", 7) != 0)
            continue;
        size_t j = i + 7;
        while (j < v.n && is_space((unsigned char)v.p[j]))
            j++;
        if (j >= v.n || v.p[j] != '=')
            continue; /* "charset" not followed by '=': look further on */
        for (j++; j < v.n && is_space((unsigned char)v.p[j]); j++)
            ;
        if (j >= v.n)
            return NULL;
        if (v.p[j] == '"' || v.p[j] == '\'') {
            const char *close = memchr(v.p + j + 1, v.p[j], v.n - j - 1);
            return close ? find_label(v.p + j + 1, (size_t)(close - v.p - j - 1)) : NULL;
        }
        size_t end = j;
        while (end < v.n && !is_space((unsigned char)v.p[end]) && v.p[end] != ';')
            end++;
        return find_label(v.p + j, end - j);
    }
    return NULL;
}

enum { SEEN_HTTP_EQUIV = 1, SEEN_CONTENT = 2, SEEN_CHARSET = 4 };

/* The state of the <meta> steps 2-5; charset_set with charset NULL is "failure". */
struct meta {
    unsigned seen; /* the attribute list: only these three names matter */
    bool got_pragma;
    int need_pragma; /* -1: null */
    bool charset_set;
    const struct label *charset;
};

/* Step 9, for one attribute; a name seen before in this tag is ignored (step 7). */
static void meta_attribute(struct meta *m, const struct attr *a)
{
    unsigned bit = sl_str_caseeq(a->name, SL_STR("http-equiv")) ? SEEN_HTTP_EQUIV
                   : sl_str_caseeq(a->name, SL_STR("content"))  ? SEEN_CONTENT
                   : sl_str_caseeq(a->name, SL_STR("charset"))  ? SEEN_CHARSET
                                                                : 0;
    if (bit == 0 || (m->seen & bit))
        return;
    m->seen |= bit;
    if (bit == SEEN_HTTP_EQUIV) {
        m->got_pragma = m->got_pragma || sl_str_caseeq(a->value, SL_STR("content-type"));
    } else if (bit == SEEN_CONTENT) {
        const struct label *e = content_charset(a->value);
        if (e != NULL && !m->charset_set) {
            m->charset = e;
            m->charset_set = true;
            m->need_pragma = 1;
        }
    } else {
        m->charset = find_label(a->value.p, a->value.n);
        m->charset_set = true;
        m->need_pragma = 0;
    }
}

/* A <meta> tag: s->pos is at the space or '/' after "<meta". Steps 6-16. */
static enum step scan_meta(struct scan *s, const char **found)
{
    struct meta m = {.need_pragma = -1};
    struct attr a;
    enum attr_result r;
    while ((r = get_attribute(s, &a)) == ATTR_FOUND)
        meta_attribute(&m, &a);
    if (r == ATTR_OUT_OF_BYTES)
        return STEP_OUT_OF_BYTES;
    if (m.need_pragma < 0 || (m.need_pragma == 1 && !m.got_pragma) || m.charset == NULL)
        return STEP_NEXT_BYTE; /* no declaration, a content without http-equiv, failure */
    *found = header_name(m.charset, true);
    return STEP_FOUND;
}

/* Any other tag, start or end: its attributes are read only to find where it ends. */
static enum step skip_tag(struct scan *s)
{
    while (s->pos < s->n && !is_space(s->p[s->pos]) && s->p[s->pos] != '>')
        s->pos++;
    struct attr a;
    enum attr_result r;
    while ((r = get_attribute(s, &a)) == ATTR_FOUND)
        ;
    return r == ATTR_NONE ? STEP_NEXT_BYTE : STEP_OUT_OF_BYTES;
}

/* To the first '>' at or after from (the end of "-->" for a comment). */
static enum step skip_to(struct scan *s, size_t from, bool comment)
{
    for (size_t i = from; i < s->n; i++) {
        if (s->p[i] == '>' && (!comment || (s->p[i - 1] == '-' && s->p[i - 2] == '-'))) {
            s->pos = i;
            return STEP_NEXT_BYTE;
        }
    }
    return STEP_OUT_OF_BYTES;
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Step 3 ("loop"), for the byte at s->pos. */
static enum step scan_at(struct scan *s, const char **found)
{
    const unsigned char *q = s->p + s->pos;
    size_t left = s->n - s->pos;
    if (q[0] != '<')
        return STEP_NEXT_BYTE;
    if (left >= 4 && memcmp(q, "<!--", 4) == 0)
        return skip_to(s, s->pos + 4, true); /* "<!-->" ends at once: the dashes count */
    if (left >= 6 && strncasecmp((const char *)q, "<meta", 5) == 0 &&
        (is_space(q[5]) || q[5] == '/')) {
        s->pos += 5;
        return scan_meta(s, found);
    }
    size_t letter = left >= 2 && q[1] == '/' ? 2 : 1;
    if (left > letter && is_alpha(q[letter]))
        return skip_tag(s);
    if (left >= 2 && (q[1] == '!' || q[1] == '/' || q[1] == '?'))
        return skip_to(s, s->pos + 1, false);
    return STEP_NEXT_BYTE;
}

/* Steps 1-4; the loop ends only by running out of bytes or finding a declaration. */
static const char *prescan(const unsigned char *p, size_t n)
{
    /* Step 2: "<?x" in UTF-16, with the encoding name unchecked, for historical reasons. */
    if (n >= 6 && memcmp(p, "<\0?\0x\0", 6) == 0)
        return "utf-16le";
    if (n >= 6 && memcmp(p, "\0<\0?\0x", 6) == 0)
        return "utf-16be";
    struct scan s = {.p = p, .n = n};
    const char *found = NULL;
    for (; s.pos < n; s.pos++) {
        /* Only a '<' starts anything: go to the next one at once rather than look at
         * every byte, which every revalidation of an HTML file would pay for. */
        const unsigned char *lt = memchr(p + s.pos, '<', n - s.pos);
        if (lt == NULL)
            break;
        s.pos = (size_t)(lt - p);
        enum step step = scan_at(&s, &found);
        if (step == STEP_FOUND)
            return found;
        if (step == STEP_OUT_OF_BYTES)
            break;
    }
    return NULL;
}

/* "Get an XML encoding", what the prescan falls back on when it found nothing: the
 * encoding="..." of a leading <?xml ...>. The search stays inside the declaration, as
 * Chromium's and WebKit's does. */
static const char *xml_encoding(const unsigned char *p, size_t n)
{
    if (n < 5 || memcmp(p, "<?xml", 5) != 0)
        return NULL;
    const unsigned char *gt = memchr(p, '>', n);
    const unsigned char *e = gt ? memmem(p, (size_t)(gt - p), "encoding", 8) : NULL;
    if (e == NULL)
        return NULL;
    for (e += 8; e < gt && *e <= 0x20; e++)
        ;
    if (e >= gt || *e != '=')
        return NULL;
    for (e++; e < gt && *e <= 0x20; e++)
        ;
    if (e >= gt || (*e != '"' && *e != '\''))
        return NULL;
    const unsigned char *close = memchr(e + 1, *e, (size_t)(gt - e - 1));
    if (close == NULL)
        return NULL;
    for (const unsigned char *c = e + 1; c < close; c++) {
        if (*c <= 0x20)
            return NULL;
    }
    const struct label *l = find_label((const char *)e + 1, (size_t)(close - e - 1));
    return l ? header_name(l, false) : NULL;
}

/* HTML §13.2.3.2 "BOM sniff", which wins over anything the document says. */
static const char *bom(const unsigned char *p, size_t n)
{
    if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        return "utf-8";
    if (n >= 2 && memcmp(p, "\xFE\xFF", 2) == 0)
        return "utf-16be";
    if (n >= 2 && memcmp(p, "\xFF\xFE", 2) == 0)
        return "utf-16le";
    return NULL;
}

const char *sl_charset_prescan(const void *buf, size_t len)
{
    if (buf == NULL)
        return NULL;
    const unsigned char *p = buf;
    if (len > SL_CHARSET_PRESCAN_MAX)
        len = SL_CHARSET_PRESCAN_MAX;
    const char *found = bom(p, len);
    if (found == NULL)
        found = prescan(p, len);
    return found ? found : xml_encoding(p, len);
}
