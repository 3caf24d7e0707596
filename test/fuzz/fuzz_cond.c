/* Fuzz target for validators and conditional requests (src/cond.c, src/httpdate.c):
 * precondition evaluation, If-Range, entity-tag lists and HTTP-dates, each compared with
 * an oracle written again from RFC 9110 that shares no parsing code with either file, so
 * that a misreading of the RFC in one of them shows up as a disagreement.
 *
 * Input layout: byte 0 says which of the five fields are present (bits 0-4: If-Match,
 * If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range) and bits 5-7 where
 * Last-Modified comes from; byte 1 nudges it by -1, 0 or +1 second. The rest is split at
 * '\n' into the five field values and the representation's ETag (missing pieces are
 * empty). A second round takes the ETag from sl_etag_format and replaces every '$' in the
 * field values with that tag's opaque-tag, so that lists can name a tag the fuzzer could
 * not otherwise guess ("$", W/"$", "$x" ...). sl_cond_evaluate is compared only for a
 * well-formed ETag (its documented precondition: sluice makes every tag it evaluates). */
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
#define NFIELDS 5
#define MIN_SECONDS (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define MAX_SECONDS 253402300799LL   /* 9999-12-31T23:59:59Z */

/* ==== The oracle ====
 * RFC 9110 read again: §5.5 and §5.6.1.2 (field values, lists), §5.6.7 (HTTP-date),
 * §8.8.3 and §8.8.3.2 (entity-tags, strong and weak comparison), §13.1.1-§13.1.5 (the
 * five fields) and §13.2.2 (their precedence). sl_cond_evaluate takes no method because
 * sluice answers only GET and HEAD (anything else is a 405 before preconditions), so the
 * oracle is the GET/HEAD column of §13.2.2. Nothing here calls src/cond.c or
 * sl_httpdate_parse; where sluice chose something the RFC leaves open, the oracle models
 * the documented choice and says where it is documented. */

/* §5.5: a field value has no leading or trailing whitespace (OWS = SP / HTAB). */
static struct sl_str o_value(struct sl_str s)
{
    size_t a = 0, b = s.n;
    while (a < b && (s.p[a] == ' ' || s.p[a] == '\t'))
        a++;
    while (b > a && (s.p[b - 1] == ' ' || s.p[b - 1] == '\t'))
        b--;
    return (struct sl_str){s.p == NULL ? NULL : s.p + a, b - a};
}

static bool o_is_star(struct sl_str v)
{
    return v.n == 1 && v.p[0] == '*';
}

/* ---- Entity-tags (§8.8.3) ----
 *   entity-tag = [ weak ] opaque-tag        weak  = %s"W/"
 *   opaque-tag = DQUOTE *etagc DQUOTE       etagc = %x21 / %x23-7E / obs-text (%x80-FF) */
struct o_tag {
    bool weak;
    const char *opaque; /* between the quotes */
    size_t len;
};

static bool o_etagc(unsigned char c)
{
    if (c == 0x21)
        return true;
    if (c >= 0x23 && c <= 0x7e)
        return true;
    return c >= 0x80;
}

/* One entity-tag starting at v.p[*at]; moves *at past it. */
static bool o_read_tag(struct sl_str v, size_t *at, struct o_tag *t)
{
    size_t i = *at;
    t->weak = i + 1 < v.n && v.p[i] == 'W' && v.p[i + 1] == '/';
    if (t->weak)
        i += 2;
    if (i == v.n || v.p[i] != '"')
        return false;
    size_t open = i++;
    for (; i < v.n && v.p[i] != '"'; i++)
        if (!o_etagc((unsigned char)v.p[i]))
            return false;
    if (i == v.n)
        return false;
    t->opaque = v.p + open + 1;
    t->len = i - open - 1;
    *at = i + 1;
    return true;
}

/* A value that is one entity-tag and nothing else. */
static bool o_whole_tag(struct sl_str v, struct o_tag *t)
{
    size_t at = 0;
    return v.p != NULL && o_read_tag(v, &at, t) && at == v.n;
}

/* §8.8.3.2: strong comparison wants both tags strong and the opaque-tags identical;
 * weak comparison wants only the opaque-tags identical. */
static bool o_tags_equal(const struct o_tag *a, const struct o_tag *b, bool weak)
{
    if (!weak && (a->weak || b->weak))
        return false;
    return a->len == b->len && memcmp(a->opaque, b->opaque, a->len) == 0;
}

/* §5.6.1.2: a recipient reads #entity-tag as [ element ] *( OWS "," OWS [ element ] ),
 * empty elements allowed. Returns -1 when v is not such a list (the whole value is read
 * first, so a match before a syntax error does not count), else whether one of its tags
 * equals `want` (never, when the representation has no tag). */
static int o_list_has(struct sl_str v, const struct o_tag *want, bool weak)
{
    bool found = false;
    size_t i = 0;
    bool expect_element = true; /* at the start and after each comma */
    while (i < v.n) {
        char c = v.p[i];
        if (c == ' ' || c == '\t') {
            i++;
        } else if (c == ',') {
            expect_element = true;
            i++;
        } else if (expect_element) {
            struct o_tag t;
            if (!o_read_tag(v, &i, &t))
                return -1;
            if (want != NULL && o_tags_equal(&t, want, weak))
                found = true;
            expect_element = false;
        } else {
            return -1; /* two elements without a comma between them */
        }
    }
    return found;
}

/* ---- HTTP-date (§5.6.7) ----
 * Each of the three forms as a picture: 'a' day-name, 'A' day-name-l, 'd' 2DIGIT day,
 * 'e' asctime's ( 2DIGIT / ( SP DIGIT ) ) day, 'm' month, 'Y' 4DIGIT year, 'y' 2DIGIT
 * year, 'h' 'i' 's' 2DIGIT hour, minute, second; every other character stands for
 * itself. All of it is case-sensitive ("HTTP-date is case sensitive"). */
static const char *const o_pictures[] = {
    "a, d m Y h:i:s GMT", /* IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT */
    "A, d-m-y h:i:s GMT", /* rfc850-date  Sunday, 06-Nov-94 08:49:37 GMT */
    "a m e h:i:s Y",      /* asctime-date Sun Nov  6 08:49:37 1994 */
};
static const char o_day_names[] = "SunMonTueWedThuFriSat";
static const char o_month_names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
static const char *const o_long_day_names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                               "Thursday", "Friday", "Saturday"};

struct o_when {
    int wday; /* 0 = Sunday */
    int year, month, day, hour, min, sec;
};

/* Exactly `count` digits at v.p[*at]. */
static bool o_digits(struct sl_str v, size_t *at, int count, int *out)
{
    int n = 0;
    for (int k = 0; k < count; k++, (*at)++) {
        if (*at >= v.n || v.p[*at] < '0' || v.p[*at] > '9')
            return false;
        n = n * 10 + (v.p[*at] - '0');
    }
    *out = n;
    return true;
}

/* Which of the `count` three-letter names in `names` starts at v.p[*at]. */
static bool o_short_name(struct sl_str v, size_t *at, const char *names, int count, int *out)
{
    if (v.n - *at < 3)
        return false;
    for (int k = 0; k < count; k++) {
        if (memcmp(v.p + *at, names + 3 * k, 3) == 0) {
            *out = k;
            *at += 3;
            return true;
        }
    }
    return false;
}

static bool o_long_name(struct sl_str v, size_t *at, int *out)
{
    for (int k = 0; k < 7; k++) {
        size_t len = strlen(o_long_day_names[k]);
        if (v.n - *at >= len && memcmp(v.p + *at, o_long_day_names[k], len) == 0) {
            *out = k;
            *at += len;
            return true;
        }
    }
    return false;
}

static bool o_match_picture(struct sl_str v, const char *picture, struct o_when *w)
{
    size_t at = 0;
    for (const char *c = picture; *c != '\0'; c++) {
        bool ok;
        switch (*c) {
        case 'a': ok = o_short_name(v, &at, o_day_names, 7, &w->wday); break;
        case 'A': ok = o_long_name(v, &at, &w->wday); break;
        case 'm':
            ok = o_short_name(v, &at, o_month_names, 12, &w->month);
            w->month++;
            break;
        case 'd': ok = o_digits(v, &at, 2, &w->day); break;
        case 'e':
            if (at < v.n && v.p[at] == ' ') {
                at++;
                ok = o_digits(v, &at, 1, &w->day);
            } else {
                ok = o_digits(v, &at, 2, &w->day);
            }
            break;
        case 'Y': ok = o_digits(v, &at, 4, &w->year); break;
        case 'y':
            /* §5.6.7 reads a two-digit year more than 50 years ahead as the past century,
             * which needs a clock; src/httpdate.c documents its fixed pivot instead:
             * 00-69 are 20yy, 70-99 are 19yy. */
            ok = o_digits(v, &at, 2, &w->year);
            w->year += w->year < 70 ? 2000 : 1900;
            break;
        case 'h': ok = o_digits(v, &at, 2, &w->hour); break;
        case 'i': ok = o_digits(v, &at, 2, &w->min); break;
        case 's': ok = o_digits(v, &at, 2, &w->sec); break;
        default: ok = at < v.n && v.p[at++] == *c; break;
        }
        if (!ok)
            return false;
    }
    return at == v.n;
}

static const int o_month_len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

static bool o_leap(int y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* Days from 0000-01-01 (proleptic Gregorian) to the given date: whole years by counting
 * the leap years before y (year 0 is one), then whole months, then days. */
static int64_t o_day_number(int y, int month, int day)
{
    int64_t n = 365LL * y + (y + 3) / 4 - (y + 99) / 100 + (y + 399) / 400;
    for (int m = 1; m < month; m++)
        n += o_month_len[m - 1] + (m == 2 && o_leap(y));
    return n + day - 1;
}

/* A valid HTTP-date as seconds since the epoch. Besides the grammar and the calendar
 * (hour 00-23, minute 00-59, second 00-60, a day the month has), two choices documented
 * in src/httpdate.c: the day name must be the date's own (0000-01-01 was a Saturday),
 * and second 60 counts as the next minute's first second unless that leaves year 9999. */
static bool o_date(struct sl_str v, int64_t *t)
{
    if (v.p == NULL)
        return false;
    for (size_t k = 0; k < sizeof(o_pictures) / sizeof(o_pictures[0]); k++) {
        struct o_when w = {0};
        if (!o_match_picture(v, o_pictures[k], &w))
            continue;
        int last_day = o_month_len[w.month - 1] + (w.month == 2 && o_leap(w.year));
        if (w.day < 1 || w.day > last_day || w.hour > 23 || w.min > 59 || w.sec > 60)
            return false;
        int64_t days = o_day_number(w.year, w.month, w.day);
        if ((days + 6) % 7 != w.wday)
            return false;
        int64_t s = (days - o_day_number(1970, 1, 1)) * 86400 + w.hour * 3600 + w.min * 60 + w.sec;
        if (s > MAX_SECONDS)
            return false;
        *t = s;
        return true;
    }
    return false;
}

/* ---- The five fields ---- */

/* The selected representation: it exists (sl_cond_evaluate is only asked about one),
 * may have an entity-tag (cond.h promises a strong one; an ETag that is not an
 * entity-tag is modelled as none) and has a modification date. */
struct o_rep {
    bool has_tag;
    struct o_tag tag;
    int64_t last_modified;
};

static struct o_rep o_rep_of(const struct sl_validators *v)
{
    struct o_rep r = {.last_modified = (int64_t)v->last_modified};
    r.has_tag = o_whole_tag(o_value(v->etag), &r.tag);
    return r;
}

/* §13.1.1: "*" is true because the representation exists; a list is true when one tag
 * matches by strong comparison; anything else is false. */
static bool o_if_match(struct sl_str field, const struct o_rep *r)
{
    struct sl_str v = o_value(field);
    if (o_is_star(v))
        return true;
    return o_list_has(v, r->has_tag ? &r->tag : NULL, false) == 1;
}

/* §13.1.2: "*" is false because the representation exists; a list is false when one tag
 * matches by weak comparison; anything else is true. */
static bool o_if_none_match(struct sl_str field, const struct o_rep *r)
{
    struct sl_str v = o_value(field);
    if (o_is_star(v))
        return false;
    return o_list_has(v, r->has_tag ? &r->tag : NULL, true) != 1;
}

/* §13.2.2 for GET and HEAD: the first step whose field is present and false decides. */
static int o_evaluate(const struct sl_cond_fields *f, const struct sl_validators *v)
{
    struct o_rep r = o_rep_of(v);
    int64_t date;

    if (f->if_match.p != NULL) {
        /* Step 1: If-Match false -> 412 (sluice changes no state, so a request never
         * "has already succeeded"). */
        if (!o_if_match(f->if_match, &r))
            return 412;
    } else if (f->if_unmodified_since.p != NULL) {
        /* Step 2: If-Unmodified-Since only without If-Match; §13.1.4 ignores a value that
         * is not one valid HTTP-date and is false when the representation changed after
         * the date. */
        if (o_date(o_value(f->if_unmodified_since), &date) && r.last_modified > date)
            return 412;
    }

    /* Step 3: If-None-Match false -> 304 for GET/HEAD; true goes on to step 5, so a
     * present If-None-Match always skips step 4 (§13.1.3 says the same). */
    if (f->if_none_match.p != NULL)
        return o_if_none_match(f->if_none_match, &r) ? 0 : 304;

    /* Step 4: If-Modified-Since, ignored unless one valid HTTP-date; §13.1.3 is false
     * (not modified) when the last modification is earlier than or equal to it. */
    if (f->if_modified_since.p != NULL && o_date(o_value(f->if_modified_since), &date)) {
        if (r.last_modified <= date)
            return 304;
    }
    /* Step 5 (If-Range) is sl_cond_if_range_ok, asked separately; step 6 proceeds. */
    return 0;
}

/* §13.2.2 step 5 and §13.1.5, as sl_cond_if_range_ok promises it. Absent: the Range is
 * honoured. An entity-tag: true only by strong comparison with the representation's
 * (so a weak tag on either side is false). An HTTP-date: §13.1.5 wants it to "exactly
 * match" Last-Modified; cond.h reads that as the same instant, so any of the three forms
 * naming that second matches. §13.1.5 step 1 (a date must also be a strong validator)
 * needs the clock and is applied by serve.c's if_range_ok, not here. A value that is
 * neither form is false: the RFC gives it no meaning, and ignoring Range (a 200 with
 * the whole representation) is the answer that is right whatever the client meant. */
static bool o_if_range(struct sl_str field, const struct sl_validators *v)
{
    if (field.p == NULL)
        return true;
    struct o_rep r = o_rep_of(v);
    struct sl_str value = o_value(field);
    struct o_tag t;
    int64_t date;
    if (o_whole_tag(value, &t))
        return r.has_tag && o_tags_equal(&t, &r.tag, false);
    if (o_date(value, &date))
        return date == r.last_modified;
    return false;
}

/* sl_etag_list_match as cond.h describes it: "*" contains every tag, a malformed list
 * none, a list otherwise the tags it names under the chosen comparison. */
static bool o_list_match(struct sl_str list, struct sl_str etag, bool weak)
{
    struct sl_str v = o_value(list);
    if (v.p == NULL)
        return false;
    if (o_is_star(v))
        return true;
    struct o_tag want;
    bool has_tag = o_whole_tag(o_value(etag), &want);
    return o_list_has(v, has_tag ? &want : NULL, weak) == 1;
}

/* ==== Checks ==== */

/* Exact-size heap copy so that ASan catches a read past a field's end; a present but
 * empty field still has a non-NULL pointer. With `tag`, every '$' becomes tag's bytes. */
static struct sl_str copy_piece(const uint8_t *p, size_t n, struct sl_str tag)
{
    size_t len = n;
    for (size_t i = 0; tag.p != NULL && i < n; i++)
        if (p[i] == '$')
            len += tag.n - 1;
    char *c = malloc(len > 0 ? len : 1);
    if (!c)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (tag.p != NULL && p[i] == '$') {
            memcpy(c + k, tag.p, tag.n);
            k += tag.n;
        } else {
            c[k++] = (char)p[i];
        }
    }
    return sl_str_make(c, len);
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
    int64_t mine;
    CHECK(o_date(sl_str_make(s, SL_HTTPDATE_LEN), &mine) && mine == want);
    char again[SL_HTTPDATE_LEN + 1];
    sl_httpdate_format(back, again);
    CHECK(memcmp(s, again, sizeof(s)) == 0);
}

/* sl_httpdate_parse and the oracle agree on whether s is an HTTP-date and which second
 * it names; a date also round-trips through formatting. */
static bool parse_date(struct sl_str s, time_t *t)
{
    int64_t want;
    bool valid = o_date(s, &want);
    time_t got;
    bool parsed = s.p != NULL && sl_httpdate_parse(s.p, s.n, &got) == 0;
    CHECK(parsed == valid);
    if (!parsed)
        return false;
    CHECK((int64_t)got == want);
    CHECK(want >= MIN_SECONDS && want <= MAX_SECONDS);
    check_format(got);
    *t = got;
    return true;
}

static void check_list(struct sl_str list, struct sl_str etag)
{
    bool strong = sl_etag_list_match(list, etag, false);
    bool weak = sl_etag_list_match(list, etag, true);
    CHECK(strong == o_list_match(list, etag, false));
    CHECK(weak == o_list_match(list, etag, true));
    CHECK(!strong || weak); /* a strong match is also a weak one */
}

/* sl_cond_evaluate's precondition (struct sl_validators): the tag is one sluice made, a
 * single well-formed entity-tag with nothing around it, or none at all. */
static bool tag_as_sluice_makes_them(struct sl_str etag)
{
    struct o_tag tag;
    return etag.n == 0 || (o_value(etag).n == etag.n && o_whole_tag(etag, &tag));
}

static void check_validators(const struct sl_cond_fields *f, const struct sl_validators *v)
{
    bool evaluable = tag_as_sluice_makes_them(v->etag);
    CHECK(!evaluable || sl_cond_evaluate(f, v) == o_evaluate(f, v));
    CHECK(sl_cond_if_range_ok(f->if_range, v) == o_if_range(f->if_range, v));

    check_list(f->if_match, v->etag);
    check_list(f->if_none_match, v->etag);
    check_list(f->if_range, v->etag);
    check_list(v->etag, v->etag);

    /* Each precondition field on its own, so that every step is checked even when an
     * earlier one decides the combined answer. */
    struct sl_cond_fields one[4] = {{.if_match = f->if_match},
                                    {.if_none_match = f->if_none_match},
                                    {.if_modified_since = f->if_modified_since},
                                    {.if_unmodified_since = f->if_unmodified_since}};
    for (int i = 0; i < 4; i++)
        CHECK(!evaluable || sl_cond_evaluate(&one[i], v) == o_evaluate(&one[i], v));

    /* The representation's own validators, as a client would send them back. */
    struct sl_cond_fields own_tag = {.if_match = v->etag, .if_none_match = v->etag};
    CHECK(!evaluable || sl_cond_evaluate(&own_tag, v) == o_evaluate(&own_tag, v));
    CHECK(sl_cond_if_range_ok(v->etag, v) == o_if_range(v->etag, v));
    char date[SL_HTTPDATE_LEN + 1];
    sl_httpdate_format(v->last_modified, date);
    struct sl_str d = sl_str_make(date, SL_HTTPDATE_LEN);
    struct sl_cond_fields own_date = {.if_modified_since = d, .if_unmodified_since = d};
    CHECK(sl_cond_evaluate(&own_date, v) == o_evaluate(&own_date, v));
    CHECK(sl_cond_if_range_ok(d, v) == o_if_range(d, v));
}

static void free_pieces(struct sl_str *piece, int n)
{
    for (int i = 0; i < n; i++)
        free((void *)piece[i].p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t present = data[0] & 0x1f;
    unsigned lm_source = data[0] >> 5;
    int delta = (int)(data[1] % 3) - 1;
    const uint8_t *start[NPIECES];
    size_t len[NPIECES];
    const uint8_t *p = data + 2;
    const uint8_t *end = data + size;
    for (int i = 0; i < NPIECES; i++) {
        const uint8_t *nl = i < NPIECES - 1 ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        const uint8_t *stop = nl ? nl : end;
        start[i] = p;
        len[i] = (size_t)(stop - p);
        p = nl ? nl + 1 : end;
    }
    struct sl_str piece[NPIECES];
    for (int i = 0; i < NPIECES; i++)
        piece[i] = copy_piece(start[i], len[i], (struct sl_str){NULL, 0});

    /* Every piece that is a date must parse as the oracle reads it and round-trip. */
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

    /* Round 1: the representation's tag as the fuzzer wrote it. */
    struct sl_cond_fields f = {0};
    struct sl_str *slots[NFIELDS] = {&f.if_match, &f.if_none_match, &f.if_modified_since,
                                     &f.if_unmodified_since, &f.if_range};
    for (int i = 0; i < NFIELDS; i++)
        *slots[i] = (present >> i & 1) ? piece[i] : (struct sl_str){NULL, 0};
    struct sl_validators v = {piece[5], lm};
    check_validators(&f, &v);

    /* Round 2: the tag as sl_etag_format makes it, with the piece as the encoding name,
     * and the field values naming it through '$'. */
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
    free(enc);
    struct sl_validators vf = {sl_str_make(tag, tag_len), lm};
    struct o_tag made;
    CHECK(o_whole_tag(vf.etag, &made) && !made.weak); /* cond.h: strong, quoted */
    /* A strong tag matches itself under both comparisons. */
    CHECK(sl_etag_list_match(vf.etag, vf.etag, false) && sl_cond_if_range_ok(vf.etag, &vf));

    struct sl_str named[NFIELDS];
    for (int i = 0; i < NFIELDS; i++)
        named[i] = copy_piece(start[i], len[i], sl_str_make(made.opaque, made.len));
    struct sl_cond_fields g = {0};
    struct sl_str *gslots[NFIELDS] = {&g.if_match, &g.if_none_match, &g.if_modified_since,
                                      &g.if_unmodified_since, &g.if_range};
    for (int i = 0; i < NFIELDS; i++)
        *gslots[i] = (present >> i & 1) ? named[i] : (struct sl_str){NULL, 0};
    check_validators(&g, &vf);

    free_pieces(named, NFIELDS);
    free_pieces(piece, NPIECES);
    return 0;
}
