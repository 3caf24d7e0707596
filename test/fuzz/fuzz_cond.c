/* Fuzz target for validators and conditional requests: entity-tag list matching,
 * precondition evaluation (RFC 9110 §13.2.2), If-Range, and HTTP-date parsing, which
 * must round-trip through formatting to the same time.
 *
 * Input layout: byte 0 says which of the five fields are present (bits 0-4: If-Match,
 * If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range) and bits 5-7 where
 * Last-Modified comes from; byte 1 nudges it by -1, 0 or +1 second. The rest is split at
 * '\n' into the five field values and the representation's ETag (missing pieces are
 * empty). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/cond.h"
#include "sluice/httpdate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_cond: invariant failed at line %d: %s\n", __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define NPIECES 6
#define MIN_SECONDS (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define MAX_SECONDS 253402300799LL   /* 9999-12-31T23:59:59Z */

/* Exact-size heap copy so that ASan catches a read past a field's end; a present but
 * empty field still has a non-NULL pointer. */
static struct sl_str copy_piece(const uint8_t *p, size_t n)
{
    char *c = malloc(n > 0 ? n : 1);
    if (!c)
        abort();
    if (n > 0)
        memcpy(c, p, n);
    return sl_str_make(c, n);
}

/* format(t) must be a 29-byte IMF-fixdate that parses back to t clamped to the years
 * 0000-9999, and formatting that again gives the same text. */
static void check_format(time_t t)
{
    char s[SL_HTTPDATE_LEN + 1];
    memset(s, 'x', sizeof(s));
    sl_httpdate_format(t, s);
    CHECK(s[SL_HTTPDATE_LEN] == '\0' && strlen(s) == SL_HTTPDATE_LEN);
    time_t back;
    CHECK(sl_httpdate_parse(s, SL_HTTPDATE_LEN, &back) == 0);
    int64_t want = (int64_t)t;
    if (want < MIN_SECONDS)
        want = MIN_SECONDS;
    if (want > MAX_SECONDS)
        want = MAX_SECONDS;
    CHECK((int64_t)back == want);
    char again[SL_HTTPDATE_LEN + 1];
    sl_httpdate_format(back, again);
    CHECK(memcmp(s, again, sizeof(s)) == 0);
}

/* Parses a field value as a date; on success checks the round trip. */
static bool parse_date(struct sl_str s, time_t *t)
{
    if (s.p == NULL || sl_httpdate_parse(s.p, s.n, t) != 0)
        return false;
    CHECK((int64_t)*t >= MIN_SECONDS && (int64_t)*t <= MAX_SECONDS);
    check_format(*t);
    return true;
}

/* The field's date as sl_cond_evaluate reads it: OWS trimmed. */
static bool field_date(struct sl_str s, time_t *t)
{
    s = sl_str_trim(s);
    return s.p != NULL && sl_httpdate_parse(s.p, s.n, t) == 0;
}

/* RFC 9110 §13.2.2 steps 1-4 for GET/HEAD, written from the RFC. */
static int expected_cond(const struct sl_cond_fields *f, const struct sl_validators *v)
{
    time_t d;
    if (f->if_match.p != NULL) {
        if (!sl_etag_list_match(f->if_match, v->etag, false))
            return 412;
    } else if (f->if_unmodified_since.p != NULL && field_date(f->if_unmodified_since, &d) &&
               v->last_modified > d) {
        return 412;
    }
    if (f->if_none_match.p != NULL) {
        if (sl_etag_list_match(f->if_none_match, v->etag, true))
            return 304;
    } else if (f->if_modified_since.p != NULL && field_date(f->if_modified_since, &d) &&
               v->last_modified <= d) {
        return 304;
    }
    return 0;
}

static void check_list(struct sl_str list, struct sl_str etag)
{
    bool strong = sl_etag_list_match(list, etag, false);
    bool weak = sl_etag_list_match(list, etag, true);
    CHECK(!strong || weak); /* a strong match is also a weak one */
    struct sl_str t = sl_str_trim(list);
    if (t.p != NULL && t.n == 1 && t.p[0] == '*')
        CHECK(strong && weak);
    if (list.p == NULL)
        CHECK(!strong && !weak);
}

static void check_validators(const struct sl_cond_fields *f, const struct sl_validators *v,
                             bool etag_is_strong_tag)
{
    int rc = sl_cond_evaluate(f, v);
    CHECK(rc == 0 || rc == 304 || rc == 412);
    CHECK(rc == expected_cond(f, v));

    check_list(f->if_match, v->etag);
    check_list(f->if_none_match, v->etag);
    check_list(f->if_range, v->etag);

    /* A well-formed strong tag matches itself both ways, as a list and as If-Range. */
    if (etag_is_strong_tag) {
        CHECK(sl_etag_list_match(v->etag, v->etag, false));
        CHECK(sl_etag_list_match(v->etag, v->etag, true));
        CHECK(sl_cond_if_range_ok(v->etag, v));
        struct sl_cond_fields only_inm = {.if_none_match = v->etag};
        CHECK(sl_cond_evaluate(&only_inm, v) == 304);
        struct sl_cond_fields only_im = {.if_match = v->etag};
        CHECK(sl_cond_evaluate(&only_im, v) == 0);
    }

    CHECK(sl_cond_if_range_ok((struct sl_str){NULL, 0}, v));
    if (sl_cond_if_range_ok(f->if_range, v) && f->if_range.p != NULL) {
        /* Honoured only for an exactly equal strong tag or an exactly equal date. */
        struct sl_str s = sl_str_trim(f->if_range);
        time_t d;
        bool tag_form = s.n >= 1 && (s.p[0] == '"' || (s.n >= 2 && s.p[0] == 'W' && s.p[1] == '/'));
        if (tag_form)
            CHECK(sl_etag_list_match(s, v->etag, false) && s.p[0] == '"');
        else
            CHECK(field_date(s, &d) && d == v->last_modified);
    }
    /* The representation's own Last-Modified date is always an acceptable If-Range. */
    int64_t lm = (int64_t)v->last_modified;
    if (lm >= MIN_SECONDS && lm <= MAX_SECONDS) {
        char date[SL_HTTPDATE_LEN + 1];
        sl_httpdate_format(v->last_modified, date);
        CHECK(sl_cond_if_range_ok(sl_str_make(date, SL_HTTPDATE_LEN), v));
        struct sl_cond_fields ims = {.if_modified_since = sl_str_make(date, SL_HTTPDATE_LEN)};
        CHECK(sl_cond_evaluate(&ims, v) == 304);
        struct sl_cond_fields ius = {.if_unmodified_since = sl_str_make(date, SL_HTTPDATE_LEN)};
        CHECK(sl_cond_evaluate(&ius, v) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t present = data[0] & 0x1f;
    unsigned lm_source = data[0] >> 5;
    int delta = (int)(data[1] % 3) - 1;
    const uint8_t *p = data + 2;
    const uint8_t *end = data + size;

    struct sl_str piece[NPIECES];
    for (int i = 0; i < NPIECES; i++) {
        const uint8_t *nl = i < NPIECES - 1 ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        const uint8_t *stop = nl ? nl : end;
        piece[i] = copy_piece(p, (size_t)(stop - p));
        p = nl ? nl + 1 : end;
    }

    struct sl_cond_fields f = {0};
    struct sl_str *slots[5] = {&f.if_match, &f.if_none_match, &f.if_modified_since,
                               &f.if_unmodified_since, &f.if_range};
    for (int i = 0; i < 5; i++)
        *slots[i] = (present >> i & 1) ? piece[i] : (struct sl_str){NULL, 0};

    /* Every piece that is a date must round-trip, present or not. */
    time_t dates[NPIECES];
    bool is_date[NPIECES];
    for (int i = 0; i < NPIECES; i++)
        is_date[i] = parse_date(piece[i], &dates[i]);

    time_t lm = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    switch (lm_source) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4: /* the date in that field, when it is one */
        if (is_date[lm_source])
            lm = dates[lm_source];
        break;
    case 5: lm = 0; break;
    case 6: lm = (time_t)MAX_SECONDS; break;
    default: break;
    }
    lm += delta;

    /* Arbitrary times format within range and parse back (clamped). */
    if (piece[5].n >= 8) {
        uint64_t raw;
        memcpy(&raw, piece[5].p, 8);
        check_format((time_t)(int64_t)raw);
    }
    check_format(lm);

    /* The representation's tag as the fuzzer wrote it ... */
    struct sl_validators v = {piece[5], lm};
    size_t pos = 0;
    bool strong = piece[5].n >= 2 && piece[5].p[0] == '"' && piece[5].p[piece[5].n - 1] == '"';
    for (pos = 1; strong && pos + 1 < piece[5].n; pos++) {
        unsigned char c = (unsigned char)piece[5].p[pos];
        if (!(c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80))
            strong = false;
    }
    check_validators(&f, &v, strong);

    /* ... and as sl_etag_format makes them, with the piece as the encoding name. */
    char *enc = malloc(piece[5].n + 1);
    if (!enc)
        abort();
    memcpy(enc, piece[5].p, piece[5].n);
    enc[piece[5].n] = '\0';
    uint64_t fsize = 0;
    long nsec = 0;
    for (size_t i = 0; i < piece[4].n && i < 8; i++)
        fsize = fsize << 8 | (uint8_t)piece[4].p[i];
    for (size_t i = 0; i < piece[3].n && i < 4; i++)
        nsec = nsec << 8 | (uint8_t)piece[3].p[i];
    char tag[SL_ETAG_MAX];
    memset(tag, 'x', sizeof(tag));
    size_t tag_len = sl_etag_format(tag, fsize, (int64_t)lm, nsec, piece[5].n & 1 ? enc : NULL);
    CHECK(tag_len < SL_ETAG_MAX && tag[tag_len] == '\0' && strlen(tag) == tag_len);
    struct sl_validators vf = {sl_str_make(tag, tag_len), lm};
    check_validators(&f, &vf, true);
    free(enc);

    for (int i = 0; i < NPIECES; i++)
        free((void *)piece[i].p);
    return 0;
}
