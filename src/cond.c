/* Entity tags and conditional requests: ETag generation, entity-tag list matching
 * (RFC 9110 §8.8.3) and precondition evaluation in the order of §13.2.2. */
#include "sluice/cond.h"

#include "sluice/httpdate.h"

/* An entity-tag split into its weakness and its opaque-tag, quotes excluded. */
struct etag {
    bool weak;
    const char *opaque;
    size_t n;
};

/* etagc = %x21 / %x23-7E / obs-text (RFC 9110 §8.8.3) */
static bool is_etagc(unsigned char c)
{
    return sl_byte_is(c, SL_BYTE_ETAGC);
}

static size_t put_hex(char *out, uint64_t v)
{
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = sl_hex_digit((unsigned)v, false);
        v >>= 4;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* The three numbers take at most 1 + 16 + 1 + 16 + 1 + 16 = 51 bytes (negative values are
 * written as their two's complement, so each is at most 16 hex digits), leaving at least
 * 10 of the 63 for "-<encoding>" and the closing quote. Real encodings ("br", "gzip",
 * "zstd") always fit; a longer one is cut short rather than overflow, and a byte that may
 * not appear in an entity-tag is written as '_' so the tag stays well formed. An empty
 * encoding is treated like NULL (identity): there is no empty content-coding. */
size_t sl_etag_format(char out[SL_ETAG_MAX], uint64_t size, int64_t mtime_sec, long mtime_nsec,
                      const char *encoding)
{
    size_t n = 0;
    out[n++] = '"';
    n += put_hex(out + n, size);
    out[n++] = '-';
    n += put_hex(out + n, (uint64_t)mtime_sec);
    out[n++] = '-';
    n += put_hex(out + n, (uint64_t)(int64_t)mtime_nsec);
    if (encoding != NULL && encoding[0] != '\0') {
        out[n++] = '-';
        for (size_t i = 0; encoding[i] != '\0' && n < SL_ETAG_MAX - 2; i++) {
            unsigned char c = (unsigned char)encoding[i];
            out[n++] = is_etagc(c) ? (char)c : '_';
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

/* Parses one entity-tag at s[*pos..n): [ "W/" ] DQUOTE *etagc DQUOTE. */
static bool parse_etag(const char *s, size_t n, size_t *pos, struct etag *tag)
{
    size_t i = *pos;
    tag->weak = false;
    if (n - i >= 2 && s[i] == 'W' && s[i + 1] == '/') { /* %s"W/": case-sensitive */
        tag->weak = true;
        i += 2;
    }
    if (i >= n || s[i] != '"')
        return false;
    size_t start = ++i;
    while (i < n && is_etagc((unsigned char)s[i]))
        i++;
    if (i >= n || s[i] != '"')
        return false;
    tag->opaque = s + start;
    tag->n = i - start;
    *pos = i + 1;
    return true;
}

/* A whole field value that is exactly one entity-tag (optional whitespace around it). */
static bool parse_single_etag(struct sl_str s, struct etag *tag)
{
    s = sl_str_trim(s);
    size_t pos = 0;
    return s.p != NULL && parse_etag(s.p, s.n, &pos, tag) && pos == s.n;
}

/* The representation's own tag split by its shape alone, [ "W/" ] DQUOTE opaque DQUOTE,
 * without a look at each opaque byte: it is only ever compared with a tag parse_etag
 * has checked, so equal bytes are valid bytes, and a tag that equals none answers the
 * same whether its bytes are valid or not. One loop over a tag a request, not two. */
static bool split_own_etag(struct sl_str s, struct etag *tag)
{
    s = sl_str_trim(s);
    if (s.p == NULL)
        return false;
    size_t i = 0;
    tag->weak = s.n >= 2 && s.p[0] == 'W' && s.p[1] == '/';
    if (tag->weak)
        i = 2;
    if (s.n - i < 2 || s.p[i] != '"' || s.p[s.n - 1] != '"')
        return false;
    tag->opaque = s.p + i + 1;
    tag->n = s.n - i - 2;
    return true;
}

/* RFC 9110 §8.8.3.2: strong comparison needs both tags strong; weak ignores W/. */
static bool etags_match(const struct etag *a, const struct etag *b, bool weak)
{
    if (!weak && (a->weak || b->weak))
        return false;
    return a->n == b->n && memcmp(a->opaque, b->opaque, a->n) == 0;
}

static size_t skip_ows(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* "*" matches whatever `etag` is: the caller evaluates it only for an existing
 * representation, which is what "*" asks about (§13.1.1, §13.1.2). The whole list is
 * parsed before answering, so a match before a syntax error still does not count. */
bool sl_etag_list_match(struct sl_str list, struct sl_str etag, bool weak)
{
    struct sl_str l = sl_str_trim(list);
    if (l.p == NULL)
        return false;
    if (l.n == 1 && l.p[0] == '*')
        return true;
    struct etag want;
    bool have_want = split_own_etag(etag, &want);
    bool found = false;
    size_t i = 0;
    for (;;) {
        /* #rule (RFC 9110 §5.6.1.2): empty elements such as ", ," are allowed. */
        i = skip_ows(l.p, l.n, i);
        if (i == l.n)
            break;
        if (l.p[i] == ',') {
            i++;
            continue;
        }
        struct etag tag;
        if (!parse_etag(l.p, l.n, &i, &tag))
            return false;
        if (have_want && etags_match(&tag, &want, weak))
            found = true;
        i = skip_ows(l.p, l.n, i);
        if (i == l.n)
            break;
        if (l.p[i] != ',')
            return false;
        i++;
    }
    return found;
}

/* §13.1.3, §13.1.4: a value that is not exactly one valid HTTP-date is ignored. */
static bool parse_date_field(struct sl_str field, time_t *t)
{
    struct sl_str s = sl_str_trim(field);
    return s.p != NULL && sl_httpdate_parse(s.p, s.n, t) == 0;
}

/* Whether a field is the representation's own tag, byte for byte: what a browser sends
 * back when it revalidates. That tag is well formed (struct sl_validators), so the field
 * is a list of that one tag, which weakly matches it: no list walk needed. */
static bool is_own_tag(struct sl_str field, struct sl_str etag)
{
    return etag.n > 0 && field.n == etag.n && memcmp(field.p, etag.p, etag.n) == 0;
}

int sl_cond_evaluate(const struct sl_cond_fields *f, const struct sl_validators *v)
{
    time_t date;

    /* Steps 1-2: If-Match, or If-Unmodified-Since only when If-Match is absent. */
    if (f->if_match.p != NULL) {
        if (!sl_etag_list_match(f->if_match, v->etag, false))
            return 412;
    } else if (f->if_unmodified_since.p != NULL &&
               parse_date_field(f->if_unmodified_since, &date) && v->last_modified > date) {
        return 412;
    }

    /* Steps 3-4: If-None-Match, or If-Modified-Since only when If-None-Match is absent
     * (§13.1.3: entity-tags are the more accurate validator). */
    if (f->if_none_match.p != NULL) {
        if (is_own_tag(f->if_none_match, v->etag) ||
            sl_etag_list_match(f->if_none_match, v->etag, true))
            return 304;
    } else if (f->if_modified_since.p != NULL && parse_date_field(f->if_modified_since, &date) &&
               v->last_modified <= date) {
        return 304;
    }
    return 0;
}

bool sl_cond_if_range_ok(struct sl_str if_range, const struct sl_validators *v)
{
    if (if_range.p == NULL)
        return true;
    struct sl_str s = sl_str_trim(if_range);

    /* No HTTP-date starts with a quote or "W/", so the first bytes decide the form. */
    if (s.n >= 1 && (s.p[0] == '"' || (s.n >= 2 && s.p[0] == 'W' && s.p[1] == '/'))) {
        struct etag got, have;
        return parse_single_etag(s, &got) && split_own_etag(v->etag, &have) &&
               etags_match(&got, &have, false);
    }
    time_t date;
    return parse_date_field(s, &date) && date == v->last_modified;
}
